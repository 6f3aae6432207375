/*
 * metrics_ledger.c: the qoe_metrics figures of every title, kept by the
 * Redis publisher from the rollups and the notes of ingest commits
 * (metrics_ledger.h, doc/redis.md).
 *
 * A real-time read of qoe.qoe_metrics scans qoe.session_window_deltas
 * whatever the titles asked for: at 260,000 viewers 50-65 ms for 3 titles,
 * 150-200 ms for all 2,000, so rounds that read it spaced themselves
 * hundreds of milliseconds apart. Here a round looks its titles up: the
 * windows from the latest complete one on, each with the sums the hash
 * needs and the start times, as the rebase's digest and the start times
 * noted since.
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "analytics/rollup.h"
#include "publish/metrics_ledger.h"
#include "sketch/tdigest.h"

/*
 * Windows after the current one (client clocks ahead) are kept this far:
 * later ones wait for a rebase once the range reaches them.
 */
#define FUTURE_WINDOWS 2

/* The windows a title holds: the latest complete, the current, the future. */
#define WINDOW_SLOTS (2 + FUTURE_WINDOWS)

typedef struct WindowFigures
{
	bool		used;
	TimestampTz window_start;
	int64		plays;
	int64		stall_ms;
	int64		watch_ms;
	int64		score_x_watch;
	struct varlena *vst_base;	/* the rebase's digest (qoe.tdigest), or NULL */
	double	   *vst_new;		/* start times noted since */
	int			nvst;
	int			vst_size;
} WindowFigures;

typedef struct MetricsTitle
{
	int64		content_id;		/* hash key */
	char		status;			/* simplehash's */
	bool		changed;		/* listed in changed[] */
	/*
	 * The start-time percentiles of the windows shown, kept until a start
	 * time, a rebase or the range moving on changes them: most commits
	 * change only sums (heartbeats), and merging the digests was most of
	 * a round's CPU at 260,000 viewers.
	 */
	bool		vst_known;
	bool		has_vst;
	int			nwindows;
	double		vst_ms[3];
	/*
	 * Window w in slot (w / 5 min) mod WINDOW_SLOTS: the range holds
	 * WINDOW_SLOTS consecutive windows, so no two share a slot, and a note
	 * costs one lookup, of its title.
	 */
	WindowFigures windows[WINDOW_SLOTS];
} MetricsTitle;

#define ID_TABLE_PREFIX metrics_titles
#define ID_TABLE_ELEMENT MetricsTitle
#define ID_TABLE_KEY content_id
#include "core/id_table.h"

static MemoryContext ledger_cxt = NULL;
static metrics_titles_hash *titles = NULL;
static QoeTitleList changed;	/* in ledger_cxt */
static bool rebased = true;		/* every title changed */
static TimestampTz range_from = 0;	/* the latest complete window, as last rolled */

static TimestampTz
latest_complete(TimestampTz now)
{
	return qoe_window_of(now) - QOE_ROLLUP_WINDOW_US;
}

/* Whether a window is one the ledger holds: the range and FUTURE_WINDOWS on. */
static bool
in_range(TimestampTz window_start)
{
	return window_start >= range_from &&
		window_start < range_from + WINDOW_SLOTS * QOE_ROLLUP_WINDOW_US;
}

void
qoe_metrics_ledger_reset(void)
{
	if (ledger_cxt == NULL)
		ledger_cxt = AllocSetContextCreate(TopMemoryContext, "qoe_ext metrics ledger",
										   ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(ledger_cxt);
	titles = metrics_titles_create(ledger_cxt, 4096, NULL);
	memset(&changed, 0, sizeof(changed));
	rebased = true;
}

static void
mark_changed(MetricsTitle *t)
{
	if (t->changed || rebased)
		return;
	t->changed = true;
	qoe_title_list_add(&changed, ledger_cxt, t->content_id);
}

/* The title's entry, created without windows if new. */
static MetricsTitle *
title_entry(int64 content_id)
{
	bool		found;
	MetricsTitle *t = metrics_titles_insert(titles, content_id, &found);

	if (!found)
	{
		memset((char *) t + offsetof(MetricsTitle, changed), 0,
			   sizeof(MetricsTitle) - offsetof(MetricsTitle, changed));
	}
	return t;
}

/* The slot of a window in range in its title's entry. */
static WindowFigures *
window_slot(MetricsTitle *t, TimestampTz window_start)
{
	int64		n = window_start / QOE_ROLLUP_WINDOW_US;

	return &t->windows[((n % WINDOW_SLOTS) + WINDOW_SLOTS) % WINDOW_SLOTS];
}

/* A window in range of t, created empty if new. */
static WindowFigures *
window_entry(MetricsTitle *t, TimestampTz window_start)
{
	WindowFigures *w = window_slot(t, window_start);

	if (!w->used)
	{
		memset(w, 0, sizeof(WindowFigures));
		w->used = true;
		w->window_start = window_start;
		t->nwindows++;
		t->vst_known = false;
	}
	Assert(w->window_start == window_start);
	return w;
}

/* The window gone from its title (out of the range). */
static void
drop_window(MetricsTitle *t, WindowFigures *w)
{
	if (w->vst_base != NULL)
		pfree(w->vst_base);
	if (w->vst_new != NULL)
		pfree(w->vst_new);
	w->used = false;
	t->nwindows--;
}

static void
add_start_time(WindowFigures *w, double vst_ms)
{
	if (w->nvst == w->vst_size)
	{
		w->vst_size = Max(8, w->vst_size * 2);
		w->vst_new = w->vst_new == NULL
			? MemoryContextAlloc(ledger_cxt, sizeof(double) * w->vst_size)
			: repalloc(w->vst_new, sizeof(double) * w->vst_size);
	}
	w->vst_new[w->nvst++] = vst_ms;
}

void
qoe_metrics_ledger_rebase(TimestampTz now)
{
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		args[1];

	qoe_metrics_ledger_reset();
	range_from = latest_complete(now);
	args[0] = TimestampTzGetDatum(range_from);

	/*
	 * What qoe.qoe_metrics(real_time => true) reads for these windows: the
	 * per-title rows from titles_from on, qoe_5min's before it, and the
	 * deltas no merge has taken, summed per session and group so that a
	 * start time counts where the session's deltas add one (a session moved
	 * to other attributes counts in its new group).
	 */
	if (SPI_execute_with_args(
							  "WITH r AS (SELECT coalesce(s.titles_from, 'infinity') AS by_title_from"
							  "             FROM qoe.rollup_status s)"
							  " SELECT u.content_id, u.window_start, qoe.bigint_sum(u.plays),"
							  "        qoe.bigint_sum(u.stall_ms), qoe.bigint_sum(u.watch_ms),"
							  "        qoe.bigint_sum(u.score_x_watch), qoe.tdigest_merge(u.vst_digest)"
							  "   FROM (SELECT q.content_id, q.window_start, q.plays, q.stall_ms, q.watch_ms,"
							  "                q.score_x_watch, q.vst_digest"
							  "           FROM qoe.qoe_5min_by_title q, r"
							  "          WHERE q.window_start OPERATOR(pg_catalog.>=) $1"
							  "            AND q.window_start OPERATOR(pg_catalog.>=) r.by_title_from"
							  "         UNION ALL"
							  "         SELECT q.content_id, q.window_start, q.plays, q.stall_ms, q.watch_ms,"
							  "                q.score_x_watch, q.vst_digest"
							  "           FROM qoe.qoe_5min q, r"
							  "          WHERE q.window_start OPERATOR(pg_catalog.>=) $1"
							  "            AND q.window_start OPERATOR(pg_catalog.<) r.by_title_from"
							  "         UNION ALL"
							  "         SELECT d.content_id, d.window_start, qoe.bigint_sum(d.plays),"
							  "                qoe.bigint_sum(d.stall_ms), qoe.bigint_sum(d.watch_ms),"
							  "                qoe.bigint_sum(d.score_x_watch),"
							  "                qoe.tdigest_agg(d.vst_ms::pg_catalog.float8)"
							  "                  FILTER (WHERE d.vst_count OPERATOR(pg_catalog.=) 1)"
							  "           FROM (SELECT d.content_id, d.window_start,"
							  "                        qoe.bigint_sum(d.plays) AS plays,"
							  "                        qoe.bigint_sum(d.stall_ms) AS stall_ms,"
							  "                        qoe.bigint_sum(d.watch_ms) AS watch_ms,"
							  "                        qoe.bigint_sum(d.score_x_watch) AS score_x_watch,"
							  "                        qoe.bigint_sum(d.vst_count) AS vst_count,"
							  "                        qoe.bigint_sum(d.vst_ms) AS vst_ms"
							  "                   FROM qoe.session_window_deltas d"
							  "                  WHERE d.window_start OPERATOR(pg_catalog.>=) $1"
							  "                  GROUP BY d.session_id, d.window_start, d.user_id, d.content_id,"
							  "                           d.country, d.device_type, d.cdn_pop) d"
							  "          GROUP BY d.content_id, d.window_start) u"
							  "  GROUP BY u.content_id, u.window_start",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading the rollups of the latest windows failed");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		WindowFigures *w;
		Datum		digest;

		TimestampTz window_start = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));

		/* later windows (client clocks far ahead) wait for a later rebase */
		if (!in_range(window_start))
			continue;
		w = window_entry(title_entry(DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull))),
						 window_start);
		w->plays = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		w->stall_ms = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		w->watch_ms = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
		w->score_x_watch = DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull));
		digest = SPI_getbinval(tup, desc, 7, &isnull);
		if (!isnull)
		{
			struct varlena *packed = PG_DETOAST_DATUM_PACKED(digest);
			Size		size = VARSIZE_ANY(packed);

			/* a copy with a full header, as td_unpack reads it */
			w->vst_base = MemoryContextAlloc(ledger_cxt, size + VARHDRSZ);
			SET_VARSIZE(w->vst_base, VARSIZE_ANY_EXHDR(packed) + VARHDRSZ);
			memcpy(VARDATA(w->vst_base), VARDATA_ANY(packed), VARSIZE_ANY_EXHDR(packed));
		}
	}
}

void
qoe_metrics_ledger_roll(TimestampTz now)
{
	TimestampTz from = latest_complete(now);
	metrics_titles_iterator it;
	MetricsTitle *t;

	if (from <= range_from)
		return;
	range_from = from;
	/*
	 * Other windows shown: other figures and percentiles, and another
	 * window_start field in every title's hash.
	 */
	metrics_titles_start_iterate(titles, &it);
	while ((t = metrics_titles_iterate(titles, &it)) != NULL)
	{
		t->vst_known = false;
		for (int i = 0; i < WINDOW_SLOTS; i++)
			if (t->windows[i].used && t->windows[i].window_start < from)
				drop_window(t, &t->windows[i]);
		mark_changed(t);
	}
}

void
qoe_metrics_ledger_add(int64 content_id, const QoeWindowChange *change)
{
	WindowFigures *w;
	MetricsTitle *t;

	if (!in_range(change->window_start))
		return;
	t = title_entry(content_id);
	w = window_entry(t, change->window_start);
	w->plays += change->plays;
	w->stall_ms += change->stall_ms;
	w->watch_ms += change->watch_ms;
	w->score_x_watch += change->score_x_watch;
	if (change->vst_new)
	{
		add_start_time(w, (double) change->vst_ms);
		t->vst_known = false;
	}
	mark_changed(t);
}

void
qoe_metrics_ledger_take_changed(QoeTitleList *out)
{
	if (rebased)
	{
		rebased = false;
		out->n = -1;
		return;
	}
	out->n = 0;
	for (int i = 0; i < changed.n; i++)
	{
		MetricsTitle *t = metrics_titles_lookup(titles, changed.ids[i]);

		qoe_title_list_add(out, TopMemoryContext, changed.ids[i]);
		t->changed = false;
		if (t->nwindows == 0)
			metrics_titles_delete_item(titles, t);
	}
	changed.n = 0;
}

void
qoe_metrics_ledger_touch(const int64 *content_id)
{
	metrics_titles_iterator it;
	MetricsTitle *t;

	if (content_id != NULL)
	{
		/* one the ledger no longer holds is listed all the same: its hash goes */
		mark_changed(title_entry(*content_id));
		return;
	}
	metrics_titles_start_iterate(titles, &it);
	while ((t = metrics_titles_iterate(titles, &it)) != NULL)
		mark_changed(t);
}

void
qoe_metrics_ledger_for_each_title(void (*f) (int64 content_id))
{
	metrics_titles_iterator it;
	MetricsTitle *t;

	metrics_titles_start_iterate(titles, &it);
	while ((t = metrics_titles_iterate(titles, &it)) != NULL)
		if (t->nwindows > 0)
			f(t->content_id);
}

/*
 * Into digest: a window's start times, as qoe.qoe_metrics merges them: the
 * rebase's digest, and those noted since as a digest of their own.
 */
static void
merge_start_times(TDigest *digest, const WindowFigures *w)
{
	if (w->vst_base != NULL)
	{
		TDigest		base;

		td_unpack(&base, CurrentMemoryContext, w->vst_base, ERRCODE_DATA_CORRUPTED);
		td_add_digest(digest, &base);
	}
	if (w->nvst > 0)
	{
		TDigest		noted;

		td_init(&noted, CurrentMemoryContext, TD_DEFAULT_COMPRESSION);
		for (int i = 0; i < w->nvst; i++)
			td_add(&noted, w->vst_new[i]);
		td_compress(&noted);
		td_add_digest(digest, &noted);
	}
}

bool
qoe_metrics_ledger_read(int64 content_id, TimestampTz now, QoeTitleMetrics *m)
{
	static const double fractions[3] = {0.5, 0.95, 0.99};
	TimestampTz current = qoe_window_of(now);
	/* qoe.qoe_metrics(from, now): the windows that start before now */
	int			nwin = current == now ? 1 : 2;
	int64		stall_ms = 0,
				watch_ms = 0,
				score_x_watch = 0;
	WindowFigures *shown[2];
	int			nshown = 0;
	MetricsTitle *t = metrics_titles_lookup(titles, content_id);

	memset(m, 0, sizeof(QoeTitleMetrics));
	m->window_start = current - QOE_ROLLUP_WINDOW_US;
	if (t == NULL)
		return false;
	for (int i = 0; i < nwin; i++)
	{
		TimestampTz window_start = m->window_start + i * QOE_ROLLUP_WINDOW_US;
		WindowFigures *w = window_slot(t, window_start);

		/* a slot holds one window of the range, or none */
		if (!w->used || w->window_start != window_start)
			continue;
		shown[nshown++] = w;
		m->plays += w->plays;
		stall_ms += w->stall_ms;
		watch_ms += w->watch_ms;
		score_x_watch += w->score_x_watch;
	}
	if (nshown == 0)
		return false;
	if ((m->has_watch = watch_ms != 0))
	{
		m->rebuffering_ratio = (double) stall_ms / (double) watch_ms;
		m->qoe_score = (double) score_x_watch / (double) watch_ms;
	}
	if (!t->vst_known)
	{
		TDigest		digest;

		td_init(&digest, CurrentMemoryContext, TD_DEFAULT_COMPRESSION);
		for (int i = 0; i < nshown; i++)
			merge_start_times(&digest, shown[i]);
		if ((t->has_vst = digest.count > 0))
		{
			if (!td_collect_singles(&digest))
				td_compress(&digest);
			td_quantiles(&digest, fractions, NULL, 3, t->vst_ms);
		}
		/* a read at the very start of a window shows one: not kept */
		t->vst_known = nwin == 2;
	}
	if ((m->has_vst = t->has_vst))
		memcpy(m->vst_ms, t->vst_ms, sizeof(m->vst_ms));
	return true;
}
