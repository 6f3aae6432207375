/*
 * kafka_shmem.c: shared memory for the Kafka launcher and workers (see
 * kafka_shmem.h), requested through the shmem hooks when preloaded.
 */
#include "postgres.h"

#include <time.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "kafka/kafka_shmem.h"

QoeKafkaShared *qoe_kafka_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
kafka_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(QoeKafkaShared)));
	RequestNamedLWLockTranche("qoe_ext", 1);
}

static void
kafka_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	qoe_kafka_shared = ShmemInitStruct("qoe_ext kafka", sizeof(QoeKafkaShared), &found);
	if (!found)
	{
		memset(qoe_kafka_shared, 0, sizeof(QoeKafkaShared));
		qoe_kafka_shared->lock = &(GetNamedLWLockTranche("qoe_ext"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
KafkaShmemInit(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = kafka_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = kafka_shmem_startup;
}

void
qoe_kafka_wake_launcher(void)
{
	if (qoe_kafka_shared == NULL)
		return;
	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	if (qoe_kafka_shared->launcher_pid != 0)
	{
		if (qoe_kafka_shared->launcher_dboid == MyDatabaseId)
			SetLatch(qoe_kafka_shared->launcher_latch);
	}
	else if (qoe_kafka_shared->supervisor_latch != NULL)
	{
		qoe_kafka_shared->launcher_wanted = true;
		SetLatch(qoe_kafka_shared->supervisor_latch);
	}
	LWLockRelease(qoe_kafka_shared->lock);
}

void
qoe_slot_set_error(QoeWorkerSlot *slot, const char *message)
{
	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	strlcpy(slot->last_error, message, QOE_ERROR_LEN);
	slot->last_error_at = GetCurrentTimestamp();
	LWLockRelease(qoe_kafka_shared->lock);
}

/* Also the slot's last error; it stays until the worker restarts. */
void
qoe_slot_set_stalled(QoeWorkerSlot *slot, const char *message)
{
	qoe_slot_set_error(slot, message);
	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	strlcpy(slot->stalled, message, QOE_ERROR_LEN);
	LWLockRelease(qoe_kafka_shared->lock);
}

void
qoe_slot_count_batch(QoeWorkerSlot *slot, int64 events, int64 messages, int64 bytes,
					 int64 dead_letters)
{
	int64		now = (int64) time(NULL);
	QoeRateBucket *bucket = &slot->rate[now % QOE_RATE_SECONDS];

	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	slot->events += events;
	slot->messages += messages;
	slot->bytes += bytes;
	slot->dead_letters += dead_letters;
	if (bucket->second != now)
	{
		bucket->second = now;
		bucket->events = 0;
	}
	bucket->events += events;
	if (events + dead_letters > 0)
		slot->last_stored_at = GetCurrentTimestamp();
	LWLockRelease(qoe_kafka_shared->lock);
}

/* A batch the offset fence refused (qoe.source_workers().fenced_batches). */
void
qoe_slot_count_fenced(QoeWorkerSlot *slot)
{
	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	slot->fenced_batches++;
	LWLockRelease(qoe_kafka_shared->lock);
}

/* Events stored in the last full minute; the caller holds the lock. */
int64
qoe_slot_events_last_minute(const QoeWorkerSlot *slot)
{
	int64		now = (int64) time(NULL);
	int64		sum = 0;

	for (int i = 0; i < QOE_RATE_SECONDS; i++)
		if (slot->rate[i].second > now - QOE_RATE_SECONDS && slot->rate[i].second <= now)
			sum += slot->rate[i].events;
	return sum;
}

const char *
qoe_worker_state_name(QoeWorkerState state)
{
	switch (state)
	{
		case QOE_WS_FREE:
			return "free";
		case QOE_WS_STARTING:
			return "starting";
		case QOE_WS_RUNNING:
			return "running";
		case QOE_WS_RETRYING:
			return "retrying";
		case QOE_WS_STOPPING:
			return "stopping";
		case QOE_WS_RESTARTING:
			return "restarting";
	}
	return "unknown";
}
