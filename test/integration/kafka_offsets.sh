#!/usr/bin/env bash
# The consumer's position is checked against qoe.source_offsets.
# 1. A 'latest' source whose first batches fail (a trigger on
#    qoe.source_offsets refuses the batch's offsets while a flag is set), and
#    is restarted while failing: nothing it read is skipped, nor anything
#    produced while it backed off.
# 2. A stored offset beyond the topic's end (the topic was recreated): that
#    partition stops with an error naming it and both offsets, the others
#    keep flowing; the operator's documented fix (set the row, restart the
#    source) resumes it.
# 3. A batch whose partition another writer stored meanwhile (a test session
#    moves its row of qoe.source_offsets while the batch waits for it): the
#    fence refuses it, qoe.source_status counts it in fenced_batches, and
#    the worker goes on from the new offset; a terminated worker is counted
#    in restarts.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
qoe_kafka_test_start lat:2 oor:3 fence:1
qoe_kafka_events "$WORK/events.ndjson" 60 111

# ---- 1. latest, failing first batches
psql -qX -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE failing (on_ boolean);
GRANT SELECT ON failing TO PUBLIC;  -- the trigger runs as the workers' role
CREATE FUNCTION refuse_offsets() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF NEW.next_offset > 0 AND EXISTS (SELECT FROM public.failing) THEN
        RAISE EXCEPTION 'simulated failure';
    END IF;
    RETURN NEW;
END \$\$;
CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON qoe.source_offsets
    FOR EACH ROW EXECUTE FUNCTION refuse_offsets();
SELECT qoe.add_source('lat', '$QOE_KAFKA_BROKERS', 'lat', start_position => 'latest',
                      flush_interval_ms => 10);
SQL
# assigned, and the end offsets are resolved and recorded
qoe_wait_for 30 "SELECT count(*) FROM qoe.source_offsets WHERE source = 'lat'" 2
psql -qX -c "INSERT INTO failing VALUES (true)"
head -n 10 "$WORK/events.ndjson" | qoe_kafka_produce lat
qoe_wait_for 30 "SELECT state, last_error FROM qoe.source_status WHERE name = 'lat'" "error|simulated failure"
# a restart before the first batch is stored
psql -qX -c "SELECT qoe.stop_source('lat')" -c "SELECT qoe.start_source('lat')" >/dev/null
qoe_wait_for 30 "SELECT state, last_error FROM qoe.source_status WHERE name = 'lat'" "error|simulated failure"
sed -n 11,20p "$WORK/events.ndjson" | qoe_kafka_produce lat
psql -qX -c "DELETE FROM failing"
qoe_wait_for 30 "SELECT sum(next_offset) FROM qoe.source_offsets WHERE source = 'lat'" 20
got=$(psql -qXAt -c "SELECT count(*) FROM qoe.viewing_events")
[ "$got" = 20 ] || { echo "latest source: $got events stored of the 20 produced"; exit 1; }
echo "part 1: the latest source stored all 20 events"

# ---- 2. a stored offset beyond the topic's end
sed -n 21,40p "$WORK/events.ndjson" | qoe_kafka_produce oor
psql -qX -v ON_ERROR_STOP=1 -c "SELECT qoe.add_source('oor', '$QOE_KAFKA_BROKERS', 'oor', flush_interval_ms => 10)"
qoe_wait_for 30 "SELECT sum(next_offset) FROM qoe.source_offsets WHERE source = 'oor'" 20
# the partition with most messages, as if the topic had been recreated
read part kept <<<"$(psql -qXAt -F ' ' -c "SELECT partition, next_offset FROM qoe.source_offsets
                                            WHERE source = 'oor' ORDER BY next_offset DESC LIMIT 1")"
psql -qX -c "SELECT qoe.stop_source('oor')" >/dev/null
qoe_wait_for 30 "SELECT count(*) FROM qoe.source_workers() WHERE source = 'oor'" 0
sed -n 41,60p "$WORK/events.ndjson" | qoe_kafka_produce oor
psql -qX -c "UPDATE qoe.source_offsets SET next_offset = 1000 WHERE source = 'oor' AND partition = $part" \
	-c "SELECT qoe.start_source('oor')" >/dev/null
qoe_wait_for 30 "SELECT state, split_part(last_error, '(', 1) FROM qoe.source_status WHERE name = 'oor'" \
	"error|partition $part: stored offset 1000 is beyond the end of the topic "
psql -qXAt -c "SELECT last_error FROM qoe.source_status WHERE name = 'oor'"
qoe_wait_for 10 "SELECT string_agg(partition::text, ',') FROM qoe.source_partitions WHERE source = 'oor' AND stalled" "$part"
# the other partitions go on: each stored up to its end
qoe_wait_for 30 "SELECT bool_and(p.committed_offset = p.high_watermark) FROM qoe.source_partitions p
                  WHERE p.source = 'oor' AND p.partition <> $part" t
# the error names the partition's end, and the stalled partition's row shows
# it too: both against what an independent client (kcat) reads as the end
high=$(( $(kcat -C -q -b "$QOE_KAFKA_BROKERS" -t oor -p "$part" -o -1 -c 1 -e -f '%o\n') + 1 ))
qoe_wait_for 10 "SELECT high_watermark FROM qoe.source_partitions WHERE source = 'oor' AND partition = $part" "$high"
echo "$(psql -qXAt -c "SELECT last_error FROM qoe.source_status WHERE name = 'oor'")" |
	grep -q "(${high}); the topic may have been recreated" || { echo "the error does not name the end ($high)"; exit 1; }

# the operator's fix: where to resume, then a restart
psql -qX -c "UPDATE qoe.source_offsets SET next_offset = $kept WHERE source = 'oor' AND partition = $part" \
	-c "SELECT qoe.stop_source('oor')" -c "SELECT qoe.start_source('oor')" >/dev/null
qoe_wait_for 30 "SELECT sum(next_offset) FROM qoe.source_offsets WHERE source = 'oor'" 40
qoe_wait_for 30 "SELECT state FROM qoe.source_status WHERE name = 'oor'" running
got=$(psql -qXAt -c "SELECT count(*) FROM qoe.viewing_events")
[ "$got" = 60 ] || { echo "$got events stored of the 60 produced"; exit 1; }
echo "part 2: the stopped partition was shown, the others flowed, and it resumed after the fix"

# ---- 3. a fenced batch and a restart, counted
qoe_kafka_events "$WORK/fence.ndjson" 20 113
psql -qX -v ON_ERROR_STOP=1 -c "SELECT qoe.add_source('fence', '$QOE_KAFKA_BROKERS', 'fence', flush_interval_ms => 10)" >/dev/null
head -n 10 "$WORK/fence.ndjson" | qoe_kafka_produce fence
qoe_wait_for 30 "SELECT next_offset FROM qoe.source_offsets WHERE source = 'fence'" 10
# "another worker" stores offsets 10 to 14, committing once this worker's
# batch of them waits for the row
qoe_hold "UPDATE qoe.source_offsets SET next_offset = 15 WHERE source = 'fence'"
sed -n 11,15p "$WORK/fence.ndjson" | qoe_kafka_produce fence
qoe_wait_for 30 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'qoe_ext worker'
                  AND wait_event_type = 'Lock'" 1
qoe_release COMMIT
qoe_wait_for 30 "SELECT fenced_batches FROM qoe.source_status WHERE name = 'fence'" 1
tail -n 5 "$WORK/fence.ndjson" | qoe_kafka_produce fence
qoe_wait_for 30 "SELECT next_offset FROM qoe.source_offsets WHERE source = 'fence'" 20
got=$(psql -qXAt -c "SELECT count(*) FROM qoe.viewing_events")
[ "$got" = 75 ] || { echo "$got events stored, expected 75 (the fenced batch's 5 were the other writer's)"; exit 1; }
pid=$(psql -qXAt -c "SELECT pids[1] FROM qoe.source_status WHERE name = 'fence'")
psql -qXAt -c "SELECT pg_terminate_backend($pid)" >/dev/null
qoe_wait_for 30 "SELECT restarts, state, pids[1] <> $pid FROM qoe.source_status WHERE name = 'fence'" "1|running|t"
echo "part 3: the fenced batch and the restart were counted in qoe.source_status"
