/*
 * rollup.c: the changes a batch makes to its sessions' contributions to the
 * 5-minute windows, appended to qoe.session_window_deltas as the writer
 * folds the events (doc/rollups.md).
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
 * fold's fast path) changes only the session's last window and later ones,
 * computed from the stored fold state. A session rebuilt from all its events
 * takes back what its former events gave (with its former attributes) and
 * adds what all of them give. Ingest only appends these changes, straight
 * into the heap once per batch; qoe.refresh_rollups() merges them into
 * qoe.session_windows and re-aggregates qoe.qoe_5min.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "analytics/rollup.h"
#include "core/catalog.h"
#include "ingest/event_writer.h"
#include "publish/viewers_ledger.h"
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

/* The key columns, then the figures (qoe.session_window_deltas). */
typedef enum KeyColumn
{
	K_SESSION_ID, K_WINDOW_START, K_USER_ID, K_CONTENT_ID, K_COUNTRY,
	K_DEVICE_TYPE, K_CDN_POP, K_COUNT
} KeyColumn;

static const char *const key_names[K_COUNT] = {
	"session_id", "window_start", "user_id", "content_id", "country",
	"device_type", "cdn_pop"
};

/*
 * qoe.qoe_score_config.good_score as of the batch being rolled up (read with
 * the switch, once per batch): a session scoring this or more is good, as
 * qoe.qoe_good_share counts it.
 */
static double good_score = 70.0;

/* Integers only: differences of integers add up exactly, in any order. */
typedef struct Figures
{
	int64		v[F_COUNT];
} Figures;

/* Whose row: a session in one group (its attributes then). */
typedef struct RowKey
{
	const char *session_id;
	int64		user_id;
	int64		content_id;
	const char *device_type;
	const char *country;
	const char *cdn_pop;
} RowKey;

/* One row to append to qoe.session_window_deltas. */
typedef struct WindowRow
{
	const RowKey *key;
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

/* Rows of one session being made: sign -1 takes a former state back. */
typedef struct Builder
{
	RowList    *list;
	const RowKey *key;
	double		catalog_duration_sec;
	int			sign;
} Builder;

TimestampTz
qoe_window_of(TimestampTz t)
{
	int64		r = t % QOE_ROLLUP_WINDOW_US;

	return t - (r < 0 ? r + QOE_ROLLUP_WINDOW_US : r);
}

static int64
ms_between(TimestampTz from, TimestampTz to)
{
	return to > from ? (to - from) / 1000 : 0;
}

static bool
same_text(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* Same group (a rebuilt session's former and present attributes may agree). */
static bool
same_key(const RowKey *a, const RowKey *b)
{
	return a == b ||
		(a->user_id == b->user_id && a->content_id == b->content_id &&
		 same_text(a->device_type, b->device_type) && same_text(a->country, b->country) &&
		 same_text(a->cdn_pop, b->cdn_pop));
}

/* The row of b's key for window w, made if absent. */
static Figures *
row_for(Builder *b, TimestampTz w)
{
	RowList    *list = b->list;
	WindowRow  *row;

	for (int i = list->n - 1; i >= list->session_first; i--)
		if (list->rows[i].window_start == w && same_key(list->rows[i].key, b->key))
			return &list->rows[i].f;
	if (list->n == list->cap)
	{
		list->cap *= 2;
		list->rows = repalloc(list->rows, sizeof(WindowRow) * list->cap);
	}
	row = &list->rows[list->n++];
	memset(row, 0, sizeof(*row));
	row->key = b->key;
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

	/*
	 * the score as qoe.session_qoe_score() gives it for the session row: a
	 * failed session scores 0 (SPEC section 4), whatever it played before
	 */
	vst = m.vst_ms;
	rebuffer = m.watch_ms > 0 ? (double) m.stall_ms / m.watch_ms : 0;
	bitrate = m.avg_bitrate_kbps;
	dropped = m.watch_ms > 0 ? m.dropped_frames / (m.watch_ms / 1000.0 * 30.0) : 0;
	score = qoe_score_value(m.has_vst ? &vst : NULL, m.watch_ms > 0 ? &rebuffer : NULL,
							m.has_avg_bitrate ? &bitrate : NULL,
							m.watch_ms > 0 ? &dropped : NULL, &score_null);
	if (m.playback_failed)
	{
		score = 0.0;
		score_null = false;
	}
	if (!score_null)
	{
		out->v[F_SCORE_X_WATCH] = (int64) rint(score * m.watch_ms);
		out->v[F_SCORED_SESSIONS] = 1;
		out->v[F_GOOD_SESSIONS] = score >= good_score ? 1 : 0;
	}
}

/* Add sign x (now - prev) to f; false when that changes nothing. */
static bool
add_difference(Figures *f, const Figures *now, const Figures *prev, int sign)
{
	bool		changed = false;

	for (int i = 0; i < F_COUNT; i++)
	{
		changed |= now->v[i] != prev->v[i];
		if (f != NULL)
			f->v[i] += sign * (now->v[i] - prev->v[i]);
	}
	return changed;
}

/*
 * The fold has taken every event before window next; close the windows from
 * cur up to next. The window cur had events, so it gets a row; a window in
 * between gets one only when something accrued in it (playing, stalling).
 */
static void
cross_windows(Builder *b, const SessionFold *fold, Figures *prev, TimestampTz cur,
			  TimestampTz next)
{
	for (TimestampTz w = cur; w < next; w += QOE_ROLLUP_WINDOW_US)
	{
		Figures		now;

		CHECK_FOR_INTERRUPTS();
		running_figures(fold, b->catalog_duration_sec, w + QOE_ROLLUP_WINDOW_US, true, &now);
		if (w == cur || add_difference(NULL, &now, prev, 1))
			add_difference(row_for(b, w), &now, prev, b->sign);
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
add_points(Builder *b, const SessionFold *fold, bool abandoned, int sign)
{
	SessionMetrics m;

	sign *= b->sign;
	session_fold_metrics(fold, b->catalog_duration_sec, &m);
	row_for(b, qoe_window_of(fold->started_at))->v[F_ATTEMPTS] += sign;
	if (m.has_first_frame)
	{
		Figures    *f = row_for(b, qoe_window_of(fold->first_frame_at));

		f->v[F_PLAYS] += sign;
		if (m.has_vst)
		{
			f->v[F_VST_COUNT] += sign;
			f->v[F_VST_MS] += sign * (int64) m.vst_ms;
		}
	}
	if (m.ended)
	{
		Figures    *f = row_for(b, qoe_window_of(fold->ended_at));

		f->v[F_EBVS] += m.ebvs ? sign : 0;
		f->v[F_START_FAILURES] += m.start_failed ? sign : 0;
		f->v[F_PLAYBACK_FAILURES] += m.playback_failed ? sign : 0;
	}
	else if (abandoned && !m.has_first_frame)
		row_for(b, qoe_window_of(fold->last_event_at))->v[F_EBVS] += sign;
}

/*
 * Fold events[] (those with keep[i], all when keep is NULL) into the rows of
 * b: on top of the stored state from (its figures are then already in the
 * rows, and only what changes from its last window on is added), or from
 * nothing.
 */
static void
fold_rows(Builder *b, const SessionFold *from, bool from_abandoned, QoeEvent **events,
		  const bool *keep, int n)
{
	SessionFold fold;
	Figures		prev;
	Figures		now;
	TimestampTz cur = 0;
	bool		any = false;

	if (from != NULL)
	{
		fold = *from;
		running_figures(&fold, b->catalog_duration_sec, 0, false, &prev);
		cur = qoe_window_of(fold.last_event_at);
		any = true;
		add_points(b, &fold, from_abandoned, -1);
	}
	else
	{
		session_fold_init(&fold);
		memset(&prev, 0, sizeof(prev));
	}
	for (int i = 0; i < n; i++)
	{
		const QoeEvent *ev = events[i];
		TimestampTz w = qoe_window_of(ev->event_time);
		Figures    *f;

		if (keep != NULL && !keep[i])
			continue;
		if (any && w != cur)
			cross_windows(b, &fold, &prev, cur, w);
		any = true;
		cur = w;
		session_fold_apply(&fold, ev);
		f = row_for(b, w);
		f->v[F_EVENTS] += b->sign;
		if (ev->type == QOE_EV_ERROR)
			f->v[(ev->present & QOE_HAS_FATAL) && ev->fatal ? F_FATAL_ERRORS : F_NONFATAL_ERRORS] +=
				b->sign;
	}
	if (!any)
		return;
	running_figures(&fold, b->catalog_duration_sec, 0, false, &now);
	add_difference(row_for(b, cur), &now, &prev, b->sign);
	add_points(b, &fold, false, 1);
}

static int
cmp_ptr(const void *a, const void *b)
{
	uintptr_t	x = (uintptr_t) *(void *const *) a;
	uintptr_t	y = (uintptr_t) *(void *const *) b;

	return (x > y) - (x < y);
}

/*
 * The rows a batch adds for one session. Fast path (only later events): on
 * top of its stored state. Rebuilt: everything it had, with its former
 * attributes, taken back, and everything it has now added, both folded from
 * its events (the former ones are all but the batch's new ones).
 */
static void
session_rows(RowList *list, const QoeSessionChange *c)
{
	RowKey	   *now = palloc(sizeof(RowKey));
	Builder		b = {.list = list, .key = now, .catalog_duration_sec = c->catalog_duration_sec, .sign = 1};

	now->session_id = c->session_id;
	now->user_id = c->user_id;
	now->content_id = c->content_id;
	now->device_type = c->device_type;
	now->country = c->country;
	now->cdn_pop = c->cdn_pop;
	list->session_first = list->n;

	if (c->all != NULL)
	{
		RowKey	   *then = palloc(sizeof(RowKey));
		Builder		old = b;
		QoeEvent  **added = palloc(sizeof(QoeEvent *) * Max(c->nevents, 1));
		bool	   *was_stored = palloc(sizeof(bool) * c->nall);
		int			nadded = 0;

		*then = *now;
		then->user_id = c->before_user_id;
		then->content_id = c->before_content_id;
		then->device_type = c->before_device_type;
		then->country = c->before_country;
		then->cdn_pop = c->before_cdn_pop;
		for (int i = 0; i < c->nevents; i++)
			if (c->keep[i])
				added[nadded++] = c->events[i];
		qsort(added, nadded, sizeof(QoeEvent *), cmp_ptr);
		for (int i = 0; i < c->nall; i++)
			was_stored[i] = bsearch(&c->all[i], added, nadded, sizeof(QoeEvent *), cmp_ptr) == NULL;
		old.key = then;
		old.sign = -1;
		fold_rows(&old, NULL, false, c->all, was_stored, c->nall);
		if (c->abandoned_before)
		{
			/* the EBVS the abandonment added (the fold just taken back had not ended) */
			SessionMetrics m;

			session_fold_metrics(&c->before, c->catalog_duration_sec, &m);
			if (!m.ended && !m.has_first_frame)
				row_for(&old, qoe_window_of(c->before.last_event_at))->v[F_EBVS]--;
		}
		fold_rows(&b, NULL, false, c->all, NULL, c->nall);
	}
	else
		fold_rows(&b, c->existed ? &c->before : NULL, c->abandoned_before,
				  c->events, c->keep, c->nevents);
}

/* Kept for the backend's life; the plan cache re-plans it after DDL. */
static SPIPlanPtr enabled_plan;

/* Whether the rollups are on; reads the good score for the batch too. */
static bool
rollups_enabled(void)
{
	bool		isnull;
	Datum		good;

	if (enabled_plan == NULL)
		enabled_plan = qoe_prepare_kept("SELECT r.enabled, (SELECT c.good_score FROM qoe.qoe_score_config c LIMIT 1)"
										" FROM qoe.rollup_status r", 0, NULL);
	if (SPI_execute_plan(enabled_plan, NULL, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading qoe.rollup_status failed");
	if (SPI_processed == 0)
		return true;
	good = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	good_score = isnull ? 70.0 : DatumGetFloat8(good);
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) ||
		isnull;
}

static bool
all_zero(const Figures *f)
{
	for (int i = 0; i < F_COUNT; i++)
		if (f->v[i] != 0)
			return false;
	return true;
}

/* The rows of a batch going into qoe.session_window_deltas, for qoe_insert_rows. */
typedef struct DeltaRows
{
	const WindowRow **rows;
	AttrNumber	key_attno[K_COUNT];
	AttrNumber	fig_attno[F_COUNT];
} DeltaRows;

static void
set_text(Datum *values, bool *nulls, AttrNumber attno, const char *s)
{
	nulls[attno - 1] = (s == NULL);
	if (s != NULL)
		values[attno - 1] = CStringGetTextDatum(s);
}

static void
fill_delta(void *arg, int i, Datum *values, bool *nulls)
{
	const DeltaRows *d = arg;
	const WindowRow *row = d->rows[i];
	const RowKey *key = row->key;

	set_text(values, nulls, d->key_attno[K_SESSION_ID], key->session_id);
	values[d->key_attno[K_WINDOW_START] - 1] = TimestampTzGetDatum(row->window_start);
	nulls[d->key_attno[K_WINDOW_START] - 1] = false;
	values[d->key_attno[K_USER_ID] - 1] = Int64GetDatum(key->user_id);
	nulls[d->key_attno[K_USER_ID] - 1] = false;
	values[d->key_attno[K_CONTENT_ID] - 1] = Int64GetDatum(key->content_id);
	nulls[d->key_attno[K_CONTENT_ID] - 1] = false;
	set_text(values, nulls, d->key_attno[K_COUNTRY], key->country);
	set_text(values, nulls, d->key_attno[K_DEVICE_TYPE], key->device_type);
	set_text(values, nulls, d->key_attno[K_CDN_POP], key->cdn_pop);
	/* an unchanged figure is NULL: it takes no room (most are) */
	for (int f = 0; f < F_COUNT; f++)
	{
		values[d->fig_attno[f] - 1] = Int64GetDatum(row->f.v[f]);
		nulls[d->fig_attno[f] - 1] = (row->f.v[f] == 0);
	}
}

/*
 * Append the rows to qoe.session_window_deltas, which qoe.refresh_rollups()
 * drains, straight into the heap as the events go into their partitions:
 * no INSERT to plan and execute per batch. That bypasses triggers, so the
 * table must be the plain, trigger-free table the install script made.
 */
static void
append_rows(Oid relid, const RowList *list)
{
	DeltaRows	d;
	int			nrows = 0;
	Relation	rel;
	TupleDesc	desc;

	d.rows = palloc(sizeof(WindowRow *) * Max(list->n, 1));
	for (int r = 0; r < list->n; r++)
		if (!all_zero(&list->rows[r].f))
			d.rows[nrows++] = &list->rows[r];
	if (nrows == 0)
		return;

	rel = table_open(relid, RowExclusiveLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("qoe.session_window_deltas is not a plain table"),
				 errdetail("Its relkind is '%c'.", rel->rd_rel->relkind),
				 errhint("Reinstall the extension: ingest appends the rollups' changes to that table directly.")));
	if (rel->trigdesc != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("qoe.session_window_deltas has triggers"),
				 errdetail("Ingest appends the rollups' changes to that table directly, without firing triggers."),
				 errhint("Drop the triggers on qoe.session_window_deltas.")));
	desc = RelationGetDescr(rel);
	for (int k = 0; k < K_COUNT; k++)
		if ((d.key_attno[k] = SPI_fnumber(desc, key_names[k])) <= 0)
			elog(ERROR, "qoe.session_window_deltas has no column \"%s\"", key_names[k]);
	for (int i = 0; i < F_COUNT; i++)
		if ((d.fig_attno[i] = SPI_fnumber(desc, figure_names[i])) <= 0)
			elog(ERROR, "qoe.session_window_deltas has no column \"%s\"", figure_names[i]);
	qoe_insert_rows(rel, nrows, fill_delta, &d);
	table_close(rel, NoLock);
	CommandCounterIncrement();
}

/*
 * Note for the Redis publisher, for when the batch commits, the changes to
 * the windows its qoe_metrics hashes show: the latest complete window and
 * later ones, by the clock now (doc/redis.md, qoe_metrics). A change to an
 * earlier window (late data, a backlog being caught up) changes no hash, so
 * it costs the publisher nothing.
 */
static void
note_published_windows(const RowList *list)
{
	TimestampTz from = qoe_window_of(GetCurrentTimestamp()) - QOE_ROLLUP_WINDOW_US;

	for (int r = 0; r < list->n; r++)
	{
		const WindowRow *row = &list->rows[r];
		QoeWindowChange change;

		if (row->window_start < from || all_zero(&row->f))
			continue;
		change.window_start = row->window_start;
		change.plays = row->f.v[F_PLAYS];
		change.stall_ms = row->f.v[F_STALL_MS];
		change.watch_ms = row->f.v[F_WATCH_MS];
		change.score_x_watch = row->f.v[F_SCORE_X_WATCH];
		/* a start time changed or taken back leaves at the publisher's rebase */
		change.vst_new = row->f.v[F_VST_COUNT] == 1;
		change.vst_ms = row->f.v[F_VST_MS];
		qoe_ledger_note_window(row->key->content_id, &change);
	}
}

/*
 * The rollups are ingest's own bookkeeping, like a session's fold_state:
 * they are kept as the owner of qoe.session_window_deltas, so a role that
 * may ingest needs no rights on them (and cannot write them directly). An
 * error in between restores the caller's identity with the (sub)transaction.
 */
void
qoe_rollup_become_owner(Oid relid, Oid *save_userid, int *save_sec)
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
	Oid			relid = qoe_relation_oid(cat->namespace_oid, "session_window_deltas");
	RowList		list = {0};
	Oid			save_userid;
	int			save_sec;

	if (n == 0)
		return;
	/* as the owner from here: the score reads qoe.qoe_score_config */
	qoe_rollup_become_owner(relid, &save_userid, &save_sec);
	if (rollups_enabled())
	{
		list.cap = Max(2 * n, 16);
		list.rows = palloc(sizeof(WindowRow) * list.cap);
		for (int i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			session_rows(&list, &changes[i]);
		}
		append_rows(relid, &list);
		note_published_windows(&list);
	}
	SetUserIdAndSecContext(save_userid, save_sec);
}

void
qoe_rollup_abandoned(SPITupleTable *expired, uint64 n)
{
	QoeCatalog	cat;
	RowList		list = {0};
	TupleDesc	desc = expired->tupdesc;
	RowKey	   *keys;
	Oid			relid;
	Oid			save_userid;
	int			save_sec;

	if (n == 0)
		return;
	list.cap = (int) n;
	list.rows = palloc(sizeof(WindowRow) * n);
	keys = palloc(sizeof(RowKey) * n);
	/* read the tuples first: the next SPI call replaces them */
	for (uint64 r = 0; r < n; r++)
	{
		HeapTuple	tup = expired->vals[r];
		RowKey	   *key = &keys[list.n];
		Builder		b = {.list = &list, .key = key, .sign = 1};
		bool		isnull;

		CHECK_FOR_INTERRUPTS();
		if (!DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull)))
			continue;			/* it had started: no EBVS */
		key->session_id = SPI_getvalue(tup, desc, 1);
		key->user_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		key->content_id = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		key->country = SPI_getvalue(tup, desc, 4);
		key->device_type = SPI_getvalue(tup, desc, 5);
		key->cdn_pop = SPI_getvalue(tup, desc, 6);
		list.session_first = list.n;
		row_for(&b, qoe_window_of(DatumGetTimestampTz(SPI_getbinval(tup, desc, 7, &isnull))))
			->v[F_EBVS] = 1;
	}
	qoe_catalog_lookup(&cat);
	relid = qoe_relation_oid(cat.namespace_oid, "session_window_deltas");
	qoe_rollup_become_owner(relid, &save_userid, &save_sec);
	if (rollups_enabled())
		append_rows(relid, &list);
	SetUserIdAndSecContext(save_userid, save_sec);
}
