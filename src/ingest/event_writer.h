/*
 * event_writer.h: the one way decoded events become rows.
 */
#ifndef QOE_EVENT_WRITER_H
#define QOE_EVENT_WRITER_H

#include "ingest/dead_letters.h"
#include "ingest/event_decode.h"
#include "utils/relcache.h"

typedef struct QoeWriteResult
{
	int			stored;			/* new events written to qoe.viewing_events */
	int			stalls;			/* of them, buffering events (the stall-loop rule's input) */
	int			duplicates;		/* repeats of an event_id the session had */
	int			dead_letters;	/* events storage refused, now in qoe.dead_letters */
} QoeWriteResult;

/*
 * Store a batch of decoded events in the current transaction: their sessions
 * in qoe.sessions, then the events in the partitions of their days. An event
 * that storage refuses (a data error) goes to qoe.dead_letters with the error
 * text; origins[ev->origin] says where it came from.
 */
extern QoeWriteResult qoe_write_events(QoeEvent *events, int n, TimestampTz received_at,
									   const QoeSource *origins);

/* Sets row i's values; every column is null on entry. */
typedef void (*QoeRowFill) (void *arg, int i, Datum *values, bool *nulls);

/*
 * Insert n rows into the plain table rel (opened by the caller) the way COPY
 * does: table_multi_insert in chunks of reused slots, with constraints,
 * stored generated columns and index entries as the executor makes them, but
 * no triggers fired. fill allocates in a context reset after every chunk.
 */
extern void qoe_insert_rows(Relation rel, int n, QoeRowFill fill, void *arg);

#endif
