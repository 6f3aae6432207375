/*
 * recommend.c: qoe.recommend(), serving the item-KNN model of
 * qoe.item_neighbors (built by build.c) for one user.
 *
 * A handful of index scans (the user's interactions, the lists naming them,
 * the catalog rows of the best candidates) through plans prepared once per
 * backend; the scoring itself in hash tables. Scoring the same way in SQL
 * joins is an order of magnitude slower (doc/recommendations.md).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "core/catalog.h"

#define REASONS 3
#define MAX_N 10000

typedef enum RecQuery
{
	Q_SETTINGS,
	Q_HISTORY,
	Q_COUNTRY,
	Q_COMPLETED,
	Q_NEIGHBORS,
	Q_UNAVAILABLE,
	Q_TRENDING,
	Q_COUNT
} RecQuery;

static const char *const rec_sql[Q_COUNT] = {
	"SELECT exclude, trending_window FROM qoe.recommendation_settings",
	"SELECT content_id, strength FROM qoe.interactions WHERE user_id OPERATOR(pg_catalog.=) $1",
	/* the country of qoe.users, else of the user's latest session that has one */
	"SELECT coalesce((SELECT u.country FROM qoe.users u WHERE u.user_id OPERATOR(pg_catalog.=) $1),"
	" (SELECT s.country FROM qoe.sessions s WHERE s.user_id OPERATOR(pg_catalog.=) $1"
	" AND s.country IS NOT NULL ORDER BY s.last_event_at DESC LIMIT 1))",
	"SELECT DISTINCT content_id FROM qoe.sessions WHERE user_id OPERATOR(pg_catalog.=) $1 AND completed",
	"SELECT content_id, neighbor_id, similarity FROM qoe.item_neighbors"
	" WHERE neighbor_id OPERATOR(pg_catalog.=) ANY ($1)",
	"SELECT content_id FROM qoe.content WHERE content_id OPERATOR(pg_catalog.=) ANY ($1)"
	" AND available_countries IS NOT NULL"
	" AND NOT ($2 OPERATOR(pg_catalog.=) ANY (available_countries))",
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

typedef struct Seen
{
	int64		content_id;
	double		strength;		/* in the user's history; 0 when only excluded */
} Seen;

typedef struct Candidate
{
	int64		content_id;
	bool		excluded;		/* entered beforehand: never scored */
	double		score;
	int			n_reasons;
	int64		reason[REASONS];	/* the user's titles contributing most, best first */
	double		reason_part[REASONS];
} Candidate;

static HTAB *
int64_table(const char *name, long size, Size entry, MemoryContext cxt)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(int64);
	ctl.entrysize = entry;
	ctl.hcxt = cxt;
	return hash_create(name, Max(size, 16), &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

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

static int
cmp_candidates(const void *a, const void *b)
{
	const Candidate *x = *(Candidate *const *) a;
	const Candidate *y = *(Candidate *const *) b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return (x->content_id > y->content_id) - (x->content_id < y->content_id);
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
			  Datum window, HTAB *skip, bool as_score)
{
	Oid			types[3] = {INT4OID, TEXTOID, INTERVALOID};
	Datum		args[3] = {Int32GetDatum(limit), country, window};
	char		nulls[3] = {' ', no_country ? 'n' : ' ', ' '};
	int			emitted = 0;

	run(Q_TRENDING, 3, types, args, nulls);
	for (uint64 r = 0; r < SPI_processed && emitted < want; r++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		int64		viewers = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));

		if (skip != NULL && hash_search(skip, &id, HASH_FIND, NULL) != NULL)
			continue;
		emit(rsinfo, id, as_score ? (double) viewers : 0.0, NULL);
		emitted++;
	}
	return emitted;
}

PG_FUNCTION_INFO_V1(qoe_recommend);

/*
 * qoe.recommend(user_id bigint, n int DEFAULT 10)
 *   RETURNS TABLE (content_id bigint, score float8, reason bigint[])
 * score(j) = sum over the user's titles i listed by j in qoe.item_neighbors
 * of strength(user, i) x similarity(j, i) (item-KNN as in Deshpande and
 * Karypis 2004, Dacrema et al. 2019); reason holds the (up to 3) titles i
 * contributing most. Leaves out titles the user watched (setting exclude:
 * any, or completed sessions only) and titles whose available_countries
 * lack the user's country (qoe.users, else the latest session; unknown: no
 * filter). Too few candidates are topped up with trending titles (score 0,
 * reason NULL); a user without interactions gets qoe.trending() (score =
 * viewers). n must be 0..10000.
 */
Datum
qoe_recommend(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		user_id = PG_GETARG_INT64(0);
	int32		n = PG_GETARG_INT32(1);
	MemoryContext cxt = CurrentMemoryContext;
	Oid			int8type = INT8OID;
	Datum		user_arg = Int64GetDatum(user_id);
	Datum		window;
	Datum		country = (Datum) 0;
	bool		no_country;
	bool		exclude_any;
	bool		isnull;
	HTAB	   *history;
	HTAB	   *excluded;
	HTAB	   *candidates;
	uint64		n_history;
	Datum	   *ids;
	int			emitted = 0;
	int			nest_level;

	if (n < 0 || n > MAX_N)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must be between 0 and %d", MAX_N),
				 errdetail("The value given was %d.", n)));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (n == 0)
		return (Datum) 0;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	nest_level = qoe_pin_search_path();

	run(Q_SETTINGS, 0, NULL, NULL, NULL);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("qoe.recommendation_settings has no row"),
				 errhint("INSERT INTO qoe.recommendation_settings DEFAULT VALUES restores the defaults.")));
	exclude_any = strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "any") == 0;
	window = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	window = datumCopy(window, false, 16);	/* outlives the tuple table */

	run(Q_COUNTRY, 1, &int8type, &user_arg, NULL);
	country = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &no_country);
	if (!no_country)
		country = datumCopy(country, false, -1);

	run(Q_HISTORY, 1, &int8type, &user_arg, NULL);
	n_history = SPI_processed;
	if (n_history == 0)
	{
		emit_trending(rsinfo, n, n, country, no_country, window, NULL, true);
		qoe_unpin_search_path(nest_level);
		SPI_finish();
		return (Datum) 0;
	}
	history = int64_table("qoe recommend history", n_history, sizeof(Seen), cxt);
	ids = MemoryContextAlloc(cxt, n_history * sizeof(Datum));
	for (uint64 r = 0; r < n_history; r++)
	{
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		Seen	   *e = hash_search(history, &id, HASH_ENTER, NULL);

		e->strength = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
		ids[r] = Int64GetDatum(id);
	}
	if (exclude_any)
		excluded = history;
	else
	{
		run(Q_COMPLETED, 1, &int8type, &user_arg, NULL);
		excluded = int64_table("qoe recommend excluded", SPI_processed, sizeof(Seen), cxt);
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));

			((Seen *) hash_search(excluded, &id, HASH_ENTER, NULL))->strength = 0;
		}
	}

	/* score every title listing one of the user's titles */
	{
		Oid			arraytype = INT8ARRAYOID;
		Datum		arg = PointerGetDatum(construct_array(ids, (int) n_history, INT8OID, 8, true,
														  TYPALIGN_DOUBLE));

		run(Q_NEIGHBORS, 1, &arraytype, &arg, NULL);
	}
	/*
	 * One hash probe per row: excluded titles are entered first, marked; the
	 * rows come grouped by source (the index order), so its strength is
	 * looked up once per group.
	 */
	candidates = int64_table("qoe recommend candidates",
							 SPI_processed + hash_get_num_entries(excluded), sizeof(Candidate), cxt);
	{
		HASH_SEQ_STATUS hs;
		Seen	   *e;

		hash_seq_init(&hs, excluded);
		while ((e = hash_seq_search(&hs)) != NULL)
			((Candidate *) hash_search(candidates, &e->content_id, HASH_ENTER, NULL))->excluded = true;
	}
	{
		int64		last_source = 0;
		Seen	   *h = NULL;

		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			int64		cand = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
			int64		source = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			double		sim = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
			Candidate  *c;
			bool		found;

			if (h == NULL || source != last_source)
			{
				h = hash_search(history, &source, HASH_FIND, NULL);
				last_source = source;
				if (h == NULL)
					continue;
			}
			c = hash_search(candidates, &cand, HASH_ENTER, &found);
			if (!found)
			{
				c->excluded = false;
				c->score = 0;
				c->n_reasons = 0;
			}
			if (c->excluded)
				continue;
			c->score += h->strength * sim;
			add_reason(c, source, h->strength * sim);
		}
	}

	/* best first, then drop what the user's country may not see */
	{
		long		n_cand = hash_get_num_entries(candidates);
		Candidate **sorted = MemoryContextAlloc(cxt, Max(n_cand, 1) * sizeof(Candidate *));
		HASH_SEQ_STATUS seq;
		Candidate  *c;
		long		k = 0;
		HTAB	   *emitted_ids = int64_table("qoe recommend emitted", n, sizeof(Seen), cxt);

		hash_seq_init(&seq, candidates);
		while ((c = hash_seq_search(&seq)) != NULL)
			if (!c->excluded)
				sorted[k++] = c;
		n_cand = k;
		qsort(sorted, n_cand, sizeof(Candidate *), cmp_candidates);
		for (long from = 0; from < n_cand && emitted < n;)
		{
			long		chunk = Min(n_cand - from, Max(2 * (long) (n - emitted), 32));
			HTAB	   *unavailable = NULL;

			if (!no_country)
			{
				Oid			types[2] = {INT8ARRAYOID, TEXTOID};
				Datum		args[2];
				Datum	   *chunk_ids = MemoryContextAlloc(cxt, chunk * sizeof(Datum));

				for (long i = 0; i < chunk; i++)
					chunk_ids[i] = Int64GetDatum(sorted[from + i]->content_id);
				args[0] = PointerGetDatum(construct_array(chunk_ids, (int) chunk, INT8OID, 8, true,
														  TYPALIGN_DOUBLE));
				args[1] = country;
				run(Q_UNAVAILABLE, 2, types, args, NULL);
				unavailable = int64_table("qoe recommend unavailable", SPI_processed, sizeof(Seen), cxt);
				for (uint64 r = 0; r < SPI_processed; r++)
				{
					int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));

					(void) hash_search(unavailable, &id, HASH_ENTER, NULL);
				}
			}
			for (long i = from; i < from + chunk && emitted < n; i++)
			{
				if (unavailable != NULL &&
					hash_search(unavailable, &sorted[i]->content_id, HASH_FIND, NULL) != NULL)
					continue;
				emit(rsinfo, sorted[i]->content_id, sorted[i]->score, sorted[i]);
				(void) hash_search(emitted_ids, &sorted[i]->content_id, HASH_ENTER, NULL);
				emitted++;
			}
			from += chunk;
		}

		/* top up with trending titles the user has not seen nor been given */
		if (emitted < n)
		{
			HASH_SEQ_STATUS hs;
			Seen	   *e;

			hash_seq_init(&hs, excluded);
			while ((e = hash_seq_search(&hs)) != NULL)
				(void) hash_search(emitted_ids, &e->content_id, HASH_ENTER, NULL);
			emit_trending(rsinfo, n - emitted,
						  (int) Min((long) hash_get_num_entries(emitted_ids) + n, PG_INT32_MAX),
						  country, no_country, window, emitted_ids, false);
		}
	}

	qoe_unpin_search_path(nest_level);
	SPI_finish();
	return (Datum) 0;
}
