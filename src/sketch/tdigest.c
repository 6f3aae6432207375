/*
 * tdigest.c - a merging t-digest for the qoe.tdigest type and aggregates
 *
 * Values are appended to a buffer (td_add in tdigest.h).  When the buffer is
 * full it is radix-sorted and merged, in one pass, with the existing sorted
 * centroids; consecutive items are folded into one centroid for as long as
 * the centroid spans at most one unit of the scale function
 *
 *     k(q) = A * asin(2q - 1) + B * ln(q / (1 - q))
 *
 * with A = compression / (2 pi) and B = compression / 25.  The arcsine term
 * (Dunning's k1) gives about compression / 2 centroids spread so that the
 * middle of the distribution is well resolved; the logit term makes
 * centroids shrink in proportion to q (1 - q) in the tails, down to single
 * values at both ends, which is what keeps p99 / p99.9 of long-tailed data
 * such as start-up times accurate.  k does not depend on the number of
 * values, so digests of any size merge under the same rule.
 *
 * Quantiles interpolate linearly between centroid means, with the exact
 * minimum and maximum as the end points and single-value centroids treated
 * as exact points; a digest whose centroids are all single values therefore
 * answers exactly like percentile_cont.  A value repeated enough to fill a
 * centroid by itself is kept apart as a point mass (two centroids with its
 * mean), so percentiles inside it and its rank are exact.
 *
 * The packed (stored) format is described at TDPackedHeader.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "common/int.h"
#include "common/shortest_dec.h"
#include "miscadmin.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "sketch/tdigest.h"

/* Scale function coefficients per unit of compression (see above). */
#define TD_K1_PER_COMPRESSION	(1.0 / (2.0 * M_PI))
#define TD_LOGIT_PER_COMPRESSION (1.0 / 25.0)

/* Raw-value buffer: starts small, doubles up to this many per compression. */
#define TD_BUFFER_INITIAL		64
#define TD_BUFFER_PER_COMPRESSION 32
/* Centroids queued from other digests before a merge is forced. */
#define TD_PENDING_PER_COMPRESSION 10

/*
 * Packed format, version 1 (all fields in host byte order, read with memcpy
 * so that no alignment is assumed):
 *
 *   0  int32   varlena header
 *   4  uint8   format version (TD_FORMAT_VERSION)
 *   5  uint8   flags (none defined)
 *   6  uint16  compression
 *   8  int64   count
 *  16  float8  min
 *  24  float8  max
 *  32  float8  sum
 *  40  int32   number of centroids n
 *  44  float8  n centroid means, ascending
 *  ..  varint  n centroid weights (unsigned LEB128), summing to count
 */
#define TD_PACKED_HEADER_SIZE	44

/* scratch space reused by every merge in this backend */
static uint64 *scratch_keys = NULL;
static int	scratch_keys_size = 0;
static TDCentroid *scratch_out = NULL;
static int	scratch_out_size = 0;
static TDCentroid *scratch_in = NULL;
static int	scratch_in_size = 0;
static TDCentroid *scratch_sort = NULL;
static int	scratch_sort_size = 0;

/*
 * Make *ptr hold at least need elements.  The old buffer is released only
 * once the new one exists, so an allocation failure leaves *ptr and *size
 * consistent for the next call in this backend.
 */
static void
scratch_grow(void **ptr, int *size, int need, Size elemsize)
{
	int			newsize;
	void	   *newptr;

	if (need <= *size)
		return;
	/* grow geometrically, but never beyond what one allocation can hold */
	newsize = Max(need, (int) Min((Size) 2 * *size, MaxAllocSize / elemsize));
	newptr = MemoryContextAlloc(TopMemoryContext, (Size) newsize * elemsize);
	if (*ptr)
		pfree(*ptr);
	*ptr = newptr;
	*size = newsize;
}

void
td_check_compression(int compression)
{
	if (compression < TD_MIN_COMPRESSION || compression > TD_MAX_COMPRESSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tdigest compression %d is out of range", compression),
				 errdetail("Compression must be between %d and %d.",
						   TD_MIN_COMPRESSION, TD_MAX_COMPRESSION),
				 errhint("Use the default of %d unless you need more accuracy in exchange for a larger digest.",
						 TD_DEFAULT_COMPRESSION)));
}

void
td_check_q(double q)
{
	if (isnan(q) || q < 0.0 || q > 1.0)
	{
		/* shortest exact form: 1 + 1e-15 must not print as 1 */
		char		qbuf[DOUBLE_SHORTEST_DECIMAL_LEN];

		double_to_shortest_decimal_buf(q, qbuf);
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("percentile %s is not between 0 and 1", qbuf),
				 errhint("Pass a fraction, for example 0.95 for the 95th percentile.")));
	}
}

void
td_reject_value(double v)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("tdigest cannot accept %s", isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity")),
			 errdetail("Only finite values can be added to a tdigest."),
			 errhint("Filter the value out, for example with WHERE value <> 'NaN' AND value <> 'Infinity'.")));
}

void
td_init(TDigest *td, MemoryContext mcxt, int compression)
{
	td_check_compression(compression);
	memset(td, 0, sizeof(TDigest));
	td->compression = compression;
	td->min = get_float8_infinity();
	td->max = -get_float8_infinity();
	td->mcxt = mcxt;
	/* the buffer comes with the first value: a merge of digests needs none */
}

double
td_total_sum(const TDigest *td)
{
	return td->sum + td->sumcomp;
}

static void
td_check_sum(const TDigest *td)
{
	double		s = td_total_sum(td);

	if (isnan(s) || isinf(s))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("tdigest sum is out of range"),
				 errdetail("The running sum of the values overflowed double precision."),
				 errhint("Scale the values down before aggregating them.")));
}

/*
 * Called by td_add when the buffer is full: grow it while it is below its
 * final size (small groups then never pay for a merge before the end),
 * otherwise merge it into the centroids.
 */
void
td_buffer_full(TDigest *td)
{
	int			limit = TD_BUFFER_PER_COMPRESSION * td->compression;

	if (td->maxbuffer < limit)
	{
		int			newsize = Min(Max(td->maxbuffer * 2, TD_BUFFER_INITIAL), limit);

		if (td->buffer == NULL)
			td->buffer = MemoryContextAlloc(td->mcxt, sizeof(double) * newsize);
		else
			td->buffer = repalloc(td->buffer, sizeof(double) * newsize);
		td->maxbuffer = newsize;
		return;
	}
	td_compress(td);
}

/* ---------------------------------------------------------------------
 * Sorting
 * ---------------------------------------------------------------------
 */

/* map a double onto an unsigned key with the same order */
static inline uint64
td_key(double v)
{
	uint64		b;

	memcpy(&b, &v, sizeof(b));
	return (b & UINT64CONST(0x8000000000000000)) ? ~b : b | UINT64CONST(0x8000000000000000);
}

static inline double
td_unkey(uint64 k)
{
	uint64		b;
	double		v;

	b = (k & UINT64CONST(0x8000000000000000)) ? k & ~UINT64CONST(0x8000000000000000) : ~k;
	memcpy(&v, &b, sizeof(v));
	return v;
}

/* below this many keys, insertion sort beats the radix passes */
#define TD_RADIX_MIN			32

static void
td_insertion_sort_keys(uint64 *a, int n)
{
	int			i;

	for (i = 1; i < n; i++)
	{
		uint64		x = a[i];
		int			j = i - 1;

		while (j >= 0 && a[j] > x)
		{
			a[j + 1] = a[j];
			j--;
		}
		a[j + 1] = x;
	}
}

/*
 * LSD radix passes over bytes first..last of n keys, least significant
 * first, skipping a byte that is the same in every key.  hist[byte] holds
 * that byte's histogram and is used up.  The keys move between a and b; the
 * result is the one returned.
 */
static uint64 *
td_radix_passes(uint64 *a, uint64 *b, int n, int first, int last,
				uint32 (*hist)[256])
{
	int			byte,
				i;

	for (byte = first; byte <= last; byte++)
	{
		int			shift = 8 * byte;
		uint32	   *h = hist[byte];
		uint32		offset = 0;
		uint64	   *tmp;

		if (h[(a[0] >> shift) & 0xff] == (uint32) n)
			continue;			/* every key has the same byte here */
		for (i = 0; i < 256; i++)
		{
			uint32		c = h[i];

			h[i] = offset;
			offset += c;
		}
		for (i = 0; i < n; i++)
			b[h[(a[i] >> shift) & 0xff]++] = a[i];
		tmp = a;
		a = b;
		b = tmp;
	}
	return a;
}

/* order n keys that agree in their top six bytes; tmp has room for n */
static void
td_sort_run(uint64 *run, uint64 *tmp, int n)
{
	uint32		hist[2][256];
	uint64	   *sorted;
	int			i;

	if (n < TD_RADIX_MIN)
	{
		td_insertion_sort_keys(run, n);
		return;
	}
	memset(hist, 0, sizeof(hist));
	for (i = 0; i < n; i++)
	{
		hist[0][run[i] & 0xff]++;
		hist[1][(run[i] >> 8) & 0xff]++;
	}
	sorted = td_radix_passes(run, tmp, n, 0, 1, hist);
	if (sorted != run)
		memcpy(run, sorted, sizeof(uint64) * n);
}

/*
 * Sort n doubles ascending in linear time, whatever the input.  The values
 * become order-preserving 64-bit keys, LSD radix-sorted on their top six
 * bytes (one histogram pass, then one scatter pass per byte that varies),
 * which orders them to 2^-36 of their magnitude.  Keys sharing those six
 * bytes are then adjacent; each such run is ordered by the low two bytes.
 * Ordinary data has almost no runs, and values a few ulps apart cost at
 * most two more passes, never a quadratic fix-up.
 */
static void
td_sort_values(double *v, int n)
{
	uint32		hist[8][256];
	uint64	   *a = (uint64 *) v;	/* keys overwrite the values in place */
	int			i,
				j;

	if (n < TD_RADIX_MIN)
	{
		for (i = 0; i < n; i++)
			a[i] = td_key(v[i]);
		td_insertion_sort_keys(a, n);
	}
	else
	{
		uint64	   *other;

		scratch_grow((void **) &scratch_keys, &scratch_keys_size, n, sizeof(uint64));
		memset(hist[2], 0, sizeof(uint32) * 6 * 256);
		for (i = 0; i < n; i++)
		{
			uint64		k = td_key(v[i]);

			a[i] = k;
			hist[2][(k >> 16) & 0xff]++;
			hist[3][(k >> 24) & 0xff]++;
			hist[4][(k >> 32) & 0xff]++;
			hist[5][(k >> 40) & 0xff]++;
			hist[6][(k >> 48) & 0xff]++;
			hist[7][k >> 56]++;
		}
		a = td_radix_passes(a, scratch_keys, n, 2, 7, hist);
		other = (a == scratch_keys) ? (uint64 *) v : scratch_keys;
		for (i = 0; i < n; i = j)
		{
			for (j = i + 1; j < n && (a[j] >> 16) == (a[i] >> 16); j++)
				;
			if (j - i > 1)
				td_sort_run(a + i, other + i, j - i);
		}
	}
	for (i = 0; i < n; i++)
		v[i] = td_unkey(a[i]);
}

/* ---------------------------------------------------------------------
 * Scale function
 * ---------------------------------------------------------------------
 */

typedef struct TDScale
{
	double		a;				/* arcsine coefficient */
	double		b;				/* logit coefficient */
} TDScale;

static inline TDScale
td_scale(int compression)
{
	TDScale		s;

	s.a = compression * TD_K1_PER_COMPRESSION;
	s.b = compression * TD_LOGIT_PER_COMPRESSION;
	return s;
}

/* k restricted to the lower half, u in (0, 1/2]; k(1 - u) = -k(u) */
static inline double
td_k_lower(const TDScale *s, double u, double lnu)
{
	return s->a * (2.0 * asin(sqrt(u)) - M_PI / 2) + s->b * (lnu - log1p(-u));
}

/*
 * Solve k_lower(u) = t for u in (0, 1/2] (t <= 0), starting from u0.
 * Newton's method in lambda = ln u: k is increasing and convex in lambda, so
 * after at most one step from the left every iterate approaches the root
 * from the right and never leaves the domain.  The weight limit it yields
 * needs no more than a few significant digits.
 */
static double
td_k_lower_inverse(const TDScale *s, double t, double u0)
{
	double		lambda = log(u0);
	int			iter;

	for (iter = 0; iter < 60; iter++)
	{
		double		u = exp(lambda);
		double		f = td_k_lower(s, u, lambda) - t;
		double		d = s->a * sqrt(u / (1.0 - u)) + s->b / (1.0 - u);
		double		next = lambda - f / d;

		if (next > -M_LN2)
			next = -M_LN2;
		if (fabs(next - lambda) < 1e-3)
			return exp(next);
		lambda = next;
	}
	return exp(lambda);
}

/*
 * Start for the step k -> k + 1 from u0 in the lower half: the root of the
 * logit term alone lies to the right of the true root (the arcsine term only
 * makes k rise faster), so Newton converges from there without overshoot.
 */
static double
td_k_step_start(const TDScale *s, double u0)
{
	double		r = exp(1.0 / s->b) * u0 / (1.0 - u0);

	return Min(r / (1.0 + r), 0.5);
}

/*
 * Largest total weight the centroid starting after 'before' (of 'total')
 * may reach: the weight between q0 = before / total and q1 with
 * k(q1) = k(q0) + 1.
 */
static double
td_weight_limit(const TDScale *s, double before, double total)
{
	double		after = total - before;
	double		t;
	double		u1;

	if (before <= 0.0 || after <= 0.0)
		return 0.0;				/* the extremes stay single values */
	if (before <= after)
	{
		double		u0 = before / total;

		t = td_k_lower(s, u0, log(u0)) + 1.0;
		if (t <= 0.0)
			return total * td_k_lower_inverse(s, t, td_k_step_start(s, u0)) - before;
		/* the limit lies in the upper half: solve for 1 - q1 */
		u1 = td_k_lower_inverse(s, -t, 0.5);
		return after - total * u1;
	}
	else
	{
		double		u0 = after / total;

		t = td_k_lower(s, u0, log(u0)) - 1.0;	/* k(q0) + 1 mirrored */
		u1 = td_k_lower_inverse(s, t, u0);
		return after - total * u1;
	}
}

/*
 * Whether a centroid starting after 'before' (of 'total') certainly may not
 * reach weight w: a cheap test that spares td_weight_limit's root finding
 * where the answer is plain, as for every centroid of a small digest.
 * k'(q) = 2A / sqrt(4 q (1 - q)) + B / (q (1 - q)) is smallest at q = 1/2,
 * so k(q1) - k(q0) is at least (q1 - q0) times k' at the point of [q0, q1]
 * nearest 1/2. The quarter unit of margin covers the root finding's
 * tolerance, which may put the limit it finds a little past the exact one:
 * the test never refuses a weight that limit allows, so merges are the same.
 */
static inline bool
td_surely_over_limit(const TDScale *s, double before, double w, double total)
{
	double		q0 = before / total;
	double		q1 = (before + w) / total;
	double		p = q1 < 0.5 ? q1 : (q0 > 0.5 ? q0 : 0.5);
	double		v = p * (1.0 - p);

	return (s->a / sqrt(v) + s->b / v) * (q1 - q0) > 1.25;
}

/* ---------------------------------------------------------------------
 * Merging
 * ---------------------------------------------------------------------
 */

/* merge two sorted centroid arrays into out */
static void
td_merge_centroids(const TDCentroid *a, int na, const TDCentroid *b, int nb,
				   TDCentroid *out)
{
	int			i = 0,
				j = 0,
				k = 0;

	while (i < na && j < nb)
	{
		if (b[j].mean < a[i].mean)
			out[k++] = b[j++];
		else
			out[k++] = a[i++];
	}
	while (i < na)
		out[k++] = a[i++];
	while (j < nb)
		out[k++] = b[j++];
}

/* index just past the ascending run of centroids starting at start */
static int
td_run_end(const TDCentroid *a, int start, int n)
{
	int			i = start + 1;

	while (i < n && a[i].mean >= a[i - 1].mean)
		i++;
	return i;
}

/*
 * Sort centroids by mean in O(n log n) for any input: a natural merge sort,
 * which is cheap on what the pending centroids usually are (one ascending
 * run per merged digest).  tmp has room for n; the result is the array
 * returned.
 */
static TDCentroid *
td_sort_centroids(TDCentroid *a, TDCentroid *tmp, int n)
{
	for (;;)
	{
		int			start = 0;
		TDCentroid *t;

		while (start < n)
		{
			int			mid = td_run_end(a, start, n);
			int			end;

			if (mid == n)
			{
				if (start == 0)
					return a;	/* one run: sorted */
				memcpy(tmp + start, a + start, sizeof(TDCentroid) * (n - start));
				break;
			}
			end = td_run_end(a, mid, n);
			td_merge_centroids(a + start, mid - start, a + mid, end - mid, tmp + start);
			start = end;
		}
		t = a;
		a = tmp;
		tmp = t;
		CHECK_FOR_INTERRUPTS();
	}
}

static void td_count_error(int64 count, int64 n) pg_attribute_noreturn();

static void
td_count_error(int64 count, int64 n)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("tdigest count is out of range"),
			 errdetail("Adding " INT64_FORMAT " values to a digest of " INT64_FORMAT
					   " would exceed the maximum count of " INT64_FORMAT " (2^53).",
					   n, count, TD_MAX_COUNT),
			 errhint("Merge fewer digests into one.")));
}

/* *count += n, which must stay within TD_MAX_COUNT */
static inline void
td_count_add(int64 *count, int64 n)
{
	int64		r;

	if (unlikely(pg_add_s64_overflow(*count, n, &r) || r > TD_MAX_COUNT))
		td_count_error(*count, n);
	*count = r;
}

/* a weight limit as a whole number of values (NaN gives 0) */
static inline int64
td_int_limit(double limit)
{
	if (!(limit > 0.0))
		return 0;
	if (limit >= (double) TD_MAX_COUNT)
		return TD_MAX_COUNT;
	return (int64) limit;
}

/*
 * The centroid a run of merged items becomes. The mean of a run of equal
 * values must be exactly that value, and rounding must not leave [lo, hi].
 */
static TDCentroid
td_closed_centroid(double sum, int64 weight, double lo, double hi)
{
	TDCentroid	c;
	double		mean = sum / (double) weight;

	if (!(mean >= lo))
		mean = isnan(mean) ? lo / 2 + hi / 2 : lo;
	if (mean > hi)
		mean = hi;
	c.mean = mean;
	c.weight = weight;
	return c;
}

/*
 * Merge the buffered values and pending centroids into the centroids.
 * After this, nbuffer = npending = 0.  Weights stay int64, so they are
 * exact; the scale function's limit is rounded down to a whole weight.
 */
void
td_compress(TDigest *td)
{
	TDScale		scale;
	const TDCentroid *cs;
	int			nc;
	const double *vs = td->buffer;
	int			nv = td->nbuffer;
	int			i,
				j,
				nout;
	double		total = (double) td->count;
	int64		before;			/* weight of the emitted centroids */
	int64		limit;			/* most weight the open centroid may hold, -1 until found */
	int64		cur_w;
	double		cur_sum,
				cur_lo,
				cur_hi;
	TDCentroid *out;

	if (td->nbuffer == 0 && td->npending == 0)
		return;
	CHECK_FOR_INTERRUPTS();
	td_check_sum(td);
	/* td_add counts rows unchecked (hot path); the cap is enforced here */
	if (td->count > TD_MAX_COUNT)
		td_count_error(td->count - td->nbuffer, td->nbuffer);

	if (nv > 0)
		td_sort_values(td->buffer, nv);

	cs = td->centroids;
	nc = td->ncentroids;
	if (td->npending > 0)
	{
		const TDCentroid *pending;

		scratch_grow((void **) &scratch_sort, &scratch_sort_size, td->npending,
					 sizeof(TDCentroid));
		pending = td_sort_centroids(td->pending, scratch_sort, td->npending);
		scratch_grow((void **) &scratch_in, &scratch_in_size, nc + td->npending,
					 sizeof(TDCentroid));
		td_merge_centroids(td->centroids, nc, pending, td->npending, scratch_in);
		cs = scratch_in;
		nc += td->npending;
	}

	/* a point mass takes two centroids, and splits one open centroid */
	scratch_grow((void **) &scratch_out, &scratch_out_size, nc + nv + 2,
				 sizeof(TDCentroid));
	out = scratch_out;
	scale = td_scale(td->compression);

	i = j = 0;
	before = 0;
	nout = 0;
	cur_w = 0;					/* no centroid open */
	limit = 0;
	cur_sum = cur_lo = cur_hi = 0.0;
	while (i < nc || j < nv)
	{
		double		m;
		int64		w,
					merged;
		int			nitems = 1;

		if (i < nc && (j >= nv || cs[i].mean <= vs[j]))
		{
			m = cs[i].mean;
			w = cs[i].weight;
			i++;
		}
		else
		{
			m = vs[j];
			w = 1;
			j++;
		}
		/* take the whole run of items equal to m at once */
		for (; j < nv && vs[j] == m; j++, nitems++)
			w++;
		for (; i < nc && cs[i].mean == m; i++, nitems++)
			w += cs[i].weight;

		/*
		 * A repeated value (or a centroid at an extreme, whose values must
		 * all equal it) that would fill a centroid by itself stays a point
		 * mass: two centroids with that mean, which td_knots reads as
		 * exact.  Smaller runs merge as usual, within the rank-error bound.
		 */
		if (unlikely(w > 1 && (nitems > 1 || m == td->min || m == td->max)) &&
			(td_surely_over_limit(&scale, (double) (before + cur_w), (double) w, total) ||
			 w >= td_int_limit(td_weight_limit(&scale, (double) (before + cur_w), total))))
		{
			if (cur_w > 0)
			{
				out[nout++] = td_closed_centroid(cur_sum, cur_w, cur_lo, cur_hi);
				td_count_add(&before, cur_w);
				cur_w = 0;
			}
			out[nout].mean = out[nout + 1].mean = m;
			out[nout].weight = w - 1;
			out[nout + 1].weight = 1;
			nout += 2;
			td_count_add(&before, w);
			continue;
		}

		/* (the weights sum to count, so the sum cannot really overflow) */
		if (cur_w > 0 && !pg_add_s64_overflow(cur_w, w, &merged))
		{
			/* the open centroid's limit is found once a merge may be within it */
			if (limit < 0 && !td_surely_over_limit(&scale, (double) before, (double) merged, total))
				limit = td_int_limit(td_weight_limit(&scale, (double) before, total));
			if (merged <= limit)
			{
				cur_w = merged;
				cur_sum += m * (double) w;
				cur_hi = m;
				continue;
			}
		}
		if (cur_w > 0)
		{
			out[nout++] = td_closed_centroid(cur_sum, cur_w, cur_lo, cur_hi);
			td_count_add(&before, cur_w);
		}
		limit = -1;				/* not found yet */
		cur_w = w;
		cur_sum = m * (double) w;
		cur_lo = cur_hi = m;
	}
	if (cur_w > 0)
		out[nout++] = td_closed_centroid(cur_sum, cur_w, cur_lo, cur_hi);

	if (nout > td->maxcentroids)
	{
		int			newsize = Max(nout, td->maxcentroids + td->maxcentroids / 2);

		if (td->centroids)
			td->centroids = repalloc(td->centroids, sizeof(TDCentroid) * newsize);
		else
			td->centroids = MemoryContextAlloc(td->mcxt, sizeof(TDCentroid) * newsize);
		td->maxcentroids = newsize;
	}
	memcpy(td->centroids, out, sizeof(TDCentroid) * nout);
	td->ncentroids = nout;
	td->nbuffer = 0;
	td->npending = 0;

	/*
	 * Every merge must leave a digest that the stored-value checks accept;
	 * this is what gets packed, so it is checked in every build (the cost is
	 * one pass over the few centroids).
	 */
	td_validate(td, ERRCODE_INTERNAL_ERROR);
}

/*
 * For estimating from digests merged just for that (percentile_approx over
 * digests): when every centroid, merged or pending, holds a single value,
 * put them in order and return true. They are then exact points, and the
 * percentiles those of percentile_cont over the values, where td_compress
 * would fold neighbours together once the union is large enough (and spend
 * a weight limit on each). Otherwise return false and change nothing: the
 * union is compressed as tdigest_merge compresses it.
 */
bool
td_collect_singles(TDigest *td)
{
	const TDCentroid *pending;
	int			n,
				i;

	if (td->nbuffer > 0)
		return false;
	for (i = 0; i < td->ncentroids; i++)
		if (td->centroids[i].weight != 1)
			return false;
	for (i = 0; i < td->npending; i++)
		if (td->pending[i].weight != 1)
			return false;
	if (td->npending == 0)
		return true;
	CHECK_FOR_INTERRUPTS();
	td_check_sum(td);
	n = td->ncentroids + td->npending;
	scratch_grow((void **) &scratch_sort, &scratch_sort_size, td->npending,
				 sizeof(TDCentroid));
	pending = td_sort_centroids(td->pending, scratch_sort, td->npending);
	if (td->ncentroids == 0)
	{
		/* digests merged just for this: their queue becomes the centroids */
		TDCentroid *old = td->centroids;
		int			oldmax = td->maxcentroids;

		if (pending != td->pending)
			memcpy(td->pending, pending, sizeof(TDCentroid) * n);
		td->centroids = td->pending;
		td->maxcentroids = td->maxpending;
		td->pending = old;
		td->maxpending = oldmax;
		td->ncentroids = n;
		td->npending = 0;
		return true;
	}
	scratch_grow((void **) &scratch_in, &scratch_in_size, n, sizeof(TDCentroid));
	td_merge_centroids(td->centroids, td->ncentroids, pending, td->npending, scratch_in);
	if (n > td->maxcentroids)
	{
		if (td->centroids)
			td->centroids = repalloc(td->centroids, sizeof(TDCentroid) * n);
		else
			td->centroids = MemoryContextAlloc(td->mcxt, sizeof(TDCentroid) * n);
		td->maxcentroids = n;
	}
	memcpy(td->centroids, scratch_in, sizeof(TDCentroid) * n);
	td->ncentroids = n;
	td->npending = 0;
	return true;
}

/* queue one centroid of another digest */
static void
td_push_centroid(TDigest *td, double mean, int64 weight)
{
	if (td->npending >= td->maxpending)
	{
		int			limit = TD_PENDING_PER_COMPRESSION * td->compression;

		if (td->maxpending >= limit)
			td_compress(td);
		else
		{
			int			newsize = Min(Max(2 * td->maxpending, 64), limit);

			if (td->pending)
				td->pending = repalloc(td->pending, sizeof(TDCentroid) * newsize);
			else
				td->pending = MemoryContextAlloc(td->mcxt, sizeof(TDCentroid) * newsize);
			td->maxpending = newsize;
		}
	}
	td_count_add(&td->count, weight);
	td->pending[td->npending].mean = mean;
	td->pending[td->npending].weight = weight;
	td->npending++;
}

/*
 * Add everything in src to dst (the combine step).  src is not modified.
 * The result takes the smaller of the two compressions: the coarser input's
 * centroids cannot be resolved more finely, so the result is recompressed
 * at (and claims) the accuracy the coarser one has.  A combined count beyond TD_MAX_COUNT is an error before
 * anything changes.
 */
void
td_add_digest(TDigest *dst, const TDigest *src)
{
	int			i;
	double		t;
	int64		combined = dst->count;

	if (src->count == 0)
		return;
	td_count_add(&combined, src->count);
	if (src->compression < dst->compression)
		dst->compression = src->compression;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	t = dst->sum + src->sum;
	if (fabs(dst->sum) >= fabs(src->sum))
		dst->sumcomp += (dst->sum - t) + src->sum;
	else
		dst->sumcomp += (src->sum - t) + dst->sum;
	dst->sum = t;
	dst->sumcomp += src->sumcomp;

	/* count grows item by item: a merge uses it as the total queued weight */
	for (i = 0; i < src->ncentroids; i++)
		td_push_centroid(dst, src->centroids[i].mean, src->centroids[i].weight);
	for (i = 0; i < src->npending; i++)
		td_push_centroid(dst, src->pending[i].mean, src->pending[i].weight);
	for (i = 0; i < src->nbuffer; i++)
	{
		if (dst->nbuffer >= dst->maxbuffer)
			td_buffer_full(dst);
		dst->buffer[dst->nbuffer++] = src->buffer[i];
		td_count_add(&dst->count, 1);
	}
}

/* ---------------------------------------------------------------------
 * Estimation
 *
 * The digest is read as a quantile function over value positions
 * 0 .. count-1 (the convention of percentile_cont).  Its knots are the
 * centroid means, each at the position of its middle value, plus the exact
 * minimum at 0 and maximum at count-1.  A centroid holding a single value
 * is an exact point, as are the two extremes.  A point mass (a run of
 * centroids with the same mean, which td_compress writes for a repeated
 * value, or a centroid whose mean is an extreme) gives two exact knots with
 * its value, at its first and its last position: a percentile inside it is
 * that value and the rank of that value counts all of it.
 *
 * Between two knots the function is linear plus a quadratic term whose
 * curvature is estimated from the neighbouring knots (the second difference
 * of the means).  Linear interpolation alone is biased wherever the
 * distribution curves, which is everywhere in a tail: for long-tailed data
 * it overestimates every upper percentile.  The curvature is clamped so the
 * function stays monotone, and it is zero between two exact points, so a
 * digest of single values answers exactly like percentile_cont.
 * ---------------------------------------------------------------------
 */

typedef struct TDKnots
{
	int			n;
	double	   *pos;
	double	   *val;
	bool	   *exact;
	double	   *curv;			/* estimated second derivative at the knot */
} TDKnots;

static void
td_knots(const TDigest *td, TDKnots *k)
{
	int			nc = td->ncentroids;
	int			i,
				j,
				n = 0;
	double		before = 0.0;

	Assert(td->nbuffer == 0 && td->npending == 0 && nc > 0);
	/* at most two knots per centroid, plus the extremes */
	k->pos = palloc(sizeof(double) * (2 * nc + 2));
	k->val = palloc(sizeof(double) * (2 * nc + 2));
	k->exact = palloc(sizeof(bool) * (2 * nc + 2));
	k->curv = palloc(sizeof(double) * (2 * nc + 2));

	/* a first or last centroid whose mean is an extreme is a point mass */
	if (td->centroids[0].mean != td->min)
	{
		k->pos[n] = 0.0;
		k->val[n] = td->min;
		k->exact[n] = true;
		n++;
	}
	for (i = 0; i < nc; i = j)
	{
		double		v = td->centroids[i].mean;
		double		w = 0.0;

		CHECK_FOR_INTERRUPTS();
		for (j = i; j < nc && td->centroids[j].mean == v; j++)
			w += (double) td->centroids[j].weight;
		if (j - i > 1 || w == 1.0 || v == td->min || v == td->max)
		{
			/* a point mass: exact at its first and its last position */
			k->pos[n] = before;
			k->val[n] = v;
			k->exact[n] = true;
			n++;
			if (w > 1.0)
			{
				k->pos[n] = before + w - 1.0;
				k->val[n] = v;
				k->exact[n] = true;
				n++;
			}
		}
		else
		{
			k->pos[n] = before + (w - 1.0) / 2.0;
			k->val[n] = v;
			k->exact[n] = false;
			n++;
		}
		before += w;
	}
	if (td->centroids[nc - 1].mean != td->max)
	{
		k->pos[n] = (double) (td->count - 1);
		k->val[n] = td->max;
		k->exact[n] = true;
		n++;
	}
	k->n = n;

	/* no curvature at a point mass: interpolation runs straight into it */
	for (i = 0; i < n; i++)
	{
		k->curv[i] = 0.0;
		if (i > 0 && i < n - 1 && k->pos[i] > k->pos[i - 1] && k->pos[i + 1] > k->pos[i] &&
			k->val[i] > k->val[i - 1] && k->val[i + 1] > k->val[i])
		{
			double		sm = (k->val[i] - k->val[i - 1]) / (k->pos[i] - k->pos[i - 1]);
			double		sp = (k->val[i + 1] - k->val[i]) / (k->pos[i + 1] - k->pos[i]);
			double		c = 2.0 * (sp - sm) / (k->pos[i + 1] - k->pos[i - 1]);

			if (isfinite(c))
				k->curv[i] = c;
		}
	}
}

static void
td_knots_free(TDKnots *k)
{
	pfree(k->pos);
	pfree(k->val);
	pfree(k->exact);
	pfree(k->curv);
}

/*
 * The segment between knots a and a + 1:
 *   Q(pos) = val[a] + beta * s + gamma * s^2,   s = pos - pos[a] in [0, d]
 * monotone non-decreasing on [0, d] and hitting both knot values.
 */
typedef struct TDSegment
{
	double		va,
				vb,
				d,
				beta,
				gamma;
} TDSegment;

static void
td_segment(const TDKnots *k, int a, TDSegment *seg)
{
	int			b = a + 1;
	double		c;
	double		slope;

	seg->va = k->val[a];
	seg->vb = k->val[b];
	seg->d = k->pos[b] - k->pos[a];
	Assert(seg->d > 0.0);
	slope = (seg->vb - seg->va) / seg->d;
	if ((k->exact[a] && k->exact[b]) || !isfinite(slope) || slope <= 0.0)
		c = 0.0;
	else if (a == 0)
		c = k->curv[b];
	else if (b == k->n - 1)
		c = k->curv[a];
	else
		c = (k->curv[a] + k->curv[b]) / 2.0;
	/* |c| <= 2 slope / d keeps the derivative >= 0 at both ends */
	if (c > 2.0 * slope / seg->d)
		c = 2.0 * slope / seg->d;
	if (c < -2.0 * slope / seg->d)
		c = -2.0 * slope / seg->d;
	if (!isfinite(c))
		c = 0.0;
	seg->gamma = c / 2.0;
	seg->beta = slope - seg->gamma * seg->d;
}

static double
td_segment_value(const TDSegment *seg, double s)
{
	double		r;

	if (seg->gamma == 0.0)
	{
		/* plain interpolation, safe against overflow of vb - va */
		double		f = s / seg->d;
		double		diff = seg->vb - seg->va;

		r = isinf(diff) ? (1.0 - f) * seg->va + f * seg->vb : seg->va + f * diff;
	}
	else
		r = seg->va + s * (seg->beta + seg->gamma * s);
	if (r < seg->va)
		r = seg->va;
	if (r > seg->vb)
		r = seg->vb;
	return r;
}

/* inverse of td_segment_value: the s in [0, d] where Q reaches x */
static double
td_segment_offset(const TDSegment *seg, double x)
{
	double		dx = x - seg->va;
	double		s;

	if (dx <= 0.0)
		return 0.0;
	if (x >= seg->vb)
		return seg->d;
	if (seg->gamma == 0.0)
		s = seg->d * (dx / (seg->vb - seg->va));
	else
	{
		/* root of gamma s^2 + beta s - dx = 0, in the cancellation-free form */
		double		disc = seg->beta * seg->beta + 4.0 * seg->gamma * dx;
		double		den = seg->beta + sqrt(Max(disc, 0.0));

		s = den > 0.0 ? 2.0 * dx / den : seg->d;
	}
	if (!(s >= 0.0))
		s = 0.0;
	if (s > seg->d)
		s = seg->d;
	return s;
}

static double
td_knots_quantile(const TDigest *td, const TDKnots *k, double q)
{
	double		pos;
	int			lo,
				hi;
	TDSegment	seg;

	if (q <= 0.0)
		return td->min;
	if (q >= 1.0)
		return td->max;
	pos = q * (double) (td->count - 1);

	/* first knot strictly after pos */
	lo = 0;
	hi = k->n;
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (k->pos[mid] > pos)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo >= k->n)
		return k->val[k->n - 1];
	Assert(lo > 0);
	td_segment(k, lo - 1, &seg);
	return td_segment_value(&seg, pos - k->pos[lo - 1]);
}

double
td_quantile(const TDigest *td, double q)
{
	TDKnots		k;
	double		r;

	td_knots(td, &k);
	r = td_knots_quantile(td, &k, q);
	td_knots_free(&k);
	return r;
}

void
td_quantiles(const TDigest *td, const double *qs, const bool *qnull, int nq,
			 double *out)
{
	TDKnots		k;
	int			i;

	td_knots(td, &k);
	for (i = 0; i < nq; i++)
	{
		CHECK_FOR_INTERRUPTS();
		out[i] = (qnull && qnull[i]) ? 0.0 : td_knots_quantile(td, &k, qs[i]);
	}
	td_knots_free(&k);
}

/*
 * Estimated fraction of the values <= x: the inverse of the quantile
 * function above, plus one for the value at the position found; between
 * two adjacent exact points the count is exact.
 */
double
td_rank(const TDigest *td, double x)
{
	TDKnots		k;
	TDSegment	seg;
	int			lo,
				hi,
				a,
				b;
	double		cnt;

	if (x < td->min)
		return 0.0;
	if (x >= td->max)
		return 1.0;

	td_knots(td, &k);
	/* a = last knot with value <= x; b = a + 1 exists since x < max */
	lo = 0;
	hi = k.n;
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (k.val[mid] > x)
			hi = mid;
		else
			lo = mid + 1;
	}
	a = lo - 1;
	b = lo;
	Assert(a >= 0 && b < k.n);
	cnt = k.pos[a] + 1.0;
	if (k.pos[b] > k.pos[a])
	{
		td_segment(&k, a, &seg);
		cnt += td_segment_offset(&seg, x);
		/* an exact point at b is not <= x */
		if (k.exact[b] && k.pos[b] >= k.pos[a] + 1.0 && cnt > k.pos[b])
			cnt = k.pos[b];
	}
	td_knots_free(&k);

	cnt /= (double) td->count;
	if (cnt < 0.0)
		cnt = 0.0;
	if (cnt > 1.0)
		cnt = 1.0;
	return cnt;
}

/* ---------------------------------------------------------------------
 * Packed format
 * ---------------------------------------------------------------------
 */

static int
varint_size(uint64 v)
{
	int			n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

Size
td_packed_size(const TDigest *td)
{
	Size		size = TD_PACKED_HEADER_SIZE + sizeof(double) * (Size) td->ncentroids;
	int			i;

	for (i = 0; i < td->ncentroids; i++)
		size += varint_size((uint64) td->centroids[i].weight);
	return size;
}

/* write the packed form of a merged digest (no buffer) into dst */
void
td_pack_into(const TDigest *td, char *dst)
{
	char	   *p = dst + VARHDRSZ;
	uint8		version = TD_FORMAT_VERSION;
	uint8		flags = 0;
	uint16		compression = (uint16) td->compression;
	double		sum = td_total_sum(td);
	int			i;

	Assert(td->nbuffer == 0 && td->npending == 0);
	SET_VARSIZE(dst, td_packed_size(td));
	memcpy(p, &version, 1);
	memcpy(p + 1, &flags, 1);
	memcpy(p + 2, &compression, 2);
	memcpy(p + 4, &td->count, 8);
	memcpy(p + 12, &td->min, 8);
	memcpy(p + 20, &td->max, 8);
	memcpy(p + 28, &sum, 8);
	memcpy(p + 36, &td->ncentroids, 4);
	p = dst + TD_PACKED_HEADER_SIZE;
	for (i = 0; i < td->ncentroids; i++)
	{
		memcpy(p, &td->centroids[i].mean, 8);
		p += 8;
	}
	for (i = 0; i < td->ncentroids; i++)
	{
		uint64		w = (uint64) td->centroids[i].weight;

		while (w >= 0x80)
		{
			*p++ = (char) ((w & 0x7f) | 0x80);
			w >>= 7;
		}
		*p++ = (char) w;
	}
	Assert(p == dst + VARSIZE(dst));
}

struct varlena *
td_pack(TDigest *td)
{
	struct varlena *result;

	td_compress(td);
	result = palloc(td_packed_size(td));
	td_pack_into(td, (char *) result);
	return result;
}

static void td_invalid(int sqlstate, const char *detail) pg_attribute_noreturn();

static void
td_invalid(int sqlstate, const char *detail)
{
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("invalid tdigest value"),
			 errdetail_internal("%s", detail),
			 errhint("A tdigest must come from qoe.tdigest_agg, qoe.tdigest_merge or their text or binary output.")));
}

/*
 * Check every invariant the estimators rely on; errcode says where the value
 * came from (text input, binary input, stored data).
 */
void
td_validate(const TDigest *td, int sqlstate)
{
	int			i;
	int64		total = 0;

	if (td->compression < TD_MIN_COMPRESSION || td->compression > TD_MAX_COMPRESSION)
		td_invalid(sqlstate, psprintf("Compression %d is outside [%d, %d].", td->compression,
									 TD_MIN_COMPRESSION, TD_MAX_COMPRESSION));
	if (td->count < 1)
		td_invalid(sqlstate, psprintf("Count " INT64_FORMAT " is not positive.", td->count));
	if (td->count > TD_MAX_COUNT)
		td_invalid(sqlstate, psprintf("Count " INT64_FORMAT " exceeds the maximum of " INT64_FORMAT " (2^53).",
									 td->count, TD_MAX_COUNT));
	if (td->ncentroids < 1 || (int64) td->ncentroids > td->count)
		td_invalid(sqlstate, psprintf("There are %d centroids for " INT64_FORMAT " values.",
									 td->ncentroids, td->count));
	if (!isfinite(td->min) || !isfinite(td->max) || td->min > td->max)
		td_invalid(sqlstate, psprintf("Minimum %g and maximum %g are not finite and ordered.",
									 td->min, td->max));
	if (!isfinite(td_total_sum(td)))
		td_invalid(sqlstate, psprintf("Sum %g is not finite.", td_total_sum(td)));
	for (i = 0; i < td->ncentroids; i++)
	{
		double		m = td->centroids[i].mean;
		int64		w = td->centroids[i].weight;

		CHECK_FOR_INTERRUPTS();
		if (!isfinite(m) || m < td->min || m > td->max)
			td_invalid(sqlstate, psprintf("Mean %g of centroid %d is not finite or outside [%g, %g].",
										 m, i + 1, td->min, td->max));
		if (i > 0 && m < td->centroids[i - 1].mean)
			td_invalid(sqlstate, psprintf("Mean %g of centroid %d is below the mean %g before it.",
										 m, i + 1, td->centroids[i - 1].mean));
		if (w < 1 || w > td->count - total)
			td_invalid(sqlstate, psprintf("Weight " INT64_FORMAT " of centroid %d is not positive or exceeds the count " INT64_FORMAT ".",
										 w, i + 1, td->count));
		total += w;
	}
	if (total != td->count)
		td_invalid(sqlstate, psprintf("Centroid weights sum to " INT64_FORMAT " but count is " INT64_FORMAT ".",
									 total, td->count));
}

/*
 * Decode a packed digest into td (centroids allocated in mcxt), checking
 * both the layout and the invariants, so that a damaged value is an error
 * and never a wild read. The value may have a short (1-byte) header, as a
 * small digest has on disk: reading it in place spares a copy per row in
 * the merging aggregates. Sizes in messages count a 4-byte header.
 */
void
td_unpack(TDigest *td, MemoryContext mcxt, const struct varlena *packed, int sqlstate)
{
	const char *data = VARDATA_ANY(packed);
	Size		size = VARSIZE_ANY_EXHDR(packed) + VARHDRSZ;
	const char *p;
	const char *end = data + (size - VARHDRSZ);
	uint8		version,
				flags;
	uint16		compression;
	int32		n;
	int			i;

	Assert(!VARATT_IS_EXTERNAL(packed) && !VARATT_IS_COMPRESSED(packed));
	if (size < TD_PACKED_HEADER_SIZE)
		td_invalid(sqlstate, psprintf("The value has %d bytes, fewer than the %d-byte header.",
									 (int) size, TD_PACKED_HEADER_SIZE));
	p = data;
	memcpy(&version, p, 1);
	memcpy(&flags, p + 1, 1);
	if (version != TD_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("unsupported tdigest format version %d", (int) version),
				 errdetail("This version of qoe_ext reads format version %d.", TD_FORMAT_VERSION),
				 errhint("Update the qoe_ext extension to read digests written by a newer version.")));
	if ((flags & ~TD_KNOWN_FLAGS) != 0)
		td_invalid(sqlstate, psprintf("Unknown flags 0x%02x in format version %d.",
									 (unsigned) flags, (int) version));

	memset(td, 0, sizeof(TDigest));
	td->mcxt = mcxt;
	memcpy(&compression, p + 2, 2);
	td->compression = compression;
	memcpy(&td->count, p + 4, 8);
	memcpy(&td->min, p + 12, 8);
	memcpy(&td->max, p + 20, 8);
	memcpy(&td->sum, p + 28, 8);
	memcpy(&n, p + 36, 4);
	if (n < 1 || (Size) n > (size - TD_PACKED_HEADER_SIZE) / sizeof(double))
		td_invalid(sqlstate, psprintf("The value claims %d centroids but has only %d bytes.",
									 n, (int) size));
	td->ncentroids = td->maxcentroids = n;
	td->centroids = MemoryContextAlloc(mcxt, sizeof(TDCentroid) * n);
	p = data + (TD_PACKED_HEADER_SIZE - VARHDRSZ);
	for (i = 0; i < n; i++)
	{
		memcpy(&td->centroids[i].mean, p, 8);
		p += 8;
	}
	for (i = 0; i < n; i++)
	{
		uint64		w = 0;
		int			shift = 0;

		CHECK_FOR_INTERRUPTS();
		for (;;)
		{
			uint8		byte;

			if (p >= end)
				td_invalid(sqlstate, psprintf("The weights end after %d of %d centroids.", i, n));
			byte = (uint8) *p++;
			if (shift == 63 && (byte & 0x7e) != 0)
				td_invalid(sqlstate, psprintf("The weight of centroid %d overflows.", i + 1));
			w |= (uint64) (byte & 0x7f) << shift;
			if (!(byte & 0x80))
				break;
			shift += 7;
			if (shift > 63)
				td_invalid(sqlstate, psprintf("The weight of centroid %d is too long.", i + 1));
		}
		if (w > (uint64) PG_INT64_MAX)
			td_invalid(sqlstate, psprintf("The weight of centroid %d overflows.", i + 1));
		td->centroids[i].weight = (int64) w;
	}
	if (p != end)
		td_invalid(sqlstate, psprintf("The value has %d bytes after its last centroid.",
									 (int) (end - p)));
	td_validate(td, sqlstate);
}
