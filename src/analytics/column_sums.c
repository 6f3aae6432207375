/*
 * column_sums.c - qoe.bigint_sums(VARIADIC "any"): the exact sums of many
 * bigint columns, in one aggregate call per row
 *
 * The rollups add up a dozen or more counters per row (qoe.qoe_metrics reads
 * 13 of them from every level row it merges). One sum() per column costs the
 * executor an aggregate call per column and row, which was the largest share
 * left of the 24-hour dashboard's time (doc/benchmarks.md, bench/dashboard).
 * This aggregate takes the columns as arguments of one call ("any", so that
 * no array is built per row) and returns their sums as a bigint array.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/array.h"

PG_FUNCTION_INFO_V1(qoe_bigint_sums_trans);
PG_FUNCTION_INFO_V1(qoe_bigint_sums_final);

typedef struct ColumnSums
{
	int			n;
	int64		sums[FLEXIBLE_ARRAY_MEMBER];
} ColumnSums;

/*
 * qoe_bigint_sums_trans(internal, VARIADIC "any") -> internal
 *
 * Adds each argument to its running sum; a NULL adds nothing. Errors:
 * an argument that is not bigint (datatype_mismatch, checked on the first
 * row), a sum out of bigint's range (numeric_value_out_of_range, as int8pl).
 */
Datum
qoe_bigint_sums_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	ColumnSums *state;
	int			n = PG_NARGS() - 1;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "qoe_bigint_sums_trans called outside an aggregate");
	if (PG_ARGISNULL(0))
	{
		for (int i = 1; i <= n; i++)
		{
			Oid			type = get_fn_expr_argtype(fcinfo->flinfo, i);

			if (type != INT8OID)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("qoe.bigint_sums takes bigint arguments only"),
						 errdetail("Argument %d is of type %s.", i, format_type_be(type)),
						 errhint("Cast it to bigint.")));
		}
		state = MemoryContextAllocZero(aggcontext, offsetof(ColumnSums, sums) + n * sizeof(int64));
		state->n = n;
	}
	else
		state = (ColumnSums *) PG_GETARG_POINTER(0);

	for (int i = 0; i < state->n; i++)
	{
		if (PG_ARGISNULL(i + 1))
			continue;
		if (unlikely(pg_add_s64_overflow(state->sums[i], PG_GETARG_INT64(i + 1), &state->sums[i])))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("bigint out of range"),
					 errdetail("The sum of argument %d of qoe.bigint_sums exceeds bigint's range.", i + 1)));
	}
	PG_RETURN_POINTER(state);
}

/*
 * qoe_bigint_sums_final(internal, VARIADIC "any") -> bigint[]
 *
 * The sums in argument order (one-based array), NULL for no rows.
 */
Datum
qoe_bigint_sums_final(PG_FUNCTION_ARGS)
{
	ColumnSums *state = PG_ARGISNULL(0) ? NULL : (ColumnSums *) PG_GETARG_POINTER(0);
	Datum	   *values;

	if (state == NULL)
		PG_RETURN_NULL();
	values = palloc(state->n * sizeof(Datum));
	for (int i = 0; i < state->n; i++)
		values[i] = Int64GetDatum(state->sums[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(values, state->n, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
