#!/usr/bin/env bash
# Redis AUTH (doc/redis.md): the publisher authenticates with
# qoe.redis_password, which no unprivileged role can read; a wrong password
# is a visible error in qoe.redis_status, neither a crash nor a stall, and
# the right one, on reload, brings the keys back.
set -eu
QOE_ROOT=${QOE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$QOE_ROOT/test/lib/redis.sh"

qoe_redis_start --requirepass 'good-Secret-1'
qoe_rcli() { REDISCLI_AUTH='good-Secret-1' redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
qoe_publisher_cluster "qoe.redis_password = 'good-Secret-1'"
qoe_ingest_recent 6 100
qoe_wait_viewers_equal 3000 >/dev/null
pid=$(psql -qXAt -c "SELECT pid FROM qoe.redis_status")

# the password is for superusers only
psql -qX -v ON_ERROR_STOP=1 -c "CREATE ROLE auth_ops LOGIN" -c "GRANT qoe_admin TO auth_ops"
out=$(psql -qXAt -U auth_ops -c "SHOW qoe.redis_password" 2>&1 || true)
echo "SHOW as a qoe_admin member: $out"
case $out in *must\ be\ superuser*|*permission\ denied*) ;; *) echo "the password is readable"; exit 1 ;; esac
[ "$(psql -qXAt -U auth_ops -c "SELECT count(*) FROM pg_settings WHERE name = 'qoe.redis_password'")" = 0 ]
psql -qXAt -U auth_ops -o /dev/null -c "SELECT * FROM qoe.redis_status"

# a wrong password: an error in the status, the publisher alive, nothing stalls
psql -qX -o /dev/null -c "ALTER SYSTEM SET qoe.redis_password = 'bad-Secret-2'" -c "SELECT pg_reload_conf()"
qoe_wait_for 5 "SELECT state || ' ' || (last_error LIKE '%WRONGPASS%') FROM qoe.redis_status" "disconnected true"
psql -qXAt -c "SELECT 'wrong password: ' || state || ', last error: ' || last_error FROM qoe.redis_status"
t0=$(qoe_ms)
qoe_ingest_recent 7 100
echo "ingest with the publisher locked out: $(($(qoe_ms) - t0)) ms"
[ "$(psql -qXAt -c "SELECT pid FROM qoe.redis_status")" = "$pid" ] || { echo "the publisher restarted"; exit 1; }
# (PostgreSQL itself logs a reloaded value: "parameter ... changed to")
if grep -e 'good-Secret-1' -e 'bad-Secret-2' "$QOE_PGDATA_DIR/server.log" | grep -vq 'parameter "qoe.redis_password" changed to' ||
	psql -qXAt -c "SELECT * FROM qoe.redis_status" | grep -q Secret; then
	echo "a password was shown"
	exit 1
fi

# the right one again
psql -qX -o /dev/null -c "ALTER SYSTEM SET qoe.redis_password = 'good-Secret-1'" -c "SELECT pg_reload_conf()"
qoe_wait_for 5 "SELECT state FROM qoe.redis_status" connected
ms=$(qoe_wait_viewers_equal 3000)
echo "right password: keys equal the view after $ms ms"
psql -qX -c "DROP ROLE auth_ops"
echo ok
