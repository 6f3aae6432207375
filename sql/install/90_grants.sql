-- Privileges (doc/security.md). PostgreSQL lets PUBLIC execute every new
-- function; only the t-digest and QoE score types, functions and aggregates
-- are meant for everyone. Everything else is revoked from PUBLIC here and
-- granted to the roles of 05_roles.sql. Tables and views are not readable by
-- PUBLIC (PostgreSQL's default), nor is schema qoe usable by it.
-- sql/privileges.sql holds the allow-list; Kafka sources (40_sources.sql)
-- grant their own.

GRANT USAGE ON SCHEMA qoe TO qoe_reader, qoe_writer;

-- qoe_reader: events, sessions, catalog, partitions, score settings; of the
-- dead letters, everything but the payloads
GRANT SELECT ON viewing_events, sessions, content, users, partitions, qoe_score_config
    TO qoe_reader;
GRANT SELECT (id, received_at, source, topic, kafka_partition, kafka_offset, item_index, reason)
    ON dead_letters TO qoe_reader;

-- qoe_writer: qoe.ingest, and exactly the rights it needs. SELECT on
-- viewing_events: late and repeated events rebuild a session from its
-- stored events.
REVOKE EXECUTE ON FUNCTION ingest(text), ingest(jsonb), decode_event(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest(text), ingest(jsonb), decode_event(text) TO qoe_writer;
GRANT SELECT, INSERT ON viewing_events TO qoe_writer;
GRANT SELECT, INSERT, UPDATE ON sessions TO qoe_writer;
GRANT INSERT ON dead_letters TO qoe_writer;
GRANT USAGE ON SEQUENCE dead_letters_id_seq TO qoe_writer;
GRANT SELECT ON content TO qoe_writer;

-- qoe_admin (a member of both): maintenance, the catalog, dead letters
REVOKE EXECUTE ON FUNCTION premake_partitions(integer), drop_old_partitions(interval),
    expire_sessions(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION premake_partitions(integer), drop_old_partitions(interval),
    expire_sessions(interval) TO qoe_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON content, users, qoe_score_config TO qoe_admin;
GRANT SELECT, DELETE ON dead_letters TO qoe_admin;

-- trigger functions are for triggers only
REVOKE EXECUTE ON FUNCTION qoe_score_config_changed() FROM PUBLIC;

-- recommendations (70_recommend.sql): readers read the model and ask for
-- recommendations; qoe_admin loads interactions, tunes and builds the model
REVOKE EXECUTE ON FUNCTION recommend(bigint, integer), similar_content(bigint, integer),
    trending(integer, text, interval), interaction_strength(bigint, real, real, boolean, boolean)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recommend(bigint, integer), similar_content(bigint, integer),
    trending(integer, text, interval), interaction_strength(bigint, real, real, boolean, boolean)
    TO qoe_reader;
REVOKE EXECUTE ON FUNCTION refresh_interactions(timestamptz), build_recommendations(timestamptz),
    evaluate_recommendations(integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION refresh_interactions(timestamptz), build_recommendations(timestamptz),
    evaluate_recommendations(integer, integer, integer) TO qoe_admin;
GRANT SELECT ON interactions, item_neighbors, recommendation_settings, recommendation_status
    TO qoe_reader;
GRANT INSERT, UPDATE, DELETE, TRUNCATE ON interactions TO qoe_admin;
GRANT UPDATE ON recommendation_settings TO qoe_admin;
GRANT INSERT, DELETE ON item_neighbors, recommendation_status TO qoe_admin;
