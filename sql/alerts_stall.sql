-- The stall-loop rule (doc/alerts.md): three connection-induced stalls of a
-- session in a row (nothing but bitrate changes between them, after the
-- first frame), the first and the last within 3 s.
-- The window rules read qoe.qoe_metrics, which this test does not need.
UPDATE qoe.alert_rules SET enabled = (metric = 'stall_loop');
SELECT (extract(epoch FROM now()) * 1000)::bigint - 60000 AS t0 \gset
CREATE TEMP TABLE stall_events (session_id text, ms int, type text, extra text);
INSERT INTO stall_events VALUES
    -- three stalls within 2 s: a loop
    ('st-loop', 0, 'start', ''), ('st-loop', 1000, 'first_frame', ''), ('st-loop', 2000, 'heartbeat', ''),
    ('st-loop', 10000, 'buffering', ''), ('st-loop', 11000, 'buffering', ''), ('st-loop', 12000, 'buffering', ''),
    -- playback reported between the second and the third: not in a row
    ('st-played', 0, 'start', ''), ('st-played', 1000, 'first_frame', ''),
    ('st-played', 10000, 'buffering', ''), ('st-played', 10500, 'buffering', ''),
    ('st-played', 11000, 'heartbeat', ''), ('st-played', 11500, 'buffering', ''),
    -- three in a row, but over 5 s
    ('st-slow', 0, 'start', ''), ('st-slow', 1000, 'first_frame', ''),
    ('st-slow', 10000, 'buffering', ''), ('st-slow', 12500, 'buffering', ''), ('st-slow', 15000, 'buffering', ''),
    -- one of them seek-induced
    ('st-seek', 0, 'start', ''), ('st-seek', 1000, 'first_frame', ''),
    ('st-seek', 10000, 'buffering', ''), ('st-seek', 10500, 'buffering', ',"seek_induced":true'),
    ('st-seek', 11000, 'buffering', ''),
    -- before the first frame: start-up, not rebuffering
    ('st-startup', 0, 'start', ''), ('st-startup', 500, 'buffering', ''), ('st-startup', 1000, 'buffering', ''),
    ('st-startup', 1500, 'buffering', ''), ('st-startup', 5000, 'first_frame', ''),
    -- four in a row, a downswitch between: a loop of 4
    ('st-four', 0, 'start', ''), ('st-four', 1000, 'first_frame', ''),
    ('st-four', 20000, 'buffering', ''), ('st-four', 20500, 'bitrate_change', ''), ('st-four', 21000, 'buffering', ''),
    ('st-four', 21500, 'buffering', ''), ('st-four', 22500, 'buffering', '');
SELECT count(*) FROM stall_events e,
       qoe.ingest(format('{"event_type":"%s","session_id":"%s","event_id":"%s","user_id":7,"content_id":%s,'
                         '"cdn_pop":"pop-%s","timestamp":%s,"bitrate_kbps":3000,"buffering_ms":400%s}',
                         e.type, e.session_id, e.ms, length(e.session_id), length(e.session_id),
                         :t0 + e.ms, e.extra)) i;
-- a loop that arrived 30 s ago, and a single stall arrived now: a loop is
-- judged when its last stall arrives, so no alert (received_at set by hand)
SELECT count(*) FROM qoe.ingest(format(
    '[{"event_type":"start","session_id":"st-old","user_id":7,"content_id":6,"timestamp":%s},
      {"event_type":"first_frame","session_id":"st-old","user_id":7,"content_id":6,"timestamp":%s}]',
    :t0, :t0 + 1000)::jsonb);
INSERT INTO qoe.viewing_events (event_time, received_at, user_id, content_id, event_type, session_id)
SELECT now() - (s || ' seconds')::interval, now() - (r || ' seconds')::interval, 7, 6, 'buffering', 'st-old'
  FROM (VALUES (33, 30), (32, 30), (31, 30), (5, 0)) v(s, r);
SELECT rule, scope, state, value FROM qoe.evaluate_alerts() ORDER BY scope;
SELECT scope ->> 'session_id' AS session, state, value, message, fired_at IS NOT NULL AS fired
  FROM qoe.alerts WHERE rule = 'stall_loop' ORDER BY id;
-- one alert per session however often it is evaluated
SELECT count(*) FROM qoe.evaluate_alerts();
-- no stall completing a loop arrived in the last 10 s: resolved
SELECT rule, scope ->> 'session_id' AS session, state FROM qoe.evaluate_alerts(now() + interval '3 minutes') ORDER BY 2;

UPDATE qoe.alert_rules SET enabled = true;
DELETE FROM qoe.alerts;
DELETE FROM qoe.sessions WHERE session_id LIKE 'st-%';
DELETE FROM qoe.viewing_events WHERE session_id LIKE 'st-%';
