#!/usr/bin/env bash
# The Kafka workers never run other roles' code as a superuser, and nothing
# reaches librdkafka that loads code:
# - the launcher and workers run as qoe.worker_role (qoe_worker), with
#   search_path pinned, so a hostile public schema (look-alike unnest and
#   "=" operators, ALTER DATABASE ... SET search_path) and a trigger on
#   qoe.dead_letters and qoe.sessions owned by an ordinary role gain it
#   nothing, while the events and dead letters are stored;
# - a source row written behind the checks (triggers disabled) with
#   plugin.library.paths is refused by the worker: the library is never loaded;
# - an ordinary role can neither check properties nor see the status;
# - SIGTERM ends the launcher at once while it waits for a lock;
# - a superuser named by qoe.worker_role is refused.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export LC_ALL=C
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
qoe_kafka_test_start events:2 other:1

fail() { echo "$*"; exit 1; }
attacker_is_super() { psql -qXAt -c "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'attacker'"; }

# the attacker: an ordinary role that may create objects in public
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE ROLE attacker LOGIN;
GRANT CREATE, USAGE ON SCHEMA public TO attacker;
GRANT USAGE ON SCHEMA qoe TO attacker;
SQL
psql -qX -v ON_ERROR_STOP=1 -U attacker <<'SQL'
CREATE FUNCTION public.escalate() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles
         WHERE rolname OPERATOR(pg_catalog.=) current_user) THEN
        EXECUTE 'ALTER ROLE attacker SUPERUSER';
    END IF;
END $$;
CREATE FUNCTION public.unnest(qoe.sessions[]) RETURNS SETOF qoe.sessions LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.escalate();
    RETURN QUERY SELECT * FROM pg_catalog.unnest($1);
END $$;
CREATE FUNCTION public.state_eq(a qoe.session_state, b qoe.session_state) RETURNS boolean
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.escalate();
    RETURN a::pg_catalog.text OPERATOR(pg_catalog.=) b::pg_catalog.text;
END $$;
CREATE OPERATOR public.= (LEFTARG = qoe.session_state, RIGHTARG = qoe.session_state,
                          FUNCTION = public.state_eq);
CREATE FUNCTION public.text_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.escalate();
    RETURN a OPERATOR(pg_catalog.=) b;
END $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.text_eq);
CREATE FUNCTION public.on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.escalate();
    RETURN NEW;
END $$;
SQL
# the attacker's triggers on the tables the workers write (as the tables'
# owner would create them), and the database's search_path puts public first
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE TRIGGER attacker_dl BEFORE INSERT ON qoe.dead_letters
    FOR EACH ROW EXECUTE FUNCTION public.on_insert();
CREATE TRIGGER attacker_sessions BEFORE INSERT ON qoe.sessions
    FOR EACH ROW EXECUTE FUNCTION public.on_insert();
ALTER DATABASE postgres SET search_path = public, pg_catalog;
SQL
# from here on the test's own sessions keep out of the attacker's way
export PGOPTIONS="-c search_path=pg_catalog"

psql -qX -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<SQL
SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events');
SQL
qoe_wait_for 30 "SELECT state, workers_running FROM qoe.source_status" "running|1"

# launcher and worker, as qoe_worker; the supervisor has no database (the
# alert watcher and notifier have their own check in alerts_alertmanager.sh)
got=$(psql -qXAt -c "
    SELECT string_agg(backend_type || ':' || usename || ':' || coalesce(datname, '-') || ':' || r.rolsuper, ','
                      ORDER BY backend_type)
      FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid
     WHERE backend_type LIKE 'qoe_ext %' AND backend_type NOT LIKE 'qoe_ext alert %'")
[ "$got" = "qoe_ext launcher:qoe_worker:postgres:false,qoe_ext supervisor:postgres:-:true,qoe_ext worker:qoe_worker:postgres:false" ] ||
	fail "qoe_ext processes (type:role:database:superuser): $got"
[ "$(psql -qXAt -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'qoe_ext worker' AND query LIKE '%search_path%'")" = 0 ]

# one garbage message (a dead letter) and one event of a new session
now_ms=$(( $(date +%s) * 1000 ))
printf 'this is not json\n{"event_type":"start","session_id":"victim-1","event_id":"e1","user_id":1,"content_id":1,"timestamp":%s}\n' \
	$now_ms | qoe_kafka_produce events
qoe_wait_for 60 "$QOE_STORED_SQL" 2
[ "$(psql -qXAt -c "SELECT count(*) FROM qoe.dead_letters")" = 1 ] || fail "the dead letter was not stored"
[ "$(psql -qXAt -c "SELECT count(*) FROM qoe.viewing_events WHERE session_id = 'victim-1'")" = 1 ] ||
	fail "the event was not stored"
[ "$(psql -qXAt -c "SELECT count(*) FROM qoe.sessions WHERE session_id = 'victim-1'")" = 1 ] ||
	fail "the session was not stored"
[ "$(attacker_is_super)" = f ] || fail "the attacker became superuser through the worker"

# the attacker cannot reach librdkafka configuration nor the status
for sql in "SELECT qoe.check_kafka_properties('{\"plugin.library.paths\": \"/tmp/x.so\"}')" \
	"SELECT qoe.add_source('x', 'b:9092', 't')" "SELECT * FROM qoe.source_workers()" \
	"SELECT * FROM qoe.source_watermarks()" "SELECT * FROM qoe.source_status"; do
	out=$(psql -qXAt -U attacker -c "$sql" 2>&1) && fail "the attacker ran: $sql"
	echo "$out" | grep -q "permission denied" || fail "$sql: $out"
done

# a row written behind the checks: the worker refuses the property, and
# the library is never loaded
cat >"$WORK/evil.c" <<C
#include <stdio.h>
__attribute__((constructor)) static void ran(void)
{
	FILE *f = fopen("$WORK/loaded", "w");
	if (f) fclose(f);
}
C
cc -shared -fPIC -o "$WORK/evil.so" "$WORK/evil.c"
chmod 755 "$WORK/evil.so"
psql -qX -v ON_ERROR_STOP=1 <<SQL
SET session_replication_role = replica;
INSERT INTO qoe.sources (name, brokers, topic, group_id, properties)
VALUES ('evil', '$QOE_KAFKA_BROKERS', 'other', 'g.evil', '{"plugin.library.paths": "$WORK/evil.so"}');
RESET session_replication_role;
-- the INSERT woke no launcher (triggers were off): this does
UPDATE qoe.sources SET enabled = true WHERE name = 'evil';
SQL
qoe_wait_for 30 "SELECT last_error LIKE '%plugin.library.paths%not one of the consumer properties%' FROM qoe.source_status WHERE name = 'evil'" t
[ ! -e "$WORK/loaded" ] || fail "the worker loaded plugin.library.paths"
psql -qX -v ON_ERROR_STOP=1 -c "SELECT qoe.drop_source('evil')" >/dev/null

# SIGTERM ends the launcher while it waits for a lock on qoe.sources
launcher=$(psql -qXAt -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'qoe_ext launcher'")
qoe_hold "LOCK qoe.sources"
qoe_wait_for 30 "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $launcher" Lock
psql -qXAt -c "SELECT pg_terminate_backend($launcher)" >/dev/null
qoe_wait_for 5 "SELECT count(*) FROM pg_stat_activity WHERE pid = $launcher" 0
qoe_release
# the supervisor starts a new launcher, and the worker is back
qoe_wait_for 60 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'qoe_ext launcher' AND pid <> $launcher" 1
qoe_wait_for 60 "SELECT state, workers_running FROM qoe.source_status" "running|1"
[ "$(attacker_is_super)" = f ] || fail "the attacker became superuser"

# a superuser as qoe.worker_role: no launcher, and the log says why
psql -qX -c "ALTER SYSTEM SET qoe.worker_role = 'postgres'" >/dev/null
qoe_server_ctl restart
qoe_wait_for 30 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'qoe_ext supervisor'" 1
for _ in $(seq 100); do
	grep -q 'qoe_ext launcher not started: role "postgres" named by qoe.worker_role is a superuser' \
		"$QOE_PGDATA_DIR/server.log" && break
	sleep 0.1
done
grep -q 'qoe_ext launcher not started: role "postgres" named by qoe.worker_role is a superuser' \
	"$QOE_PGDATA_DIR/server.log" || fail "no log line refusing the superuser role"
[ "$(psql -qXAt -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('qoe_ext launcher', 'qoe_ext worker')")" = 0 ] ||
	fail "a launcher or worker runs as a superuser"
