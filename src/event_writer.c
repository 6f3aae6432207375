/*
 * event_writer.c: the batch writer shared by SQL ingest and the Kafka workers.
 *
 * Sessions are folded first (sessions.c), because that is where repeated
 * event_ids are found; the surviving events then go straight into their day
 * partitions with table_multi_insert and index insertion, the way COPY does,
 * without planning or executing an INSERT per batch. Row triggers on the
 * partitions are therefore not fired (see doc/ingestion.md).
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "event_writer.h"
#include "guc.h"
#include "partitions.h"
#include "session_fold.h"
#include "sessions.h"

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

/* The day whose premake this backend has already done. */
static int32 premade_through_today = -1;

static int
cmp_by_session(const void *a, const void *b)
{
	const QoeEvent *ea = *(QoeEvent *const *) a;
	const QoeEvent *eb = *(QoeEvent *const *) b;
	int			c = strcmp(ea->session_id, eb->session_id);

	return c != 0 ? c : qoe_event_order_cmp(ea, eb);
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

/* Insert one day's events into its partition, indexes included. */
static void
insert_into_partition(const QoeCatalog *cat, Oid partition, QoeEvent **events, int n,
					  TimestampTz received_at)
{
	Relation	rel = table_open(partition, RowExclusiveLock);

	/*
	 * The slots share an unpinned copy: a thousand pins of one descriptor
	 * collide in the resource owner's hash and cost quadratic time.
	 */
	TupleDesc	desc = CreateTupleDescCopy(RelationGetDescr(rel));
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	TupleTableSlot **slots = palloc(sizeof(TupleTableSlot *) * n);
	AttrNumber	attno[EC_COUNT];

	/* map by name: a partition made after a column was dropped numbers them differently */
	for (int c = 0; c < EC_COUNT; c++)
	{
		attno[c] = SPI_fnumber(desc, event_column_names[c]);
		if (attno[c] <= 0)
			elog(ERROR, "partition %s has no column \"%s\"",
				 RelationGetRelationName(rel), event_column_names[c]);
	}

	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	for (int i = 0; i < n; i++)
	{
		slots[i] = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
		ExecClearTuple(slots[i]);
		memset(slots[i]->tts_isnull, true, sizeof(bool) * desc->natts);
		fill_event_row(cat, events[i], received_at, attno,
					   slots[i]->tts_values, slots[i]->tts_isnull);
		ExecStoreVirtualTuple(slots[i]);
	}
	table_multi_insert(rel, slots, n, GetCurrentCommandId(true), 0, NULL);
	for (int i = 0; i < n; i++)
	{
		list_free(ExecInsertIndexTuples(rri, slots[i], estate, false, false, NULL, NIL));
		ResetPerTupleExprContext(estate);
		ExecDropSingleTupleTableSlot(slots[i]);
	}
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
}

static int
cmp_by_day(const void *a, const void *b)
{
	int32		da = qoe_day_of((*(QoeEvent *const *) a)->event_time);
	int32		db = qoe_day_of((*(QoeEvent *const *) b)->event_time);

	/*
	 * Within a day, keep session order: index insertions then walk the
	 * session index in key order, and a session's rows share heap pages.
	 */
	return da != db ? (da > db) - (da < db) : cmp_by_session(a, b);
}

QoeWriteResult
qoe_write_events(QoeEvent *events, int n, TimestampTz received_at, const QoeSource *origins)
{
	QoeWriteResult result = {0};
	MemoryContext batch_cxt;
	MemoryContext old_cxt;
	QoeCatalog	cat;
	QoeEvent  **sorted;
	QoeEvent  **kept;
	bool	   *keep;
	int			nkept = 0;
	int32		today = qoe_day_of(received_at);

	if (n == 0)
		return result;
	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "qoe batch writer",
									  ALLOCSET_DEFAULT_SIZES);
	old_cxt = MemoryContextSwitchTo(batch_cxt);

	qoe_catalog_lookup(&cat);
	qoe_require_ingest_privilege(cat.viewing_events_oid, ACL_INSERT, "INSERT on qoe.viewing_events");
	sorted = palloc(sizeof(QoeEvent *) * n);
	kept = palloc(sizeof(QoeEvent *) * n);
	keep = palloc(sizeof(bool) * n);
	for (int i = 0; i < n; i++)
		sorted[i] = &events[i];
	qsort(sorted, n, sizeof(QoeEvent *), cmp_by_session);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* partitions first, before this batch holds any lock on viewing_events */
	if (premade_through_today != today)
	{
		qoe_premake_partitions(&cat, qoe_partition_premake_days);
		premade_through_today = today;
	}
	for (int i = 0; i < n; i++)
	{
		bool		created;

		if (i == 0 || qoe_day_of(sorted[i]->event_time) != qoe_day_of(sorted[i - 1]->event_time))
			(void) qoe_partition_for_day(&cat, qoe_day_of(sorted[i]->event_time), &created);
	}

	qoe_sessions_apply(&cat, sorted, n, keep);
	for (int i = 0; i < n; i++)
		if (keep[i])
			kept[nkept++] = sorted[i];
	result.stored = nkept;
	result.duplicates = n - nkept;

	if (nkept > 0)
	{
		Relation	parent = table_open(cat.viewing_events_oid, RowExclusiveLock);

		qsort(kept, nkept, sizeof(QoeEvent *), cmp_by_day);
		for (int start = 0, end; start < nkept; start = end)
		{
			int32		day = qoe_day_of(kept[start]->event_time);
			bool		created;
			Oid			partition = qoe_partition_for_day(&cat, day, &created);

			for (end = start + 1; end < nkept && qoe_day_of(kept[end]->event_time) == day; end++)
				;
			insert_into_partition(&cat, partition, &kept[start], end - start, received_at);
		}
		table_close(parent, NoLock);
		CommandCounterIncrement();
	}
	SPI_finish();

	MemoryContextSwitchTo(old_cxt);
	MemoryContextDelete(batch_cxt);
	return result;
}
