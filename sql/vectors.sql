-- The hand-worked reference sessions of ../shared/vectors/sessions.json: each
-- session's events go through qoe.ingest and every pinned column must match.
-- Output: one line per case with its mismatches (none expected).
-- Read by psql, not the server: the server's OS user may not enter the
-- checkout (e.g. under /root).
\getenv shared_dir QOE_SHARED_DIR
\set vectors `cat :'shared_dir'/vectors/sessions.json`
CREATE TEMP TABLE vector_base AS SELECT test_ms(-3600000) AS ms;

CREATE TEMP TABLE vector_sessions AS
SELECT s->>'name' AS name, s AS spec
  FROM jsonb_array_elements((:'vectors'::jsonb)->'sessions') AS s;

-- 't' becomes 'timestamp' = base + t, as ISO-8601 text where the case asks
CREATE FUNCTION vector_event(e jsonb, iso boolean) RETURNS jsonb LANGUAGE sql AS $$
    SELECT (e - 't') || jsonb_build_object('timestamp',
        CASE WHEN iso
             THEN to_jsonb(to_char(to_timestamp(((SELECT ms FROM vector_base) + (e->>'t')::bigint) / 1000.0) AT TIME ZONE 'UTC',
                                   'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
             ELSE to_jsonb((SELECT ms FROM vector_base) + (e->>'t')::bigint) END) $$;

-- each case's events in one call, in the order listed (v5 lists them shuffled, with a retry)
SELECT v.name, r.accepted, r.rejected, r.duplicates
  FROM vector_sessions v,
       LATERAL (SELECT jsonb_agg(vector_event(e, coalesce((v.spec->>'iso_timestamps')::boolean, false))
                                 ORDER BY n) AS batch
                  FROM jsonb_array_elements(v.spec->'events') WITH ORDINALITY AS x(e, n)) b,
       LATERAL qoe.ingest(b.batch) r
 ORDER BY v.name;

-- compare each pinned column, rendered as JSON on both sides
SELECT v.name, count(*) AS columns_checked,
       coalesce(string_agg(format('%s: expected %s, got %s', k.key, k.value,
                                  coalesce(to_jsonb(s)->k.key, '"no session"')), '; ' ORDER BY k.key)
                FILTER (WHERE NOT m.matches), 'ok') AS mismatches
  FROM vector_sessions v
  LEFT JOIN qoe.sessions s ON s.session_id = v.name
  CROSS JOIN LATERAL jsonb_each(v.spec->'session') AS k(key, value)
  CROSS JOIN LATERAL (SELECT coalesce(CASE WHEN jsonb_typeof(k.value) = 'number'
                                           THEN (to_jsonb(s)->>k.key)::numeric = (k.value#>>'{}')::numeric
                                           ELSE to_jsonb(s)->k.key = k.value END, false) AS matches) m
 GROUP BY v.name
 ORDER BY v.name;

-- the events that must be rejected, sent together with one valid event
SELECT coalesce(max(id), 0) AS dead_letters_before FROM qoe.dead_letters \gset
SELECT r.* FROM (
    SELECT jsonb_agg(CASE WHEN x.r->'event' ? 't' THEN vector_event(x.r->'event', false)
                          ELSE x.r->'event' END) ||
           jsonb_build_array(vector_event('{"event_type":"start","session_id":"vector-kept",
                                            "user_id":1,"content_id":1,"t":0}', false)) AS batch
      FROM jsonb_array_elements((:'vectors'::jsonb)->'rejected') AS x(r)) b,
    LATERAL qoe.ingest(b.batch) r;
SELECT count(*) AS kept FROM qoe.viewing_events WHERE session_id = 'vector-kept';
SELECT d.item_index, x.r->>'why' AS why, d.reason IS NOT NULL AND d.reason <> '' AS has_reason
  FROM jsonb_array_elements((:'vectors'::jsonb)->'rejected') WITH ORDINALITY AS x(r, n)
  JOIN qoe.dead_letters d ON d.id > :dead_letters_before AND d.item_index = x.n - 1
                         AND d.payload::jsonb->>'session_id' IS NOT DISTINCT FROM x.r->'event'->>'session_id'
 ORDER BY d.item_index;
