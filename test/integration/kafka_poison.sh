#!/usr/bin/env bash
# Poison through Kafka: an event the decoder accepts but storage refuses (an
# unknown field jsonb cannot hold, "x":1e-20000) and an event a user trigger
# on qoe.sessions rejects, between good ones. The good events are stored,
# each bad one is a dead letter with its reason and Kafka coordinates, the
# source keeps consuming (a later event is stored too), and every message is
# stored exactly once.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
qoe_kafka_test_start poison:1
ts=$(( ($(date +%s) - 3600) * 1000 ))
event() { # session_id, extra fields
	echo "{\"event_type\":\"start\",\"event_id\":\"0\",\"session_id\":\"$1\",\"user_id\":1,\"content_id\":2,\"timestamp\":$ts,\"position_sec\":0.0${2:-}}"
}

psql -qX -v ON_ERROR_STOP=1 <<SQL
CREATE FUNCTION refuse_session() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF NEW.session_id = 'refused' THEN
        RAISE EXCEPTION 'session refused by a trigger';
    END IF;
    RETURN NEW;
END \$\$;
CREATE TRIGGER refuse BEFORE INSERT ON qoe.sessions FOR EACH ROW EXECUTE FUNCTION refuse_session();
SELECT qoe.add_source('poison', '$QOE_KAFKA_BROKERS', 'poison', flush_interval_ms => 10);
SQL
qoe_wait_for 30 "SELECT state FROM qoe.source_status" running
{
	event good-1
	event poison ',"x":1e-20000'
	event refused
	event good-2
} | qoe_kafka_produce poison
qoe_wait_for 30 "$QOE_STORED_SQL" 4
event good-3 | qoe_kafka_produce poison
qoe_wait_for 30 "$QOE_STORED_SQL" 5

got=$(psql -qXAt -c "SELECT string_agg(session_id, ',' ORDER BY session_id) FROM qoe.viewing_events")
[ "$got" = "good-1,good-2,good-3" ] || { echo "stored events: $got, expected good-1,good-2,good-3"; exit 1; }
psql -qX -c "SELECT topic, kafka_partition, kafka_offset, reason FROM qoe.dead_letters ORDER BY kafka_offset"
got=$(psql -qXAt -c "SELECT string_agg(format('%s:%s:%s:%s', topic, kafka_partition, kafka_offset, reason <> ''),
                                       ',' ORDER BY kafka_offset)
                       FROM qoe.dead_letters")
[ "$got" = "poison:0:1:t,poison:0:2:t" ] ||
	{ echo "dead letters (topic:partition:offset:has reason): $got, expected poison:0:1:t,poison:0:2:t"; exit 1; }
psql -qXAt -c "SELECT reason FROM qoe.dead_letters WHERE kafka_offset = 2" | grep -q "session refused by a trigger" ||
	{ echo "the trigger's error is not the dead letter's reason"; exit 1; }
[ "$(psql -qXAt -c "SELECT state FROM qoe.source_status")" = running ] || { echo "the source is not running"; exit 1; }
