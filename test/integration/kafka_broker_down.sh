#!/usr/bin/env bash
# The brokers go down in the middle of a run and come back: the worker
# reports the error in qoe.source_status, the database keeps answering
# quickly (no transaction waits on Kafka), and consumption resumes with
# nothing lost or duplicated.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
N=20000
qoe_kafka_test_start events:4
qoe_kafka_events "$WORK/events.ndjson" $N 61

psql -qX -v ON_ERROR_STOP=1 <<SQL
SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events',
                      properties => '{"reconnect.backoff.max.ms": "1000"}');
SQL
head -n 10000 "$WORK/events.ndjson" | qoe_kafka_produce events
qoe_wait_for 60 "$QOE_STORED_SQL" 10000
qoe_wait_for 5 "SELECT state, last_error IS NULL FROM qoe.source_status" "running|t"

down_at=$(psql -qXAt -c "SELECT now()")
qoe_kafka_down
qoe_wait_for 60 "SELECT state, last_error_at > '$down_at' FROM qoe.source_status" "error|t"
psql -qXAt -c "SELECT state, last_error FROM qoe.source_status"
# the database answers, and answers quickly, while the brokers are down
start=$(date +%s%N)
psql -qXAt -v ON_ERROR_STOP=1 -c "SELECT accepted FROM qoe.ingest('{\"event_type\":\"start\",\"session_id\":\"sql-during-outage\",\"user_id\":1,\"content_id\":1}')" >/dev/null
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "a query during the outage took ${elapsed_ms} ms"
[ $elapsed_ms -lt 2000 ] || { echo "the database was slow while the brokers were down"; exit 1; }
[ "$(psql -qXAt -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'qoe_ext worker' AND state <> 'idle'")" = 0 ] ||
	{ echo "the worker is busy (in a transaction?) while the brokers are down"; exit 1; }

qoe_kafka_up
sed -n '10001,$p' "$WORK/events.ndjson" | qoe_kafka_produce events
qoe_wait_for 90 "$QOE_STORED_SQL" $N
qoe_wait_for 10 "SELECT state FROM qoe.source_status" running
got=$(qoe_events_summary)
expected="$((N + 1))|$((N + 1))"
[ "$got" = "$expected" ] || { echo "stored events (all|distinct): $got, expected $expected"; exit 1; }
