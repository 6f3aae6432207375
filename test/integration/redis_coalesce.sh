#!/usr/bin/env bash
# Under a stream of ingest commits (doc/redis_design.md, spacing) the publisher's
# woken rounds start at least 50 ms apart: at most 20 a second, however many
# commits wake it (each round reads the titles of the commits since the
# previous one together), and the keys still follow the commits: the last
# title committed shows in Redis at once. A fast ingest (more than 40,000 notes
# a second) spaces them further apart, with the square of the rate, and the
# spacing comes back to 50 ms when it stops.
set -eu
QOE_ROOT=${QOE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$QOE_ROOT/test/lib/redis.sh"

# the fallbacks far away: every round counted below is a woken one
qoe_redis_start
qoe_publisher_cluster "qoe.redis_publish_interval = '60s'
qoe.rollup_refresh_interval = '60s'"
qoe_wait_for 30 "SELECT publishes > 0 FROM qoe.redis_status" t

# 300 commits, each a new playing session of a title of its own, one every
# 10 ms or so: far more often than the rounds may follow
publishes() { psql -qXAt -c "SELECT publishes FROM qoe.redis_status"; }
p0=$(publishes)
t0=$(qoe_ms)
psql -qX -v ON_ERROR_STOP=1 -o /dev/null <<SQL
DO \$\$
DECLARE
    now_ms bigint;
BEGIN
    FOR i IN 1..300 LOOP
        now_ms := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
        PERFORM qoe.ingest(format('[{"event_type":"start","session_id":"c-%s","event_id":"a","user_id":1,"content_id":%s,"timestamp":%s},
                                    {"event_type":"first_frame","session_id":"c-%s","event_id":"b","user_id":1,"content_id":%s,"timestamp":%s}]',
                                  i, 880000 + i, now_ms - 1000, i, 880000 + i, now_ms));
        COMMIT;
        PERFORM pg_sleep(0.01);
    END LOOP;
END \$\$;
SQL
rounds=$(($(publishes) - p0))
t1=$(qoe_ms)
deadline=$((t1 + 1000))
until [ "$(qoe_rcli EXISTS concurrent_viewers:880300)" = 1 ]; do
	[ "$(qoe_ms)" -lt $deadline ] || { echo "concurrent_viewers:880300 not in Redis 1 s after its commit" >&2; exit 1; }
	sleep 0.005
done
elapsed=$((t1 - t0))
# one round per 50 ms, and one under way at the start
limit=$((elapsed / 50 + 3))
echo "$rounds publishing rounds for 300 commits in $elapsed ms (at most $limit)"
[ "$rounds" -le "$limit" ] || { echo "the publisher followed the commits more often than every 50 ms" >&2; exit 1; }
[ "$rounds" -ge 3 ] || { echo "the commits did not wake the publisher" >&2; exit 1; }
qoe_wait_viewers_equal 2000 >/dev/null

# One commit of 60,000 sessions starting to play on 100 titles hands the
# publisher 120,000 notes at once (a session's state and its change to the
# current window each): its rate of notes stays above 40,000 a second for
# about a second after the round that takes them (it decays with a time
# constant of 1 s), and woken rounds are spaced 50 ms x (rate / 40,000)^2
# apart, at most 1 s.
pace() {
	psql -qXAt -F' ' -c "SELECT round_spacing_ms, round(notes_per_second),
	                            round_spacing_ms = least(floor(50 * greatest(notes_per_second / 40000, 1) ^ 2), 1000)
	                       FROM qoe.redis_status"
}
read -r spacing rate consistent < <(pace)
[ "$spacing" = 50 ] || { echo "before the fast ingest: spacing $spacing ms at $rate notes/s, not 50" >&2; exit 1; }
psql -qX -v ON_ERROR_STOP=1 -o /dev/null <<'SQL'
SELECT qoe.ingest(jsonb_agg(e))
  FROM (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms) n,
       generate_series(1, 60000) i,
       LATERAL (VALUES (jsonb_build_object('event_type', 'start', 'session_id', 'f-' || i, 'event_id', 'a',
                                           'user_id', 1, 'content_id', 870000 + i % 100,
                                           'timestamp', n.now_ms - 1000)),
                       (jsonb_build_object('event_type', 'first_frame', 'session_id', 'f-' || i, 'event_id', 'b',
                                           'user_id', 1, 'content_id', 870000 + i % 100,
                                           'timestamp', n.now_ms))) v(e);
SQL
deadline=$(($(qoe_ms) + 1000))
until read -r spacing rate consistent < <(pace) && [ "$spacing" -gt 50 ]; do
	[ "$(qoe_ms)" -lt $deadline ] || { echo "after 120,000 notes at once: spacing $spacing ms at $rate notes/s" >&2; exit 1; }
	sleep 0.02
done
echo "after one commit of 120,000 notes: woken rounds $spacing ms apart at $rate notes/s"
[ "$rate" -gt 40000 ] && [ "$consistent" = t ] ||
	{ echo "spacing $spacing ms is not 50 x ($rate / 40,000)^2" >&2; exit 1; }
deadline=$(($(qoe_ms) + 1000))
until [ "$(qoe_rcli GET concurrent_viewers:870042)" = 600 ]; do
	[ "$(qoe_ms)" -lt $deadline ] || { echo "the fast ingest's keys did not follow it within 1 s" >&2; exit 1; }
	sleep 0.01
done
# back to 50 ms as the rate falls below 40,000 (about 1.1 s after that round)
qoe_wait_for 5 "SELECT round_spacing_ms FROM qoe.redis_status" 50 >/dev/null ||
	{ echo "spacing still $(pace) 5 s after the fast ingest" >&2; exit 1; }
qoe_wait_viewers_equal 2000 >/dev/null
echo "ok"
