-- What an hourly level would give (not part of qoe_ext): qoe.qoe_5min merged
-- per hour, once per group of its four dimensions (bench_1h) and once per
-- title alone (bench_title_1h), with the columns qoe.qoe_metrics reads.
SET enable_hashagg = off;  -- one hll state (128 kB unpacked) at a time
CREATE TABLE bench_1h AS
SELECT date_bin('1 hour', window_start, '2000-01-01 00:00+00') AS window_start,
       content_id, country, device_type, cdn_pop,
       sum(attempts) AS attempts, sum(plays) AS plays, sum(ebvs) AS ebvs,
       sum(start_failures) AS start_failures, sum(playback_failures) AS playback_failures,
       qoe.tdigest_merge(vst_digest) AS vst_digest, sum(watch_ms) AS watch_ms,
       sum(stall_ms) AS stall_ms, sum(stall_count) AS stall_count,
       sum(bitrate_x_watch) AS bitrate_x_watch, sum(completions) AS completions,
       sum(score_x_watch) AS score_x_watch, sum(scored_sessions) AS scored_sessions,
       sum(good_sessions) AS good_sessions, hll_union_agg(unique_viewers) AS unique_viewers
  FROM qoe.qoe_5min
 GROUP BY 1, 2, 3, 4, 5;
CREATE TABLE bench_title_1h AS
SELECT window_start, content_id, NULL::text AS country, NULL::text AS device_type, NULL::text AS cdn_pop,
       sum(attempts) AS attempts, sum(plays) AS plays, sum(ebvs) AS ebvs,
       sum(start_failures) AS start_failures, sum(playback_failures) AS playback_failures,
       qoe.tdigest_merge(vst_digest) AS vst_digest, sum(watch_ms) AS watch_ms,
       sum(stall_ms) AS stall_ms, sum(stall_count) AS stall_count,
       sum(bitrate_x_watch) AS bitrate_x_watch, sum(completions) AS completions,
       sum(score_x_watch) AS score_x_watch, sum(scored_sessions) AS scored_sessions,
       sum(good_sessions) AS good_sessions, hll_union_agg(unique_viewers) AS unique_viewers
  FROM bench_1h
 GROUP BY 1, 2;
RESET enable_hashagg;
CREATE INDEX ON bench_1h (window_start);
CREATE INDEX ON bench_title_1h (window_start);
VACUUM ANALYZE bench_1h, bench_title_1h;
