# Alert test helpers. Source after cluster.sh (psql reaches the cluster):
#   qoe_alerts_evaluate_every_second   qoe.evaluate_alerts() each second, as the
#                                      scheduler will (sets QOE_ALERTS_EVAL_PID)
#   qoe_alerts_listen FILE             a LISTEN qoe_alerts client writing what it
#                                      receives to FILE (sets QOE_ALERTS_LISTEN_PID)
#   qoe_alerts_listen_wait SECONDS FILE SESSION
#                                      wait for the firing NOTIFY of SESSION's
#                                      stall loop, checking its documented payload
#   qoe_alerts_stop                    end both
qoe_alerts_evaluate_every_second() {
	(while true; do psql -qXAt -c "SELECT count(*) FROM qoe.evaluate_alerts()" >/dev/null 2>&1; sleep 1; done) &
	QOE_ALERTS_EVAL_PID=$!
}

# psql shows a notification after its next command: one every 0.1 s
qoe_alerts_listen() {
	(while true; do echo "SELECT 1;"; sleep 0.1; done | psql -qXAt -c "LISTEN qoe_alerts" -f - >"$1" 2>&1) &
	QOE_ALERTS_LISTEN_PID=$!
}

qoe_alerts_listen_wait() {
	local deadline=$((SECONDS + $1))
	while [ $SECONDS -lt $deadline ]; do
		python3 - "$2" "$3" <<'PY' && return 0
import json, re, sys
for line in open(sys.argv[1]):
    m = re.search(r'with payload "(.*)" received from', line)
    if not m:
        continue
    p = json.loads(m.group(1))
    if p.get("scope", {}).get("session_id") == sys.argv[2] and p["state"] == "firing":
        assert set(p) == {"id", "rule", "severity", "scope", "state", "value"}, p
        assert p["rule"] == "stall_loop" and p["severity"] == "critical" and p["value"] == 3, p
        assert set(p["scope"]) == {"session_id", "content_id"}, p
        sys.exit(0)
sys.exit(1)
PY
		sleep 0.1
	done
	echo "no NOTIFY qoe_alerts for the stall loop of $3"
	return 1
}

qoe_alerts_stop() {
	[ -n "${QOE_ALERTS_EVAL_PID:-}" ] && kill $QOE_ALERTS_EVAL_PID 2>/dev/null
	[ -n "${QOE_ALERTS_LISTEN_PID:-}" ] && kill $QOE_ALERTS_LISTEN_PID 2>/dev/null
	QOE_ALERTS_EVAL_PID= QOE_ALERTS_LISTEN_PID=
	return 0
}
