-- Alerts (doc/alerts.md): rules, their evaluation into qoe.alerts with
-- pending -> firing -> resolved states, NOTIFY qoe_alerts at commit, and the
-- outbox the alert notifier (src/alerts/notifier.c) delivers to Prometheus
-- Alertmanager after commit.

CREATE FUNCTION alert_template_check(template text, placeholders text[]) RETURNS void
    LANGUAGE c STRICT IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'qoe_alert_template_check';
COMMENT ON FUNCTION alert_template_check(text, text[]) IS
    'Raise an error when an alert message template is not well formed or uses a placeholder not in the list (doc/alerts.md)';
CREATE FUNCTION alert_render(template text, vars jsonb) RETURNS text
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'qoe_alert_render';
COMMENT ON FUNCTION alert_render(text, jsonb) IS
    'Render an alert message template with the values of a jsonb object (at most 4096 bytes; never fails on a template)';

-- SQL-standard bodies (RETURN, BEGIN ATOMIC) and views are bound when this
-- script creates them (pg_catalog first), and plpgsql bodies run with
-- search_path pinned: operators need no OPERATOR(pg_catalog.x) here.

-- The metrics of qoe.qoe_metrics (issue 12) a rule may watch, plus error_rate,
-- and the dimensions it may group by; stall_loop is the per-session rule.
CREATE FUNCTION alert_metrics() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY['attempts', 'plays', 'ebvs_rate', 'video_start_failure_rate',
                 'playback_failure_rate', 'error_rate', 'vst_p50_ms', 'vst_p95_ms', 'vst_p99_ms',
                 'rebuffering_ratio', 'stalls_per_hour', 'avg_bitrate_kbps', 'completion_rate',
                 'qoe_score', 'good_share', 'watch_hours', 'unique_viewers', 'stall_loop'];
COMMENT ON FUNCTION alert_metrics() IS
    'Metrics an alert rule may watch: the columns of qoe.qoe_metrics, error_rate, and stall_loop (doc/alerts.md)';
CREATE FUNCTION alert_dimensions(metric text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN metric = 'stall_loop'
                THEN ARRAY['session_id', 'user_id', 'content_id', 'cdn_pop', 'country', 'device_type']
                ELSE ARRAY['content_id', 'country', 'device_type', 'cdn_pop'] END;
COMMENT ON FUNCTION alert_dimensions(text) IS
    'Dimensions the scope of a rule on this metric may name (doc/alerts.md)';

CREATE TABLE alert_rules (
    name               text PRIMARY KEY CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$'),
    metric             text NOT NULL,
    scope              text[] NOT NULL DEFAULT '{}',
    comparator         text NOT NULL CHECK (comparator IN ('>', '>=', '<', '<=')),
    threshold          float8 NOT NULL,
    recovery_threshold float8,
    eval_window        interval NOT NULL DEFAULT '5 minutes'
                       CHECK (eval_window > '0' AND eval_window <= '1 day'),
    eval_every         interval NOT NULL DEFAULT '10 seconds' CHECK (eval_every >= '0'),
    pending_for        interval NOT NULL DEFAULT '0' CHECK (pending_for >= '0'),
    keep_firing_for    interval NOT NULL DEFAULT '0' CHECK (keep_firing_for >= '0'),
    min_sample_metric  text NOT NULL DEFAULT 'plays',
    min_sample         float8 NOT NULL DEFAULT 0,
    severity           text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    message            text NOT NULL CHECK (length(message) <= 2000),
    channels           text[] NOT NULL DEFAULT '{}',
    enabled            boolean NOT NULL DEFAULT true,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE alert_rules IS 'Alert rules evaluated by qoe.evaluate_alerts (doc/alerts.md); qoe_admin adds, changes and disables them';
COMMENT ON COLUMN alert_rules.name IS 'rule name, the alertname label in Alertmanager';
COMMENT ON COLUMN alert_rules.metric IS 'a column of qoe.qoe_metrics, error_rate, or stall_loop (see qoe.alert_metrics())';
COMMENT ON COLUMN alert_rules.scope IS 'dimensions to group by; one alert per rule and combination of their values';
COMMENT ON COLUMN alert_rules.comparator IS 'the alert condition is: metric comparator threshold';
COMMENT ON COLUMN alert_rules.threshold IS 'value that starts an alert';
COMMENT ON COLUMN alert_rules.recovery_threshold IS 'value the metric must get back past to resolve (hysteresis); NULL means the threshold';
COMMENT ON COLUMN alert_rules.eval_window IS 'metrics are computed over the last eval_window; for stall_loop, the longest span of the stalls';
COMMENT ON COLUMN alert_rules.eval_every IS 'evaluations of this rule are at least this far apart, however often qoe.evaluate_alerts runs (0: every time)';
COMMENT ON COLUMN alert_rules.pending_for IS 'how long the condition must hold before the alert fires';
COMMENT ON COLUMN alert_rules.keep_firing_for IS 'how long the recovery must hold before a firing alert resolves (no flapping)';
COMMENT ON COLUMN alert_rules.min_sample_metric IS 'metric that measures the sample, plays by default';
COMMENT ON COLUMN alert_rules.min_sample IS 'a scope whose min_sample_metric is below this is not judged';
COMMENT ON COLUMN alert_rules.severity IS 'info, warning or critical; the severity label in Alertmanager';
COMMENT ON COLUMN alert_rules.message IS 'message template with {{placeholders}} and | pct, | round, | round(N) filters';
COMMENT ON COLUMN alert_rules.channels IS 'where the alert should go (e.g. slack, pagerduty); the channels label in Alertmanager, for routing';
COMMENT ON COLUMN alert_rules.enabled IS 'a disabled rule is not evaluated, and its open alerts resolve';
COMMENT ON COLUMN alert_rules.updated_at IS 'when the rule was created or last changed (set by the alert_rules_check trigger unless the statement gives one)';
COMMENT ON CONSTRAINT alert_rules_pkey ON alert_rules IS 'Rules are named uniquely';
COMMENT ON CONSTRAINT alert_rules_name_check ON alert_rules IS 'a rule name is an identifier: a letter or _, then up to 62 letters, digits or _';
COMMENT ON CONSTRAINT alert_rules_comparator_check ON alert_rules IS 'comparator is >, >=, < or <=';
COMMENT ON CONSTRAINT alert_rules_eval_window_check ON alert_rules IS 'eval_window is positive and at most a day';
COMMENT ON CONSTRAINT alert_rules_eval_every_check ON alert_rules IS 'eval_every is at least 0';
COMMENT ON CONSTRAINT alert_rules_pending_for_check ON alert_rules IS 'pending_for is at least 0';
COMMENT ON CONSTRAINT alert_rules_keep_firing_for_check ON alert_rules IS 'keep_firing_for is at least 0';
COMMENT ON CONSTRAINT alert_rules_severity_check ON alert_rules IS 'severity is info, warning or critical';
COMMENT ON CONSTRAINT alert_rules_message_check ON alert_rules IS 'a message template is at most 2000 characters';

CREATE FUNCTION alert_rules_check() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    dims text[] := qoe.alert_dimensions(NEW.metric);
    bad text;
BEGIN
    IF NOT NEW.metric = ANY (qoe.alert_metrics()) THEN
        RAISE EXCEPTION 'unknown alert metric "%"', NEW.metric
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Rule "%s" names metric "%s".', NEW.name, NEW.metric),
                  HINT = 'The metrics are: ' || array_to_string(qoe.alert_metrics(), ', ') || '.';
    END IF;
    IF NEW.metric = 'stall_loop' THEN
        NEW.min_sample_metric := 'stall_loop';
        IF NOT 'session_id' = ANY (NEW.scope) OR NEW.comparator <> '>=' OR NEW.threshold < 2 THEN
            RAISE EXCEPTION 'invalid stall_loop rule "%"', NEW.name
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'A stall_loop rule counts stalls in a row of one session.',
                      HINT = 'Use scope {session_id, ...}, comparator >= and a threshold of at least 2 stalls.';
        END IF;
    END IF;
    SELECT d INTO bad FROM unnest(NEW.scope) d WHERE d IS NULL OR NOT d = ANY (dims) LIMIT 1;
    IF FOUND OR cardinality(NEW.scope) <> (SELECT count(DISTINCT d) FROM unnest(NEW.scope) d) THEN
        RAISE EXCEPTION 'invalid alert scope %', NEW.scope
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = CASE WHEN bad IS NULL AND FOUND THEN 'The scope holds a NULL.'
                                WHEN FOUND THEN format('"%s" is not a dimension of metric %s.', bad, NEW.metric)
                                ELSE 'The scope names a dimension twice.' END,
                  HINT = 'The dimensions are: ' || array_to_string(dims, ', ') || '.';
    END IF;
    IF NOT NEW.min_sample_metric = ANY (array_remove(qoe.alert_metrics(), 'stall_loop'))
       AND NEW.metric <> 'stall_loop' THEN
        RAISE EXCEPTION 'unknown alert metric "%" in min_sample_metric', NEW.min_sample_metric
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Rule "%s" measures its sample with "%s".', NEW.name, NEW.min_sample_metric),
                  HINT = 'The sample is one of: '
                         || array_to_string(array_remove(qoe.alert_metrics(), 'stall_loop'), ', ') || '.';
    END IF;
    IF NEW.recovery_threshold IS NOT NULL
       AND ((NEW.comparator IN ('>', '>=') AND NEW.recovery_threshold > NEW.threshold)
            OR (NEW.comparator IN ('<', '<=') AND NEW.recovery_threshold < NEW.threshold)) THEN
        RAISE EXCEPTION 'recovery threshold % is on the wrong side of threshold %',
                NEW.recovery_threshold, NEW.threshold
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Rule "%s" fires when %s %s %s; it could resolve while the condition still holds.',
                                  NEW.name, NEW.metric, NEW.comparator, NEW.threshold),
                  HINT = CASE WHEN NEW.comparator IN ('>', '>=')
                              THEN 'With > or >=, the recovery threshold must be at most the threshold (or NULL).'
                              ELSE 'With < or <=, the recovery threshold must be at least the threshold (or NULL).' END;
    END IF;
    PERFORM qoe.alert_template_check(NEW.message, qoe.alert_placeholders(NEW.metric, NEW.scope));
    -- an edit's time, unless the statement gives one (a restore's saved rule)
    IF TG_OP = 'UPDATE' AND NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION alert_rules_check() IS 'Trigger: refuses an alert rule with an unknown metric or dimension, a bad template or a recovery threshold on the wrong side';

-- What a message template may name (doc/alerts.md).
CREATE FUNCTION alert_placeholders(metric text, scope text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY['rule', 'severity', 'metric', 'value', 'threshold', 'recovery_threshold', 'window']
        || CASE WHEN metric = 'stall_loop'
                                     THEN qoe.alert_dimensions(metric)
                                     ELSE array_remove(qoe.alert_metrics(), 'stall_loop') || scope END;
COMMENT ON FUNCTION alert_placeholders(text, text[]) IS
    'Placeholders a message template of a rule on this metric and scope may use (doc/alerts.md)';

CREATE TRIGGER alert_rules_check BEFORE INSERT OR UPDATE ON alert_rules
    FOR EACH ROW EXECUTE FUNCTION alert_rules_check();
COMMENT ON TRIGGER alert_rules_check ON alert_rules IS
    'Checks each inserted or updated rule (qoe.alert_rules_check()) and stamps an edit''s updated_at';

CREATE TABLE alert_rule_status (
    rule         text PRIMARY KEY REFERENCES alert_rules (name) ON UPDATE CASCADE ON DELETE CASCADE,
    evaluated_at timestamptz NOT NULL,
    took_ms      float8,
    error        text,
    error_at     timestamptz
);
COMMENT ON TABLE alert_rule_status IS 'Per rule: its last evaluation, how long it took, and its last error (doc/alerts.md)';
COMMENT ON COLUMN alert_rule_status.rule IS 'the rule (qoe.alert_rules.name)';
COMMENT ON COLUMN alert_rule_status.evaluated_at IS 'the now of its last evaluation, successful or not';
COMMENT ON COLUMN alert_rule_status.took_ms IS 'milliseconds its last evaluation took';
COMMENT ON COLUMN alert_rule_status.error IS 'why its last evaluation failed; NULL after a success';
COMMENT ON COLUMN alert_rule_status.error_at IS 'when it last failed';
COMMENT ON CONSTRAINT alert_rule_status_pkey ON alert_rule_status IS 'One row per rule';
COMMENT ON CONSTRAINT alert_rule_status_rule_fkey ON alert_rule_status IS 'Renamed and deleted with its rule';

CREATE TABLE alerts (
    id                bigserial PRIMARY KEY,
    rule              text NOT NULL REFERENCES alert_rules (name) ON UPDATE CASCADE ON DELETE CASCADE,
    scope             jsonb NOT NULL,
    state             text NOT NULL CHECK (state IN ('pending', 'firing', 'resolved', 'cancelled')),
    severity          text NOT NULL,
    value             float8,
    threshold         float8 NOT NULL,
    started_at        timestamptz NOT NULL,
    fired_at          timestamptz,
    resolved_at       timestamptz,
    recovering_since  timestamptz,
    evaluated_at      timestamptz NOT NULL,
    message           text NOT NULL,
    channels          text[] NOT NULL,
    deliver_at        timestamptz,
    delivered_state   text,
    delivered_at      timestamptz,
    delivery_attempts integer NOT NULL DEFAULT 0,
    delivery_error    text
);
-- one open alert per rule and scope, whoever evaluates; a digest of the
-- scope, whose values come from clients and may be longer than an index entry
CREATE UNIQUE INDEX alerts_open_idx ON alerts (rule, md5(scope::text)) WHERE state IN ('pending', 'firing');
COMMENT ON SEQUENCE alerts_id_seq IS 'Numbers qoe.alerts rows in the order they started';
CREATE INDEX alerts_outbox_idx ON alerts (deliver_at) WHERE deliver_at IS NOT NULL;
CREATE INDEX alerts_rule_started_idx ON alerts (rule, started_at);
COMMENT ON TABLE alerts IS 'Alert history: one row per alert, from pending to firing to resolved (doc/alerts.md)';
COMMENT ON COLUMN alerts.id IS 'alert number (qoe.alerts_id_seq), in the order alerts started';
COMMENT ON COLUMN alerts.rule IS 'the rule that raised it (qoe.alert_rules.name)';
COMMENT ON COLUMN alerts.scope IS 'the values of the rule''s scope dimensions, e.g. {"content_id": 7}';
COMMENT ON COLUMN alerts.state IS 'pending (condition holds, not yet for pending_for), firing, resolved, or cancelled (pending that stopped holding)';
COMMENT ON COLUMN alerts.value IS 'the metric at the last evaluation that saw it';
COMMENT ON COLUMN alerts.threshold IS 'the rule''s threshold when the alert started';
COMMENT ON COLUMN alerts.started_at IS 'evaluation time the condition was first seen';
COMMENT ON COLUMN alerts.fired_at IS 'evaluation time it fired; NULL if it never did';
COMMENT ON COLUMN alerts.resolved_at IS 'evaluation time it resolved or was cancelled';
COMMENT ON COLUMN alerts.recovering_since IS 'while firing: since when the recovery condition holds (keep_firing_for)';
COMMENT ON COLUMN alerts.evaluated_at IS 'last evaluation that looked at this alert';
COMMENT ON COLUMN alerts.severity IS 'the rule''s severity when the alert started: info, warning or critical';
COMMENT ON COLUMN alerts.channels IS 'the rule''s channels when the alert started';
COMMENT ON COLUMN alerts.message IS 'the rule''s template rendered when the alert started and when it fired';
COMMENT ON COLUMN alerts.deliver_at IS 'outbox: when the notifier should send it to Alertmanager next; NULL when nothing is due';
COMMENT ON COLUMN alerts.delivered_state IS 'the state Alertmanager last received';
COMMENT ON COLUMN alerts.delivered_at IS 'when Alertmanager last accepted it';
COMMENT ON COLUMN alerts.delivery_attempts IS 'failed deliveries since the last success (the backoff doubles with each)';
COMMENT ON COLUMN alerts.delivery_error IS 'the last delivery error, NULL after a success';
COMMENT ON CONSTRAINT alerts_pkey ON alerts IS 'One row per alert';
COMMENT ON CONSTRAINT alerts_rule_fkey ON alerts IS 'Renamed and deleted with its rule';
COMMENT ON CONSTRAINT alerts_state_check ON alerts IS 'state is pending, firing, resolved or cancelled';
COMMENT ON INDEX alerts_open_idx IS 'At most one open (pending or firing) alert per rule and scope, by an md5 of the scope';
COMMENT ON INDEX alerts_outbox_idx IS 'The notifier''s outbox: alerts with a delivery due, by when';
COMMENT ON INDEX alerts_rule_started_idx IS 'A rule''s alerts in the order they started';

-- The notifier's own status: one row.
CREATE TABLE alert_notifier_status (
    id              boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_attempt_at timestamptz,
    last_success_at timestamptz,
    last_error_at   timestamptz,
    last_error      text,
    sent            bigint NOT NULL DEFAULT 0,
    failed          bigint NOT NULL DEFAULT 0
);
INSERT INTO alert_notifier_status DEFAULT VALUES;
COMMENT ON TABLE alert_notifier_status IS 'The alert notifier''s last delivery to Alertmanager and last error (one row)';
COMMENT ON COLUMN alert_notifier_status.id IS 'always true: the table holds one row';
COMMENT ON COLUMN alert_notifier_status.last_attempt_at IS 'when the notifier last tried a delivery; NULL: never';
COMMENT ON COLUMN alert_notifier_status.last_success_at IS 'when Alertmanager last accepted a delivery; NULL: never';
COMMENT ON COLUMN alert_notifier_status.last_error_at IS 'when a delivery last failed; NULL: never';
COMMENT ON COLUMN alert_notifier_status.last_error IS 'the error of that delivery';
COMMENT ON COLUMN alert_notifier_status.sent IS 'alerts Alertmanager accepted, counting each delivery of an alert';
COMMENT ON COLUMN alert_notifier_status.failed IS 'alerts in failed deliveries, counting each attempt';
COMMENT ON CONSTRAINT alert_notifier_status_pkey ON alert_notifier_status IS 'Key of the single row';
COMMENT ON CONSTRAINT alert_notifier_status_id_check ON alert_notifier_status IS 'id is always true, so the table holds at most one row';

CREATE VIEW alert_delivery AS
    SELECT s.last_attempt_at, s.last_success_at, s.last_error_at, s.last_error,
           s.sent, s.failed,
           (SELECT count(*) FROM qoe.alerts a WHERE a.deliver_at IS NOT NULL
               AND a.deliver_at <= pg_catalog.now()) AS due,
           (SELECT min(a.deliver_at) FROM qoe.alerts a WHERE a.deliver_at IS NOT NULL
               AND a.delivered_state IS DISTINCT FROM a.state) AS oldest_undelivered
      FROM qoe.alert_notifier_status s;
COMMENT ON VIEW alert_delivery IS 'Delivery to Alertmanager: last attempt, success and error, alerts sent and failed, alerts due now and the oldest not yet delivered';
COMMENT ON COLUMN alert_delivery.last_attempt_at IS 'when the notifier last tried a delivery; NULL: never';
COMMENT ON COLUMN alert_delivery.last_success_at IS 'when Alertmanager last accepted a delivery; NULL: never';
COMMENT ON COLUMN alert_delivery.last_error_at IS 'when a delivery last failed; NULL: never';
COMMENT ON COLUMN alert_delivery.last_error IS 'the error of that delivery';
COMMENT ON COLUMN alert_delivery.sent IS 'alerts Alertmanager accepted, counting each delivery of an alert';
COMMENT ON COLUMN alert_delivery.failed IS 'alerts in failed deliveries, counting each attempt';
COMMENT ON COLUMN alert_delivery.due IS 'alerts whose delivery is due now (deliver_at passed)';
COMMENT ON COLUMN alert_delivery.oldest_undelivered IS 'earliest deliver_at of the alerts whose state Alertmanager has not received yet; NULL: none';

-- THE SEAM to the rollups (issue 12): the metrics of every scope over a window,
-- one jsonb object per scope (its dimensions and metrics), from qoe.qoe_metrics; error_rate is start failures plus
-- playback failures over attempts. The window starts at the 5-minute rollup
-- window holding from_ts: qoe_metrics takes the windows starting in
-- [from, to), which would leave out the one in progress at from_ts and make
-- the sample fall to nothing at every 5-minute boundary. Tests replace this
-- function.
CREATE FUNCTION alert_metric_values(from_ts timestamptz, to_ts timestamptz, group_by text[])
    RETURNS SETOF jsonb
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    RETURN QUERY
        SELECT m.j || jsonb_build_object('error_rate',
                   (m.j ->> 'video_start_failure_rate')::float8
                   + (m.j ->> 'playback_failure_rate')::float8)
          FROM (SELECT to_jsonb(q) - 'bucket' AS j
                  FROM qoe.qoe_metrics(date_bin('5 minutes', from_ts, '2000-01-01 00:00+00'),
                                       to_ts, NULL, group_by) q) m;
END $$;
COMMENT ON FUNCTION alert_metric_values(timestamptz, timestamptz, text[]) IS
    'Metrics of each scope for alert rules, from qoe.qoe_metrics over the 5-minute windows from the one holding from_ts to to_ts, plus error_rate (doc/alerts.md)';

-- Stalls by arrival, which the stall loop looks at, are indexed in every
-- partition of qoe.viewing_events (src/ingest/partitions.c).

-- Sessions stalling in a row (doc/alerts.md): per session, its connection-
-- induced stalls after the first frame with no other event between them but
-- bitrate changes, among its events of the two minutes before at; a loop is
-- `stalls` of them within max_span whose last one arrived in the 10 s before
-- at. The sessions looked at: those with an open stall-loop alert, and those
-- with a stall arrived since the previous evaluation of the stall-loop rules
-- less 3 s (for transactions that commit late), or in the 10 s before at
-- after a replay, a failure or a rule's first evaluation: evaluated every
-- second, a stall is looked at about 4 times, not 10.
CREATE FUNCTION alert_stall_loops(at timestamptz, stalls integer, max_span interval)
    RETURNS SETOF jsonb
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
    WITH since AS (
        SELECT greatest(at - interval '10 seconds',
                        (SELECT pg_catalog.min(st.evaluated_at) - interval '3 seconds'
                           FROM qoe.alert_rules r LEFT JOIN qoe.alert_rule_status st ON st.rule = r.name
                          WHERE r.metric = 'stall_loop' AND r.enabled
                         HAVING pg_catalog.bool_and(coalesce(st.evaluated_at <= at AND st.error IS NULL, false)))) AS t
    ), recent AS (
        SELECT e.session_id FROM qoe.viewing_events e
         WHERE e.event_type = 'buffering'
           AND e.received_at > (SELECT t FROM since) AND e.received_at <= at
           AND e.event_time > at - interval '2 minutes'
           AND e.event_time <= at + interval '1 minute'
        UNION
        SELECT a.scope ->> 'session_id' FROM qoe.alerts a JOIN qoe.alert_rules r ON r.name = a.rule
         WHERE r.metric = 'stall_loop' AND a.state IN ('pending', 'firing')
    ), ev AS (
        SELECT e.session_id, e.event_time, e.received_at,
               e.event_type = 'buffering'
                 AND (e.extra ->> 'seek_induced') IS DISTINCT FROM 'true' AS stall
          FROM qoe.viewing_events e JOIN recent r USING (session_id)
          JOIN qoe.sessions s USING (session_id)
         WHERE e.event_time > at - interval '2 minutes'
           AND e.event_time <= at + interval '1 minute'
           AND e.event_time > s.first_frame_at
           AND e.event_type <> 'bitrate_change'
    ), runs AS (
        -- a run: the stalls after the same number of other events
        SELECT ev.*, pg_catalog.count(*) FILTER (WHERE NOT stall)
                   OVER (PARTITION BY session_id ORDER BY event_time, received_at
                         ROWS UNBOUNDED PRECEDING) AS run
          FROM ev
    ), loops AS (
        SELECT session_id, run, pg_catalog.count(*) AS in_row,
               pg_catalog.bool_or(event_time - back <= max_span
                                  AND received_at > at - interval '10 seconds') AS looping
          FROM (SELECT runs.*, pg_catalog.lag(event_time, stalls - 1)
                                 OVER (PARTITION BY session_id, run ORDER BY event_time) AS back
                  FROM runs WHERE stall) x
         GROUP BY session_id, run
    )
    SELECT DISTINCT ON (l.session_id)
           pg_catalog.jsonb_build_object('stall_loop', l.in_row, 'session_id', s.session_id,
               'user_id', s.user_id, 'content_id', s.content_id, 'cdn_pop', s.cdn_pop,
               'country', s.country, 'device_type', s.device_type)
      FROM loops l JOIN qoe.sessions s USING (session_id)
     WHERE l.looping
     ORDER BY l.session_id, l.in_row DESC;
    END;
COMMENT ON FUNCTION alert_stall_loops(timestamptz, integer, interval) IS
    'Sessions with at least this many connection-induced stalls in a row within max_span, the last arrived in the 10 s before at, among their events of the two minutes before at; looks at the sessions with an open stall-loop alert or a stall arrived since the last evaluation (doc/alerts.md)';

-- The current metrics of every scope of a rule, one jsonb object each.
CREATE FUNCTION alert_values(r alert_rules, at timestamptz) RETURNS SETOF jsonb
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF r.metric = 'stall_loop' THEN
        RETURN QUERY SELECT * FROM qoe.alert_stall_loops(at, r.threshold::integer, r.eval_window);
    ELSE
        RETURN QUERY SELECT * FROM qoe.alert_metric_values(at - r.eval_window, at, r.scope);
    END IF;
END $$;
COMMENT ON FUNCTION alert_values(alert_rules, timestamptz) IS
    'The metrics of every scope of a rule at a time: qoe.alert_metric_values over its window, or qoe.alert_stall_loops';

CREATE FUNCTION alert_holds(value float8, comparator text, threshold float8) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE comparator WHEN '>' THEN value > threshold
                           WHEN '>=' THEN value >= threshold
                           WHEN '<' THEN value < threshold
                           WHEN '<=' THEN value <= threshold END;
COMMENT ON FUNCTION alert_holds(float8, text, float8) IS 'value comparator threshold';

-- NOTIFY qoe_alerts with a small payload; sent at commit. A scope too long
-- for NOTIFY's 8000 bytes (client-supplied dimension values) is left out.
-- Also queued for the Redis channel qoe_alerts, published after commit.
CREATE FUNCTION alert_notify(a alerts) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    payload jsonb := jsonb_build_object('id', a.id, 'rule', a.rule, 'severity', a.severity,
                                        'scope', a.scope, 'state', a.state, 'value', a.value);
BEGIN
    IF octet_length(payload::text) > 7900 THEN
        payload := payload || '{"scope": "too long, see qoe.alerts"}';
    END IF;
    PERFORM pg_notify('qoe_alerts', payload::text);
    PERFORM qoe.redis_queue_alert(to_jsonb(a));  -- the Redis channel (80_redis.sql)
END $$;
COMMENT ON FUNCTION alert_notify(alerts) IS 'NOTIFY qoe_alerts with the alert id, rule, severity, scope, state and value';

CREATE FUNCTION evaluate_alerts(now timestamptz DEFAULT pg_catalog.now())
    RETURNS TABLE (id bigint, rule text, scope jsonb, state text, value float8)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    r qoe.alert_rules;
    c record;
    a qoe.alerts;
    v float8;
    sample float8;
    present boolean;
    breach boolean;
    recovered boolean;
    vars jsonb;
    -- the metrics of every scope, computed once per evaluation for all the
    -- rules that share a scope and window (or stall-loop parameters)
    computed jsonb := '{}';
    key text;
    -- open alerts that only take the evaluation's value (one UPDATE per rule)
    held_ids bigint[];
    held_values float8[];
    held_recovered boolean[];
    new_state text;
    msg text;
    t0 timestamptz;
BEGIN
    -- one evaluator at a time; alerts_open_idx keeps one open alert per rule
    -- and scope whatever happens
    PERFORM pg_advisory_xact_lock(7216373650041513);

    -- open alerts of disabled rules end
    FOR a IN UPDATE qoe.alerts al
                SET state = CASE al.state WHEN 'firing' THEN 'resolved' ELSE 'cancelled' END,
                    resolved_at = now, evaluated_at = now,
                    deliver_at = CASE al.state WHEN 'firing' THEN now END
               FROM qoe.alert_rules ru
              WHERE ru.name = al.rule AND NOT ru.enabled AND al.state IN ('pending', 'firing')
          RETURNING al.* LOOP
        PERFORM qoe.alert_notify(a);
        RETURN QUERY SELECT a.id, a.rule, a.scope, a.state, a.value;
    END LOOP;

    FOR r IN SELECT ru.* FROM qoe.alert_rules ru
               LEFT JOIN qoe.alert_rule_status st ON st.rule = ru.name
              WHERE ru.enabled
                -- due: never evaluated, eval_every passed, or a replay of the past
                AND (st.evaluated_at IS NULL OR now >= st.evaluated_at + ru.eval_every
                     OR now < st.evaluated_at)
              ORDER BY ru.name LOOP
      t0 := clock_timestamp();
      held_ids := '{}';
      held_values := '{}';
      held_recovered := '{}';
      -- a rule that fails (its metrics cannot be computed) does not stop the others
      BEGIN
        key := format('%s|%s|%s', r.eval_window, r.scope,
                      CASE WHEN r.metric = 'stall_loop' THEN r.threshold END);
        IF NOT computed ? key THEN
            computed := computed || jsonb_build_object(key,
                (SELECT coalesce(jsonb_agg(m), '[]') FROM qoe.alert_values(r, now) m));
        END IF;
        FOR c IN
            WITH cur AS (
                SELECT (SELECT coalesce(jsonb_object_agg(d, m -> d), '{}') FROM unnest(r.scope) d) AS scope,
                       m AS vars, (m ->> r.metric)::float8 AS v
                  FROM jsonb_array_elements(computed -> key) m
            ), o AS (
                SELECT * FROM qoe.alerts al WHERE al.rule = r.name AND al.state IN ('pending', 'firing')
            )
            SELECT coalesce(o.scope, cur.scope) AS scope, cur.vars, cur.v,
                   o.id AS open_id, o.state AS open_state, o.started_at, o.recovering_since
              FROM cur FULL JOIN o ON o.scope = cur.scope
             WHERE o.id IS NOT NULL OR qoe.alert_holds(cur.v, r.comparator, r.threshold)
        LOOP
            v := c.v;
            sample := (c.vars ->> r.min_sample_metric)::float8;
            -- a scope without data (or NaN), or with too small a sample (or
            -- none, when one is required), is not judged: it starts nothing,
            -- and ends what it had started
            present := v IS NOT NULL AND v <> 'NaN' AND coalesce(sample >= r.min_sample, r.min_sample <= 0);
            breach := present AND coalesce(qoe.alert_holds(v, r.comparator, r.threshold), false);
            recovered := NOT present OR NOT coalesce(qoe.alert_holds(v, r.comparator,
                                                     coalesce(r.recovery_threshold, r.threshold)), false);
            vars := coalesce(c.vars, '{}') || jsonb_build_object(
                'rule', r.name, 'severity', r.severity, 'metric', r.metric, 'value', v,
                'threshold', r.threshold, 'recovery_threshold', coalesce(r.recovery_threshold, r.threshold),
                'window', r.eval_window::text);
            a := NULL;
            IF c.open_id IS NULL THEN
                IF breach THEN
                    new_state := CASE WHEN r.pending_for = '0' THEN 'firing' ELSE 'pending' END;
                    INSERT INTO qoe.alerts AS al (rule, scope, state, severity, value, threshold,
                                                  started_at, fired_at, evaluated_at, message, channels,
                                                  deliver_at)
                    VALUES (r.name, c.scope, new_state, r.severity, v, r.threshold, now,
                            CASE new_state WHEN 'firing' THEN now END, now,
                            qoe.alert_render(r.message, vars), r.channels,
                            CASE new_state WHEN 'firing' THEN now END)
                    ON CONFLICT (rule, md5(scope::text)) WHERE state IN ('pending', 'firing') DO NOTHING
                    RETURNING al.* INTO a;
                END IF;
            ELSIF c.open_state = 'pending' THEN
                IF NOT breach THEN
                    UPDATE qoe.alerts al SET state = 'cancelled', resolved_at = now, evaluated_at = now,
                                             value = coalesce(v, al.value)
                     WHERE al.id = c.open_id RETURNING al.* INTO a;
                ELSIF now - c.started_at >= r.pending_for THEN
                    UPDATE qoe.alerts al SET state = 'firing', fired_at = now, evaluated_at = now, value = v,
                                             message = qoe.alert_render(r.message, vars), deliver_at = now
                     WHERE al.id = c.open_id RETURNING al.* INTO a;
                ELSE
                    held_ids := held_ids || c.open_id;
                    held_values := held_values || v;
                    held_recovered := held_recovered || false;
                END IF;
            ELSIF recovered AND now - coalesce(c.recovering_since, now) >= r.keep_firing_for THEN
                UPDATE qoe.alerts al SET state = 'resolved', resolved_at = now, evaluated_at = now,
                                         recovering_since = coalesce(al.recovering_since, now),
                                         value = coalesce(v, al.value), deliver_at = now
                 WHERE al.id = c.open_id RETURNING al.* INTO a;
            ELSE
                -- firing on, or recovering for less than keep_firing_for
                held_ids := held_ids || c.open_id;
                held_values := held_values || v;
                held_recovered := held_recovered || recovered;
            END IF;
            IF a.id IS NOT NULL THEN
                PERFORM qoe.alert_notify(a);
                RETURN QUERY SELECT a.id, a.rule, a.scope, a.state, a.value;
            END IF;
        END LOOP;
        UPDATE qoe.alerts al SET evaluated_at = now, value = coalesce(h.v, al.value),
                                 recovering_since = CASE WHEN h.recovered
                                                         THEN coalesce(al.recovering_since, now) END
          FROM unnest(held_ids, held_values, held_recovered) h(id, v, recovered)
         WHERE al.id = h.id;
        msg := NULL;
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
        RAISE WARNING 'alert rule "%" was not evaluated: %', r.name, msg
            USING HINT = 'Its alerts keep their state until it can be evaluated again; see qoe.alert_rule_status.';
      END;
      INSERT INTO qoe.alert_rule_status AS st (rule, evaluated_at, took_ms, error, error_at)
      VALUES (r.name, now, extract(epoch FROM clock_timestamp() - t0) * 1000, msg,
              CASE WHEN msg IS NOT NULL THEN now END)
      ON CONFLICT (rule) DO UPDATE
         SET evaluated_at = excluded.evaluated_at, took_ms = excluded.took_ms, error = excluded.error,
             error_at = coalesce(excluded.error_at, st.error_at);
    END LOOP;
END $$;
COMMENT ON FUNCTION evaluate_alerts(timestamptz) IS
    'Evaluate every enabled alert rule at a time (default now): start, fire, resolve or cancel alerts in qoe.alerts, NOTIFY qoe_alerts for each change; returns the changes (doc/alerts.md)';

-- The notifier's side of the outbox (src/alerts/notifier.c): the alerts due,
-- as an Alertmanager v2 POST body, and what became of their delivery.
CREATE FUNCTION alert_outbox(at timestamptz, max_alerts integer, resend interval,
                             OUT ids bigint[], OUT states text[], OUT body text)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
    SELECT pg_catalog.array_agg(d.id ORDER BY d.id), pg_catalog.array_agg(d.state ORDER BY d.id),
           pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'labels', pg_catalog.jsonb_build_object('alertname', d.rule, 'severity', d.severity)
                   || coalesce((SELECT pg_catalog.jsonb_object_agg(k,
                                         coalesce(x #>> '{}', ''))
                                    FROM pg_catalog.jsonb_each(d.scope) e(k, x)), '{}')
                   || CASE WHEN pg_catalog.cardinality(d.channels) > 0
                        THEN pg_catalog.jsonb_build_object('channels', pg_catalog.array_to_string(d.channels, ','))
                        ELSE '{}' END,
               'annotations', pg_catalog.jsonb_build_object('summary', d.message,
                   'value', d.value::text, 'threshold', d.threshold::text, 'qoe_alert_id', d.id::text),
               'startsAt', pg_catalog.to_char(coalesce(d.fired_at, d.started_at) AT TIME ZONE 'UTC',
                                              'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               -- after startsAt, or Alertmanager refuses the whole batch (an
               -- evaluation at a future now)
               'endsAt', pg_catalog.to_char(greatest(CASE d.state WHEN 'firing'
                                                          THEN at + resend * 4::float8
                                                          ELSE coalesce(d.resolved_at, at) END,
                                                     coalesce(d.fired_at, d.started_at) + interval '1 millisecond')
                                            AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
               ORDER BY d.id)::text
      FROM (SELECT * FROM qoe.alerts a
             WHERE a.deliver_at <= at
             ORDER BY a.deliver_at LIMIT max_alerts) d;
    END;
COMMENT ON FUNCTION alert_outbox(timestamptz, integer, interval) IS
    'Alerts due for delivery at a time (at most max_alerts), their states, and the Alertmanager v2 POST /api/v2/alerts body; firing ones end 4 resend intervals later unless resent';

CREATE FUNCTION alert_delivered(at timestamptz, ids bigint[], states text[], error text, resend interval)
    RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF coalesce(cardinality(ids), 0) = 0 THEN
        RETURN;
    END IF;
    -- an alert whose state changed since it was read is due again already
    IF error IS NULL THEN
        UPDATE qoe.alerts a
           SET deliver_at = CASE a.state WHEN 'firing' THEN at + resend END,
               delivered_state = a.state, delivered_at = at, delivery_attempts = 0, delivery_error = NULL
          FROM unnest(ids, states) s(id, state)
         WHERE a.id = s.id AND a.state = s.state;
        UPDATE qoe.alert_notifier_status
           SET last_attempt_at = at, last_success_at = at, sent = sent + cardinality(ids);
    ELSE
        UPDATE qoe.alerts a
           SET deliver_at = at + least(interval '1 second' * 2 ^ least(a.delivery_attempts, 6),
                                       interval '1 minute'),
               delivery_attempts = a.delivery_attempts + 1, delivery_error = error
          FROM unnest(ids, states) s(id, state)
         WHERE a.id = s.id AND a.state = s.state;
        UPDATE qoe.alert_notifier_status
           SET last_attempt_at = at, last_error_at = at, last_error = error,
               failed = failed + cardinality(ids);
    END IF;
END $$;
COMMENT ON FUNCTION alert_delivered(timestamptz, bigint[], text[], text, interval) IS
    'Record a delivery to Alertmanager: on success firing alerts are due again after resend, resolved ones never; on error (text) they are retried after 1 s, doubling to 1 min';

-- the design's rules (SPEC section 5) per CDN POP, and the stall loop; a
-- degraded POP is what they catch (doc/alerts.md). A p95 is judged on at
-- least 100 plays, an error rate of 1 % on at least 300 attempts: with fewer,
-- a few unlucky viewers of a healthy POP are over the threshold.
INSERT INTO alert_rules (name, metric, scope, comparator, threshold, recovery_threshold,
                         eval_window, eval_every, pending_for, keep_firing_for, min_sample_metric, min_sample,
                         severity, message, channels) VALUES
    ('high_vst_p95', 'vst_p95_ms', '{cdn_pop}', '>', 3000, 2500, '5 minutes', '10 seconds', '1 minute', '2 minutes',
     'plays', 100, 'warning',
     'Slow video start: p95 {{vst_p95_ms | round}} ms on CDN POP {{cdn_pop}} ({{plays}} plays)', '{slack}'),
    ('high_rebuffering', 'rebuffering_ratio', '{cdn_pop}', '>', 0.02, 0.015, '5 minutes', '10 seconds', '1 minute', '2 minutes',
     'plays', 20, 'critical',
     'High rebuffering: {{rebuffering_ratio | pct}} on CDN POP {{cdn_pop}}', '{slack,pagerduty}'),
    ('low_qoe_score', 'qoe_score', '{cdn_pop}', '<', 70, 75, '5 minutes', '10 seconds', '1 minute', '2 minutes',
     'plays', 20, 'warning',
     'Low QoE score: {{qoe_score | round(1)}} on CDN POP {{cdn_pop}}', '{slack}'),
    ('high_error_rate', 'error_rate', '{cdn_pop}', '>', 0.01, 0.008, '5 minutes', '10 seconds', '1 minute', '2 minutes',
     'attempts', 300, 'critical',
     'High error rate: {{error_rate | pct}} of {{attempts}} attempts on CDN POP {{cdn_pop}}', '{slack,pagerduty}'),
    ('stall_loop', 'stall_loop', '{session_id,content_id}', '>=', 3, NULL, '3 seconds', '0', '0', '0',
     'stall_loop', 0, 'critical',
     'Stall loop: session {{session_id}} of user {{user_id}} stalled {{value}} times in a row within 3 s on content {{content_id}} via CDN POP {{cdn_pop}}',
     '{slack,pagerduty}');

-- Backup (doc/operations.md, "Backup and restore"): pg_dump saves every rule,
-- the rules added and the defaults as edited, and the alert history; the
-- evaluation status and the notifier's counters are run state. A restore
-- inserts the saved rules after CREATE EXTENSION has inserted the defaults:
-- a rule inserted under the name of one of the defaults above updates it in
-- place (qoe.replace_row, 55_qoe_score.sql), its alerts staying attached.
CREATE TRIGGER replace_row BEFORE INSERT ON alert_rules FOR EACH ROW
    WHEN (NEW.name IN ('high_vst_p95', 'high_rebuffering', 'low_qoe_score', 'high_error_rate', 'stall_loop'))
    EXECUTE FUNCTION replace_row('name');
COMMENT ON TRIGGER replace_row ON alert_rules IS
    'A rule inserted under the name of a default that exists updates it (restoring a dump keeps an edited default)';
SELECT pg_catalog.pg_extension_config_dump('alert_rules', '');
SELECT pg_catalog.pg_extension_config_dump('alerts', '');
SELECT pg_catalog.pg_extension_config_dump('alerts_id_seq', '');
