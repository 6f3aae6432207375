/*
 * recommend.c: qoe.recommend(), serving the item-KNN model of
 * qoe.item_neighbors (built by build.c) for one user.
 *
 * The neighbour lists naming the user's titles, the bulk of the work, are
 * read straight from the index on item_neighbors.neighbor_id (an index-only
 * scan without the executor); the few small lookups (settings and country,
 * the user's interactions, the catalog rows of the best candidates) go
 * through SPI plans prepared once per backend. Scoring runs in open-addressing
 * hash tables, and only as many candidates as are emitted leave a binary
 * heap. Figures: doc/recommendations.md.
 */
#include "postgres.h"

#include <float.h>

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/visibilitymap.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "lib/binaryheap.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/predicate.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "core/catalog.h"

#define REASONS 3
#define MAX_N 10000
/* diversification re-ranks the n + min(3 n, MMR_EXTRA) best candidates */
#define MMR_EXTRA 300

typedef enum RecQuery
{
	Q_SETTINGS,
	Q_HISTORY,
	Q_COMPLETED,
	Q_UNAVAILABLE,
	Q_GENRES,
	Q_TRENDING,
	Q_COUNT
} RecQuery;

static const char *const rec_sql[Q_COUNT] = {
	/* with the country of qoe.users, else of the user's latest session that has one */
	"SELECT exclude OPERATOR(pg_catalog.=) 'any', trending_window,"
	" coalesce((SELECT u.country FROM qoe.users u WHERE u.user_id OPERATOR(pg_catalog.=) $1),"
	" (SELECT s.country FROM qoe.sessions s WHERE s.user_id OPERATOR(pg_catalog.=) $1"
	" AND s.country IS NOT NULL ORDER BY s.last_event_at DESC LIMIT 1))"
	" FROM qoe.recommendation_settings",
	/* ascending ids: the order in which the lists are read and summed */
	"SELECT content_id, strength FROM qoe.interactions WHERE user_id OPERATOR(pg_catalog.=) $1"
	" ORDER BY content_id",
	"SELECT DISTINCT content_id FROM qoe.sessions WHERE user_id OPERATOR(pg_catalog.=) $1 AND completed",
	"SELECT content_id FROM qoe.content WHERE content_id OPERATOR(pg_catalog.=) ANY ($1)"
	" AND available_countries IS NOT NULL"
	" AND NOT ($2 OPERATOR(pg_catalog.=) ANY (available_countries))",
	"SELECT content_id, genres FROM qoe.content WHERE content_id OPERATOR(pg_catalog.=) ANY ($1)",
	"SELECT content_id, viewers FROM qoe.trending($1, $2, $3)",
};

static SPIPlanPtr rec_plans[Q_COUNT];

/* runs one of the queries above through a plan kept for the backend's life */
static void
run(RecQuery q, int nargs, const Oid *types, Datum *args, const char *nulls)
{
	int			ret;

	if (rec_plans[q] == NULL)
		rec_plans[q] = qoe_prepare_kept(rec_sql[q], nargs, (Oid *) types);
	ret = SPI_execute_plan(rec_plans[q], args, nulls, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "\"%s\" failed: %s", rec_sql[q], SPI_result_code_string(ret));
}

static int64
result_int64(uint64 row, int col)
{
	bool		isnull;

	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull));
}

typedef struct Seen
{
	int64		content_id;
	double		strength;		/* in the user's history; 0 when only excluded */
	char		status;			/* simplehash's */
} Seen;

/* seeded per backend: no choice of ids can make the tables degenerate */
#define ID_TABLE_PREFIX seen
#define ID_TABLE_ELEMENT Seen
#define ID_TABLE_KEY content_id
#include "core/id_table.h"

typedef struct Candidate
{
	int64		content_id;
	bool		excluded;		/* entered beforehand: never scored */
	char		status;			/* simplehash's */
	int			n_reasons;
	double		score;
	int64		reason[REASONS];	/* the user's titles contributing most, best first */
	double		reason_part[REASONS];
} Candidate;

#define ID_TABLE_PREFIX cand
#define ID_TABLE_ELEMENT Candidate
#define ID_TABLE_KEY content_id
#include "core/id_table.h"

static void
add_reason(Candidate *c, int64 title, double part)
{
	int			at = c->n_reasons < REASONS ? c->n_reasons++ : REASONS;

	while (at > 0 && (part > c->reason_part[at - 1] ||
					  (part == c->reason_part[at - 1] && title < c->reason[at - 1])))
	{
		if (at < REASONS)
		{
			c->reason[at] = c->reason[at - 1];
			c->reason_part[at] = c->reason_part[at - 1];
		}
		at--;
	}
	if (at < REASONS)
	{
		c->reason[at] = title;
		c->reason_part[at] = part;
	}
}

/* the ranking: higher score first, then lower id (positive: a before b) */
static int
better_candidate(Datum a, Datum b, void *arg)
{
	const Candidate *x = (const Candidate *) DatumGetPointer(a);
	const Candidate *y = (const Candidate *) DatumGetPointer(b);

	if (x->score != y->score)
		return x->score > y->score ? 1 : -1;
	return (x->content_id < y->content_id) - (x->content_id > y->content_id);
}

/*
 * Add to the candidates every list that names one of the user's titles
 * (history, ascending ids): score(j) += strength(i) x similarity(j, i).
 *
 * An index-only scan of item_neighbors_neighbor_idx (neighbor_id) INCLUDE
 * (content_id, similarity), one descent per title, read without the
 * executor: no tuple is formed, and the heap is visited only on pages the
 * visibility map does not show all-visible (as nodeIndexonlyscan.c does).
 * The rows come in the order of an = ANY scan, so the sums are the same.
 */
static void
score_neighbors(cand_hash *candidates, const Seen *history, int n_history)
{
	Oid			nsp = get_namespace_oid("qoe", false);
	Oid			heap_id = qoe_relation_oid(nsp, "item_neighbors");
	Oid			index_id = qoe_relation_oid(nsp, "item_neighbors_neighbor_idx");
	AclResult	acl = pg_class_aclcheck(heap_id, GetUserId(), ACL_SELECT);
	Snapshot	snapshot = GetActiveSnapshot();
	Relation	heap;
	Relation	index;
	TupleDesc	idesc;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	Buffer		vmbuffer = InvalidBuffer;

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, "item_neighbors");
	/* the scan below does not apply row-level security, so refuse it */
	if (check_enable_rls(heap_id, InvalidOid, true) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("qoe.recommend does not support row-level security on qoe.item_neighbors"),
				 errhint("ALTER TABLE qoe.item_neighbors DISABLE ROW LEVEL SECURITY.")));
	heap = table_open(heap_id, AccessShareLock);
	index = index_open(index_id, AccessShareLock);
	/* the index as 70_recommend.sql creates it, usable */
	idesc = RelationGetDescr(index);
	if (index->rd_rel->relam != BTREE_AM_OID || !index->rd_index->indisvalid ||
		idesc->natts != 3 || IndexRelationGetNumberOfKeyAttributes(index) != 1 ||
		index->rd_index->indkey.values[0] != get_attnum(heap_id, "neighbor_id") ||
		index->rd_index->indkey.values[1] != get_attnum(heap_id, "content_id") ||
		index->rd_index->indkey.values[2] != get_attnum(heap_id, "similarity") ||
		TupleDescAttr(idesc, 0)->atttypid != INT8OID ||
		TupleDescAttr(idesc, 1)->atttypid != INT8OID ||
		TupleDescAttr(idesc, 2)->atttypid != FLOAT8OID)
		elog(ERROR, "qoe.item_neighbors_neighbor_idx is not (neighbor_id) INCLUDE (content_id, similarity)");

	scan = index_beginscan(heap, index, snapshot, 1, 0);
	scan->xs_want_itup = true;
	slot = table_slot_create(heap, NULL);
	for (int i = 0; i < n_history; i++)
	{
		const Seen *h = &history[i];
		ScanKeyData key;
		ItemPointer tid;

		CHECK_FOR_INTERRUPTS();
		ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(h->content_id));
		index_rescan(scan, &key, 1, NULL, 0);
		while ((tid = index_getnext_tid(scan, ForwardScanDirection)) != NULL)
		{
			bool		isnull;
			int64		id;
			double		part;
			Candidate  *c;
			bool		found;

			if (!VM_ALL_VISIBLE(heap, ItemPointerGetBlockNumber(tid), &vmbuffer))
			{
				bool		visible = index_fetch_heap(scan, slot);

				ExecClearTuple(slot);
				if (!visible)
					continue;
			}
			else
				PredicateLockPage(heap, ItemPointerGetBlockNumber(tid), snapshot);
			id = DatumGetInt64(index_getattr(scan->xs_itup, 2, scan->xs_itupdesc, &isnull));
			c = cand_insert(candidates, id, &found);
			if (!found)
			{
				c->excluded = false;
				c->score = 0;
				c->n_reasons = 0;
			}
			if (c->excluded)
				continue;
			part = h->strength *
				DatumGetFloat8(index_getattr(scan->xs_itup, 3, scan->xs_itupdesc, &isnull));
			c->score += part;
			add_reason(c, h->content_id, part);
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	if (BufferIsValid(vmbuffer))
		ReleaseBuffer(vmbuffer);
	index_close(index, NoLock);
	table_close(heap, NoLock);
}

static ArrayType *
int64_array(Candidate **cands, int n)
{
	Datum	   *ids = palloc(Max(n, 1) * sizeof(Datum));

	for (int i = 0; i < n; i++)
		ids[i] = Int64GetDatum(cands[i]->content_id);
	return construct_array(ids, n, INT8OID, 8, true, TYPALIGN_DOUBLE);
}

/* a title's distinct genres, for diversify() */
typedef struct Genres
{
	Datum	   *names;			/* text, not toasted */
	int			n;
} Genres;

static Genres
distinct_genres(Datum array)
{
	Genres		g;
	Datum	   *all;
	bool	   *nulls;
	int			n_all;

	deconstruct_array(DatumGetArrayTypePCopy(array), TEXTOID, -1, false, TYPALIGN_INT,
					  &all, &nulls, &n_all);
	g.names = palloc(Max(n_all, 1) * sizeof(Datum));
	g.n = 0;
	for (int i = 0; i < n_all; i++)
	{
		bool		dup = nulls[i];

		for (int j = 0; j < g.n && !dup; j++)
			dup = datumIsEqual(all[i], g.names[j], false, -1);
		if (!dup)
			g.names[g.n++] = all[i];
	}
	return g;
}

/* how alike two titles' genres are: |A and B| / |A or B|; 0 when either has none */
static double
genre_similarity(const Genres *a, const Genres *b)
{
	int			common = 0;

	if (a->n == 0 || b->n == 0)
		return 0;
	for (int i = 0; i < a->n; i++)
		for (int j = 0; j < b->n; j++)
			if (datumIsEqual(a->names[i], b->names[j], false, -1))
			{
				common++;
				break;
			}
	return (double) common / (a->n + b->n - common);
}

/*
 * Maximal marginal relevance (Carbonell and Goldstein 1998) over genres:
 * the pool (best first) reordered in place so that each next title
 * maximises (1 - diversity) score / best score - diversity x the largest
 * genre similarity to a title already chosen; ties keep the pool order.
 * Only the first n are chosen: n x pool similarities.
 */
static void
diversify(Candidate **pool, int n_pool, int n, double diversity)
{
	Genres	   *genres = palloc0(n_pool * sizeof(Genres));
	double	   *max_sim = palloc0(n_pool * sizeof(double));
	double		best = pool[0]->score;
	Oid			type = INT8ARRAYOID;
	Datum		arg = PointerGetDatum(int64_array(pool, n_pool));
	seen_hash  *at = seen_create(CurrentMemoryContext, n_pool, NULL);
	bool		found;

	/* pool positions by id (strength holds the position) */
	for (int i = 0; i < n_pool; i++)
		seen_insert(at, pool[i]->content_id, &found)->strength = i;
	run(Q_GENRES, 1, &type, &arg, NULL);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		Datum		g = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull);
		Seen	   *e = seen_lookup(at, result_int64(r, 1));

		if (e != NULL && !isnull)
			genres[(int) e->strength] = distinct_genres(g);
	}

	for (int k = 0; k < Min(n, n_pool); k++)
	{
		int			pick = k;
		double		pick_value = -DBL_MAX;

		CHECK_FOR_INTERRUPTS();
		for (int i = k; i < n_pool; i++)
		{
			double		rel = best > 0 ? pool[i]->score / best : 0;
			double		value = (1 - diversity) * rel - diversity * max_sim[i];

			if (value > pick_value)
			{
				pick = i;
				pick_value = value;
			}
		}
		/* move the pick to k, keeping the rest in pool order */
		{
			Candidate  *c = pool[pick];
			Genres		g = genres[pick];
			double		m = max_sim[pick];

			memmove(&pool[k + 1], &pool[k], (pick - k) * sizeof(Candidate *));
			memmove(&genres[k + 1], &genres[k], (pick - k) * sizeof(Genres));
			memmove(&max_sim[k + 1], &max_sim[k], (pick - k) * sizeof(double));
			pool[k] = c;
			genres[k] = g;
			max_sim[k] = m;
		}
		for (int i = k + 1; i < n_pool; i++)
			max_sim[i] = Max(max_sim[i], genre_similarity(&genres[i], &genres[k]));
	}
}

static void
emit(ReturnSetInfo *rsinfo, int64 content_id, double score, const Candidate *c)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, c == NULL};

	values[0] = Int64GetDatum(content_id);
	values[1] = Float8GetDatum(score);
	if (c != NULL)
	{
		Datum		ids[REASONS];

		for (int i = 0; i < c->n_reasons; i++)
			ids[i] = Int64GetDatum(c->reason[i]);
		values[2] = PointerGetDatum(construct_array(ids, c->n_reasons, INT8OID, 8, true,
													TYPALIGN_DOUBLE));
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * Titles from qoe.trending(limit, country, window) not in `skip`, each
 * emitted with its viewer count as the score when `as_score`, else 0;
 * returns how many were emitted (at most `want`).
 */
static int
emit_trending(ReturnSetInfo *rsinfo, int want, int limit, Datum country, bool no_country,
			  Datum window, seen_hash *skip, bool as_score)
{
	Oid			types[3] = {INT4OID, TEXTOID, INTERVALOID};
	Datum		args[3] = {Int32GetDatum(limit), country, window};
	char		nulls[3] = {' ', no_country ? 'n' : ' ', ' '};
	int			emitted = 0;

	run(Q_TRENDING, 3, types, args, nulls);
	for (uint64 r = 0; r < SPI_processed && emitted < want; r++)
	{
		int64		id = result_int64(r, 1);

		if (skip != NULL && seen_lookup(skip, id) != NULL)
			continue;
		emit(rsinfo, id, as_score ? (double) result_int64(r, 2) : 0.0, NULL);
		emitted++;
	}
	return emitted;
}

/*
 * Take from the heap, best first, up to `want` candidates the user's
 * country may see, into pool; returns how many. The catalog is asked
 * about a chunk at a time, twice what is still missing (at least 32).
 */
static int
take_available(binaryheap *ranked, Candidate **pool, int want, Datum country, bool no_country)
{
	int			have = 0;

	while (have < want && !binaryheap_empty(ranked))
	{
		int			chunk = Min(ranked->bh_size, Max(2 * (want - have), 32));
		Candidate **taken = palloc(chunk * sizeof(Candidate *));
		seen_hash  *unavailable = NULL;

		for (int i = 0; i < chunk; i++)
			taken[i] = (Candidate *) DatumGetPointer(binaryheap_remove_first(ranked));
		if (!no_country)
		{
			Oid			types[2] = {INT8ARRAYOID, TEXTOID};
			Datum		args[2] = {PointerGetDatum(int64_array(taken, chunk)), country};
			bool		found;

			run(Q_UNAVAILABLE, 2, types, args, NULL);
			unavailable = seen_create(CurrentMemoryContext, SPI_processed, NULL);
			for (uint64 r = 0; r < SPI_processed; r++)
				(void) seen_insert(unavailable, result_int64(r, 1), &found);
		}
		for (int i = 0; i < chunk && have < want; i++)
			if (unavailable == NULL || seen_lookup(unavailable, taken[i]->content_id) == NULL)
				pool[have++] = taken[i];
	}
	return have;
}

PG_FUNCTION_INFO_V1(qoe_recommend);

/*
 * qoe.recommend(user_id bigint, n int DEFAULT 10) and
 * qoe.recommend(user_id bigint, n int, diversity float8)
 *   RETURNS TABLE (content_id bigint, score float8, reason bigint[])
 * score(j) = sum over the user's titles i listed by j in qoe.item_neighbors
 * of strength(user, i) x similarity(j, i) (item-KNN as in Deshpande and
 * Karypis 2004, Dacrema et al. 2019); reason holds the (up to 3) titles i
 * contributing most. Leaves out titles the user watched (setting exclude:
 * any, or completed sessions only) and titles whose available_countries
 * lack the user's country (qoe.users, else the latest session; unknown: no
 * filter). With diversity > 0 the best candidates are reordered by maximal
 * marginal relevance over genres (diversify()). Too few candidates are
 * topped up with trending titles (score 0, reason NULL); a user without
 * interactions gets qoe.trending() (score = viewers). n must be 0..10000,
 * diversity 0..1.
 */
Datum
qoe_recommend(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		user_id = PG_GETARG_INT64(0);
	int32		n = PG_GETARG_INT32(1);
	double		diversity = PG_NARGS() > 2 ? PG_GETARG_FLOAT8(2) : 0;
	MemoryContext cxt = CurrentMemoryContext;
	Oid			int8type = INT8OID;
	Datum		user_arg = Int64GetDatum(user_id);
	Datum		window;
	Datum		country;
	bool		no_country;
	bool		exclude_any;
	bool		isnull;
	seen_hash  *excluded;
	seen_hash  *emitted_ids;
	cand_hash  *candidates;
	Seen	   *history;
	int			n_history;
	int			emitted = 0;
	int			nest_level;

	if (n < 0 || n > MAX_N)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must be between 0 and %d", MAX_N),
				 errdetail("The value given was %d.", n)));
	if (!(diversity >= 0 && diversity <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("diversity must be between 0 and 1"),
				 errdetail("The value given was %g.", diversity),
				 errhint("0 ranks by score alone; 1 picks by genre novelty alone.")));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (n == 0)
		return (Datum) 0;
	qoe_id_table_seed();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	nest_level = qoe_pin_search_path();

	run(Q_SETTINGS, 1, &int8type, &user_arg, NULL);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("qoe.recommendation_settings has no row"),
				 errhint("INSERT INTO qoe.recommendation_settings DEFAULT VALUES restores the defaults.")));
	exclude_any = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	/* copied: they outlive the tuple table */
	window = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	window = datumCopy(window, false, 16);
	country = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &no_country);
	if (!no_country)
		country = datumCopy(country, false, -1);

	run(Q_HISTORY, 1, &int8type, &user_arg, NULL);
	n_history = (int) SPI_processed;
	if (n_history == 0)
	{
		emit_trending(rsinfo, n, n, country, no_country, window, NULL, true);
		qoe_unpin_search_path(nest_level);
		SPI_finish();
		return (Datum) 0;
	}
	history = MemoryContextAlloc(cxt, n_history * sizeof(Seen));
	for (int r = 0; r < n_history; r++)
	{
		history[r].content_id = result_int64(r, 1);
		history[r].strength = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
	}
	excluded = seen_create(cxt, n_history, NULL);
	if (exclude_any)
	{
		for (int r = 0; r < n_history; r++)
			(void) seen_insert(excluded, history[r].content_id, &isnull);
	}
	else
	{
		run(Q_COMPLETED, 1, &int8type, &user_arg, NULL);
		for (uint64 r = 0; r < SPI_processed; r++)
			(void) seen_insert(excluded, result_int64(r, 1), &isnull);
	}

	/* excluded titles enter first, marked, so a list row costs one probe */
	candidates = cand_create(cxt, 4096, NULL);
	{
		seen_iterator it;
		Seen	   *e;

		seen_start_iterate(excluded, &it);
		while ((e = seen_iterate(excluded, &it)) != NULL)
			cand_insert(candidates, e->content_id, &isnull)->excluded = true;
	}
	score_neighbors(candidates, history, n_history);

	/* best first, without what the user's country may not see */
	{
		binaryheap *ranked = binaryheap_allocate(Max(candidates->members, 1), better_candidate, NULL);
		cand_iterator it;
		Candidate  *c;
		int			want = diversity > 0 ? n + Min(3 * n, MMR_EXTRA) : n;
		Candidate **pool = MemoryContextAlloc(cxt, want * sizeof(Candidate *));
		int			n_pool;

		cand_start_iterate(candidates, &it);
		while ((c = cand_iterate(candidates, &it)) != NULL)
			if (!c->excluded)
				binaryheap_add_unordered(ranked, PointerGetDatum(c));
		binaryheap_build(ranked);
		n_pool = take_available(ranked, pool, want, country, no_country);
		if (diversity > 0 && n_pool > 1)
			diversify(pool, n_pool, n, diversity);
		emitted_ids = seen_create(cxt, n, NULL);
		for (; emitted < Min(n, n_pool); emitted++)
		{
			emit(rsinfo, pool[emitted]->content_id, pool[emitted]->score, pool[emitted]);
			(void) seen_insert(emitted_ids, pool[emitted]->content_id, &isnull);
		}
	}

	/* top up with trending titles the user has not seen nor been given */
	if (emitted < n)
	{
		seen_iterator it;
		Seen	   *e;

		seen_start_iterate(excluded, &it);
		while ((e = seen_iterate(excluded, &it)) != NULL)
			(void) seen_insert(emitted_ids, e->content_id, &isnull);
		emit_trending(rsinfo, n - emitted,
					  (int) Min((int64) emitted_ids->members + n, PG_INT32_MAX),
					  country, no_country, window, emitted_ids, false);
	}

	qoe_unpin_search_path(nest_level);
	SPI_finish();
	return (Datum) 0;
}
