-- (1a) the full per-title answer from the rollups, every title, no ranking:
-- each title's digests and hlls merged (what (1) cost before rank_by and
-- top_n, when it cut this at 50 with LIMIT)
SELECT content_id, attempts, plays, vst_p50_ms, vst_p95_ms, vst_p99_ms,
       rebuffering_ratio, qoe_score, completion_rate, unique_viewers
  FROM qoe.qoe_metrics(now() - interval '24 hours', now(), NULL, '{content_id}')
 ORDER BY plays DESC, content_id
