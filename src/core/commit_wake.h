/*
 * commit_wake.h: wake the processes that act on committed ingest (the alert
 * evaluator; the Redis publisher, whose ledger has the changes) as soon as an
 * ingest transaction commits, instead of their polling (doc/redis_design.md).
 * Waking never waits: it sets a bit in shared memory and, when the bit was
 * clear, the latch of the process that takes it.
 */
#ifndef QOE_COMMIT_WAKE_H
#define QOE_COMMIT_WAKE_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* Who is woken. */
typedef enum QoeWakeTarget
{
	QOE_WAKE_EVALUATOR,			/* the alert evaluator: evaluate_alerts */
	QOE_WAKE_PUBLISHER,			/* the Redis publisher */
	QOE_WAKE_NTARGETS
} QoeWakeTarget;

/* Why (bits). */
#define QOE_WAKE_METRICS	0x2 /* an ingest transaction that changed the windows qoe_metrics shows committed */
#define QOE_WAKE_STALLED	0x4 /* an ingest transaction that stored a stall committed */
#define QOE_WAKE_ALERTS		0x8 /* an evaluation that queued alert changes committed */
#define QOE_WAKE_VIEWERS	0x10	/* an ingest transaction that changed who plays committed */
#define QOE_WAKE_LEDGER		0x20	/* the viewers ledger's ring is half full: drain it */

/*
 * Woken work (an evaluation of the alert rules, a publishing round) runs again no
 * sooner than QOE_WAKE_SPACING_MS after its last start, and than twice the
 * CPU time it last used after its last end (or more: its own rest factor):
 * a steady stream of commits can make it run at most 20 times a second and
 * use at most a third of a core.
 * (CPU time, not wall time: on a busy machine a run takes longer without
 * costing more, and should not be delayed for it.)
 */
#define QOE_WAKE_SPACING_MS 50
#define QOE_WAKE_REST_FACTOR 2

/* Shared memory, when preloaded. */
extern void CommitWakeShmemInit(void);

/*
 * Call in an ingest transaction with how many buffering events it stored:
 * when it commits, if any, the alert evaluator is woken (STALLED) to judge
 * the stall-loop rule at once. Nothing on abort.
 */
extern void qoe_wake_on_commit(int64 stalls);

/* When the current transaction commits, wake target for why. Nothing on abort. */
extern void qoe_wake_at_commit(QoeWakeTarget target, uint32 why);

/* CPU time (user and system) this process has used, in microseconds. */
extern int64 qoe_wake_cpu_us(void);

/*
 * When woken work that last ran from started to ended, using cpu_us, may run
 * again; spacing_ms: its own spacing between starts, if above
 * QOE_WAKE_SPACING_MS; rest_factor: its own rest per CPU time, if above
 * QOE_WAKE_REST_FACTOR.
 */
extern TimestampTz qoe_wake_earliest(TimestampTz started, TimestampTz ended, int64 cpu_us,
									  int spacing_ms, int rest_factor);

/* Set why on target; set its latch if one of those bits was clear. */
extern void qoe_wake(QoeWakeTarget target, uint32 why);

/* The calling process is target's, until it exits. */
extern void qoe_wake_attach(QoeWakeTarget target);

/* target's pending bits, left set. */
extern uint32 qoe_wake_pending(QoeWakeTarget target);

/* Clear bits of target's pending bits; returns those of them that were set. */
extern uint32 qoe_wake_take(QoeWakeTarget target, uint32 bits);

#endif
