-- Alert rules, templates and the evaluation state machine (doc/alerts.md).
\set VERBOSITY default

-- the default rules
SELECT name, metric, scope, comparator, threshold, recovery_threshold, eval_window,
       pending_for, keep_firing_for, min_sample_metric, min_sample, severity, channels, enabled
  FROM qoe.alert_rules ORDER BY name;

-- a bad rule is an error at insert time, with a hint
INSERT INTO qoe.alert_rules (name, metric, comparator, threshold, severity, message)
    VALUES ('bad', 'rebuffering', '>', 1, 'info', 'm');
INSERT INTO qoe.alert_rules (name, metric, scope, comparator, threshold, severity, message)
    VALUES ('bad', 'plays', '{content_id,region}', '>', 1, 'info', 'm');
INSERT INTO qoe.alert_rules (name, metric, scope, comparator, threshold, severity, message)
    VALUES ('bad', 'plays', '{country,country}', '>', 1, 'info', 'm');
INSERT INTO qoe.alert_rules (name, metric, comparator, threshold, severity, message)
    VALUES ('bad', 'plays', '>', 1, 'info', 'low plays for {{content_id}}');
INSERT INTO qoe.alert_rules (name, metric, scope, comparator, threshold, severity, message)
    VALUES ('bad', 'plays', '{content_id}', '>', 1, 'info', 'low plays: {{plays | percent}}');
INSERT INTO qoe.alert_rules (name, metric, comparator, threshold, severity, message)
    VALUES ('bad', 'plays', '>', 1, 'info', 'low plays: {{plays');
INSERT INTO qoe.alert_rules (name, metric, comparator, threshold, severity, message)
    VALUES ('bad', 'plays', '>', 1, 'info', 'low plays: plays}} {{plays}}');
INSERT INTO qoe.alert_rules (name, metric, comparator, threshold, severity, message)
    VALUES ('bad', 'plays', '>', 1, 'info', 'low plays: {{ | round}}');
INSERT INTO qoe.alert_rules (name, metric, comparator, threshold, recovery_threshold, severity, message)
    VALUES ('bad', 'rebuffering_ratio', '>', 0.02, 0.03, 'info', 'm');
INSERT INTO qoe.alert_rules (name, metric, comparator, threshold, recovery_threshold, severity, message)
    VALUES ('bad', 'qoe_score', '<', 70, 60, 'info', 'm');
INSERT INTO qoe.alert_rules (name, metric, comparator, threshold, severity, message, min_sample_metric)
    VALUES ('bad', 'plays', '>', 1, 'info', 'm', 'viewers');
INSERT INTO qoe.alert_rules (name, metric, scope, comparator, threshold, severity, message)
    VALUES ('bad', 'stall_loop', '{content_id}', '>=', 3, 'critical', 'm');
UPDATE qoe.alert_rules SET message = 'High rebuffering: {{rebuffering_ratio | pct}} for content {{content_id}}'
 WHERE name = 'high_rebuffering';
-- an error quotes at most 200 bytes of the template, whole characters
INSERT INTO qoe.alert_rules (name, metric, comparator, threshold, severity, message)
    VALUES ('bad', 'plays', '>', 1, 'info', 'm {{plays | x' || repeat('é', 150) || '}}');

-- templates: placeholders, the filters, and what is not a placeholder
SELECT qoe.alert_render(message, '{"rebuffering_ratio": 0.0234567, "cdn_pop": "us-east-1a"}')
  FROM qoe.alert_rules WHERE name = 'high_rebuffering';
SELECT qoe.alert_render(t, '{"x": 0.123456, "n": 1234.5678, "s": "pop-1", "b": true, "z": null}')
  FROM unnest(ARRAY[
    '{{x}} {{x | pct}} {{x | pct | round(2)}} {{x|round(3)}} {{n | round}} {{n | round(1)}}',
    '{{s}} {{ s }} {{s | pct}} {{b}} {{z}} {{missing}} {{n|pct|round(0)}}',
    'single { braces } stay, {{ not closed {{x}} and }} stray',
    '{{x | nofilter}} {{x y}} {{}} {{{x}}}',
    '']) t;
-- a message is at most 4096 bytes, whatever the values, cut at a character
SELECT octet_length(qoe.alert_render('{{s}}{{s}}', jsonb_build_object('s', repeat('é', 3000))));
-- linear in the template: a 4 MB template of every kind renders at once
SET statement_timeout = '5s';
SELECT length(qoe.alert_render(repeat(p, 1000000), '{"a": 1}')) > 0 AS rendered
  FROM unnest(ARRAY['{{', '}}', '{{a', '{{a}}', '{{ | ', '{{a|pct']) p;
SELECT length(qoe.alert_render(repeat('{{a', 200000) || repeat('}}', 200000), '{"a": 1}')) AS rendered;
RESET statement_timeout;
-- fuzz: random templates over the template alphabet never fail to render,
-- and the check either accepts a template or says why with an error
SELECT setseed(0.13);
CREATE TEMP TABLE fuzz AS
    SELECT string_agg(substr('{}|() apctroundx_19é', 1 + floor(random() * 21)::int, 1), '') AS t
      FROM generate_series(1, 20000) i, generate_series(1, 24) j
     GROUP BY i;
SELECT count(qoe.alert_render(t, '{"x": 1.5, "a": "y"}')) AS rendered FROM fuzz;
DO $$
DECLARE t text; ok int := 0; refused int := 0;
BEGIN
    FOR t IN SELECT fuzz.t FROM fuzz LOOP
        BEGIN
            PERFORM qoe.alert_template_check(t, '{x,a}');
            ok := ok + 1;
        EXCEPTION WHEN invalid_parameter_value THEN
            refused := refused + 1;
        END;
    END LOOP;
    RAISE NOTICE 'fuzz: % accepted, % refused', ok > 0, refused > 0;
END $$;

-- THE STATE MACHINE, on test-only metrics: qoe.alert_metric_values (the seam
-- to qoe.qoe_metrics) is replaced for this test by one reading this table
CREATE TABLE alerts_test_metrics (content_id bigint, metrics jsonb);
SELECT pg_get_functiondef('qoe.alert_metric_values(timestamptz, timestamptz, text[])'::regprocedure)
    AS seam_def \gset
CREATE OR REPLACE FUNCTION qoe.alert_metric_values(from_ts timestamptz, to_ts timestamptz, group_by text[])
    RETURNS SETOF jsonb LANGUAGE sql STABLE
    AS $$ SELECT jsonb_build_object('content_id', content_id) || metrics FROM public.alerts_test_metrics $$;
UPDATE qoe.alert_rules SET enabled = false;
INSERT INTO qoe.alert_rules (name, metric, scope, comparator, threshold, recovery_threshold,
                             pending_for, keep_firing_for, min_sample, severity, message, channels)
VALUES ('t_rebuf', 'rebuffering_ratio', '{content_id}', '>', 0.02, 0.015, '1 minute', '2 minutes',
        20, 'critical', 'High rebuffering: {{rebuffering_ratio | pct}} for content {{content_id}} ({{plays}} plays)',
        '{slack,pagerduty}');
INSERT INTO alerts_test_metrics VALUES
    (1, '{"rebuffering_ratio": 0.03, "plays": 100}'),
    (2, '{"rebuffering_ratio": 0.03, "plays": 5}'),      -- too few plays
    (3, '{"rebuffering_ratio": 0.01, "plays": 100}');
CREATE FUNCTION alerts_eval(at text) RETURNS TABLE (rule text, scope jsonb, state text, value float8)
    LANGUAGE sql AS $$
    SELECT rule, scope, state, value FROM qoe.evaluate_alerts(('2026-01-01 00:00+00'::timestamptz + at::interval)) $$;
CREATE VIEW alerts_now AS
    SELECT rule, scope, state, value, started_at - '2026-01-01 00:00+00' AS started,
           fired_at - '2026-01-01 00:00+00' AS fired, resolved_at - '2026-01-01 00:00+00' AS resolved,
           recovering_since - '2026-01-01 00:00+00' AS recovering, message
      FROM qoe.alerts WHERE rule = 't_rebuf' ORDER BY id;
-- above the threshold: pending, not yet firing
SELECT * FROM alerts_eval('0s');
SELECT * FROM alerts_eval('30s');
-- held for pending_for: firing, message rendered
SELECT * FROM alerts_eval('60s');
SELECT * FROM alerts_now;
-- no duplicate while firing, whoever tries
SELECT * FROM alerts_eval('70s');
INSERT INTO qoe.alerts (rule, scope, state, severity, threshold, started_at, evaluated_at, message, channels)
    VALUES ('t_rebuf', '{"content_id": 1}', 'pending', 'critical', 0.02, now(), now(), 'm', '{}');
-- between the recovery threshold and the threshold: still firing (hysteresis)
UPDATE alerts_test_metrics SET metrics = metrics || '{"rebuffering_ratio": 0.018}' WHERE content_id = 1;
SELECT * FROM alerts_eval('2min');
-- recovered, but not for keep_firing_for yet; back up: the clock restarts
UPDATE alerts_test_metrics SET metrics = metrics || '{"rebuffering_ratio": 0.01}' WHERE content_id = 1;
SELECT * FROM alerts_eval('3min');
SELECT state, recovering FROM alerts_now;
UPDATE alerts_test_metrics SET metrics = metrics || '{"rebuffering_ratio": 0.025}' WHERE content_id = 1;
SELECT * FROM alerts_eval('4min');
SELECT state, recovering FROM alerts_now;
-- a metric hovering around the threshold does not flap
UPDATE alerts_test_metrics SET metrics = metrics || '{"rebuffering_ratio": 0.01}' WHERE content_id = 1;
SELECT * FROM alerts_eval('4min 30s');
UPDATE alerts_test_metrics SET metrics = metrics || '{"rebuffering_ratio": 0.021}' WHERE content_id = 1;
SELECT * FROM alerts_eval('5min');
UPDATE alerts_test_metrics SET metrics = metrics || '{"rebuffering_ratio": 0.012}' WHERE content_id = 1;
SELECT * FROM alerts_eval('5min 30s');
SELECT * FROM alerts_eval('6min');
-- recovered for keep_firing_for: resolved
SELECT * FROM alerts_eval('7min 30s');
SELECT * FROM alerts_now;
-- above again: a new alert; below before pending_for: cancelled
UPDATE alerts_test_metrics SET metrics = metrics || '{"rebuffering_ratio": 0.05}' WHERE content_id = 1;
SELECT * FROM alerts_eval('8min');
UPDATE alerts_test_metrics SET metrics = metrics || '{"rebuffering_ratio": 0.019}' WHERE content_id = 1;
SELECT * FROM alerts_eval('8min 30s');
-- min_sample: content 2 never alerted; with enough plays it does; a firing
-- alert whose sample falls below min_sample recovers like one without data
UPDATE qoe.alert_rules SET pending_for = '0', keep_firing_for = '0' WHERE name = 't_rebuf';
SELECT * FROM alerts_eval('9min');
UPDATE alerts_test_metrics SET metrics = metrics || '{"plays": 20}' WHERE content_id = 2;
SELECT * FROM alerts_eval('10min');
UPDATE alerts_test_metrics SET metrics = metrics || '{"plays": 19}' WHERE content_id = 2;
SELECT * FROM alerts_eval('11min');
-- a scope whose data disappears resolves; a disabled rule's alerts end
UPDATE alerts_test_metrics SET metrics = metrics || '{"plays": 20}' WHERE content_id = 2;
SELECT * FROM alerts_eval('12min');
DELETE FROM alerts_test_metrics WHERE content_id = 2;
SELECT * FROM alerts_eval('13min');
UPDATE alerts_test_metrics SET metrics = metrics || '{"plays": 20}';
INSERT INTO alerts_test_metrics VALUES (2, '{"rebuffering_ratio": 0.03, "plays": 100}');
SELECT * FROM alerts_eval('14min');
UPDATE qoe.alert_rules SET enabled = false WHERE name = 't_rebuf';
SELECT * FROM alerts_eval('15min');
SELECT count(*) AS open FROM qoe.alerts WHERE state IN ('pending', 'firing');
-- NaN or a missing sample judge nothing; a scope longer than NOTIFY's
-- payload or an index entry still alerts
UPDATE qoe.alert_rules SET enabled = true WHERE name = 't_rebuf';
INSERT INTO alerts_test_metrics VALUES (4, '{"rebuffering_ratio": "NaN", "plays": 100}'),
    (5, '{"rebuffering_ratio": 0.5}');
INSERT INTO qoe.alert_rules (name, metric, scope, comparator, threshold, severity, message)
    VALUES ('t_pop', 'rebuffering_ratio', '{cdn_pop}', '>', 0.2, 'warning', '{{cdn_pop}}');
UPDATE alerts_test_metrics SET metrics = metrics || jsonb_build_object('cdn_pop', repeat('p', 10000))
 WHERE content_id = 5;
SELECT rule, length(scope::text), state, value FROM alerts_eval('15min 30s') ORDER BY 1, 2;
SELECT length(message) FROM qoe.alerts WHERE rule = 't_pop';
DELETE FROM qoe.alert_rules WHERE name = 't_pop';
DELETE FROM alerts_test_metrics WHERE content_id IN (4, 5);
-- a rule whose metrics cannot be read is skipped with a warning, its error
-- kept in qoe.alert_rule_status, the others evaluated; and it is evaluated
-- no more often than eval_every
INSERT INTO alerts_test_metrics VALUES (6, '{"rebuffering_ratio": "oops", "plays": 100}');
INSERT INTO qoe.alert_rules (name, metric, scope, comparator, threshold, severity, message)
    VALUES ('t_plays', 'plays', '{content_id}', '>', 99, 'info', '{{plays}}');
SELECT * FROM alerts_eval('15min 40s');
SELECT rule, evaluated_at - '2026-01-01 00:00+00' AS evaluated, error, error_at IS NOT NULL AS failed
  FROM qoe.alert_rule_status WHERE rule LIKE 't_%' ORDER BY rule;
DELETE FROM alerts_test_metrics WHERE content_id = 6;
DELETE FROM qoe.alert_rules WHERE name = 't_plays';
SELECT * FROM alerts_eval('15min 45s');
SELECT rule, evaluated_at - '2026-01-01 00:00+00' AS evaluated, error IS NOT NULL AS failing
  FROM qoe.alert_rule_status WHERE rule LIKE 't_%' ORDER BY rule;
SELECT * FROM alerts_eval('15min 50s');
SELECT rule, evaluated_at - '2026-01-01 00:00+00' AS evaluated, error, error_at IS NOT NULL AS failed
  FROM qoe.alert_rule_status WHERE rule LIKE 't_%' ORDER BY rule;
UPDATE qoe.alert_rules SET enabled = false WHERE name = 't_rebuf';
SELECT * FROM alerts_eval('15min 55s');

-- delivery: the outbox holds what fired or resolved; a success sets the next
-- resend of firing alerts, a failure retries with a doubling backoff
UPDATE qoe.alert_rules SET enabled = true WHERE name = 't_rebuf';
SELECT * FROM alerts_eval('16min');
SELECT a.state, a.deliver_at - '2026-01-01 00:00+00' AS due FROM qoe.alerts a
 WHERE a.rule = 't_rebuf' AND a.deliver_at IS NOT NULL ORDER BY a.id;
SELECT cardinality(ids) AS n, states,
       jsonb_pretty((body::jsonb -> -1) - 'startsAt' - 'endsAt' #- '{annotations,qoe_alert_id}') AS last,
       (body::jsonb -> -1 ->> 'endsAt')::timestamptz - '2026-01-01 00:16+00' AS ends_in
  FROM qoe.alert_outbox('2026-01-01 00:16+00', 100, '1 minute');
SELECT qoe.alert_delivered('2026-01-01 00:16+00', o.ids, o.states, 'connection refused', '1 minute')
  FROM qoe.alert_outbox('2026-01-01 00:16+00', 100, '1 minute') o;
SELECT qoe.alert_delivered('2026-01-01 00:16:01+00', o.ids, o.states, 'connection refused', '1 minute')
  FROM qoe.alert_outbox('2026-01-01 00:16:01+00', 100, '1 minute') o;
SELECT a.state, a.deliver_at - '2026-01-01 00:00+00' AS due, a.delivery_attempts, a.delivery_error
  FROM qoe.alerts a WHERE a.rule = 't_rebuf' AND a.deliver_at IS NOT NULL ORDER BY a.id;
SELECT count(*) FROM qoe.alert_outbox('2026-01-01 00:16:02+00', 100, '1 minute') WHERE ids IS NOT NULL;
SELECT qoe.alert_delivered('2026-01-01 00:16:03+00', o.ids, o.states, NULL, '1 minute')
  FROM qoe.alert_outbox('2026-01-01 00:16:03+00', 100, '1 minute') o;
SELECT a.state, a.deliver_at - '2026-01-01 00:00+00' AS due, a.delivered_state, a.delivery_attempts
  FROM qoe.alerts a WHERE a.rule = 't_rebuf' AND a.delivered_at IS NOT NULL ORDER BY a.id;
SELECT sent, failed, last_error, due FROM qoe.alert_delivery;
-- a replay of the past resolves an alert before it fired: its endsAt stays
-- after its startsAt (Alertmanager refuses a batch holding such an alert)
UPDATE alerts_test_metrics SET metrics = metrics || '{"rebuffering_ratio": 0.001}' WHERE content_id = 2;
SELECT * FROM alerts_eval('10min');
SELECT e ->> 'startsAt' AS starts, e ->> 'endsAt' AS ends,
       (e ->> 'endsAt')::timestamptz > (e ->> 'startsAt')::timestamptz AS ends_after_start
  FROM qoe.alert_outbox('2026-01-01 00:16:04+00', 100, '1 minute') o, jsonb_array_elements(o.body::jsonb) e;

DELETE FROM qoe.alert_rules WHERE name = 't_rebuf';
SELECT count(*) FROM qoe.alerts;

-- who may do what: readers read rules and alerts, admins manage rules and
-- may evaluate; neither touches alerts or the notifier's functions
CREATE ROLE alerts_bi LOGIN IN ROLE qoe_reader;
CREATE ROLE alerts_ops LOGIN IN ROLE qoe_admin;
SET ROLE alerts_bi;
SELECT count(*) FROM qoe.alert_rules;
SELECT count(*) FROM qoe.alerts;
UPDATE qoe.alert_rules SET enabled = false;
SELECT count(*) FROM qoe.evaluate_alerts('2000-01-01');
SELECT * FROM qoe.alert_delivery;
RESET ROLE;
SET ROLE alerts_ops;
INSERT INTO qoe.alert_rules (name, metric, scope, comparator, threshold, severity, message)
    VALUES ('ops_rule', 'vst_p50_ms', '{cdn_pop}', '>', 2000, 'info', 'slow start at {{cdn_pop}}: {{value | round}} ms');
UPDATE qoe.alert_rules SET enabled = false WHERE name = 'ops_rule';
SELECT count(*) FROM qoe.evaluate_alerts('2000-01-01');
SELECT sent FROM qoe.alert_delivery;
DELETE FROM qoe.alert_rules WHERE name = 'ops_rule';
UPDATE qoe.alerts SET state = 'resolved';
SELECT qoe.alert_outbox(now(), 1, '1 minute');
-- the Alertmanager URL may hold a password: superusers only
SHOW qoe.alertmanager_url;
SHOW qoe.alertmanager_timeout;
RESET ROLE;
DROP ROLE alerts_bi, alerts_ops;
UPDATE qoe.alert_rules SET enabled = true;
UPDATE qoe.alert_notifier_status SET last_attempt_at = NULL, last_success_at = NULL,
    last_error_at = NULL, last_error = NULL, sent = 0, failed = 0;
\set ECHO none
SELECT :'seam_def' \gexec
\set ECHO all
DROP VIEW alerts_now;
DROP FUNCTION alerts_eval(text);
DROP TABLE alerts_test_metrics;
