/*
 * kafka_worker.c: one background worker consuming one Kafka source.
 *
 * The launcher (kafka_launcher.c) starts one per enabled source and worker
 * index; the workers of a source share its partitions through the consumer
 * group. A worker polls messages until the batch is full (messages or bytes)
 * or its flush interval has passed, then stores it in ONE transaction: the
 * messages' events through the same decoder and batch writer as qoe.ingest,
 * rejections in qoe.dead_letters with their Kafka coordinates, and the next
 * offset of every partition of the batch in qoe.source_offsets. Only after
 * the commit are the offsets committed to Kafka, for lag tools.
 *
 * Exactly once follows from the database being the source of truth: on
 * every partition assignment the worker starts from the offsets stored in
 * qoe.source_offsets, and the batch's offset update only succeeds if the
 * stored offsets are still those the batch started from (a fence against a
 * worker that lost the partition in a rebalance it has not seen yet). If
 * not, the batch is rolled back and the worker re-reads the offsets.
 *
 * librdkafka callbacks run inside librdkafka calls (the log callback on
 * librdkafka's own threads): they never call PostgreSQL, they only record
 * into the plain C state below, which the main loop acts on.
 */
#include "postgres.h"

#include <pthread.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "dead_letters.h"
#include "event_decode.h"
#include "event_writer.h"
#include "kafka_launcher.h"
#include "kafka_shmem.h"
#include "kafka_sources.h"
#include "kafka_worker.h"

#define MAX_PARTITIONS			4096	/* per worker */
#define IDLE_POLL_MS			100 /* SIGTERM is noticed within this */
#define FILL_POLL_MS			10	/* poll slice while a batch fills */
#define MAX_DEADLOCK_RETRIES	5
#define MAX_RETRY_BACKOFF_MS	60000
#define CLOSE_TIMEOUT_MS		3000
#define WATERMARK_INTERVAL_MS	1000
#define LOG_REPEAT_MS			60000

typedef struct SourceConfig
{
	char	   *name;
	char	   *brokers;
	char	   *topic;
	char	   *group_id;
	bool		start_latest;
	int			batch_size;
	int			batch_bytes;
	int			flush_interval_ms;
	int			nproperties;
	char	  **keys;
	char	  **values;
} SourceConfig;

/* A partition this worker is assigned. */
typedef struct PartitionState
{
	int32		partition;
	int64		stored_offset;	/* next_offset in qoe.source_offsets, -1: no row */
	int64		next_offset;	/* messages below this are stored already */
} PartitionState;

/* Written by the librdkafka callbacks, read by the main loop. */
static struct
{
	pthread_mutex_t mutex;		/* the log callback runs on other threads */
	char		error[QOE_ERROR_LEN];
	bool		error_pending;
	char		log[QOE_ERROR_LEN];
	bool		log_pending;
	/* rebalance: called on this thread, from inside consume calls */
	bool		rebalanced;
	rd_kafka_topic_partition_list_t *to_assign;
	bool		cooperative;
	PartitionState partitions[MAX_PARTITIONS];
	int			npartitions;
}			cb = {.mutex = PTHREAD_MUTEX_INITIALIZER};

static SourceConfig cfg;
static QoeWorkerSlot *slot;
static uint32 my_generation;
static rd_kafka_t *consumer;
static rd_kafka_queue_t *consumer_queue;
static SPIPlanPtr offsets_plan;
static MemoryContext worker_cxt;
static MemoryContext batch_cxt;
static int	failures_in_a_row;

/* ---- librdkafka callbacks: plain C only ---- */

static void
record_text(char *buf, bool *pending, const char *prefix, const char *text)
{
	pthread_mutex_lock(&cb.mutex);
	snprintf(buf, QOE_ERROR_LEN, "%s%s", prefix, text);
	*pending = true;
	pthread_mutex_unlock(&cb.mutex);
}

static void
error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	char		prefix[64];

	snprintf(prefix, sizeof(prefix), "kafka %s: ", rd_kafka_err2name(err));
	record_text(cb.error, &cb.error_pending, prefix, reason);
}

static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	if (level <= 4)				/* syslog warning and worse */
		record_text(cb.log, &cb.log_pending, "kafka: ", buf);
}

static void
forget_partition(int32 partition)
{
	for (int i = 0; i < cb.npartitions; i++)
		if (cb.partitions[i].partition == partition)
		{
			cb.partitions[i] = cb.partitions[--cb.npartitions];
			return;
		}
}

static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
	cb.rebalanced = true;
	cb.cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
	{
		/* assigned by the main loop, once it has read the stored offsets */
		if (cb.to_assign == NULL)
			cb.to_assign = rd_kafka_topic_partition_list_copy(partitions);
		else
			for (int i = 0; i < partitions->cnt; i++)
				rd_kafka_topic_partition_list_add(cb.to_assign, partitions->elems[i].topic,
												  partitions->elems[i].partition);
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && cb.cooperative)
	{
		for (int i = 0; i < partitions->cnt; i++)
		{
			forget_partition(partitions->elems[i].partition);
			if (cb.to_assign != NULL)
				rd_kafka_topic_partition_list_del(cb.to_assign, partitions->elems[i].topic,
												  partitions->elems[i].partition);
		}
		rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, partitions));
		return;
	}
	/* eager revocation, or a rebalance error: drop the whole assignment */
	if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
		record_text(cb.error, &cb.error_pending, "kafka rebalance: ", rd_kafka_err2str(err));
	cb.npartitions = 0;
	if (cb.to_assign != NULL)
	{
		rd_kafka_topic_partition_list_destroy(cb.to_assign);
		cb.to_assign = NULL;
	}
	rd_kafka_assign(rk, NULL);
}

/* ---- helpers ---- */

static PartitionState *
find_partition(int32 partition)
{
	for (int i = 0; i < cb.npartitions; i++)
		if (cb.partitions[i].partition == partition)
			return &cb.partitions[i];
	return NULL;
}

static void
report_activity(BackendState state, const char *what)
{
	char		buf[NAMEDATALEN + 64];

	snprintf(buf, sizeof(buf), "qoe_ext source %s: %s", cfg.name, what);
	pgstat_report_activity(state, buf);
}

static void
set_state(QoeWorkerState state)
{
	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	slot->state = state;
	LWLockRelease(qoe_kafka_shared->lock);
}

static bool
must_stop(void)
{
	return ShutdownRequestPending || qoe_kafka_shared->generation != my_generation;
}

/* Copy what the callbacks recorded into the log and shared memory. */
static void
drain_callback_texts(void)
{
	static char last_logged[QOE_ERROR_LEN];
	static TimestampTz last_logged_at;
	char		error[QOE_ERROR_LEN];
	char		log[QOE_ERROR_LEN];
	bool		has_error,
				has_log;

	pthread_mutex_lock(&cb.mutex);
	has_error = cb.error_pending;
	has_log = cb.log_pending;
	memcpy(error, cb.error, sizeof(error));
	memcpy(log, cb.log, sizeof(log));
	cb.error_pending = cb.log_pending = false;
	pthread_mutex_unlock(&cb.mutex);

	if (has_error)
		qoe_slot_set_error(slot, error);
	/* librdkafka repeats itself while a broker is down: log changes only */
	for (int i = 0; i < 2; i++)
	{
		const char *text = i == 0 ? error : log;
		TimestampTz now = GetCurrentTimestamp();

		if (!(i == 0 ? has_error : has_log))
			continue;
		if (strcmp(text, last_logged) == 0 &&
			!TimestampDifferenceExceeds(last_logged_at, now, LOG_REPEAT_MS))
			continue;
		ereport(LOG, (errmsg("qoe_ext source \"%s\": %s", cfg.name, text)));
		strlcpy(last_logged, text, sizeof(last_logged));
		last_logged_at = now;
	}
}

/* Wait on the latch (SIGTERM and SIGHUP set it); false if told to stop. */
static bool
backoff_wait(long ms)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	while (!must_stop())
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);

		if (left <= 0)
			return true;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return false;
}

/* ---- configuration and offsets, read in short transactions ---- */

/* The context current before begin_xact, current again after the commit. */
static MemoryContext caller_cxt;

static void
begin_xact(const char *what)
{
	caller_cxt = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	report_activity(STATE_RUNNING, what);
}

static void
commit_xact(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(caller_cxt);
	report_activity(STATE_IDLE, "waiting for messages");
}

static char *
spi_text(int row, int col)
{
	char	   *s = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return MemoryContextStrdup(worker_cxt, s != NULL ? s : "");
}

/* False if the source is gone or disabled. */
static bool
load_config(const char *name)
{
	Datum		arg = CStringGetTextDatum(name);
	Oid			argtype = TEXTOID;
	bool		found;

	begin_xact("reading its configuration");
	if (SPI_execute_with_args("SELECT brokers, topic, group_id, start_position, batch_size,"
							  " batch_bytes, flush_interval_ms"
							  " FROM qoe.sources WHERE name = $1 AND enabled",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading qoe.sources failed");
	found = SPI_processed == 1;
	if (found)
	{
		cfg.name = MemoryContextStrdup(worker_cxt, name);
		cfg.brokers = spi_text(0, 1);
		cfg.topic = spi_text(0, 2);
		cfg.group_id = spi_text(0, 3);
		cfg.start_latest = strcmp(spi_text(0, 4), "latest") == 0;
		cfg.batch_size = pg_strtoint32(spi_text(0, 5));
		cfg.batch_bytes = pg_strtoint32(spi_text(0, 6));
		cfg.flush_interval_ms = pg_strtoint32(spi_text(0, 7));
		if (SPI_execute_with_args("SELECT p.key, p.value FROM qoe.sources s,"
								  " jsonb_each_text(s.properties) p WHERE s.name = $1",
								  1, &argtype, &arg, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "reading qoe.sources failed");
		cfg.nproperties = (int) SPI_processed;
		cfg.keys = MemoryContextAlloc(worker_cxt, sizeof(char *) * (cfg.nproperties + 1));
		cfg.values = MemoryContextAlloc(worker_cxt, sizeof(char *) * (cfg.nproperties + 1));
		for (int i = 0; i < cfg.nproperties; i++)
		{
			cfg.keys[i] = spi_text(i, 1);
			cfg.values[i] = spi_text(i, 2);
		}
	}
	commit_xact();
	return found;
}

/*
 * Read the stored offsets of this source into the partition table; a
 * partition with no stored row starts at start_position.
 */
static void
load_offsets(PartitionState *parts, int n)
{
	Datum		args[2] = {CStringGetTextDatum(cfg.name), CStringGetTextDatum(cfg.topic)};
	Oid			argtypes[2] = {TEXTOID, TEXTOID};

	for (int i = 0; i < n; i++)
		parts[i].stored_offset = parts[i].next_offset = -1;
	begin_xact("reading its stored offsets");
	if (SPI_execute_with_args("SELECT partition, next_offset FROM qoe.source_offsets"
							  " WHERE source = $1 AND topic = $2",
							  2, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading qoe.source_offsets failed");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int32		partition = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r],
															SPI_tuptable->tupdesc, 1, &isnull));
		int64		next = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r],
													   SPI_tuptable->tupdesc, 2, &isnull));

		for (int i = 0; i < n; i++)
			if (parts[i].partition == partition)
				parts[i].stored_offset = parts[i].next_offset = next;
	}
	commit_xact();
}

/* The librdkafka start offset of a partition. */
static int64
start_offset(const PartitionState *p)
{
	if (p->stored_offset >= 0)
		return p->stored_offset;
	return cfg.start_latest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
}

static void
publish_partitions(void)
{
	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	slot->npartitions = Min(cb.npartitions, QOE_SLOT_PARTITIONS);
	for (int i = 0; i < slot->npartitions; i++)
	{
		int64		low,
					high;

		slot->partitions[i].partition = cb.partitions[i].partition;
		if (rd_kafka_get_watermark_offsets(consumer, cfg.topic, cb.partitions[i].partition,
										   &low, &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
			high < 0)
			high = -1;
		slot->partitions[i].high_watermark = high;
	}
	LWLockRelease(qoe_kafka_shared->lock);
}

/* Take the partitions the group gave us, starting at the stored offsets. */
static void
apply_assignment(void)
{
	rd_kafka_topic_partition_list_t *list = cb.to_assign;
	PartitionState *added;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	rd_kafka_error_t *error = NULL;

	cb.to_assign = NULL;
	if (!cb.cooperative)
		cb.npartitions = 0;
	if (cb.npartitions + list->cnt > MAX_PARTITIONS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a qoe_ext worker can consume at most %d partitions", MAX_PARTITIONS),
				 errhint("Raise the source's workers.")));
	added = &cb.partitions[cb.npartitions];
	for (int i = 0; i < list->cnt; i++)
		added[i].partition = list->elems[i].partition;
	load_offsets(added, list->cnt);
	for (int i = 0; i < list->cnt; i++)
		list->elems[i].offset = start_offset(&added[i]);
	cb.npartitions += list->cnt;

	if (cb.cooperative)
		error = rd_kafka_incremental_assign(consumer, list);
	else
		err = rd_kafka_assign(consumer, list);
	if (error != NULL)
	{
		qoe_slot_set_error(slot, rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	}
	else if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		qoe_slot_set_error(slot, rd_kafka_err2str(err));
	ereport(DEBUG1, (errmsg("qoe_ext source \"%s\": assigned %d partitions",
							cfg.name, list->cnt)));
	rd_kafka_topic_partition_list_destroy(list);
	publish_partitions();
}

/* After a failed or fenced batch: back to the offsets the database holds. */
static void
reseek_to_stored_offsets(void)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_error_t *error;

	if (cb.npartitions == 0)
		return;
	load_offsets(cb.partitions, cb.npartitions);
	list = rd_kafka_topic_partition_list_new(cb.npartitions);
	for (int i = 0; i < cb.npartitions; i++)
		rd_kafka_topic_partition_list_add(list, cfg.topic, cb.partitions[i].partition)->offset =
			start_offset(&cb.partitions[i]);
	error = rd_kafka_seek_partitions(consumer, list, 5000);
	if (error != NULL)
	{
		qoe_slot_set_error(slot, rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	}
	rd_kafka_topic_partition_list_destroy(list);
}

/* ---- storing a batch ---- */

typedef struct BatchPartition
{
	int32		partition;
	int64		expected;		/* stored_offset when the batch started */
	int64		next;			/* last offset in the batch + 1 */
} BatchPartition;

static void
prepare_offsets_plan(void)
{
	Oid			argtypes[5] = {TEXTOID, TEXTOID, INT4ARRAYOID, INT8ARRAYOID, INT8ARRAYOID};

	/*
	 * The UPDATE only matches rows still at the offset this batch started
	 * from; row locks make a concurrent writer wait and then re-check it.
	 * A partition's first batch inserts its row, unless another worker did;
	 * a row left from the source's previous topic is overwritten.
	 */
	offsets_plan = SPI_prepare(
							   "WITH b AS (SELECT * FROM unnest($3, $4, $5) AS b(partition, expected, next_offset)),"
							   " u AS (UPDATE qoe.source_offsets o SET next_offset = b.next_offset, updated_at = now()"
							   "       FROM b WHERE o.source = $1 AND o.partition = b.partition"
							   "        AND o.topic = $2 AND o.next_offset = b.expected RETURNING 1),"
							   " i AS (INSERT INTO qoe.source_offsets AS o (source, topic, partition, next_offset)"
							   "       SELECT $1, $2, b.partition, b.next_offset FROM b WHERE b.expected < 0"
							   "       ON CONFLICT (source, partition) DO UPDATE"
							   "       SET topic = excluded.topic, next_offset = excluded.next_offset, updated_at = now()"
							   "       WHERE o.topic <> excluded.topic RETURNING 1)"
							   " SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM i)",
							   5, argtypes);
	if (offsets_plan == NULL)
		elog(ERROR, "preparing the offsets update failed: %s",
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(offsets_plan);
}

/* True if every partition's stored offset moved as the batch expected. */
static bool
store_offsets(const BatchPartition *bp, int n)
{
	Datum	   *partitions = palloc(sizeof(Datum) * n);
	Datum	   *expected = palloc(sizeof(Datum) * n);
	Datum	   *next = palloc(sizeof(Datum) * n);
	Datum		args[5];
	bool		isnull;

	if (offsets_plan == NULL)
		prepare_offsets_plan();
	for (int i = 0; i < n; i++)
	{
		partitions[i] = Int32GetDatum(bp[i].partition);
		expected[i] = Int64GetDatum(bp[i].expected);
		next[i] = Int64GetDatum(bp[i].next);
	}
	args[0] = CStringGetTextDatum(cfg.name);
	args[1] = CStringGetTextDatum(cfg.topic);
	args[2] = PointerGetDatum(construct_array(partitions, n, INT4OID, 4, true, TYPALIGN_INT));
	args[3] = PointerGetDatum(construct_array(expected, n, INT8OID, 8, FLOAT8PASSBYVAL,
											  TYPALIGN_DOUBLE));
	args[4] = PointerGetDatum(construct_array(next, n, INT8OID, 8, FLOAT8PASSBYVAL,
											  TYPALIGN_DOUBLE));
	if (SPI_execute_plan(offsets_plan, args, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "updating qoe.source_offsets failed");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
									   &isnull)) == n;
}

typedef enum BatchOutcome
{
	BATCH_STORED,
	BATCH_FENCED				/* another worker stored these partitions */
} BatchOutcome;

typedef struct BatchCounts
{
	int64		events;
	int64		bytes;
	int64		dead_letters;
} BatchCounts;

static BatchOutcome
store_batch_once(rd_kafka_message_t **msgs, int n, BatchPartition *bp, int *nbp,
				 BatchCounts *counts)
{
	QoeDecodeWindow window;
	QoeEvent   *events;
	QoeSource  *origins;
	QoeWriteResult written;
	int			nevents = 0;
	int			capacity = n;
	char		activity[64];

	memset(counts, 0, sizeof(*counts));
	*nbp = 0;
	snprintf(activity, sizeof(activity), "storing a batch of %d messages", n);
	begin_xact(activity);
	qoe_decode_window_now(&window);
	events = palloc_extended(sizeof(QoeEvent) * capacity, MCXT_ALLOC_HUGE);
	origins = palloc(sizeof(QoeSource) * n);
	for (int m = 0; m < n; m++)
	{
		rd_kafka_message_t *msg = msgs[m];
		QoeDecoded	decoded;
		BatchPartition *b = NULL;

		origins[m] = (QoeSource) {"kafka", cfg.topic, msg->partition, msg->offset};
		qoe_decode_payload(msg->payload != NULL ? msg->payload : "", msg->len,
						   &window, &decoded);
		if (nevents + decoded.nevents > capacity)
		{
			capacity = Max(capacity * 2, nevents + decoded.nevents);
			events = repalloc_huge(events, sizeof(QoeEvent) * capacity);
		}
		for (int e = 0; e < decoded.nevents; e++)
		{
			events[nevents + e] = decoded.events[e];
			events[nevents + e].origin = m;
		}
		nevents += decoded.nevents;
		if (decoded.nrejections > 0)
		{
			qoe_dead_letters_write(decoded.rejections, decoded.nrejections, &origins[m]);
			counts->dead_letters += decoded.nrejections;
		}
		counts->bytes += msg->len;

		for (int i = *nbp - 1; i >= 0 && b == NULL; i--)
			if (bp[i].partition == msg->partition)
				b = &bp[i];
		if (b == NULL)
		{
			b = &bp[(*nbp)++];
			b->partition = msg->partition;
			b->expected = find_partition(msg->partition)->stored_offset;
		}
		b->next = msg->offset + 1;
	}
	written = qoe_write_events(events, nevents, window.received_at, origins);
	counts->events = written.stored;
	counts->dead_letters += written.dead_letters;
	if (!store_offsets(bp, *nbp))
	{
		SPI_finish();
		PopActiveSnapshot();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(caller_cxt);
		report_activity(STATE_IDLE, "waiting for messages");
		return BATCH_FENCED;
	}
	commit_xact();
	return BATCH_STORED;
}

/* After the database commit: move on, and tell Kafka (for lag tools). */
static void
batch_committed(const BatchPartition *bp, int nbp, int nmessages, const BatchCounts *counts)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(nbp);

	for (int i = 0; i < nbp; i++)
	{
		PartitionState *p = find_partition(bp[i].partition);

		if (p != NULL)
			p->stored_offset = p->next_offset = bp[i].next;
		rd_kafka_topic_partition_list_add(list, cfg.topic, bp[i].partition)->offset = bp[i].next;
	}
	(void) rd_kafka_commit(consumer, list, 1);
	rd_kafka_topic_partition_list_destroy(list);
	qoe_slot_count_batch(slot, counts->events, nmessages, counts->bytes, counts->dead_letters);
}

static void
store_batch(rd_kafka_message_t **msgs, int n)
{
	BatchPartition *bp = palloc(sizeof(BatchPartition) * n);
	int			nbp = 0;
	BatchCounts counts;

	for (int attempt = 0;; attempt++)
	{
		volatile BatchOutcome outcome = BATCH_STORED;
		ErrorData  *volatile edata = NULL;

		PG_TRY();
		{
			outcome = store_batch_once(msgs, n, bp, &nbp, &counts);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(batch_cxt);
			edata = CopyErrorData();
			FlushErrorState();
			AbortCurrentTransaction();
			MemoryContextSwitchTo(batch_cxt);
			report_activity(STATE_IDLE, "retrying a failed batch");
		}
		PG_END_TRY();

		if (edata != NULL &&
			(edata->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED ||
			 edata->sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE) &&
			attempt < MAX_DEADLOCK_RETRIES)
		{
			if (!backoff_wait(10L << attempt))
				return;
			continue;
		}
		if (edata != NULL)
		{
			/*
			 * Anything else: log it, show it, wait longer each time, and
			 * start again from the stored offsets. A batch that always
			 * fails keeps failing loudly, without blocking the database.
			 */
			failures_in_a_row++;
			ereport(WARNING,
					(errmsg("qoe_ext source \"%s\": storing a batch of %d messages failed: %s",
							cfg.name, n, edata->message),
					 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
					 errhint("It is retried from the offsets in qoe.source_offsets (failure %d in a row).",
							 failures_in_a_row)));
			qoe_slot_set_error(slot, edata->message);
			set_state(QOE_WS_RETRYING);
			if (backoff_wait(Min(1000L << Min(failures_in_a_row - 1, 6), MAX_RETRY_BACKOFF_MS)))
				reseek_to_stored_offsets();
			set_state(QOE_WS_RUNNING);
			return;
		}
		if (outcome == BATCH_FENCED)
		{
			ereport(LOG,
					(errmsg("qoe_ext source \"%s\": the stored offsets moved under a batch of %d messages; rereading them",
							cfg.name, n),
					 errdetail("Another worker of the consumer group stored these partitions during a rebalance.")));
			reseek_to_stored_offsets();
			return;
		}
		failures_in_a_row = 0;
		batch_committed(bp, nbp, n, &counts);
		return;
	}
}

/* ---- the consumer ---- */

static void
create_consumer(void)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *topics;
	char		errbuf[512];
	char		client_id[NAMEDATALEN + 32];
	char		fetch_wait[16];

	/*
	 * The source's own settings; its properties are applied after them
	 * (reserved ones refused). fetch.wait.max.ms defaults to the flush
	 * interval (at most librdkafka's 500 ms): a broker may hold a fetch that
	 * long when little data waits, which would be a quiet topic's latency.
	 */
	const char *fixed[][2] = {
		{"bootstrap.servers", cfg.brokers},
		{"group.id", cfg.group_id},
		{"enable.auto.commit", "false"},
		{"enable.auto.offset.store", "false"},
		{"auto.offset.reset", cfg.start_latest ? "latest" : "earliest"},
		{"client.id", client_id},
		{"fetch.wait.max.ms", fetch_wait},
	};

	snprintf(client_id, sizeof(client_id), "qoe_ext-%s-%d", cfg.name, slot->worker_index);
	snprintf(fetch_wait, sizeof(fetch_wait), "%d", Min(cfg.flush_interval_ms, 500));
	for (int i = 0; i < (int) lengthof(fixed); i++)
		if (rd_kafka_conf_set(conf, fixed[i][0], fixed[i][1], errbuf, sizeof(errbuf)) != RD_KAFKA_CONF_OK)
		{
			rd_kafka_conf_destroy(conf);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("source \"%s\": invalid %s", cfg.name, fixed[i][0]),
					 errdetail_internal("%s", errbuf)));
		}
	for (int i = 0; i < cfg.nproperties; i++)
		if (!qoe_kafka_property_set(conf, cfg.keys[i], cfg.values[i], errbuf, sizeof(errbuf)))
		{
			rd_kafka_conf_destroy(conf);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("source \"%s\": invalid kafka property \"%s\"", cfg.name, cfg.keys[i]),
					 errdetail_internal("%s", errbuf)));
		}
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);

	consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errbuf, sizeof(errbuf));
	if (consumer == NULL)
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("source \"%s\": could not create the kafka consumer", cfg.name),
				 errdetail_internal("%s", errbuf)));
	}
	/* callbacks are then served by our consume calls, on this thread */
	rd_kafka_poll_set_consumer(consumer);
	consumer_queue = rd_kafka_queue_get_consumer(consumer);

	topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, cfg.topic, RD_KAFKA_PARTITION_UA);
	if (rd_kafka_subscribe(consumer, topics) != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		rd_kafka_topic_partition_list_destroy(topics);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("source \"%s\": could not subscribe to topic \"%s\"", cfg.name, cfg.topic)));
	}
	rd_kafka_topic_partition_list_destroy(topics);
}

/* create_consumer, with its error shown in the status views too */
static void
start_consumer(void)
{
	PG_TRY();
	{
		create_consumer();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(worker_cxt);
		edata = CopyErrorData();
		qoe_slot_set_error(slot, edata->detail ? psprintf("%s: %s", edata->message, edata->detail)
						   : edata->message);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * Leave the group cleanly (so the partitions move to the other workers at
 * once) but never wait long for an absent broker.
 */
static void
close_consumer(int code, Datum arg)
{
	rd_kafka_message_t *msgs[64];
	rd_kafka_error_t *error;
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), CLOSE_TIMEOUT_MS);
	bool		closed = false;

	if (consumer == NULL)
		return;
	error = rd_kafka_consumer_close_queue(consumer, consumer_queue);
	if (error == NULL)
	{
		while (!(closed = rd_kafka_consumer_closed(consumer)) &&
			   GetCurrentTimestamp() < until)
		{
			ssize_t		got = rd_kafka_consume_batch_queue(consumer_queue, 100, msgs, lengthof(msgs));

			for (ssize_t i = 0; i < got; i++)
				rd_kafka_message_destroy(msgs[i]);
		}
	}
	else
		rd_kafka_error_destroy(error);
	rd_kafka_queue_destroy(consumer_queue);
	if (closed)
		rd_kafka_destroy(consumer);
	else
		rd_kafka_destroy_flags(consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	consumer = NULL;
}

static void
release_slot(int code, Datum arg)
{
	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	if (slot->generation == my_generation && slot->pid == MyProcPid)
	{
		slot->pid = 0;
		slot->npartitions = 0;
		if (my_generation != qoe_kafka_shared->generation)
			slot->state = QOE_WS_FREE;	/* no launcher knows this slot */
	}
	LWLockRelease(qoe_kafka_shared->lock);
}

/* Keep a polled message? Not if stored already or from a lost partition. */
static bool
wanted(const rd_kafka_message_t *msg)
{
	PartitionState *p;

	if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			record_text(cb.error, &cb.error_pending, "kafka: ", rd_kafka_message_errstr(msg));
		return false;
	}
	p = find_partition(msg->partition);
	return p != NULL && msg->offset >= p->next_offset;
}

static void
destroy_messages(rd_kafka_message_t **msgs, int n)
{
	for (int i = 0; i < n; i++)
		rd_kafka_message_destroy(msgs[i]);
}

/*
 * Fill msgs with up to batch_size wanted messages, stopping at batch_bytes,
 * at the flush interval after the first one, or when told to stop. A
 * rebalance throws away what was polled: it is polled again after the
 * assignment, from the stored offsets.
 */
static int
poll_batch(rd_kafka_message_t **msgs)
{
	int			n = 0;
	int64		bytes = 0;
	TimestampTz deadline = 0;

	while (n < cfg.batch_size && bytes < cfg.batch_bytes && !must_stop())
	{
		long		timeout = Min(IDLE_POLL_MS, cfg.flush_interval_ms);
		ssize_t		got;
		int			kept = n;

		if (deadline != 0)
		{
			timeout = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (timeout <= 0)
				break;
			timeout = Min(timeout, FILL_POLL_MS);
		}
		got = rd_kafka_consume_batch_queue(consumer_queue, (int) timeout, &msgs[n],
										   cfg.batch_size - n);
		for (ssize_t i = 0; i < got; i++)
		{
			if (wanted(msgs[n + i]))
			{
				bytes += msgs[n + i]->len;
				msgs[kept++] = msgs[n + i];
			}
			else
				rd_kafka_message_destroy(msgs[n + i]);
		}
		n = kept;
		if (n > 0 && deadline == 0)
			deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), cfg.flush_interval_ms);

		if (cb.rebalanced)
		{
			cb.rebalanced = false;
			destroy_messages(msgs, n);
			n = 0;
			bytes = 0;
			deadline = 0;
			if (cb.to_assign != NULL)
				apply_assignment();
		}
		drain_callback_texts();
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!PostmasterIsAlive())
			proc_exit(1);
	}
	return n;
}

void
qoe_worker_main(Datum main_arg)
{
	int			slot_no = DatumGetInt32(main_arg);
	char		source[NAMEDATALEN];
	Oid			dboid;
	rd_kafka_message_t **msgs;
	TimestampTz watermarks_at = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	if (qoe_kafka_shared == NULL || slot_no < 0 || slot_no >= QOE_MAX_WORKERS)
		elog(FATAL, "qoe_ext worker started without its shared memory slot");

	slot = &qoe_kafka_shared->slots[slot_no];
	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	strlcpy(source, slot->source, sizeof(source));
	dboid = slot->dboid;
	my_generation = slot->generation;
	slot->pid = MyProcPid;
	LWLockRelease(qoe_kafka_shared->lock);
	before_shmem_exit(release_slot, 0);
	if (my_generation != qoe_kafka_shared->generation)
		proc_exit(0);

	qoe_worker_connect(dboid);
	pgstat_report_appname("qoe_ext worker");
	worker_cxt = AllocSetContextCreate(TopMemoryContext, "qoe_ext kafka worker",
									   ALLOCSET_DEFAULT_SIZES);
	batch_cxt = AllocSetContextCreate(worker_cxt, "qoe_ext kafka batch",
									  ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(worker_cxt);
	cfg.name = source;
	if (!load_config(source))
		proc_exit(0);			/* the launcher no longer wants us */

	start_consumer();
	before_shmem_exit(close_consumer, 0);
	msgs = palloc(sizeof(rd_kafka_message_t *) * cfg.batch_size);
	set_state(QOE_WS_RUNNING);
	report_activity(STATE_IDLE, "waiting for messages");
	ereport(LOG, (errmsg("qoe_ext source \"%s\": worker %d consuming topic \"%s\"",
						 cfg.name, slot->worker_index, cfg.topic)));

	while (!must_stop())
	{
		int			n = poll_batch(msgs);

		/* a batch being filled when SIGTERM came is stored before exiting */
		if (n > 0)
		{
			MemoryContextSwitchTo(batch_cxt);
			store_batch(msgs, n);
			MemoryContextSwitchTo(worker_cxt);
			MemoryContextReset(batch_cxt);
			destroy_messages(msgs, n);
		}
		if (TimestampDifferenceExceeds(watermarks_at, GetCurrentTimestamp(),
									   WATERMARK_INTERVAL_MS))
		{
			publish_partitions();
			watermarks_at = GetCurrentTimestamp();
		}
	}
	set_state(QOE_WS_STOPPING);
	report_activity(STATE_IDLE, "stopping");
	proc_exit(0);
}
