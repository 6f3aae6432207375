/*
 * qoe_score.c - the QoE score and the ratio-of-sums QoE aggregates
 *
 *   qoe_score(vst_ms, rebuffer_ratio, avg_bitrate_kbps, dropped_ratio)
 *       100 x (w_vst s_vst + w_rebuffer s_rebuffer + w_bitrate s_bitrate
 *              + w_dropped s_dropped) / (sum of the weights used),
 *       each s in [0, 1], linear from a good threshold (1) to a bad one (0).
 *   rebuffer_ratio(stall_ms, watch_ms)   sum(stall) / sum(watch)
 *   qoe_score_agg(score, watch_ms)       sum(score x watch) / sum(watch)
 *   qoe_good_share(score [, threshold])  share of sessions with score >= 70
 *
 * Weights and thresholds live in the one-row table qoe.qoe_score_config.
 * They are read once per backend through SPI and cached; a statement
 * trigger on the table sends a relcache invalidation for it, and the
 * callback registered here drops the cache, so every backend sees a
 * committed change at its next statement.  The aggregates keep their state
 * as a float8[] of sums, combined element-wise, so they are mergeable and
 * parallel safe without serialization.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "sketch/qoe_score.h"

PG_FUNCTION_INFO_V1(qoe_score_sql);
PG_FUNCTION_INFO_V1(qoe_score_config_changed);
PG_FUNCTION_INFO_V1(qoe_rebuffer_ratio_trans);
PG_FUNCTION_INFO_V1(qoe_rebuffer_ratio_final);
PG_FUNCTION_INFO_V1(qoe_score_agg_trans);
PG_FUNCTION_INFO_V1(qoe_score_agg_final);
PG_FUNCTION_INFO_V1(qoe_good_share_trans);
PG_FUNCTION_INFO_V1(qoe_good_share_final);
PG_FUNCTION_INFO_V1(qoe_float8_sums_combine);

typedef struct QoeScoreConfig
{
	double		weight[4];		/* vst, rebuffer, bitrate, dropped */
	double		good[4];
	double		bad[4];
	double		good_score;
} QoeScoreConfig;

/* SPEC section 4 defaults, used when the table has no row */
static const QoeScoreConfig default_config = {
	{0.30, 0.40, 0.20, 0.10},
	{1000.0, 0.0, 8000.0, 0.0},
	{8000.0, 0.05, 500.0, 0.02},
	70.0
};

static const char *const component_name[4] =
{"vst_ms", "rebuffer_ratio", "avg_bitrate_kbps", "dropped_ratio"};

static QoeScoreConfig config;
static bool config_valid = false;
static bool callback_registered = false;
static Oid	config_relid = InvalidOid;

static void
config_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == config_relid)
		config_valid = false;
}

static void
config_error(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid qoe score configuration"),
			 errdetail_internal("%s", detail),
			 errhint("Fix the row of qoe.qoe_score_config, or delete it to use the defaults.")));
}

static void
config_load(void)
{
	QoeScoreConfig c = default_config;
	Oid			nsp;
	int			i;
	double		wsum = 0.0;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(config_invalidate, (Datum) 0);
		callback_registered = true;
	}
	nsp = get_namespace_oid("qoe", true);
	config_relid = OidIsValid(nsp) ? get_relname_relid("qoe_score_config", nsp) : InvalidOid;
	if (!OidIsValid(config_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table qoe.qoe_score_config does not exist"),
				 errhint("Reinstall the qoe_ext extension.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT weight_vst, weight_rebuffer, weight_bitrate, weight_dropped,"
					" vst_good_ms, rebuffer_good, bitrate_good_kbps, dropped_good,"
					" vst_bad_ms, rebuffer_bad, bitrate_bad_kbps, dropped_bad, good_score"
					" FROM qoe.qoe_score_config", true, 2) != SPI_OK_SELECT)
		elog(ERROR, "cannot read qoe.qoe_score_config");
	if (SPI_processed > 1)
		config_error("The table has more than one row.");
	if (SPI_processed == 1)
	{
		double		v[13];

		for (i = 0; i < 13; i++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
										  i + 1, &isnull);

			if (isnull)
				config_error(psprintf("Column %s is NULL.",
									  SPI_fname(SPI_tuptable->tupdesc, i + 1)));
			v[i] = DatumGetFloat8(d);
			if (!isfinite(v[i]))
				config_error(psprintf("Column %s is not finite.",
									  SPI_fname(SPI_tuptable->tupdesc, i + 1)));
		}
		for (i = 0; i < 4; i++)
		{
			c.weight[i] = v[i];
			c.good[i] = v[4 + i];
			c.bad[i] = v[8 + i];
		}
		c.good_score = v[12];
	}
	SPI_finish();

	/* the table's CHECK constraints, again: its owner may have dropped them */
	for (i = 0; i < 4; i++)
	{
		if (c.weight[i] < 0.0)
			config_error(psprintf("The weight of %s is negative (%g).", component_name[i], c.weight[i]));
		if (c.good[i] < 0.0 || c.bad[i] < 0.0)
			config_error(psprintf("A threshold of %s is negative (good %g, bad %g).",
								  component_name[i], c.good[i], c.bad[i]));
		if (c.good[i] == c.bad[i])
			config_error(psprintf("The good and bad thresholds of %s are equal (%g).",
								  component_name[i], c.good[i]));
		wsum += c.weight[i];
	}
	if (wsum <= 0.0)
		config_error("All weights are zero.");
	if (!isfinite(wsum))
		config_error("The sum of the weights is not finite.");
	if (c.good_score < 0.0 || c.good_score > 100.0)
		config_error(psprintf("The good score %g is not between 0 and 100.", c.good_score));
	config = c;
	config_valid = true;
}

static const QoeScoreConfig *
config_get(void)
{
	if (!config_valid)
		config_load();
	return &config;
}

/* trigger on qoe.qoe_score_config: make every backend reload it */
Datum
qoe_score_config_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("qoe_score_config_changed must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	config_valid = false;
	PG_RETURN_POINTER(NULL);
}

static void
check_input(const char *name, double v)
{
	if (isnan(v) || v < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be a non-negative number", name),
				 errdetail("The value is %g.", v),
				 errhint("Pass NULL when the measure is unknown.")));
}

double
qoe_score_value(const double *vst_ms, const double *rebuffer_ratio,
				const double *avg_bitrate_kbps, const double *dropped_ratio,
				bool *isnull)
{
	const QoeScoreConfig *c;
	const double *x[4] = {vst_ms, rebuffer_ratio, avg_bitrate_kbps, dropped_ratio};
	double		wsum = 0.0,
				acc = 0.0;
	int			i;

	for (i = 0; i < 4; i++)
		if (x[i])
			check_input(component_name[i], *x[i]);
	*isnull = false;
	if (vst_ms == NULL)
		return 0.0;				/* never started or failed: scores 0 */

	c = config_get();
	for (i = 0; i < 4; i++)
	{
		double		s;

		if (x[i] == NULL || c->weight[i] == 0.0)
			continue;
		/* 1 at the good threshold, 0 at the bad one, either direction */
		s = (c->bad[i] - *x[i]) / (c->bad[i] - c->good[i]);
		if (!(s > 0.0))
			s = 0.0;			/* also NaN from infinite input */
		if (s > 1.0)
			s = 1.0;
		acc += c->weight[i] * s;
		wsum += c->weight[i];
	}
	if (wsum <= 0.0)
	{
		*isnull = true;
		return 0.0;
	}
	return 100.0 * acc / wsum;
}

Datum
qoe_score_sql(PG_FUNCTION_ARGS)
{
	double		v[4];
	const double *p[4];
	int			i;
	bool		isnull;
	double		score;

	for (i = 0; i < 4; i++)
	{
		if (PG_ARGISNULL(i))
			p[i] = NULL;
		else
		{
			v[i] = PG_GETARG_FLOAT8(i);
			p[i] = &v[i];
		}
	}
	score = qoe_score_value(p[0], p[1], p[2], p[3], &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(score);
}

/* ---------------------------------------------------------------------
 * Aggregates with a float8[] state of sums
 * ---------------------------------------------------------------------
 */

static void bad_state(const char *detail) pg_attribute_noreturn();

static void
bad_state(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid qoe aggregate state"),
			 errdetail_internal("%s", detail),
			 errhint("The support functions of qoe.rebuffer_ratio, qoe.qoe_score_agg and qoe.qoe_good_share take only their own states.")));
}

/*
 * The sums in a state, checked: the support functions can be called directly
 * with any array, and every sum of non-negative measures is finite and
 * non-negative.
 */
static float8 *
sums_of(ArrayType *arr, int n)
{
	float8	   *s;
	int			i;

	if (ARR_NDIM(arr) != 1 || ARR_DIMS(arr)[0] != n || ARR_HASNULL(arr) ||
		ARR_ELEMTYPE(arr) != FLOAT8OID)
		bad_state(psprintf("The state is not a float8[%d] without NULLs.", n));
	/* no NULL bitmap (checked), so the data follows the fixed header */
	s = (float8 *) ((char *) arr + ARR_OVERHEAD_NONULLS(1));
	for (i = 0; i < n; i++)
		if (!(s[i] >= 0.0) || isinf(s[i]))
			bad_state(psprintf("Element %d is %g, not a finite non-negative sum.", i + 1, s[i]));
	return s;
}

/* the sums to update: in place inside an aggregate, else in a copy */
static float8 *
state_for_update(FunctionCallInfo fcinfo, int n, ArrayType **arr)
{
	if (AggCheckCallContext(fcinfo, NULL))
		*arr = PG_GETARG_ARRAYTYPE_P(0);
	else
		*arr = PG_GETARG_ARRAYTYPE_P_COPY(0);
	return sums_of(*arr, n);
}

/* *sum += v, an error (as for sum(float8)) if it overflows */
static void
add_to_sum(float8 *sum, double v)
{
	double		r = *sum + v;

	if (isinf(r))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("qoe aggregate sum is out of range"),
				 errdetail("Adding %g to %g overflows double precision.", v, *sum),
				 errhint("Scale the measures down, for example to seconds instead of milliseconds.")));
	*sum = r;
}

static void
check_measure(const char *what, double v)
{
	if (isnan(v) || isinf(v) || v < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be a finite non-negative number", what),
				 errdetail("The value is %g.", v),
				 errhint("Filter out rows with invalid measures, or pass NULL to skip a row.")));
}

static void
check_score(double v)
{
	if (isnan(v) || v < 0.0 || v > 100.0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("qoe score %g is not between 0 and 100", v),
				 errhint("Pass scores computed by qoe.qoe_score.")));
}

/* state {rows, stall_ms, watch_ms}; strict, so rows with a NULL are skipped */
Datum
qoe_rebuffer_ratio_trans(PG_FUNCTION_ARGS)
{
	ArrayType  *arr;
	float8	   *s = state_for_update(fcinfo, 3, &arr);
	double		stall = PG_GETARG_FLOAT8(1);
	double		watch = PG_GETARG_FLOAT8(2);

	check_measure("stall time", stall);
	check_measure("watch time", watch);
	add_to_sum(&s[1], stall);
	add_to_sum(&s[2], watch);
	s[0] += 1.0;
	PG_RETURN_ARRAYTYPE_P(arr);
}

Datum
qoe_rebuffer_ratio_final(PG_FUNCTION_ARGS)
{
	float8	   *s = sums_of(PG_GETARG_ARRAYTYPE_P(0), 3);

	if (s[0] == 0.0 || s[2] <= 0.0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(s[1] / s[2]);
}

/* state {sessions, sum(score x watch), sum(watch)} */
Datum
qoe_score_agg_trans(PG_FUNCTION_ARGS)
{
	ArrayType  *arr;
	float8	   *s = state_for_update(fcinfo, 3, &arr);
	double		score = PG_GETARG_FLOAT8(1);
	double		watch = PG_GETARG_FLOAT8(2);

	check_score(score);
	check_measure("watch time", watch);
	add_to_sum(&s[1], score * watch);
	add_to_sum(&s[2], watch);
	s[0] += 1.0;
	PG_RETURN_ARRAYTYPE_P(arr);
}

Datum
qoe_score_agg_final(PG_FUNCTION_ARGS)
{
	float8	   *s = sums_of(PG_GETARG_ARRAYTYPE_P(0), 3);
	double		r;

	if (s[0] == 0.0 || s[2] <= 0.0)
		PG_RETURN_NULL();
	r = s[1] / s[2];
	PG_RETURN_FLOAT8(Min(Max(r, 0.0), 100.0));
}

/* state {sessions, good sessions}; threshold argument or the configured one */
Datum
qoe_good_share_trans(PG_FUNCTION_ARGS)
{
	ArrayType  *arr;
	float8	   *s = state_for_update(fcinfo, 2, &arr);
	double		score = PG_GETARG_FLOAT8(1);
	double		threshold;

	check_score(score);
	if (PG_NARGS() > 2)
	{
		threshold = PG_GETARG_FLOAT8(2);
		if (isnan(threshold))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("good score threshold must not be NaN"),
					 errhint("Pass a score between 0 and 100, for example 70.")));
	}
	else
		threshold = config_get()->good_score;
	s[0] += 1.0;
	if (score >= threshold)
		s[1] += 1.0;
	PG_RETURN_ARRAYTYPE_P(arr);
}

Datum
qoe_good_share_final(PG_FUNCTION_ARGS)
{
	float8	   *s = sums_of(PG_GETARG_ARRAYTYPE_P(0), 2);

	if (s[0] == 0.0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(s[1] / s[0]);
}

/* element-wise sum of two float8[] states of the same length */
Datum
qoe_float8_sums_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *a2 = PG_GETARG_ARRAYTYPE_P(1);
	int			n = ARR_NDIM(a2) == 1 ? ARR_DIMS(a2)[0] : 0;
	ArrayType  *a1;
	float8	   *s1 = state_for_update(fcinfo, n, &a1);
	float8	   *s2 = sums_of(a2, n);
	int			i;

	for (i = 0; i < n; i++)
		add_to_sum(&s1[i], s2[i]);
	PG_RETURN_ARRAYTYPE_P(a1);
}
