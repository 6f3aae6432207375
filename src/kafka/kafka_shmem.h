/*
 * kafka_shmem.h: the Kafka launcher's and workers' shared state.
 *
 * Exists only when qoe_ext is preloaded. The launcher owns the slots (it
 * fills one before starting a worker and frees it when the worker's source
 * goes away); a worker updates its own slot once per batch; the SQL status
 * functions read them. Everything is under one LWLock, taken for a few
 * microseconds at a time.
 */
#ifndef QOE_KAFKA_SHMEM_H
#define QOE_KAFKA_SHMEM_H

#include "datatype/timestamp.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

#define QOE_MAX_WORKERS			64	/* worker slots, over all sources */
#define QOE_SLOT_PARTITIONS		256 /* partitions a slot reports lag for */
#define QOE_RATE_SECONDS		60	/* the events/s window */
#define QOE_ERROR_LEN			256

typedef enum QoeWorkerState
{
	QOE_WS_FREE = 0,
	QOE_WS_STARTING,			/* registered, not yet consuming */
	QOE_WS_RUNNING,				/* consuming */
	QOE_WS_RETRYING,			/* a batch failed; backing off before a retry */
	QOE_WS_STOPPING,			/* asked to stop; finishing its batch */
	QOE_WS_RESTARTING			/* exited unexpectedly; launcher backs off */
} QoeWorkerState;

typedef struct QoePartitionLag
{
	int32		partition;
	int64		high_watermark; /* -1 until the broker told us */
	bool		stalled;		/* stopped: its stored offset is out of range */
} QoePartitionLag;

typedef struct QoeRateBucket
{
	int64		second;			/* epoch second this bucket counts */
	int64		events;
} QoeRateBucket;

typedef struct QoeWorkerSlot
{
	QoeWorkerState state;
	Oid			dboid;
	char		source[NAMEDATALEN];
	int			worker_index;
	uint32		generation;		/* launcher incarnation that filled it */
	pid_t		pid;
	int64		events;
	int64		messages;
	int64		bytes;
	int64		dead_letters;
	int64		fenced_batches; /* refused: another worker stored their partitions */
	int64		restarts;		/* by the launcher, after the worker exited */
	TimestampTz last_stored_at; /* last batch that stored something */
	char		last_error[QOE_ERROR_LEN];
	TimestampTz last_error_at;
	char		stalled[QOE_ERROR_LEN]; /* why a partition stopped; "" if none */
	QoeRateBucket rate[QOE_RATE_SECONDS];
	int			npartitions;
	QoePartitionLag partitions[QOE_SLOT_PARTITIONS];
} QoeWorkerSlot;

typedef struct QoeKafkaShared
{
	LWLock	   *lock;
	pid_t		launcher_pid;
	Oid			launcher_dboid; /* InvalidOid until connected */
	Latch	   *launcher_latch;
	Latch	   *supervisor_latch;	/* NULL until the supervisor runs */
	bool		launcher_wanted;	/* a source changed while no launcher ran */
	uint32		generation;		/* bumped by each launcher start */
	QoeWorkerSlot slots[QOE_MAX_WORKERS];
} QoeKafkaShared;

/* NULL unless the library was preloaded. */
extern QoeKafkaShared *qoe_kafka_shared;

extern void KafkaShmemInit(void);
/*
 * Set the launcher's latch, if a launcher serves this database; with no
 * launcher, the supervisor's, which then tries to start one at once.
 */
extern void qoe_kafka_wake_launcher(void);
extern void qoe_slot_set_error(QoeWorkerSlot *slot, const char *message);
extern void qoe_slot_set_stalled(QoeWorkerSlot *slot, const char *message);
extern void qoe_slot_count_batch(QoeWorkerSlot *slot, int64 events, int64 messages,
								 int64 bytes, int64 dead_letters);
extern void qoe_slot_count_fenced(QoeWorkerSlot *slot);
extern int64 qoe_slot_events_last_minute(const QoeWorkerSlot *slot);
extern const char *qoe_worker_state_name(QoeWorkerState state);

#endif
