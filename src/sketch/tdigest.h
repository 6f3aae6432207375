/*
 * tdigest.h - the qoe.tdigest sketch shared by its three modules
 *
 * tdigest.c      the algorithm: buffering, sorting, merging with a scale
 *                function, quantile / rank estimation, the packed format
 * tdigest_io.c   the SQL type (text and binary I/O) and the accessors
 * tdigest_agg.c  the aggregates (tdigest_agg, tdigest_merge,
 *                percentile_approx) with combine / serialize / deserialize
 *
 * A TDigest is the expanded, in-memory form: sorted centroids plus a buffer
 * of raw values that is sorted and merged in when it fills up.  The stored
 * form (TDPacked, a varlena) holds only merged centroids.
 */
#ifndef QOE_TDIGEST_H
#define QOE_TDIGEST_H

#include "postgres.h"

#include <math.h>

#define TD_MIN_COMPRESSION		10
#define TD_MAX_COMPRESSION		10000
#define TD_DEFAULT_COMPRESSION	100

/*
 * Largest count a digest may hold: 2^53, so that every count, weight and
 * position is exact as a double as well as an int64.
 */
#define TD_MAX_COUNT			(INT64CONST(1) << 53)

/* Current packed format; readers reject versions they do not know. */
#define TD_FORMAT_VERSION		1
/* No flags are defined in version 1; a reader rejects unknown ones. */
#define TD_KNOWN_FLAGS			0

typedef struct TDCentroid
{
	double		mean;
	int64		weight;
} TDCentroid;

typedef struct TDigest
{
	int32		compression;
	int32		ncentroids;		/* merged centroids, sorted by mean */
	int32		maxcentroids;
	int32		nbuffer;		/* raw values not merged yet */
	int32		maxbuffer;
	int32		npending;		/* centroids from other digests, not merged */
	int32		maxpending;
	int64		count;			/* every value, merged or buffered */
	double		min;			/* exact extremes (+Inf / -Inf when empty) */
	double		max;
	double		sum;			/* Neumaier-compensated running sum */
	double		sumcomp;
	TDCentroid *centroids;
	double	   *buffer;
	TDCentroid *pending;
	MemoryContext mcxt;			/* owns the three arrays */
} TDigest;

extern void td_init(TDigest *td, MemoryContext mcxt, int compression);
extern void td_check_compression(int compression);
extern void td_check_q(double q);
extern void td_buffer_full(TDigest *td);
extern void td_reject_value(double v) pg_attribute_noreturn();
extern void td_add_digest(TDigest *dst, const TDigest *src);
extern void td_compress(TDigest *td);
extern bool td_collect_singles(TDigest *td);
extern double td_quantile(const TDigest *td, double q);
extern void td_quantiles(const TDigest *td, const double *qs, const bool *qnull,
						 int nq, double *out);
extern double td_rank(const TDigest *td, double x);
extern double td_total_sum(const TDigest *td);

/* tdigest_io.c: estimate an array of percentiles (NULL elements stay NULL) */
struct ArrayType;
extern struct ArrayType *td_quantile_array(const TDigest *td, struct ArrayType *qarr);

/* packed (stored) form */
extern struct varlena *td_pack(TDigest *td);
extern void td_unpack(TDigest *td, MemoryContext mcxt, const struct varlena *packed,
					  int sqlstate);
extern void td_validate(const TDigest *td, int sqlstate);
extern Size td_packed_size(const TDigest *td);
extern void td_pack_into(const TDigest *td, char *dst);

/*
 * Add one value.  This is the hot path of every aggregate: a finiteness
 * check, the exact statistics and an append to the buffer; sorting and
 * merging happen once per full buffer (td_buffer_full).
 */
static inline void
td_add(TDigest *td, double v)
{
	double		t;

	if (unlikely(isnan(v) || isinf(v)))
		td_reject_value(v);
	if (v < td->min)
		td->min = v;
	if (v > td->max)
		td->max = v;
	t = td->sum + v;
	if (fabs(td->sum) >= fabs(v))
		td->sumcomp += (td->sum - t) + v;
	else
		td->sumcomp += (v - t) + td->sum;
	td->sum = t;
	if (unlikely(td->nbuffer >= td->maxbuffer))
		td_buffer_full(td);
	td->buffer[td->nbuffer++] = v;
	td->count++;
}

#endif							/* QOE_TDIGEST_H */
