/*
 * kafka_worker.c: one background worker consuming one Kafka source.
 *
 * The launcher (kafka_launcher.c) starts one per enabled source and worker
 * index. There is no consumer group: worker i of a source's n workers takes
 * the partitions of this node's share (those whose number modulo the
 * source's node_count is its node_index, all of them on a single node) whose
 * number divided by node_count is i modulo n, assigns them itself
 * (rd_kafka_incremental_assign) at the offsets stored in qoe.source_offsets,
 * and looks at the topic's metadata every PARTITION_DISCOVERY_MS for
 * partitions added since (taken) or gone (stopped, with an error). So a
 * restarted worker consumes as soon as it has read its offsets: nothing
 * waits for a group coordinator to notice that a member died.
 *
 * A worker polls messages until the batch is full (messages or bytes) or its
 * flush interval has passed, then stores it in ONE transaction: the
 * messages' events through the same decoder and batch writer as qoe.ingest,
 * rejections in qoe.dead_letters with their Kafka coordinates, and the next
 * offset of every partition of the batch in qoe.source_offsets (with the
 * newest event time stored from it: the rollups' watermark). The database
 * is the record of progress; after its commit the offsets are also committed
 * to Kafka under the source's group.id, for lag tools only.
 *
 * Exactly once follows from that: the batch's offset update only succeeds
 * if the stored offsets are still those the batch started from, a fence
 * against another worker that stored the same partition meanwhile (one of a
 * previous launcher still finishing its batch, or of the source before its
 * workers count changed). If not, the batch is rolled back and the worker
 * re-reads the offsets.
 * The consumer's position is never trusted: every message must carry the
 * offset that follows the previous one of its partition (a gap is re-read
 * after a fresh seek, and accepted only if it is still there: compaction,
 * transaction markers), a partition without a stored row has its first
 * offset recorded before its first batch is stored, a failed batch is
 * retried from the messages in hand, and a stored offset the topic no
 * longer has stops that partition with an error instead of a reset.
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

#include "core/catalog.h"
#include "core/commit_wake.h"
#include "core/worker_session.h"
#include "ingest/dead_letters.h"
#include "ingest/event_decode.h"
#include "ingest/event_writer.h"
#include "kafka/kafka_launcher.h"
#include "kafka/kafka_shmem.h"
#include "kafka/kafka_sources.h"
#include "kafka/kafka_worker.h"

#define MAX_PARTITIONS			4096	/* per worker */
#define IDLE_POLL_MS			100 /* SIGTERM is noticed within this */
#define FILL_POLL_MS			10	/* poll slice while a batch fills */
#define MAX_DEADLOCK_RETRIES	5
#define MAX_RETRY_BACKOFF_MS	60000
#define PARTITION_DISCOVERY_MS	5000	/* a new partition waits at most this */
#define METADATA_TIMEOUT_MS		1000	/* SIGTERM may wait this long */
#define WATERMARK_INTERVAL_MS	1000
#define STALLED_WATERMARK_TIMEOUT_MS	200	/* a stalled partition's end, asked anew */
#define LOG_REPEAT_MS			60000

typedef struct SourceConfig
{
	char	   *name;
	char	   *brokers;
	char	   *topic;
	char	   *group_id;
	int			workers;
	int			node_index;
	int			node_count;
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
	int64		next_offset;	/* the offset the next message must have, -1: any */
	int64		gap_offset;		/* a gap's end, re-read after a fresh seek; -1: none */
	uint64		gap_poll;		/* the poll that saw it */
	bool		stalled;		/* stopped on an offset error until the source restarts */
	int			missing;		/* metadata answers in a row without it */
	bool		from_end;		/* with no stored row: starts at the end, not the start */
} PartitionState;

/* Written by the librdkafka callbacks, read by the main loop. */
static struct
{
	pthread_mutex_t mutex;		/* the log callback runs on other threads */
	char		error[QOE_ERROR_LEN];
	bool		error_pending;
	char		log[QOE_ERROR_LEN];
	bool		log_pending;
}			cb = {.mutex = PTHREAD_MUTEX_INITIALIZER};

/* The partitions this worker consumes, in the order it took them. */
static PartitionState owned[MAX_PARTITIONS];
static int	nowned;

static SourceConfig cfg;
static QoeWorkerSlot *slot;
static uint32 my_generation;
static rd_kafka_t *consumer;
static rd_kafka_queue_t *consumer_queue;
static SPIPlanPtr offsets_plan;
static MemoryContext worker_cxt;
static MemoryContext batch_cxt;
static int	failures_in_a_row;
static uint64 polls;			/* rd_kafka_consume_batch_queue calls so far */

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

/* ---- helpers ---- */

static PartitionState *
find_partition(int32 partition)
{
	for (int i = 0; i < nowned; i++)
		if (owned[i].partition == partition)
			return &owned[i];
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

/* SIGTERM (die) or a new launcher; a wait inside a transaction ends at once. */
static bool
must_stop(void)
{
	return ProcDiePending || qoe_kafka_shared->generation != my_generation;
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
		if (!must_stop())
			CHECK_FOR_INTERRUPTS();
	}
	return false;
}

/* ---- configuration and offsets, read in short transactions ---- */

/* The context current before begin_xact, current again after the commit. */
static MemoryContext caller_cxt;
static int	pinned_level;

static void
begin_xact(const char *what)
{
	caller_cxt = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	pinned_level = qoe_pin_search_path();
	report_activity(STATE_RUNNING, what);
}

static void
commit_xact(void)
{
	qoe_unpin_search_path(pinned_level);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(caller_cxt);
	qoe_worker_report_stats();
	report_activity(STATE_IDLE, "waiting for messages");
}

static void
abort_xact(void)
{
	AbortCurrentTransaction();
	MemoryContextSwitchTo(caller_cxt);
	qoe_worker_report_stats();
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
							  " batch_bytes, flush_interval_ms, workers, node_index, node_count"
							  " FROM qoe.sources WHERE name OPERATOR(pg_catalog.=) $1 AND enabled",
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
		cfg.workers = pg_strtoint32(spi_text(0, 8));
		cfg.node_index = pg_strtoint32(spi_text(0, 9));
		cfg.node_count = pg_strtoint32(spi_text(0, 10));
		if (SPI_execute_with_args("SELECT p.key, p.value FROM qoe.sources s,"
								  " pg_catalog.jsonb_each_text(s.properties) p"
								  " WHERE s.name OPERATOR(pg_catalog.=) $1",
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
 * Set stored_offset of the given partitions from qoe.source_offsets (-1: no
 * row), inside the caller's transaction, seeing its own changes.
 */
static void
read_stored_offsets(PartitionState *parts, int n)
{
	Datum		args[2] = {CStringGetTextDatum(cfg.name), CStringGetTextDatum(cfg.topic)};
	Oid			argtypes[2] = {TEXTOID, TEXTOID};

	for (int i = 0; i < n; i++)
		parts[i].stored_offset = -1;
	if (SPI_execute_with_args("SELECT partition, next_offset FROM qoe.source_offsets"
							  " WHERE source OPERATOR(pg_catalog.=) $1"
							  " AND topic OPERATOR(pg_catalog.=) $2",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
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
				parts[i].stored_offset = next;
	}
}

/*
 * Start the given partitions afresh from their stored offsets: the next
 * message of each must have exactly that offset (any, with no row). Their
 * rows' event_time_at is moved to now: taken by this worker, a partition
 * holds the rollups' windows open at its stored event time again until it
 * stores or idles (a backlog read after a restart is not late).
 */
static void
load_offsets(PartitionState *parts, int n)
{
	Datum	   *partitions = palloc(sizeof(Datum) * Max(n, 1));
	Oid			argtypes[3] = {TEXTOID, TEXTOID, INT4ARRAYOID};
	Datum		args[3];

	for (int i = 0; i < n; i++)
		partitions[i] = Int32GetDatum(parts[i].partition);
	begin_xact("reading its stored offsets");
	args[0] = CStringGetTextDatum(cfg.name);
	args[1] = CStringGetTextDatum(cfg.topic);
	args[2] = PointerGetDatum(construct_array(partitions, n, INT4OID, 4, true, TYPALIGN_INT));
	if (SPI_execute_with_args("UPDATE qoe.source_offsets SET event_time_at = pg_catalog.now()"
							  " WHERE source OPERATOR(pg_catalog.=) $1"
							  " AND topic OPERATOR(pg_catalog.=) $2"
							  " AND partition OPERATOR(pg_catalog.=) ANY ($3)",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "marking the taken partitions in qoe.source_offsets failed");
	read_stored_offsets(parts, n);
	commit_xact();
	for (int i = 0; i < n; i++)
	{
		parts[i].next_offset = parts[i].stored_offset;
		parts[i].gap_offset = -1;
		parts[i].stalled = false;
	}
}

/* The librdkafka start offset of a partition. */
static int64
start_offset(const PartitionState *p)
{
	if (p->stored_offset >= 0)
		return p->stored_offset;
	return p->from_end ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
}

static void
publish_partitions(void)
{
	int64		highs[QOE_SLOT_PARTITIONS];
	int			n = Min(nowned, QOE_SLOT_PARTITIONS);

	/*
	 * librdkafka's cached watermarks follow only the partitions being
	 * fetched: a stalled one is asked of the broker, briefly, outside the lock
	 */
	for (int i = 0; i < n; i++)
	{
		int64		low;
		rd_kafka_resp_err_t err = owned[i].stalled
			? rd_kafka_query_watermark_offsets(consumer, cfg.topic, owned[i].partition,
											   &low, &highs[i], STALLED_WATERMARK_TIMEOUT_MS)
			: rd_kafka_get_watermark_offsets(consumer, cfg.topic, owned[i].partition,
											 &low, &highs[i]);

		if (err != RD_KAFKA_RESP_ERR_NO_ERROR || highs[i] < 0)
			highs[i] = -1;
	}
	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	slot->npartitions = n;
	for (int i = 0; i < n; i++)
	{
		slot->partitions[i].partition = owned[i].partition;
		slot->partitions[i].stalled = owned[i].stalled;
		slot->partitions[i].high_watermark = highs[i];
	}
	LWLockRelease(qoe_kafka_shared->lock);
}

/*
 * Record where partitions without a stored row start, in its own
 * transaction, so that a restart or another worker starts there too and not
 * at start_position again ("latest" would skip what came meanwhile). Sets
 * their stored_offset from the rows, which another worker may have written first;
 * false if one differs from the given start.
 */
static bool
record_starts(PartitionState **parts, const int64 *starts, int n)
{
	Datum	   *partitions = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *offsets = palloc(sizeof(Datum) * Max(n, 1));
	PartitionState *rows = palloc(sizeof(PartitionState) * Max(n, 1));
	Oid			argtypes[4] = {TEXTOID, TEXTOID, INT4ARRAYOID, INT8ARRAYOID};
	Datum		args[4];
	bool		agreed = true;

	if (n == 0)
		return true;
	for (int i = 0; i < n; i++)
	{
		partitions[i] = Int32GetDatum(parts[i]->partition);
		offsets[i] = Int64GetDatum(starts[i]);
		rows[i].partition = parts[i]->partition;
	}
	args[0] = CStringGetTextDatum(cfg.name);
	args[1] = CStringGetTextDatum(cfg.topic);
	args[2] = PointerGetDatum(construct_array(partitions, n, INT4OID, 4, true, TYPALIGN_INT));
	args[3] = PointerGetDatum(construct_array(offsets, n, INT8OID, 8, FLOAT8PASSBYVAL,
											  TYPALIGN_DOUBLE));
	begin_xact("recording where its partitions start");
	/* a row left from the source's previous topic is overwritten */
	if (SPI_execute_with_args("INSERT INTO qoe.source_offsets AS o (source, topic, partition, next_offset)"
							  " SELECT $1, $2, b.partition, b.next_offset"
							  "   FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4)) AS b(partition, next_offset)"
							  " ON CONFLICT (source, partition) DO UPDATE"
							  " SET topic = excluded.topic, next_offset = excluded.next_offset,"
							  "     updated_at = pg_catalog.now(), latest_event_time = NULL,"
							  "     event_time_at = pg_catalog.now()"
							  " WHERE o.topic OPERATOR(pg_catalog.<>) excluded.topic",
							  4, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "recording start offsets in qoe.source_offsets failed");
	read_stored_offsets(rows, n);
	commit_xact();
	for (int i = 0; i < n; i++)
	{
		if (rows[i].stored_offset != starts[i])
			agreed = false;
		parts[i]->stored_offset = rows[i].stored_offset;
	}
	return agreed;
}

/*
 * Resolve start_position of the partitions without a stored row (the
 * topic's low or high watermark) and record it. A partition whose watermarks
 * cannot be had now (no broker) starts at the logical offset instead, and
 * its first message is recorded (record_start_offsets).
 */
static void
resolve_starts(PartitionState *added, int n)
{
	PartitionState **parts = palloc(sizeof(PartitionState *) * Max(n, 1));
	int64	   *starts = palloc(sizeof(int64) * Max(n, 1));
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(Max(n, 1));
	int			nparts = 0;

	/* one ListOffsets request for all: -1 asks for the end, -2 the start */
	for (int i = 0; i < n; i++)
		if (added[i].stored_offset < 0)
			rd_kafka_topic_partition_list_add(list, cfg.topic, added[i].partition)->offset =
				added[i].from_end ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
	if (list->cnt > 0 &&
		rd_kafka_offsets_for_times(consumer, list, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
		for (int i = 0; i < list->cnt; i++)
		{
			PartitionState *p = NULL;

			if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR || list->elems[i].offset < 0)
				continue;
			for (int j = 0; j < n && p == NULL; j++)
				if (added[j].partition == list->elems[i].partition)
					p = &added[j];
			parts[nparts] = p;
			starts[nparts++] = list->elems[i].offset;
		}
	rd_kafka_topic_partition_list_destroy(list);
	(void) record_starts(parts, starts, nparts);
	for (int i = 0; i < nparts; i++)
		parts[i]->next_offset = parts[i]->stored_offset;
}

/*
 * Start consuming the given partitions, at their stored offsets. Those
 * without a row start at start_position at the worker's first look; a
 * partition that appears later starts at its beginning, whatever
 * start_position says, so that nothing produced into it before the worker
 * saw it is skipped.
 */
static void
assign_partitions(const int32 *ids, int n, bool first_look)
{
	rd_kafka_topic_partition_list_t *list;
	PartitionState *added;
	rd_kafka_error_t *error;

	if (nowned + n > MAX_PARTITIONS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a qoe_ext worker can consume at most %d partitions", MAX_PARTITIONS),
				 errhint("Raise the source's workers.")));
	added = &owned[nowned];
	for (int i = 0; i < n; i++)
	{
		added[i].partition = ids[i];
		added[i].missing = 0;
		added[i].from_end = cfg.start_latest && first_look;
	}
	load_offsets(added, n);
	resolve_starts(added, n);
	list = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(list, cfg.topic, ids[i])->offset = start_offset(&added[i]);
	error = rd_kafka_incremental_assign(consumer, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (error != NULL)
	{
		char		text[QOE_ERROR_LEN];

		/* not consumed, yet owned: only a restart can mend that */
		snprintf(text, sizeof(text), "could not assign %d partitions: %s", n,
				 rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
		qoe_slot_set_error(slot, text);
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("qoe_ext source \"%s\": %s", cfg.name, text)));
	}
	nowned += n;
	ereport(DEBUG1, (errmsg("qoe_ext source \"%s\": worker %d consumes %d more partitions",
							cfg.name, slot->worker_index, n)));
	publish_partitions();
}

/*
 * Seek the given partitions to their next_offset (start_position with no
 * row). A partition whose seek failed is not trusted more than any other:
 * its next message must still carry next_offset, else it is sought again.
 */
static void
seek_partitions(PartitionState **parts, int n)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_error_t *error;

	if (n == 0)
		return;
	list = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(list, cfg.topic, parts[i]->partition)->offset =
			parts[i]->next_offset >= 0 ? parts[i]->next_offset : start_offset(parts[i]);
	error = rd_kafka_seek_partitions(consumer, list, 5000);
	if (error != NULL)
	{
		record_text(cb.error, &cb.error_pending, "kafka seek: ", rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	}
	for (int i = 0; i < list->cnt; i++)
		if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			char		text[QOE_ERROR_LEN];

			snprintf(text, sizeof(text), "partition %d: seek to offset %lld failed: %s",
					 list->elems[i].partition, (long long) list->elems[i].offset,
					 rd_kafka_err2str(list->elems[i].err));
			record_text(cb.error, &cb.error_pending, "kafka: ", text);
		}
	rd_kafka_topic_partition_list_destroy(list);
}

/* After a fenced batch: back to the offsets the database holds. */
static void
reseek_to_stored_offsets(void)
{
	PartitionState **parts = palloc(sizeof(PartitionState *) * Max(nowned, 1));
	int			n = 0;

	load_offsets(owned, nowned);
	for (int i = 0; i < nowned; i++)
		parts[n++] = &owned[i];
	seek_partitions(parts, n);
	pfree(parts);
}

/*
 * Stop a partition that cannot go on, and say so in the status views,
 * instead of letting librdkafka reset it (which would skip or re-read
 * messages); one the topic no longer has is also unassigned. It stays
 * stopped until the source restarts; the operator decides
 * (doc/operations.md).
 */
static void
stop_partition(PartitionState *p, const char *text, bool gone)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);

	p->stalled = true;
	rd_kafka_topic_partition_list_add(list, cfg.topic, p->partition);
	if (gone)
	{
		rd_kafka_error_t *error = rd_kafka_incremental_unassign(consumer, list);

		if (error != NULL)
			rd_kafka_error_destroy(error);
	}
	else
		(void) rd_kafka_pause_partitions(consumer, list);
	rd_kafka_topic_partition_list_destroy(list);
	ereport(WARNING,
			(errmsg("qoe_ext source \"%s\": %s", cfg.name, text),
			 errdetail("The partition is stopped; the source's other partitions go on."),
			 errhint("Set or delete its row in qoe.source_offsets, then run qoe.stop_source and qoe.start_source.")));
	qoe_slot_set_stalled(slot, text);
	publish_partitions();
}

/* A partition whose stored offset the topic does not have. */
static void
stall_partition(PartitionState *p, const rd_kafka_message_t *msg)
{
	int64		low = -1,
				high = -1;
	int64		stored = p->stored_offset >= 0 ? p->stored_offset : msg->offset;
	char		text[QOE_ERROR_LEN];

	(void) rd_kafka_query_watermark_offsets(consumer, cfg.topic, p->partition, &low, &high, 5000);
	if (high >= 0 && stored > high)
		snprintf(text, sizeof(text),
				 "partition %d: stored offset %lld is beyond the end of the topic (%lld); the topic may have been recreated",
				 p->partition, (long long) stored, (long long) high);
	else if (low >= 0 && stored < low)
		snprintf(text, sizeof(text),
				 "partition %d: stored offset %lld is below the start of the topic (%lld); those messages were deleted before they were stored",
				 p->partition, (long long) stored, (long long) low);
	else
		snprintf(text, sizeof(text), "partition %d: offset %lld cannot be read: %s",
				 p->partition, (long long) stored, rd_kafka_message_errstr(msg));
	stop_partition(p, text, false);
}

static int
cmp_int32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/*
 * Look at the topic: take the partitions of this worker's share it does not
 * consume yet (all of them at the first look), and stop those the topic no
 * longer has. A partition's share is its number modulo the source's
 * workers, so partitions added later never move the others. Returns true if
 * a partition was stopped (the held messages must be filtered again). A
 * failed look changes nothing: the next one comes PARTITION_DISCOVERY_MS on.
 */
static bool
discover_partitions(void)
{
	const rd_kafka_metadata_t *md;
	const rd_kafka_metadata_topic_t *t = NULL;
	rd_kafka_resp_err_t err;
	int			npresent;
	int32	   *added;
	int			nadded = 0;
	bool		stopped = false;
	static bool looked;			/* a look succeeded before */

	/*
	 * Metadata of all topics: asking for the one topic by name (with a topic
	 * handle) created it on the mock cluster, allow.auto.create.topics=false
	 * notwithstanding, and would on a broker that auto-creates topics.
	 */
	err = rd_kafka_metadata(consumer, 1, NULL, &md, METADATA_TIMEOUT_MS);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		record_text(cb.error, &cb.error_pending, "kafka metadata: ", rd_kafka_err2str(err));
		return false;
	}
	for (int i = 0; i < md->topic_cnt && t == NULL; i++)
		if (strcmp(md->topics[i].topic, cfg.topic) == 0)
			t = &md->topics[i];
	if (t != NULL && t->err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		/* e.g. a leader election: ask again later */
		record_text(cb.error, &cb.error_pending, "kafka metadata: ", rd_kafka_err2str(t->err));
		rd_kafka_metadata_destroy(md);
		return false;
	}
	if (t == NULL)
	{
		char		text[QOE_ERROR_LEN];

		snprintf(text, sizeof(text), "topic \"%s\" does not exist", cfg.topic);
		record_text(cb.error, &cb.error_pending, "kafka: ", text);
	}
	npresent = t != NULL ? t->partition_cnt : 0;

	for (int i = 0; i < nowned; i++)
	{
		bool		present = false;

		for (int j = 0; j < npresent && !present; j++)
			present = t->partitions[j].id == owned[i].partition;
		/* twice in a row: one answer may come from a broker not up to date */
		owned[i].missing = present ? 0 : owned[i].missing + 1;
		if (owned[i].missing == 2 && !owned[i].stalled)
		{
			char		text[QOE_ERROR_LEN];

			if (owned[i].stored_offset >= 0)
				snprintf(text, sizeof(text),
						 "partition %d is no longer in the topic; its stored offset is %lld",
						 owned[i].partition, (long long) owned[i].stored_offset);
			else
				snprintf(text, sizeof(text), "partition %d is no longer in the topic",
						 owned[i].partition);
			stop_partition(&owned[i], text, true);
			stopped = true;
		}
	}

	added = palloc(sizeof(int32) * Max(npresent, 1));
	for (int j = 0; j < npresent; j++)
	{
		int32		id = t->partitions[j].id;

		if (id % cfg.node_count == cfg.node_index &&
			(id / cfg.node_count) % cfg.workers == slot->worker_index &&
			find_partition(id) == NULL)
			added[nadded++] = id;
	}
	rd_kafka_metadata_destroy(md);
	if (nadded > 0)
	{
		qsort(added, nadded, sizeof(int32), cmp_int32);
		assign_partitions(added, nadded, !looked);
	}
	pfree(added);
	looked = true;
	return stopped;
}

/*
 * Keep a polled message? Not if it is stored or in hand already, or from a
 * lost or stopped partition. Offsets must follow each other: a gap is read
 * again after a fresh seek, and accepted only if that seek shows it again
 * (librdkafka 2.0.2 can skip messages when batch consumption meets a seek or
 * a rebalance; compaction and transaction markers leave real gaps).
 */
static bool
wanted(const rd_kafka_message_t *msg)
{
	PartitionState *p = find_partition(msg->partition);

	if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		if ((msg->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
			 msg->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) && p != NULL && !p->stalled)
			stall_partition(p, msg);
		else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			record_text(cb.error, &cb.error_pending, "kafka: ", rd_kafka_message_errstr(msg));
		return false;
	}
	if (p == NULL || p->stalled || msg->offset < p->next_offset)
		return false;
	if (p->next_offset >= 0 && msg->offset > p->next_offset)
	{
		static bool gap_logged;

		/* later messages of the poll that saw the gap were fetched before the seek */
		if (p->gap_offset >= 0 && msg->offset > p->gap_offset && p->gap_poll == polls)
			return false;
		if (msg->offset != p->gap_offset)
		{
			p->gap_offset = msg->offset;
			p->gap_poll = polls;
			seek_partitions(&p, 1);
			return false;
		}
		ereport(gap_logged ? DEBUG1 : LOG,
				(errmsg("qoe_ext source \"%s\": partition %d has no messages at offsets %lld to %lld",
						cfg.name, p->partition, (long long) p->next_offset,
						(long long) msg->offset - 1),
				 errdetail("A fresh seek showed the same gap again: the topic is compacted or holds transaction markers.")));
		gap_logged = true;
	}
	p->gap_offset = -1;
	p->next_offset = msg->offset + 1;
	return true;
}

/* ---- storing a batch ---- */

/* The messages polled and not yet stored: close_consumer frees them too. */
static rd_kafka_message_t **held;
static int	nheld;

typedef struct BatchPartition
{
	int32		partition;
	int64		expected;		/* stored_offset when the batch started */
	int64		first;			/* the batch's first offset */
	int64		next;			/* last offset in the batch + 1 */
	TimestampTz latest;			/* newest event time of its valid events, DT_NOBEGIN: none */
} BatchPartition;

/* The entry of a partition among bp[0 .. nbp - 1], NULL if none. */
static BatchPartition *
batch_partition(BatchPartition *bp, int nbp, int32 partition)
{
	/* from the last: a poll returns each partition's messages together */
	for (int i = nbp - 1; i >= 0; i--)
		if (bp[i].partition == partition)
			return &bp[i];
	return NULL;
}

/* The partitions of the held batch, in order of first appearance. */
static int
batch_partitions(BatchPartition *bp)
{
	int			nbp = 0;

	for (int m = 0; m < nheld; m++)
	{
		BatchPartition *b = batch_partition(bp, nbp, held[m]->partition);

		if (b == NULL)
		{
			b = &bp[nbp++];
			b->partition = held[m]->partition;
			b->expected = find_partition(held[m]->partition)->stored_offset;
			b->first = held[m]->offset;
			TIMESTAMP_NOBEGIN(b->latest);
		}
		b->next = held[m]->offset + 1;
	}
	return nbp;
}

/*
 * A partition of the batch without a stored row (its start could not be
 * recorded at assignment) starts at its first message: record that before
 * the batch, so that a failed batch, a restart or a new split of the
 * partitions resumes there. False if another worker recorded a different
 * start meanwhile.
 */
static bool
record_start_offsets(BatchPartition *bp, int nbp)
{
	PartitionState **parts = palloc(sizeof(PartitionState *) * nbp);
	int64	   *firsts = palloc(sizeof(int64) * nbp);
	int			n = 0;
	bool		agreed;

	for (int i = 0; i < nbp; i++)
		if (bp[i].expected < 0)
		{
			parts[n] = find_partition(bp[i].partition);
			firsts[n++] = bp[i].first;
		}
	agreed = record_starts(parts, firsts, n);
	for (int i = 0; i < nbp; i++)
		bp[i].expected = find_partition(bp[i].partition)->stored_offset;
	return agreed;
}

static void
prepare_offsets_plan(void)
{
	Oid			argtypes[6] = {TEXTOID, TEXTOID, INT4ARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
	TIMESTAMPTZARRAYOID};

	/*
	 * The fence: the UPDATE only matches rows still at the offset this batch
	 * started from; row locks make a concurrent writer wait and then re-check
	 * it. Every partition of a batch has its row (record_start_offsets).
	 */
	offsets_plan = qoe_prepare_kept("UPDATE qoe.source_offsets o"
									"   SET next_offset = b.next_offset, updated_at = pg_catalog.now(),"
									"       latest_event_time = GREATEST(o.latest_event_time, b.latest),"
									"       event_time_at = CASE WHEN b.latest IS NULL THEN o.event_time_at"
									"                            ELSE pg_catalog.clock_timestamp() END"
									"  FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5),"
									"                 pg_catalog.unnest($6))"
									"       AS b(partition, expected, next_offset, latest)"
									" WHERE o.source OPERATOR(pg_catalog.=) $1"
									"   AND o.topic OPERATOR(pg_catalog.=) $2"
									"   AND o.partition OPERATOR(pg_catalog.=) b.partition"
									"   AND o.next_offset OPERATOR(pg_catalog.=) b.expected",
									6, argtypes);
}

/*
 * Store each partition's next offset and newest event time (the merge's
 * watermark, qoe.refresh_rollups); true if every partition's stored offset
 * moved as the batch expected.
 */
static bool
store_offsets(const BatchPartition *bp, int n)
{
	Datum	   *partitions = palloc(sizeof(Datum) * n);
	Datum	   *expected = palloc(sizeof(Datum) * n);
	Datum	   *next = palloc(sizeof(Datum) * n);
	Datum	   *latest = palloc(sizeof(Datum) * n);
	bool	   *no_event = palloc(sizeof(bool) * n);
	int			dims[1] = {n};
	int			lbs[1] = {1};
	Datum		args[6];

	if (offsets_plan == NULL)
		prepare_offsets_plan();
	for (int i = 0; i < n; i++)
	{
		partitions[i] = Int32GetDatum(bp[i].partition);
		expected[i] = Int64GetDatum(bp[i].expected);
		next[i] = Int64GetDatum(bp[i].next);
		latest[i] = TimestampTzGetDatum(bp[i].latest);
		no_event[i] = TIMESTAMP_IS_NOBEGIN(bp[i].latest);
	}
	args[0] = CStringGetTextDatum(cfg.name);
	args[1] = CStringGetTextDatum(cfg.topic);
	args[2] = PointerGetDatum(construct_array(partitions, n, INT4OID, 4, true, TYPALIGN_INT));
	args[3] = PointerGetDatum(construct_array(expected, n, INT8OID, 8, FLOAT8PASSBYVAL,
											  TYPALIGN_DOUBLE));
	args[4] = PointerGetDatum(construct_array(next, n, INT8OID, 8, FLOAT8PASSBYVAL,
											  TYPALIGN_DOUBLE));
	args[5] = PointerGetDatum(construct_md_array(latest, no_event, 1, dims, lbs, TIMESTAMPTZOID,
												 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (SPI_execute_plan(offsets_plan, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "updating qoe.source_offsets failed");
	return SPI_processed == (uint64) n;
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
store_batch_once(BatchPartition *bp, int nbp, BatchCounts *counts)
{
	QoeDecodeWindow window;
	QoeEvent   *events;
	QoeSource  *origins;
	QoeWriteResult written;
	int			nevents = 0;
	int			capacity = nheld;
	char		activity[64];

	memset(counts, 0, sizeof(*counts));
	if (!record_start_offsets(bp, nbp))
		return BATCH_FENCED;
	snprintf(activity, sizeof(activity), "storing a batch of %d messages", nheld);
	begin_xact(activity);
	qoe_decode_window_now(&window);
	events = palloc_extended(sizeof(QoeEvent) * capacity, MCXT_ALLOC_HUGE);
	origins = palloc(sizeof(QoeSource) * nheld);
	for (int m = 0; m < nheld; m++)
	{
		rd_kafka_message_t *msg = held[m];
		BatchPartition *part = batch_partition(bp, nbp, msg->partition);
		QoeDecoded	decoded;

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
			if (decoded.events[e].event_time > part->latest)
				part->latest = decoded.events[e].event_time;
		}
		nevents += decoded.nevents;
		if (decoded.nrejections > 0)
		{
			qoe_dead_letters_write(decoded.rejections, decoded.nrejections, &origins[m]);
			counts->dead_letters += decoded.nrejections;
		}
		counts->bytes += msg->len;
	}
	written = qoe_write_events(events, nevents, window.received_at, origins);
	counts->events = written.stored;
	qoe_wake_on_commit(written.stalls);
	counts->dead_letters += written.dead_letters;
	if (!store_offsets(bp, nbp))
	{
		abort_xact();
		return BATCH_FENCED;
	}
	commit_xact();
	return BATCH_STORED;
}

/*
 * After the database commit: move on, and tell Kafka too, so that lag tools
 * (kafka-consumer-groups.sh, Burrow, exporters) see the source's progress
 * under its group_id (SPEC section 5). The commit is asynchronous and only
 * informative: qoe.source_offsets stays the truth the workers start from, so
 * a commit lost with a crash or a broker outage costs nothing.
 */
static void
batch_committed(const BatchPartition *bp, int nbp, const BatchCounts *counts)
{
	rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_new(nbp);

	for (int i = 0; i < nbp; i++)
	{
		find_partition(bp[i].partition)->stored_offset = bp[i].next;
		rd_kafka_topic_partition_list_add(committed, cfg.topic, bp[i].partition)->offset = bp[i].next;
	}
	(void) rd_kafka_commit(consumer, committed, 1);
	rd_kafka_topic_partition_list_destroy(committed);
	qoe_slot_count_batch(slot, counts->events, nheld, counts->bytes, counts->dead_letters);
}

/* Errors that pass by themselves: conflicts, resources, an operator. */
static bool
transient_error(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_TRANSACTION_ROLLBACK:	/* 40001, 40P01 */
		case ERRCODE_INSUFFICIENT_RESOURCES:	/* 53 */
		case ERRCODE_OPERATOR_INTERVENTION: /* 57 */
		case ERRCODE_CONNECTION_EXCEPTION:	/* 08 */
			return true;
	}
	return sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
}

/* store_batch_once; an error is rolled back and returned. */
static ErrorData *
try_store_batch(BatchPartition *bp, int nbp, BatchCounts *counts, BatchOutcome *outcome)
{
	ErrorData  *volatile edata = NULL;

	PG_TRY();
	{
		*outcome = store_batch_once(bp, nbp, counts);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(batch_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(batch_cxt);
		qoe_worker_report_stats();
		report_activity(STATE_IDLE, "retrying a failed batch");
	}
	PG_END_TRY();
	return edata;
}

/*
 * Store the held messages, retrying from them (never from a seek) until it
 * works, another worker turns out to own their partitions, or the worker is
 * told to stop. The writer dead-letters events storage refuses, so an error
 * here is not one event's fault: transient ones are retried quickly and
 * quietly at first, anything else with a growing backoff, loudly.
 */
static void
store_batch(void)
{
	BatchPartition *bp = palloc(sizeof(BatchPartition) * nheld);
	int			nbp = batch_partitions(bp);
	BatchCounts counts;

	for (int attempt = 0;; attempt++)
	{
		BatchOutcome outcome = BATCH_STORED;
		ErrorData  *edata = try_store_batch(bp, nbp, &counts, &outcome);
		bool		transient;
		long		wait_ms;

		if (edata == NULL && outcome == BATCH_FENCED)
		{
			ereport(LOG,
					(errmsg("qoe_ext source \"%s\": the stored offsets moved under a batch of %d messages; rereading them",
							cfg.name, nheld),
					 errdetail("Another worker stored these partitions meanwhile: one of a previous launcher, or of the source before its workers changed.")));
			qoe_slot_count_fenced(slot);
			reseek_to_stored_offsets();
			break;
		}
		if (edata == NULL)
		{
			if (failures_in_a_row > 0)
				set_state(QOE_WS_RUNNING);
			failures_in_a_row = 0;
			batch_committed(bp, nbp, &counts);
			break;
		}

		failures_in_a_row++;
		transient = transient_error(edata->sqlerrcode);
		if (transient && attempt < MAX_DEADLOCK_RETRIES)
			wait_ms = 10L << attempt;
		else
		{
			wait_ms = Min(1000L << Min(failures_in_a_row - 1, 6), MAX_RETRY_BACKOFF_MS);
			ereport(WARNING,
					(errmsg("qoe_ext source \"%s\": storing a batch of %d messages failed: %s",
							cfg.name, nheld, edata->message),
					 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
					 errhint("The same messages are stored again in %ld ms (failure %d in a row).",
							 wait_ms, failures_in_a_row)));
			qoe_slot_set_error(slot, edata->message);
			set_state(QOE_WS_RETRYING);
		}
		FreeErrorData(edata);
		if (!backoff_wait(wait_ms))
			break;
	}
	pfree(bp);
}

/* ---- the consumer ---- */

static void
conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
	char		errbuf[512];

	if (rd_kafka_conf_set(conf, key, value, errbuf, sizeof(errbuf)) != RD_KAFKA_CONF_OK)
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source \"%s\": invalid %s", cfg.name, key),
				 errdetail_internal("%s", errbuf)));
	}
}

static void
create_consumer(void)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char		errbuf[512];
	char		client_id[NAMEDATALEN + 32];
	char		fetch_wait[16];

	/*
	 * Defaults the source's properties may override. fetch.wait.max.ms is
	 * the flush interval (at most librdkafka's 500 ms): a broker may hold a
	 * fetch that long when little data waits, which would be a quiet topic's
	 * latency. queued.min.messages: librdkafka stops fetching while its
	 * queue holds that many messages and starts again late, so a worker
	 * that stores 100,000 events a second drained the default 100,000 and
	 * then waited for messages (doc/benchmarks.md); the queue is then bound
	 * by queued.max.messages.kbytes (64 MB by default) instead.
	 */
	const char *defaults[][2] = {
		{"client.id", client_id},
		{"fetch.wait.max.ms", fetch_wait},
		{"queued.min.messages", "1000000"},
	};

	/*
	 * Set last, whatever the properties say. librdkafka's assign API wants a
	 * group.id, but no group is joined (nothing subscribes) and no offset is
	 * committed to Kafka. Every assignment names its start offset, so
	 * auto.offset.reset only matters when a stored offset is out of range:
	 * an error then, which stops that partition.
	 */
	const char *fixed[][2] = {
		{"bootstrap.servers", cfg.brokers},
		{"group.id", cfg.group_id},
		{"enable.auto.commit", "false"},
		{"enable.auto.offset.store", "false"},
		{"auto.offset.reset", "error"},
	};

	snprintf(client_id, sizeof(client_id), "qoe_ext-%s-%d", cfg.name, slot->worker_index);
	snprintf(fetch_wait, sizeof(fetch_wait), "%d", Min(cfg.flush_interval_ms, 500));
	for (int i = 0; i < (int) lengthof(defaults); i++)
		conf_set(conf, defaults[i][0], defaults[i][1]);
	for (int i = 0; i < cfg.nproperties; i++)
		if (!qoe_kafka_property_set(conf, cfg.keys[i], cfg.values[i], errbuf, sizeof(errbuf)))
		{
			rd_kafka_conf_destroy(conf);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("source \"%s\": invalid kafka property \"%s\"", cfg.name, cfg.keys[i]),
					 errdetail_internal("%s", errbuf)));
		}
	for (int i = 0; i < (int) lengthof(fixed); i++)
		conf_set(conf, fixed[i][0], fixed[i][1]);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_log_cb(conf, log_cb);

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

static void
destroy_held(void)
{
	for (int i = 0; i < nheld; i++)
		rd_kafka_message_destroy(held[i]);
	nheld = 0;
}

/*
 * No group to leave, and the offsets that count are in the database: close
 * without waiting for a broker, which may be absent, nor for a commit to
 * Kafka in flight.
 */
static void
close_consumer(int code, Datum arg)
{
	if (consumer == NULL)
		return;
	destroy_held();
	if (consumer_queue != NULL)
		rd_kafka_queue_destroy(consumer_queue);
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
		slot->stalled[0] = '\0';
		if (my_generation != qoe_kafka_shared->generation)
			slot->state = QOE_WS_FREE;	/* no launcher knows this slot */
	}
	LWLockRelease(qoe_kafka_shared->lock);
}

/*
 * After partitions stopped: keep the held messages of the others; those of
 * a stopped partition are read again from its stored offset once the
 * source restarts.
 */
static int64
keep_retained_messages(void)
{
	int			kept = 0;
	int64		bytes = 0;

	for (int i = 0; i < nheld; i++)
	{
		PartitionState *p = find_partition(held[i]->partition);

		if (p != NULL && !p->stalled && held[i]->offset < p->next_offset)
		{
			bytes += held[i]->len;
			held[kept++] = held[i];
		}
		else
			rd_kafka_message_destroy(held[i]);
	}
	nheld = kept;
	return bytes;
}

/*
 * Fill held with up to batch_size wanted messages, stopping at batch_bytes,
 * at the flush interval after the first one, or when told to stop.
 */
static void
poll_batch(void)
{
	static TimestampTz discovered_at;	/* 0: look at the topic at once */
	int64		bytes = 0;
	TimestampTz deadline = 0;

	while (nheld < cfg.batch_size && bytes < cfg.batch_bytes && !must_stop())
	{
		long		timeout = Min(IDLE_POLL_MS, cfg.flush_interval_ms);
		ssize_t		got;
		int			kept;

		if (TimestampDifferenceExceeds(discovered_at, GetCurrentTimestamp(),
									   PARTITION_DISCOVERY_MS))
		{
			if (discover_partitions())
				bytes = keep_retained_messages();
			discovered_at = GetCurrentTimestamp();
		}
		kept = nheld;
		if (deadline != 0)
		{
			timeout = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (timeout <= 0)
				break;
			timeout = Min(timeout, FILL_POLL_MS);
		}

		/*
		 * A batch call waits out its timeout unless it gets all it asked
		 * for: until one message is held ask for one, so that the flush
		 * interval starts when the first message comes, not up to a poll
		 * timeout later (which would add that much to its latency).
		 */
		got = rd_kafka_consume_batch_queue(consumer_queue, (int) timeout, &held[nheld],
										   deadline == 0 ? 1 : cfg.batch_size - nheld);
		polls++;
		for (ssize_t i = 0; i < got; i++)
		{
			if (wanted(held[nheld + i]))
			{
				bytes += held[nheld + i]->len;
				held[kept++] = held[nheld + i];
			}
			else
				rd_kafka_message_destroy(held[nheld + i]);
		}
		nheld = kept;

		if (nheld > 0 && deadline == 0)
			deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), cfg.flush_interval_ms);
		else if (nheld == 0)
			deadline = 0;
		drain_callback_texts();
		if (must_stop())
			break;
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!PostmasterIsAlive())
			proc_exit(1);
	}
}

void
qoe_worker_main(Datum main_arg)
{
	int			slot_no = DatumGetInt32(main_arg);
	char		source[NAMEDATALEN];
	Oid			dboid;
	TimestampTz watermarks_at = 0;

	/* die: SIGTERM ends any wait, even for a lock or a standby */
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	if (qoe_kafka_shared == NULL || slot_no < 0 || slot_no >= QOE_MAX_WORKERS)
		elog(FATAL, "qoe_ext worker started without its shared memory slot");

	slot = &qoe_kafka_shared->slots[slot_no];
	LWLockAcquire(qoe_kafka_shared->lock, LW_EXCLUSIVE);
	strlcpy(source, slot->source, sizeof(source));
	dboid = slot->dboid;
	my_generation = slot->generation;
	slot->pid = MyProcPid;
	slot->stalled[0] = '\0';
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
	/* runs on any exit, FATAL from die included: frees held and the consumer */
	before_shmem_exit(close_consumer, 0);
	held = palloc(sizeof(rd_kafka_message_t *) * cfg.batch_size);
	set_state(QOE_WS_RUNNING);
	report_activity(STATE_IDLE, "waiting for messages");
	ereport(LOG, (errmsg("qoe_ext source \"%s\": worker %d consuming topic \"%s\"",
						 cfg.name, slot->worker_index, cfg.topic)));

	while (!must_stop())
	{
		poll_batch();

		/* a batch being filled when SIGTERM came is read again by the next worker */
		if (nheld > 0 && !must_stop())
		{
			MemoryContextSwitchTo(batch_cxt);
			store_batch();
			MemoryContextSwitchTo(worker_cxt);
			MemoryContextReset(batch_cxt);
		}
		destroy_held();
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
