-- qoe.qoe_5min_by_title (doc/rollups.md): the windows after the levels'
-- watermark per title, kept by each merge beside qoe.qoe_5min. A generated
-- audience (late and duplicated events, so that some merges re-aggregate a
-- group), merged every few batches; then every title's row is checked
-- against qoe.qoe_5min merged per title: every counter and the viewers'
-- sketch exactly, the start-time digest by its count and percentiles.
\set QUIET on
-- from empty rollups (the earlier tests' events close windows up to days
-- ahead), whose windows stay open: every window is in the table
TRUNCATE qoe.session_window_deltas, qoe.session_windows, qoe.qoe_5min, qoe.qoe_rollups;
UPDATE qoe.rollup_status SET allowed_lateness = '1 day';
CREATE TEMP TABLE gen (n serial, e jsonb);
\copy gen (e) FROM PROGRAM 'src/tools/qoe_gen --seed 23 --events 24000 --viewers 400 --titles 40 --out-of-order 0.05 --duplicates 0.02'
-- 48 batches of 500, merged after every sixth
DO $$
BEGIN
    FOR b IN 0..47 LOOP
        PERFORM qoe.ingest(jsonb_agg(e ORDER BY n)) FROM gen WHERE (n - 1) / 500 = b;
        IF b % 6 = 5 THEN
            PERFORM qoe.refresh_rollups();
        END IF;
    END LOOP;
END $$;
\set QUIET off

-- what each title's row should hold: its groups merged
CREATE FUNCTION expected_by_title() RETURNS SETOF qoe.qoe_5min_by_title LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT s.window_start, s.content_id, NULL::text, NULL::text, NULL::text, %s FROM qoe.qoe_5min s
          WHERE s.window_start >= (SELECT titles_from FROM qoe.rollup_status) GROUP BY 1, 2',
        (SELECT merged FROM qoe.rollup_state_sql()));
END $$;
CREATE VIEW by_title_check AS
    SELECT (SELECT count(*) FROM (SELECT to_jsonb(t) - 'vst_digest' FROM qoe.qoe_5min_by_title t
                                  EXCEPT ALL
                                  SELECT to_jsonb(e) - 'vst_digest' FROM expected_by_title() e) x) AS extra,
           (SELECT count(*) FROM (SELECT to_jsonb(e) - 'vst_digest' FROM expected_by_title() e
                                  EXCEPT ALL
                                  SELECT to_jsonb(t) - 'vst_digest' FROM qoe.qoe_5min_by_title t) x) AS missing,
           -- a t-digest's percentiles depend on the order it was merged in,
           -- but not under its compression (100), where it keeps every value
           (SELECT coalesce(bool_and(x.a = x.b), true)
              FROM qoe.qoe_5min_by_title t
              JOIN expected_by_title() e USING (window_start, content_id),
                   unnest(qoe.tdigest_percentiles(t.vst_digest, '{0.5,0.95,0.99}'),
                          qoe.tdigest_percentiles(e.vst_digest, '{0.5,0.95,0.99}')) AS x(a, b)) AS percentiles_equal,
           (SELECT count(*) FROM qoe.qoe_5min_by_title t
             WHERE t.window_start < (SELECT titles_from FROM qoe.rollup_status)) AS before_titles_from;

SELECT count(DISTINCT window_start) >= 5 AS windows, count(DISTINCT content_id) AS titles,
       sum(plays) AS plays
  FROM qoe.qoe_5min_by_title;
-- a late start 1.2 s before the latest played session's first: its start
-- time changes, which a digest cannot take back, so the merge re-aggregates
-- its group from its rows, and its title's row from its groups
BEGIN;
SELECT accepted FROM qoe.ingest((
    SELECT jsonb_build_array(e || jsonb_build_object('event_id', 'late-start',
                                                     'timestamp', (e->>'timestamp')::bigint - 1200))
      FROM gen s
     WHERE e->>'event_type' = 'start'
       AND EXISTS (SELECT FROM gen f WHERE f.e->>'session_id' = s.e->>'session_id'
                                       AND f.e->>'event_type' = 'first_frame')
     ORDER BY n DESC LIMIT 1));
SELECT qoe.refresh_rollups() > 0 AS merged;
SELECT relname, n_tup_del > 0 AS reaggregated FROM pg_stat_xact_user_tables
 WHERE relid IN ('qoe.qoe_5min'::regclass, 'qoe.qoe_5min_by_title'::regclass) ORDER BY 1;
COMMIT;
SELECT * FROM by_title_check;
-- the title's own row is what qoe_metrics reads, grouped by title or not at all
SELECT count(*) AS differing
  FROM (SELECT m.bucket, m.content_id, m.plays, m.watch_hours, m.unique_viewers
          FROM qoe.qoe_metrics(now() - interval '1 day', now() + interval '1 hour', '5 min', '{content_id}') m
        EXCEPT ALL
        SELECT window_start, content_id, qoe.bigint_sum(plays), qoe.bigint_sum(watch_ms) / 3600000.0::float8,
               round(hll_cardinality(hll_union_agg(unique_viewers)))::bigint
          FROM qoe.qoe_5min WHERE window_start >= now() - interval '1 day' GROUP BY window_start, content_id) x;

-- the windows the levels hold leave: titles_from follows levels_through
-- (a merge that took deltas closes the windows; the next one follows)
CREATE TEMP TABLE rows_before AS SELECT count(*) AS n FROM qoe.qoe_5min_by_title;
UPDATE qoe.rollup_status SET allowed_lateness = '5 min';
SELECT accepted FROM qoe.ingest(jsonb_build_array(jsonb_build_object(
    'event_type', 'start', 'session_id', 'by-title-now', 'event_id', 'now', 'user_id', 1, 'content_id', 1,
    'timestamp', (extract(epoch FROM now()) * 1000)::bigint)));
SELECT qoe.refresh_rollups() > 0 AS closed, qoe.refresh_rollups() = 0 AS followed;
SELECT titles_from = levels_through AS follows, titles_from > now() - interval '1 day' AS moved
  FROM qoe.rollup_status;
SELECT count(*) < (SELECT n FROM rows_before) AS fewer_rows FROM qoe.qoe_5min_by_title;
SELECT * FROM by_title_check;

-- TRUNCATE qoe.qoe_5min empties it, and it holds every window again
TRUNCATE qoe.qoe_5min;
SELECT titles_from, (SELECT count(*) FROM qoe.qoe_5min_by_title) AS title_rows FROM qoe.rollup_status;
DROP VIEW by_title_check;
DROP FUNCTION expected_by_title();
