#!/usr/bin/env bash
# Events that arrive through a Kafka source reach the rollups like those of
# qoe.ingest: the launcher's refresh shows them in qoe.qoe_5min, and the
# session windows equal those of qoe.ingest of the same events elsewhere.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
N=10000
qoe_kafka_test_start events:2
qoe_kafka_events "$WORK/events.ndjson" $N 31
qoe_kafka_produce events <"$WORK/events.ndjson"

psql -qX -v ON_ERROR_STOP=1 -c "SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events',
                      properties => '{\"session.timeout.ms\": \"6000\"}')" >/dev/null
qoe_wait_for 90 "$QOE_STORED_SQL" $N
# the launcher (qoe.database = postgres) refreshes: every change merged
qoe_wait_for 20 "SELECT count(*) = 0 AND (SELECT sum(events) FROM qoe.qoe_5min) = $N
                   FROM qoe.session_window_deltas" t

qoe_reference_ingest reference "$WORK/events.ndjson"
psql -qXAt -d reference -c "SELECT qoe.refresh_rollups()" >/dev/null
windows() {
	psql -qXAt -d "$1" -c "SELECT count(*) || ' ' || md5(string_agg(w::text, ';' ORDER BY session_id, window_start))
	                         FROM qoe.session_windows w"
}
a=$(windows postgres)
b=$(windows reference)
echo "kafka:     $a"
echo "reference: $b"
[ "$a" = "$b" ] || { echo "session windows differ from qoe.ingest of the same events"; exit 1; }

# the workers' and the merge's writes reach the cumulative statistics while
# they run (a background worker reports them only when asked to, or at its
# exit), so autovacuum and autoanalyze see them
stats="SELECT (SELECT n_tup_ins > 0 FROM pg_stat_user_tables WHERE relid = 'qoe.sessions'::regclass)
              AND (SELECT n_tup_del > 0 FROM pg_stat_user_tables WHERE relid = 'qoe.session_window_deltas'::regclass)
              AND (SELECT n_tup_ins > 0 FROM pg_stat_user_tables WHERE relid = 'qoe.qoe_5min'::regclass)"
qoe_wait_for 10 "$stats" t
echo "statistics: the workers' and the merge's writes are counted while they run"
