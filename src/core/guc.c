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
	MarkGUCPrefixReserved("qoe");
}
