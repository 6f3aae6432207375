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
