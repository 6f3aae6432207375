#!/usr/bin/env bash
# bench/ingest_sql: N generated events (default 1,000,000) through qoe.ingest
# in batches (sent by feed.c as bound parameters, as an application would),
# against COPY of the same events into a plain jsonb table and
# COPY of the same typed rows into a plain table, all in one run on one
# throwaway cluster. qoe.ingest runs twice: with the rollups off, then on
# (ingest appends window deltas, the launcher's scheduler refreshes
# qoe.qoe_5min meanwhile, and the time until the rollups have caught up
# after the last batch is reported). Prints events/s (wall clock and per
# server CPU second), ratios, and stored bytes per event.
#
#   bash bench/ingest_sql/run.sh [events] [batch] [viewers]
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/deps.sh"
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/look.sh"

EVENTS=${1:-1000000}
BATCH=${2:-5000}
VIEWERS=${3:-2000}
WORK=$(mktemp -d /tmp/qoe_bench.XXXXXX)
chmod 755 "$WORK"

qoe_install_deps
qoe_build_install
# the same durable-enough settings for every contender: WAL is written and
# checkpointed as usual; commits do not wait for the disk flush
qoe_cluster_start "shared_buffers = 2GB
max_wal_size = 8GB
checkpoint_timeout = 30min
synchronous_commit = off
fsync = on"
trap 'qoe_cluster_stop; rm -rf "$WORK"' EXIT

# events spread over the last few hours, inside the accepted window
START_MS=$(( $(date +%s) * 1000 - 2 * 86400 * 1000 ))
GEN="$QOE_ROOT/src/tools/qoe_gen --seed 7 --events $EVENTS --viewers $VIEWERS --start-ms $START_MS"
$GEN --format ndjson >"$WORK/events.ndjson"
$GEN --format array --batch "$BATCH" >"$WORK/batches.json"
qoe_build_feed "$WORK"
$QOE_ROOT/src/tools/qoe_gen --seed 7 --catalog >"$WORK/catalog.csv"

psql -qX -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION qoe_ext CASCADE;
CREATE TABLE jsonb_events (doc jsonb NOT NULL);
\copy qoe.content (content_id, title, duration_sec, genres) FROM '$WORK/catalog.csv' WITH (FORMAT csv)
SELECT qoe.premake_partitions() \\g /dev/null
SQL

now_s() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
# CPU seconds (user + system) of the server process that ran one psql command:
# on a busy 2-core machine it is steadier than the wall clock.
psql_cpu() {
	psql -qXAt -v ON_ERROR_STOP=1 <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv BACKEND :pid
$1
\! awk '{ printf "%.2f\\n", (\$14 + \$15) / '"$(getconf CLK_TCK)"' }' /proc/\$BACKEND/stat
SQL
}

t0=$(now_s)
copy_cpu=$(psql_cpu "\\copy jsonb_events (doc) FROM '$WORK/events.ndjson' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')")
copy_s=$(elapsed "$t0" "$(now_s)")

# qoe.ingest with the rollups off, then from empty tables with them on
psql -qX -v ON_ERROR_STOP=1 -c "UPDATE qoe.rollup_status SET enabled = false" >/dev/null
off_t0=$(now_s)
read -r _ _ _ off_cpu < <("$WORK/feed" "" <"$WORK/batches.json")
off_s=$(elapsed "$off_t0" "$(now_s)")
psql -qX -v ON_ERROR_STOP=1 -c "TRUNCATE qoe.viewing_events, qoe.sessions, qoe.dead_letters,
    qoe.session_window_deltas, qoe.session_windows, qoe.qoe_5min, qoe.qoe_rollups" \
	-c "UPDATE qoe.rollup_status SET enabled = true" -c "CHECKPOINT" >/dev/null
t1=$(now_s)
read -r _ _ _ ingest_cpu < <("$WORK/feed" "" <"$WORK/batches.json")
t2=$(now_s)
# caught up: every delta merged by a refresh that ended after the last batch
# (or 60 s: the figure says so)
look_rollups_caught_up "$t2" 60 || true
caught_up_s=$(elapsed "$t2" "$t_caught")
psql -qX -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE typed_copy (LIKE qoe.viewing_events);
\copy (SELECT * FROM qoe.viewing_events) TO '$WORK/typed.copy'
SQL
t3=$(now_s)
typed_cpu=$(psql_cpu "\\copy typed_copy FROM '$WORK/typed.copy'")
t4=$(now_s)

psql -qX -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
read -r stored sessions dead jsonb_bytes qoe_bytes typed_bytes <<<"$(psql -qXAt -F ' ' -c "
    SELECT (SELECT count(*) FROM qoe.viewing_events),
           (SELECT count(*) FROM qoe.sessions),
           (SELECT count(*) FROM qoe.dead_letters),
           pg_total_relation_size('jsonb_events'),
           (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits
             WHERE inhparent = 'qoe.viewing_events'::regclass),
           pg_total_relation_size('typed_copy')")"

ingest_s=$(elapsed "$t1" "$t2")
typed_s=$(elapsed "$t3" "$t4")
printf '\nbench/ingest_sql: %d events, batches of %d, %d concurrent viewers\n' "$EVENTS" "$BATCH" "$VIEWERS"
printf '  %-36s %8s %10s %8s %11s %12s\n' contender seconds events/s "cpu s" "ev/cpu s" bytes/event
row() { # name seconds cpu_seconds events bytes
	printf '  %-36s %8.2f %10.0f %8.2f %11.0f %12.1f\n' "$1" "$2" "$(echo "$4 / $2" | bc -l)" \
		"$3" "$(echo "$4 / $3" | bc -l)" "$(echo "$5 / $4" | bc -l)"
}
row "COPY NDJSON into a jsonb table" "$copy_s" "$copy_cpu" "$EVENTS" "$jsonb_bytes"
row "qoe.ingest, rollups off" "$off_s" "$off_cpu" "$EVENTS" "$qoe_bytes"
row "qoe.ingest (sessions, rollups on)" "$ingest_s" "$ingest_cpu" "$EVENTS" "$qoe_bytes"
row "COPY typed rows into a plain table" "$typed_s" "$typed_cpu" "$stored" "$typed_bytes"
printf '  stored %d events, %d sessions, %d dead letters\n' "$stored" "$sessions" "$dead"
printf '  ratio qoe.ingest / COPY jsonb speed: %.2f wall clock, %.2f server CPU (target >= 1.00)\n' \
	"$(echo "$copy_s / $ingest_s" | bc -l)" "$(echo "$copy_cpu / $ingest_cpu" | bc -l)"
printf '  ratio rollups on / off: %.2f wall clock, %.2f server CPU of ingest (target >= 0.75); rollups caught up %.2f s after the last batch\n' \
	"$(echo "$off_s / $ingest_s" | bc -l)" "$(echo "$off_cpu / $ingest_cpu" | bc -l)" "$caught_up_s"
printf '  ratio qoe bytes / jsonb bytes per event: %.2f (target <= 0.40)\n' \
	"$(echo "($qoe_bytes / $stored) / ($jsonb_bytes / $EVENTS)" | bc -l)"
