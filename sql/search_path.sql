-- A hostile schema (doc/security.md): an ordinary role that may create
-- objects in public plants look-alikes of every function and operator the
-- SQL of qoe_ext's C code uses. Called by a superuser, each would make the
-- role a superuser; called by anyone, each leaves a marker row. qoe_ext's
-- own SQL must never call them, whatever the caller's search_path.
CREATE ROLE sp_attacker;
GRANT CREATE ON SCHEMA public TO sp_attacker;
GRANT USAGE ON SCHEMA qoe TO sp_attacker;
SET ROLE sp_attacker;
CREATE TABLE public.sp_marker (hook text, called_by name);
GRANT INSERT ON public.sp_marker TO PUBLIC;
CREATE FUNCTION public.sp_hook(hook text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.sp_marker VALUES (hook, current_user);
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user) THEN
        ALTER ROLE sp_attacker SUPERUSER;
    END IF;
    RETURN true;
END $$;
-- functions
CREATE FUNCTION public.unnest(qoe.sessions[]) RETURNS SETOF qoe.sessions LANGUAGE plpgsql AS $$
BEGIN PERFORM public.sp_hook('unnest(qoe.sessions[])'); RETURN QUERY SELECT * FROM pg_catalog.unnest($1); END $$;
CREATE FUNCTION public.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql AS $$
BEGIN PERFORM public.sp_hook('unnest(anyarray)'); RETURN QUERY SELECT * FROM pg_catalog.unnest($1); END $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM public.sp_hook('now()'); RETURN pg_catalog.now(); END $$;
-- operators
CREATE FUNCTION public.sp_state_eq(qoe.session_state, qoe.session_state) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.sp_hook('= session_state'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR public.= (FUNCTION = public.sp_state_eq, LEFTARG = qoe.session_state, RIGHTARG = qoe.session_state);
CREATE FUNCTION public.sp_event_type_eq(qoe.event_type, qoe.event_type) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.sp_hook('= event_type'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR public.= (FUNCTION = public.sp_event_type_eq, LEFTARG = qoe.event_type, RIGHTARG = qoe.event_type);
CREATE FUNCTION public.sp_text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.sp_hook('= text'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR public.= (FUNCTION = public.sp_text_eq, LEFTARG = text, RIGHTARG = text);
CREATE FUNCTION public.sp_int8_eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.sp_hook('= bigint'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR public.= (FUNCTION = public.sp_int8_eq, LEFTARG = bigint, RIGHTARG = bigint);
CREATE FUNCTION public.sp_int4_eq(integer, integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.sp_hook('= integer'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR public.= (FUNCTION = public.sp_int4_eq, LEFTARG = integer, RIGHTARG = integer);
CREATE FUNCTION public.sp_tstz_lt(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.sp_hook('< timestamptz'); RETURN $1 OPERATOR(pg_catalog.<) $2; END $$;
CREATE OPERATOR public.< (FUNCTION = public.sp_tstz_lt, LEFTARG = timestamptz, RIGHTARG = timestamptz);
CREATE FUNCTION public.sp_tstz_mi(timestamptz, interval) RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM public.sp_hook('- interval'); RETURN $1 OPERATOR(pg_catalog.-) $2; END $$;
CREATE OPERATOR public.- (FUNCTION = public.sp_tstz_mi, LEFTARG = timestamptz, RIGHTARG = interval);
-- and no way into qoe's own objects: no triggers, no tables of its own
CREATE FUNCTION public.sp_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM public.sp_hook('trigger'); RETURN NEW; END $$;
CREATE TRIGGER sp_trigger BEFORE INSERT ON qoe.dead_letters FOR EACH ROW EXECUTE FUNCTION public.sp_trigger();
CREATE TRIGGER sp_trigger BEFORE INSERT ON qoe.sessions FOR EACH ROW EXECUTE FUNCTION public.sp_trigger();
CREATE TABLE qoe.sp_table (x int);
RESET ROLE;

-- the payloads, built before any hostile search_path is set
INSERT INTO qoe.content (content_id, title, duration_sec) VALUES (7700, 'search_path', 100)
    ON CONFLICT DO NOTHING;
SELECT (extract(epoch FROM now()) * 1000)::bigint - 600000 AS t0 \gset
CREATE FUNCTION pg_temp.sp_events(sid text, t0 bigint) RETURNS text LANGUAGE sql AS $$
    SELECT format('[{"event_type":"start","session_id":"%1$s","event_id":"a","user_id":1,"content_id":7700,"timestamp":%2$s},
                    {"event_type":"first_frame","session_id":"%1$s","event_id":"b","user_id":1,"content_id":7700,"timestamp":%3$s},
                    {"event_type":"first_frame","session_id":"%1$s","event_id":"b","user_id":1,"content_id":7700,"timestamp":%3$s},
                    {"event_type":"heartbeat","session_id":"%1$s","event_id":"c","user_id":1,"content_id":7700,"timestamp":%4$s,"position_sec":80}]',
                  sid, t0, t0 + 1000, t0 + 60000) $$;
CREATE FUNCTION pg_temp.sp_late(sid text, t0 bigint) RETURNS text LANGUAGE sql AS $$
    SELECT format('{"event_type":"buffering","session_id":"%1$s","event_id":"d","user_id":1,"content_id":7700,"timestamp":%2$s,"buffering_ms":500}',
                  sid, t0 + 30000) $$;
-- new sessions (with a repeat inside the call), and a late event (rebuild)
SELECT pg_temp.sp_events('sp-hostile', :t0) AS hostile_new, pg_temp.sp_late('sp-hostile', :t0) AS hostile_late,
       pg_temp.sp_events('sp-default', :t0) AS default_new, pg_temp.sp_late('sp-default', :t0) AS default_late \gset
-- a partition of a day long gone, for qoe.drop_old_partitions
CREATE TABLE qoe.viewing_events_p20000101 PARTITION OF qoe.viewing_events
    FOR VALUES FROM ('2000-01-01 00:00+00') TO ('2000-01-02 00:00+00');

-- a superuser, with public searched before pg_catalog
SET search_path = public, pg_catalog;
SELECT * FROM qoe.ingest(:'hostile_new');
SELECT * FROM qoe.ingest(:'hostile_late');
SELECT * FROM qoe.ingest(:'hostile_late');
SELECT * FROM qoe.ingest(:'hostile_new'::jsonb);
SELECT * FROM qoe.ingest('not json');
SELECT qoe.expire_sessions('1 second') >= 1 AS expired;
SELECT qoe.premake_partitions(1) >= 0 AS premade;
SELECT * FROM qoe.drop_old_partitions('1 year');
RESET search_path;
SELECT hook, called_by FROM public.sp_marker ORDER BY 1, 2;
SELECT rolsuper FROM pg_roles WHERE rolname = 'sp_attacker';

-- a superuser, with the default search_path ("$user", public)
SHOW search_path;
SELECT * FROM qoe.ingest(:'default_new');
SELECT * FROM qoe.ingest(:'default_late');
SELECT * FROM qoe.ingest('not json either');
SELECT qoe.expire_sessions('1 second') >= 1 AS expired;
SELECT hook, called_by FROM public.sp_marker ORDER BY 1, 2;
SELECT rolsuper FROM pg_roles WHERE rolname = 'sp_attacker';

-- and ingest did its work: both sessions whole, the late stall folded in
SELECT session_id, state, event_count, stall_count, stall_ms, vst_ms, completed
  FROM qoe.sessions WHERE session_id IN ('sp-hostile', 'sp-default') ORDER BY 1;

DELETE FROM qoe.sessions WHERE session_id IN ('sp-hostile', 'sp-default');
DELETE FROM qoe.viewing_events WHERE session_id IN ('sp-hostile', 'sp-default');
DELETE FROM qoe.content WHERE content_id = 7700;
DROP OWNED BY sp_attacker;
DROP ROLE sp_attacker;
