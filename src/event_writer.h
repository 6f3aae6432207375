/*
 * event_writer.h: the one way decoded events become rows.
 */
#ifndef QOE_EVENT_WRITER_H
#define QOE_EVENT_WRITER_H

#include "event_decode.h"

typedef struct QoeWriteResult
{
	int			stored;			/* new events written to qoe.viewing_events */
	int			duplicates;		/* repeats of an event_id the session had */
} QoeWriteResult;

/*
 * Store a batch of decoded events in the current transaction: their sessions
 * in qoe.sessions, then the events in the partitions of their days.
 */
extern QoeWriteResult qoe_write_events(QoeEvent *events, int n, TimestampTz received_at);

#endif
