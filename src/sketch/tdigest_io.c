/*
 * tdigest_io.c - the qoe.tdigest SQL type: text and binary I/O, accessors
 *
 * Text form (a JSON object, so it can also be read with ::jsonb):
 *
 *   {"version":1,"compression":100,"count":3,"min":1,"max":3,"sum":6,
 *    "centroids":[[1,1],[2,1],[3,1]]}
 *
 * Numbers are written in the shortest form that reads back to the same
 * double, so text output -> input round-trips exactly.  Input accepts the
 * keys in any order (each exactly once, "flags" optional) and is checked
 * with td_validate like every other way a digest enters the server.
 */
#include "postgres.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "sketch/tdigest.h"

PG_FUNCTION_INFO_V1(qoe_tdigest_in);
PG_FUNCTION_INFO_V1(qoe_tdigest_out);
PG_FUNCTION_INFO_V1(qoe_tdigest_recv);
PG_FUNCTION_INFO_V1(qoe_tdigest_send);
PG_FUNCTION_INFO_V1(qoe_tdigest_percentile);
PG_FUNCTION_INFO_V1(qoe_tdigest_percentiles);
PG_FUNCTION_INFO_V1(qoe_tdigest_rank);
PG_FUNCTION_INFO_V1(qoe_tdigest_count);
PG_FUNCTION_INFO_V1(qoe_tdigest_min);
PG_FUNCTION_INFO_V1(qoe_tdigest_max);
PG_FUNCTION_INFO_V1(qoe_tdigest_mean);
PG_FUNCTION_INFO_V1(qoe_tdigest_sum);
PG_FUNCTION_INFO_V1(qoe_tdigest_compression);
PG_FUNCTION_INFO_V1(qoe_tdigest_centroid_count);

/* a stored digest, decoded and checked, in the current memory context */
static void
td_from_arg(FunctionCallInfo fcinfo, int argno, TDigest *td)
{
	struct varlena *packed = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(argno));

	td_unpack(td, CurrentMemoryContext, packed, ERRCODE_DATA_CORRUPTED);
}

/* ---------------------------------------------------------------------
 * Text input
 * ---------------------------------------------------------------------
 */

typedef struct TDParser
{
	const char *input;
	const char *p;
} TDParser;

static void tdp_error(TDParser *ps, const char *expected) pg_attribute_noreturn();

static void
tdp_error(TDParser *ps, const char *expected)
{
	int			offset = (int) (ps->p - ps->input);

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type tdigest"),
			 errdetail("Expected %s at character %d, found \"%.20s\".",
					   expected, offset + 1, *ps->p ? ps->p : "end of input"),
			 errhint("The text form is the JSON object printed by tdigest output, for example {\"version\":1,\"compression\":100,\"count\":1,\"min\":5,\"max\":5,\"sum\":5,\"centroids\":[[5,1]]}.")));
}

static void
tdp_ws(TDParser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static void
tdp_expect(TDParser *ps, char c)
{
	char		what[4] = {'"', c, '"', 0};

	tdp_ws(ps);
	if (*ps->p != c)
		tdp_error(ps, what);
	ps->p++;
}

static bool
tdp_accept(TDParser *ps, char c)
{
	tdp_ws(ps);
	if (*ps->p != c)
		return false;
	ps->p++;
	return true;
}

/* a JSON number as a double; finite values only */
static double
tdp_double(TDParser *ps)
{
	char	   *end;
	double		v;

	tdp_ws(ps);
	if (!(*ps->p == '-' || isdigit((unsigned char) *ps->p)))
		tdp_error(ps, "a number");
	errno = 0;
	v = strtod(ps->p, &end);
	if (end == ps->p || (errno == ERANGE && fabs(v) > 1.0) || !isfinite(v))
		tdp_error(ps, "a finite number");
	ps->p = end;
	return v;
}

/* a non-negative JSON integer */
static int64
tdp_int(TDParser *ps, int64 maxval)
{
	const char *start;
	int64		v = 0;

	tdp_ws(ps);
	start = ps->p;
	while (isdigit((unsigned char) *ps->p))
	{
		int			d = *ps->p - '0';

		if (v > (maxval - d) / 10)
		{
			ps->p = start;
			tdp_error(ps, psprintf("an integer up to " INT64_FORMAT, maxval));
		}
		v = v * 10 + d;
		ps->p++;
	}
	if (ps->p == start)
		tdp_error(ps, "a non-negative integer");
	return v;
}

/* a JSON string key, returned as a palloc'd C string (no escapes needed) */
static char *
tdp_key(TDParser *ps)
{
	const char *start;

	tdp_expect(ps, '"');
	start = ps->p;
	while (*ps->p && *ps->p != '"')
		ps->p++;
	if (*ps->p != '"')
		tdp_error(ps, "a closing quote");
	ps->p++;
	return pnstrdup(start, ps->p - 1 - start);
}

Datum
qoe_tdigest_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	TDParser	ps;
	TDigest		td;
	int			version = -1,
				flags = 0;
	bool		seen[8] = {false};
	static const char *const keys[8] =
	{"version", "flags", "compression", "count", "min", "max", "sum", "centroids"};

	ps.input = ps.p = str;
	memset(&td, 0, sizeof(td));
	td.mcxt = CurrentMemoryContext;

	tdp_expect(&ps, '{');
	do
	{
		const char *keystart;
		char	   *key;
		int			k;

		tdp_ws(&ps);
		keystart = ps.p;
		key = tdp_key(&ps);
		for (k = 0; k < 8; k++)
			if (strcmp(key, keys[k]) == 0)
				break;
		if (k == 8 || seen[k])
		{
			ps.p = keystart;
			tdp_error(&ps, k == 8 ? "one of the keys version, flags, compression, count, min, max, sum, centroids"
					  : "a key not given before");
		}
		seen[k] = true;
		tdp_expect(&ps, ':');
		switch (k)
		{
			case 0:
				version = (int) tdp_int(&ps, 255);
				break;
			case 1:
				flags = (int) tdp_int(&ps, 255);
				break;
			case 2:
				td.compression = (int) tdp_int(&ps, PG_INT32_MAX);
				break;
			case 3:
				td.count = tdp_int(&ps, PG_INT64_MAX);
				break;
			case 4:
				td.min = tdp_double(&ps);
				break;
			case 5:
				td.max = tdp_double(&ps);
				break;
			case 6:
				td.sum = tdp_double(&ps);
				break;
			case 7:
				tdp_expect(&ps, '[');
				if (tdp_accept(&ps, ']'))
					break;
				td.maxcentroids = 16;
				td.centroids = palloc(sizeof(TDCentroid) * td.maxcentroids);
				do
				{
					CHECK_FOR_INTERRUPTS();
					if (td.ncentroids >= td.maxcentroids)
					{
						if (td.maxcentroids >= (int) (MaxAllocSize / sizeof(TDCentroid) / 2))
							tdp_error(&ps, "fewer centroids");
						td.maxcentroids *= 2;
						td.centroids = repalloc(td.centroids, sizeof(TDCentroid) * td.maxcentroids);
					}
					tdp_expect(&ps, '[');
					td.centroids[td.ncentroids].mean = tdp_double(&ps);
					tdp_expect(&ps, ',');
					td.centroids[td.ncentroids].weight = tdp_int(&ps, PG_INT64_MAX);
					tdp_expect(&ps, ']');
					td.ncentroids++;
				} while (tdp_accept(&ps, ','));
				tdp_expect(&ps, ']');
				break;
		}
	} while (tdp_accept(&ps, ','));
	tdp_expect(&ps, '}');
	tdp_ws(&ps);
	if (*ps.p != '\0')
		tdp_error(&ps, "end of input");
	for (int k = 0; k < 8; k++)
	{
		if (!seen[k] && k != 1)
		{
			ps.p = ps.input + strlen(ps.input);
			tdp_error(&ps, psprintf("the key \"%s\"", keys[k]));
		}
	}
	if (version != TD_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("unsupported tdigest format version %d", version),
				 errdetail("This version of qoe_ext reads format version %d.", TD_FORMAT_VERSION),
				 errhint("Update the qoe_ext extension to read digests written by a newer version.")));
	if ((flags & ~TD_KNOWN_FLAGS) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid tdigest value"),
				 errdetail("Unknown flags %d in format version %d.", flags, version),
				 errhint("Omit \"flags\"; format version 1 defines none.")));
	td_validate(&td, ERRCODE_INVALID_TEXT_REPRESENTATION);
	PG_RETURN_POINTER(td_pack(&td));
}

static void
append_double(StringInfo buf, double v)
{
	char		tmp[DOUBLE_SHORTEST_DECIMAL_LEN];

	double_to_shortest_decimal_buf(v, tmp);
	appendStringInfoString(buf, tmp);
}

Datum
qoe_tdigest_out(PG_FUNCTION_ARGS)
{
	TDigest		td;
	StringInfoData buf;
	int			i;

	td_from_arg(fcinfo, 0, &td);
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"version\":%d,\"compression\":%d,\"count\":" INT64_FORMAT ",\"min\":",
					 TD_FORMAT_VERSION, td.compression, td.count);
	append_double(&buf, td.min);
	appendStringInfoString(&buf, ",\"max\":");
	append_double(&buf, td.max);
	appendStringInfoString(&buf, ",\"sum\":");
	append_double(&buf, td_total_sum(&td));
	appendStringInfoString(&buf, ",\"centroids\":[");
	for (i = 0; i < td.ncentroids; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		appendStringInfoChar(&buf, '[');
		append_double(&buf, td.centroids[i].mean);
		appendStringInfo(&buf, "," INT64_FORMAT "]", td.centroids[i].weight);
	}
	appendStringInfoString(&buf, "]}");
	PG_RETURN_CSTRING(buf.data);
}

/* ---------------------------------------------------------------------
 * Binary I/O: version, flags, compression, count, min, max, sum, n, then
 * n (mean float8, weight int64) pairs, all in network byte order.
 * ---------------------------------------------------------------------
 */

Datum
qoe_tdigest_recv(PG_FUNCTION_ARGS)
{
	StringInfo	msg = (StringInfo) PG_GETARG_POINTER(0);
	TDigest		td;
	int			version,
				flags,
				n,
				i;

	memset(&td, 0, sizeof(td));
	td.mcxt = CurrentMemoryContext;
	version = pq_getmsgbyte(msg);
	flags = pq_getmsgbyte(msg);
	if (version != TD_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported tdigest format version %d", version),
				 errdetail("This version of qoe_ext reads format version %d.", TD_FORMAT_VERSION),
				 errhint("Update the qoe_ext extension to read digests written by a newer version.")));
	if ((flags & ~TD_KNOWN_FLAGS) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid tdigest value"),
				 errdetail("Unknown flags 0x%02x in format version %d.", flags, version),
				 errhint("Send flags 0; format version 1 defines none.")));
	td.compression = (uint16) pq_getmsgint(msg, 2);
	td.count = pq_getmsgint64(msg);
	td.min = pq_getmsgfloat8(msg);
	td.max = pq_getmsgfloat8(msg);
	td.sum = pq_getmsgfloat8(msg);
	n = (int) pq_getmsgint(msg, 4);
	/* each centroid takes 16 bytes: refuse counts the message cannot hold */
	if (n < 1 || n > (msg->len - msg->cursor) / 16)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid tdigest value"),
				 errdetail("The value claims %d centroids but %d bytes remain.",
						   n, msg->len - msg->cursor),
				 errhint("Send at least one centroid of 16 bytes each.")));
	td.ncentroids = td.maxcentroids = n;
	td.centroids = palloc(sizeof(TDCentroid) * n);
	for (i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		td.centroids[i].mean = pq_getmsgfloat8(msg);
		td.centroids[i].weight = pq_getmsgint64(msg);
	}
	td_validate(&td, ERRCODE_INVALID_BINARY_REPRESENTATION);
	PG_RETURN_POINTER(td_pack(&td));
}

Datum
qoe_tdigest_send(PG_FUNCTION_ARGS)
{
	TDigest		td;
	StringInfoData buf;
	int			i;

	td_from_arg(fcinfo, 0, &td);
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, TD_FORMAT_VERSION);
	pq_sendbyte(&buf, 0);
	pq_sendint16(&buf, (uint16) td.compression);
	pq_sendint64(&buf, td.count);
	pq_sendfloat8(&buf, td.min);
	pq_sendfloat8(&buf, td.max);
	pq_sendfloat8(&buf, td_total_sum(&td));
	pq_sendint32(&buf, td.ncentroids);
	for (i = 0; i < td.ncentroids; i++)
	{
		CHECK_FOR_INTERRUPTS();
		pq_sendfloat8(&buf, td.centroids[i].mean);
		pq_sendint64(&buf, td.centroids[i].weight);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------------------------------------------------------------------
 * Accessors
 * ---------------------------------------------------------------------
 */

Datum
qoe_tdigest_percentile(PG_FUNCTION_ARGS)
{
	TDigest		td;
	double		q = PG_GETARG_FLOAT8(1);

	td_check_q(q);
	td_from_arg(fcinfo, 0, &td);
	PG_RETURN_FLOAT8(td_quantile(&td, q));
}

/*
 * Estimate every q of a float8 array against the digest; NULL elements give
 * NULL.  Shared with percentile_approx(value, qs[]).
 */
ArrayType *
td_quantile_array(const TDigest *td, ArrayType *qarr)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;
	double	   *qs;
	double	   *out;
	ArrayType  *result;

	deconstruct_array(qarr, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	qs = palloc(sizeof(double) * Max(n, 1));
	out = palloc(sizeof(double) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (nulls[i])
			continue;
		qs[i] = DatumGetFloat8(elems[i]);
		td_check_q(qs[i]);
	}
	td_quantiles(td, qs, nulls, n, out);
	for (i = 0; i < n; i++)
		elems[i] = Float8GetDatum(out[i]);
	if (ARR_NDIM(qarr) == 0)
		return construct_empty_array(FLOAT8OID);
	result = construct_md_array(elems, nulls, ARR_NDIM(qarr), ARR_DIMS(qarr), ARR_LBOUND(qarr),
								FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	return result;
}

Datum
qoe_tdigest_percentiles(PG_FUNCTION_ARGS)
{
	TDigest		td;
	ArrayType  *qarr = PG_GETARG_ARRAYTYPE_P(1);

	td_from_arg(fcinfo, 0, &td);
	PG_RETURN_ARRAYTYPE_P(td_quantile_array(&td, qarr));
}

Datum
qoe_tdigest_rank(PG_FUNCTION_ARGS)
{
	TDigest		td;
	double		x = PG_GETARG_FLOAT8(1);

	if (isnan(x))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("tdigest rank of NaN is undefined"),
				 errhint("Pass a number; -Infinity gives 0 and Infinity gives 1.")));
	td_from_arg(fcinfo, 0, &td);
	PG_RETURN_FLOAT8(td_rank(&td, x));
}

Datum
qoe_tdigest_count(PG_FUNCTION_ARGS)
{
	TDigest		td;

	td_from_arg(fcinfo, 0, &td);
	PG_RETURN_INT64(td.count);
}

Datum
qoe_tdigest_min(PG_FUNCTION_ARGS)
{
	TDigest		td;

	td_from_arg(fcinfo, 0, &td);
	PG_RETURN_FLOAT8(td.min);
}

Datum
qoe_tdigest_max(PG_FUNCTION_ARGS)
{
	TDigest		td;

	td_from_arg(fcinfo, 0, &td);
	PG_RETURN_FLOAT8(td.max);
}

Datum
qoe_tdigest_mean(PG_FUNCTION_ARGS)
{
	TDigest		td;
	double		mean;

	td_from_arg(fcinfo, 0, &td);
	mean = td_total_sum(&td) / (double) td.count;
	/* rounding must not push the mean of a constant series off the value */
	if (mean < td.min)
		mean = td.min;
	if (mean > td.max)
		mean = td.max;
	PG_RETURN_FLOAT8(mean);
}

Datum
qoe_tdigest_sum(PG_FUNCTION_ARGS)
{
	TDigest		td;

	td_from_arg(fcinfo, 0, &td);
	PG_RETURN_FLOAT8(td_total_sum(&td));
}

Datum
qoe_tdigest_compression(PG_FUNCTION_ARGS)
{
	TDigest		td;

	td_from_arg(fcinfo, 0, &td);
	PG_RETURN_INT32(td.compression);
}

Datum
qoe_tdigest_centroid_count(PG_FUNCTION_ARGS)
{
	TDigest		td;

	td_from_arg(fcinfo, 0, &td);
	PG_RETURN_INT32(td.ncentroids);
}
