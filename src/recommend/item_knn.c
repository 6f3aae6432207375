/*
 * item_knn.c: the item-item model (src/recommend/: this file, build.c
 * writing qoe.item_neighbors, recommend.c serving, evaluate.c measuring).
 *
 * qoe.interactions is loaded once into memory as a sparse matrix kept in both
 * orientations (title -> viewers, viewer -> titles), about 32-36 bytes per
 * interaction at the peak. One title's similarities are then one pass over
 * its viewers' lists, accumulated into a dense array of the titles: memory
 * never grows with the number of title pairs, only with the interactions.
 *
 * Similarity (doc/recommendations.md), for titles i and j over viewers u:
 *     sim(i, j) = sum_u w(u,i) w(u,j) / (|w(.,i)| |w(.,j)| + shrink)
 * with w(u,i) the interaction strength r(u,i) weighted per viewer:
 *     none:  w = r
 *     tfidf: w = r * ln(1 + T / n_u)
 *     bm25:  w = r (k1 + 1) / (r + k1 (1 - b + b n_u / avg n)) * ln(1 + T / n_u)
 * where n_u is the viewer's number of titles and T the number of titles;
 * with a half-life h, w is also multiplied by 0.5^((newest last_at -
 * last_at) / h): older viewing counts less.
 */
#include "postgres.h"

#include <math.h>

#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/compare.h"
#include "recommend/item_knn.h"

#define KNN_FETCH_ROWS 10000

/*
 * Where the model's arrays live. Every SPI call leaves CurrentMemoryContext
 * at SPI's procedure context, so the arrays go to a context of their own,
 * named by the caller, which frees it (and measures it) in one go.
 */
static MemoryContext knn_context;

void
knn_use_context(MemoryContext cxt)
{
	knn_context = cxt;
}

/* size bytes (may exceed 1 GB) in the knn_use_context() context; never NULL */
void *
knn_alloc(Size size)
{
	Assert(knn_context != NULL);
	return MemoryContextAllocHuge(knn_context, Max(size, 1));
}

/* the weighting's name as qoe.recommendation_settings.weighting spells it */
const char *
knn_weighting_name(KnnWeighting w)
{
	switch (w)
	{
		case KNN_WEIGHT_NONE:
			return "none";
		case KNN_WEIGHT_TFIDF:
			return "tfidf";
		case KNN_WEIGHT_BM25:
			return "bm25";
	}
	return "?";
}

/*
 * Reads the one row of qoe.recommendation_settings into *s. Runs inside the
 * caller's SPI connection with the search_path pinned. Errors when the row
 * is missing (the table's CHECKs keep every value in range).
 */
void
knn_read_settings(KnnSettings *s)
{
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	char	   *weighting;

	if (SPI_execute("SELECT top_k, shrink, weighting, bm25_k1, bm25_b,"
					" pg_catalog.date_part('epoch', half_life)"
					" FROM qoe.recommendation_settings", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading qoe.recommendation_settings failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("qoe.recommendation_settings has no row"),
				 errhint("INSERT INTO qoe.recommendation_settings DEFAULT VALUES restores the defaults.")));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	s->top_k = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
	s->shrink = DatumGetFloat8(SPI_getbinval(tup, desc, 2, &isnull));
	weighting = SPI_getvalue(tup, desc, 3);
	s->weighting = strcmp(weighting, "bm25") == 0 ? KNN_WEIGHT_BM25 :
		strcmp(weighting, "tfidf") == 0 ? KNN_WEIGHT_TFIDF : KNN_WEIGHT_NONE;
	s->bm25_k1 = DatumGetFloat8(SPI_getbinval(tup, desc, 4, &isnull));
	s->bm25_b = DatumGetFloat8(SPI_getbinval(tup, desc, 5, &isnull));
	s->half_life_s = DatumGetFloat8(SPI_getbinval(tup, desc, 6, &isnull));
	if (isnull)
		s->half_life_s = 0;
}

static int32
index_of(const int64 *ids, int32 n, int64 id)
{
	int32		lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int32		mid = lo + (hi - lo) / 2;

		if (ids[mid] == id)
			return mid;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* the dense index of a content_id (binary search), or -1 without interactions */
int32
knn_item_index(const KnnTriples *t, int64 content_id)
{
	return index_of(t->item_ids, t->n_items, content_id);
}

/* ids[0..n) -> dense indices into out[], through the sorted unique ids */
static int32
densify(const int64 *raw, int64 n, int32 *out, int64 **unique_ids)
{
	int64	   *ids = knn_alloc(n * sizeof(int64));
	int64		m;

	memcpy(ids, raw, n * sizeof(int64));
	m = qoe_sort_unique_int64(ids, n);
	if (m > PG_INT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct users or titles in qoe.interactions"),
				 errdetail("There are " INT64_FORMAT "; the limit is %d.", m, PG_INT32_MAX / 2)));
	for (int64 i = 0; i < n; i++)
	{
		out[i] = index_of(ids, (int32) m, raw[i]);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	*unique_ids = repalloc_huge(ids, Max(m, 1) * sizeof(int64));
	return (int32) m;
}

/*
 * Loads qoe.interactions into *t (in the knn_use_context() context), through a cursor
 * so that SPI never holds more than one batch. The caller is connected to
 * SPI with the search_path pinned; the caller's SELECT privilege applies.
 */
void
knn_load(KnnTriples *t, bool with_time)
{
	SPIPlanPtr	plan;
	Portal		portal;
	int64		cap = 1024;
	int64	   *uid = knn_alloc(cap * sizeof(int64));
	int64	   *cid = knn_alloc(cap * sizeof(int64));

	memset(t, 0, sizeof(*t));
	t->strength = knn_alloc(cap * sizeof(float4));
	if (with_time)
		t->last_at = knn_alloc(cap * sizeof(TimestampTz));

	plan = SPI_prepare("SELECT user_id, content_id, strength, last_at FROM qoe.interactions",
					   0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, KNN_FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		if (t->n + (int64) SPI_processed > cap)
		{
			cap = Max(cap * 2, t->n + (int64) SPI_processed);
			uid = repalloc_huge(uid, cap * sizeof(int64));
			cid = repalloc_huge(cid, cap * sizeof(int64));
			t->strength = repalloc_huge(t->strength, cap * sizeof(float4));
			if (with_time)
				t->last_at = repalloc_huge(t->last_at, cap * sizeof(TimestampTz));
		}
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;

			uid[t->n] = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
			cid[t->n] = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			t->strength[t->n] = (float4) DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
			if (with_time)
				t->last_at[t->n] = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull));
			t->n++;
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_freeplan(plan);

	t->user = knn_alloc(t->n * sizeof(int32));
	t->item = knn_alloc(t->n * sizeof(int32));
	t->n_users = densify(uid, t->n, t->user, &t->user_ids);
	pfree(uid);
	t->n_items = densify(cid, t->n, t->item, &t->item_ids);
	pfree(cid);
}

/*
 * Builds the weighted matrix of the triples whose keep[] is true (NULL: all)
 * in the knn_use_context() context. Time decay needs t->last_at. Title lists come out in ascending viewer order,
 * which fixes the order of every sum in knn_row().
 */
void
knn_build_matrix(KnnMatrix *m, const KnnTriples *t, const bool *keep, const KnnSettings *s)
{
	int32	   *user_deg = knn_alloc(t->n_users * sizeof(int32));
	int64	   *fill;
	int64		kept = 0;
	int32		titles = 0,
				viewers = 0;
	double		avg_deg;
	TimestampTz newest = DT_NOBEGIN;

	m->n_users = t->n_users;
	m->n_items = t->n_items;
	m->user_ptr = knn_alloc((t->n_users + 1) * sizeof(int64));
	m->item_ptr = knn_alloc((t->n_items + 1) * sizeof(int64));
	memset(user_deg, 0, t->n_users * sizeof(int32));
	memset(m->item_ptr, 0, (t->n_items + 1) * sizeof(int64));
	for (int64 r = 0; r < t->n; r++)
	{
		if (keep && !keep[r])
			continue;
		user_deg[t->user[r]]++;
		m->item_ptr[t->item[r] + 1]++;
		kept++;
		if (s->half_life_s > 0 && t->last_at[r] > newest)
			newest = t->last_at[r];
	}
	m->user_ptr[0] = 0;
	for (int32 u = 0; u < t->n_users; u++)
	{
		m->user_ptr[u + 1] = m->user_ptr[u] + user_deg[u];
		viewers += user_deg[u] > 0;
	}
	for (int32 i = 0; i < t->n_items; i++)
	{
		titles += m->item_ptr[i + 1] > 0;
		m->item_ptr[i + 1] += m->item_ptr[i];
	}
	avg_deg = viewers > 0 ? (double) kept / viewers : 1.0;

	/* viewer -> titles, in load order */
	m->user_item = knn_alloc(kept * sizeof(int32));
	m->user_w = knn_alloc(kept * sizeof(float4));
	m->user_r = knn_alloc(kept * sizeof(float4));
	fill = knn_alloc(Max(t->n_users, t->n_items) * sizeof(int64));
	memcpy(fill, m->user_ptr, t->n_users * sizeof(int64));
	for (int64 r = 0; r < t->n; r++)
	{
		int32		u = t->user[r];
		double		rr = t->strength[r];
		double		idf = log(1.0 + (double) titles / user_deg[u]);
		double		w;
		int64		at;

		if (keep && !keep[r])
			continue;
		switch (s->weighting)
		{
			case KNN_WEIGHT_TFIDF:
				w = rr * idf;
				break;
			case KNN_WEIGHT_BM25:
				w = rr * (s->bm25_k1 + 1.0) /
					(rr + s->bm25_k1 * (1.0 - s->bm25_b + s->bm25_b * user_deg[u] / avg_deg)) * idf;
				break;
			default:
				w = rr;
				break;
		}
		if (s->half_life_s > 0)
			w *= pow(0.5, (double) (newest - t->last_at[r]) / USECS_PER_SEC / s->half_life_s);
		at = fill[u]++;
		m->user_item[at] = t->item[r];
		m->user_w[at] = (float4) w;
		m->user_r[at] = (float4) rr;
	}

	/* title -> viewers, walking the viewers in order */
	m->item_user = knn_alloc(kept * sizeof(int32));
	m->item_w = knn_alloc(kept * sizeof(float4));
	memcpy(fill, m->item_ptr, t->n_items * sizeof(int64));
	for (int32 u = 0; u < t->n_users; u++)
	{
		for (int64 p = m->user_ptr[u]; p < m->user_ptr[u + 1]; p++)
		{
			int64		at = fill[m->user_item[p]]++;

			m->item_user[at] = u;
			m->item_w[at] = m->user_w[p];
		}
		if ((u & 0xFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	m->norm = knn_alloc(t->n_items * sizeof(double));
	for (int32 i = 0; i < t->n_items; i++)
	{
		double		sq = 0;

		for (int64 p = m->item_ptr[i]; p < m->item_ptr[i + 1]; p++)
			sq += (double) m->item_w[p] * m->item_w[p];
		m->norm[i] = sqrt(sq);
	}
	pfree(fill);
	pfree(user_deg);
}

/* work space for knn_row() over m's titles: about 20 bytes per title */
void
knn_row_work_init(KnnRowWork *w, const KnnMatrix *m, int top_k)
{
	w->acc = knn_alloc(m->n_items * sizeof(double));
	w->mark = knn_alloc(m->n_items * sizeof(int32));
	memset(w->mark, 0, m->n_items * sizeof(int32));
	w->touched = knn_alloc(m->n_items * sizeof(int32));
	w->n_touched = 0;
	w->top = knn_alloc((top_k + 1) * sizeof(int32));
	w->top_sim = knn_alloc((top_k + 1) * sizeof(double));
	w->n_top = 0;
}

/*
 * The order of neighbour lists, the same in builds, incremental checks and
 * tests: a before b when its similarity is higher, or equal with a lower id.
 */
bool
knn_better(double sim_a, int64 id_a, double sim_b, int64 id_b)
{
	return sim_a > sim_b || (sim_a == sim_b && id_a < id_b);
}

/* min-heap on knn_better: the root is the worst neighbour kept so far */
static void
heap_sift_down(KnnRowWork *w, const int64 *ids, int32 at)
{
	for (;;)
	{
		int32		l = 2 * at + 1,
					r = l + 1,
					worst = at;

		if (l < w->n_top && knn_better(w->top_sim[worst], ids[w->top[worst]],
									   w->top_sim[l], ids[w->top[l]]))
			worst = l;
		if (r < w->n_top && knn_better(w->top_sim[worst], ids[w->top[worst]],
									   w->top_sim[r], ids[w->top[r]]))
			worst = r;
		if (worst == at)
			return;
		{
			int32		ti = w->top[at];
			double		ts = w->top_sim[at];

			w->top[at] = w->top[worst];
			w->top_sim[at] = w->top_sim[worst];
			w->top[worst] = ti;
			w->top_sim[worst] = ts;
		}
		at = worst;
	}
}

static void
heap_sift_up(KnnRowWork *w, const int64 *ids, int32 at)
{
	while (at > 0)
	{
		int32		parent = (at - 1) / 2;
		int32		ti;
		double		ts;

		if (!knn_better(w->top_sim[parent], ids[w->top[parent]], w->top_sim[at], ids[w->top[at]]))
			return;
		ti = w->top[at];
		ts = w->top_sim[at];
		w->top[at] = w->top[parent];
		w->top_sim[at] = w->top_sim[parent];
		w->top[parent] = ti;
		w->top_sim[parent] = ts;
		at = parent;
	}
}

/*
 * One title's row of the model: on return w->acc[j] holds sim(item, j) for
 * each j in w->touched[0..n_touched) (every title sharing a viewer with item,
 * item itself excluded), and w->top[0..n_top) its top_k neighbours, best
 * first, with their similarities in w->top_sim. Cost: the sum of the
 * viewers' list lengths.
 */
void
knn_row(const KnnMatrix *m, const KnnSettings *s, const int64 *item_ids, int32 item,
		KnnRowWork *w)
{
	int32		stamp = item + 1;

	w->n_touched = 0;
	for (int64 p = m->item_ptr[item]; p < m->item_ptr[item + 1]; p++)
	{
		int32		u = m->item_user[p];
		double		wi = m->item_w[p];

		for (int64 q = m->user_ptr[u]; q < m->user_ptr[u + 1]; q++)
		{
			int32		j = m->user_item[q];

			if (j == item)
				continue;
			if (w->mark[j] != stamp)
			{
				w->mark[j] = stamp;
				w->acc[j] = 0;
				w->touched[w->n_touched++] = j;
			}
			w->acc[j] += wi * m->user_w[q];
		}
	}

	w->n_top = 0;
	for (int32 t = 0; t < w->n_touched; t++)
	{
		int32		j = w->touched[t];
		double		sim = w->acc[j] / (m->norm[item] * m->norm[j] + s->shrink);

		w->acc[j] = sim;
		if (!(sim > 0))
			continue;
		if (w->n_top < s->top_k)
		{
			w->top[w->n_top] = j;
			w->top_sim[w->n_top] = sim;
			heap_sift_up(w, item_ids, w->n_top++);
		}
		else if (knn_better(sim, item_ids[j], w->top_sim[0], item_ids[w->top[0]]))
		{
			w->top[0] = j;
			w->top_sim[0] = sim;
			heap_sift_down(w, item_ids, 0);
		}
	}
	/* heap sort: move the worst to the end until the best is first */
	{
		int32		count = w->n_top;

		for (int32 n = count; n > 1; n--)
		{
			int32		ti = w->top[0];
			double		ts = w->top_sim[0];

			w->top[0] = w->top[n - 1];
			w->top_sim[0] = w->top_sim[n - 1];
			w->top[n - 1] = ti;
			w->top_sim[n - 1] = ts;
			w->n_top = n - 1;
			heap_sift_down(w, item_ids, 0);
		}
		w->n_top = count;
	}
}
