#!/usr/bin/env bash
# pg_dump -Fc of a database using qoe_ext restores, with pg_restore, into a
# new database (CREATE EXTENSION coming from the dump) without an error and
# without losing anything (doc/operations.md, "Backup and restore"): events
# in their daily partitions, sessions, dead letters, rollups and their pending
# deltas, concurrency, tuned settings (QoE score, recommendations), alert
# rules added, edited and disabled, alert history, Kafka sources and offsets,
# the recommendation model. Each table's rows (md5 of the rows sorted by their
# text) and qoe.qoe_metrics are the same before and after; the materialized
# views are the same after the refresh the procedure names. Run state
# (scheduler, alert evaluation and notifier status) is not compared.
set -eu
QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
qoe_cluster_start || exit 1
WORK=$(mktemp -d /tmp/qoe_dump.XXXXXX)
chmod 755 "$WORK"
trap 'qoe_cluster_stop; rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }

q -d postgres -c "CREATE DATABASE orig" -c "CREATE DATABASE restored"
q -d orig -c "CREATE EXTENSION qoe_ext CASCADE" 2>/dev/null

# 5,000 events over the last two days (two or three daily partitions), and
# one that is rejected
"$QOE_ROOT/src/tools/qoe_gen" --seed 7 --viewers 40 --events 5000 --titles 30 \
	--start-ms $(( ($(date +%s) - 36 * 3600) * 1000 )) --format array --batch 500 \
	>"$WORK/events.json"
chmod 644 "$WORK/events.json"
while read -r batch; do
	printf '%s\n' "$batch" >"$WORK/batch.json"
	q -d orig -c "SELECT qoe.ingest(pg_read_file('$WORK/batch.json')::jsonb)" >/dev/null
done <"$WORK/events.json"
q -d orig >/dev/null <<'SQL'
SELECT qoe.ingest('[{"event_type": "start"}]'::jsonb);
SELECT qoe.refresh_rollups();
INSERT INTO qoe.concurrency_1min VALUES (date_trunc('minute', now()), 1, 'GB', 'tv', 'pop1', 3, 2);
UPDATE qoe.qoe_score_config SET good_score = 75, weight_vst = 0.25;
UPDATE qoe.recommendation_settings SET top_k = 20, weighting = 'bm25';
SELECT qoe.refresh_interactions(NULL);
SELECT qoe.build_recommendations(NULL);
INSERT INTO qoe.alert_rules (name, metric, comparator, threshold, recovery_threshold, severity, message)
    VALUES ('my_rule', 'plays', '<', 5, 6, 'warning', 'few plays {{plays}}');
UPDATE qoe.alert_rules SET enabled = false WHERE name = 'stall_loop';
UPDATE qoe.alert_rules SET threshold = 4000, recovery_threshold = 3500 WHERE name = 'high_vst_p95';
INSERT INTO qoe.alerts (rule, scope, state, severity, value, threshold, started_at, fired_at,
                        resolved_at, evaluated_at, message, channels)
    VALUES ('my_rule', '{"cdn_pop": "x"}', 'resolved', 'warning', 3, 5, now() - interval '1 hour',
            now() - interval '55 minutes', now() - interval '50 minutes', now(), 'few plays 3', '{}'),
           ('high_vst_p95', '{"cdn_pop": "y"}', 'firing', 'warning', 5000, 4000, now() - interval '5 minutes',
            now() - interval '4 minutes', NULL, now(), 'slow', '{slack}');
SELECT qoe.add_source('s1', '127.0.0.1:1', 't', enabled => false);
INSERT INTO qoe.source_offsets (source, topic, partition, next_offset)
    VALUES ('s1', 't', 0, 1234), ('s1', 't', 1, 99);
SQL
# one more batch after the refresh: deltas pending in the dump
"$QOE_ROOT/src/tools/qoe_gen" --seed 8 --viewers 5 --events 200 --titles 30 \
	--start-ms $(( ($(date +%s) - 600) * 1000 )) --format array --batch 200 >"$WORK/batch.json"
q -d orig -c "SELECT qoe.ingest(pg_read_file('$WORK/batch.json')::jsonb)" >/dev/null
q -d orig -c "SELECT count(*) FROM qoe.refresh_views()" >/dev/null

tables="viewing_events sessions content users dead_letters session_window_deltas session_windows
	qoe_5min rollup_status concurrency_1min qoe_score_config recommendation_settings interactions
	item_neighbors alert_rules alerts sources source_offsets"
views="content_metrics_daily user_metrics_daily daily_active_users cohort_analysis drop_off error_breakdown"
from=$(date -u -d '3 days ago' +%F) to=$(date -u -d tomorrow +%F)
snapshot() {
	local db=$1 t
	for t in $tables $views; do
		echo "$t $(q -d "$db" -c "SELECT count(*) || ' ' || coalesce(md5(string_agg(x, E'\n' ORDER BY x)), '-')
			FROM (SELECT t::text AS x FROM qoe.$t t) s")"
	done
	for t in dead_letters_id_seq alerts_id_seq; do
		echo "$t $(q -d "$db" -c "SELECT last_value FROM qoe.$t")"
	done
	echo "qoe_metrics $(q -d "$db" -c "SELECT count(*) || ' ' || md5(string_agg(m::text, E'\n' ORDER BY m::text))
		FROM qoe.qoe_metrics('$from', '$to', interval '1 hour', '{content_id,country,device_type,cdn_pop}') m")"
	echo "qoe_metrics_all $(q -d "$db" -c "SELECT m::text FROM qoe.qoe_metrics('$from', '$to') m")"
}
snapshot orig >"$WORK/before"
[ "$(q -d orig -c "SELECT count(*) FROM qoe.partitions")" -ge 2 ] || fail "fewer than two partitions"
[ "$(q -d orig -c "SELECT count(*) FROM qoe.session_window_deltas")" -gt 0 ] || fail "no pending deltas"
[ "$(q -d orig -c "SELECT count(*) FROM qoe.dead_letters")" -gt 0 ] || fail "no dead letter"

"$PGBIN/pg_dump" -Fc -d orig -f "$WORK/orig.dump" || fail "pg_dump"
echo "dump: $(stat -c %s "$WORK/orig.dump") bytes"
rc=0
"$PGBIN/pg_restore" -d restored "$WORK/orig.dump" 2>"$WORK/restore.err" || rc=$?
if [ $rc -ne 0 ] || [ -s "$WORK/restore.err" ]; then
	head -40 "$WORK/restore.err"
	fail "pg_restore exited $rc"
fi
# the materialized views are restored empty (pg_dump leaves extension
# members to CREATE EXTENSION): the procedure refreshes them
q -d restored -c "SELECT count(*) FROM qoe.refresh_views()" >/dev/null
snapshot restored >"$WORK/after"
if ! diff "$WORK/before" "$WORK/after"; then
	fail "restored database differs (< before, > after)"
fi
# the restored database keeps working: partitions, indexes, ingest, rollups
q -d restored -c "SELECT qoe.ingest(pg_read_file('$WORK/batch.json')::jsonb)" >/dev/null
q -d restored -c "SELECT qoe.refresh_rollups()" >/dev/null
n=$(q -d restored -c "SELECT count(*) FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indrelid
	WHERE h.inhparent = 'qoe.viewing_events'::regclass")
p=$(q -d restored -c "SELECT count(*) FROM qoe.partitions")
[ "$n" -eq $((2 * p)) ] || fail "$p partitions have $n indexes, not 2 each"
echo "ok: $(wc -l <"$WORK/before") tables and figures equal after restore"
