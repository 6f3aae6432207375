# Polling the database while something is being measured: one psql session
# kept open (a coprocess), one short transaction per look. A waiting loop
# inside one statement would hold back the xmin horizon, so no row version
# (of qoe.sessions, say) could be pruned meanwhile, and ingest would slow
# down; a psql started per look (10 a second, a process and a backend each)
# took CPU from what was measured (bench/kafka_ingest, session 13).
#   look_open; look SQL (the answer's line in $look_reply); look_close
# One at a time per shell (a bash coprocess).

look_open() {
	coproc LOOK { psql -qXAt -F ' ' -v ON_ERROR_STOP=1; }
}

look() {
	echo "$1;" >&"${LOOK[1]}"
	read -r -t 30 look_reply <&"${LOOK[0]}" || { echo "a look failed: $1" >&2; return 1; }
}

look_close() {
	local look_pid=${LOOK_PID:-}
	[ -z "$look_pid" ] || { eval "exec ${LOOK[1]}>&-"; wait "$look_pid" || true; }
}

# Wait until the rollups have caught up with what was stored before $1
# (epoch seconds): a refresh that ended after it left no delta in
# qoe.session_window_deltas. Looks every 20 ms for at most $2 seconds; sets
# t_caught (epoch seconds) when it stops; false on a timeout or a failed look.
look_rollups_caught_up() {
	local deadline=$((SECONDS + $2))
	look_reply=f
	look_open
	while look "SELECT NOT EXISTS (SELECT FROM qoe.session_window_deltas)
	                   AND (SELECT last_run FROM qoe.rollup_status) > to_timestamp($1)"; do
		[ "$look_reply" = t ] || [ $SECONDS -ge "$deadline" ] && break
		sleep 0.02
	done
	t_caught=$(date +%s.%N)
	look_close
	[ "$look_reply" = t ]
}
