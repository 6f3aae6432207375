#!/usr/bin/env bash
# Rebalances in the middle of consumption, and exactly once through them.
# 1. While events arrive, the source's workers go 1 -> 3 -> 2 -> 1 -> 3:
#    partitions move between workers mid-stream.
# 2. A zombie: a worker blocked in its batch (a session holds LOCK
#    qoe.sessions) misses max.poll.interval.ms, so the group gives its
#    partition to the other worker, which reads the same messages and blocks
#    as well. Both go on when the lock is released: only the offset fence
#    (the stored offset must still be the one the batch started from) keeps
#    the second batch from being stored too.
# Events are deduplicated by (session_id, event_id) anyway, so every 10th
# message is garbage: its dead letter, stored once per storage of the
# message, shows a batch stored twice.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
N=20000
qoe_kafka_test_start events:6 zombie:1

# N events, and after every 10th a message that is not JSON
with_garbage() { awk '{ print } NR % 10 == 0 { printf "{\"session_id\":\"g%d\",garbage\n", NR }' "$1"; }
dead_letters_sql() {
	echo "SELECT count(*), count(DISTINCT (kafka_partition, kafka_offset))
	        FROM qoe.dead_letters WHERE topic = '$1'"
}

# ---- 1. workers joining and leaving while events arrive
qoe_kafka_events "$WORK/events.ndjson" $N 101
psql -qX -v ON_ERROR_STOP=1 <<SQL
SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events', batch_size => 100,
                      flush_interval_ms => 10);
SQL
qoe_wait_for 30 "SELECT state FROM qoe.source_status" running
with_garbage "$WORK/events.ndjson" |
	awk 'NR % 250 == 0 { system("sleep 0.2") } { print; fflush() }' |
	qoe_kafka_produce events &
producer=$!
stored=0
total=$((N + N / 10))
for workers in 3 2 1 3; do
	# wait for progress, so each change lands in the middle of the stream
	qoe_wait_for 60 "SELECT ($QOE_STORED_SQL) > $stored OR ($QOE_STORED_SQL) = $total" t
	psql -qX -v ON_ERROR_STOP=1 -c "UPDATE qoe.sources SET workers = $workers WHERE name = 'player'"
	qoe_wait_for 60 "SELECT count(*) FROM qoe.source_workers() WHERE partitions > 0 AND pid IS NOT NULL" $workers
	stored=$(psql -qXAt -c "$QOE_STORED_SQL")
	echo "workers => $workers at $stored stored messages"
done
wait $producer
qoe_wait_for 90 "$QOE_STORED_SQL" $total
got=$(qoe_events_summary)
[ "$got" = "$N|$N" ] || { echo "stored events (all|distinct): $got, expected $N|$N"; exit 1; }
got=$(psql -qXAt -c "$(dead_letters_sql events)")
[ "$got" = "$((N / 10))|$((N / 10))" ] ||
	{ echo "dead letters (all|distinct offsets): $got, expected $((N / 10))|$((N / 10))"; exit 1; }
echo "part 1: $N events and $((N / 10)) dead letters, each once"

# ---- 2. a zombie worker
qoe_kafka_events "$WORK/zombie.ndjson" 2000 103
psql -qX -v ON_ERROR_STOP=1 <<SQL
SELECT qoe.add_source('zombie', '$QOE_KAFKA_BROKERS', 'zombie', workers => 2,
                      properties => '{"max.poll.interval.ms": "7000"}');
SQL
qoe_wait_for 30 "SELECT string_agg(partitions::text, ',' ORDER BY partitions) FROM qoe.source_workers() WHERE source = 'zombie'" "0,1"
owner=$(psql -qXAt -c "SELECT pid FROM qoe.source_workers() WHERE source = 'zombie' AND partitions = 1")
head -n 1000 "$WORK/zombie.ndjson" | with_garbage /dev/stdin | qoe_kafka_produce zombie
qoe_wait_for 30 "SELECT next_offset FROM qoe.source_offsets WHERE source = 'zombie'" 1100

PGAPPNAME=locker psql -qX -c "BEGIN; LOCK qoe.sessions IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)" \
	>/dev/null 2>&1 &
locker=$!
qoe_wait_for 10 "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                  WHERE a.application_name = 'locker' AND l.relation = 'qoe.sessions'::regclass AND l.granted" 1
tail -n 1000 "$WORK/zombie.ndjson" | with_garbage /dev/stdin | qoe_kafka_produce zombie
blocked="SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity
          WHERE backend_type = 'qoe_ext worker' AND wait_event_type = 'Lock'"
qoe_wait_for 30 "$blocked" "$owner"
echo "worker $owner blocked in its batch; waiting for the group to give its partition away"
qoe_wait_for 60 "SELECT count(*) FROM pg_stat_activity
                  WHERE backend_type = 'qoe_ext worker' AND wait_event_type = 'Lock' AND pid <> $owner" 1
echo "the other worker read the same messages and blocked too: releasing the lock"
psql -qXAt -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'locker'" >/dev/null
wait $locker || true
qoe_wait_for 60 "SELECT next_offset FROM qoe.source_offsets WHERE source = 'zombie'" 2200
# both blocked batches have ended (stored or refused) once no worker is busy
qoe_wait_for 30 "SELECT count(*) FROM pg_stat_activity
                  WHERE backend_type = 'qoe_ext worker' AND query LIKE '%storing%' AND state = 'active'" 0
got=$(psql -qXAt -c "$(dead_letters_sql zombie)")
[ "$got" = "200|200" ] || { echo "zombie dead letters (all|distinct offsets): $got, expected 200|200"; exit 1; }
got=$(psql -qXAt -c "SELECT count(*), count(DISTINCT (session_id, event_id)) FROM qoe.viewing_events")
[ "$got" = "$((N + 2000))|$((N + 2000))" ] || { echo "stored events: $got, expected $((N + 2000)) each"; exit 1; }
grep -q "the stored offsets moved under a batch" "$QOE_PGDATA_DIR/server.log" ||
	{ echo "no batch was fenced: the test did not make a zombie"; exit 1; }
echo "part 2: the zombie's batch was refused by the offset fence"
