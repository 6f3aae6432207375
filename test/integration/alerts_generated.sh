#!/usr/bin/env bash
# The default window rules on generated data, as the README demo shows them:
# 10 minutes of 5,000 viewers (qoe_gen seed 43) with CDN POP us-east-1a
# degraded, ingested through qoe.ingest, rolled up, and evaluated with
# qoe.evaluate_alerts every 10 s of that time (one transaction each, as the
# scheduler does) while the first 5-minute window, where every viewer starts a
# session, is in the rules' window (after it, the degraded POP has too few
# attempts a window for the error-rate rule's sample). Each of the four default rules (QoE score < 70,
# rebuffering > 2 %, VST p95 > 3000 ms, error rate > 1 %) fires once for the
# degraded POP and stays firing (no flap, no repeat, one alert each); no
# other scope opens any alert, not even a pending one.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"

# no evaluation at the real now by the scheduler: this test replays the past
qoe_cluster_start "qoe.alert_evaluation_interval = 0
qoe.rollup_refresh_interval = 0"
psql -qX -v ON_ERROR_STOP=1 -c "CREATE EXTENSION qoe_ext CASCADE" 2>/dev/null

SPAN=600
T0=$(( ($(date +%s) - 7200) / 300 * 300 ))    # a 5-minute boundary two hours ago
"$QOE_ROOT/src/tools/qoe_gen" --seed 43 --viewers 5000 --duration-sec $SPAN --degrade-pop us-east-1a \
	--start-ms $((T0 * 1000)) --format array --batch 2000 |
	sed -e 's/^/SELECT 1 FROM qoe.ingest($q$/' -e 's/$/$q$);/' | psql -qX -v ON_ERROR_STOP=1 -o /dev/null
psql -qXAt -v ON_ERROR_STOP=1 -c "SELECT qoe.refresh_rollups()" >/dev/null
psql -qXAt -v ON_ERROR_STOP=1 <<SQL >/dev/null
SELECT format('SELECT count(*) FROM qoe.evaluate_alerts(%L)', t)
  FROM generate_series(to_timestamp($T0) + interval '10 s', to_timestamp($T0 + $SPAN - 10), '10 s') t
\gexec
SQL

psql -qX -c "SELECT rule, scope, state, round(value::numeric, 4) AS value, fired_at - started_at AS pending,
                    message FROM qoe.alerts ORDER BY id"
got=$(psql -qXAt -c "
    SELECT string_agg(format('%s:%s:%s', rule, scope ->> 'cdn_pop', state), ' ' ORDER BY rule)
      FROM qoe.alerts")
want="high_error_rate:us-east-1a:firing high_rebuffering:us-east-1a:firing high_vst_p95:us-east-1a:firing low_qoe_score:us-east-1a:firing"
[ "$got" = "$want" ] || { echo "FAILED: alerts (rule:cdn_pop:state) are: $got"; echo "expected: $want"; exit 1; }
# each fired after its pending minute, at the start, and was judged at every
# evaluation since
bad=$(psql -qXAt -c "
    SELECT string_agg(rule, ' ') FROM qoe.alerts
     WHERE fired_at - started_at <> interval '1 minute' OR evaluated_at <> to_timestamp($T0 + $SPAN - 10)
        OR recovering_since IS NOT NULL OR started_at > to_timestamp($T0) + interval '1 minute'")
[ -z "$bad" ] || { echo "FAILED: not fired once and held: $bad"; exit 1; }
echo "ok"
