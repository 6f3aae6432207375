#!/usr/bin/env bash
# The stall-loop alert through Kafka: a session's third stall in a row,
# produced to a topic a qoe_ext worker consumes, reaches a LISTEN qoe_alerts
# client within 3 s, with qoe.evaluate_alerts() called every second (as the
# scheduler will). Nothing in the ingest path knows about alerts: the
# evaluation finds the loop in qoe.viewing_events.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
. "$QOE_ROOT/test/lib/alerts.sh"
qoe_kafka_test_start events:1
trap 'rc=$?; qoe_alerts_stop; qoe_show_log_on_failure $rc; qoe_kafka_stop; qoe_cluster_stop; rm -rf "$WORK"; exit $rc' EXIT

# the window rules read the rollups, which this test does not need
psql -qX -v ON_ERROR_STOP=1 >/dev/null <<SQL
UPDATE qoe.alert_rules SET enabled = (metric = 'stall_loop');
SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events', properties => '{"fetch.wait.max.ms": "10"}');
SQL
qoe_wait_for 60 "SELECT state FROM qoe.source_status" running
qoe_alerts_evaluate_every_second
qoe_alerts_listen "$WORK/listen.out"

event() {   # SESSION EVENT_ID TYPE MS
	printf '{"event_type":"%s","session_id":"%s","event_id":"%s","user_id":3,"content_id":8,"cdn_pop":"pop-k","timestamp":%s}\n' \
		"$3" "$1" "$2" "$4"
}
worst=0
for rep in 1 2 3 4 5; do
	sid=kloop-$rep
	now_ms=$(( $(date +%s%N) / 1000000 ))
	{ event $sid 1 start $((now_ms - 5000)); event $sid 2 first_frame $((now_ms - 4000))
	  event $sid 3 buffering $((now_ms - 1500)); event $sid 4 buffering $((now_ms - 800)); } |
		qoe_kafka_produce events
	qoe_wait_for 10 "SELECT count(*) FROM qoe.viewing_events WHERE session_id = '$sid'" 4
	t0=$(date +%s%N)
	event $sid 5 buffering $now_ms | qoe_kafka_produce events
	qoe_alerts_listen_wait 10 "$WORK/listen.out" $sid || exit 1
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	echo "stall loop $sid: NOTIFY received ${ms} ms after the third stall was produced"
	[ $ms -gt $worst ] && worst=$ms
done
[ $worst -le 3000 ] || { echo "FAILED: a stall loop took ${worst} ms"; exit 1; }
echo "ok (worst ${worst} ms)"
