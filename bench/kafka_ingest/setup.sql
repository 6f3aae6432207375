-- bench/kafka_ingest: the tables and helpers the contenders share.

-- The typed table of contenders (b) and (c): qoe.viewing_events' columns and
-- indexes, without its partitions, sessions or duplicate checks.
CREATE TABLE plain_events (LIKE qoe.viewing_events);
CREATE INDEX ON plain_events (session_id);
CREATE INDEX ON plain_events (content_id);

-- Contender (b)'s staging table, one NDJSON line per row.
CREATE UNLOGGED TABLE staging (doc text NOT NULL);

-- Contender (d): when each event was produced (Kafka CreateTime, set by kcat).
CREATE TABLE produced (session_id text COLLATE "C", event_id text COLLATE "C", produced_ms bigint);

-- Wait until a source's workers have stored `total` events, polling its
-- offsets (written in the transaction that stores the rows they count) every
-- 100 ms.  Returns when the first and the last rows were seen, epoch seconds.
CREATE FUNCTION wait_stored(source text, total bigint, timeout_s integer,
                            OUT first_at float8, OUT done_at float8, OUT stored bigint)
    LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz := clock_timestamp();
BEGIN
    LOOP
        SELECT coalesce(sum(next_offset), 0) INTO stored
          FROM qoe.source_offsets o WHERE o.source = wait_stored.source;
        IF stored > 0 AND first_at IS NULL THEN
            first_at := extract(epoch FROM clock_timestamp());
        END IF;
        EXIT WHEN stored >= total OR clock_timestamp() - started > timeout_s * interval '1 s';
        PERFORM pg_sleep(0.1);
    END LOOP;
    done_at := extract(epoch FROM clock_timestamp());
END
$$;
