-- (3) the same figures over qoe.sessions: sessions started in the last 24
-- hours, exact percentiles (percentile_cont), exact unique viewers
SELECT content_id,
       count(*) AS attempts,
       count(first_frame_at) AS plays,
       percentile_cont(0.50) WITHIN GROUP (ORDER BY vst_ms) AS vst_p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY vst_ms) AS vst_p95_ms,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY vst_ms) AS vst_p99_ms,
       sum(stall_ms)::float8 / nullif(sum(watch_ms), 0) AS rebuffering_ratio,
       qoe.qoe_score_agg(qoe.session_qoe_score(s), watch_ms) AS qoe_score,
       count(*) FILTER (WHERE completed)::float8 / nullif(count(first_frame_at), 0) AS completion_rate,
       count(DISTINCT user_id) AS unique_viewers
  FROM qoe.sessions s
 WHERE started_at >= now() - interval '24 hours' AND started_at < now()
 GROUP BY content_id
 ORDER BY plays DESC, content_id
 LIMIT 50
