/*
 * guc.c: the qoe.* settings. Times are integer GUCs with units, so they can be
 * written as '3d', '5min' or '1h' in postgresql.conf, ALTER SYSTEM or SET.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "core/guc.h"

int			qoe_late_window_s = 3 * 24 * 3600;
int			qoe_future_window_s = 3600;
int			qoe_session_timeout_s = 300;
int			qoe_event_retention_s = 30 * 24 * 3600;
int			qoe_partition_premake_days = 3;
int			qoe_session_retention_s = 730 * 24 * 3600;
int			qoe_rollup_retention_s = 730 * 24 * 3600;
/*
 * An event waits an interval and a merge at most, and a merge costs about
 * what its interval brought (its fixed cost is under a millisecond): at 400
 * ms, the merges after a 5-minute boundary at 260,000 live viewers left one
 * event in 130 over 1 s (bench/freshness)
 */
int			qoe_rollup_refresh_ms = 300;
int			qoe_rollup_levels_ms = 1000;
int			qoe_session_expiry_ms = 30 * 1000;
int			qoe_concurrency_sample_ms = 10 * 1000;
int			qoe_view_refresh_ms = 5 * 60 * 1000;
int			qoe_retention_ms = 3600 * 1000;
int			qoe_alert_evaluation_ms = 1000;
int			qoe_recommendations_refresh_ms = 10 * 60 * 1000;

/* how often a scheduler job runs: ms, at most a day, 0 = never */
static void
define_job_interval(const char *name, const char *what, int *value)
{
	DefineCustomIntVariable(name, what,
							"Run by the qoe_ext launcher or scheduler process (qoe_ext preloaded); 0 turns the job off. Its runs and errors are in qoe.scheduler_status.",
							value, *value, 0, 24 * 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
}
char	   *qoe_database = NULL;
char	   *qoe_worker_role = NULL;

void
GucInit(void)
{
	DefineCustomIntVariable("qoe.late_event_window",
							"How old an event may be, against the server clock, and still be accepted.",
							"Older events go to qoe.dead_letters. Partitions are created on demand inside this window.",
							&qoe_late_window_s, qoe_late_window_s, 60, 365 * 24 * 3600,
							PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("qoe.future_event_window",
							"How far ahead of the server clock an event timestamp may be and still be accepted.",
							"Covers client clock skew; later timestamps go to qoe.dead_letters.",
							&qoe_future_window_s, qoe_future_window_s, 0, 7 * 24 * 3600,
							PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("qoe.session_timeout",
							"Inactivity after which qoe.expire_sessions() marks a session abandoned.",
							NULL,
							&qoe_session_timeout_s, qoe_session_timeout_s, 10, 7 * 24 * 3600,
							PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("qoe.event_retention",
							"Age after which qoe.drop_old_partitions() drops raw event partitions.",
							NULL,
							&qoe_event_retention_s, qoe_event_retention_s, 24 * 3600, PG_INT32_MAX,
							PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("qoe.partition_premake_days",
							"How many daily partitions ahead of today are created in advance.",
							NULL,
							&qoe_partition_premake_days, qoe_partition_premake_days, 0, 60,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("qoe.session_retention",
							"Age after which qoe.apply_retention() deletes finished sessions (by their last event).",
							NULL,
							&qoe_session_retention_s, qoe_session_retention_s, 24 * 3600, PG_INT32_MAX,
							PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("qoe.rollup_retention",
							"Age after which qoe.apply_retention() deletes rollup windows and concurrency minutes.",
							NULL,
							&qoe_rollup_retention_s, qoe_rollup_retention_s, 24 * 3600, PG_INT32_MAX,
							PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);
	define_job_interval("qoe.rollup_refresh_interval",
						"How often the scheduler merges new events into the rollups (qoe.refresh_rollups).",
						&qoe_rollup_refresh_ms);
	define_job_interval("qoe.rollup_levels_interval",
						"How often the scheduler builds the coarser rollup levels of the windows closed since (qoe.refresh_rollup_levels).",
						&qoe_rollup_levels_ms);
	define_job_interval("qoe.session_expiry_interval",
						"How often the scheduler marks idle sessions abandoned (qoe.expire_sessions).",
						&qoe_session_expiry_ms);
	define_job_interval("qoe.concurrency_sample_interval",
						"How often the scheduler samples concurrent viewers into qoe.concurrency_1min.",
						&qoe_concurrency_sample_ms);
	define_job_interval("qoe.view_refresh_interval",
						"How often the scheduler refreshes the materialized business views (qoe.refresh_views).",
						&qoe_view_refresh_ms);
	define_job_interval("qoe.retention_interval",
						"How often the scheduler applies the retention settings (qoe.apply_retention).",
						&qoe_retention_ms);
	define_job_interval("qoe.alert_evaluation_interval",
						"How often the scheduler evaluates the alert rules (qoe.evaluate_alerts); each rule also waits its eval_every.",
						&qoe_alert_evaluation_ms);
	define_job_interval("qoe.recommendations_refresh_interval",
						"How often the scheduler brings qoe.interactions and the recommendation model up to date (qoe.refresh_recommendations).",
						&qoe_recommendations_refresh_ms);
	/*
	 * Read by the launcher at server start; a library loaded later (not
	 * preloaded) may not define a postmaster setting, and has no launcher.
	 * Workers take the launcher's role, so the two always agree.
	 */
	DefineCustomStringVariable("qoe.database",
							   "Database whose qoe.sources the Kafka launcher serves.",
							   "Used only when qoe_ext is in shared_preload_libraries.",
							   &qoe_database, "postgres",
							   process_shared_preload_libraries_in_progress ? PGC_POSTMASTER : PGC_SIGHUP,
							   0, NULL, NULL, NULL);
	DefineCustomStringVariable("qoe.worker_role",
							   "Role the Kafka launcher and workers connect as.",
							   "Must not be a superuser: the workers fire other roles' triggers. Used only when qoe_ext is in shared_preload_libraries.",
							   &qoe_worker_role, "qoe_worker",
							   process_shared_preload_libraries_in_progress ? PGC_POSTMASTER : PGC_SIGHUP,
							   0, NULL, NULL, NULL);
}
