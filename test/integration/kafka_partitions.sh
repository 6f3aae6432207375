#!/usr/bin/env bash
# Partition discovery: the workers look at the topic's metadata every 5 s
# and take the partitions of their share that appeared since, without a
# restart. librdkafka 2.0.2's mock cluster cannot add partitions to a topic,
# so the source is added before its topic exists: its state shows why
# nothing comes, then the topic is created (4 partitions, the mock's
# default, by producing to it) while the workers run, and every event of
# every partition is stored, exactly once, by the worker whose share it is.
# The source starts at 'latest', which applies to the partitions a worker
# finds when it starts: partitions that appear later start at their
# beginning, or what was produced into them before a worker looked would be
# skipped. Another 'latest' source, on a topic that exists, skips what its
# topic held before it started.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
N=10000
qoe_kafka_test_start old:2
qoe_kafka_events "$WORK/events.ndjson" $N 91
qoe_kafka_events "$WORK/old.ndjson" 200 92

# ---- the topic that exists: what it held before the source is skipped
head -n 100 "$WORK/old.ndjson" | qoe_kafka_produce old
psql -qX -v ON_ERROR_STOP=1 <<SQL
SELECT qoe.add_source('old', '$QOE_KAFKA_BROKERS', 'old', start_position => 'latest',
                      flush_interval_ms => 10);
SQL
qoe_wait_for 30 "SELECT sum(next_offset) FROM qoe.source_offsets WHERE source = 'old'" 100
tail -n 100 "$WORK/old.ndjson" | qoe_kafka_produce old
qoe_wait_for 30 "SELECT sum(next_offset) FROM qoe.source_offsets WHERE source = 'old'" 200
got=$(psql -qXAt -c "SELECT count(*) FROM qoe.viewing_events")
[ "$got" = 100 ] || { echo "the latest source on an existing topic stored $got events, expected 100"; exit 1; }

# ---- the topic that does not exist yet
psql -qX -v ON_ERROR_STOP=1 <<SQL
SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'late', start_position => 'latest',
                      workers => 2, flush_interval_ms => 10);
SQL
status="SELECT state, last_error FROM qoe.source_status WHERE name = 'player'"
qoe_wait_for 30 "SELECT count(*) FROM qoe.source_workers() WHERE source = 'player' AND pid IS NOT NULL" 2
qoe_wait_for 30 "$status" 'error|kafka: topic "late" does not exist'
[ "$(psql -qXAt -c "SELECT sum(partitions) FROM qoe.source_workers() WHERE source = 'player'")" = 0 ]
echo "before the topic exists: $(psql -qXAt -c "$status")"

qoe_kafka_produce late <"$WORK/events.ndjson"
partitions=$(kcat -L -b "$QOE_KAFKA_BROKERS" -t late | grep -c '^ *partition ')
echo "topic late created with $partitions partitions"
[ "$partitions" -ge 2 ] || { echo "expected at least 2 partitions"; exit 1; }
qoe_wait_for 30 "SELECT sum(partitions) FROM qoe.source_workers() WHERE source = 'player'" "$partitions"
qoe_wait_for 60 "SELECT sum(next_offset) FROM qoe.source_offsets WHERE source = 'player'" $N
got=$(qoe_events_summary)
[ "$got" = "$((N + 100))|$((N + 100))" ] ||
	{ echo "stored events (all|distinct): $got, expected $((N + 100)) each"; exit 1; }
# worker i takes the partitions numbered i modulo 2
half=$(( (partitions + 1) / 2 )),$(( partitions / 2 ))
got=$(psql -qXAt -c "SELECT string_agg(partitions::text, ',' ORDER BY worker_index)
                       FROM qoe.source_workers() WHERE source = 'player'")
[ "$got" = "$half" ] || { echo "partitions per worker: $got, expected $half"; exit 1; }
[ "$(psql -qXAt -c "SELECT count(*) FROM qoe.source_workers() WHERE source = 'player' AND events > 0")" = 2 ] ||
	{ echo "not both workers stored events"; exit 1; }
[ "$(psql -qXAt -c "SELECT state FROM qoe.source_status WHERE name = 'player'")" = running ] ||
	{ echo "the source is not running: $(psql -qXAt -c "$status")"; exit 1; }
echo "$N events from $partitions partitions that appeared while the workers ran, each once"
