#!/usr/bin/env bash
# A generated stream ingested in order, and the same stream reordered and with
# producer retries (duplicate event_ids), in batches of different sizes, must
# give identical sessions and the same stored events.
set -eu
QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
GEN="$QOE_ROOT/src/tools/qoe_gen --seed 11 --viewers 150 --duration-sec 1800
     --start-ms $(( ($(date +%s) - 3 * 3600) * 1000 )) --format array"

for db in inorder shuffled; do
	psql -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	psql -qX -d $db -v ON_ERROR_STOP=1 -c "CREATE EXTENSION qoe_ext CASCADE"
done

as_sql() { sed -e 's/^/SELECT accepted, duplicates FROM qoe.ingest($q$/' -e 's/$/$q$);/'; }
$GEN --batch 500 | as_sql | psql -qXAt -d inorder -v ON_ERROR_STOP=1 >/tmp/qoe_inorder.$$
$GEN --batch 97 --out-of-order 0.2 --duplicates 0.05 | as_sql |
	psql -qXAt -d shuffled -v ON_ERROR_STOP=1 >/tmp/qoe_shuffled.$$
dups_in_order=$(awk -F'|' '{d += $2} END {print d}' /tmp/qoe_inorder.$$)
dups_shuffled=$(awk -F'|' '{d += $2} END {print d}' /tmp/qoe_shuffled.$$)
rm -f /tmp/qoe_inorder.$$ /tmp/qoe_shuffled.$$

summary() {
	psql -qXAt -d "$1" -v ON_ERROR_STOP=1 -c "
	    SELECT count(*), md5(string_agg(to_jsonb(s)::text, '' ORDER BY session_id))
	      FROM qoe.sessions s" -c "
	    SELECT count(*), md5(string_agg(concat_ws(',', session_id, event_id, event_time, event_type),
	                                    ';' ORDER BY session_id, event_id))
	      FROM qoe.viewing_events"
}
a=$(summary inorder)
b=$(summary shuffled)
echo "in order: $a (duplicates $dups_in_order)"
echo "shuffled: $b (duplicates $dups_shuffled)"
sessions=$(echo "$a" | head -1 | cut -d'|' -f1)
[ "$sessions" -gt 100 ] || { echo "too few sessions: $sessions"; exit 1; }
[ "$dups_in_order" -eq 0 ] || { echo "duplicates reported for a stream without any"; exit 1; }
[ "$dups_shuffled" -gt 0 ] || { echo "the retried events were not reported as duplicates"; exit 1; }
[ "$a" = "$b" ] || { echo "sessions or events differ"; exit 1; }
# the comparison covers every column (seek_stall_count and seek_stall_ms
# included): make sure the stream exercises both stall kinds, with their
# times, pauses and bitrate changes
kinds=$(psql -qXAt -d inorder -v ON_ERROR_STOP=1 -c "
    SELECT count(*) FILTER (WHERE seek_stall_count > 0 AND seek_stall_ms > 0) > 0
           AND count(*) FILTER (WHERE stall_count > 0 AND stall_ms > 0) > 0
           AND count(*) FILTER (WHERE paused_ms > 0) > 0
           AND count(*) FILTER (WHERE bitrate_switches > 0) > 0
      FROM qoe.sessions")
[ "$kinds" = t ] || { echo "the stream lacks seek-induced or connection stalls, pauses or bitrate switches"; exit 1; }
