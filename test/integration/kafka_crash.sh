#!/usr/bin/env bash
# Crashes in the middle of a run: kill -9 of the worker (the postmaster then
# restarts the whole cluster, as for any crashed backend) and later an
# immediate-mode stop (no shutdown checkpoint, like a power cut) and a
# start. Whatever was committed stays, whatever was not is consumed again
# from the stored offsets: exactly N events and the sessions of qoe.ingest.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
N=40000
qoe_kafka_test_start events:4
qoe_kafka_events "$WORK/events.ndjson" $N 41

# small batches, so a crash always lands between and inside them
psql -qX -v ON_ERROR_STOP=1 <<SQL
SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events', batch_size => 200,
                      flush_interval_ms => 10, properties => '{"session.timeout.ms": "6000"}');
SQL
qoe_wait_for 30 "SELECT state FROM qoe.source_status" running
# paced, so the crashes happen while events are still arriving
awk 'NR % 2000 == 0 { system("sleep 0.1") } { print; fflush() }' "$WORK/events.ndjson" |
	qoe_kafka_produce events &
producer=$!

qoe_wait_for 60 "SELECT ($QOE_STORED_SQL) > 5000" t
pid=$(psql -qXAt -c "SELECT pids[1] FROM qoe.source_status")
kill -9 "$pid"
echo "killed worker $pid"
# the postmaster restarts the cluster; the launcher starts a new worker
qoe_wait_for 60 "SELECT state, pids[1] <> $pid FROM qoe.source_status" "running|t"
grep -q "terminated by signal 9" "$QOE_PGDATA_DIR/server.log" || { echo "no crash restart seen"; exit 1; }

before=$(psql -qXAt -c "$QOE_STORED_SQL")
qoe_wait_for 60 "SELECT ($QOE_STORED_SQL) > $before + 5000" t
qoe_server_ctl -m immediate stop
echo "immediate stop at $(($before + 5000))+ stored messages"
qoe_server_ctl start

wait $producer
qoe_wait_for 90 "$QOE_STORED_SQL" $N
got=$(qoe_events_summary)
[ "$got" = "$N|$N" ] || { echo "stored events (all|distinct): $got, expected $N|$N"; exit 1; }

qoe_reference_ingest reference "$WORK/events.ndjson"
a=$(qoe_sessions_digest)
b=$(qoe_sessions_digest reference)
echo "kafka:     $a"
echo "reference: $b"
[ "$a" = "$b" ] || { echo "sessions differ from an uninterrupted ingest of the same events"; exit 1; }
