-- Business views over sessions (doc/views.md). A session belongs to the UTC
-- day it started. The daily views are materialized (each scans a day of
-- sessions once per refresh, not once per dashboard query) and hold the
-- mergeable sums beside their ratios, so a week or a month is an exact
-- merge of days; qoe.refresh_views() refreshes them concurrently.

CREATE FUNCTION session_qoe_score(s sessions) RETURNS float8
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE WHEN s.playback_failed THEN 0::float8
                ELSE qoe.qoe_score(s.vst_ms,
                                   s.stall_ms::float8 / NULLIF(s.watch_ms, 0),
                                   s.avg_bitrate_kbps,
                                   s.dropped_frames / NULLIF(s.watch_ms / 1000.0 * 30, 0)::float8)
           END $$;
COMMENT ON FUNCTION session_qoe_score(sessions) IS
    'QoE score 0-100 of one session (SPEC section 4, doc/metrics.md): qoe.qoe_score of its video start time, connection-induced rebuffering ratio (stall_ms / watch_ms), average bitrate and dropped-frame ratio (dropped_frames / (watch seconds x 30 fps)); 0 for a session that never started or failed';

CREATE MATERIALIZED VIEW content_metrics_daily AS
    SELECT (s.started_at AT TIME ZONE 'UTC')::date AS day,
           s.content_id,
           count(*) AS attempts,
           count(*) FILTER (WHERE s.first_frame_at IS NOT NULL) AS plays,
           count(DISTINCT s.user_id) AS unique_viewers,
           count(*) FILTER (WHERE s.completed) AS completions,
           count(*) FILTER (WHERE s.ebvs) AS ebvs,
           count(*) FILTER (WHERE s.start_failed) AS start_failures,
           count(*) FILTER (WHERE s.playback_failed) AS playback_failures,
           sum(s.watch_ms) AS watch_ms,
           sum(s.stall_ms) AS stall_ms,
           sum(s.stall_count) AS stall_count,
           sum(s.seek_stall_ms) AS seek_stall_ms,
           sum(s.avg_bitrate_kbps::float8 * s.watch_ms) AS bitrate_x_watch_ms,
           sum(s.watch_ms) FILTER (WHERE s.avg_bitrate_kbps IS NOT NULL) AS bitrate_watch_ms,
           sum(qoe.session_qoe_score(s) * s.watch_ms) AS score_x_watch_ms,
           count(*) FILTER (WHERE qoe.session_qoe_score(s) >= 70) AS good_sessions,
           qoe.tdigest_agg(s.vst_ms) FILTER (WHERE s.vst_ms IS NOT NULL) AS vst_digest,
           round(qoe.tdigest_percentile(qoe.tdigest_agg(s.vst_ms) FILTER (WHERE s.vst_ms IS NOT NULL), 0.5)) AS vst_p50_ms,
           round(qoe.tdigest_percentile(qoe.tdigest_agg(s.vst_ms) FILTER (WHERE s.vst_ms IS NOT NULL), 0.95)) AS vst_p95_ms,
           sum(s.stall_ms)::float8 / NULLIF(sum(s.watch_ms), 0) AS rebuffering_ratio,
           count(*) FILTER (WHERE s.completed)::float8
               / NULLIF(count(*) FILTER (WHERE s.first_frame_at IS NOT NULL), 0) AS completion_rate,
           count(*) FILTER (WHERE s.ebvs)::float8 / count(*) AS ebvs_rate,
           sum(qoe.session_qoe_score(s) * s.watch_ms) / NULLIF(sum(s.watch_ms), 0) AS qoe_score,
           sum(s.watch_ms) / 3600000.0 AS watch_hours
      FROM qoe.sessions s
     GROUP BY 1, 2;
CREATE UNIQUE INDEX content_metrics_daily_key ON content_metrics_daily (day, content_id);
COMMENT ON INDEX content_metrics_daily_key IS 'One row per day and title; lets qoe.refresh_views() refresh the view concurrently';
COMMENT ON MATERIALIZED VIEW content_metrics_daily IS
    'Per UTC day (of the session start) and title: attempts, plays, failures, watch and stall time, VST, rebuffering, completion and QoE score (doc/views.md); refreshed by qoe.refresh_views()';
COMMENT ON COLUMN content_metrics_daily.day IS 'UTC day the sessions started';
COMMENT ON COLUMN content_metrics_daily.content_id IS 'the title (qoe.sessions.content_id)';
COMMENT ON COLUMN content_metrics_daily.attempts IS 'sessions (each session is a play attempt)';
COMMENT ON COLUMN content_metrics_daily.plays IS 'sessions that showed a first frame';
COMMENT ON COLUMN content_metrics_daily.unique_viewers IS 'distinct user_id, exact for the day (not additive across days)';
COMMENT ON COLUMN content_metrics_daily.completions IS 'sessions that reached 70 % of the title duration';
COMMENT ON COLUMN content_metrics_daily.ebvs IS 'exits before video start';
COMMENT ON COLUMN content_metrics_daily.start_failures IS 'video start failures (fatal error before the first frame)';
COMMENT ON COLUMN content_metrics_daily.playback_failures IS 'playback failures (fatal error after the first frame)';
COMMENT ON COLUMN content_metrics_daily.watch_ms IS 'sum of watch time, ms';
COMMENT ON COLUMN content_metrics_daily.stall_ms IS 'sum of connection-induced stall time, ms';
COMMENT ON COLUMN content_metrics_daily.stall_count IS 'sum of connection-induced stalls';
COMMENT ON COLUMN content_metrics_daily.seek_stall_ms IS 'sum of seek-induced stall time, ms (not in the rebuffering ratio)';
COMMENT ON COLUMN content_metrics_daily.bitrate_x_watch_ms IS 'sum of average bitrate (kbps) x watch time (ms): divided by bitrate_watch_ms gives the time-weighted bitrate';
COMMENT ON COLUMN content_metrics_daily.bitrate_watch_ms IS 'watch time of the sessions that reported a bitrate, ms';
COMMENT ON COLUMN content_metrics_daily.score_x_watch_ms IS 'sum of session QoE score x watch time (ms): divided by watch_ms gives the group score';
COMMENT ON COLUMN content_metrics_daily.good_sessions IS 'sessions whose QoE score is at least 70';
COMMENT ON COLUMN content_metrics_daily.vst_digest IS 'qoe.tdigest of the video start times, ms: merge with qoe.tdigest_merge for longer periods';
COMMENT ON COLUMN content_metrics_daily.vst_p50_ms IS 'median video start time, ms (t-digest)';
COMMENT ON COLUMN content_metrics_daily.vst_p95_ms IS '95th percentile video start time, ms (t-digest)';
COMMENT ON COLUMN content_metrics_daily.rebuffering_ratio IS 'stall_ms / watch_ms (CTA-2066 stalled time percentage, as a fraction)';
COMMENT ON COLUMN content_metrics_daily.completion_rate IS 'completions / plays';
COMMENT ON COLUMN content_metrics_daily.ebvs_rate IS 'ebvs / attempts';
COMMENT ON COLUMN content_metrics_daily.qoe_score IS 'watch-time-weighted mean session QoE score, 0-100';
COMMENT ON COLUMN content_metrics_daily.watch_hours IS 'watch_ms in hours';

CREATE MATERIALIZED VIEW user_metrics_daily AS
    SELECT (s.started_at AT TIME ZONE 'UTC')::date AS day,
           s.user_id,
           count(*) AS sessions,
           count(*) FILTER (WHERE s.first_frame_at IS NOT NULL) AS plays,
           count(DISTINCT s.content_id) AS titles,
           count(*) FILTER (WHERE s.completed) AS completions,
           sum(s.watch_ms) AS watch_ms,
           sum(s.stall_ms) AS stall_ms,
           sum(qoe.session_qoe_score(s) * s.watch_ms) AS score_x_watch_ms,
           sum(s.stall_ms)::float8 / NULLIF(sum(s.watch_ms), 0) AS rebuffering_ratio,
           sum(qoe.session_qoe_score(s) * s.watch_ms) / NULLIF(sum(s.watch_ms), 0) AS qoe_score,
           sum(s.watch_ms) / 3600000.0 AS watch_hours
      FROM qoe.sessions s
     GROUP BY 1, 2;
CREATE UNIQUE INDEX user_metrics_daily_key ON user_metrics_daily (day, user_id);
CREATE INDEX user_metrics_daily_user ON user_metrics_daily (user_id, day);
COMMENT ON INDEX user_metrics_daily_key IS 'One row per day and viewer; lets qoe.refresh_views() refresh the view concurrently';
COMMENT ON INDEX user_metrics_daily_user IS 'A viewer''s days, in date order';
COMMENT ON MATERIALIZED VIEW user_metrics_daily IS
    'Per UTC day (of the session start) and viewer: sessions, plays, titles, completions, watch and stall time, QoE (doc/views.md); refreshed by qoe.refresh_views()';
COMMENT ON COLUMN user_metrics_daily.day IS 'UTC day the sessions started';
COMMENT ON COLUMN user_metrics_daily.user_id IS 'the viewer (qoe.sessions.user_id)';
COMMENT ON COLUMN user_metrics_daily.sessions IS 'sessions the viewer started that day';
COMMENT ON COLUMN user_metrics_daily.plays IS 'of which showed a first frame';
COMMENT ON COLUMN user_metrics_daily.titles IS 'distinct titles attempted';
COMMENT ON COLUMN user_metrics_daily.completions IS 'sessions that reached 70 % of the title';
COMMENT ON COLUMN user_metrics_daily.watch_ms IS 'sum of watch time, ms';
COMMENT ON COLUMN user_metrics_daily.stall_ms IS 'sum of connection-induced stall time, ms';
COMMENT ON COLUMN user_metrics_daily.score_x_watch_ms IS 'sum of session QoE score x watch time (ms)';
COMMENT ON COLUMN user_metrics_daily.rebuffering_ratio IS 'stall_ms / watch_ms';
COMMENT ON COLUMN user_metrics_daily.qoe_score IS 'watch-time-weighted mean session QoE score, 0-100';
COMMENT ON COLUMN user_metrics_daily.watch_hours IS 'watch_ms in hours';

-- a viewer is active on a day with at least one play (a first frame)
CREATE MATERIALIZED VIEW daily_active_users AS
    WITH active AS (
        SELECT day, user_id, min(day) OVER (PARTITION BY user_id) AS first_day
          FROM qoe.user_metrics_daily
         WHERE plays > 0
    )
    SELECT day,
           count(*) AS active_users,
           count(*) FILTER (WHERE day = first_day) AS new_viewers,
           count(*) FILTER (WHERE day > first_day) AS returning_viewers
      FROM active
     GROUP BY day;
CREATE UNIQUE INDEX daily_active_users_key ON daily_active_users (day);
COMMENT ON INDEX daily_active_users_key IS 'One row per day; lets qoe.refresh_views() refresh the view concurrently';
COMMENT ON MATERIALIZED VIEW daily_active_users IS
    'DAU: viewers with at least one play per UTC day, split into first-time and returning viewers (doc/views.md); refreshed by qoe.refresh_views() after user_metrics_daily';
COMMENT ON COLUMN daily_active_users.day IS 'UTC day (of the session start)';
COMMENT ON COLUMN daily_active_users.active_users IS 'distinct viewers with a play that day';
COMMENT ON COLUMN daily_active_users.new_viewers IS 'of which had their first play ever that day (as far as the kept sessions go back)';
COMMENT ON COLUMN daily_active_users.returning_viewers IS 'of which had played on an earlier day';

-- retention by signup week: of the viewers who signed up in a week, the
-- share that played in each later week
CREATE MATERIALIZED VIEW cohort_analysis AS
    WITH cohort AS (
        SELECT u.user_id, date_trunc('week', u.signup_at AT TIME ZONE 'UTC')::date AS cohort_week
          FROM qoe.users u
         WHERE u.signup_at IS NOT NULL
    ), size AS (
        SELECT cohort_week, count(*) AS cohort_size FROM cohort GROUP BY 1
    ), activity AS (
        SELECT DISTINCT c.cohort_week, c.user_id, (m.day - c.cohort_week) / 7 AS week_number
          FROM cohort c
          JOIN qoe.user_metrics_daily m ON m.user_id = c.user_id AND m.plays > 0
         WHERE m.day >= c.cohort_week
    )
    SELECT a.cohort_week, a.week_number, s.cohort_size,
           count(*) AS active_users,
           count(*)::float8 / s.cohort_size AS retention
      FROM activity a
      JOIN size s USING (cohort_week)
     GROUP BY a.cohort_week, a.week_number, s.cohort_size;
CREATE UNIQUE INDEX cohort_analysis_key ON cohort_analysis (cohort_week, week_number);
COMMENT ON INDEX cohort_analysis_key IS 'One row per cohort and week; lets qoe.refresh_views() refresh the view concurrently';
COMMENT ON MATERIALIZED VIEW cohort_analysis IS
    'Retention by signup week (qoe.users.signup_at, UTC weeks starting Monday): for each week since signup, the viewers of the cohort with a play that week; weeks without any are absent (doc/views.md)';
COMMENT ON COLUMN cohort_analysis.cohort_week IS 'Monday of the UTC week the viewers signed up';
COMMENT ON COLUMN cohort_analysis.week_number IS 'weeks since the cohort week: 0 is the signup week';
COMMENT ON COLUMN cohort_analysis.cohort_size IS 'viewers who signed up that week';
COMMENT ON COLUMN cohort_analysis.active_users IS 'of them, viewers with at least one play in week week_number';
COMMENT ON COLUMN cohort_analysis.retention IS 'active_users / cohort_size';

-- where in each title viewers stop: the furthest position of finished
-- sessions, by tenth of the duration
CREATE MATERIALIZED VIEW drop_off AS
    WITH stopped AS (
        SELECT s.content_id,
               least(floor(10 * s.max_position_sec
                           / coalesce(s.content_duration_sec, c.duration_sec)), 10)::int AS decile
          FROM qoe.sessions s
          LEFT JOIN qoe.content c USING (content_id)
         WHERE s.state <> 'active' AND s.first_frame_at IS NOT NULL
           AND s.max_position_sec IS NOT NULL
           AND coalesce(s.content_duration_sec, c.duration_sec) > 0
    )
    SELECT content_id, decile, count(*) AS sessions,
           count(*)::float8 / sum(count(*)) OVER (PARTITION BY content_id) AS share
      FROM stopped
     GROUP BY content_id, decile;
CREATE UNIQUE INDEX drop_off_key ON drop_off (content_id, decile);
COMMENT ON INDEX drop_off_key IS 'One row per title and decile; lets qoe.refresh_views() refresh the view concurrently';
COMMENT ON MATERIALIZED VIEW drop_off IS
    'Where viewers stop each title: finished sessions (ended or abandoned, with a play and a known position and duration) by the tenth of the duration their furthest position fell in (doc/views.md)';
COMMENT ON COLUMN drop_off.content_id IS 'the title';
COMMENT ON COLUMN drop_off.decile IS 'floor(10 x max_position_sec / duration): 0 = stopped in the first 10 %, 9 = in the last 10 %, 10 = reached the end';
COMMENT ON COLUMN drop_off.sessions IS 'finished sessions that stopped there';
COMMENT ON COLUMN drop_off.share IS 'sessions / all finished sessions of the title';

CREATE VIEW top_content AS
    SELECT rank() OVER (ORDER BY sum(m.plays) DESC, sum(m.watch_ms) DESC) AS rank,
           m.content_id, c.title,
           sum(m.plays) AS plays,
           sum(m.watch_ms) / 3600000.0 AS watch_hours,
           sum(m.completions)::float8 / NULLIF(sum(m.plays), 0) AS completion_rate,
           sum(m.score_x_watch_ms) / NULLIF(sum(m.watch_ms), 0) AS qoe_score
      FROM qoe.content_metrics_daily m
      LEFT JOIN qoe.content c USING (content_id)
     WHERE m.day > (pg_catalog.now() AT TIME ZONE 'UTC')::date - 7
     GROUP BY m.content_id, c.title;
COMMENT ON VIEW top_content IS
    'Titles ranked by plays over the last 7 UTC days including today (ties by watch time), from content_metrics_daily (doc/views.md)';
COMMENT ON COLUMN top_content.rank IS 'rank by plays, then watch time; tied titles share a rank (rank())';
COMMENT ON COLUMN top_content.content_id IS 'the title';
COMMENT ON COLUMN top_content.title IS 'its name from qoe.content; NULL when the title is not in the catalog';
COMMENT ON COLUMN top_content.plays IS 'sessions with a first frame, last 7 days';
COMMENT ON COLUMN top_content.watch_hours IS 'watch time, hours';
COMMENT ON COLUMN top_content.completion_rate IS 'completions / plays';
COMMENT ON COLUMN top_content.qoe_score IS 'watch-time-weighted mean session QoE score';

CREATE VIEW engagement AS
    SELECT m.day, m.content_id, m.attempts, m.plays, m.completions,
           0.1 * m.attempts + 0.3 * m.plays + 0.6 * m.completions AS engagement_score,
           (0.1 * m.attempts + 0.3 * m.plays + 0.6 * m.completions) / m.attempts AS engagement_rate
      FROM qoe.content_metrics_daily m;
COMMENT ON VIEW engagement IS
    'Engagement per UTC day and title (SPEC section 4): 0.1 x attempts + 0.3 x plays + 0.6 x completions, and that per attempt (doc/views.md)';
COMMENT ON COLUMN engagement.day IS 'UTC day the sessions started';
COMMENT ON COLUMN engagement.content_id IS 'the title';
COMMENT ON COLUMN engagement.attempts IS 'sessions (play attempts)';
COMMENT ON COLUMN engagement.plays IS 'sessions that showed a first frame';
COMMENT ON COLUMN engagement.completions IS 'sessions that reached 70 % of the title duration';
COMMENT ON COLUMN engagement.engagement_score IS '0.1 x attempts + 0.3 x plays + 0.6 x completions';
COMMENT ON COLUMN engagement.engagement_rate IS 'engagement_score / attempts: 0.1 when nobody played, 1 when every attempt completed';

-- churn risk = 0.5 recency + 0.3 infrequency + 0.2 decline, each in [0, 1]
CREATE VIEW churn_risk AS
    WITH today AS (SELECT (pg_catalog.now() AT TIME ZONE 'UTC')::date AS d),
    per_user AS (
        SELECT m.user_id,
               max(m.day) AS last_active_day,
               count(*) FILTER (WHERE m.day > t.d - 28) AS active_days_28d,
               coalesce(sum(m.watch_ms) FILTER (WHERE m.day > t.d - 28), 0) AS watch_ms_28d,
               coalesce(sum(m.watch_ms) FILTER (WHERE m.day <= t.d - 28), 0) AS watch_ms_prior_28d,
               t.d AS today
          FROM qoe.user_metrics_daily m, today t
         WHERE m.plays > 0 AND m.day > t.d - 56
         GROUP BY m.user_id, t.d
    ), parts AS (
        SELECT user_id, last_active_day, active_days_28d, watch_ms_28d, watch_ms_prior_28d,
               least((today - last_active_day) / 28.0, 1) AS recency,
               1 - least(active_days_28d / 14.0, 1) AS infrequency,
               CASE WHEN watch_ms_prior_28d > 0
                    THEN greatest(0, least(1, (watch_ms_prior_28d - watch_ms_28d)::numeric / watch_ms_prior_28d))
                    ELSE 0 END AS decline
          FROM per_user
    )
    SELECT user_id, last_active_day, active_days_28d,
           watch_ms_28d / 3600000.0 AS watch_hours_28d,
           watch_ms_prior_28d / 3600000.0 AS watch_hours_prior_28d,
           round(0.5 * recency + 0.3 * infrequency + 0.2 * decline, 3) AS risk,
           CASE WHEN 0.5 * recency + 0.3 * infrequency + 0.2 * decline >= 0.6 THEN 'high'
                WHEN 0.5 * recency + 0.3 * infrequency + 0.2 * decline >= 0.3 THEN 'medium'
                ELSE 'low' END AS risk_band
      FROM parts;
COMMENT ON VIEW churn_risk IS
    'Churn risk of viewers with a play in the last 56 UTC days: 0.5 x recency (days since the last play / 28, at most 1) + 0.3 x infrequency (1 - active days in the last 28 / 14, at least 0) + 0.2 x decline (drop of watch time, last 28 days against the 28 before, 0..1); bands high >= 0.6, medium >= 0.3, else low (doc/views.md)';
COMMENT ON COLUMN churn_risk.user_id IS 'the viewer';
COMMENT ON COLUMN churn_risk.last_active_day IS 'latest UTC day with a play';
COMMENT ON COLUMN churn_risk.active_days_28d IS 'days with a play among the last 28 (today included)';
COMMENT ON COLUMN churn_risk.watch_hours_28d IS 'watch time of the days with a play among the last 28 (today included), hours';
COMMENT ON COLUMN churn_risk.watch_hours_prior_28d IS 'watch time of the days with a play among the 28 before those, hours';
COMMENT ON COLUMN churn_risk.risk IS 'churn risk score 0..1, higher is likelier to churn';
COMMENT ON COLUMN churn_risk.risk_band IS 'high (risk >= 0.6), medium (>= 0.3) or low';

-- playing now: a session that showed a first frame, has not ended, and sent
-- an event within the inactivity timeout (the cut-off a subquery, so it is
-- computed once, not parsed again for every row: the Redis publisher reads
-- this view after every ingest commit)
CREATE VIEW concurrent_viewers AS
    SELECT s.content_id, s.country, s.device_type, s.cdn_pop, count(*) AS viewers
      FROM qoe.sessions s
     WHERE s.state = 'active' AND s.first_frame_at IS NOT NULL
       AND s.last_event_at > (SELECT pg_catalog.now()
           - coalesce(pg_catalog.current_setting('qoe.session_timeout', true), '5min')::interval)
     GROUP BY s.content_id, s.country, s.device_type, s.cdn_pop;
COMMENT ON VIEW concurrent_viewers IS
    'Sessions playing now per title, country, device type and CDN POP: active, past their first frame, with an event within qoe.session_timeout (doc/views.md)';
COMMENT ON COLUMN concurrent_viewers.content_id IS 'the title';
COMMENT ON COLUMN concurrent_viewers.country IS 'country of the sessions (NULL: unknown)';
COMMENT ON COLUMN concurrent_viewers.device_type IS 'device type of the sessions (NULL: unknown)';
COMMENT ON COLUMN concurrent_viewers.cdn_pop IS 'CDN POP of the sessions (NULL: unknown)';
COMMENT ON COLUMN concurrent_viewers.viewers IS 'sessions playing now';

CREATE FUNCTION refresh_views()
    RETURNS TABLE (view_name text, seconds float8)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v text;
    t0 timestamptz;
BEGIN
    -- user_metrics_daily before the views computed from it
    FOREACH v IN ARRAY ARRAY['content_metrics_daily', 'user_metrics_daily', 'daily_active_users',
                             'cohort_analysis', 'drop_off', 'error_breakdown'] LOOP
        t0 := clock_timestamp();
        EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY qoe.%I', v);
        view_name := v;
        seconds := extract(epoch FROM clock_timestamp() - t0);
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION refresh_views() IS
    'Refresh the materialized business views concurrently (readers are never blocked), in dependency order; returns each view and the seconds it took. Runs as the extension owner; granted to qoe_admin';

-- Views over the rollups (qoe.qoe_5min, by event time; doc/views.md): what
-- the last day looked like, cheap at any data volume.

CREATE VIEW device_breakdown AS
    SELECT device_type, attempts, plays, ebvs_rate, video_start_failure_rate, playback_failure_rate,
           vst_p50_ms, vst_p95_ms, rebuffering_ratio, avg_bitrate_kbps, completion_rate, qoe_score,
           good_share, watch_hours, unique_viewers
      FROM qoe.qoe_metrics(pg_catalog.now() - interval '24 hours', pg_catalog.now(), NULL, '{device_type}');
COMMENT ON VIEW device_breakdown IS
    'QoE per device type over the last 24 hours, from qoe.qoe_metrics (columns as there, doc/rollups.md)';
CREATE VIEW country_breakdown AS
    SELECT country, attempts, plays, ebvs_rate, video_start_failure_rate, playback_failure_rate,
           vst_p50_ms, vst_p95_ms, rebuffering_ratio, avg_bitrate_kbps, completion_rate, qoe_score,
           good_share, watch_hours, unique_viewers
      FROM qoe.qoe_metrics(pg_catalog.now() - interval '24 hours', pg_catalog.now(), NULL, '{country}');
COMMENT ON VIEW country_breakdown IS
    'QoE per country over the last 24 hours, from qoe.qoe_metrics (columns as there, doc/rollups.md)';
CREATE VIEW cdn_pop_breakdown AS
    SELECT cdn_pop, attempts, plays, ebvs_rate, video_start_failure_rate, playback_failure_rate,
           vst_p50_ms, vst_p95_ms, rebuffering_ratio, avg_bitrate_kbps, completion_rate, qoe_score,
           good_share, watch_hours, unique_viewers
      FROM qoe.qoe_metrics(pg_catalog.now() - interval '24 hours', pg_catalog.now(), NULL, '{cdn_pop}');
COMMENT ON VIEW cdn_pop_breakdown IS
    'QoE per CDN POP over the last 24 hours, from qoe.qoe_metrics (columns as there, doc/rollups.md)';

-- per UTC day of the session start, as the other daily views
CREATE MATERIALIZED VIEW error_breakdown AS
    SELECT (s.started_at AT TIME ZONE 'UTC')::date AS day,
           s.last_error_code AS error_code,
           count(*) AS sessions,
           count(*) FILTER (WHERE s.start_failed) AS start_failures,
           count(*) FILTER (WHERE s.playback_failed) AS playback_failures,
           count(*) FILTER (WHERE NOT s.start_failed AND NOT s.playback_failed) AS nonfatal_only,
           sum(s.error_count) AS errors
      FROM qoe.sessions s
     WHERE s.error_count > 0
     GROUP BY 1, 2;
CREATE UNIQUE INDEX error_breakdown_key ON error_breakdown (day, error_code) NULLS NOT DISTINCT;
COMMENT ON INDEX error_breakdown_key IS 'One row per day and error code (NULL codes included); lets qoe.refresh_views() refresh the view concurrently';
COMMENT ON MATERIALIZED VIEW error_breakdown IS
    'Sessions with errors per UTC day (of the session start) and last error code: how many, how many ended in a start or playback failure, how many had non-fatal errors only (doc/views.md); refreshed by qoe.refresh_views()';
COMMENT ON COLUMN error_breakdown.day IS 'UTC day the sessions started';
COMMENT ON COLUMN error_breakdown.error_code IS 'the session''s last error code (NULL: an error without a code)';
COMMENT ON COLUMN error_breakdown.sessions IS 'sessions whose last error had this code';
COMMENT ON COLUMN error_breakdown.start_failures IS 'of which video start failures';
COMMENT ON COLUMN error_breakdown.playback_failures IS 'of which playback failures';
COMMENT ON COLUMN error_breakdown.nonfatal_only IS 'of which had non-fatal errors only';
COMMENT ON COLUMN error_breakdown.errors IS 'error events of those sessions';

CREATE VIEW vst_histogram AS
    WITH day AS (
        SELECT sum(vst_lt_1s) AS lt_1s, sum(vst_1_2s) AS s1_2, sum(vst_2_4s) AS s2_4,
               sum(vst_4_8s) AS s4_8, sum(vst_ge_8s) AS ge_8s, sum(vst_count) AS total
          FROM qoe.qoe_5min
         WHERE window_start >= pg_catalog.now() - interval '24 hours'
    )
    SELECT b.ord, b.bucket, b.starts, b.starts::float8 / NULLIF(d.total, 0) AS share
      FROM day d,
           LATERAL (VALUES (1, '< 1 s', d.lt_1s), (2, '1-2 s', d.s1_2), (3, '2-4 s', d.s2_4),
                           (4, '4-8 s', d.s4_8), (5, '>= 8 s', d.ge_8s)) b(ord, bucket, starts);
COMMENT ON VIEW vst_histogram IS
    'Video start times of the last 24 hours in the fixed CTA-style buckets of qoe.qoe_5min (exact counts, doc/views.md)';
COMMENT ON COLUMN vst_histogram.ord IS 'the bucket''s order, 1 = fastest';
COMMENT ON COLUMN vst_histogram.bucket IS 'the video start time range: < 1 s, 1-2 s, 2-4 s, 4-8 s or >= 8 s (lower bound included)';
COMMENT ON COLUMN vst_histogram.starts IS 'video starts (first frames) in the bucket';
COMMENT ON COLUMN vst_histogram.share IS 'starts / all starts of the last 24 hours';

CREATE VIEW rebuffering_heatmap AS
    SELECT country, cdn_pop, plays, watch_hours, rebuffering_ratio,
           CASE WHEN rebuffering_ratio > 0.02 THEN 'red'
                WHEN rebuffering_ratio >= 0.01 THEN 'yellow'
                WHEN rebuffering_ratio IS NOT NULL THEN 'green' END AS band
      FROM qoe.qoe_metrics(pg_catalog.now() - interval '24 hours', pg_catalog.now(), NULL,
                           '{country,cdn_pop}');
COMMENT ON VIEW rebuffering_heatmap IS
    'Rebuffering ratio per country x CDN POP over the last 24 hours, with the design''s colour bands (doc/views.md)';
COMMENT ON COLUMN rebuffering_heatmap.band IS 'red above 2 %, yellow 1-2 %, green below 1 %; NULL without watch time';

CREATE VIEW qoe_trend_7d AS
    SELECT d.day, m.attempts, m.plays, m.vst_p50_ms, m.vst_p95_ms, m.rebuffering_ratio,
           m.playback_failure_rate, m.completion_rate, m.qoe_score, m.good_share, m.watch_hours
      FROM pg_catalog.generate_series(0, 29) n,
           LATERAL (SELECT (pg_catalog.now() AT TIME ZONE 'UTC')::date - n AS day) d,
           -- UTC midnights: a date made a timestamp, then read as UTC
           LATERAL qoe.qoe_metrics((d.day - 6)::timestamp AT TIME ZONE 'UTC',
                                   (d.day + 1)::timestamp AT TIME ZONE 'UTC', NULL, '{}') m;
COMMENT ON VIEW qoe_trend_7d IS
    'For each of the last 30 UTC days, QoE over the 7 days ending with it (a rolling window merged from qoe.qoe_5min, doc/views.md)';
COMMENT ON COLUMN qoe_trend_7d.day IS 'the last UTC day of the 7-day window';

-- the metric and dimension columns the views over qoe.qoe_metrics share: its
-- definitions (doc/rollups.md, doc/metrics.md), each view's period; a ratio
-- whose denominator is 0 is NULL
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT v.view, m.col, m.txt
               FROM unnest(ARRAY['device_breakdown', 'country_breakdown', 'cdn_pop_breakdown',
                                 'rebuffering_heatmap', 'qoe_trend_7d']) v(view),
                    (VALUES
        ('country', 'country of the sessions (NULL: unknown)'),
        ('device_type', 'device type of the sessions (NULL: unknown)'),
        ('cdn_pop', 'CDN POP of the sessions (NULL: unknown)'),
        ('attempts', 'sessions started in the period'),
        ('plays', 'sessions whose first frame is in the period'),
        ('ebvs_rate', 'exits before video start / attempts'),
        ('video_start_failure_rate', 'video start failures / attempts'),
        ('playback_failure_rate', 'playback failures / attempts'),
        ('vst_p50_ms', 'median video start time, ms (merged t-digest)'),
        ('vst_p95_ms', '95th percentile video start time, ms (merged t-digest)'),
        ('rebuffering_ratio', 'connection-induced stall time / watch time in the period'),
        ('avg_bitrate_kbps', 'watch-time-weighted average bitrate, kbps'),
        ('completion_rate', 'completions / plays'),
        ('qoe_score', 'watch-time-weighted mean session QoE score, 0-100'),
        ('good_share', 'good sessions (QoE score >= qoe.qoe_score_config.good_score, 70) / scored sessions'),
        ('watch_hours', 'watch time in the period, hours'),
        ('unique_viewers', 'distinct viewers active in the period (hll estimate, rounded)')) m(col, txt)
              WHERE EXISTS (SELECT FROM pg_catalog.pg_attribute a
                             WHERE a.attrelid = pg_catalog.format('qoe.%I', v.view)::regclass
                               AND a.attname = m.col)
    LOOP
        EXECUTE format('COMMENT ON COLUMN qoe.%I.%I IS %L', c.view, c.col, c.txt);
    END LOOP;
END
$$;
