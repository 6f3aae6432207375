-- The 5-minute QoE rollups (doc/rollups.md): per session and window what the
-- session contributed (changes appended by the batch writer, in the ingest
-- transaction, merged by qoe.refresh_rollups()), and per group and window the
-- mergeable state of qoe.qoe_5min.
-- Unique viewers are an hll (the postgresql-hll extension, required by
-- qoe_ext.control); while this script runs, search_path holds hll's schema.

-- A figure that a change leaves alone is NULL: most are (a batch adds events
-- and watch time to a session's window), and a NULL takes no room in the row
-- nor in the WAL, where a zero takes 8 bytes.
CREATE TABLE qoe.session_window_deltas (
    session_id text NOT NULL,
    window_start timestamptz NOT NULL,
    user_id bigint NOT NULL,
    content_id bigint NOT NULL,
    country text,
    device_type text,
    cdn_pop text,
    events bigint,
    attempts bigint,
    plays bigint,
    ebvs bigint,
    start_failures bigint,
    playback_failures bigint,
    vst_count bigint,
    vst_ms bigint,
    watch_ms bigint,
    stall_ms bigint,
    stall_count bigint,
    seek_stall_ms bigint,
    seek_stall_count bigint,
    paused_ms bigint,
    bitrate_x_watch bigint,
    bitrate_switches bigint,
    bitrate_downswitches bigint,
    dropped_frames bigint,
    completions bigint,
    score_x_watch bigint,
    scored_sessions bigint,
    good_sessions bigint,
    fatal_errors bigint,
    nonfatal_errors bigint
);
COMMENT ON TABLE qoe.session_window_deltas IS
    'Changes to qoe.session_windows appended by the batch writer in the ingest transaction (no index: appending is all ingest does; a figure it does not change is NULL); drained by qoe.refresh_rollups()';

-- The refresh adds the deltas to a row in place (INSERT ... ON CONFLICT DO
-- UPDATE): no key column changes, so the new version needs no index entry
-- when it fits on its page (fillfactor leaves room for it).
CREATE TABLE qoe.session_windows (
    LIKE qoe.session_window_deltas,
    CONSTRAINT session_windows_key UNIQUE NULLS NOT DISTINCT
        (window_start, content_id, session_id, user_id, country, device_type, cdn_pop)
) WITH (fillfactor = 70);
COMMENT ON TABLE qoe.session_windows IS
    'What each session contributed to each 5-minute window (event time), per its attributes; merged from qoe.session_window_deltas by qoe.refresh_rollups(), re-aggregated into qoe.qoe_5min';
COMMENT ON CONSTRAINT session_windows_key ON qoe.session_windows IS
    'One row per session, window and attributes; unknown (NULL) attributes are a value of their own';
COMMENT ON INDEX qoe.session_windows_key IS
    'The row qoe.refresh_rollups() adds a session''s deltas to, and the rows of a window and title it re-aggregates a group from';
-- a stored figure is a number, also where no delta changed it
DO $$
DECLARE
    c name;
BEGIN
    FOR c IN SELECT attname FROM pg_catalog.pg_attribute
              WHERE attrelid = 'qoe.session_windows'::regclass AND attnum > 0 AND NOT attnotnull
                AND atttypid = 'bigint'::regtype
    LOOP
        EXECUTE format('ALTER TABLE qoe.session_windows ALTER COLUMN %I SET NOT NULL', c);
    END LOOP;
END
$$;

CREATE TABLE qoe.qoe_5min (
    window_start timestamptz NOT NULL,
    content_id bigint NOT NULL,
    country text,
    device_type text,
    cdn_pop text,
    sessions bigint NOT NULL,
    events bigint NOT NULL,
    attempts bigint NOT NULL,
    plays bigint NOT NULL,
    ebvs bigint NOT NULL,
    start_failures bigint NOT NULL,
    playback_failures bigint NOT NULL,
    vst_digest qoe.tdigest,
    vst_count bigint NOT NULL,
    vst_lt_1s bigint NOT NULL,
    vst_1_2s bigint NOT NULL,
    vst_2_4s bigint NOT NULL,
    vst_4_8s bigint NOT NULL,
    vst_ge_8s bigint NOT NULL,
    watch_ms bigint NOT NULL,
    stall_ms bigint NOT NULL,
    stall_count bigint NOT NULL,
    seek_stall_ms bigint NOT NULL,
    seek_stall_count bigint NOT NULL,
    paused_ms bigint NOT NULL,
    bitrate_x_watch bigint NOT NULL,
    bitrate_switches bigint NOT NULL,
    bitrate_downswitches bigint NOT NULL,
    dropped_frames bigint NOT NULL,
    completions bigint NOT NULL,
    score_x_watch bigint NOT NULL,
    scored_sessions bigint NOT NULL,
    good_sessions bigint NOT NULL,
    fatal_errors bigint NOT NULL,
    nonfatal_errors bigint NOT NULL,
    unique_viewers hll NOT NULL,
    CONSTRAINT qoe_5min_group UNIQUE NULLS NOT DISTINCT
        (window_start, content_id, country, device_type, cdn_pop)
) WITH (fillfactor = 70);
COMMENT ON TABLE qoe.qoe_5min IS
    'QoE per 5-minute window (event time) x title x country x device type x CDN POP, as mergeable state only; query it with qoe.qoe_metrics()';
COMMENT ON CONSTRAINT qoe_5min_group ON qoe.qoe_5min IS 'One row per window and group; unknown (NULL) dimensions form a group of their own';
COMMENT ON INDEX qoe.qoe_5min_group IS 'Key of qoe.qoe_5min: a group''s row in a window';

CREATE TABLE qoe.rollup_status (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    enabled boolean NOT NULL DEFAULT true,
    last_run timestamptz,
    last_windows bigint,
    levels_through timestamptz NOT NULL DEFAULT '-infinity',
    closed_through timestamptz NOT NULL DEFAULT '-infinity',
    allowed_lateness interval NOT NULL DEFAULT '5 min'
        CONSTRAINT rollup_status_lateness CHECK (allowed_lateness >= interval '0'),
    last_level_rows bigint,
    source_idle_timeout interval NOT NULL DEFAULT '30 s'
        CONSTRAINT rollup_status_idle_timeout CHECK (source_idle_timeout >= interval '0'),
    sources_through timestamptz,
    titles_from timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO qoe.rollup_status DEFAULT VALUES;
COMMENT ON TABLE qoe.rollup_status IS 'The rollups'' switch, the outcome of the latest qoe.refresh_rollups() and qoe.refresh_rollup_levels(), and the watermarks (one row; the scheduler''s runs and errors are in qoe.scheduler_status)';
COMMENT ON COLUMN qoe.rollup_status.id IS 'Always true: the table holds one row';
COMMENT ON COLUMN qoe.rollup_status.enabled IS
    'Whether ingest maintains qoe.session_windows; off is for measuring its cost only: sessions written while off are missing from the rollups';
COMMENT ON COLUMN qoe.rollup_status.last_run IS 'End of the latest successful qoe.refresh_rollups()';
COMMENT ON COLUMN qoe.rollup_status.last_windows IS 'Windows the latest successful refresh re-aggregated';
COMMENT ON COLUMN qoe.rollup_status.levels_through IS
    'Watermark in event time: every window of a coarser level (qoe.qoe_rollups) that ends at or before it is built, later ones are not yet; qoe.qoe_metrics reads those from qoe_5min, and a level window over a group queued in qoe.rollup_levels_pending from finer levels. Moves forward only (TRUNCATE qoe.qoe_rollups resets it to -infinity)';
COMMENT ON COLUMN qoe.rollup_status.closed_through IS
    'Where the merges have closed the 5-minute windows (the boundary at or before the latest window merged, at most now() and at most the newest event of every Kafka partition still storing (source_idle_timeout), minus allowed_lateness; forward only): qoe.refresh_rollup_levels() builds the levels up to it, and a merge into a window before it queues the group in qoe.rollup_levels_pending';
COMMENT ON COLUMN qoe.rollup_status.allowed_lateness IS
    'How far behind the latest 5-minute window merged the windows close (closed_through, then levels_through): events later than this change closed windows, whose level windows are rebuilt (qoe.rollup_levels_pending)';
COMMENT ON COLUMN qoe.rollup_status.source_idle_timeout IS
    'How long after it last stored events (or was taken by a worker: qoe.source_offsets.event_time_at) a Kafka partition still holds the closing point back: closed_through follows the latest window merged, but no further than the newest event stored from any partition that stored within this interval (qoe.source_offsets.latest_event_time), less allowed_lateness, and stays while such a partition has stored no event yet; 0 turns the hold off';
COMMENT ON CONSTRAINT rollup_status_idle_timeout ON qoe.rollup_status IS 'The idle timeout is not negative';
COMMENT ON COLUMN qoe.rollup_status.sources_through IS
    'At the latest merge, the event time the Kafka partitions that hold had reached (the oldest of their qoe.source_offsets.latest_event_time; -infinity: one has stored no event yet; NULL: none holds): closed_through does not pass it less allowed_lateness. Behind the latest window merged, it names why the windows stay open';
COMMENT ON COLUMN qoe.rollup_status.titles_from IS
    'Event time from which qoe.qoe_5min_by_title holds every window: each merge moves it up to levels_through (forward only) and removes the earlier windows; TRUNCATE qoe.qoe_5min resets it to -infinity';
COMMENT ON COLUMN qoe.rollup_status.last_level_rows IS 'Rows of qoe.qoe_rollups the latest successful qoe.refresh_rollup_levels() wrote or removed';
COMMENT ON CONSTRAINT rollup_status_lateness ON qoe.rollup_status IS 'The allowed lateness is not negative';
COMMENT ON CONSTRAINT rollup_status_pkey ON qoe.rollup_status IS 'Key of the single row';
COMMENT ON INDEX qoe.rollup_status_pkey IS 'Key of qoe.rollup_status';
COMMENT ON CONSTRAINT rollup_status_id_check ON qoe.rollup_status IS 'id is always true, so the table holds at most one row';

-- The groups of qoe.qoe_5min that a merge changed in windows already closed
-- (late data), whose level windows qoe.refresh_rollup_levels() rebuilds: the
-- merge runs apart from the level builds, and may change a window while its
-- levels are being built. Appended by the merge, drained by the builder.
CREATE TABLE qoe.rollup_levels_pending (
    window_start timestamptz NOT NULL,
    content_id bigint NOT NULL,
    country text,
    device_type text,
    cdn_pop text
);
COMMENT ON TABLE qoe.rollup_levels_pending IS
    'Groups of qoe.qoe_5min changed in closed windows (before qoe.rollup_status.closed_through) since their level windows were built: queued by qoe.refresh_rollups(), rebuilt and removed by qoe.refresh_rollup_levels(); meanwhile qoe.qoe_metrics reads the level windows over them from finer levels (at last qoe_5min)';
COMMENT ON COLUMN qoe.rollup_levels_pending.window_start IS 'The 5-minute window changed';
COMMENT ON COLUMN qoe.rollup_levels_pending.content_id IS 'Title of the group';
COMMENT ON COLUMN qoe.rollup_levels_pending.country IS 'Country of the group (NULL: unknown)';
COMMENT ON COLUMN qoe.rollup_levels_pending.device_type IS 'Device type of the group (NULL: unknown)';
COMMENT ON COLUMN qoe.rollup_levels_pending.cdn_pop IS 'CDN POP of the group (NULL: unknown)';

-- column comments shared by qoe.session_windows and qoe.qoe_5min
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('window_start', 'Start of the 5-minute window (event time, UTC-aligned); it holds [window_start, window_start + 5 min)'),
        ('content_id', 'Title (qoe.sessions.content_id)'),
        ('country', 'Country of the session (qoe.sessions.country; NULL: unknown)'),
        ('device_type', 'Device type of the session (NULL: unknown)'),
        ('cdn_pop', 'CDN POP of the session (NULL: unknown)'),
        ('events', 'Events stored in the window (repeats excluded)'),
        ('attempts', 'Sessions whose start (started_at) is in the window'),
        ('plays', 'Sessions whose first frame (first_frame_at) is in the window'),
        ('ebvs', 'Exits before video start whose end (ended_at) is in the window'),
        ('start_failures', 'Video start failures whose fatal error is in the window'),
        ('playback_failures', 'Playback failures whose fatal error is in the window'),
        ('vst_count', 'Video start times measured in the window (first frame in it)'),
        ('watch_ms', 'Watch time in the window (ms): the part of qoe.sessions.watch_ms played inside it'),
        ('stall_ms', 'Connection-induced stall time in the window (ms), split at window boundaries'),
        ('stall_count', 'Connection-induced stalls counted in the window'),
        ('seek_stall_ms', 'Seek-induced stall time in the window (ms), split at window boundaries'),
        ('seek_stall_count', 'Seek-induced stalls counted in the window'),
        ('paused_ms', 'Paused time in the window (ms), split at window boundaries'),
        ('bitrate_x_watch', 'Average bitrate x watch time (kbps x ms) accrued in the window; divided by watch_ms, the time-weighted bitrate'),
        ('bitrate_switches', 'Bitrate switches in the window'),
        ('bitrate_downswitches', 'Bitrate switches to a lower bitrate in the window'),
        ('dropped_frames', 'Dropped frames counted in the window'),
        ('completions', 'Sessions reaching 70 % of the title in the window'),
        ('score_x_watch', 'QoE score x watch time (score points x ms, rounded per session) accrued in the window; divided by watch_ms, the watch-time-weighted score'),
        ('scored_sessions', 'Sessions with a QoE score, counted in the window where they were first scored'),
        ('good_sessions', 'Sessions scoring qoe.qoe_score_config.good_score (70) or more, counted in the window where they became good'),
        ('fatal_errors', 'Fatal error events in the window'),
        ('nonfatal_errors', 'Non-fatal error events in the window')) AS v(col, txt)
    LOOP
        EXECUTE format('COMMENT ON COLUMN qoe.session_windows.%I IS %L', c.col, c.txt);
        EXECUTE format('COMMENT ON COLUMN qoe.session_window_deltas.%I IS %L', c.col,
                       'Change to ' || c.txt || ' (NULL: unchanged)');
        EXECUTE format('COMMENT ON COLUMN qoe.qoe_5min.%I IS %L', c.col, c.txt);
    END LOOP;
END
$$;
COMMENT ON COLUMN qoe.session_windows.session_id IS 'The session';
COMMENT ON COLUMN qoe.session_windows.user_id IS 'Its viewer';
COMMENT ON COLUMN qoe.session_windows.vst_ms IS 'The session''s video start time (ms) when its first frame is in the window (vst_count = 1), else 0';
COMMENT ON COLUMN qoe.session_window_deltas.session_id IS 'The session';
COMMENT ON COLUMN qoe.session_window_deltas.user_id IS 'Its viewer';
COMMENT ON COLUMN qoe.session_window_deltas.vst_ms IS 'Change to the session''s video start time in the window (NULL: unchanged)';
COMMENT ON COLUMN qoe.qoe_5min.sessions IS 'Sessions with a row in qoe.session_windows for the window (active in it)';
COMMENT ON COLUMN qoe.qoe_5min.vst_digest IS 'qoe.tdigest of the video start times (ms) of vst_count; merge with qoe.tdigest_merge';
COMMENT ON COLUMN qoe.qoe_5min.vst_lt_1s IS 'Video start times under 1 s';
COMMENT ON COLUMN qoe.qoe_5min.vst_1_2s IS 'Video start times from 1 s to under 2 s';
COMMENT ON COLUMN qoe.qoe_5min.vst_2_4s IS 'Video start times from 2 s to under 4 s';
COMMENT ON COLUMN qoe.qoe_5min.vst_4_8s IS 'Video start times from 4 s to under 8 s';
COMMENT ON COLUMN qoe.qoe_5min.vst_ge_8s IS 'Video start times of 8 s or more';
COMMENT ON COLUMN qoe.qoe_5min.unique_viewers IS
    'hll of the user_id of the sessions active in the window; merge with qoe.hll_merge (or hll_union_agg), count with hll_cardinality';

-- qoe.hll_merge: hll_union_agg with a compact state (src/sketch/hll_merge.c)
CREATE FUNCTION qoe.hll_merge_trans(internal, hll) RETURNS internal
    AS 'MODULE_PATHNAME', 'qoe_hll_merge_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION qoe.hll_merge_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'qoe_hll_merge_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION qoe.hll_merge_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'qoe_hll_merge_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION qoe.hll_merge_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'qoe_hll_merge_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION qoe.hll_merge_final(internal) RETURNS hll
    AS 'MODULE_PATHNAME', 'qoe_hll_merge_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
-- SSPACE: a union of few viewers is a short list of hashes, of many the
-- 2^log2m one-byte registers (2 kB by default); see qoe.bigint_sums
CREATE AGGREGATE qoe.hll_merge(hll) (
    SFUNC = qoe.hll_merge_trans,
    STYPE = internal,
    SSPACE = 1024,
    FINALFUNC = qoe.hll_merge_final,
    COMBINEFUNC = qoe.hll_merge_combine,
    SERIALFUNC = qoe.hll_merge_serialize,
    DESERIALFUNC = qoe.hll_merge_deserialize,
    PARALLEL = SAFE
);
COMMENT ON FUNCTION qoe.hll_merge_trans(internal, hll) IS 'Transition function of qoe.hll_merge';
COMMENT ON FUNCTION qoe.hll_merge_combine(internal, internal) IS 'Combine function of qoe.hll_merge (parallel plans)';
COMMENT ON FUNCTION qoe.hll_merge_serialize(internal) IS 'Serialize function of qoe.hll_merge: the partial union as a stored hll';
COMMENT ON FUNCTION qoe.hll_merge_deserialize(bytea, internal) IS 'Deserialize function of qoe.hll_merge (parallel plans)';
COMMENT ON FUNCTION qoe.hll_merge_final(internal) IS 'Final function of qoe.hll_merge';
COMMENT ON AGGREGATE qoe.hll_merge(hll) IS
    'Union of hll sketches, the same value as hll_union_agg, with a state of 2^log2m bytes instead of 128 kB (doc/rollups.md)';

-- The coarser levels (doc/rollups.md): each a grain and the dimensions it
-- keeps, merged from a finer level by the same merge as qoe.qoe_metrics, in
-- the refresh that rebuilds the 5-minute windows under them.
CREATE INDEX qoe_5min_title ON qoe.qoe_5min (content_id, window_start);
COMMENT ON INDEX qoe.qoe_5min_title IS 'A title''s windows over a range: what the coarser levels are merged from';

-- The 5-minute windows after the levels' watermark per title alone, kept
-- by the merge beside qoe.qoe_5min (the same changes, added per title): a
-- title's window is one row, where qoe.qoe_5min holds one per country,
-- device type and POP (a popular title's window: about a thousand, whose
-- digests qoe.qoe_metrics merged on every read; the Redis publisher read
-- 400 titles at 260,000 live viewers in 0.1-0.4 s, doc/redis.md). The
-- coarser levels hold the earlier windows, and are still built from
-- qoe.qoe_5min.
CREATE TABLE qoe.qoe_5min_by_title (
    LIKE qoe.qoe_5min INCLUDING COMMENTS,
    CONSTRAINT qoe_5min_by_title_key PRIMARY KEY (content_id, window_start),
    CONSTRAINT qoe_5min_by_title_dims CHECK (country IS NULL AND device_type IS NULL AND cdn_pop IS NULL)
) WITH (fillfactor = 70);  -- room for the merge's updates on the same page (no index entry)
COMMENT ON TABLE qoe.qoe_5min_by_title IS
    'qoe.qoe_5min merged over country, device type and CDN POP (one row per title and 5-minute window), for the windows from qoe.rollup_status.titles_from on (those after the levels'' watermark, levels_through, when the last merge ran); kept by qoe.refresh_rollups(), read by qoe.qoe_metrics() for callers that group by title or not at all';
COMMENT ON COLUMN qoe.qoe_5min_by_title.country IS 'Always NULL: merged over';
COMMENT ON COLUMN qoe.qoe_5min_by_title.device_type IS 'Always NULL: merged over';
COMMENT ON COLUMN qoe.qoe_5min_by_title.cdn_pop IS 'Always NULL: merged over';
COMMENT ON CONSTRAINT qoe_5min_by_title_key ON qoe.qoe_5min_by_title IS 'One row per title and window';
COMMENT ON INDEX qoe.qoe_5min_by_title_key IS 'Key of qoe.qoe_5min_by_title: a title''s windows over a range, and the merge''s upsert target';
COMMENT ON CONSTRAINT qoe_5min_by_title_dims ON qoe.qoe_5min_by_title IS 'Merged over every dimension but the title';

-- The state columns of qoe.qoe_5min (all but the window and the
-- dimensions), in table order, as SQL text: how rows s merge (the merged
-- state: sums, digests merged, sketches unioned), their names, and the SET
-- lists of an upsert whose new row replaces the stored one or adds to it
-- (q the stored row). Shared by the merge and the level builds.
CREATE FUNCTION qoe.rollup_state_sql(OUT merged text, OUT cols text, OUT replaced text, OUT added text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT string_agg(format('%s(s.%I)',
                             CASE a.atttypid WHEN 'bigint'::regtype THEN 'qoe.bigint_sum'
                                             WHEN 'qoe.tdigest'::regtype THEN 'qoe.tdigest_merge'
                                             ELSE 'qoe.hll_merge' END, a.attname),
                      ', ' ORDER BY a.attnum),
           string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
           string_agg(format('%1$I = excluded.%1$I', a.attname), ', ' ORDER BY a.attnum),
           string_agg(format(CASE a.atttypid
                                 WHEN 'bigint'::regtype THEN '%1$I = q.%1$I OPERATOR(pg_catalog.+) excluded.%1$I'
                                 WHEN 'qoe.tdigest'::regtype THEN
                                     '%1$I = CASE WHEN excluded.%1$I IS NULL THEN q.%1$I WHEN q.%1$I IS NULL THEN excluded.%1$I'
                                     ' ELSE (SELECT qoe.tdigest_merge(v.d) FROM (VALUES (q.%1$I), (excluded.%1$I)) v(d)) END'
                                 ELSE '%1$I = hll_union(q.%1$I, excluded.%1$I)' END, a.attname),
                      ', ' ORDER BY a.attnum)
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = 'qoe.qoe_5min'::regclass AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname NOT IN ('window_start', 'content_id', 'country', 'device_type', 'cdn_pop')
$$;
COMMENT ON FUNCTION qoe.rollup_state_sql() IS
    'SQL text over the state columns of qoe.qoe_5min, in table order: merged (aggregates over rows s: qoe.bigint_sum, qoe.tdigest_merge, qoe.hll_merge), cols (their names), replaced (an upsert''s SET list taking the new row) and added (one adding it to the stored row q); for the dynamic SQL of qoe.refresh_rollups() and qoe.refresh_rollup_levels(), which resolve hll_union in hll''s schema';

CREATE TABLE qoe.rollup_levels (
    level text PRIMARY KEY,
    grain interval NOT NULL CHECK (grain IN ('5 min', '15 min', '30 min', '1 hour', '3 hours', '6 hours', '1 day')),
    dims text[] NOT NULL CHECK (dims <@ '{content_id,country,device_type,cdn_pop}'),
    source text REFERENCES qoe.rollup_levels,
    CHECK ((source IS NULL) = (level = '5min'))
);
INSERT INTO qoe.rollup_levels VALUES
    ('5min', '5 min', '{content_id,country,device_type,cdn_pop}', NULL),
    ('1h', '1 hour', '{content_id,country,device_type,cdn_pop}', '5min'),
    ('1d', '1 day', '{content_id,country,device_type,cdn_pop}', '1h'),
    ('5min_title', '5 min', '{content_id}', '5min'),
    ('15min_title', '15 min', '{content_id}', '5min_title'),
    ('30min_title', '30 min', '{content_id}', '15min_title'),
    ('1h_title', '1 hour', '{content_id}', '30min_title'),
    ('3h_title', '3 hours', '{content_id}', '1h_title'),
    ('6h_title', '6 hours', '{content_id}', '3h_title'),
    ('1d_title', '1 day', '{content_id}', '6h_title');
COMMENT ON TABLE qoe.rollup_levels IS
    'The levels of the rollups: 5min is qoe.qoe_5min, the others are rows of qoe.qoe_rollups merged from their source level; qoe.qoe_metrics reads the coarsest that answers a query';
COMMENT ON COLUMN qoe.rollup_levels.level IS 'Name of the level (qoe.qoe_rollups.level)';
COMMENT ON COLUMN qoe.rollup_levels.grain IS 'Length of its windows, aligned on 2000-01-01 00:00 UTC';
COMMENT ON COLUMN qoe.rollup_levels.dims IS 'The dimensions it keeps; the others are NULL in its rows (merged over)';
COMMENT ON COLUMN qoe.rollup_levels.source IS 'The finer level it is merged from (same or finer grain, the same dimensions or more); NULL for 5min, merged from qoe.session_windows';
COMMENT ON CONSTRAINT rollup_levels_pkey ON qoe.rollup_levels IS 'One row per level';
COMMENT ON INDEX qoe.rollup_levels_pkey IS 'Key of qoe.rollup_levels';
COMMENT ON CONSTRAINT rollup_levels_source_fkey ON qoe.rollup_levels IS 'A level is merged from a level';
COMMENT ON CONSTRAINT rollup_levels_grain_check ON qoe.rollup_levels IS 'Grains that nest: each divides the coarser ones and a day';
COMMENT ON CONSTRAINT rollup_levels_dims_check ON qoe.rollup_levels IS 'Only the dimensions of qoe.qoe_5min';
COMMENT ON CONSTRAINT rollup_levels_check ON qoe.rollup_levels IS 'Only 5min, qoe.qoe_5min itself, has no source';

CREATE TABLE qoe.qoe_rollups (
    level text NOT NULL CHECK (level <> '5min'),
    LIKE qoe.qoe_5min INCLUDING COMMENTS,
    CONSTRAINT qoe_rollups_group UNIQUE NULLS NOT DISTINCT
        (level, content_id, window_start, country, device_type, cdn_pop)
) WITH (fillfactor = 70);  -- room for the refresh's updates on the same page (no index entry)
ALTER TABLE qoe.qoe_rollups ALTER content_id DROP NOT NULL;
CREATE INDEX qoe_rollups_window ON qoe.qoe_rollups (level, window_start);
COMMENT ON TABLE qoe.qoe_rollups IS
    'The coarser levels of qoe.rollup_levels: qoe.qoe_5min merged per level window and the dimensions the level keeps; kept by qoe.refresh_rollup_levels(), read by qoe.qoe_metrics()';
COMMENT ON COLUMN qoe.qoe_rollups.level IS 'The level (qoe.rollup_levels)';
COMMENT ON COLUMN qoe.qoe_rollups.window_start IS 'Start of the level''s window (its grain, UTC-aligned)';
COMMENT ON COLUMN qoe.qoe_rollups.content_id IS 'Title; NULL when the level does not keep it';
COMMENT ON COLUMN qoe.qoe_rollups.country IS 'Country; NULL: unknown, or the level does not keep it';
COMMENT ON COLUMN qoe.qoe_rollups.device_type IS 'Device type; NULL: unknown, or the level does not keep it';
COMMENT ON COLUMN qoe.qoe_rollups.cdn_pop IS 'CDN POP; NULL: unknown, or the level does not keep it';
COMMENT ON COLUMN qoe.qoe_rollups.sessions IS 'Sum of qoe.qoe_5min.sessions: a session counts once per 5-minute window it was active in';
COMMENT ON COLUMN qoe.qoe_rollups.unique_viewers IS
    'hll of the viewers active in the window (the 5-minute sketches unioned); count with hll_cardinality';
COMMENT ON CONSTRAINT qoe_rollups_group ON qoe.qoe_rollups IS 'One row per level, group and window';
COMMENT ON INDEX qoe.qoe_rollups_group IS 'Key of qoe.qoe_rollups: a level''s row for a group and window (the refresh''s upsert target)';
COMMENT ON CONSTRAINT qoe_rollups_level_check ON qoe.qoe_rollups IS '5min is qoe.qoe_5min';
COMMENT ON INDEX qoe.qoe_rollups_window IS 'A level''s windows over a range, for qoe.qoe_metrics';

-- An exact bigint sum without numeric: int8pl, which errors on overflow as
-- storing a numeric sum into a bigint column would. With 27 sums per row,
-- numeric's per-group state and conversion were most of a refresh's cost.
CREATE AGGREGATE qoe.bigint_sum(bigint) (
    SFUNC = pg_catalog.int8pl,
    STYPE = bigint,
    COMBINEFUNC = pg_catalog.int8pl,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE qoe.bigint_sum(bigint) IS
    'Sum of bigints as a bigint (an error on overflow), for the refresh of the rollups: cheaper than sum(), which accumulates a numeric';

-- Many columns summed in one aggregate call per row (src/analytics/column_sums.c):
-- one sum() per column was the executor's largest cost left in qoe_metrics
CREATE FUNCTION qoe.bigint_sums_trans(internal, VARIADIC "any") RETURNS internal
    AS 'MODULE_PATHNAME', 'qoe_bigint_sums_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION qoe.bigint_sums_final(internal) RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'qoe_bigint_sums_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION qoe.bigint_sums_trans(internal, "any") IS 'Transition function of qoe.bigint_sums';
COMMENT ON FUNCTION qoe.bigint_sums_final(internal) IS 'Final function of qoe.bigint_sums';
-- SSPACE: the state is 8 bytes a column; without it the planner takes an
-- internal state for 8 kB and a hash aggregate of the refresh spilled to disk
-- from 16,000 groups on (the deltas of a busy second)
CREATE AGGREGATE qoe.bigint_sums(VARIADIC "any") (
    SFUNC = qoe.bigint_sums_trans,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = qoe.bigint_sums_final
);
COMMENT ON AGGREGATE qoe.bigint_sums("any") IS
    'Exact sums of bigint arguments, as a bigint array in argument order (a NULL adds nothing; NULL for no rows; an error on overflow or a non-bigint argument): one aggregate call per row for many columns';

-- The levels hold closed windows only: a level's window is built once the
-- merges have closed its end (qoe.rollup_status.closed_through, event time),
-- and rebuilt after that only when late data changes a 5-minute group under
-- it (qoe.rollup_levels_pending). The builds run apart from the merges, in
-- the scheduler process: building the windows that close at a boundary took
-- 0.9-1.8 s at 260,000 live viewers, and the merges queued behind it took
-- 20 s to catch up (doc/rollups.md, Levels: why apart).
-- The source rows of a level window are joined by the window they bin into
-- and the title (hash keys), read over the range of the windows built only:
-- no nested loop, which the planner chose on the levels' stale statistics
-- and which compared every key with every row of a whole level (8.7 million
-- comparisons, 1.2 s, to build 1,597 windows of 30min_title). A level's row is updated in place (its key columns do
-- not change, so the update needs no index entry), and removed when no source
-- row is left under it. No JIT: the estimates of a merge over many keys run
-- high, and building every window again (after TRUNCATE, or for a new level)
-- spent 1.4 s of a 1.9 s statement compiling it (19,477 keys).
CREATE FUNCTION qoe.refresh_rollup_levels()
RETURNS bigint LANGUAGE plpgsql SET work_mem = '64MB' SET enable_nestloop = off SET jit = off AS $$
DECLARE
    origin constant timestamptz := '2000-01-01 00:00+00';
    l record;
    merge text;
    cols text;
    sets text;
    keys text;
    on_rollup text;
    on_source text;
    source_rel text;
    of_source text;
    old_through timestamptz;
    through timestamptz;
    written bigint := 0;
    n bigint;
    wait text;
    w timestamptz[];
    c bigint[];
    co text[];
    d text[];
    pop text[];
    kw timestamptz[];
    kc bigint[];
    kco text[];
    kd text[];
    kpop text[];
BEGIN
    -- one builder at a time; readers and the merges go on (they do not
    -- write qoe.qoe_rollups)
    LOCK TABLE qoe.qoe_rollups IN SHARE ROW EXCLUSIVE MODE;
    SELECT levels_through, greatest(levels_through, closed_through) INTO old_through, through
      FROM qoe.rollup_status;
    -- the late groups queued before this statement: their changes are seen
    -- by the builds below (a later one stays queued for the next call)
    WITH taken AS (DELETE FROM qoe.rollup_levels_pending RETURNING *)
    SELECT array_agg(window_start), array_agg(content_id), array_agg(country),
           array_agg(device_type), array_agg(cdn_pop)
      INTO w, c, co, d, pop
      FROM taken;
    -- the windows closed since the watermark, and the late groups
    IF through <> old_through OR w IS NOT NULL THEN
        -- the state columns of qoe.qoe_5min and how each merges
        SELECT r.merged, r.cols, r.replaced INTO merge, cols, sets FROM qoe.rollup_state_sql() r;
        -- each level after its source (whose windows it merges are then closed
        -- and built); the level windows to build: those over the queued
        -- groups that have ended by the new watermark, and every group of
        -- the windows that ended since the previous watermark
        FOR l IN SELECT * FROM qoe.rollup_levels WHERE source IS NOT NULL
                  ORDER BY grain, cardinality(dims) DESC LOOP
            SELECT string_agg(CASE WHEN x.dim = ANY (l.dims) THEN format('%%1$s.%I', x.dim)
                                   ELSE format('NULL::%s', x.typ) END || ' AS ' || x.dim, ', '),
                   coalesce(string_agg(format('%%1$s.%I %s k.%I', x.dim,
                                              CASE x.dim WHEN 'content_id' THEN 'OPERATOR(pg_catalog.=)'
                                                         ELSE 'IS NOT DISTINCT FROM' END, x.dim), ' AND ')
                            FILTER (WHERE x.dim = ANY (l.dims)), 'true')
              INTO keys, on_rollup
              FROM (VALUES (1, 'content_id', 'bigint'), (2, 'country', 'text'),
                           (3, 'device_type', 'text'), (4, 'cdn_pop', 'text')) x(n, dim, typ);
            on_source := format(on_rollup, 's');
            on_rollup := format(on_rollup, 'r');
            source_rel := CASE l.source WHEN '5min' THEN 'qoe.qoe_5min' ELSE 'qoe.qoe_rollups' END;
            of_source := CASE l.source WHEN '5min' THEN 'true'
                         ELSE format('s.level OPERATOR(pg_catalog.=) %L', l.source) END;
            EXECUTE format($q$
                SELECT array_agg(k.window_start), array_agg(k.content_id), array_agg(k.country),
                       array_agg(k.device_type), array_agg(k.cdn_pop)
                  FROM (SELECT pg_catalog.date_bin(%1$L, t.w, %2$L) AS window_start, %3$s
                          FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5)) AS t(w, content_id, country, device_type, cdn_pop)
                         WHERE pg_catalog.date_bin(%1$L, t.w, %2$L) OPERATOR(pg_catalog.+) %1$L::interval OPERATOR(pg_catalog.<=) $7
                        UNION
                        SELECT pg_catalog.date_bin(%1$L, s.window_start, %2$L), %4$s
                          FROM %5$s s
                         WHERE %6$s AND s.window_start OPERATOR(pg_catalog.>=) pg_catalog.date_bin(%1$L, $6, %2$L)
                           AND s.window_start OPERATOR(pg_catalog.<) pg_catalog.date_bin(%1$L, $7, %2$L)) k$q$,
                l.grain, origin, format(keys, 't'), format(keys, 's'), source_rel, of_source)
                INTO kw, kc, kco, kd, kpop USING w, c, co, d, pop, old_through, through;
            CONTINUE WHEN kw IS NULL;
            EXECUTE format($q$
                WITH k AS (
                    SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5))
                        AS k(window_start, content_id, country, device_type, cdn_pop)),
                merged AS MATERIALIZED (
                    SELECT %L AS level, k.window_start, k.content_id, k.country, k.device_type, k.cdn_pop, %s
                      FROM k
                      JOIN %s s ON %s AND pg_catalog.date_bin(%L::interval, s.window_start, %L::timestamptz) OPERATOR(pg_catalog.=) k.window_start
                               AND s.window_start OPERATOR(pg_catalog.>=) $6 AND s.window_start OPERATOR(pg_catalog.<) $7
                               AND %s
                     GROUP BY k.window_start, k.content_id, k.country, k.device_type, k.cdn_pop),
                kept AS (
                    INSERT INTO qoe.qoe_rollups (level, window_start, content_id, country, device_type, cdn_pop, %s)
                    SELECT * FROM merged
                        ON CONFLICT ON CONSTRAINT qoe_rollups_group DO UPDATE SET %s
                    RETURNING 1),
                gone AS (
                    DELETE FROM qoe.qoe_rollups r
                     USING (SELECT window_start, content_id, country, device_type, cdn_pop FROM k
                            EXCEPT ALL
                            SELECT window_start, content_id, country, device_type, cdn_pop FROM merged) k
                     WHERE r.level OPERATOR(pg_catalog.=) %L AND r.window_start OPERATOR(pg_catalog.=) k.window_start
                       AND r.window_start OPERATOR(pg_catalog.>=) $6 AND r.window_start OPERATOR(pg_catalog.<) $7
                       AND %s
                    RETURNING 1)
                SELECT (SELECT pg_catalog.count(*) FROM kept) OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM gone)$q$,
                l.level, merge, source_rel, of_source, l.grain, origin, on_source,
                cols, sets, l.level, on_rollup)
                INTO n USING kw, kc, kco, kd, kpop, (SELECT min(x) FROM pg_catalog.unnest(kw) x),
                             (SELECT max(x) FROM pg_catalog.unnest(kw) x) + l.grain;
            written := written + n;
        END LOOP;
    END IF;
    -- last: a merge holds the row for its whole run, so this waits for one
    -- (beyond the scheduler's lock_timeout, half of deadlock_timeout, which
    -- would throw the build away while merges catch up; a merge holding the
    -- row waits for no lock, so no deadlock runs through this wait), and the
    -- next merge waits for this commit
    wait := pg_catalog.current_setting('lock_timeout');
    PERFORM pg_catalog.set_config('lock_timeout', '60s', true);
    UPDATE qoe.rollup_status SET levels_through = through, last_level_rows = written
     WHERE levels_through IS DISTINCT FROM through OR last_level_rows IS DISTINCT FROM written;
    PERFORM pg_catalog.set_config('lock_timeout', wait, true);
    RETURN written;
END
$$;
COMMENT ON FUNCTION qoe.refresh_rollup_levels() IS
    'Builds, level after level of qoe.rollup_levels, the qoe.qoe_rollups windows that the merges closed (up to qoe.rollup_status.closed_through) since the watermark levels_through, and rebuilds those over the late groups of qoe.rollup_levels_pending; then moves levels_through. One call at a time (it locks qoe.qoe_rollups against other writers, not readers). Run by the scheduler every qoe.rollup_levels_interval, and by qoe.refresh_rollups(); returns the level rows written or removed';

-- work_mem: the deltas of a busy second (tens of thousands of rows of 24
-- sums) are summed in one hash table and the levels sort their groups; at
-- the default 4MB both spilled to disk. No JIT: the merge's estimates pass
-- its threshold, and compiling cost 60 ms of each refresh (50,000 deltas).
CREATE FUNCTION qoe.refresh_rollups(build_levels boolean DEFAULT true) RETURNS bigint LANGUAGE plpgsql
    SET work_mem = '64MB' SET jit = off AS $$
DECLARE
    origin constant timestamptz := '2000-01-01 00:00+00';
    -- about 0.45 s of building (4.5 us a source row)
    inline_rows constant bigint := 100000;
    g record;
    closed timestamptz;
    built timestamptz;
    -- qoe.qoe_5min_by_title holds the windows from here on
    by_title_from timestamptz;
    by_title_was timestamptz;
    state record;
    lateness interval;
    idle_timeout interval;
    behind timestamptz;
BEGIN
    -- the builder's lock first, as qoe.refresh_rollup_levels() takes it,
    -- which then waits for this row
    IF build_levels THEN
        LOCK TABLE qoe.qoe_rollups IN SHARE ROW EXCLUSIVE MODE;
    END IF;
    -- every table the merge writes or builds from, before the status row:
    -- a merge holding the row waits for no lock, so a build waiting for the
    -- row (its last statement) is never part of a deadlock with a TRUNCATE
    -- or DDL queued behind that build (doc/rollups.md, Locks)
    LOCK TABLE qoe.session_window_deltas, qoe.session_windows, qoe.qoe_5min,
               qoe.qoe_5min_by_title, qoe.rollup_levels_pending IN ROW EXCLUSIVE MODE;
    LOCK TABLE qoe.rollup_levels, qoe.source_offsets IN ACCESS SHARE MODE;
    -- one merge at a time; writers only append to qoe.session_window_deltas
    SELECT closed_through, allowed_lateness, source_idle_timeout, titles_from,
           greatest(titles_from, levels_through)
      INTO closed, lateness, idle_timeout, by_title_was, by_title_from
      FROM qoe.rollup_status FOR UPDATE;
    -- the windows per title follow the levels: those the levels hold go
    IF by_title_from > by_title_was THEN
        DELETE FROM qoe.qoe_5min_by_title WHERE window_start < by_title_from;
    END IF;
    -- how far every Kafka partition whose event time moved (or that a worker
    -- took) within the idle timeout has stored (-infinity: one has stored
    -- no event yet; qoe.source_offsets.event_time_at says when), read
    -- before the deltas are taken: a batch committed in between (each
    -- statement has its own snapshot) has its deltas taken, not its event
    -- time counted; read after, its event time could close the windows of
    -- deltas this merge did not take
    SELECT min(coalesce(o.latest_event_time, '-infinity')) INTO behind
      FROM qoe.source_offsets o
     WHERE idle_timeout > interval '0' AND o.event_time_at > now() - idle_timeout;
    -- the committed deltas, summed per session, window and attributes, added
    -- to the stored row of that key in place (or stored as a new row)
    WITH taken AS (DELETE FROM qoe.session_window_deltas RETURNING *),
    sums AS MATERIALIZED (
        SELECT session_id, window_start, user_id, content_id, country, device_type, cdn_pop,
               qoe.bigint_sums(events, attempts, plays, ebvs, start_failures, playback_failures, vst_count,
                               vst_ms, watch_ms, stall_ms, stall_count, seek_stall_ms, seek_stall_count,
                               paused_ms, bitrate_x_watch, bitrate_switches, bitrate_downswitches,
                               dropped_frames, completions, score_x_watch, scored_sessions, good_sessions,
                               fatal_errors, nonfatal_errors) AS t
          FROM taken
         GROUP BY session_id, window_start, user_id, content_id, country, device_type, cdn_pop),
    changed AS (
        INSERT INTO qoe.session_windows AS s
        SELECT session_id, window_start, user_id, content_id, country, device_type, cdn_pop,
               t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11], t[12],
               t[13], t[14], t[15], t[16], t[17], t[18], t[19], t[20], t[21], t[22], t[23],
               t[24]
          FROM sums
        ON CONFLICT ON CONSTRAINT session_windows_key DO UPDATE SET
               events = s.events + excluded.events,
               attempts = s.attempts + excluded.attempts,
               plays = s.plays + excluded.plays,
               ebvs = s.ebvs + excluded.ebvs,
               start_failures = s.start_failures + excluded.start_failures,
               playback_failures = s.playback_failures + excluded.playback_failures,
               vst_count = s.vst_count + excluded.vst_count,
               vst_ms = s.vst_ms + excluded.vst_ms,
               watch_ms = s.watch_ms + excluded.watch_ms,
               stall_ms = s.stall_ms + excluded.stall_ms,
               stall_count = s.stall_count + excluded.stall_count,
               seek_stall_ms = s.seek_stall_ms + excluded.seek_stall_ms,
               seek_stall_count = s.seek_stall_count + excluded.seek_stall_count,
               paused_ms = s.paused_ms + excluded.paused_ms,
               bitrate_x_watch = s.bitrate_x_watch + excluded.bitrate_x_watch,
               bitrate_switches = s.bitrate_switches + excluded.bitrate_switches,
               bitrate_downswitches = s.bitrate_downswitches + excluded.bitrate_downswitches,
               dropped_frames = s.dropped_frames + excluded.dropped_frames,
               completions = s.completions + excluded.completions,
               score_x_watch = s.score_x_watch + excluded.score_x_watch,
               scored_sessions = s.scored_sessions + excluded.scored_sessions,
               good_sessions = s.good_sessions + excluded.good_sessions,
               fatal_errors = s.fatal_errors + excluded.fatal_errors,
               nonfatal_errors = s.nonfatal_errors + excluded.nonfatal_errors
        RETURNING s.ctid AS tid, s.window_start, s.content_id, s.country, s.device_type, s.cdn_pop,
                  s.user_id, s.xmax = 0 AS stored_new,
                  -- events first: nearly every row has some, which ends the test
                  s.events = 0
                  AND s.attempts = 0
                  AND s.plays = 0
                  AND s.ebvs = 0
                  AND s.start_failures = 0
                  AND s.playback_failures = 0
                  AND s.vst_count = 0
                  AND s.vst_ms = 0
                  AND s.watch_ms = 0
                  AND s.stall_ms = 0
                  AND s.stall_count = 0
                  AND s.seek_stall_ms = 0
                  AND s.seek_stall_count = 0
                  AND s.paused_ms = 0
                  AND s.bitrate_x_watch = 0
                  AND s.bitrate_switches = 0
                  AND s.bitrate_downswitches = 0
                  AND s.dropped_frames = 0
                  AND s.completions = 0
                  AND s.score_x_watch = 0
                  AND s.scored_sessions = 0
                  AND s.good_sessions = 0
                  AND s.fatal_errors = 0
                  AND s.nonfatal_errors = 0 AS nothing),
    -- per group (window, title, country, device type, POP): what the deltas
    -- add, and whether they only add. A digest and an hll cannot subtract: a
    -- group where a row came to nothing or a VST was taken back or changed
    -- (a late event, a session rebuilt under new attributes) is
    -- re-aggregated from its rows below; every other group, nearly all of
    -- them, takes the sums, the VSTs first counted and the viewers of its
    -- new rows on top of its stored state, however many rows it holds.
    -- A VST figure moves only with its count (src/analytics/rollup.c).
    -- Viewers are unioned as one-viewer sketches by qoe.hll_merge, here and
    -- in the re-aggregation: hll_add_agg gives the same sketch but allocates
    -- a 128 kB state per group.
    touched AS (
        SELECT window_start, content_id, country, device_type, cdn_pop,
               bool_or(nothing) OR bool_or(t[7] < 0 OR (t[7] = 0 AND t[8] <> 0)) AS rebuild,
               count(*) FILTER (WHERE stored_new) AS new_rows,
               qoe.hll_merge(hll_add(hll_empty(), hll_hash_bigint(user_id))) FILTER (WHERE stored_new) AS viewers,
               qoe.bigint_sums(t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[9], t[10], t[11], t[12], t[13],
                               t[14], t[15], t[16], t[17], t[18], t[19], t[20], t[21], t[22], t[23], t[24]) AS a,
               qoe.tdigest_agg(t[8]::float8) FILTER (WHERE t[7] = 1) AS vst_digest,
               count(*) FILTER (WHERE t[7] = 1 AND t[8] < 1000) AS vst_lt_1s,
               count(*) FILTER (WHERE t[7] = 1 AND t[8] >= 1000 AND t[8] < 2000) AS vst_1_2s,
               count(*) FILTER (WHERE t[7] = 1 AND t[8] >= 2000 AND t[8] < 4000) AS vst_2_4s,
               count(*) FILTER (WHERE t[7] = 1 AND t[8] >= 4000 AND t[8] < 8000) AS vst_4_8s,
               count(*) FILTER (WHERE t[7] = 1 AND t[8] >= 8000) AS vst_ge_8s
          FROM (SELECT window_start, content_id, country, device_type, cdn_pop, user_id, stored_new,
                       nothing, NULL::bigint[] AS t
                  FROM changed
                UNION ALL
                SELECT window_start, content_id, country, device_type, cdn_pop, NULL, false, false, t
                  FROM sums) x
         GROUP BY window_start, content_id, country, device_type, cdn_pop),
    -- what the groups that only add take, as qoe_5min rows (added below per
    -- title too)
    grown AS (
        SELECT ROW(window_start, content_id, country, device_type, cdn_pop, new_rows,
                   a[1], a[2], a[3], a[4], a[5], a[6], vst_digest, a[7],
                   vst_lt_1s, vst_1_2s, vst_2_4s, vst_4_8s, vst_ge_8s,
                   a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[17], a[18], a[19],
                   a[20], a[21], a[22], a[23], coalesce(viewers, hll_empty()))::qoe.qoe_5min AS r
          FROM touched
         WHERE NOT rebuild),
    added AS (
        INSERT INTO qoe.qoe_5min AS q
        SELECT (r).* FROM grown
        ON CONFLICT ON CONSTRAINT qoe_5min_group DO UPDATE SET
               sessions = q.sessions + excluded.sessions,
               events = q.events + excluded.events,
               attempts = q.attempts + excluded.attempts,
               plays = q.plays + excluded.plays,
               ebvs = q.ebvs + excluded.ebvs,
               start_failures = q.start_failures + excluded.start_failures,
               playback_failures = q.playback_failures + excluded.playback_failures,
               vst_digest = CASE WHEN excluded.vst_digest IS NULL THEN q.vst_digest
                                 WHEN q.vst_digest IS NULL THEN excluded.vst_digest
                                 ELSE (SELECT qoe.tdigest_merge(v.d)
                                         FROM (VALUES (q.vst_digest), (excluded.vst_digest)) v(d)) END,
               vst_count = q.vst_count + excluded.vst_count,
               vst_lt_1s = q.vst_lt_1s + excluded.vst_lt_1s,
               vst_1_2s = q.vst_1_2s + excluded.vst_1_2s,
               vst_2_4s = q.vst_2_4s + excluded.vst_2_4s,
               vst_4_8s = q.vst_4_8s + excluded.vst_4_8s,
               vst_ge_8s = q.vst_ge_8s + excluded.vst_ge_8s,
               watch_ms = q.watch_ms + excluded.watch_ms,
               stall_ms = q.stall_ms + excluded.stall_ms,
               stall_count = q.stall_count + excluded.stall_count,
               seek_stall_ms = q.seek_stall_ms + excluded.seek_stall_ms,
               seek_stall_count = q.seek_stall_count + excluded.seek_stall_count,
               paused_ms = q.paused_ms + excluded.paused_ms,
               bitrate_x_watch = q.bitrate_x_watch + excluded.bitrate_x_watch,
               bitrate_switches = q.bitrate_switches + excluded.bitrate_switches,
               bitrate_downswitches = q.bitrate_downswitches + excluded.bitrate_downswitches,
               dropped_frames = q.dropped_frames + excluded.dropped_frames,
               completions = q.completions + excluded.completions,
               score_x_watch = q.score_x_watch + excluded.score_x_watch,
               scored_sessions = q.scored_sessions + excluded.scored_sessions,
               good_sessions = q.good_sessions + excluded.good_sessions,
               fatal_errors = q.fatal_errors + excluded.fatal_errors,
               nonfatal_errors = q.nonfatal_errors + excluded.nonfatal_errors,
               unique_viewers = CASE WHEN excluded.unique_viewers IS NULL THEN q.unique_viewers
                                     ELSE hll_union(q.unique_viewers, excluded.unique_viewers) END),
    -- groups of windows closed already (late data): their level windows may
    -- be built, or being built from a snapshot without this change
    late AS (
        INSERT INTO qoe.rollup_levels_pending
        SELECT window_start, content_id, country, device_type, cdn_pop
          FROM touched
         WHERE window_start < closed)
    SELECT (SELECT array_agg(tid) FROM changed WHERE nothing) AS gone,
           (SELECT array_agg(r) FROM grown WHERE (r).window_start >= by_title_from) AS grown,
           (SELECT array_agg(DISTINCT window_start) FROM touched) AS windows,
           max(window_start) AS latest,
           array_agg(window_start) FILTER (WHERE rebuild) AS rw, array_agg(content_id) FILTER (WHERE rebuild) AS rc,
           array_agg(country) FILTER (WHERE rebuild) AS rco, array_agg(device_type) FILTER (WHERE rebuild) AS rd,
           array_agg(cdn_pop) FILTER (WHERE rebuild) AS rpop
      INTO g
      FROM touched;
    -- rows that came to nothing (a rebuilt session took back what it gave)
    IF g.gone IS NOT NULL THEN
        DELETE FROM qoe.session_windows WHERE ctid = ANY (g.gone);
    END IF;
    IF g.rw IS NOT NULL THEN
        -- the groups whose deltas took something back, re-aggregated
        DELETE FROM qoe.qoe_5min q
         USING unnest(g.rw, g.rc, g.rco, g.rd, g.rpop) AS t(w, c, co, d, pop)
         WHERE q.window_start = t.w AND q.content_id = t.c
           AND q.country IS NOT DISTINCT FROM t.co AND q.device_type IS NOT DISTINCT FROM t.d
           AND q.cdn_pop IS NOT DISTINCT FROM t.pop;
        INSERT INTO qoe.qoe_5min
        SELECT s.window_start, s.content_id, s.country, s.device_type, s.cdn_pop,
               count(*) AS sessions, qoe.bigint_sum(s.events), qoe.bigint_sum(s.attempts), qoe.bigint_sum(s.plays), qoe.bigint_sum(s.ebvs),
               qoe.bigint_sum(s.start_failures), qoe.bigint_sum(s.playback_failures),
               qoe.tdigest_agg(s.vst_ms::float8) FILTER (WHERE s.vst_count = 1),
               count(*) FILTER (WHERE s.vst_count = 1),
               count(*) FILTER (WHERE s.vst_count = 1 AND s.vst_ms < 1000),
               count(*) FILTER (WHERE s.vst_count = 1 AND s.vst_ms >= 1000 AND s.vst_ms < 2000),
               count(*) FILTER (WHERE s.vst_count = 1 AND s.vst_ms >= 2000 AND s.vst_ms < 4000),
               count(*) FILTER (WHERE s.vst_count = 1 AND s.vst_ms >= 4000 AND s.vst_ms < 8000),
               count(*) FILTER (WHERE s.vst_count = 1 AND s.vst_ms >= 8000),
               qoe.bigint_sum(s.watch_ms), qoe.bigint_sum(s.stall_ms), qoe.bigint_sum(s.stall_count), qoe.bigint_sum(s.seek_stall_ms),
               qoe.bigint_sum(s.seek_stall_count), qoe.bigint_sum(s.paused_ms), qoe.bigint_sum(s.bitrate_x_watch),
               qoe.bigint_sum(s.bitrate_switches), qoe.bigint_sum(s.bitrate_downswitches), qoe.bigint_sum(s.dropped_frames),
               qoe.bigint_sum(s.completions), qoe.bigint_sum(s.score_x_watch), qoe.bigint_sum(s.scored_sessions),
               qoe.bigint_sum(s.good_sessions), qoe.bigint_sum(s.fatal_errors), qoe.bigint_sum(s.nonfatal_errors),
               qoe.hll_merge(hll_add(hll_empty(), hll_hash_bigint(s.user_id)))
          FROM qoe.session_windows s
          JOIN unnest(g.rw, g.rc, g.rco, g.rd, g.rpop) AS t(w, c, co, d, pop)
            ON s.window_start = t.w AND s.content_id = t.c
           AND s.country IS NOT DISTINCT FROM t.co AND s.device_type IS NOT DISTINCT FROM t.d
           AND s.cdn_pop IS NOT DISTINCT FROM t.pop
         GROUP BY s.window_start, s.content_id, s.country, s.device_type, s.cdn_pop;
    END IF;
    -- per title: what its groups took, added to its row; a title with a
    -- group re-aggregated above merged again from its groups
    IF g.grown IS NOT NULL OR g.rw IS NOT NULL THEN
        SELECT * INTO state FROM qoe.rollup_state_sql();
    END IF;
    IF g.grown IS NOT NULL THEN
        EXECUTE format($q$
            INSERT INTO qoe.qoe_5min_by_title AS q
            SELECT s.window_start, s.content_id, NULL, NULL, NULL, %s
              FROM pg_catalog.unnest($1) s
             WHERE (s.window_start, s.content_id) NOT IN (SELECT * FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)))
             GROUP BY s.window_start, s.content_id
            ON CONFLICT ON CONSTRAINT qoe_5min_by_title_key DO UPDATE SET %s$q$, state.merged, state.added)
            USING g.grown, g.rw, g.rc;
    END IF;
    IF g.rw IS NOT NULL THEN
        DELETE FROM qoe.qoe_5min_by_title q
         USING unnest(g.rw, g.rc) AS t(w, c)
         WHERE q.content_id = t.c AND q.window_start = t.w;
        EXECUTE format($q$
            INSERT INTO qoe.qoe_5min_by_title
            SELECT s.window_start, s.content_id, NULL, NULL, NULL, %s
              FROM qoe.qoe_5min s
             WHERE (s.window_start, s.content_id) IN (SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) t(w, c)
                                                   WHERE t.w OPERATOR(pg_catalog.>=) $3)
             GROUP BY s.window_start, s.content_id$q$, state.merged)
            USING g.rw, g.rc, by_title_from;
    END IF;
    -- the windows closed now: lateness counts from the latest window merged
    -- (event time: history loaded fast closes its windows as it goes), but
    -- from no later than the newest event stored from any Kafka partition
    -- that showed progress within the idle timeout (behind, above),
    -- and not at all while such a partition has stored no event yet (a
    -- watermark, the minimum over the inputs: partitions consumed unevenly,
    -- one worker behind another, and what the slower ones store next would
    -- be late, their groups' level windows built again and again), at most
    -- now() (an event stamped ahead), on a window boundary, forward only
    UPDATE qoe.rollup_status
       SET last_run = clock_timestamp(),
           last_windows = coalesce(cardinality(g.windows), 0),
           sources_through = behind,
           titles_from = by_title_from,
           -- behind is NULL when no partition holds: least() then skips it
           closed_through = CASE WHEN g.latest IS NULL OR behind = '-infinity' THEN closed
                                 ELSE greatest(closed, date_bin('5 min', least(g.latest, behind, now()) - lateness, origin)) END
    RETURNING levels_through, closed_through INTO built, closed;
    IF build_levels THEN
        PERFORM qoe.refresh_rollup_levels();
    ELSIF closed > built AND built > '-infinity'
          AND (SELECT count(*) FROM (SELECT FROM qoe.qoe_5min q
                                      WHERE q.window_start >= date_bin('1 hour', built, origin)
                                        AND q.window_start < closed
                                      LIMIT inline_rows + 1) x) <= inline_rows THEN
        -- a small build (what the hour's level reads is under inline_rows
        -- rows of qoe_5min) is done here, after the merge: built beside
        -- ingest by the scheduler process instead, the levels of
        -- bench/ingest_sql's bulk load cost ingest 0.71-0.75 of its speed
        -- rather than 0.85-0.90; a large one (a large live audience: 1 s
        -- at 260,000 viewers) is left to the scheduler, or when it is
        -- building already
        BEGIN
            LOCK TABLE qoe.qoe_rollups IN SHARE ROW EXCLUSIVE MODE NOWAIT;
            PERFORM qoe.refresh_rollup_levels();
        EXCEPTION WHEN lock_not_available THEN
            NULL;
        END;
    END IF;
    RETURN coalesce(cardinality(g.windows), 0);
END
$$;
COMMENT ON FUNCTION qoe.refresh_rollups(boolean) IS
    'Merges the committed qoe.session_window_deltas into qoe.session_windows, adds them to the groups they touch in qoe.qoe_5min (re-aggregating from qoe.session_windows a group where they take back what a digest or hll cannot subtract), queues the groups of closed windows in qoe.rollup_levels_pending and moves qoe.rollup_status.closed_through; then builds the coarser levels in the same transaction (qoe.refresh_rollup_levels()): always with build_levels (the default), and without it (the scheduler''s call) only a build under 100,000 rows of qoe_5min, leaving a larger one to the scheduler process; returns how many windows the deltas touch';

-- rank_by and top_n (a top-N dashboard): each bucket's groups are ranked on
-- their counters first and the sketches merged for the top_n only. The
-- 24-hour per-title dashboard shows 50 titles of 2,000, and merging every
-- title's digests and hlls was about 40 % of its time (bench/dashboard)
CREATE FUNCTION qoe.qoe_metrics(from_ts timestamptz, to_ts timestamptz,
                                grain interval DEFAULT NULL, group_by text[] DEFAULT '{}',
                                rank_by text DEFAULT NULL, top_n integer DEFAULT NULL,
                                real_time boolean DEFAULT false, content_ids bigint[] DEFAULT NULL)
RETURNS TABLE (bucket timestamptz, content_id bigint, country text, device_type text,
               cdn_pop text, attempts bigint, plays bigint, ebvs_rate float8,
               video_start_failure_rate float8, playback_failure_rate float8,
               vst_p50_ms float8, vst_p95_ms float8, vst_p99_ms float8,
               rebuffering_ratio float8, stalls_per_hour float8, avg_bitrate_kbps float8,
               completion_rate float8, qoe_score float8, good_share float8,
               watch_hours float8, unique_viewers bigint)
-- serial: in a parallel plan every worker meets nearly every group, and the
-- leader combines two or three partial sketches per group, which took the
-- 24-hour dashboard from about 60 ms to 124-165 ms (doc/benchmarks.md). No
-- JIT: the ranked 24-hour dashboard's estimate passed its threshold at 20 M
-- events, and compiling took 70-100 ms of a query that runs in 30-40
LANGUAGE plpgsql STABLE SET max_parallel_workers_per_gather = 0 SET jit = off AS $$
DECLARE
    dims constant text[] := '{content_id,country,device_type,cdn_pop}';
    origin constant timestamptz := '2000-01-01 00:00+00';
    -- the metrics in output order, each computed from the merged state of
    -- group %1$s: s the counters' sums (qoe.bigint_sums below), vst the three
    -- percentiles, unique_viewers the hll's count
    metrics constant text[] := '{attempts,plays,ebvs_rate,video_start_failure_rate,'
        'playback_failure_rate,vst_p50_ms,vst_p95_ms,vst_p99_ms,rebuffering_ratio,'
        'stalls_per_hour,avg_bitrate_kbps,completion_rate,qoe_score,good_share,'
        'watch_hours,unique_viewers}';
    exprs constant text[] := ARRAY[
        '%1$s.s[1]', '%1$s.s[2]', '%1$s.s[3]::float8 / nullif(%1$s.s[1], 0)',
        '%1$s.s[4]::float8 / nullif(%1$s.s[1], 0)', '%1$s.s[5]::float8 / nullif(%1$s.s[1], 0)',
        '%1$s.vst[1]', '%1$s.vst[2]', '%1$s.vst[3]', '%1$s.s[6]::float8 / nullif(%1$s.s[8], 0)',
        '%1$s.s[7] / nullif(%1$s.s[8] / 3600000.0::float8, 0)', '%1$s.s[9]::float8 / nullif(%1$s.s[8], 0)',
        '%1$s.s[10]::float8 / nullif(%1$s.s[2], 0)', '%1$s.s[11]::float8 / nullif(%1$s.s[8], 0)',
        '%1$s.s[12]::float8 / nullif(%1$s.s[13], 0)', '%1$s.s[8] / 3600000.0::float8',
        '%1$s.unique_viewers'];
    sketched constant text[] := '{vst_p50_ms,vst_p95_ms,vst_p99_ms,unique_viewers}';
    rankable text[];
    d text;
    cols text := '';
    keys text := '';
    -- a ranked group's rows: its bucket and the dimensions grouped by
    matched text := 'true';
    bucket_expr text := '$1';
    sums text;
    sketches text;
    source text;
    merged text;
    ordering text;
    lv record;
    gaps tstzrange[];
    gap tstzrange;
    rest tstzrange[];
    lo timestamptz;
    hi timestamptz;
    through timestamptz;
    -- qoe.qoe_5min_by_title holds the windows from here on
    by_title_from timestamptz;
    cut timestamptz;
    -- 5-minute windows holding a queued late group, in order
    holes timestamptz[];
    hole timestamptz;
    first timestamptz;
    piece text;
    pieces text[] := '{}';
    -- with real_time: the committed deltas of the range no merge has taken,
    -- summed per window, title and the other dimensions grouped by
    unmerged text;
    unmerged_keys text := 'window_start, content_id';
    -- the columns of the levels read: the window for a grain, the dimensions
    -- grouped by, the state merged (each column a row carries costs a merge)
    read text := 'q.attempts, q.plays, q.ebvs, q.start_failures, q.playback_failures, q.vst_digest, '
        'q.stall_ms, q.stall_count, q.watch_ms, q.bitrate_x_watch, q.completions, '
        'q.score_x_watch, q.good_sessions, q.scored_sessions, q.unique_viewers';
BEGIN
    IF from_ts IS NULL OR to_ts IS NULL THEN
        RAISE EXCEPTION 'from_ts and to_ts must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF from_ts > to_ts THEN
        RAISE EXCEPTION 'from_ts is after to_ts'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The range [%s, %s) holds no time.', from_ts, to_ts),
                  HINT = 'Give the earlier time first.';
    END IF;
    FOREACH d IN ARRAY dims LOOP
        IF d = ANY (group_by) THEN
            cols := cols || format(', q.%I', d);
            keys := keys || format(', q.%I', d);
            read := read || format(', q.%I', d);
            IF d <> 'content_id' THEN
                unmerged_keys := unmerged_keys || format(', %I', d);
            END IF;
            -- hashable on the coalesced text, exact by IS NOT DISTINCT FROM
            -- (NULL, an unknown value, is a group of its own); content_id is
            -- never NULL in a level that keeps it
            matched := matched || CASE d WHEN 'content_id' THEN ' AND q.content_id = t.content_id'
                                   ELSE format(' AND coalesce(q.%1$I, '''') = coalesce(t.%1$I, '''')'
                                               ' AND q.%1$I IS NOT DISTINCT FROM t.%1$I', d) END;
        ELSE
            cols := cols || format(', NULL::%s AS %I', CASE d WHEN 'content_id' THEN 'bigint' ELSE 'text' END, d);
        END IF;
    END LOOP;
    FOREACH d IN ARRAY coalesce(group_by, '{}') LOOP
        IF d IS NULL OR NOT d = ANY (dims) THEN
            RAISE EXCEPTION 'unknown dimension "%" in group_by', d
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'The rollups are kept by content_id, country, device_type and cdn_pop.',
                      HINT = 'Valid dimensions: content_id, country, device_type, cdn_pop.';
        END IF;
        IF array_position(group_by, d, array_position(group_by, d) + 1) IS NOT NULL THEN
            RAISE EXCEPTION 'dimension "%" is given twice in group_by', d
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('group_by is %s.', group_by),
                      HINT = 'Name each dimension once.';
        END IF;
    END LOOP;
    IF grain IS NOT NULL THEN
        IF grain <= interval '0' OR extract(month FROM grain) <> 0 OR extract(year FROM grain) <> 0
           OR (extract(epoch FROM grain) * 1000)::bigint % 300000 <> 0 THEN
            RAISE EXCEPTION 'grain "%" is not a positive multiple of 5 minutes', grain
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use for example ''5 min'', ''1 hour'' or ''1 day''; months are not supported.';
        END IF;
        bucket_expr := format('date_bin($3, q.window_start, %L)', origin);
        read := read || ', q.window_start';
        matched := matched || format(' AND %s = t.bucket', bucket_expr);
    END IF;
    IF (rank_by IS NULL) <> (top_n IS NULL) THEN
        RAISE EXCEPTION 'rank_by and top_n go together'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('rank_by is %s, top_n is %s.', coalesce(quote_literal(rank_by), 'NULL'),
                                  coalesce(top_n::text, 'NULL')),
                  HINT = 'Give both for the top groups of each bucket (rank_by => ''plays'', top_n => 50), or neither for every group.';
    END IF;
    IF top_n < 1 THEN
        RAISE EXCEPTION 'top_n must be at least 1'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('top_n is %s.', top_n),
                  HINT = 'Give the number of groups wanted per bucket, or neither rank_by nor top_n for every group.';
    END IF;
    rankable := ARRAY(SELECT m FROM unnest(metrics) m WHERE NOT m = ANY (sketched));
    IF NOT rank_by = ANY (rankable) THEN
        RAISE EXCEPTION USING
            MESSAGE = CASE WHEN rank_by = ANY (sketched) THEN format('cannot rank groups by sketch metric "%s"', rank_by)
                           ELSE format('unknown metric "%s" in rank_by', rank_by) END,
            ERRCODE = 'invalid_parameter_value',
            DETAIL = 'Groups are ranked on the metrics computed from counters, before any sketch (VST digest, viewers'' hll) is merged.',
            HINT = 'Valid rank_by metrics: ' || array_to_string(rankable, ', ') || '.';
    END IF;
    -- the 5-minute windows starting in [from_ts, to_ts): [lo, hi)
    lo := date_bin('5 min', from_ts, origin);
    lo := lo + CASE WHEN lo < from_ts THEN interval '5 min' ELSE interval '0' END;
    hi := date_bin('5 min', to_ts, origin);
    hi := hi + CASE WHEN hi < to_ts THEN interval '5 min' ELSE interval '0' END;
    gaps := CASE WHEN lo < hi THEN ARRAY[tstzrange(lo, hi)] ELSE '{}' END;
    -- real time: what the merge will add, summed per group from the deltas
    -- (in this snapshot, a merge took a delta and added it to qoe_5min
    -- together), shaped as a qoe_5min row; a start time counted once by
    -- its session's deltas is new to its group's digest, one they take back
    -- or change, and a viewer they take back, leave at the merge, which
    -- rebuilds that group. Summed per the dimensions grouped by (and the
    -- title, for content_ids), not per qoe_5min group: a title's digest
    -- from its start times at once, not from a digest per group (the
    -- publisher's read of 400 titles at 260,000 viewers had 10,000 groups)
    IF real_time AND lo < hi THEN
        unmerged := format($q$
            SELECT %1$s FROM (
                SELECT %4$s,
                       qoe.bigint_sum(attempts) AS attempts, qoe.bigint_sum(plays) AS plays,
                       qoe.bigint_sum(ebvs) AS ebvs, qoe.bigint_sum(start_failures) AS start_failures,
                       qoe.bigint_sum(playback_failures) AS playback_failures,
                       qoe.tdigest_agg(vst_ms::float8) FILTER (WHERE vst_count = 1) AS vst_digest,
                       qoe.bigint_sum(stall_ms) AS stall_ms, qoe.bigint_sum(stall_count) AS stall_count,
                       qoe.bigint_sum(watch_ms) AS watch_ms, qoe.bigint_sum(bitrate_x_watch) AS bitrate_x_watch,
                       qoe.bigint_sum(completions) AS completions, qoe.bigint_sum(score_x_watch) AS score_x_watch,
                       qoe.bigint_sum(good_sessions) AS good_sessions,
                       qoe.bigint_sum(scored_sessions) AS scored_sessions,
                       qoe.hll_merge(hll_add(hll_empty(), hll_hash_bigint(user_id))) AS unique_viewers
                  FROM (SELECT d.session_id, d.window_start, d.user_id, d.content_id, d.country,
                               d.device_type, d.cdn_pop, qoe.bigint_sum(d.attempts) AS attempts,
                               qoe.bigint_sum(d.plays) AS plays, qoe.bigint_sum(d.ebvs) AS ebvs,
                               qoe.bigint_sum(d.start_failures) AS start_failures,
                               qoe.bigint_sum(d.playback_failures) AS playback_failures,
                               qoe.bigint_sum(d.vst_count) AS vst_count, qoe.bigint_sum(d.vst_ms) AS vst_ms,
                               qoe.bigint_sum(d.stall_ms) AS stall_ms, qoe.bigint_sum(d.stall_count) AS stall_count,
                               qoe.bigint_sum(d.watch_ms) AS watch_ms,
                               qoe.bigint_sum(d.bitrate_x_watch) AS bitrate_x_watch,
                               qoe.bigint_sum(d.completions) AS completions,
                               qoe.bigint_sum(d.score_x_watch) AS score_x_watch,
                               qoe.bigint_sum(d.good_sessions) AS good_sessions,
                               qoe.bigint_sum(d.scored_sessions) AS scored_sessions
                          FROM qoe.session_window_deltas d
                         WHERE d.window_start >= %2$L AND d.window_start < %3$L
                         GROUP BY 1, 2, 3, 4, 5, 6, 7) s
                 GROUP BY %4$s) q
             WHERE true$q$, read, lo, hi, unmerged_keys);
    END IF;
    -- covered from the coarsest grain down: at each grain the level with the
    -- fewest dimensions that keeps those grouped by reads the whole windows
    -- of the gaps (inside a bucket: its grain divides the bucket's) that
    -- ended by the watermark, the finer grains what is left at their ends
    -- and after the watermark, and the level windows over a queued late
    -- group (stale until the next build); 5min leaves nothing. The watermark
    -- and the queue are read in the snapshot of the rows (a STABLE function
    -- has one)
    SELECT s.levels_through, s.titles_from INTO through, by_title_from FROM qoe.rollup_status s;
    through := coalesce(through, '-infinity');
    by_title_from := coalesce(by_title_from, 'infinity');
    holes := ARRAY(SELECT DISTINCT p.window_start FROM qoe.rollup_levels_pending p ORDER BY 1);
    -- 5min (qoe.qoe_5min) comes last, even where a level with fewer
    -- dimensions has its grain (5min_title): it alone holds the windows after
    -- the watermark; grouped by title or not at all, qoe.qoe_5min_by_title
    -- has them from titles_from on, a row per title and window
    FOR lv IN SELECT c.level, c.grain, false AS last
                FROM (SELECT DISTINCT ON (v.grain) v.level, v.grain
                        FROM qoe.rollup_levels v
                       WHERE v.dims @> coalesce(group_by, '{}')
                         -- content_ids: only levels that keep the title
                         AND (content_ids IS NULL OR 'content_id' = ANY (v.dims))
                         AND (qoe_metrics.grain IS NULL
                              OR (extract(epoch FROM qoe_metrics.grain) * 1000)::bigint
                                               % (extract(epoch FROM v.grain) * 1000)::bigint = 0)
                       ORDER BY v.grain DESC, cardinality(v.dims), v.level) c
               WHERE c.level <> '5min'
              UNION ALL
              SELECT '5min', interval '5 min', true
              ORDER BY 3, 2 DESC LOOP
        rest := '{}';
        FOREACH gap IN ARRAY gaps LOOP
            lo := date_bin(lv.grain, lower(gap), origin);
            lo := lo + CASE WHEN lo < lower(gap) THEN lv.grain ELSE interval '0' END;
            hi := date_bin(lv.grain, upper(gap), origin);
            IF lv.level <> '5min' THEN
                hi := least(hi, date_bin(lv.grain, through, origin));
            END IF;
            IF lo < hi AND lv.level = '5min' AND NOT coalesce(group_by, '{}') && '{country,device_type,cdn_pop}' THEN
                cut := least(greatest(lo, by_title_from), hi);
                IF cut < hi THEN
                    pieces := pieces || format('SELECT %s FROM qoe.qoe_5min_by_title q WHERE q.window_start >= %L AND q.window_start < %L',
                                               read, cut, hi);
                END IF;
                hi := cut;
            END IF;
            IF lo < hi THEN
                piece := format('SELECT %s FROM %s q WHERE %s',
                    read, CASE lv.level WHEN '5min' THEN 'qoe.qoe_5min' ELSE 'qoe.qoe_rollups' END,
                    CASE lv.level WHEN '5min' THEN '' ELSE format('q.level = %L AND ', lv.level) END);
                rest := rest || tstzrange(lower(gap), lo) || tstzrange(hi, upper(gap));
                FOREACH hole IN ARRAY CASE WHEN lv.level = '5min' THEN '{}' ELSE holes END LOOP
                    first := date_bin(lv.grain, hole, origin);
                    CONTINUE WHEN first < lo OR first >= hi;
                    IF lo < first THEN
                        pieces := pieces || (piece || format('q.window_start >= %L AND q.window_start < %L', lo, first));
                    END IF;
                    rest := rest || tstzrange(first, first + lv.grain);
                    lo := first + lv.grain;
                END LOOP;
                IF lo < hi THEN
                    pieces := pieces || (piece || format('q.window_start >= %L AND q.window_start < %L', lo, hi));
                END IF;
            ELSE
                rest := rest || gap;
            END IF;
        END LOOP;
        gaps := ARRAY(SELECT r FROM unnest(rest) r WHERE NOT isempty(r));
    END LOOP;
    IF unmerged IS NOT NULL THEN
        pieces := pieces || unmerged;
    END IF;
    IF cardinality(pieces) = 0 THEN
        RETURN;
    END IF;
    -- some titles: through the title indexes of qoe_5min and the levels;
    -- into the deltas' scan too (a condition on a column grouped by)
    IF content_ids IS NOT NULL THEN
        pieces := ARRAY(SELECT p || ' AND q.content_id = ANY ($5)' FROM unnest(pieces) p);
    END IF;
    -- the counters summed exactly by one qoe.bigint_sums call per row (a
    -- sum() per column cost more than the rest; as numeric, more still),
    -- divided in double precision; the three percentiles from one
    -- interpolation of the digests' centroids (percentile_approx over
    -- digests: recompressing them into one digest first was a fifth of the
    -- dashboard's time, doc/aggregates.md)
    sums := 'qoe.bigint_sums(q.attempts, q.plays, q.ebvs, q.start_failures, q.playback_failures, '
            'q.stall_ms, q.stall_count, q.watch_ms, q.bitrate_x_watch, q.completions, '
            'q.score_x_watch, q.good_sessions, q.scored_sessions) AS s';
    sketches := 'qoe.percentile_approx(q.vst_digest, ''{0.5,0.95,0.99}''::float8[]) AS vst, '
                'round(hll_cardinality(qoe.hll_merge(q.unique_viewers)))::bigint AS unique_viewers';
    source := array_to_string(pieces, ' UNION ALL ');
    IF rank_by IS NULL THEN
        merged := format('SELECT %s AS bucket %s, %s, %s FROM (%s) q GROUP BY 1 %s',
                         bucket_expr, cols, sums, sketches, source, keys);
        ordering := 'm.bucket' || replace(keys, 'q.', 'm.');
    ELSE
        -- the groups of each bucket ranked on their counters (ties by the
        -- keys, in the order of the unranked output), then the source rows
        -- of the top_n read again for their sketches, by title where the
        -- titles are grouped (the levels' and qoe_5min's indexes lead with
        -- it): reading twice costs less than merging every group's sketches
        merged := format($q$
            WITH t AS MATERIALIZED (
                SELECT * FROM (SELECT c.*, pg_catalog.row_number() OVER (PARTITION BY c.bucket
                                           ORDER BY %1$s DESC NULLS LAST %2$s) AS rn
                                 FROM (SELECT %3$s AS bucket %4$s, %5$s FROM (%6$s) q GROUP BY 1 %7$s) c) r
                 WHERE r.rn <= $4)
            SELECT t.bucket, t.content_id, t.country, t.device_type, t.cdn_pop, t.s, t.rn, %8$s
              FROM t JOIN (%9$s) q ON %10$s
             GROUP BY t.bucket, t.content_id, t.country, t.device_type, t.cdn_pop, t.s, t.rn$q$,
            format(exprs[array_position(metrics, rank_by)], 'c'), replace(keys, 'q.', 'c.'),
            bucket_expr, cols, sums, source, keys, sketches,
            (SELECT string_agg(p || CASE WHEN 'content_id' = ANY (group_by)
                                         THEN ' AND q.content_id = ANY (ARRAY(SELECT t.content_id FROM t))'
                                         ELSE '' END, ' UNION ALL ')
               FROM unnest(pieces) p),
            matched);
        ordering := 'm.bucket, m.rn';
    END IF;
    RETURN QUERY EXECUTE format('SELECT m.bucket, m.content_id, m.country, m.device_type, m.cdn_pop, %s FROM (%s) m ORDER BY %s',
                                (SELECT string_agg(format(e, 'm'), ', ' ORDER BY i)
                                   FROM unnest(exprs) WITH ORDINALITY x(e, i)),
                                merged, ordering)
        USING from_ts, to_ts, grain, top_n, content_ids;
END
$$;
COMMENT ON FUNCTION qoe.qoe_metrics(timestamptz, timestamptz, interval, text[], text, integer, boolean, bigint[]) IS
    'QoE metrics (doc/metrics.md) of the 5-minute windows starting in [from_ts, to_ts), merged per grain bucket (NULL: one bucket, labelled from_ts) and the dimensions in group_by (content_id, country, device_type, cdn_pop; the others NULL); rows ordered by bucket and dimensions. '
    'With rank_by and top_n, only the top_n groups of each bucket by rank_by, descending (NULLs last, ties by the dimensions as ordered), in that order, their sketches alone merged: the same rows and figures as the unranked call ordered and limited so. '
    'rank_by is a metric computed from counters (attempts, plays, ebvs_rate, video_start_failure_rate, playback_failure_rate, rebuffering_ratio, stalls_per_hour, avg_bitrate_kbps, completion_rate, qoe_score, good_share, watch_hours); both or neither are given. '
    'Errors (invalid_parameter_value): from_ts after to_ts, an unknown dimension or one given twice, a grain not a positive multiple of 5 minutes or with months, a sketch or unknown rank_by, rank_by without top_n or the reverse, top_n < 1; null_value_not_allowed: a NULL from_ts or to_ts. '
    'With real_time, also the changes committed since the last merge of the rollups (qoe.session_window_deltas, summed per group as the merge will add them: TimescaleDB''s real-time aggregation): every counter and ratio as of the call''s snapshot; a start time first counted by those changes is in the percentiles and their viewers in unique_viewers, a start time or viewer they take back (a late event, a session moved to other attributes) leaves at the merge; the caller also reads qoe.session_window_deltas. '
    'With content_ids, only the windows'' rows of those titles are read: the figures of those titles alone (as if the others had no rows), for callers that want a few titles of a large audience';

-- Emptied levels hold no window: the watermarks go back to the start, the
-- next merge closes the windows again from its own, and the next build
-- builds every closed window again from qoe.qoe_5min (benchmarks empty the
-- rollups between runs of the same event times). Emptied 5-minute windows:
-- so are they per title, which then hold every window again (the merges
-- add to them from the next one on).
CREATE FUNCTION qoe.rollups_emptied() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_TABLE_NAME = 'qoe_rollups' THEN
        UPDATE qoe.rollup_status SET levels_through = '-infinity', closed_through = '-infinity';
        DELETE FROM qoe.rollup_levels_pending;
    ELSE
        DELETE FROM qoe.qoe_5min_by_title;
        UPDATE qoe.rollup_status SET titles_from = '-infinity';
    END IF;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION qoe.rollups_emptied() FROM PUBLIC;
COMMENT ON FUNCTION qoe.rollups_emptied() IS
    'Trigger function: after TRUNCATE qoe.qoe_rollups, resets the watermarks of qoe.rollup_status (levels_through, closed_through) and empties qoe.rollup_levels_pending, so that the levels are built again; after TRUNCATE qoe.qoe_5min, empties qoe.qoe_5min_by_title and resets titles_from to -infinity';
CREATE TRIGGER levels_emptied AFTER TRUNCATE ON qoe.qoe_rollups
    FOR EACH STATEMENT EXECUTE FUNCTION qoe.rollups_emptied();
COMMENT ON TRIGGER levels_emptied ON qoe.qoe_rollups IS
    'Emptied levels: the watermarks back to -infinity, so that they are built again';
CREATE TRIGGER windows_emptied AFTER TRUNCATE ON qoe.qoe_5min
    FOR EACH STATEMENT EXECUTE FUNCTION qoe.rollups_emptied();
COMMENT ON TRIGGER windows_emptied ON qoe.qoe_5min IS
    'Emptied windows: so are the windows per title (qoe.qoe_5min_by_title)';

-- the functions resolve hll's objects wherever that extension was installed
DO $$
DECLARE
    path text := format('pg_catalog, %I, pg_temp',
                        (SELECT n.nspname FROM pg_catalog.pg_extension e
                           JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
                          WHERE e.extname = 'hll'));
BEGIN
    EXECUTE format('ALTER FUNCTION qoe.refresh_rollups(boolean) SET search_path = %s', path);
    EXECUTE format('ALTER FUNCTION qoe.refresh_rollup_levels() SET search_path = %s', path);
    EXECUTE format('ALTER FUNCTION qoe.qoe_metrics(timestamptz, timestamptz, interval, text[], text, integer, boolean, bigint[]) SET search_path = %s', path);
END
$$;
