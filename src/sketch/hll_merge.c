/*
 * hll_merge.c - qoe.hll_merge(hll): the union of postgresql-hll sketches
 * with a compact transition state
 *
 * postgresql-hll's hll_union_agg keeps its unpacked multiset as the state,
 * about 128 kB whatever the parameters: merging the unique viewers of 2000
 * titles costs more than reading their rows (doc/benchmarks.md,
 * bench/dashboard). This aggregate reads the same stored format (version 1:
 * a type byte, the parameters in two bytes, then the explicit hashes, sparse
 * or full registers) into 2^log2m one-byte registers, or a list of hashes
 * while the union is small enough to stay explicit, and packs its result as
 * hll_union_agg does: the same value, byte for byte, with the default
 * output settings (test: sql/hll_merge.sql). Only what is read here is
 * taken from the format; hll_cardinality counts the result.
 */
#include "postgres.h"

#include "fmgr.h"
#include "port/pg_bitutils.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"

#include "core/compare.h"

PG_FUNCTION_INFO_V1(qoe_hll_merge_trans);
PG_FUNCTION_INFO_V1(qoe_hll_merge_combine);
PG_FUNCTION_INFO_V1(qoe_hll_merge_final);
PG_FUNCTION_INFO_V1(qoe_hll_merge_deserialize);

/* the type nibble of the first byte */
#define HLL_UNDEFINED 0
#define HLL_EMPTY 1
#define HLL_EXPLICIT 2
#define HLL_SPARSE 3
#define HLL_FULL 4

#define HLL_HEADER 3
/* postgresql-hll's multiset buffer: no more registers nor explicit hashes */
#define HLL_MAX_DATA (128 * 1024)
#define HLL_MAX_EXPLICIT ((HLL_MAX_DATA - 8) / 8)
/* an explicit input this small is inserted into the union, not merged */
#define HLL_FEW_HASHES 8

typedef struct HllMergeState
{
	uint8		params;			/* header byte 1: register width - 1, log2m */
	uint8		cutoff;			/* header byte 2: sparse on, explicit threshold */
	uint8		type;			/* HLL_UNDEFINED, HLL_EMPTY, HLL_EXPLICIT, or
								 * HLL_FULL for registers */
	int			nbits;
	int			log2m;
	int			threshold;		/* most hashes an explicit union keeps */
	int			nelem;			/* hashes in elems, sorted (as int64), unique */
	int			cap;			/* room in elems and in spare */
	int64	   *elems;
	int64	   *spare;			/* where the next union is merged into */
	int			incap;
	int64	   *in;				/* an input's hashes, decoded */
	uint8	   *regs;			/* 2^log2m registers once HLL_FULL */
} HllMergeState;

static void malformed(const char *what) pg_attribute_noreturn();

static void
malformed(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("malformed hll value: %s", what)));
}

/* The register a hash raises (postgresql-hll's, as in the HLL paper). */
static void
add_hash(HllMergeState *st, uint64 hash)
{
	uint64		rest = hash >> st->log2m;
	int			value = rest == 0 ? 0 : pg_rightmost_one_pos64(rest) + 1;
	int			max = (1 << st->nbits) - 1;
	uint8	   *reg = &st->regs[hash & (((uint64) 1 << st->log2m) - 1)];

	if (value > max)
		value = max;
	if (*reg < value)
		*reg = value;
}

/* From hashes to registers: the union grew past the explicit threshold. */
static void
to_registers(MemoryContext cxt, HllMergeState *st)
{
	st->regs = MemoryContextAllocZero(cxt, (Size) 1 << st->log2m);
	for (int i = 0; i < st->nelem; i++)
		add_hash(st, (uint64) st->elems[i]);
	st->nelem = 0;
	st->type = HLL_FULL;
	/* registers stay registers: the lists go (fresh memory is page faults) */
	if (st->elems)
		pfree(st->elems);
	if (st->spare)
		pfree(st->spare);
	st->elems = st->spare = NULL;
	st->cap = 0;
}

static HllMergeState *
state_create(MemoryContext cxt, const uint8 *b)
{
	HllMergeState *st = MemoryContextAllocZero(cxt, sizeof(HllMergeState));
	int			code = b[2] & 0x3f;

	st->params = b[1];
	st->cutoff = b[2];
	st->type = HLL_EMPTY;
	st->nbits = (b[1] >> 5) + 1;
	st->log2m = b[1] & 0x1f;
	if (st->log2m > 17)
		malformed("more registers than postgresql-hll supports");
	if (code == 63)				/* auto: as many hashes as fit in the registers' bytes */
		st->threshold = Min(((st->nbits << st->log2m) + 7) / 8 / 8, HLL_MAX_EXPLICIT);
	else
		st->threshold = code == 0 ? 0 : Min((int64) 1 << (code - 1), HLL_MAX_EXPLICIT);
	return st;
}

/* Read n bits at a time, most significant first. */
typedef struct BitReader
{
	const uint8 *p;
	uint64		acc;
	int			have;
} BitReader;

static inline uint32
read_bits(BitReader *r, int n)
{
	while (r->have < n)
	{
		r->acc = (r->acc << 8) | *r->p++;
		r->have += 8;
	}
	r->have -= n;
	return (uint32) (r->acc >> r->have) & ((1u << n) - 1);
}

/*
 * Union n stored explicit hashes into an explicit (or empty) union: one
 * linear merge of two sorted sets. hll_union_agg adds the hashes one by one
 * and turns to registers on the first new hash that finds the union at its
 * threshold; that is, when the union ends up larger than both the threshold
 * and what it held before. Into an empty union the input is taken whole, as
 * hll copies it (even with no hashes, or more than the threshold). The
 * buffers are the state's, reused from row to row: an allocation per row
 * cost as much as the merge of a small sketch.
 */
static void
union_explicit(MemoryContext cxt, HllMergeState *st, const uint8 *b, int n)
{
	int64	   *in;
	int64	   *out;
	bool		sorted = true;
	int			i = 0,
				j = 0,
				k = 0;

	if (n > st->incap)
	{
		st->incap = Max(Max(16, 2 * st->incap), n);
		if (st->in)
			pfree(st->in);
		st->in = MemoryContextAlloc(cxt, st->incap * sizeof(int64));
	}
	in = st->in;
	if (st->nelem + n > st->cap)
	{
		st->cap = Max(Max(16, 2 * st->cap), st->nelem + n);
		st->elems = st->elems == NULL
			? MemoryContextAlloc(cxt, st->cap * sizeof(int64))
			: repalloc(st->elems, st->cap * sizeof(int64));
		if (st->spare)
			pfree(st->spare);
		st->spare = MemoryContextAlloc(cxt, st->cap * sizeof(int64));
	}
	for (int x = 0; x < n; x++)
	{
		in[x] = (int64) pg_ntoh64(*(const uint64 *) (b + 8 * x));
		if (x > 0 && in[x] <= in[x - 1])
			sorted = false;
	}
	/* hll stores them sorted (as int64) and unique; anything else is sorted here */
	if (!sorted)
		qsort(in, n, sizeof(int64), qoe_cmp_int64);
	if (st->type == HLL_EXPLICIT && n <= HLL_FEW_HASHES)
	{
		/*
		 * A few hashes into a larger union (a 5-minute window's viewers into
		 * a title's day): each put in place by a binary search and one move,
		 * not a merge that walks the whole union for every input row.
		 */
		int			before = st->nelem;

		for (int x = 0; x < n; x++)
		{
			int			lo = 0,
						hi = st->nelem;

			while (lo < hi)
			{
				int			mid = (lo + hi) / 2;

				if (st->elems[mid] < in[x])
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo < st->nelem && st->elems[lo] == in[x])
				continue;
			memmove(st->elems + lo + 1, st->elems + lo, (st->nelem - lo) * sizeof(int64));
			st->elems[lo] = in[x];
			st->nelem++;
		}
		if (st->nelem > Max(before, st->threshold))
			to_registers(cxt, st);	/* the same registers: elems holds the input too */
		return;
	}
	out = st->spare;
	while (i < st->nelem || j < n)
	{
		int64		v;

		if (j >= n || (i < st->nelem && st->elems[i] <= in[j]))
			v = st->elems[i++];
		else
			v = in[j++];
		if (k == 0 || out[k - 1] != v)
			out[k++] = v;
	}
	if (st->type == HLL_EXPLICIT && k > Max(st->nelem, st->threshold))
	{
		to_registers(cxt, st);
		for (int x = 0; x < n; x++)
			add_hash(st, (uint64) in[x]);
	}
	else
	{
		st->type = HLL_EXPLICIT;
		st->spare = st->elems;
		st->elems = out;
		st->nelem = k;
	}
}

/* Union a stored sketch (b, its len bytes after the varlena header) into st. */
static void
union_packed(MemoryContext cxt, HllMergeState *st, const uint8 *b, Size len)
{
	int			type;
	Size		nregs;

	if (len < HLL_HEADER || (b[0] >> 4) != 1)
		malformed("unknown header");
	if (b[1] != st->params || b[2] != st->cutoff)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot merge hll sketches of different parameters"),
				 errdetail("Header bytes %02x %02x against %02x %02x.",
						   b[1], b[2], st->params, st->cutoff),
				 errhint("Build every sketch merged together with the same log2m, regwidth, expthresh and sparseon.")));
	type = b[0] & 0x0f;
	b += HLL_HEADER;
	len -= HLL_HEADER;
	nregs = (Size) 1 << st->log2m;
	switch (type)
	{
		case HLL_UNDEFINED:
		case HLL_EMPTY:
			if (len != 0)
				malformed("an empty sketch with data");
			if (type == HLL_UNDEFINED)
				st->type = HLL_UNDEFINED;
			return;
		case HLL_EXPLICIT:
			{
				int			n = len / 8;

				if (len % 8 != 0 || n > HLL_MAX_EXPLICIT)
					malformed("explicit hashes of a wrong size");
				if (st->type == HLL_UNDEFINED)
					return;
				if (st->type == HLL_FULL)
				{
					for (int i = 0; i < n; i++)
						add_hash(st, pg_ntoh64(*(const uint64 *) (b + 8 * i)));
					return;
				}
				union_explicit(cxt, st, b, n);
				return;
			}
		case HLL_SPARSE:
		case HLL_FULL:
			{
				int			chunk = type == HLL_FULL ? st->nbits : st->log2m + st->nbits;
				Size		count = type == HLL_FULL ? nregs : len * 8 / chunk;
				BitReader	r = {b, 0, 0};

				if (len * 8 < count * chunk || len * 8 - count * chunk >= 8)
					malformed("registers of a wrong size");
				if (st->type == HLL_UNDEFINED)
					return;
				if (st->type != HLL_FULL)
					to_registers(cxt, st);
				for (Size i = 0; i < count; i++)
				{
					uint32		v = read_bits(&r, chunk);
					Size		reg = type == HLL_FULL ? i : v >> st->nbits;

					v &= (1u << st->nbits) - 1;
					if (st->regs[reg] < v)
						st->regs[reg] = v;
				}
				return;
			}
		default:
			malformed("unknown type");
	}
}

/* Append n bits, most significant first. */
typedef struct BitWriter
{
	uint8	   *p;
	uint64		acc;
	int			have;
} BitWriter;

static inline void
write_bits(BitWriter *w, uint32 v, int n)
{
	w->acc = (w->acc << n) | v;
	w->have += n;
	while (w->have >= 8)
	{
		w->have -= 8;
		*w->p++ = (uint8) (w->acc >> w->have);
	}
}

/*
 * The stored sketch, as postgresql-hll packs it: registers as sparse
 * (index, value) pairs when that is smaller and sparse is on, else full.
 */
static bytea *
pack(const HllMergeState *st)
{
	Size		nregs = (Size) 1 << st->log2m;
	Size		size = HLL_HEADER;
	int			type = st->type;
	Size		filled = 0;
	bytea	   *out;
	uint8	   *b;

	if (type == HLL_EXPLICIT)
		size += (Size) st->nelem * 8;
	else if (type == HLL_FULL)
	{
		for (Size i = 0; i < nregs; i++)
			filled += st->regs[i] != 0;
		if ((st->cutoff & 0x40) && filled * (st->log2m + st->nbits) < nregs * st->nbits)
			type = HLL_SPARSE;
		size += type == HLL_SPARSE
			? (filled * (st->log2m + st->nbits) + 7) / 8
			: (nregs * st->nbits + 7) / 8;
	}
	out = palloc0(VARHDRSZ + size);
	SET_VARSIZE(out, VARHDRSZ + size);
	b = (uint8 *) VARDATA(out);
	b[0] = (1 << 4) | type;
	b[1] = st->params;
	b[2] = st->cutoff;
	if (type == HLL_EXPLICIT)
	{
		for (int i = 0; i < st->nelem; i++)
		{
			uint64		h = pg_hton64((uint64) st->elems[i]);

			memcpy(b + HLL_HEADER + 8 * i, &h, 8);
		}
	}
	else if (type == HLL_SPARSE || type == HLL_FULL)
	{
		BitWriter	w = {b + HLL_HEADER, 0, 0};

		for (Size i = 0; i < nregs; i++)
		{
			if (type == HLL_FULL)
				write_bits(&w, st->regs[i], st->nbits);
			else if (st->regs[i] != 0)
				write_bits(&w, ((uint32) i << st->nbits) | st->regs[i], st->log2m + st->nbits);
		}
		if (w.have > 0)
			*w.p = (uint8) (w.acc << (8 - w.have));
	}
	return out;
}

static MemoryContext
agg_context(FunctionCallInfo fcinfo)
{
	MemoryContext cxt;

	if (!AggCheckCallContext(fcinfo, &cxt))
		elog(ERROR, "qoe.hll_merge support called outside an aggregate");
	return cxt;
}

static HllMergeState *
add_packed(MemoryContext cxt, HllMergeState *st, bytea *v)
{
	const uint8 *b = (const uint8 *) VARDATA_ANY(v);
	Size		len = VARSIZE_ANY_EXHDR(v);

	if (len < HLL_HEADER)
		malformed("shorter than its header");
	if (st == NULL)
		st = state_create(cxt, b);
	union_packed(cxt, st, b, len);
	return st;
}

Datum
qoe_hll_merge_trans(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = agg_context(fcinfo);
	HllMergeState *st = PG_ARGISNULL(0) ? NULL : (HllMergeState *) PG_GETARG_POINTER(0);

	if (PG_ARGISNULL(1))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	PG_RETURN_POINTER(add_packed(cxt, st, PG_GETARG_BYTEA_PP(1)));
}

/* Parallel plans: a partial state travels packed, and merges as an input. */
Datum
qoe_hll_merge_combine(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = agg_context(fcinfo);
	HllMergeState *a = PG_ARGISNULL(0) ? NULL : (HllMergeState *) PG_GETARG_POINTER(0);
	HllMergeState *b = PG_ARGISNULL(1) ? NULL : (HllMergeState *) PG_GETARG_POINTER(1);

	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	PG_RETURN_POINTER(add_packed(cxt, a, pack(b)));
}

Datum
qoe_hll_merge_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = agg_context(fcinfo);

	PG_RETURN_POINTER(add_packed(cxt, NULL, PG_GETARG_BYTEA_PP(0)));
}

/* Final and serialize function: the stored sketch. */
Datum
qoe_hll_merge_final(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(pack((HllMergeState *) PG_GETARG_POINTER(0)));
}
