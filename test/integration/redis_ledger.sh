#!/usr/bin/env bash
# The publisher's ledger of the sessions playing (doc/redis_design.md, the ledger)
# against qoe.concurrent_viewers: two sessions ingest at once, for 15 s,
# batches of random events of 300 sessions each (their own: a transaction
# of two qoe.ingest calls locks its sessions in two goes, and two such on the
# same sessions may deadlock) on the same 40 titles (starts, first
# frames, heartbeats, stops, fatal errors, late first events that move a
# session to another title), a third of the commits rolling back a
# savepoint in the middle, a tenth rolling back whole. With the periodic
# round (the rebase from qoe.sessions) at 60 s, the keys the woken rounds
# publish from the ledger alone must equal the view once the ingest stops,
# and so must trending_content, also as plays starting ahead start and plays
# leave the hour.
# Then a prepared transaction, whose COMMIT PREPARED posts no note: the
# periodic rounds rebuild the ledger until it is gone; a transaction of
# 140,000 sessions, more notes than the ring holds: the ring is lost, the
# periodic round rebuilds; and a TRUNCATE of the rollups, then of
# qoe.sessions: the ledgers are rebuilt at its commit.
set -eu
QOE_ROOT=${QOE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$QOE_ROOT/test/lib/redis.sh"

qoe_redis_start
qoe_publisher_cluster "qoe.redis_publish_interval = '60s'
max_prepared_transactions = 2"
qoe_wait_for 10 "SELECT publishes > 0 FROM qoe.redis_status" t
# within_3s WHAT 'TEST': poll TEST (evaluated each time) until true, failing
# with WHAT after 3 s from t0
within_3s() {
	until eval "$2"; do
		[ $(($(qoe_ms) - t0)) -lt 3000 ] || { echo "$1 (3 s)" >&2; exit 1; }
		sleep 0.05
	done
}
rebases0=$(psql -qXAt -c "SELECT all_viewer_rounds FROM qoe.redis_status")

# ingest_for SEED SECONDS: random batches, one commit (or rollback) each
ingest_for() {
	psql -qX -v ON_ERROR_STOP=1 -o /dev/null <<SQL
SELECT setseed($1);
DO \$\$
DECLARE
    until_at timestamptz := clock_timestamp() + interval '$2 s';
    n integer := 0;
    batch jsonb;
BEGIN
    WHILE clock_timestamp() < until_at LOOP
        n := n + 1;
        -- a late first event (5 s back) names another title: the session moves
        SELECT jsonb_agg(jsonb_build_object(
                   'event_type', t, 'session_id', 'l-$1-' || s, 'event_id', 'e' || n || '-' || i || '-$1',
                   'user_id', s, 'content_id', 880000 + CASE WHEN late THEN (s * 7 + n) % 40 ELSE s % 40 END,
                   'timestamp', (extract(epoch FROM clock_timestamp()) * 1000)::bigint
                                - CASE WHEN late THEN 5000 ELSE 0 END)
                   || CASE WHEN t = 'error' THEN '{"fatal": true, "error_code": "E1"}'::jsonb ELSE '{}' END)
          INTO batch
          FROM (SELECT i, (random() * 299)::int AS s,
                       CASE WHEN r < 0.01 THEN 'stop' WHEN r < 0.015 THEN 'error'
                            WHEN r < 0.1 THEN 'start' WHEN r < 0.3 THEN 'first_frame'
                            ELSE 'heartbeat' END AS t,
                       random() < 0.03 AS late
                  FROM (SELECT i, random() AS r FROM generate_series(1, 40) i) g) e;
        IF n % 10 = 0 THEN
            BEGIN
                PERFORM qoe.ingest(batch);
                RAISE EXCEPTION 'roll back';
            EXCEPTION WHEN raise_exception THEN
                NULL;
            END;
        ELSIF n % 3 = 0 THEN
            PERFORM qoe.ingest(jsonb_path_query_array(batch, '\$[0 to 19]'));
            BEGIN
                PERFORM qoe.ingest(jsonb_path_query_array(batch, '\$[20 to 39]'));
                RAISE EXCEPTION 'roll back';
            EXCEPTION WHEN raise_exception THEN
                NULL;
            END;
        ELSE
            PERFORM qoe.ingest(batch);
        END IF;
        COMMIT;
        PERFORM pg_sleep(0.02);
    END LOOP;
END \$\$;
SQL
}
ingest_for 0.25 15 &
first=$!
ingest_for 0.75 15
wait "$first"

played=$(psql -qXAt -c "SELECT count(*) FROM qoe.sessions WHERE session_id LIKE 'l-%' AND first_frame_at IS NOT NULL")
moved=$(psql -qXAt -c "SELECT count(*) FROM qoe.sessions WHERE session_id LIKE 'l-%' AND content_id <> 880000 + split_part(session_id, '-', 3)::int % 40")
titles=$(qoe_sql_viewers | wc -l)
echo "ingested: $played sessions past their first frame, $moved moved to another title, $titles titles playing now"
[ "$titles" -ge 10 ] && [ "$moved" -ge 1 ] || { echo "too few titles playing or no session moved: the test proves little" >&2; exit 1; }
# a last commit wakes a round, which publishes what the ledger holds
psql -qX -o /dev/null -c "SELECT qoe.ingest('[{\"event_type\":\"start\",\"session_id\":\"l-end\",\"event_id\":\"a\",\"user_id\":1,\"content_id\":880999,\"timestamp\":$(qoe_ms)},
	{\"event_type\":\"first_frame\",\"session_id\":\"l-end\",\"event_id\":\"b\",\"user_id\":1,\"content_id\":880999,\"timestamp\":$(qoe_ms)}]')"
ms=$(qoe_wait_viewers_equal 3000)
echo "the keys equal qoe.concurrent_viewers $ms ms after the last commit"
[ "$(psql -qXAt -c "SELECT all_viewer_rounds FROM qoe.redis_status")" = "$rebases0" ] ||
	{ echo "the ledger was rebuilt from qoe.sessions meanwhile: the test proves nothing" >&2; exit 1; }

# trending_content, published by the periodic round (now every 200 ms),
# from the same notes (a late first event moves a session and its start)
psql -qX -o /dev/null -c "ALTER SYSTEM SET qoe.redis_publish_interval = '200ms'" -c "SELECT pg_reload_conf()"
qoe_wait_trending_equal 3000
echo "trending_content: $(qoe_rcli ZCARD trending_content) titles, equal to qoe.trending_content"
[ "$(psql -qXAt -c "SELECT all_viewer_rounds FROM qoe.redis_status")" = "$rebases0" ] ||
	{ echo "the ledger was rebuilt from qoe.sessions before trending_content was compared" >&2; exit 1; }

# plays that come due in the ledger's queues, without a note: three whose first
# frame is 2 s ahead (a client clock ahead: 1 each until they start, then
# weighted by their start), and two that leave the hour in about 2 s
now=$(qoe_ms)
psql -qX -v ON_ERROR_STOP=1 -o /dev/null <<SQL
SELECT qoe.ingest(jsonb_agg(e))
  FROM (SELECT jsonb_build_object('event_type', k.t, 'session_id', 'l-due-' || c || '-' || i, 'event_id', k.t,
                                  'user_id', 1, 'content_id', c, 'timestamp', $now + o + k.d) AS e
          FROM (VALUES (880997, 3, 1000), (880996, 2, -3598000)) v(c, n, o),
               generate_series(1, n) i,
               (VALUES ('start', 0), ('first_frame', 500)) k(t, d)) x;
SQL
qoe_wait_trending_equal 1000
[ "$(qoe_rcli ZSCORE trending_content 880997)" = 3 ] ||
	{ echo "plays starting in the future do not count 1 each" >&2; exit 1; }
[ -n "$(qoe_rcli ZSCORE trending_content 880996)" ] || { echo "plays of the last hour missing" >&2; exit 1; }
sleep 2.5
qoe_wait_trending_equal 1000
[ -z "$(qoe_rcli ZSCORE trending_content 880996)" ] ||
	{ echo "plays older than the hour still in trending_content" >&2; exit 1; }
[ "$(qoe_rcli ZSCORE trending_content 880997)" != 3 ] ||
	{ echo "plays that started are still counted as future" >&2; exit 1; }
echo "trending_content: plays starting ahead counted, then weighted; plays leaving the hour dropped"
[ "$(psql -qXAt -c "SELECT all_viewer_rounds FROM qoe.redis_status")" = "$rebases0" ] ||
	{ echo "the ledger was rebuilt from qoe.sessions meanwhile: the queues were not tested" >&2; exit 1; }

now=$(qoe_ms)
psql -qX -v ON_ERROR_STOP=1 -o /dev/null <<SQL
BEGIN;
SELECT qoe.ingest('[{"event_type":"start","session_id":"l-prep","event_id":"a","user_id":1,"content_id":880998,"timestamp":$((now - 1000))},
                    {"event_type":"first_frame","session_id":"l-prep","event_id":"b","user_id":1,"content_id":880998,"timestamp":$now}]');
PREPARE TRANSACTION 'ledger';
SQL
sleep 0.5
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "COMMIT PREPARED 'ledger'"
t0=$(qoe_ms)
within_3s "a COMMIT PREPARED did not reach the keys" '[ "$(qoe_rcli GET concurrent_viewers:880998)" = 1 ]'
echo "a prepared transaction: concurrent_viewers:880998 $(($(qoe_ms) - t0)) ms after its COMMIT PREPARED"

rebases0=$(psql -qXAt -c "SELECT all_viewer_rounds FROM qoe.redis_status")
now=$(qoe_ms)
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "SELECT qoe.ingest((SELECT pg_catalog.jsonb_agg(e) FROM
	(SELECT pg_catalog.jsonb_build_object('event_type', t, 'session_id', 'bulk-' || i, 'event_id', t,
	        'user_id', i, 'content_id', 881000 + i % 100, 'timestamp', $now - (t = 'start')::int * 1000) AS e
	   FROM generate_series(1, 140000) i, unnest(ARRAY['start', 'first_frame']) t) s))"
ms=$(qoe_wait_viewers_equal 5000)
echo "140,000 sessions in one transaction (the ring overflowed): keys equal the view $ms ms after its commit"
[ "$(qoe_rcli GET concurrent_viewers:881000)" = 1400 ] || { echo "concurrent_viewers:881000 is not 1400" >&2; exit 1; }
[ "$(psql -qXAt -c "SELECT all_viewer_rounds FROM qoe.redis_status")" -gt "$rebases0" ] ||
	{ echo "no rebase after the ring overflowed" >&2; exit 1; }

# a TRUNCATE posts no note (the periodic rebase is 10 minutes away): its
# commit has the publisher rebuild the ledgers, and the keys go
keys_left() { qoe_rcli --scan --pattern "$1" | wc -l; }
[ "$(keys_left 'qoe_metrics:*')" -gt 0 ] || { echo "no qoe_metrics hash to see go" >&2; exit 1; }
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "TRUNCATE qoe.session_window_deltas, qoe.session_windows, qoe.qoe_5min"
t0=$(qoe_ms)
within_3s "qoe_metrics hashes left after TRUNCATE qoe.qoe_5min" '[ "$(keys_left "qoe_metrics:*")" = 0 ]'
echo "TRUNCATE of the rollups: no qoe_metrics hash $(($(qoe_ms) - t0)) ms after its commit"
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "TRUNCATE qoe.sessions"
t0=$(qoe_ms)
within_3s "viewers keys left after TRUNCATE qoe.sessions" '[ "$(keys_left "concurrent_viewers:*")" = 0 ]'
within_3s "trending_content left after TRUNCATE qoe.sessions" '[ "$(qoe_rcli ZCARD trending_content)" = 0 ]'
echo "TRUNCATE qoe.sessions: no viewers key, trending_content empty $(($(qoe_ms) - t0)) ms after its commit"
echo ok
