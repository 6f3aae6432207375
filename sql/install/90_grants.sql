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
GRANT SELECT ON qoe_5min, qoe_5min_by_title, qoe_rollups, rollup_levels, rollup_levels_pending, session_windows,
    session_window_deltas, rollup_status TO qoe_reader;  -- the deltas: qoe_metrics(real_time => true)
REVOKE EXECUTE ON FUNCTION qoe_metrics(timestamptz, timestamptz, interval, text[], text, integer, boolean, bigint[]),
    refresh_rollups(boolean), refresh_rollup_levels(), rollup_state_sql(), bigint_sum(bigint),
    bigint_sums("any"), bigint_sums_trans(internal, "any"), bigint_sums_final(internal),
    hll_merge(hll), hll_merge_trans(internal, hll), hll_merge_combine(internal, internal),
    hll_merge_serialize(internal), hll_merge_deserialize(bytea, internal), hll_merge_final(internal)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION qoe_metrics(timestamptz, timestamptz, interval, text[], text, integer, boolean, bigint[]), hll_merge(hll),
    bigint_sums("any"), bigint_sum(bigint) TO qoe_reader;
GRANT EXECUTE ON FUNCTION refresh_rollups(boolean), refresh_rollup_levels(), rollup_state_sql(), bigint_sum(bigint),
    bigint_sums("any"), hll_merge(hll) TO qoe_admin, qoe_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON qoe_5min, qoe_5min_by_title TO qoe_admin, qoe_worker;  -- deltas are added in place
GRANT SELECT, INSERT, UPDATE, DELETE ON session_windows TO qoe_admin, qoe_worker;  -- deltas are added in place
GRANT SELECT, INSERT, UPDATE, DELETE ON qoe_rollups TO qoe_admin, qoe_worker;  -- levels are upserted
GRANT SELECT ON rollup_levels TO qoe_admin, qoe_worker;
GRANT SELECT, DELETE ON session_window_deltas TO qoe_admin, qoe_worker;
GRANT SELECT, UPDATE ON rollup_status TO qoe_admin, qoe_worker;
GRANT SELECT, INSERT, DELETE ON rollup_levels_pending TO qoe_admin, qoe_worker;  -- queued by the merge, drained by the builder

-- business views (65_business_views.sql): read by qoe_reader, refreshed by qoe_admin
GRANT SELECT ON content_metrics_daily, user_metrics_daily, daily_active_users, cohort_analysis,
    drop_off, top_content, engagement, churn_risk, concurrent_viewers, device_breakdown,
    country_breakdown, cdn_pop_breakdown, error_breakdown, vst_histogram, rebuffering_heatmap,
    qoe_trend_7d TO qoe_reader;
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
-- qoe_worker and reads qoe.sessions, the rollups and their deltas (which
-- qoe_worker reads already, to ingest and for the rollups), not the views
GRANT SELECT ON trending_content TO qoe_reader;
REVOKE EXECUTE ON FUNCTION redis_publisher_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION redis_publisher_status() TO qoe_admin;
GRANT SELECT ON redis_status TO qoe_admin;
-- its alert outbox is written by the evaluation (as the extension owner) and
-- emptied by the publisher (qoe_worker); nobody else queues messages
GRANT SELECT, DELETE ON redis_alert_outbox TO qoe_worker;
REVOKE EXECUTE ON FUNCTION redis_wake_publisher_at_commit(), redis_queue_alert(jsonb),
    redis_ledger_truncated() FROM PUBLIC;

-- alerts (85_alerts.sql): read by qoe_reader, rules managed by qoe_admin,
-- evaluated as the extension owner by qoe_admin or the scheduler (qoe_worker),
-- delivered by the notifier (qoe_worker); the helpers of the evaluation are
-- for it alone
GRANT SELECT ON alert_rules, alert_rule_status, alerts TO qoe_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON alert_rules TO qoe_admin;
GRANT SELECT ON alert_delivery, alert_notifier_status TO qoe_admin;
GRANT SELECT, UPDATE ON alerts, alert_notifier_status TO qoe_worker;
REVOKE EXECUTE ON FUNCTION alert_template_check(text, text[]), alert_render(text, jsonb),
    alert_metrics(), alert_dimensions(text), alert_placeholders(text, text[]),
    alert_rules_check(), alert_metric_values(timestamptz, timestamptz, text[]),
    alert_stall_loops(timestamptz, integer, interval), alert_values(alert_rules, timestamptz),
    alert_holds(float8, text, float8), alert_notify(alerts), evaluate_alerts(timestamptz),
    alert_outbox(timestamptz, integer, interval),
    alert_delivered(timestamptz, bigint[], text[], text, interval) FROM PUBLIC;
-- the rule check calls these as the role writing the rule
GRANT EXECUTE ON FUNCTION alert_template_check(text, text[]), alert_render(text, jsonb),
    alert_metrics(), alert_dimensions(text), alert_placeholders(text, text[]) TO qoe_reader;
GRANT EXECUTE ON FUNCTION evaluate_alerts(timestamptz) TO qoe_admin, qoe_worker;
GRANT EXECUTE ON FUNCTION alert_outbox(timestamptz, integer, interval),
    alert_delivered(timestamptz, bigint[], text[], text, interval) TO qoe_worker;

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
