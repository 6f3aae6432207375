-- Accuracy of qoe.tdigest against exact percentile_cont on seeded data.
-- The rank error of an estimate e at fraction q is how far q lies outside
-- [share of values < e, share of values <= e]; bounds are per q:
-- 0.005 at 0.5, 0.9 and 0.95, 0.001 at 0.99, 0.0005 at 0.999.
SELECT setseed(0.2024);
CREATE TEMP TABLE acc (dist text, v float8);
INSERT INTO acc
SELECT 'lognormal', exp(ln(1500) + 0.6 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
FROM generate_series(1, 100000);
INSERT INTO acc SELECT 'exponential', -1000 * ln(1 - random()) FROM generate_series(1, 100000);
INSERT INTO acc SELECT 'uniform', 10000 * random() FROM generate_series(1, 100000);
INSERT INTO acc
SELECT 'bimodal', CASE WHEN random() < 0.7 THEN 800 + 200 * z ELSE 5000 + 1000 * z END
FROM (SELECT sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z
      FROM generate_series(1, 100000)) s;
INSERT INTO acc SELECT 'pareto', 100 * power(1 - random(), -1 / 1.5) FROM generate_series(1, 100000);
INSERT INTO acc
SELECT 'duplicates', 250 * floor(exp(ln(1500) + 0.6 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) / 250)
FROM generate_series(1, 100000);
ANALYZE acc;

CREATE TEMP TABLE acc_bound (q float8, bound float8);
INSERT INTO acc_bound VALUES (0.5, 0.005), (0.9, 0.005), (0.95, 0.005), (0.99, 0.001), (0.999, 0.0005);

CREATE FUNCTION pg_temp.rank_error(d text, q float8, e float8) RETURNS float8 LANGUAGE sql AS $$
    SELECT CASE WHEN q > le THEN q - le WHEN lt > q THEN lt - q ELSE 0 END
    FROM (SELECT count(*) FILTER (WHERE v <= e)::float8 / count(*) AS le,
                 count(*) FILTER (WHERE v < e)::float8 / count(*) AS lt
          FROM acc WHERE dist = d) s $$;

-- One digest over all values of each distribution.
WITH dig AS (SELECT dist, qoe.tdigest_agg(v) AS d FROM acc GROUP BY dist)
SELECT dist, q, pg_temp.rank_error(dist, q, qoe.tdigest_percentile(d, q)) <= bound AS within_bound
FROM dig, acc_bound ORDER BY dist, q;

-- The same through percentile_approx with an array of fractions.
WITH est AS (SELECT dist, qoe.percentile_approx(v, ARRAY[0.5, 0.9, 0.95, 0.99, 0.999]) AS p
             FROM acc GROUP BY dist)
SELECT dist, bool_and(pg_temp.rank_error(dist, q, e) <= b.bound) AS all_within_bound
FROM est, unnest(ARRAY[0.5, 0.9, 0.95, 0.99, 0.999], p) t(q, e) JOIN acc_bound b USING (q)
GROUP BY dist ORDER BY dist;

-- A day of 288 five-minute digests merged answers within the same bounds
-- as one digest over all the values.
CREATE TEMP TABLE acc_day AS
SELECT i % 288 AS slot,
       exp(ln(1500) + 0.6 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS v
FROM generate_series(1, 288 * 500) i;
CREATE TEMP TABLE acc_5min AS SELECT slot, qoe.tdigest_agg(v) AS d FROM acc_day GROUP BY slot;
WITH merged AS (SELECT qoe.tdigest_merge(d) AS d FROM acc_5min),
     single AS (SELECT qoe.tdigest_agg(v) AS d FROM acc_day)
SELECT q,
       (SELECT abs(count(*) FILTER (WHERE v <= qoe.tdigest_percentile(m.d, q))::float8 / count(*) - q)
        FROM acc_day) <= bound AS merged_within_bound,
       (SELECT abs(count(*) FILTER (WHERE v <= qoe.tdigest_percentile(s.d, q))::float8 / count(*) - q)
        FROM acc_day) <= bound AS single_within_bound,
       qoe.tdigest_count(m.d) = qoe.tdigest_count(s.d) AS same_count
FROM merged m, single s, acc_bound ORDER BY q;
