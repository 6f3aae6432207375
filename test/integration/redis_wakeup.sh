#!/usr/bin/env bash
# The wake-up chain (doc/redis.md, freshness): with both fallbacks set to
# 20 s (the publisher's full round, the scheduler's refresh of the rollups),
# a committed ingest, through qoe.ingest or a Kafka worker, still reaches
# Redis at once: concurrent_viewers:{id} woken by the ingest commit,
# qoe_metrics:{id} by the refresh of the rollups that the commit hurried. A
# rolled-back ingest wakes nothing that shows.
set -eu
QOE_ROOT=${QOE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v redis-server >/dev/null || { echo "redis-server not installed"; exit 77; }
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
. "$QOE_ROOT/test/lib/redis.sh"

qoe_redis_start
qoe_publisher_cluster "qoe.redis_publish_interval = '20s'
qoe.rollup_refresh_interval = '20s'"
qoe_kafka_start events:1		# chains its stop to the cleanup trap
qoe_wait_for 30 "SELECT state FROM qoe.redis_status" connected

# ingest: one new title per marker; wait (at most 3 s, far below the 20 s
# fallbacks) for its keys
marker() {
	local id=$1 now
	now=$(qoe_ms)
	psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "SELECT qoe.ingest('[
	  {\"event_type\":\"start\",\"session_id\":\"w-$id\",\"event_id\":\"a\",\"user_id\":1,\"content_id\":$id,\"timestamp\":$((now - 1000))},
	  {\"event_type\":\"first_frame\",\"session_id\":\"w-$id\",\"event_id\":\"b\",\"user_id\":1,\"content_id\":$id,\"timestamp\":$now}]')"
}
wait_key() {
	local t0=$1 deadline=$(($1 + 3000))
	shift
	until [ "$(qoe_rcli "$@")" = 1 ]; do
		[ "$(qoe_ms)" -lt $deadline ] || { echo "no $* within 3 s of the commit" >&2; exit 1; }
		sleep 0.01
	done
	echo $(($(qoe_ms) - t0))
}
for id in 777001 777002 777003 777004 777005; do
	marker $id
	t0=$(qoe_ms)
	v=$(wait_key "$t0" EXISTS "concurrent_viewers:$id")
	m=$(wait_key "$t0" HEXISTS "qoe_metrics:$id" plays)
	echo "title $id: concurrent_viewers after $v ms, qoe_metrics after $m ms (polled every 10 ms by redis-cli)"
done
[ "$(qoe_rcli GET concurrent_viewers:777005)" = 1 ]
[ "$(qoe_rcli HGET qoe_metrics:777005 plays)" = 1 ]

# the same through a Kafka worker: its batch commit wakes the chain
kafka_marker() {
	local id=$1 now
	now=$(qoe_ms)
	printf '%s\n' "{\"event_type\":\"start\",\"session_id\":\"k-$id\",\"event_id\":\"a\",\"user_id\":1,\"content_id\":$id,\"timestamp\":$((now - 1000))}" \
		"{\"event_type\":\"first_frame\",\"session_id\":\"k-$id\",\"event_id\":\"b\",\"user_id\":1,\"content_id\":$id,\"timestamp\":$now}" |
		qoe_kafka_produce events
}
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events',
	flush_interval_ms => 20, start_position => 'earliest', properties => '{\"fetch.wait.max.ms\": \"10\"}')"
kafka_marker 778000		# the worker is up once this one is stored
qoe_wait_for 60 "$QOE_STORED_SQL" 2
for id in 778001 778002 778003; do
	kafka_marker $id
	t0=$(qoe_ms)		# produced: the worker's fetch and batch are in the figures
	v=$(wait_key "$t0" EXISTS "concurrent_viewers:$id")
	m=$(wait_key "$t0" HEXISTS "qoe_metrics:$id" plays)
	echo "title $id through Kafka: concurrent_viewers $v ms, qoe_metrics $m ms after it was produced"
done

# rolled back: nothing of it shows, though a later commit wakes the publisher
now=$(qoe_ms)
psql -qX -v ON_ERROR_STOP=1 -o /dev/null <<SQL
BEGIN;
SELECT qoe.ingest('[{"event_type":"start","session_id":"w-rb","event_id":"a","user_id":1,"content_id":777100,"timestamp":$((now - 1000))},
                    {"event_type":"first_frame","session_id":"w-rb","event_id":"b","user_id":1,"content_id":777100,"timestamp":$now}]');
ROLLBACK;
SQL
marker 777006
wait_key "$(qoe_ms)" EXISTS concurrent_viewers:777006 >/dev/null
wait_key "$(qoe_ms)" HEXISTS qoe_metrics:777006 plays >/dev/null
[ "$(qoe_rcli EXISTS concurrent_viewers:777100)" = 0 ] && [ "$(qoe_rcli EXISTS qoe_metrics:777100)" = 0 ] ||
	{ echo "a rolled-back ingest was published"; exit 1; }
echo ok
