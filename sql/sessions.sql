-- Session columns on hand-worked sessions (definitions: doc/metrics.md).
-- Times are milliseconds after a base one hour ago.
CREATE TABLE base AS SELECT test_ms(-3600000) AS ms;
CREATE FUNCTION ev(sid text, type text, t bigint, fields jsonb DEFAULT '{}', content bigint DEFAULT 1)
    RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('event_type', type, 'session_id', sid, 'event_id', type || t,
                              'user_id', 7, 'content_id', content, 'timestamp', t + (SELECT ms FROM base),
                              'device_type', 'smart_tv', 'country', 'US', 'cdn_pop', 'us-east-1a')
           || fields $$;
CREATE VIEW session_check AS
    SELECT session_id, state, vst_ms, watch_ms, stall_count, stall_ms, paused_ms,
           avg_bitrate_kbps, peak_bitrate_kbps, bitrate_switches, bitrate_downswitches,
           dropped_frames, max_position_sec, completed, ebvs, start_failed, playback_failed,
           error_count, event_count,
           (extract(epoch FROM ended_at - started_at) * 1000)::bigint AS ended_after_ms,
           (extract(epoch FROM last_event_at - started_at) * 1000)::bigint AS last_event_after_ms
      FROM qoe.sessions;

-- s1: a 30 s pause. watch = 62000 - 2000 - 30000; bitrate 2000 over the 30 s played
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    ev('s1', 'start', 0, '{"bitrate_kbps":2000}'),
    ev('s1', 'first_frame', 2000),
    ev('s1', 'pause', 12000),
    ev('s1', 'resume', 42000),
    ev('s1', 'heartbeat', 52000, '{"buffer_health_sec":10}'),
    ev('s1', 'stop', 62000, '{"position_sec":50,"content_duration_sec":100}')));

-- s2: a stall of unknown length (closed by the next event, 3000 ms), a
-- downswitch 6000 -> 3000, a dropped-frame counter that resets (10, 12, 4 -> 16).
-- avg bitrate = (6000 x 39 s + 3000 x 60 s) / 99 s = 4181.8; watch = 102000 - 3000
SELECT ev('s2', 'start', 0, '{"bitrate_kbps":6000}') AS e0,
       ev('s2', 'first_frame', 1000) AS e1,
       ev('s2', 'heartbeat', 31000, '{"dropped_frames":10,"buffering_events":0}') AS e2,
       ev('s2', 'buffering', 40000) AS e3,
       ev('s2', 'heartbeat', 43000, '{"bitrate_kbps":3000,"dropped_frames":12}') AS e4,
       ev('s2', 'heartbeat', 73000, '{"dropped_frames":4,"buffering_events":1}') AS e5,
       ev('s2', 'stop', 103000, '{"position_sec":100,"content_duration_sec":120}') AS e6
\gset
SELECT accepted FROM qoe.ingest(jsonb_build_array(:'e0'::jsonb, :'e1'::jsonb, :'e2'::jsonb,
    :'e3'::jsonb, :'e4'::jsonb, :'e5'::jsonb, :'e6'::jsonb));

-- s3: abandoned after playing 30 s; s4: abandoned before the first frame (EBVS)
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    ev('s3', 'start', 0),
    ev('s3', 'first_frame', 1500, '{"bitrate_kbps":1000}'),
    ev('s3', 'heartbeat', 31500),
    ev('s4', 'start', 0)));

-- s5: completion decided by the catalog duration (75 s of 100 s)
INSERT INTO qoe.content (content_id, title, duration_sec) VALUES (500, 'Catalog title', 100);
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    ev('s5', 'start', 0, '{}', 500),
    ev('s5', 'first_frame', 500, '{}', 500),
    ev('s5', 'stop', 75500, '{"position_sec":75}', 500)));

-- s6: no first_frame and no vst_ms: the first heartbeat with buffered video
-- (not the one with an empty buffer) gives the start time
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    ev('s6', 'start', 0),
    ev('s6', 'heartbeat', 3000, '{"buffer_health_sec":0}'),
    ev('s6', 'heartbeat', 5000, '{"buffer_health_sec":3}'),
    ev('s6', 'stop', 35000)));

-- s7: events after the stop do not extend the session; a non-fatal error is counted
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    ev('s7', 'start', 0),
    ev('s7', 'first_frame', 1000),
    ev('s7', 'error', 4000, '{"error_code":"HTTP_404","fatal":false}'),
    ev('s7', 'stop', 10000),
    ev('s7', 'heartbeat', 20000)));

SELECT * FROM session_check WHERE session_id ~ '^s[0-9]$' ORDER BY session_id;
SELECT session_id, device_type, country, cdn_pop, user_id, content_id, content_duration_sec,
       last_error_code
  FROM qoe.sessions WHERE session_id IN ('s5', 's7') ORDER BY session_id;

-- expire: only s3 and s4 are active and idle
SELECT qoe.expire_sessions();
SELECT session_id, state, ebvs, watch_ms FROM qoe.sessions WHERE session_id IN ('s3', 's4') ORDER BY 1;
SELECT qoe.expire_sessions('2 hours');
SELECT qoe.expire_sessions('-1 hour');

-- arrival order: s2's events one call each, newest first, under another id
SELECT sum(accepted) FROM unnest(ARRAY[:'e6', :'e5', :'e4', :'e3', :'e2', :'e1', :'e0']) AS e(ev),
    LATERAL qoe.ingest(jsonb_set(e.ev::jsonb, '{session_id}', '"s2-reversed"'));
-- and every event twice, shuffled, under a third id
SELECT sum(accepted) AS accepted, sum(duplicates) AS duplicates
  FROM unnest(ARRAY[:'e3', :'e0', :'e6', :'e3', :'e1', :'e5', :'e0', :'e2', :'e4', :'e6',
                    :'e1', :'e4', :'e2', :'e5']) AS e(ev),
    LATERAL qoe.ingest(jsonb_set(e.ev::jsonb, '{session_id}', '"s2-twice"'));
-- the same row for all three: every column but the id, fold state included
CREATE FUNCTION session_signature(sid text) RETURNS text LANGUAGE sql AS $$
    SELECT (to_jsonb(s) - 'session_id')::text FROM qoe.sessions s WHERE session_id = sid $$;
SELECT session_signature('s2') = session_signature('s2-reversed') AS reversed_same,
       session_signature('s2') = session_signature('s2-twice') AS twice_same;
SELECT count(*) AS s2_twice_events_stored FROM qoe.viewing_events WHERE session_id = 's2-twice';

-- a late event inside an ended session is folded in its place: a stall at
-- 20 s arriving last adds to stall time and takes from watch time
SELECT accepted FROM qoe.ingest(ev('s1', 'buffering', 45000, '{"buffering_ms":1500}'));
SELECT session_id, stall_count, stall_ms, watch_ms, event_count FROM qoe.sessions WHERE session_id = 's1';

-- Columns and constraints qoe_ext does not know (doc/security.md): an update
-- carries such columns over and computes generated ones, an insert gives them
-- their defaults, and NOT NULL and CHECK constraints hold on both paths.
BEGIN;
ALTER TABLE qoe.sessions ADD COLUMN note text NOT NULL DEFAULT 'n/a';
ALTER TABLE qoe.sessions ADD COLUMN note_events integer
    GENERATED ALWAYS AS (length(note) * 1000 + event_count) STORED;
UPDATE qoe.sessions SET note = 'kept' WHERE session_id IN ('s6', 's7');
-- s7 on the fast path, s6 rebuilt from its history (a late event), c1 new
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    ev('s7', 'heartbeat', 30000), ev('s6', 'heartbeat', 4000), ev('c1', 'start', 0)));
SELECT session_id, note, note_events, event_count FROM qoe.sessions
 WHERE session_id IN ('s6', 's7', 'c1') ORDER BY 1;
-- a CHECK added later holds for the next event (s7 has 6 events); the
-- batch fails, or the event is a dead letter: either way nothing is stored
ALTER TABLE qoe.sessions ADD CONSTRAINT sessions_few_events CHECK (event_count < 7) NOT VALID;
DO $$ BEGIN
    PERFORM qoe.ingest(ev('s7', 'heartbeat', 31000));
EXCEPTION WHEN check_violation THEN NULL;
END $$;
ALTER TABLE qoe.sessions DROP CONSTRAINT sessions_few_events;
-- and so does NOT NULL on a column the writer does not fill
ALTER TABLE qoe.sessions ALTER COLUMN note DROP DEFAULT;
DO $$ BEGIN
    PERFORM qoe.ingest(ev('c2', 'start', 0));
EXCEPTION WHEN not_null_violation THEN NULL;
END $$;
SELECT session_id, event_count FROM qoe.sessions WHERE session_id IN ('s7', 'c2') ORDER BY 1;
-- INSERT row triggers fire; an UPDATE row trigger (it could not fire) is refused
CREATE FUNCTION note_from_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.note := 'from trigger'; RETURN NEW; END $$;
CREATE TRIGGER note_on_insert BEFORE INSERT ON qoe.sessions
    FOR EACH ROW EXECUTE FUNCTION note_from_trigger();
SELECT accepted FROM qoe.ingest(ev('c3', 'start', 0));
SELECT note FROM qoe.sessions WHERE session_id = 'c3';
CREATE TRIGGER note_on_update BEFORE UPDATE ON qoe.sessions
    FOR EACH ROW EXECUTE FUNCTION note_from_trigger();
SELECT accepted FROM qoe.ingest(ev('c3', 'heartbeat', 1000));
ROLLBACK;

-- Many events of one session in one call: near-linear and interruptible.
-- 40,000 events with long ids, 1,000 of them repeating an id of the call.
SET statement_timeout = '5s';
SELECT accepted, duplicates FROM qoe.ingest((
    SELECT json_agg(json_build_object('event_type', 'heartbeat', 'session_id', 'big',
                                      'event_id', lpad((g % 39000)::text, 64, '0'),
                                      'user_id', 1, 'content_id', 1,
                                      'timestamp', test_ms(-600000) + g / 100))::text
      FROM generate_series(1, 40000) g));
RESET statement_timeout;
SELECT event_count FROM qoe.sessions WHERE session_id = 'big';

-- One player state at a time (doc/metrics.md, "Overlapping states"): hand-worked
CREATE VIEW state_check AS
    SELECT session_id, stall_count, stall_ms, seek_stall_count, seek_stall_ms, paused_ms,
           watch_ms, playback_failed,
           (extract(epoch FROM ended_at - started_at) * 1000)::bigint AS ended_after_ms
      FROM qoe.sessions WHERE session_id LIKE 'x%' ORDER BY session_id;
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    -- xp1: buffering while paused is no stall: paused 30000, watch 59000 - 30000
    ev('xp1', 'start', 0), ev('xp1', 'first_frame', 1000), ev('xp1', 'pause', 10000),
    ev('xp1', 'buffering', 15000), ev('xp1', 'resume', 40000), ev('xp1', 'stop', 60000),
    -- xp2: the same with a length: still no stall
    ev('xp2', 'start', 0), ev('xp2', 'first_frame', 1000), ev('xp2', 'pause', 10000),
    ev('xp2', 'buffering', 15000, '{"buffering_ms":3000}'), ev('xp2', 'resume', 40000),
    ev('xp2', 'stop', 60000),
    -- xp3: a pause cuts a 5000 ms stall at 2000; paused 8000, watch 29000 - 10000
    ev('xp3', 'start', 0), ev('xp3', 'first_frame', 1000),
    ev('xp3', 'buffering', 10000, '{"buffering_ms":5000}'), ev('xp3', 'pause', 12000),
    ev('xp3', 'resume', 20000), ev('xp3', 'stop', 30000),
    -- xp4: the end cuts a 10000 ms stall at 5000; watch 59000 - 5000
    ev('xp4', 'start', 0), ev('xp4', 'first_frame', 1000),
    ev('xp4', 'buffering', 55000, '{"buffering_ms":10000}'), ev('xp4', 'stop', 60000),
    -- xp5: a fatal error during a stall ends both: stall 5000, watch 24000 - 5000
    ev('xp5', 'start', 0), ev('xp5', 'first_frame', 1000),
    ev('xp5', 'buffering', 20000, '{"buffering_ms":10000}'),
    ev('xp5', 'error', 25000, '{"fatal":true,"error_code":"E1"}'),
    -- xp6: a non-fatal error is an event: it ends a stall of unknown length (3000)
    ev('xp6', 'start', 0), ev('xp6', 'first_frame', 1000), ev('xp6', 'buffering', 20000),
    ev('xp6', 'error', 23000, '{"fatal":false}'), ev('xp6', 'stop', 30000),
    -- xp7: a stall that overlaps the previous one cuts it: 2000 + 1000
    ev('xp7', 'start', 0), ev('xp7', 'first_frame', 1000),
    ev('xp7', 'buffering', 10000, '{"buffering_ms":5000}'),
    ev('xp7', 'buffering', 12000, '{"buffering_ms":1000}'), ev('xp7', 'stop', 20000),
    -- xp8: a seek while paused: the paused buffering is nothing, the first
    -- after the resume is seek-induced (800); watch 29000 - 10000 - 800
    ev('xp8', 'start', 0), ev('xp8', 'first_frame', 1000), ev('xp8', 'pause', 10000),
    ev('xp8', 'seek', 12000, '{"position_sec":300}'), ev('xp8', 'buffering', 13000),
    ev('xp8', 'heartbeat', 15000), ev('xp8', 'resume', 20000),
    ev('xp8', 'buffering', 20500, '{"buffering_ms":800}'), ev('xp8', 'stop', 30000)));
SELECT * FROM state_check;

-- Seek-induced stalls apart (doc/metrics.md, stall_count and seek_stall_count)
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    -- xs1: the first buffering after the seek is seek-induced, the later one not;
    -- watch 39000 - 2000 - 1500
    ev('xs1', 'start', 0), ev('xs1', 'first_frame', 1000),
    ev('xs1', 'seek', 10000, '{"position_sec":300}'),
    ev('xs1', 'buffering', 10100, '{"buffering_ms":1500}'),
    ev('xs1', 'buffering', 30000, '{"buffering_ms":2000}'), ev('xs1', 'stop', 40000),
    -- xs2: a heartbeat while playing closes the seek window: a connection stall
    ev('xs2', 'start', 0), ev('xs2', 'first_frame', 1000), ev('xs2', 'seek', 10000),
    ev('xs2', 'heartbeat', 11000), ev('xs2', 'buffering', 12000, '{"buffering_ms":1000}'),
    ev('xs2', 'stop', 20000),
    -- xs3: the client's seek_induced overrides the inference, both ways
    ev('xs3', 'start', 0), ev('xs3', 'first_frame', 1000), ev('xs3', 'seek', 10000),
    ev('xs3', 'buffering', 10100, '{"buffering_ms":1500,"seek_induced":false}'),
    ev('xs3', 'buffering', 20000, '{"buffering_ms":700,"seek_induced":true}'),
    ev('xs3', 'stop', 30000),
    -- xs4: a seek stall of unknown length lasts until the next event (2000);
    -- the counter (2) less the seek stall leaves 1 connection stall
    ev('xs4', 'start', 0), ev('xs4', 'first_frame', 1000), ev('xs4', 'seek', 10000),
    ev('xs4', 'buffering', 10100), ev('xs4', 'heartbeat', 12100, '{"buffering_events":2}'),
    ev('xs4', 'stop', 20000)));
SELECT * FROM state_check WHERE session_id LIKE 'xs%';
-- the field is stored in extra, so a rebuild (the seek arrives late) keeps the
-- client's word: xs5 ends like xs3's first stall, a connection stall
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    ev('xs5', 'start', 0), ev('xs5', 'first_frame', 1000),
    ev('xs5', 'buffering', 10100, '{"buffering_ms":1500,"seek_induced":false}'),
    ev('xs5', 'stop', 30000)));
SELECT accepted FROM qoe.ingest(ev('xs5', 'seek', 10000));
SELECT extra FROM qoe.viewing_events WHERE session_id = 'xs5' AND event_type = 'buffering';
SELECT * FROM state_check WHERE session_id = 'xs5';
-- a non-boolean seek_induced is rejected
SELECT accepted, rejected FROM qoe.ingest(ev('xs6', 'buffering', 0, '{"seek_induced":"yes"}'));
SELECT reason FROM qoe.dead_letters ORDER BY id DESC LIMIT 1;
-- the rebuffering ratio and the score see connection stalls only: xs1 2000 / 35500
SELECT round(qoe.rebuffer_ratio(stall_ms, watch_ms)::numeric, 6) AS rebuffer_ratio
  FROM qoe.sessions WHERE session_id = 'xs1';

-- started_at is the start event's time even when a skewed clock stamps the
-- first frame 2 s earlier; vst_ms is then unknown
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    ev('xt1', 'first_frame', 0), ev('xt1', 'start', 2000), ev('xt1', 'stop', 10000)));
SELECT (extract(epoch FROM started_at) * 1000)::bigint - (SELECT ms FROM base) AS started_ms,
       (extract(epoch FROM first_frame_at - started_at) * 1000)::bigint AS first_frame_after_ms,
       vst_ms, watch_ms
  FROM qoe.sessions WHERE session_id = 'xt1';

-- Thresholds: completion at exactly 70 % of the duration, and just under it;
-- the bitrate weighs playing time only: (2000 x 10 s + 6000 x 10 s) / 20 s
SELECT accepted FROM qoe.ingest(jsonb_build_array(
    ev('xc1', 'start', 0), ev('xc1', 'first_frame', 1000),
    ev('xc1', 'stop', 80000, '{"position_sec":70,"content_duration_sec":100}'),
    ev('xc2', 'start', 0), ev('xc2', 'first_frame', 1000),
    ev('xc2', 'stop', 80000, '{"position_sec":69.99,"content_duration_sec":100}'),
    ev('xb1', 'start', 0, '{"bitrate_kbps":2000}'), ev('xb1', 'first_frame', 1000),
    ev('xb1', 'pause', 11000), ev('xb1', 'resume', 41000, '{"bitrate_kbps":6000}'),
    ev('xb1', 'stop', 51000)));
SELECT session_id, completed, avg_bitrate_kbps FROM qoe.sessions
 WHERE session_id IN ('xc1', 'xc2', 'xb1') ORDER BY 1;
