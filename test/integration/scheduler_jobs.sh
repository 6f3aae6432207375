#!/usr/bin/env bash
# The launcher's scheduler runs every job on its own interval setting, with
# nobody calling anything: the coarser rollup levels of closed windows are
# built, idle sessions are abandoned, concurrent viewers are
# sampled into qoe.concurrency_1min, the business views are refreshed, and
# retention removes what is older than its setting, sessions become
# interactions and the recommendation model follows; every run shows in
# qoe.scheduler_status, and an interval set to 0 by a reload stops its job.
set -eu
QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
qoe_cluster_start "qoe.session_timeout = '10s'
qoe.session_expiry_interval = '1s'
qoe.concurrency_sample_interval = '1s'
qoe.view_refresh_interval = '1s'
qoe.retention_interval = '1s'
qoe.recommendations_refresh_interval = '1s'
qoe.session_retention = '1d'" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }
wait_for() { # condition timeout_s
	local deadline=$(( $(date +%s) + $2 ))
	until [ "$(q -c "SELECT $1")" = t ]; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}
ev() { # session type ms_ago [user content]
	printf '{"event_type":"%s","session_id":"%s","user_id":%d,"content_id":%d,"country":"BR","timestamp":%d}' \
		"$2" "$1" "${4:-1}" "${5:-42}" $(( $(date +%s%3N) - $3 ))
}

q -c "CREATE EXTENSION qoe_ext CASCADE" 2>/dev/null
# idle: its last event a minute ago; playing: an event now; earlier: 20
# minutes ago, in windows the merge closes (the lateness allowed is 5 minutes)
q -c "SELECT accepted FROM qoe.ingest('[$(ev idle start 62000), $(ev idle first_frame 60000),
      $(ev playing start 3000), $(ev playing first_frame 2000), $(ev playing heartbeat 0),
      $(ev earlier start 1200000 3 44), $(ev earlier first_frame 1199000 3 44)]'::jsonb)" >/dev/null
# out of retention: a session finished two days ago, a dead letter of 40 days
q -c "INSERT INTO qoe.sessions (session_id, user_id, content_id, started_at, last_event_at, ended_at,
          state, watch_ms, stall_count, stall_ms, seek_stall_count, seek_stall_ms, paused_ms,
          bitrate_switches, bitrate_downswitches, dropped_frames, completed, ebvs, start_failed,
          playback_failed, error_count, event_count, fold_state)
      VALUES ('old', 1, 42, now() - interval '2 days', now() - interval '2 days',
              now() - interval '2 days', 'ended', 0, 0, 0, 0, 0, 0, 0, 0, 0, false, true, false,
              false, 0, 1, '\\x')"
q -c "INSERT INTO qoe.dead_letters (received_at, source, reason) VALUES (now() - interval '40 days', 'sql', 'old')"

wait_for "state = 'abandoned' FROM qoe.sessions WHERE session_id = 'idle'" 20 ||
	fail "the idle session was not abandoned by the scheduler"
[ "$(q -c "SELECT state FROM qoe.sessions WHERE session_id = 'playing'")" = active ] ||
	fail "the playing session was abandoned"
wait_for "plays = 1 FROM qoe.qoe_rollups WHERE level = '5min_title' AND content_id = 44" 20 ||
	fail "the coarser levels of the closed windows were not built"
[ "$(q -c "SELECT levels_through = closed_through AND closed_through > now() - interval '11 min' FROM qoe.rollup_status")" = t ] ||
	fail "the levels' watermark did not follow the windows closed"
wait_for "peak_viewers = 1 FROM qoe.concurrency_1min WHERE content_id = 42 AND country = 'BR'" 20 ||
	fail "concurrent viewers were not sampled"
wait_for "attempts = 2 FROM qoe.content_metrics_daily WHERE content_id = 42 AND day = (now() AT TIME ZONE 'UTC')::date" 20 ||
	fail "the business views were not refreshed"
wait_for "NOT EXISTS (SELECT FROM qoe.sessions WHERE session_id = 'old')
          AND NOT EXISTS (SELECT FROM qoe.dead_letters WHERE reason = 'old')" 20 ||
	fail "retention did not remove the old session and dead letter"
# sessions become interactions, and the model follows new viewing: users 1
# and 2 both watch 42 and 43, so each title lists the other
wait_for "EXISTS (SELECT FROM qoe.interactions WHERE user_id = 1 AND content_id = 42)
          AND (SELECT mode FROM qoe.recommendation_refresh) IS NOT NULL" 20 ||
	fail "the sessions did not become interactions"
q -c "SELECT accepted FROM qoe.ingest('[$(ev u2a start 2000 2 42), $(ev u2a first_frame 1000 2 42),
      $(ev u2b start 2000 2 43), $(ev u2b first_frame 1000 2 43),
      $(ev u1b start 2000 1 43), $(ev u1b first_frame 1000 1 43)]'::jsonb)" >/dev/null
wait_for "EXISTS (SELECT FROM qoe.item_neighbors WHERE content_id = 42 AND neighbor_id = 43)
          AND EXISTS (SELECT FROM qoe.item_neighbors WHERE content_id = 43 AND neighbor_id = 42)" 20 ||
	{ q -c "SELECT * FROM qoe.recommendation_refresh"; fail "the model did not follow the new sessions"; }
wait_for "count(*) = 8 AND bool_and(runs > 0 AND NOT failing) FROM qoe.scheduler_status" 20 ||
	{ q -c "SELECT * FROM qoe.scheduler_status"; fail "not every job ran cleanly"; }
q -c "SELECT job, run_every, runs FROM qoe.scheduler_status ORDER BY job"

# a job whose interval is set to 0 stops; the others go on
q -c "ALTER SYSTEM SET qoe.view_refresh_interval = 0" -c "SELECT pg_reload_conf()" >/dev/null
sleep 2
before=$(q -c "SELECT runs FROM qoe.scheduler_status WHERE job = 'refresh_views'")
rollups=$(q -c "SELECT runs FROM qoe.scheduler_status WHERE job = 'refresh_rollups'")
sleep 3
[ "$(q -c "SELECT runs FROM qoe.scheduler_status WHERE job = 'refresh_views'")" = "$before" ] ||
	fail "refresh_views still runs with its interval 0"
[ "$(q -c "SELECT runs FROM qoe.scheduler_status WHERE job = 'refresh_rollups'")" -gt "$rollups" ] ||
	fail "the other jobs stopped too"
echo "every job ran on its own interval; an interval of 0 stops its job"
