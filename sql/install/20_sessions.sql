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

CREATE TABLE users (
    user_id    bigint PRIMARY KEY,
    signup_at  timestamptz,
    country    text,
    plan       text
);
COMMENT ON TABLE users IS 'Optional subscriber attributes for cohorts and recommendations';

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
) WITH (fillfactor = 50);

-- Half of each page is left free: a batch updates most active sessions of a
-- page at once (a row is about 450 bytes), and each new version must fit on
-- the page of the old one to be a HOT update, which writes no index entry.
-- At 80 %, 27 % of the updates were not HOT; at 50 %, 12 %.
CREATE INDEX sessions_content_started_idx ON sessions (content_id, started_at);
CREATE INDEX sessions_user_idx ON sessions (user_id);
-- Only unfinished sessions are looked at by expire_sessions().
CREATE INDEX sessions_active_idx ON sessions (started_at) WHERE state = 'active';

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
