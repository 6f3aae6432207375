/*
 * evaluate.c: qoe.evaluate_recommendations(), offline accuracy of the
 * item-KNN model (item_knn.c) against a most-popular baseline, by the
 * leave-one-out protocol of He et al. 2017 (NCF) as reproduced by Dacrema
 * et al. 2019 (doc/recommendations.md):
 *   - each user with at least two interactions has the latest one (last_at,
 *     then content_id) held out; both models are built without them, with
 *     the settings of qoe.recommendation_settings;
 *   - the held-out title is ranked among `negatives` titles the user never
 *     interacted with, drawn uniformly without replacement (0 or more than
 *     there are: all of them); ties are broken uniformly at random;
 *   - HR@k: share of users whose title ranks within the first k;
 *     NDCG@k: mean of 1 / log2(rank + 1) over those (rank from 1).
 * The draws come from one generator seeded with `seed`, users in id order:
 * the same data and seed give the same figures.
 */
#include "postgres.h"

#include <math.h>

#include "common/pg_prng.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "core/catalog.h"
#include "recommend/item_knn.h"

typedef struct Tally
{
	int64		hits;
	double		ndcg;
} Tally;

/*
 * 0-based rank of the target among the candidates by score (higher first),
 * ties placed uniformly at random, counted into *tally when within k.
 */
static void
rank_target(const double *score, int32 target, const int32 *cand, int32 n_cand, int k,
			pg_prng_state *rng, Tally *tally)
{
	int64		above = 0,
				ties = 0,
				rank;

	for (int32 c = 0; c < n_cand; c++)
	{
		if (score[cand[c]] > score[target])
			above++;
		else if (score[cand[c]] == score[target])
			ties++;
	}
	rank = above + (ties > 0 ? (int64) pg_prng_uint64_range(rng, 0, ties) : 0);
	if (rank < k)
	{
		tally->hits++;
		tally->ndcg += 1.0 / log2((double) rank + 2.0);
	}
}

PG_FUNCTION_INFO_V1(qoe_evaluate_recommendations);

/*
 * qoe.evaluate_recommendations(k int DEFAULT 10, negatives int DEFAULT 100,
 *                              seed int DEFAULT 0)
 *   RETURNS TABLE (model text, hr float8, ndcg float8, users int)
 * One row for item_knn, one for most_popular (protocol in the file header).
 * Reads all of qoe.interactions into memory (as a build does) and writes
 * nothing. k must be at least 1, negatives at least 0.
 */
Datum
qoe_evaluate_recommendations(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		k = PG_GETARG_INT32(0);
	int32		negatives = PG_GETARG_INT32(1);
	int32		seed = PG_GETARG_INT32(2);
	MemoryContext cxt;
	KnnSettings s;
	KnnTriples	t;
	KnnMatrix	m;
	KnnRowWork	w;
	bool	   *keep;
	int64	   *held;			/* per user: the held-out row, or -1 */
	int64	   *rev_ptr;
	int32	   *rev_item;
	float4	   *rev_sim;
	int32	   *n_nb;
	int32	   *nb;
	float4	   *nb_sim;
	double	   *knn_score;
	double	   *pop_score;
	int32	   *seen;			/* per title: 1 + the user it was last seen for */
	int32	   *picked;			/* per title: 1 + the user it was last drawn for */
	int32	   *cand;
	pg_prng_state rng;
	Tally		knn = {0},
				pop = {0};
	int32		users = 0;
	int			nest_level;

	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1"),
				 errdetail("The value given was %d.", k)));
	if (negatives < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("negatives must be at least 0"),
				 errdetail("The value given was %d.", negatives),
				 errhint("0 ranks the held-out title against every title.")));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "qoe item-knn evaluation", ALLOCSET_DEFAULT_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	nest_level = qoe_pin_search_path();
	knn_read_settings(&s);
	knn_use_context(cxt);
	knn_load(&t, true);

	/* hold out each user's latest interaction, when the user has another */
	held = knn_alloc(t.n_users * sizeof(int64));
	keep = knn_alloc(t.n * sizeof(bool));
	{
		int32	   *count = knn_alloc(t.n_users * sizeof(int32));

		memset(count, 0, t.n_users * sizeof(int32));
		for (int32 u = 0; u < t.n_users; u++)
			held[u] = -1;
		for (int64 r = 0; r < t.n; r++)
		{
			int32		u = t.user[r];
			int64		h = held[u];

			count[u]++;
			if (h < 0 || t.last_at[r] > t.last_at[h] ||
				(t.last_at[r] == t.last_at[h] && t.item[r] > t.item[h]))
				held[u] = r;
		}
		for (int64 r = 0; r < t.n; r++)
			keep[r] = true;
		for (int32 u = 0; u < t.n_users; u++)
		{
			if (count[u] < 2)
				held[u] = -1;
			else
				keep[held[u]] = false;
		}
		pfree(count);
	}
	knn_build_matrix(&m, &t, keep, &s);
	knn_row_work_init(&w, &m, s.top_k);

	/* the model: each title's top-K, then who lists whom (to score a user) */
	n_nb = knn_alloc(t.n_items * sizeof(int32));
	nb = knn_alloc((int64) t.n_items * s.top_k * sizeof(int32));
	nb_sim = knn_alloc((int64) t.n_items * s.top_k * sizeof(float4));
	rev_ptr = knn_alloc((t.n_items + 1) * sizeof(int64));
	memset(rev_ptr, 0, (t.n_items + 1) * sizeof(int64));
	for (int32 j = 0; j < t.n_items; j++)
	{
		CHECK_FOR_INTERRUPTS();
		knn_row(&m, &s, t.item_ids, j, &w);
		n_nb[j] = w.n_top;
		for (int32 r = 0; r < w.n_top; r++)
		{
			nb[(int64) j * s.top_k + r] = w.top[r];
			nb_sim[(int64) j * s.top_k + r] = (float4) w.top_sim[r];
			rev_ptr[w.top[r] + 1]++;
		}
	}
	for (int32 i = 0; i < t.n_items; i++)
		rev_ptr[i + 1] += rev_ptr[i];
	rev_item = knn_alloc(Max(rev_ptr[t.n_items], 1) * sizeof(int32));
	rev_sim = knn_alloc(Max(rev_ptr[t.n_items], 1) * sizeof(float4));
	{
		int64	   *fill = knn_alloc(t.n_items * sizeof(int64));

		memcpy(fill, rev_ptr, t.n_items * sizeof(int64));
		for (int32 j = 0; j < t.n_items; j++)
			for (int32 r = 0; r < n_nb[j]; r++)
			{
				int32		i = nb[(int64) j * s.top_k + r];
				int64		at = fill[i]++;

				rev_item[at] = j;
				rev_sim[at] = nb_sim[(int64) j * s.top_k + r];
			}
		pfree(fill);
	}

	pop_score = knn_alloc(t.n_items * sizeof(double));
	for (int32 i = 0; i < t.n_items; i++)
		pop_score[i] = (double) (m.item_ptr[i + 1] - m.item_ptr[i]);
	knn_score = knn_alloc(t.n_items * sizeof(double));
	memset(knn_score, 0, t.n_items * sizeof(double));
	seen = knn_alloc(t.n_items * sizeof(int32));
	picked = knn_alloc(t.n_items * sizeof(int32));
	memset(seen, 0, t.n_items * sizeof(int32));
	memset(picked, 0, t.n_items * sizeof(int32));
	cand = knn_alloc(t.n_items * sizeof(int32));
	pg_prng_seed(&rng, (uint64) (int64) seed);

	for (int32 u = 0; u < t.n_users; u++)
	{
		int32		target;
		int32		n_cand = 0;
		int32		unseen;

		if (held[u] < 0)
			continue;
		if ((u & 0xFF) == 0)
			CHECK_FOR_INTERRUPTS();
		target = t.item[held[u]];
		seen[target] = u + 1;
		for (int64 p = m.user_ptr[u]; p < m.user_ptr[u + 1]; p++)
		{
			int32		i = m.user_item[p];

			seen[i] = u + 1;
			for (int64 q = rev_ptr[i]; q < rev_ptr[i + 1]; q++)
				knn_score[rev_item[q]] += (double) m.user_r[p] * rev_sim[q];
		}
		unseen = t.n_items - 1 - (int32) (m.user_ptr[u + 1] - m.user_ptr[u]);
		if (negatives == 0 || negatives >= unseen)
		{
			for (int32 j = 0; j < t.n_items; j++)
				if (seen[j] != u + 1)
					cand[n_cand++] = j;
		}
		else
		{
			while (n_cand < negatives)
			{
				int32		j = (int32) pg_prng_uint64_range(&rng, 0, t.n_items - 1);

				if (seen[j] == u + 1 || picked[j] == u + 1)
					continue;
				picked[j] = u + 1;
				cand[n_cand++] = j;
			}
		}
		rank_target(knn_score, target, cand, n_cand, k, &rng, &knn);
		rank_target(pop_score, target, cand, n_cand, k, &rng, &pop);
		users++;
		/* clear what this user's scoring touched */
		for (int64 p = m.user_ptr[u]; p < m.user_ptr[u + 1]; p++)
		{
			int32		i = m.user_item[p];

			for (int64 q = rev_ptr[i]; q < rev_ptr[i + 1]; q++)
				knn_score[rev_item[q]] = 0;
		}
	}

	{
		const char *names[2] = {"item_knn", "most_popular"};
		Tally	   *tallies[2] = {&knn, &pop};

		for (int i = 0; i < 2; i++)
		{
			Datum		values[4];
			bool		nulls[4] = {false, users == 0, users == 0, false};

			values[0] = CStringGetTextDatum(names[i]);
			values[1] = Float8GetDatum(users > 0 ? (double) tallies[i]->hits / users : 0);
			values[2] = Float8GetDatum(users > 0 ? tallies[i]->ndcg / users : 0);
			values[3] = Int32GetDatum(users);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	qoe_unpin_search_path(nest_level);
	SPI_finish();
	knn_use_context(NULL);
	MemoryContextDelete(cxt);
	return (Datum) 0;
}
