-- The decoder's acceptance and rejection rules, seen through qoe.decode_event
-- (which stores nothing).
\set ON_ERROR_STOP 0
CREATE FUNCTION decode(payload text)
    RETURNS TABLE (item_index integer, event_type text, age_ms bigint, session_id text,
                   user_id bigint, content_id bigint, reason text)
    LANGUAGE sql AS $$
    SELECT item_index, event_type,
           (extract(epoch FROM now() - event_time) * 1000)::bigint,
           session_id, user_id, content_id,
           -- window bounds move with the clock; keep the message shape only
           regexp_replace(reason, 'window .* to [0-9-]+ [0-9:.]+[-+][0-9]+',
                          'window (now - 3 days) to (now + 1 hour)')
      FROM qoe.decode_event(payload) $$;

-- canonical names, dotted names and aliases, any letter case
SELECT d.event_type FROM unnest(ARRAY[
    'start', 'first_frame', 'heartbeat', 'buffering', 'pause', 'resume', 'seek',
    'bitrate_change', 'error', 'stop', 'video.playback.start', 'video.playback.heartbeat',
    'video.playback.stop', 'video.buffering', 'video.error', 'video_play', 'video_pause',
    'video_stop', 'video_seek', 'video_buffer', 'video_error', 'video_quality_change',
    'video_complete', 'session_heartbeat', 'HEARTBEAT']) AS n(name),
    LATERAL decode(format('{"event_type":"%s","session_id":"s","user_id":1,"content_id":2}', n.name)) d;

-- timestamps: epoch ms, ISO-8601 with Z, an offset, a fraction; missing = receive time
SELECT age_ms BETWEEN 59000 AND 61000 AS one_minute_ago
  FROM decode(format('{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"timestamp":%s}', test_ms(-60000)));
SELECT age_ms BETWEEN 3599000 AND 3601000 AS one_hour_ago
  FROM decode(format('{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"timestamp":"%s"}',
                     to_char((now() - interval '1 hour') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')));
SELECT age_ms BETWEEN 3599000 AND 3601000 AS one_hour_ago_with_offset
  FROM decode(format('{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"timestamp":"%s+02:00"}',
                     to_char((now() + interval '1 hour') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')));
SELECT abs(age_ms) < 1000 AS received_now
  FROM decode('{"event_type":"start","session_id":"s","user_id":1,"content_id":2}');

-- an array: each element judged on its own; item_index counts from 0
SELECT item_index, event_type, session_id, reason FROM decode(format('[
    {"event_type":"start","session_id":"a","user_id":1,"content_id":2,"timestamp":%1$s},
    {"event_type":"start","user_id":1,"content_id":2,"timestamp":%1$s},
    42,
    {"event_type":"stop","session_id":"c","user_id":1,"content_id":2,"timestamp":%1$s}]', test_ms()))
 ORDER BY item_index;
SELECT count(*) AS empty_array_events FROM decode('[]');

-- rejections, each with its reason
SELECT reason FROM unnest(ARRAY[
    '{"session_id":"s","user_id":1,"content_id":2}',
    '{"event_type":"teleport","session_id":"s","user_id":1,"content_id":2}',
    '{"event_type":7,"session_id":"s","user_id":1,"content_id":2}',
    '{"event_type":"start","user_id":1,"content_id":2}',
    '{"event_type":"start","session_id":"","user_id":1,"content_id":2}',
    '{"event_type":"start","session_id":"s","content_id":2}',
    '{"event_type":"start","session_id":"s","user_id":null,"content_id":2}',
    '{"event_type":"start","session_id":"s","user_id":1}',
    '{"event_type":"start","session_id":"s","user_id":"abc","content_id":2}',
    '{"event_type":"start","session_id":"s","user_id":1.5,"content_id":2}',
    '{"event_type":"start","session_id":"s","user_id":-1,"content_id":2}',
    '{"event_type":"buffering","session_id":"s","user_id":1,"content_id":2,"buffering_ms":-5}',
    '{"event_type":"buffering","session_id":"s","user_id":1,"content_id":2,"duration_ms":"long"}',
    '{"event_type":"heartbeat","session_id":"s","user_id":1,"content_id":2,"bitrate_kbps":99999999}',
    '{"event_type":"heartbeat","session_id":"s","user_id":1,"content_id":2,"position_sec":-3}',
    '{"event_type":"heartbeat","session_id":"s","user_id":1,"content_id":2,"dropped_frames":[1]}',
    '{"event_type":"error","session_id":"s","user_id":1,"content_id":2,"fatal":"yes"}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"timestamp":"yesterday"}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"timestamp":"2026-13-01T00:00:00Z"}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"timestamp":true}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"timestamp":4102444800000}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"timestamp":1700000000}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"device_type":"' || repeat('x', 201) || '"}',
    '{"event_type":"start"',
    '"just a string"',
    '',
    '[1, [2]]'
    ]) WITH ORDINALITY AS p(payload, n), LATERAL decode(p.payload)
 ORDER BY n, item_index;

-- unknown fields are kept, not an error; explicit nulls are absent fields
SELECT count(*) AS accepted, count(reason) AS rejected
  FROM decode('{"event_type":"heartbeat","session_id":"s","user_id":1,"content_id":2,
                "player_version":"7.1.0","ab_test":{"arm":"B"},"position_sec":null}');
-- event_id and session_id may be numbers
SELECT session_id FROM decode('{"event_type":"start","session_id":12345,"event_id":7,"user_id":1,"content_id":2}');

-- JSON itself: escapes (a surrogate pair too) in keys and values
SELECT event_type, session_id FROM decode(
    '{"ev\u0065nt_type":"st\u0061rt","session_id":"\u00e9t\u00e9 \ud83d\ude00 \"q\" \\ \/","user_id":1,"content_id":2,"x":"\b\f\n\r\t"}');
-- numbers: integral reals count as integers, -0 is 0, exponents, strict grammar;
-- repeated keys: the last one wins; then what is not JSON, each with where and
-- why; nesting is limited to a depth of 2048 (the event object is at depth 1)
SELECT n, coalesce(event_type || ' ' || user_id || ' ' || content_id, reason) AS verdict
  FROM unnest(ARRAY[
    '{"event_type":"start","session_id":"s","user_id":1e0,"content_id":2.0}',
    '{"event_type":"start","session_id":"s","user_id":-0,"content_id":20E-1}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"position_sec":1e5}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"position_sec":1E+8}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"position_sec":-0.0}',
    '{"event_type":"start","session_id":"s","user_id":"x","content_id":2,"user_id":3}',
    '{"event_type":"start","session_id":"s","user_id":3,"content_id":2,"user_id":null}',
    '{"event_type":"start","session_id":"s","user_id":01,"content_id":2}',
    '{"event_type":"start","session_id":"s","user_id":1.,"content_id":2}',
    '{"event_type":"start","session_id":"s","user_id":.5,"content_id":2}',
    '{"event_type":"start","session_id":"s","user_id":+1,"content_id":2}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,}',
    '[{"event_type":"start","session_id":"s","user_id":1,"content_id":2},]',
    '{"event_type":"start","session_id":"s","user_id":9223372036854775808,"content_id":2}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"x":-9223372036854775809}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"position_sec":1e400}',
    '{"event_type":"start","session_id":"s\u0000","user_id":1,"content_id":2}',
    '{"event_type":"start","session_id":"\ud800","user_id":1,"content_id":2}',
    '{"event_type":"start","session_id":"\ud800\u0041","user_id":1,"content_id":2}',
    '{"event_type":"start","session_id":"\udc00","user_id":1,"content_id":2}',
    '{"event_type":"start","session_id":"\x","user_id":1,"content_id":2}',
    '{"event_type":"start","session_id":"a' || chr(9) || 'b","user_id":1,"content_id":2}',
    '{"event_type":"start","session_id":"a' || chr(10) || 'b","user_id":1,"content_id":2}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"x":tru}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"x":NaN}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2} {}',
    '{"event_type":"start",' || chr(10) || '"session_id" "s"}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"x":' ||
        repeat('[', 2047) || repeat(']', 2047) || '}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"x":' ||
        repeat('[', 2048) || repeat(']', 2048) || '}'
    ]) WITH ORDINALITY AS p(payload, n), LATERAL decode(p.payload)
 ORDER BY n, item_index;
-- unknown fields reach extra as JSON that jsonb accepts: escapes kept, repeated
-- keys resolved (last value, first place), whitespace gone
BEGIN;
SELECT accepted FROM qoe.ingest('{"event_type":"start","session_id":"decode-extra","user_id":1,
    "content_id":2,"a":1,"b\u00e9":{"c" : [ 1, 2.50, "\u00e9\n" ] },"a":"last","n":null}');
SELECT extra FROM qoe.viewing_events WHERE session_id = 'decode-extra';
ROLLBACK;
