-- QoE score (SPEC section 4) and the ratio-of-sums QoE aggregates (doc/aggregates.md).

CREATE TABLE qoe.qoe_score_config (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    weight_vst float8 NOT NULL DEFAULT 0.30,
    weight_rebuffer float8 NOT NULL DEFAULT 0.40,
    weight_bitrate float8 NOT NULL DEFAULT 0.20,
    weight_dropped float8 NOT NULL DEFAULT 0.10,
    vst_good_ms float8 NOT NULL DEFAULT 1000,
    vst_bad_ms float8 NOT NULL DEFAULT 8000,
    rebuffer_good float8 NOT NULL DEFAULT 0,
    rebuffer_bad float8 NOT NULL DEFAULT 0.05,
    bitrate_good_kbps float8 NOT NULL DEFAULT 8000,
    bitrate_bad_kbps float8 NOT NULL DEFAULT 500,
    dropped_good float8 NOT NULL DEFAULT 0,
    dropped_bad float8 NOT NULL DEFAULT 0.02,
    good_score float8 NOT NULL DEFAULT 70,
    CONSTRAINT qoe_score_config_weights CHECK (
        weight_vst >= 0 AND weight_rebuffer >= 0 AND weight_bitrate >= 0 AND weight_dropped >= 0
        AND weight_vst + weight_rebuffer + weight_bitrate + weight_dropped > 0
        AND weight_vst + weight_rebuffer + weight_bitrate + weight_dropped < 'Infinity'),
    CONSTRAINT qoe_score_config_thresholds CHECK (
        vst_good_ms <> vst_bad_ms AND rebuffer_good <> rebuffer_bad
        AND bitrate_good_kbps <> bitrate_bad_kbps AND dropped_good <> dropped_bad
        AND GREATEST(vst_good_ms, vst_bad_ms, rebuffer_good, rebuffer_bad, bitrate_good_kbps,
                     bitrate_bad_kbps, dropped_good, dropped_bad) < 'Infinity'
        AND LEAST(vst_good_ms, vst_bad_ms, rebuffer_good, rebuffer_bad, bitrate_good_kbps,
                  bitrate_bad_kbps, dropped_good, dropped_bad) >= 0),
    CONSTRAINT qoe_score_config_good_score CHECK (good_score BETWEEN 0 AND 100)
);
-- Settings tables whose defaults CREATE EXTENSION inserts (this one,
-- qoe.recommendation_settings, qoe.rollup_status, the default rules of
-- qoe.alert_rules) are dumped by pg_dump, whose restore inserts the saved
-- rows after the defaults: a row inserted with the key of a row there (the
-- trigger's argument names the key column) updates that row in place, so
-- what references it stays (doc/operations.md, "Backup and restore").
CREATE FUNCTION qoe.replace_row() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    cols text;
    updated bigint;
BEGIN
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
      FROM pg_attribute WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped;
    EXECUTE format('UPDATE %I.%I SET (%s) = ROW(($1).*) WHERE %I = ($1).%I',
                   TG_TABLE_SCHEMA, TG_TABLE_NAME, cols, TG_ARGV[0], TG_ARGV[0])
        USING NEW;
    GET DIAGNOSTICS updated = ROW_COUNT;
    RETURN CASE WHEN updated = 0 THEN NEW END;
END
$$;
REVOKE EXECUTE ON FUNCTION qoe.replace_row() FROM PUBLIC;
COMMENT ON FUNCTION qoe.replace_row() IS
    'Trigger of settings tables: a row inserted with the key of a row there (the argument names the key column) updates that row (pg_dump restores tuned settings over the defaults)';
CREATE TRIGGER replace_row BEFORE INSERT ON qoe.qoe_score_config
    FOR EACH ROW EXECUTE FUNCTION qoe.replace_row('id');
COMMENT ON TRIGGER replace_row ON qoe.qoe_score_config IS
    'An inserted row replaces the one there (DEFAULT VALUES resets the settings; restoring a dump keeps the tuned row)';
INSERT INTO qoe.qoe_score_config DEFAULT VALUES;
SELECT pg_catalog.pg_extension_config_dump('qoe.qoe_score_config', '');

COMMENT ON TABLE qoe.qoe_score_config IS
    'Weights and good/bad thresholds of qoe.qoe_score (one row; without it the SPEC defaults apply)';
COMMENT ON COLUMN qoe.qoe_score_config.id IS 'Always true: the table holds at most one row';
COMMENT ON COLUMN qoe.qoe_score_config.weight_vst IS 'Weight of the video start time component';
COMMENT ON COLUMN qoe.qoe_score_config.weight_rebuffer IS 'Weight of the rebuffering ratio component';
COMMENT ON COLUMN qoe.qoe_score_config.weight_bitrate IS 'Weight of the average bitrate component';
COMMENT ON COLUMN qoe.qoe_score_config.weight_dropped IS 'Weight of the dropped-frame ratio component';
COMMENT ON COLUMN qoe.qoe_score_config.vst_good_ms IS 'Video start time (ms) at or below which the component scores 1';
COMMENT ON COLUMN qoe.qoe_score_config.vst_bad_ms IS 'Video start time (ms) at or above which the component scores 0';
COMMENT ON COLUMN qoe.qoe_score_config.rebuffer_good IS 'Rebuffering ratio (stall / watch) that scores 1';
COMMENT ON COLUMN qoe.qoe_score_config.rebuffer_bad IS 'Rebuffering ratio that scores 0';
COMMENT ON COLUMN qoe.qoe_score_config.bitrate_good_kbps IS 'Average bitrate (kbps) at or above which the component scores 1';
COMMENT ON COLUMN qoe.qoe_score_config.bitrate_bad_kbps IS 'Average bitrate (kbps) at or below which the component scores 0';
COMMENT ON COLUMN qoe.qoe_score_config.dropped_good IS 'Dropped-frame ratio (dropped / (watch seconds x 30)) that scores 1';
COMMENT ON COLUMN qoe.qoe_score_config.dropped_bad IS 'Dropped-frame ratio that scores 0';
COMMENT ON COLUMN qoe.qoe_score_config.good_score IS 'Score from which a session counts as good (qoe.qoe_good_share)';
COMMENT ON CONSTRAINT qoe_score_config_pkey ON qoe.qoe_score_config IS 'Key of the single row';
COMMENT ON INDEX qoe.qoe_score_config_pkey IS 'Key of qoe.qoe_score_config';
COMMENT ON CONSTRAINT qoe_score_config_id_check ON qoe.qoe_score_config IS 'id is always true, so the table holds at most one row';
COMMENT ON CONSTRAINT qoe_score_config_weights ON qoe.qoe_score_config IS
    'Weights are non-negative with a positive, finite sum (qoe_score checks this again in C)';
COMMENT ON CONSTRAINT qoe_score_config_thresholds ON qoe.qoe_score_config IS
    'Each good threshold differs from its bad one; all thresholds finite and non-negative (checked again in C)';
COMMENT ON CONSTRAINT qoe_score_config_good_score ON qoe.qoe_score_config IS
    'good_score is a score between 0 and 100 (checked again in C)';

CREATE FUNCTION qoe.qoe_score_config_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'qoe_score_config_changed' LANGUAGE C;
COMMENT ON FUNCTION qoe.qoe_score_config_changed() IS
    'Trigger function: makes every backend reload qoe.qoe_score_config';
CREATE TRIGGER qoe_score_config_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON qoe.qoe_score_config
    FOR EACH STATEMENT EXECUTE FUNCTION qoe.qoe_score_config_changed();
COMMENT ON TRIGGER qoe_score_config_changed ON qoe.qoe_score_config IS
    'Invalidates the cached score configuration of every backend';

CREATE FUNCTION qoe.qoe_score(vst_ms float8, rebuffer_ratio float8, avg_bitrate_kbps float8,
                              dropped_ratio float8) RETURNS float8
    AS 'MODULE_PATHNAME', 'qoe_score_sql' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION qoe.qoe_score(float8, float8, float8, float8) IS
    'QoE score 0-100 of a session from qoe.qoe_score_config; NULL vst_ms (never started or failed) scores 0, other NULL components are left out';

-- Aggregates over float8[] states of sums: mergeable, parallel safe.

CREATE FUNCTION qoe.float8_sums_combine(float8[], float8[]) RETURNS float8[]
    AS 'MODULE_PATHNAME', 'qoe_float8_sums_combine' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION qoe.float8_sums_combine(float8[], float8[]) IS
    'Combine function of the QoE ratio aggregates: element-wise sum';

CREATE FUNCTION qoe.rebuffer_ratio_trans(float8[], float8, float8) RETURNS float8[]
    AS 'MODULE_PATHNAME', 'qoe_rebuffer_ratio_trans' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION qoe.rebuffer_ratio_final(float8[]) RETURNS float8
    AS 'MODULE_PATHNAME', 'qoe_rebuffer_ratio_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION qoe.rebuffer_ratio_trans(float8[], float8, float8) IS 'Transition function of qoe.rebuffer_ratio';
COMMENT ON FUNCTION qoe.rebuffer_ratio_final(float8[]) IS 'Final function of qoe.rebuffer_ratio';

CREATE AGGREGATE qoe.rebuffer_ratio(stall_ms float8, watch_ms float8) (
    SFUNC = qoe.rebuffer_ratio_trans,
    STYPE = float8[],
    INITCOND = '{0,0,0}',
    FINALFUNC = qoe.rebuffer_ratio_final,
    COMBINEFUNC = qoe.float8_sums_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE qoe.rebuffer_ratio(float8, float8) IS
    'Rebuffering ratio as a ratio of sums: sum(stall_ms) / sum(watch_ms); rows with a NULL are skipped';

CREATE FUNCTION qoe.qoe_score_agg_trans(float8[], float8, float8) RETURNS float8[]
    AS 'MODULE_PATHNAME', 'qoe_score_agg_trans' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION qoe.qoe_score_agg_final(float8[]) RETURNS float8
    AS 'MODULE_PATHNAME', 'qoe_score_agg_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION qoe.qoe_score_agg_trans(float8[], float8, float8) IS 'Transition function of qoe.qoe_score_agg';
COMMENT ON FUNCTION qoe.qoe_score_agg_final(float8[]) IS 'Final function of qoe.qoe_score_agg';

CREATE AGGREGATE qoe.qoe_score_agg(score float8, watch_ms float8) (
    SFUNC = qoe.qoe_score_agg_trans,
    STYPE = float8[],
    INITCOND = '{0,0,0}',
    FINALFUNC = qoe.qoe_score_agg_final,
    COMBINEFUNC = qoe.float8_sums_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE qoe.qoe_score_agg(float8, float8) IS
    'Watch-time-weighted mean of session scores: sum(score * watch_ms) / sum(watch_ms)';

CREATE FUNCTION qoe.qoe_good_share_trans(float8[], float8) RETURNS float8[]
    AS 'MODULE_PATHNAME', 'qoe_good_share_trans' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION qoe.qoe_good_share_trans(float8[], float8, float8) RETURNS float8[]
    AS 'MODULE_PATHNAME', 'qoe_good_share_trans' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION qoe.qoe_good_share_final(float8[]) RETURNS float8
    AS 'MODULE_PATHNAME', 'qoe_good_share_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION qoe.qoe_good_share_trans(float8[], float8) IS 'Transition function of qoe.qoe_good_share(float8)';
COMMENT ON FUNCTION qoe.qoe_good_share_trans(float8[], float8, float8) IS 'Transition function of qoe.qoe_good_share(float8, float8)';
COMMENT ON FUNCTION qoe.qoe_good_share_final(float8[]) IS 'Final function of qoe.qoe_good_share';

CREATE AGGREGATE qoe.qoe_good_share(score float8) (
    SFUNC = qoe.qoe_good_share_trans,
    STYPE = float8[],
    INITCOND = '{0,0}',
    FINALFUNC = qoe.qoe_good_share_final,
    COMBINEFUNC = qoe.float8_sums_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE qoe.qoe_good_share(float8) IS
    'Share of sessions whose score is at least good_score of qoe.qoe_score_config (70 by default)';

CREATE AGGREGATE qoe.qoe_good_share(score float8, threshold float8) (
    SFUNC = qoe.qoe_good_share_trans,
    STYPE = float8[],
    INITCOND = '{0,0}',
    FINALFUNC = qoe.qoe_good_share_final,
    COMBINEFUNC = qoe.float8_sums_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE qoe.qoe_good_share(float8, float8) IS
    'Share of sessions whose score is at least the given threshold';
