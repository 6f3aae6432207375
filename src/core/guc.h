/*
 * guc.h: the qoe.* settings of ingest, sessions and the scheduler (guc.c);
 * the Redis publisher and the alert notifier define theirs in their modules.
 */
#ifndef QOE_GUC_H
#define QOE_GUC_H

extern int	qoe_late_window_s;		/* how far in the past an event may be */
extern int	qoe_future_window_s;	/* how far ahead of the server clock */
extern int	qoe_session_timeout_s;	/* idle time before a session is abandoned */
extern int	qoe_event_retention_s;	/* raw events older than this are dropped */
extern int	qoe_partition_premake_days;
extern int	qoe_session_retention_s;	/* sessions that ended longer ago go */
extern int	qoe_rollup_retention_s;	/* rollup windows older than this go */
/* the scheduler's jobs: how often each runs, ms; 0 turns it off */
extern int	qoe_rollup_refresh_ms;
extern int	qoe_rollup_levels_ms;
extern int	qoe_session_expiry_ms;
extern int	qoe_concurrency_sample_ms;
extern int	qoe_view_refresh_ms;
extern int	qoe_retention_ms;
extern int	qoe_alert_evaluation_ms;
extern int	qoe_recommendations_refresh_ms;
extern char *qoe_database;			/* where the Kafka launcher runs */
extern char *qoe_worker_role;		/* who the launcher and workers are */

extern void GucInit(void);

#endif
