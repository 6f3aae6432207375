#!/usr/bin/env bash
# A source with workers => 2 on a 4-partition topic: each worker takes two
# partitions (0 and 2, 1 and 3), both store events, exactly N in all. The
# group property session.timeout.ms is accepted and has no effect.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
N=20000
qoe_kafka_test_start events:4
qoe_kafka_events "$WORK/events.ndjson" $N 71

psql -qX -v ON_ERROR_STOP=1 <<SQL
SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events', workers => 2,
                      properties => '{"session.timeout.ms": "6000"}');
SQL
qoe_wait_for 60 "SELECT string_agg(partitions::text, ',' ORDER BY worker_index) FROM qoe.source_workers()" "2,2"
qoe_kafka_produce events <"$WORK/events.ndjson"
qoe_wait_for 90 "$QOE_STORED_SQL" $N
psql -qX -c "SELECT worker_index, pid, state, partitions, events FROM qoe.source_workers() ORDER BY 1"
[ "$(psql -qXAt -c "SELECT count(*) FROM qoe.source_workers() WHERE events > 0 AND pid IS NOT NULL")" = 2 ] ||
	{ echo "not both workers stored events"; exit 1; }
[ "$(psql -qXAt -c "SELECT workers_running, array_length(pids, 1) FROM qoe.source_status")" = "2|2" ]
got=$(qoe_events_summary)
[ "$got" = "$N|$N" ] || { echo "stored events (all|distinct): $got, expected $N|$N"; exit 1; }
