#!/usr/bin/env bash
# Garbage interleaved with valid events (produced with kcat): text that is
# not JSON, bytes that are not UTF-8, an empty message, events that fail
# validation, and an array mixing good and bad events. Every valid event is
# stored, every bad one is one dead letter with its topic, partition, offset
# and reason, and the worker keeps running (same pid).
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export LC_ALL=C
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
qoe_kafka_test_start events:2

psql -qX -v ON_ERROR_STOP=1 <<SQL
SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events');
SQL
qoe_wait_for 30 "SELECT state, workers_running FROM qoe.source_status" "running|1"
pid=$(psql -qXAt -c "SELECT pids[1] FROM qoe.source_status")

# 2000 valid events with, after every 200th, one of 10 bad messages
qoe_kafka_events "$WORK/valid.ndjson" 2000 31
now_ms=$(( $(date +%s) * 1000 ))
awk -v ms=$now_ms '
	{ print }
	NR % 200 == 0 {
		k = NR / 200
		if (k == 1) print "this is not json"
		else if (k == 2) printf "{\"event_type\":\"start\",\"session_id\":\"bin\xff\xfe\"}\n"
		else if (k == 3) print "{\"event_type\":\"start\",\"session_id\":\"g3\",\"content_id\":1}"
		else if (k == 4) print "{\"event_type\":\"teleport\",\"session_id\":\"g4\",\"user_id\":1,\"content_id\":1}"
		else if (k == 5) print "{\"event_type\":\"start\",\"session_id\":\"g5\",\"user_id\":\"x\",\"content_id\":1}"
		else if (k == 6) print "[{\"event_type\":\"start\",\"session_id\":\"g6\",\"user_id\":1,\"content_id\":1,\"timestamp\":" ms "},{\"event_type\":\"stop\"}]"
		else if (k == 7) print "{\"event_type\":\"start\",\"session_id\":\"g7\",\"user_id\":1,\"content_id\":1,\"timestamp\":1000}"
		else if (k == 8) print "{\"event_type\":\"start\",\"session_id\":\"g8\""
		else if (k == 9) print "[1, 2]"
		else print "null"
	}' "$WORK/valid.ndjson" >"$WORK/mixed"
printf 'g-empty\t\n' >"$WORK/empty"
qoe_kafka_produce events <"$WORK/mixed"
qoe_kafka_produce --keyed events <"$WORK/empty"
total=$(( $(wc -l <"$WORK/mixed") + 1 ))
[ "$(qoe_kafka_count events)" = $total ] || { echo "the broker holds $(qoe_kafka_count events) of $total"; exit 1; }

qoe_wait_for 60 "$QOE_STORED_SQL" $total
# valid: 2000 + the good half of the array; bad: 10 messages, the array's
# bad element and [1, 2] count one per element, plus the empty message:
# 12 dead letters from 11 messages, 3 of them array elements
got=$(qoe_events_summary)
[ "$got" = "2001|2001" ] || { echo "stored events: $got, expected 2001|2001"; exit 1; }
psql -qXAt -v ON_ERROR_STOP=1 -c "
    SELECT count(*), count(DISTINCT (kafka_partition, kafka_offset)),
           bool_and(source = 'kafka' AND topic = 'events' AND kafka_partition IS NOT NULL
                    AND kafka_offset IS NOT NULL AND reason <> ''),
           count(payload_bytes), count(item_index)
      FROM qoe.dead_letters" >"$WORK/dl"
# listed for the reader of a failure
psql -qX -c "SELECT kafka_partition, kafka_offset, item_index, reason,
                    coalesce(left(payload, 40), '(bytes) ' || encode(payload_bytes, 'escape')) AS payload
               FROM qoe.dead_letters ORDER BY id"
expected="12|11|t|1|3"
[ "$(cat "$WORK/dl")" = "$expected" ] || {
	echo "dead letters (count|distinct messages|all located|bytes|array items): $(cat "$WORK/dl"), expected $expected"
	exit 1
}
# the worker survived all of it and says it kept them
[ "$(psql -qXAt -c "SELECT pids[1], state, dead_letters FROM qoe.source_status")" = "$pid|running|12" ] || {
	psql -qX -c "SELECT * FROM qoe.source_status"
	echo "the worker did not keep running"
	exit 1
}
