#!/usr/bin/env bash
# A hung Redis (SIGSTOP: connections accepted by the kernel, never answered)
# delays nothing: the publisher reports the timeout in qoe.redis_status,
# ingest goes on, SIGTERM ends the publisher at once, and so does
# pg_ctl stop -m fast.
set -eu
QOE_ROOT=${QOE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$QOE_ROOT/test/lib/redis.sh"

qoe_redis_start
qoe_publisher_cluster
qoe_ingest_recent 3 100
qoe_wait_viewers_equal 3000 >/dev/null

kill -STOP "$(cat "$QOE_REDIS_DIR/redis.pid")"
qoe_ingest_recent 4 100		# new values to write, to a Redis that does not answer
qoe_wait_for 5 "SELECT last_error LIKE '%no reply from Redis within 200 ms%' FROM qoe.redis_status" t
psql -qXAt -c "SELECT 'status while Redis hangs: ' || state || ', last error: ' || last_error FROM qoe.redis_status"
t0=$(qoe_ms)
qoe_ingest_recent 5 100
echo "ingest while Redis hangs: $(($(qoe_ms) - t0)) ms"

pid=$(psql -qXAt -c "SELECT pid FROM qoe.redis_status")
t0=$(qoe_ms)
psql -qXAt -o /dev/null -c "SELECT pg_terminate_backend($pid)"
while [ -n "$(psql -qXAt -c "SELECT 1 FROM pg_stat_activity WHERE pid = $pid")" ]; do
	[ $(($(qoe_ms) - t0)) -lt 2000 ] || { echo "the publisher ignored SIGTERM"; exit 1; }
	sleep 0.02
done
echo "SIGTERM: the publisher exited after $(($(qoe_ms) - t0)) ms"

# restarted by the postmaster 10 s later, it tries the hung Redis again
qoe_wait_for 20 "SELECT pid IS NOT NULL AND pid <> $pid FROM qoe.redis_status" t
qoe_wait_for 5 "SELECT state IN ('connecting', 'disconnected') FROM qoe.redis_status" t
t0=$(qoe_ms)
qoe_as_postgres $PGBIN/pg_ctl -D "$QOE_PGDATA_DIR/data" -m fast -t 60 stop >/dev/null
ms=$(($(qoe_ms) - t0))
echo "pg_ctl stop -m fast while Redis hangs: $ms ms"
[ "$ms" -lt 3000 ] || { echo "the server took too long to stop"; exit 1; }
echo ok
