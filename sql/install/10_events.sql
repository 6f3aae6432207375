-- Event storage: the canonical event types, the daily-partitioned raw event
-- history and the dead-letter table for what could not be accepted.

CREATE TYPE event_type AS ENUM (
    'start', 'first_frame', 'heartbeat', 'buffering', 'pause', 'resume',
    'seek', 'bitrate_change', 'error', 'stop'
);
COMMENT ON TYPE event_type IS
    'Canonical playback event types; dotted names and aliases are normalised to these on ingest';

CREATE TABLE viewing_events (
    event_time           timestamptz NOT NULL,
    received_at          timestamptz NOT NULL,
    user_id              bigint      NOT NULL,
    content_id           bigint      NOT NULL,
    profile_id           bigint,
    event_type           event_type  NOT NULL,   -- after the 8-byte columns: no padding
    session_id           text COLLATE "C" NOT NULL,
    event_id             text COLLATE "C",
    position_sec         real,
    bitrate_kbps         integer,
    buffer_health_sec    real,
    buffering_events     integer,
    dropped_frames       integer,
    stall_ms             integer,
    vst_ms               integer,
    fatal                boolean,
    error_code           text,
    content_duration_sec real,
    resolution           text,
    device_type          text,
    country              text,
    cdn_pop              text,
    extra                jsonb
) PARTITION BY RANGE (event_time);

-- Ids are opaque: byte order ("C") makes their comparisons memcmp, not strcoll.
-- No index here: each partition gets its own (src/ingest/partitions.c), so
-- that a dump of the partitions restores (doc/operations.md, "Backup and
-- restore"): a single-column B-tree on session_id (PostgreSQL deduplicates
-- its repeated keys, so per-session access, rebuilding a session or the
-- stall-loop alert, costs a few bytes per event) and the stall-loop alert's
-- partial index on buffering events' arrival. No index by title: every
-- insert would pay for it (a tenth of qoe.ingest's CPU), and per-title
-- questions go to qoe.sessions (sessions_content_started_idx) and the
-- rollups, or reach the events of a title's sessions by session_id.

COMMENT ON TABLE viewing_events IS
    'Raw playback events, typed, one partition per UTC day (see doc/ingestion.md)';
COMMENT ON COLUMN viewing_events.event_time IS 'client timestamp of the event';
COMMENT ON COLUMN viewing_events.received_at IS 'server time the event was ingested';
COMMENT ON COLUMN viewing_events.stall_ms IS 'stall length reported by a buffering event (buffering_ms or duration_ms)';
COMMENT ON COLUMN viewing_events.vst_ms IS 'video start time reported by the client, when it sends one';
COMMENT ON COLUMN viewing_events.extra IS 'fields the event carried that are not canonical; NULL when none';

CREATE TABLE dead_letters (
    id            bigserial   PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    source        text        NOT NULL,
    topic         text,
    kafka_partition integer,
    kafka_offset  bigint,
    item_index    integer,
    reason        text        NOT NULL,
    payload       text,
    payload_bytes bytea
);
COMMENT ON TABLE dead_letters IS
    'Events that could not be accepted, with the reason and where they came from';
COMMENT ON COLUMN dead_letters.source IS '''sql'' for qoe.ingest, ''kafka'' for the Kafka workers';
COMMENT ON COLUMN dead_letters.item_index IS 'position (from 0) of the event inside a JSON array payload';
COMMENT ON COLUMN dead_letters.payload IS 'the rejected JSON text (the element, or the whole document when it did not parse)';
COMMENT ON COLUMN dead_letters.payload_bytes IS 'raw bytes, only when the payload is not valid text in the database encoding';
COMMENT ON SEQUENCE dead_letters_id_seq IS 'Numbers qoe.dead_letters rows in arrival order';
