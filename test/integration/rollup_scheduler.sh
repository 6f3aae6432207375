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

# A long periodic job does not hold the refresh back: it runs in the
# scheduler process, the refresh in the launcher. Each sample of concurrent
# viewers is made to take 8 s (a trigger sleeping before its insert); within
# one, a new event still shows within the refresh interval (in one process
# it waited for the sample to end).
q -c "CREATE FUNCTION slow_sample() RETURNS trigger LANGUAGE plpgsql AS
      \$\$ BEGIN PERFORM pg_sleep(8); RETURN NULL; END \$\$;
      CREATE TRIGGER slow_sample BEFORE INSERT ON qoe.concurrency_1min
          FOR EACH STATEMENT EXECUTE FUNCTION slow_sample()" \
  -c "ALTER SYSTEM SET qoe.concurrency_sample_interval = '1s'" -c "SELECT pg_reload_conf()" >/dev/null
sampling="query LIKE '%record_concurrency%' AND state = 'active' AND wait_event = 'PgSleep'"
# a sample that began less than 2 s ago: 6 s of it left at least
wait_for "EXISTS (SELECT FROM pg_stat_activity WHERE $sampling
                   AND query_start > clock_timestamp() - interval '2 s')" 30 ||
	fail "concurrent viewers were never sampled"
IFS='|' read -r began sampler < <(q -c "SELECT query_start, backend_type FROM pg_stat_activity WHERE $sampling")
start=$(date +%s%N)
q -c "SELECT accepted FROM qoe.ingest('{\"event_type\":\"start\",\"session_id\":\"sched-2\",\"user_id\":2,
      \"content_id\":778,\"timestamp\":$(( $(date +%s%N) / 1000000 ))}'::jsonb)" >/dev/null
wait_for "coalesce(sum(attempts), 0) = 1 FROM qoe.qoe_5min WHERE content_id = 778" 20 ||
	fail "the event never showed in qoe.qoe_5min"
visible_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE $sampling AND query_start = '$began'")" = 1 ] ||
	fail "the event showed only after the sample (after $visible_ms ms)"
[ "$sampler" = "qoe_ext scheduler" ] || fail "concurrent viewers sampled by $sampler"
echo "visible after $visible_ms ms, within an 8 s sample of the scheduler process"
echo "a long periodic job does not hold back the refresh"

# Nor does an evaluation of the alert rules: it runs in the alert evaluator
# process (in the launcher, an evaluation of the window rules at a large
# audience, 200-500 ms every 10 s, delayed the refresh after it). Each
# evaluation is made to take 8 s (a trigger on the rules' status it writes).
q -c "DROP TRIGGER slow_sample ON qoe.concurrency_1min" \
  -c "ALTER SYSTEM RESET qoe.concurrency_sample_interval" \
  -c "CREATE TRIGGER slow_evaluation BEFORE INSERT ON qoe.alert_rule_status
          FOR EACH STATEMENT EXECUTE FUNCTION slow_sample()" -c "SELECT pg_reload_conf()" >/dev/null
evaluating="query LIKE '%evaluate_alerts%' AND state = 'active' AND wait_event = 'PgSleep'"
wait_for "EXISTS (SELECT FROM pg_stat_activity WHERE $evaluating
                   AND query_start > clock_timestamp() - interval '2 s')" 30 ||
	fail "the alert rules were never evaluated"
IFS='|' read -r began evaluator < <(q -c "SELECT query_start, backend_type FROM pg_stat_activity WHERE $evaluating")
start=$(date +%s%N)
q -c "SELECT accepted FROM qoe.ingest('{\"event_type\":\"start\",\"session_id\":\"sched-3\",\"user_id\":3,
      \"content_id\":779,\"timestamp\":$(( $(date +%s%N) / 1000000 ))}'::jsonb)" >/dev/null
wait_for "coalesce(sum(attempts), 0) = 1 FROM qoe.qoe_5min WHERE content_id = 779" 20 ||
	fail "the event never showed in qoe.qoe_5min"
visible_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE $evaluating AND query_start = '$began'")" = 1 ] ||
	fail "the event showed only after the evaluation (after $visible_ms ms)"
[ "$evaluator" = "qoe_ext alert evaluator" ] || fail "alert rules evaluated by $evaluator"
echo "visible after $visible_ms ms, within an 8 s evaluation of the alert evaluator"
echo "an evaluation of the alert rules does not hold back the refresh"
