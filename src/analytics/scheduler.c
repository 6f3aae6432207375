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

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "analytics/scheduler.h"
#include "core/commit_wake.h"
#include "core/guc.h"
#include "core/worker_session.h"

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

/* One run of a job, or the record of its failure when error is set. */
typedef struct JobRun
{
	SchedulerJob *job;
	TimestampTz started;
	const char *error;
} JobRun;

/*
 * Run the job's SQL, then record the run, in one transaction; with error
 * set, record only that failure.
 */
static void
run_and_record(void *arg)
{
	JobRun	   *run = (JobRun *) arg;
	SchedulerJob *job = run->job;
	Oid			argtypes[5] = {TEXTOID, INT4OID, TIMESTAMPTZOID, BOOLOID, TEXTOID};
	Datum		args[5] = {CStringGetTextDatum(job->name), Int32GetDatum(*job->interval_ms),
		TimestampTzGetDatum(run->started), BoolGetDatum(run->error != NULL),
	run->error != NULL ? CStringGetTextDatum(run->error) : (Datum) 0};

	/* the launcher must not hang on a lock: its workers wait on it */
	if (SPI_execute("SET LOCAL lock_timeout = " CppAsString2(JOB_LOCK_TIMEOUT_MS),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "setting lock_timeout failed");
	if (run->error == NULL && SPI_execute(job->sql, false, 0) < 0)
		elog(ERROR, "running \"%s\" failed", job->sql);
	if (SPI_execute_with_args(RECORD_RUN, 5, argtypes, args,
							  run->error != NULL ? "     " : "    n", false, 0) < 0)
		elog(ERROR, "recording a run of %s failed", job->name);
}

static bool
run_job(SchedulerJob *job)
{
	JobRun		run = {job, GetCurrentTimestamp(), NULL};
	ErrorData  *error;
	ErrorData  *again;

	error = qoe_run_own_transaction(job->sql, run_and_record, &run);
	if (error == NULL)
	{
		job->last_logged[0] = '\0';
		return true;
	}
	if (strcmp(error->message, job->last_logged) != 0)
	{
		ereport(LOG,
				(errmsg("qoe_ext scheduler job %s failed, retrying every %d ms: %s",
						job->name, *job->interval_ms, error->message)));
		strlcpy(job->last_logged, error->message, sizeof(job->last_logged));
	}
	run.error = error->message;
	again = qoe_run_own_transaction(job->sql, run_and_record, &run);
	if (again != NULL)
		FreeErrorData(again);	/* the job's own error above is what matters */
	FreeErrorData(error);
	return false;
}

/*
 * The wake-up chain (core/commit_wake.c): an ingest commit makes
 * refresh_rollups due as soon as qoe_wake_earliest allows, instead of at its
 * next interval; a refresh that committed wakes the publisher, which then
 * publishes the rollups.
 */
static TimestampTz rollups_started = 0;
static TimestampTz rollups_ended = 0;
static int64 rollups_cpu_us = 0;

static bool
is_rollups(const SchedulerJob *job)
{
	return strcmp(job->name, "refresh_rollups") == 0;
}

/* Bring refresh_rollups forward if an ingest committed since its last start. */
static void
hurry_rollups(SchedulerJob *job, TimestampTz now)
{
	TimestampTz earliest = qoe_wake_earliest(rollups_started, rollups_ended,
												 rollups_cpu_us);

	if (qoe_wake_pending(QOE_WAKE_SCHEDULER) & QOE_WAKE_INGESTED)
		job->due = Min(job->due, Max(earliest, now));
}

static void
run_scheduled(SchedulerJob *job, TimestampTz now)
{
	if (!is_rollups(job))
	{
		(void) run_job(job);
		return;
	}
	/* taken before: a commit during the refresh asks for the next one */
	(void) qoe_wake_take(QOE_WAKE_SCHEDULER, QOE_WAKE_INGESTED);
	rollups_started = now;
	rollups_cpu_us = qoe_wake_cpu_us();
	if (run_job(job))
		qoe_wake(QOE_WAKE_PUBLISHER, QOE_WAKE_ROLLUPS);
	rollups_ended = GetCurrentTimestamp();
	rollups_cpu_us = qoe_wake_cpu_us() - rollups_cpu_us;
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
		if (is_rollups(job))
			hurry_rollups(job, now);
		if (now >= job->due)
		{
			run_scheduled(job, now);
			now = GetCurrentTimestamp();
			job->due = TimestampTzPlusMilliseconds(now, *job->interval_ms);
		}
		wait_ms = Min(wait_ms, TimestampDifferenceMilliseconds(now, job->due));
	}
	return Max(wait_ms, 1);
}
