#!/usr/bin/env bash
# The qoe_ext demo: on a fresh machine, install what is needed, start a local
# Kafka (librdkafka's mock cluster) and a throwaway PostgreSQL cluster with
# qoe_ext preloaded, generate some hours of playback telemetry (one CDN POP
# degraded) into a Kafka topic, let qoe_ext's background workers consume it,
# and print the ingest rate, the lag and a short QoE report, and the live
# metrics the Redis publisher keeps in a local redis-server. Everything is
# removed at the end.
#
#   bash src/tools/demo.sh            # 2 simulated hours, ~400 viewers
#   QOE_DEMO_SECONDS=120 QOE_DEMO_VIEWERS=100 bash src/tools/demo.sh
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/deps.sh"
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
. "$QOE_ROOT/test/lib/redis.sh"

SECONDS_OF_TELEMETRY=${QOE_DEMO_SECONDS:-7200}
VIEWERS=${QOE_DEMO_VIEWERS:-400}
DEGRADED_POP=us-east-1a

qoe_install_deps
qoe_build_install
qoe_kafka_test_start playback:8 >/dev/null
# the publisher writes the live metrics to a local redis-server (doc/redis.md)
qoe_redis_start
qoe_on_exit 'qoe_redis_stop; rm -rf "$QOE_REDIS_DIR"'
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -c "ALTER SYSTEM SET qoe.redis_host = '127.0.0.1'" \
	-c "ALTER SYSTEM SET qoe.redis_port = $REDIS_PORT" -c "SELECT pg_reload_conf()"

GEN="$QOE_ROOT/src/tools/qoe_gen --seed 42"
$GEN --catalog >"$WORK/catalog.csv"
psql -qX -v ON_ERROR_STOP=1 <<SQL
\copy qoe.content (content_id, title, duration_sec, genres) FROM '$WORK/catalog.csv' WITH (FORMAT csv)
SQL

echo "producing $SECONDS_OF_TELEMETRY s of telemetry from ~$VIEWERS viewers (POP $DEGRADED_POP degraded) to Kafka topic playback..."
$GEN --viewers "$VIEWERS" --duration-sec "$SECONDS_OF_TELEMETRY" --degrade-pop "$DEGRADED_POP" \
	--start-ms $(( ($(date +%s) - SECONDS_OF_TELEMETRY) * 1000 )) --kafka-key |
	qoe_kafka_produce --keyed playback
produced=$(qoe_kafka_count playback)

echo "consuming $produced messages with a qoe_ext worker..."
start=$(date +%s.%N)
psql -qX -v ON_ERROR_STOP=1 -c "SELECT qoe.add_source('demo', '$QOE_KAFKA_BROKERS', 'playback')" >/dev/null
qoe_wait_for 600 "$QOE_STORED_SQL" "$produced" >/dev/null
elapsed=$(echo "$(date +%s.%N) - $start" | bc -l)
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
\echo
\echo '== Kafka source =='
SELECT name, topic, state, workers_running, events, dead_letters, lag FROM qoe.source_status;
SQL

psql -qX -v ON_ERROR_STOP=1 -v elapsed="$elapsed" -v pop="$DEGRADED_POP" -v span="$SECONDS_OF_TELEMETRY" <<'SQL'
\pset footer off
SELECT qoe.expire_sessions() AS sessions_marked_abandoned \gset
SELECT count(*) AS events, round(count(*) / :elapsed) AS events_per_s,
       (SELECT count(*) FROM qoe.dead_letters) AS dead_letters
  FROM qoe.viewing_events \gset
\echo
\echo 'ingested' :events 'events at' :events_per_s 'events/s (worker start included);' :dead_letters 'dead letters;' :sessions_marked_abandoned 'idle sessions marked abandoned'
\echo
\echo '== QoE overview =='
SELECT count(*) AS sessions,
       count(*) FILTER (WHERE first_frame_at IS NOT NULL) AS plays,
       round(100.0 * count(*) FILTER (WHERE ebvs) / count(*), 2) AS ebvs_pct,
       round(100.0 * count(*) FILTER (WHERE start_failed) / count(*), 2) AS start_failure_pct,
       round(100.0 * count(*) FILTER (WHERE playback_failed) / count(*), 2) AS playback_failure_pct,
       round((qoe.percentile_approx(vst_ms, 0.5) / 1000)::numeric, 2) AS vst_p50_s,
       round((qoe.percentile_approx(vst_ms, 0.95) / 1000)::numeric, 2) AS vst_p95_s,
       round(100 * qoe.rebuffer_ratio(stall_ms, watch_ms)::numeric, 3) AS rebuffering_pct,
       round(qoe.qoe_score_agg(qoe.session_qoe_score(s), watch_ms)::numeric, 1) AS qoe_score,
       round(100 * qoe.qoe_good_share(qoe.session_qoe_score(s))::numeric, 1) AS good_pct,
       round(sum(watch_ms) / 3600000.0, 1) AS hours_watched
  FROM qoe.sessions s;

\echo '== By CDN POP (the 8 worst start times) =='
SELECT cdn_pop, count(*) AS sessions,
       round((qoe.percentile_approx(vst_ms, 0.95) / 1000)::numeric, 2) AS vst_p95_s,
       round(100 * qoe.rebuffer_ratio(stall_ms, watch_ms)::numeric, 3) AS rebuffering_pct,
       round(100.0 * count(*) FILTER (WHERE ebvs) / count(*), 2) AS ebvs_pct,
       round(qoe.qoe_score_agg(qoe.session_qoe_score(s), watch_ms)::numeric, 1) AS qoe_score
  FROM qoe.sessions s GROUP BY cdn_pop ORDER BY vst_p95_s DESC NULLS LAST LIMIT 8;

SELECT qoe.refresh_rollups() AS windows \gset
-- qoe_metrics takes the windows that start in the range: the range starts on
-- a window boundary, so the window of the first events is in it
SELECT date_bin('10 minutes', now() - make_interval(secs => :span), '2000-01-01 00:00+00') AS from_ts \gset
\echo '== QoE over time (qoe.qoe_metrics, 10-minute windows by event time): all POPs, and' :pop '=='
\echo '(every simulated viewer starts in the first minute, so the first window holds the start-up; the last one is partial)'
SELECT to_char(a.bucket AT TIME ZONE 'UTC', 'HH24:MI') AS utc, a.plays,
       round(a.qoe_score::numeric, 1) AS qoe_score, round(d.qoe_score::numeric, 1) AS qoe_score_pop,
       round(100 * a.rebuffering_ratio::numeric, 2) AS rebuffering_pct,
       round(100 * d.rebuffering_ratio::numeric, 2) AS rebuffering_pct_pop,
       round((a.vst_p95_ms / 1000)::numeric, 2) AS vst_p95_s, round((d.vst_p95_ms / 1000)::numeric, 2) AS vst_p95_s_pop
  FROM qoe.qoe_metrics(:'from_ts', now(), '10 minutes') a
  LEFT JOIN qoe.qoe_metrics(:'from_ts', now(), '10 minutes', '{cdn_pop}') d
         ON d.bucket = a.bucket AND d.cdn_pop = :'pop'
 ORDER BY a.bucket;

SELECT count(*) AS refreshed FROM qoe.refresh_views() \gset
\echo '== Top titles (qoe.top_content; start times merged from the daily digests) =='
SELECT t.rank, t.content_id, t.title, t.plays, round(t.watch_hours, 2) AS hours_watched,
       round(100 * t.completion_rate::numeric, 1) AS completion_pct,
       round(t.qoe_score::numeric, 1) AS qoe_score,
       round((qoe.tdigest_percentile(d.vst, 0.5) / 1000)::numeric, 2) AS vst_p50_s,
       round((qoe.tdigest_percentile(d.vst, 0.95) / 1000)::numeric, 2) AS vst_p95_s
  FROM qoe.top_content t
  CROSS JOIN LATERAL (SELECT qoe.tdigest_merge(m.vst_digest) AS vst
                        FROM qoe.content_metrics_daily m
                       WHERE m.content_id = t.content_id
                         AND m.day > (now() AT TIME ZONE 'UTC')::date - 7) d
 ORDER BY t.rank, t.content_id LIMIT 10;

\echo '== Playing now (qoe.concurrent_viewers: all, and the 5 biggest countries) =='
SELECT coalesce(country, '(all)') AS country, sum(viewers) AS viewers
  FROM qoe.concurrent_viewers GROUP BY ROLLUP (country)
 ORDER BY country IS NOT NULL, sum(viewers) DESC, country LIMIT 6;
SQL

# Live metrics in Redis (doc/redis.md): the publisher keeps them after every
# ingest commit; read back with redis-cli, as a dashboard would.
qoe_wait_viewers_equal 10000 >/dev/null
top=$(psql -qXAt -c "SELECT content_id FROM qoe.concurrent_viewers GROUP BY content_id ORDER BY sum(viewers) DESC, content_id LIMIT 1")
echo "== Live metrics in Redis (qoe.redis_status: $(psql -qXAt -c "SELECT state || ', ' || keys_written || ' keys written' FROM qoe.redis_status"); every concurrent_viewers:{id} equal to qoe.concurrent_viewers) =="
echo "\$ redis-cli GET concurrent_viewers:$top"
qoe_rcli GET "concurrent_viewers:$top"
echo "\$ redis-cli ZREVRANGE trending_content 0 9 WITHSCORES"
qoe_rcli ZREVRANGE trending_content 0 9 WITHSCORES | paste -d' ' - -
echo "\$ redis-cli HGETALL qoe_metrics:$top"
qoe_rcli HGETALL "qoe_metrics:$top" | paste -d' ' - -
echo

# Alerts (doc/alerts.md): the default rules, replayed over 10 minutes of
# 5,000 viewers (enough plays per POP for their samples) with the same POP
# degraded, before the Kafka telemetry, as the scheduler evaluates them every
# 10 s; the same run as test/integration/alerts_generated.sh (another seed:
# the Kafka demo's session ids stay its own).
ALERT_T0=$(( ($(date +%s) - SECONDS_OF_TELEMETRY - 1800) / 300 * 300 ))
psql -qX -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET qoe.alert_evaluation_interval = 0" -c "SELECT pg_reload_conf()" >/dev/null
$QOE_ROOT/src/tools/qoe_gen --seed 43 --viewers 5000 --duration-sec 600 --degrade-pop "$DEGRADED_POP" \
	--start-ms $((ALERT_T0 * 1000)) \
	--format array --batch 2000 |
	sed -e 's/^/SELECT 1 FROM qoe.ingest($q$/' -e 's/$/$q$);/' | psql -qX -v ON_ERROR_STOP=1 -o /dev/null
psql -qX -v ON_ERROR_STOP=1 -v t0="$ALERT_T0" -v pop="$DEGRADED_POP" <<'SQL'
\pset footer off
SELECT qoe.refresh_rollups() AS windows \gset
\o /dev/null
SELECT format('SELECT count(*) FROM qoe.evaluate_alerts(%L)', t)
  FROM generate_series(to_timestamp(:t0) + interval '10 s', to_timestamp(:t0) + interval '590 s', '10 s') t
\gexec
\o
SELECT count(*) FILTER (WHERE scope ->> 'cdn_pop' IS DISTINCT FROM :'pop') AS elsewhere FROM qoe.alerts \gset
\echo '== Alerts (qoe.alerts: the default rules every 10 s over 10 minutes of 5,000 viewers, POP' :pop 'degraded) =='
SELECT rule, severity, scope ->> 'cdn_pop' AS cdn_pop, state,
       round(extract(epoch FROM fired_at - started_at)) AS pending_s, message
  FROM qoe.alerts ORDER BY severity, rule;
\echo 'alerts anywhere else:' :elsewhere
SQL
psql -qX -v ON_ERROR_STOP=1 -c "ALTER SYSTEM RESET qoe.alert_evaluation_interval" -c "SELECT pg_reload_conf()" >/dev/null

# Recommendations (doc/recommendations.md): a day of history from 300
# viewers with tastes (the model and its evaluation take every viewer
# stored: these, the alerts' and the Kafka demo's), the item-KNN model, two viewers' picks and the
# leave-one-out evaluation against most-popular.
# (another seed: the Kafka demo's session ids stay its own)
$QOE_ROOT/src/tools/qoe_gen --seed 4242 --viewers 100 --users 300 --duration-sec 86400 \
	--start-ms $(( ($(date +%s) - 90000) * 1000 )) \
	--format array --batch 2000 |
	sed -e 's/^/SELECT 1 FROM qoe.ingest($q$/' -e 's/$/$q$);/' | psql -qX -v ON_ERROR_STOP=1 -o /dev/null
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
\pset footer off
SELECT qoe.refresh_interactions() AS interactions \gset
SELECT titles, neighbors, round(duration_ms) AS ms FROM qoe.build_recommendations() \gset
\echo '== Recommendations (item-KNN over' :interactions 'interactions of every viewer stored above and of a day of 300 more with tastes;' :neighbors 'neighbours of' :titles 'titles built in' :ms 'ms) =='
SELECT r.user_id AS viewer, r.content_id, c.title, round(r.score::numeric, 2) AS score,
       array_to_string(r.reason, ', ') AS because_they_watched
  FROM (VALUES (7), (42)) v(u), LATERAL (SELECT v.u AS user_id, * FROM qoe.recommend(v.u, 5)) r
  LEFT JOIN qoe.content c USING (content_id);
SELECT string_agg(format('%s HR@10 %s NDCG@10 %s', model, round(hr::numeric, 3), round(ndcg::numeric, 3)),
                  '; ' ORDER BY model) || format(' (%s users, leave-one-out, 100 negatives)', max(users)) AS evaluation
  FROM qoe.evaluate_recommendations() \gset
\echo :evaluation
SQL
echo
echo "demo done: events consumed from Kafka exactly once; sessions, 5-minute rollups, start-time digests, QoE scores, business views and recommendations computed inside PostgreSQL. The cluster and the broker are removed now."
