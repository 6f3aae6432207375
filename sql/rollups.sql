-- The 5-minute rollups (doc/rollups.md) on hand-worked sessions: what each
-- window holds, late and out-of-order events, abandonment, a rolled-back
-- ingest, the coarser levels and their event-time watermark, qoe.qoe_metrics
-- at several grains, its errors, and who may call it.
-- Times are milliseconds after a base at 01:00 UTC two days ago, so that
-- the events of later tests close its day.
CREATE TABLE rb AS
    SELECT (extract(epoch FROM date_bin('1 day', now() - interval '2 days', '2000-01-01 00:00+00'))
            * 1000)::bigint + 3600000 AS ms;
CREATE FUNCTION rev(sid text, type text, t bigint, fields jsonb DEFAULT '{}', uid bigint DEFAULT 7)
    RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('event_type', type, 'session_id', sid, 'event_id', type || t,
                              'user_id', uid, 'content_id', 4242, 'timestamp', t + (SELECT ms FROM rb),
                              'device_type', 'smart_tv', 'country', 'US', 'cdn_pop', 'us-east-1a')
           || fields $$;
CREATE VIEW rw AS
    SELECT session_id,
           ((extract(epoch FROM window_start) * 1000)::bigint - (SELECT ms FROM rb)) / 60000 AS minute,
           events, attempts, plays, ebvs, start_failures AS sf, playback_failures AS pf,
           vst_count, vst_ms, watch_ms, stall_ms, stall_count, seek_stall_ms, paused_ms,
           bitrate_x_watch / 3000 AS bitrate_3000_ms, dropped_frames, completions,
           fatal_errors, nonfatal_errors
      FROM qoe.session_windows WHERE content_id = 4242 ORDER BY 1, 2;
-- every column of qoe.session_windows against the session's own row
CREATE VIEW rcheck AS
    SELECT s.session_id,
           s.event_count = sum(w.events) AS events,
           (s.first_frame_at IS NOT NULL)::int = sum(w.plays) AS plays,
           s.ebvs::int = sum(w.ebvs) AS ebvs,
           s.watch_ms = sum(w.watch_ms) AND s.stall_ms = sum(w.stall_ms)
               AND s.paused_ms = sum(w.paused_ms) AND s.seek_stall_ms = sum(w.seek_stall_ms) AS times,
           s.stall_count = sum(w.stall_count) AND s.dropped_frames = sum(w.dropped_frames) AS counters,
           coalesce(s.vst_ms, 0) = sum(w.vst_ms) AS vst,
           coalesce(s.avg_bitrate_kbps, 0)::bigint * s.watch_ms = sum(w.bitrate_x_watch) AS bitrate,
           round(qoe.session_qoe_score(s) * s.watch_ms) = sum(w.score_x_watch) AS score
      FROM qoe.sessions s JOIN qoe.session_windows w USING (session_id)
     WHERE s.content_id = 4242
     GROUP BY s.session_id ORDER BY 1;

-- the levels' watermark from this test's events alone: the deltas of the
-- tests before merged, the levels emptied (which takes it back to the start)
SELECT qoe.refresh_rollups() >= 0 AS drained;
TRUNCATE qoe.qoe_rollups;
SELECT levels_through, allowed_lateness FROM qoe.rollup_status;
-- the levels include 5min_title (titles per 5 minutes), a level at the grain
-- of qoe_5min itself, which qoe_metrics reads up to the watermark, and
-- qoe_5min after it
CREATE FUNCTION through() RETURNS interval LANGUAGE sql AS
    $$ SELECT levels_through - to_timestamp((SELECT ms FROM rb) / 1000.0) FROM qoe.rollup_status $$;

-- r1 crosses four windows. VST 2000 in window 0; a 20 s stall from 290 s:
-- 10 s in window 0, 10 s in window 5; paused 400 s -> 700 s: 200 s in window
-- 5, 100 s in window 10; stop at 960 s. Watch: 48 + 90 + 200 + 60 = 398 s.
-- r2: a start failure, its fatal error in window 10. r3: a start only.
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    rev('r1', 'start', 240000, '{"bitrate_kbps":3000}'),
    rev('r1', 'first_frame', 242000),
    rev('r1', 'buffering', 290000, '{"buffering_ms":20000}'),
    rev('r1', 'pause', 400000),
    rev('r1', 'resume', 700000),
    rev('r1', 'stop', 960000, '{"position_sec":80,"content_duration_sec":100}'),
    rev('r2', 'start', 100000),
    rev('r2', 'error', 700000, '{"fatal":true,"error_code":"E1"}'),
    rev('r3', 'start', 200000, '{}', 8)));
-- ingest appends changes; the refresh merges them and rebuilds qoe_5min
SELECT count(*) > 0 AS deltas, (SELECT count(*) FROM qoe.qoe_5min WHERE content_id = 4242) AS rows_5min
  FROM qoe.session_window_deltas WHERE content_id = 4242;
-- levels_match: begin (test/integration/rollup_generated.sh uses it too)
-- Each coarser level of qoe.rollup_levels against qoe.qoe_5min merged
-- directly at its grain and dimensions over the level's windows that ended
-- by the watermark (qoe.rollup_status.levels_through; later ones must not
-- be there): its rows, and the rows that differ either way in any column
-- (sums exactly, the hll byte for byte, the digest's count).
CREATE FUNCTION levels_match() RETURNS TABLE (level text, grain interval, level_rows bigint, differing bigint)
LANGUAGE plpgsql AS $f$
DECLARE
    l record;
    direct text;
    stored text;
BEGIN
    FOR l IN SELECT * FROM qoe.rollup_levels v WHERE v.source IS NOT NULL ORDER BY v.grain, v.level LOOP
        SELECT string_agg(CASE WHEN a.attname = 'window_start'
                                   THEN format('date_bin(%L, window_start, ''2000-01-01 00:00+00'')', l.grain)
                               WHEN a.attnum <= 5 AND NOT a.attname = ANY (l.dims)
                                   THEN format('NULL::%s', format_type(a.atttypid, NULL))
                               WHEN a.attnum <= 5 THEN quote_ident(a.attname)
                               WHEN a.atttypid = 'bigint'::regtype THEN format('sum(%I)::bigint', a.attname)
                               WHEN a.atttypid = 'qoe.tdigest'::regtype
                                   THEN format('qoe.tdigest_count(qoe.tdigest_merge(%I))', a.attname)
                               ELSE format('hll_union_agg(%I)::text', a.attname) END, ', ' ORDER BY a.attnum),
               string_agg(CASE WHEN a.atttypid = 'qoe.tdigest'::regtype THEN format('qoe.tdigest_count(%I)', a.attname)
                               WHEN a.atttypid = 'hll'::regtype THEN format('%I::text', a.attname)
                               ELSE quote_ident(a.attname) END, ', ' ORDER BY a.attnum)
          INTO direct, stored
          FROM pg_attribute a
         WHERE a.attrelid = 'qoe.qoe_5min'::regclass AND a.attnum > 0 AND NOT a.attisdropped;
        RETURN QUERY EXECUTE format(
            'WITH d AS (SELECT %s FROM qoe.qoe_5min
                         WHERE window_start < date_bin(%L, (SELECT levels_through FROM qoe.rollup_status),
                                                       ''2000-01-01 00:00+00'')
                         GROUP BY 1, 2, 3, 4, 5),
                  s AS (SELECT %s FROM qoe.qoe_rollups WHERE level = %L)
             SELECT %L::text, %L::interval, (SELECT count(*) FROM s),
                    (SELECT count(*) FROM ((TABLE d EXCEPT ALL TABLE s) UNION ALL (TABLE s EXCEPT ALL TABLE d)) x)',
            direct, l.grain, stored, l.level, l.level, l.grain);
    END LOOP;
END $f$;
-- levels_match: end
CREATE FUNCTION refreshed() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    windows bigint := qoe.refresh_rollups();
BEGIN
    RETURN windows > 0 AND NOT EXISTS (SELECT FROM qoe.session_window_deltas);
END $$;
SELECT refreshed();
SELECT * FROM rw;
SELECT * FROM rcheck;
SELECT ((extract(epoch FROM window_start) * 1000)::bigint - (SELECT ms FROM rb)) / 60000 AS minute,
       sessions, attempts, plays, start_failures, vst_count, vst_1_2s, watch_ms, stall_ms,
       paused_ms, completions, fatal_errors,
       qoe.tdigest_count(vst_digest) AS digest_count, hll_cardinality(unique_viewers) AS viewers
  FROM qoe.qoe_5min WHERE content_id = 4242 ORDER BY 1;
SELECT last_run IS NOT NULL AS ran, last_windows > 0 AS windows FROM qoe.rollup_status;
-- the watermark: the latest window refreshed (minute 15) less the lateness
-- allowed (5 min); of the level windows of these sessions only the 5-minute
-- ones of minutes 0 and 5 have ended by minute 10: the levels hold those
-- (and the other tests' older windows)
CREATE VIEW held AS
    SELECT level, count(*) AS rows FROM qoe.qoe_rollups WHERE content_id = 4242 GROUP BY 1 ORDER BY 1;
SELECT through();
SELECT * FROM held;
SELECT level, differing FROM levels_match();
-- event time moves on: a session of another title two hours later closes
-- the 5-, 15- and 30-minute and hourly windows of these sessions, which the
-- levels then hold; their 3-hour, 6-hour and daily windows stay open
SELECT accepted FROM qoe.ingest(rev('clock1', 'start', 7200000, '{"content_id":4299}', 9));
SELECT refreshed();
SELECT through(), last_level_rows > 0 AS level_rows FROM qoe.rollup_status;
SELECT * FROM held;
SELECT level, differing FROM levels_match();

-- qoe_metrics reads whole windows of the coarsest level that keeps the
-- dimensions grouped by (and whose grain divides the buckets'), and the
-- ragged ends from finer ones: the same figures as from qoe_5min alone (the
-- other levels removed in a subtransaction rolled back), and a change to a
-- level's rows (rolled back likewise) shows in the figures it answers
CREATE FUNCTION metrics_match(f timestamptz, t timestamptz, g interval, gb text[],
                              level_read text, OUT same boolean, OUT reads_level boolean)
LANGUAGE plpgsql AS $f$
DECLARE
    via_levels jsonb;
    via_5min jsonb;
    bumped bigint;
BEGIN
    SELECT jsonb_agg(m) INTO via_levels FROM qoe.qoe_metrics(f, t, g, gb) m;
    BEGIN
        DELETE FROM qoe.rollup_levels WHERE source IS NOT NULL;
        SELECT jsonb_agg(m) INTO via_5min FROM qoe.qoe_metrics(f, t, g, gb) m;
        RAISE SQLSTATE 'QOE99';
    EXCEPTION WHEN SQLSTATE 'QOE99' THEN
    END;
    BEGIN
        UPDATE qoe.qoe_rollups r SET attempts = r.attempts + 1000 WHERE r.level = level_read;
        SELECT sum(m.attempts) INTO bumped FROM qoe.qoe_metrics(f, t, g, gb) m;
        RAISE SQLSTATE 'QOE99';
    EXCEPTION WHEN SQLSTATE 'QOE99' THEN
    END;
    same := via_levels = via_5min AND via_levels IS NOT NULL;
    reads_level := CASE WHEN level_read IS NOT NULL THEN bumped >= 1000 + (SELECT sum((e ->> 'attempts')::bigint) FROM jsonb_array_elements(via_levels) e) END;
END $f$;
-- (the 3-hour, 6-hour and daily windows of the sessions have not ended by
-- the watermark: read from finer levels; two ranges straddle the watermark,
-- whose windows after it qoe_5min answers even where 5min_title has the
-- grain)
CREATE VIEW metrics_matches AS
SELECT r.level_read, r.g, r.gb, (metrics_match(r.f, r.t, r.g, r.gb, r.level_read)).*
  FROM (SELECT to_timestamp(ms / 1000.0) AS b FROM rb) b,
       LATERAL (SELECT date_bin(x.grain, b.b, '2000-01-01 00:00+00') AS w, x.grain
                  FROM (VALUES (interval '5 min'), ('15 min'), ('30 min'), ('1 hour'), ('3 hours'),
                               ('6 hours'), ('1 day')) x(grain)) w,
       LATERAL (VALUES
           -- one window of each level, holding the sessions: read from that level
           (w.w, w.w + w.grain, NULL::interval, '{}'::text[], CASE w.grain WHEN '5 min' THEN '5min_title'
                                                         WHEN '15 min' THEN '15min_title'
                                                         WHEN '30 min' THEN '30min_title'
                                                         WHEN '1 hour' THEN '1h_title'
                                                         WHEN '3 hours' THEN '3h_title'
                                                         WHEN '6 hours' THEN '6h_title' ELSE '1d_title' END),
           (w.w, w.w + w.grain, w.grain, '{country,cdn_pop}', CASE w.grain WHEN '1 hour' THEN '1h'
                                                                     WHEN '1 day' THEN '1d' END),
           -- ragged ranges and buckets (once)
           (b.b + interval '5 min', b.b + interval '10 min', NULL, '{}', NULL),
           (b.b - interval '1 day', b.b + interval '1 day', '1 hour', '{country,cdn_pop}', NULL),
           (b.b - interval '7 hours 3 min', now(), '30 min', '{content_id}', NULL),
           (b.b - interval '1 day', now() + interval '1 day', '6 hours', '{}', NULL),
           (b.b - interval '2 days', now() + interval '2 days', NULL, '{}', NULL),
           (b.b + through() - interval '50 min', b.b + through() + interval '1 hour 10 min', '15 min',
            '{content_id}', NULL),
           (b.b + through() - interval '3 hours', b.b + through() + interval '2 hours', NULL, '{country}', NULL))
           AS r(f, t, g, gb, level_read)
 WHERE r.f <> w.w AND w.grain = '1 day' OR r.f = w.w AND r.level_read IS NOT NULL
 ORDER BY r.g NULLS FIRST, r.level_read, r.gb;
SELECT * FROM metrics_matches;

-- a late heartbeat (r1 rebuilt from its events) changes only window 5: its
-- changes (NULL: a figure it leaves alone), then the windows; the levels'
-- windows over it, closed, are rebuilt in the same refresh, and the
-- watermark stays
SELECT accepted FROM qoe.ingest(rev('r1', 'heartbeat', 500000, '{"dropped_frames":5}'));
SELECT ((extract(epoch FROM window_start) * 1000)::bigint - (SELECT ms FROM rb)) / 60000 AS minute,
       sum(events) AS events, sum(watch_ms) AS watch_ms, sum(dropped_frames) AS dropped_frames
  FROM qoe.session_window_deltas WHERE session_id = 'r1' GROUP BY 1 ORDER BY 1;
SELECT refreshed();
SELECT * FROM rw WHERE session_id = 'r1';
SELECT level, differing FROM levels_match();
SELECT through(), last_level_rows > 0 AS level_rows FROM qoe.rollup_status;
SELECT r.level, ((extract(epoch FROM r.window_start) * 1000)::bigint - (SELECT ms FROM rb)) / 60000 AS minute,
       r.dropped_frames
  FROM qoe.qoe_rollups r JOIN qoe.rollup_levels v USING (level)
 WHERE r.content_id = 4242 AND v.dims = '{content_id}' ORDER BY v.grain, r.window_start;
-- r3 is abandoned: an EBVS in the window of its last event... (how many
-- others the earlier tests left idle varies with their timing)
SELECT qoe.expire_sessions('1 min') > 0 AS expired;
SELECT state FROM qoe.sessions WHERE session_id = 'r3';
SELECT refreshed();
SELECT * FROM rw WHERE session_id = 'r3';
-- ...until its first frame arrives: no longer EBVS, a play with VST 3000
SELECT accepted FROM qoe.ingest(rev('r3', 'first_frame', 203000, '{}', 8));
SELECT refreshed();
SELECT * FROM rw WHERE session_id = 'r3';
SELECT * FROM rcheck;
SELECT level, differing FROM levels_match();
-- a repeated event changes nothing
SELECT accepted, duplicates FROM qoe.ingest(rev('r1', 'pause', 400000));
SELECT count(*) AS deltas FROM qoe.session_window_deltas;

-- a rolled-back ingest leaves no trace
BEGIN;
SELECT accepted FROM qoe.ingest(jsonb_build_array(rev('r4', 'start', 300000),
                                                  rev('r1', 'heartbeat', 650000)));
SELECT count(*) > 0 AS deltas_in_transaction FROM qoe.session_window_deltas;
ROLLBACK;
SELECT count(*) AS deltas FROM qoe.session_window_deltas;

-- metrics at any grain, merged from the windows
SELECT ((extract(epoch FROM bucket) * 1000)::bigint - (SELECT ms FROM rb)) / 60000 AS minute,
       attempts, plays, round(ebvs_rate::numeric, 3) AS ebvs_rate,
       round(video_start_failure_rate::numeric, 3) AS vsf_rate, vst_p50_ms,
       round(rebuffering_ratio::numeric, 5) AS rebuffering, round(avg_bitrate_kbps) AS kbps,
       round(completion_rate::numeric, 2) AS completion, round(watch_hours::numeric, 4) AS watch_h,
       unique_viewers
  FROM qoe.qoe_metrics(to_timestamp((SELECT ms FROM rb) / 1000.0),
                       to_timestamp((SELECT ms FROM rb) / 1000.0) + interval '1 hour', '5 min',
                       '{content_id}')
 WHERE content_id = 4242;
-- one bucket over the hour equals the direct figures of the sessions
SELECT m.attempts = s.attempts AND m.plays = s.plays AS counts,
       m.rebuffering_ratio = s.rebuffering AS rebuffering,
       m.avg_bitrate_kbps = s.kbps AS bitrate,
       abs(m.qoe_score - s.score) < 0.001 AS score,  -- rounded to score x ms per session
       m.good_share = s.good_share AS good_share,
       m.vst_p50_ms = s.vst_p50 AS vst_p50,
       m.unique_viewers = 2 AS viewers,
       m.country IS NULL AND m.cdn_pop IS NULL AS not_grouped
  FROM qoe.qoe_metrics(to_timestamp((SELECT ms FROM rb) / 1000.0),
                       to_timestamp((SELECT ms FROM rb) / 1000.0) + interval '1 hour', NULL,
                       '{content_id}') m,
       (SELECT count(*) AS attempts, count(first_frame_at) AS plays,
               qoe.rebuffer_ratio(stall_ms, watch_ms) AS rebuffering,
               sum(avg_bitrate_kbps::numeric * watch_ms)::float8 / sum(watch_ms) AS kbps,
               qoe.qoe_score_agg(sc, watch_ms) AS score, qoe.qoe_good_share(sc) AS good_share,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY vst_ms) AS vst_p50
          FROM (SELECT *, qoe.session_qoe_score(s) AS sc
                  FROM qoe.sessions s WHERE content_id = 4242) x) s
 WHERE m.content_id = 4242;
-- grouped, and by day
SELECT content_id, country, device_type, cdn_pop, attempts
  FROM qoe.qoe_metrics(now() - interval '3 days', now(), NULL, '{country,content_id}')
 WHERE content_id = 4242;
SELECT count(*) BETWEEN 1 AND 2 AS day_buckets, sum(attempts) AS attempts
  FROM qoe.qoe_metrics(now() - interval '3 days', now() + interval '1 day', '1 day', '{content_id}')
 WHERE content_id = 4242;


-- event time reaches the present (a session 20 minutes ago): the sessions'
-- day has ended by the watermark, every level holds it and qoe_metrics reads
-- its 6-hour and daily windows from the levels
CREATE TABLE clock AS SELECT (test_ms(-20 * 60000) / 300000) * 300000 - ms AS t FROM rb;
SELECT accepted FROM qoe.ingest(rev('clock2', 'start', (SELECT t FROM clock), '{"content_id":4299}', 9));
SELECT refreshed();
SELECT through() > interval '1 day' AS day_ended FROM qoe.rollup_status;
SELECT * FROM held;
SELECT level, grain, level_rows > 0 AS kept, differing FROM levels_match();
SELECT * FROM metrics_matches;
-- the watermark never moves back: a late event changes the closed windows
-- over it, not the watermark
CREATE TABLE wm AS SELECT levels_through FROM qoe.rollup_status;
SELECT accepted FROM qoe.ingest(rev('r1', 'heartbeat', 800000, '{"dropped_frames":2}'));
SELECT refreshed();
SELECT s.levels_through = w.levels_through AS same_watermark, s.last_level_rows > 0 AS level_rows
  FROM qoe.rollup_status s, wm w;
SELECT level, differing FROM levels_match();
-- the scheduler merges without building (refresh_rollups(false)) and builds
-- the levels apart: a late event queues its groups; until they are rebuilt
-- their level windows are stale and qoe_metrics reads qoe_5min from the
-- earliest queued window on, with the same figures
SELECT accepted FROM qoe.ingest(rev('r1', 'heartbeat', 850000, '{"dropped_frames":1}'));
SELECT qoe.refresh_rollups(build_levels => false) > 0 AS merged, s.levels_through = w.levels_through AS same_watermark
  FROM qoe.rollup_status s, wm w;
SELECT ((extract(epoch FROM window_start) * 1000)::bigint - (SELECT ms FROM rb)) / 60000 AS queued_minute
  FROM qoe.rollup_levels_pending;
SELECT count(*) FILTER (WHERE differing > 0) AS stale_levels FROM levels_match();
SELECT bool_and(same) AS all_same, count(*) FILTER (WHERE reads_level) AS levels_read FROM metrics_matches;
-- (only the level windows over the queued window are passed over: the hour
-- of clock1, two hours later, is still read from 1h_title)
SELECT (metrics_match(b + interval '2 hours', b + interval '3 hours', NULL, '{}', '1h_title')).*
  FROM (SELECT to_timestamp(ms / 1000.0) AS b FROM rb) x;
SELECT qoe.refresh_rollup_levels() > 0 AS rebuilt;
SELECT count(*) AS queued FROM qoe.rollup_levels_pending;
SELECT level, differing FROM levels_match();
SELECT bool_and(same) AS all_same, count(*) FILTER (WHERE reads_level) AS levels_read FROM metrics_matches;
-- live: a refresh of events in the window still open (the latest one
-- refreshed, after the watermark by the lateness) writes no level row
BEGIN;
SELECT accepted FROM qoe.ingest(rev('live', 'start', (SELECT (extract(epoch FROM levels_through + allowed_lateness) * 1000)::bigint + 1000
                                                       FROM qoe.rollup_status) - (SELECT ms FROM rb),
                                    '{"content_id":4299}', 9));
SELECT refreshed();
SELECT count(*) AS level_rows_written FROM qoe.qoe_rollups WHERE xmin = pg_current_xact_id()::xid;
SELECT s.levels_through = w.levels_through AS same_watermark, s.last_level_rows
  FROM qoe.rollup_status s, wm w;
COMMIT;
-- an event stamped ahead of the clock moves the watermark no later than
-- now() less the lateness
SELECT accepted FROM qoe.ingest(rev('clock3', 'start', test_ms(30 * 60000) - (SELECT ms FROM rb), '{"content_id":4299}', 9));
SELECT refreshed();
SELECT levels_through <= now() - allowed_lateness AS not_ahead, levels_through >= (SELECT levels_through FROM wm) AS not_back
  FROM qoe.rollup_status;
SELECT level, differing FROM levels_match();
-- emptied levels are built again by the next refresh
TRUNCATE qoe.qoe_rollups;
SELECT levels_through FROM qoe.rollup_status;
SELECT accepted FROM qoe.ingest(rev('clock2', 'heartbeat', (SELECT t + 2000 FROM clock), '{"content_id":4299}', 9));
SELECT refreshed();
SELECT level, grain, level_rows > 0 AS kept, differing FROM levels_match();

-- real time: qoe_metrics(real_time => true) adds the deltas no merge has
-- taken, so what ingest committed shows before the merge, with the figures
-- the merge then gives (whole levels, 5-minute windows, ranked); without
-- it, the figures stay those of the last merge
CREATE FUNCTION metrics_now(rt boolean) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_array(
        (SELECT jsonb_agg(m) FROM qoe.qoe_metrics(f, t, '1 hour', '{content_id,country}', real_time => rt) m),
        (SELECT jsonb_agg(m) FROM qoe.qoe_metrics(f, t, '5 min', real_time => rt) m),
        (SELECT jsonb_agg(m) FROM qoe.qoe_metrics(f, t, NULL, '{content_id}', 'plays', 2, rt) m))
      FROM (SELECT to_timestamp(ms / 1000.0) - interval '1 hour' AS f,
                   to_timestamp(ms / 1000.0) + interval '1 day' AS t FROM rb) r $$;
CREATE TABLE merged_before AS SELECT metrics_now(false) AS m;
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    rev('rt1', 'start', 960000, '{"content_id":4251}', 11),
    rev('rt1', 'first_frame', 961500, '{"content_id":4251}', 11),
    rev('rt1', 'buffering', 1000000, '{"content_id":4251,"buffering_ms":800}', 11),
    rev('rt1', 'heartbeat', 1020000, '{"content_id":4251}', 11),
    rev('r1', 'heartbeat', 860000, '{"dropped_frames":1}')));
SELECT count(*) > 0 AS unmerged FROM qoe.session_window_deltas;
SELECT metrics_now(false) = m AS as_last_merged, metrics_now(true) <> m AS real_time_moved
  FROM merged_before;
SELECT content_id, attempts, plays, vst_p50_ms, rebuffering_ratio > 0 AS rebuffered, unique_viewers
  FROM qoe.qoe_metrics(now() - interval '3 days', now(), NULL, '{content_id}', real_time => true)
 WHERE content_id = 4251;
-- content_ids: those titles' rows alone, the merged rollups and the deltas
-- not merged yet alike: the rows of the whole call for those titles; ranked
-- among those titles; over every title the same as without; none, nothing
SELECT (SELECT jsonb_agg(m) FROM qoe.qoe_metrics(f, t, '1 hour', '{content_id,country}', real_time => true,
                                                 content_ids => '{4251,4242}') m)
     = (SELECT jsonb_agg(m) FROM qoe.qoe_metrics(f, t, '1 hour', '{content_id,country}', real_time => true) m
         WHERE content_id IN (4251, 4242)) AS some_titles,
       (SELECT jsonb_agg(m) FROM qoe.qoe_metrics(f, t, NULL, '{content_id}', 'plays', 1, true, '{4251,4242}') m)
     = (SELECT jsonb_agg(m) FROM (SELECT * FROM qoe.qoe_metrics(f, t, NULL, '{content_id}', real_time => true) m
                                   WHERE content_id IN (4251, 4242)
                                   ORDER BY plays DESC NULLS LAST, content_id LIMIT 1) m) AS ranked,
       (SELECT jsonb_agg(m) FROM qoe.qoe_metrics(f, t, '5 min', real_time => true,
                                                 content_ids => (SELECT array_agg(DISTINCT content_id) FROM qoe.qoe_5min)
                                                                || '{4251}') m)
     = (SELECT jsonb_agg(m) FROM qoe.qoe_metrics(f, t, '5 min', real_time => true) m) AS every_title,
       (SELECT count(*) FROM qoe.qoe_metrics(f, t, NULL, '{content_id}', real_time => true, content_ids => '{}')) AS none
  FROM (SELECT to_timestamp(ms / 1000.0) - interval '1 hour' AS f,
               to_timestamp(ms / 1000.0) + interval '1 day' AS t FROM rb) r;
CREATE TABLE real_time_before AS SELECT metrics_now(true) AS m;
SELECT refreshed();
SELECT metrics_now(false) = m AS merged_same, metrics_now(true) = m AS real_time_same
  FROM real_time_before;
DROP TABLE merged_before, real_time_before;

-- errors
SELECT * FROM qoe.qoe_metrics(now() - interval '1 day', now(), NULL, '{country,title}');
SELECT * FROM qoe.qoe_metrics(now() - interval '1 day', now(), '7 min');
SELECT * FROM qoe.qoe_metrics(now() - interval '1 day', now(), '1 month');
SELECT * FROM qoe.qoe_metrics(NULL, now());
SELECT * FROM qoe.qoe_metrics('2026-01-02 00:00+00', '2026-01-01 00:00+00');
SELECT * FROM qoe.qoe_metrics(now() - interval '1 day', now(), NULL, '{country,cdn_pop,country}');
-- an empty range is no error: no window starts in it
SELECT count(*) FROM qoe.qoe_metrics(now(), now());

-- readers may call qoe_metrics and read the rollups; PUBLIC may not
CREATE ROLE rollup_bi;
GRANT qoe_reader TO rollup_bi;
SET ROLE rollup_bi;
SELECT attempts FROM qoe.qoe_metrics(now() - interval '3 days', now(), NULL, '{content_id}')
 WHERE content_id = 4242;
SELECT count(*) > 0 AS readable FROM qoe.qoe_5min;
SELECT sum(plays) > 0 AS real_time_readable
  FROM qoe.qoe_metrics(now() - interval '3 days', now(), real_time => true);
SELECT qoe.refresh_rollups();
RESET ROLE;
CREATE ROLE rollup_nobody;
SET ROLE rollup_nobody;
SELECT * FROM qoe.qoe_metrics(now() - interval '1 day', now());
RESET ROLE;
DROP ROLE rollup_bi;
DROP ROLE rollup_nobody;

-- the switch: with the rollups off, ingest leaves them alone
UPDATE qoe.rollup_status SET enabled = false;
SELECT accepted FROM qoe.ingest(rev('r5', 'start', 100000));
SELECT count(*) AS r5_rows FROM qoe.session_windows WHERE session_id = 'r5';
UPDATE qoe.rollup_status SET enabled = true;

-- a good session scores qoe_score_config.good_score or more, as
-- qoe.qoe_good_share counts it: r6 (VST 3 s) scores 70 or more, not 100
BEGIN;
UPDATE qoe.qoe_score_config SET good_score = 100;
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    rev('r6', 'start', 100000, '{"content_id":4243}'),
    rev('r6', 'first_frame', 103000, '{"content_id":4243}'),
    rev('r6', 'stop', 400000, '{"content_id":4243}')));
SELECT refreshed();
SELECT sum(w.scored_sessions) AS scored, sum(w.good_sessions) AS good,
       (SELECT qoe.session_qoe_score(s) >= 70 FROM qoe.sessions s WHERE s.session_id = 'r6') AS score_ge_70,
       (SELECT good_share FROM qoe.qoe_metrics(now() - interval '3 days', now(), NULL, '{content_id}')
         WHERE content_id = 4243) AS good_share
  FROM qoe.session_windows w WHERE w.session_id = 'r6';
ROLLBACK;

-- retention removes the windows older than qoe.rollup_retention at every
-- level, by whole UTC days (copies of the windows three years back here)
CREATE TEMP TABLE old_sw AS SELECT * FROM qoe.session_windows;
CREATE TEMP TABLE old_5min AS SELECT * FROM qoe.qoe_5min;
CREATE TEMP TABLE old_levels AS SELECT * FROM qoe.qoe_rollups;
UPDATE old_sw SET window_start = window_start - interval '3 years';
UPDATE old_5min SET window_start = window_start - interval '3 years';
UPDATE old_levels SET window_start = window_start - interval '3 years';
INSERT INTO qoe.session_windows SELECT * FROM old_sw;
INSERT INTO qoe.qoe_5min SELECT * FROM old_5min;
INSERT INTO qoe.qoe_rollups SELECT * FROM old_levels;
SET qoe.event_retention = '24000d';  -- leave the other tests' events alone
SELECT data, older_than, removed = CASE data WHEN 'session_windows' THEN (SELECT count(*) FROM old_sw)
                                             WHEN 'qoe_5min' THEN (SELECT count(*) FROM old_5min)
                                             ELSE (SELECT count(*) FROM old_levels) END AS old_ones
  FROM qoe.apply_retention() WHERE data IN ('session_windows', 'qoe_5min', 'qoe_rollups');
RESET qoe.event_retention;
SELECT level, differing FROM levels_match();

-- ingest appends the deltas straight into the heap of
-- qoe.session_window_deltas: it refuses a trigger there rather than skip it,
-- and keeps constraints and indexes someone added
CREATE FUNCTION delta_trigger() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE TRIGGER delta_trigger BEFORE INSERT ON qoe.session_window_deltas
    FOR EACH ROW EXECUTE FUNCTION delta_trigger();
SELECT accepted FROM qoe.ingest(rev('r9', 'start', 900000));
DROP TRIGGER delta_trigger ON qoe.session_window_deltas;
DROP FUNCTION delta_trigger();
BEGIN;
ALTER TABLE qoe.session_window_deltas ADD CONSTRAINT no_events CHECK (events <= 0);
SELECT * FROM qoe.ingest(rev('r9', 'start', 900000));
SELECT reason FROM qoe.dead_letters WHERE payload LIKE '%r9%';
ROLLBACK;
BEGIN;
CREATE INDEX deltas_by_session ON qoe.session_window_deltas (session_id);
SELECT accepted FROM qoe.ingest(rev('r9', 'start', 900000));
SET LOCAL enable_seqscan = off;
SELECT session_id, events FROM qoe.session_window_deltas WHERE session_id = 'r9';
ROLLBACK;

-- a session rebuilt under new attributes (its country first known now):
-- its row merged under the former ones is updated to nothing by the next
-- refresh, and removed, in qoe.session_windows and in qoe.qoe_5min
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    rev('r10', 'start', 1200000, '{"content_id":4244}') - 'country',
    rev('r10', 'first_frame', 1201000, '{"content_id":4244}') - 'country'));
SELECT refreshed();
SELECT accepted FROM qoe.ingest(rev('r10', 'heartbeat', 1500000, '{"content_id":4244}'));
SELECT refreshed();
SELECT country, ((extract(epoch FROM window_start) * 1000)::bigint - (SELECT ms FROM rb)) / 60000 AS minute,
       events, attempts, plays, watch_ms
  FROM qoe.session_windows WHERE session_id = 'r10' ORDER BY 1, 2;
SELECT country, sessions, events FROM qoe.qoe_5min WHERE content_id = 4244 ORDER BY 1, window_start;
SELECT count(*) AS rows_of_nothing FROM qoe.session_windows
 WHERE events = 0 AND attempts = 0 AND plays = 0 AND ebvs = 0 AND watch_ms = 0 AND paused_ms = 0
   AND stall_ms = 0 AND seek_stall_ms = 0 AND fatal_errors = 0 AND nonfatal_errors = 0;

-- a refresh adds the deltas on top of a group's stored state (its row in
-- qoe.qoe_5min updated, nothing deleted) unless they take something back
-- that a digest or an hll cannot subtract (a VST changed by a late start):
-- that group is re-aggregated from its rows. Either way qoe_5min equals its
-- rows in qoe.session_windows re-aggregated: every counter, the digest's
-- count, the hll byte for byte.
CREATE FUNCTION fivemin_differing() RETURNS bigint LANGUAGE sql AS $$
    WITH d AS (
        SELECT window_start, content_id, country, device_type, cdn_pop, count(*) AS sessions,
               sum(events) AS events, sum(attempts) AS attempts, sum(plays) AS plays, sum(ebvs) AS ebvs,
               sum(start_failures) AS sf, sum(playback_failures) AS pf,
               qoe.tdigest_count(qoe.tdigest_agg(vst_ms::float8) FILTER (WHERE vst_count = 1)) AS digest_count,
               count(*) FILTER (WHERE vst_count = 1) AS vst_count,
               count(*) FILTER (WHERE vst_count = 1 AND vst_ms < 1000) AS lt_1s,
               count(*) FILTER (WHERE vst_count = 1 AND vst_ms >= 1000 AND vst_ms < 2000) AS s1_2,
               count(*) FILTER (WHERE vst_count = 1 AND vst_ms >= 2000 AND vst_ms < 4000) AS s2_4,
               count(*) FILTER (WHERE vst_count = 1 AND vst_ms >= 4000 AND vst_ms < 8000) AS s4_8,
               count(*) FILTER (WHERE vst_count = 1 AND vst_ms >= 8000) AS ge_8s,
               sum(watch_ms) AS watch_ms, sum(stall_ms) AS stall_ms, sum(stall_count) AS stall_count,
               sum(seek_stall_ms) AS seek_stall_ms, sum(seek_stall_count) AS seek_stall_count,
               sum(paused_ms) AS paused_ms, sum(bitrate_x_watch) AS bitrate_x_watch,
               sum(bitrate_switches) AS switches, sum(bitrate_downswitches) AS downswitches,
               sum(dropped_frames) AS dropped_frames, sum(completions) AS completions,
               sum(score_x_watch) AS score_x_watch, sum(scored_sessions) AS scored,
               sum(good_sessions) AS good, sum(fatal_errors) AS fatal, sum(nonfatal_errors) AS nonfatal,
               hll_add_agg(hll_hash_bigint(user_id))::text AS viewers
          FROM qoe.session_windows GROUP BY 1, 2, 3, 4, 5),
    s AS (
        SELECT window_start, content_id, country, device_type, cdn_pop, sessions, events, attempts,
               plays, ebvs, start_failures, playback_failures, qoe.tdigest_count(vst_digest), vst_count,
               vst_lt_1s, vst_1_2s, vst_2_4s, vst_4_8s, vst_ge_8s, watch_ms, stall_ms, stall_count,
               seek_stall_ms, seek_stall_count, paused_ms, bitrate_x_watch, bitrate_switches,
               bitrate_downswitches, dropped_frames, completions, score_x_watch, scored_sessions,
               good_sessions, fatal_errors, nonfatal_errors, unique_viewers::text
          FROM qoe.qoe_5min)
    SELECT count(*) FROM ((TABLE d EXCEPT ALL TABLE s) UNION ALL (TABLE s EXCEPT ALL TABLE d)) x $$;
-- qoe_5min's rows written by the refresh: the transaction's counts since
-- writes_before (the backend may hold counts of earlier transactions too)
CREATE FUNCTION group_counts() RETURNS TABLE (ins bigint, upd bigint, del bigint) LANGUAGE sql AS $$
    SELECT n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_xact_user_tables WHERE relid = 'qoe.qoe_5min'::regclass $$;
CREATE TABLE writes_before AS SELECT * FROM group_counts();
CREATE VIEW group_writes AS
    SELECT n.ins - b.ins AS inserted, n.upd - b.upd AS updated, n.del - b.del AS deleted,
           fivemin_differing() AS differing
      FROM group_counts() n, writes_before b;
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    rev('r11', 'start', 1800000, '{"content_id":4245}'),
    rev('r11', 'first_frame', 1802500, '{"content_id":4245}'),
    rev('r12', 'start', 1801000, '{"content_id":4245}', 8),
    rev('r12', 'first_frame', 1801500, '{"content_id":4245}', 8)));
SELECT refreshed();
SELECT sessions, plays, vst_count, qoe.tdigest_count(vst_digest) AS digest_count,
       hll_cardinality(unique_viewers) AS viewers, differing
  FROM qoe.qoe_5min, group_writes WHERE content_id = 4245;
-- a heartbeat and a new viewer's session: added in place
BEGIN;
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    rev('r11', 'heartbeat', 1830000, '{"content_id":4245}'),
    rev('r13', 'start', 1831000, '{"content_id":4245}', 9),
    rev('r13', 'first_frame', 1839000, '{"content_id":4245}', 9)));
UPDATE writes_before SET (ins, upd, del) = (SELECT * FROM group_counts());
SELECT refreshed();
SELECT sessions, plays, vst_count, vst_4_8s + vst_ge_8s AS slow_starts, hll_cardinality(unique_viewers) AS viewers
  FROM qoe.qoe_5min WHERE content_id = 4245;
SELECT * FROM group_writes;
ROLLBACK;
-- r12's start arrives late, 1.2 s before the one held: its VST becomes
-- 1.7 s, and the group is re-aggregated
BEGIN;
SELECT accepted FROM qoe.ingest(rev('r12', 'start', 1800300, '{"content_id":4245,"event_id":"late"}', 8));
UPDATE writes_before SET (ins, upd, del) = (SELECT * FROM group_counts());
SELECT refreshed();
SELECT vst_count, vst_lt_1s, vst_1_2s FROM qoe.qoe_5min WHERE content_id = 4245;
SELECT * FROM group_writes;
ROLLBACK;

-- a playback failure scores 0 (SPEC section 4, qoe.session_qoe_score): the
-- window of its fatal error takes back the score weight its earlier windows
-- were given, so its windows add up to 0 and it is no good session
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    rev('r14', 'start', 1800000, '{"content_id":4246,"bitrate_kbps":3000}'),
    rev('r14', 'first_frame', 1801000, '{"content_id":4246}'),
    rev('r14', 'heartbeat', 2100000, '{"content_id":4246}'),
    rev('r14', 'error', 2400000, '{"content_id":4246,"fatal":true,"error_code":"E2"}')));
SELECT refreshed();
SELECT s.playback_failed, qoe.session_qoe_score(s) AS session_score, count(*) AS windows,
       sum(w.watch_ms) = s.watch_ms AND s.watch_ms > 0 AS watched,
       sum(w.score_x_watch) AS score_x_watch, sum(w.scored_sessions) AS scored,
       sum(w.good_sessions) AS good
  FROM qoe.sessions s JOIN qoe.session_windows w USING (session_id)
 WHERE s.session_id = 'r14' GROUP BY s.session_id;
SELECT window_start - to_timestamp((SELECT ms FROM rb) / 1000.0) AS window, score_x_watch > 0 AS gave,
       score_x_watch < 0 AS took_back
  FROM qoe.session_windows WHERE session_id = 'r14' ORDER BY 1;
SELECT plays, playback_failure_rate, qoe_score, good_share
  FROM qoe.qoe_metrics(to_timestamp((SELECT ms FROM rb) / 1000.0),
                       to_timestamp((SELECT ms FROM rb) / 1000.0) + interval '1 hour', NULL,
                       '{content_id}')
 WHERE content_id = 4246;

-- Kafka partitions hold the closing point back (a watermark, doc/rollups.md
-- Levels): the rows of qoe.source_offsets stand for a source's workers
-- (none run here). The closing point is taken back to test it alone, and
-- restored after.
CREATE TABLE kept_closing AS SELECT closed_through FROM qoe.rollup_status;
UPDATE qoe.rollup_status SET closed_through = '-infinity';
UPDATE qoe.rollup_status SET source_idle_timeout = '1 day';
CREATE FUNCTION closing() RETURNS interval LANGUAGE sql AS
    $$ SELECT closed_through - to_timestamp((SELECT ms FROM rb) / 1000.0) FROM qoe.rollup_status $$;
SELECT qoe.add_source('wm', 'localhost:9092', 'wm');
INSERT INTO qoe.source_offsets (source, topic, partition, next_offset)
VALUES ('wm', 'wm', 0, 0), ('wm', 'wm', 1, 0);
-- two partitions assigned, nothing stored from them yet: an event at +3 h
-- closes nothing (a worker that has not read them yet would store old events)
SELECT accepted FROM qoe.ingest(rev('wm1', 'start', 3 * 3600000, '{"content_id":4248}'));
SELECT refreshed(), closed_through FROM qoe.rollup_status;
-- newest events stored: +1 h 1 min and +2 h; no window closes past the
-- older less the lateness (+56 min, on a window boundary: +55 min)
UPDATE qoe.source_offsets SET latest_event_time = to_timestamp((SELECT ms FROM rb) / 1000.0)
       + CASE partition WHEN 0 THEN interval '1 hour 1 min' ELSE interval '2 hours' END;
SELECT accepted FROM qoe.ingest(rev('wm1', 'heartbeat', 3 * 3600000 + 10000, '{"content_id":4248}'));
SELECT refreshed(), closing();
SELECT sources_through - to_timestamp((SELECT ms FROM rb) / 1000.0) AS sources_through FROM qoe.rollup_status;
-- partition 0 showed no progress for longer than source_idle_timeout (a
-- day here, so that a slow run does not idle the others): partition 1
-- alone holds
UPDATE qoe.source_offsets SET event_time_at = now() - interval '2 days' WHERE partition = 0;
SELECT accepted FROM qoe.ingest(rev('wm1', 'heartbeat', 3 * 3600000 + 20000, '{"content_id":4248}'));
SELECT refreshed(), closing();
-- a timeout of 0 turns the hold off: the latest window merged (+3 h) less
-- the lateness
UPDATE qoe.rollup_status SET source_idle_timeout = '0';
SELECT accepted FROM qoe.ingest(rev('wm1', 'heartbeat', 3 * 3600000 + 30000, '{"content_id":4248}'));
SELECT refreshed(), closing();
SELECT sources_through IS NULL AS none_holds FROM qoe.rollup_status;
-- the timeout is not negative
\set VERBOSITY terse
UPDATE qoe.rollup_status SET source_idle_timeout = '-1 s';
\set VERBOSITY default
UPDATE qoe.rollup_status SET source_idle_timeout = DEFAULT,
       closed_through = (SELECT closed_through FROM kept_closing);
SELECT qoe.drop_source('wm');
DROP FUNCTION closing();
DROP TABLE kept_closing;

DROP VIEW group_writes;
DROP TABLE writes_before;
DROP FUNCTION group_counts(), fivemin_differing();
DROP VIEW metrics_matches, held;
DROP FUNCTION metrics_match(timestamptz, timestamptz, interval, text[], text);
DROP FUNCTION through();
DROP TABLE clock, wm;
DROP FUNCTION levels_match();
DROP FUNCTION refreshed();
DROP VIEW rcheck;
DROP VIEW rw;
DROP FUNCTION rev(text, text, bigint, jsonb, bigint);
DROP TABLE rb;

-- qoe.bigint_sums: the same sums as one sum() per column, exact beyond 2^53
-- (where a float8 sum is not), NULLs adding nothing, NULL for no rows
SELECT qoe.bigint_sums(a, b, c) = ARRAY[sum(a), sum(b), sum(c)]::bigint[] AS same_as_sum,
       qoe.bigint_sums(a, b, c)
  FROM (VALUES (1::bigint, 9007199254740993::bigint, NULL::bigint),
               (2, 1, 5), (-4, 1, NULL)) v(a, b, c);
SELECT qoe.bigint_sums(x) FROM (SELECT 1::bigint WHERE false) v(x);
SELECT g, qoe.bigint_sums(x::bigint, 2 * x::bigint) FROM generate_series(1, 6) x, LATERAL (SELECT x % 2) g(g)
 GROUP BY g ORDER BY g;
-- errors: a column that is not bigint; a sum out of range
SELECT qoe.bigint_sums(x::bigint, x) FROM generate_series(1, 2) x;
SELECT qoe.bigint_sums(x) FROM (VALUES (9223372036854775807::bigint), (1)) v(x);
