#!/usr/bin/env bash
# Redis killed in the middle of an ingest (doc/redis.md, failure behaviour):
# the ingest goes on at the same rate (the two halves of the one psql run
# are timed), the outage shows in qoe.redis_status, and once redis-server
# is back, empty, on the same port, the keys equal the views again within
# 1 s.
set -eu
QOE_ROOT=${QOE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v redis-server >/dev/null || { echo "redis-server not installed"; exit 77; }
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
. "$QOE_ROOT/test/lib/redis.sh"

qoe_redis_start
qoe_publisher_cluster
qoe_wait_for 30 "SELECT state FROM qoe.redis_status" connected
WORK=$QOE_PGDATA_DIR/work
mkdir -p "$WORK"

# two halves of one stream of recent events, the same size
half() {
	"$QOE_ROOT/src/tools/qoe_gen" --seed "$1" --viewers 1000 --titles 200 --uuid-ids \
		--events 40000 --start-ms $(( ($(date +%s) - 240) * 1000 )) --format array --batch 500 |
		sed -e 's/^/SELECT accepted FROM qoe.ingest($q$/' -e 's/$/$q$);/'
}
{
	half 10		# warm-up: the first batches pay for caches and partitions
	echo "\\! date +%s%3N >>$WORK/marks"
	half 11
	echo "\\! date +%s%3N >>$WORK/marks; kill -KILL \$(cat $QOE_REDIS_DIR/redis.pid); date +%s%3N >>$WORK/marks"
	half 12
	echo "\\! date +%s%3N >>$WORK/marks"
} >"$WORK/ingest.sql"
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -f "$WORK/ingest.sql"
rm -f "$QOE_REDIS_DIR/redis.pid"
read -r t0 t1 t2 t3 < <(paste -sd' ' "$WORK/marks")
up_ms=$((t1 - t0)) down_ms=$((t3 - t2))
echo "40000 events with Redis up: $up_ms ms; 40000 events with Redis killed: $down_ms ms; ratio $(echo "scale=2; $down_ms / $up_ms" | bc)"
# a publisher in the way would stall for its timeouts; noise is far smaller
[ $((down_ms * 10)) -le $((up_ms * 15)) ] || { echo "ingest slowed down while Redis was down"; exit 1; }

qoe_wait_for 5 "SELECT state <> 'connected' AND last_error LIKE '%Redis at 127.0.0.1:$REDIS_PORT%' FROM qoe.redis_status" t
psql -qXAt -c "SELECT 'status while down: ' || state || ', ' || errors || ' errors, last: ' || last_error FROM qoe.redis_status"

qoe_redis_start
ms=$(qoe_wait_viewers_equal 3000)
echo "redis-server restarted empty: keys equal qoe.concurrent_viewers again after $ms ms"
[ "$ms" -lt 1000 ] || { echo "keys took longer than 1 s to catch up"; exit 1; }
[ "$(qoe_rcli ZCARD trending_content)" -gt 0 ]
! grep -E "PANIC|server process .* was terminated" "$QOE_PGDATA_DIR/server.log"
echo ok
