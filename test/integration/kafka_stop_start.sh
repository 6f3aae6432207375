#!/usr/bin/env bash
# qoe.stop_source and qoe.start_source while events keep arriving: the
# worker stores its batch and exits, nothing is consumed while stopped, and
# after the start it resumes from the stored offsets: exactly N events.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
N=30000
qoe_kafka_test_start events:4
qoe_kafka_events "$WORK/events.ndjson" $N 51

psql -qX -v ON_ERROR_STOP=1 <<SQL
SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events', batch_size => 500,
                      flush_interval_ms => 10);
SQL
qoe_wait_for 30 "SELECT state FROM qoe.source_status" running
head -n 10000 "$WORK/events.ndjson" | qoe_kafka_produce events
qoe_wait_for 60 "SELECT ($QOE_STORED_SQL) > 0" t

psql -qX -v ON_ERROR_STOP=1 -c "SELECT qoe.stop_source('player')"
qoe_wait_for 30 "SELECT state, workers_running FROM qoe.source_status" "stopped|0"
[ "$(psql -qXAt -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'qoe_ext worker'")" = 0 ] ||
	{ echo "a worker still runs after stop_source"; exit 1; }
# while stopped, new events wait in Kafka
sed -n '10001,20000p' "$WORK/events.ndjson" | qoe_kafka_produce events
stopped_at=$(psql -qXAt -c "$QOE_STORED_SQL")
qoe_wait_for 5 "SELECT count(*) = $stopped_at FROM qoe.viewing_events" t
[ "$stopped_at" -lt 20000 ] || { echo "consumed $stopped_at events while stopped"; exit 1; }

psql -qX -v ON_ERROR_STOP=1 -c "SELECT qoe.start_source('player')"
qoe_wait_for 30 "SELECT state FROM qoe.source_status" running
sed -n '20001,$p' "$WORK/events.ndjson" | qoe_kafka_produce events
qoe_wait_for 90 "$QOE_STORED_SQL" $N
got=$(qoe_events_summary)
[ "$got" = "$N|$N" ] || { echo "stored events (all|distinct): $got, expected $N|$N"; exit 1; }
