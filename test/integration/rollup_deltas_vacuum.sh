#!/usr/bin/env bash
# The launcher vacuums qoe.session_window_deltas after its merges
# (src/analytics/deltas_vacuum.c): under a steady ingest the heap stops
# growing after its first seconds (without it, it grew with every row ever
# appended until autovacuum came, up to a minute later), and the job reports
# no failure.
set -eu
QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/deps.sh"
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
qoe_cluster_start "autovacuum = off" || exit 1
trap 'qoe_cluster_stop; rm -rf "$WORK"' EXIT
WORK=$(mktemp -d /tmp/qoe_vacuum.XXXXXX)
fail() { echo "FAIL: $*"; exit 1; }
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }

q -c "CREATE EXTENSION qoe_ext CASCADE" -c "SELECT qoe.premake_partitions()" >/dev/null 2>&1
qoe_wait_for 60 "SELECT last_run IS NOT NULL FROM qoe.rollup_status" t
qoe_build_feed "$WORK"
heap() { q -c "SELECT pg_relation_size('qoe.session_window_deltas')"; }

# 12 s of 15,000 events/s through qoe.ingest
"$QOE_ROOT/src/tools/qoe_gen" --seed 3 --events 180000 --viewers 2000 --rate 15000 --format array --batch 500 |
	"$WORK/feed" "" >/dev/null &
feed=$!
sleep 3
early=$(heap)
wait "$feed"
late=$(heap)
appended=$(q -c "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relid = 'qoe.session_window_deltas'::regclass")
vacuums=$(q -c "SELECT vacuum_count FROM pg_stat_user_tables WHERE relid = 'qoe.session_window_deltas'::regclass")
echo "deltas heap: $early bytes after 3 s, $late after 12 s ($appended rows appended); $vacuums vacuums"
[ "$vacuums" -ge 5 ] || fail "the launcher did not vacuum the deltas after its merges"
[ "$late" -le $((early * 2)) ] || fail "the deltas heap kept growing"
[ "$(q -c "SELECT failures FROM qoe.scheduler_status WHERE job = 'refresh_rollups'")" = 0 ] ||
	fail "$(q -c "SELECT last_error FROM qoe.scheduler_status WHERE job = 'refresh_rollups'")"
# nothing lost: every event merged
qoe_wait_for 20 "SELECT (SELECT sum(events) FROM qoe.qoe_5min) = (SELECT count(*) FROM qoe.viewing_events)" t
echo ok
