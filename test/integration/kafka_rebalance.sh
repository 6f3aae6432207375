#!/usr/bin/env bash
# Re-assignments in the middle of consumption, and exactly once through them.
# The workers of a source split its partitions among themselves (partition
# modulo workers), with no consumer group.
# 1. While events arrive, the source's workers go 1 -> 3 -> 2 -> 1 -> 3, and
#    now and then one is terminated and restarted by the launcher:
#    partitions move between workers mid-stream.
# 2. A zombie: a worker blocked in its batch (a session holds LOCK
#    qoe.sessions) while its launcher is terminated; the next launcher
#    starts a new worker for the same partition, which reads the same
#    messages and blocks as well. Both go on when the lock is released: only
#    the offset fence (the stored offset must still be the one the batch
#    started from) keeps the second batch from being stored too.
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
workers_sql="SELECT string_agg(worker_index || ':' || pid, ' ' ORDER BY worker_index)
               FROM qoe.source_workers() WHERE source = 'player' AND pid IS NOT NULL"
for step in 3 kill 2 1 kill 3; do
	# wait for progress, so each change lands in the middle of the stream
	qoe_wait_for 60 "SELECT ($QOE_STORED_SQL) > $stored OR ($QOE_STORED_SQL) = $total" t
	if [ $step = kill ]; then
		before=$(psql -qXAt -c "$workers_sql")
		pid=${before##*:}
		psql -qXAt -c "SELECT pg_terminate_backend($pid)" >/dev/null
		# the launcher restarts it after 1 s
		qoe_wait_for 60 "SELECT count(*) FROM qoe.source_workers()
		                  WHERE source = 'player' AND pid IS NOT NULL AND pid <> $pid AND partitions > 0" \
			$(echo "$before" | wc -w)
		what="worker $pid terminated and restarted"
	else
		psql -qX -v ON_ERROR_STOP=1 -c "UPDATE qoe.sources SET workers = $step WHERE name = 'player'"
		qoe_wait_for 60 "SELECT count(*) FROM qoe.source_workers() WHERE partitions > 0 AND pid IS NOT NULL" $step
		what="workers => $step"
	fi
	stored=$(psql -qXAt -c "$QOE_STORED_SQL")
	echo "$what at $stored stored messages"
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
SELECT qoe.add_source('zombie', '$QOE_KAFKA_BROKERS', 'zombie');
SQL
qoe_wait_for 30 "SELECT partitions FROM qoe.source_workers() WHERE source = 'zombie'" 1
owner=$(psql -qXAt -c "SELECT pid FROM qoe.source_workers() WHERE source = 'zombie'")
head -n 1000 "$WORK/zombie.ndjson" | with_garbage /dev/stdin | qoe_kafka_produce zombie
qoe_wait_for 30 "SELECT next_offset FROM qoe.source_offsets WHERE source = 'zombie'" 1100

qoe_hold "LOCK qoe.sessions IN ACCESS EXCLUSIVE MODE"
tail -n 1000 "$WORK/zombie.ndjson" | with_garbage /dev/stdin | qoe_kafka_produce zombie
blocked="SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity
          WHERE backend_type = 'qoe_ext worker' AND wait_event_type = 'Lock'"
qoe_wait_for 30 "$blocked" "$owner"
echo "worker $owner blocked in its batch; terminating its launcher"
launcher=$(psql -qXAt -c "SELECT qoe.launcher_pid()")
psql -qXAt -c "SELECT pg_terminate_backend($launcher)" >/dev/null
qoe_wait_for 30 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'qoe_ext launcher'" 0
# a change to qoe.sources has the supervisor start the next launcher at once
psql -qX -v ON_ERROR_STOP=1 -c "UPDATE qoe.sources SET updated_at = now() WHERE name = 'zombie'"
qoe_wait_for 60 "SELECT count(*) FROM pg_stat_activity
                  WHERE backend_type = 'qoe_ext worker' AND wait_event_type = 'Lock' AND pid <> $owner" 1
echo "the next launcher's worker read the same messages and blocked too: releasing the lock"
qoe_release
qoe_wait_for 60 "SELECT next_offset FROM qoe.source_offsets WHERE source = 'zombie'" 2200
# the zombie exits once its batch has ended (stored or refused)
qoe_wait_for 30 "SELECT count(*) FROM pg_stat_activity WHERE pid = $owner" 0
got=$(psql -qXAt -c "$(dead_letters_sql zombie)")
[ "$got" = "200|200" ] || { echo "zombie dead letters (all|distinct offsets): $got, expected 200|200"; exit 1; }
got=$(psql -qXAt -c "SELECT count(*), count(DISTINCT (session_id, event_id)) FROM qoe.viewing_events")
[ "$got" = "$((N + 2000))|$((N + 2000))" ] || { echo "stored events: $got, expected $((N + 2000)) each"; exit 1; }
grep -q "the stored offsets moved under a batch" "$QOE_PGDATA_DIR/server.log" ||
	{ echo "no batch was fenced: the test did not make a zombie"; exit 1; }
echo "part 2: the zombie's batch was refused by the offset fence"
