#!/usr/bin/env bash
# The wake-up chain (doc/redis_design.md): with both fallbacks set to
# 20 s (the publisher's full round, the scheduler's refresh of the rollups),
# a committed ingest, through qoe.ingest or a Kafka worker, still reaches
# Redis at once: concurrent_viewers:{id} woken by an ingest commit that
# starts, stops or brings back a session playing, qoe_metrics:{id} by any
# ingest commit of the title (read in real time: the merge turned off, the
# hash still shows the committed plays at once). Commits of heartbeats of
# sessions already playing wake the publisher for qoe_metrics but never for
# the viewers; commits of plays an hour old (outside the windows qoe_metrics
# shows, not playing now) wake it for neither. A woken round publishes only
# the titles the commits changed, from the ledgers (no read of qoe.sessions
# or the rollups), however many (1,100 in one commit). A rolled-back ingest
# wakes nothing that shows.
set -eu
QOE_ROOT=${QOE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$QOE_ROOT/test/lib/redis.sh"
. "$QOE_ROOT/test/lib/kafka.sh"

qoe_redis_start
qoe_publisher_cluster "qoe.redis_publish_interval = '20s'
qoe.rollup_refresh_interval = '20s'"
qoe_kafka_start events:1		# chains its stop to the cleanup trap

# ingest: one new title per marker; wait (at most 3 s, far below the 20 s
# fallbacks) for its keys
marker() {
	local id=$1 now
	now=$(qoe_ms)
	psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "SELECT qoe.ingest('[
	  {\"event_type\":\"start\",\"session_id\":\"w-$id\",\"event_id\":\"a\",\"user_id\":1,\"content_id\":$id,\"timestamp\":$((now - 1000))},
	  {\"event_type\":\"first_frame\",\"session_id\":\"w-$id\",\"event_id\":\"b\",\"user_id\":1,\"content_id\":$id,\"timestamp\":$now}]')"
}
wait_key() {
	wait_reply 1 "$@"
}
# wait_reply WANTED T0 REDIS-COMMAND...: until the reply is WANTED; prints the ms since T0
wait_reply() {
	local want=$1 t0=$2 deadline=$(($2 + 3000))
	shift 2
	until [ "$(qoe_rcli "$@")" = "$want" ]; do
		[ "$(qoe_ms)" -lt $deadline ] || { echo "$* is not $want within 3 s of the commit" >&2; exit 1; }
		sleep 0.01
	done
	echo $(($(qoe_ms) - t0))
}
ingest() {
	psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "SELECT qoe.ingest('[$1]')"
}
status() { psql -qXAt -c "SELECT $1 FROM qoe.redis_status"; }
# the rounds after the connection, which read every title, are over
qoe_wait_for 10 "SELECT publishes > 0 FROM qoe.redis_status" t
v0=$(status viewer_rounds)
a0=$(status all_viewer_rounds)
m0=$(status metrics_rounds)
am0=$(status all_metrics_rounds)
for id in 777001 777002 777003 777004 777005; do
	marker $id
	t0=$(qoe_ms)
	v=$(wait_key "$t0" EXISTS "concurrent_viewers:$id")
	m=$(wait_key "$t0" HEXISTS "qoe_metrics:$id" plays)
	echo "title $id: concurrent_viewers after $v ms, qoe_metrics after $m ms (polled every 10 ms by redis-cli)"
done
[ "$(qoe_rcli GET concurrent_viewers:777005)" = 1 ]
[ "$(qoe_rcli HGET qoe_metrics:777005 plays)" = 1 ]
some=$(( $(status viewer_rounds) - v0 - ($(status all_viewer_rounds) - a0) ))
some_metrics=$(( $(status metrics_rounds) - m0 - ($(status all_metrics_rounds) - am0) ))
echo "five new titles: $some rounds read the viewers, $some_metrics qoe_metrics, of some titles only"
[ "$some" -ge 5 ] && [ "$some_metrics" -ge 5 ] || { echo "the rounds woken by new titles read every title" >&2; exit 1; }

# a stop: the title's key goes
ingest "{\"event_type\":\"stop\",\"session_id\":\"w-777005\",\"event_id\":\"z\",\"user_id\":1,\"content_id\":777005,\"timestamp\":$(qoe_ms)}"
t0=$(qoe_ms)
ms=$(wait_reply 0 "$t0" EXISTS concurrent_viewers:777005)
echo "a stop: concurrent_viewers:777005 deleted after $ms ms"
# a session silent for longer than qoe.session_timeout (5 min) comes back
now=$(qoe_ms)
ingest "{\"event_type\":\"start\",\"session_id\":\"w-back\",\"event_id\":\"a\",\"user_id\":1,\"content_id\":777200,\"timestamp\":$((now - 601000))},
        {\"event_type\":\"first_frame\",\"session_id\":\"w-back\",\"event_id\":\"b\",\"user_id\":1,\"content_id\":777200,\"timestamp\":$((now - 600000))}"
ingest "{\"event_type\":\"heartbeat\",\"session_id\":\"w-back\",\"event_id\":\"c\",\"user_id\":1,\"content_id\":777200,\"timestamp\":$now}"
t0=$(qoe_ms)
ms=$(wait_key "$t0" EXISTS concurrent_viewers:777200)
echo "a session back after the timeout: in concurrent_viewers:777200 after $ms ms"

# 40 commits of heartbeats only, of the four sessions playing, then a new
# title: one round reads the viewers (the new title's), though the commits
# woke the publisher for their titles' qoe_metrics
v0=$(status viewer_rounds)
w0=$(status woken_rounds)
m0=$(status metrics_rounds)
psql -qX -v ON_ERROR_STOP=1 -o /dev/null <<SQL
DO \$\$
BEGIN
    FOR i IN 1..40 LOOP
        PERFORM qoe.ingest(format('[{"event_type":"heartbeat","session_id":"w-%s","event_id":"h%s","user_id":1,"content_id":%s,"timestamp":%s}]',
                                  777001 + i % 4, i, 777001 + i % 4,
                                  (extract(epoch FROM clock_timestamp()) * 1000)::bigint));
        COMMIT;
        PERFORM pg_sleep(0.02);
    END LOOP;
END \$\$;
SQL
[ "$(psql -qXAt -c "SELECT count(*) FROM qoe.viewing_events WHERE event_id LIKE 'h%'")" = 40 ]
marker 777007
wait_key "$(qoe_ms)" EXISTS concurrent_viewers:777007 >/dev/null
# the round is counted once Redis has replied: a moment after the key shows
qoe_wait_for 5 "SELECT viewer_rounds > $v0 FROM qoe.redis_status" t
viewer_rounds=$(($(status viewer_rounds) - v0))
metrics_rounds=$(($(status metrics_rounds) - m0))
echo "40 heartbeat commits and a new title: $viewer_rounds rounds read the viewers, $metrics_rounds qoe_metrics, $(($(status woken_rounds) - w0)) woken rounds"
[ "$viewer_rounds" = 1 ] || { echo "commits of heartbeats woke the publisher for the viewers" >&2; exit 1; }
[ "$metrics_rounds" -ge 3 ] || { echo "commits of heartbeats did not wake the publisher for qoe_metrics" >&2; exit 1; }
qoe_wait_viewers_equal 1000 >/dev/null

# 20 commits of plays an hour old (a backlog caught up): they change
# windows no qoe_metrics hash shows, and nobody plays them now, so they wake
# no round; the marker after them is read alone
m0=$(status metrics_rounds)
am0=$(status all_metrics_rounds)
psql -qX -v ON_ERROR_STOP=1 -o /dev/null <<SQL
DO \$\$
DECLARE
    hour_ago bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint - 3600000;
BEGIN
    FOR i IN 1..20 LOOP
        PERFORM qoe.ingest(format('[{"event_type":"start","session_id":"old-%s","event_id":"a","user_id":1,"content_id":%s,"timestamp":%s},
                                    {"event_type":"first_frame","session_id":"old-%s","event_id":"b","user_id":1,"content_id":%s,"timestamp":%s}]',
                                  i, 781000 + i, hour_ago, i, 781000 + i, hour_ago + 500));
        COMMIT;
        PERFORM pg_sleep(0.1);
    END LOOP;
END \$\$;
SQL
[ "$(psql -qXAt -c "SELECT count(*) FROM qoe.sessions WHERE session_id LIKE 'old-%'")" = 20 ]
marker 777008
wait_key "$(qoe_ms)" HEXISTS qoe_metrics:777008 plays >/dev/null
qoe_wait_for 5 "SELECT metrics_rounds > $m0 FROM qoe.redis_status" t
some_metrics=$(( $(status metrics_rounds) - m0 - ($(status all_metrics_rounds) - am0) ))
echo "20 commits of hour-old plays and a new title: $some_metrics rounds read qoe_metrics of some titles"
[ "$some_metrics" = 1 ] || { echo "commits of windows no hash shows woke the publisher for qoe_metrics" >&2; exit 1; }
[ "$(qoe_rcli EXISTS qoe_metrics:781001 concurrent_viewers:781001)" = 0 ] || { echo "an hour-old play was published" >&2; exit 1; }

# one commit starts sessions of 1,100 titles: the round it wakes (the
# fallback is 20 s) publishes their viewers and qoe_metrics from the
# ledgers, reading neither qoe.sessions nor every title's rollups
# (publishes less woken_rounds: periodic rounds; one may fall in this window,
# and rebuild the ledgers)
periodic() { psql -qXAt -c "SELECT publishes - woken_rounds FROM qoe.redis_status"; }
a0=$(status all_viewer_rounds)
am0=$(status all_metrics_rounds)
pr0=$(periodic)
now=$(qoe_ms)
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "SELECT qoe.ingest((SELECT pg_catalog.jsonb_agg(e) FROM
	(SELECT pg_catalog.jsonb_build_object('event_type', t, 'session_id', 'many-' || i, 'event_id', t,
	        'user_id', i, 'content_id', 779000 + i, 'timestamp', $now - (t = 'start')::int * 1000) AS e
	   FROM generate_series(1, 1100) i, unnest(ARRAY['start', 'first_frame']) t) s))"
t0=$(qoe_ms)
wait_key "$t0" EXISTS concurrent_viewers:780100 >/dev/null
ms=$(qoe_wait_viewers_equal 1000)
echo "1,100 titles in one commit: their viewers equal the view after $ms ms more"
m=$(wait_reply 1 "$t0" HGET qoe_metrics:780100 plays)
[ "$(qoe_rcli --scan --pattern 'qoe_metrics:7[78][0-9][0-9][0-9][0-9]' | grep -c -E ':(779[0-9]{3}|780[01][0-9]{2})$')" = 1100 ] ||
	{ echo "not every title of the 1,100 has its qoe_metrics hash" >&2; exit 1; }
echo "1,100 titles in one commit: qoe_metrics of all after $m ms"
if [ "$(periodic)" = "$pr0" ]; then
	[ "$(status all_viewer_rounds)" = "$a0" ] ||
		{ echo "1,100 titles' viewers were read from qoe.sessions, not from the ledger" >&2; exit 1; }
	[ "$(status all_metrics_rounds)" = "$am0" ] ||
		{ echo "1,100 titles' qoe_metrics were published as every title's" >&2; exit 1; }
else
	echo "a periodic round ran meanwhile: how woken rounds read the 1,100 titles is not known"
fi

# real time: with the merge off, the round the commit wakes takes a new
# title's plays to its hash from the deltas no merge has taken
psql -qX -o /dev/null -c "ALTER SYSTEM SET qoe.rollup_refresh_interval = 0" -c "SELECT pg_reload_conf()"
sleep 1		# a merge under way ends
marker 777300
t0=$(qoe_ms)
m=$(wait_key "$t0" HEXISTS "qoe_metrics:777300" plays)
[ "$(qoe_rcli HGET qoe_metrics:777300 plays)" = 1 ]
[ "$(psql -qXAt -c "SELECT (SELECT count(*) FROM qoe.qoe_5min WHERE content_id = 777300) = 0
                            AND (SELECT count(*) FROM qoe.session_window_deltas WHERE content_id = 777300) > 0")" = t ] ||
	{ echo "the merge ran while turned off: the test proves nothing" >&2; exit 1; }
echo "merge off: qoe_metrics:777300 plays = 1 after $m ms, from unmerged deltas"
psql -qX -o /dev/null -c "ALTER SYSTEM SET qoe.rollup_refresh_interval = '20s'" -c "SELECT pg_reload_conf()"

# the same through a Kafka worker: its batch commit wakes the chain
kafka_marker() {
	local id=$1 now
	now=$(qoe_ms)
	printf '%s\n' "{\"event_type\":\"start\",\"session_id\":\"k-$id\",\"event_id\":\"a\",\"user_id\":1,\"content_id\":$id,\"timestamp\":$((now - 1000))}" \
		"{\"event_type\":\"first_frame\",\"session_id\":\"k-$id\",\"event_id\":\"b\",\"user_id\":1,\"content_id\":$id,\"timestamp\":$now}" |
		qoe_kafka_produce events
}
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events',
	flush_interval_ms => 20, start_position => 'earliest', properties => '{\"fetch.wait.max.ms\": \"10\"}')"
kafka_marker 778000		# the worker is up once this one is stored
qoe_wait_for 60 "$QOE_STORED_SQL" 2
for id in 778001 778002 778003; do
	kafka_marker $id
	t0=$(qoe_ms)		# produced: the worker's fetch and batch are in the figures
	v=$(wait_key "$t0" EXISTS "concurrent_viewers:$id")
	m=$(wait_key "$t0" HEXISTS "qoe_metrics:$id" plays)
	echo "title $id through Kafka: concurrent_viewers $v ms, qoe_metrics $m ms after it was produced"
done

# rolled back: nothing of it shows, though a later commit wakes the publisher
now=$(qoe_ms)
psql -qX -v ON_ERROR_STOP=1 -o /dev/null <<SQL
BEGIN;
SELECT qoe.ingest('[{"event_type":"start","session_id":"w-rb","event_id":"a","user_id":1,"content_id":777100,"timestamp":$((now - 1000))},
                    {"event_type":"first_frame","session_id":"w-rb","event_id":"b","user_id":1,"content_id":777100,"timestamp":$now}]');
ROLLBACK;
SQL
marker 777006
wait_key "$(qoe_ms)" EXISTS concurrent_viewers:777006 >/dev/null
wait_key "$(qoe_ms)" HEXISTS qoe_metrics:777006 plays >/dev/null
[ "$(qoe_rcli EXISTS concurrent_viewers:777100)" = 0 ] && [ "$(qoe_rcli EXISTS qoe_metrics:777100)" = 0 ] ||
	{ echo "a rolled-back ingest was published"; exit 1; }

# the ledger (doc/redis_design.md) follows what no title list shows:
# a savepoint rolled back takes its sessions with it
sessions_of() {	# sessions_of SESSION TITLE TIME-MS: a start and a first frame
	echo "{\"event_type\":\"start\",\"session_id\":\"$1\",\"event_id\":\"a\",\"user_id\":1,\"content_id\":$2,\"timestamp\":$(($3 - 1000))},
	      {\"event_type\":\"first_frame\",\"session_id\":\"$1\",\"event_id\":\"b\",\"user_id\":1,\"content_id\":$2,\"timestamp\":$3}"
}
now=$(qoe_ms)
psql -qX -v ON_ERROR_STOP=1 -o /dev/null <<SQL
BEGIN;
SAVEPOINT s;
SELECT qoe.ingest('[$(sessions_of w-sp 777110 "$now")]');
ROLLBACK TO SAVEPOINT s;
SELECT qoe.ingest('[$(sessions_of w-sp2 777111 "$now")]');
COMMIT;
SQL
wait_key "$(qoe_ms)" EXISTS concurrent_viewers:777111 >/dev/null
[ "$(qoe_rcli EXISTS concurrent_viewers:777110)" = 0 ] || { echo "a rolled-back savepoint's session was published"; exit 1; }
# a session moves to another title (its first event, which names the title,
# arrives late) and leaves the first
now=$(qoe_ms)
ingest "$(sessions_of w-mv 777112 "$now")"
wait_key "$(qoe_ms)" EXISTS concurrent_viewers:777112 >/dev/null
ingest "{\"event_type\":\"heartbeat\",\"session_id\":\"w-mv\",\"event_id\":\"early\",\"user_id\":1,\"content_id\":777116,\"timestamp\":$((now - 5000))}"
t0=$(qoe_ms)
wait_key "$t0" EXISTS concurrent_viewers:777116 >/dev/null
ms=$(wait_reply 0 "$t0" EXISTS concurrent_viewers:777112)
echo "a session moved: concurrent_viewers:777112 deleted after $ms ms"
# qoe.expire_sessions() wakes a round that takes the sessions it abandons
ingest "$(sessions_of w-exp 777113 $(($(qoe_ms) - 30000)))"
wait_key "$(qoe_ms)" EXISTS concurrent_viewers:777113 >/dev/null
psql -qX -o /dev/null -c "SELECT qoe.expire_sessions('20 s')"
t0=$(qoe_ms)
ms=$(wait_reply 0 "$t0" EXISTS concurrent_viewers:777113)
echo "expired by qoe.expire_sessions('20 s'): concurrent_viewers:777113 deleted after $ms ms"
# a session that times out leaves its key at the next round, woken by
# another title's commit (before the ledger: at the 20-s periodic round)
psql -qX -o /dev/null -c "ALTER SYSTEM SET qoe.session_timeout = '10s'" -c "SELECT pg_reload_conf()"
ingest "$(sessions_of w-tout 777114 $(($(qoe_ms) - 7000)))"
wait_key "$(qoe_ms)" EXISTS concurrent_viewers:777114 >/dev/null
sleep 3.5
marker 777115
t0=$(qoe_ms)
ms=$(wait_reply 0 "$t0" EXISTS concurrent_viewers:777114)
echo "timed out, then another title's commit: concurrent_viewers:777114 deleted after $ms ms"
psql -qX -o /dev/null -c "ALTER SYSTEM RESET qoe.session_timeout" -c "SELECT pg_reload_conf()"
echo ok
