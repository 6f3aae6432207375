#!/usr/bin/env bash
# The merge closes no window past the newest event stored from a Kafka
# partition that stored within qoe.rollup_status.source_idle_timeout
# (doc/rollups.md, Levels):
# with two workers, one held back (a test session holds its partition's row
# of qoe.source_offsets, so its batch waits), events of the other worker half
# an hour later in event time do not close the windows the held one will
# store into; once it has stored them nothing was late
# (qoe.rollup_levels_pending stays empty); partitions idle longer than the
# timeout hold nothing.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
qoe_kafka_test_start wm:2

# T: a 5-minute boundary two hours ago, plus a minute
t_ms=$(( ($(date +%s) / 300 * 300 - 7200 + 60) * 1000 ))
event() {  # session, event id, type, ms after T
	printf '{"event_type":"%s","event_id":"%s","session_id":"%s","user_id":7,"content_id":42,"timestamp":%d,"position_sec":0,"device_type":"web","country":"BR","cdn_pop":"gru-1"}\n' \
		"$3" "$2" "$1" $((t_ms + $4))
}
closed() { psql -qXAt -c "SELECT closed_through FROM qoe.rollup_status"; }
at() { psql -qXAt -c "SELECT to_timestamp($t_ms / 1000.0) + interval '$1'"; }

# a timeout the steps below cannot outlast on a slow machine
psql -qX -v ON_ERROR_STOP=1 -c "UPDATE qoe.rollup_status SET source_idle_timeout = '10 min'" \
	-c "SELECT qoe.add_source('wm', '$QOE_KAFKA_BROKERS', 'wm', workers => 2, flush_interval_ms => 10)" >/dev/null
event a 0 start 0 | qoe_kafka_produce wm -p 0
event b 0 start 0 | qoe_kafka_produce wm -p 1
qoe_wait_for 30 "$QOE_STORED_SQL" 2
qoe_wait_for 20 "SELECT count(*) FROM qoe.session_window_deltas" 0
got=$(psql -qXAt -c "SELECT string_agg(latest_event_time::text, ',' ORDER BY partition) FROM qoe.source_offsets")
want=$(at 0)
[ "$got" = "$want,$want" ] || { echo "latest_event_time: $got, expected $want for both partitions"; exit 1; }

# partition 1's worker stores its next batch only when this session ends
qoe_hold "SELECT FROM qoe.source_offsets WHERE source = 'wm' AND partition = 1 FOR UPDATE"
event b 1 heartbeat 60000 | qoe_kafka_produce wm -p 1
qoe_wait_for 20 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'qoe_ext worker'
                    AND wait_event_type = 'Lock'" 1
# half an hour later on partition 0, stored and merged
event a 1 heartbeat 1800000 | qoe_kafka_produce wm -p 0
qoe_wait_for 30 "SELECT next_offset FROM qoe.source_offsets WHERE source = 'wm' AND partition = 0" 2
qoe_wait_for 20 "SELECT count(*) FROM qoe.session_window_deltas" 0
qoe_wait_for 20 "SELECT max(window_start) FROM qoe.qoe_5min" "$(at '29 min')"
got=$(closed)
want=$(at '-6 min')   # T's window less the allowed lateness (5 min)
[ "$got" = "$want" ] ||
	{ echo "with partition 1 behind at T, the windows closed through $got, expected $want"; exit 1; }
echo "partition 1 behind: closed through $got (partition 0 half an hour ahead)"

qoe_release
qoe_wait_for 30 "$QOE_STORED_SQL" 4
qoe_wait_for 20 "SELECT count(*) FROM qoe.session_window_deltas" 0
late=$(psql -qXAt -c "SELECT count(*) FROM qoe.rollup_levels_pending")
[ "$late" = 0 ] || { echo "$late groups were late"; exit 1; }
echo "caught up: nothing late"
# partition 1, at T + 1 min and stored just now, still holds the windows
# when partition 0's next event (T + 31 min) is merged
event a 2 heartbeat 1860000 | qoe_kafka_produce wm -p 0
qoe_wait_for 30 "SELECT next_offset FROM qoe.source_offsets WHERE source = 'wm' AND partition = 0" 3
qoe_wait_for 20 "SELECT count(*) FROM qoe.session_window_deltas" 0
got=$(closed)
[ "$got" = "$want" ] || { echo "partition 1 at T + 1 min: closed through $got, expected $want"; exit 1; }
echo "partition 1 at T + 1 min holds: closed through $got"
# a partition idle for longer than the timeout (0 here) holds nothing
psql -qX -c "UPDATE qoe.rollup_status SET source_idle_timeout = '0'" >/dev/null
event a 3 heartbeat 1920000 | qoe_kafka_produce wm -p 0
qoe_wait_for 20 "SELECT closed_through FROM qoe.rollup_status" "$(at '24 min')"
echo "idle partitions: closed through $(closed)"
