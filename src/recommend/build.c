/*
 * build.c: qoe.build_recommendations(), writing the item-KNN model
 * (item_knn.c) into qoe.item_neighbors, in full or incrementally.
 *
 * Incremental (since given): a title's list can change only when
 *   (A) its own viewer vector changed: a row with last_at >= since is on it,
 *       or (with viewer weighting) on one of its viewers, whose weight moved;
 *   (B) its old list holds a title of A (that similarity may have dropped);
 *   (C) a title of A now beats the worst neighbour on its old list, or its
 *       old list was short of top_k.
 * Every other similarity is computed from the same weights in the same
 * order as before, so it is bit-identical and its list stays. A is computed
 * first (that also gives sim(a, j) for every j, for test C), then B and C.
 * Changes a title count or BM25's average cannot localise (the number of
 * titles, the settings, bm25) make it a full build. Deleted interactions are
 * not seen: run a full build after deleting.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/catalog.h"
#include "recommend/item_knn.h"

#define FLUSH_ROWS 20000

/* neighbour rows waiting to be inserted */
typedef struct NeighborBuffer
{
	SPIPlanPtr	insert_plan;
	int			n;
	Datum		content[FLUSH_ROWS];
	Datum		neighbor[FLUSH_ROWS];
	Datum		sim[FLUSH_ROWS];
	int64		written;
} NeighborBuffer;

static void
flush_neighbors(NeighborBuffer *b)
{
	Datum		args[3];

	if (b->n == 0)
		return;
	args[0] = PointerGetDatum(construct_array(b->content, b->n, INT8OID, 8, true, TYPALIGN_DOUBLE));
	args[1] = PointerGetDatum(construct_array(b->neighbor, b->n, INT8OID, 8, true, TYPALIGN_DOUBLE));
	args[2] = PointerGetDatum(construct_array(b->sim, b->n, FLOAT8OID, 8, true, TYPALIGN_DOUBLE));
	if (SPI_execute_plan(b->insert_plan, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "inserting into qoe.item_neighbors failed");
	b->written += b->n;
	b->n = 0;
	pfree(DatumGetPointer(args[0]));
	pfree(DatumGetPointer(args[1]));
	pfree(DatumGetPointer(args[2]));
}

static void
write_row(NeighborBuffer *b, const KnnRowWork *w, const int64 *item_ids, int32 item)
{
	for (int32 r = 0; r < w->n_top; r++)
	{
		if (b->n == FLUSH_ROWS)
			flush_neighbors(b);
		b->content[b->n] = Int64GetDatum(item_ids[item]);
		b->neighbor[b->n] = Int64GetDatum(item_ids[w->top[r]]);
		b->sim[b->n] = Float8GetDatum(w->top_sim[r]);
		b->n++;
	}
}

/* DELETE the lists of the titles with todo[] set */
static void
delete_lists(const KnnTriples *t, const bool *todo)
{
	Datum	   *ids = palloc(Max(t->n_items, 1) * sizeof(Datum));
	int			n = 0;
	Oid			argtype = INT8ARRAYOID;
	Datum		arg;

	for (int32 i = 0; i < t->n_items; i++)
		if (todo[i])
			ids[n++] = Int64GetDatum(t->item_ids[i]);
	if (n == 0)
		return;
	arg = PointerGetDatum(construct_array(ids, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
	if (SPI_execute_with_args("DELETE FROM qoe.item_neighbors"
							  " WHERE content_id OPERATOR(pg_catalog.=) ANY ($1)",
							  1, &argtype, &arg, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "deleting from qoe.item_neighbors failed");
	pfree(ids);
}

/* progress, in pg_stat_activity.query of this backend, at most once a second */
typedef struct Progress
{
	TimestampTz last;
	const char *phase;
	int32		total;
} Progress;

static void
report_progress(Progress *p, int32 done, bool force)
{
	TimestampTz now = GetCurrentTimestamp();
	char		text[200];

	if (!force && !TimestampDifferenceExceeds(p->last, now, 1000))
		return;
	p->last = now;
	snprintf(text, sizeof(text), "qoe.build_recommendations: %s, %d of %d titles",
			 p->phase, done, p->total);
	pgstat_report_activity(STATE_RUNNING, text);
}

/*
 * The model of the last build, if it was made with the same settings and
 * the same number of titles (else an incremental build cannot be exact).
 * Sets *why to the reason when it cannot.
 */
static bool
can_be_incremental(const KnnSettings *s, const KnnTriples *t, const char **why)
{
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;

	if (s->weighting == KNN_WEIGHT_BM25)
	{
		*why = "bm25 weighting depends on the average viewer's number of titles";
		return false;
	}
	if (s->half_life_s > 0)
	{
		*why = "time decay moves every weight when newer interactions arrive";
		return false;
	}
	if (SPI_execute("SELECT titles, top_k, shrink, weighting, bm25_k1, bm25_b, half_life"
					" FROM qoe.recommendation_status", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading qoe.recommendation_status failed");
	if (SPI_processed != 1)
	{
		*why = "no model was built yet";
		return false;
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull)) != t->n_items)
	{
		*why = "the number of titles changed";
		return false;
	}
	if (DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull)) != s->top_k ||
		DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull)) != s->shrink ||
		strcmp(SPI_getvalue(tup, desc, 4), knn_weighting_name(s->weighting)) != 0)
	{
		*why = "qoe.recommendation_settings changed";
		return false;
	}
	/* the last model had a time decay, this one has none */
	(void) SPI_getbinval(tup, desc, 7, &isnull);
	if (!isnull)
	{
		*why = "qoe.recommendation_settings changed";
		return false;
	}
	return true;
}

/*
 * Marks in todo[] the titles whose lists a change since `since` can alter,
 * computing and writing the titles of A (see the file header) on the way.
 * Returns how many titles it computed, or -1 (nothing done) when more than
 * half of the titles are in A or B: then a full build costs no more.
 */
static int32
incremental_pass(const KnnTriples *t, const KnnMatrix *m, const KnnSettings *s,
				 TimestampTz since, KnnRowWork *w, NeighborBuffer *buf, Progress *prog,
				 bool *todo)
{
	bool	   *changed_user = knn_alloc(t->n_users * sizeof(bool));
	bool	   *in_a = knn_alloc(t->n_items * sizeof(bool));
	int32	   *old_count = knn_alloc(t->n_items * sizeof(int32));
	double	   *worst_sim = knn_alloc(t->n_items * sizeof(double));
	int64	   *worst_id = knn_alloc(t->n_items * sizeof(int64));
	SPIPlanPtr	plan;
	Portal		portal;
	int32		computed = 0;

	memset(changed_user, 0, t->n_users * sizeof(bool));
	memset(in_a, 0, t->n_items * sizeof(bool));
	memset(old_count, 0, t->n_items * sizeof(int32));
	for (int64 r = 0; r < t->n; r++)
		if (t->last_at[r] >= since)
		{
			changed_user[t->user[r]] = true;
			in_a[t->item[r]] = true;
		}
	/* weighted viewers: all of a changed viewer's titles moved */
	if (s->weighting != KNN_WEIGHT_NONE)
		for (int64 r = 0; r < t->n; r++)
			if (changed_user[t->user[r]])
				in_a[t->item[r]] = true;

	/* the old lists: their length, worst entry and whether they hold a title of A */
	plan = SPI_prepare("SELECT content_id, neighbor_id, similarity FROM qoe.item_neighbors", 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		for (uint64 k = 0; k < SPI_processed; k++)
		{
			HeapTuple	tup = SPI_tuptable->vals[k];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			int64		cid = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
			int64		nid = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			double		sim = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
			int32		c = knn_item_index(t, cid);
			int32		nb = knn_item_index(t, nid);

			if (c < 0)
				continue;		/* a title without interactions: only a full build drops it */
			if (nb < 0 || in_a[nb])
				todo[c] = true;
			if (old_count[c] == 0 || knn_better(worst_sim[c], worst_id[c], sim, nid))
			{
				worst_sim[c] = sim;
				worst_id[c] = nid;
			}
			old_count[c]++;
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_freeplan(plan);

	/* most titles affected already: a full build is cheaper and the same */
	{
		int32		affected = 0;

		for (int32 i = 0; i < t->n_items; i++)
			affected += in_a[i] || todo[i];
		if (affected > t->n_items / 2)
		{
			memset(todo, 0, t->n_items * sizeof(bool));
			return -1;
		}
	}

	delete_lists(t, in_a);
	prog->phase = "changed titles";
	for (int32 a = 0; a < t->n_items; a++)
	{
		if (!in_a[a])
			continue;
		CHECK_FOR_INTERRUPTS();
		knn_row(m, s, t->item_ids, a, w);
		write_row(buf, w, t->item_ids, a);
		computed++;
		for (int32 k = 0; k < w->n_touched; k++)
		{
			int32		j = w->touched[k];
			double		sim = w->acc[j];

			if (in_a[j] || todo[j] || !(sim > 0))
				continue;
			if (old_count[j] < s->top_k ||
				knn_better(sim, t->item_ids[a], worst_sim[j], worst_id[j]))
				todo[j] = true;
		}
		report_progress(prog, computed, false);
	}
	for (int32 i = 0; i < t->n_items; i++)
		if (in_a[i])
			todo[i] = false;
	return computed;
}

PG_FUNCTION_INFO_V1(qoe_build_recommendations);

/*
 * qoe.build_recommendations(since timestamptz DEFAULT NULL)
 *   RETURNS TABLE (mode text, titles int, titles_computed int, neighbors bigint,
 *                  duration_ms float8)
 * NULL since: replaces qoe.item_neighbors with the model of all of
 * qoe.interactions. Given: recomputes only the lists the interactions with
 * last_at >= since can change (file header); the result is the same table.
 * Memory: about 32-36 bytes per interaction plus 40 per title. Progress shows in
 * pg_stat_activity.query; cancellable. Concurrent builds wait for each other
 * (SHARE ROW EXCLUSIVE on qoe.item_neighbors); readers are not blocked.
 * Also records the run in qoe.recommendation_status.
 */
Datum
qoe_build_recommendations(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz started = GetCurrentTimestamp();
	MemoryContext cxt;
	KnnSettings s;
	KnnTriples	t;
	KnnMatrix	m;
	KnnRowWork	w;
	NeighborBuffer *buf;
	Progress	prog = {0};
	const char *mode = "full";
	const char *why = NULL;
	bool	   *todo;
	int32		computed = 0;
	Size		peak;
	double		duration_ms;
	int			nest_level;
	Oid			argtypes[3] = {INT8ARRAYOID, INT8ARRAYOID, FLOAT8ARRAYOID};
	Datum		values[5];
	bool		nulls[5] = {0};

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "qoe item-knn build", ALLOCSET_DEFAULT_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	nest_level = qoe_pin_search_path();
	if (SPI_execute("LOCK TABLE qoe.item_neighbors IN SHARE ROW EXCLUSIVE MODE", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "locking qoe.item_neighbors failed");
	knn_read_settings(&s);

	knn_use_context(cxt);
	knn_load(&t, !PG_ARGISNULL(0) || s.half_life_s > 0);
	knn_build_matrix(&m, &t, NULL, &s);
	knn_row_work_init(&w, &m, s.top_k);
	buf = palloc0(sizeof(NeighborBuffer));
	buf->insert_plan = SPI_prepare("INSERT INTO qoe.item_neighbors (content_id, neighbor_id, similarity)"
								   " SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
								   " pg_catalog.unnest($3))", 3, argtypes);
	if (buf->insert_plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	todo = knn_alloc(t.n_items * sizeof(bool));
	memset(todo, 0, t.n_items * sizeof(bool));
	prog.total = t.n_items;
	prog.last = started;

	if (!PG_ARGISNULL(0) && !can_be_incremental(&s, &t, &why))
		ereport(NOTICE,
				(errmsg("building the whole model instead of an incremental update"),
				 errdetail("An incremental update cannot be exact: %s.", why)));
	if (!PG_ARGISNULL(0) && why == NULL)
	{
		mode = "incremental";
		computed = incremental_pass(&t, &m, &s, PG_GETARG_TIMESTAMPTZ(0), &w, buf, &prog, todo);
		if (computed < 0)
		{
			mode = "full";
			computed = 0;
		}
		else
			delete_lists(&t, todo);
	}
	if (strcmp(mode, "full") == 0)
	{
		if (SPI_execute("DELETE FROM qoe.item_neighbors", false, 0) != SPI_OK_DELETE)
			elog(ERROR, "deleting from qoe.item_neighbors failed");
		memset(todo, 1, t.n_items * sizeof(bool));
	}

	prog.phase = strcmp(mode, "full") == 0 ? "similarities" : "affected titles";
	for (int32 i = 0; i < t.n_items; i++)
	{
		if (!todo[i])
			continue;
		CHECK_FOR_INTERRUPTS();
		knn_row(&m, &s, t.item_ids, i, &w);
		write_row(buf, &w, t.item_ids, i);
		computed++;
		report_progress(&prog, computed, false);
	}
	flush_neighbors(buf);
	/*
	 * Interactions and matrix, about 32 bytes per interaction; the load's
	 * passing peak (raw ids before numbering) is about 36.
	 */
	peak = MemoryContextMemAllocated(cxt, true);

	duration_ms = (double) (GetCurrentTimestamp() - started) / 1000.0;
	{
		Oid			types[14] = {TEXTOID, INT4OID, INT4OID, INT8OID, INT4OID, INT8OID,
		FLOAT8OID, INT8OID, INT4OID, FLOAT8OID, TEXTOID, FLOAT8OID, FLOAT8OID, FLOAT8OID};
		Datum		args[14];
		char		nulls14[14];

		args[0] = CStringGetTextDatum(mode);
		args[1] = Int32GetDatum(t.n_users);
		args[2] = Int32GetDatum(t.n_items);
		args[3] = Int64GetDatum(t.n);
		args[4] = Int32GetDatum(computed);
		args[5] = Int64GetDatum(buf->written);
		args[6] = Float8GetDatum(duration_ms);
		args[7] = Int64GetDatum((int64) peak);
		args[8] = Int32GetDatum(s.top_k);
		args[9] = Float8GetDatum(s.shrink);
		args[10] = CStringGetTextDatum(knn_weighting_name(s.weighting));
		args[11] = Float8GetDatum(s.bm25_k1);
		args[12] = Float8GetDatum(s.bm25_b);
		args[13] = Float8GetDatum(s.half_life_s);
		memset(nulls14, ' ', sizeof(nulls14));
		if (s.half_life_s <= 0)
			nulls14[13] = 'n';
		if (SPI_execute("DELETE FROM qoe.recommendation_status", false, 0) != SPI_OK_DELETE)
			elog(ERROR, "deleting from qoe.recommendation_status failed");
		if (SPI_execute_with_args("INSERT INTO qoe.recommendation_status (built_at, mode, users,"
								  " titles, interactions, titles_computed, neighbors, duration_ms,"
								  " memory_bytes, top_k, shrink, weighting, bm25_k1, bm25_b, half_life)"
								  " VALUES (pg_catalog.now(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
								  " $11, $12, $13, pg_catalog.make_interval(secs => $14))",
								  14, types, args, nulls14, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "writing qoe.recommendation_status failed");
	}
	/* pg_stat_activity shows the caller's query again */
	if (debug_query_string)
		pgstat_report_activity(STATE_RUNNING, debug_query_string);

	values[0] = CStringGetTextDatum(mode);
	values[1] = Int32GetDatum(t.n_items);
	values[2] = Int32GetDatum(computed);
	values[3] = Int64GetDatum(buf->written);
	values[4] = Float8GetDatum(duration_ms);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);

	qoe_unpin_search_path(nest_level);
	SPI_finish();
	knn_use_context(NULL);
	MemoryContextDelete(cxt);
	return (Datum) 0;
}
