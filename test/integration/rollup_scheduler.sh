#!/usr/bin/env bash
# The launcher refreshes the rollups twice a second (src/analytics/scheduler.c):
# an accepted event shows in qoe.qoe_metrics() without anyone calling
# qoe.refresh_rollups(); a failing refresh is reported in qoe.scheduler_status
# and in the log, and the next good one clears it.
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
wait_for "failing AND last_error LIKE '%permission denied%' AND last_error_at IS NOT NULL
          FROM qoe.scheduler_status WHERE job = 'refresh_rollups'" 20 ||
	fail "the failing refresh was not reported"
q -c "GRANT DELETE ON qoe.session_window_deltas TO qoe_worker"
wait_for "NOT failing AND failures > 0 FROM qoe.scheduler_status WHERE job = 'refresh_rollups'" 20 ||
	fail "the error was not cleared"
wait_for "coalesce(sum(events), 0) = 2 FROM qoe.qoe_5min WHERE content_id = 777" 20 ||
	fail "the event written while the refresh failed was lost"
grep -q "scheduler job refresh_rollups failed" "$QOE_PGDATA_DIR/server.log" || fail "the failure was not logged"
echo "a failing refresh is reported and recovered from"

# No other job holds the refresh back: the long periodic ones run in the
# scheduler process, the alert rules in the alert evaluator, the refresh in
# the launcher. A job is made to take 8 s (a trigger sleeping before a write
# it makes); within one run, a new event still shows within the refresh
# interval (in one process it waited for the job to end).
q -c "CREATE FUNCTION sleep_8s() RETURNS trigger LANGUAGE plpgsql AS
      \$\$ BEGIN PERFORM pg_sleep(8); RETURN NULL; END \$\$" >/dev/null
not_held_back_by() { # job table process session content
	local running="query LIKE '%$1%' AND state = 'active' AND wait_event = 'PgSleep'" began by start visible_ms
	q -c "CREATE TRIGGER sleep_8s BEFORE INSERT ON $2 FOR EACH STATEMENT EXECUTE FUNCTION sleep_8s()" >/dev/null
	# a run that began less than 2 s ago: 6 s of it left at least
	wait_for "EXISTS (SELECT FROM pg_stat_activity WHERE $running
	                   AND query_start > clock_timestamp() - interval '2 s')" 30 || fail "$1 never ran"
	IFS='|' read -r began by < <(q -c "SELECT query_start, backend_type FROM pg_stat_activity WHERE $running")
	start=$(date +%s%N)
	q -c "SELECT accepted FROM qoe.ingest('{\"event_type\":\"start\",\"session_id\":\"$4\",\"user_id\":2,
	      \"content_id\":$5,\"timestamp\":$(( $(date +%s%N) / 1000000 ))}'::jsonb)" >/dev/null
	wait_for "coalesce(sum(attempts), 0) = 1 FROM qoe.qoe_5min WHERE content_id = $5" 20 ||
		fail "the event never showed in qoe.qoe_5min"
	visible_ms=$(( ($(date +%s%N) - start) / 1000000 ))
	[ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE $running AND query_start = '$began'")" = 1 ] ||
		fail "the event showed only after $1 ended (after $visible_ms ms)"
	[ "$by" = "$3" ] || fail "$1 ran in $by"
	q -c "DROP TRIGGER sleep_8s ON $2" >/dev/null
	echo "visible after $visible_ms ms, within an 8 s run of $1 in $3"
}
q -c "ALTER SYSTEM SET qoe.concurrency_sample_interval = '1s'" -c "SELECT pg_reload_conf()" >/dev/null
not_held_back_by record_concurrency qoe.concurrency_1min "qoe_ext scheduler" sched-2 778
echo "a long periodic job does not hold back the refresh"
q -c "ALTER SYSTEM RESET qoe.concurrency_sample_interval" -c "SELECT pg_reload_conf()" >/dev/null
# an evaluation of the window rules at a large audience, 200-500 ms every
# 10 s, delayed the refresh after it when the launcher ran both
not_held_back_by evaluate_alerts qoe.alert_rule_status "qoe_ext alert evaluator" sched-3 779
echo "an evaluation of the alert rules does not hold back the refresh"
