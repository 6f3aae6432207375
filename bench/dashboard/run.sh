#!/usr/bin/env bash
# bench/dashboard: N generated events (default 20,000,000) loaded through
# qoe.ingest in batches with the rollups on, then the 24-hour per-title QoE
# dashboard query (the top 50 titles by plays) timed three ways on the same
# data: from the rollups (qoe.qoe_metrics over the rollup levels, ranked:
# rank_by => 'plays', top_n => 50, rollups.sql), over the raw events
# (qoe.viewing_events) and over qoe.sessions. And, labelled apart, the full
# per-title answer from the rollups (every title, no ranking:
# rollups_all.sql), whose first 50 rows it checks the ranked query returns,
# figure for figure. Also prints the load rate, the
# CPU the refreshes took meanwhile, the time the rollups took to catch up
# after the load, the stored sizes, and the rows of each level in the range.
#
#   bash bench/dashboard/run.sh [events] [viewers]
#
# QOE_BENCH_RUNS (default 10) timed runs per query after one warm-up;
# QOE_BENCH_RAW_RUNS (default: the same) for the raw-events query, which
# takes seconds per run at full size. QOE_BENCH_KEEP=1 leaves the cluster
# running at the end (it prints how to reach and stop it), to profile the
# queries against the loaded data again and again.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/deps.sh"
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/look.sh"
HERE=$QOE_ROOT/bench/dashboard

EVENTS=${1:-20000000}
# qoe_gen makes about 38 events per simulated second per 1000 viewers: enough
# viewers that N events span about 2 days (6566 events per viewer), at least 2000
VIEWERS=${2:-$(( EVENTS / 6566 > 2000 ? EVENTS / 6566 : 2000 ))}
BATCH=5000
RUNS=${QOE_BENCH_RUNS:-10}
RAW_RUNS=${QOE_BENCH_RAW_RUNS:-$RUNS}

# stored rows, indexes, session windows and WAL: about 1 kB per event at most
need_kb=$(( EVENTS / 1000 + 1048576 ))
avail_kb=$(df -Pk /tmp | awk 'NR == 2 { print $4 }')
if [ "$avail_kb" -lt "$need_kb" ]; then
	echo "bench/dashboard: $((avail_kb / 1024)) MB free in /tmp, $((need_kb / 1024)) MB needed for $EVENTS events" >&2
	exit 1
fi

WORK=$(mktemp -d /tmp/qoe_bench.XXXXXX)
chmod 755 "$WORK"
qoe_install_deps
qoe_build_install
qoe_build_feed "$WORK"
# Shared memory in huge pages, as PostgreSQL advises for a large
# shared_buffers (doc/install.md): with 4 kB pages a new backend takes a
# page fault on each page of shared_buffers it touches first, about 10 ms of
# a new connection's first dashboard query here. Reserved for the run when
# the kernel lets us (root), given back at the end; QOE_BENCH_HUGE_PAGES=0
# runs without. 1,100 pages of 2 MB: shared_buffers and the rest of the
# shared memory (shared_memory_size_in_huge_pages is 1,061).
HUGE_BEFORE=$(cat /proc/sys/vm/nr_hugepages)
HUGE_PAGES=try
if [ "${QOE_BENCH_HUGE_PAGES:-1}" = 1 ] && [ "$(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo)" = 2048 ] &&
	echo $(( HUGE_BEFORE + 1100 )) 2>/dev/null >/proc/sys/vm/nr_hugepages; then
	if [ "$(cat /proc/sys/vm/nr_hugepages)" -ge $(( HUGE_BEFORE + 1100 )) ]; then
		HUGE_PAGES=on
	else
		echo "$HUGE_BEFORE" >/proc/sys/vm/nr_hugepages
	fi
fi
huge_pages_back() { echo "$HUGE_BEFORE" 2>/dev/null >/proc/sys/vm/nr_hugepages || true; }
# as bench/ingest_sql; work_mem large enough that the raw and sessions
# queries aggregate in memory (their best case)
qoe_cluster_start "shared_buffers = 2GB
huge_pages = $HUGE_PAGES
work_mem = 128MB
max_wal_size = 8GB
checkpoint_timeout = 30min
synchronous_commit = off
fsync = on" || { huge_pages_back; exit 1; }
if [ "${QOE_BENCH_KEEP:-0}" = 1 ]; then
	trap 'rm -rf "$WORK"; echo "
bench/dashboard: cluster kept: export PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER
  stop it: runuser -u postgres -- $PGBIN/pg_ctl -D $QOE_PGDATA_DIR/data -m fast stop; rm -rf $QOE_PGDATA_DIR; echo $HUGE_BEFORE >/proc/sys/vm/nr_hugepages"' EXIT
else
	trap 'qoe_cluster_stop; huge_pages_back; rm -rf "$WORK"' EXIT
fi

psql -qX -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION qoe_ext CASCADE;
\copy qoe.content (content_id, title, duration_sec, genres) FROM program '$QOE_ROOT/src/tools/qoe_gen --seed 7 --catalog' WITH (FORMAT csv)
SELECT qoe.premake_partitions() \\g /dev/null
-- server-side time of one statement: planning + execution; and the CPU
-- the backend used meanwhile (steadier than the clock on a shared machine;
-- a parallel plan's workers are not in it)
CREATE TABLE bench_times (query text, run int, ms float8, cpu_ms float8);
CREATE FUNCTION bench_cpu_ms() RETURNS float8 LANGUAGE sql AS \$\$
    SELECT (split_part(s, ' ', 14)::float8 + split_part(s, ' ', 15)::float8) * 1000 / $(getconf CLK_TCK)
      FROM pg_read_file('/proc/' || pg_backend_pid() || '/stat') s
\$\$;
CREATE FUNCTION bench_ms(q text) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE
    j json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ' || q INTO j;
    RETURN (j -> 0 ->> 'Planning Time')::float8 + (j -> 0 ->> 'Execution Time')::float8;
END
\$\$;
SQL

now_s() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

# The events: the simulation ends about now, so that the last 24 hours hold
# the most recent ones; it may not run more than 30 minutes past the present
# (qoe.future_event_window is 1 hour) nor start more than 2.5 days ago
# (qoe.late_event_window is 3 days, and the load takes a while).
SPAN_S=$(( EVENTS * 1000 / (VIEWERS * 38) ))
[ "$SPAN_S" -le 216000 ] || SPAN_S=216000
NOW_S=$(date +%s)
START_MS=$(( (NOW_S - SPAN_S) * 1000 ))
GEN="$QOE_ROOT/src/tools/qoe_gen --seed 7 --events $EVENTS --duration-sec $(( SPAN_S + 1800 ))
     --viewers $VIEWERS --users $(( VIEWERS * 25 )) --start-ms $START_MS --format array --batch $BATCH"

# generated and fed in one stream: no temporary files, whatever N
# the launcher runs the refreshes: its CPU seconds (user + system)
launcher_cpu() {
	local pid=
	until [ -n "$pid" ]; do
		pid=$(psql -qXAt -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'qoe_ext launcher'")
		[ -n "$pid" ] || sleep 0.1
	done
	awk '{ printf "%.2f\n", ($14 + $15) / '"$(getconf CLK_TCK)"' }' "/proc/$pid/stat"
}
cpu0=$(launcher_cpu)
t0=$(now_s)
read -r accepted rejected duplicates ingest_cpu < <($GEN | "$WORK/feed" "")
t1=$(now_s)
# caught up: every delta merged by a refresh that ended after the last batch
caught=t
look_rollups_caught_up "$t1" 3600 || caught=f
t2=$t_caught
refresh_cpu=$(echo "$(launcher_cpu) - $cpu0" | bc -l)
if [ "$caught" != t ]; then
	echo "bench/dashboard: the rollups did not catch up within an hour:" >&2
	psql -qX -c "TABLE qoe.rollup_status" >&2
	exit 1
fi
psql -qX -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null

read -r sessions events_24h raw_bytes sessions_bytes windows_bytes rollup_bytes levels_bytes rollup_rows rollup_rows_24h <<<"$(psql -qXAt -F ' ' -c "
    SELECT (SELECT count(*) FROM qoe.sessions),
           (SELECT count(*) FROM qoe.viewing_events WHERE event_time >= now() - interval '24 hours'),
           (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits
             WHERE inhparent = 'qoe.viewing_events'::regclass),
           pg_total_relation_size('qoe.sessions'),
           pg_total_relation_size('qoe.session_windows'),
           pg_total_relation_size('qoe.qoe_5min'),
           pg_total_relation_size('qoe.qoe_rollups'),
           (SELECT count(*) FROM qoe.qoe_5min),
           (SELECT count(*) FROM qoe.qoe_5min WHERE window_start >= now() - interval '24 hours')")"

query() { # name: a query file
	sed '/^--/d' "$HERE/$1.sql"
}
time_run() { # name run
	psql -qX -v ON_ERROR_STOP=1 -v q="$(query "$1")" <<SQL >/dev/null
SELECT bench_cpu_ms() AS cpu0 \\gset
INSERT INTO bench_times VALUES ('$1', $2, bench_ms(:'q'));
UPDATE bench_times SET cpu_ms = bench_cpu_ms() - :cpu0 WHERE query = '$1' AND run = $2;
SQL
}
# one warm-up, then the timed runs, each its own statement and transaction;
# the contenders in rounds, so that a machine getting busier part-way
# touches all of them alike
for run in $(seq 0 "$RUNS"); do
	time_run rollups "$run"
	time_run rollups_all "$run"
	time_run sessions "$run"
	[ "$run" -gt "$RAW_RUNS" ] || time_run raw "$run"
done
# the rollups queries again, every run in one connection, as a dashboard's
# connection pool runs them: the runs above each start a backend, which reads
# its catalog entries, compiles qoe.qoe_metrics and maps the shared buffers
# it touches for the first time
for name in rollups rollups_all; do
	for run in $(seq 0 "$RUNS"); do
		cat <<SQL
SELECT bench_cpu_ms() AS cpu0 \\gset
INSERT INTO bench_times VALUES ('$name, one connection', $run, bench_ms(:'q'));
UPDATE bench_times SET cpu_ms = bench_cpu_ms() - :cpu0 WHERE query = '$name, one connection' AND run = $run;
SQL
	done | psql -qX -v ON_ERROR_STOP=1 -v q="$(query $name)" >/dev/null
done

printf '\nbench/dashboard: %d events (%d accepted, %d rejected, %d repeated), %d viewers, %d users, %.1f simulated hours\n' \
	"$EVENTS" "$accepted" "$rejected" "$duplicates" "$VIEWERS" $(( VIEWERS * 25 )) "$(echo "$SPAN_S / 3600" | bc -l)"
printf '  load: %.1f s, %.0f events/s (generation and qoe.ingest in batches of %d, rollups on); ingest backend %.1f CPU s\n' \
	"$(elapsed "$t0" "$t1")" "$(echo "$accepted / $(elapsed "$t0" "$t1")" | bc -l)" "$BATCH" "$ingest_cpu"
printf '  rollups caught up %.1f s after the last batch; the launcher (refreshes) used %.1f CPU s during the load and catch-up\n' \
	"$(elapsed "$t1" "$t2")" "$refresh_cpu"
printf '  stored: %d sessions; %d events in the last 24 h\n' "$sessions" "$events_24h"
printf '  sizes: qoe.viewing_events %d MB, qoe.sessions %d MB, qoe.session_windows %d MB, qoe.qoe_5min %d MB (%d rows, %d in the last 24 h), qoe.qoe_rollups %d MB; rollups / viewing_events %.4f\n' \
	$(( raw_bytes >> 20 )) $(( sessions_bytes >> 20 )) $(( windows_bytes >> 20 )) $(( rollup_bytes >> 20 )) \
	"$rollup_rows" "$rollup_rows_24h" $(( levels_bytes >> 20 )) "$(echo "($rollup_bytes + $levels_bytes) / $raw_bytes" | bc -l)"
printf '  rows per level (all; in the last 24 hours):\n'
psql -qXAt -F ' ' -c "SELECT level, count(*), count(*) FILTER (WHERE window_start >= now() - interval '24 hours')
                        FROM qoe.qoe_rollups GROUP BY 1 ORDER BY 1" | awk '{ printf "    %-12s %9d %9d\n", $1, $2, $3 }'
printf '\n  24-hour per-title dashboard (top 50 titles by plays), server-side planning + execution ms\n'
printf '  (rollups: ranked, rank_by plays, top_n 50; rollups_all: every title, unranked, not the dashboard)\n'
printf '  (EXPLAIN ANALYZE, TIMING OFF), 1 warm-up + %d timed runs (raw: %d); load average %s;\n' "$RUNS" "$RAW_RUNS" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  shared memory in huge pages: %s;\n' "$(case $HUGE_PAGES in on) echo yes;; *) echo 'no (could not reserve them: 4 kB pages)';; esac)"
printf '  and the backend'"'"'s CPU ms per run, mean (clock ticks of %d ms; without parallel workers)\n' $(( 1000 / $(getconf CLK_TCK) ))
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
\pset footer off
WITH t AS (
    SELECT query, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS median,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) AS p95,
           min(ms), max(ms), avg(cpu_ms) AS cpu, count(*) AS runs
      FROM bench_times WHERE run > 0 GROUP BY query),
r AS (SELECT median FROM t WHERE query = 'rollups')
SELECT CASE query WHEN 'rollups' THEN 'rollups (top 50 ranked)'
                  WHEN 'rollups, one connection' THEN 'rollups (top 50 ranked), one connection'
                  WHEN 'rollups_all' THEN 'rollups_all (every title, unranked)'
                  WHEN 'rollups_all, one connection' THEN 'rollups_all (every title, unranked), one connection'
                  ELSE query END AS "from", runs, round(t.median::numeric, 1) AS "median ms", round(p95::numeric, 1) AS "p95 ms",
       round(min::numeric, 1) AS "min ms", round(max::numeric, 1) AS "max ms",
       round((t.median / r.median)::numeric, 1) AS "x rollups", round(cpu::numeric, 1) AS "CPU ms"
  FROM t, r
 ORDER BY t.median;
SELECT CASE WHEN r < 50 THEN 'met' ELSE 'MISSED' END AS "target: rollups median < 50 ms",
       CASE WHEN raw >= 100 * r THEN 'met' ELSE 'MISSED' END AS "target: raw / rollups >= 100"
  FROM (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE query = 'rollups') AS r,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE query = 'raw') AS raw
          FROM bench_times WHERE run > 0) m;
SQL
# the ranked query's rows are the full answer's first 50, figure for figure
# (one statement: the same now() and snapshot for both)
printf '\n  rollups (ranked) = rollups_all ordered and cut at 50, same rows and figures: %s\n' \
	"$(psql -qXAt -v ON_ERROR_STOP=1 -c "SELECT CASE WHEN count(*) = 0 THEN 'yes' ELSE 'NO, ' || count(*) || ' rows differ' END
	    FROM (((SELECT * FROM ($(query rollups)) a)
	            EXCEPT ALL (SELECT * FROM ($(query rollups_all)) b ORDER BY plays DESC, content_id LIMIT 50))
	          UNION ALL
	          ((SELECT * FROM ($(query rollups_all)) b ORDER BY plays DESC, content_id LIMIT 50)
	            EXCEPT ALL (SELECT * FROM ($(query rollups)) a))) x")"
# the figures themselves, top 5 titles each way (they differ by design:
# the rollups count by event time, (2) and (3) sessions started in the range)
for q in rollups raw sessions; do
	printf '\n  %s, top 5:\n' "$q"
	psql -qX -v ON_ERROR_STOP=1 -P footer=off -c "SELECT content_id, attempts, plays,
	    round(vst_p50_ms::numeric) AS vst_p50, round(vst_p95_ms::numeric) AS vst_p95, round(vst_p99_ms::numeric) AS vst_p99,
	    round(rebuffering_ratio::numeric, 5) AS rebuf, round(qoe_score::numeric, 2) AS score,
	    round(completion_rate::numeric, 3) AS completion, unique_viewers
	  FROM ($(query $q)) d ORDER BY plays DESC, content_id LIMIT 5"
done
# the hll's error on the rollups' own definition (viewers active in the
# windows of the range), against the exact count from qoe.session_windows
printf '\n  unique viewers of the rollups top 5: hll against exact (same definition)\n'
psql -qX -v ON_ERROR_STOP=1 -P footer=off -c "SELECT d.content_id, d.unique_viewers AS hll,
        (SELECT count(DISTINCT w.user_id) FROM qoe.session_windows w
          WHERE w.content_id = d.content_id
            AND w.window_start >= now() - interval '24 hours' AND w.window_start < now()) AS exact
   FROM ($(query rollups)) d ORDER BY d.plays DESC, d.content_id LIMIT 5" |
	awk 'NR <= 2 { print; next } NF { print $0 sprintf(" | %+.1f %%", 100 * ($3 / $5 - 1)) }'
