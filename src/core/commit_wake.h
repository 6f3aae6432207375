/*
 * commit_wake.h: wake the processes that act on committed ingest (the
 * launcher, which refreshes the rollups; the alert evaluator; the Redis
 * publisher) as soon as an
 * ingest transaction commits, instead of their polling (doc/redis.md,
 * freshness). Waking never waits: it sets a bit in shared memory and, when
 * the bit was clear, the latch of the process that takes it.
 */
#ifndef QOE_COMMIT_WAKE_H
#define QOE_COMMIT_WAKE_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* Who is woken. */
typedef enum QoeWakeTarget
{
	QOE_WAKE_SCHEDULER,			/* the launcher's live job: refresh_rollups */
	QOE_WAKE_EVALUATOR,			/* the alert evaluator: evaluate_alerts */
	QOE_WAKE_PUBLISHER,			/* the Redis publisher */
	QOE_WAKE_NTARGETS
} QoeWakeTarget;

/* Why (bits). */
#define QOE_WAKE_INGESTED	0x1 /* an ingest transaction committed */
#define QOE_WAKE_ROLLUPS	0x2 /* a refresh of the rollups committed */
#define QOE_WAKE_STALLED	0x4 /* an ingest transaction that stored a stall committed */
#define QOE_WAKE_ALERTS		0x8 /* an evaluation that queued alert changes committed */
#define QOE_WAKE_VIEWERS	0x10	/* an ingest transaction that changed who plays committed */

/*
 * Woken work (a refresh of the rollups, a publishing round) runs again no
 * sooner than QOE_WAKE_SPACING_MS after its last start, and than twice the
 * CPU time it last used after its last end: a steady stream of commits can
 * make it run at most 20 times a second and use at most a third of a core.
 * (CPU time, not wall time: on a busy machine a run takes longer without
 * costing more, and should not be delayed for it.)
 */
#define QOE_WAKE_SPACING_MS 50
#define QOE_WAKE_REST_FACTOR 2

/*
 * Titles handed to the publisher between two of its rounds, at most; beyond,
 * it reads every title's viewers (what it did for every round before).
 */
#define QOE_WAKE_MAX_TITLES 1024

/* Shared memory, when preloaded. */
extern void CommitWakeShmemInit(void);

/*
 * Call in an ingest transaction with the events it stored and how many of
 * them are buffering events. When it commits, if a publisher runs (else the
 * rollups keep their interval) and it stored any, the scheduler is woken
 * (INGESTED) to merge the rollups, whose commit wakes the publisher for
 * qoe_metrics. (A qoe_metrics round per ingest commit took the publisher
 * from 0.2 to 0.8-1.0 CPU s per 400,000 events, bench/redis (a): 8 % of
 * ingest's CPU, against the 5 % allowed.) If it stored a stall, the
 * scheduler is woken (STALLED) to judge the stall-loop rule at once.
 * Nothing on abort.
 */
extern void qoe_wake_on_commit(int64 stored, int64 stalls);

/*
 * Call in an ingest transaction for each title whose viewers it changed (a
 * session of the title started or stopped playing, or moved to or from it).
 * When it commits, if a publisher runs, the titles are handed to it and it is
 * woken (VIEWERS) to publish their concurrent_viewers keys. Nothing on abort.
 * A title handed that did not change costs a read, nothing else.
 */
extern void qoe_wake_viewers_of(int64 content_id);

/*
 * The publisher: take the titles handed since the last call into titles[]
 * (room for QOE_WAKE_MAX_TITLES, repeats possible); returns how many, or -1
 * when more were handed than fit: read every title's viewers. Call after
 * taking the VIEWERS bit: a commit hands its titles before it wakes.
 */
extern int	qoe_wake_take_titles(int64 *titles);

/* When the current transaction commits, wake target for why. Nothing on abort. */
extern void qoe_wake_at_commit(QoeWakeTarget target, uint32 why);

/* CPU time (user and system) this process has used, in microseconds. */
extern int64 qoe_wake_cpu_us(void);

/*
 * When woken work that last ran from started to ended, using cpu_us, may run
 * again; spacing_ms: its own spacing between starts, if above QOE_WAKE_SPACING_MS.
 */
extern TimestampTz qoe_wake_earliest(TimestampTz started, TimestampTz ended, int64 cpu_us,
									  int spacing_ms);

/* Set why on target; set its latch if one of those bits was clear. */
extern void qoe_wake(QoeWakeTarget target, uint32 why);

/* The calling process is target's, until it exits. */
extern void qoe_wake_attach(QoeWakeTarget target);

/* target's pending bits, left set. */
extern uint32 qoe_wake_pending(QoeWakeTarget target);

/* Clear bits of target's pending bits; returns those of them that were set. */
extern uint32 qoe_wake_take(QoeWakeTarget target, uint32 bits);

#endif
