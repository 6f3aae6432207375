/*
 * rollup.c: a session's contributions to the 5-minute windows, kept in
 * qoe.session_windows as the writer folds its events (doc/rollups.md).
 *
 * src/analytics/ holds the analytics layer; this file is its ingest side.
 * Attribution is by event time. Quantities that accrue over time (watch,
 * stall and pause time, bitrate x watch time, counters, the score weight)
 * are telescoped: the session's figure as of each window boundary, less its
 * figure as of the previous boundary, goes to the window between them. The
 * windows of a session therefore add up to its qoe.sessions row exactly,
 * and time is split at window boundaries. Points (the attempt, the first
 * frame and its VST, EBVS and failures) go to the window of their moment.
 *
 * A batch that only adds events later than everything the session had (the
 * fold's fast path) changes only the session's last window and later ones:
 * their changes are added to the stored rows. A session rebuilt from all its
 * events has its rows replaced. Either way, the windows touched are logged in
 * qoe.rollup_invalid, for qoe.refresh_rollups() to re-aggregate.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "analytics/rollup.h"
#include "sketch/qoe_score.h"

/* The additive columns of qoe.session_windows, in table order. */
typedef enum Figure
{
	F_EVENTS, F_ATTEMPTS, F_PLAYS, F_EBVS, F_START_FAILURES, F_PLAYBACK_FAILURES,
	F_VST_COUNT, F_VST_MS, F_WATCH_MS, F_STALL_MS, F_STALL_COUNT, F_SEEK_STALL_MS,
	F_SEEK_STALL_COUNT, F_PAUSED_MS, F_BITRATE_X_WATCH, F_BITRATE_SWITCHES,
	F_BITRATE_DOWNSWITCHES, F_DROPPED_FRAMES, F_COMPLETIONS, F_SCORE_X_WATCH, F_SCORED_SESSIONS,
	F_GOOD_SESSIONS, F_FATAL_ERRORS, F_NONFATAL_ERRORS, F_COUNT
} Figure;

static const char *const figure_names[F_COUNT] = {
	"events", "attempts", "plays", "ebvs", "start_failures", "playback_failures",
	"vst_count", "vst_ms", "watch_ms", "stall_ms", "stall_count", "seek_stall_ms",
	"seek_stall_count", "paused_ms", "bitrate_x_watch", "bitrate_switches",
	"bitrate_downswitches", "dropped_frames", "completions", "score_x_watch", "scored_sessions",
	"good_sessions", "fatal_errors", "nonfatal_errors"
};

/* The key columns, then the figures. */
typedef enum KeyColumn
{
	K_SESSION_ID, K_WINDOW_START, K_USER_ID, K_CONTENT_ID, K_COUNTRY,
	K_DEVICE_TYPE, K_CDN_POP, K_COUNT
} KeyColumn;

static const char *const key_names[K_COUNT] = {
	"session_id", "window_start", "user_id", "content_id", "country",
	"device_type", "cdn_pop"
};

#define GOOD_SCORE 70.0			/* SPEC section 4: a good session scores 70 or more */

/* Integers only: differences of integers add up exactly, in any order. */
typedef struct Figures
{
	int64		v[F_COUNT];
} Figures;

/* One row to add to qoe.session_windows. */
typedef struct WindowRow
{
	const QoeSessionChange *change;
	TimestampTz window_start;
	Figures		f;
} WindowRow;

typedef struct RowList
{
	WindowRow  *rows;
	int			n;
	int			cap;
	int			session_first;	/* this session's rows start here */
} RowList;

static TimestampTz
window_of(TimestampTz t)
{
	int64		r = t % QOE_ROLLUP_WINDOW_US;

	return t - (r < 0 ? r + QOE_ROLLUP_WINDOW_US : r);
}

static int64
ms_between(TimestampTz from, TimestampTz to)
{
	return to > from ? (to - from) / 1000 : 0;
}

/* The row of this session for window w, made if absent. */
static Figures *
row_for(RowList *list, const QoeSessionChange *c, TimestampTz w)
{
	WindowRow  *row;

	for (int i = list->n - 1; i >= list->session_first; i--)
		if (list->rows[i].window_start == w)
			return &list->rows[i].f;
	if (list->n == list->cap)
	{
		list->cap *= 2;
		list->rows = repalloc(list->rows, sizeof(WindowRow) * list->cap);
	}
	row = &list->rows[list->n++];
	memset(row, 0, sizeof(*row));
	row->change = c;
	row->window_start = w;
	return &row->f;
}

/*
 * The session's running figures as of time at. With cut, later events exist,
 * so the state the fold is in lasts until at: playing time is weighed up to
 * it and a stall of known length reaching past it counts only up to it (as
 * session_fold.c does when an event arrives). Without cut, the figures are
 * the session's own (those of its qoe.sessions row).
 */
static void
running_figures(const SessionFold *fold, double catalog_duration_sec, TimestampTz at, bool cut,
				Figures *out)
{
	SessionFold g = *fold;
	SessionMetrics m;
	double		vst,
				rebuffer,
				bitrate,
				dropped;
	double		score;
	bool		score_null;

	if (cut && !(g.flags & SF_ENDED) && at > g.last_event_at)
	{
		bool		playing = (g.flags & SF_HAS_FIRST_FRAME) &&
			!(g.flags & (SF_PAUSED | SF_STALL_OPEN));

		if (playing && g.bitrate_kbps > 0 && at > g.weighed_until)
		{
			g.bitrate_kbps_ms += (int64) g.bitrate_kbps * ms_between(g.weighed_until, at);
			g.bitrate_weight_ms += ms_between(g.weighed_until, at);
		}
		if (at < g.stall_until)
		{
			int64		beyond = ms_between(g.stall_opened_at, g.stall_until) -
				ms_between(g.stall_opened_at, at);

			if (g.flags & SF_STALL_SEEK)
				g.seek_stall_ms -= beyond;
			else
				g.stall_ms -= beyond;
		}
		g.last_event_at = at;
	}
	session_fold_metrics(&g, catalog_duration_sec, &m);

	memset(out, 0, sizeof(*out));
	out->v[F_WATCH_MS] = m.watch_ms;
	out->v[F_STALL_MS] = m.stall_ms;
	out->v[F_STALL_COUNT] = m.stall_count;
	out->v[F_SEEK_STALL_MS] = m.seek_stall_ms;
	out->v[F_SEEK_STALL_COUNT] = m.seek_stall_count;
	out->v[F_PAUSED_MS] = m.paused_ms;
	out->v[F_BITRATE_X_WATCH] = m.has_avg_bitrate ? (int64) m.avg_bitrate_kbps * m.watch_ms : 0;
	out->v[F_BITRATE_SWITCHES] = g.bitrate_switches;
	out->v[F_BITRATE_DOWNSWITCHES] = g.bitrate_downswitches;
	out->v[F_DROPPED_FRAMES] = m.dropped_frames;
	out->v[F_COMPLETIONS] = m.completed ? 1 : 0;

	/* the score as qoe.qoe_score() gives it for the session row (doc/aggregates.md) */
	vst = m.vst_ms;
	rebuffer = m.watch_ms > 0 ? (double) m.stall_ms / m.watch_ms : 0;
	bitrate = m.avg_bitrate_kbps;
	dropped = m.watch_ms > 0 ? m.dropped_frames / (m.watch_ms / 1000.0 * 30.0) : 0;
	score = qoe_score_value(m.has_vst ? &vst : NULL, m.watch_ms > 0 ? &rebuffer : NULL,
							m.has_avg_bitrate ? &bitrate : NULL,
							m.watch_ms > 0 ? &dropped : NULL, &score_null);
	if (!score_null)
	{
		out->v[F_SCORE_X_WATCH] = (int64) rint(score * m.watch_ms);
		out->v[F_SCORED_SESSIONS] = 1;
		out->v[F_GOOD_SESSIONS] = score >= GOOD_SCORE ? 1 : 0;
	}
}

/* Add now - prev to f; false when that changes nothing. */
static bool
add_difference(Figures *f, const Figures *now, const Figures *prev)
{
	bool		changed = false;

	for (int i = 0; i < F_COUNT; i++)
	{
		changed |= now->v[i] != prev->v[i];
		if (f != NULL)
			f->v[i] += now->v[i] - prev->v[i];
	}
	return changed;
}

/*
 * The fold has taken every event before window next; close the windows from
 * cur up to next. The window cur had events, so it gets a row; a window in
 * between gets one only when something accrued in it (playing, stalling).
 */
static void
cross_windows(RowList *list, const QoeSessionChange *c, const SessionFold *fold,
			  Figures *prev, TimestampTz cur, TimestampTz next)
{
	for (TimestampTz w = cur; w < next; w += QOE_ROLLUP_WINDOW_US)
	{
		Figures		now;

		CHECK_FOR_INTERRUPTS();
		running_figures(fold, c->catalog_duration_sec, w + QOE_ROLLUP_WINDOW_US, true, &now);
		if (w == cur || add_difference(NULL, &now, prev))
			add_difference(row_for(list, c, w), &now, prev);
		*prev = now;
		/* an ended session accrues nothing more: skip the empty windows */
		if (fold->flags & SF_ENDED)
			break;
	}
}

/*
 * The moments of a session, counted (sign +1) or taken back (-1). An
 * abandoned session that never started is an EBVS at its last event
 * (qoe_rollup_abandoned); a new event makes it active again.
 */
static void
add_points(RowList *list, const QoeSessionChange *c, const SessionFold *fold, bool abandoned,
		   int sign)
{
	SessionMetrics m;

	session_fold_metrics(fold, c->catalog_duration_sec, &m);
	row_for(list, c, window_of(fold->started_at))->v[F_ATTEMPTS] += sign;
	if (m.has_first_frame)
	{
		Figures    *f = row_for(list, c, window_of(fold->first_frame_at));

		f->v[F_PLAYS] += sign;
		if (m.has_vst)
		{
			f->v[F_VST_COUNT] += sign;
			f->v[F_VST_MS] += sign * (int64) m.vst_ms;
		}
	}
	if (m.ended)
	{
		Figures    *f = row_for(list, c, window_of(fold->ended_at));

		f->v[F_EBVS] += m.ebvs ? sign : 0;
		f->v[F_START_FAILURES] += m.start_failed ? sign : 0;
		f->v[F_PLAYBACK_FAILURES] += m.playback_failed ? sign : 0;
	}
	else if (abandoned && !m.has_first_frame)
		row_for(list, c, window_of(fold->last_event_at))->v[F_EBVS] += sign;
}

/*
 * The rows to add for one session: from its stored state on (fast path),
 * or from nothing (a new or rebuilt session, whose rows are replaced).
 */
static void
session_rows(RowList *list, const QoeSessionChange *c)
{
	bool		incremental = c->existed && !c->rebuilt;
	SessionFold fold;
	Figures		prev;
	Figures		now;
	TimestampTz cur = 0;
	bool		any = false;

	list->session_first = list->n;
	if (incremental)
	{
		fold = c->before;
		running_figures(&fold, c->catalog_duration_sec, 0, false, &prev);
		cur = window_of(fold.last_event_at);
		any = true;
		add_points(list, c, &fold, c->abandoned_before, -1);
	}
	else
	{
		session_fold_init(&fold);
		memset(&prev, 0, sizeof(prev));
	}
	for (int i = 0; i < c->nevents; i++)
	{
		const QoeEvent *ev = c->events[i];
		TimestampTz w = window_of(ev->event_time);
		Figures    *f;

		if (c->keep != NULL && !c->keep[i])
			continue;
		if (!any)
			cur = w;
		else if (w != cur)
			cross_windows(list, c, &fold, &prev, cur, w);
		any = true;
		cur = w;
		session_fold_apply(&fold, ev);
		f = row_for(list, c, w);
		f->v[F_EVENTS]++;
		if (ev->type == QOE_EV_ERROR)
			f->v[(ev->present & QOE_HAS_FATAL) && ev->fatal ? F_FATAL_ERRORS : F_NONFATAL_ERRORS]++;
	}
	if (!any)
		return;
	running_figures(&fold, c->catalog_duration_sec, 0, false, &now);
	add_difference(row_for(list, c, cur), &now, &prev);
	add_points(list, c, &fold, false, 1);
}

/* Plans kept for the backend's life, for the qoe.session_windows they were made for. */
static Oid	plans_relid = InvalidOid;
static SPIPlanPtr enabled_plan;
static SPIPlanPtr drop_plan;
static SPIPlanPtr rekey_plan;
static SPIPlanPtr upsert_plan;
static SPIPlanPtr invalidate_plan;

static SPIPlanPtr
prepare_kept(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}


static void
prepare_plans(Oid relid)
{
	Oid			rows_type = get_array_type(get_rel_type_id(relid));
	Oid			text_array = TEXTARRAYOID;
	Oid			timestamptz_array = TIMESTAMPTZARRAYOID;
	Oid			rekey_types[6] = {TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	StringInfoData sql;

	if (plans_relid == relid)
		return;
	if (enabled_plan != NULL)
	{
		SPI_freeplan(enabled_plan);
		SPI_freeplan(drop_plan);
		SPI_freeplan(rekey_plan);
		SPI_freeplan(upsert_plan);
		SPI_freeplan(invalidate_plan);
		enabled_plan = NULL;
	}
	enabled_plan = prepare_kept("SELECT enabled FROM qoe.rollup_status", 0, NULL);
	drop_plan = prepare_kept(
		"WITH gone AS (DELETE FROM qoe.session_windows"
		" WHERE session_id OPERATOR(pg_catalog.=) ANY ($1) RETURNING window_start)"
		" INSERT INTO qoe.rollup_invalid (window_start) SELECT DISTINCT window_start FROM gone",
		1, &text_array);
	/* a dimension first seen now (an earlier event lacked it) moves every row */
	rekey_plan = prepare_kept(
		"WITH n AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
		" pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6))"
		"   AS n(session_id, user_id, content_id, country, device_type, cdn_pop)),"
		" moved AS (UPDATE qoe.session_windows s SET user_id = n.user_id,"
		"   content_id = n.content_id, country = n.country, device_type = n.device_type,"
		"   cdn_pop = n.cdn_pop FROM n WHERE s.session_id OPERATOR(pg_catalog.=) n.session_id"
		"   RETURNING s.window_start)"
		" INSERT INTO qoe.rollup_invalid (window_start) SELECT DISTINCT window_start FROM moved",
		6, rekey_types);

	initStringInfo(&sql);
	appendStringInfoString(&sql,
						   "INSERT INTO qoe.session_windows AS s"
						   " SELECT * FROM pg_catalog.unnest($1)"
						   " ON CONFLICT (session_id, window_start) DO UPDATE SET");
	for (int i = 0; i < F_COUNT; i++)
		appendStringInfo(&sql, "%s %s = s.%s OPERATOR(pg_catalog.+) excluded.%s",
						 i > 0 ? "," : "", figure_names[i], figure_names[i], figure_names[i]);
	upsert_plan = prepare_kept(sql.data, 1, &rows_type);
	invalidate_plan = prepare_kept("INSERT INTO qoe.rollup_invalid (window_start)"
								   " SELECT pg_catalog.unnest($1)",
								   1, &timestamptz_array);
	plans_relid = relid;
}

static bool
rollups_enabled(void)
{
	bool		isnull;
	bool		enabled;

	if (SPI_execute_plan(enabled_plan, NULL, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading qoe.rollup_status failed");
	enabled = SPI_processed == 0 ||
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) ||
		isnull;
	return enabled;
}

static Datum
text_or_null(const char *s, bool *isnull)
{
	*isnull = (s == NULL);
	return s == NULL ? (Datum) 0 : CStringGetTextDatum(s);
}

static Datum
text_array(Datum *elems, bool *nulls, int n)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};

	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, TEXTOID, -1, false,
											  TYPALIGN_INT));
}

static Datum
int8_array(Datum *elems, int n)
{
	return PointerGetDatum(construct_array(elems, n, INT8OID, 8, FLOAT8PASSBYVAL,
										   TYPALIGN_DOUBLE));
}

/* Replace nothing, move or drop the rows of sessions whose rows no longer fit. */
static void
drop_and_rekey(const QoeSessionChange *changes, int n)
{
	Datum	   *ids = palloc(sizeof(Datum) * n);
	int			nids = 0;
	Datum	   *cols[6];
	bool	   *nulls[6];
	int			nrekey = 0;

	for (int i = 0; i < n; i++)
		if (changes[i].rebuilt)
			ids[nids++] = CStringGetTextDatum(changes[i].session_id);
	if (nids > 0)
	{
		Datum		arg = text_array(ids, NULL, nids);

		if (SPI_execute_plan(drop_plan, &arg, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "replacing session windows failed");
	}

	for (int c = 0; c < 6; c++)
	{
		cols[c] = palloc(sizeof(Datum) * n);
		nulls[c] = palloc0(sizeof(bool) * n);
	}
	for (int i = 0; i < n; i++)
	{
		const QoeSessionChange *ch = &changes[i];

		if (ch->rebuilt || !ch->dims_changed)
			continue;
		cols[0][nrekey] = CStringGetTextDatum(ch->session_id);
		cols[1][nrekey] = Int64GetDatum(ch->user_id);
		cols[2][nrekey] = Int64GetDatum(ch->content_id);
		cols[3][nrekey] = text_or_null(ch->country, &nulls[3][nrekey]);
		cols[4][nrekey] = text_or_null(ch->device_type, &nulls[4][nrekey]);
		cols[5][nrekey] = text_or_null(ch->cdn_pop, &nulls[5][nrekey]);
		nrekey++;
	}
	if (nrekey > 0)
	{
		Datum		args[6];

		args[0] = text_array(cols[0], NULL, nrekey);
		args[1] = int8_array(cols[1], nrekey);
		args[2] = int8_array(cols[2], nrekey);
		for (int c = 3; c < 6; c++)
			args[c] = text_array(cols[c], nulls[c], nrekey);
		if (SPI_execute_plan(rekey_plan, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "moving session windows failed");
	}
}

static int
cmp_timestamptz(const void *a, const void *b)
{
	TimestampTz x = *(const TimestampTz *) a;
	TimestampTz y = *(const TimestampTz *) b;

	return (x > y) - (x < y);
}

/* Log the windows the rows fall in, each once, for qoe.refresh_rollups(). */
static void
invalidate_windows(const RowList *list)
{
	TimestampTz *windows = palloc(sizeof(TimestampTz) * list->n);
	Datum	   *elems = palloc(sizeof(Datum) * list->n);
	int			n = 0;
	Datum		arg;

	for (int r = 0; r < list->n; r++)
		windows[r] = list->rows[r].window_start;
	qsort(windows, list->n, sizeof(TimestampTz), cmp_timestamptz);
	for (int r = 0; r < list->n; r++)
		if (r == 0 || windows[r] != windows[r - 1])
			elems[n++] = TimestampTzGetDatum(windows[r]);
	arg = PointerGetDatum(construct_array(elems, n, TIMESTAMPTZOID, sizeof(TimestampTz),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (SPI_execute_plan(invalidate_plan, &arg, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "logging stale windows failed");
}

static void
upsert_rows(Oid relid, const RowList *list)
{
	TupleDesc	desc = lookup_rowtype_tupdesc_copy(get_rel_type_id(relid), -1);
	AttrNumber	key_attno[K_COUNT];
	AttrNumber	fig_attno[F_COUNT];
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	Datum	   *rows = palloc(sizeof(Datum) * list->n);
	Datum		arg;

	for (int k = 0; k < K_COUNT; k++)
		if ((key_attno[k] = SPI_fnumber(desc, key_names[k])) <= 0)
			elog(ERROR, "qoe.session_windows has no column \"%s\"", key_names[k]);
	for (int i = 0; i < F_COUNT; i++)
		if ((fig_attno[i] = SPI_fnumber(desc, figure_names[i])) <= 0)
			elog(ERROR, "qoe.session_windows has no column \"%s\"", figure_names[i]);
	if (desc->natts != K_COUNT + F_COUNT)
		elog(ERROR, "qoe.session_windows has unexpected columns");

	for (int r = 0; r < list->n; r++)
	{
		const WindowRow *row = &list->rows[r];
		const QoeSessionChange *c = row->change;

		memset(nulls, false, sizeof(bool) * desc->natts);
		values[key_attno[K_SESSION_ID] - 1] = CStringGetTextDatum(c->session_id);
		values[key_attno[K_WINDOW_START] - 1] = TimestampTzGetDatum(row->window_start);
		values[key_attno[K_USER_ID] - 1] = Int64GetDatum(c->user_id);
		values[key_attno[K_CONTENT_ID] - 1] = Int64GetDatum(c->content_id);
		values[key_attno[K_COUNTRY] - 1] = text_or_null(c->country, &nulls[key_attno[K_COUNTRY] - 1]);
		values[key_attno[K_DEVICE_TYPE] - 1] =
			text_or_null(c->device_type, &nulls[key_attno[K_DEVICE_TYPE] - 1]);
		values[key_attno[K_CDN_POP] - 1] = text_or_null(c->cdn_pop, &nulls[key_attno[K_CDN_POP] - 1]);
		for (int i = 0; i < F_COUNT; i++)
			values[fig_attno[i] - 1] = Int64GetDatum(row->f.v[i]);
		rows[r] = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
	}
	arg = PointerGetDatum(construct_array(rows, list->n, desc->tdtypeid, -1, false,
										  TYPALIGN_DOUBLE));
	if (SPI_execute_plan(upsert_plan, &arg, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "writing session windows failed");
	invalidate_windows(list);
}

/*
 * The rollups are ingest's own bookkeeping, like a session's fold_state:
 * they are kept as the owner of qoe.session_windows, so a role that may
 * ingest needs no rights on them (and cannot write them directly). An error
 * in between restores the caller's identity with the (sub)transaction.
 */
static void
become_owner(Oid relid, Oid *save_userid, int *save_sec)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	GetUserIdAndSecContext(save_userid, save_sec);
	SetUserIdAndSecContext(owner, *save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

void
qoe_rollup_sessions(const QoeCatalog *cat, const QoeSessionChange *changes, int n)
{
	Oid			relid = qoe_relation_oid(cat->namespace_oid, "session_windows");
	RowList		list = {0};
	Oid			save_userid;
	int			save_sec;

	if (n == 0)
		return;
	become_owner(relid, &save_userid, &save_sec);
	prepare_plans(relid);
	if (rollups_enabled())
	{
		drop_and_rekey(changes, n);
		list.cap = Max(2 * n, 16);
		list.rows = palloc(sizeof(WindowRow) * list.cap);
		for (int i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			session_rows(&list, &changes[i]);
		}
		if (list.n > 0)
			upsert_rows(relid, &list);
	}
	SetUserIdAndSecContext(save_userid, save_sec);
}

void
qoe_rollup_abandoned(SPITupleTable *expired, uint64 n)
{
	QoeCatalog	cat;
	Oid			relid;
	QoeSessionChange *changes;
	RowList		list = {0};
	TupleDesc	desc = expired->tupdesc;
	Oid			save_userid;
	int			save_sec;

	if (n == 0)
		return;
	qoe_catalog_lookup(&cat);
	relid = qoe_relation_oid(cat.namespace_oid, "session_windows");
	list.cap = (int) n;
	list.rows = palloc(sizeof(WindowRow) * n);
	changes = palloc0(sizeof(QoeSessionChange) * n);
	/* read the tuples first: the next SPI call replaces them */
	for (uint64 r = 0; r < n; r++)
	{
		HeapTuple	tup = expired->vals[r];
		QoeSessionChange *c = &changes[list.n];
		bool		isnull;

		CHECK_FOR_INTERRUPTS();
		if (!DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull)))
			continue;			/* it had started: no EBVS */
		c->session_id = SPI_getvalue(tup, desc, 1);
		c->user_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		c->content_id = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		c->country = SPI_getvalue(tup, desc, 4);
		c->device_type = SPI_getvalue(tup, desc, 5);
		c->cdn_pop = SPI_getvalue(tup, desc, 6);
		list.session_first = list.n;
		row_for(&list, c, window_of(DatumGetTimestampTz(SPI_getbinval(tup, desc, 7, &isnull))))
			->v[F_EBVS] = 1;
	}
	become_owner(relid, &save_userid, &save_sec);
	prepare_plans(relid);
	if (list.n > 0 && rollups_enabled())
		upsert_rows(relid, &list);
	SetUserIdAndSecContext(save_userid, save_sec);
}
