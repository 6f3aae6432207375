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

-- Kafka properties: an allow-list. Whatever loads code, runs a command,
-- reaches a file or URL, or breaks exactly once is refused, for superusers
-- too (the workers cannot tell who wrote a row).
\set VERBOSITY terse
DO $$
DECLARE
    k text;
BEGIN
    FOREACH k IN ARRAY ARRAY['plugin.library.paths', 'ssl.engine.location', 'ssl.engine.id',
                             'ssl.providers', 'sasl.kerberos.kinit.cmd', 'sasl.kerberos.principal',
                             'sasl.kerberos.keytab', 'offset.store.path', 'offset.store.method',
                             'sasl.oauthbearer.token.endpoint.url', 'sasl.oauthbearer.config',
                             'internal.termination.signal', 'enable.partition.eof', 'log.queue',
                             'statistics.interval.ms', 'debug', 'group.instance.id',
                             'partition.assignment.strategy', 'auto.offset.reset',
                             'metadata.broker.list', 'interceptors', 'open_cb']
    LOOP
        BEGIN
            PERFORM qoe.check_kafka_properties(jsonb_build_object(k, '/tmp/x'));
            RAISE NOTICE '% accepted', k;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE '%: %', k, SQLERRM;
        END;
    END LOOP;
END
$$;
-- a row written by hand is checked by the trigger, for superusers too
INSERT INTO qoe.sources (name, brokers, topic, group_id, properties)
VALUES ('evil', 'b:9092', 't', 'g', '{"plugin.library.paths": "/tmp/evil.so"}');
\set VERBOSITY default
-- every allowed property, with a valid value
SELECT qoe.check_kafka_properties('{
    "security.protocol": "sasl_ssl", "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "u", "sasl.password": "p",
    "sasl.kerberos.service.name": "kafka", "sasl.kerberos.min.time.before.relogin": 60000,
    "ssl.ca.location": "/etc/ssl/certs", "ssl.ca.pem": "x",
    "ssl.certificate.location": "/c.pem", "ssl.certificate.pem": "x",
    "ssl.key.location": "/k.pem", "ssl.key.pem": "x", "ssl.key.password": "p",
    "ssl.keystore.location": "/k.p12", "ssl.keystore.password": "p",
    "ssl.crl.location": "/crl.pem", "ssl.endpoint.identification.algorithm": "https",
    "enable.ssl.certificate.verification": true, "ssl.cipher.suites": "HIGH",
    "ssl.curves.list": "P-256", "ssl.sigalgs.list": "RSA+SHA256",
    "client.id": "qoe", "client.rack": "r1",
    "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000, "max.poll.interval.ms": 300000,
    "coordinator.query.interval.ms": 60000, "isolation.level": "read_committed",
    "check.crcs": false, "fetch.wait.max.ms": 100, "fetch.min.bytes": 1,
    "fetch.max.bytes": 52428800, "fetch.message.max.bytes": 1048576,
    "max.partition.fetch.bytes": 1048576, "fetch.error.backoff.ms": 500,
    "queued.min.messages": 100000, "queued.max.messages.kbytes": 65536,
    "receive.message.max.bytes": 100000000, "message.max.bytes": 1000000,
    "topic.metadata.refresh.interval.ms": 300000, "topic.metadata.refresh.fast.interval.ms": 250,
    "metadata.max.age.ms": 900000, "socket.timeout.ms": 60000,
    "socket.connection.setup.timeout.ms": 30000, "socket.keepalive.enable": true,
    "socket.nagle.disable": true, "socket.send.buffer.bytes": 0, "socket.receive.buffer.bytes": 0,
    "socket.max.fails": 1, "connections.max.idle.ms": 0, "reconnect.backoff.ms": 100,
    "reconnect.backoff.max.ms": 10000, "broker.address.ttl": 1000, "broker.address.family": "v4",
    "api.version.request": true, "api.version.request.timeout.ms": 10000,
    "api.version.fallback.ms": 0, "broker.version.fallback": "0.10.0",
    "log.connection.close": false}');

-- Roles. An ordinary role (even with USAGE on qoe) can neither manage
-- sources nor see their status (names, brokers, broker errors).
CREATE ROLE qoe_sources_nobody;
GRANT USAGE ON SCHEMA qoe TO qoe_sources_nobody;
SET ROLE qoe_sources_nobody;
SELECT qoe.check_kafka_properties('{"plugin.library.paths": "/tmp/evil.so"}');
SELECT qoe.add_source('x', 'localhost:9092', 't');
SELECT qoe.start_source('secure');
SELECT qoe.stop_source('secure');
SELECT qoe.drop_source('secure');
SELECT * FROM qoe.source_workers();
SELECT * FROM qoe.source_watermarks();
SELECT * FROM qoe.source_status;
SELECT * FROM qoe.source_partitions;
SELECT qoe.launcher_pid();
SELECT name FROM qoe.sources;
RESET ROLE;

-- qoe_admin manages sources and sees their status, but not their
-- properties, and cannot point existing credentials at other brokers
CREATE ROLE qoe_sources_admin IN ROLE qoe_admin;
GRANT USAGE ON SCHEMA qoe TO qoe_sources_admin;
-- a superuser's source, with a CA file
SELECT qoe.add_source('tls', 'b1:9093', 'events', enabled => false,
                      properties => '{"security.protocol": "ssl", "ssl.ca.location": "/etc/ssl/ca.pem",
                                      "sasl.password": "s3cret"}');
SET ROLE qoe_sources_admin;
SELECT qoe.add_source('managed', 'b1:9092', 'events', workers => 2, enabled => false,
                      properties => '{"security.protocol": "sasl_ssl", "sasl.mechanism": "PLAIN",
                                      "sasl.username": "u", "sasl.password": "p"}');
SELECT qoe.add_source('files', 'b1:9092', 'events',
                      properties => '{"ssl.ca.location": "/etc/passwd"}');
SELECT qoe.check_kafka_properties('{"ssl.key.location": "/etc/ssl/private/server.key"}');
SELECT qoe.check_kafka_properties('{"ssl.ca.pem": "-----BEGIN CERTIFICATE-----"}');
SELECT name, brokers, topic, group_id, workers, enabled FROM qoe.sources ORDER BY name;
SELECT name, state FROM qoe.source_status ORDER BY name;
SELECT count(*) FROM qoe.source_partitions;
SELECT properties FROM qoe.sources;
SELECT * FROM qoe.sources;
UPDATE qoe.sources SET brokers = 'evil:9092' WHERE name = 'tls';
UPDATE qoe.sources SET properties = '{}' WHERE name = 'tls';
-- the superuser's CA file stays when qoe_admin starts and stops the source
SELECT qoe.start_source('tls');
SELECT qoe.stop_source('tls');
UPDATE qoe.sources SET workers = 3 WHERE name = 'tls';
SELECT qoe.drop_source('managed');
RESET ROLE;
SELECT name, workers, enabled, properties->>'ssl.ca.location' AS ca FROM qoe.sources ORDER BY name;

-- roles that may read server files may name them
CREATE ROLE qoe_sources_files IN ROLE qoe_admin, pg_read_server_files;
GRANT USAGE ON SCHEMA qoe TO qoe_sources_files;
SET ROLE qoe_sources_files;
SELECT qoe.add_source('files', 'b1:9092', 'events', enabled => false,
                      properties => '{"ssl.ca.location": "/etc/ssl/certs"}');
RESET ROLE;
SELECT qoe.drop_source('files');
SELECT qoe.drop_source('tls');
SELECT qoe.drop_source('secure');
DROP OWNED BY qoe_sources_nobody, qoe_sources_admin, qoe_sources_files;
DROP ROLE qoe_sources_nobody, qoe_sources_admin, qoe_sources_files;
