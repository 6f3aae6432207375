#!/usr/bin/env bash
# The Redis publisher against a real redis-server (doc/redis.md): after
# ingest through qoe.ingest, concurrent_viewers:{id} equals
# qoe.concurrent_viewers summed per title, trending_content equals
# qoe.trending_content and qoe_metrics:{id} qoe.qoe_metrics; a rolled-back ingest publishes nothing; a title
# nobody watches loses its key; an error reply (Redis out of memory) is an
# error in qoe.redis_status, not a crash, and the keys follow once Redis
# accepts writes again.
set -eu
QOE_ROOT=${QOE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$QOE_ROOT/test/lib/redis.sh"

qoe_redis_start
qoe_publisher_cluster
pid=$(psql -qXAt -c "SELECT pid FROM qoe.redis_status")
[ "$(psql -qXAt -c "SELECT backend_type FROM pg_stat_activity WHERE pid = $pid")" = "qoe_ext publisher" ]

# keys equal the views
qoe_ingest_recent 1 100
ms=$(qoe_wait_viewers_equal 3000)
echo "concurrent_viewers keys equal the view $ms ms after the ingest committed"
[ "$(qoe_sql_viewers | wc -l)" -gt 10 ] || { echo "too few titles playing to compare"; exit 1; }
ttl=$(qoe_rcli TTL "concurrent_viewers:$(qoe_sql_viewers | head -1 | cut -d'|' -f1)")
[ "$ttl" -gt 0 ] && [ "$ttl" -le 60 ] || { echo "unexpected TTL $ttl"; exit 1; }

qoe_wait_trending_equal 5000
echo "trending_content: $(qoe_rcli ZCARD trending_content) titles, equal to qoe.trending_content; top 3:"
qoe_rcli ZREVRANGE trending_content 0 2 WITHSCORES | paste -d' ' - -
qoe_wait_metrics_equal 5000
echo "qoe_metrics: $(qoe_rcli --scan --pattern 'qoe_metrics:*' | wc -l) hashes, equal to qoe.qoe_metrics; one of them:"
qoe_rcli HGETALL "qoe_metrics:$(qoe_sql_viewers | head -1 | cut -d'|' -f1)" | paste -d' ' - - | tr '\n' ' '; echo

# A rolled-back ingest publishes nothing, though the publisher ran 3 rounds
# while it was uncommitted; the same ingest committed does publish.
now=$(qoe_ms)
events="[{\"event_type\":\"start\",\"session_id\":\"rb-1\",\"event_id\":\"a\",\"user_id\":1,\"content_id\":999001,\"timestamp\":$((now - 2000))},
         {\"event_type\":\"first_frame\",\"session_id\":\"rb-1\",\"event_id\":\"b\",\"user_id\":1,\"content_id\":999001,\"timestamp\":$((now - 1000))}]"
uncommitted=$(psql -qXAt -v ON_ERROR_STOP=1 <<SQL
BEGIN;
SELECT accepted FROM qoe.ingest('$events') \g /dev/null
$(qoe_sql_await_publishes 3)
\! redis-cli -h 127.0.0.1 -p $REDIS_PORT EXISTS concurrent_viewers:999001
\! redis-cli -h 127.0.0.1 -p $REDIS_PORT ZSCORE trending_content 999001
\! redis-cli -h 127.0.0.1 -p $REDIS_PORT EXISTS qoe_metrics:999001
ROLLBACK;
SQL
)
echo "while uncommitted, EXISTS, ZSCORE, EXISTS: $(echo $uncommitted)"
[ "$(echo $uncommitted)" = "0 0" ] || { echo "an uncommitted ingest was published"; exit 1; }
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "SELECT qoe.ingest('$events')"
deadline=$((SECONDS + 3))
until [ "$(qoe_rcli GET concurrent_viewers:999001)" = 1 ] && [ -n "$(qoe_rcli ZSCORE trending_content 999001)" ] &&
	[ "$(qoe_rcli HGET qoe_metrics:999001 plays)" = 1 ]; do
	[ $SECONDS -lt $deadline ] || { echo "the committed ingest was not published"; exit 1; }
	sleep 0.05
done
echo "committed: concurrent_viewers:999001 = 1, in trending_content, qoe_metrics:999001 plays = 1"

# a change to a hash Redis holds (one HSET of the fields that changed, no
# EXPIRE) keeps its TTL and every field; one Redis lost (deleted, evicted) is
# written whole again, with its TTL, at its next change
second() { echo "[{\"event_type\":\"start\",\"session_id\":\"rb-$1\",\"event_id\":\"a\",\"user_id\":$1,\"content_id\":999001,\"timestamp\":$((now - 2000))},
                {\"event_type\":\"first_frame\",\"session_id\":\"rb-$1\",\"event_id\":\"b\",\"user_id\":$1,\"content_id\":999001,\"timestamp\":$((now - 1000))}]"; }
fields() { qoe_rcli HGETALL qoe_metrics:999001 | paste -d= - - | grep -v '^updated_at=' | sort | tr '\n' ' '; }
until_plays() {
	deadline=$((SECONDS + 3))
	until [ "$(qoe_rcli HGET qoe_metrics:999001 plays)" = "$1" ]; do
		[ $SECONDS -lt $deadline ] || { echo "qoe_metrics:999001 plays did not become $1"; exit 1; }
		sleep 0.05
	done
}
qoe_rcli MONITOR >"$QOE_REDIS_DIR/monitor.log" &
monitor=$!
sleep 0.2
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "SELECT qoe.ingest('$(second 2)')"
until_plays 2
kill $monitor
hset=$(grep -o '"HSET" "qoe_metrics:999001".*' "$QOE_REDIS_DIR/monitor.log" | tail -1)
echo "second play written as: $(echo "$hset" | sed 's/"updated_at" "[^"]*"/"updated_at" .../')"
case "$hset" in *'"plays" "2"'*) ;; *) echo "the change was not written by one HSET"; exit 1 ;; esac
case "$hset" in *window_start*) echo "a field that did not change was written again"; exit 1 ;; esac
ttl=$(qoe_rcli TTL qoe_metrics:999001)
echo "second play: $(fields)TTL $ttl"
[ "$ttl" -gt 0 ] && [ "$ttl" -le 60 ] || { echo "unexpected TTL $ttl"; exit 1; }
qoe_wait_metrics_equal 3000
qoe_rcli DEL qoe_metrics:999001 >/dev/null
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "SELECT qoe.ingest('$(second 3)')"
until_plays 3
qoe_wait_metrics_equal 3000
ttl=$(qoe_rcli TTL qoe_metrics:999001)
echo "third play, after a DEL behind the publisher's back: $(fields)TTL $ttl"
[ "$ttl" -gt 0 ] && [ "$ttl" -le 60 ] || { echo "a hash Redis lost was written again without its TTL ($ttl)"; exit 1; }

# a title nobody watches any more loses its key
stops=$(for s in 1 2 3; do echo "{\"event_type\":\"stop\",\"session_id\":\"rb-$s\",\"event_id\":\"c\",\"user_id\":$s,\"content_id\":999001,\"timestamp\":$(qoe_ms)}"; done | paste -sd,)
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "SELECT qoe.ingest('[$stops]')"
deadline=$((SECONDS + 3))
until [ "$(qoe_rcli EXISTS concurrent_viewers:999001)" = 0 ]; do
	[ $SECONDS -lt $deadline ] || { echo "the key of a title nobody watches stayed"; exit 1; }
	sleep 0.05
done
qoe_wait_viewers_equal 3000 >/dev/null

# Redis out of memory: error replies are errors in the status, not a crash;
# the keys follow once Redis accepts writes again
qoe_rcli CONFIG SET maxmemory-policy noeviction >/dev/null
qoe_rcli CONFIG SET maxmemory 1 >/dev/null
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "SELECT qoe.ingest('$events')"
qoe_wait_for 5 "SELECT last_error LIKE '%OOM%' FROM qoe.redis_status" t
psql -qXAt -c "SELECT 'status: ' || state || ', last error: ' || last_error FROM qoe.redis_status"
[ "$(qoe_rcli EXISTS concurrent_viewers:999001)" = 0 ]
qoe_rcli CONFIG SET maxmemory 0 >/dev/null
ms=$(qoe_wait_viewers_equal 3000)
echo "after maxmemory was lifted, keys equal the view within $ms ms"
[ "$(psql -qXAt -c "SELECT pid FROM qoe.redis_status")" = "$pid" ] ||
	{ echo "the publisher restarted"; exit 1; }
echo "ok"
