#!/usr/bin/env bash
# Crashes in the middle of a run: kill -9 of the worker (the postmaster then
# restarts the whole cluster, as for any crashed backend) and later an
# immediate-mode stop (no shutdown checkpoint, like a power cut) and a
# start. Whatever was committed stays, whatever was not is consumed again
# from the stored offsets: exactly N events and the sessions of qoe.ingest.
# Each crash comes while half of the events are being produced, and each
# wait is for a count that is sure to come. With the default consumer
# settings the group waits 6 s for the dead worker's session to time out:
# both gaps are measured and shown.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
N=40000
qoe_kafka_test_start events:4
qoe_kafka_events "$WORK/events.ndjson" $N 41

# small batches, so a crash always lands between and inside them; the
# consumer settings are the defaults, so the recovery time is the real one
psql -qX -v ON_ERROR_STOP=1 <<SQL
SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events', batch_size => 200,
                      flush_interval_ms => 10);
SQL
qoe_wait_for 30 "SELECT state FROM qoe.source_status" running
# half of the events, paced, so the crashes happen while events are still
# arriving; every wait below is for a count that is sure to come
produce_half() {
	sed -n "$1p" "$WORK/events.ndjson" |
		awk 'NR % 1000 == 0 { system("sleep 0.1") } { print; fflush() }' | qoe_kafka_produce events
}
now() { date +%s.%N; }
# seconds from $1 until a batch is stored after the server accepts connections again
resumed_after() {
	local from=$1 stored
	qoe_wait_for 60 "SELECT 1" 1
	stored=$(psql -qXAt -c "$QOE_STORED_SQL")
	qoe_wait_for 60 "SELECT ($QOE_STORED_SQL) > $stored OR ($QOE_STORED_SQL) = $2" t
	awk -v a="$(now)" -v b="$from" 'BEGIN { printf "%.1f", a - b }' 
}

produce_half 1,$((N / 2)) &
producer=$!
qoe_wait_for 60 "SELECT ($QOE_STORED_SQL) > 2000" t
pid=$(psql -qXAt -c "SELECT pids[1] FROM qoe.source_status")
kill -9 "$pid"
killed_at=$(now)
echo "killed worker $pid"
# the postmaster restarts the cluster; the launcher starts a new worker
gap=$(resumed_after "$killed_at" $((N / 2)))
grep -q "terminated by signal 9" "$QOE_PGDATA_DIR/server.log" || { echo "no crash restart seen"; exit 1; }
wait $producer
qoe_wait_for 60 "$QOE_STORED_SQL" $((N / 2))
echo "kill -9 of the worker: ingest resumed after ${gap} s; $((N / 2)) messages stored exactly"

produce_half $((N / 2 + 1)),$N &
producer=$!
qoe_wait_for 60 "SELECT ($QOE_STORED_SQL) > $((N / 2 + 2000))" t
qoe_server_ctl -m immediate stop
stopped_at=$(now)
qoe_server_ctl start
gap2=$(resumed_after "$stopped_at" $N)
wait $producer
qoe_wait_for 90 "$QOE_STORED_SQL" $N
echo "immediate stop and start: ingest resumed after ${gap2} s; $N messages stored exactly"
# measured 11-12 s and 5.5 s; the bound catches a return to librdkafka's 45 s
for g in "$gap" "$gap2"; do
	awk -v g="$g" 'BEGIN { exit !(g < 20) }' || { echo "ingest resumed only after $g s (expected within 20 s)"; exit 1; }
done
got=$(qoe_events_summary)
[ "$got" = "$N|$N" ] || { echo "stored events (all|distinct): $got, expected $N|$N"; exit 1; }

qoe_reference_ingest reference "$WORK/events.ndjson"
a=$(qoe_sessions_digest)
b=$(qoe_sessions_digest reference)
echo "kafka:     $a"
echo "reference: $b"
[ "$a" = "$b" ] || { echo "sessions differ from an uninterrupted ingest of the same events"; exit 1; }
