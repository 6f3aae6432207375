-- QoE score (SPEC section 4) and the ratio-of-sums aggregates.
SET extra_float_digits = 0;

-- Defaults: each component linear between its good and bad threshold.
SELECT * FROM qoe.qoe_score_config;
SELECT qoe.qoe_score(1000, 0, 8000, 0) AS perfect,
       qoe.qoe_score(8000, 0.05, 500, 0.02) AS worst,
       qoe.qoe_score(4500, 0.025, 4250, 0.01) AS halfway,
       qoe.qoe_score(500, 0, 20000, 0) AS better_than_good_is_capped,
       qoe.qoe_score(60000, 1, 0, 1) AS worse_than_bad_is_zero,
       qoe.qoe_score(2000, 0.01, 3000, 0.001) AS typical;
-- each weight alone: 30 / 40 / 20 / 10 points
SELECT qoe.qoe_score(1000, 0.05, 500, 0.02) AS vst_only, qoe.qoe_score(8000, 0, 500, 0.02) AS rebuffer_only,
       qoe.qoe_score(8000, 0.05, 8000, 0.02) AS bitrate_only, qoe.qoe_score(8000, 0.05, 500, 0) AS dropped_only;

-- NULL rules: no start (NULL vst) scores 0; another unknown component is
-- left out and the remaining weights rescaled.
SELECT qoe.qoe_score(NULL, 0, 8000, 0) AS never_started,
       qoe.qoe_score(1000, NULL, NULL, NULL) AS only_vst_known,
       qoe.qoe_score(8000, 0, NULL, NULL) AS vst_bad_rebuffer_good,
       qoe.qoe_score(1000, 0, 8000, NULL) AS no_dropped_frames_info;

-- Invalid inputs are errors.
SELECT qoe.qoe_score(-1, 0, 8000, 0);
SELECT qoe.qoe_score(1000, 'NaN', 8000, 0);
SELECT qoe.qoe_score(1000, 0, -5, 0);

-- The configuration table is read, and changes apply at once.
BEGIN;
UPDATE qoe.qoe_score_config SET weight_vst = 1, weight_rebuffer = 0, weight_bitrate = 0, weight_dropped = 0,
    vst_good_ms = 2000, vst_bad_ms = 4000;
SELECT qoe.qoe_score(3000, 0.05, 500, 0.02) AS vst_only_config;
ROLLBACK;
SELECT qoe.qoe_score(3000, 0.05, 500, 0.02) AS defaults_again;
BEGIN;
DELETE FROM qoe.qoe_score_config;
SELECT qoe.qoe_score(4500, 0.025, 4250, 0.01) AS spec_defaults_without_row;
-- a good start and a bad rebuffering: 30, not 40 (the weights are not symmetric)
SELECT qoe.qoe_score(1000, 0.05, 500, 0.02) AS vst_only_without_row,
       qoe.qoe_score(8000, 0, 500, 0.02) AS rebuffer_only_without_row;
ROLLBACK;
UPDATE qoe.qoe_score_config SET weight_vst = -1;
UPDATE qoe.qoe_score_config SET vst_bad_ms = vst_good_ms;
INSERT INTO qoe.qoe_score_config (id) VALUES (false);

-- rebuffer_ratio is a ratio of sums, not a mean of ratios.
SELECT qoe.rebuffer_ratio(stall, watch) AS ratio_of_sums, avg(stall / watch) AS mean_of_ratios
FROM (VALUES (1000::float8, 10000::float8), (0, 90000), (NULL, 5000), (500, NULL)) t(stall, watch);
SELECT qoe.rebuffer_ratio(stall, watch) IS NULL AS no_rows FROM (SELECT 1::float8, 1::float8 WHERE false) t(stall, watch);
SELECT qoe.rebuffer_ratio(10, 0) IS NULL AS no_watch_time;
SELECT qoe.rebuffer_ratio(-1, 100);
SELECT qoe.rebuffer_ratio(1, 'Infinity');

-- qoe_score_agg: watch-time-weighted mean; qoe_good_share: share >= 70.
SELECT qoe.qoe_score_agg(score, watch) AS weighted, avg(score) AS unweighted,
       qoe.qoe_good_share(score) AS good_share, qoe.qoe_good_share(score, 50) AS share_50
FROM (VALUES (90::float8, 60000::float8), (40, 20000), (0, 0), (70, 20000)) t(score, watch);
SELECT qoe.qoe_score_agg(score, watch) IS NULL AS only_failed
FROM (VALUES (0::float8, 0::float8)) t(score, watch);
SELECT qoe.qoe_score_agg(120, 1000);
SELECT qoe.qoe_good_share('NaN');

-- Mergeable: a day from per-hour sums equals the aggregate over all rows.
SELECT setseed(0.1);
CREATE TEMP TABLE sess AS
SELECT i % 24 AS hour, qoe.qoe_score(500 + random() * 6000, random() * 0.03, 500 + random() * 7000,
                                     random() * 0.01) AS score,
       random() * 3600000 AS watch
FROM generate_series(1, 5000) i;
SELECT abs(sum(sw) / sum(w) - (SELECT qoe.qoe_score_agg(score, watch) FROM sess)) < 1e-9 AS merge_equals
FROM (SELECT sum(score * watch) AS sw, sum(watch) AS w FROM sess GROUP BY hour) h;
SELECT bool_and(score BETWEEN 0 AND 100) AS scores_in_range FROM sess;

-- Sums that overflow are an error (as for sum(float8)), never Infinity or NaN.
SELECT qoe.rebuffer_ratio(v, v) FROM (VALUES (1e308::float8), (1e308)) t(v);
SELECT qoe.qoe_score_agg(score, watch)
FROM (VALUES (100::float8, 1e307::float8), (0, 1e308)) t(score, watch);

-- The support functions check any state passed to them directly.
SELECT qoe.rebuffer_ratio_final('{1,NaN,1}');
SELECT qoe.qoe_score_agg_final('{1,-5,1}');
SELECT qoe.qoe_good_share_final('{1,2,3}');
SELECT qoe.float8_sums_combine('{1,1e308}', '{1,1e308}');
SELECT qoe.rebuffer_ratio_trans('{0,Infinity,0}', 1, 1);

-- The configuration is checked in C as well: its CHECK constraints can be
-- dropped by the table's owner.
BEGIN;
ALTER TABLE qoe.qoe_score_config DROP CONSTRAINT qoe_score_config_weights,
    DROP CONSTRAINT qoe_score_config_thresholds, DROP CONSTRAINT qoe_score_config_good_score;
UPDATE qoe.qoe_score_config SET weight_vst = 1e308, weight_rebuffer = 1e308;
SELECT qoe.qoe_score(1000, 0, 8000, 0);
ROLLBACK;
BEGIN;
ALTER TABLE qoe.qoe_score_config DROP CONSTRAINT qoe_score_config_thresholds;
UPDATE qoe.qoe_score_config SET vst_good_ms = -1e308, vst_bad_ms = 1e308;
SELECT qoe.qoe_score(1000, 0, 8000, 0);
ROLLBACK;
BEGIN;
ALTER TABLE qoe.qoe_score_config DROP CONSTRAINT qoe_score_config_good_score;
UPDATE qoe.qoe_score_config SET good_score = 150;
SELECT qoe.qoe_good_share(50);
ROLLBACK;
SELECT qoe.qoe_score(1000, 0, 8000, 0) AS config_intact;
