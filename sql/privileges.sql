-- Least privilege (doc/security.md): what PUBLIC and qoe_ext's roles may do.

-- the roles, created if absent; qoe_worker takes background workers only
SELECT rolname, rolcanlogin, rolconnlimit, rolinherit, rolsuper, rolcreaterole,
       shobj_description(oid, 'pg_authid') IS NOT NULL AS has_comment,
       ARRAY(SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid
              WHERE m.member = r.oid ORDER BY 1) AS member_of
  FROM pg_roles r WHERE rolname IN ('qoe_reader', 'qoe_writer', 'qoe_admin', 'qoe_worker')
 ORDER BY rolname;

-- THE ALLOW-LIST: every function of schema qoe that PUBLIC may execute (the
-- default for a new function). A function added without a decision shows up
-- here; revoke it from PUBLIC (sql/install/90_grants.sql) or extend the list.
SELECT p.oid::regprocedure AS public_may_execute
  FROM pg_proc p
 WHERE p.pronamespace = 'qoe'::regnamespace
   AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY p.oid::regprocedure::text;

-- every other function: which of the roles may execute it
SELECT p.oid::regprocedure AS function,
       ARRAY(SELECT r FROM unnest(ARRAY['qoe_reader', 'qoe_writer', 'qoe_admin', 'qoe_worker']) r
              WHERE has_function_privilege(r, p.oid, 'EXECUTE')) AS executable_by
  FROM pg_proc p
 WHERE p.pronamespace = 'qoe'::regnamespace
   AND NOT has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY p.oid::regprocedure::text;

-- nothing in schema qoe is usable by PUBLIC: not the schema, no table, view,
-- sequence or partition, not a single column
SELECT has_schema_privilege('public', 'qoe', 'USAGE') AS public_usage,
       has_schema_privilege('public', 'qoe', 'CREATE') AS public_create;
SELECT c.oid::regclass AS public_may_use
  FROM pg_class c
 WHERE c.relnamespace = 'qoe'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
   AND (has_any_column_privilege('public', c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')
        OR has_table_privilege('public', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
        OR (c.relkind = 'S' AND has_sequence_privilege('public', c.oid, 'USAGE, SELECT, UPDATE')))
 ORDER BY c.oid::regclass::text;

-- what each role may do with each table, view and sequence (partitions aside)
SELECT c.oid::regclass AS relation, r AS role,
       array_to_string(ARRAY(
           SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                      'REFERENCES', 'TRIGGER']) p
            WHERE c.relkind <> 'S' AND has_table_privilege(r, c.oid, p)
           UNION ALL
           SELECT 'USAGE' WHERE c.relkind = 'S' AND has_sequence_privilege(r, c.oid, 'USAGE')
           UNION ALL
           SELECT cp || ' (' || string_agg(a.attname, ', ' ORDER BY a.attnum) || ')'
             FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) cp, pg_attribute a
            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              AND NOT has_table_privilege(r, c.oid, cp)
              AND has_column_privilege(r, c.oid, a.attnum, cp)
            GROUP BY cp), ', ') AS privileges
  FROM pg_class c,
       unnest(ARRAY['qoe_reader', 'qoe_writer', 'qoe_admin', 'qoe_worker']) r
 WHERE c.relnamespace = 'qoe'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
   AND NOT c.relispartition
   AND (has_any_column_privilege(r, c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')
        OR has_table_privilege(r, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
        OR (c.relkind = 'S' AND has_sequence_privilege(r, c.oid, 'USAGE')))
 ORDER BY c.oid::regclass::text, array_position(ARRAY['qoe_reader', 'qoe_writer', 'qoe_admin', 'qoe_worker'], r);

-- The roles at work, through login roles granted them (doc/install.md).
CREATE ROLE priv_bi LOGIN;
CREATE ROLE priv_ingest LOGIN;
CREATE ROLE priv_ops LOGIN;
CREATE ROLE priv_nobody LOGIN;
GRANT qoe_reader TO priv_bi;
GRANT qoe_writer TO priv_ingest;
GRANT qoe_admin TO priv_ops;
GRANT USAGE ON SCHEMA qoe TO priv_nobody;
SELECT (extract(epoch FROM now()) * 1000)::bigint - 60000 AS t0 \gset
SELECT qoe.premake_partitions(0) >= 0 AS today_premade;
-- a partition of a day long gone, for qoe.drop_old_partitions
CREATE TABLE qoe.viewing_events_p20000101 PARTITION OF qoe.viewing_events
    FOR VALUES FROM ('2000-01-01 00:00+00') TO ('2000-01-02 00:00+00');

-- a writer ingests new sessions, a late event (rebuilds the session from its
-- stored events), a repeat and garbage (a dead letter)
SET ROLE priv_ingest;
SELECT * FROM qoe.ingest(format('[
    {"event_type":"start","session_id":"priv-1","event_id":"a","user_id":1,"content_id":1,"timestamp":%1$s},
    {"event_type":"heartbeat","session_id":"priv-1","event_id":"b","user_id":1,"content_id":1,"timestamp":%2$s},
    {"event_type":"start","session_id":"priv-2","event_id":"a","user_id":1,"content_id":1,"timestamp":%1$s}]',
    :t0, :t0 + 2000));
SELECT * FROM qoe.ingest(format('{"event_type":"first_frame","session_id":"priv-1","event_id":"c","user_id":1,"content_id":1,"timestamp":%s}', :t0 + 1000));
SELECT * FROM qoe.ingest(format('{"event_type":"first_frame","session_id":"priv-1","event_id":"c","user_id":1,"content_id":1,"timestamp":%s}', :t0 + 1000));
SELECT * FROM qoe.ingest('not json');
SELECT count(*) FROM qoe.decode_event('{}');
-- and nothing else
SELECT qoe.expire_sessions();
DELETE FROM qoe.sessions;
SELECT payload FROM qoe.dead_letters;
RESET ROLE;

-- a reader reads, but not dead-letter payloads, and cannot write
SET ROLE priv_bi;
SELECT session_id, state, event_count, vst_ms FROM qoe.sessions WHERE session_id LIKE 'priv-%' ORDER BY 1;
SELECT count(*) FROM qoe.viewing_events WHERE session_id LIKE 'priv-%';
SELECT reason FROM qoe.dead_letters ORDER BY id DESC LIMIT 1;
SELECT payload FROM qoe.dead_letters;
SELECT * FROM qoe.dead_letters;
SELECT count(*) > 0 AS sees_partitions FROM qoe.partitions;
SELECT qoe.tdigest_count(qoe.tdigest_agg(watch_ms)) FROM qoe.sessions WHERE session_id LIKE 'priv-%';
SELECT * FROM qoe.ingest('{}');
SELECT count(*) FROM qoe.decode_event('{}');
UPDATE qoe.sessions SET event_count = 0;
RESET ROLE;

-- an admin expires sessions and keeps the catalog
SET ROLE priv_ops;
SELECT qoe.expire_sessions('1 day') >= 0 AS expired;
INSERT INTO qoe.content (content_id, title) VALUES (900001, 'priv');
DELETE FROM qoe.content WHERE content_id = 900001;
SELECT count(*) >= 1 AS sees_payloads FROM qoe.dead_letters WHERE payload = 'not json';
-- and maintains partitions without owning them (partitions are made and
-- dropped as the owner of qoe.viewing_events)
SELECT qoe.premake_partitions(5) >= 0 AS premade;
SELECT * FROM qoe.drop_old_partitions('1 year');
RESET ROLE;

-- a role with only USAGE on qoe may use the sketches and nothing else
SET ROLE priv_nobody;
SELECT qoe.tdigest_count(qoe.tdigest_agg(x)) FROM generate_series(1, 10) x;
SELECT qoe.percentile_approx(x, 0.5) FROM generate_series(1, 9) x;
SELECT count(*) FROM qoe.sessions;
SELECT * FROM qoe.ingest('{}');
SELECT qoe.expire_sessions();
SELECT qoe.premake_partitions(0);
SELECT * FROM qoe.drop_old_partitions('1 year');
RESET ROLE;

DELETE FROM qoe.sessions WHERE session_id LIKE 'priv-%';
DELETE FROM qoe.viewing_events WHERE session_id LIKE 'priv-%';
DROP ROLE priv_bi, priv_ingest, priv_ops;
REVOKE USAGE ON SCHEMA qoe FROM priv_nobody;
DROP ROLE priv_nobody;
SET client_min_messages = warning;  -- dropped above, unless that failed
DROP TABLE IF EXISTS qoe.viewing_events_p20000101;
RESET client_min_messages;
