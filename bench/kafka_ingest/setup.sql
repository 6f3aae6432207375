-- bench/kafka_ingest: the tables and helpers the contenders share.

-- The typed table of contenders (b) and (c): qoe.viewing_events' columns and
-- indexes, without its partitions, sessions or duplicate checks.
CREATE TABLE plain_events (LIKE qoe.viewing_events);
CREATE INDEX ON plain_events (session_id);

-- Contender (b)'s staging table, one NDJSON line per row.
CREATE UNLOGGED TABLE staging (doc text NOT NULL);

-- Contender (d): when each event was produced (Kafka CreateTime, set by kcat).
CREATE TABLE produced (session_id text COLLATE "C", event_id text COLLATE "C", produced_ms bigint);

-- Contender (d), the rollups: every refresh that committed, and when its
-- transaction began. A refresh merges the deltas committed before it read
-- the queue, its first statement, a few milliseconds after it began; so an
-- event is in qoe.qoe_metrics at the commit of the first refresh that began
-- after the event's commit. Written by the refresh itself (a trigger on the
-- status row it updates as it ends), committed with it.
CREATE TABLE refreshes (began timestamptz NOT NULL);
CREATE INDEX ON refreshes (began);
CREATE FUNCTION log_refresh() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO public.refreshes VALUES (now());
    RETURN NULL;
END $$;
CREATE TRIGGER log_refresh AFTER UPDATE OF last_run ON qoe.rollup_status
    FOR EACH ROW EXECUTE FUNCTION log_refresh();
