-- (1) the 24-hour per-title QoE dashboard from the rollups: qoe.qoe_5min
-- and its coarser levels merged by qoe.qoe_metrics (windows starting in the
-- last 24 hours, figures by event time: doc/rollups.md), the top 50 titles
-- by plays: ranked on the counters first, the digests and hlls merged for
-- those 50 alone. The same rows as (1a) ordered and cut at 50.
SELECT content_id, attempts, plays, vst_p50_ms, vst_p95_ms, vst_p99_ms,
       rebuffering_ratio, qoe_score, completion_rate, unique_viewers
  FROM qoe.qoe_metrics(now() - interval '24 hours', now(), NULL, '{content_id}',
                       rank_by => 'plays', top_n => 50)
 ORDER BY plays DESC, content_id
