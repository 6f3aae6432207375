#!/usr/bin/env bash
# Alert changes on the Redis channel qoe_alerts (doc/redis.md, alerts), with
# a real redis-server and redis-cli SUBSCRIBE clients: a stall loop that fires
# and resolves is published exactly once firing and once resolved, with the
# documented message, well under a second after the evaluation; an
# evaluation that rolls back publishes nothing; an alert that fires while
# Redis is down (and the publisher is restarted meanwhile) waits in the
# outbox, and resolves, through a restart of the publisher; when Redis
# returns both are published once, in order.
set -eu
QOE_ROOT=${QOE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$QOE_ROOT/test/lib/redis.sh"

CHANNEL=t1:qoe_alerts
qoe_redis_start
qoe_publisher_cluster "qoe.redis_key_prefix = 't1:'"
SUB_DIR=$(mktemp -d /tmp/qoe_redis_alerts.XXXXXX)
SUB_PIDS=
trap 'rc=$?; kill $SUB_PIDS 2>/dev/null || true; [ $rc = 0 ] || tail -20 "$QOE_PGDATA_DIR/server.log";
      qoe_redis_cleanup; rm -rf "$SUB_DIR"; exit $rc' EXIT
# the window rules read the rollups, which this test does not need
psql -qX -v ON_ERROR_STOP=1 -c "UPDATE qoe.alert_rules SET enabled = (metric = 'stall_loop')"

subscribe() {	# FILE [redis-cli options]: a subscriber writing to FILE
	local file=$1 deadline=$((SECONDS + 10))
	shift
	redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@" SUBSCRIBE $CHANNEL >"$file" 2>&1 &
	SUB_PIDS="$SUB_PIDS $!"
	until grep -qsx subscribe "$file"; do
		[ $SECONDS -lt $deadline ] || { cat "$file"; echo "the subscriber did not subscribe"; exit 1; }
		sleep 0.02
	done
}

# The states of SESSION's alert messages in FILE, one a line, each message
# checked against qoe.alerts (read after the file: as far as the messages or
# further) and the documented fields.
states() {	# FILE SESSION
	cp "$1" "$1.read"
	python3 - "$1.read" "$2" "$(psql -qXAt -c "SELECT coalesce(jsonb_agg(a), '[]') FROM (
	    SELECT id, state, fired_at, resolved_at, value, threshold,
	           to_char(fired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS starts_at,
	           to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS ends_at
	      FROM qoe.alerts WHERE scope ->> 'session_id' = '$2') a")" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().split("\n")[:-1]	# complete lines only
alerts = {a["id"]: a for a in json.loads(sys.argv[3])}
i = 0
while i + 2 < len(lines):
    if lines[i] != "message":
        i += 1
        continue
    assert lines[i + 1] == "t1:qoe_alerts", lines[i + 1]
    m = json.loads(lines[i + 2])
    i += 3
    if m["scope"].get("session_id") != sys.argv[2]:
        continue
    assert set(m) == {"event_id", "id", "rule", "state", "severity", "scope", "value", "threshold",
                      "starts_at", "ends_at", "message", "channels"}, m
    a = alerts[m["id"]]
    assert m["event_id"] == "%d:%s" % (m["id"], m["state"]), m
    assert m["rule"] == "stall_loop" and m["severity"] == "critical" and m["threshold"] == 3, m
    assert m["scope"] == {"session_id": sys.argv[2], "content_id": 8}, m
    assert m["value"] == 3 and m["channels"] == ["slack", "pagerduty"], m
    assert m["starts_at"] == a["starts_at"], (m, a)
    assert m["ends_at"] == (a["ends_at"] if m["state"] == "resolved" else None), (m, a)
    assert sys.argv[2] in m["message"], m
    print(m["state"])
PY
}

# Wait for SESSION's STATE message in FILE (a cheap look, so that ARRIVED,
# the time it arrived in ms, is close), then check every message of SESSION.
wait_state() {	# FILE SESSION STATE SECONDS
	local deadline=$((SECONDS + $4))
	until grep -sF "\"session_id\": \"$2\"" "$1" | grep -qF "\"state\": \"$3\""; do
		[ $SECONDS -lt $deadline ] || {
			echo "no $3 message for $2 within $4 s"; cat "$1"
			psql -qX -c "SELECT id, scope, state FROM qoe.alerts" -c "SELECT * FROM qoe.redis_status"
			exit 1; }
		sleep 0.01
	done
	ARRIVED=$(qoe_ms)
	states "$1" "$2" | grep -qx "$3"
}

stall_loop() {	# SESSION [psql input after the ingest]: three stalls in a row, in one transaction
	local now_ms
	now_ms=$(qoe_ms)
	psql -qXAt -v ON_ERROR_STOP=1 <<SQL
BEGIN;
SELECT accepted FROM qoe.ingest('[
  {"event_type":"start","session_id":"$1","event_id":"1","user_id":3,"content_id":8,"timestamp":$((now_ms - 5000))},
  {"event_type":"first_frame","session_id":"$1","event_id":"2","user_id":3,"content_id":8,"timestamp":$((now_ms - 4000))},
  {"event_type":"buffering","session_id":"$1","event_id":"3","user_id":3,"content_id":8,"timestamp":$((now_ms - 1500))},
  {"event_type":"buffering","session_id":"$1","event_id":"4","user_id":3,"content_id":8,"timestamp":$((now_ms - 800))},
  {"event_type":"buffering","session_id":"$1","event_id":"5","user_id":3,"content_id":8,"timestamp":$now_ms}]') \g /dev/null
${2:-COMMIT;}
SQL
}

# 1. fires, then resolves (10 s without a stall): one message each
subscribe "$SUB_DIR/sub1.out"
stall_loop r-1
wait_state "$SUB_DIR/sub1.out" r-1 firing 10
received=$ARRIVED
fired=$(psql -qXAt -c "SELECT (extract(epoch FROM fired_at) * 1000)::bigint FROM qoe.alerts
                        WHERE scope ->> 'session_id' = 'r-1'")
echo "firing received $((received - fired)) ms after the evaluation that fired it started"
[ $((received - fired)) -lt 2000 ] || { echo "too late"; exit 1; }
wait_state "$SUB_DIR/sub1.out" r-1 resolved 30
sleep_until=$(($(psql -qXAt -c "SELECT publishes FROM qoe.redis_status") + 3))
qoe_wait_for 10 "SELECT publishes >= $sleep_until FROM qoe.redis_status" t	# 3 more rounds: no repeat
got=$(states "$SUB_DIR/sub1.out" r-1 | paste -sd' ')
echo "r-1: $got"
[ "$got" = "firing resolved" ] || { echo "expected one firing and one resolved message"; exit 1; }
psql -qXAt -c "SELECT 'status: ' || state || ', alerts published ' || alerts_published || ', queued ' || alerts_queued
               FROM qoe.redis_status"
[ "$(psql -qXAt -c "SELECT alerts_published >= 2 AND alerts_queued = 0 FROM qoe.redis_status")" = t ]

# 2. an evaluation that fired an alert and rolled back, held open across 3
# publishing rounds, publishes nothing
out=$(stall_loop r-2 "SELECT count(*) FROM qoe.evaluate_alerts(clock_timestamp()) WHERE scope ->> 'session_id' = 'r-2';
$(qoe_sql_await_publishes 3)
ROLLBACK;")
[ "$out" = 1 ] || { echo "the evaluation in the transaction fired no alert: $out"; exit 1; }
target=$(($(psql -qXAt -c "SELECT publishes FROM qoe.redis_status") + 3))
qoe_wait_for 10 "SELECT publishes >= $target FROM qoe.redis_status" t
[ -z "$(states "$SUB_DIR/sub1.out" r-2)" ] || { echo "a rolled-back alert was published"; exit 1; }
echo "rolled back: nothing published"

# 3. Redis down: the alert fires and resolves, both wait in the outbox,
# through a restart of the publisher too; Redis back: published once each.
# (A subscriber must be there first: Redis starts requiring a password the
# publisher does not have, and drops it once the subscriber is in.)
qoe_redis_stop
qoe_wait_for 5 "SELECT state <> 'connected' FROM qoe.redis_status" t
stall_loop r-3
qoe_wait_for 10 "SELECT count(*) FROM qoe.alerts WHERE scope ->> 'session_id' = 'r-3' AND state = 'firing'" 1
qoe_wait_for 5 "SELECT alerts_queued FROM qoe.redis_status" 1
pid=$(psql -qXAt -c "SELECT pid FROM qoe.redis_status")
psql -qXAt -c "SELECT pg_terminate_backend($pid)" >/dev/null
qoe_wait_for 30 "SELECT pid IS NOT NULL AND pid <> $pid FROM qoe.redis_status" t
# and resolves, still with Redis down: both wait, in order
qoe_wait_for 30 "SELECT count(*) FROM qoe.alerts WHERE scope ->> 'session_id' = 'r-3' AND state = 'resolved'" 1
qoe_wait_for 5 "SELECT alerts_queued FROM qoe.redis_status" 2
echo "publisher restarted while Redis was down; alerts queued: 2"
qoe_redis_start --requirepass sekrit
subscribe "$SUB_DIR/sub2.out" --no-auth-warning -a sekrit
qoe_rcli --no-auth-warning -a sekrit CONFIG SET requirepass "" >/dev/null
t0=$(qoe_ms)
wait_state "$SUB_DIR/sub2.out" r-3 resolved 5
echo "Redis back: the queued messages published $((ARRIVED - t0)) ms after Redis let the publisher in"
qoe_wait_for 5 "SELECT alerts_queued FROM qoe.redis_status" 0
target=$(($(psql -qXAt -c "SELECT publishes FROM qoe.redis_status") + 3))
qoe_wait_for 10 "SELECT publishes >= $target FROM qoe.redis_status" t
[ "$(states "$SUB_DIR/sub2.out" r-3 | paste -sd' ')" = "firing resolved" ] ||
	{ echo "expected one firing and one resolved message for r-3, in order"; exit 1; }
[ -z "$(states "$SUB_DIR/sub1.out" r-3)" ]
echo "ok"
