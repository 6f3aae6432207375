/*
 * scheduler.c: the periodic jobs of the analytics layer, run by the launcher.
 *
 * Each job is one fixed SQL call, run on its own interval (a qoe.*_interval
 * setting; 0 turns it off) in a transaction of its own, which also records
 * the run in qoe.scheduler_status; a failed run is recorded there in a
 * second transaction and logged once per distinct message, and the job runs
 * again at its next turn. One launcher runs per cluster, and the functions
 * admit concurrent manual calls (qoe.refresh_rollups() takes one refresher
 * at a time), so an operator may also run any of them by hand.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "analytics/scheduler.h"
#include "core/catalog.h"
#include "core/guc.h"

/*
 * A job that meets a lock (a long DDL, an explicit LOCK) fails after this
 * long and runs again at its next turn, recorded as failing, instead of
 * keeping the launcher from restarting its Kafka workers meanwhile.
 */
#define JOB_LOCK_TIMEOUT_MS 1000

typedef struct SchedulerJob
{
	const char *name;			/* the row of qoe.scheduler_status */
	const char *sql;
	int		   *interval_ms;	/* a setting of guc.c */
	TimestampTz due;
	char		last_logged[256];	/* the error logged last, to log it once */
} SchedulerJob;

static SchedulerJob jobs[] = {
	{.name = "refresh_rollups", .sql = "SELECT qoe.refresh_rollups()",
	.interval_ms = &qoe_rollup_refresh_ms},
	{.name = "expire_sessions", .sql = "SELECT qoe.expire_sessions()",
	.interval_ms = &qoe_session_expiry_ms},
	{.name = "record_concurrency", .sql = "SELECT qoe.record_concurrency()",
	.interval_ms = &qoe_concurrency_sample_ms},
	{.name = "refresh_views", .sql = "SELECT count(*) FROM qoe.refresh_views()",
	.interval_ms = &qoe_view_refresh_ms},
	{.name = "apply_retention", .sql = "SELECT count(*) FROM qoe.apply_retention()",
	.interval_ms = &qoe_retention_ms},
	{.name = "evaluate_alerts", .sql = "SELECT count(*) FROM qoe.evaluate_alerts()",
	.interval_ms = &qoe_alert_evaluation_ms},
	{.name = "refresh_recommendations", .sql = "SELECT count(*) FROM qoe.refresh_recommendations()",
	.interval_ms = &qoe_recommendations_refresh_ms},
};

#define RECORD_RUN \
	"INSERT INTO qoe.scheduler_status AS s (job, run_every, last_started, last_finished," \
	" last_duration_ms, failing, runs, failures, last_error, last_error_at)" \
	" VALUES ($1, pg_catalog.make_interval(secs => $2 / 1000.0), $3, pg_catalog.clock_timestamp()," \
	" pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) $3) * 1000," \
	" $4, 1, $4::int, $5, CASE WHEN $4 THEN pg_catalog.clock_timestamp() END)" \
	" ON CONFLICT (job) DO UPDATE SET run_every = excluded.run_every," \
	" last_started = excluded.last_started, last_finished = excluded.last_finished," \
	" last_duration_ms = excluded.last_duration_ms, failing = excluded.failing," \
	" runs = s.runs OPERATOR(pg_catalog.+) 1," \
	" failures = s.failures OPERATOR(pg_catalog.+) excluded.failures," \
	" last_error = coalesce(excluded.last_error, s.last_error)," \
	" last_error_at = coalesce(excluded.last_error_at, s.last_error_at)"

/*
 * Run job's SQL, then record the run, in one transaction with the
 * search_path pinned; with error set, record only that failure. False, and
 * *caught, on an error. Nothing runs in a database without qoe_ext.
 */
static bool
run_in_transaction(SchedulerJob *job, TimestampTz started, const char *error,
				   ErrorData **caught)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool done = false;

	*caught = NULL;
	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (OidIsValid(get_extension_oid("qoe_ext", true)))
		{
			Oid			argtypes[5] = {TEXTOID, INT4OID, TIMESTAMPTZOID, BOOLOID, TEXTOID};
			Datum		args[5] = {CStringGetTextDatum(job->name), Int32GetDatum(*job->interval_ms),
				TimestampTzGetDatum(started), BoolGetDatum(error != NULL),
			error != NULL ? CStringGetTextDatum(error) : (Datum) 0};
			int			nest_level;

			pgstat_report_activity(STATE_RUNNING, job->sql);
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			nest_level = qoe_pin_search_path();
			/* the launcher must not hang on a lock: its workers wait on it */
			if (SPI_execute("SET LOCAL lock_timeout = " CppAsString2(JOB_LOCK_TIMEOUT_MS),
							false, 0) != SPI_OK_UTILITY)
				elog(ERROR, "setting lock_timeout failed");
			if (error == NULL && SPI_execute(job->sql, false, 0) < 0)
				elog(ERROR, "running \"%s\" failed", job->sql);
			if (SPI_execute_with_args(RECORD_RUN, 5, argtypes, args,
									  error != NULL ? "     " : "    n", false, 0) < 0)
				elog(ERROR, "recording a run of %s failed", job->name);
			qoe_unpin_search_path(nest_level);
			SPI_finish();
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
		done = true;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		*caught = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	return done;
}

static void
run_job(SchedulerJob *job)
{
	TimestampTz started = GetCurrentTimestamp();
	ErrorData  *error;
	ErrorData  *again;

	if (run_in_transaction(job, started, NULL, &error))
	{
		job->last_logged[0] = '\0';
		return;
	}
	if (strcmp(error->message, job->last_logged) != 0)
	{
		ereport(LOG,
				(errmsg("qoe_ext scheduler job %s failed, retrying every %d ms: %s",
						job->name, *job->interval_ms, error->message)));
		strlcpy(job->last_logged, error->message, sizeof(job->last_logged));
	}
	if (!run_in_transaction(job, started, error->message, &again))
		FreeErrorData(again);	/* the job's own error above is what matters */
	FreeErrorData(error);
}

long
qoe_scheduler_run(void)
{
	TimestampTz now = GetCurrentTimestamp();
	long		wait_ms = 24L * 3600 * 1000;

	for (size_t i = 0; i < lengthof(jobs); i++)
	{
		SchedulerJob *job = &jobs[i];

		if (*job->interval_ms <= 0)
			continue;
		/* a shortened interval applies at once */
		job->due = Min(job->due, TimestampTzPlusMilliseconds(now, *job->interval_ms));
		if (now >= job->due)
		{
			run_job(job);
			now = GetCurrentTimestamp();
			job->due = TimestampTzPlusMilliseconds(now, *job->interval_ms);
		}
		wait_ms = Min(wait_ms, TimestampDifferenceMilliseconds(now, job->due));
	}
	return Max(wait_ms, 1);
}
