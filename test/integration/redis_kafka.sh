#!/usr/bin/env bash
# Events ingested by a Kafka worker reach Redis like those of qoe.ingest:
# once the worker has stored them, concurrent_viewers:{id},
# trending_content and qoe_metrics:{id} equal what they mirror.
set -eu
export QOE_ROOT=${QOE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$QOE_ROOT/test/lib/redis.sh"
. "$QOE_ROOT/test/lib/kafka.sh"

qoe_redis_start
qoe_publisher_cluster
qoe_kafka_start events:2		# chains its stop to the cleanup trap

events=$QOE_REDIS_DIR/events.ndjson
"$QOE_ROOT/src/tools/qoe_gen" --seed 31 --viewers 150 --titles 50 --uuid-ids \
	--duration-sec 120 --start-ms $(( ($(date +%s) - 180) * 1000 )) >"$events"
n=$(wc -l <"$events")
qoe_kafka_produce events <"$events"
psql -qX -v ON_ERROR_STOP=1 -o /dev/null \
	-c "SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events', properties => '{\"session.timeout.ms\": \"6000\"}')"
qoe_wait_for 90 "$QOE_STORED_SQL" "$n"
ms=$(qoe_wait_viewers_equal 3000)
echo "$n events through Kafka: concurrent_viewers keys equal the view $ms ms after all were seen stored"
[ "$(qoe_sql_viewers | wc -l)" -gt 10 ] || { echo "too few titles playing to compare"; exit 1; }
qoe_wait_trending_equal 3000
echo "trending_content: $(qoe_rcli ZCARD trending_content) titles, equal to qoe.trending_content"
qoe_wait_metrics_equal 5000
echo "qoe_metrics: $(qoe_rcli --scan --pattern 'qoe_metrics:*' | wc -l) hashes, equal to qoe.qoe_metrics"
echo ok
