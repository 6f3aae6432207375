#!/usr/bin/env bash
# bench/freshness: how soon an accepted event shows in the rollups under a
# steady live load (issue 12: within 1 second at 10,000 events/s).
#
# One throwaway cluster, no Redis. qoe_gen --realtime streams a live audience
# (event time = the wall clock; 38 events per simulated second per 1000
# viewers: 260,000 viewers make about 10,000 events/s) through qoe.ingest in
# batches of 500 (bench/ingest_sql/feed.c). After WARM seconds (the sessions
# of the first minutes opening), MARKERS markers 2.5 s apart (130: 325 s,
# so that every run spans a 5-minute window boundary, where the refresh has
# the most to do: each session's first event in a new window adds rows):
# each a start and a first frame of a new session of a title nobody else watches,
# committed through qoe.ingest; then qoe.qoe_5min is polled every 20 ms
# until the marker's play shows (what qoe.qoe_metrics reads for the windows
# after the levels' watermark: shown there is shown to qoe_metrics). Per
# marker: ms from the commit's return to the first poll that saw it (polls
# from one psql session, test/lib/look.sh: about 20 ms of resolution), and
# the deltas queued then.
# Prints p50 / p90 / max, how many within 1 s (and where each slower one fell
# against the 5-minute boundaries), the load reached, and the
# scheduler's jobs (the refresh runs in the launcher, the long periodic jobs
# in the scheduler process).
#
#   bash bench/freshness/run.sh [viewers] [markers]
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/deps.sh"
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/look.sh"

VIEWERS=${1:-260000}
MARKERS=${2:-130}
WARM=${QOE_BENCH_WARM_SECONDS:-150}
WORK=$(mktemp -d /tmp/qoe_bench.XXXXXX)
chmod 755 "$WORK"

qoe_install_deps
qoe_build_install
qoe_build_feed "$WORK"
# WAL as bench/ingest_sql and bench/dashboard have it: at the default
# max_wal_size (1 GB) this load checkpointed every 3-8 s, so nearly every
# page written carried a full-page image (about 100 MB of WAL a second)
qoe_cluster_start "shared_buffers = 2GB
max_wal_size = 8GB
checkpoint_timeout = 30min
synchronous_commit = off"
trap 'kill $feed_pid 2>/dev/null || true; qoe_cluster_stop; rm -rf "$WORK"' EXIT
feed_pid=
psql -qX -v ON_ERROR_STOP=1 -c "CREATE EXTENSION qoe_ext CASCADE" >/dev/null 2>&1
now_ms() { date +%s%3N; }
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }

# the stream lasts the warm-up, the markers and a margin
"$QOE_ROOT/src/tools/qoe_gen" --seed 11 --viewers "$VIEWERS" --start-ms $(( $(now_ms) - 120000 )) \
	--duration-sec $(( 120 + WARM + MARKERS * 4 + 60 )) --realtime --format array --batch 500 |
	"$WORK/feed" "" >/dev/null 2>&1 &
feed_pid=$!
sleep "$WARM"
i0=$(q -c "SELECT sum(n_tup_ins) FROM pg_stat_user_tables WHERE relname LIKE 'viewing_events%'")
t0=$(now_ms)
: >"$WORK/markers"
look_open
for i in $(seq "$MARKERS"); do
	ts=$(now_ms)
	look "SELECT accepted FROM qoe.ingest(jsonb_build_array(
	    jsonb_build_object('event_type', 'start', 'session_id', 'marker-$i', 'event_id', 's', 'user_id', 900000000 + $i,
	                       'content_id', 990000 + $i, 'timestamp', $ts - 500, 'country', 'BR', 'device_type', 'web', 'cdn_pop', 'gru-1'),
	    jsonb_build_object('event_type', 'first_frame', 'session_id', 'marker-$i', 'event_id', 'f', 'user_id', 900000000 + $i,
	                       'content_id', 990000 + $i, 'timestamp', $ts, 'country', 'BR', 'device_type', 'web', 'cdn_pop', 'gru-1')))"
	committed=$(now_ms)
	until look "SELECT EXISTS (SELECT FROM qoe.qoe_5min WHERE content_id = 990000 + $i AND plays > 0)" &&
		[ "$look_reply" = t ]; do
		sleep 0.02
		[ $(( $(now_ms) - committed )) -lt 30000 ] || { echo "bench/freshness: marker $i not in the rollups after 30 s" >&2; exit 1; }
	done
	shown=$(now_ms)
	look "SELECT count(*) FROM qoe.session_window_deltas"
	echo "$(( shown - committed )) $look_reply $committed" >>"$WORK/markers"
	sleep "$(echo "scale=3; x = 2.5 - ($(now_ms) - $ts) / 1000; if (x < 0) 0 else x" | bc)"
done
look_close
rate=$(echo "($(q -c "SELECT sum(n_tup_ins) FROM pg_stat_user_tables WHERE relname LIKE 'viewing_events%'") - $i0) * 1000 / ($(now_ms) - $t0)" | bc)
behind=$(q -c "SELECT round(extract(epoch FROM now() - max(last_event_at)) * 1000) FROM qoe.sessions")

printf '\nbench/freshness: %d viewers live (qoe_gen --realtime, qoe.ingest in batches of 500), %d markers 2.5 s apart after %d s; load average %s\n' \
	"$VIEWERS" "$MARKERS" "$WARM" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  load reached while the markers ran: %d events/s; newest event stored %d ms behind the clock at the end\n' "$rate" "$behind"
sort -n "$WORK/markers" | awk '{ v[NR] = $1; if ($1 <= 1000) ok++ }
	END { printf "  commit to visible in the rollups, ms: p50 %d, p90 %d, max %d; within 1 s: %d of %d (target: all)\n",
	             v[int((NR + 1) / 2)], v[int(NR * 0.9)], v[NR], ok, NR }'
awk '{ print $2 }' "$WORK/markers" | sort -n | awk '{ v[NR] = $1 } END { printf "  deltas queued when a marker showed: %d to %d\n", v[1], v[NR] }'
# the slow ones, with where they fell: s after the last 5-minute boundary
awk '$1 > 1000 { printf "  over 1 s: %d ms, %d deltas queued, %.1f s after a 5-minute boundary\n", $1, $2, ($3 % 300000) / 1000 }' "$WORK/markers"
printf '  scheduler jobs (runs, last duration ms):\n'
q -F ' ' -c "SELECT job, runs, round(last_duration_ms) FROM qoe.scheduler_status ORDER BY job" |
	awk '{ printf "    %-24s %6d %9d\n", $1, $2, $3 }'
