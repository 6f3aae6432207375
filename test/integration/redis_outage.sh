#!/usr/bin/env bash
# Redis killed in the middle of an ingest (doc/redis.md, failure behaviour):
# the ingest goes on at the same rate (segments of one psql run, Redis up and
# killed in turn, are timed), the outage shows in qoe.redis_status, and once
# redis-server is back, empty, on the same port, the keys equal the views
# again within 1 s.
set -eu
QOE_ROOT=${QOE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$QOE_ROOT/test/lib/redis.sh"

qoe_redis_start
qoe_publisher_cluster
WORK=$QOE_PGDATA_DIR/work
mkdir -p "$WORK"

# One stream of recent events in segments of the same size, Redis up and
# killed in turn (up, down, up, down, up, down), timed from inside the one
# psql run; the medians of the up and of the down segments are compared, so
# that a burst of load from elsewhere on the machine cannot decide alone.
segment() {
	"$QOE_ROOT/src/tools/qoe_gen" --seed "$1" --viewers 1000 --titles 200 --uuid-ids \
		--events 20000 --start-ms $(( ($(date +%s) - 240) * 1000 )) --format array --batch 500 |
		sed -e 's/^/SELECT accepted FROM qoe.ingest($q$/' -e 's/$/$q$);/'
}
redis_args="--bind 127.0.0.1 --port $REDIS_PORT --save '' --appendonly no --dir $QOE_REDIS_DIR --daemonize yes --pidfile $QOE_REDIS_DIR/redis.pid --logfile $QOE_REDIS_DIR/redis.log"
{
	segment 10		# warm-up: the first batches pay for caches and partitions
	for i in 1 2 3; do
		echo "\\! date +%s%3N >>$WORK/up"
		segment $((10 + 2 * i))
		echo "\\! date +%s%3N >>$WORK/up; kill -KILL \$(cat $QOE_REDIS_DIR/redis.pid); rm -f $QOE_REDIS_DIR/redis.pid"
		echo "\\! date +%s%3N >>$WORK/down"
		segment $((11 + 2 * i))
		echo "\\! date +%s%3N >>$WORK/down"
		# Redis back, and the publisher reconnected, before the next up segment
		[ $i = 3 ] || echo "\\! redis-server $redis_args; until redis-cli -p $REDIS_PORT ping >/dev/null 2>&1; do sleep 0.05; done"
		[ $i = 3 ] || echo "DO \$\$ BEGIN
			WHILE (SELECT state FROM qoe.redis_status) <> 'connected' LOOP
				IF clock_timestamp() > now() + interval '10 s' THEN RAISE 'the publisher did not reconnect'; END IF;
				PERFORM pg_sleep(0.02);
			END LOOP; END \$\$;"
	done
} >"$WORK/ingest.sql"
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -f "$WORK/ingest.sql"
# per segment: end - start, ms; median of three
durations() { paste -d' ' - - <"$1" | awk '{ print $2 - $1 }' | sort -n; }
up=$(durations "$WORK/up" | paste -sd' ') down=$(durations "$WORK/down" | paste -sd' ')
up_ms=$(echo "$up" | cut -d' ' -f2) down_ms=$(echo "$down" | cut -d' ' -f2)
echo "20000 events with Redis up: $up ms (median $up_ms); with Redis killed: $down ms (median $down_ms); ratio $(echo "scale=2; $down_ms / $up_ms" | bc)"
# a publisher in the way would stall ingest for its timeouts; noise is far smaller
[ $((down_ms * 10)) -le $((up_ms * 13)) ] || { echo "ingest slowed down while Redis was down"; exit 1; }

qoe_wait_for 5 "SELECT state <> 'connected' AND last_error LIKE '%Redis at 127.0.0.1:$REDIS_PORT%' FROM qoe.redis_status" t
psql -qXAt -c "SELECT 'status while down: ' || state || ', ' || errors || ' errors, last: ' || last_error FROM qoe.redis_status"

qoe_redis_start
ms=$(qoe_wait_viewers_equal 3000)
echo "redis-server restarted empty: keys equal qoe.concurrent_viewers again after $ms ms"
[ "$ms" -lt 1000 ] || { echo "keys took longer than 1 s to catch up"; exit 1; }
[ "$(qoe_rcli ZCARD trending_content)" -gt 0 ]
! grep -E "PANIC|server process .* was terminated" "$QOE_PGDATA_DIR/server.log"
echo ok
