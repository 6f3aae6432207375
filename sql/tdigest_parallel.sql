-- The t-digest and QoE aggregates in forced parallel plans: partial
-- aggregation in workers, serialize / deserialize / combine in the leader.
SELECT setseed(0.77);
CREATE TABLE td_par AS
SELECT i, i % 8 AS g,
       exp(ln(1500) + 0.6 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS v,
       (i % 3000)::float8 AS small,
       CASE WHEN i % 67 = 0 THEN i / 67 * 0.5 END AS sparse
FROM generate_series(1, 200000) i;
ANALYZE td_par;

-- the serial reference: the planner may pick a parallel plan for a table
-- this size, whose rows reach the workers in no fixed order
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE td_serial AS
SELECT qoe.tdigest_agg(v) AS d, qoe.tdigest_agg(sparse, 10000) AS d_exact,
       qoe.percentile_approx(v, ARRAY[0.5, 0.95, 0.99]) AS p
FROM td_par;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;

EXPLAIN (COSTS OFF)
SELECT qoe.tdigest_agg(v), qoe.percentile_approx(v, 0.5), qoe.tdigest_merge(NULL::qoe.tdigest)
FROM td_par;
EXPLAIN (COSTS OFF)
SELECT g, qoe.tdigest_agg(v) FROM td_par GROUP BY g;

CREATE TEMP TABLE td_parallel AS
SELECT qoe.tdigest_agg(v) AS d, qoe.tdigest_agg(sparse, 10000) AS d_exact,
       qoe.percentile_approx(v, ARRAY[0.5, 0.95, 0.99]) AS p
FROM td_par;

-- Exact parts are equal; a digest holding only distinct single values is
-- equal as a whole (2985 distinct values at compression 10000).
SELECT qoe.tdigest_count(s.d) = qoe.tdigest_count(p.d) AS count_equal,
       qoe.tdigest_min(s.d) = qoe.tdigest_min(p.d) AS min_equal,
       qoe.tdigest_max(s.d) = qoe.tdigest_max(p.d) AS max_equal,
       abs(qoe.tdigest_sum(s.d) / qoe.tdigest_sum(p.d) - 1) < 1e-12 AS sum_equal,
       qoe.tdigest_percentiles(s.d_exact, ARRAY[0.1, 0.5, 0.9]) =
           qoe.tdigest_percentiles(p.d_exact, ARRAY[0.1, 0.5, 0.9]) AS exact_digest_equal,
       qoe.tdigest_percentile(p.d_exact, 0.5) =
           (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY sparse) FROM td_par) AS exact_is_percentile_cont
FROM td_serial s, td_parallel p;

-- Approximate parts: serial and parallel both within the accuracy bound
-- (rank error) of the exact percentiles.
WITH est AS (SELECT 'serial' AS plan, p FROM td_serial UNION ALL SELECT 'parallel', p FROM td_parallel),
     e AS (SELECT plan, q, x FROM est, unnest(ARRAY[0.5, 0.95, 0.99], p) t(q, x))
SELECT plan, q,
       abs((SELECT count(*) FROM td_par WHERE v <= x)::float8 / 200000 - q)
           <= CASE WHEN q = 0.5 THEN 0.005 ELSE 0.001 END AS within_bound
FROM e ORDER BY plan DESC, q;

-- Grouped, parallel: per-group counts exact, per-group medians close.
SELECT count(*) AS groups,
       bool_and(n = qoe.tdigest_count(d)) AS counts_exact,
       bool_and(abs(qoe.tdigest_percentile(d, 0.5) / med - 1) < 0.01) AS medians_within_1pct
FROM (SELECT g, qoe.tdigest_agg(v) AS d FROM td_par GROUP BY g) a
JOIN (SELECT g, count(*) AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY v) AS med
      FROM td_par GROUP BY g) b USING (g);

-- Rollups of rollups in parallel: merge per-group digests.
CREATE TABLE td_par_rollup AS SELECT i % 500 AS w, qoe.tdigest_agg(v) AS d FROM td_par GROUP BY 1;
ANALYZE td_par_rollup;
EXPLAIN (COSTS OFF) SELECT qoe.tdigest_merge(d) FROM td_par_rollup;
-- percentiles over digests (percentile_approx), in parallel as serially:
-- within the bound of the exact answer
EXPLAIN (COSTS OFF) SELECT qoe.percentile_approx(d, ARRAY[0.5, 0.99]) FROM td_par_rollup;
SELECT plan, bool_and(abs((SELECT count(*) FROM td_par WHERE v <= x)::float8 / 200000 - q)
                      <= CASE WHEN q = 0.5 THEN 0.005 ELSE 0.001 END) AS within_bound
FROM (SELECT 'parallel' AS plan, qoe.percentile_approx(d, ARRAY[0.5, 0.99]) AS p FROM td_par_rollup) s,
     unnest(ARRAY[0.5, 0.99], p) t(q, x)
GROUP BY plan;
SELECT qoe.tdigest_count(qoe.tdigest_merge(d)) AS merged_count,
       abs((SELECT count(*) FROM td_par WHERE v <= qoe.tdigest_percentile(qoe.tdigest_merge(d), 0.99))::float8
           / 200000 - 0.99) <= 0.001 AS merged_p99_within_bound
FROM td_par_rollup;

-- QoE ratio aggregates in parallel equal their serial values.
EXPLAIN (COSTS OFF)
SELECT qoe.rebuffer_ratio(small, v), qoe.qoe_score_agg(small / 30, v), qoe.qoe_good_share(small / 30)
FROM td_par;
CREATE TEMP TABLE qoe_parallel AS
SELECT qoe.rebuffer_ratio(small, v) AS r, qoe.qoe_score_agg(small / 30, v) AS s,
       qoe.qoe_good_share(small / 30) AS g
FROM td_par;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
SET max_parallel_workers_per_gather = 0;
SELECT abs(p.r / s.r - 1) < 1e-12 AS rebuffer_equal, abs(p.s / s.s - 1) < 1e-12 AS score_equal,
       p.g = s.g AS good_share_equal
FROM qoe_parallel p,
     (SELECT qoe.rebuffer_ratio(small, v) AS r, qoe.qoe_score_agg(small / 30, v) AS s,
             qoe.qoe_good_share(small / 30) AS g FROM td_par) s;
RESET max_parallel_workers_per_gather;
DROP TABLE td_par, td_par_rollup;
