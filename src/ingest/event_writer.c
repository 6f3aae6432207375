/*
 * event_writer.c: the batch writer shared by SQL ingest and the Kafka workers.
 *
 * Sessions are folded first (sessions.c), because that is where repeated
 * event_ids are found; the surviving events then go straight into their day
 * partitions with table_multi_insert and index insertion, the way COPY does,
 * without planning or executing an INSERT per batch. Row triggers on the
 * partitions are therefore not fired (see doc/ingestion.md); constraints
 * and stored generated columns are, as the executor would.
 *
 * One bad event never takes its batch with it: the batch is written in a
 * subtransaction, and when that fails with a data error (a value storage
 * refuses, a constraint, a trigger's error) the batch is split in halves and
 * each half written the same way, down to the single events that fail,
 * which go to qoe.dead_letters with the error text. k bad events in a batch
 * of n cost O(k log n) subtransactions; a clean batch costs one.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "analytics/rollup.h"
#include "core/catalog.h"
#include "ingest/event_writer.h"
#include "core/guc.h"
#include "ingest/partitions.h"
#include "ingest/session_fold.h"
#include "ingest/sessions.h"
#include "core/subxact.h"

typedef enum EventColumn
{
	EC_EVENT_TIME, EC_RECEIVED_AT, EC_EVENT_TYPE, EC_USER_ID, EC_CONTENT_ID,
	EC_PROFILE_ID, EC_SESSION_ID, EC_EVENT_ID, EC_POSITION, EC_BITRATE,
	EC_BUFFER_HEALTH, EC_BUFFERING_EVENTS, EC_DROPPED_FRAMES, EC_STALL_MS,
	EC_VST_MS, EC_FATAL, EC_ERROR_CODE, EC_DURATION, EC_RESOLUTION,
	EC_DEVICE_TYPE, EC_COUNTRY, EC_CDN_POP, EC_EXTRA, EC_COUNT
} EventColumn;

static const char *const event_column_names[EC_COUNT] = {
	"event_time", "received_at", "event_type", "user_id", "content_id",
	"profile_id", "session_id", "event_id", "position_sec", "bitrate_kbps",
	"buffer_health_sec", "buffering_events", "dropped_frames", "stall_ms",
	"vst_ms", "fatal", "error_code", "content_duration_sec", "resolution",
	"device_type", "country", "cdn_pop", "extra"
};

/* The events of one session id in a batch, while sort_by_session groups them. */
typedef struct SessionGroup
{
	const char *session_id;
	uint64		hash;
	int			count;
	int			next;			/* where its next event goes in the output */
} SessionGroup;

static uint64 group_seed;		/* random: clients cannot pick colliding ids */

static int
cmp_group_ptr(const void *a, const void *b)
{
	return strcmp((*(SessionGroup *const *) a)->session_id,
				  (*(SessionGroup *const *) b)->session_id);
}

static int
cmp_event_ptr(const void *a, const void *b)
{
	return qoe_event_order_cmp(*(QoeEvent *const *) a, *(QoeEvent *const *) b);
}

/*
 * Point out[0..n) at events[0..n) by session id (the order sessions are
 * locked in), a session's events in qoe_event_order_cmp order. A batch holds
 * far fewer sessions than events: the events are grouped through a hash
 * table of their ids, and only the distinct ids are sorted.
 */
static void
sort_by_session(QoeEvent *events, int n, QoeEvent **out)
{
	SessionGroup *groups = palloc(sizeof(SessionGroup) * n);
	SessionGroup **order;
	int		   *group_of = palloc(sizeof(int) * n);
	int		   *table;
	int			mask = 1;
	int			ngroups = 0;
	int			at = 0;

	if (group_seed == 0)
		group_seed = pg_prng_uint64(&pg_global_prng_state) | 1;
	while (mask < 2 * n)
		mask <<= 1;
	table = palloc(sizeof(int) * mask);
	memset(table, -1, sizeof(int) * mask);
	mask--;
	for (int i = 0; i < n; i++)
	{
		const char *id = events[i].session_id;
		uint64		hash = hash_bytes_extended((const unsigned char *) id, strlen(id), group_seed);
		int			slot = hash & mask;

		while (table[slot] >= 0 && (groups[table[slot]].hash != hash ||
									strcmp(groups[table[slot]].session_id, id) != 0))
			slot = (slot + 1) & mask;
		if (table[slot] < 0)
		{
			table[slot] = ngroups;
			groups[ngroups++] = (SessionGroup) {.session_id = id, .hash = hash};
		}
		groups[table[slot]].count++;
		group_of[i] = table[slot];
	}
	order = palloc(sizeof(SessionGroup *) * ngroups);
	for (int g = 0; g < ngroups; g++)
		order[g] = &groups[g];
	qsort(order, ngroups, sizeof(SessionGroup *), cmp_group_ptr);
	for (int g = 0; g < ngroups; g++)
	{
		order[g]->next = at;
		at += order[g]->count;
	}
	for (int i = 0; i < n; i++)
		out[groups[group_of[i]].next++] = &events[i];
	for (int g = 0; g < ngroups; g++)
		if (order[g]->count > 1)	/* next is now past the group's end */
			qsort(&out[order[g]->next - order[g]->count], order[g]->count,
				  sizeof(QoeEvent *), cmp_event_ptr);
	pfree(groups);
	pfree(order);
	pfree(group_of);
	pfree(table);
}

static void
set_text(Datum *values, bool *nulls, int i, const char *s)
{
	nulls[i] = (s == NULL);
	if (s != NULL)
		values[i] = CStringGetTextDatum(s);
}

static void
fill_event_row(const QoeCatalog *cat, const QoeEvent *ev, TimestampTz received_at,
			   const AttrNumber *attno, Datum *values, bool *nulls)
{
	Datum		v[EC_COUNT];
	bool		n[EC_COUNT] = {0};

	v[EC_EVENT_TIME] = TimestampTzGetDatum(ev->event_time);
	v[EC_RECEIVED_AT] = TimestampTzGetDatum(received_at);
	v[EC_EVENT_TYPE] = ObjectIdGetDatum(cat->event_type_oids[ev->type]);
	v[EC_USER_ID] = Int64GetDatum(ev->user_id);
	v[EC_CONTENT_ID] = Int64GetDatum(ev->content_id);
	v[EC_PROFILE_ID] = Int64GetDatum(ev->profile_id);
	n[EC_PROFILE_ID] = !(ev->present & QOE_HAS_PROFILE);
	set_text(v, n, EC_SESSION_ID, ev->session_id);
	set_text(v, n, EC_EVENT_ID, ev->event_id);
	v[EC_POSITION] = Float4GetDatum((float4) ev->position_sec);
	n[EC_POSITION] = !(ev->present & QOE_HAS_POSITION);
	v[EC_BITRATE] = Int32GetDatum(ev->bitrate_kbps);
	n[EC_BITRATE] = !(ev->present & QOE_HAS_BITRATE);
	v[EC_BUFFER_HEALTH] = Float4GetDatum((float4) ev->buffer_health_sec);
	n[EC_BUFFER_HEALTH] = !(ev->present & QOE_HAS_BUFFER_HEALTH);
	v[EC_BUFFERING_EVENTS] = Int32GetDatum(ev->buffering_events);
	n[EC_BUFFERING_EVENTS] = !(ev->present & QOE_HAS_BUFFERING_EVENTS);
	v[EC_DROPPED_FRAMES] = Int32GetDatum(ev->dropped_frames);
	n[EC_DROPPED_FRAMES] = !(ev->present & QOE_HAS_DROPPED_FRAMES);
	v[EC_STALL_MS] = Int32GetDatum(ev->stall_ms);
	n[EC_STALL_MS] = !(ev->present & QOE_HAS_STALL_MS);
	v[EC_VST_MS] = Int32GetDatum(ev->vst_ms);
	n[EC_VST_MS] = !(ev->present & QOE_HAS_VST_MS);
	v[EC_FATAL] = BoolGetDatum(ev->fatal);
	n[EC_FATAL] = !(ev->present & QOE_HAS_FATAL);
	set_text(v, n, EC_ERROR_CODE, ev->error_code);
	v[EC_DURATION] = Float4GetDatum((float4) ev->content_duration_sec);
	n[EC_DURATION] = !(ev->present & QOE_HAS_DURATION);
	set_text(v, n, EC_RESOLUTION, ev->resolution);
	set_text(v, n, EC_DEVICE_TYPE, ev->device_type);
	set_text(v, n, EC_COUNTRY, ev->country);
	set_text(v, n, EC_CDN_POP, ev->cdn_pop);
	n[EC_EXTRA] = (ev->extra == NULL);
	if (ev->extra != NULL)
		v[EC_EXTRA] = DirectFunctionCall1(jsonb_in, CStringGetDatum(ev->extra));

	for (int c = 0; c < EC_COUNT; c++)
	{
		values[attno[c] - 1] = v[c];
		nulls[attno[c] - 1] = n[c];
	}
}

/*
 * Rows per table_multi_insert, as COPY buffers them: the slots and the rows
 * of one chunk are reused by the next, so a batch of any size touches the
 * memory of one chunk (fresh memory costs a page fault per 4 kB).
 */
#define INSERT_CHUNK 1000

void
qoe_insert_rows(Relation rel, int n, QoeRowFill fill, void *arg)
{
	TupleDesc	desc;
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	EState	   *estate;
	ResultRelInfo *rri;
	int			nslots = Min(n, INSERT_CHUNK);
	TupleTableSlot **slots;
	MemoryContext chunk_cxt;
	CommandId	cid;

	if (n <= 0)
		return;

	/*
	 * The slots share an unpinned copy (without the constraints): a thousand
	 * pins of one descriptor collide in the resource owner's hash and cost
	 * quadratic time.
	 */
	desc = CreateTupleDescCopy(RelationGetDescr(rel));
	estate = CreateExecutorState();
	rri = makeNode(ResultRelInfo);
	slots = palloc(sizeof(TupleTableSlot *) * nslots);
	chunk_cxt = AllocSetContextCreate(CurrentMemoryContext, "qoe rows being inserted",
									  ALLOCSET_DEFAULT_SIZES);
	cid = GetCurrentCommandId(true);

	/*
	 * No range table entry: nothing below needs one (a constraint error shows
	 * the failing row only to roles that may read the table).
	 */
	InitResultRelInfo(rri, rel, 0, NULL, 0);
	ExecOpenIndices(rri, false);
	for (int i = 0; i < nslots; i++)
		slots[i] = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	for (int start = 0; start < n; start += nslots)
	{
		int			m = Min(nslots, n - start);
		MemoryContext caller = MemoryContextSwitchTo(chunk_cxt);

		for (int i = 0; i < m; i++)
		{
			TupleTableSlot *slot = slots[i];

			ExecClearTuple(slot);
			memset(slot->tts_isnull, true, sizeof(bool) * desc->natts);
			fill(arg, start + i, slot->tts_values, slot->tts_isnull);
			ExecStoreVirtualTuple(slot);
			if (constr != NULL)
			{
				if (constr->has_generated_stored)
					ExecComputeStoredGenerated(rri, estate, slot, CMD_INSERT);
				ExecConstraints(rri, slot, estate);
				ResetPerTupleExprContext(estate);
			}
		}
		table_multi_insert(rel, slots, m, cid, 0, NULL);
		if (rri->ri_NumIndices > 0)
			for (int i = 0; i < m; i++)
			{
				list_free(ExecInsertIndexTuples(rri, slots[i], estate, false, false, NULL, NIL));
				ResetPerTupleExprContext(estate);
			}
		MemoryContextSwitchTo(caller);
		/* the slots' values point into chunk_cxt: cleared before it is */
		for (int i = 0; i < m; i++)
			ExecClearTuple(slots[i]);
		MemoryContextReset(chunk_cxt);
		CHECK_FOR_INTERRUPTS();
	}
	for (int i = 0; i < nslots; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	pfree(slots);
	MemoryContextDelete(chunk_cxt);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	FreeTupleDesc(desc);
}

/* One day's events going into its partition, for qoe_insert_rows. */
typedef struct EventRows
{
	const QoeCatalog *cat;
	QoeEvent  **events;
	TimestampTz received_at;
	AttrNumber	attno[EC_COUNT];
} EventRows;

static void
fill_event(void *arg, int i, Datum *values, bool *nulls)
{
	EventRows  *r = arg;

	fill_event_row(r->cat, r->events[i], r->received_at, r->attno, values, nulls);
}

/* Insert one day's events into its partition, indexes included. */
static void
insert_into_partition(const QoeCatalog *cat, Oid partition, QoeEvent **events, int n,
					  TimestampTz received_at)
{
	Relation	rel = table_open(partition, RowExclusiveLock);
	EventRows	rows = {.cat = cat, .events = events, .received_at = received_at};

	/* map by name: a partition made after a column was dropped numbers them differently */
	for (int c = 0; c < EC_COUNT; c++)
	{
		rows.attno[c] = SPI_fnumber(RelationGetDescr(rel), event_column_names[c]);
		if (rows.attno[c] <= 0)
			elog(ERROR, "partition %s has no column \"%s\"",
				 RelationGetRelationName(rel), event_column_names[c]);
	}
	qoe_insert_rows(rel, n, fill_event, &rows);
	table_close(rel, NoLock);
}

static int
cmp_int32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/*
 * Copy events[0..n) into out[] grouped by day, days in order, keeping the
 * order of the input within a day (a stable counting sort): the input is in
 * session order, so index insertions then walk the session index in key
 * order, and a session's rows share heap pages. No comparison of events.
 */
static void
group_by_day(QoeEvent **events, int n, QoeEvent **out)
{
	int32	   *day = palloc(sizeof(int32) * n);
	int32	   *days = palloc(sizeof(int32) * n);
	int		   *first;
	int			ndays = 0;

	for (int i = 0; i < n; i++)
		day[i] = days[i] = qoe_day_of(events[i]->event_time);
	qsort(days, n, sizeof(int32), cmp_int32);
	for (int i = 0; i < n; i++)
		if (ndays == 0 || days[ndays - 1] != days[i])
			days[ndays++] = days[i];
	/* first[d]: where day d's events start in out[]; then where the next goes */
	first = palloc0(sizeof(int) * (ndays + 1));
	for (int i = 0; i < n; i++)
	{
		day[i] = (int32 *) bsearch(&day[i], days, ndays, sizeof(int32), cmp_int32) - days;
		first[day[i] + 1]++;
	}
	for (int d = 0; d < ndays; d++)
		first[d + 1] += first[d];
	for (int i = 0; i < n; i++)
		out[first[day[i]]++] = events[i];
	pfree(day);
	pfree(days);
	pfree(first);
}

/* The partition of one day of a batch; InvalidOid when it has none usable. */
typedef struct DayPartition
{
	int32		day;
	Oid			partition;
} DayPartition;

static int
cmp_day_partition(const void *a, const void *b)
{
	int32		da = ((const DayPartition *) a)->day;
	int32		db = ((const DayPartition *) b)->day;

	return (da > db) - (da < db);
}

static Oid
partition_of(const DayPartition *days, int ndays, const QoeEvent *ev)
{
	DayPartition key = {.day = qoe_day_of(ev->event_time)};
	DayPartition *found = bsearch(&key, days, ndays, sizeof(DayPartition), cmp_day_partition);

	Assert(found != NULL);
	return found->partition;
}

/*
 * Write events[0..n) (sorted by session) in the current (sub)transaction.
 * Events whose day has no usable partition go to the dead letters here.
 */
static QoeWriteResult
write_batch(const QoeCatalog *cat, QoeEvent **events, int n, TimestampTz received_at,
			const QoeSource *origins)
{
	QoeWriteResult result = {0};
	QoeEvent  **by_day = palloc(sizeof(QoeEvent *) * n);
	QoeEvent  **usable = palloc(sizeof(QoeEvent *) * n);
	QoeEvent  **kept = palloc(sizeof(QoeEvent *) * n);
	bool	   *keep = palloc(sizeof(bool) * n);
	DayPartition *days = palloc(sizeof(DayPartition) * n);
	int			ndays = 0;
	int			nusable = 0;
	int			nkept = 0;
	QoeSessionChange *changes;
	int			nchanges;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * Partitions first, days in order (two writers creating the same days
	 * lock them in the same order), before the sessions are touched.
	 */
	group_by_day(events, n, by_day);
	for (int start = 0, end; start < n; start = end)
	{
		DayPartition *d = &days[ndays++];
		char	   *problem;

		d->day = qoe_day_of(by_day[start]->event_time);
		d->partition = qoe_partition_for_day(cat, d->day, &problem);
		for (end = start + 1; end < n && qoe_day_of(by_day[end]->event_time) == d->day; end++)
			;
		if (OidIsValid(d->partition))
			continue;
		problem = psprintf("no partition can store the event: %s", problem);
		for (int i = start; i < end; i++)
			qoe_dead_letter_event(by_day[i], &origins[by_day[i]->origin], problem);
		result.dead_letters += end - start;
	}
	for (int i = 0; i < n; i++)
		if (OidIsValid(partition_of(days, ndays, events[i])))
			usable[nusable++] = events[i];

	qoe_sessions_apply(cat, usable, nusable, keep, &changes, &nchanges);
	qoe_rollup_sessions(cat, changes, nchanges);
	qoe_sessions_report_viewers(changes, nchanges);
	for (int i = 0; i < nusable; i++)
		if (keep[i])
		{
			kept[nkept++] = usable[i];
			result.stalls += usable[i]->type == QOE_EV_BUFFERING;
		}
	result.stored = nkept;
	result.duplicates = nusable - nkept;

	if (nkept > 0)
	{
		Relation	parent = table_open(cat->viewing_events_oid, RowExclusiveLock);

		group_by_day(kept, nkept, by_day);
		for (int start = 0, end; start < nkept; start = end)
		{
			int32		day = qoe_day_of(by_day[start]->event_time);

			for (end = start + 1; end < nkept && qoe_day_of(by_day[end]->event_time) == day; end++)
				;
			insert_into_partition(cat, partition_of(days, ndays, by_day[start]), &by_day[start],
								  end - start, received_at);
		}
		table_close(parent, NoLock);
		CommandCounterIncrement();
	}
	SPI_finish();
	return result;
}

/*
 * Errors one event can cause: data exceptions, integrity constraints, the
 * errors of triggers and the routines they call, program limits (a value
 * too deep or too large). Anything else (serialization failures, deadlocks,
 * lack of resources, shutdown, permissions, a missing table) is about the
 * batch or the system, not an event: it propagates, and the whole batch is
 * retried or fails.
 */
static bool
caused_by_one_event(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_DATA_EXCEPTION:
		case ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION:
		case ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION:
		case ERRCODE_EXTERNAL_ROUTINE_EXCEPTION:
		case ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION:
		case ERRCODE_SQL_ROUTINE_EXCEPTION:
		case ERRCODE_WITH_CHECK_OPTION_VIOLATION:
		case ERRCODE_PROGRAM_LIMIT_EXCEEDED:
		case ERRCODE_PLPGSQL_ERROR:
			return true;
		default:
			return false;
	}
}

/* The reason of a dead letter: the error's message (its detail would repeat the row). */
static char *
storage_refusal(const ErrorData *edata)
{
	return psprintf("could not store the event: %s", edata->message);
}

/* One call of write_batch, run by qoe_try_subtransaction. */
typedef struct BatchWrite
{
	const QoeCatalog *cat;
	QoeEvent  **events;
	int			n;
	TimestampTz received_at;
	const QoeSource *origins;
	MemoryContext work_cxt;		/* deleted after the attempt, failed or not */
	QoeWriteResult result;
} BatchWrite;

static void
write_batch_in(void *arg)
{
	BatchWrite *w = arg;

	MemoryContextSwitchTo(w->work_cxt);
	w->result = write_batch(w->cat, w->events, w->n, w->received_at, w->origins);
}

/*
 * Write events[0..n) in a subtransaction; on a data error, bisect. Each
 * level of the bisection is a subtransaction of the one that failed.
 */
static void
write_isolating(const QoeCatalog *cat, QoeEvent **events, int n, TimestampTz received_at,
				const QoeSource *origins, QoeWriteResult *total)
{
	BatchWrite	w = {
		.cat = cat, .events = events, .n = n, .received_at = received_at, .origins = origins,
		.work_cxt = AllocSetContextCreate(CurrentMemoryContext, "qoe batch writer",
										  ALLOCSET_DEFAULT_SIZES),
	};
	ErrorData  *edata;

	CHECK_FOR_INTERRUPTS();
	edata = qoe_try_subtransaction(write_batch_in, &w);
	MemoryContextDelete(w.work_cxt);
	if (edata == NULL)
	{
		total->stored += w.result.stored;
		total->stalls += w.result.stalls;
		total->duplicates += w.result.duplicates;
		total->dead_letters += w.result.dead_letters;
		return;
	}

	if (!caused_by_one_event(edata->sqlerrcode))
		ReThrowError(edata);
	if (n == 1)
	{
		qoe_dead_letter_event(events[0], &origins[events[0]->origin], storage_refusal(edata));
		total->dead_letters++;
	}
	else
	{
		write_isolating(cat, events, n / 2, received_at, origins, total);
		write_isolating(cat, events + n / 2, n - n / 2, received_at, origins, total);
	}
	FreeErrorData(edata);
}

QoeWriteResult
qoe_write_events(QoeEvent *events, int n, TimestampTz received_at, const QoeSource *origins)
{
	QoeWriteResult result = {0};
	QoeCatalog	cat;
	QoeEvent  **sorted;
	int			nest_level;

	if (n == 0)
		return result;
	qoe_catalog_lookup(&cat);
	qoe_require_ingest_privilege(cat.viewing_events_oid, ACL_INSERT, "INSERT on qoe.viewing_events");
	sorted = palloc(sizeof(QoeEvent *) * n);
	sort_by_session(events, n, sorted);

	nest_level = qoe_pin_search_path();
	write_isolating(&cat, sorted, n, received_at, origins, &result);
	qoe_unpin_search_path(nest_level);
	pfree(sorted);
	return result;
}
