#!/usr/bin/env bash
# Partition discovery: the workers look at the topic's metadata every 5 s
# and take the partitions of their share that appeared since, without a
# restart. librdkafka 2.0.2's mock cluster cannot add partitions to a topic,
# so the source is added before its topic exists: its state shows why
# nothing comes, then the topic is created (4 partitions, the mock's
# default, by producing to it) while the workers run, and every event of
# every partition is stored, exactly once, by the worker whose share it is.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
N=10000
qoe_kafka_test_start other:1
qoe_kafka_events "$WORK/events.ndjson" $N 91

psql -qX -v ON_ERROR_STOP=1 <<SQL
SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'late', workers => 2,
                      flush_interval_ms => 10);
SQL
qoe_wait_for 30 "SELECT count(*) FROM qoe.source_workers() WHERE pid IS NOT NULL" 2
qoe_wait_for 30 "SELECT state, last_error FROM qoe.source_status" 'error|kafka: topic "late" does not exist'
[ "$(psql -qXAt -c "SELECT sum(partitions) FROM qoe.source_workers()")" = 0 ]
echo "before the topic exists: $(psql -qXAt -c "SELECT state, last_error FROM qoe.source_status")"

qoe_kafka_produce late <"$WORK/events.ndjson"
partitions=$(kcat -L -b "$QOE_KAFKA_BROKERS" -t late | grep -c '^ *partition ')
echo "topic late created with $partitions partitions"
[ "$partitions" -ge 2 ] || { echo "expected at least 2 partitions"; exit 1; }
qoe_wait_for 30 "SELECT sum(partitions) FROM qoe.source_workers()" "$partitions"
qoe_wait_for 60 "$QOE_STORED_SQL" $N
# worker i takes the partitions numbered i modulo 2
half=$(( (partitions + 1) / 2 )),$(( partitions / 2 ))
got=$(psql -qXAt -c "SELECT string_agg(partitions::text, ',' ORDER BY worker_index) FROM qoe.source_workers()")
[ "$got" = "$half" ] || { echo "partitions per worker: $got, expected $half"; exit 1; }
[ "$(psql -qXAt -c "SELECT count(*) FROM qoe.source_workers() WHERE events > 0")" = 2 ] ||
	{ echo "not both workers stored events"; exit 1; }
[ "$(psql -qXAt -c "SELECT state FROM qoe.source_status")" = running ] ||
	{ echo "the source is not running: $(psql -qXAt -c "SELECT state, last_error FROM qoe.source_status")"; exit 1; }
got=$(qoe_events_summary)
[ "$got" = "$N|$N" ] || { echo "stored events (all|distinct): $got, expected $N|$N"; exit 1; }
echo "$N events from $partitions partitions that appeared while the workers ran, each once"
