/*
 * tdigest_agg.c - aggregates over qoe.tdigest
 *
 *   tdigest_agg(value [, compression])   values -> digest
 *   tdigest_merge(digest)                digests -> digest (rollups of rollups)
 *   percentile_approx(value, q | qs[])   values -> percentile(s), one step
 *   percentile_approx(digest, q | qs[])  digests -> percentile(s), one step,
 *                                        single values not recompressed
 *
 * All share one transition state (TDAggState, kept in the aggregate memory
 * context) and one combine / serialize / deserialize trio, so every one of
 * them runs as a partial aggregate in parallel plans.  The transition for a
 * value is td_add: no allocation per row.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "sketch/tdigest.h"

PG_FUNCTION_INFO_V1(qoe_tdigest_agg_trans);
PG_FUNCTION_INFO_V1(qoe_tdigest_merge_trans);
PG_FUNCTION_INFO_V1(qoe_percentile_approx_trans);
PG_FUNCTION_INFO_V1(qoe_percentile_approx_array_trans);
PG_FUNCTION_INFO_V1(qoe_percentile_approx_digest_trans);
PG_FUNCTION_INFO_V1(qoe_percentile_approx_digest_array_trans);
PG_FUNCTION_INFO_V1(qoe_tdigest_combine);
PG_FUNCTION_INFO_V1(qoe_tdigest_serialize);
PG_FUNCTION_INFO_V1(qoe_tdigest_deserialize);
PG_FUNCTION_INFO_V1(qoe_tdigest_agg_final);
PG_FUNCTION_INFO_V1(qoe_percentile_approx_final);
PG_FUNCTION_INFO_V1(qoe_percentile_approx_array_final);

/* what percentile_approx was asked for */
typedef enum TDQueryKind
{
	TDQ_NONE = 0,				/* tdigest_agg / tdigest_merge */
	TDQ_SCALAR,
	TDQ_ARRAY,
	TDQ_NULL					/* q was NULL: the result is NULL */
} TDQueryKind;

/* flag in the serialized kind byte: TDAggState.from_digests */
#define TD_FROM_DIGESTS			0x80

typedef struct TDAggState
{
	TDigest		td;
	int32		compression_arg;	/* as passed to tdigest_agg */
	TDQueryKind kind;
	int			nq;				/* percentile fractions (TDQ_SCALAR: 1) */
	double	   *qs;
	bool	   *qnulls;
	int			ndim;			/* shape of the qs array, echoed in the result */
	int			dims[MAXDIM];
	int			lbs[MAXDIM];
	struct varlena *qarr;		/* the first row's qs array, as passed: a row
								 * passing the same bytes needs no check */
	bool		from_digests;	/* percentile_approx over digests: single
								 * values are collected, not compressed */
} TDAggState;

static MemoryContext
agg_context(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "%s called in non-aggregate context", fname);
	return aggcxt;
}

static TDAggState *
agg_state_create(MemoryContext aggcxt, int compression)
{
	TDAggState *st = MemoryContextAllocZero(aggcxt, sizeof(TDAggState));

	td_init(&st->td, aggcxt, compression);
	st->compression_arg = compression;
	st->kind = TDQ_NONE;
	return st;
}

static void
agg_state_set_qs(TDAggState *st, MemoryContext aggcxt, const double *qs,
				 const bool *qnulls, int nq)
{
	st->nq = nq;
	st->qs = MemoryContextAlloc(aggcxt, sizeof(double) * Max(nq, 1));
	st->qnulls = MemoryContextAlloc(aggcxt, sizeof(bool) * Max(nq, 1));
	if (nq > 0)
	{
		memcpy(st->qs, qs, sizeof(double) * nq);
		memcpy(st->qnulls, qnulls, sizeof(bool) * nq);
	}
}

/* ---------------------------------------------------------------------
 * Transition functions
 * ---------------------------------------------------------------------
 */

Datum
qoe_tdigest_agg_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo, "qoe_tdigest_agg_trans");
	TDAggState *st = PG_ARGISNULL(0) ? NULL : (TDAggState *) PG_GETARG_POINTER(0);
	int			compression = TD_DEFAULT_COMPRESSION;

	if (PG_ARGISNULL(1))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	if (PG_NARGS() > 2)
	{
		if (PG_ARGISNULL(2))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("tdigest compression must not be NULL"),
					 errhint("Omit the argument to use the default of %d.", TD_DEFAULT_COMPRESSION)));
		compression = PG_GETARG_INT32(2);
		if (st != NULL && compression != st->compression_arg)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tdigest compression must be the same for every row"),
					 errdetail("The aggregate started with compression %d and then got %d.",
							   st->compression_arg, compression),
					 errhint("Pass a constant compression.")));
	}
	if (st == NULL)
		st = agg_state_create(aggcxt, compression);
	td_add(&st->td, PG_GETARG_FLOAT8(1));
	PG_RETURN_POINTER(st);
}

/*
 * The digest of argument 1 of a merging transition (tdigest_merge,
 * percentile_approx over digests), decoded in the per-row context, which the
 * executor resets; a malformed one is data_corrupted. A short header is read
 * in place (td_unpack), not copied.
 */
static void
unpack_digest_arg(FunctionCallInfo fcinfo, TDigest *src)
{
	td_unpack(src, CurrentMemoryContext,
			  (struct varlena *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(1)),
			  ERRCODE_DATA_CORRUPTED);
}

Datum
qoe_tdigest_merge_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo, "qoe_tdigest_merge_trans");
	TDAggState *st = PG_ARGISNULL(0) ? NULL : (TDAggState *) PG_GETARG_POINTER(0);
	TDigest		src;

	if (PG_ARGISNULL(1))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	unpack_digest_arg(fcinfo, &src);
	if (st == NULL)
		st = agg_state_create(aggcxt, src.compression);
	td_add_digest(&st->td, &src);
	PG_RETURN_POINTER(st);
}

static void q_changed_error(void) pg_attribute_noreturn();

static void
q_changed_error(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("percentile_approx fraction must be the same for every row"),
			 errdetail("The fraction argument changed between rows of one group."),
			 errhint("Pass a constant fraction, or build a digest with tdigest_agg and query it.")));
}

/*
 * The state of percentile_approx(x, q) after checking q (argument 2), which
 * must be the same on every row; created with the given compression.
 */
static TDAggState *
scalar_q_state(FunctionCallInfo fcinfo, MemoryContext aggcxt, TDAggState *st,
			   int compression)
{
	bool		qnull = PG_ARGISNULL(2);
	double		q = qnull ? 0.0 : PG_GETARG_FLOAT8(2);

	if (st == NULL)
	{
		bool		f = false;

		if (!qnull)
			td_check_q(q);
		st = agg_state_create(aggcxt, compression);
		st->kind = qnull ? TDQ_NULL : TDQ_SCALAR;
		agg_state_set_qs(st, aggcxt, &q, &f, 1);
	}
	else if (qnull != (st->kind == TDQ_NULL) || (!qnull && q != st->qs[0]))
		q_changed_error();
	return st;
}

/* the fractions of a float8[] argument, checked */
static void
read_q_array(ArrayType *arr, double **qs, bool **qnulls, int *nq)
{
	Datum	   *elems;
	int			i;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("percentile fractions must be a one-dimensional array"),
				 errdetail("The array has %d dimensions.", ARR_NDIM(arr)),
				 errhint("Pass for example ARRAY[0.5, 0.95, 0.99].")));
	deconstruct_array(arr, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, qnulls, nq);
	*qs = palloc(sizeof(double) * Max(*nq, 1));
	for (i = 0; i < *nq; i++)
	{
		CHECK_FOR_INTERRUPTS();
		(*qs)[i] = (*qnulls)[i] ? 0.0 : DatumGetFloat8(elems[i]);
		if (!(*qnulls)[i])
			td_check_q((*qs)[i]);
	}
}

/*
 * The state of percentile_approx(x, qs[]) after checking qs (argument 2),
 * which must be the same on every row; created with the given compression.
 */
static TDAggState *
array_q_state(FunctionCallInfo fcinfo, MemoryContext aggcxt, TDAggState *st,
			  int compression)
{
	bool		qnull = PG_ARGISNULL(2);

	if (st == NULL)
	{
		st = agg_state_create(aggcxt, compression);
		if (qnull)
			st->kind = TDQ_NULL;
		else
		{
			ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(2);
			double	   *qs;
			bool	   *qnulls;
			int			nq;

			read_q_array(arr, &qs, &qnulls, &nq);
			st->kind = TDQ_ARRAY;
			agg_state_set_qs(st, aggcxt, qs, qnulls, nq);
			st->ndim = ARR_NDIM(arr);
			if (st->ndim == 1)
			{
				st->dims[0] = ARR_DIMS(arr)[0];
				st->lbs[0] = ARR_LBOUND(arr)[0];
			}
			/*
			 * Kept as passed: an aggregate's transition function cannot tell
			 * a constant argument (its expression is a placeholder), and
			 * decoding the array again on every row cost as much as the rest
			 * of a merge of digests.
			 */
			st->qarr = MemoryContextAlloc(aggcxt, VARSIZE(arr));
			memcpy(st->qarr, arr, VARSIZE(arr));
		}
	}
	else if (qnull != (st->kind == TDQ_NULL))
		q_changed_error();
	else if (!qnull)
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(2);
		double	   *qs;
		bool	   *qnulls;
		int			nq,
					i;

		if (st->qarr != NULL && VARSIZE(arr) == VARSIZE(st->qarr) &&
			memcmp(arr, st->qarr, VARSIZE(arr)) == 0)
			return st;
		/* other bytes: compare the fractions with the first row's */
		read_q_array(arr, &qs, &qnulls, &nq);
		if (nq != st->nq)
			q_changed_error();
		for (i = 0; i < nq; i++)
			if (qnulls[i] != st->qnulls[i] || (!qnulls[i] && qs[i] != st->qs[i]))
				q_changed_error();
	}
	return st;
}

/* percentile_approx(x, q) and (x, qs[]): one value into the state's digest */
static Datum
value_trans(FunctionCallInfo fcinfo, bool array)
{
	MemoryContext aggcxt = agg_context(fcinfo, array ? "qoe_percentile_approx_array_trans"
									   : "qoe_percentile_approx_trans");
	TDAggState *st = PG_ARGISNULL(0) ? NULL : (TDAggState *) PG_GETARG_POINTER(0);

	if (PG_ARGISNULL(1))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	st = array ? array_q_state(fcinfo, aggcxt, st, TD_DEFAULT_COMPRESSION)
		: scalar_q_state(fcinfo, aggcxt, st, TD_DEFAULT_COMPRESSION);
	td_add(&st->td, PG_GETARG_FLOAT8(1));
	PG_RETURN_POINTER(st);
}

Datum
qoe_percentile_approx_trans(PG_FUNCTION_ARGS)
{
	return value_trans(fcinfo, false);
}

Datum
qoe_percentile_approx_array_trans(PG_FUNCTION_ARGS)
{
	return value_trans(fcinfo, true);
}

/*
 * percentile_approx(digest, q) and (digest, qs[]): the digests' centroids
 * queued as tdigest_merge queues them, with the compression of the first
 * (td_add_digest then keeps the smallest).
 */
static Datum
digest_trans(FunctionCallInfo fcinfo, bool array)
{
	MemoryContext aggcxt = agg_context(fcinfo, "qoe_percentile_approx_digest_trans");
	TDAggState *st = PG_ARGISNULL(0) ? NULL : (TDAggState *) PG_GETARG_POINTER(0);
	TDigest		src;

	if (PG_ARGISNULL(1))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	unpack_digest_arg(fcinfo, &src);
	st = array ? array_q_state(fcinfo, aggcxt, st, src.compression)
		: scalar_q_state(fcinfo, aggcxt, st, src.compression);
	st->from_digests = true;
	td_add_digest(&st->td, &src);
	PG_RETURN_POINTER(st);
}

Datum
qoe_percentile_approx_digest_trans(PG_FUNCTION_ARGS)
{
	return digest_trans(fcinfo, false);
}

Datum
qoe_percentile_approx_digest_array_trans(PG_FUNCTION_ARGS)
{
	return digest_trans(fcinfo, true);
}

/* ---------------------------------------------------------------------
 * Combine, serialize, deserialize
 * ---------------------------------------------------------------------
 */

Datum
qoe_tdigest_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo, "qoe_tdigest_combine");
	TDAggState *s1 = PG_ARGISNULL(0) ? NULL : (TDAggState *) PG_GETARG_POINTER(0);
	TDAggState *s2 = PG_ARGISNULL(1) ? NULL : (TDAggState *) PG_GETARG_POINTER(1);

	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
	{
		s1 = agg_state_create(aggcxt, s2->td.compression);
		s1->compression_arg = s2->compression_arg;
		s1->kind = s2->kind;
		s1->from_digests = s2->from_digests;
		s1->ndim = s2->ndim;
		memcpy(s1->dims, s2->dims, sizeof(s1->dims));
		memcpy(s1->lbs, s2->lbs, sizeof(s1->lbs));
		if (s2->kind == TDQ_SCALAR || s2->kind == TDQ_ARRAY)
			agg_state_set_qs(s1, aggcxt, s2->qs, s2->qnulls, s2->nq);
	}
	else if (s1->kind != s2->kind || s1->nq != s2->nq ||
			 (s1->nq > 0 && (memcmp(s1->qs, s2->qs, sizeof(double) * s1->nq) != 0 ||
							 memcmp(s1->qnulls, s2->qnulls, sizeof(bool) * s1->nq) != 0)))
		q_changed_error();
	td_add_digest(&s1->td, &s2->td);
	PG_RETURN_POINTER(s1);
}

/*
 * Serialized state (a bytea):
 *   int32   length L of the packed digest that follows
 *   L bytes the packed digest (td_pack format, 4-byte aligned)
 *   int32   compression_arg
 *   uint8   kind, plus TD_FROM_DIGESTS for percentile_approx over digests
 *   for TDQ_SCALAR / TDQ_ARRAY: int32 ndim, ndim x (int32 dim, int32 lbound),
 *           int32 nq, nq x (uint8 isnull, float8 q)
 */
Datum
qoe_tdigest_serialize(PG_FUNCTION_ARGS)
{
	TDAggState *st;
	Size		dsize,
				size;
	bytea	   *result;
	char	   *p;
	int			i;
	uint8		kind;
	int32		v;

	agg_context(fcinfo, "qoe_tdigest_serialize");
	st = (TDAggState *) PG_GETARG_POINTER(0);
	td_compress(&st->td);
	dsize = td_packed_size(&st->td);
	size = VARHDRSZ + 4 + dsize + 4 + 1;
	if (st->kind == TDQ_SCALAR || st->kind == TDQ_ARRAY)
		size += 4 + 8 * st->ndim + 4 + 9 * st->nq;
	result = palloc(size);
	SET_VARSIZE(result, size);
	p = VARDATA(result);
	v = (int32) dsize;
	memcpy(p, &v, 4);
	p += 4;
	td_pack_into(&st->td, p);
	p += dsize;
	memcpy(p, &st->compression_arg, 4);
	p += 4;
	kind = (uint8) st->kind | (st->from_digests ? TD_FROM_DIGESTS : 0);
	memcpy(p, &kind, 1);
	p += 1;
	if (st->kind == TDQ_SCALAR || st->kind == TDQ_ARRAY)
	{
		memcpy(p, &st->ndim, 4);
		p += 4;
		for (i = 0; i < st->ndim; i++)
		{
			memcpy(p, &st->dims[i], 4);
			memcpy(p + 4, &st->lbs[i], 4);
			p += 8;
		}
		memcpy(p, &st->nq, 4);
		p += 4;
		for (i = 0; i < st->nq; i++)
		{
			uint8		isnull = st->qnulls[i] ? 1 : 0;

			memcpy(p, &isnull, 1);
			memcpy(p + 1, &st->qs[i], 8);
			p += 9;
		}
	}
	Assert(p == (char *) result + size);
	PG_RETURN_BYTEA_P(result);
}

static void bad_state(const char *detail) pg_attribute_noreturn();

static void
bad_state(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid serialized tdigest aggregate state"),
			 errdetail_internal("%s", detail)));
}

Datum
qoe_tdigest_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo, "qoe_tdigest_deserialize");
	bytea	   *data = PG_GETARG_BYTEA_P(0);
	const char *p = VARDATA(data);
	const char *end = p + VARSIZE(data) - VARHDRSZ;
	TDAggState *st;
	int32		dsize;
	uint8		kind;
	int			i;

	if (end - p < 4)
		bad_state("The state is too short.");
	memcpy(&dsize, p, 4);
	p += 4;
	if (dsize < VARHDRSZ || dsize > end - p || !VARATT_IS_4B_U(p) ||
		VARSIZE(p) != (Size) dsize)
		bad_state("The digest length does not match the state.");
	st = MemoryContextAllocZero(aggcxt, sizeof(TDAggState));
	td_unpack(&st->td, aggcxt, (const struct varlena *) p, ERRCODE_INVALID_BINARY_REPRESENTATION);
	p += dsize;
	if (end - p < 5)
		bad_state("The state ends after its digest.");
	memcpy(&st->compression_arg, p, 4);
	p += 4;
	memcpy(&kind, p, 1);
	p += 1;
	st->from_digests = (kind & TD_FROM_DIGESTS) != 0;
	kind &= ~TD_FROM_DIGESTS;
	if (kind > TDQ_NULL)
		bad_state("Unknown percentile kind.");
	st->kind = (TDQueryKind) kind;
	if (st->kind == TDQ_SCALAR || st->kind == TDQ_ARRAY)
	{
		int32		ndim,
					nq;

		if (end - p < 4)
			bad_state("The state ends before its array shape.");
		memcpy(&ndim, p, 4);
		p += 4;
		if (ndim < 0 || ndim > 1 || end - p < 8 * ndim + 4)
			bad_state("The array shape is invalid.");
		st->ndim = ndim;
		for (i = 0; i < ndim; i++)
		{
			memcpy(&st->dims[i], p, 4);
			memcpy(&st->lbs[i], p + 4, 4);
			p += 8;
		}
		memcpy(&nq, p, 4);
		p += 4;
		if (nq < 0 || nq > (end - p) / 9 || (ndim == 1 && nq != st->dims[0]) ||
			(ndim == 0 && st->kind == TDQ_ARRAY && nq != 0) ||
			(st->kind == TDQ_SCALAR && nq != 1))
			bad_state("The number of percentiles is invalid.");
		st->nq = nq;
		st->qs = MemoryContextAlloc(aggcxt, sizeof(double) * Max(nq, 1));
		st->qnulls = MemoryContextAlloc(aggcxt, sizeof(bool) * Max(nq, 1));
		for (i = 0; i < nq; i++)
		{
			uint8		isnull;

			memcpy(&isnull, p, 1);
			memcpy(&st->qs[i], p + 1, 8);
			p += 9;
			if (isnull > 1 || (!isnull && (isnan(st->qs[i]) || st->qs[i] < 0.0 || st->qs[i] > 1.0)))
				bad_state("A percentile is invalid.");
			st->qnulls[i] = isnull;
		}
	}
	if (p != end)
		bad_state("The state has trailing bytes.");
	PG_RETURN_POINTER(st);
}

/* ---------------------------------------------------------------------
 * Final functions.  They merge the buffer into the centroids, which
 * changes the representation but not the digest, so the state stays valid
 * for further rows and other final functions.
 * ---------------------------------------------------------------------
 */

Datum
qoe_tdigest_agg_final(PG_FUNCTION_ARGS)
{
	TDAggState *st;

	agg_context(fcinfo, "qoe_tdigest_agg_final");
	st = (TDAggState *) PG_GETARG_POINTER(0);
	PG_RETURN_POINTER(td_pack(&st->td));
}

/* ready to estimate: merged, or single values of digests put in order */
static void
finish(TDAggState *st)
{
	if (!st->from_digests || !td_collect_singles(&st->td))
		td_compress(&st->td);
}

Datum
qoe_percentile_approx_final(PG_FUNCTION_ARGS)
{
	TDAggState *st;

	agg_context(fcinfo, "qoe_percentile_approx_final");
	st = (TDAggState *) PG_GETARG_POINTER(0);
	if (st->kind != TDQ_SCALAR)
		PG_RETURN_NULL();
	finish(st);
	PG_RETURN_FLOAT8(td_quantile(&st->td, st->qs[0]));
}

Datum
qoe_percentile_approx_array_final(PG_FUNCTION_ARGS)
{
	TDAggState *st;
	Datum	   *elems;
	double	   *out;
	int			i;

	agg_context(fcinfo, "qoe_percentile_approx_array_final");
	st = (TDAggState *) PG_GETARG_POINTER(0);
	if (st->kind != TDQ_ARRAY)
		PG_RETURN_NULL();
	if (st->nq == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(FLOAT8OID));
	finish(st);
	out = palloc(sizeof(double) * st->nq);
	td_quantiles(&st->td, st->qs, st->qnulls, st->nq, out);
	elems = palloc(sizeof(Datum) * st->nq);
	for (i = 0; i < st->nq; i++)
		elems[i] = Float8GetDatum(out[i]);
	PG_RETURN_ARRAYTYPE_P(construct_md_array(elems, st->qnulls, 1, st->dims, st->lbs,
											 FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
											 TYPALIGN_DOUBLE));
}
