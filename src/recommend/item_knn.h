/*
 * item_knn.h: the item-item model shared by the build (build.c) and the
 * offline evaluation (evaluate.c): qoe.interactions loaded into two sparse
 * matrices with dense indices, viewer weighting, and one title's row of
 * cosine-with-shrinkage similarities cut to its top K. Definitions:
 * doc/recommendations.md.
 */
#ifndef QOE_ITEM_KNN_H
#define QOE_ITEM_KNN_H

#include "datatype/timestamp.h"

typedef enum KnnWeighting
{
	KNN_WEIGHT_NONE,
	KNN_WEIGHT_TFIDF,
	KNN_WEIGHT_BM25
} KnnWeighting;

/* the model parameters of qoe.recommendation_settings */
typedef struct KnnSettings
{
	int			top_k;
	double		shrink;
	KnnWeighting weighting;
	double		bm25_k1;
	double		bm25_b;
	double		half_life_s;	/* time decay; 0: none */
} KnnSettings;

/*
 * qoe.interactions as loaded: one entry per row, users and titles numbered
 * densely in ascending id order (so every run sums in the same order and
 * gives bit-identical similarities for the same input).
 */
typedef struct KnnTriples
{
	int64		n;				/* rows */
	int32	   *user;			/* dense user index */
	int32	   *item;			/* dense title index */
	float4	   *strength;
	TimestampTz *last_at;
	int32		n_users;
	int32		n_items;
	int64	   *user_ids;		/* dense index -> user_id */
	int64	   *item_ids;		/* dense index -> content_id */
} KnnTriples;

/*
 * The weighted matrix in both orientations (compressed rows), built from the
 * triples that are kept. Weights are float4 to halve the memory; products
 * and sums are double.
 */
typedef struct KnnMatrix
{
	int32		n_users;
	int32		n_items;
	int64	   *item_ptr;		/* n_items + 1 offsets into item_user / item_w */
	int32	   *item_user;
	float4	   *item_w;
	int64	   *user_ptr;		/* n_users + 1 offsets into user_item / user_w */
	int32	   *user_item;
	float4	   *user_w;
	float4	   *user_r;			/* the raw strengths, for scoring */
	double	   *norm;			/* per title: Euclidean norm of its weights */
} KnnMatrix;

/* work space of knn_row(), one per build */
typedef struct KnnRowWork
{
	double	   *acc;			/* n_items dot products */
	int32	   *mark;			/* n_items: 1 + the title acc[] holds */
	int32	   *touched;		/* titles with a dot product */
	int32		n_touched;
	int32	   *top;			/* top_k neighbours (dense), best first */
	double	   *top_sim;
	int32		n_top;
} KnnRowWork;

extern void knn_read_settings(KnnSettings *s);
extern const char *knn_weighting_name(KnnWeighting w);
extern void knn_load(KnnTriples *t, bool with_time);
extern void knn_build_matrix(KnnMatrix *m, const KnnTriples *t, const bool *keep,
							 const KnnSettings *s);
extern void knn_row_work_init(KnnRowWork *w, const KnnMatrix *m, int top_k);
extern void knn_row(const KnnMatrix *m, const KnnSettings *s, const int64 *item_ids,
					int32 item, KnnRowWork *w);
extern bool knn_better(double sim_a, int64 id_a, double sim_b, int64 id_b);
extern void knn_use_context(MemoryContext cxt);
extern void *knn_alloc(Size size);
extern int32 knn_item_index(const KnnTriples *t, int64 content_id);

#endif
