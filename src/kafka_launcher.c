/*
 * kafka_launcher.c: the background worker that keeps one Kafka worker
 * running per enabled source and worker index.
 *
 * Registered at server start when qoe_ext is preloaded; connects to the
 * database named by qoe.database. Each time its latch is set (a change to
 * qoe.sources, a worker starting or exiting) and every few seconds, it reads
 * qoe.sources and reconciles: starts missing workers, stops those whose
 * source was stopped, dropped or changed, and restarts a worker that exited
 * on its own after a backoff doubling from 1 s to 60 s. It waits quietly
 * while the extension is not installed there.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "kafka_launcher.h"
#include "kafka_shmem.h"

#define RECHECK_MS			10000
#define MIN_BACKOFF_MS		1000
#define MAX_BACKOFF_MS		60000
#define HEALTHY_RUN_MS		60000	/* a worker that ran this long starts afresh */

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

void
KafkaLauncherRegister(void)
{
	BackgroundWorker worker = {0};

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	strlcpy(worker.bgw_library_name, "qoe_ext", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "qoe_launcher_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "qoe_ext launcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "qoe_ext launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

/* The enabled sources, or none while the extension is not installed. */
static WantedSource *
read_sources(int *n)
{
	WantedSource *wanted = NULL;

	*n = 0;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (OidIsValid(get_extension_oid("qoe_ext", true)))
	{
		pgstat_report_activity(STATE_RUNNING, "reading qoe.sources");
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute("SELECT name, workers, xmin::text::bigint FROM qoe.sources"
						" WHERE enabled ORDER BY name", true, 0) != SPI_OK_SELECT)
			elog(ERROR, "reading qoe.sources failed");
		wanted = MemoryContextAllocZero(TopMemoryContext,
										sizeof(WantedSource) * (SPI_processed + 1));
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;

			strlcpy(wanted[r].name, SPI_getvalue(tup, desc, 1), NAMEDATALEN);
			wanted[r].workers = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
			wanted[r].version = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		}
		*n = (int) SPI_processed;
		SPI_finish();
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, "waiting for changes to qoe.sources");
	return wanted;
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

	l->started_at = now;
	if (RegisterDynamicBackgroundWorker(&worker, &l->handle))
	{
		set_slot_state(i, QOE_WS_STARTING);
		return;
	}
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
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(qoe_database, NULL, 0);
	pgstat_report_appname("qoe_ext launcher");

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
	ereport(LOG, (errmsg("qoe_ext launcher started for database \"%s\"", qoe_database)));

	for (;;)
	{
		long		wait_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (ShutdownRequestPending)
			break;
		wait_ms = reconcile();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	/* exit 1: a launcher terminated by pg_terminate_backend is restarted */
	proc_exit(1);
}
