-- Business views (doc/views.md) on hand-worked sessions. Days are UTC days
-- counted back from today; every expected figure is worked out in the
-- comments from the definitions, not read off the output.
-- start from no sessions, whatever the tests before left
TRUNCATE qoe.sessions, qoe.users, qoe.content;
CREATE FUNCTION utc_day(back int) RETURNS date LANGUAGE sql STABLE
    AS $$ SELECT (now() AT TIME ZONE 'UTC')::date - back $$;
CREATE FUNCTION put_session(sid text, usr bigint, content bigint, started timestamptz,
                            vst int, watch bigint, stall bigint, bitrate int, pos real,
                            completed bool, ebvs bool DEFAULT false, failed bool DEFAULT false,
                            state qoe.session_state DEFAULT 'ended',
                            last_event timestamptz DEFAULT NULL)
    RETURNS void LANGUAGE sql AS $$
    INSERT INTO qoe.sessions (session_id, user_id, content_id, started_at, first_frame_at,
        last_event_at, ended_at, state, vst_ms, watch_ms, stall_count, stall_ms, seek_stall_count,
        seek_stall_ms, paused_ms, avg_bitrate_kbps, bitrate_switches, bitrate_downswitches,
        dropped_frames, max_position_sec, content_duration_sec, completed, ebvs, start_failed,
        playback_failed, error_count, event_count, fold_state)
    VALUES (sid, usr, content, started,
            started + make_interval(secs => vst / 1000.0),
            coalesce(last_event, started + make_interval(secs => (coalesce(vst, 0) + watch + stall) / 1000.0)),
            CASE WHEN state = 'ended' THEN started + make_interval(secs => (coalesce(vst, 0) + watch + stall) / 1000.0) END,
            state, vst, watch, (stall > 0)::int, stall, 0, 0, 0, bitrate, 0, 0, 0, pos, 100,
            completed, ebvs, false, failed, failed::int, 3, '\x') $$;
CREATE FUNCTION at_ten(back int) RETURNS timestamptz LANGUAGE sql STABLE
    AS $$ SELECT (utc_day(back) + time '10:00') AT TIME ZONE 'UTC' $$;

-- yesterday (day 1), title 1:
--   a: user 10, VST 1000 ms, 10 min watched, no stall, 8000 kbps, 90 of 100 s: score 100
--   b: user 11, VST 8000, 5 min watched, 15 s stalled (ratio 0.05), 500 kbps, 20 s: score
--      100 x (0.30 x 0 + 0.40 x 0 + 0.20 x 0 + 0.10 x 1) = 10
--   c: user 12, exit before video start: score 0, no watch time
-- yesterday, title 2: d: user 10, a playback failure after 1 min: score 0, 55 s
-- day 8, title 1: e: user 10, watched to the end
SELECT put_session('a', 10, 1, at_ten(1), 1000, 600000, 0, 8000, 90, true);
SELECT put_session('b', 11, 1, at_ten(1), 8000, 300000, 15000, 500, 20, false);
SELECT put_session('c', 12, 1, at_ten(1), NULL, 0, 0, NULL, NULL, false, ebvs => true);
SELECT put_session('d', 10, 2, at_ten(1), 2000, 60000, 0, 4000, 55, false, failed => true);
SELECT put_session('e', 10, 1, at_ten(8), 1000, 100000, 0, 8000, 100, true);
-- for churn_risk: user 13 played only 40 days ago, user 14 only 10 days ago
SELECT put_session('f', 13, 2, at_ten(40), 1000, 100000, 0, 8000, 50, false);
SELECT put_session('g', 14, 2, at_ten(10), 1000, 100000, 0, 8000, 50, false);
UPDATE qoe.sessions SET country = 'US', device_type = 'smart_tv', cdn_pop = 'us-east-1a';
INSERT INTO qoe.users (user_id, signup_at)
    SELECT u, at_ten(8) FROM unnest(ARRAY[10, 11, 12]) u;
INSERT INTO qoe.content (content_id, title, duration_sec) VALUES (1, 'One', 100), (2, 'Two', 100), (3, 'Three', 100);

-- the per-session score: 100, 10, 0 (EBVS), 0 (playback failure)
SELECT session_id, round(qoe.session_qoe_score(s)::numeric, 6) AS score FROM qoe.sessions s
 WHERE session_id IN ('a', 'b', 'c', 'd') ORDER BY 1;

-- nothing shows before a refresh; the refresh reports every view
SELECT count(*) FROM qoe.content_metrics_daily;
SELECT view_name FROM qoe.refresh_views();

-- day 1, title 1: attempts 3, plays 2, viewers 3, 1 completion, 1 EBVS;
-- watch 900,000 ms, stall 15,000: ratio 15000 / 900000 = 0.016667;
-- completion rate 1 / 2; EBVS rate 1 / 3;
-- bitrate (8000 x 600,000 + 500 x 300,000) / 900,000 = 5500 kbps;
-- score (100 x 600,000 + 10 x 300,000 + 0) / 900,000 = 70; one good session (a)
SELECT day = utc_day(1) AS yesterday, attempts, plays, unique_viewers, completions, ebvs,
       start_failures, playback_failures, watch_ms, stall_ms, round(rebuffering_ratio::numeric, 6) AS rebuffering_ratio,
       completion_rate, round(ebvs_rate::numeric, 6) AS ebvs_rate,
       bitrate_x_watch_ms / bitrate_watch_ms AS avg_bitrate_kbps, qoe_score, good_sessions,
       qoe.tdigest_count(vst_digest) AS vst_count, qoe.tdigest_min(vst_digest) AS vst_min,
       qoe.tdigest_max(vst_digest) AS vst_max
  FROM qoe.content_metrics_daily WHERE content_id = 1 AND day = utc_day(1);
-- day 1, title 2: the failed session scores 0
SELECT attempts, plays, playback_failures, qoe_score, good_sessions
  FROM qoe.content_metrics_daily WHERE content_id = 2 AND day = utc_day(1);

-- user 10 on day 1: 2 sessions, 2 titles, 660,000 ms; score (100 x 600,000 + 0) / 660,000
SELECT sessions, plays, titles, completions, watch_ms, round(qoe_score::numeric, 4) AS qoe_score
  FROM qoe.user_metrics_daily WHERE user_id = 10 AND day = utc_day(1);

-- DAU: day 8 user 10 (new); day 1 users 10 (returning) and 11 (new); user 12
-- only attempted (EBVS) and is not active
SELECT utc_day(0) - day AS days_back, active_users, new_viewers, returning_viewers
  FROM qoe.daily_active_users WHERE day IN (utc_day(8), utc_day(1)) ORDER BY day;

-- cohort: users 10, 11, 12 signed up on day 8. Week 0 (the signup week, which
-- holds day 8): user 10 played; week 1 (day 1 is 7 days later, so 7..13 days
-- after that Monday): users 10 and 11
SELECT cohort_week = date_trunc('week', utc_day(8))::date AS signup_week, week_number,
       cohort_size, active_users, round(retention::numeric, 4) AS retention
  FROM qoe.cohort_analysis ORDER BY week_number;

-- playing now on title 3 (country US): h counts; i is idle past the timeout;
-- j never showed a frame. Added after the checks of days 1 and 8 above: in
-- the first half hour of a UTC day, i (and h, j) started yesterday.
SELECT put_session('h', 20, 3, now() - interval '3 min', 1000, 1000, 0, 3000, 1, false,
                   state => 'active', last_event => now() - interval '1 min');
SELECT put_session('i', 21, 3, now() - interval '30 min', 1000, 1000, 0, 3000, 1, false,
                   state => 'active', last_event => now() - interval '20 min');
SELECT put_session('j', 22, 3, now() - interval '1 min', NULL, 0, 0, NULL, NULL, false,
                   state => 'active', last_event => now());
UPDATE qoe.sessions SET country = 'US', device_type = 'smart_tv', cdn_pop = 'us-east-1a'
 WHERE session_id IN ('h', 'i', 'j');
SELECT count(*) FROM qoe.refresh_views();

-- drop-off of title 1: a stopped at 90 s (decile 9), b at 20 s (2), e at
-- 100 s (10, the end); c never played. Title 2: d 55 s, f and g 50 s: decile 5
SELECT content_id, decile, sessions, round(share::numeric, 4) AS share
  FROM qoe.drop_off WHERE content_id IN (1, 2) ORDER BY 1, 2;

-- top content of the last 7 days (day 8 is out): title 1 (2 plays), title 3
-- (2 plays h and i, less watch time), title 2 (1 play)
SELECT rank, content_id, title, plays, round(completion_rate::numeric, 4) AS completion_rate,
       round(qoe_score::numeric, 4) AS qoe_score
  FROM qoe.top_content ORDER BY rank;

-- engagement of title 1 on day 1: 0.1 x 3 + 0.3 x 2 + 0.6 x 1 = 1.5, per attempt 0.5
SELECT engagement_score, engagement_rate FROM qoe.engagement WHERE content_id = 1 AND day = utc_day(1);

-- churn risk = 0.5 recency + 0.3 infrequency + 0.2 decline:
--   user 10: last play 1 day ago, 2 active days:  0.5/28 + 0.3 x 12/14 = 0.275 (low)
--   user 11: 1 day ago, 1 active day:             0.5/28 + 0.3 x 13/14 = 0.296 (low)
--   user 13: 40 days ago only: 0.5 + 0.3 + 0.2 x (watch fell from 100,000 to 0) = 1 (high)
--   user 14: 10 days ago, 1 day: 0.5 x 10/28 + 0.3 x 13/14 = 0.457 (medium)
--   user 12 never played: absent
SELECT user_id, utc_day(0) - last_active_day AS days_since, active_days_28d, risk, risk_band
  FROM qoe.churn_risk WHERE user_id BETWEEN 10 AND 14 ORDER BY user_id;

-- playing now: only h
SELECT content_id, country, device_type, cdn_pop, viewers FROM qoe.concurrent_viewers;
SET qoe.session_timeout = '30min';
SELECT content_id, viewers FROM qoe.concurrent_viewers;
RESET qoe.session_timeout;

-- a refresh sees new sessions, and readers are not blocked meanwhile
-- (CONCURRENTLY needs the unique index every materialized view has)
SELECT put_session('k', 11, 2, at_ten(1), 1000, 60000, 0, 8000, 80, true);
SELECT count(*) FROM qoe.refresh_views();
SELECT attempts, plays, completions FROM qoe.content_metrics_daily WHERE content_id = 2 AND day = utc_day(1);
SELECT count(*) AS views_without_unique_index
  FROM pg_matviews m
 WHERE m.schemaname = 'qoe'
   AND NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = format('qoe.%I', m.matviewname)::regclass
                                         AND i.indisunique);

-- a reader sees the views but cannot refresh them
SET ROLE qoe_reader;
SELECT count(*) > 0 AS reader_sees FROM qoe.content_metrics_daily;
SELECT * FROM qoe.refresh_views();
RESET ROLE;

TRUNCATE qoe.sessions, qoe.users, qoe.content;
SELECT count(*) FROM qoe.refresh_views();
DROP FUNCTION put_session, at_ten, utc_day;
