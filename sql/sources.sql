-- Kafka sources from SQL: add, start, stop, drop, validation, status views
-- and permissions. This database has no launcher (qoe.database names
-- another one), so nothing is consumed and the status says so.

SELECT qoe.launcher_pid() IS NULL AS no_launcher_here;

-- defaults
SELECT qoe.add_source('clicks', 'localhost:9092', 'player-events');
SELECT name, brokers, topic, group_id, batch_size, batch_bytes, flush_interval_ms,
       start_position, workers, properties, enabled
  FROM qoe.sources;

-- every option
SELECT qoe.add_source('secure', 'b1:9093,b2:9093', 'player.events_v2',
                      group_id => 'analytics', batch_size => 5000, batch_bytes => 1048576,
                      flush_interval_ms => 20, start_position => 'latest', workers => 2,
                      properties => '{"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
                                      "sasl.username": "qoe", "sasl.password": "s3cret",
                                      "session.timeout.ms": 6000, "check.crcs": true}',
                      enabled => false);
SELECT name, group_id, batch_size, batch_bytes, flush_interval_ms, start_position, workers,
       properties->>'session.timeout.ms' AS session_timeout, enabled
  FROM qoe.sources ORDER BY name;

-- validation: every refusal names what is wrong (the check constraints'
-- names are their messages; their detail shows the row, so terse here)
\set VERBOSITY terse
SELECT qoe.add_source('clicks', 'localhost:9092', 'other');
SELECT qoe.add_source('bad name', 'localhost:9092', 't');
SELECT qoe.add_source('b', '', 't');
SELECT qoe.add_source('b', 'localhost:9092', 'no spaces');
SELECT qoe.add_source('b', 'localhost:9092', 't', batch_size => 0);
SELECT qoe.add_source('b', 'localhost:9092', 't', batch_bytes => 10);
SELECT qoe.add_source('b', 'localhost:9092', 't', flush_interval_ms => 0);
SELECT qoe.add_source('b', 'localhost:9092', 't', start_position => 'middle');
SELECT qoe.add_source('b', 'localhost:9092', 't', workers => 65);
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT qoe.add_source('b', 'localhost:9092', 't', properties => '["a"]');
SELECT qoe.add_source('b', 'localhost:9092', 't', properties => '{"no.such.property": "1"}');
SELECT qoe.add_source('b', 'localhost:9092', 't', properties => '{"session.timeout.ms": "soon"}');
SELECT qoe.add_source('b', 'localhost:9092', 't', properties => '{"security.protocol": "carrier_pigeon"}');
SELECT qoe.add_source('b', 'localhost:9092', 't', properties => '{"enable.auto.commit": "true"}');
SELECT qoe.add_source('b', 'localhost:9092', 't', properties => '{"group.id": "x"}');
SELECT qoe.add_source('b', 'localhost:9092', 't', properties => '{"fetch.min.bytes": {"n": 1}}');
-- a direct change is checked too
\set VERBOSITY terse
UPDATE qoe.sources SET workers = 0 WHERE name = 'clicks';
\set VERBOSITY default
SELECT count(*) FROM qoe.sources;

-- start, stop, drop
SELECT qoe.stop_source('clicks');
SELECT qoe.stop_source('clicks');
SELECT qoe.start_source('secure');
SELECT name, enabled FROM qoe.sources ORDER BY name;
SELECT qoe.start_source('nope');
SELECT qoe.stop_source('nope');
SELECT qoe.drop_source('nope');

-- status without a launcher: one row per source, never the properties
SELECT name, topic, enabled, state, workers_running, pids, events, bytes, events_per_sec,
       dead_letters, lag, last_error, last_error_at
  FROM qoe.source_status ORDER BY name;
SELECT column_name FROM information_schema.columns
 WHERE table_schema = 'qoe' AND table_name IN ('source_status', 'source_partitions')
   AND column_name = 'properties';
SELECT count(*) FROM qoe.source_workers();

-- offsets and the partition view; drop_source removes a source's offsets
INSERT INTO qoe.source_offsets (source, topic, partition, next_offset)
VALUES ('clicks', 'player-events', 0, 42), ('clicks', 'player-events', 1, 7);
SELECT source, topic, partition, committed_offset, high_watermark, lag
  FROM qoe.source_partitions ORDER BY partition;
SELECT qoe.drop_source('clicks');
SELECT count(*) AS offsets_left FROM qoe.source_offsets;
SELECT name FROM qoe.sources;

-- permissions: a non-superuser can read the status but not the properties,
-- and cannot manage sources
CREATE ROLE qoe_sources_reader;
GRANT USAGE ON SCHEMA qoe TO qoe_sources_reader;
GRANT SELECT ON qoe.source_status, qoe.source_partitions TO qoe_sources_reader;
SET ROLE qoe_sources_reader;
SELECT name, state FROM qoe.source_status;
SELECT properties FROM qoe.sources;
SELECT qoe.add_source('x', 'localhost:9092', 't');
SELECT qoe.stop_source('secure');
SELECT qoe.drop_source('secure');
RESET ROLE;
SELECT qoe.drop_source('secure');
DROP OWNED BY qoe_sources_reader;
DROP ROLE qoe_sources_reader;
