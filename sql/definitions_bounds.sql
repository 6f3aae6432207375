-- Every documented bound, threshold and weight (issue 10 item 6): a value
-- exactly at each bound is accepted and one past it rejected (decoder, see
-- doc/ingestion.md), each QoE score threshold and weight is told apart
-- (doc/aggregates.md), and the t-digest's extremes are exact knots.
SET extra_float_digits = 0;
CREATE FUNCTION bound_verdict(field text, value text) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(regexp_replace(d.reason, 'timestamp .* is outside the accepted window .*',
                                   'parsed, outside the window'), 'accepted')
      FROM qoe.decode_event(format('{"event_type":"heartbeat","session_id":"b","user_id":1,"content_id":2,"%s":%s}',
                                   field, value)) d $$;

-- numbers: the least and the greatest value accepted, and one past each
SELECT field, at_min, bound_verdict(field, at_min) AS at_min_verdict,
       below_min, bound_verdict(field, below_min) AS below_min_verdict,
       at_max, bound_verdict(field, at_max) AS at_max_verdict,
       above_max, bound_verdict(field, above_max) AS above_max_verdict
  FROM (VALUES
    ('user_id', '0', '-1', '9223372036854775807', '9223372036854775808'),
    ('content_id', '0', '-1', '9223372036854775807', '9223372036854775808'),
    ('profile_id', '0', '-1', '9223372036854775807', '9223372036854775808'),
    ('bitrate_kbps', '0', '-1', '1000000', '1000001'),
    ('buffering_events', '0', '-1', '2147483647', '2147483648'),
    ('dropped_frames', '0', '-1', '2147483647', '2147483648'),
    ('buffering_ms', '0', '-1', '86400000', '86400001'),
    ('duration_ms', '0', '-1', '86400000', '86400001'),
    ('vst_ms', '0', '-1', '3600000', '3600001'),
    ('position_sec', '0', '-0.001', '10000000', '10000000.001'),
    ('buffer_health_sec', '0', '-0.001', '10000000', '10000000.001'),
    ('content_duration_sec', '0', '-0.001', '10000000', '10000000.001'),
    -- epoch milliseconds within +-10^15 are read (then judged by the window)
    ('timestamp', '-1000000000000000', '-1000000000000001', '1000000000000000', '1000000000000001'),
    ('timestamp', '-1e15', '-1.000000000000001e15', '1e15', '1.000000000000001e15')
  ) AS b(field, at_min, below_min, at_max, above_max)
 ORDER BY field, at_max;

-- texts: 1 to 200 bytes, counted after unescaping; numbers beyond int64 in
-- session_id, event_id and error_code are their digits, 200 at most
SELECT label, bytes, bound_verdict(field, value) AS verdict
  FROM (SELECT f, n, format('"%s"', repeat('x', n)) FROM unnest(ARRAY['session_id', 'event_id', 'error_code',
               'resolution', 'device_type', 'country', 'cdn_pop']) AS f, unnest(ARRAY[0, 1, 200, 201]) AS n
        UNION ALL
        SELECT 'session_id as \u00e9 escapes', n, format('"%s%s"', repeat('\u00e9', n / 2), repeat('x', n % 2))
          FROM unnest(ARRAY[200, 201]) AS n
        UNION ALL
        SELECT 'event_id as a number', n, '1' || repeat('0', n - 1) FROM unnest(ARRAY[200, 201]) AS n
  ) AS t(label, bytes, value),
       LATERAL (SELECT split_part(label, ' ', 1) AS field) f
 ORDER BY label, bytes;

-- ISO-8601 fields: each at its greatest value parses, one past it does not
SELECT ts, bound_verdict('timestamp', format('"%s"', ts)) AS verdict
  FROM unnest(ARRAY['2020-12-31T23:59:60+23:59', '2020-13-31T23:59:60+23:59', '2020-12-32T23:59:60+23:59',
                    '2020-12-31T24:59:60+23:59', '2020-12-31T23:60:60+23:59', '2020-12-31T23:59:61+23:59',
                    '2020-12-31T23:59:60+24:00', '2020-12-31T23:59:60+23:60', '2020-01-01T00:00:00-23:59',
                    '2020-00-01T00:00:00Z', '2020-01-00T00:00:00Z',
                    -- the day is checked against its month, leap years included
                    '2020-02-29T00:00:00Z', '2020-02-30T00:00:00Z', '2021-02-28T00:00:00Z',
                    '2021-02-29T00:00:00Z', '2000-02-29T00:00:00Z', '1900-02-29T00:00:00Z',
                    '2020-04-30T00:00:00Z', '2020-04-31T00:00:00Z']) WITH ORDINALITY AS x(ts, n)
 ORDER BY n;

-- the window: qoe.late_event_window (3 days) back, qoe.future_event_window
-- (1 hour) ahead of the server clock; a minute inside is accepted, a minute
-- outside rejected
SELECT label, bound_verdict('timestamp', ((extract(epoch FROM clock_timestamp() + shift) * 1000)::bigint)::text) AS verdict
  FROM (VALUES ('3 days - 1 minute ago', interval '-3 days 1 minute'),
               ('3 days + 1 minute ago', interval '-3 days -1 minute'),
               ('1 hour - 1 minute ahead', interval '59 minutes'),
               ('1 hour + 1 minute ahead', interval '61 minutes')) AS w(label, shift);

-- unknown fields: 1,048,576 bytes of JSON in one event (each key and value
-- as sent: "x" is 3 bytes, a string of n characters n + 2) are kept, one
-- more byte is not
SELECT n + 5 AS unknown_bytes, bound_verdict('x', format('"%s"', repeat('y', n))) AS verdict
  FROM unnest(ARRAY[1048571, 1048572]) AS n;

-- QoE score (SPEC section 4 defaults): each component just inside, at and
-- past its good and its bad threshold, the others at good. Hand-worked:
-- vst 1001 ms: 70 + 30 x 6999/7000; 7999 ms: 70 + 30/7000;
-- rebuffering 0.001: 60 + 40 x 0.98; 0.049: 60 + 40 x 0.02;
-- bitrate 7999 kbps: 80 + 20 x 7499/7500; 501: 80 + 20/7500;
-- dropped 0.0002: 90 + 10 x 0.99; 0.0198: 90 + 10 x 0.01.
CREATE TABLE score_cases (component text, value float8, expected numeric);
INSERT INTO score_cases VALUES
    ('vst_ms', 999, 100), ('vst_ms', 1000, 100), ('vst_ms', 1001, 99.995714),
    ('vst_ms', 7999, 70.004286), ('vst_ms', 8000, 70), ('vst_ms', 8001, 70),
    ('rebuffer_ratio', 0, 100), ('rebuffer_ratio', 0.001, 99.2), ('rebuffer_ratio', 0.049, 60.8),
    ('rebuffer_ratio', 0.05, 60), ('rebuffer_ratio', 0.051, 60),
    ('avg_bitrate_kbps', 8001, 100), ('avg_bitrate_kbps', 8000, 100), ('avg_bitrate_kbps', 7999, 99.997333),
    ('avg_bitrate_kbps', 501, 80.002667), ('avg_bitrate_kbps', 500, 80), ('avg_bitrate_kbps', 499, 80),
    ('dropped_ratio', 0, 100), ('dropped_ratio', 0.0002, 99.9), ('dropped_ratio', 0.0198, 90.1),
    ('dropped_ratio', 0.02, 90), ('dropped_ratio', 0.021, 90);
CREATE FUNCTION score_of(component text, value float8) RETURNS numeric LANGUAGE sql AS $$
    SELECT round(qoe.qoe_score(CASE component WHEN 'vst_ms' THEN value ELSE 1000 END,
                               CASE component WHEN 'rebuffer_ratio' THEN value ELSE 0 END,
                               CASE component WHEN 'avg_bitrate_kbps' THEN value ELSE 8000 END,
                               CASE component WHEN 'dropped_ratio' THEN value ELSE 0 END)::numeric, 6) $$;
-- the weights: components scoring 1, 0.5, 0.25 and 0 (vst 1000 ms,
-- rebuffering 0.025, bitrate 2375 kbps, dropped 0.02) give
-- 100 x (0.30 + 0.40 x 0.5 + 0.20 x 0.25) = 55; swapping any two weights
-- changes it (by their difference times the difference of the two scores)
CREATE VIEW score_check AS
SELECT component, value, expected, score_of(component, value) AS score,
       score_of(component, value) = expected AS ok
  FROM score_cases
UNION ALL
SELECT 'weights', NULL, 55, round(qoe.qoe_score(1000, 0.025, 2375, 0.02)::numeric, 6),
       round(qoe.qoe_score(1000, 0.025, 2375, 0.02)::numeric, 6) = 55
UNION ALL
-- unknown components are left out: (0.30 x 1 + 0.20 x 0) / 0.50 = 60
SELECT 'rescaled', NULL, 60, round(qoe.qoe_score(1000, NULL, 500, NULL)::numeric, 6),
       round(qoe.qoe_score(1000, NULL, 500, NULL)::numeric, 6) = 60;
SELECT * FROM score_check;
-- the same without the configuration row (the defaults compiled in)
BEGIN;
DELETE FROM qoe.qoe_score_config;
SELECT count(*) AS cases, count(*) FILTER (WHERE ok) AS ok FROM score_check;
ROLLBACK;
-- a good session scores at least good_score (70): 70 is good, just below is not
SELECT qoe.qoe_good_share(s) AS share_70, qoe.qoe_good_share(s + 10, 80) AS share_80
  FROM unnest(ARRAY[70, 69.999999]::float8[]) AS s;

-- t-digest: the maximum and the minimum are exact knots at positions
-- count - 1 and 0, also when the last or first centroid holds several
-- values. Both digests below hold 1, 2, 3, 4, so every knot lies on
-- value = 1 + position (no curvature): position 3q gives 1 + 3q.
-- Last centroid (3, 4) at its middle position 2.5, the maximum 4 at 3:
WITH d AS (SELECT '{"version":1,"compression":100,"count":4,"min":1,"max":4,"sum":10,"centroids":[[1,1],[2,1],[3.5,2]]}'::qoe.tdigest AS d)
SELECT qoe.tdigest_percentiles(d, ARRAY[0, 0.75, 0.9, 1]) AS p_0_075_09_1,
       qoe.tdigest_rank(d, 3.75) AS rank_375, qoe.tdigest_rank(d, 3.999) AS rank_3999,
       qoe.tdigest_rank(d, 4) AS rank_max
  FROM d;
-- First centroid (1, 2) at position 0.5, the minimum 1 at 0:
WITH d AS (SELECT '{"version":1,"compression":100,"count":4,"min":1,"max":4,"sum":10,"centroids":[[1.5,2],[3,1],[4,1]]}'::qoe.tdigest AS d)
SELECT qoe.tdigest_percentiles(d, ARRAY[0, 0.1, 0.5]) AS p_0_01_05,
       qoe.tdigest_rank(d, 0.999) AS rank_below_min, qoe.tdigest_rank(d, 1) AS rank_min,
       qoe.tdigest_rank(d, 1.25) AS rank_125
  FROM d;
-- the default compression is 100
SELECT qoe.tdigest_compression(qoe.tdigest_agg(x)) AS default_compression FROM generate_series(1, 10) x;
