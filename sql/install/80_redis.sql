-- Live metrics in Redis (doc/redis.md): the view the trending_content key
-- mirrors, the outbox of alert changes for the qoe_alerts channel, and the
-- publisher's status. The publisher (a background worker, src/publish/)
-- keeps what qoe.concurrent_viewers, qoe.trending_content and
-- qoe.qoe_metrics compute in memory, from the notes of ingest commits and
-- reads of qoe.sessions and the rollups, and empties the outbox.

-- Plays started in the last hour, each weighted by 0.5 ^ (age / 15 min).
CREATE VIEW trending_content AS
    SELECT s.content_id,
           pg_catalog.sum(pg_catalog.power(0.5::float8,
               greatest(pg_catalog.date_part('epoch', pg_catalog.now() - s.started_at), 0) / 900))
               AS score,
           count(*) AS plays
      FROM qoe.sessions s
     WHERE s.started_at > pg_catalog.now() - interval '1 hour'
       AND s.first_frame_at IS NOT NULL
     GROUP BY s.content_id;
COMMENT ON VIEW trending_content IS
    'Titles by trending score: plays (sessions past their first frame) started in the last hour, each weighted 0.5 ^ (age / 15 min), so a play now counts 1 and one an hour old 1/16; the Redis sorted set trending_content holds the top qoe.redis_trending_size (doc/redis.md)';
COMMENT ON COLUMN trending_content.content_id IS 'the title';
COMMENT ON COLUMN trending_content.score IS 'sum over its plays of 0.5 ^ (minutes since the session started / 15); a start in the future counts 1';
COMMENT ON COLUMN trending_content.plays IS 'plays started in the last hour';

-- the publisher reads plays of the last hour through this, not the whole table
CREATE INDEX sessions_started_idx ON sessions (started_at);
COMMENT ON INDEX sessions_started_idx IS 'Sessions by start time: qoe.trending_content reads those of the last hour';

-- Alert changes for the Redis channel qoe_alerts (doc/redis.md, alerts): the
-- evaluation queues one message per change in its own transaction (so a
-- rolled-back one queues nothing), the publisher PUBLISHes them in seq order
-- after the commit and deletes each once Redis acknowledged it.
CREATE TABLE redis_alert_outbox (
    seq       bigserial PRIMARY KEY,
    queued_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    message   text NOT NULL
);
COMMENT ON TABLE redis_alert_outbox IS
    'Alert changes not yet published on the Redis channel qoe_alerts (doc/redis.md); filled while qoe.redis_host is set, emptied by the publisher';
COMMENT ON COLUMN redis_alert_outbox.seq IS 'publishing order';
COMMENT ON CONSTRAINT redis_alert_outbox_pkey ON redis_alert_outbox IS 'One row per queued message, published in seq order';
COMMENT ON SEQUENCE redis_alert_outbox_seq_seq IS 'Numbers the alert changes queued for Redis in the order they were queued';
COMMENT ON COLUMN redis_alert_outbox.queued_at IS 'when the evaluation queued it';
COMMENT ON COLUMN redis_alert_outbox.message IS 'the JSON message, as published';

-- A TRUNCATE of what the publisher's ledgers mirror posts no note: its
-- commit has the publisher rebuild them (doc/redis.md, the ledger).
CREATE FUNCTION redis_ledger_truncated() RETURNS trigger
    AS 'MODULE_PATHNAME', 'qoe_redis_ledger_truncated'
    LANGUAGE C;
COMMENT ON FUNCTION redis_ledger_truncated() IS
    'Trigger function: after TRUNCATE of qoe.sessions, qoe.qoe_5min or qoe.qoe_5min_by_title, the Redis publisher rebuilds its ledgers (the viewers, trending_content and qoe_metrics it keeps in memory) once the transaction commits';
CREATE TRIGGER redis_ledger_truncated AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION redis_ledger_truncated();
COMMENT ON TRIGGER redis_ledger_truncated ON sessions IS
    'The Redis publisher rebuilds its viewers and trending_content from the emptied table';
CREATE TRIGGER redis_ledger_truncated AFTER TRUNCATE ON qoe_5min
    FOR EACH STATEMENT EXECUTE FUNCTION redis_ledger_truncated();
COMMENT ON TRIGGER redis_ledger_truncated ON qoe_5min IS
    'The Redis publisher rebuilds its qoe_metrics figures from the emptied rollups';
CREATE TRIGGER redis_ledger_truncated AFTER TRUNCATE ON qoe_5min_by_title
    FOR EACH STATEMENT EXECUTE FUNCTION redis_ledger_truncated();
COMMENT ON TRIGGER redis_ledger_truncated ON qoe_5min_by_title IS
    'The Redis publisher rebuilds its qoe_metrics figures from the emptied rollups';

CREATE FUNCTION redis_wake_publisher_at_commit() RETURNS void
    AS 'MODULE_PATHNAME', 'qoe_redis_wake_publisher_at_commit'
    LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION redis_wake_publisher_at_commit() IS
    'Wake the Redis publisher for the alert outbox when the current transaction commits';

-- Called by qoe.alert_notify (85_alerts.sql) for every change of an alert,
-- with the alert's row as jsonb. Nothing is queued while no publisher is
-- configured: the outbox would only grow.
CREATE FUNCTION redis_queue_alert(a jsonb) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    iso constant text := 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"';
BEGIN
    IF coalesce(current_setting('qoe.redis_host', true), '') = '' THEN
        RETURN;
    END IF;
    INSERT INTO qoe.redis_alert_outbox (message)
    VALUES (jsonb_build_object(
        'event_id', (a ->> 'id') || ':' || (a ->> 'state'),
        'id', a -> 'id', 'rule', a -> 'rule', 'state', a -> 'state', 'severity', a -> 'severity',
        'scope', a -> 'scope', 'value', a -> 'value', 'threshold', a -> 'threshold',
        'starts_at', to_char(coalesce(a ->> 'fired_at', a ->> 'started_at')::timestamptz
                             AT TIME ZONE 'UTC', iso),
        'ends_at', to_char((a ->> 'resolved_at')::timestamptz AT TIME ZONE 'UTC', iso),
        'message', a -> 'message', 'channels', a -> 'channels')::text);
    PERFORM qoe.redis_wake_publisher_at_commit();
END $$;
COMMENT ON FUNCTION redis_queue_alert(jsonb) IS
    'Queue the message of an alert change (a qoe.alerts row as jsonb) for the Redis channel qoe_alerts, while qoe.redis_host is set';

CREATE FUNCTION redis_publisher_status(OUT state text, OUT server text, OUT pid integer,
                                       OUT state_since timestamptz, OUT last_publish_at timestamptz,
                                       OUT publishes bigint, OUT woken_rounds bigint,
                                       OUT viewer_rounds bigint, OUT keys_written bigint,
                                       OUT alerts_published bigint, OUT errors bigint, OUT last_error text,
                                       OUT last_error_at timestamptz, OUT all_viewer_rounds bigint,
                                       OUT metrics_rounds bigint, OUT all_metrics_rounds bigint,
                                       OUT notes_per_second double precision,
                                       OUT round_spacing_ms integer)
    RETURNS record
    AS 'MODULE_PATHNAME', 'qoe_redis_publisher_status'
    LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION redis_publisher_status() IS
    'The Redis publisher''s state from shared memory; read it through qoe.redis_status';

CREATE VIEW redis_status AS
    SELECT s.state, s.server, s.pid, s.state_since, s.last_publish_at, s.publishes, s.woken_rounds,
           s.viewer_rounds, s.keys_written,
           s.alerts_published, (SELECT pg_catalog.count(*) FROM qoe.redis_alert_outbox) AS alerts_queued,
           s.errors, s.last_error, s.last_error_at, s.all_viewer_rounds, s.metrics_rounds,
           s.all_metrics_rounds, s.notes_per_second, s.round_spacing_ms
      FROM qoe.redis_publisher_status() s;
COMMENT ON VIEW redis_status IS
    'The Redis publisher: connection state, server, last successful publish, counters since the server started, last error (doc/redis.md)';
COMMENT ON COLUMN redis_status.state IS
    'off (qoe.redis_host empty, or no publisher running), connecting, connected, or disconnected (after a failure, until the next attempt, at most 1 s later)';
COMMENT ON COLUMN redis_status.server IS 'host:port and database number, or socket path and database number; never the password';
COMMENT ON COLUMN redis_status.pid IS 'the publisher''s process id; NULL when it is not running';
COMMENT ON COLUMN redis_status.state_since IS 'when the state last changed';
COMMENT ON COLUMN redis_status.last_publish_at IS 'end of the last round that reached Redis and read all its replies';
COMMENT ON COLUMN redis_status.publishes IS 'rounds that reached Redis, including those with nothing to write';
COMMENT ON COLUMN redis_status.woken_rounds IS
    'of these, rounds a commit woke (an ingest, for the titles it changed; queued alert changes) rather than qoe.redis_publish_interval';
COMMENT ON COLUMN redis_status.viewer_rounds IS
    'of these, rounds that published the concurrent_viewers keys: of the titles whose count the publisher''s ledger of sessions playing changed, or of every title (all_viewer_rounds)';
COMMENT ON COLUMN redis_status.all_viewer_rounds IS
    'of viewer_rounds, the rebases, which rebuilt the ledger from qoe.sessions and the rollups and published every title: the first round after a (re)connection, after the ledger''s ring overflowed or after a TRUNCATE of what it mirrors, periodic rounds while a transaction that noted sessions is prepared, and every 10 minutes (doc/redis.md)';
COMMENT ON COLUMN redis_status.metrics_rounds IS
    'of publishes, rounds that published the qoe_metrics hashes from the ledger: of the titles whose windows changed (commits, a window closing), or of every title (all_metrics_rounds)';
COMMENT ON COLUMN redis_status.all_metrics_rounds IS
    'of metrics_rounds, those of every title: the rebases (as all_viewer_rounds)';
COMMENT ON COLUMN redis_status.notes_per_second IS
    'notes ingest commits handed the publisher a second (per session a commit changed, its state and its change to a window shown: about two per event of live traffic), an exponential average with a time constant of 1 s decayed to now; NULL when no publisher runs or before its first round';
COMMENT ON COLUMN redis_status.round_spacing_ms IS
    'the least time between the starts of woken rounds now, in ms: 50 while notes_per_second is at most 40,000; above, 50 x (notes_per_second / 40,000)^2, at most 1000 (a fast ingest: the keys lag that much, and the publisher writes fewer keys a second as the rate grows); NULL as notes_per_second (doc/redis.md)';
COMMENT ON COLUMN redis_status.keys_written IS 'keys Redis acknowledged writing or deleting (the trending_content rebuild counts one)';
COMMENT ON COLUMN redis_status.alerts_published IS 'alert changes Redis acknowledged publishing on the qoe_alerts channel';
COMMENT ON COLUMN redis_status.alerts_queued IS 'alert changes waiting in qoe.redis_alert_outbox to be published';
COMMENT ON COLUMN redis_status.errors IS 'failed connection attempts, lost connections, rounds with an error reply, failed reads of the metrics or of the alert outbox';
COMMENT ON COLUMN redis_status.last_error IS 'the last of these errors, as Redis or the connection reported it';
COMMENT ON COLUMN redis_status.last_error_at IS 'when it happened';
