#!/usr/bin/env bash
# bench/kafka_ingest: N generated events (default 2,000,000) in a topic of the
# local mock Kafka, consumed into typed tables in one run on one throwaway
# cluster by
#   (a) the qoe_ext workers, 1 and then 2 per source (qoe.add_source), into
#       qoe.viewing_events with sessions maintained, each with the rollups
#       off and on;
#   (b) kcat -C | psql COPY into a staging table, then INSERT ... SELECT from
#       json_to_record into a plain table with the same columns and indexes;
#   (c) a Python consumer (confluent_kafka, json.loads per message,
#       psycopg2 execute_values per batch) into that plain table;
# and (d) measures the event-to-row latency through the workers at a steady
# rate: Kafka CreateTime of each message (stamped by the kcat producer) to
# the commit time of the transaction that stored its row; and that commit to
# the commit of the refresh of the rollups that merged the row's deltas,
# when it shows in qoe.qoe_metrics (setup.sql logs the refreshes).
# (a) and (d) are skipped when the build has no Kafka workers.
#
# Every contender runs QOE_BENCH_RUNS times (default 3), in rounds (a1 with
# the rollups off, a1, a2 off, a2, b, c, d, then again), so that a drift of the
# machine touches all of them; the table gives each one's median and
# spread, the time to its first stored row apart from its rate, and the CPU
# the mock broker used meanwhile (share of one core): a run where the local
# broker, not the consumer, is the bottleneck says so; then the CPU seconds
# per million events of the server (all its processes), of the qoe_ext
# workers alone and of the launcher, which merges the rollups meanwhile: on
# a shared machine these are steadier than events/s. The runs with the
# rollups on are also timed to every event merged into them. For the
# workers it also prints their main threads' share of the run on a CPU and
# queued for one, and the states pg_stat_activity showed them in, so that a
# run tells a worker short of a core from one short of work.
#
#   bash bench/kafka_ingest/run.sh [events] [viewers] [latency_rate] [latency_seconds]
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$QOE_ROOT/bench/kafka_ingest
. "$QOE_ROOT/test/lib/deps.sh"
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/look.sh"

EVENTS=${1:-2000000}
VIEWERS=${2:-2000}
LAT_RATE=${3:-10000}
LAT_SECONDS=${4:-40}
RUNS=${QOE_BENCH_RUNS:-3}
PARTITIONS=64           # lz4 batches of 2 M events stay well under the mock's 5 MiB per partition
BATCH=10000
FLUSH_MS=100
# The mock broker looks a fetch's offset up by walking the partition's message
# sets from the oldest, so its CPU grows with every set kept: with 32
# partitions and 5 ms batches it used a whole core after 20 s and became the
# bottleneck of the latency run. 16 partitions and 10 ms producer batches keep
# it under half a core for 40 s at 10,000 events/s, and within its 5 MiB per
# partition. The 10 ms the producer holds a message count in the latency.
LAT_PARTITIONS=16
LAT_LINGER_MS=10
LAT_FLUSH_MS=20         # the latency run's flush interval: a latency setting, not a throughput one
# The mock broker answers a fetch only when fetch.wait.max.ms (500 ms by
# default) runs out, even if messages arrived meanwhile; a real broker answers
# as soon as fetch.min.bytes (1) are there.  A plain consumer here sees p50
# 255 ms with the default and 13 ms with 10 ms, so the latency run sets it.
LAT_PROPERTIES='{"fetch.wait.max.ms": "10"}'
PYTHON=/usr/bin/python3 # Debian's, where python3-confluent-kafka installs
WORK=$(mktemp -d /tmp/qoe_bench.XXXXXX)
chmod 755 "$WORK"

qoe_install_deps python3-confluent-kafka python3-psycopg2
qoe_build_install
# the same settings for every contender: commits do not wait for the WAL flush.
# The scheduler's periodic jobs that read what ingest stored but are no part
# of it (business views every 5 minutes, recommendations every 10, sampled
# concurrency, alerts, retention) are off: a run of 5-15 s met one or not,
# and one that did (refresh_views, refresh_recommendations) took the core a
# second worker needs. The merge of the rollups and their levels stay on.
qoe_cluster_start "shared_buffers = 2GB
max_wal_size = 8GB
checkpoint_timeout = 30min
synchronous_commit = off
fsync = on
track_commit_timestamp = on
qoe.view_refresh_interval = 0
qoe.recommendations_refresh_interval = 0
qoe.concurrency_sample_interval = 0
qoe.alert_evaluation_interval = 0
qoe.retention_interval = 0"
trap 'qoe_cluster_stop; rm -rf "$WORK"' EXIT
qoe_kafka_start events:$PARTITIONS $(for r in $(seq "$RUNS"); do echo "live_$r:$LAT_PARTITIONS"; done)

psql -qX -v ON_ERROR_STOP=1 -c "CREATE EXTENSION qoe_ext CASCADE" -f "$HERE/setup.sql" \
	-c "\\copy qoe.content (content_id, title, duration_sec, genres) FROM PROGRAM '$QOE_ROOT/src/tools/qoe_gen --seed 7 --catalog' WITH (FORMAT csv)" \
	-c "SELECT qoe.premake_partitions()" >/dev/null
have_workers=$(psql -qXAt -c "SELECT count(*) > 0 FROM pg_proc WHERE proname = 'add_source' AND pronamespace = 'qoe'::regnamespace")

# events from two days ago on, inside the accepted window
START_MS=$(($(date +%s) * 1000 - 2 * 86400 * 1000))
$QOE_ROOT/src/tools/qoe_gen --seed 7 --events "$EVENTS" --viewers "$VIEWERS" --start-ms $START_MS \
	--kafka-key | qoe_kafka_produce --keyed events
held=$(qoe_kafka_count events)
if [ "$held" -ne "$EVENTS" ]; then
	echo "the topic holds $held events, not $EVENTS: the mock dropped some (more partitions?)" >&2
	exit 1
fi
echo "produced $EVENTS events to $PARTITIONS partitions"

now_s() { date +%s.%N; }
calc() { echo "$*" | bc -l; }
CLK_TCK=$(getconf CLK_TCK)
# CPU seconds of one process (user + system), and of the whole machine
proc_cpu() { awk -v hz="$CLK_TCK" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
NCPU=$(nproc)

# CPU seconds of the server's processes: the postmaster's own and those of
# its children that exited (which it has waited for), and of the children
# still running; and of the running processes of one backend type
PM_PID=$(head -n 1 "$QOE_PGDATA_DIR/data/postmaster.pid")
server_cpu() {
	local p sum
	sum=$(awk -v hz="$CLK_TCK" '{ printf "%.2f", ($14 + $15 + $16 + $17) / hz }' "/proc/$PM_PID/stat")
	for p in $(pgrep -P "$PM_PID"); do sum=$(calc "$sum + $(proc_cpu "$p" 2>/dev/null || echo 0)"); done
	echo "$sum"
}
type_cpu() {
	local p sum=0
	for p in $(psql -qXAt -c "SELECT pid FROM pg_stat_activity WHERE backend_type = '$1'"); do
		sum=$(calc "$sum + $(proc_cpu "$p" 2>/dev/null || echo 0)")
	done
	echo "$sum"
}

# Per contender and run: events/s end to end, events/s from the first stored
# row, seconds to that row, broker CPU (share of one core), machine busy
# (share of all cores), CPU seconds per million events of the server's
# processes, of the qoe_ext workers alone and of the launcher (which merges
# the rollups meanwhile). Keys "contender,run".
declare -A eps from_first first_s broker_cpu busy note server_cpu_m worker_cpu_m launcher_cpu_m worker_run worker_queued
declare -A caught_s caught_eps caught_cpu_m
measure_begin() {
	m_broker0=$(proc_cpu "$QOE_KAFKA_PID")
	read -r m_busy0 m_all0 <<<"$(machine_busy)"
	m_server0=$(server_cpu)
	m_launcher0=$(type_cpu "qoe_ext launcher")
}
# contender, run, events, start, first row, done
record() {
	local key=$1,$2 b1 busy1 all1
	b1=$(proc_cpu "$QOE_KAFKA_PID")
	read -r busy1 all1 <<<"$(machine_busy)"
	eps[$key]=$(calc "$3 / ($6 - $4)")
	from_first[$key]=$(calc "$3 / ($6 - $5)")
	first_s[$key]=$(calc "$5 - $4")
	broker_cpu[$key]=$(calc "($b1 - $m_broker0) / ($6 - $4)")
	busy[$key]=$(calc "($busy1 - $m_busy0) / ($all1 - $m_all0)")
	# the workers started after measure_begin and still run
	m_server1=$(server_cpu)
	server_cpu_m[$key]=$(calc "($m_server1 - $m_server0) * 1000000 / $3")
	worker_cpu_m[$key]=$(calc "$(type_cpu "qoe_ext worker") * 1000000 / $3")
	launcher_cpu_m[$key]=$(calc "($(type_cpu "qoe_ext launcher") - $m_launcher0) * 1000000 / $3")
	worker_sched "$6" "$4"
	worker_run[$key]=$w_run
	worker_queued[$key]=$w_queued
}
# What the workers' main threads did over the run, as shares of its seconds
# per worker (/proc/PID/schedstat): on a CPU (w_run), and runnable but
# waiting for one (w_queued); the rest they were blocked (polling an empty
# queue, I/O) or not started yet. A worker that is not on a CPU most of the
# run while it is hardly ever blocked lacks cores, not work.
worker_sched() {
	local p n=0 run=0 queued=0
	for p in $(psql -qXAt -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'qoe_ext worker'"); do
		read -r r q _ <"/proc/$p/schedstat" || continue
		run=$((run + r)) queued=$((queued + q)) n=$((n + 1))
	done
	if [ $n -eq 0 ]; then
		w_run="" w_queued=""
		return
	fi
	w_run=$(calc "$run / 1000000000 / $n / ($1 - $2)")
	w_queued=$(calc "$queued / 1000000000 / $n / ($1 - $2)")
}

fresh_tables() {
	psql -qX -v ON_ERROR_STOP=1 -c "TRUNCATE plain_events, staging, produced, refreshes" \
		-c "TRUNCATE qoe.viewing_events, qoe.sessions, qoe.dead_letters" \
		-c "TRUNCATE qoe.session_window_deltas, qoe.session_windows, qoe.qoe_5min, qoe.qoe_rollups" -c "CHECKPOINT" >/dev/null
	if [ "$have_workers" = t ]; then
		psql -qX -v ON_ERROR_STOP=1 -c "TRUNCATE qoe.source_offsets" >/dev/null
	fi
}

# (a) and (d): add a source (sets t0), wait until it stored N events (sets
# t_first and t_done), drop it and wait for its workers to exit
run_source() {
	local name=$1 topic=$2 workers=$3 flush=$4 properties=${5:-'{}'}
	t0=$(now_s)
	psql -qX -v ON_ERROR_STOP=1 -c "SELECT qoe.add_source(name => '$name', brokers => '$QOE_KAFKA_BROKERS',
		topic => '$topic', group_id => 'bench.$name.$$', workers => $workers, batch_size => $BATCH,
		flush_interval_ms => $flush, start_position => 'earliest', properties => '$properties'::jsonb)" >/dev/null
}
# The waits poll through test/lib/look.sh: one psql session, a short
# transaction per look.
declare -A worker_waits
wait_source() {
	local name=$1 total=$2 stored=0 deadline=$((SECONDS + 600)) waits w
	t_first=""
	look_open
	while [ $SECONDS -lt $deadline ]; do
		look "SELECT coalesce(sum(next_offset), 0),
			coalesce((SELECT string_agg(CASE WHEN state <> 'active' THEN 'idle' ELSE coalesce(wait_event_type || ':' || wait_event, 'CPU') END, ' ')
			   FROM pg_stat_activity WHERE backend_type = 'qoe_ext worker'), '')
			FROM qoe.source_offsets WHERE source = '$name'" || return 1
		read -r stored waits <<<"$look_reply"
		for w in $waits; do worker_waits[$w]=$((${worker_waits[$w]:-0} + 1)); done
		[ -z "$t_first" ] && [ "$stored" -gt 0 ] && t_first=$(now_s)
		[ "$stored" -ge "$total" ] && break
		sleep 0.1
	done
	t_done=$(now_s)
	look_close
	if [ "$stored" -lt "$total" ]; then
		echo "source $name stored $stored of $total events within 600 s:" >&2
		psql -qX -c "SELECT * FROM qoe.source_status" >&2
		return 1
	fi
}
# The rollups caught up with the rows stored before $1 (epoch seconds): sets
# t_caught; fails after 600 s.
wait_rollups() {
	look_rollups_caught_up "$1" 600 || { echo "the rollups did not catch up within 600 s" >&2; return 1; }
}
# The workers' states seen by wait_source's looks (pg_stat_activity every
# 100 ms), the most frequent first: CPU (running, no wait event), idle
# (between batches) or a wait event.
sampled_waits() {
	local w
	for w in "${!worker_waits[@]}"; do echo "${worker_waits[$w]} $w"; done | sort -rn | head -n 4 |
		awk '{ printf "%s%s %d", (NR > 1 ? ", " : "seen: "), $2, $1 }'
}
drop_source() {
	psql -qX -v ON_ERROR_STOP=1 -c "SELECT qoe.drop_source('$1')" >/dev/null
	for _ in $(seq 300); do
		[ "$(psql -qXAt -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'qoe_ext worker'")" = 0 ] && return 0
		sleep 0.1
	done
	echo "the workers of source $1 did not stop" >&2
	return 1
}
check_rows() {
	local table=$1 want=$2 got
	got=$(psql -qXAt -c "SELECT count(*) FROM $table")
	if [ "$got" -ne "$want" ]; then
		echo "$table holds $got rows, expected $want" >&2
		exit 1
	fi
}

# (a) the workers: run_workers WORKERS RUN [off], off: with the rollups off
run_workers() {
	local name=workers_$1${3:+_$3} source=workers_$1_$2
	fresh_tables
	[ "${3:-}" = off ] && psql -qX -c "UPDATE qoe.rollup_status SET enabled = false" >/dev/null
	measure_begin
	run_source "$source" events "$1" $FLUSH_MS
	worker_waits=()
	wait_source "$source" "$EVENTS"
	record "$name" "$2" "$EVENTS" "$t0" "$t_first" "$t_done"
	[ "${3:-}" = off ] || rollups_catch_up "$name" "$2"
	check_rows qoe.viewing_events "$EVENTS"
	note[$name]="$(psql -qXAt -c "SELECT count(*) || ' sessions, ' || (SELECT count(*) FROM qoe.dead_letters) || ' dead letters' FROM qoe.sessions"); $(sampled_waits)"
	drop_source "$source"
	psql -qX -c "UPDATE qoe.rollup_status SET enabled = true" >/dev/null
}

# With the rollups on, the merge runs beside the workers and is behind when
# the last row is stored (the workers' rate is that of storing the events):
# wait until a refresh that ended after the last row left no delta, and
# record how long after that was, the rate to that point (every event in
# qoe.qoe_metrics) and the server's CPU meanwhile per million events.
rollups_catch_up() {
	local key=$1,$2
	wait_rollups "$t_done"
	caught_s[$key]=$(calc "$t_caught - $t_done")
	caught_eps[$key]=$(calc "$EVENTS / ($t_caught - $t0)")
	# from record's reading of the server CPU, just after the last row
	caught_cpu_m[$key]=$(calc "($(server_cpu) - $m_server1) * 1000000 / $EVENTS")
}

# (b) kcat | psql COPY into staging, then json_to_record into the typed table
run_kcat() {
	local t_copied
	fresh_tables
	measure_begin
	t0=$(now_s)
	kcat -C -q -b "$QOE_KAFKA_BROKERS" -t events -o beginning -e |
		psql -qX -v ON_ERROR_STOP=1 -c "COPY staging (doc) FROM STDIN WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
	t_copied=$(now_s)
	psql -qX -v ON_ERROR_STOP=1 <<'SQL'
INSERT INTO plain_events (event_time, received_at, event_type, user_id, content_id, profile_id,
                          session_id, event_id, position_sec, bitrate_kbps, buffer_health_sec,
                          buffering_events, dropped_frames, stall_ms, fatal, error_code,
                          content_duration_sec, resolution, device_type, country, cdn_pop)
SELECT to_timestamp(r."timestamp" / 1000.0), now(), r.event_type::qoe.event_type, r.user_id,
       r.content_id, r.profile_id, r.session_id, r.event_id, r.position_sec, r.bitrate_kbps,
       r.buffer_health_sec, r.buffering_events, r.dropped_frames, r.buffering_ms, r.fatal,
       r.error_code, r.content_duration_sec, r.resolution, r.device_type, r.country, r.cdn_pop
  FROM staging s,
       json_to_record(s.doc::json) AS r(event_type text, event_id text, session_id text,
           user_id bigint, profile_id bigint, content_id bigint, "timestamp" bigint,
           position_sec real, bitrate_kbps integer, resolution text, buffer_health_sec real,
           buffering_events integer, dropped_frames integer, buffering_ms integer,
           error_code text, fatal boolean, content_duration_sec real, device_type text,
           country text, cdn_pop text);
SQL
	t_done=$(now_s)
	check_rows plain_events "$EVENTS"
	# every row appears at the INSERT's commit: its first row is its last
	record kcat_copy "$1" "$EVENTS" "$t0" "$t0" "$t_done"
	note[kcat_copy]="COPY to staging $(printf '%.1f' "$(calc "$t_copied - $t0")") s, then INSERT ... json_to_record"
}

# (c) the Python consumer
run_python() {
	fresh_tables
	measure_begin
	read -r t0 t_first t_done _ <<<"$($PYTHON "$HERE/py_consumer.py" "$QOE_KAFKA_BROKERS" events "bench.python.$$.$1" plain_events "$EVENTS")"
	check_rows plain_events "$EVENTS"
	record python "$1" "$EVENTS" "$t0" "$t_first" "$t_done"
	note[python]="batches of $BATCH, commit per batch"
}

# (d) latency at a steady rate through one worker, into a topic of its own
# per run (a topic's cost in the mock grows with what it holds)
declare -A lat_p50 lat_p99 lat_max lat_rate lat_drain lat_rollups lat_visible
run_latency() {
	local run=$1 topic=live_$1 source=latency_$1 lat_events p0 p1 p0_ms held n
	fresh_tables
	run_source "$source" "$topic" 1 $LAT_FLUSH_MS "$LAT_PROPERTIES"
	# warm-up events, so that the start of the worker is not counted
	$QOE_ROOT/src/tools/qoe_gen --seed 21 --events 100 --viewers 100 --start-ms $START_MS --kafka-key |
		qoe_kafka_produce --keyed "$topic"
	wait_source "$source" 100
	lat_events=$((LAT_RATE * LAT_SECONDS))
	p0=$(now_s)
	p0_ms=$(date +%s%3N)
	$QOE_ROOT/src/tools/qoe_gen --seed $((22 + run)) --events $lat_events --viewers "$VIEWERS" --start-ms $START_MS \
		--rate "$LAT_RATE" --kafka-key | qoe_kafka_produce --keyed "$topic" -X linger.ms=$LAT_LINGER_MS
	p1=$(now_s)
	wait_source "$source" $((lat_events + 100))
	wait_rollups "$t_done"
	lat_rollups[$run]=$(calc "$t_caught - $t_done")
	held=$(qoe_kafka_count "$topic")
	[ "$held" -eq $((lat_events + 100)) ] || { echo "the $topic topic holds $held events" >&2; exit 1; }
	kcat -C -q -b "$QOE_KAFKA_BROKERS" -t "$topic" -o beginning -e -f '%T\t%s\n' |
		sed -E 's/^([0-9]+)\t.*"event_id":"([^"]*)","session_id":"([^"]*)".*$/\3\t\2\t\1/' |
		psql -qX -v ON_ERROR_STOP=1 -c "COPY produced (session_id, event_id, produced_ms) FROM STDIN"
	read -r n lat_p50[$run] lat_p99[$run] lat_max[$run] <<<"$(psql -qXAt -F ' ' -c "
		SELECT count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
		       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1), round(max(ms)::numeric, 1)
		  FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(v.xmin)) * 1000 - p.produced_ms AS ms
		          FROM qoe.viewing_events v JOIN produced p USING (session_id, event_id)
		         WHERE p.produced_ms >= $p0_ms) l")"
	[ "$n" -eq $lat_events ] || { echo "latency: matched $n of $lat_events events" >&2; exit 1; }
	# commit of the row to the commit of the refresh that merged it
	lat_visible[$run]=$(psql -qXAt -F ' ' -c "
		SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1) || '/' ||
		       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1) || '/' || round(max(ms)::numeric, 1)
		  FROM (SELECT extract(epoch FROM r.committed - e.committed) * 1000 AS ms
		          FROM (SELECT pg_xact_commit_timestamp(v.xmin) AS committed
		                  FROM qoe.viewing_events v JOIN produced p USING (session_id, event_id)
		                 WHERE p.produced_ms >= $p0_ms) e
		         CROSS JOIN LATERAL (SELECT pg_xact_commit_timestamp(f.xmin) AS committed FROM refreshes f
		                              WHERE f.began > e.committed ORDER BY f.began LIMIT 1) r) l")
	lat_rate[$run]=$(calc "$lat_events / ($p1 - $p0)")
	# a drain time well above the flush interval means the worker fell behind
	lat_drain[$run]=$(calc "$t_done - $p1")
	drop_source "$source"
}

for run in $(seq "$RUNS"); do
	if [ "$have_workers" = t ]; then
		run_workers 1 "$run" off
		run_workers 1 "$run"
		run_workers 2 "$run" off
		run_workers 2 "$run"
	fi
	run_kcat "$run"
	run_python "$run"
	[ "$have_workers" = t ] && run_latency "$run"
	echo "round $run of $RUNS done"
done

# median and spread of the runs of one measure: stats ARRAY_NAME CONTENDER
# prints "median min max"
stats() {
	local -n values=$1
	local r
	for r in $(seq "$RUNS"); do
		[ -n "${values[$2,$r]:-}" ] && echo "${values[$2,$r]}"
	done | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit;
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}
row() {
	local e f fs b u
	e=$(stats eps "$2")
	if [ -z "$e" ]; then
		printf '  %-34s %s\n' "$1" "${note[$2]:-skipped}"
		return
	fi
	read -r e_med e_min e_max <<<"$e"
	read -r f _ <<<"$(stats from_first "$2")"
	read -r fs _ <<<"$(stats first_s "$2")"
	read -r b b_min b_max <<<"$(stats broker_cpu "$2")"
	read -r u _ <<<"$(stats busy "$2")"
	read -r sc _ <<<"$(stats server_cpu_m "$2")"
	read -r wc _ <<<"$(stats worker_cpu_m "$2")"
	read -r lc _ <<<"$(stats launcher_cpu_m "$2")"
	read -r wr _ <<<"$(stats worker_run "$2")"
	read -r wq _ <<<"$(stats worker_queued "$2")"
	printf '  %-34s %9.0f %6.0f-%-7.0f %5.1f%% %9.0f %7.1f   %4.0f%% (%2.0f-%3.0f%%)%s %4.0f%%  %6.2f %6.2f %6.2f  %8s %7s   %s\n' \
		"$1" "$e_med" "$e_min" "$e_max" "$(calc "100 * ($e_max - $e_min) / $e_med")" "$f" "$fs" \
		"$(calc "100 * $b")" "$(calc "100 * $b_min")" "$(calc "100 * $b_max")" \
		"$( [ "$(calc "$b_max >= 0.9")" = 1 ] && echo ' broker-bound' || echo '')" \
		"$(calc "100 * $u")" "$sc" "$wc" "$lc" \
		"$( [ -n "$wr" ] && printf '%.0f%%' "$(calc "100 * $wr")" || echo -)" \
		"$( [ -n "$wq" ] && printf '%.0f%%' "$(calc "100 * $wq")" || echo -)" "${note[$2]:-}"
}
# ratios of medians (of events/s, or of the array $5), with the target
ratio() {
	local a b
	read -r a _ <<<"$(stats "${5:-eps}" "$2")"
	read -r b _ <<<"$(stats "${5:-eps}" "$3")"
	if [ -n "$a" ] && [ -n "$b" ]; then
		printf '  %-34s %6.2f (target >= %s)\n' "$1" "$(calc "$a / $b")" "$4"
	else
		printf '  %-34s %6s\n' "$1" -
	fi
}
list() {
	local -n values=$1
	local r out=""
	for r in $(seq "$RUNS"); do out="$out ${values[$r]:-}"; done
	echo "$out" | awk '{ n = split($0, v, " "); for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? ", " : ""), v[i] }'
}
printf '\nbench/kafka_ingest: %d events, %d concurrent viewers, %d partitions, 1 mock broker, %d runs each, %d cores\n' \
	"$EVENTS" "$VIEWERS" $PARTITIONS "$RUNS" "$NCPU"
printf '  %-34s %9s %-14s %6s %9s %7s   %-14s %5s  %-20s  %-16s\n' contender 'events/s' ' min-max' spread \
	'1st row/s' '1st row' 'broker CPU' 'busy' 'CPU s per M events' 'worker thread'
printf '  %-34s %9s %-14s %6s %9s %7s   %-14s %5s  %6s %6s %6s  %8s %7s\n' '' median '' '' median 's' 'of one core' 'all' \
	server worker launch 'on CPU' 'queued'
row "(a) qoe_ext, 1 worker, rollups off" workers_1_off
row "(a) qoe_ext, 1 worker" workers_1
row "(a) qoe_ext, 2 workers, rollups off" workers_2_off
row "(a) qoe_ext, 2 workers" workers_2
row "(b) kcat | COPY + json_to_record" kcat_copy
row "(c) Python confluent_kafka" python
# the rollups-on contenders to the merge caught up
caught_row() {
	local e c u
	e=$(stats caught_eps "$2")
	[ -n "$e" ] || return 0
	read -r e_med e_min e_max <<<"$e"
	read -r c c_min c_max <<<"$(stats caught_s "$2")"
	read -r u _ <<<"$(stats caught_cpu_m "$2")"
	printf '  %-34s %9.0f %6.0f-%-7.0f %5.1f%%   caught up %.2f s (%.2f-%.2f) after the last row, server CPU s per M events meanwhile %.2f\n' \
		"$1" "$e_med" "$e_min" "$e_max" "$(calc "100 * ($e_max - $e_min) / $e_med")" "$c" "$c_min" "$c_max" "$u"
}
if [ "$have_workers" = t ]; then
	printf '  to every event merged into the rollups (a refresh ended after the last row, no delta left):\n'
	caught_row "(a) qoe_ext, 1 worker" workers_1
	caught_row "(a) qoe_ext, 2 workers" workers_2
fi
ratio "ratio rollups on / off, 1 worker:" workers_1 workers_1_off 0.75
ratio "ratio workers(2) / workers(1):" workers_2 workers_1 1.6
ratio "  the same, to rollups caught up:" workers_2 workers_1 1.6 caught_eps
ratio "  the same, rollups off:" workers_2_off workers_1_off 1.6
ratio "ratio workers(1) / kcat-COPY:" workers_1 kcat_copy 2
ratio "ratio workers(2) / kcat-COPY:" workers_2 kcat_copy 2
ratio "ratio workers(1) / Python:" workers_1 python 5
ratio "ratio workers(2) / Python:" workers_2 python 5
if [ "$have_workers" = t ]; then
	printf '  (d) latency, Kafka CreateTime to row commit, %d events/s asked for %d s, flush interval %d ms, %s, per run:\n' \
		"$LAT_RATE" "$LAT_SECONDS" "$LAT_FLUSH_MS" "$LAT_PROPERTIES"
	printf '      p50 ms: %s\n      p99 ms: %s\n      max ms: %s\n      events/s produced: %s\n      last row after the producer finished, s: %s\n' \
		"$(list lat_p50)" "$(list lat_p99)" "$(list lat_max)" \
		"$(for r in $(seq "$RUNS"); do printf '%.0f ' "${lat_rate[$r]}"; done)" \
		"$(for r in $(seq "$RUNS"); do printf '%.2f ' "${lat_drain[$r]}"; done)"
	printf '      rollups caught up after the last row, s: %s\n' \
		"$(for r in $(seq "$RUNS"); do printf '%.2f ' "${lat_rollups[$r]}"; done)"
	printf '      row commit to visible in qoe.qoe_metrics (the commit of the refresh that merged it), ms p50/p99/max (target 1000): %s\n' \
		"$(list lat_visible)"
else
	printf '  (d) latency: skipped (no Kafka workers in this build)\n'
fi
