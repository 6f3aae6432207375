-- qoe.qoe_metrics with rank_by and top_n (doc/rollups.md): the top_n groups
-- of each bucket, ranked on counters, are the unranked call's rows ordered by
-- rank_by DESC NULLS LAST and the dimensions and cut at top_n per bucket:
-- the same rows, the same figures (digest percentiles and hll counts too), in
-- that order. At several grains and groupings, over the coarser levels and
-- qoe_5min, with ties, NULL ranks and dimensions, top_n above the number of
-- groups; then the errors.
-- Hand-made rollups of titles 990001-990008 over 30 hours from 20 days ago
-- (within the rollups' retention, and behind the watermark the tests before
-- moved to the present, so that the levels are built for them), removed at
-- the end. The figures are small integers: many groups tie.
CREATE TABLE top_base AS
    SELECT date_bin('1 day', now() - interval '20 days', '2000-01-01 00:00+00') AS d0;
CREATE TABLE top_src AS
    SELECT w, c, co, dv, pop,
           -- title 990007 only goes on watching (no attempt in the range):
           -- its rates over attempts are NULL; 990008 never plays: its
           -- ratios over watch time and plays are NULL
           CASE WHEN c = 7 THEN 0 ELSE 1 + (w + 3 * c + k) % 3 END AS attempts,
           CASE WHEN c IN (7, 8) THEN 0 ELSE least(1 + (w + 3 * c + k) % 3, (w * c + k) % 3) END AS plays,
           k
      FROM generate_series(0, 359) w,
           generate_series(1, 8) c,
           (VALUES ('US'), ('DE'), (NULL)) co(co),
           (VALUES ('tv'), ('phone')) dv(dv),
           (VALUES ('p1'), (NULL)) pop(pop),
           LATERAL (SELECT (w * 7 + c * 5 + length(coalesce(co, '')) * 3
                            + length(dv) + length(coalesce(pop, ''))) % 11 AS k) h
     WHERE k < 3;  -- about a quarter of the groups in each window
INSERT INTO qoe.qoe_5min
SELECT b.d0 + s.w * interval '5 min', 990000 + s.c, s.co, s.dv, s.pop,
       s.attempts + 1, 3 * s.attempts + 2, s.attempts, s.plays,
       s.attempts - s.plays - (s.k % 2) * least(1, s.attempts - s.plays),  -- ebvs
       (s.k % 2) * least(1, s.attempts - s.plays),                       -- start failures
       CASE WHEN s.plays > 0 AND s.w % 5 = 0 THEN 1 ELSE 0 END,        -- playback failures
       (SELECT qoe.tdigest_agg((300 + 97 * ((s.w * 31 + s.c * 17 + j * 7) % 50))::float8)
          FROM generate_series(1, s.plays) j),
       s.plays, s.plays, 0, 0, 0, 0,
       CASE WHEN s.c = 8 THEN 0 ELSE 60000 * (1 + (s.w + s.k) % 4) END,  -- watch
       CASE WHEN s.c = 8 THEN 0 ELSE 1000 * ((s.w + s.c) % 3) END,        -- stall
       (s.w + s.c) % 3, 0, 0, 0,
       CASE WHEN s.c = 8 THEN 0 ELSE 3000 * 60000 * (1 + (s.w + s.k) % 4) END,
       0, 0, 0,
       CASE WHEN s.plays > 0 THEN (s.w + s.k) % 2 ELSE 0 END,             -- completions
       CASE WHEN s.c = 8 THEN 0 ELSE 80 * 60000 * (1 + (s.w + s.k) % 4) END,
       s.plays, s.plays - s.plays * ((s.w + s.c) % 2), 0, 0,
       (SELECT hll_add_agg(hll_hash_bigint(100 * s.c + (s.w + u) % 40))
          FROM generate_series(0, s.k + s.attempts) u)
  FROM top_src s, top_base b;
-- the coarser levels built over these windows (closed long ago: late data)
INSERT INTO qoe.rollup_levels_pending
SELECT window_start, content_id, country, device_type, cdn_pop
  FROM qoe.qoe_5min WHERE content_id BETWEEN 990001 AND 990008;
SELECT qoe.refresh_rollup_levels() > 0 AS levels_built;
SELECT level, count(*) > 0 AS has_rows FROM qoe.qoe_rollups
 WHERE content_id BETWEEN 990001 AND 990008 GROUP BY 1 ORDER BY 1;

-- One ranked call against the unranked one ordered and cut: the rows of
-- each (with their position in the output) and how many differ either way.
CREATE FUNCTION top_check(f timestamptz, t timestamptz, g interval, gb text[], rb text, n integer)
RETURNS TABLE (top_rows bigint, expected_rows bigint, differing bigint) LANGUAGE plpgsql AS $$
DECLARE
    cols constant text := 'bucket, content_id, country, device_type, cdn_pop, attempts, plays, ebvs_rate, '
        'video_start_failure_rate, playback_failure_rate, vst_p50_ms, vst_p95_ms, vst_p99_ms, '
        'rebuffering_ratio, stalls_per_hour, avg_bitrate_kbps, completion_rate, qoe_score, '
        'good_share, watch_hours, unique_viewers';
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH top AS (SELECT m.i, %1$s
                       FROM qoe.qoe_metrics($1, $2, $3, $4, $5, $6) WITH ORDINALITY AS m(%1$s, i)),
        ranked AS (SELECT m.*, row_number() OVER (PARTITION BY m.bucket
                                   ORDER BY m.%2$I DESC NULLS LAST, m.content_id, m.country,
                                            m.device_type, m.cdn_pop) AS rn
                     FROM qoe.qoe_metrics($1, $2, $3, $4) m),
        expected AS (SELECT row_number() OVER (ORDER BY bucket, rn) AS i, %1$s
                       FROM ranked WHERE rn <= $6)
        SELECT (SELECT count(*) FROM top), (SELECT count(*) FROM expected),
               (SELECT count(*) FROM ((TABLE top EXCEPT ALL TABLE expected)
                                      UNION ALL (TABLE expected EXCEPT ALL TABLE top)) x)$q$, cols, rb)
        USING f, t, g, gb, rb, n;
END
$$;
CREATE TABLE top_cases (n serial, f interval, t interval, g interval, gb text[], rb text, top_n integer);
-- ragged ends (5-minute and hourly windows) around whole levels' windows
INSERT INTO top_cases (f, t, g, gb, rb, top_n) VALUES
    ('1 hour 2 min', '28 hours 7 min', NULL, '{content_id}', 'plays', 3),
    ('1 hour 2 min', '28 hours 7 min', '1 hour', '{content_id,country}', 'attempts', 2),
    ('0', '30 hours', '5 min', '{country}', 'rebuffering_ratio', 1),
    ('3 hours', '27 hours', NULL, '{}', 'qoe_score', 1),
    ('0', '30 hours', '1 day', '{device_type,cdn_pop}', 'watch_hours', 100),
    ('35 min', '29 hours', '3 hours', '{content_id,country,device_type,cdn_pop}', 'ebvs_rate', 5),
    ('10 min', '20 hours 5 min', '30 min', '{cdn_pop,content_id}', 'completion_rate', 4),
    ('0', '30 hours', '6 hours', '{content_id}', 'good_share', 7),
    ('2 hours', '26 hours', '1 day', '{content_id}', 'playback_failure_rate', 8),
    ('0', '30 hours', NULL, '{content_id}', 'plays', 9),  -- more than the 8 titles
    ('0', '30 hours', NULL, '{country,device_type}', 'stalls_per_hour', 2);
-- every metric that may rank, per title over the range
INSERT INTO top_cases (f, t, g, gb, rb, top_n)
SELECT '50 min', '29 hours 35 min', NULL, '{content_id}', m, 3
  FROM unnest('{attempts,plays,ebvs_rate,video_start_failure_rate,playback_failure_rate,'
              'rebuffering_ratio,stalls_per_hour,avg_bitrate_kbps,completion_rate,qoe_score,'
              'good_share,watch_hours}'::text[]) m;
SELECT c.n, c.g, c.gb, c.rb, c.top_n, r.*
  FROM top_cases c, top_base b,
       LATERAL top_check(b.d0 + c.f, b.d0 + c.t, c.g, c.gb, c.rb, c.top_n) r
 ORDER BY c.n;
-- ties: the groups of case 2 whose rank equals that of another in their
-- bucket, and NULL ranks, are there to be ordered by the dimensions
SELECT count(*) FILTER (WHERE tied) > 0 AS ties, count(*) FILTER (WHERE rank IS NULL) > 0 AS null_ranks
  FROM (SELECT m.attempts AS rank,
               count(*) OVER (PARTITION BY m.bucket, m.attempts) > 1 AS tied
          FROM top_base b, qoe.qoe_metrics(b.d0 + interval '1 hour 2 min', b.d0 + interval '28 hours 7 min',
                                           '1 hour', '{content_id,country}') m
        UNION ALL
        SELECT m.ebvs_rate, false
          FROM top_base b, qoe.qoe_metrics(b.d0 + interval '35 min', b.d0 + interval '29 hours',
                                           '3 hours', '{content_id,country,device_type,cdn_pop}') m) x;
-- what an analyst sees: the three titles most played, by name
SELECT content_id, attempts, plays, round(vst_p95_ms) AS vst_p95_ms,
       round(rebuffering_ratio::numeric, 4) AS rebuffering_ratio, unique_viewers
  FROM top_base b,
       qoe.qoe_metrics(b.d0, b.d0 + interval '1 day', group_by => '{content_id}',
                       rank_by => 'plays', top_n => 3);

-- errors: a sketch metric, an unknown one, one parameter without the other,
-- top_n below 1
SELECT * FROM qoe.qoe_metrics(now() - interval '1 day', now(), NULL, '{content_id}', 'vst_p95_ms', 10);
SELECT * FROM qoe.qoe_metrics(now() - interval '1 day', now(), NULL, '{content_id}', 'unique_viewers', 10);
SELECT * FROM qoe.qoe_metrics(now() - interval '1 day', now(), NULL, '{content_id}', 'Plays', 10);
SELECT * FROM qoe.qoe_metrics(now() - interval '1 day', now(), NULL, '{content_id}', 'plays');
SELECT * FROM qoe.qoe_metrics(now() - interval '1 day', now(), NULL, '{content_id}', NULL, 10);
SELECT * FROM qoe.qoe_metrics(now() - interval '1 day', now(), NULL, '{content_id}', 'plays', 0);
SELECT * FROM qoe.qoe_metrics(now() - interval '1 day', now(), NULL, '{content_id}', 'plays', -5);

DELETE FROM qoe.qoe_rollups WHERE content_id BETWEEN 990001 AND 990008;
DELETE FROM qoe.qoe_5min WHERE content_id BETWEEN 990001 AND 990008;
DROP FUNCTION top_check(timestamptz, timestamptz, interval, text[], text, integer);
DROP TABLE top_cases, top_src, top_base;
