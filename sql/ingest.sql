-- qoe.ingest: typed storage, counts, dead letters, and robustness.
\set ON_ERROR_STOP 0

-- one object, as text and as jsonb
SELECT * FROM qoe.ingest(format('{"event_type":"start","session_id":"i1","event_id":"1","user_id":10,
    "profile_id":101,"content_id":20,"timestamp":%s,"position_sec":0,"bitrate_kbps":3000,
    "device_type":"web","country":"BR","cdn_pop":"sa-east-1b","resolution":"720p"}', test_ms(-5000)));
SELECT * FROM qoe.ingest(format('{"event_type":"heartbeat","session_id":"i1","event_id":"2","user_id":10,
    "content_id":20,"timestamp":%s,"position_sec":3.5,"buffer_health_sec":8.25,
    "buffering_events":0,"dropped_frames":1,"player":"x"}', test_ms(-1000))::jsonb);

-- typed columns; extra only where unknown fields were sent
SELECT event_type, user_id, profile_id, content_id, session_id, event_id, position_sec,
       bitrate_kbps, buffer_health_sec, buffering_events, dropped_frames, device_type,
       country, cdn_pop, resolution, extra,
       received_at >= event_time AS received_after_sent
  FROM qoe.viewing_events WHERE session_id = 'i1' ORDER BY event_time;
SELECT pg_typeof(event_type), pg_typeof(event_time), pg_typeof(received_at)
  FROM qoe.viewing_events LIMIT 1;

-- a batch: valid events around bad ones are kept; each bad one is a dead letter
SELECT * FROM qoe.ingest(format('[
    {"event_type":"start","session_id":"i2","event_id":"a","user_id":11,"content_id":21,"timestamp":%1$s},
    {"event_type":"heartbeat","session_id":"i2","event_id":"b","user_id":"eleven","content_id":21,"timestamp":%1$s},
    {"event_type":"heartbeat","session_id":"i2","event_id":"c","user_id":11,"content_id":21,"timestamp":%2$s},
    "noise",
    {"event_type":"stop","session_id":"i2","event_id":"d","user_id":11,"content_id":21,"timestamp":%3$s,"position_sec":12}
    ]', test_ms(-30000), test_ms(-20000), test_ms(-10000)));
SELECT event_id FROM qoe.viewing_events WHERE session_id = 'i2' ORDER BY event_time;
SELECT source, topic, kafka_partition, kafka_offset, item_index, reason,
       regexp_replace(payload, '"timestamp":[0-9]+', '"timestamp":T') AS payload, payload_bytes
  FROM qoe.dead_letters ORDER BY id;

-- a document that is not JSON at all is one dead letter holding the raw text
SELECT * FROM qoe.ingest('{"event_type": "start", oops');
SELECT item_index, reason, payload FROM qoe.dead_letters ORDER BY id DESC LIMIT 1;

-- repeats of an event_id are counted, not stored
SELECT * FROM qoe.ingest(format('[
    {"event_type":"stop","session_id":"i2","event_id":"d","user_id":11,"content_id":21,"timestamp":%1$s,"position_sec":12},
    {"event_type":"stop","session_id":"i2","event_id":"d","user_id":11,"content_id":21,"timestamp":%1$s,"position_sec":12}
    ]', test_ms(-10000)));
SELECT count(*) AS i2_events FROM qoe.viewing_events WHERE session_id = 'i2';

-- 100 events in one call
SELECT * FROM qoe.ingest((
    SELECT json_agg(json_build_object('event_type', CASE WHEN g = 1 THEN 'start' ELSE 'heartbeat' END,
                                      'session_id', 'i3', 'event_id', g::text, 'user_id', 12,
                                      'content_id', 22, 'timestamp', test_ms(-100000 + g * 500),
                                      'position_sec', g * 0.5, 'buffer_health_sec', 5))::text
      FROM generate_series(1, 100) g));
SELECT event_count, state FROM qoe.sessions WHERE session_id = 'i3';

-- nothing odd crashes or stops the batch
SELECT accepted, rejected FROM unnest(ARRAY[
    '[]', '{}', 'null', '[null]', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
    '{"event_type":"start","session_id":"s","user_id":99999999999999999999999,"content_id":1}',
    '{"event_type":"start","session_id":"s","user_id":1e400,"content_id":1}',
    '{"event_type":"start","session_id":"s\u0000x","user_id":1,"content_id":1}',
    '{"event_type":"start","session_id":"ünïcødé ✓","user_id":1,"content_id":1}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":1,"timestamp":-9223372036854775808}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":1,"timestamp":"9999-12-31T23:59:59Z"}',
    '{"event_type":"start","session_id":"s","user_id":1,"content_id":1,"timestamp":"0001-01-01T00:00:00-23:59"}',
    '{"event_type":"start","session_id":"''); DROP TABLE qoe.sessions; --","user_id":1,"content_id":1}'
    ]) AS p(payload), LATERAL qoe.ingest(p.payload);
SELECT count(*) AS sessions_table_still_there FROM qoe.sessions WHERE session_id LIKE '%DROP TABLE%';

-- STRICT: NULL in, NULL out
SELECT * FROM qoe.ingest(NULL::text);

-- ingest needs INSERT on viewing_events
CREATE ROLE qoe_test_reader;
GRANT USAGE ON SCHEMA qoe TO qoe_test_reader;
SET ROLE qoe_test_reader;
SELECT * FROM qoe.ingest('{"event_type":"start","session_id":"s","user_id":1,"content_id":1}');
RESET ROLE;
GRANT EXECUTE ON FUNCTION qoe.ingest(text) TO qoe_test_reader;
SET ROLE qoe_test_reader;
SELECT * FROM qoe.ingest('{"event_type":"start","session_id":"s","user_id":1,"content_id":1}');
RESET ROLE;
DROP OWNED BY qoe_test_reader;
DROP ROLE qoe_test_reader;
