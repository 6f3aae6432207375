#!/usr/bin/env bash
# bench/redis: what publishing to Redis costs ingest, and how fresh Redis is.
#
# One throwaway cluster, one redis-server on loopback, one mock Kafka broker;
# QOE_BENCH_RUNS rounds (default 3), on and off alternating in order, so
# that a drift of the (shared) machine touches both:
#   (a) N generated events (default 400,000, timestamps ending a minute ago,
#       so the views the publisher reads are full) through qoe.ingest in
#       batches of 500 (bench/ingest_sql/feed.c), publishing off and on; at
#       VIEWERS, the events span about 85 minutes: most change windows the
#       qoe_metrics hashes do not show (a backlog caught up);
#   (a') the same through qoe.ingest with CURRENT_VIEWERS (default 35,000)
#       sessions, so that the events span under 5 minutes ending 10 s ago:
#       every event changes the windows the hashes show (the worst case: a
#       live audience as large as ingest's full speed);
#   (b) the same number through one Kafka worker from the mock broker
#       (a topic of its own per run), publishing off and on.
#   Per run: events/s (wall clock) and events per server CPU second (the
#   ingest backend or worker, the launcher, the publisher and every other
#   process of the cluster, and redis-server), then the ratios on / off of
#   the medians, and with publishing on the share of that CPU the publisher
#   and redis-server used (what publishing costs a CPU-bound ingest; steadier
#   than the ratios when the machine's speed drifts between runs).
#   (c) commit-to-visible-in-Redis latency, publishing on, under a steady
#       10,000 events/s through qoe.ingest (batches of 500): bench/redis/probe.c
#       commits a marker (a new session of a new title) every 100 ms while
#       the load runs (on schedule, several waiting at once) and
#       polls Redis every 1 ms (the rollups every 10 ms); latency = first poll that sees the key minus
#       the moment the marker's COMMIT returned to the client, for
#       concurrent_viewers:{id} and for the plays field of qoe_metrics:{id}
#       (both published by the round the ingest commit wakes, which reads
#       the marker's title); and commit to visible in the rollups (the
#       marker's play in qoe.qoe_5min, polled in PostgreSQL: what
#       qoe.qoe_metrics reads for the current windows). Two loads:
#       compressed: qoe_gen --rate 10000 with 2000 viewers: 30 s of wall time
#         carry about 65 minutes of event time, so every refresh also closes
#         windows of the coarser levels (once per round, from empty tables);
#       live: event time is the wall clock (qoe_gen --realtime), 260,000
#         viewers (38 events per simulated second per 1000 viewers: about
#         10,000 events/s), after WARM s of event time ingested as fast as
#         possible (sessions open in the generator's first minute) and
#         merged into the rollups (the merge caught up); then
#         QOE_BENCH_RUNS windows of latency_seconds - 6 s on the same stream,
#         during which the publisher's rate of notes and the spacing of its
#         woken rounds are sampled every 100 ms (qoe.redis_status): above
#         40,000 notes a second the rounds would be spaced further apart.
# Prints the load average before and after: the machine may be shared.
# QOE_BENCH_LIVE=0 skips (c) live (about 7 of the 14 minutes), QOE_BENCH_LATENCY=0
# also (c) compressed: (a) and (b) alone.
#
#   bash bench/redis/run.sh [events] [viewers] [latency_seconds]
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/deps.sh"
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
. "$QOE_ROOT/test/lib/look.sh"
. "$QOE_ROOT/test/lib/redis.sh"

EVENTS=${1:-400000}
VIEWERS=${2:-2000}
LAT_SECONDS=${3:-30}
LAT_RATE=10000
LIVE_VIEWERS=${QOE_BENCH_LIVE_VIEWERS:-260000}
CURRENT_VIEWERS=${QOE_BENCH_CURRENT_VIEWERS:-35000}
WARM=${QOE_BENCH_WARM_SECONDS:-120}
RUNS=${QOE_BENCH_RUNS:-3}
LATENCY=${QOE_BENCH_LATENCY:-1}
LIVE=${QOE_BENCH_LIVE:-$LATENCY}
BATCH=500
WORK=$(mktemp -d /tmp/qoe_bench.XXXXXX)
chmod 755 "$WORK"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

qoe_install_deps
qoe_build_install
qoe_redis_start
qoe_cluster_start "shared_buffers = 1GB
max_wal_size = 8GB
checkpoint_timeout = 30min
synchronous_commit = off"
trap 'qoe_cluster_stop; qoe_redis_stop; rm -rf "$QOE_REDIS_DIR" "$WORK"' EXIT
qoe_kafka_start $(for r in $(seq "$RUNS"); do echo "off_$r:16 on_$r:16"; done)
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "CREATE EXTENSION qoe_ext CASCADE" \
	-c "\\copy qoe.content (content_id, title, duration_sec, genres) FROM PROGRAM '$QOE_ROOT/src/tools/qoe_gen --seed 7 --catalog' WITH (FORMAT csv)" \
	-c "SELECT qoe.premake_partitions()"
# the supervisor starts the launcher (the scheduler) within 10 s of CREATE
# EXTENSION: before, the first run would ingest without its refreshes
qoe_wait_for 30 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'qoe_ext launcher'" 1
qoe_build_feed "$WORK"
cc -O2 -Wall -Wextra -Werror -I"$(pg_config --includedir)" -o "$WORK/probe" "$QOE_ROOT/bench/redis/probe.c" -lpq -lhiredis

calc() { echo "$*" | bc -l; }
now_s() { date +%s.%N; }
CLK_TCK=$(getconf CLK_TCK)
PM_PID=$(head -1 "$QOE_PGDATA_DIR/data/postmaster.pid")
# "pid ticks" of every process of the cluster
cluster_ticks() {
	local p
	for p in $PM_PID $(pgrep -P "$PM_PID"); do
		awk -v p="$p" '{ print p, $14 + $15 }' "/proc/$p/stat" 2>/dev/null || true
	done
}
# CPU seconds the cluster's processes alive at the end used since the "before" snapshot
cluster_cpu_since() {
	awk -v hz="$CLK_TCK" 'NR == FNR { b[$1] = $2; next } { s += $2 - ($1 in b ? b[$1] : 0) }
	                       END { printf "%.2f", s / hz }' "$1" <(cluster_ticks)
}
# span of N generated events, ms: span_ms SEED N VIEWERS
span_ms() { "$QOE_ROOT/src/tools/qoe_gen" --seed "$1" --events "$2" --viewers "$3" --start-ms 0 | tail -1 | grep -o '"timestamp":[0-9]*' | cut -d: -f2; }
SPAN=$(span_ms 7 "$EVENTS" "$VIEWERS")
CURRENT_SPAN=$(span_ms 7 "$EVENTS" "$CURRENT_VIEWERS")
[ "$CURRENT_SPAN" -lt 290000 ] || { echo "(a'): $EVENTS events of $CURRENT_VIEWERS viewers span over 5 minutes" >&2; exit 1; }
LAT_SPAN=$(span_ms 9 $((LAT_RATE * LAT_SECONDS)) "$VIEWERS")
# start of events spanning $1 ms that end $2 ms ago (default a minute)
recent_start() { echo $(( $(date +%s%3N) - $1 - ${2:-60000} )); }

publishing() {
	if [ "$1" = on ]; then
		psql -qX -o /dev/null -c "ALTER SYSTEM SET qoe.redis_host = '127.0.0.1'" \
			-c "ALTER SYSTEM SET qoe.redis_port = $REDIS_PORT" -c "SELECT pg_reload_conf()"
		qoe_wait_for 30 "SELECT state FROM qoe.redis_status" connected
	else
		psql -qX -o /dev/null -c "ALTER SYSTEM SET qoe.redis_host = ''" -c "SELECT pg_reload_conf()"
		qoe_wait_for 30 "SELECT state FROM qoe.redis_status" off
	fi
}
fresh_tables() {
	psql -qX -v ON_ERROR_STOP=1 -o /dev/null \
		-c "TRUNCATE qoe.viewing_events, qoe.sessions, qoe.dead_letters, qoe.source_offsets" \
		-c "TRUNCATE qoe.session_window_deltas, qoe.session_windows, qoe.qoe_5min, qoe.qoe_rollups" -c "CHECKPOINT"
	qoe_rcli FLUSHALL >/dev/null
}

declare -A eps cpu_eps proc_cpu pub_rounds pub_share
# CPU ticks the process of a backend_type has used so far (0 if none runs)
proc_ticks() {
	local pid
	pid=$(psql -qXAt -c "SELECT pid FROM pg_stat_activity WHERE backend_type = '$1'")
	[ -n "$pid" ] && awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0
}
# "viewer_rounds woken_rounds" of qoe.redis_status (counters since the server started)
pub_round_counts() { psql -qXAt -F' ' -c "SELECT viewer_rounds, woken_rounds FROM qoe.redis_status"; }
# CPU ticks redis-server has used so far
redis_ticks() { awk '{ print $14 + $15 }' "/proc/$(cat "$QOE_REDIS_DIR/redis.pid")/stat"; }
# the publisher's, the launcher's and redis-server's CPU ticks and the publisher's rounds, now
procs_before() {
	p0=$(proc_ticks "qoe_ext publisher")
	l0=$(proc_ticks "qoe_ext launcher")
	r0=$(redis_ticks)
	read -r v0 w0 < <(pub_round_counts)
}
# CPU seconds redis-server used since procs_before
redis_cpu_since() { calc "($(redis_ticks) - $r0) / $CLK_TCK"; }
# record KEY CPU_S: the CPU seconds the publisher and the launcher used since
# procs_before, the publisher's rounds that read the viewers / woken rounds,
# and the share of the run's CPU_S (every process of the cluster, the
# client's backend, redis-server) the publisher and redis-server used
procs_record() {
	local v1 w1 pub
	pub=$(calc "($(proc_ticks "qoe_ext publisher") - $p0) / $CLK_TCK")
	proc_cpu[$1]=$(printf '%.2f/%.2f' "$pub" "$(calc "($(proc_ticks "qoe_ext launcher") - $l0) / $CLK_TCK")")
	read -r v1 w1 < <(pub_round_counts)
	pub_rounds[$1]=$((v1 - v0))/$((w1 - w0))
	pub_share[$1]=$(calc "100 * ($pub + $(redis_cpu_since)) / $2")
}
# (a) record KEY VIEWERS START_MS: events/s and events per server CPU second of one run
run_sql() {
	local key=$1 before=$WORK/ticks t0 t1 backend_cpu p0 l0 r0 v0 w0 cpu
	"$QOE_ROOT/src/tools/qoe_gen" --seed 7 --events "$EVENTS" --viewers "$2" \
		--start-ms "$3" --format array --batch $BATCH >"$WORK/batches.json"
	fresh_tables
	cluster_ticks >"$before"
	procs_before
	t0=$(now_s)
	read -r _ _ _ backend_cpu < <("$WORK/feed" "" <"$WORK/batches.json")
	t1=$(now_s)
	eps[$key]=$(calc "$EVENTS / ($t1 - $t0)")
	cpu=$(calc "$backend_cpu + $(cluster_cpu_since "$before") + $(redis_cpu_since)")
	cpu_eps[$key]=$(calc "$EVENTS / $cpu")
	procs_record "$key" "$cpu"
}
# (b) one worker, a topic per run
run_kafka() {
	local key=$1 topic=$2 before=$WORK/ticks t0 t1 stored=0 deadline p0 l0 r0 v0 w0 cpu
	"$QOE_ROOT/src/tools/qoe_gen" --seed 7 --events "$EVENTS" --viewers "$VIEWERS" \
		--start-ms "$(recent_start "$SPAN")" --kafka-key | qoe_kafka_produce --keyed "$topic"
	[ "$(qoe_kafka_count "$topic")" -eq "$EVENTS" ] || { echo "the mock dropped events of $topic" >&2; exit 1; }
	fresh_tables
	cluster_ticks >"$before"
	procs_before
	t0=$(now_s)
	psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "SELECT qoe.add_source(name => '$topic',
		brokers => '$QOE_KAFKA_BROKERS', topic => '$topic', group_id => 'bench.$topic.$$', workers => 1,
		batch_size => 10000, flush_interval_ms => 100, start_position => 'earliest')"
	deadline=$((SECONDS + 600))
	look_open
	until [ "$stored" -ge "$EVENTS" ]; do
		[ $SECONDS -lt $deadline ] || { echo "source $topic stored $stored of $EVENTS in 600 s" >&2; exit 1; }
		sleep 0.1
		look "SELECT coalesce(sum(next_offset), 0) FROM qoe.source_offsets WHERE source = '$topic'"
		stored=$look_reply
	done
	t1=$(now_s)
	look_close
	eps[$key]=$(calc "$EVENTS / ($t1 - $t0)")
	cpu=$(calc "$(cluster_cpu_since "$before") + $(redis_cpu_since)")
	cpu_eps[$key]=$(calc "$EVENTS / $cpu")
	procs_record "$key" "$cpu"
	psql -qX -o /dev/null -c "SELECT qoe.drop_source('$topic')"
	qoe_wait_for 30 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'qoe_ext worker'" 0
}
# (c) latency under a steady load; per run: "p50 p99 max" of each key,
# the load's events/s, and the CPU share of one core the publisher and the
# launcher used meanwhile
declare -A lat_v lat_m lat_r lat_rate lat_pub lat_launch
run_latency() {
	local run=$1 n=$((LAT_RATE * LAT_SECONDS)) t0 t1 feed_pid pub launch p0 l0
	fresh_tables
	pub=$(psql -qXAt -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'qoe_ext publisher'")
	launch=$(psql -qXAt -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'qoe_ext launcher'")
	# the load's own end: the probe's last markers may wait longer
	( "$QOE_ROOT/src/tools/qoe_gen" --seed 9 --events $n --viewers "$VIEWERS" --start-ms "$(recent_start "$LAT_SPAN")" \
		--rate $LAT_RATE --format array --batch $BATCH | "$WORK/feed" "" >/dev/null
	  now_s >"$WORK/feed_end" ) &
	feed_pid=$!
	t0=$(now_s)
	sleep 3		# the load settles: not a wait for a condition, a measuring window
	p0=$(awk '{ print $14 + $15 }' "/proc/$pub/stat")
	l0=$(awk '{ print $14 + $15 }' "/proc/$launch/stat")
	"$WORK/probe" "" "$REDIS_PORT" $(( (LAT_SECONDS - 6) * 10 )) 100 $((900000000 + run * 100000)) \
		$((LAT_SECONDS - 6)) >"$WORK/lat_$run"
	lat_pub[$run]=$(calc "($(awk '{ print $14 + $15 }' "/proc/$pub/stat") - $p0) / $CLK_TCK / ($(now_s) - $t0 - 3)")
	lat_launch[$run]=$(calc "($(awk '{ print $14 + $15 }' "/proc/$launch/stat") - $l0) / $CLK_TCK / ($(now_s) - $t0 - 3)")
	wait "$feed_pid"
	t1=$(cat "$WORK/feed_end")
	lat_rate[$run]=$(calc "$n / ($t1 - $t0)")
	lat_v[$run]=$(pct 1 "$WORK/lat_$run")
	lat_m[$run]=$(pct 2 "$WORK/lat_$run")
	lat_r[$run]=$(pct 3 "$WORK/lat_$run")
}
# (c) live: one stream, caught up, then RUNS probe windows on it
declare -A live_v live_m live_r live_rate live_pub live_launch live_lag live_refresh live_pace
# every 100 ms until killed, into $1: the publisher's rate of notes and the
# spacing of its woken rounds (qoe.redis_status), through one psql session
sample_pace() {
	look_open
	while look "SELECT round(notes_per_second), round_spacing_ms FROM qoe.redis_status"; do
		echo "$look_reply"
		sleep 0.1
	done >"$1"
}
run_live() {
	local windows=$((LAT_SECONDS - 6)) t0 feed_pid pub launch p0 l0 i0 r0 ts run deadline caught= pace_pid
	fresh_tables
	pub=$(psql -qXAt -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'qoe_ext publisher'")
	launch=$(psql -qXAt -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'qoe_ext launcher'")
	"$QOE_ROOT/src/tools/qoe_gen" --seed 11 --viewers "$LIVE_VIEWERS" --start-ms $(( $(date +%s%3N) - WARM * 1000 )) \
		--duration-sec $((WARM + 300 + RUNS * (windows + 10))) --realtime --format array --batch $BATCH |
		"$WORK/feed" "" >/dev/null 2>&1 &
	feed_pid=$!
	t0=$(now_s)
	# caught up: the newest event stored is within 2 s of now, and so are the
	# rollups: the warm-up leaves the merge about a million deltas, whose
	# merges take seconds each for minutes after ingest caught up, and which
	# every real-time read of qoe_metrics scans meanwhile (measured before
	# session 17: a transient, not the steady load); the last merge ended
	# within 2 s and took under 1 s (else probe anyway, after 420 s)
	deadline=$((SECONDS + 420))
	while [ $SECONDS -lt $deadline ]; do
		caught=$(psql -qXAt -c "SELECT coalesce(max(last_event_at) > pg_catalog.now() - interval '2 s', false)
		                               AND (SELECT j.last_duration_ms < 1000 AND j.last_finished > pg_catalog.now() - interval '2 s'
		                                      FROM qoe.scheduler_status j WHERE j.job = 'refresh_rollups')
		                          FROM qoe.sessions")
		[ "$caught" = t ] && break
		sleep 0.5
	done
	live_caught=$(printf '%.0f s%s' "$(calc "$(now_s) - $t0")" "$( [ "$caught" = t ] || echo ' (not caught up)')")
	for run in $(seq "$RUNS"); do
		p0=$(awk '{ print $14 + $15 }' "/proc/$pub/stat")
		l0=$(awk '{ print $14 + $15 }' "/proc/$launch/stat")
		i0=$(psql -qXAt -c "SELECT sum(n_tup_ins) FROM pg_stat_user_tables WHERE relname LIKE 'viewing_events%'")
		r0=$(psql -qXAt -c "SELECT runs FROM qoe.scheduler_status WHERE job = 'refresh_rollups'")
		ts=$(now_s)
		sample_pace "$WORK/pace_$run" &
		pace_pid=$!
		"$WORK/probe" "" "$REDIS_PORT" $((windows * 10)) 100 $((950000000 + run * 100000)) "$windows" >"$WORK/live_$run"
		kill "$pace_pid" 2>/dev/null || true
		wait "$pace_pid" 2>/dev/null || true
		live_pace[$run]=$(sort -g "$WORK/pace_$run" |
			awk '{ v[NR] = $1; if ($2 > s) s = $2 } END { printf "%.0f/%.0f/%.0f", v[int((NR + 1) * 0.5)], v[NR], s }')
		live_pub[$run]=$(calc "($(awk '{ print $14 + $15 }' "/proc/$pub/stat") - $p0) / $CLK_TCK / ($(now_s) - $ts)")
		live_launch[$run]=$(calc "($(awk '{ print $14 + $15 }' "/proc/$launch/stat") - $l0) / $CLK_TCK / ($(now_s) - $ts)")
		live_rate[$run]=$(calc "($(psql -qXAt -c "SELECT sum(n_tup_ins) FROM pg_stat_user_tables WHERE relname LIKE 'viewing_events%'") - $i0) / ($(now_s) - $ts)")
		live_lag[$run]=$(psql -qXAt -c "SELECT round(extract(epoch FROM pg_catalog.now() - max(last_event_at)) * 1000) FROM qoe.sessions")
		live_refresh[$run]=$(psql -qXAt -c "SELECT runs - $r0 FROM qoe.scheduler_status WHERE job = 'refresh_rollups'")
		live_v[$run]=$(pct 1 "$WORK/live_$run")
		live_m[$run]=$(pct 2 "$WORK/live_$run")
		live_r[$run]=$(pct 3 "$WORK/live_$run")
	done
	# qoe_gen exits on its next line (EPIPE)
	kill "$feed_pid" 2>/dev/null || true
	wait "$feed_pid" 2>/dev/null || true
}
# "p50 p99 max" of column c (a -1, never seen within 5 s, sorts as the largest)
pct() {
	awk -v c="$1" '{ print ($c < 0 ? 99999 : $c) }' "$2" | sort -g |
		awk '{ v[NR] = $1 } END { printf "%.0f %.0f %.0f", v[int((NR + 1) * 0.5)], v[int(NR * 0.99 + 0.5)], v[NR] }'
}

for run in $(seq "$RUNS"); do
	for mode in $( [ $((run % 2)) = 1 ] && echo "off on" || echo "on off"); do
		publishing "$mode"
		run_sql "sql_$mode,$run" "$VIEWERS" "$(recent_start "$SPAN")"
		run_sql "current_$mode,$run" "$CURRENT_VIEWERS" "$(recent_start "$CURRENT_SPAN" 10000)"
		run_kafka "kafka_$mode,$run" "${mode}_$run"
	done
	if [ "$LATENCY" != 0 ]; then
		publishing on
		run_latency "$run"
	fi
	echo "round $run of $RUNS done"
done
[ "$LIVE" = 0 ] || run_live

# "median min max" of the runs of one measure: stats ARRAY_NAME KEY
stats() {
	local -n values=$1
	local r
	for r in $(seq "$RUNS"); do echo "${values[$2,$r]}"; done | sort -g |
		awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}
row() {
	local e e_min e_max c c_min c_max
	read -r e e_min e_max <<<"$(stats eps "$2")"
	read -r c c_min c_max <<<"$(stats cpu_eps "$2")"
	printf '  %-32s %9.0f %7.0f-%-7.0f %5.1f%%  %9.0f %7.0f-%-7.0f\n' "$1" "$e" "$e_min" "$e_max" \
		"$(calc "100 * ($e_max - $e_min) / $e")" "$c" "$c_min" "$c_max"
}
ratio() {
	local on off con coff
	read -r on _ <<<"$(stats eps "$2_on")"
	read -r off _ <<<"$(stats eps "$2_off")"
	read -r con _ <<<"$(stats cpu_eps "$2_on")"
	read -r coff _ <<<"$(stats cpu_eps "$2_off")"
	printf '  %-32s wall %.3f, per CPU second %.3f (target >= 0.95)\n' "$1" "$(calc "$on / $off")" "$(calc "$con / $coff")"
}
list() {
	local -n values=$1
	local r
	for r in $(seq "$RUNS"); do printf '%s%s' "$( [ "$r" -gt 1 ] && echo '; ')" "${values[$r]}"; done
}
printf "\nbench/redis: %d events, %d concurrent viewers ((a') %d), batches of %d, %d runs each, %d cores; load average before %s, after %s\n" \
	"$EVENTS" "$VIEWERS" "$CURRENT_VIEWERS" $BATCH "$RUNS" "$(nproc)" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  %-32s %9s %-15s %6s  %9s %-15s\n' contender 'events/s' ' min-max' spread 'per CPU s' ' min-max'
row "(a) qoe.ingest, publishing off" sql_off
row "(a) qoe.ingest, publishing on" sql_on
row "(a') current windows, off" current_off
row "(a') current windows, on" current_on
row "(b) 1 Kafka worker, publishing off" kafka_off
row "(b) 1 Kafka worker, publishing on" kafka_on
# procs LABEL KEY: the publisher's and launcher's CPU and the rounds, per run
procs() {
	printf '  %s CPU s of the publisher/launcher per run, off: %s; on: %s\n' "$1" \
		"$(for r in $(seq "$RUNS"); do printf '%s ' "${proc_cpu[$2_off,$r]}"; done)" \
		"$(for r in $(seq "$RUNS"); do printf '%s ' "${proc_cpu[$2_on,$r]}"; done)"
	printf '  %s publishing on, rounds that read the viewers/woken rounds per run: %s\n' "$1" \
		"$(for r in $(seq "$RUNS"); do printf '%s ' "${pub_rounds[$2_on,$r]}"; done)"
	printf '  %s publishing on, the publisher and redis-server, %% of the run'"'"'s CPU: median %.1f (%s) (target <= 5)\n' "$1" \
		"$(stats pub_share "$2_on" | cut -d' ' -f1)" \
		"$(for r in $(seq "$RUNS"); do printf '%.1f ' "${pub_share[$2_on,$r]}"; done | sed 's/ $//')"
}
ratio "(a) on / off:" sql
procs "(a)" sql
ratio "(a') on / off:" current
procs "(a')" current
ratio "(b) on / off:" kafka
procs "(b)" kafka
if [ "$LATENCY" != 0 ]; then
	printf '  (c) commit to visible in Redis (and in the rollups) at %d events/s asked (qoe.ingest, batches of %d), %d markers per run, ms "p50 p99 max" per run:\n' \
		$LAT_RATE $BATCH $(( (LAT_SECONDS - 6) * 10 ))
	printf '    compressed event time (qoe_gen --rate %d, %d viewers, a fresh stream per run):\n' $LAT_RATE "$VIEWERS"
	printf '      concurrent_viewers:{id}: %s\n' "$(list lat_v)"
	printf '      qoe_metrics:{id} plays:  %s\n' "$(list lat_m)"
	printf '      the rollups (qoe.qoe_5min, read by qoe.qoe_metrics; target 1000): %s\n' "$(list lat_r)"
	printf '      load events/s reached: %s\n' "$(for r in $(seq "$RUNS"); do printf '%.0f ' "${lat_rate[$r]}"; done)"
	printf '      CPU, share of one core, publisher: %s; launcher (scheduler): %s\n' \
		"$(for r in $(seq "$RUNS"); do printf '%.2f ' "${lat_pub[$r]}"; done)" \
		"$(for r in $(seq "$RUNS"); do printf '%.2f ' "${lat_launch[$r]}"; done)"
fi
if [ "$LIVE" != 0 ]; then
	printf '    live (qoe_gen --realtime, %d viewers, %d s of event time first, caught up after %s), %d windows of one stream:\n' \
		"$LIVE_VIEWERS" "$WARM" "$live_caught" "$RUNS"
	printf '      concurrent_viewers:{id}: %s\n' "$(list live_v)"
	printf '      qoe_metrics:{id} plays:  %s\n' "$(list live_m)"
	printf '      the rollups (qoe.qoe_5min, read by qoe.qoe_metrics; target 1000): %s\n' "$(list live_r)"
	printf '      load events/s reached: %s\n' "$(for r in $(seq "$RUNS"); do printf '%.0f ' "${live_rate[$r]}"; done)"
	printf '      newest event stored, ms behind the clock at the end: %s\n' "$(list live_lag)"
	printf '      refreshes of the rollups per window: %s\n' "$(list live_refresh)"
	printf '      the publisher'"'"'s notes/s p50/max and woken-round spacing max ms (50 below 40,000 notes/s): %s\n' "$(list live_pace)"
	printf '      CPU, share of one core, publisher: %s; launcher (scheduler): %s\n' \
		"$(for r in $(seq "$RUNS"); do printf '%.2f ' "${live_pub[$r]}"; done)" \
		"$(for r in $(seq "$RUNS"); do printf '%.2f ' "${live_launch[$r]}"; done)"
fi
