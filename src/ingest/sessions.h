/*
 * sessions.h: keep qoe.sessions current as batches of events are written.
 */
#ifndef QOE_SESSIONS_H
#define QOE_SESSIONS_H

#include "core/catalog.h"
#include "ingest/event_decode.h"
#include "ingest/session_fold.h"

/* What one batch did to one session: what the rollups (src/analytics) need. */
typedef struct QoeSessionChange
{
	const char *session_id;
	bool		existed;		/* stored before the batch: before is its fold then */
	bool		abandoned_before;	/* stored as abandoned before the batch */
	SessionFold before;
	SessionFold after;
	double		catalog_duration_sec;
	/* the session's attributes now, and as stored before the batch */
	int64		user_id;
	int64		content_id;
	const char *device_type;
	const char *country;
	const char *cdn_pop;
	int64		before_user_id;
	int64		before_content_id;
	const char *before_device_type;
	const char *before_country;
	const char *before_cdn_pop;
	QoeEvent  **events;			/* the batch's events, in fold order */
	bool	   *keep;			/* which of them are new to the session */
	int			nevents;
	QoeEvent  **all;			/* rebuilt from history: all its events, in fold order */
	int			nall;			/* (the stored ones and the batch's new ones); else NULL */
} QoeSessionChange;

/*
 * Fold events into their sessions. events[] is sorted by session_id, then by
 * qoe_event_order_cmp(). keep[i] is set false for an event that repeats an
 * event_id the session already has: it must not be stored. Must run inside
 * an SPI connection. *changes gets one entry per session the batch changed.
 */
extern void qoe_sessions_apply(const QoeCatalog *cat, QoeEvent **events, int n, bool *keep,
							   QoeSessionChange **changes, int *nchanges);

/*
 * Note every changed session for the Redis publisher's ledger of the
 * sessions playing (qoe_ledger_note, posted at commit), and wake it at
 * commit (QOE_WAKE_VIEWERS) if a session started or stopped playing now, as
 * qoe.concurrent_viewers counts them, or moved from one title to another.
 * (The titles for qoe_metrics are the rollups': qoe_rollup_sessions.)
 */
extern void qoe_sessions_report_viewers(const QoeSessionChange *changes, int nchanges);

/*
 * Mark sessions idle for longer than timeout_us abandoned (noted for the
 * publisher's ledger, which is woken); returns how many.
 */
extern uint64 qoe_sessions_expire(int64 timeout_us);

#endif
