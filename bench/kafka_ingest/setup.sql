-- bench/kafka_ingest: the tables and helpers the contenders share.

-- The typed table of contenders (b) and (c): qoe.viewing_events' columns and
-- indexes, without its partitions, sessions or duplicate checks.
CREATE TABLE plain_events (LIKE qoe.viewing_events);
CREATE INDEX ON plain_events (session_id);

-- Contender (b)'s staging table, one NDJSON line per row.
CREATE UNLOGGED TABLE staging (doc text NOT NULL);

-- Contender (d): when each event was produced (Kafka CreateTime, set by kcat).
CREATE TABLE produced (session_id text COLLATE "C", event_id text COLLATE "C", produced_ms bigint);
