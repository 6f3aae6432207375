/*
 * commit_wake.c: the wake-up chain from an ingest commit to Redis
 * (doc/redis.md, freshness): ingest commit -> publisher, with the titles
 * whose rollups it changed (qoe_metrics, read in real time), or for the
 * viewers, whose changes go through publish/viewers_ledger.c. Also
 * ingest commit with a stall -> alert evaluator (evaluate_alerts: the
 * stall-loop rule, doc/alerts.md); evaluation commit with alert changes -> publisher
 * (the qoe_alerts channel). See commit_wake.h.
 *
 * An ingest backend registers one transaction callback, once; at commit it
 * copies its titles (sorted, once each) to shared memory under a lock held
 * for that copy, and sets a bit and a latch: it never waits for the woken
 * processes. The latch is set only when the bit goes from clear to set, so
 * a stream of commits costs one SetLatch per run of the woken work.
 */
#include "postgres.h"

#include <sys/resource.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/commit_wake.h"
#include "core/compare.h"

/* Titles handed to the publisher and not yet taken (titles_lock). */
typedef struct SharedTitles
{
	bool		all;			/* more than QOE_WAKE_MAX_TITLES: read them all */
	int			n;
	int64		ids[QOE_WAKE_MAX_TITLES];	/* may repeat a title */
} SharedTitles;

typedef struct QoeWakeShared
{
	slock_t		mutex;			/* guards latch */
	Latch	   *latch[QOE_WAKE_NTARGETS];	/* NULL: nobody to wake */
	pg_atomic_uint32 pending[QOE_WAKE_NTARGETS];
	LWLock	   *titles_lock;
	SharedTitles titles[QOE_TITLE_NLISTS];
} QoeWakeShared;

/* A transaction's titles of one list (qoe_wake_title_changed's). */
typedef struct TitlesAtCommit
{
	int64	   *ids;			/* in TopMemoryContext, QOE_WAKE_MAX_TITLES */
	int			n;
	bool		all;
} TitlesAtCommit;

/* The bit each list's titles wake the publisher with. */
static const uint32 title_list_bit[QOE_TITLE_NLISTS] = {QOE_WAKE_METRICS};

static QoeWakeShared *wake = NULL;	/* NULL unless preloaded */
static bool callback_registered = false;
static uint32 bits_at_commit[QOE_WAKE_NTARGETS];	/* qoe_wake_at_commit's */
static TitlesAtCommit titles_at_commit[QOE_TITLE_NLISTS];

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
wake_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(QoeWakeShared)));
	RequestNamedLWLockTranche("qoe_ext titles", 1);
}

static void
wake_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	wake = ShmemInitStruct("qoe_ext commit wake", sizeof(QoeWakeShared), &found);
	if (!found)
	{
		SpinLockInit(&wake->mutex);
		for (int t = 0; t < QOE_WAKE_NTARGETS; t++)
		{
			wake->latch[t] = NULL;
			pg_atomic_init_u32(&wake->pending[t], 0);
		}
		wake->titles_lock = &(GetNamedLWLockTranche("qoe_ext titles"))->lock;
		memset(wake->titles, 0, sizeof(wake->titles));
	}
	LWLockRelease(AddinShmemInitLock);
}

void
CommitWakeShmemInit(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = wake_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = wake_shmem_startup;
}

int64
qoe_wake_cpu_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (int64) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
		ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

TimestampTz
qoe_wake_earliest(TimestampTz started, TimestampTz ended, int64 cpu_us, int spacing_ms,
				  int rest_factor)
{
	/* TimestampTz counts microseconds */
	return Max(TimestampTzPlusMilliseconds(started, Max(QOE_WAKE_SPACING_MS, spacing_ms)),
			   ended + Max(QOE_WAKE_REST_FACTOR, rest_factor) * cpu_us);
}

static Latch *
latch_of(QoeWakeTarget target)
{
	Latch	   *latch;

	SpinLockAcquire(&wake->mutex);
	latch = wake->latch[target];
	SpinLockRelease(&wake->mutex);
	return latch;
}

void
qoe_wake(QoeWakeTarget target, uint32 why)
{
	Latch	   *latch;

	if (wake == NULL)
		return;
	if ((pg_atomic_fetch_or_u32(&wake->pending[target], why) & why) == why)
		return;					/* already pending: the latch was set then */
	/* a PGPROC's latch: valid shared memory even if its process just left */
	if ((latch = latch_of(target)) != NULL)
		SetLatch(latch);
}

/*
 * Hand this transaction's titles to the publisher, before its wake-up: the
 * round that takes the wake-up takes the titles with it, or a later one.
 */
static void
share_titles(void)
{
	LWLockAcquire(wake->titles_lock, LW_EXCLUSIVE);
	for (int l = 0; l < QOE_TITLE_NLISTS; l++)
	{
		TitlesAtCommit *mine = &titles_at_commit[l];
		SharedTitles *shared = &wake->titles[l];

		if (mine->n == 0 && !mine->all)
			continue;
		/* commits repeat popular titles: drop the repeats before giving up */
		if (!shared->all && shared->n + mine->n > QOE_WAKE_MAX_TITLES)
			shared->n = (int) qoe_sort_unique_int64(shared->ids, shared->n);
		if (mine->all || shared->n + mine->n > QOE_WAKE_MAX_TITLES)
			shared->all = true;
		if (!shared->all)
		{
			memcpy(shared->ids + shared->n, mine->ids, sizeof(int64) * mine->n);
			shared->n += mine->n;
		}
	}
	LWLockRelease(wake->titles_lock);
}

static void
forget_at_commit(void)
{
	for (int l = 0; l < QOE_TITLE_NLISTS; l++)
	{
		titles_at_commit[l].n = 0;
		titles_at_commit[l].all = false;
	}
	memset(bits_at_commit, 0, sizeof(bits_at_commit));
}

/* After the commit is visible to every new snapshot (CommitTransaction). */
static void
wake_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			/* titles serve the publisher only */
			if (latch_of(QOE_WAKE_PUBLISHER) != NULL)
			{
				uint32		why = 0;

				for (int l = 0; l < QOE_TITLE_NLISTS; l++)
				{
					/* once each: a batch repeats a popular title */
					if (!titles_at_commit[l].all && titles_at_commit[l].n > 0)
						titles_at_commit[l].n = (int) qoe_sort_unique_int64(titles_at_commit[l].ids,
																			 titles_at_commit[l].n);
					if (titles_at_commit[l].n > 0 || titles_at_commit[l].all)
						why |= title_list_bit[l];
				}
				if (why != 0)
				{
					share_titles();
					qoe_wake(QOE_WAKE_PUBLISHER, why);
				}
			}
			for (int t = 0; t < QOE_WAKE_NTARGETS; t++)
				if (bits_at_commit[t] != 0)
					qoe_wake((QoeWakeTarget) t, bits_at_commit[t]);
			forget_at_commit();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:	/* COMMIT PREPARED: the fallback interval */
			forget_at_commit();
			break;
		default:
			break;
	}
}

static void
register_callback(void)
{
	if (!callback_registered)
	{
		RegisterXactCallback(wake_xact_callback, NULL);
		callback_registered = true;
	}
}

void
qoe_wake_at_commit(QoeWakeTarget target, uint32 why)
{
	if (wake == NULL)
		return;
	register_callback();
	bits_at_commit[target] |= why;
}

void
qoe_wake_on_commit(int64 stalls)
{
	if (wake == NULL || stalls <= 0)
		return;
	register_callback();
	bits_at_commit[QOE_WAKE_EVALUATOR] |= QOE_WAKE_STALLED;
}

void
qoe_wake_title_changed(QoeTitleList list, int64 content_id)
{
	TitlesAtCommit *mine = &titles_at_commit[list];

	if (wake == NULL || mine->all)
		return;
	register_callback();
	if (mine->ids == NULL)
		mine->ids = MemoryContextAlloc(TopMemoryContext, sizeof(int64) * QOE_WAKE_MAX_TITLES);
	if (mine->n == QOE_WAKE_MAX_TITLES)
	{
		/*
		 * Make room by dropping the repeats; if that leaves little room,
		 * more sorts would follow: a transaction this large is a bulk load.
		 */
		mine->n = (int) qoe_sort_unique_int64(mine->ids, mine->n);
		if (mine->n > QOE_WAKE_MAX_TITLES * 3 / 4)
		{
			mine->all = true;
			return;
		}
	}
	mine->ids[mine->n++] = content_id;
}

int
qoe_wake_take_titles(QoeTitleList list, int64 *titles)
{
	SharedTitles *shared;
	int			n;

	if (wake == NULL)
		return 0;
	shared = &wake->titles[list];
	LWLockAcquire(wake->titles_lock, LW_EXCLUSIVE);
	n = shared->all ? -1 : shared->n;
	if (n > 0)
		memcpy(titles, shared->ids, sizeof(int64) * n);
	shared->all = false;
	shared->n = 0;
	LWLockRelease(wake->titles_lock);
	return n;
}

static void
wake_detach(int code, Datum arg)
{
	QoeWakeTarget target = (QoeWakeTarget) DatumGetInt32(arg);

	SpinLockAcquire(&wake->mutex);
	if (wake->latch[target] == MyLatch)
		wake->latch[target] = NULL;
	SpinLockRelease(&wake->mutex);
}

void
qoe_wake_attach(QoeWakeTarget target)
{
	if (wake == NULL)
		return;
	SpinLockAcquire(&wake->mutex);
	wake->latch[target] = MyLatch;
	SpinLockRelease(&wake->mutex);
	on_shmem_exit(wake_detach, Int32GetDatum((int32) target));
}

uint32
qoe_wake_pending(QoeWakeTarget target)
{
	return wake == NULL ? 0 : pg_atomic_read_u32(&wake->pending[target]);
}

uint32
qoe_wake_take(QoeWakeTarget target, uint32 bits)
{
	if (wake == NULL)
		return 0;
	return pg_atomic_fetch_and_u32(&wake->pending[target], ~bits) & bits;
}
