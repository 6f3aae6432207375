#!/usr/bin/env bash
# N generated events produced to a 4-partition topic arrive exactly once
# through a qoe_ext worker, and give the same sessions as qoe.ingest of the
# same events in another database.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
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
