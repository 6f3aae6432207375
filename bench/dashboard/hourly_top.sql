-- hourly.sql with the unique viewers merged only for the 50 titles shown:
-- the other columns rank the titles first, then one hll union per shown
-- title (an hll_union_agg state is 128 kB unpacked, per group)
WITH r AS (
    SELECT f, t, CASE WHEN date_bin('1 hour', f, o) = f THEN f ELSE date_bin('1 hour', f, o) + interval '1 hour' END AS lo,
           date_bin('1 hour', t, o) AS hi
      FROM (SELECT now() - interval '24 hours' AS f, now() AS t, '2000-01-01 00:00+00'::timestamptz AS o) x),
q AS MATERIALIZED (
    SELECT h.content_id, h.attempts, h.plays, h.vst_digest, h.watch_ms, h.stall_ms, h.completions,
           h.score_x_watch, h.unique_viewers
      FROM HOURLY h, r WHERE h.window_start >= r.lo AND h.window_start < r.hi
    UNION ALL
    SELECT m.content_id, m.attempts, m.plays, m.vst_digest, m.watch_ms, m.stall_ms, m.completions,
           m.score_x_watch, m.unique_viewers
      FROM qoe.qoe_5min m, r
     WHERE (m.window_start >= r.f AND m.window_start < r.lo) OR (m.window_start >= r.hi AND m.window_start < r.t)),
top AS (
    SELECT content_id, sum(attempts)::bigint AS attempts, sum(plays)::bigint AS plays,
           qoe.tdigest_percentile(qoe.tdigest_merge(vst_digest), 0.50) AS vst_p50_ms,
           qoe.tdigest_percentile(qoe.tdigest_merge(vst_digest), 0.95) AS vst_p95_ms,
           qoe.tdigest_percentile(qoe.tdigest_merge(vst_digest), 0.99) AS vst_p99_ms,
           (sum(stall_ms) / nullif(sum(watch_ms), 0))::float8 AS rebuffering_ratio,
           (sum(score_x_watch) / nullif(sum(watch_ms), 0))::float8 AS qoe_score,
           (sum(completions) / nullif(sum(plays), 0))::float8 AS completion_rate
      FROM q
     GROUP BY content_id
     ORDER BY plays DESC, content_id
     LIMIT 50)
SELECT top.*, v.unique_viewers
  FROM top
  JOIN (SELECT content_id, round(hll_cardinality(hll_union_agg(unique_viewers)))::bigint AS unique_viewers
          FROM q WHERE content_id IN (SELECT content_id FROM top)
         GROUP BY content_id) v USING (content_id)
 ORDER BY plays DESC, content_id
