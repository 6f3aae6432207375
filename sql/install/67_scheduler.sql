-- The scheduler's jobs and their status (doc/operations.md, "The scheduler").
-- The qoe_ext launcher runs each job on its own interval setting
-- (qoe.rollup_refresh_interval, qoe.rollup_levels_interval, qoe.session_expiry_interval,
-- qoe.concurrency_sample_interval, qoe.view_refresh_interval,
-- qoe.retention_interval, qoe.alert_evaluation_interval,
-- qoe.recommendations_refresh_interval); every function here can also be
-- called by hand.

CREATE TABLE qoe.scheduler_status (
    job              text PRIMARY KEY,
    run_every        interval NOT NULL,
    last_started     timestamptz NOT NULL,
    last_finished    timestamptz NOT NULL,
    last_duration_ms float8 NOT NULL,
    failing          boolean NOT NULL,
    runs             bigint NOT NULL,
    failures         bigint NOT NULL,
    last_error       text,
    last_error_at    timestamptz
);
COMMENT ON TABLE qoe.scheduler_status IS
    'One row per scheduler job, written by the qoe_ext launcher after each run (doc/operations.md)';
COMMENT ON COLUMN qoe.scheduler_status.job IS
    'refresh_rollups, refresh_rollup_levels, expire_sessions, record_concurrency, refresh_views, apply_retention, evaluate_alerts or refresh_recommendations';
COMMENT ON COLUMN qoe.scheduler_status.run_every IS 'the job''s interval setting at its last run';
COMMENT ON COLUMN qoe.scheduler_status.last_started IS 'start of the last run';
COMMENT ON COLUMN qoe.scheduler_status.last_finished IS 'end of the last run, or when its failure was recorded';
COMMENT ON COLUMN qoe.scheduler_status.last_duration_ms IS 'how long the last run took, ms';
COMMENT ON COLUMN qoe.scheduler_status.failing IS 'whether the last run failed';
COMMENT ON COLUMN qoe.scheduler_status.runs IS 'runs since the extension was created';
COMMENT ON COLUMN qoe.scheduler_status.failures IS 'of which failed';
COMMENT ON COLUMN qoe.scheduler_status.last_error IS 'the error of the latest failed run (kept after later successes: see failing)';
COMMENT ON COLUMN qoe.scheduler_status.last_error_at IS 'when that run failed';
COMMENT ON CONSTRAINT scheduler_status_pkey ON qoe.scheduler_status IS 'One row per job';

CREATE TABLE qoe.concurrency_1min (
    minute       timestamptz NOT NULL,
    content_id   bigint NOT NULL,
    country      text,
    device_type  text,
    cdn_pop      text,
    peak_viewers integer NOT NULL,
    last_viewers integer NOT NULL,
    CONSTRAINT concurrency_1min_group UNIQUE NULLS NOT DISTINCT
        (minute, content_id, country, device_type, cdn_pop)
);
COMMENT ON TABLE qoe.concurrency_1min IS
    'Concurrent viewers per minute, title, country, device type and CDN POP: the peak and the last of the samples of qoe.concurrent_viewers the scheduler took in that minute (every qoe.concurrency_sample_interval); a group without a row had no viewer at any sample';
COMMENT ON COLUMN qoe.concurrency_1min.minute IS 'start of the minute';
COMMENT ON COLUMN qoe.concurrency_1min.content_id IS 'the title';
COMMENT ON COLUMN qoe.concurrency_1min.country IS 'country of the sessions (NULL: unknown)';
COMMENT ON COLUMN qoe.concurrency_1min.device_type IS 'device type of the sessions (NULL: unknown)';
COMMENT ON COLUMN qoe.concurrency_1min.cdn_pop IS 'CDN POP of the sessions (NULL: unknown)';
COMMENT ON COLUMN qoe.concurrency_1min.peak_viewers IS 'highest sampled number of sessions playing in the minute (a spike shorter than the sample interval can be missed)';
COMMENT ON COLUMN qoe.concurrency_1min.last_viewers IS 'the minute''s latest sample in which the group had viewers';
COMMENT ON CONSTRAINT concurrency_1min_group ON qoe.concurrency_1min IS 'One row per minute and group; unknown (NULL) dimensions form a group of their own';

-- A group's row is written when its figures change: at its first sample of
-- the minute, and when its viewers differ from the minute's last sample.
-- Upserting every group at every sample took 1.3-2.2 s per sample at 260,000
-- viewers (146,000 groups); writing the changed ones, 0.7-0.8 s
-- (bench/freshness).
-- The join is on the coalesced dimensions, so that it can hash, and exact by
-- IS NOT DISTINCT FROM (NULL, an unknown value, is a group of its own).
CREATE FUNCTION qoe.record_concurrency() RETURNS integer
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH sampled AS (
        INSERT INTO qoe.concurrency_1min AS c (minute, content_id, country, device_type, cdn_pop,
                                               peak_viewers, last_viewers)
        SELECT m.minute, v.content_id, v.country, v.device_type, v.cdn_pop, v.viewers, v.viewers
          FROM (SELECT date_trunc('minute', now()) AS minute) m
         CROSS JOIN qoe.concurrent_viewers v
          LEFT JOIN qoe.concurrency_1min k
            ON k.minute = m.minute AND k.content_id = v.content_id
           AND coalesce(k.country, '') = coalesce(v.country, '') AND k.country IS NOT DISTINCT FROM v.country
           AND coalesce(k.device_type, '') = coalesce(v.device_type, '') AND k.device_type IS NOT DISTINCT FROM v.device_type
           AND coalesce(k.cdn_pop, '') = coalesce(v.cdn_pop, '') AND k.cdn_pop IS NOT DISTINCT FROM v.cdn_pop
         WHERE k.last_viewers IS DISTINCT FROM v.viewers
        ON CONFLICT ON CONSTRAINT concurrency_1min_group DO UPDATE
           SET peak_viewers = greatest(c.peak_viewers, excluded.peak_viewers),
               last_viewers = excluded.last_viewers
        RETURNING 1)
    SELECT count(*)::integer FROM sampled $$;
COMMENT ON FUNCTION qoe.record_concurrency() IS
    'Sample qoe.concurrent_viewers into qoe.concurrency_1min (peak and last per minute and group), writing only the groups whose figures changed since the minute''s previous sample; returns how many it wrote. Run by the scheduler every qoe.concurrency_sample_interval';

-- a setting of this session, else its documented default
CREATE FUNCTION qoe.setting_interval(name text, fallback interval) RETURNS interval
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT coalesce(nullif(current_setting(name, true), '')::interval, fallback) $$;
COMMENT ON FUNCTION qoe.setting_interval(text, interval) IS
    'A qoe.* time setting as an interval (the fallback when the library is not loaded in this session)';

CREATE FUNCTION qoe.apply_retention()
    RETURNS TABLE (data text, older_than interval, removed bigint)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    event_age   interval := qoe.setting_interval('qoe.event_retention', '30 days');
    session_age interval := qoe.setting_interval('qoe.session_retention', '730 days');
    rollup_age  interval := qoe.setting_interval('qoe.rollup_retention', '730 days');
    older       text;
    -- the rollups go by whole UTC days, so that every level keeps the same
    -- windows (each grain divides a day) and qoe.qoe_metrics agrees with
    -- itself whichever level it reads
    whole_days  constant text := 'window_start < date_bin(''1 day'', $1, ''2000-01-01 00:00+00'')';
BEGIN
    data := 'viewing_events partitions'; older_than := event_age;
    SELECT count(*) INTO removed FROM qoe.drop_old_partitions(event_age);
    RETURN NEXT;
    -- the rest: rows older than their table's retention
    FOR data, older_than, older IN
        SELECT * FROM (VALUES
            ('dead_letters', event_age, 'received_at < $1'),
            ('sessions', session_age, 'state <> ''active'' AND last_event_at < $1'),
            ('session_windows', rollup_age, whole_days),
            ('qoe_5min', rollup_age, whole_days),
            ('qoe_5min_by_title', rollup_age, whole_days),
            ('qoe_rollups', rollup_age, whole_days),
            ('concurrency_1min', rollup_age, 'minute < $1'),
            ('alerts', rollup_age, 'state IN (''resolved'', ''cancelled'') AND resolved_at < $1')) t
    LOOP
        EXECUTE format('DELETE FROM qoe.%I WHERE %s', data, older) USING now() - older_than;
        GET DIAGNOSTICS removed = ROW_COUNT;
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION qoe.apply_retention() IS
    'Remove what is older than its retention setting: raw event partitions and dead letters (qoe.event_retention, 30 days), finished sessions by their last event (qoe.session_retention, 2 years), rollup windows of every level by whole UTC days, concurrency minutes and closed alerts (qoe.rollup_retention, 2 years); returns what was removed. Run by the scheduler every qoe.retention_interval; as the extension owner, granted to qoe_admin';
