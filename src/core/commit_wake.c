/*
 * commit_wake.c: the wake-up chain from an ingest commit to Redis
 * (doc/redis_design.md): ingest commit -> publisher, whose viewers and
 * qoe_metrics changes go through publish/viewers_ledger.c's ring. Also
 * ingest commit with a stall -> alert evaluator (evaluate_alerts: the
 * stall-loop rule, doc/alerts.md); evaluation commit with alert changes -> publisher
 * (the qoe_alerts channel). See commit_wake.h.
 *
 * A backend registers one transaction callback, once; at commit it sets a
 * bit and a latch: it never waits for the woken processes. The latch is set
 * only when the bit goes from clear to set, so a stream of commits costs one
 * SetLatch per run of the woken work.
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
#include "utils/timestamp.h"

#include "core/commit_wake.h"

typedef struct QoeWakeShared
{
	slock_t		mutex;			/* guards latch */
	Latch	   *latch[QOE_WAKE_NTARGETS];	/* NULL: nobody to wake */
	pg_atomic_uint32 pending[QOE_WAKE_NTARGETS];
} QoeWakeShared;

static QoeWakeShared *wake = NULL;	/* NULL unless preloaded */
static bool callback_registered = false;
static uint32 bits_at_commit[QOE_WAKE_NTARGETS];	/* qoe_wake_at_commit's */

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
wake_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(QoeWakeShared)));
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

static void
forget_at_commit(void)
{
	memset(bits_at_commit, 0, sizeof(bits_at_commit));
}

/* After the commit is visible to every new snapshot (CommitTransaction). */
static void
wake_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
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
