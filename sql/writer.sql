-- The batch writer: one bad event never takes its batch with it; what it
-- writes into is verified; partitions are made by their owner; numbers a
-- client gives are checked. Run far from UTC: days are UTC days anyway.
\set ON_ERROR_STOP 0
SET TimeZone = 'America/St_Johns';
SET DateStyle = 'ISO';

CREATE FUNCTION wev(session text, event_type text DEFAULT 'start', offset_ms bigint DEFAULT -60000,
                   more jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('event_type', event_type, 'session_id', session, 'user_id', 1,
                              'content_id', 7, 'timestamp', test_ms(offset_ms)) || more $$;
CREATE FUNCTION last_dead_letters(n integer)
    RETURNS TABLE (item_index integer, reason text, session text) LANGUAGE sql AS $$
    SELECT item_index, regexp_replace(reason, '[0-9]{8}', 'YYYYMMDD'),
           substring(payload FROM '"session_id": *"([^"]*)"')
      FROM (SELECT * FROM qoe.dead_letters ORDER BY id DESC LIMIT n) d ORDER BY id $$;
-- DDL with today's date in it, without echoing the date
CREATE FUNCTION exec(sql text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE sql; END $$;

-- a trigger's error rejects its event only: the events around it are stored
CREATE FUNCTION refuse_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.session_id = 'w-bad' THEN
        RAISE EXCEPTION 'session % is not welcome', NEW.session_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_session BEFORE INSERT ON qoe.sessions
    FOR EACH ROW EXECUTE FUNCTION refuse_session();
SELECT * FROM qoe.ingest(jsonb_build_array(wev('w-good-1'), wev('w-bad'), wev('w-good-2')));
SELECT session_id FROM qoe.sessions WHERE session_id LIKE 'w-%' ORDER BY 1;
SELECT * FROM last_dead_letters(1);
-- many bad events among many good ones: exactly the bad ones are rejected
SELECT * FROM qoe.ingest((SELECT jsonb_agg(wev(CASE WHEN g % 97 = 0 THEN 'w-bad' ELSE 'w-many-' || g END,
                                              'heartbeat', -60000 + g))
                            FROM generate_series(1, 1000) g));
SELECT count(*) AS stored FROM qoe.viewing_events WHERE session_id LIKE 'w-many-%';
SELECT count(*) AS rejected, min(reason) = max(reason) AS one_reason
  FROM (SELECT * FROM qoe.dead_letters ORDER BY id DESC LIMIT 10) d;

-- an error that is not about one event fails the call, and stores nothing
CREATE OR REPLACE FUNCTION refuse_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.session_id = 'w-busy' THEN
        RAISE EXCEPTION 'try again' USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN NEW;
END $$;
SELECT count(*) AS dead_letters_before FROM qoe.dead_letters \gset
\set VERBOSITY terse
SELECT * FROM qoe.ingest(jsonb_build_array(wev('w-calm'), wev('w-busy')));
\set VERBOSITY default
SELECT count(*) - :dead_letters_before AS new_dead_letters FROM qoe.dead_letters;
SELECT count(*) AS calm_stored FROM qoe.sessions WHERE session_id = 'w-calm';
DROP TRIGGER refuse_session ON qoe.sessions;

-- constraints added to the events table are enforced, per event
ALTER TABLE qoe.viewing_events ADD CONSTRAINT sane_bitrate CHECK (bitrate_kbps < 100000);
SELECT * FROM qoe.ingest(jsonb_build_array(wev('w-c1', 'start', -60000, '{"bitrate_kbps": 3000}'),
                                           wev('w-c2', 'start', -60000, '{"bitrate_kbps": 500000}')));
SELECT * FROM last_dead_letters(1);
SELECT session_id FROM qoe.viewing_events WHERE session_id LIKE 'w-c%' ORDER BY 1;
ALTER TABLE qoe.viewing_events DROP CONSTRAINT sane_bitrate;

-- a day's partition that cannot take rows: its events are dead letters, no crash
SELECT 'viewing_events_p' || to_char((now() AT TIME ZONE 'UTC')::date - 2, 'YYYYMMDD') AS two_days_ago,
       quote_literal(((now() AT TIME ZONE 'UTC')::date - 2)::text || ' 00:00+00') AS lo,
       quote_literal(((now() AT TIME ZONE 'UTC')::date - 1)::text || ' 00:00+00') AS hi,
       quote_literal(((now() AT TIME ZONE 'UTC')::date - 2)::text || ' 12:00+00') AS noon,
       ((now() AT TIME ZONE 'UTC')::date - 2)::text || ' 00:00+00' AS lo_ts,
       ((now() AT TIME ZONE 'UTC')::date - 1)::text || ' 00:00+00' AS hi_ts \gset
SET client_min_messages = warning;
SELECT exec(format('DROP TABLE IF EXISTS qoe.%I', :'two_days_ago'));
RESET client_min_messages;
-- sub-partitioned
SELECT exec(format('CREATE TABLE qoe.%I PARTITION OF qoe.viewing_events FOR VALUES FROM (%s) TO (%s)
               PARTITION BY HASH (session_id)', :'two_days_ago', :'lo', :'hi'));
SELECT exec(format('CREATE TABLE qoe.sub0 PARTITION OF qoe.%I FOR VALUES WITH (MODULUS 1, REMAINDER 0)',
              :'two_days_ago'));
SELECT * FROM qoe.ingest(jsonb_build_array(wev('w-today'), wev('w-late', 'start', -2 * 86400000)));
SELECT reason FROM last_dead_letters(1);
SELECT count(*) AS late_sessions FROM qoe.sessions WHERE session_id = 'w-late';
SELECT exec(format('DROP TABLE qoe.%I', :'two_days_ago'));
-- detached: events must not vanish into a table outside qoe.viewing_events
SELECT exec(format('CREATE TABLE qoe.%I PARTITION OF qoe.viewing_events FOR VALUES FROM (%s) TO (%s)',
              :'two_days_ago', :'lo', :'hi'));
SELECT exec(format('ALTER TABLE qoe.viewing_events DETACH PARTITION qoe.%I', :'two_days_ago'));
SELECT * FROM qoe.ingest(wev('w-late', 'start', -2 * 86400000));
SELECT reason FROM last_dead_letters(1);
SELECT exec(format('DROP TABLE qoe.%I', :'two_days_ago'));
-- bounds narrower than the day
SELECT exec(format('CREATE TABLE qoe.%I PARTITION OF qoe.viewing_events FOR VALUES FROM (%s) TO (%s)',
              :'two_days_ago', :'lo', :'noon'));
SELECT * FROM qoe.ingest(wev('w-late', 'start', -2 * 86400000));
SELECT reason FROM last_dead_letters(1);
SELECT exec(format('DROP TABLE qoe.%I', :'two_days_ago'));
-- a plain table of that name (a view, a sequence...) is no partition either
SELECT exec(format('CREATE SEQUENCE qoe.%I', :'two_days_ago'));
SELECT * FROM qoe.ingest(wev('w-late', 'start', -2 * 86400000));
SELECT reason FROM last_dead_letters(1);
SELECT exec(format('DROP SEQUENCE qoe.%I', :'two_days_ago'));

-- on demand, a missing day's partition is made and attached by the table's
-- owner: the writing role needs no ownership
CREATE ROLE qoe_test_writer;
GRANT USAGE ON SCHEMA qoe TO qoe_test_writer;
GRANT EXECUTE ON FUNCTION qoe.ingest(jsonb) TO qoe_test_writer;
GRANT INSERT ON qoe.viewing_events, qoe.dead_letters TO qoe_test_writer;
GRANT SELECT, INSERT, UPDATE ON qoe.sessions TO qoe_test_writer;
GRANT SELECT ON qoe.content TO qoe_test_writer;
GRANT USAGE ON SEQUENCE qoe.dead_letters_id_seq TO qoe_test_writer;
SET ROLE qoe_test_writer;
SELECT * FROM qoe.ingest(wev('w-late', 'start', -2 * 86400000));
RESET ROLE;
SELECT pg_get_userbyid(c.relowner) AS owner,
       pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES FROM (%L) TO (%L)',
                                                   :'lo_ts'::timestamptz, :'hi_ts'::timestamptz) AS utc_day
  FROM pg_class c WHERE c.relname = :'two_days_ago' AND c.relnamespace = 'qoe'::regnamespace;
SELECT count(*) AS late_stored FROM qoe.viewing_events WHERE session_id = 'w-late';
DROP OWNED BY qoe_test_writer;
DROP ROLE qoe_test_writer;

-- numbers a client gives: out of range is an error, never a wrap-around
SELECT count(*) AS partitions_before FROM qoe.partitions \gset
SELECT * FROM qoe.drop_old_partitions('593066 years 8 months');
SELECT * FROM qoe.drop_old_partitions('-3 days');
SELECT count(*) = :partitions_before AS nothing_dropped FROM qoe.partitions;
SELECT count(*) AS active_before FROM qoe.sessions WHERE state = 'active' \gset
SELECT qoe.expire_sessions('200000000 days');
SELECT count(*) = :active_before AS nothing_expired FROM qoe.sessions WHERE state = 'active';

-- leave nothing for the tests after this one
SELECT exec(format('DROP TABLE qoe.%I', :'two_days_ago'));
DELETE FROM qoe.sessions WHERE session_id LIKE 'w-%';
DELETE FROM qoe.viewing_events WHERE session_id LIKE 'w-%';
DROP FUNCTION wev(text, text, bigint, jsonb), last_dead_letters(integer), exec(text),
    refuse_session();
