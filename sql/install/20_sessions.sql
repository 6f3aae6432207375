-- Catalog, users and viewing sessions. Sessions are maintained by the batch
-- writer in the same transaction as the events that change them.

CREATE TABLE content (
    content_id   bigint PRIMARY KEY,
    title        text,
    duration_sec real CHECK (duration_sec > 0),
    genres       text[] NOT NULL DEFAULT '{}',
    available_countries text[],
    released_at  date
);
COMMENT ON TABLE content IS 'Catalog of titles; duration_sec decides completion when events do not carry content_duration_sec';
COMMENT ON COLUMN content.available_countries IS 'ISO country codes where the title may be offered; NULL means everywhere';
COMMENT ON COLUMN content.content_id IS 'title id, the content_id events carry';
COMMENT ON COLUMN content.title IS 'title name; NULL when unknown';
COMMENT ON COLUMN content.duration_sec IS 'title duration, seconds; NULL when unknown (then completion needs content_duration_sec from the events)';
COMMENT ON COLUMN content.genres IS 'genre names; recommendations diversify on them (Jaccard similarity); empty when unknown';
COMMENT ON COLUMN content.released_at IS 'release date; NULL when unknown';
COMMENT ON CONSTRAINT content_pkey ON content IS 'One row per title';
COMMENT ON INDEX content_pkey IS 'Key of qoe.content';
COMMENT ON CONSTRAINT content_duration_sec_check ON content IS 'A known duration is positive';

CREATE TABLE users (
    user_id    bigint PRIMARY KEY,
    signup_at  timestamptz,
    country    text,
    plan       text
);
COMMENT ON TABLE users IS 'Optional subscriber attributes for cohorts and recommendations';
COMMENT ON COLUMN users.user_id IS 'viewer id, the user_id events carry';
COMMENT ON COLUMN users.signup_at IS 'when the user signed up; the cohorts of qoe.cohort_analysis; NULL when unknown (left out of the cohorts)';
COMMENT ON COLUMN users.country IS 'the user''s country; recommendations offer the titles available there (else the country of the latest session); NULL when unknown';
COMMENT ON COLUMN users.plan IS 'subscription plan name; NULL when unknown';
COMMENT ON CONSTRAINT users_pkey ON users IS 'One row per user';
COMMENT ON INDEX users_pkey IS 'Key of qoe.users';

CREATE TYPE session_state AS ENUM ('active', 'ended', 'abandoned');
COMMENT ON TYPE session_state IS 'active until a stop or fatal error ends it, or qoe.expire_sessions() finds it idle';

CREATE TABLE sessions (
    session_id        text COLLATE "C" PRIMARY KEY,
    user_id           bigint NOT NULL,
    profile_id        bigint,
    content_id        bigint NOT NULL,
    device_type       text,
    country           text,
    cdn_pop           text,
    started_at        timestamptz NOT NULL,
    first_frame_at    timestamptz,
    last_event_at     timestamptz NOT NULL,
    ended_at          timestamptz,
    state             session_state NOT NULL,
    vst_ms            integer,
    watch_ms          bigint  NOT NULL,
    stall_count       integer NOT NULL,
    stall_ms          bigint  NOT NULL,
    seek_stall_count  integer NOT NULL,
    seek_stall_ms     bigint  NOT NULL,
    paused_ms         bigint  NOT NULL,
    avg_bitrate_kbps  integer,
    peak_bitrate_kbps integer,
    bitrate_switches  integer NOT NULL,
    bitrate_downswitches integer NOT NULL,
    dropped_frames    integer NOT NULL,
    max_position_sec  real,
    content_duration_sec real,
    completed         boolean NOT NULL,
    ebvs              boolean NOT NULL,
    start_failed      boolean NOT NULL,
    playback_failed   boolean NOT NULL,
    error_count       integer NOT NULL,
    last_error_code   text,
    event_count       integer NOT NULL,
    fold_state        bytea   NOT NULL
) WITH (fillfactor = 25);

-- Three quarters of each page are left free: a batch updates most active
-- sessions of a page at once (a row is about 450 bytes), and each new version
-- must fit on the page of the old one to be a HOT update, which writes no
-- index entry. The versions of a session that die while the refresh of the
-- rollups runs cannot be pruned until its transaction ends (the horizon),
-- so a page must hold several versions of its rows: under bench/ingest_sql
-- with the rollups on, 70-72 % of the updates were HOT at fillfactor 50,
-- 86-88 % at 25 (3 % are not HOT with the rollups off, either way).
CREATE INDEX sessions_content_started_idx ON sessions (content_id, started_at);
CREATE INDEX sessions_user_idx ON sessions (user_id);
-- Only unfinished sessions are looked at by expire_sessions(),
-- qoe.concurrent_viewers and the rebuild of the Redis publisher's ledger
-- (doc/redis.md); by title, a read of some titles' viewers. Neither key
-- column changes once stored, unless a late event rebuilds the session.
CREATE INDEX sessions_active_idx ON sessions (content_id) WHERE state = 'active';

COMMENT ON TABLE sessions IS 'One row per playback session, kept current as events arrive (definitions: doc/metrics.md)';
COMMENT ON COLUMN sessions.vst_ms IS 'video start time: start request to first frame, ms; NULL when the video never started';
COMMENT ON COLUMN sessions.watch_ms IS 'time between first frame and the end of playback, less stalls (of both kinds) and pauses, ms';
COMMENT ON COLUMN sessions.stall_count IS 'connection-induced rebuffering stalls after the first frame (seek-induced ones excluded)';
COMMENT ON COLUMN sessions.stall_ms IS 'connection-induced rebuffering time after the first frame, ms (seek-induced excluded)';
COMMENT ON COLUMN sessions.seek_stall_count IS 'seek-induced stalls: buffering the client marks seek_induced, or the first after a seek before playback moves on';
COMMENT ON COLUMN sessions.seek_stall_ms IS 'time in seek-induced stalls, ms';
COMMENT ON COLUMN sessions.paused_ms IS 'time spent paused after the first frame, ms';
COMMENT ON COLUMN sessions.avg_bitrate_kbps IS 'time-weighted average bitrate over playing time (sample and hold)';
COMMENT ON COLUMN sessions.max_position_sec IS 'furthest playhead position reported, seconds; NULL when no event carried one';
COMMENT ON COLUMN sessions.completed IS 'max_position_sec reached at least 70 % of the title duration';
COMMENT ON COLUMN sessions.ebvs IS 'exit before video start: ended or abandoned without first frame and without fatal error';
COMMENT ON COLUMN sessions.start_failed IS 'video start failure: fatal error before the first frame';
COMMENT ON COLUMN sessions.playback_failed IS 'fatal error after the first frame';
COMMENT ON COLUMN sessions.fold_state IS 'internal: the running state the writer folds new events into';
COMMENT ON COLUMN sessions.session_id IS 'the events'' session_id (compared bytewise, COLLATE "C")';
COMMENT ON COLUMN sessions.user_id IS 'viewer, from the first event (event time, then event type order, then event_id)';
COMMENT ON COLUMN sessions.content_id IS 'title, from the first event (event time, then event type order, then event_id)';
COMMENT ON COLUMN sessions.profile_id IS 'from the first event that carries one; NULL if none does';
COMMENT ON COLUMN sessions.device_type IS 'from the first event that carries one; NULL if none does';
COMMENT ON COLUMN sessions.country IS 'from the first event that carries one; NULL if none does';
COMMENT ON COLUMN sessions.cdn_pop IS 'CDN point of presence, from the first event that carries one; NULL if none does';
COMMENT ON COLUMN sessions.started_at IS 'time of the first start event, else of the first event: the viewer''s request, the reference for vst_ms';
COMMENT ON COLUMN sessions.first_frame_at IS 'first frame: first first_frame event or started_at + vst_ms, whichever is earlier, else the first heartbeat with buffer_health_sec > 0; NULL if the video never started';
COMMENT ON COLUMN sessions.last_event_at IS 'time of the latest event';
COMMENT ON COLUMN sessions.ended_at IS 'time of the first stop or fatal error; NULL while not ended';
COMMENT ON COLUMN sessions.state IS 'ended once ended_at is set; abandoned when qoe.expire_sessions() found it idle longer than its timeout (default qoe.session_timeout); else active';
COMMENT ON COLUMN sessions.peak_bitrate_kbps IS 'highest bitrate_kbps reported before the end, kbps; NULL when none was';
COMMENT ON COLUMN sessions.bitrate_switches IS 'reports of a bitrate different from the current one, after the first frame and before the end';
COMMENT ON COLUMN sessions.bitrate_downswitches IS 'those bitrate switches to a lower bitrate';
COMMENT ON COLUMN sessions.dropped_frames IS 'total of the cumulative dropped_frames counter: the sum of its increases (a drop is a reset and counts in full)';
COMMENT ON COLUMN sessions.content_duration_sec IS 'largest content_duration_sec reported, else qoe.content.duration_sec, seconds; NULL when unknown';
COMMENT ON COLUMN sessions.error_count IS 'error events, fatal or not';
COMMENT ON COLUMN sessions.last_error_code IS 'error_code of the latest error event that carries one; NULL if none does';
COMMENT ON COLUMN sessions.event_count IS 'events in the session, repeats of an event_id excluded';
COMMENT ON CONSTRAINT sessions_pkey ON sessions IS 'One row per session_id';
COMMENT ON INDEX sessions_pkey IS 'Key of qoe.sessions: the writer''s probe for each event''s session';
COMMENT ON INDEX sessions_content_started_idx IS 'A title''s sessions by start time: per-title questions';
COMMENT ON INDEX sessions_user_idx IS 'A user''s sessions';
COMMENT ON INDEX sessions_active_idx IS 'Active sessions by title: what qoe.expire_sessions(), qoe.concurrent_viewers and the rebuild of the Redis publisher''s ledger look at (doc/redis.md)';
