#!/usr/bin/env bash
# The launcher refreshes the rollups twice a second (src/analytics/scheduler.c):
# an accepted event shows in qoe.qoe_metrics() without anyone calling
# qoe.refresh_rollups(); a failing refresh is reported in qoe.rollup_status
# and cleared by the next good one.
set -eu
QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
qoe_cluster_start || exit 1
fail() { echo "FAIL: $*"; exit 1; }
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }

q -c "CREATE EXTENSION qoe_ext CASCADE" 2>/dev/null
# wait until the launcher ran a refresh
wait_for() { # condition timeout_s
	local deadline=$(( $(date +%s) + $2 ))
	until [ "$(q -c "SELECT $1")" = t ]; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}
wait_for "last_run IS NOT NULL FROM qoe.rollup_status" 60 || fail "the launcher never refreshed the rollups"

now_ms=$(( $(date +%s%N) / 1000000 ))
start=$(date +%s%N)
q -c "SELECT accepted FROM qoe.ingest('{\"event_type\":\"start\",\"session_id\":\"sched-1\",\"user_id\":1,
      \"content_id\":777,\"timestamp\":$now_ms,\"country\":\"FR\"}'::jsonb)" >/dev/null
wait_for "coalesce(sum(attempts), 0) = 1 FROM qoe.qoe_metrics(now() - interval '1 hour', now() + interval '1 hour', NULL, '{content_id}') WHERE content_id = 777" 20 ||
	fail "the event never showed in qoe.qoe_metrics"
echo "visible in qoe.qoe_metrics after $(( ($(date +%s%N) - start) / 1000000 )) ms"

# a refresh that fails is reported, and the next good one clears it
q -c "REVOKE DELETE ON qoe.session_window_deltas FROM qoe_worker"
q -c "SELECT accepted FROM qoe.ingest('{\"event_type\":\"heartbeat\",\"session_id\":\"sched-1\",\"user_id\":1,
      \"content_id\":777,\"timestamp\":$((now_ms + 1000))}'::jsonb)" >/dev/null
wait_for "last_error LIKE '%permission denied%' AND last_error_at IS NOT NULL FROM qoe.rollup_status" 20 ||
	fail "the failing refresh was not reported"
q -c "GRANT DELETE ON qoe.session_window_deltas TO qoe_worker"
wait_for "last_error IS NULL FROM qoe.rollup_status" 20 || fail "the error was not cleared"
wait_for "coalesce(sum(events), 0) = 2 FROM qoe.qoe_5min WHERE content_id = 777" 20 ||
	fail "the event written while the refresh failed was lost"
grep -q "could not refresh the rollups" "$QOE_PGDATA_DIR/server.log" || fail "the failure was not logged"
echo "a failing refresh is reported and recovered from"
