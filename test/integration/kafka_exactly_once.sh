#!/usr/bin/env bash
# N generated events produced to a 4-partition topic arrive exactly once
# through a qoe_ext worker, and give the same sessions as qoe.ingest of the
# same events in another database.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/deps.sh"
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
N=20000
qoe_kafka_test_start events:4
qoe_kafka_events "$WORK/events.ndjson" $N 21
qoe_kafka_produce events <"$WORK/events.ndjson"
[ "$(qoe_kafka_count events)" = $N ] || { echo "the broker holds $(qoe_kafka_count events) of $N"; exit 1; }

psql -qX -v ON_ERROR_STOP=1 <<SQL
SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events');
SQL
qoe_wait_for 90 "$QOE_STORED_SQL" $N
qoe_wait_for 10 "SELECT state, workers_running, lag FROM qoe.source_status" "running|1|0"
got=$(qoe_events_summary)
[ "$got" = "$N|$N" ] || { echo "stored events (all|distinct): $got, expected $N|$N"; exit 1; }
[ "$(psql -qXAt -c 'SELECT count(*) FROM qoe.dead_letters')" = 0 ] || { echo "unexpected dead letters"; exit 1; }
# the worker shows itself
psql -qXAt -c "SELECT backend_type, query FROM pg_stat_activity WHERE backend_type LIKE 'qoe_ext%' ORDER BY 1"
[ "$(psql -qXAt -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('qoe_ext launcher', 'qoe_ext worker')")" = 2 ]

qoe_reference_ingest reference "$WORK/events.ndjson"
a=$(qoe_sessions_digest)
b=$(qoe_sessions_digest reference)
echo "kafka:     $a"
echo "reference: $b"
[ "$a" = "$b" ] || { echo "sessions differ from qoe.ingest of the same events"; exit 1; }

# the stored offsets reach Kafka under the source's group, for lag tools: an
# independent client (confluent_kafka) reads them back, equal to the database's
qoe_install_deps python3-confluent-kafka >/dev/null
for _ in $(seq 50); do
	committed=$(/usr/bin/python3 - "$QOE_KAFKA_BROKERS" <<'PY'
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "qoe_ext.player"})
offsets = c.committed([TopicPartition("events", p) for p in range(4)], timeout=10)
print(" ".join(str(max(tp.offset, 0)) for tp in offsets))
PY
)
	[ "$committed" = "$(psql -qXAt -c "SELECT string_agg(next_offset::text, ' ' ORDER BY partition) FROM qoe.source_offsets WHERE source = 'player'")" ] && break
	sleep 0.2
done
echo "offsets committed to Kafka: $committed"
[ "$(echo "$committed" | tr ' ' '+' | bc)" = $N ] || { echo "Kafka holds committed offsets $committed, not the $N stored"; exit 1; }
