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

-- rollups (60_rollups.sql): readers read them and call qoe_metrics; ingest
-- appends to qoe.session_window_deltas as its owner (src/analytics/rollup.c),
-- so writers need nothing here; the refresh is maintenance
GRANT SELECT ON qoe_5min, session_windows, rollup_status TO qoe_reader;
REVOKE EXECUTE ON FUNCTION qoe_metrics(timestamptz, timestamptz, interval, text[]),
    refresh_rollups() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION qoe_metrics(timestamptz, timestamptz, interval, text[]) TO qoe_reader;
GRANT EXECUTE ON FUNCTION refresh_rollups() TO qoe_admin, qoe_worker;
GRANT SELECT, INSERT, DELETE ON qoe_5min, session_windows TO qoe_admin, qoe_worker;
GRANT SELECT, DELETE ON session_window_deltas TO qoe_admin, qoe_worker;
GRANT SELECT, UPDATE ON rollup_status TO qoe_admin, qoe_worker;

-- business views (65_business_views.sql): read by qoe_reader, refreshed by qoe_admin
GRANT SELECT ON content_metrics_daily, user_metrics_daily, daily_active_users, cohort_analysis,
    drop_off, top_content, engagement, churn_risk, concurrent_viewers TO qoe_reader;
REVOKE EXECUTE ON FUNCTION session_qoe_score(sessions), refresh_views() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION session_qoe_score(sessions) TO qoe_reader;
GRANT EXECUTE ON FUNCTION refresh_views() TO qoe_admin;

-- the scheduler (67_scheduler.sql): the launcher runs the jobs as qoe_worker
GRANT SELECT ON concurrency_1min TO qoe_reader;
GRANT SELECT ON scheduler_status TO qoe_admin;
GRANT SELECT, INSERT, UPDATE ON scheduler_status TO qoe_worker;
REVOKE EXECUTE ON FUNCTION record_concurrency(), apply_retention(), setting_interval(text, interval)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION record_concurrency(), apply_retention(), refresh_views(),
    expire_sessions(interval) TO qoe_admin, qoe_worker;

-- Redis publisher (80_redis.sql): its status for qoe_admin; it runs as
-- qoe_worker and reads the views it mirrors and qoe_metrics (whose
-- qoe_5min qoe_worker reads already, for the rollups)
GRANT SELECT ON trending_content TO qoe_reader, qoe_worker;
GRANT SELECT ON concurrent_viewers TO qoe_worker;
GRANT EXECUTE ON FUNCTION qoe_metrics(timestamptz, timestamptz, interval, text[]) TO qoe_worker;
REVOKE EXECUTE ON FUNCTION redis_publisher_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION redis_publisher_status() TO qoe_admin;
GRANT SELECT ON redis_status TO qoe_admin;
