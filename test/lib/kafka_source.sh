# Helpers for the Kafka source integration tests (test/integration/kafka_*.sh).
# Source after cluster.sh and kafka.sh, with QOE_ROOT set.
#   qoe_wait_for SECONDS SQL EXPECTED    poll SQL until it prints EXPECTED
#   qoe_kafka_events FILE N SEED         N generated events, NDJSON, unique (session_id, event_id)
#   qoe_reference_ingest DB FILE         the same events through qoe.ingest, in DB
#   qoe_sessions_digest [DB]             count and md5 of qoe.sessions
#   qoe_events_summary [DB]              count(*) and count of distinct (session_id, event_id)
#   qoe_hold SQL / qoe_release [COMMIT]  a transaction that ran SQL (takes locks) kept open / ended
#   qoe_kafka_test_start TOPICS...       broker, cluster, extension and $WORK, removed on exit
#   qoe_on_exit COMMANDS                 run COMMANDS on exit, before that removal ($rc: the exit code)

qoe_wait_for() {
	local timeout=$1 sql=$2 expected=$3 got="" deadline=$((SECONDS + $1))
	while [ $SECONDS -lt $deadline ]; do
		got=$(psql -qXAt -c "$sql" 2>/dev/null) || got="(query failed)"
		[ "$got" = "$expected" ] && return 0
		sleep 0.2
	done
	echo "timed out after ${timeout}s waiting for: $sql"
	echo "  expected: $expected"
	echo "  last got: $got"
	return 1
}

qoe_kafka_events() {
	"$QOE_ROOT/src/tools/qoe_gen" --seed "$3" --events "$2" --viewers 300 \
		--start-ms $(( ($(date +%s) - 2 * 3600) * 1000 )) >"$1"
}

qoe_reference_ingest() {
	psql -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
	psql -qX -d "$1" -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION qoe_ext CASCADE;
CREATE TEMP TABLE lines (n serial, line text);
\copy lines (line) FROM '$2' WITH (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02')
SELECT sum(r.accepted) FROM (SELECT n / 1000 AS b, '[' || string_agg(line, ',' ORDER BY n) || ']' AS a
                               FROM lines GROUP BY 1) x, LATERAL qoe.ingest(x.a) r \g /dev/null
SQL
}

qoe_sessions_digest() {
	psql -qXAt -d "${1:-$PGDATABASE}" -v ON_ERROR_STOP=1 -c "
	    SELECT count(*), md5(string_agg(to_jsonb(s)::text, '' ORDER BY session_id))
	      FROM qoe.sessions s"
}

qoe_events_summary() {
	psql -qXAt -d "${1:-$PGDATABASE}" -v ON_ERROR_STOP=1 -c "
	    SELECT count(*), count(DISTINCT (session_id, event_id)) FROM qoe.viewing_events"
}

# A session (application_name qoe_holder) runs SQL in a transaction and keeps
# it open, holding its locks and changes, until qoe_release ends it with
# ROLLBACK (or COMMIT, given); qoe_hold returns once SQL has run. Its
# statements come through a fifo in $WORK.
qoe_hold() {
	mkfifo "$WORK/qoe_holder"
	PGAPPNAME=qoe_holder psql -qX -v ON_ERROR_STOP=1 <"$WORK/qoe_holder" >/dev/null 2>&1 &
	QOE_HOLDER=$!
	exec {QOE_HOLDER_FD}<>"$WORK/qoe_holder"
	echo "BEGIN; $1;" >&"$QOE_HOLDER_FD"
	qoe_wait_for 30 "SELECT state FROM pg_stat_activity WHERE application_name = 'qoe_holder'" \
		"idle in transaction"
}

qoe_release() {
	echo "${1:-ROLLBACK};" >&"$QOE_HOLDER_FD"
	exec {QOE_HOLDER_FD}>&-
	wait "$QOE_HOLDER" || true
	rm -f "$WORK/qoe_holder"
}

# Server restarts for the crash tests.
qoe_server_ctl() {
	qoe_as_postgres $PGBIN/pg_ctl -D "$QOE_PGDATA_DIR/data" -w -t 60 \
		-l "$QOE_PGDATA_DIR/server.log" "$@" >/dev/null
}

# On failure, the end of the server log says what the workers did.
qoe_show_log_on_failure() {
	[ "$1" = 0 ] && return 0
	[ -n "${QOE_PGDATA_DIR:-}" ] && tail -n 40 "$QOE_PGDATA_DIR/server.log"
	return 0
}

# Broker with the given topics, a preloaded cluster with the extension, a
# scratch directory $WORK; all removed on exit (the server log shown on
# failure), after what qoe_on_exit added (the last added first).
# Extra postgresql.conf lines in QOE_TEST_CONF.
QOE_ON_EXIT=""
qoe_kafka_test_start() {
	qoe_kafka_start "$@" || return 1
	qoe_cluster_start "${QOE_TEST_CONF:-}" || return 1
	WORK=$(mktemp -d /tmp/qoe_kafka_test.XXXXXX)
	chmod 755 "$WORK"
	trap 'qoe_kafka_test_exit $?' EXIT
	psql -qX -v ON_ERROR_STOP=1 -c "CREATE EXTENSION qoe_ext CASCADE"
}

qoe_on_exit() {
	QOE_ON_EXIT="$1
$QOE_ON_EXIT"
}

qoe_kafka_test_exit() {
	local rc=$1
	eval "$QOE_ON_EXIT"
	qoe_show_log_on_failure $rc
	qoe_kafka_stop
	qoe_cluster_stop
	rm -rf "$WORK"
	exit $rc
}

# Offsets stored over all partitions of the source (= messages stored when
# the topic's offsets start at 0).
QOE_STORED_SQL="SELECT coalesce(sum(next_offset), 0) FROM qoe.source_offsets"
