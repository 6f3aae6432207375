-- (1) the 24-hour per-title QoE dashboard from the rollups: qoe.qoe_5min
-- merged by qoe.qoe_metrics (windows starting in the last 24 hours, figures
-- by event time: doc/rollups.md)
SELECT content_id, attempts, plays, vst_p50_ms, vst_p95_ms, vst_p99_ms,
       rebuffering_ratio, qoe_score, completion_rate, unique_viewers
  FROM qoe.qoe_metrics(now() - interval '24 hours', now(), NULL, '{content_id}')
 ORDER BY plays DESC, content_id
 LIMIT 50
