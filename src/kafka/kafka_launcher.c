/*
 * kafka_launcher.c: the background workers that keep one Kafka worker
 * running per enabled source and worker index.
 *
 * Two processes, so that none runs other roles' code as a superuser:
 * - the supervisor, registered at server start when qoe_ext is preloaded,
 *   connects to no database (it reads only pg_database and pg_authid, so no
 *   user's code can run in it). It waits quietly until qoe.database and the
 *   role qoe.worker_role exist and that role is no superuser, then starts
 *   the launcher, and starts it again 10 s after it exits. It supervises
 *   the analytics scheduler process (src/analytics/scheduler.c) and the
 *   Redis publisher (src/publish/redis_publish.c) the same way.
 * - the launcher connects to qoe.database as qoe.worker_role. Each time its
 *   latch is set (a change to qoe.sources, a worker starting or exiting) and
 *   every few seconds, it reads qoe.sources and reconciles: starts missing
 *   workers, stops those whose source was stopped, dropped or changed, and
 *   restarts a worker that exited on its own after a backoff doubling from
 *   1 s to 60 s. It waits quietly while the extension is not installed
 *   there. It also premakes the days' partitions, so that no ingest
 *   transaction has to create one, and runs the live job of the analytics
 *   scheduler (src/analytics/scheduler.c: the refresh of the rollups,
 *   every qoe.rollup_refresh_interval).
 * Both, and the workers, resolve names with search_path = pg_catalog,
 * pg_temp whatever the database or role settings say.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "analytics/scheduler.h"
#include "core/catalog.h"
#include "core/guc.h"
#include "core/worker_session.h"
#include "kafka/kafka_launcher.h"
#include "kafka/kafka_shmem.h"
#include "ingest/partitions.h"
#include "publish/redis_publish.h"

#define RECHECK_MS			10000
#define MIN_BACKOFF_MS		1000
#define MAX_BACKOFF_MS		60000
#define HEALTHY_RUN_MS		60000	/* a worker that ran this long starts afresh */
#define PREMAKE_MS			(10 * 60 * 1000)
#define PREMAKE_RETRY_MS	60000	/* after a failure, e.g. a lock timeout */

/* An enabled source as read from qoe.sources. */
typedef struct WantedSource
{
	char		name[NAMEDATALEN];
	int			workers;
	int64		version;		/* the row's xmin: changes with every update */
} WantedSource;

/* The launcher's side of a shared memory slot. */
typedef struct Launched
{
	bool		used;
	int64		version;
	BackgroundWorkerHandle *handle; /* NULL while waiting to restart */
	bool		stopping;
	TimestampTz started_at;
	TimestampTz restart_at;
	int			backoff_ms;
} Launched;

static Launched launched[QOE_MAX_WORKERS];

/* the supervisor's */
static QoeChild launcher = {.function = "qoe_launcher_main", .name = "qoe_ext launcher",
.log_obstacles = true, .retry_ms = QOE_SUPERVISE_MS};

void
KafkaLauncherRegister(void)
{
	BackgroundWorker worker = {0};

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	strlcpy(worker.bgw_library_name, "qoe_ext", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "qoe_supervisor_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "qoe_ext supervisor", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "qoe_ext supervisor", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

/* ---- the connection of the launcher and the workers ---- */

/* The launcher hands its own role to its workers in bgw_extra. */
void
qoe_worker_connect(Oid dboid)
{
	Oid			roleid;

	memcpy(&roleid, MyBgworkerEntry->bgw_extra, sizeof(roleid));
	BackgroundWorkerInitializeConnectionByOid(dboid, roleid, 0);
	qoe_worker_secure_session();
}

/* ---- the supervisor ---- */

/* the launcher's life is within the supervisor's: never two launchers */
static void
stop_launcher(int code, Datum arg)
{
	qoe_child_stop(&launcher);
	SchedulerStop();
	PublishStop();
	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	qoe_kafka_shared->supervisor_latch = NULL;
	LWLockRelease(qoe_kafka_shared->lock);
}

/* Did a change to qoe.sources ask for a launcher (the first source after CREATE EXTENSION)? */
static bool
launcher_wanted(void)
{
	bool		wanted;

	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	wanted = qoe_kafka_shared->launcher_wanted;
	qoe_kafka_shared->launcher_wanted = false;
	LWLockRelease(qoe_kafka_shared->lock);
	return wanted;
}

void
qoe_supervisor_main(Datum main_arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("qoe_ext supervisor");
	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	qoe_kafka_shared->supervisor_latch = MyLatch;
	LWLockRelease(qoe_kafka_shared->lock);
	before_shmem_exit(stop_launcher, 0);

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		long		wait_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		wait_ms = qoe_child_look(&launcher, now, launcher_wanted());
		wait_ms = Min(wait_ms, SchedulerSupervise(now));
		wait_ms = Min(wait_ms, PublishSupervise(now));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ---- the launcher ---- */

/* What read_sources finds. */
typedef struct SourceList
{
	WantedSource *wanted;		/* in TopMemoryContext; NULL without qoe_ext */
	int			n;
} SourceList;

static void
read_sources_in_transaction(void *arg)
{
	SourceList *list = (SourceList *) arg;

	if (SPI_execute("SELECT name, workers, xmin::pg_catalog.text::pg_catalog.int8"
					" FROM qoe.sources WHERE enabled ORDER BY name", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading qoe.sources failed");
	list->wanted = MemoryContextAllocZero(TopMemoryContext,
										  sizeof(WantedSource) * (SPI_processed + 1));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		strlcpy(list->wanted[r].name, SPI_getvalue(tup, desc, 1), NAMEDATALEN);
		list->wanted[r].workers = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		list->wanted[r].version = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	}
	list->n = (int) SPI_processed;
}

/*
 * The enabled sources, or none while the extension is not installed. An
 * error is the launcher's end: the postmaster starts it again.
 */
static WantedSource *
read_sources(int *n)
{
	SourceList	list = {NULL, 0};
	ErrorData  *error = qoe_run_own_transaction("reading qoe.sources",
											   read_sources_in_transaction, &list);

	if (error != NULL)
		ReThrowError(error);
	pgstat_report_activity(STATE_IDLE, "waiting for changes to qoe.sources");
	*n = list.n;
	return list.wanted;
}

static void
premake_in_transaction(void *arg)
{
	QoeCatalog	cat;

	qoe_catalog_lookup(&cat);
	(void) qoe_premake_partitions(&cat, qoe_partition_premake_days);
}

/*
 * Create today's partition and the next qoe.partition_premake_days' in one
 * short transaction. A failure (qoe_premake_partitions gives up on a lock
 * it cannot get at once) is logged and retried later, never fatal.
 */
static bool
premake_partitions(void)
{
	ErrorData  *error = qoe_run_own_transaction("premaking partitions",
											   premake_in_transaction, NULL);

	pgstat_report_activity(STATE_IDLE, "waiting for changes to qoe.sources");
	if (error == NULL)
		return true;
	ereport(LOG,
			(errmsg("qoe_ext launcher could not premake partitions, retrying in %d s: %s",
					PREMAKE_RETRY_MS / 1000, error->message)));
	FreeErrorData(error);
	return false;
}

static const WantedSource *
find_wanted(const WantedSource *wanted, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(wanted[i].name, name) == 0)
			return &wanted[i];
	return NULL;
}

static void
set_slot_state(int i, QoeWorkerState state)
{
	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	qoe_kafka_shared->slots[i].state = state;
	if (state == QOE_WS_FREE || state == QOE_WS_RESTARTING)
		qoe_kafka_shared->slots[i].pid = 0;
	LWLockRelease(qoe_kafka_shared->lock);
}

static void
start_worker(int i, TimestampTz now)
{
	BackgroundWorker worker = {0};
	QoeWorkerSlot *slot = &qoe_kafka_shared->slots[i];
	Launched   *l = &launched[i];
	Oid			role = GetSessionUserId();

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "qoe_ext", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "qoe_worker_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "qoe_ext worker %d for source %s",
			 slot->worker_index, slot->source);
	strlcpy(worker.bgw_type, "qoe_ext worker", BGW_MAXLEN);
	worker.bgw_main_arg = Int32GetDatum(i);
	worker.bgw_notify_pid = MyProcPid;
	memcpy(worker.bgw_extra, &role, sizeof(role));		/* see qoe_worker_connect */

	l->started_at = now;
	/* before the worker exists: once started, its own state must not be overwritten */
	set_slot_state(i, QOE_WS_STARTING);
	if (RegisterDynamicBackgroundWorker(&worker, &l->handle))
		return;
	l->handle = NULL;
	l->restart_at = TimestampTzPlusMilliseconds(now, l->backoff_ms);
	l->backoff_ms = Min(l->backoff_ms * 2, MAX_BACKOFF_MS);
	ereport(WARNING,
			(errmsg("qoe_ext could not start a worker for source \"%s\"", slot->source),
			 errhint("Raise max_worker_processes.")));
	qoe_slot_set_error(slot, "no background worker slot free: raise max_worker_processes");
	set_slot_state(i, QOE_WS_RESTARTING);
}

/* Take a free slot for (source, index) and start its worker. */
static void
add_worker(const WantedSource *w, int index, TimestampTz now)
{
	for (int i = 0; i < QOE_MAX_WORKERS; i++)
	{
		QoeWorkerSlot *slot = &qoe_kafka_shared->slots[i];

		if (launched[i].used)
			continue;
		LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
		if (slot->state != QOE_WS_FREE && slot->pid != 0)
		{
			/* still held by a worker of a previous launcher */
			LWLockRelease(qoe_kafka_shared->lock);
			continue;
		}
		memset(slot, 0, sizeof(*slot));
		slot->state = QOE_WS_STARTING;
		slot->dboid = MyDatabaseId;
		strlcpy(slot->source, w->name, NAMEDATALEN);
		slot->worker_index = index;
		slot->generation = qoe_kafka_shared->generation;
		LWLockRelease(qoe_kafka_shared->lock);

		memset(&launched[i], 0, sizeof(Launched));
		launched[i].used = true;
		launched[i].version = w->version;
		launched[i].backoff_ms = MIN_BACKOFF_MS;
		start_worker(i, now);
		return;
	}
	ereport(WARNING,
			(errmsg("qoe_ext runs at most %d Kafka workers; worker %d of source \"%s\" is not started",
					QOE_MAX_WORKERS, index, w->name)));
}

/* Bring the running workers in line with qoe.sources; returns the wait. */
static long
reconcile(void)
{
	int			nwanted;
	WantedSource *wanted = read_sources(&nwanted);
	TimestampTz now = GetCurrentTimestamp();
	long		wait_ms = RECHECK_MS;

	for (int i = 0; i < QOE_MAX_WORKERS; i++)
	{
		Launched   *l = &launched[i];
		QoeWorkerSlot *slot = &qoe_kafka_shared->slots[i];
		const WantedSource *w;
		pid_t		pid;
		bool		running;

		if (!l->used)
			continue;
		w = find_wanted(wanted, nwanted, slot->source);
		running = l->handle != NULL &&
			GetBackgroundWorkerPid(l->handle, &pid) != BGWH_STOPPED;

		if (w == NULL || slot->worker_index >= w->workers || w->version != l->version)
		{
			/* stopped, dropped or changed: stop it; a changed one comes back */
			if (running)
			{
				if (!l->stopping)
				{
					TerminateBackgroundWorker(l->handle);
					l->stopping = true;
					set_slot_state(i, QOE_WS_STOPPING);
				}
				continue;
			}
			if (l->handle != NULL)
				pfree(l->handle);
			l->used = false;
			set_slot_state(i, QOE_WS_FREE);
			continue;
		}
		if (l->handle != NULL && !running)
		{
			/* exited on its own: restart it, waiting longer each time */
			pfree(l->handle);
			l->handle = NULL;
			if (TimestampDifferenceExceeds(l->started_at, now, HEALTHY_RUN_MS))
				l->backoff_ms = MIN_BACKOFF_MS;
			l->restart_at = TimestampTzPlusMilliseconds(now, l->backoff_ms);
			ereport(LOG,
					(errmsg("qoe_ext worker %d of source \"%s\" exited; restarting it in %d ms",
							slot->worker_index, slot->source, l->backoff_ms)));
			l->backoff_ms = Min(l->backoff_ms * 2, MAX_BACKOFF_MS);
			set_slot_state(i, QOE_WS_RESTARTING);
			LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
			slot->restarts++;
			LWLockRelease(qoe_kafka_shared->lock);
		}
		if (l->handle == NULL)
		{
			if (now >= l->restart_at)
				start_worker(i, now);
			else
				wait_ms = Min(wait_ms, TimestampDifferenceMilliseconds(now, l->restart_at));
		}
	}

	/* a changed source's old worker is still stopping: its successor waits */
	for (int s = 0; s < nwanted; s++)
		for (int index = 0; index < wanted[s].workers; index++)
		{
			bool		have = false;

			for (int i = 0; i < QOE_MAX_WORKERS && !have; i++)
				have = launched[i].used &&
					qoe_kafka_shared->slots[i].worker_index == index &&
					strcmp(qoe_kafka_shared->slots[i].source, wanted[s].name) == 0;
			if (!have)
				add_worker(&wanted[s], index, now);
		}
	if (wanted != NULL)
		pfree(wanted);
	return Max(wait_ms, 10);
}

static void
launcher_detach(int code, Datum arg)
{
	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	if (qoe_kafka_shared->launcher_pid == MyProcPid)
	{
		qoe_kafka_shared->launcher_pid = 0;
		qoe_kafka_shared->launcher_dboid = InvalidOid;
		qoe_kafka_shared->launcher_latch = NULL;
	}
	LWLockRelease(qoe_kafka_shared->lock);
}

void
qoe_launcher_main(Datum main_arg)
{
	TimestampTz premake_at = 0;
	int32		premade_day = -1;

	/* die: SIGTERM ends a lock wait at once, and the transaction with it */
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	qoe_worker_connect_as_role("qoe_ext launcher");

	/* a new generation: workers of a previous launcher stop by themselves */
	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	qoe_kafka_shared->generation++;
	qoe_kafka_shared->launcher_pid = MyProcPid;
	qoe_kafka_shared->launcher_dboid = MyDatabaseId;
	qoe_kafka_shared->launcher_latch = MyLatch;
	for (int i = 0; i < QOE_MAX_WORKERS; i++)
		if (qoe_kafka_shared->slots[i].pid == 0)
			qoe_kafka_shared->slots[i].state = QOE_WS_FREE;
	LWLockRelease(qoe_kafka_shared->lock);
	before_shmem_exit(launcher_detach, 0);
	ereport(LOG, (errmsg("qoe_ext launcher started for database \"%s\" as role \"%s\"",
						 qoe_database, qoe_worker_role)));

	for (;;)
	{
		TimestampTz now;
		long		wait_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		wait_ms = reconcile();

		/* every few minutes, and at once when the UTC day changes */
		now = GetCurrentTimestamp();
		if (now >= premake_at || qoe_day_of(now) != premade_day)
		{
			premade_day = qoe_day_of(now);
			premake_at = TimestampTzPlusMilliseconds(now, premake_partitions() ?
													 PREMAKE_MS : PREMAKE_RETRY_MS);
		}
		wait_ms = Min(wait_ms, qoe_scheduler_run(QOE_JOBS_LIVE));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
