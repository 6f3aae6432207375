#!/usr/bin/env bash
# The publisher is started by the Kafka supervisor while qoe.redis_host is set
# (doc/redis.md, turning it on): before CREATE EXTENSION nothing retries in a
# loop (no publisher, no error about it in the log); after it, the publisher
# starts; emptying qoe.redis_host on reload stops it, and setting it again
# on reload, without a restart, starts it again.
set -eu
QOE_ROOT=${QOE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$QOE_ROOT/test/lib/redis.sh"

publishers() { psql -qXAt -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'qoe_ext publisher'"; }

qoe_redis_start
qoe_cluster_start "qoe.redis_host = '127.0.0.1'
qoe.redis_port = $REDIS_PORT"
trap qoe_redis_cleanup EXIT

# before CREATE EXTENSION: the supervisor has looked (it logs why it cannot
# start the launcher, in the same look as the publisher's) and started nothing
deadline=$((SECONDS + 30))
until grep -q 'qoe_ext launcher not started: role "qoe_worker"' "$QOE_PGDATA_DIR/server.log"; do
	[ $SECONDS -lt $deadline ] || { echo "the supervisor did not look within 30 s"; exit 1; }
	sleep 0.1
done
[ "$(publishers)" = 0 ] || { echo "a publisher runs before CREATE EXTENSION"; exit 1; }
if grep -E 'publisher' "$QOE_PGDATA_DIR/server.log"; then
	echo "the publisher was started, or tried to, before CREATE EXTENSION"
	exit 1
fi

psql -qX -v ON_ERROR_STOP=1 -c "CREATE EXTENSION qoe_ext CASCADE"
qoe_wait_for 30 "SELECT state FROM qoe.redis_status" connected
echo "after CREATE EXTENSION, no restart: publisher connected"

psql -qX -o /dev/null -c "ALTER SYSTEM SET qoe.redis_host = ''" -c "SELECT pg_reload_conf()"
qoe_wait_for 10 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'qoe_ext publisher'" 0
qoe_wait_for 5 "SELECT state || ',' || (pid IS NULL) FROM qoe.redis_status" off,true
echo "qoe.redis_host emptied on reload: publisher stopped"

psql -qX -o /dev/null -c "ALTER SYSTEM RESET qoe.redis_host" -c "SELECT pg_reload_conf()"
qoe_wait_for 10 "SELECT state FROM qoe.redis_status" connected
[ "$(publishers)" = 1 ]
qoe_ingest_recent 3 50
qoe_wait_viewers_equal 3000 >/dev/null
echo "qoe.redis_host set again on reload: publisher connected, keys published"
! grep -E "PANIC|server process .* was terminated" "$QOE_PGDATA_DIR/server.log"
echo ok
