#!/usr/bin/env bash
# Alerts reach a real Prometheus Alertmanager on loopback: a firing alert
# arrives, its resolution arrives (it leaves Alertmanager's active alerts long
# before its endsAt), an Alertmanager that is down delays delivery but loses
# nothing (the outbox retries; firing alerts are resent to the one that comes
# back), and the stall-loop rule fires on events ingested through qoe.ingest
# within 3 s, seen by a LISTEN client and by Alertmanager.
# qoe.evaluate_alerts() is called every second here, as the scheduler will.
# The window rules read qoe.alert_metric_values, replaced in this throwaway
# cluster by a test-only table (the rollups are not part of this test).
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
. "$QOE_ROOT/test/lib/alertmanager.sh"
. "$QOE_ROOT/test/lib/alerts.sh"
[ -x "$QOE_AM_BIN" ] || { echo "prometheus-alertmanager is not installed"; exit 77; }

fail() {
	echo "FAILED: $*"
	psql -qX -c "SELECT id, rule, scope, state, deliver_at, delivered_state, delivery_attempts, delivery_error FROM qoe.alerts ORDER BY id" \
		-c "SELECT * FROM qoe.alert_delivery" 2>&1
	grep -i "alert" "$QOE_PGDATA_DIR/server.log" | tail -n 10
	exit 1
}
cleanup() {
	qoe_alerts_stop
	qoe_am_stop
	qoe_cluster_stop
	[ -n "${QOE_AM_DIR:-}" ] && rm -rf "$QOE_AM_DIR"
	return 0
}

qoe_am_start
qoe_cluster_start "qoe.alertmanager_url = '$QOE_AM_URL'
qoe.alertmanager_resend_interval = '3s'
qoe.alertmanager_timeout = '500ms'"
trap cleanup EXIT

psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION qoe_ext CASCADE;
CREATE TABLE public.alerts_test_metrics (content_id bigint PRIMARY KEY, metrics jsonb);
CREATE OR REPLACE FUNCTION qoe.alert_metric_values(from_ts timestamptz, to_ts timestamptz, group_by text[])
    RETURNS SETOF jsonb LANGUAGE sql STABLE
    AS $$ SELECT jsonb_build_object('content_id', content_id) || metrics FROM public.alerts_test_metrics $$;
UPDATE qoe.alert_rules SET enabled = false WHERE metric <> 'stall_loop';
INSERT INTO qoe.alert_rules (name, metric, scope, comparator, threshold, recovery_threshold,
                             min_sample, severity, message, channels)
VALUES ('t_rebuf', 'rebuffering_ratio', '{content_id}', '>', 0.02, 0.015, 20, 'critical',
        'High rebuffering: {{rebuffering_ratio | pct}} for content {{content_id}}', '{pagerduty}');
SQL
qoe_wait_for 30 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'qoe_ext alert notifier'" 1
qoe_wait_for 30 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'qoe_ext alert evaluator'" 1
# the watcher reads only shared catalogs, connected to no database; the
# notifier and the evaluator (the scheduler's) run as qoe_worker, never a
# superuser, with search_path pinned
got=$(psql -qXAt -c "
    SELECT string_agg(a.backend_type || ':' || r.rolname || ':' || coalesce(a.datname, '-') || ':' || r.rolsuper,
                      ',' ORDER BY a.backend_type)
      FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid
     WHERE backend_type LIKE 'qoe_ext alert %'")
[ "$got" = "qoe_ext alert evaluator:qoe_worker:postgres:false,qoe_ext alert notifier:qoe_worker:postgres:false,qoe_ext alert watcher:postgres:-:true" ] ||
	fail "alert processes (type:role:database:superuser): $got"

# the scheduler's stand-in, and a LISTEN client
qoe_alerts_evaluate_every_second
LISTEN_OUT=$(mktemp -p "$QOE_AM_DIR")
qoe_alerts_listen "$LISTEN_OUT"

# am_count FILTER: how many active alerts match a label filter (Alertmanager's own matcher)
am_count() {
	curl -sfG "$QOE_AM_URL/api/v2/alerts" --data-urlencode "filter=$1" |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
am_wait() {   # SECONDS FILTER COUNT
	local deadline=$((SECONDS + $1)) got=""
	while [ $SECONDS -lt $deadline ]; do
		got=$(am_count "$2" 2>/dev/null) || got="(no answer)"
		[ "$got" = "$3" ] && return 0
		sleep 0.1
	done
	echo "Alertmanager: expected $3 alerts matching $2, got $got"
	return 1
}

# 1. a firing alert arrives, with its labels and message
psql -qX -c "INSERT INTO public.alerts_test_metrics VALUES (1, '{\"rebuffering_ratio\": 0.05, \"plays\": 100}')"
am_wait 15 'alertname="t_rebuf"' 1 || fail "the firing alert did not reach Alertmanager"
curl -sfG "$QOE_AM_URL/api/v2/alerts" --data-urlencode 'filter=alertname="t_rebuf"' | python3 -c '
import json, sys
a = json.load(sys.stdin)[0]
assert a["labels"] == {"alertname": "t_rebuf", "severity": "critical", "content_id": "1", "channels": "pagerduty"}, a["labels"]
assert a["annotations"]["summary"] == "High rebuffering: 5.0% for content 1", a["annotations"]
assert a["status"]["state"] == "active", a["status"]
' || fail "the alert in Alertmanager is not as sent"
qoe_wait_for 5 "SELECT delivered_state FROM qoe.alerts WHERE rule = 't_rebuf'" firing
# ... and is resent while it fires (endsAt moves on)
sent=$(psql -qXAt -c "SELECT sent FROM qoe.alert_delivery")
qoe_wait_for 10 "SELECT sent > $sent FROM qoe.alert_delivery" t
[ "$(am_count 'alertname="t_rebuf"')" = 1 ] || fail "a resend made a second alert"

# 2. resolved: it arrives with its endsAt and leaves the active alerts
psql -qX -c "UPDATE public.alerts_test_metrics SET metrics = metrics || '{\"rebuffering_ratio\": 0.01}' WHERE content_id = 1"
am_wait 15 'alertname="t_rebuf"' 0 || fail "the resolution did not reach Alertmanager"
qoe_wait_for 5 "SELECT state, delivered_state, deliver_at IS NULL FROM qoe.alerts WHERE rule = 't_rebuf'" "resolved|resolved|t"

# 3. Alertmanager down: deliveries fail and are retried, nothing is lost
psql -qX -c "UPDATE public.alerts_test_metrics SET metrics = metrics || '{\"rebuffering_ratio\": 0.05}' WHERE content_id = 1"
am_wait 15 'alertname="t_rebuf"' 1 || fail "the second firing alert did not reach Alertmanager"
qoe_am_stop
rm -rf "$QOE_AM_DIR/data"     # it comes back knowing nothing
psql -qX -c "INSERT INTO public.alerts_test_metrics VALUES (2, '{\"rebuffering_ratio\": 0.07, \"plays\": 100}')"
qoe_wait_for 20 "SELECT delivery_attempts >= 2, delivery_error IS NOT NULL FROM qoe.alerts WHERE scope = '{\"content_id\": 2}'" "t|t"
psql -qXAt -c "SELECT 'while down: ' || last_error FROM qoe.alert_delivery"
# evaluation and ingest go on at full speed meanwhile
start=$(date +%s%N)
psql -qXAt -v ON_ERROR_STOP=1 -c "SELECT count(*) FROM qoe.evaluate_alerts()" >/dev/null
psql -qXAt -v ON_ERROR_STOP=1 -c "SELECT accepted FROM qoe.ingest('{\"event_type\":\"start\",\"session_id\":\"during-outage\",\"user_id\":1,\"content_id\":1}')" >/dev/null
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "evaluation and an ingest while Alertmanager is down: ${elapsed_ms} ms"
[ $elapsed_ms -lt 2000 ] || fail "evaluation or ingest waited on Alertmanager"
qoe_am_start $QOE_AM_PORT
# the new alert arrives (retried), and the one that fired before the outage
# is back too (resent)
am_wait 80 'alertname="t_rebuf"' 2 || fail "alerts were lost while Alertmanager was down"
qoe_wait_for 10 "SELECT count(*) FROM qoe.alerts WHERE state = 'firing' AND delivered_state = 'firing' AND delivery_error IS NULL" 2

# 4. the stall loop, through qoe.ingest: fires within 3 s of the third stall
#    event, at a LISTEN client and at Alertmanager
for rep in 1 2 3; do
	sid=loop-$rep
	now_ms=$(( $(date +%s%N) / 1000000 ))
	psql -qXAt -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT qoe.ingest(format('[{"event_type":"start","session_id":"$sid","event_id":"1","user_id":9,"content_id":5,"cdn_pop":"pop-bad","timestamp":%1\$s},
  {"event_type":"first_frame","session_id":"$sid","event_id":"2","user_id":9,"content_id":5,"cdn_pop":"pop-bad","timestamp":%2\$s},
  {"event_type":"buffering","session_id":"$sid","event_id":"3","user_id":9,"content_id":5,"cdn_pop":"pop-bad","timestamp":%3\$s},
  {"event_type":"buffering","session_id":"$sid","event_id":"4","user_id":9,"content_id":5,"cdn_pop":"pop-bad","timestamp":%4\$s}]',
  $now_ms - 5000, $now_ms - 4000, $now_ms - 1500, $now_ms - 800)::jsonb);
SQL
	t0=$(date +%s%N)
	psql -qXAt -v ON_ERROR_STOP=1 -c "SELECT qoe.ingest('{\"event_type\":\"buffering\",\"session_id\":\"$sid\",\"event_id\":\"5\",\"user_id\":9,\"content_id\":5,\"cdn_pop\":\"pop-bad\",\"timestamp\":$now_ms}')" >/dev/null
	am_wait 10 "session_id=\"$sid\"" 1 || fail "the stall loop of $sid did not reach Alertmanager"
	am_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	fired_ms=$(psql -qXAt -c "SELECT round(extract(epoch FROM a.fired_at - max(e.received_at)) * 1000)
	                            FROM qoe.alerts a, qoe.viewing_events e
	                           WHERE a.rule = 'stall_loop' AND a.scope ->> 'session_id' = '$sid'
	                             AND e.session_id = '$sid' GROUP BY a.fired_at")
	qoe_alerts_listen_wait 5 "$LISTEN_OUT" "$sid" || fail "no NOTIFY for $sid"
	echo "stall loop $sid: fired ${fired_ms} ms after the third stall was stored, in Alertmanager ${am_ms} ms after it was sent"
	[ "$fired_ms" -le 3000 ] || fail "the stall loop fired after ${fired_ms} ms"
	[ "$am_ms" -le 3000 ] || fail "the stall loop reached Alertmanager after ${am_ms} ms"
done
psql -qXAt -c "SELECT message FROM qoe.alerts WHERE rule = 'stall_loop' ORDER BY id LIMIT 1"
echo "ok"
