/*
 * due_queue.h: a min-heap of (time, id) pairs held by value: what comes due
 * first, for the ledgers' time-outs (a session's last event plus
 * qoe.session_timeout, a play's start plus the hour).
 *
 * The ledgers keep their entries in open-addressing tables (id_table.h),
 * where an entry moves when others come and go, so a queue cannot point
 * into them as a pairing heap does. An item is instead checked when it
 * comes due: the caller looks its id up and skips it if the entry is gone
 * or was queued again for another time (lazy deletion). Stale items so
 * stay until their time, one per change that made them stale.
 */
#ifndef QOE_DUE_QUEUE_H
#define QOE_DUE_QUEUE_H

#include "postgres.h"

#include "datatype/timestamp.h"

typedef struct QoeDueItem
{
	TimestampTz at;
	int64		id;
} QoeDueItem;

typedef struct QoeDueQueue
{
	QoeDueItem *items;			/* a binary heap, the earliest first */
	int			n;
	int			size;
	MemoryContext cxt;			/* of items */
} QoeDueQueue;

/* Empty, its items to be allocated in cxt. */
extern void qoe_due_init(QoeDueQueue *q, MemoryContext cxt);

/* Empty again (its memory kept). */
extern void qoe_due_reset(QoeDueQueue *q);

/* Queue id for at. */
extern void qoe_due_push(QoeDueQueue *q, TimestampTz at, int64 id);

/* The earliest item, into *item and out of q, if due by until; else false. */
extern bool qoe_due_pop(QoeDueQueue *q, TimestampTz until, QoeDueItem *item);

#endif
