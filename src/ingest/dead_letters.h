/*
 * dead_letters.h: where rejected events go, with the reason and their origin.
 */
#ifndef QOE_DEAD_LETTERS_H
#define QOE_DEAD_LETTERS_H

#include "ingest/event_decode.h"

/* Where a payload came from; topic NULL (and the numbers ignored) for SQL. */
typedef struct QoeSource
{
	const char *source;			/* "sql" or "kafka" */
	const char *topic;
	int32		partition;
	int64		offset;
} QoeSource;

/* Store rejections[0..n), all from one origin. Needs no SPI connection. */
extern void qoe_dead_letters_write(const QoeRejection *rejections, int n,
								   const QoeSource *origin);

/* Store one decoded event that storage refused, with its own JSON text. */
extern void qoe_dead_letter_event(const QoeEvent *ev, const QoeSource *origin,
								  const char *reason);

#endif
