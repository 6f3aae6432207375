#!/usr/bin/env bash
# bench/alerts: what alerting costs.
#  1. Evaluation time per cycle: 10 window rules, each over the ~1,000 titles
#     (scope {content_id}) of 10 minutes of generated telemetry, plus the
#     stall loop, all due at every call of qoe.evaluate_alerts (wall clock
#     and the backend's CPU time; median, min and max of the cycles after the
#     first, which opens the alerts).
#  2. Ingest throughput, the same events through qoe.ingest in batches into
#     emptied tables, with alerts off and on, alternating, ROUNDS rounds each.
#     On: the scheduler evaluates the alerts as it does by default (every
#     second, and at once when a commit stored a stall: the stall loop every
#     time, the 10 window rules every 10 s); off: qoe.alert_evaluation_interval
#     = 0. Reported: events/s by the wall clock and per CPU second of the whole
#     server (every backend and background process), and the launcher's extra
#     CPU time with alerts on (its other jobs, the rollups, run in both
#     modes) as a share of the server's. The target: alerts cost at most 5 %
#     of ingest throughput. (On a shared machine the whole server's CPU time
#     varies by more than 5 % from run to run; the launcher's share less.)
#
#   bash bench/alerts/run.sh [viewers] [titles] [seconds] [rounds] [batch]
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/deps.sh"
. "$QOE_ROOT/test/lib/cluster.sh"

VIEWERS=${1:-20000}
TITLES=${2:-1000}
SPAN=${3:-600}
ROUNDS=${4:-3}
BATCH=${5:-2000}
CYCLES=6
WORK=$(mktemp -d /tmp/qoe_bench_alerts.XXXXXX)
chmod 755 "$WORK"

qoe_install_deps
qoe_build_install
qoe_cluster_start "shared_buffers = 1GB
synchronous_commit = off
qoe.alert_evaluation_interval = 0"
trap 'qoe_cluster_stop; rm -rf "$WORK"' EXIT
PM_PID=$(head -1 "$QOE_PGDATA_DIR/data/postmaster.pid")

psql -qX -v ON_ERROR_STOP=1 <<'SQL' 2>/dev/null
CREATE EXTENSION qoe_ext CASCADE;
SELECT qoe.premake_partitions() \g /dev/null
-- 10 window rules over titles, thresholds near the generated values so that
-- some scopes fire and some do not; the design's rules (per CDN POP) off
UPDATE qoe.alert_rules SET enabled = false WHERE metric <> 'stall_loop';
INSERT INTO qoe.alert_rules (name, metric, scope, comparator, threshold, pending_for, severity, message)
SELECT 'bench_' || m, m, '{content_id}', c, t, '30 seconds', 'info', '{{' || m || '}} for {{content_id}}'
  FROM (VALUES ('qoe_score', '<', 80), ('rebuffering_ratio', '>', 0.005), ('vst_p95_ms', '>', 2000),
               ('vst_p50_ms', '>', 1200), ('error_rate', '>', 0.005), ('ebvs_rate', '>', 0.05),
               ('avg_bitrate_kbps', '<', 3000), ('completion_rate', '<', 0.3),
               ('stalls_per_hour', '>', 2), ('good_share', '<', 0.8)) r(m, c, t);
SQL

# CPU seconds of one process
proc_cpu() {
	awk '{ printf "%.2f\n", ($14 + $15) / '"$(getconf CLK_TCK)"' }' /proc/$1/stat
}
# CPU seconds of the whole server so far: the postmaster, its live children,
# and the children that have exited (counted into the postmaster's cutime)
server_cpu() {
	python3 - "$PM_PID" <<'PY'
import os, sys
pm, total = int(sys.argv[1]), 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        f = open("/proc/%s/stat" % pid).read()
    except OSError:
        continue
    r = f[f.rindex(")") + 2:].split()
    if int(pid) == pm:
        total += sum(int(x) for x in r[11:15])
    elif int(r[1]) == pm:
        total += int(r[11]) + int(r[12])
print("%.2f" % (total / os.sysconf("SC_CLK_TCK")))
PY
}
now_s() { date +%s.%N; }
calc() { echo "$1" | bc -l; }
# median, min, max of numbers, one per line
stats() { sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
                                             printf "%.1f (%.1f-%.1f)", m, v[1], v[NR] }'; }
# the events end now, so the rules' windows hold them while they are ingested
make_batches() {
	"$QOE_ROOT/src/tools/qoe_gen" --seed 5 --viewers $VIEWERS --titles $TITLES --duration-sec $SPAN \
		--degrade-pop us-east-1a --start-ms $(( ($(date +%s) - SPAN) * 1000 )) --format array --batch $BATCH |
		sed -e 's/^/SELECT 1 FROM qoe.ingest($q$/' -e 's/$/$q$);/' >"$WORK/batches.sql"
}
# (the scheduler may hold some of them: wait for it, retry on a deadlock)
empty_tables() {
	local try
	for try in 1 2 3 4 5 6 7 8 9 10; do
		psql -qX -v ON_ERROR_STOP=1 -c "TRUNCATE qoe.viewing_events, qoe.sessions, qoe.dead_letters,
		    qoe.session_window_deltas, qoe.session_windows, qoe.qoe_5min, qoe.qoe_rollups, qoe.alerts, qoe.alert_rule_status" \
			2>/dev/null && break
		[ $try = 10 ] && { echo "could not empty the tables"; return 1; }
		sleep 1
	done
	psql -qX -v ON_ERROR_STOP=1 -c "CHECKPOINT" >/dev/null
}
# alerts on or off: the scheduler's evaluation interval, reloaded
set_alerts() {
	local interval=$([ $1 = on ] && echo 1s || echo 0)
	psql -qX -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET qoe.alert_evaluation_interval = '$interval'" \
		-c "SELECT pg_reload_conf()" >/dev/null
	for _ in $(seq 100); do
		[ "$(psql -qXAt -c "SHOW qoe.alert_evaluation_interval")" = $interval ] && break
		sleep 0.1
	done
	sleep 0.5	# the launcher reloads at its next wake-up
}
launcher_pid() {
	psql -qXAt -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'qoe_ext launcher'"
}

make_batches
EVENTS=$(grep -o '"event_type"' "$WORK/batches.sql" | wc -l)
echo "data: $EVENTS events, $VIEWERS viewers, $TITLES titles, ${SPAN} s ending now, batches of $BATCH"

# 1. evaluation time per cycle
psql -qX -v ON_ERROR_STOP=1 -o /dev/null -f "$WORK/batches.sql"
# the rollups caught up (the scheduler refreshes them too)
for _ in $(seq 600); do
	psql -qXAt -c "SELECT qoe.refresh_rollups()" >/dev/null 2>&1 || true
	[ "$(psql -qXAt -c "SELECT NOT EXISTS (SELECT FROM qoe.session_window_deltas)")" = t ] && break
	sleep 0.5
done
psql -qX -v ON_ERROR_STOP=1 -c "UPDATE qoe.alert_rules SET eval_every = '0'" >/dev/null
scopes=$(psql -qXAt -c "SELECT count(*) FROM qoe.alert_metric_values(now() - interval '5 minutes', now(), '{content_id}')")
psql -qXAt -v ON_ERROR_STOP=1 >"$WORK/cycles" <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv BACKEND :pid
$(for i in $(seq $CYCLES); do cat <<STEP
\! awk '{ print (\$14 + \$15) / $(getconf CLK_TCK) }' /proc/\$BACKEND/stat
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count(*) AS changes FROM qoe.evaluate_alerts() \gset
SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 1) || ' ' || :changes;
STEP
done)
\! awk '{ print (\$14 + \$15) / $(getconf CLK_TCK) }' /proc/\$BACKEND/stat
SQL
# lines: cpu, "ms changes", cpu, "ms changes", ..., cpu
python3 - "$WORK/cycles" >"$WORK/cycle_figures" <<'PY'
import sys
lines = [l.split() for l in open(sys.argv[1]) if l.strip()]
cpu = [float(l[0]) for l in lines[0::2]]
for i, l in enumerate(lines[1::2]):
    print(l[0], "%.1f" % ((cpu[i + 1] - cpu[i]) * 1000), l[1])
PY
open=$(psql -qXAt -c "SELECT count(*) FROM qoe.alerts WHERE state IN ('pending', 'firing')")
echo
echo "== evaluation: 10 rules x $scopes scopes (titles with events in the window) + the stall loop; $open alerts open =="
echo "first cycle (opens the alerts): $(head -1 "$WORK/cycle_figures" | awk '{ print $1 " ms wall, " $2 " ms CPU, " $3 " changes" }')"
echo "cycles 2-$CYCLES: $(tail -n +2 "$WORK/cycle_figures" | cut -d' ' -f1 | stats) ms wall," \
	"$(tail -n +2 "$WORK/cycle_figures" | cut -d' ' -f2 | stats) ms CPU (median, min-max)"
psql -qX -c "SELECT rule, round(took_ms::numeric, 1) AS took_ms FROM qoe.alert_rule_status ORDER BY took_ms DESC LIMIT 3"
psql -qX -v ON_ERROR_STOP=1 -c "UPDATE qoe.alert_rules SET eval_every = CASE metric WHEN 'stall_loop' THEN '0'::interval ELSE '10 seconds' END" >/dev/null

# 2. ingest with alerts off and on, alternating; each round regenerates the
# same events to end at its start
echo
echo "== ingest: $EVENTS events through qoe.ingest, alerts off and on, $ROUNDS rounds =="
: >"$WORK/ingest"
for round in $(seq $ROUNDS); do
	make_batches
	for mode in off on; do
		empty_tables
		set_alerts $mode
		launcher=$(launcher_pid)
		e0=$(proc_cpu $launcher)
		r0=$(psql -qXAt -c "SELECT coalesce(sum(runs), 0) FROM qoe.scheduler_status WHERE job = 'evaluate_alerts'")
		c0=$(server_cpu) t0=$(now_s)
		psql -qX -v ON_ERROR_STOP=1 -o /dev/null -f "$WORK/batches.sql"
		t1=$(now_s) c1=$(server_cpu)
		e1=$(proc_cpu $launcher)
		r1=$(psql -qXAt -c "SELECT coalesce(sum(runs), 0) FROM qoe.scheduler_status WHERE job = 'evaluate_alerts'")
		set_alerts off
		wall=$(calc "$t1 - $t0") cpu=$(calc "$c1 - $c0") ecpu=$(calc "$e1 - $e0")
		printf '%s %s %.0f %.0f %.2f %.2f\n' $round $mode "$(calc "$EVENTS / $wall")" "$(calc "$EVENTS / $cpu")" \
			"$cpu" "$ecpu" >>"$WORK/ingest"
		printf 'round %s, alerts %-3s: %6.2f s wall, %6.2f server CPU s (launcher %4.2f, %d evaluations): %7.0f events/s, %7.0f events per CPU s\n' \
			$round $mode "$wall" "$cpu" "$ecpu" $((r1 - r0)) "$(calc "$EVENTS / $wall")" "$(calc "$EVENTS / $cpu")"
	done
done
for mode in off on; do
	echo "alerts $mode: $(awk -v m=$mode '$2 == m { print $3 }' "$WORK/ingest" | stats) events/s," \
		"$(awk -v m=$mode '$2 == m { print $4 }' "$WORK/ingest" | stats) events per server CPU s (median, min-max)"
done
# the cost, round by round (each round's on against its off)
awk '{ if ($2 == "off") { w = $3; c = $4 } else printf "%.2f %.2f\n", 100 * (1 - $3 / w), 100 * (1 - $4 / c) }' \
	"$WORK/ingest" >"$WORK/cost"
echo "alerts cost: $(cut -d' ' -f1 "$WORK/cost" | stats) % of events/s," \
	"$(cut -d' ' -f2 "$WORK/cost" | stats) % of events per server CPU s (median, min-max of the rounds)"
# the launcher's extra CPU time with alerts on (its round's off run against
# its on run) over the on run's server CPU time
awk '{ if ($2 == "off") l = $6; else printf "%.2f\n", 100 * ($6 - l) / $5 }' "$WORK/ingest" >"$WORK/evaluator_cost"
echo "alerts cost by the launcher's extra CPU time: $(stats <"$WORK/evaluator_cost") % of the server's CPU time (median, min-max; target <= 5 %)"
