/*
 * scheduler.c: the periodic jobs of the analytics layer.
 *
 * Each job is one fixed SQL call, run on its own interval (a qoe.*_interval
 * setting; 0 turns it off) in a transaction of its own, which also records
 * the run in qoe.scheduler_status; a failed run is recorded there in a
 * second transaction and logged once per distinct message, and the job runs
 * again at its next turn. Three processes share them, so that no other job
 * holds back the merge of the rollups (an event in qoe.qoe_metrics within
 * a second): the launcher runs it between its own tasks, every
 * qoe.rollup_refresh_interval; the "qoe_ext alert evaluator" evaluates the
 * alert rules, woken by commits that stored a stall (in the launcher, an
 * evaluation of the window rules every 10 s, 200-500 ms at 260,000 live
 * viewers, delayed the refresh after it as long); the "qoe_ext scheduler"
 * runs the long jobs (sampling concurrent viewers took 1.3-2.2 s every 10 s
 * at 260,000 viewers; building the coarser rollup levels of the windows a
 * boundary closes, 0.9-1.8 s). The supervisor keeps the two processes running. One
 * of each runs per cluster, and the functions admit concurrent manual calls
 * (qoe.refresh_rollups() takes one refresher at a time, evaluations are
 * serialized), so an operator may also run any of them by hand.
 */
#include "postgres.h"

#include <sys/resource.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "analytics/deltas_vacuum.h"
#include "analytics/scheduler.h"
#include "core/commit_wake.h"
#include "core/guc.h"
#include "core/worker_session.h"

/*
 * A job that meets a lock (a long DDL, an explicit LOCK) fails after this
 * long and runs again at its next turn, recorded as failing, instead of
 * keeping the launcher from restarting its Kafka workers or the other jobs
 * from running meanwhile. At most half of deadlock_timeout, so that in a
 * deadlock with a user's statement the job is the one that gives way: the
 * process that closes a cycle finds it deadlock_timeout after it began to
 * wait, and a job in the cycle had begun before, or is that process.
 */
#define JOB_LOCK_TIMEOUT_MS 1000

static int
job_lock_timeout_ms(void)
{
	return Max(Min(JOB_LOCK_TIMEOUT_MS, DeadlockTimeout / 2), 1);
}

/*
 * How much the scheduler process lowers its CPU priority (nice): its jobs
 * are long and not in a hurry (a refresh of the business views took 9 s at
 * 260,000 live viewers, the recommendations 10 s, the level build at a
 * window boundary about 1 s), and where they met a window boundary on two
 * busy cores the live merge waited for the CPU past the 1-second freshness.
 */
#define PERIODIC_JOBS_NICE 10

typedef struct SchedulerJob
{
	const char *name;			/* the row of qoe.scheduler_status */
	const char *sql;
	int		   *interval_ms;	/* a setting of guc.c */
	QoeJobRunner runner;		/* the process that runs it */
	uint32		woken_by;		/* QOE_WAKE_* bits that bring it forward (commit_wake.h) */
	int			wake_spacing_ms;	/* woken runs start at least this far apart (if above QOE_WAKE_SPACING_MS) */
	ErrorData  *(*after) (void);	/* after a run that succeeded, outside its transaction */
	TimestampTz due;
	TimestampTz last_started;	/* of its latest run, for qoe_wake_earliest */
	TimestampTz last_ended;
	int64		last_cpu_us;
	char		last_logged[256];	/* the error logged last, to log it once */
} SchedulerJob;

static SchedulerJob jobs[] = {
	{.name = "refresh_rollups", .sql = "SELECT qoe.refresh_rollups(build_levels => false)",
	.interval_ms = &qoe_rollup_refresh_ms, .runner = QOE_JOBS_LIVE, .after = qoe_vacuum_deltas},
	{.name = "refresh_rollup_levels", .sql = "SELECT qoe.refresh_rollup_levels()",
	.interval_ms = &qoe_rollup_levels_ms},
	{.name = "expire_sessions", .sql = "SELECT qoe.expire_sessions()",
	.interval_ms = &qoe_session_expiry_ms},
	{.name = "record_concurrency", .sql = "SELECT qoe.record_concurrency()",
	.interval_ms = &qoe_concurrency_sample_ms},
	{.name = "refresh_views", .sql = "SELECT count(*) FROM qoe.refresh_views()",
	.interval_ms = &qoe_view_refresh_ms},
	{.name = "apply_retention", .sql = "SELECT count(*) FROM qoe.apply_retention()",
	.interval_ms = &qoe_retention_ms},
	{.name = "evaluate_alerts", .sql = "SELECT count(*) FROM qoe.evaluate_alerts()",
		.interval_ms = &qoe_alert_evaluation_ms, .runner = QOE_JOBS_ALERTS,
	.woken_by = QOE_WAKE_STALLED, .wake_spacing_ms = 250},
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

	/* no job hangs on a lock: the launcher's workers and the other jobs wait */
	if (SPI_execute(psprintf("SET LOCAL lock_timeout = %d", job_lock_timeout_ms()),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "setting lock_timeout failed");
	if (run->error == NULL && SPI_execute(job->sql, false, 0) < 0)
		elog(ERROR, "running \"%s\" failed", job->sql);
	if (SPI_execute_with_args(RECORD_RUN, 5, argtypes, args,
							  run->error != NULL ? "     " : "    n", false, 0) < 0)
		elog(ERROR, "recording a run of %s failed", job->name);
}

static void
run_job(SchedulerJob *job)
{
	JobRun		run = {job, GetCurrentTimestamp(), NULL};
	ErrorData  *error;
	ErrorData  *again;

	error = qoe_run_own_transaction(job->sql, run_and_record, &run);
	/* a failure of the step after is recorded as a failed run of the job */
	if (error == NULL && job->after != NULL && (error = job->after()) != NULL)
		error->message = psprintf("after the run: %s", error->message);
	if (error == NULL)
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
	run.error = error->message;
	again = qoe_run_own_transaction(job->sql, run_and_record, &run);
	if (again != NULL)
		FreeErrorData(again);	/* the job's own error above is what matters */
	FreeErrorData(error);
}

/*
 * The wake-up chain (core/commit_wake.c): a commit that sets one of a job's
 * woken_by bits makes it due as soon as qoe_wake_earliest allows, instead of
 * at its next interval (a commit that stored a stall: evaluate_alerts, for
 * the stall-loop rule, at most 4 times a second: each run judges every
 * stall arrived since the previous one). Only the alert evaluator's jobs
 * are woken: the Redis publisher reads the rollups in real time, so no
 * merge is hurried for it.
 */
static void
hurry(SchedulerJob *job, TimestampTz now)
{
	TimestampTz earliest;

	if (job->woken_by == 0 || !(qoe_wake_pending(QOE_WAKE_EVALUATOR) & job->woken_by))
		return;
	earliest = qoe_wake_earliest(job->last_started, job->last_ended, job->last_cpu_us,
								 job->wake_spacing_ms, QOE_WAKE_REST_FACTOR);
	job->due = Min(job->due, Max(now, earliest));
}

static void
run_scheduled(SchedulerJob *job, TimestampTz now)
{
	int64		cpu_us = qoe_wake_cpu_us();

	/* taken before: a commit during the run asks for the next one */
	if (job->woken_by != 0)
		(void) qoe_wake_take(QOE_WAKE_EVALUATOR, job->woken_by);
	job->last_started = now;
	run_job(job);
	job->last_ended = GetCurrentTimestamp();
	job->last_cpu_us = qoe_wake_cpu_us() - cpu_us;
}

long
qoe_scheduler_run(QoeJobRunner runner)
{
	TimestampTz now = GetCurrentTimestamp();
	long		wait_ms = 24L * 3600 * 1000;

	for (size_t i = 0; i < lengthof(jobs); i++)
	{
		SchedulerJob *job = &jobs[i];

		if (job->runner != runner || *job->interval_ms <= 0)
			continue;
		/* a shortened interval applies at once */
		job->due = Min(job->due, TimestampTzPlusMilliseconds(now, *job->interval_ms));
		hurry(job, now);
		if (now >= job->due)
		{
			run_scheduled(job, now);
			now = job->last_ended;

			/*
			 * Due an interval after it started, so that what the refresh
			 * merges waits about an interval and a run at most (an interval
			 * after its end made that an interval and two runs: up to 1.2 s
			 * at 260,000 live viewers), and at once after a longer run, so
			 * that a live backlog shrinks (at a window boundary at 260,000
			 * viewers merging takes about three quarters of the time it
			 * covers). A run longer than twice the interval is a bulk load:
			 * it rests half as long, which leaves ingest the xmin horizon (the
			 * versions it replaced meanwhile can be pruned) a third of the
			 * time.
			 */
			job->due = TimestampTzPlusMilliseconds(job->last_started, *job->interval_ms);
			if (now - job->last_started > 2 * (int64) *job->interval_ms * 1000)
				job->due = Max(job->due, now + (now - job->last_started) / 2);
		}
		wait_ms = Min(wait_ms, TimestampDifferenceMilliseconds(now, job->due));
	}
	return Max(wait_ms, 1);
}

/* ---- the scheduler and alert evaluator processes ---- */

/* the supervisor's; main_arg: the QoeJobRunner */
static QoeChild scheduler = {.function = "qoe_scheduler_main", .name = "qoe_ext scheduler",
.main_arg = Int32GetDatum(QOE_JOBS_PERIODIC), .retry_ms = QOE_SUPERVISE_MS};
static QoeChild evaluator = {.function = "qoe_scheduler_main", .name = "qoe_ext alert evaluator",
.main_arg = Int32GetDatum(QOE_JOBS_ALERTS), .retry_ms = QOE_SUPERVISE_MS};

long
SchedulerSupervise(TimestampTz now)
{
	return Min(qoe_child_look(&scheduler, now, false), qoe_child_look(&evaluator, now, false));
}

void
SchedulerStop(void)
{
	qoe_child_stop(&scheduler);
	qoe_child_stop(&evaluator);
}

void
qoe_scheduler_main(Datum main_arg)
{
	QoeJobRunner runner = (QoeJobRunner) DatumGetInt32(main_arg);

	/* die: SIGTERM ends a lock wait at once, and the transaction with it */
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	qoe_worker_connect_as_role(runner == QOE_JOBS_ALERTS ? evaluator.name : scheduler.name);
	if (runner == QOE_JOBS_PERIODIC)
	{
		int			nice_now;

		errno = 0;
		nice_now = getpriority(PRIO_PROCESS, 0);
		if (errno != 0 || setpriority(PRIO_PROCESS, 0, Min(nice_now + PERIODIC_JOBS_NICE, 19)) != 0)
			ereport(LOG, (errmsg("qoe_ext scheduler could not lower its CPU priority: %m")));
	}
	/* commits that stored a stall wake the evaluator (the stall-loop rule) */
	if (runner == QOE_JOBS_ALERTS)
		qoe_wake_attach(QOE_WAKE_EVALUATOR);

	for (;;)
	{
		long		wait_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		wait_ms = qoe_scheduler_run(runner);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
