-- (1) as qoe.qoe_metrics would compute it with an hourly level (HOURLY is
-- bench_1h or bench_title_1h, see build_hourly.sql): the whole hours of the
-- range from the hourly rows, its ragged ends from the 5-minute windows
WITH r AS (
    SELECT f, t, CASE WHEN date_bin('1 hour', f, o) = f THEN f ELSE date_bin('1 hour', f, o) + interval '1 hour' END AS lo,
           date_bin('1 hour', t, o) AS hi
      FROM (SELECT now() - interval '24 hours' AS f, now() AS t, '2000-01-01 00:00+00'::timestamptz AS o) x),
q AS (
    SELECT h.content_id, h.attempts, h.plays, h.vst_digest, h.watch_ms, h.stall_ms, h.completions,
           h.score_x_watch, h.unique_viewers
      FROM HOURLY h, r WHERE h.window_start >= r.lo AND h.window_start < r.hi
    UNION ALL
    SELECT m.content_id, m.attempts, m.plays, m.vst_digest, m.watch_ms, m.stall_ms, m.completions,
           m.score_x_watch, m.unique_viewers
      FROM qoe.qoe_5min m, r
     WHERE (m.window_start >= r.f AND m.window_start < r.lo) OR (m.window_start >= r.hi AND m.window_start < r.t))
SELECT content_id, sum(attempts)::bigint AS attempts, sum(plays)::bigint AS plays,
       qoe.tdigest_percentile(qoe.tdigest_merge(vst_digest), 0.50) AS vst_p50_ms,
       qoe.tdigest_percentile(qoe.tdigest_merge(vst_digest), 0.95) AS vst_p95_ms,
       qoe.tdigest_percentile(qoe.tdigest_merge(vst_digest), 0.99) AS vst_p99_ms,
       (sum(stall_ms) / nullif(sum(watch_ms), 0))::float8 AS rebuffering_ratio,
       (sum(score_x_watch) / nullif(sum(watch_ms), 0))::float8 AS qoe_score,
       (sum(completions) / nullif(sum(plays), 0))::float8 AS completion_rate,
       round(hll_cardinality(hll_union_agg(unique_viewers)))::bigint AS unique_viewers
  FROM q
 GROUP BY content_id
 ORDER BY plays DESC, content_id
 LIMIT 50
