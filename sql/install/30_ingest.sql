-- SQL ingest, partition management and session expiry. Every path into
-- viewing_events goes through the same C decoder and batch writer.

CREATE FUNCTION ingest(payload text, OUT accepted integer, OUT rejected integer,
                       OUT duplicates integer)
    RETURNS record
    AS 'MODULE_PATHNAME', 'qoe_ingest_text'
    LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION ingest(text) IS
    'Ingest one JSON event or a JSON array of events: accepted are stored, rejected go to qoe.dead_letters, duplicates (a repeated event_id) are ignored';

CREATE FUNCTION ingest(payload jsonb, OUT accepted integer, OUT rejected integer,
                       OUT duplicates integer)
    RETURNS record
    AS 'MODULE_PATHNAME', 'qoe_ingest_jsonb'
    LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION ingest(jsonb) IS
    'Ingest one JSON event or a JSON array of events: accepted are stored, rejected go to qoe.dead_letters, duplicates (a repeated event_id) are ignored';

CREATE FUNCTION decode_event(payload text)
    RETURNS TABLE (item_index integer, event_type text, event_time timestamptz,
                   session_id text, user_id bigint, content_id bigint, reason text)
    AS 'MODULE_PATHNAME', 'qoe_decode_event'
    LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION decode_event(text) IS
    'Show how qoe.ingest would read a payload, without storing anything: one row per event, reason set when rejected';

CREATE FUNCTION premake_partitions(days integer DEFAULT NULL)
    RETURNS integer
    AS 'MODULE_PATHNAME', 'qoe_premake_partitions_sql'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION premake_partitions(integer) IS
    'Create the daily viewing_events partitions from today through today + days (default qoe.partition_premake_days); returns how many were created';

CREATE FUNCTION drop_old_partitions(retention interval DEFAULT NULL)
    RETURNS SETOF text
    AS 'MODULE_PATHNAME', 'qoe_drop_old_partitions'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION drop_old_partitions(interval) IS
    'Drop viewing_events partitions whose whole day is older than the retention (default qoe.event_retention); returns their names';

CREATE FUNCTION expire_sessions(timeout interval DEFAULT NULL)
    RETURNS integer
    AS 'MODULE_PATHNAME', 'qoe_expire_sessions'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION expire_sessions(interval) IS
    'Mark active sessions with no event for the timeout (default qoe.session_timeout) abandoned; returns how many';

CREATE VIEW partitions AS
    SELECT c.relname::text AS partition_name,
           pg_get_expr(c.relpartbound, c.oid) AS bounds,
           pg_total_relation_size(c.oid) AS total_bytes
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'qoe.viewing_events'::regclass
     ORDER BY c.relname;
COMMENT ON VIEW partitions IS 'The daily viewing_events partitions with their bounds and size';
COMMENT ON COLUMN partitions.partition_name IS 'name of the partition (no schema): viewing_events_pYYYYMMDD for the UTC days qoe_ext makes';
COMMENT ON COLUMN partitions.bounds IS 'its partition bound (FOR VALUES FROM (...) TO (...) on event_time): one UTC day for those qoe_ext makes';
COMMENT ON COLUMN partitions.total_bytes IS 'on-disk size with indexes and TOAST, bytes (pg_total_relation_size)';

SELECT pg_catalog.pg_extension_config_dump('content', '');
SELECT pg_catalog.pg_extension_config_dump('users', '');
SELECT pg_catalog.pg_extension_config_dump('sessions', '');
SELECT pg_catalog.pg_extension_config_dump('dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('dead_letters_id_seq', '');
