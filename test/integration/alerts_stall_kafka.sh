#!/usr/bin/env bash
# The stall-loop alert is judged on arrival, not by polling: with the
# scheduler's evaluation interval at 60 s, a session's third stall in a row,
# produced to a topic a qoe_ext worker consumes or sent through qoe.ingest,
# reaches a LISTEN qoe_alerts client within 3 s, because the commit that
# stored it wakes the scheduler's evaluate_alerts (core/commit_wake.c).
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
. "$QOE_ROOT/test/lib/alerts.sh"
qoe_kafka_test_start events:1
qoe_on_exit qoe_alerts_stop

# the window rules read the rollups, which this test does not need
psql -qX -v ON_ERROR_STOP=1 >/dev/null <<SQL
UPDATE qoe.alert_rules SET enabled = (metric = 'stall_loop');
ALTER SYSTEM SET qoe.alert_evaluation_interval = '60s';
SELECT pg_reload_conf();
SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events', properties => '{"fetch.wait.max.ms": "10"}');
SQL
qoe_wait_for 60 "SELECT state FROM qoe.source_status" running
qoe_wait_for 30 "SELECT run_every FROM qoe.scheduler_status WHERE job = 'evaluate_alerts'" "00:01:00"
qoe_alerts_listen "$WORK/listen.out"

event() {   # SESSION EVENT_ID TYPE MS
	printf '{"event_type":"%s","session_id":"%s","event_id":"%s","user_id":3,"content_id":8,"cdn_pop":"pop-k","timestamp":%s}\n' \
		"$3" "$1" "$2" "$4"
}
send() {   # PATH: events on stdin, through Kafka or qoe.ingest
	if [ $1 = kafka ]; then
		qoe_kafka_produce events
	else
		psql -qXAt -v ON_ERROR_STOP=1 -c "SELECT accepted FROM qoe.ingest('[' || \$\$$(paste -sd,)\$\$ || ']')" >/dev/null
	fi
}
worst=0
for path in kafka sql; do
	for rep in 1 2 3 4 5; do
		sid=$path-loop-$rep
		now_ms=$(( $(date +%s%N) / 1000000 ))
		{ event $sid 1 start $((now_ms - 5000)); event $sid 2 first_frame $((now_ms - 4000))
		  event $sid 3 buffering $((now_ms - 1500)); event $sid 4 buffering $((now_ms - 800)); } | send $path
		qoe_wait_for 10 "SELECT count(*) FROM qoe.viewing_events WHERE session_id = '$sid'" 4
		t0=$(date +%s%N)
		event $sid 5 buffering $now_ms | send $path
		qoe_alerts_listen_wait 10 "$WORK/listen.out" $sid || exit 1
		ms=$(( ($(date +%s%N) - t0) / 1000000 ))
		echo "stall loop $sid: NOTIFY received ${ms} ms after the third stall was sent"
		[ $ms -gt $worst ] && worst=$ms
	done
done
[ $worst -le 3000 ] || { echo "FAILED: a stall loop took ${worst} ms"; exit 1; }
echo "ok (worst ${worst} ms)"
