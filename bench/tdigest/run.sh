#!/usr/bin/env bash
# t-digest benchmark: qoe.tdigest_agg vs the packaged tdigest extension
# (Debian postgresql-15-tdigest) vs exact percentile_cont, all in one run on
# the same 10,000,000 seeded lognormal values (start-time-like), one group and
# 1,000 groups, serial and with 2 parallel workers; prints times, speed-up
# ratios and the rank error of every estimate, plus the 288 five-minute
# digests merge check.  Usage: bash bench/tdigest/run.sh [rows]
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/deps.sh"
. "$QOE_ROOT/test/lib/cluster.sh"
ROWS=${1:-10000000}
REPS=${QOE_BENCH_REPS:-3}

qoe_install_deps postgresql-15-tdigest
qoe_build_install
qoe_cluster_start "work_mem = '1GB'
shared_buffers = '2GB'
max_parallel_workers = 8"
mkdir -p "$QOE_ROOT/bench/out"
OUT="$QOE_ROOT/bench/out/tdigest.txt"
psql -q -X -d postgres -c "CREATE DATABASE qoe_bench_tdigest" >/dev/null

# Timed runs, generated: each query runs as CREATE TABLE AS (which, unlike
# INSERT, may use a parallel plan); its wall time is measured inside the
# server, the best of REPS runs is kept (one run for the exact sort).
TIMING_SQL=$(mktemp /tmp/qoe_bench_timing.XXXXXX.sql)
chmod 644 "$TIMING_SQL"
QS='ARRAY[0.5, 0.9, 0.95, 0.99, 0.999]'
for groups in 1 1000; do
	if [ $groups = 1 ]; then gcol='0 AS g'; gby=''; else gcol='g'; gby=' GROUP BY g'; fi
	for workers in 0 2; do
		for method in qoe packaged exact; do
			case $method in
			qoe) query="SELECT $gcol, qoe.tdigest_percentiles(qoe.tdigest_agg(v), $QS) AS p FROM bench$gby"; reps=$REPS ;;
			packaged) query="SELECT $gcol, tdigest_percentile(v, 100, $QS) AS p FROM bench$gby"; reps=$REPS ;;
			exact) query="SELECT $gcol, percentile_cont($QS) WITHIN GROUP (ORDER BY v) AS p FROM bench$gby"; reps=1 ;;
			esac
			echo "SET max_parallel_workers_per_gather = $workers;"
			# with workers, make sure the planner does use them
			echo "SET parallel_setup_cost = $([ $workers = 0 ] && echo 1000 || echo 0);"
			if [ $method = qoe ] && [ $workers = 2 ]; then
				echo "\\echo == plan of qoe, $groups group(s), $workers workers =="
				echo "EXPLAIN (COSTS OFF) $query;"
			fi
			for _ in $(seq 1 $reps); do
				echo "DROP TABLE IF EXISTS r;"
				echo "SELECT clock_timestamp() AS t0 \\gset"
				echo "CREATE UNLOGGED TABLE r AS $query;"
				echo "INSERT INTO timing VALUES ('$method', $groups, $workers, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000);"
			done
			echo "INSERT INTO est SELECT '$method', $groups, $workers, g, p FROM r;"
		done
	done
done >"$TIMING_SQL"

psql -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" -d qoe_bench_tdigest <<SQL | tee "$OUT"
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION qoe_ext CASCADE;
CREATE EXTENSION tdigest;
SELECT setseed(0.42) \gset
CREATE UNLOGGED TABLE bench AS
SELECT (i % 1000) AS g, (i % 288) AS slot,
       exp(ln(1500) + 0.6 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS v
FROM generate_series(1, :rows) i;
VACUUM ANALYZE bench;

CREATE TABLE qs (k int, q float8);
INSERT INTO qs VALUES (1, 0.5), (2, 0.9), (3, 0.95), (4, 0.99), (5, 0.999);
CREATE TABLE timing (method text, groups int, workers int, ms float8);
CREATE TABLE est (method text, groups int, workers int, g int, p float8[]);

\i '$TIMING_SQL'
ANALYZE est;

-- Rank error of each estimate: share of the group's values <= estimate,
-- minus q.  One group: a scan per estimate set; 1000 groups: width_bucket
-- (a binary search) in each group's sorted values.
CREATE TABLE sorted AS SELECT g, array_agg(v ORDER BY v) AS a, count(*) AS n FROM bench GROUP BY g;
CREATE TABLE err AS
WITH one_est AS MATERIALIZED (SELECT method, workers, p[1] AS p1, p[2] AS p2, p[3] AS p3, p[4] AS p4,
                                      p[5] AS p5 FROM est WHERE groups = 1),
     one AS (SELECT method, workers,
                    (SELECT ARRAY[count(*) FILTER (WHERE v <= p1), count(*) FILTER (WHERE v <= p2),
                                  count(*) FILTER (WHERE v <= p3), count(*) FILTER (WHERE v <= p4),
                                  count(*) FILTER (WHERE v <= p5)] FROM bench) AS le
             FROM one_est),
     many AS (SELECT e.method, e.workers, qs.q, width_bucket(e.p[qs.k], s.a)::float8 / s.n - qs.q AS err
              FROM est e JOIN sorted s USING (g), qs
              WHERE e.groups = 1000 AND e.method <> 'exact')
SELECT 1 AS groups, method, workers, qs.q, le[qs.k]::float8 / :rows - qs.q AS mean_abs_err,
       le[qs.k]::float8 / :rows - qs.q AS max_abs_err
FROM one, qs
UNION ALL
SELECT 1000, method, workers, q, avg(abs(err)), max(abs(err)) FROM many GROUP BY method, workers, q;

\echo
\echo == Time (best of the runs, ms) and speed-up of qoe.tdigest_agg ==
CREATE VIEW best AS SELECT method, groups, workers, min(ms) AS best_ms FROM timing GROUP BY 1, 2, 3;
SELECT t.groups, t.workers,
       round(q.best_ms) AS qoe_ms, round(p.best_ms) AS packaged_ms, round(t.best_ms) AS exact_ms,
       round((p.best_ms / q.best_ms)::numeric, 2) AS qoe_vs_packaged,
       round((t.best_ms / q.best_ms)::numeric, 2) AS qoe_vs_exact
FROM best t
JOIN best q ON q.method = 'qoe' AND q.groups = t.groups AND q.workers = t.workers
JOIN best p ON p.method = 'packaged' AND p.groups = t.groups AND p.workers = t.workers
WHERE t.method = 'exact' ORDER BY t.groups, t.workers;

\echo == Rank error, one group (signed share of values <= estimate minus q) ==
SELECT workers, q,
       to_char(max(mean_abs_err) FILTER (WHERE method = 'qoe'), 'S0.0000000') AS qoe,
       to_char(max(mean_abs_err) FILTER (WHERE method = 'packaged'), 'S0.0000000') AS packaged,
       to_char(max(mean_abs_err) FILTER (WHERE method = 'exact'), 'S0.0000000') AS exact
FROM err WHERE groups = 1 GROUP BY workers, q ORDER BY workers, q;

\echo == Rank error, 1000 groups of 10,000 (mean and max of |error| over the groups) ==
SELECT workers, q,
       to_char(max(mean_abs_err) FILTER (WHERE method = 'qoe'), '0.000000') AS qoe_mean,
       to_char(max(max_abs_err) FILTER (WHERE method = 'qoe'), '0.000000') AS qoe_max,
       to_char(max(mean_abs_err) FILTER (WHERE method = 'packaged'), '0.000000') AS packaged_mean,
       to_char(max(max_abs_err) FILTER (WHERE method = 'packaged'), '0.000000') AS packaged_max
FROM err WHERE groups = 1000 GROUP BY workers, q ORDER BY workers, q;

\echo == Stored size of one digest over all values (compression 100) ==
SELECT pg_column_size(qoe.tdigest_agg(v)) AS qoe_bytes, max(qoe.tdigest_centroid_count(d)) AS qoe_centroids,
       pg_column_size(tdigest(v, 100)) AS packaged_bytes
FROM bench, (SELECT qoe.tdigest_agg(v) AS d FROM bench) s;

\echo == 288 five-minute digests merged into a day vs one digest over all values ==
CREATE TABLE five_min AS SELECT slot, qoe.tdigest_agg(v) AS d FROM bench GROUP BY slot;
SELECT qoe.tdigest_percentiles(qoe.tdigest_merge(d), ARRAY[0.5, 0.9, 0.95, 0.99, 0.999]) AS merged_p
FROM five_min \gset
SELECT qoe.tdigest_percentiles(qoe.tdigest_agg(v), ARRAY[0.5, 0.9, 0.95, 0.99, 0.999]) AS single_p
FROM bench \gset
CREATE TABLE day AS
SELECT ARRAY[count(*) FILTER (WHERE v <= (:'merged_p'::float8[])[1]), count(*) FILTER (WHERE v <= (:'merged_p'::float8[])[2]), count(*) FILTER (WHERE v <= (:'merged_p'::float8[])[3]), count(*) FILTER (WHERE v <= (:'merged_p'::float8[])[4]), count(*) FILTER (WHERE v <= (:'merged_p'::float8[])[5])] AS merged_le,
       ARRAY[count(*) FILTER (WHERE v <= (:'single_p'::float8[])[1]), count(*) FILTER (WHERE v <= (:'single_p'::float8[])[2]), count(*) FILTER (WHERE v <= (:'single_p'::float8[])[3]), count(*) FILTER (WHERE v <= (:'single_p'::float8[])[4]), count(*) FILTER (WHERE v <= (:'single_p'::float8[])[5])] AS single_le
FROM bench;
SELECT qs.q, to_char(merged_le[qs.k]::float8 / :rows - qs.q, 'S0.0000000') AS merged_err,
       to_char(single_le[qs.k]::float8 / :rows - qs.q, 'S0.0000000') AS single_err
FROM day, qs ORDER BY qs.q;

\echo == Done-when checks (serial, one group) ==
WITH s AS (SELECT method, q, abs(mean_abs_err) AS e FROM err WHERE groups = 1 AND workers = 0),
     t AS (SELECT method, best_ms FROM best WHERE groups = 1 AND workers = 0)
SELECT (SELECT p.best_ms / q.best_ms FROM t q, t p WHERE q.method = 'qoe' AND p.method = 'packaged') >= 1.5
           AS qoe_at_least_1_5x_faster,
       (SELECT bool_and(o.e <= p.e) FROM s o JOIN s p USING (q)
        WHERE o.method = 'qoe' AND p.method = 'packaged' AND q IN (0.5, 0.95, 0.99, 0.999))
           AS qoe_error_no_worse_at_50_95_99_999,
       (SELECT e <= 0.005 FROM s WHERE method = 'qoe' AND q = 0.5) AS qoe_p50_within_0_005,
       (SELECT e <= 0.001 FROM s WHERE method = 'qoe' AND q = 0.99) AS qoe_p99_within_0_001;
SQL
rm -f "$TIMING_SQL"
qoe_cluster_stop
echo "results written to bench/out/tdigest.txt"
