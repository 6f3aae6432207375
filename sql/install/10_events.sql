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
COMMENT ON COLUMN viewing_events.user_id IS 'viewer id (>= 0)';
COMMENT ON COLUMN viewing_events.content_id IS 'title id (>= 0), as in qoe.content.content_id (not a foreign key)';
COMMENT ON COLUMN viewing_events.profile_id IS 'viewer profile id (>= 0); NULL when the event carried none';
COMMENT ON COLUMN viewing_events.event_type IS 'canonical event type (aliases such as video.playback.start are stored under it)';
COMMENT ON COLUMN viewing_events.session_id IS 'playback session, at most 200 bytes, compared bytewise (COLLATE "C"); the key of qoe.sessions';
COMMENT ON COLUMN viewing_events.event_id IS 'the producer''s event id (text or integer as sent); a repeat within the session is ignored; NULL when none';
COMMENT ON COLUMN viewing_events.position_sec IS 'playhead position, seconds (0 .. 10^7); NULL when not reported';
COMMENT ON COLUMN viewing_events.bitrate_kbps IS 'bitrate of the current rendition, kbps (0 .. 1,000,000); NULL when not reported';
COMMENT ON COLUMN viewing_events.buffer_health_sec IS 'media buffered ahead of the playhead, seconds; NULL when not reported';
COMMENT ON COLUMN viewing_events.buffering_events IS 'client''s cumulative count of buffering events in the session; NULL when not reported';
COMMENT ON COLUMN viewing_events.dropped_frames IS 'client''s cumulative count of dropped frames in the session (a lower value is a counter reset); NULL when not reported';
COMMENT ON COLUMN viewing_events.fatal IS 'on error events: whether the error ended playback; NULL when absent, which means not fatal';
COMMENT ON COLUMN viewing_events.error_code IS 'on error events: the client''s error code (text or integer as sent); NULL when none';
COMMENT ON COLUMN viewing_events.content_duration_sec IS 'title duration reported by the client, seconds; NULL when not reported (qoe.content.duration_sec is used instead)';
COMMENT ON COLUMN viewing_events.resolution IS 'resolution of the current rendition as sent, e.g. 1080p; NULL when not reported';
COMMENT ON COLUMN viewing_events.device_type IS 'device type as sent (a dimension); NULL when not reported';
COMMENT ON COLUMN viewing_events.country IS 'viewer country as sent (a dimension); NULL when not reported';
COMMENT ON COLUMN viewing_events.cdn_pop IS 'CDN point of presence serving the stream, as sent (a dimension); NULL when not reported';

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
COMMENT ON COLUMN dead_letters.id IS 'row number in arrival order (qoe.dead_letters_id_seq)';
COMMENT ON COLUMN dead_letters.received_at IS 'when the event was rejected: start of the transaction that wrote the dead letter';
COMMENT ON COLUMN dead_letters.reason IS 'what was wrong, naming the field and the value (the reasons: doc/ingestion.md)';
COMMENT ON COLUMN dead_letters.topic IS 'Kafka topic of the message; NULL for qoe.ingest';
COMMENT ON COLUMN dead_letters.kafka_partition IS 'Kafka partition of the message; NULL for qoe.ingest';
COMMENT ON COLUMN dead_letters.kafka_offset IS 'Kafka offset of the message; NULL for qoe.ingest';
COMMENT ON CONSTRAINT dead_letters_pkey ON dead_letters IS 'One row per dead letter';
COMMENT ON INDEX dead_letters_pkey IS 'Key of qoe.dead_letters';
