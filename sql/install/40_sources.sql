-- Kafka sources: what the background workers consume (qoe.sources), where
-- they are (qoe.source_offsets, written in the same transaction as the
-- events), and how they are doing (qoe.source_status, qoe.source_partitions).
-- The launcher (kafka_launcher.c) reads qoe.sources whenever it changes.

-- Check constraint names are the error messages a user sees.
CREATE TABLE sources (
    name              text        PRIMARY KEY,
    brokers           text        NOT NULL,
    topic             text        NOT NULL,
    group_id          text        NOT NULL,
    batch_size        integer     NOT NULL DEFAULT 10000,
    batch_bytes       integer     NOT NULL DEFAULT 16777216,
    flush_interval_ms integer     NOT NULL DEFAULT 100,
    start_position    text        NOT NULL DEFAULT 'earliest',
    workers           integer     NOT NULL DEFAULT 1,
    node_index        integer     NOT NULL DEFAULT 0,
    node_count        integer     NOT NULL DEFAULT 1,
    properties        jsonb       NOT NULL DEFAULT '{}',
    enabled           boolean     NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT "name must be 1-63 letters, digits, '_', '.' or '-'"
        CHECK (name ~ '^[A-Za-z0-9_.-]{1,63}$'),
    CONSTRAINT "brokers must not be empty" CHECK (btrim(brokers) <> ''),
    CONSTRAINT "topic must be 1-249 letters, digits, '_', '.' or '-'"
        CHECK (topic ~ '^[A-Za-z0-9_.-]{1,249}$'),
    CONSTRAINT "group_id must not be empty" CHECK (group_id <> ''),
    CONSTRAINT "batch_size must be between 1 and 1000000"
        CHECK (batch_size BETWEEN 1 AND 1000000),
    CONSTRAINT "batch_bytes must be between 1024 and 1073741823"
        CHECK (batch_bytes BETWEEN 1024 AND 1073741823),
    CONSTRAINT "flush_interval_ms must be between 1 and 60000"
        CHECK (flush_interval_ms BETWEEN 1 AND 60000),
    CONSTRAINT "start_position must be 'earliest' or 'latest'"
        CHECK (start_position IN ('earliest', 'latest')),
    CONSTRAINT "workers must be between 1 and 64" CHECK (workers BETWEEN 1 AND 64),
    CONSTRAINT "node_count must be between 1 and 1024" CHECK (node_count BETWEEN 1 AND 1024),
    CONSTRAINT "node_index must be between 0 and node_count - 1"
        CHECK (node_index >= 0 AND node_index < node_count),
    CONSTRAINT "properties must be a JSON object" CHECK (jsonb_typeof(properties) = 'object')
);
COMMENT ON CONSTRAINT sources_pkey ON sources IS 'One row per source name';
COMMENT ON INDEX sources_pkey IS 'Key of qoe.sources';
COMMENT ON CONSTRAINT "name must be 1-63 letters, digits, '_', '.' or '-'" ON sources IS
    'The name is 1-63 letters, digits, _, . or -';
COMMENT ON CONSTRAINT "brokers must not be empty" ON sources IS 'brokers is not blank';
COMMENT ON CONSTRAINT "topic must be 1-249 letters, digits, '_', '.' or '-'" ON sources IS
    'The topic is a legal Kafka topic name: 1-249 letters, digits, _, . or -';
COMMENT ON CONSTRAINT "group_id must not be empty" ON sources IS 'group_id is not empty';
COMMENT ON CONSTRAINT "batch_size must be between 1 and 1000000" ON sources IS 'Messages per batch: 1 .. 1,000,000';
COMMENT ON CONSTRAINT "batch_bytes must be between 1024 and 1073741823" ON sources IS 'Payload bytes per batch: 1 KiB .. 1 GiB - 1';
COMMENT ON CONSTRAINT "flush_interval_ms must be between 1 and 60000" ON sources IS 'Flush interval: 1 .. 60000 ms';
COMMENT ON CONSTRAINT "start_position must be 'earliest' or 'latest'" ON sources IS 'start_position is earliest or latest';
COMMENT ON CONSTRAINT "workers must be between 1 and 64" ON sources IS 'Worker processes per node: 1 .. 64';
COMMENT ON CONSTRAINT "node_count must be between 1 and 1024" ON sources IS 'Nodes sharing the topic: 1 .. 1024';
COMMENT ON CONSTRAINT "node_index must be between 0 and node_count - 1" ON sources IS 'node_index is one of the node_count shares';
COMMENT ON CONSTRAINT "properties must be a JSON object" ON sources IS 'properties is a JSON object (of librdkafka property names)';
-- properties may hold credentials (sasl.password, ssl.key.password...): only
-- superusers and the workers read them. qoe_admin manages sources through
-- the functions below without reading them, and cannot point a source's
-- credentials at other brokers (no UPDATE of brokers, topic, group_id or
-- properties: drop the source and add it again, credentials included).
REVOKE ALL ON sources FROM PUBLIC;
GRANT SELECT (name, brokers, topic, group_id, batch_size, batch_bytes, flush_interval_ms,
              start_position, workers, node_index, node_count, enabled, created_at, updated_at),
      INSERT, DELETE,
      UPDATE (batch_size, batch_bytes, flush_interval_ms, start_position, workers, node_index,
              node_count, enabled, updated_at)
   ON sources TO qoe_admin;
GRANT SELECT ON sources TO qoe_worker;
COMMENT ON TABLE sources IS
    'Kafka topics consumed by the qoe_ext workers; properties (credentials) readable by superusers and the workers only. Manage with qoe.add_source/start_source/stop_source/drop_source (role qoe_admin)';
COMMENT ON COLUMN sources.name IS 'the source''s name, as given to qoe.add_source (1-63 letters, digits, _, . or -)';
COMMENT ON COLUMN sources.topic IS 'the Kafka topic consumed';
COMMENT ON COLUMN sources.created_at IS 'when the source was added';
COMMENT ON COLUMN sources.updated_at IS 'when the source was last enabled or disabled (qoe.add_source, start_source, stop_source); a direct UPDATE changes it only if it sets it';
COMMENT ON COLUMN sources.brokers IS 'bootstrap servers, host:port[,host:port...]';
COMMENT ON COLUMN sources.group_id IS 'group.id the workers give librdkafka (default qoe_ext.<name>): they join no consumer group, but commit their stored offsets to it after each database commit, for lag tools';
COMMENT ON COLUMN sources.batch_size IS 'a batch is stored once it holds this many messages';
COMMENT ON COLUMN sources.batch_bytes IS 'a batch is stored once its payloads reach this many bytes';
COMMENT ON COLUMN sources.flush_interval_ms IS 'a non-empty batch is stored at most this long after its first message';
COMMENT ON COLUMN sources.start_position IS 'where a partition with no stored offset starts: earliest or latest';
COMMENT ON COLUMN sources.workers IS 'number of worker processes on this node; worker i consumes the partitions of this node''s share whose number divided by node_count (rounded down) is i modulo workers';
COMMENT ON COLUMN sources.node_index IS 'this PostgreSQL node''s share of the topic when node_count nodes consume it (0 .. node_count - 1): the partitions whose number modulo node_count is node_index; see doc/scaling.md';
COMMENT ON COLUMN sources.node_count IS 'how many PostgreSQL nodes share the topic, each with the same source and its own node_index (default 1: this node consumes every partition)';
COMMENT ON COLUMN sources.properties IS 'extra librdkafka properties as a JSON object of strings (security settings, fetch tuning...)';
COMMENT ON COLUMN sources.enabled IS 'false after qoe.stop_source: no worker runs';

CREATE TABLE source_offsets (
    source      text        NOT NULL REFERENCES sources (name) ON DELETE CASCADE,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    next_offset bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    latest_event_time timestamptz,
    event_time_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, partition)
);
COMMENT ON TABLE source_offsets IS
    'The next Kafka offset to store per source partition, written in the transaction that stored the events before it: the source of truth for exactly-once ingest';
COMMENT ON COLUMN source_offsets.next_offset IS 'offset of the first message not yet stored (Kafka''s committed-offset convention)';
COMMENT ON COLUMN source_offsets.source IS 'the source (qoe.sources.name); its rows go when it is dropped';
COMMENT ON COLUMN source_offsets.topic IS 'the topic the offset is in; a row left from a source''s previous topic is overwritten when a worker starts';
COMMENT ON COLUMN source_offsets.partition IS 'Kafka partition number';
COMMENT ON COLUMN source_offsets.updated_at IS 'start of the transaction that last stored the offset';
COMMENT ON COLUMN source_offsets.latest_event_time IS
    'the newest event time (the events'' timestamp) stored from the partition; NULL before its first stored event. Until event_time_at is older than qoe.rollup_status.source_idle_timeout, qoe.refresh_rollups() closes no window past it less the allowed lateness, and none at all while it is NULL (doc/rollups.md, Levels)';
COMMENT ON COLUMN source_offsets.event_time_at IS
    'when the partition last showed its event-time progress: a batch stored events of it (not one of dead letters only), or a worker took it (assignment, restart); after qoe.rollup_status.source_idle_timeout with neither, it no longer holds the rollups'' windows open';
COMMENT ON CONSTRAINT source_offsets_pkey ON source_offsets IS 'One offset per source and partition';
COMMENT ON INDEX source_offsets_pkey IS 'Key of qoe.source_offsets';
COMMENT ON CONSTRAINT source_offsets_source_fkey ON source_offsets IS 'Offsets belong to a source and are dropped with it';

REVOKE ALL ON source_offsets FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON source_offsets TO qoe_worker;
GRANT SELECT ON source_offsets TO qoe_admin;

SELECT pg_catalog.pg_extension_config_dump('sources', '');
SELECT pg_catalog.pg_extension_config_dump('source_offsets', '');

CREATE FUNCTION check_kafka_properties(properties jsonb)
    RETURNS void
    AS 'MODULE_PATHNAME', 'qoe_check_kafka_properties'
    LANGUAGE C STRICT STABLE;
REVOKE EXECUTE ON FUNCTION check_kafka_properties(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION check_kafka_properties(jsonb) TO qoe_admin;
COMMENT ON FUNCTION check_kafka_properties(jsonb) IS
    'Raise an error unless every property of the JSON object is on qoe_ext''s allow-list, may be set by the current role (file paths: superusers and pg_read_server_files) and is accepted by librdkafka';

CREATE FUNCTION sources_check_properties()
    RETURNS trigger
    AS 'MODULE_PATHNAME', 'qoe_sources_check_properties'
    LANGUAGE C;
REVOKE EXECUTE ON FUNCTION sources_check_properties() FROM PUBLIC;
COMMENT ON FUNCTION sources_check_properties() IS
    'Trigger function: check the properties of a new or changed qoe.sources row as qoe.check_kafka_properties does, for the role writing it';

CREATE TRIGGER sources_check_properties BEFORE INSERT OR UPDATE OF properties ON sources
    FOR EACH ROW EXECUTE FUNCTION sources_check_properties();
COMMENT ON TRIGGER sources_check_properties ON sources IS
    'every write of properties is checked, by whatever path; the workers check the allow-list again';

CREATE FUNCTION launcher_pid()
    RETURNS integer
    AS 'MODULE_PATHNAME', 'qoe_launcher_pid'
    LANGUAGE C STRICT VOLATILE;
REVOKE EXECUTE ON FUNCTION launcher_pid() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION launcher_pid() TO qoe_admin;
COMMENT ON FUNCTION launcher_pid() IS
    'Process id of the qoe_ext launcher serving this database, NULL when none does (library not preloaded, or qoe.database names another database)';

CREATE FUNCTION wake_launcher()
    RETURNS trigger
    AS 'MODULE_PATHNAME', 'qoe_wake_launcher'
    LANGUAGE C;
REVOKE EXECUTE ON FUNCTION wake_launcher() FROM PUBLIC;
COMMENT ON FUNCTION wake_launcher() IS
    'Trigger function: wake the launcher when the transaction commits, so it applies the changed qoe.sources';

CREATE TRIGGER sources_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sources
    FOR EACH STATEMENT EXECUTE FUNCTION wake_launcher();
COMMENT ON TRIGGER sources_changed ON sources IS
    'any change to qoe.sources wakes the launcher when the transaction commits';

CREATE FUNCTION source_workers(OUT source text, OUT worker_index integer, OUT pid integer,
                               OUT state text, OUT partitions integer,
                               OUT events bigint, OUT messages bigint,
                               OUT bytes bigint, OUT dead_letters bigint,
                               OUT events_last_minute bigint, OUT last_stored_at timestamptz,
                               OUT last_error text, OUT last_error_at timestamptz,
                               OUT stalled text, OUT fenced_batches bigint, OUT restarts bigint)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'qoe_source_workers'
    LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION source_workers() IS
    'One row per Kafka worker slot of this database, from shared memory; counters since the server started (a slot is new when its source changes or a launcher starts); stalled: why one of its partitions stopped (its stored offset is out of the topic''s range), NULL if none did; fenced_batches: batches the offset fence refused (another worker had stored their partitions); restarts: times the launcher restarted the worker after it exited';

CREATE FUNCTION source_watermarks(OUT source text, OUT partition integer,
                                  OUT high_watermark bigint, OUT stalled boolean)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'qoe_source_watermarks'
    LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION source_watermarks() IS
    'The high watermark (offset of the next message to be produced) of each partition a worker of this database consumes, and whether the worker stopped it (stored offset out of range)';

CREATE VIEW source_partitions AS
    SELECT coalesce(o.source, w.source) AS source, o.topic,
           coalesce(o.partition, w.partition) AS partition,
           o.next_offset AS committed_offset, w.high_watermark,
           CASE WHEN w.high_watermark IS NOT NULL AND o.next_offset IS NOT NULL
                THEN greatest(w.high_watermark - o.next_offset, 0) END AS lag,
           o.updated_at, coalesce(w.stalled, false) AS stalled
      FROM source_offsets o
      FULL JOIN source_watermarks() w ON w.source = o.source AND w.partition = o.partition;
COMMENT ON VIEW source_partitions IS
    'Per source partition: the offset stored in the database, the broker''s high watermark as last seen by a worker, the lag between them, and whether it is stopped because its stored offset is out of the topic''s range (see qoe.source_status.last_error)';
COMMENT ON COLUMN source_partitions.source IS 'the source (qoe.sources.name)';
COMMENT ON COLUMN source_partitions.topic IS 'its topic, from qoe.source_offsets; NULL before the partition''s first stored batch';
COMMENT ON COLUMN source_partitions.partition IS 'Kafka partition number';
COMMENT ON COLUMN source_partitions.committed_offset IS 'next offset to store (qoe.source_offsets.next_offset); NULL before the first stored batch';
COMMENT ON COLUMN source_partitions.high_watermark IS 'offset of the next message to be produced, as last seen by a worker; NULL when no worker of this database consumes the partition';
COMMENT ON COLUMN source_partitions.lag IS 'messages in Kafka not yet stored: high_watermark - committed_offset, at least 0; NULL when either is unknown';
COMMENT ON COLUMN source_partitions.updated_at IS 'when the offset was last stored (qoe.source_offsets.updated_at); NULL before the first stored batch';
COMMENT ON COLUMN source_partitions.stalled IS 'the worker stopped the partition: its stored offset is out of the topic''s range';

CREATE VIEW source_status AS
    SELECT s.name, s.topic, s.enabled,
           CASE WHEN NOT s.enabled THEN 'stopped'
                WHEN launcher_pid() IS NULL THEN 'no launcher'
                WHEN w.states IS NULL THEN 'starting'
                WHEN w.failing THEN 'error'
                ELSE array_to_string(w.states, ',')
           END AS state,
           coalesce(w.workers_running, 0) AS workers_running,
           w.pids,
           coalesce(w.events, 0) AS events,
           coalesce(w.bytes, 0) AS bytes,
           round(coalesce(w.events_last_minute, 0) / 60.0, 1) AS events_per_sec,
           coalesce(w.dead_letters, 0) AS dead_letters,
           p.lag,
           w.last_error,
           w.last_error_at,
           coalesce(w.fenced_batches, 0) AS fenced_batches,
           coalesce(w.restarts, 0) AS restarts
      FROM sources s
      LEFT JOIN LATERAL (
          SELECT array_agg(DISTINCT sw.state ORDER BY sw.state) AS states,
                 count(sw.pid) AS workers_running,
                 array_agg(sw.pid ORDER BY sw.worker_index) FILTER (WHERE sw.pid IS NOT NULL) AS pids,
                 sum(sw.events)::bigint AS events,
                 sum(sw.bytes)::bigint AS bytes,
                 sum(sw.events_last_minute) AS events_last_minute,
                 sum(sw.dead_letters)::bigint AS dead_letters,
                 bool_or(sw.last_error_at > coalesce(sw.last_stored_at, '-infinity')
                         OR sw.stalled IS NOT NULL) AS failing,
                 coalesce((array_agg(sw.stalled ORDER BY sw.worker_index) FILTER (WHERE sw.stalled IS NOT NULL))[1],
                          (array_agg(sw.last_error ORDER BY sw.last_error_at DESC NULLS LAST))[1]) AS last_error,
                 max(sw.last_error_at) AS last_error_at,
                 sum(sw.fenced_batches)::bigint AS fenced_batches,
                 sum(sw.restarts)::bigint AS restarts
            FROM source_workers() sw
           WHERE sw.source = s.name
          HAVING count(*) > 0
      ) w ON true
      LEFT JOIN LATERAL (
          SELECT sum(sp.lag)::bigint AS lag FROM source_partitions sp WHERE sp.source = s.name
      ) p ON true;
COMMENT ON VIEW source_status IS
    'One row per Kafka source: state (stopped, no launcher, starting, error, or the workers'' states), worker pids, events and bytes stored and dead letters since server start, events/s over the last minute, total lag, last error (a stopped partition''s error first: it stays an error until the source restarts)';
COMMENT ON COLUMN source_status.name IS 'the source (qoe.sources.name)';
COMMENT ON COLUMN source_status.topic IS 'the Kafka topic it consumes';
COMMENT ON COLUMN source_status.enabled IS 'false after qoe.stop_source';
COMMENT ON COLUMN source_status.state IS 'stopped, no launcher, starting, error (a worker''s last error is newer than its last stored batch, or a partition is stopped), else the workers'' states (running, retrying, restarting, stopping), comma-separated when they differ';
COMMENT ON COLUMN source_status.workers_running IS 'worker processes alive';
COMMENT ON COLUMN source_status.pids IS 'their process ids, by worker index; NULL when none runs';
COMMENT ON COLUMN source_status.events IS 'events stored since the server started';
COMMENT ON COLUMN source_status.bytes IS 'payload bytes consumed since the server started';
COMMENT ON COLUMN source_status.events_per_sec IS 'events stored per second over the last minute';
COMMENT ON COLUMN source_status.dead_letters IS 'dead letters written since the server started';
COMMENT ON COLUMN source_status.lag IS 'messages in Kafka not yet stored, over all partitions (qoe.source_partitions.lag); NULL when unknown';
COMMENT ON COLUMN source_status.last_error IS 'the last error (Kafka or database), a stopped partition''s first; NULL when none';
COMMENT ON COLUMN source_status.last_error_at IS 'when the last error happened; NULL when none';
COMMENT ON COLUMN source_status.fenced_batches IS 'batches refused by the offset fence (another worker had stored their partitions: one of a previous launcher, or of the source before its workers changed), since the source last changed or the launcher started; more than a few means workers fight over partitions';
COMMENT ON COLUMN source_status.restarts IS 'times the launcher restarted a worker that exited (crashed or terminated), since the source last changed or the launcher started; a growing count is a crash loop';

-- The unknown-source error of start/stop/drop.
CREATE FUNCTION raise_unknown_source(name text)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    RAISE EXCEPTION 'source "%" does not exist', name
        USING ERRCODE = 'undefined_object',
              HINT = 'SELECT name FROM qoe.sources lists the sources; qoe.add_source adds one.';
END
$$;
REVOKE EXECUTE ON FUNCTION raise_unknown_source(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION raise_unknown_source(text) TO qoe_admin;
COMMENT ON FUNCTION raise_unknown_source(text) IS
    'Raise the error of qoe.start_source/stop_source/drop_source for a name that is not in qoe.sources';

CREATE FUNCTION set_source_enabled(name text, enabled boolean)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    UPDATE qoe.sources s SET enabled = set_source_enabled.enabled, updated_at = now()
     WHERE s.name = set_source_enabled.name AND s.enabled <> set_source_enabled.enabled;
    IF NOT FOUND AND NOT EXISTS (SELECT FROM qoe.sources s WHERE s.name = set_source_enabled.name) THEN
        PERFORM qoe.raise_unknown_source(set_source_enabled.name);
    END IF;
    -- preloaded for this database, a launcher is on its way (woken at commit)
    IF set_source_enabled.enabled AND qoe.launcher_pid() IS NULL
       AND NOT EXISTS (SELECT FROM pg_settings g
                        WHERE g.name = 'qoe.database' AND g.context = 'postmaster'
                          AND g.setting = current_database()) THEN
        RAISE NOTICE 'no qoe_ext launcher serves database "%": source "%" will not be consumed yet',
                current_database(), set_source_enabled.name
            USING HINT = format('Set shared_preload_libraries = ''qoe_ext'' and qoe.database = %L, then restart the server.',
                                current_database());
    END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION set_source_enabled(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION set_source_enabled(text, boolean) TO qoe_admin;
COMMENT ON FUNCTION set_source_enabled(text, boolean) IS
    'Enable or disable a Kafka source (what qoe.start_source and qoe.stop_source do); says when no launcher serves this database';

CREATE FUNCTION add_source(name text, brokers text, topic text,
                           group_id text DEFAULT NULL,
                           batch_size integer DEFAULT NULL,
                           batch_bytes integer DEFAULT NULL,
                           flush_interval_ms integer DEFAULT NULL,
                           start_position text DEFAULT NULL,
                           workers integer DEFAULT NULL,
                           properties jsonb DEFAULT NULL,
                           enabled boolean DEFAULT true,
                           node_index integer DEFAULT NULL,
                           node_count integer DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    BEGIN
        -- the table's defaults stay the only defaults (but for properties:
        -- qoe_admin may not update them); its trigger checks the properties
        INSERT INTO qoe.sources (name, brokers, topic, group_id, properties, enabled)
        VALUES (add_source.name, add_source.brokers, add_source.topic,
                coalesce(add_source.group_id, 'qoe_ext.' || add_source.name),
                coalesce(add_source.properties, '{}'), false);
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'source "%" already exists', add_source.name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Choose another name, or remove it first with qoe.drop_source.';
    END;
    UPDATE qoe.sources s
       SET batch_size = coalesce(add_source.batch_size, s.batch_size),
           batch_bytes = coalesce(add_source.batch_bytes, s.batch_bytes),
           flush_interval_ms = coalesce(add_source.flush_interval_ms, s.flush_interval_ms),
           start_position = coalesce(add_source.start_position, s.start_position),
           workers = coalesce(add_source.workers, s.workers),
           node_index = coalesce(add_source.node_index, s.node_index),
           node_count = coalesce(add_source.node_count, s.node_count)
     WHERE s.name = add_source.name;
    PERFORM qoe.set_source_enabled(add_source.name, coalesce(add_source.enabled, true));
END
$$;
REVOKE EXECUTE ON FUNCTION add_source(text, text, text, text, integer, integer, integer,
                                      text, integer, jsonb, boolean, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION add_source(text, text, text, text, integer, integer, integer,
                                     text, integer, jsonb, boolean, integer, integer) TO qoe_admin;
COMMENT ON FUNCTION add_source(text, text, text, text, integer, integer, integer, text,
                               integer, jsonb, boolean, integer, integer) IS
    'Add a Kafka source (brokers, topic and options, see doc/ingestion.md); enabled sources are consumed by the launcher''s workers from the next commit on';

CREATE FUNCTION start_source(name text)
    RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT qoe.set_source_enabled(name, true) $$;
REVOKE EXECUTE ON FUNCTION start_source(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION start_source(text) TO qoe_admin;
COMMENT ON FUNCTION start_source(text) IS
    'Enable a Kafka source: its workers start after the commit and resume from the offsets stored in qoe.source_offsets';

CREATE FUNCTION stop_source(name text)
    RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT qoe.set_source_enabled(name, false) $$;
REVOKE EXECUTE ON FUNCTION stop_source(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stop_source(text) TO qoe_admin;
COMMENT ON FUNCTION stop_source(text) IS
    'Disable a Kafka source: after the commit its workers store their current batch and exit; offsets are kept';

CREATE FUNCTION drop_source(name text)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    DELETE FROM qoe.sources s WHERE s.name = drop_source.name;
    IF NOT FOUND THEN
        PERFORM qoe.raise_unknown_source(drop_source.name);
    END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION drop_source(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION drop_source(text) TO qoe_admin;
COMMENT ON FUNCTION drop_source(text) IS
    'Remove a Kafka source and its stored offsets; its workers stop after the commit (a source added again under the name starts from start_position)';

-- The status shows source names, brokers and the brokers' errors (failed
-- authentications included): qoe_admin's, not everyone's. A view's caller
-- needs EXECUTE on the functions it calls, so the views are qoe_admin's too.
REVOKE EXECUTE ON FUNCTION source_workers() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION source_watermarks() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION source_workers() TO qoe_admin;
GRANT EXECUTE ON FUNCTION source_watermarks() TO qoe_admin;
GRANT SELECT ON source_status, source_partitions TO qoe_admin;
