-- qoe.tdigest: type I/O, accessors and the correctness rules of issue 3.
SET extra_float_digits = 0;
SELECT setseed(0.5);

-- A digest of few values holds them as single-value centroids and answers
-- exactly like percentile_cont.
SELECT qoe.tdigest_agg(x) FROM generate_series(1, 5) x;
WITH d AS (SELECT qoe.tdigest_agg(x * 1.5) AS d FROM generate_series(1, 30) x),
     qs AS (SELECT q / 20.0 AS q FROM generate_series(0, 20) q)
SELECT bool_and(qoe.tdigest_percentile(d, q) =
                (SELECT percentile_cont(q) WITHIN GROUP (ORDER BY x * 1.5) FROM generate_series(1, 30) x))
       AS exact_like_percentile_cont
FROM d, qs;

-- Exact statistics beside the centroids.
SELECT qoe.tdigest_count(d), qoe.tdigest_min(d), qoe.tdigest_max(d), qoe.tdigest_mean(d),
       qoe.tdigest_sum(d), qoe.tdigest_compression(d)
FROM (SELECT qoe.tdigest_agg(x) AS d FROM generate_series(1, 100000) x) s;
SELECT qoe.tdigest_compression(qoe.tdigest_agg(x, 500)) FROM generate_series(1, 10) x;

-- Text output reads back exactly, binary output is stable through text.
CREATE TEMP TABLE td_round AS
SELECT qoe.tdigest_agg(exp(random() * 10) / 7) AS d FROM generate_series(1, 50000);
SELECT d::text = d::text::qoe.tdigest::text AS text_round_trip,
       qoe.tdigest_send(d) = qoe.tdigest_send(d::text::qoe.tdigest) AS binary_stable,
       d::text::jsonb ->> 'count' AS count_via_jsonb
FROM td_round;
-- whitespace and key order are free in the input
SELECT '{ "centroids": [ [2, 1], [4, 2] ], "sum": 10, "max": 5, "min": 2, "count": 3,
          "compression": 50, "version": 1 }'::qoe.tdigest;

-- Percentiles are monotone in q and stay within [min, max].
WITH d AS (SELECT qoe.tdigest_agg(exp(random() * 8)) AS d FROM generate_series(1, 20000)),
     p AS (SELECT q, qoe.tdigest_percentile(d, q / 1000.0) AS v, qoe.tdigest_min(d) AS mn,
                  qoe.tdigest_max(d) AS mx
           FROM d, generate_series(0, 1000) q)
SELECT bool_and(v >= mn AND v <= mx) AS within_min_max,
       bool_and(v >= coalesce(prev, v)) AS monotone_in_q
FROM (SELECT v, mn, mx, lag(v) OVER (ORDER BY q) AS prev FROM p) s;

-- A constant series returns that constant, for every q and from rank too.
WITH d AS (SELECT qoe.tdigest_agg(0.1) AS d FROM generate_series(1, 100000))
SELECT bool_and(qoe.tdigest_percentile(d, q / 100.0) = 0.1) AS constant,
       min(qoe.tdigest_mean(d)) = 0.1 AS mean_is_constant,
       min(qoe.tdigest_rank(d, 0.1)) AS rank_at, min(qoe.tdigest_rank(d, 0.0999)) AS rank_below
FROM d, generate_series(0, 100) q;

-- One value is returned for every q.
SELECT qoe.tdigest_percentiles(qoe.tdigest_agg(v), ARRAY[0, 0.001, 0.5, 0.999, 1])
FROM (VALUES (42.5::float8)) t(v);

-- NULLs are skipped; only NULLs or no rows give NULL.
SELECT qoe.tdigest_count(qoe.tdigest_agg(v)), qoe.tdigest_percentile(qoe.tdigest_agg(v), 0.5)
FROM (VALUES (1.0::float8), (NULL), (3.0), (NULL)) t(v);
SELECT qoe.tdigest_agg(v) IS NULL AS all_null FROM (VALUES (NULL::float8), (NULL)) t(v);
SELECT qoe.tdigest_agg(x) IS NULL AS no_rows FROM generate_series(1, 0) x;
SELECT qoe.tdigest_merge(d) IS NULL AS merge_no_rows FROM (SELECT NULL::qoe.tdigest AS d) s;
SELECT qoe.percentile_approx(x, 0.5) IS NULL AS approx_no_rows FROM generate_series(1, 0) x;

-- NaN and infinities are rejected.
SELECT qoe.tdigest_agg(v) FROM (VALUES (1.0::float8), ('NaN')) t(v);
SELECT qoe.tdigest_agg(v) FROM (VALUES (1.0::float8), ('Infinity')) t(v);
SELECT qoe.percentile_approx(v, 0.5) FROM (VALUES ('-Infinity'::float8)) t(v);

-- q outside [0, 1] (or NaN) is an error; NULL q gives NULL.
SELECT qoe.tdigest_percentile(qoe.tdigest_agg(x), 1.5) FROM generate_series(1, 10) x;
SELECT qoe.tdigest_percentile(qoe.tdigest_agg(x), -0.1) FROM generate_series(1, 10) x;
SELECT qoe.tdigest_percentiles(qoe.tdigest_agg(x), ARRAY[0.5, 'NaN']) FROM generate_series(1, 10) x;
SELECT qoe.percentile_approx(x, 2.0) FROM generate_series(1, 10) x;
SELECT qoe.tdigest_percentiles(qoe.tdigest_agg(x), ARRAY[0.5, NULL, 1]) FROM generate_series(1, 9) x;
SELECT qoe.percentile_approx(x, NULL::float8) FROM generate_series(1, 10) x;
SELECT qoe.tdigest_percentiles(qoe.tdigest_agg(x), '{}') FROM generate_series(1, 9) x;

-- Compression is validated, and must not change between rows.
SELECT qoe.tdigest_agg(x, 5) FROM generate_series(1, 10) x;
SELECT qoe.tdigest_agg(x, 10001) FROM generate_series(1, 10) x;
SELECT qoe.tdigest_agg(x, CASE WHEN x < 5 THEN 100 ELSE 200 END) FROM generate_series(1, 10) x;
SELECT qoe.tdigest_agg(x, NULL) FROM generate_series(1, 10) x;

-- percentile_approx: scalar and array forms, constant fractions only.
SELECT qoe.percentile_approx(x, 0.5) AS p50, qoe.percentile_approx(x, ARRAY[0.25, 0.75]) AS quartiles
FROM generate_series(1, 21) x;
SELECT qoe.percentile_approx(x, x / 100.0) FROM generate_series(1, 10) x;
SELECT qoe.percentile_approx(x, ARRAY[x / 100.0]) FROM generate_series(1, 10) x;
SELECT qoe.percentile_approx(x, ARRAY[[0.5], [0.9]]) FROM generate_series(1, 10) x;
SELECT qoe.percentile_approx(x, '{}'::float8[]) FROM generate_series(1, 10) x;

-- tdigest_rank is the fraction of values <= x: exact on small data.
WITH d AS (SELECT qoe.tdigest_agg(v) AS d FROM unnest(ARRAY[1, 2, 2, 3, 5, 8, 13]::float8[]) v)
SELECT x, qoe.tdigest_rank(d, x) AS rank,
       (SELECT count(*) FILTER (WHERE v <= x)::float8 / 7
        FROM unnest(ARRAY[1, 2, 2, 3, 5, 8, 13]::float8[]) v) AS exact
FROM d, unnest(ARRAY[0, 1, 1.5, 2, 2.5, 3, 4, 8, 12.9, 13, 100, '-Infinity', 'Infinity']::float8[]) x;
SELECT qoe.tdigest_rank(qoe.tdigest_agg(x), 'NaN') FROM generate_series(1, 10) x;
-- rank is monotone and inverts percentile on larger data
WITH d AS (SELECT qoe.tdigest_agg(exp(random() * 8)) AS d FROM generate_series(1, 20000)),
     r AS (SELECT q / 100.0 AS q, qoe.tdigest_rank(d, qoe.tdigest_percentile(d, q / 100.0)) AS r
           FROM d, generate_series(1, 99) q)
SELECT max(abs(r - q)) < 0.001 AS rank_inverts_percentile,
       bool_and(r >= coalesce(prev, r)) AS rank_monotone
FROM (SELECT q, r, lag(r) OVER (ORDER BY q) AS prev FROM r) s;

-- Merging: any order and grouping gives the same exact statistics, and
-- percentiles within the same bound of the exact answer.
SELECT setseed(0.31);
CREATE TEMP TABLE td_vals AS
SELECT i, (i % 37) AS g, round(exp(7 + random() * 2))::float8 AS v FROM generate_series(1, 60000) i;
CREATE TEMP TABLE td_parts AS SELECT g, qoe.tdigest_agg(v) AS d FROM td_vals GROUP BY g;
WITH one AS (SELECT qoe.tdigest_agg(v) AS d FROM td_vals),
     fwd AS (SELECT qoe.tdigest_merge(d ORDER BY g) AS d FROM td_parts),
     rev AS (SELECT qoe.tdigest_merge(d ORDER BY g DESC) AS d FROM td_parts),
     two AS (SELECT qoe.tdigest_merge(d) AS d
             FROM (SELECT qoe.tdigest_merge(d) AS d FROM td_parts GROUP BY g % 5) s),
     exact AS (SELECT percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY v) AS e FROM td_vals)
SELECT name, qoe.tdigest_count(d) AS count, qoe.tdigest_min(d) AS min, qoe.tdigest_max(d) AS max,
       qoe.tdigest_sum(d) AS sum,
       (SELECT bool_and(abs(a - b) / b < 0.01)
        FROM unnest(qoe.tdigest_percentiles(d, ARRAY[0.5, 0.9, 0.99]), e) t(a, b)) AS within_1pct
FROM (SELECT 'one' AS name, d FROM one UNION ALL SELECT 'forward', d FROM fwd
      UNION ALL SELECT 'reverse', d FROM rev UNION ALL SELECT 'two levels', d FROM two) s, exact
ORDER BY name;
-- merging takes the smaller compression, in either order
SELECT qoe.tdigest_compression(qoe.tdigest_merge(d ORDER BY c)) AS up,
       qoe.tdigest_compression(qoe.tdigest_merge(d ORDER BY c DESC)) AS down
FROM (SELECT c, qoe.tdigest_agg(x, c) AS d FROM generate_series(1, 100) x, (VALUES (50), (300)) c(c)
      GROUP BY c) s;
-- and is as accurate as merging two digests of the smaller one: a
-- compression-50 and a compression-200 digest of 50,000 values each
SELECT setseed(0.77);
CREATE TEMP TABLE td_mix AS
SELECT i, exp(random() * 6) AS v FROM generate_series(1, 100000) i;
WITH d50 AS (SELECT qoe.tdigest_agg(v, 50) AS d FROM td_mix WHERE i % 2 = 0),
     d50b AS (SELECT qoe.tdigest_agg(v, 50) AS d FROM td_mix WHERE i % 2 = 1),
     d200 AS (SELECT qoe.tdigest_agg(v, 200) AS d FROM td_mix WHERE i % 2 = 1),
     m AS (SELECT (SELECT qoe.tdigest_merge(d) FROM (SELECT d FROM d50 UNION ALL SELECT d FROM d200) s) AS mixed,
                  (SELECT qoe.tdigest_merge(d) FROM (SELECT d FROM d50 UNION ALL SELECT d FROM d50b) s) AS same),
     e AS (SELECT q / 20.0 AS q, qoe.tdigest_rank(mixed, v) - q / 20.0 AS mixed_err,
                  qoe.tdigest_rank(same, v) - q / 20.0 AS same_err
           FROM m, generate_series(1, 19) q,
                LATERAL (SELECT percentile_disc(q / 20.0) WITHIN GROUP (ORDER BY v) AS v FROM td_mix) x)
SELECT max(abs(mixed_err)) < 0.002 AS mixed_within_bound,
       max(abs(mixed_err)) <= 2 * max(abs(same_err)) AS as_good_as_50_50
FROM e;

-- percentile_approx over digests: the percentiles of tdigest_merge's union,
-- in one step. Merged centroids give exactly tdigest_percentiles(tdigest_merge(d)) ...
SELECT qoe.percentile_approx(d, ARRAY[0.1, 0.5, 0.9, 0.99]) =
           qoe.tdigest_percentiles(qoe.tdigest_merge(d), ARRAY[0.1, 0.5, 0.9, 0.99]) AS array_equal,
       qoe.percentile_approx(d, 0.5) = qoe.tdigest_percentile(qoe.tdigest_merge(d), 0.5) AS scalar_equal
FROM td_parts;
-- ... and when every centroid is a single value the union is not
-- recompressed: 200 digests of 4 values answer as percentile_cont over the
-- 800 values, where their merge folds them into fewer centroids
SELECT setseed(0.5);
CREATE TEMP TABLE td_small AS SELECT i, i % 200 AS g, random() * 1000 AS v FROM generate_series(1, 800) i;
SELECT qoe.percentile_approx(d, ARRAY[0.1, 0.5, 0.9, 0.99]) =
           (SELECT percentile_cont(ARRAY[0.1, 0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY v) FROM td_small) AS singles_exact,
       qoe.percentile_approx(d, 0.5) = (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM td_small) AS scalar_exact,
       qoe.tdigest_centroid_count(qoe.tdigest_merge(d)) < 800 AS merge_folds
FROM (SELECT qoe.tdigest_agg(v) AS d FROM td_small GROUP BY g) s;
-- NULL digests are skipped, q is checked as for values
SELECT qoe.percentile_approx(NULL::qoe.tdigest, 0.5) IS NULL AS null_digest,
       qoe.percentile_approx(d, NULL::float8) IS NULL AS null_q
FROM (SELECT qoe.tdigest_agg(1) AS d) s;
SELECT qoe.percentile_approx(d, 1.5) FROM td_parts;
SELECT qoe.percentile_approx(d, g / 100.0) FROM td_parts;
SELECT qoe.percentile_approx(d, ARRAY[g / 100.0]) FROM td_parts;

-- Text input is checked: syntax, then every invariant.
SELECT 'garbage'::qoe.tdigest;
SELECT '{"version":1,"compression":100,"count":1,"min":5,"max":5,"sum":5}'::qoe.tdigest;
SELECT '{"version":1,"compression":100,"count":1,"min":5,"max":5,"sum":5,"centroids":[[5,1]],"x":1}'::qoe.tdigest;
SELECT '{"version":2,"compression":100,"count":1,"min":5,"max":5,"sum":5,"centroids":[[5,1]]}'::qoe.tdigest;
SELECT '{"version":1,"compression":5,"count":1,"min":5,"max":5,"sum":5,"centroids":[[5,1]]}'::qoe.tdigest;
SELECT '{"version":1,"compression":100,"count":3,"min":5,"max":5,"sum":5,"centroids":[[5,1]]}'::qoe.tdigest;
SELECT '{"version":1,"compression":100,"count":2,"min":1,"max":5,"sum":6,"centroids":[[5,1],[1,1]]}'::qoe.tdigest;
SELECT '{"version":1,"compression":100,"count":1,"min":5,"max":5,"sum":5,"centroids":[[9,1]]}'::qoe.tdigest;
SELECT '{"version":1,"compression":100,"count":1,"min":5,"max":5,"sum":5,"centroids":[[NaN,1]]}'::qoe.tdigest;
SELECT '{"version":1,"compression":100,"count":1,"min":5,"max":5,"sum":1e999,"centroids":[[5,1]]}'::qoe.tdigest;
SELECT '{"version":1,"compression":100,"count":1,"min":5,"max":5,"sum":5,"centroids":[[5,0]]}'::qoe.tdigest;
SELECT '{"version":1,"compression":100,"count":99999999999999999999,"min":5,"max":5,"sum":5,"centroids":[[5,1]]}'::qoe.tdigest;
SELECT '{"version":1,"flags":4,"compression":100,"count":1,"min":5,"max":5,"sum":5,"centroids":[[5,1]]}'::qoe.tdigest;
SELECT '{"version":1,"compression":100,"count":1,"min":5,"max":5,"sum":5,"centroids":[[5,1]]} trailing'::qoe.tdigest;
SELECT '{"version":1,"version":1}'::qoe.tdigest;

-- Overflowing sums are an error, as for sum(float8).
SELECT qoe.tdigest_agg(v) FROM (VALUES (1e308::float8), (1e308)) t(v);

-- Window use: the state stays valid after a final call.
SELECT x, qoe.tdigest_count(qoe.tdigest_agg(x) OVER (ORDER BY x)) FROM generate_series(1, 4) x;

-- Sorting is exact however the values collide: values a few ulps apart
-- (equal in their top 48 bits), in long and short runs, with both signs,
-- and single-value digests merged in random order.  At compression 10000
-- every centroid holds one value, so percentiles must equal percentile_cont.
CREATE TEMP TABLE td_ulps AS
SELECT 1 + ((i * 7919) % 3000) * 2.0::float8 ^ (-52) AS v FROM generate_series(1, 3000) i
UNION ALL
SELECT (CASE WHEN i % 2 = 0 THEN -1 ELSE 1 END) * ((i % 500) + 1 + (i / 500) * 2.0::float8 ^ (-44))
FROM generate_series(1, 3000) i;
WITH d AS (SELECT qoe.tdigest_agg(v, 10000) AS d FROM td_ulps),
     m AS (SELECT qoe.tdigest_merge(d ORDER BY random()) AS d
           FROM (SELECT qoe.tdigest_agg(v, 10000) AS d FROM td_ulps GROUP BY v) s)
SELECT name, qoe.tdigest_centroid_count(d) AS centroids,
       (SELECT bool_and(qoe.tdigest_percentile(d, q / 200.0) =
                        (SELECT percentile_cont(q / 200.0) WITHIN GROUP (ORDER BY v) FROM td_ulps))
        FROM generate_series(0, 200) q) AS exact
FROM (SELECT 'agg' AS name, d FROM d UNION ALL SELECT 'merge', d FROM m) s ORDER BY name;

-- Counts are capped at 2^53, so that every count and weight is exact: larger
-- input is refused, and a merge beyond the cap is an error, never a stored
-- value that cannot be read back.
SELECT '{"version":1,"compression":100,"count":9007199254740993,"min":5,"max":5,"sum":5,"centroids":[[5,9007199254740993]]}'::qoe.tdigest;
SELECT '{"version":1,"compression":100,"count":5000000000000000000,"min":1,"max":2,"sum":3,"centroids":[[1,1],[2,4999999999999999999]]}'::qoe.tdigest;
SELECT '{"version":1,"compression":100,"count":18014398509481985,"min":2,"max":2,"sum":2,"centroids":[[2,18014398509481985]]}'::qoe.tdigest;
CREATE TEMP TABLE td_big (d qoe.tdigest);
INSERT INTO td_big VALUES
    ('{"version":1,"compression":100,"count":9007199254740992,"min":1,"max":2,"sum":3,"centroids":[[1,1],[2,9007199254740991]]}'),
    ('{"version":1,"compression":100,"count":9007199254740992,"min":1,"max":2,"sum":3,"centroids":[[1,1],[2,9007199254740991]]}');
SELECT qoe.tdigest_merge(d) FROM td_big;
\set VERBOSITY sqlstate
CREATE TEMP TABLE td_merged AS SELECT qoe.tdigest_merge(d) AS m FROM td_big;
\set VERBOSITY default
-- up to the cap itself, a merge is exact
DELETE FROM td_big;
INSERT INTO td_big VALUES
    ('{"version":1,"compression":100,"count":9007199254740991,"min":1,"max":2,"sum":3,"centroids":[[1,1],[2,9007199254740990]]}'),
    ('{"version":1,"compression":100,"count":1,"min":1.5,"max":1.5,"sum":1.5,"centroids":[[1.5,1]]}');
SELECT qoe.tdigest_merge(d), qoe.tdigest_count(qoe.tdigest_merge(d)) FROM td_big;

-- Exact repeats are point masses (issue 10 item 3).  500 zeros and 500
-- ones: rank(0) is 0.5 and every percentile is percentile_cont's.
WITH v AS (SELECT (g > 500)::int::float8 AS v FROM generate_series(1, 1000) g),
     d AS (SELECT qoe.tdigest_agg(v ORDER BY hashint4(v::int)) AS d FROM v)
SELECT qoe.tdigest_rank(d, 0) AS rank_0, qoe.tdigest_rank(d, 0.5) AS rank_half,
       qoe.tdigest_rank(d, -0.001) AS rank_below, qoe.tdigest_rank(d, 1) AS rank_1,
       (SELECT bool_and(qoe.tdigest_percentile(d, q / 20.0) =
                        (SELECT percentile_cont(q / 20.0) WITHIN GROUP (ORDER BY v) FROM v))
        FROM generate_series(0, 20) q) AS like_percentile_cont
FROM d;
-- A stall-time column, 80 % zeros, in scrambled order and merged from ten
-- parts: rank(0) is 0.8 and every percentile up to position 7,999 of
-- 10,000 is exactly 0.
CREATE TEMP TABLE td_stall AS
SELECT x, CASE WHEN x <= 8000 THEN 0 ELSE round(exp((x - 8000) / 300.0)) + 100 END::float8 AS v
FROM generate_series(1, 10000) x;
WITH one AS (SELECT qoe.tdigest_agg(v ORDER BY hashint4(x)) AS d FROM td_stall),
     parts AS (SELECT qoe.tdigest_merge(d) AS d
               FROM (SELECT qoe.tdigest_agg(v) AS d FROM td_stall GROUP BY x % 10) s)
SELECT name, qoe.tdigest_rank(d, 0) AS rank_0,
       (SELECT bool_and(qoe.tdigest_percentile(d, q / 1000.0) = 0)
        FROM generate_series(0, 799) q) AS below_080_are_0,
       qoe.tdigest_percentile(d, 7999.0 / 9999) AS at_last_zero
FROM (SELECT 'one' AS name, d FROM one UNION ALL SELECT 'ten parts', d FROM parts) s;
-- A capped column (half the values at the cap): the cap is the maximum,
-- held exactly, and the rank just below it counts only the rest.
WITH d AS (SELECT qoe.tdigest_agg(least(x, 5000)::float8) AS d FROM generate_series(1, 10000) x)
SELECT qoe.tdigest_rank(d, 4999.5) AS rank_below_cap,
       qoe.tdigest_percentile(d, 0.5) AS p50, qoe.tdigest_percentile(d, 0.75) AS p75
FROM d;
-- A repeated value in the middle, heavier than a centroid there.
WITH d AS (SELECT qoe.tdigest_agg(CASE WHEN x % 4 = 0 THEN 7777 ELSE x END::float8) AS d
           FROM generate_series(1, 20000) x)
SELECT qoe.tdigest_rank(d, 7777) - qoe.tdigest_rank(d, 7776.999) AS mass_at_7777,
       qoe.tdigest_percentile(d, 0.35) AS p35
FROM d;

-- The extremes are exact knots (issue 10 item 6): 999 values 1 .. 999 and a
-- maximum of 100,000; position 998.5 of 0 .. 999 is halfway between 999
-- and the maximum, and everything below the maximum is 999 of 1000.
WITH d AS (SELECT qoe.tdigest_agg(CASE WHEN x = 1000 THEN 100000 ELSE x END::float8) AS d
           FROM generate_series(1, 1000) x)
SELECT qoe.tdigest_percentile(d, 998.5 / 999) AS halfway_to_max,
       qoe.tdigest_percentile(d, 1) AS top, qoe.tdigest_rank(d, 99999.9) AS rank_below_max,
       qoe.tdigest_percentile(d, 0.5 / 999) AS halfway_from_min,
       qoe.tdigest_rank(d, 1) AS rank_min
FROM d;
-- every documented bound is accepted, and one past it rejected
SELECT qoe.tdigest_compression(qoe.tdigest_agg(x, 10)) AS c_min,
       qoe.tdigest_compression(qoe.tdigest_agg(x, 10000)) AS c_max
FROM generate_series(1, 10) x;
SELECT qoe.tdigest_agg(x, 9) FROM generate_series(1, 10) x;
SELECT qoe.tdigest_agg(x, 10001) FROM generate_series(1, 10) x;
SELECT qoe.tdigest_percentiles(qoe.tdigest_agg(x), ARRAY[0, 1]) FROM generate_series(1, 10) x;
SELECT qoe.tdigest_percentile(qoe.tdigest_agg(x), 1 + 1e-15) FROM generate_series(1, 10) x;
SELECT qoe.tdigest_percentile(qoe.tdigest_agg(x), -1e-300) FROM generate_series(1, 10) x;
SELECT qoe.tdigest_count('{"version":1,"compression":10000,"count":9007199254740992,"min":5,"max":5,"sum":4.503599627370496e16,"centroids":[[5,9007199254740992]]}'::qoe.tdigest);
SELECT '{"version":1,"compression":10001,"count":1,"min":5,"max":5,"sum":5,"centroids":[[5,1]]}'::qoe.tdigest;
SELECT '{"version":1,"compression":10,"count":9007199254740993,"min":5,"max":5,"sum":4.5035996273704965e16,"centroids":[[5,9007199254740993]]}'::qoe.tdigest;
