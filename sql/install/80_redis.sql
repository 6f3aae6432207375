-- Live metrics in Redis (doc/redis.md): the view the trending_content key
-- mirrors, and the publisher's status. The publisher (a background worker,
-- src/publish/) reads qoe.concurrent_viewers, qoe.trending_content and
-- qoe.qoe_metrics.

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

CREATE FUNCTION redis_publisher_status(OUT state text, OUT server text, OUT pid integer,
                                       OUT state_since timestamptz, OUT last_publish_at timestamptz,
                                       OUT publishes bigint, OUT keys_written bigint,
                                       OUT errors bigint, OUT last_error text,
                                       OUT last_error_at timestamptz)
    RETURNS record
    AS 'MODULE_PATHNAME', 'qoe_redis_publisher_status'
    LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION redis_publisher_status() IS
    'The Redis publisher''s state from shared memory; read it through qoe.redis_status';

CREATE VIEW redis_status AS SELECT * FROM redis_publisher_status();
COMMENT ON VIEW redis_status IS
    'The Redis publisher: connection state, server, last successful publish, counters since the server started, last error (doc/redis.md)';
COMMENT ON COLUMN redis_status.state IS
    'off (qoe.redis_host empty, or no publisher running), connecting, connected, or disconnected (after a failure, until the next attempt, at most 1 s later)';
COMMENT ON COLUMN redis_status.server IS 'host:port and database number, or socket path and database number; never the password';
COMMENT ON COLUMN redis_status.pid IS 'the publisher''s process id; NULL when it is not running';
COMMENT ON COLUMN redis_status.state_since IS 'when the state last changed';
COMMENT ON COLUMN redis_status.last_publish_at IS 'end of the last round that reached Redis and read all its replies';
COMMENT ON COLUMN redis_status.publishes IS 'rounds that reached Redis, including those with nothing to write';
COMMENT ON COLUMN redis_status.keys_written IS 'keys Redis acknowledged writing or deleting (the trending_content rebuild counts one)';
COMMENT ON COLUMN redis_status.errors IS 'failed connection attempts, lost connections, rounds with an error reply, failed reads of the metrics';
COMMENT ON COLUMN redis_status.last_error IS 'the last of these errors, as Redis or the connection reported it';
COMMENT ON COLUMN redis_status.last_error_at IS 'when it happened';
