#!/usr/bin/env bash
# Crashes in the middle of a run: kill -9 of a worker (the postmaster then
# restarts the whole cluster, as for any crashed backend) and later an
# immediate-mode stop (no shutdown checkpoint, like a power cut) and a
# start. Whatever was committed stays, whatever was not is consumed again
# from the stored offsets: exactly N events and the sessions of qoe.ingest.
# Each crash comes while half of the events are being produced, and each
# wait is for a count that is sure to come.
# The recovery gap, from the crash to the first event stored after it
# (received_at), is measured and must stay below 10 s with the default
# consumer settings: the workers assign their partitions themselves, so no
# group coordinator waits for the dead worker's session to expire.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
N=40000
qoe_kafka_test_start events:4
qoe_kafka_events "$WORK/events.ndjson" $N 41

# small batches, so a crash always lands between and inside them; two
# workers; the consumer settings are the defaults, so the recovery time is
# the real one
psql -qX -v ON_ERROR_STOP=1 <<SQL
SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events', batch_size => 200,
                      flush_interval_ms => 10, workers => 2);
SQL
qoe_wait_for 30 "SELECT state FROM qoe.source_status" running
# half of the events, paced, so the crashes happen while events are still
# arriving; every wait below is for a count that is sure to come
produce_half() {
	sed -n "$1p" "$WORK/events.ndjson" |
		awk 'NR % 1000 == 0 { system("sleep 0.1") } { print; fflush() }' | qoe_kafka_produce events
}
now() { date +%s.%N; }
# The pause in ingest over the crash at $2 (epoch): from the last event
# stored before the workers of the restarted cluster began to the first one
# stored after, and from the crash itself to that first event. Events
# arrive all along, so both are the time ingest was down: below 10 s.
check_gap() {
	local what=$1 gap after
	IFS='|' read -r gap after < <(psql -qXAt -v ON_ERROR_STOP=1 -c "
	    WITH s AS (SELECT min(backend_start) AS t FROM pg_stat_activity
	                WHERE backend_type = 'qoe_ext worker' AND backend_start > to_timestamp($2)),
	         e AS (SELECT max(received_at) FILTER (WHERE received_at < s.t) AS last,
	                      min(received_at) FILTER (WHERE received_at >= s.t) AS first
	                 FROM qoe.viewing_events, s)
	    SELECT round(extract(epoch FROM first - last)::numeric, 2),
	           round(extract(epoch FROM first - to_timestamp($2))::numeric, 2) FROM e")
	echo "$what: ingest paused $gap s; the first event after the crash was stored $after s after it"
	awk -v g="$gap" -v a="$after" 'BEGIN { exit !(g != "" && a != "" && g < 10 && a < 10) }' ||
		{ echo "$what: ingest paused too long (expected less than 10 s)"; exit 1; }
}

produce_half 1,$((N / 2)) &
producer=$!
qoe_wait_for 60 "SELECT ($QOE_STORED_SQL) > 2000" t
pid=$(psql -qXAt -c "SELECT pids[1] FROM qoe.source_status")
killed_at=$(now)
kill -9 "$pid"
echo "killed worker $pid"
# the postmaster restarts the cluster; the launcher starts new workers
wait $producer
qoe_wait_for 90 "$QOE_STORED_SQL" $((N / 2))
grep -q "terminated by signal 9" "$QOE_PGDATA_DIR/server.log" || { echo "no crash restart seen"; exit 1; }
check_gap "kill -9 of a worker" "$killed_at"
echo "$((N / 2)) messages stored exactly"

produce_half $((N / 2 + 1)),$N &
producer=$!
qoe_wait_for 60 "SELECT ($QOE_STORED_SQL) > $((N / 2 + 2000))" t
stopped_at=$(now)
qoe_server_ctl -m immediate stop
qoe_server_ctl start
wait $producer
qoe_wait_for 90 "$QOE_STORED_SQL" $N
check_gap "immediate stop and start" "$stopped_at"
echo "$N messages stored exactly"
got=$(qoe_events_summary)
[ "$got" = "$N|$N" ] || { echo "stored events (all|distinct): $got, expected $N|$N"; exit 1; }

qoe_reference_ingest reference "$WORK/events.ndjson"
a=$(qoe_sessions_digest)
b=$(qoe_sessions_digest reference)
echo "kafka:     $a"
echo "reference: $b"
[ "$a" = "$b" ] || { echo "sessions differ from an uninterrupted ingest of the same events"; exit 1; }
