-- qoe.record_concurrency(): samples of qoe.concurrent_viewers into
-- qoe.concurrency_1min, writing only the groups whose figures changed since
-- the minute's previous sample. In one transaction, so that every sample
-- falls in the same minute (now() is the transaction's start).
BEGIN;
-- no session playing but this test's (the tests before may leave some)
TRUNCATE qoe.sessions;
DELETE FROM qoe.concurrency_1min;
CREATE FUNCTION ev(sid text, type text, content bigint, country text) RETURNS int
    LANGUAGE sql AS $$
    SELECT accepted FROM qoe.ingest(jsonb_build_object(
        'event_type', type, 'session_id', sid, 'event_id', type, 'user_id', 1,
        'content_id', content, 'country', country, 'device_type', 'web', 'cdn_pop', 'pop1',
        'timestamp', (extract(epoch FROM clock_timestamp()) * 1000)::bigint)) $$;
CREATE VIEW minute AS
    SELECT content_id, country, peak_viewers, last_viewers FROM qoe.concurrency_1min
     WHERE minute = date_trunc('minute', now()) ORDER BY 1, 2 NULLS FIRST;
CREATE TABLE written (xmin_of text);
-- playing: two sessions of title 1 in BR, one of title 2 with no country
SELECT ev(s, t, c, co) FROM (VALUES ('a', 1, 'BR'), ('b', 1, 'BR'), ('c', 2, NULL)) v(s, c, co),
       (VALUES ('start'), ('first_frame')) e(t) ORDER BY s, t DESC;
-- the minute's first sample writes both groups
SELECT qoe.record_concurrency() AS written;
SELECT * FROM minute;
-- nothing changed: nothing written (the rows keep their version)
INSERT INTO written SELECT string_agg(xmin::text, ',' ORDER BY content_id) FROM qoe.concurrency_1min;
SELECT qoe.record_concurrency() AS written;
SELECT string_agg(xmin::text, ',' ORDER BY content_id) = (SELECT xmin_of FROM written) AS same_versions
  FROM qoe.concurrency_1min;
-- a session of title 1 stops: its group goes to 1 viewer, the peak stays 2
SELECT ev('a', 'stop', 1, 'BR');
SELECT qoe.record_concurrency() AS written;
SELECT * FROM minute;
-- a second viewer of title 2 of unknown country: the group of NULL (matched
-- by IS NOT DISTINCT FROM) goes to 2, peak and last
SELECT ev('d', t, 2, NULL) FROM (VALUES ('start'), ('first_frame')) e(t) ORDER BY t DESC;
SELECT qoe.record_concurrency() AS written;
SELECT * FROM minute;
-- title 1's last viewer stops: the group keeps its last sample with viewers
SELECT ev('b', 'stop', 1, 'BR');
SELECT qoe.record_concurrency() AS written;
SELECT * FROM minute;
ROLLBACK;
