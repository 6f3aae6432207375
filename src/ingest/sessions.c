/*
 * sessions.c: persistence of playback sessions (the fold itself is in
 * session_fold.c).
 *
 * Per batch, the sessions it touches are looked up in key order (where this
 * backend last saw their rows, else through the primary key), folded
 * forward, and written back the way the executor would: a heap update of the
 * version that was read (HOT whenever no indexed column changed, which is
 * the common case) and an INSERT ... ON CONFLICT DO NOTHING for sessions seen
 * for the first time. There is no plan to run per batch, only a row fetch
 * and a heap update per session. Concurrency is
 * optimistic: an update that finds the row changed by another transaction
 * (heap_update waits for it to finish first), or an insert that finds the
 * session created, leaves the session for another round that reads the newer
 * version and folds again on top of it.
 *
 * Fast path: every new event is later than anything the session has seen,
 * so the stored fold state is simply carried forward. Otherwise (late or
 * repeated events, or a device, country or POP the session had none of, which
 * moves its rollup rows) the session is rebuilt from its stored events plus
 * the new ones; this is also where a repeated event_id is recognised and
 * dropped. What the batch did to each session is reported to the rollups
 * (src/analytics/rollup.c).
 * New sessions are inserted with SQL, so INSERT triggers fire; updates keep
 * columns qoe_ext does not fill and check constraints, but fire no row
 * triggers, so row-level UPDATE triggers are refused (doc/security.md).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "analytics/rollup.h"
#include "core/guc.h"
#include "ingest/session_fold.h"
#include "ingest/sessions.h"
#include "publish/viewers_ledger.h"

/* Attributes that come from the earliest event carrying them. */
typedef struct SessionDims
{
	bool		known;
	bool		has_profile;
	int64		user_id;
	int64		content_id;
	int64		profile_id;
	char	   *device_type;
	char	   *country;
	char	   *cdn_pop;
	char	   *last_error_code;
} SessionDims;

typedef struct SessionWork
{
	const char *session_id;
	QoeEvent  **events;			/* this session's new events, in fold order */
	bool	   *keep;
	int			nevents;
	bool		exists;
	bool		changed;
	ItemPointerData stored_tid;	/* the stored version that was read */
	ItemPointerData stored_root;	/* where the primary key points for it */
	SessionFold fold;
	SessionDims dims;
	double		catalog_duration_sec;
	/* for the rollups: the stored session before this batch, or all its events */
	SessionFold before;
	SessionDims before_dims;
	bool		abandoned;		/* stored as abandoned (state) */
	QoeEvent  **all;			/* set when rebuilt from history */
	int			nall;
} SessionWork;

/* The columns of qoe.sessions the writer fills, in no particular order. */
typedef enum SessionColumn
{
	SC_SESSION_ID, SC_USER_ID, SC_PROFILE_ID, SC_CONTENT_ID, SC_DEVICE_TYPE,
	SC_COUNTRY, SC_CDN_POP, SC_STARTED_AT, SC_FIRST_FRAME_AT, SC_LAST_EVENT_AT,
	SC_ENDED_AT, SC_STATE, SC_VST_MS, SC_WATCH_MS, SC_STALL_COUNT, SC_STALL_MS,
	SC_SEEK_STALL_COUNT, SC_SEEK_STALL_MS, SC_PAUSED_MS, SC_AVG_BITRATE, SC_PEAK_BITRATE, SC_BITRATE_SWITCHES,
	SC_BITRATE_DOWNSWITCHES, SC_DROPPED_FRAMES, SC_MAX_POSITION, SC_DURATION,
	SC_COMPLETED, SC_EBVS, SC_START_FAILED, SC_PLAYBACK_FAILED, SC_ERROR_COUNT,
	SC_LAST_ERROR_CODE, SC_EVENT_COUNT, SC_FOLD_STATE, SC_COUNT
} SessionColumn;

static const char *const session_column_names[SC_COUNT] = {
	"session_id", "user_id", "profile_id", "content_id", "device_type",
	"country", "cdn_pop", "started_at", "first_frame_at", "last_event_at",
	"ended_at", "state", "vst_ms", "watch_ms", "stall_count", "stall_ms",
	"seek_stall_count", "seek_stall_ms", "paused_ms", "avg_bitrate_kbps", "peak_bitrate_kbps", "bitrate_switches",
	"bitrate_downswitches", "dropped_frames", "max_position_sec", "content_duration_sec",
	"completed", "ebvs", "start_failed", "playback_failed", "error_count",
	"last_error_code", "event_count", "fold_state"
};

/* Plans are kept for the backend's life, for the qoe.sessions they were made for. */
static Oid	plans_sessions_oid = InvalidOid;
static SPIPlanPtr history_plan;
static SPIPlanPtr duration_plan;
static SPIPlanPtr insert_plan;

/* qoe.sessions opened for one batch: heap, indexes, column map, slots. */
typedef struct SessionStore
{
	Relation	rel;
	Relation	pkey;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *read_slot;	/* a stored version, as read */
	TupleTableSlot *write_slot; /* the version to write */
	AttrNumber	attno[SC_COUNT];
	bool		carry_over;		/* has columns qoe_ext does not fill */
	bool		has_generated;	/* has stored generated columns */
	Oid			state_ended;
	Oid			state_active;
} SessionStore;

/*
 * Where this backend last saw each session's row: the root of its HOT chain,
 * which the primary key points at. The next batch fetches the row from there
 * without walking the key's B-tree. Only a hint: a row found there is used
 * only if it is visible and carries the session's id, else the key is probed.
 */
typedef struct RowHint
{
	uint64		key;			/* hash of the session_id */
	ItemPointerData root;
} RowHint;

#define MAX_ROW_HINTS 262144	/* about 16 MB; the table starts over when full */

static HTAB *row_hints;
static RelFileNode row_hints_node;	/* the sessions file the hints point into */
static uint64 row_hints_seed;	/* random: clients cannot pick colliding ids */

static uint64
row_hint_key(const char *session_id)
{
	return hash_bytes_extended((const unsigned char *) session_id, strlen(session_id),
							   row_hints_seed);
}

static void
row_hints_reset_if_stale(Relation rel)
{
	HASHCTL		ctl;

	if (row_hints != NULL && RelFileNodeEquals(row_hints_node, rel->rd_node) &&
		hash_get_num_entries(row_hints) < MAX_ROW_HINTS)
		return;
	if (row_hints != NULL)
		hash_destroy(row_hints);
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(RowHint);
	row_hints = hash_create("qoe_ext session row hints", 1024, &ctl, HASH_ELEM | HASH_BLOBS);
	row_hints_seed = pg_prng_uint64(&pg_global_prng_state);
	row_hints_node = rel->rd_node;
}

static void
row_hint_remember(const char *session_id, ItemPointer root)
{
	uint64		key = row_hint_key(session_id);
	RowHint    *hint = hash_search(row_hints, &key, HASH_ENTER, NULL);

	hint->root = *root;
}

static void
prepare_plans(const QoeCatalog *cat)
{
	Oid			text_type = TEXTOID;
	Oid			int8_array = INT8ARRAYOID;
	Oid			rows_type = get_array_type(get_rel_type_id(cat->sessions_oid));
	StringInfoData columns;
	StringInfoData insert_sql;

	if (plans_sessions_oid == cat->sessions_oid)
		return;
	/* the extension was (re)created: plans made for the old one are useless */
	if (history_plan != NULL)
	{
		SPI_freeplan(history_plan);
		SPI_freeplan(duration_plan);
		SPI_freeplan(insert_plan);
		history_plan = NULL;
	}
	/* columns qoe_ext does not fill are left to their defaults */
	initStringInfo(&columns);
	for (int c = 0; c < SC_COUNT; c++)
		appendStringInfo(&columns, "%s%s", c > 0 ? ", " : "", session_column_names[c]);
	initStringInfo(&insert_sql);
	appendStringInfo(&insert_sql,
					 "INSERT INTO qoe.sessions (%s) SELECT %s"
					 " FROM pg_catalog.unnest($1::qoe.sessions[])"
					 " ON CONFLICT (session_id) DO NOTHING RETURNING session_id, ctid",
					 columns.data, columns.data);
	history_plan = qoe_prepare_kept(
		"SELECT event_time, event_type, event_id, position_sec, bitrate_kbps,"
		" buffer_health_sec, buffering_events, dropped_frames, stall_ms, vst_ms,"
		" fatal, error_code, content_duration_sec, user_id, profile_id, content_id,"
		" device_type, country, cdn_pop,"
		" extra OPERATOR(pg_catalog.->>) 'seek_induced' FROM qoe.viewing_events"
		" WHERE session_id OPERATOR(pg_catalog.=) $1",
		1, &text_type);
	duration_plan = qoe_prepare_kept(
		"SELECT content_id, duration_sec FROM qoe.content"
		" WHERE content_id OPERATOR(pg_catalog.=) ANY ($1)",
		1, &int8_array);
	insert_plan = qoe_prepare_kept(insert_sql.data, 1, &rows_type);
	plans_sessions_oid = cat->sessions_oid;
}

static Oid
session_state_oid(const QoeCatalog *cat, const char *label)
{
	Oid			typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										CStringGetDatum("session_state"),
										ObjectIdGetDatum(cat->namespace_oid));

	return DatumGetObjectId(DirectFunctionCall2(enum_in, CStringGetDatum(label),
												ObjectIdGetDatum(typid)));
}

/*
 * Stored sessions are updated without the executor, so UPDATE row triggers
 * (foreign-key checks among them) would silently not fire: refuse them.
 * INSERT goes through SQL, so its triggers fire as usual.
 */
static void
refuse_update_triggers(Relation rel)
{
	TriggerDesc *trigdesc = rel->trigdesc;

	if (trigdesc == NULL)
		return;
	for (int i = 0; i < trigdesc->numtriggers; i++)
	{
		const Trigger *trig = &trigdesc->triggers[i];

		if (TRIGGER_FOR_ROW(trig->tgtype) && TRIGGER_FOR_UPDATE(trig->tgtype) &&
			trig->tgenabled != TRIGGER_DISABLED)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("qoe.sessions has the row-level UPDATE trigger \"%s\"", trig->tgname),
					 errdetail("qoe_ext updates session rows directly; row-level UPDATE triggers, foreign keys among them, would not fire."),
					 errhint("Drop or disable the trigger; INSERT and statement-level triggers are allowed.")));
	}
}

static void
store_open(const QoeCatalog *cat, SessionStore *store)
{
	TupleDesc	desc;
	int			known = 0;

	/* rows are read and updated here without the executor's checks */
	qoe_require_ingest_privilege(cat->sessions_oid, ACL_SELECT, "SELECT on qoe.sessions");
	qoe_require_ingest_privilege(cat->sessions_oid, ACL_UPDATE, "UPDATE on qoe.sessions");

	store->rel = table_open(cat->sessions_oid, RowExclusiveLock);
	refuse_update_triggers(store->rel);
	desc = RelationGetDescr(store->rel);
	for (int c = 0; c < SC_COUNT; c++)
	{
		store->attno[c] = SPI_fnumber(desc, session_column_names[c]);
		if (store->attno[c] <= 0)
			elog(ERROR, "qoe.sessions has no column \"%s\"", session_column_names[c]);
	}
	for (int a = 0; a < desc->natts; a++)
		known += !TupleDescAttr(desc, a)->attisdropped;
	store->carry_over = known > SC_COUNT;
	store->has_generated = desc->constr != NULL && desc->constr->has_generated_stored;
	store->estate = CreateExecutorState();
	store->rri = makeNode(ResultRelInfo);
	/* no range table: the executor then reports no column as "modified" */
	InitResultRelInfo(store->rri, store->rel, 0, NULL, 0);
	ExecOpenIndices(store->rri, false);
	store->pkey = NULL;
	for (int i = 0; i < store->rri->ri_NumIndices; i++)
		if (store->rri->ri_IndexRelationDescs[i]->rd_index->indisprimary)
			store->pkey = store->rri->ri_IndexRelationDescs[i];
	if (store->pkey == NULL)
		elog(ERROR, "qoe.sessions has no primary key");
	store->read_slot = table_slot_create(store->rel, NULL);
	store->write_slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	store->state_ended = session_state_oid(cat, "ended");
	store->state_active = session_state_oid(cat, "active");
}

static void
store_close(SessionStore *store)
{
	ExecDropSingleTupleTableSlot(store->read_slot);
	ExecDropSingleTupleTableSlot(store->write_slot);
	ExecCloseIndices(store->rri);
	FreeExecutorState(store->estate);
	table_close(store->rel, NoLock);
}

static void
dims_apply(SessionDims *dims, const QoeEvent *ev)
{
	if (!dims->known)
	{
		dims->known = true;
		dims->user_id = ev->user_id;
		dims->content_id = ev->content_id;
	}
	if (!dims->has_profile && (ev->present & QOE_HAS_PROFILE))
	{
		dims->has_profile = true;
		dims->profile_id = ev->profile_id;
	}
	if (dims->device_type == NULL && ev->device_type != NULL)
		dims->device_type = ev->device_type;
	if (dims->country == NULL && ev->country != NULL)
		dims->country = ev->country;
	if (dims->cdn_pop == NULL && ev->cdn_pop != NULL)
		dims->cdn_pop = ev->cdn_pop;
	if (ev->type == QOE_EV_ERROR && ev->error_code != NULL)
		dims->last_error_code = ev->error_code;
}

static void
fold_events(SessionWork *w)
{
	for (int i = 0; i < w->nevents; i++)
	{
		if (!w->keep[i])
			continue;
		dims_apply(&w->dims, w->events[i]);
		session_fold_apply(&w->fold, w->events[i]);
		w->changed = true;
	}
}

typedef struct IdAt
{
	const char *id;
	int			at;
} IdAt;

static int
cmp_id_at(const void *a, const void *b)
{
	const IdAt *x = a;
	const IdAt *y = b;
	int			c = strcmp(x->id, y->id);

	return c != 0 ? c : (x->at > y->at) - (x->at < y->at);
}

/*
 * Drop repeats of an event_id within the batch's events for this session:
 * the first in fold order is kept. Sorting makes this O(n log n) in the
 * number of events a client sent for one session.
 */
static void
drop_repeats_within_batch(SessionWork *w)
{
	IdAt	   *ids = palloc(sizeof(IdAt) * w->nevents);
	int			nids = 0;

	for (int i = 0; i < w->nevents; i++)
		if (w->keep[i] && w->events[i]->event_id != NULL)
		{
			ids[nids].id = w->events[i]->event_id;
			ids[nids].at = i;
			nids++;
		}
	qsort(ids, nids, sizeof(IdAt), cmp_id_at);
	for (int i = 1; i < nids; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (strcmp(ids[i].id, ids[i - 1].id) == 0)
			w->keep[ids[i].at] = false;
	}
	pfree(ids);
}

static char *
text_attr_or_null(TupleTableSlot *slot, AttrNumber attno)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, attno, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* Take the stored session in store->read_slot as the starting point of w. */
static void
read_stored(SessionStore *store, SessionWork *w)
{
	TupleTableSlot *slot = store->read_slot;
	const AttrNumber *attno = store->attno;
	bool		isnull;
	Datum		d;
	bytea	   *state;

	w->exists = true;
	w->stored_tid = slot->tts_tid;
	d = slot_getattr(slot, attno[SC_STATE], &isnull);
	w->abandoned = !isnull && DatumGetObjectId(d) != store->state_active &&
		DatumGetObjectId(d) != store->state_ended;
	w->dims.known = true;
	w->dims.user_id = DatumGetInt64(slot_getattr(slot, attno[SC_USER_ID], &isnull));
	d = slot_getattr(slot, attno[SC_PROFILE_ID], &isnull);
	w->dims.has_profile = !isnull;
	w->dims.profile_id = isnull ? 0 : DatumGetInt64(d);
	w->dims.content_id = DatumGetInt64(slot_getattr(slot, attno[SC_CONTENT_ID], &isnull));
	w->dims.device_type = text_attr_or_null(slot, attno[SC_DEVICE_TYPE]);
	w->dims.country = text_attr_or_null(slot, attno[SC_COUNTRY]);
	w->dims.cdn_pop = text_attr_or_null(slot, attno[SC_CDN_POP]);
	w->dims.last_error_code = text_attr_or_null(slot, attno[SC_LAST_ERROR_CODE]);
	d = slot_getattr(slot, attno[SC_FOLD_STATE], &isnull);
	state = isnull ? NULL : DatumGetByteaPP(d);
	if (isnull || VARSIZE_ANY_EXHDR(state) != sizeof(SessionFold) ||
		((SessionFold *) VARDATA_ANY(state))->version != SESSION_FOLD_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("session \"%s\" has an unreadable fold_state", w->session_id),
				 errdetail("The stored state is %zu bytes; this version of qoe_ext expects %zu.",
						   isnull ? 0 : VARSIZE_ANY_EXHDR(state), sizeof(SessionFold)),
				 errhint("The row was changed by hand or written by an incompatible version of qoe_ext.")));
	memcpy(&w->fold, VARDATA_ANY(state), sizeof(SessionFold));
}

/* Does the row in store->read_slot belong to session_id? */
static bool
read_slot_has_id(SessionStore *store, const char *session_id)
{
	bool		isnull;
	text	   *id = DatumGetTextPP(slot_getattr(store->read_slot,
												 store->attno[SC_SESSION_ID], &isnull));
	size_t		len = strlen(session_id);

	return !isnull && VARSIZE_ANY_EXHDR(id) == len && memcmp(VARDATA_ANY(id), session_id, len) == 0;
}

/* The row where this backend last saw the session, if it still holds it. */
static bool
fetch_hinted(SessionStore *store, IndexFetchTableData *fetch, Snapshot snapshot,
			 BlockNumber nblocks, SessionWork *w)
{
	uint64		key = row_hint_key(w->session_id);
	RowHint    *hint = hash_search(row_hints, &key, HASH_FIND, NULL);
	ItemPointerData tid;
	bool		call_again = false;
	bool		all_dead;

	/* vacuum may have cut the file short since; it cannot while we hold our lock */
	if (hint == NULL || ItemPointerGetBlockNumber(&hint->root) >= nblocks)
		return false;
	tid = hint->root;			/* the fetch moves it to the version found */
	if (!table_index_fetch_tuple(fetch, &tid, snapshot, store->read_slot,
								 &call_again, &all_dead) ||
		!read_slot_has_id(store, w->session_id))
		return false;
	w->stored_root = hint->root;
	return true;
}

/*
 * Find the stored version of each pending session: where this backend last
 * saw it, else through the primary key. Under READ COMMITTED the newest
 * committed versions are read, so a round after a lost race sees what the
 * other writer stored; under REPEATABLE READ the transaction's snapshot is
 * kept, and a lost race is an error instead.
 */
static void
probe_existing(SessionStore *store, SessionWork **pending, int npending)
{
	Snapshot	snapshot = RegisterSnapshot(IsolationUsesXactSnapshot()
											? GetTransactionSnapshot()
											: GetLatestSnapshot());
	IndexScanDesc scan = index_beginscan(store->rel, store->pkey, snapshot, 1, 0);
	IndexFetchTableData *fetch = table_index_fetch_begin(store->rel);
	BlockNumber nblocks = RelationGetNumberOfBlocks(store->rel);

	row_hints_reset_if_stale(store->rel);
	for (int i = 0; i < npending; i++)
	{
		SessionWork *w = pending[i];
		ScanKeyData key;
		ItemPointer root;

		w->exists = false;
		if (fetch_hinted(store, fetch, snapshot, nblocks, w))
		{
			read_stored(store, w);
			continue;
		}
		/* ScanKeyInit compares in the C collation, the key's own */
		ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ,
					CStringGetTextDatum(w->session_id));
		index_rescan(scan, &key, 1, NULL, 0);
		/* index entries of versions that are not visible come first, maybe */
		while ((root = index_getnext_tid(scan, ForwardScanDirection)) != NULL)
		{
			w->stored_root = *root; /* before the fetch moves it along the chain */
			if (index_fetch_heap(scan, store->read_slot))
			{
				read_stored(store, w);
				break;
			}
		}
	}
	table_index_fetch_end(fetch);
	index_endscan(scan);
	UnregisterSnapshot(snapshot);
}

static void
set_optional_double(HeapTuple tup, TupleDesc desc, int attno, uint32 flag,
					double *target, uint32 *present)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, attno, &isnull);

	if (!isnull)
	{
		*target = DatumGetFloat4(d);
		*present |= flag;
	}
}

static void
set_optional_int(HeapTuple tup, TupleDesc desc, int attno, uint32 flag,
				 int32 *target, uint32 *present)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, attno, &isnull);

	if (!isnull)
	{
		*target = DatumGetInt32(d);
		*present |= flag;
	}
}

/* Read a stored event back into the form the fold takes. */
static void
stored_event(const QoeCatalog *cat, HeapTuple tup, TupleDesc desc, QoeEvent *ev)
{
	bool		isnull;
	Datum		d;

	memset(ev, 0, sizeof(*ev));
	ev->event_time = DatumGetTimestampTz(SPI_getbinval(tup, desc, 1, &isnull));
	ev->type = qoe_event_type_from_oid(cat, DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull)));
	ev->event_id = SPI_getvalue(tup, desc, 3);
	set_optional_double(tup, desc, 4, QOE_HAS_POSITION, &ev->position_sec, &ev->present);
	set_optional_int(tup, desc, 5, QOE_HAS_BITRATE, &ev->bitrate_kbps, &ev->present);
	set_optional_double(tup, desc, 6, QOE_HAS_BUFFER_HEALTH, &ev->buffer_health_sec, &ev->present);
	set_optional_int(tup, desc, 7, QOE_HAS_BUFFERING_EVENTS, &ev->buffering_events, &ev->present);
	set_optional_int(tup, desc, 8, QOE_HAS_DROPPED_FRAMES, &ev->dropped_frames, &ev->present);
	set_optional_int(tup, desc, 9, QOE_HAS_STALL_MS, &ev->stall_ms, &ev->present);
	set_optional_int(tup, desc, 10, QOE_HAS_VST_MS, &ev->vst_ms, &ev->present);
	d = SPI_getbinval(tup, desc, 11, &isnull);
	if (!isnull)
	{
		ev->fatal = DatumGetBool(d);
		ev->present |= QOE_HAS_FATAL;
	}
	ev->error_code = SPI_getvalue(tup, desc, 12);
	set_optional_double(tup, desc, 13, QOE_HAS_DURATION, &ev->content_duration_sec, &ev->present);
	ev->user_id = DatumGetInt64(SPI_getbinval(tup, desc, 14, &isnull));
	d = SPI_getbinval(tup, desc, 15, &isnull);
	if (!isnull)
	{
		ev->profile_id = DatumGetInt64(d);
		ev->present |= QOE_HAS_PROFILE;
	}
	ev->content_id = DatumGetInt64(SPI_getbinval(tup, desc, 16, &isnull));
	ev->device_type = SPI_getvalue(tup, desc, 17);
	ev->country = SPI_getvalue(tup, desc, 18);
	ev->cdn_pop = SPI_getvalue(tup, desc, 19);
	/* a JSON boolean; anything else came from before the field was known */
	d = SPI_getbinval(tup, desc, 20, &isnull);
	if (!isnull)
	{
		char	   *flag = TextDatumGetCString(d);

		ev->seek_induced = (strcmp(flag, "true") == 0);
		if (ev->seek_induced || strcmp(flag, "false") == 0)
			ev->present |= QOE_HAS_SEEK_INDUCED;
	}
}

static int
cmp_event_ptr(const void *a, const void *b)
{
	return qoe_event_order_cmp(*(QoeEvent *const *) a, *(QoeEvent *const *) b);
}

static int
cmp_cstring_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Late or repeated events: rebuild the session from everything stored for it
 * plus the new events that are not repeats.
 */
static void
rebuild_from_history(const QoeCatalog *cat, SessionWork *w)
{
	Datum		arg = CStringGetTextDatum(w->session_id);
	int			ret = SPI_execute_plan(history_plan, &arg, NULL, false, 0);
	uint64		nstored = SPI_processed;
	QoeEvent   *stored;
	QoeEvent  **all;
	char	  **stored_ids;
	int			nids = 0;
	int			nall = 0;

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading events of session \"%s\" failed: %s",
			 w->session_id, SPI_result_code_string(ret));

	stored = palloc(sizeof(QoeEvent) * Max(nstored, 1));
	stored_ids = palloc(sizeof(char *) * Max(nstored, 1));
	all = palloc(sizeof(QoeEvent *) * (nstored + w->nevents));
	for (uint64 r = 0; r < nstored; r++)
	{
		CHECK_FOR_INTERRUPTS();
		stored_event(cat, SPI_tuptable->vals[r], SPI_tuptable->tupdesc, &stored[r]);
		all[nall++] = &stored[r];
		if (stored[r].event_id != NULL)
			stored_ids[nids++] = stored[r].event_id;
	}
	qsort(stored_ids, nids, sizeof(char *), cmp_cstring_ptr);

	for (int i = 0; i < w->nevents; i++)
	{
		const char *id = w->events[i]->event_id;

		w->keep[i] = (id == NULL ||
					  bsearch(&id, stored_ids, nids, sizeof(char *), cmp_cstring_ptr) == NULL);
	}
	drop_repeats_within_batch(w);
	for (int i = 0; i < w->nevents; i++)
		if (w->keep[i])
			all[nall++] = w->events[i];
	qsort(all, nall, sizeof(QoeEvent *), cmp_event_ptr);

	session_fold_init(&w->fold);
	memset(&w->dims, 0, sizeof(w->dims));
	w->changed = false;
	for (int i = 0; i < nall; i++)
	{
		dims_apply(&w->dims, all[i]);
		session_fold_apply(&w->fold, all[i]);
	}
	for (int i = 0; i < w->nevents; i++)
		w->changed |= w->keep[i];
	w->all = all;
	w->nall = nall;
}

/*
 * Whether the batch gives the session a device, country or POP it had none
 * of: its rollup rows then move to another group, which the rollups can only
 * take back from all its events (the rebuild).
 */
static bool
fills_missing_dim(const SessionWork *w)
{
	for (int i = 0; i < w->nevents; i++)
	{
		const QoeEvent *ev = w->events[i];

		if ((w->dims.device_type == NULL && ev->device_type != NULL) ||
			(w->dims.country == NULL && ev->country != NULL) ||
			(w->dims.cdn_pop == NULL && ev->cdn_pop != NULL))
			return true;
	}
	return false;
}

static void
fold_forward(const QoeCatalog *cat, SessionWork *w)
{
	/* a session may come round again after losing a race: start afresh */
	for (int i = 0; i < w->nevents; i++)
		w->keep[i] = true;
	w->changed = false;
	w->before = w->fold;
	w->before_dims = w->dims;
	w->all = NULL;
	if (!w->exists)
	{
		session_fold_init(&w->fold);
		memset(&w->dims, 0, sizeof(w->dims));
		drop_repeats_within_batch(w);
		fold_events(w);
	}
	else if (w->events[0]->event_time > w->fold.last_event_at && !fills_missing_dim(w))
	{
		drop_repeats_within_batch(w);
		fold_events(w);
	}
	else
		rebuild_from_history(cat, w);
}

/* A session waiting for the catalog duration of its title. */
typedef struct DurationWant
{
	int64		content_id;
	SessionWork *work;
} DurationWant;

static int
cmp_duration_want(const void *a, const void *b)
{
	int64		x = ((const DurationWant *) a)->content_id;
	int64		y = ((const DurationWant *) b)->content_id;

	return (x > y) - (x < y);
}

/*
 * Title durations from qoe.content for sessions whose events carry none (now
 * or before this batch: the rollups weigh both states).
 * The sessions are sorted by title, so each catalog row finds its sessions
 * by binary search.
 */
static void
lookup_catalog_durations(SessionWork **pending, int npending)
{
	DurationWant *wants = palloc(sizeof(DurationWant) * npending);
	Datum	   *ids = palloc(sizeof(Datum) * npending);
	int			nwants = 0;
	int			nids = 0;
	Datum		arg;
	int			ret;

	for (int i = 0; i < npending; i++)
		if (pending[i]->changed && (pending[i]->fold.content_duration_sec <= 0 ||
									(pending[i]->exists && pending[i]->before.content_duration_sec <= 0)))
		{
			wants[nwants].content_id = pending[i]->dims.content_id;
			wants[nwants].work = pending[i];
			nwants++;
		}
	if (nwants == 0)
		return;
	qsort(wants, nwants, sizeof(DurationWant), cmp_duration_want);
	for (int i = 0; i < nwants; i++)
		if (i == 0 || wants[i].content_id != wants[i - 1].content_id)
			ids[nids++] = Int64GetDatum(wants[i].content_id);
	arg = PointerGetDatum(construct_array(ids, nids, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	ret = SPI_execute_plan(duration_plan, &arg, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading title durations failed: %s", SPI_result_code_string(ret));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int64		content_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r],
															 SPI_tuptable->tupdesc, 1, &isnull));
		Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull);
		int			lo = 0;
		int			hi = nwants;

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		while (lo < hi)			/* the first want of this title */
		{
			int			mid = lo + (hi - lo) / 2;

			if (wants[mid].content_id < content_id)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < nwants && wants[lo].content_id == content_id; lo++)
			wants[lo].work->catalog_duration_sec = DatumGetFloat4(d);
	}
}

static Datum
text_datum_or_null(const char *s, bool *isnull)
{
	*isnull = (s == NULL);
	return s == NULL ? (Datum) 0 : CStringGetTextDatum(s);
}

/*
 * Set the columns qoe_ext fills in a qoe.sessions row of values/nulls; the
 * others are left as the caller set them.
 */
static void
fill_session_values(const SessionStore *store, SessionWork *w, Datum *values, bool *nulls)
{
	Datum		v[SC_COUNT];
	bool		n[SC_COUNT] = {0};
	SessionMetrics m;
	bytea	   *state = palloc(VARHDRSZ + sizeof(SessionFold));
	const SessionFold *f = &w->fold;

	session_fold_metrics(f, w->catalog_duration_sec, &m);
	SET_VARSIZE(state, VARHDRSZ + sizeof(SessionFold));
	memcpy(VARDATA(state), f, sizeof(SessionFold));

	v[SC_SESSION_ID] = CStringGetTextDatum(w->session_id);
	v[SC_USER_ID] = Int64GetDatum(w->dims.user_id);
	v[SC_PROFILE_ID] = Int64GetDatum(w->dims.profile_id);
	n[SC_PROFILE_ID] = !w->dims.has_profile;
	v[SC_CONTENT_ID] = Int64GetDatum(w->dims.content_id);
	v[SC_DEVICE_TYPE] = text_datum_or_null(w->dims.device_type, &n[SC_DEVICE_TYPE]);
	v[SC_COUNTRY] = text_datum_or_null(w->dims.country, &n[SC_COUNTRY]);
	v[SC_CDN_POP] = text_datum_or_null(w->dims.cdn_pop, &n[SC_CDN_POP]);
	v[SC_STARTED_AT] = TimestampTzGetDatum(f->started_at);
	v[SC_FIRST_FRAME_AT] = TimestampTzGetDatum(f->first_frame_at);
	n[SC_FIRST_FRAME_AT] = !m.has_first_frame;
	v[SC_LAST_EVENT_AT] = TimestampTzGetDatum(f->last_event_at);
	v[SC_ENDED_AT] = TimestampTzGetDatum(f->ended_at);
	n[SC_ENDED_AT] = !m.ended;
	v[SC_STATE] = ObjectIdGetDatum(m.ended ? store->state_ended : store->state_active);
	v[SC_VST_MS] = Int32GetDatum(m.vst_ms);
	n[SC_VST_MS] = !m.has_vst;
	v[SC_WATCH_MS] = Int64GetDatum(m.watch_ms);
	v[SC_STALL_COUNT] = Int32GetDatum(m.stall_count);
	v[SC_STALL_MS] = Int64GetDatum(m.stall_ms);
	v[SC_SEEK_STALL_COUNT] = Int32GetDatum(m.seek_stall_count);
	v[SC_SEEK_STALL_MS] = Int64GetDatum(m.seek_stall_ms);
	v[SC_PAUSED_MS] = Int64GetDatum(m.paused_ms);
	v[SC_AVG_BITRATE] = Int32GetDatum(m.avg_bitrate_kbps);
	n[SC_AVG_BITRATE] = !m.has_avg_bitrate;
	v[SC_PEAK_BITRATE] = Int32GetDatum(f->peak_bitrate_kbps);
	n[SC_PEAK_BITRATE] = f->peak_bitrate_kbps == 0;
	v[SC_BITRATE_SWITCHES] = Int32GetDatum(f->bitrate_switches);
	v[SC_BITRATE_DOWNSWITCHES] = Int32GetDatum(f->bitrate_downswitches);
	v[SC_DROPPED_FRAMES] = Int32GetDatum(m.dropped_frames);
	v[SC_MAX_POSITION] = Float4GetDatum((float4) f->max_position_sec);
	n[SC_MAX_POSITION] = !m.has_position;
	v[SC_DURATION] = Float4GetDatum((float4) m.content_duration_sec);
	n[SC_DURATION] = m.content_duration_sec <= 0;
	v[SC_COMPLETED] = BoolGetDatum(m.completed);
	v[SC_EBVS] = BoolGetDatum(m.ebvs);
	v[SC_START_FAILED] = BoolGetDatum(m.start_failed);
	v[SC_PLAYBACK_FAILED] = BoolGetDatum(m.playback_failed);
	v[SC_ERROR_COUNT] = Int32GetDatum(f->error_count);
	v[SC_LAST_ERROR_CODE] = text_datum_or_null(w->dims.last_error_code, &n[SC_LAST_ERROR_CODE]);
	v[SC_EVENT_COUNT] = Int32GetDatum(f->event_count);
	v[SC_FOLD_STATE] = PointerGetDatum(state);

	for (int c = 0; c < SC_COUNT; c++)
	{
		values[store->attno[c] - 1] = v[c];
		nulls[store->attno[c] - 1] = n[c];
	}
}

/*
 * Update a stored session in place of the version that was read, as an
 * UPDATE would: columns qoe_ext does not fill keep their values, stored
 * generated columns are computed, NOT NULL and CHECK constraints are checked.
 * Returns false when another transaction changed (or deleted) it first.
 */
static bool
update_session(SessionStore *store, SessionWork *w)
{
	TupleTableSlot *slot = store->write_slot;
	int			natts = slot->tts_tupleDescriptor->natts;
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	bool		update_indexes;
	TM_Result	result;

	ExecClearTuple(slot);
	if (store->carry_over)
	{
		/* the version that was read: our pin keeps it until the update */
		if (!table_tuple_fetch_row_version(store->rel, &w->stored_tid, SnapshotAny,
										   store->read_slot))
			return false;
		slot_getallattrs(store->read_slot);
		memcpy(slot->tts_values, store->read_slot->tts_values, sizeof(Datum) * natts);
		memcpy(slot->tts_isnull, store->read_slot->tts_isnull, sizeof(bool) * natts);
	}
	else
		memset(slot->tts_isnull, true, sizeof(bool) * natts);
	fill_session_values(store, w, slot->tts_values, slot->tts_isnull);
	ExecStoreVirtualTuple(slot);
	/* every generated column is computed again, as qoe_ext rewrites the row */
	if (store->has_generated)
		ExecComputeStoredGenerated(store->rri, store->estate, slot, CMD_INSERT);
	if (slot->tts_tupleDescriptor->constr != NULL)
		ExecConstraints(store->rri, slot, store->estate);
	result = table_tuple_update(store->rel, &w->stored_tid, slot,
								GetCurrentCommandId(true), InvalidSnapshot,
								InvalidSnapshot, true, &tmfd, &lockmode, &update_indexes);
	switch (result)
	{
		case TM_Ok:
			/*
			 * Not a HOT update (state or started_at changed). update=false:
			 * the "key unchanged" hint needs a range table this EState has not.
			 */
			if (update_indexes)
			{
				list_free(ExecInsertIndexTuples(store->rri, slot, store->estate,
												false, false, NULL, NIL));
				w->stored_root = slot->tts_tid; /* a new HOT chain starts here */
			}
			row_hint_remember(w->session_id, &w->stored_root);
			ResetPerTupleExprContext(store->estate);
			return true;
		case TM_Updated:
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent update of session \"%s\"",
								w->session_id),
						 errhint("Retry the batch.")));
			return false;
		default:
			elog(ERROR, "unexpected result %d updating session \"%s\"",
				 (int) result, w->session_id);
	}
	return false;				/* keep the compiler quiet */
}

/*
 * Insert the new sessions; those another writer created first are added to
 * lost[]. Returns the new length of lost[].
 */
static int
insert_sessions(SessionStore *store, SessionWork **news, int nnews,
				SessionWork **lost, int nlost)
{
	TupleDesc	desc = RelationGetDescr(store->rel);
	Datum	   *rows = palloc(sizeof(Datum) * nnews);
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	Datum		arg;
	int			ret;
	char	  **done;
	int			ndone;

	/* only the columns qoe_ext fills are inserted: the others get their defaults */
	memset(nulls, true, sizeof(bool) * desc->natts);
	for (int i = 0; i < nnews; i++)
	{
		fill_session_values(store, news[i], values, nulls);
		rows[i] = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
	}
	arg = PointerGetDatum(construct_array(rows, nnews, desc->tdtypeid, -1, false,
										  TYPALIGN_DOUBLE));
	ret = SPI_execute_plan(insert_plan, &arg, NULL, false, 0);
	if (ret != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "inserting sessions failed: %s", SPI_result_code_string(ret));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;

		row_hint_remember(SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1),
						  (ItemPointer) DatumGetPointer(SPI_getbinval(SPI_tuptable->vals[r],
															SPI_tuptable->tupdesc, 2, &isnull)));
	}
	if ((int) SPI_processed == nnews)
		return nlost;

	ndone = (int) SPI_processed;
	done = palloc(sizeof(char *) * Max(ndone, 1));
	for (int r = 0; r < ndone; r++)
		done[r] = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
	qsort(done, ndone, sizeof(char *), cmp_cstring_ptr);
	for (int i = 0; i < nnews; i++)
		if (bsearch(&news[i]->session_id, done, ndone, sizeof(char *), cmp_cstring_ptr) == NULL)
			lost[nlost++] = news[i];
	return nlost;
}

/*
 * Write the changed sessions, stored ones first (in key order, the order
 * every writer locks them in), then the new ones. Returns the sessions
 * another transaction changed or created first; the caller folds those again
 * on top of what is now stored.
 */
static int
write_sessions(SessionStore *store, SessionWork **pending, int npending, SessionWork **lost)
{
	SessionWork **news = palloc(sizeof(SessionWork *) * npending);
	int			nnews = 0;
	int			nlost = 0;

	for (int i = 0; i < npending; i++)
	{
		SessionWork *w = pending[i];

		if (!w->changed)
			continue;
		if (!w->exists)
			news[nnews++] = w;
		else if (!update_session(store, w))
			lost[nlost++] = w;
	}
	if (nnews > 0)
		nlost = insert_sessions(store, news, nnews, lost, nlost);
	return nlost;
}

static int
cmp_work_ptr(const void *a, const void *b)
{
	const SessionWork *wa = *(SessionWork *const *) a;
	const SessionWork *wb = *(SessionWork *const *) b;

	return (wa > wb) - (wa < wb);
}

/* What the batch did to each changed session, for the rollups. */
static QoeSessionChange *
report_changes(SessionWork *works, int nworks, int *nchanges)
{
	QoeSessionChange *changes = palloc(sizeof(QoeSessionChange) * Max(nworks, 1));
	int			n = 0;

	for (int i = 0; i < nworks; i++)
	{
		SessionWork *w = &works[i];
		QoeSessionChange *c = &changes[n];

		if (!w->changed)
			continue;
		c->session_id = w->session_id;
		c->existed = w->exists;
		c->before = w->before;
		c->abandoned_before = w->exists && w->abandoned;
		c->after = w->fold;
		c->catalog_duration_sec = w->catalog_duration_sec;
		c->user_id = w->dims.user_id;
		c->content_id = w->dims.content_id;
		c->device_type = w->dims.device_type;
		c->country = w->dims.country;
		c->cdn_pop = w->dims.cdn_pop;
		c->before_user_id = w->before_dims.user_id;
		c->before_content_id = w->before_dims.content_id;
		c->before_device_type = w->before_dims.device_type;
		c->before_country = w->before_dims.country;
		c->before_cdn_pop = w->before_dims.cdn_pop;
		c->events = w->events;
		c->keep = w->keep;
		c->nevents = w->nevents;
		c->all = w->all;
		c->nall = w->nall;
		n++;
	}
	*nchanges = n;
	return changes;
}

void
qoe_sessions_apply(const QoeCatalog *cat, QoeEvent **events, int n, bool *keep,
				   QoeSessionChange **changes, int *nchanges)
{
	SessionWork *works;
	SessionWork **pending;
	SessionWork **lost;
	int			nsessions = 0;
	int			nworks = 0;
	int			npending;
	SessionStore store;

	/* events come sorted by session: count the sessions, not the events */
	for (int i = 0; i < n; i++)
		nsessions += (i == 0 || strcmp(events[i - 1]->session_id, events[i]->session_id) != 0);
	works = palloc0(sizeof(SessionWork) * Max(nsessions, 1));
	pending = palloc(sizeof(SessionWork *) * Max(nsessions, 1));
	lost = palloc(sizeof(SessionWork *) * Max(nsessions, 1));
	prepare_plans(cat);
	store_open(cat, &store);
	for (int i = 0; i < n; i++)
	{
		keep[i] = true;
		if (nworks == 0 || strcmp(works[nworks - 1].session_id, events[i]->session_id) != 0)
		{
			works[nworks].session_id = events[i]->session_id;
			works[nworks].events = &events[i];
			works[nworks].keep = &keep[i];
			nworks++;
		}
		works[nworks - 1].nevents++;
	}
	for (int i = 0; i < nworks; i++)
		pending[i] = &works[i];
	npending = nworks;

	/* a session another writer changed under us is folded again, on top of it */
	for (int attempt = 0; npending > 0; attempt++)
	{
		if (attempt == 10)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not update %d sessions written concurrently", npending),
					 errhint("Retry the batch.")));
		probe_existing(&store, pending, npending);
		for (int i = 0; i < npending; i++)
			fold_forward(cat, pending[i]);
		lookup_catalog_durations(pending, npending);
		npending = write_sessions(&store, pending, npending, lost);
		/* works[] is in key order, so pointer order is the order to lock in */
		memcpy(pending, lost, sizeof(SessionWork *) * npending);
		qsort(pending, npending, sizeof(SessionWork *), cmp_work_ptr);
	}
	store_close(&store);
	*changes = report_changes(works, nworks, nchanges);
}

/*
 * Playing now, in qoe.concurrent_viewers' terms: state active (not ended, not
 * abandoned), a first frame, and an event after cutoff.
 */
static bool
playing(const SessionFold *fold, bool abandoned, TimestampTz cutoff)
{
	return !abandoned && !(fold->flags & SF_ENDED) && (fold->flags & SF_HAS_FIRST_FRAME) &&
		fold->last_event_at > cutoff;
}

void
qoe_sessions_report_viewers(const QoeSessionChange *changes, int nchanges)
{
	/*
	 * The clock now, close to the commit; a session timing out between here
	 * and the publisher's round is the ledger's (it times sessions out itself).
	 */
	TimestampTz cutoff = GetCurrentTimestamp() - (int64) qoe_session_timeout_s * USECS_PER_SEC;

	for (int i = 0; i < nchanges; i++)
	{
		const QoeSessionChange *c = &changes[i];
		bool		moved = c->existed && c->content_id != c->before_content_id;
		bool		was = c->existed && playing(&c->before, c->abandoned_before, cutoff);
		bool		is = playing(&c->after, false, cutoff);

		/* every change: the ledger times a session out by its last event */
		bool		played = (c->after.flags & SF_HAS_FIRST_FRAME) != 0;

		qoe_ledger_note(c->session_id, c->content_id, c->after.last_event_at,
						!(c->after.flags & SF_ENDED) && played,
						was != is || (is && moved),
						!c->existed || moved || c->after.started_at != c->before.started_at ||
						played != ((c->before.flags & SF_HAS_FIRST_FRAME) != 0),
						played, c->after.started_at);
	}
}

uint64
qoe_sessions_expire(int64 timeout_us)
{
	Oid			argtypes[1] = {INTERVALOID};
	Datum		arg;
	Interval   *timeout = palloc0(sizeof(Interval));
	int			ret;
	uint64		expired;

	timeout->time = timeout_us;
	arg = IntervalPGetDatum(timeout);
	ret = SPI_execute_with_args(
		"UPDATE qoe.sessions SET state = 'abandoned'::qoe.session_state,"
		" ebvs = first_frame_at IS NULL AND NOT start_failed"
		" WHERE state OPERATOR(pg_catalog.=) 'active'::qoe.session_state"
		" AND last_event_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) $1)"
		" RETURNING " QOE_ROLLUP_ABANDONED_COLUMNS,
		1, argtypes, &arg, NULL, false, 0);
	if (ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "expiring sessions failed: %s", SPI_result_code_string(ret));
	expired = SPI_processed;
	for (uint64 r = 0; r < expired; r++)
	{
		bool		isnull;
		char	   *session_id = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);

		qoe_ledger_note(session_id,
						DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 3, &isnull)),
						DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 7, &isnull)),
						false, true, false, false, 0);
		pfree(session_id);
	}
	/* an abandoned session that never started is an EBVS, in the rollups too */
	qoe_rollup_abandoned(SPI_tuptable, expired);
	return expired;
}
