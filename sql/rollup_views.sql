-- The views over the rollups (doc/views.md) against direct computations over
-- qoe.qoe_5min and qoe.qoe_metrics, on what the rollups test left (content
-- 4242, three hours ago) plus two POPs of our own with known rebuffering.
CREATE FUNCTION hev(sid text, type text, ago_ms bigint, pop text, fields jsonb DEFAULT '{}')
    RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('event_type', type, 'session_id', sid, 'user_id', 9, 'content_id', 5151,
                              'timestamp', test_ms(-ago_ms), 'country', 'NZ', 'cdn_pop', pop,
                              'device_type', 'phone') || fields $$;
-- POP hm-red: 100 s watched, 3 s stalled (3 %); POP hm-yellow: 100 s, 1.5 s
-- (1.5 %); POP hm-green: 100 s, no stall. Each starts in 800 ms (< 1 s).
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    hev('h1', 'start', 600000, 'hm-red'), hev('h1', 'first_frame', 599200, 'hm-red'),
    hev('h1', 'buffering', 550000, 'hm-red', '{"buffering_ms":3000}'),
    hev('h1', 'stop', 496200, 'hm-red'),
    hev('h2', 'start', 600000, 'hm-yellow'), hev('h2', 'first_frame', 599200, 'hm-yellow'),
    hev('h2', 'buffering', 550000, 'hm-yellow', '{"buffering_ms":1500}'),
    hev('h2', 'stop', 497700, 'hm-yellow'),
    hev('h3', 'start', 600000, 'hm-green'), hev('h3', 'first_frame', 599200, 'hm-green'),
    hev('h3', 'stop', 499200, 'hm-green'),
    hev('h4', 'start', 600000, 'hm-green'),
    hev('h4', 'error', 598000, 'hm-green', '{"fatal":true,"error_code":"HM1"}')));
SELECT qoe.refresh_rollups() > 0 AS refreshed;

-- the heatmap's bands follow the ratio: 3 % red, 1.5 % yellow, 0 green
SELECT cdn_pop, round(rebuffering_ratio::numeric, 4) AS rebuffering_ratio, band
  FROM qoe.rebuffering_heatmap WHERE country = 'NZ' ORDER BY cdn_pop;
-- every band agrees with its ratio, over all rows
SELECT count(*) AS wrong_bands FROM qoe.rebuffering_heatmap
 WHERE band IS DISTINCT FROM CASE WHEN rebuffering_ratio > 0.02 THEN 'red'
                                  WHEN rebuffering_ratio >= 0.01 THEN 'yellow'
                                  WHEN rebuffering_ratio IS NOT NULL THEN 'green' END;

-- the breakdowns add up to the whole day
SELECT (SELECT sum(attempts) FROM qoe.device_breakdown) = w.attempts AS devices,
       (SELECT sum(attempts) FROM qoe.country_breakdown) = w.attempts AS countries,
       (SELECT sum(attempts) FROM qoe.cdn_pop_breakdown) = w.attempts AS pops,
       (SELECT sum(watch_hours) FROM qoe.cdn_pop_breakdown) = w.watch_hours AS pop_hours
  FROM qoe.qoe_metrics(now() - interval '24 hours', now()) w;
SELECT plays, round(rebuffering_ratio::numeric, 4) AS rebuffering_ratio
  FROM qoe.device_breakdown WHERE device_type = 'phone';

-- the histogram: exact bucket counts of the day, shares adding to 1; our
-- three starts of 800 ms are in the first bucket
SELECT bucket, starts >= 3 AS has_ours FROM qoe.vst_histogram WHERE ord = 1;
SELECT sum(starts) = (SELECT sum(vst_count) FROM qoe.qoe_5min WHERE window_start >= now() - interval '24 hours')
           AS counts_all, round(sum(share)::numeric, 6) AS shares
  FROM qoe.vst_histogram;

-- the 7-day trend: a row per day with data among the last 30, and today's
-- row is the merge of the last 7 days
SELECT count(*) = count(DISTINCT day) AS one_row_per_day, count(*) BETWEEN 1 AND 30 AS within_30_days
  FROM qoe.qoe_trend_7d;
SELECT t.attempts = w.attempts AS today_is_last_7_days
  FROM qoe.qoe_trend_7d t,
       (SELECT sum(attempts) AS attempts FROM qoe.qoe_5min
         WHERE window_start >= date_trunc('day', now(), 'UTC') - interval '6 days'
           AND window_start < date_trunc('day', now(), 'UTC') + interval '1 day') w
 WHERE t.day = (now() AT TIME ZONE 'UTC')::date;
-- the same in a session far from UTC (the regression tests' zone is -8)
SET TimeZone = 'Pacific/Kiritimati';
SELECT t.attempts = w.attempts AS today_is_last_7_days_at_plus_14
  FROM qoe.qoe_trend_7d t,
       (SELECT sum(attempts) AS attempts FROM qoe.qoe_5min
         WHERE window_start >= date_trunc('day', now(), 'UTC') - interval '6 days'
           AND window_start < date_trunc('day', now(), 'UTC') + interval '1 day') w
 WHERE t.day = (now() AT TIME ZONE 'UTC')::date;
RESET TimeZone;

-- errors per day and code, from sessions, after a refresh
SELECT count(*) FROM qoe.refresh_views();
-- h4 failed to start with HM1 (fatal, before its first frame)
SELECT day = ((now() - interval '10 min') AT TIME ZONE 'UTC')::date AS its_day, sessions, start_failures, playback_failures,
       nonfatal_only, errors
  FROM qoe.error_breakdown WHERE error_code = 'HM1';
DROP FUNCTION hev;
