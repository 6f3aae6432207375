#!/usr/bin/env bash
# SIGTERM ends a worker's wait, as it does an ordinary backend's:
# 1. waiting for a lock (a session holds LOCK qoe.sessions):
#    pg_terminate_backend, then qoe.stop_source, each end the worker; the
#    batch rolls back and is stored once the lock is gone.
# 2. waiting for a synchronous standby that does not exist: pg_ctl stop -m
#    fast succeeds.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
qoe_kafka_test_start events:1
qoe_kafka_events "$WORK/events.ndjson" 2 121
worker_pid="SELECT pids[1] FROM qoe.source_status WHERE state = 'running'"
waiting="SELECT wait_event_type || '/' || wait_event FROM pg_stat_activity WHERE backend_type = 'qoe_ext worker'"

psql -qX -v ON_ERROR_STOP=1 -c "SELECT qoe.add_source('sig', '$QOE_KAFKA_BROKERS', 'events', flush_interval_ms => 10)"
qoe_wait_for 30 "SELECT state FROM qoe.source_status" running

# ---- 1. a lock wait
# the event only once the lock is held: a worker quicker than the holder would store it
qoe_hold "LOCK qoe.sessions IN ACCESS EXCLUSIVE MODE"
head -n 1 "$WORK/events.ndjson" | qoe_kafka_produce events
qoe_wait_for 30 "$waiting" Lock/relation
pid=$(psql -qXAt -c "$worker_pid")
psql -qXAt -c "SELECT pg_terminate_backend($pid)" >/dev/null
qoe_wait_for 10 "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid" 0
echo "pg_terminate_backend ended worker $pid in its lock wait"
# its successor reads the message again and waits again: stop the source
qoe_wait_for 30 "$waiting" Lock/relation
pid=$(psql -qXAt -c "SELECT pids[1] FROM qoe.source_status")
psql -qXAt -c "SELECT qoe.stop_source('sig')" >/dev/null
qoe_wait_for 10 "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid" 0
echo "qoe.stop_source ended worker $pid in its lock wait"
qoe_release
psql -qXAt -c "SELECT qoe.start_source('sig')" >/dev/null
qoe_wait_for 30 "$QOE_STORED_SQL" 1
[ "$(psql -qXAt -c 'SELECT count(*) FROM qoe.viewing_events')" = 1 ] || { echo "the event is not stored once"; exit 1; }

# ---- 2. a wait for a synchronous standby
psql -qX -c "ALTER SYSTEM SET synchronous_standby_names = 'nosuch_standby'" -c "SELECT pg_reload_conf()" >/dev/null
sed -n 2p "$WORK/events.ndjson" | qoe_kafka_produce events
qoe_wait_for 30 "$waiting" IPC/SyncRep
qoe_as_postgres $PGBIN/pg_ctl -D "$QOE_PGDATA_DIR/data" -m fast -t 20 -w stop ||
	{ echo "fast shutdown did not end the worker waiting for the standby"; exit 1; }
echo "fast shutdown ended the worker waiting for a synchronous standby"
sed -i '/synchronous_standby_names/d' "$QOE_PGDATA_DIR/data/postgresql.auto.conf"
qoe_server_ctl start
# it committed locally before waiting: stored, once
qoe_wait_for 30 "$QOE_STORED_SQL" 2
qoe_wait_for 10 "SELECT state FROM qoe.source_status" running
[ "$(psql -qXAt -c 'SELECT count(*) FROM qoe.viewing_events')" = 2 ] || { echo "not 2 events stored"; exit 1; }
