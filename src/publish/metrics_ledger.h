/*
 * metrics_ledger.h: the figures of every title's qoe_metrics:{content_id}
 * hash (doc/redis.md), kept by the Redis publisher as ingest commits change
 * them, so that a round publishes a title's hash without a read of the
 * rollups and of the deltas no merge has taken yet (tens of milliseconds
 * however few the titles: a scan of qoe.session_window_deltas).
 *
 * Per title and 5-minute window from the latest complete one on: plays,
 * stall, watch and score-weighted watch time, and the video start time
 * digest. A rebase (viewers_ledger.c's, in its snapshot) reads them from
 * the rollups and their unmerged deltas, as qoe.qoe_metrics(real_time =>
 * true) sums them; the notes of later commits (viewers_ledger.c's ring)
 * add each session's change to its window. A start time that a late event
 * changes or takes back leaves the digest at the next rebase, as it leaves
 * the real-time read at the next merge.
 */
#ifndef QOE_METRICS_LEDGER_H
#define QOE_METRICS_LEDGER_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "publish/title_list.h"

/* One session's change to one window's figures (a qoe.session_window_deltas row's). */
typedef struct QoeWindowChange
{
	TimestampTz window_start;
	int64		plays;
	int64		stall_ms;		/* connection-induced stall time */
	int64		watch_ms;
	int64		score_x_watch;	/* QoE score x watch time */
	int64		vst_ms;			/* the start time first counted, if vst_new */
	bool		vst_new;
} QoeWindowChange;

/* What a qoe_metrics hash shows of a title: windows [window_start, now]. */
typedef struct QoeTitleMetrics
{
	TimestampTz window_start;	/* the latest complete window */
	double		vst_ms[3];		/* p50, p95, p99 */
	bool		has_vst;
	double		rebuffering_ratio;
	double		qoe_score;
	bool		has_watch;		/* the two ratios above are defined */
	int64		plays;
} QoeTitleMetrics;

/* Empty, every title changed; the calling process keeps it. */
extern void qoe_metrics_ledger_reset(void);

/*
 * In a rebase's transaction and snapshot (SPI connected): rebuild from the
 * rollups and the deltas of the windows from the latest complete one at
 * now on.
 */
extern void qoe_metrics_ledger_rebase(TimestampTz now);

/* A committed session's change to a window of content_id. */
extern void qoe_metrics_ledger_add(int64 content_id, const QoeWindowChange *change);

/*
 * The range moves on at now: windows before the latest complete one go,
 * and every title counts as changed (its hash shows other windows).
 */
extern void qoe_metrics_ledger_roll(TimestampTz now);

/*
 * The titles changed since the last call into *out (in TopMemoryContext),
 * or, after a rebase, out->n = -1: every title
 * (qoe_metrics_ledger_for_each_title), and the hashes of titles it does not
 * hold go.
 */
extern void qoe_metrics_ledger_take_changed(QoeTitleList *out);

/*
 * *content_id (every title held if NULL) counts as changed: the next round
 * writes its hash again (Redis refused or forgot it, a round failed).
 */
extern void qoe_metrics_ledger_touch(const int64 *content_id);

/* Call f for each title held. */
extern void qoe_metrics_ledger_for_each_title(void (*f) (int64 content_id));

/*
 * The hash of content_id over the latest complete window and the current
 * one at now; false if it had no event in them (no hash).
 */
extern bool qoe_metrics_ledger_read(int64 content_id, TimestampTz now, QoeTitleMetrics *m);

#endif
