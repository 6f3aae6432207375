/*
 * viewers_ledger.h: the sessions playing now, kept by the Redis publisher as
 * ingest commits change them, so that a round publishes a title's
 * concurrent_viewers without reading qoe.sessions (doc/redis_design.md).
 *
 * An ingest transaction notes the state each session it changed is left in
 * (qoe_ledger_note); at commit the notes go to a ring in shared memory, which
 * the publisher drains into its ledger: per session (a 64-bit hash of its
 * session_id) the title and last_event_at of the sessions active and past
 * their first frame, and per title how many of them had an event within
 * qoe.session_timeout: qoe.concurrent_viewers summed per title. The
 * publisher rebuilds the ledger from qoe.sessions (a rebase) in the first
 * round after it connected or after the ring overflowed, and in periodic
 * rounds while a transaction that noted sessions is prepared (its COMMIT
 * PREPARED notes nothing), after the commit of a TRUNCATE of a table it
 * mirrors (qoe.redis_ledger_truncated) and every 10 minutes (rows changed
 * by hand). A rebase's
 * snapshot decides which notes it already holds: those of transactions it
 * saw committed are skipped, so no change counts twice or not at all.
 *
 * The same ring carries the changes ingest makes to the windows the
 * qoe_metrics hashes show, and a rebase rebuilds those too, in the same
 * snapshot (metrics_ledger.h), and the plays of trending_content
 * (trending_ledger.h).
 */
#ifndef QOE_VIEWERS_LEDGER_H
#define QOE_VIEWERS_LEDGER_H

#include "postgres.h"

#include <math.h>

#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "publish/metrics_ledger.h"
#include "publish/title_list.h"

/* Shared memory, when preloaded. */
extern void ViewersLedgerShmemInit(void);

/* ---- ingest ---- */

/*
 * In an ingest transaction: session_id is left on content_id with its last
 * event at last_event_at, active and past its first frame (startable) or not;
 * if play_changed (its title, first frame or start changed), past its first
 * frame (played, for trending_content) or not, started at started_at. Posted
 * to the publisher at commit if one runs, which is woken for a round
 * (QOE_WAKE_VIEWERS) if a note wakes (the session started or stopped
 * playing, or moved); forgotten on the abort of the (sub)transaction that
 * noted it.
 */
extern void qoe_ledger_note(const char *session_id, int64 content_id,
							TimestampTz last_event_at, bool startable, bool wakes,
							bool play_changed, bool played, TimestampTz started_at);

/*
 * In an ingest transaction: a session's change to a window of content_id
 * from the latest complete one on (rollup.c), posted at commit as above
 * (waking the publisher for qoe_metrics) into the metrics ledger
 * (metrics_ledger.h).
 */
extern void qoe_ledger_note_window(int64 content_id, const QoeWindowChange *change);

/* ---- the publisher ---- */

/* The calling process keeps the ledger, until it exits. */
extern void qoe_ledger_attach(void);

/*
 * Whether the ledger is wrong until a rebase: the ring overflowed since the
 * last one, or qoe_ledger_invalidate was called (or none happened yet).
 */
extern bool qoe_ledger_lost(void);

/* Rebuild the ledger at the next round (after a reconnection). */
extern void qoe_ledger_invalidate(void);

/*
 * Whether the periodic round at now rebuilds the ledger: it is lost, a
 * prepared transaction noted sessions (until none is prepared any more), or
 * the last rebase is LEDGER_REBASE_MS old (what no note tells: rows of
 * qoe.sessions or the rollups changed by hand).
 */
extern bool qoe_ledger_rebase_due(TimestampTz now);

/*
 * Before the transaction of a rebase: forget the notes posted so far (their
 * transactions committed before the rebase's snapshot is taken).
 */
extern void qoe_ledger_begin_rebase(void);

/*
 * In that transaction (SPI connected): rebuild the ledger from qoe.sessions
 * as qoe.concurrent_viewers counts them, in a snapshot of its own taken
 * after it looked for prepared transactions.
 */
extern void qoe_ledger_rebase(TimestampTz now);

/*
 * Apply the notes posted since the last call, then drop the sessions whose
 * last event is older than qoe.session_timeout at now.
 */
extern void qoe_ledger_catch_up(TimestampTz now);

/*
 * Notes applied a second (per session a commit changed, its state and its
 * change to a window: about two per event of live traffic), averaged over
 * the last second or so, at now.
 */
extern double qoe_ledger_note_rate(TimestampTz now);

/* The time constant of that average, in seconds. */
#define QOE_NOTE_RATE_SECONDS 1.0

/*
 * A rate of notes as of at, at now if no note came since: each note counts
 * 1 / QOE_NOTE_RATE_SECONDS when it comes and decays exponentially, so that
 * a steady rate r sums to r.
 */
static inline double
qoe_note_rate_decayed(double rate, TimestampTz at, TimestampTz now)
{
	return rate * exp(-(double) Max(now - at, 0) / USECS_PER_SEC / QOE_NOTE_RATE_SECONDS);
}

/* Sessions of content_id playing, as of the last catch-up or rebase. */
extern int64 qoe_ledger_viewers(int64 content_id);

/* The titles whose count changed since the last call, into *out. */
extern void qoe_ledger_take_changed(QoeTitleList *out);

/*
 * *content_id (every title if NULL) counts as changed: the next round
 * writes its key again (Redis refused or forgot it).
 */
extern void qoe_ledger_touch(const int64 *content_id);

/* Call f for each title with sessions playing. */
extern void qoe_ledger_for_each_title(void (*f) (int64 content_id, int64 viewers));

#endif
