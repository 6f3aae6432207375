-- qoe.tdigest: a mergeable t-digest sketch for percentiles (doc/aggregates.md).

CREATE TYPE qoe.tdigest;

CREATE FUNCTION qoe.tdigest_in(cstring) RETURNS qoe.tdigest
    AS 'MODULE_PATHNAME', 'qoe_tdigest_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION qoe.tdigest_out(qoe.tdigest) RETURNS cstring
    AS 'MODULE_PATHNAME', 'qoe_tdigest_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION qoe.tdigest_recv(internal) RETURNS qoe.tdigest
    AS 'MODULE_PATHNAME', 'qoe_tdigest_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION qoe.tdigest_send(qoe.tdigest) RETURNS bytea
    AS 'MODULE_PATHNAME', 'qoe_tdigest_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE qoe.tdigest (
    INPUT = qoe.tdigest_in,
    OUTPUT = qoe.tdigest_out,
    RECEIVE = qoe.tdigest_recv,
    SEND = qoe.tdigest_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended
);

COMMENT ON TYPE qoe.tdigest IS
    'Merging t-digest: approximate percentiles with exact count, min, max, sum and mean; mergeable across time windows and groups';
COMMENT ON FUNCTION qoe.tdigest_in(cstring) IS 'Text input of qoe.tdigest (the JSON object written by tdigest_out)';
COMMENT ON FUNCTION qoe.tdigest_out(qoe.tdigest) IS 'Text output of qoe.tdigest as a JSON object; reads back exactly';
COMMENT ON FUNCTION qoe.tdigest_recv(internal) IS 'Binary input of qoe.tdigest, fully validated';
COMMENT ON FUNCTION qoe.tdigest_send(qoe.tdigest) IS 'Binary output of qoe.tdigest';

-- Accessors

CREATE FUNCTION qoe.tdigest_percentile(qoe.tdigest, float8) RETURNS float8
    AS 'MODULE_PATHNAME', 'qoe_tdigest_percentile' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION qoe.tdigest_percentile(qoe.tdigest, float8) IS
    'Estimated value at fraction q (0..1) of a digest, interpolated like percentile_cont';

CREATE FUNCTION qoe.tdigest_percentiles(qoe.tdigest, float8[]) RETURNS float8[]
    AS 'MODULE_PATHNAME', 'qoe_tdigest_percentiles' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION qoe.tdigest_percentiles(qoe.tdigest, float8[]) IS
    'Estimated values at each fraction of an array (NULL elements give NULL)';

CREATE FUNCTION qoe.tdigest_rank(qoe.tdigest, float8) RETURNS float8
    AS 'MODULE_PATHNAME', 'qoe_tdigest_rank' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION qoe.tdigest_rank(qoe.tdigest, float8) IS
    'Estimated fraction of the values that are <= x (0 below the minimum, 1 from the maximum on)';

CREATE FUNCTION qoe.tdigest_count(qoe.tdigest) RETURNS bigint
    AS 'MODULE_PATHNAME', 'qoe_tdigest_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION qoe.tdigest_count(qoe.tdigest) IS 'Exact number of values in a digest';

CREATE FUNCTION qoe.tdigest_min(qoe.tdigest) RETURNS float8
    AS 'MODULE_PATHNAME', 'qoe_tdigest_min' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION qoe.tdigest_min(qoe.tdigest) IS 'Exact smallest value in a digest';

CREATE FUNCTION qoe.tdigest_max(qoe.tdigest) RETURNS float8
    AS 'MODULE_PATHNAME', 'qoe_tdigest_max' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION qoe.tdigest_max(qoe.tdigest) IS 'Exact largest value in a digest';

CREATE FUNCTION qoe.tdigest_mean(qoe.tdigest) RETURNS float8
    AS 'MODULE_PATHNAME', 'qoe_tdigest_mean' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION qoe.tdigest_mean(qoe.tdigest) IS 'Mean of the values in a digest (sum / count)';

CREATE FUNCTION qoe.tdigest_sum(qoe.tdigest) RETURNS float8
    AS 'MODULE_PATHNAME', 'qoe_tdigest_sum' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION qoe.tdigest_sum(qoe.tdigest) IS 'Sum of the values in a digest (compensated summation)';

CREATE FUNCTION qoe.tdigest_compression(qoe.tdigest) RETURNS integer
    AS 'MODULE_PATHNAME', 'qoe_tdigest_compression' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION qoe.tdigest_compression(qoe.tdigest) IS 'Compression parameter a digest was built with';

CREATE FUNCTION qoe.tdigest_centroid_count(qoe.tdigest) RETURNS integer
    AS 'MODULE_PATHNAME', 'qoe_tdigest_centroid_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION qoe.tdigest_centroid_count(qoe.tdigest) IS 'Number of centroids stored in a digest (its size)';

-- Aggregate support: one state for all t-digest aggregates

CREATE FUNCTION qoe.tdigest_agg_trans(internal, float8) RETURNS internal
    AS 'MODULE_PATHNAME', 'qoe_tdigest_agg_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION qoe.tdigest_agg_trans(internal, float8, integer) RETURNS internal
    AS 'MODULE_PATHNAME', 'qoe_tdigest_agg_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION qoe.tdigest_merge_trans(internal, qoe.tdigest) RETURNS internal
    AS 'MODULE_PATHNAME', 'qoe_tdigest_merge_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION qoe.percentile_approx_trans(internal, float8, float8) RETURNS internal
    AS 'MODULE_PATHNAME', 'qoe_percentile_approx_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION qoe.percentile_approx_trans(internal, float8, float8[]) RETURNS internal
    AS 'MODULE_PATHNAME', 'qoe_percentile_approx_array_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION qoe.percentile_approx_trans(internal, qoe.tdigest, float8) RETURNS internal
    AS 'MODULE_PATHNAME', 'qoe_percentile_approx_digest_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION qoe.percentile_approx_trans(internal, qoe.tdigest, float8[]) RETURNS internal
    AS 'MODULE_PATHNAME', 'qoe_percentile_approx_digest_array_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION qoe.tdigest_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'qoe_tdigest_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION qoe.tdigest_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'qoe_tdigest_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION qoe.tdigest_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'qoe_tdigest_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION qoe.tdigest_agg_final(internal) RETURNS qoe.tdigest
    AS 'MODULE_PATHNAME', 'qoe_tdigest_agg_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION qoe.percentile_approx_final(internal) RETURNS float8
    AS 'MODULE_PATHNAME', 'qoe_percentile_approx_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION qoe.percentile_approx_array_final(internal) RETURNS float8[]
    AS 'MODULE_PATHNAME', 'qoe_percentile_approx_array_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION qoe.tdigest_agg_trans(internal, float8) IS 'Transition function of qoe.tdigest_agg(float8)';
COMMENT ON FUNCTION qoe.tdigest_agg_trans(internal, float8, integer) IS 'Transition function of qoe.tdigest_agg(float8, integer)';
COMMENT ON FUNCTION qoe.tdigest_merge_trans(internal, qoe.tdigest) IS 'Transition function of qoe.tdigest_merge';
COMMENT ON FUNCTION qoe.percentile_approx_trans(internal, float8, float8) IS 'Transition function of qoe.percentile_approx(float8, float8)';
COMMENT ON FUNCTION qoe.percentile_approx_trans(internal, float8, float8[]) IS 'Transition function of qoe.percentile_approx(float8, float8[])';
COMMENT ON FUNCTION qoe.percentile_approx_trans(internal, qoe.tdigest, float8) IS 'Transition function of qoe.percentile_approx(qoe.tdigest, float8)';
COMMENT ON FUNCTION qoe.percentile_approx_trans(internal, qoe.tdigest, float8[]) IS 'Transition function of qoe.percentile_approx(qoe.tdigest, float8[])';
COMMENT ON FUNCTION qoe.tdigest_combine(internal, internal) IS 'Combine function of the t-digest aggregates (parallel plans)';
COMMENT ON FUNCTION qoe.tdigest_serialize(internal) IS 'Serialize function of the t-digest aggregates (parallel plans)';
COMMENT ON FUNCTION qoe.tdigest_deserialize(bytea, internal) IS 'Deserialize function of the t-digest aggregates (parallel plans)';
COMMENT ON FUNCTION qoe.tdigest_agg_final(internal) IS 'Final function of qoe.tdigest_agg and qoe.tdigest_merge';
COMMENT ON FUNCTION qoe.percentile_approx_final(internal) IS 'Final function of qoe.percentile_approx(float8, float8)';
COMMENT ON FUNCTION qoe.percentile_approx_array_final(internal) IS 'Final function of qoe.percentile_approx(float8, float8[])';

-- Aggregates

-- SSPACE: the state of a group of a few values, as the refresh of the rollups
-- builds per 5-minute group (a larger group grows towards the compression's
-- bound); the planner's default for an internal state, 8 kB, made the
-- refresh's hash aggregates spill to disk (qoe.bigint_sums)
CREATE AGGREGATE qoe.tdigest_agg(float8) (
    SFUNC = qoe.tdigest_agg_trans,
    STYPE = internal,
    SSPACE = 1024,
    FINALFUNC = qoe.tdigest_agg_final,
    COMBINEFUNC = qoe.tdigest_combine,
    SERIALFUNC = qoe.tdigest_serialize,
    DESERIALFUNC = qoe.tdigest_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE qoe.tdigest_agg(float8) IS
    'Builds a qoe.tdigest (compression 100) from values; NULLs are skipped, NaN and infinities rejected';

CREATE AGGREGATE qoe.tdigest_agg(float8, integer) (
    SFUNC = qoe.tdigest_agg_trans,
    STYPE = internal,
    FINALFUNC = qoe.tdigest_agg_final,
    COMBINEFUNC = qoe.tdigest_combine,
    SERIALFUNC = qoe.tdigest_serialize,
    DESERIALFUNC = qoe.tdigest_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE qoe.tdigest_agg(float8, integer) IS
    'Builds a qoe.tdigest with the given compression (10..10000; larger is more accurate and bigger)';

CREATE AGGREGATE qoe.tdigest_merge(qoe.tdigest) (
    SFUNC = qoe.tdigest_merge_trans,
    STYPE = internal,
    FINALFUNC = qoe.tdigest_agg_final,
    COMBINEFUNC = qoe.tdigest_combine,
    SERIALFUNC = qoe.tdigest_serialize,
    DESERIALFUNC = qoe.tdigest_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE qoe.tdigest_merge(qoe.tdigest) IS
    'Merges digests (for example 5-minute rollups into a day) into one; keeps the smallest compression';

CREATE AGGREGATE qoe.percentile_approx(float8, float8) (
    SFUNC = qoe.percentile_approx_trans,
    STYPE = internal,
    FINALFUNC = qoe.percentile_approx_final,
    COMBINEFUNC = qoe.tdigest_combine,
    SERIALFUNC = qoe.tdigest_serialize,
    DESERIALFUNC = qoe.tdigest_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE qoe.percentile_approx(float8, float8) IS
    'Approximate percentile_cont(q) of the values through a t-digest of compression 100; q must be constant';

CREATE AGGREGATE qoe.percentile_approx(float8, float8[]) (
    SFUNC = qoe.percentile_approx_trans,
    STYPE = internal,
    FINALFUNC = qoe.percentile_approx_array_final,
    COMBINEFUNC = qoe.tdigest_combine,
    SERIALFUNC = qoe.tdigest_serialize,
    DESERIALFUNC = qoe.tdigest_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE qoe.percentile_approx(float8, float8[]) IS
    'Approximate percentile_cont of the values at each fraction of a constant array, through one t-digest';

-- Percentiles of digests merged just for them: their centroids are collected
-- and read without the recompression tdigest_merge does (doc/aggregates.md)
CREATE AGGREGATE qoe.percentile_approx(qoe.tdigest, float8) (
    SFUNC = qoe.percentile_approx_trans,
    STYPE = internal,
    FINALFUNC = qoe.percentile_approx_final,
    COMBINEFUNC = qoe.tdigest_combine,
    SERIALFUNC = qoe.tdigest_serialize,
    DESERIALFUNC = qoe.tdigest_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE qoe.percentile_approx(qoe.tdigest, float8) IS
    'Approximate percentile q of the values of merged digests, as tdigest_percentile(tdigest_merge(d), q) without recompressing the union; q must be constant';

CREATE AGGREGATE qoe.percentile_approx(qoe.tdigest, float8[]) (
    SFUNC = qoe.percentile_approx_trans,
    STYPE = internal,
    FINALFUNC = qoe.percentile_approx_array_final,
    COMBINEFUNC = qoe.tdigest_combine,
    SERIALFUNC = qoe.tdigest_serialize,
    DESERIALFUNC = qoe.tdigest_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE qoe.percentile_approx(qoe.tdigest, float8[]) IS
    'Approximate percentiles of the values of merged digests at each fraction of a constant array, as tdigest_percentiles(tdigest_merge(d), qs) without recompressing the union';
