-- The definitions of doc/metrics.md pinned on hand-worked sessions (issue 10):
-- test/vectors/definitions.json, in the format of ../shared/vectors, read by
-- psql (not the server) like sql/vectors.sql. Each case's events go through
-- qoe.ingest in the order listed, and again newest first one call each under
-- "<name>/rev"; every pinned column must match, and both rows be the same.
\set defs `cat test/vectors/definitions.json`
CREATE TEMP TABLE def_base AS SELECT test_ms(-3600000) AS ms;
CREATE TEMP TABLE def_cases AS
SELECT s->>'name' AS name, s AS spec, n
  FROM jsonb_array_elements((:'defs'::jsonb)->'sessions') WITH ORDINALITY AS x(s, n);
CREATE FUNCTION def_event(e jsonb, sid text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT (e - 't') || jsonb_build_object('timestamp', (SELECT ms FROM def_base) + (e->>'t')::bigint,
                                           'session_id', sid) $$;

SELECT c.name, r.accepted, r.rejected, r.duplicates
  FROM def_cases c,
       LATERAL (SELECT jsonb_agg(def_event(e, c.name) ORDER BY k) AS batch
                  FROM jsonb_array_elements(c.spec->'events') WITH ORDINALITY AS x(e, k)) b,
       LATERAL qoe.ingest(b.batch) r
 ORDER BY c.n;
SELECT sum(r.accepted) AS accepted_reversed
  FROM def_cases c,
       LATERAL (SELECT e, k FROM jsonb_array_elements(c.spec->'events') WITH ORDINALITY AS x(e, k)
                 ORDER BY k DESC) ev,
       LATERAL qoe.ingest(def_event(ev.e, c.name || '/rev')) r;

-- time columns as milliseconds after the base
CREATE FUNCTION def_row(sid text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT to_jsonb(s) || jsonb_build_object(
               'started_t', (extract(epoch FROM s.started_at) * 1000)::bigint - b.ms,
               'first_frame_t', (extract(epoch FROM s.first_frame_at) * 1000)::bigint - b.ms,
               'ended_t', (extract(epoch FROM s.ended_at) * 1000)::bigint - b.ms,
               'last_event_t', (extract(epoch FROM s.last_event_at) * 1000)::bigint - b.ms)
      FROM qoe.sessions s, def_base b WHERE s.session_id = sid $$;
SELECT c.name, count(*) AS columns_checked,
       coalesce(string_agg(format('%s: expected %s, got %s', k.key, k.value,
                                  coalesce(def_row(c.name)->k.key, '"no session"')), '; ' ORDER BY k.key)
                FILTER (WHERE NOT m.matches), 'ok') AS mismatches,
       (def_row(c.name) - 'session_id') = (def_row(c.name || '/rev') - 'session_id') AS reversed_same
  FROM def_cases c
  CROSS JOIN LATERAL jsonb_each(c.spec->'session') AS k(key, value)
  CROSS JOIN LATERAL (SELECT coalesce(CASE WHEN jsonb_typeof(k.value) = 'number'
                                           THEN (def_row(c.name)->>k.key)::numeric = (k.value#>>'{}')::numeric
                                           ELSE def_row(c.name)->k.key = k.value END, false) AS matches) m
 GROUP BY c.name, c.n
 ORDER BY c.n;

-- completion by the catalog's duration, just either side of 70 % of 100 s
INSERT INTO qoe.content (content_id, title, duration_sec) VALUES (9102, 'definitions', 100);
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    def_event('{"event_type":"start","user_id":7,"content_id":9102,"t":0}', 'cat-70'),
    def_event('{"event_type":"stop","user_id":7,"content_id":9102,"t":80000,"position_sec":70}', 'cat-70'),
    def_event('{"event_type":"start","user_id":7,"content_id":9102,"t":0}', 'cat-69.9'),
    def_event('{"event_type":"stop","user_id":7,"content_id":9102,"t":80000,"position_sec":69.9}', 'cat-69.9')));
SELECT session_id, content_duration_sec, max_position_sec, completed
  FROM qoe.sessions WHERE session_id LIKE 'cat-%' ORDER BY 1;

-- inactivity: qoe.session_timeout (5 min) idle, exactly, is not yet
-- abandoned; 1 ms more is. The timeout is measured from now() (the
-- transaction start), so one transaction holds the clock still.
BEGIN;
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    jsonb_build_object('event_type', 'start', 'session_id', 'idle-5min', 'user_id', 7, 'content_id', 9101,
                       'timestamp', test_ms(-300000)),
    jsonb_build_object('event_type', 'start', 'session_id', 'idle-5min-1s', 'user_id', 7, 'content_id', 9101,
                       'timestamp', test_ms(-301000)),
    jsonb_build_object('event_type', 'start', 'session_id', 'idle-4min-59s', 'user_id', 7, 'content_id', 9101,
                       'timestamp', test_ms(-299000))));
SELECT (now() - last_event_at) AS idle FROM qoe.sessions WHERE session_id = 'idle-5min' \gset
-- test_ms rounds now() to the millisecond: idle-5min has been idle for idle
SELECT qoe.expire_sessions(:'idle'::interval) IS NOT NULL AS expired_at_exact_idle;
SELECT session_id, state, ebvs FROM qoe.sessions WHERE session_id LIKE 'idle-%' ORDER BY 1;
SELECT qoe.expire_sessions(:'idle'::interval - interval '1 millisecond') IS NOT NULL AS expired_1ms_less;
SELECT session_id, state, ebvs FROM qoe.sessions WHERE session_id LIKE 'idle-%' ORDER BY 1;
ROLLBACK;
BEGIN;
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    jsonb_build_object('event_type', 'start', 'session_id', 'idle-5min-1s', 'user_id', 7, 'content_id', 9101,
                       'timestamp', test_ms(-301000)),
    jsonb_build_object('event_type', 'start', 'session_id', 'idle-4min-59s', 'user_id', 7, 'content_id', 9101,
                       'timestamp', test_ms(-299000))));
SELECT qoe.expire_sessions() IS NOT NULL AS default_timeout;
SELECT session_id, state, ebvs FROM qoe.sessions WHERE session_id LIKE 'idle-%' ORDER BY 1;
ROLLBACK;
