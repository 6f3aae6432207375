-- (2) the same figures over the raw events, as an analyst without qoe_ext's
-- sessions would compute them: per session aggregates from its events in
-- the last 24 hours (sessions whose start event is in the range, as in (3)),
-- then per title. Definitions follow doc/metrics.md as far as plain
-- aggregates allow (no ordered fold): VST = first frame - start; watch =
-- end of playback - first frame - stalls - pauses, where the pauses are
-- sum(resume times) - sum(pause times), a pause still open lasting to the
-- end; every buffering counts as a stall (qoe_gen sends none before the
-- first frame; no seek-induced inference); the bitrate is the mean over
-- heartbeats (sent every 30 s of playing time, so close to time-weighted);
-- dropped frames the largest cumulative counter; completed at 70 % of the
-- title.
WITH e AS (
    SELECT session_id,
           min(content_id) AS content_id,
           min(user_id) AS user_id,
           min(event_time) FILTER (WHERE event_type = 'start') AS started_at,
           min(event_time) FILTER (WHERE event_type = 'first_frame') AS first_frame_at,
           min(event_time) FILTER (WHERE event_type = 'stop' OR (event_type = 'error' AND fatal)) AS ended_at,
           min(event_time) FILTER (WHERE event_type = 'error' AND fatal) AS fatal_at,
           max(event_time) AS last_event_at,
           sum(stall_ms) FILTER (WHERE event_type = 'buffering') AS buffering_ms,
           count(*) FILTER (WHERE event_type = 'pause') AS pauses,
           count(*) FILTER (WHERE event_type = 'resume') AS resumes,
           sum(extract(epoch FROM event_time)) FILTER (WHERE event_type = 'pause') AS pause_s,
           sum(extract(epoch FROM event_time)) FILTER (WHERE event_type = 'resume') AS resume_s,
           avg(bitrate_kbps) FILTER (WHERE event_type = 'heartbeat') AS avg_bitrate_kbps,
           max(dropped_frames) AS dropped_frames,
           max(position_sec) AS max_position_sec,
           max(content_duration_sec) AS content_duration_sec
      FROM qoe.viewing_events
     WHERE event_time >= now() - interval '24 hours' AND event_time < now()
     GROUP BY session_id),
s AS (
    SELECT content_id, user_id, first_frame_at,
           (extract(epoch FROM first_frame_at - started_at) * 1000)::float8 AS vst_ms,
           CASE WHEN first_frame_at IS NULL THEN 0 ELSE coalesce(buffering_ms, 0) END::float8 AS stall_ms,
           CASE WHEN first_frame_at IS NULL THEN 0
                ELSE greatest(0, extract(epoch FROM coalesce(ended_at, last_event_at) - first_frame_at) * 1000
                                 - coalesce(buffering_ms, 0)
                                 - 1000 * (coalesce(resume_s, 0) - coalesce(pause_s, 0)
                                           + (pauses - resumes) * extract(epoch FROM coalesce(ended_at, last_event_at))))
           END::float8 AS watch_ms,
           fatal_at > first_frame_at AS playback_failed,
           avg_bitrate_kbps, dropped_frames,
           max_position_sec >= 0.70 * content_duration_sec AS completed
      FROM e
     WHERE started_at IS NOT NULL),
scored AS (
    SELECT *,
           CASE WHEN playback_failed THEN 0
                ELSE qoe.qoe_score(vst_ms, stall_ms / nullif(watch_ms, 0), avg_bitrate_kbps,
                                   dropped_frames / nullif(watch_ms / 1000.0 * 30, 0))
           END AS score
      FROM s)
SELECT content_id,
       count(*) AS attempts,
       count(first_frame_at) AS plays,
       percentile_cont(0.50) WITHIN GROUP (ORDER BY vst_ms) AS vst_p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY vst_ms) AS vst_p95_ms,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY vst_ms) AS vst_p99_ms,
       sum(stall_ms) / nullif(sum(watch_ms), 0) AS rebuffering_ratio,
       sum(score * watch_ms) / nullif(sum(watch_ms), 0) AS qoe_score,
       count(*) FILTER (WHERE completed)::float8 / nullif(count(first_frame_at), 0) AS completion_rate,
       count(DISTINCT user_id) AS unique_viewers
  FROM scored
 GROUP BY content_id
 ORDER BY plays DESC, content_id
 LIMIT 50
