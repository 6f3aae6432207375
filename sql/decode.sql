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

-- The decoder against jsonb: a value in an unknown field is accepted exactly
-- when jsonb accepts it. Numbers at and beyond every limit of numeric (display
-- scale 16383, weight 131071 decimal digits, exponent below 2^30), -0, huge
-- integers, reals beyond double, escapes, \u0000, surrogates, keys, nesting,
-- long strings. The planned differences (decoder_limit rows): nesting deeper
-- than jsonb_in can take at PostgreSQL's smallest max_stack_depth, and more
-- than 1 MB of unknown fields in one event.
CREATE FUNCTION jsonb_accepts(doc text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM doc::jsonb;
    RETURN true;
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END $$;
CREATE TEMP TABLE corpus (n serial, label text, value text, decoder_limit boolean DEFAULT false);
INSERT INTO corpus (label, value) VALUES
    ('1e-16383', '1e-16383'), ('1e-16384', '1e-16384'), ('1e-20000', '1e-20000'),
    ('0e-16383', '0e-16383'), ('0e-16384', '0e-16384'), ('-0e-99999', '-0e-99999'),
    ('0.0e-16382', '0.0e-16382'), ('0.0e-16383', '0.0e-16383'),
    ('1.5e-16382', '1.5e-16382'), ('1.5e-16383', '1.5e-16383'),
    ('0.(16383 ones)', '0.' || repeat('1', 16383)), ('0.(16384 ones)', '0.' || repeat('1', 16384)),
    ('0.(16380 zeros)e-3', '0.' || repeat('0', 16380) || 'e-3'),
    ('0.(16380 zeros)e-4', '0.' || repeat('0', 16380) || 'e-4'),
    ('0.(20000 zeros)1e20000', '0.' || repeat('0', 20000) || '1e20000'),
    ('1e131071', '1e131071'), ('1e131072', '1e131072'), ('-9.999e131071', '-9.999e131071'),
    ('0.1e131072', '0.1e131072'), ('10e131070', '10e131070'), ('10e131071', '10e131071'),
    ('1(131071 zeros)', '1' || repeat('0', 131071)), ('1(131072 zeros)', '1' || repeat('0', 131072)),
    ('1(131071 zeros).5', '1' || repeat('0', 131071) || '.5'),
    ('0e1073741822', '0e1073741822'), ('0e1073741823', '0e1073741823'),
    ('0e-1073741822', '0e-1073741822'), ('0e99999999999999999999', '0e99999999999999999999'),
    ('1e+0000000000000000000005', '1e+0000000000000000000005'),
    ('1e-99999999999999999999', '1e-99999999999999999999'),
    ('-0', '-0'), ('-0.0', '-0.0'), ('-0e5', '-0e5'), ('1E+2', '1E+2'),
    ('327267367867168100000', '327267367867168100000'),
    ('-9223372036854775809', '-9223372036854775809'),
    ('1e400', '1e400'), ('-1e400', '-1e400'), ('1e-400', '1e-400'), ('4.9e-324', '4.9e-324'),
    ('string \u0000', '"\u0000"'), ('string a\u0000b', '"a\u0000b"'),
    ('string \ud800', '"\ud800"'), ('string \udc00', '"\udc00"'),
    ('string \ud800\u0041', '"\ud800\u0041"'), ('string \ud800\ud800', '"\ud800\ud800"'),
    ('string \udbff\udfff', '"\udbff\udfff"'), ('string \ud83d\ude00', '"\ud83d\ude00"'),
    ('string \uffff', '"\uffff"'), ('string escapes', '"\/\b\f\n\r\t\"\\ \u00e9"'),
    ('key \u0000', '{"\u0000":1}'), ('key \udfff', '{"\udfff":1}'), ('key a\u0000b', '{"a\u0000b":1}'),
    ('nested \u0000', '[1, {"a": ["\u0000"]}]'), ('nested 1e-20000', '{"a": [1, 1e-20000]}'),
    ('nested repeated key', '{"a": 1e-20000, "a": 1}'),
    ('string of 1000000 bytes', '"' || repeat('x', 1000000) || '"'),
    ('10000 keys', '{' || (SELECT string_agg(format('"k%s":%s', i, i), ',') FROM generate_series(1, 10000) i) || '}'),
    ('array depth 255', repeat('[', 255) || repeat(']', 255)),
    ('object depth 255', repeat('{"a":', 255) || '1' || repeat('}', 255));
INSERT INTO corpus (label, value, decoder_limit) VALUES
    ('array depth 256', repeat('[', 256) || repeat(']', 256), true),
    ('object depth 1000', repeat('{"a":', 1000) || '1' || repeat('}', 1000), true),
    ('string of 1 MB', '"' || repeat('x', 1024 * 1024) || '"', true);
CREATE TEMP TABLE verdicts AS
SELECT c.n, c.label, c.decoder_limit, jsonb_accepts(x.doc) AS jsonb,
       d.reason IS NULL AS decoder, d.reason
  FROM corpus c,
       LATERAL (SELECT format('{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"x":%s}',
                              c.value) AS doc) x,
       LATERAL qoe.decode_event(x.doc) d;
SELECT n, label, jsonb, decoder, reason FROM verdicts ORDER BY n;
SELECT count(*) AS disagreements FROM verdicts WHERE jsonb <> decoder AND NOT decoder_limit;

-- typed fields: each value is converted to its column's type, or the event
-- is rejected with the field's name; text fields cannot hold \u0000 or
-- unpaired surrogates; numbers beyond int64 or double are out of range
SELECT n, coalesce(event_type || ' ' || session_id || ' ' || user_id, reason) AS verdict
  FROM unnest(ARRAY[
    '{"event_type":"start","session_id":"s","user_id":9223372036854775807,"content_id":2}',
    '{"event_type":"start","session_id":"s","user_id":9223372036854775808,"content_id":2}',
    '{"event_type":"start","session_id":"s","user_id":1e19,"content_id":2}',
    '{"event_type":"start","session_id":"s","user_id":1e400,"content_id":2}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"position_sec":1e400}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"position_sec":1e-20000}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"bitrate_kbps":2147483648}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"dropped_frames":2147483648}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"timestamp":1e400}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"timestamp":99999999999999999999}',
    '{"event_type":"start","session_id":123456789012345678901234567890,"user_id":1,"content_id":2}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"country":"\u0000"}',
    '{"event_type":"start\u0000","session_id":"s","user_id":1,"content_id":2}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"timestamp":"\udc00"}',
    '{"event_type":"start","session_id":"\ud800","session_id":"ok","user_id":1,"content_id":2}'
    ]) WITH ORDINALITY AS p(payload, n), LATERAL decode(p.payload)
 ORDER BY n;

-- one poison event in an array: the events around it are stored, it alone is
-- a dead letter with its own text and a reason naming the field
BEGIN;
SELECT * FROM qoe.ingest('[
    {"event_type":"start","session_id":"poison-good-1","user_id":1,"content_id":2,"ad_id":327267367867168100000},
    {"event_type":"start","session_id":"poison-bad-1","user_id":1,"content_id":2,"x":1e-20000},
    {"event_type":"start","session_id":"poison-bad-2","user_id":1,"content_id":2,"x":{"y":"\u0000"}},
    {"event_type":"start","session_id":"poison-good-2","user_id":1,"content_id":2,"x":0e-16383,"y":1e20000},
    {"event_type":"start","session_id":"poison-bad-3","user_id":1,"content_id":2,"\udc00":1},
    {"event_type":"start","session_id":"poison-bad-4","user_id":1,"content_id":2,"y":0e-99999}]');
SELECT session_id, extra->'ad_id' AS ad_id, length(extra::text) AS extra_length
  FROM qoe.viewing_events WHERE session_id LIKE 'poison-%' ORDER BY session_id;
SELECT item_index, reason, payload FROM qoe.dead_letters
 WHERE payload LIKE '%poison-bad-%' ORDER BY item_index;
ROLLBACK;

-- a payload holds at most 1,000,000 events: what is kept for it stays bounded
SELECT count(*) AS items FROM decode('[' || repeat('0,', 999999) || '0]');
SELECT item_index, reason FROM decode('[' || repeat('0,', 1000000) || '0]');
