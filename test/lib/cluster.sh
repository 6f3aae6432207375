# A throwaway PostgreSQL 15 cluster on loopback with qoe_ext preloaded.
# Source this file, then: qoe_cluster_start [extra postgresql.conf lines];
# psql works against it through PGHOST/PGPORT/PGUSER; qoe_cluster_stop.
# QOE_PGBIN lets a developer test against a private copy of the server.
PGBIN=${QOE_PGBIN:-/usr/lib/postgresql/15/bin}

# A free port, searched from a random point so that clusters started at the
# same time (several suites on one machine) rarely pick the same one. Below
# the kernel's ephemeral range (32768-60999 by default), where client sockets
# take their ports: a client connecting to a server that is down (a test
# stops one, then starts it again on its port) could be given that very port
# and hold it, connected to itself.
qoe_free_port() {
	local port i
	for i in $(seq 0 999); do
		port=$((21000 + (RANDOM + i) % 1000))
		if ! (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
			echo $port
			return 0
		fi
	done
	return 1
}

# Run a command as the postgres OS user, from a directory it may enter (the
# checkout may be under /root).
qoe_as_postgres() {
	(cd / && runuser -u postgres -- "$@")
}

qoe_cluster_start() {
	QOE_PGDATA_DIR=$(mktemp -d /tmp/qoe_pg.XXXXXX)
	chown postgres: "$QOE_PGDATA_DIR"
	export PGPORT=$(qoe_free_port) PGHOST=$QOE_PGDATA_DIR PGUSER=postgres PGDATABASE=postgres
	qoe_as_postgres $PGBIN/initdb -D "$QOE_PGDATA_DIR/data" -A trust -E UTF8 \
		--locale=C >/dev/null || return 1
	cat >>"$QOE_PGDATA_DIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$QOE_PGDATA_DIR'
shared_preload_libraries = 'qoe_ext'
max_worker_processes = 16
max_parallel_workers_per_gather = 2
fsync = off
# far from UTC, so a day or bound computed in local time shows up as a failure
timezone = 'Pacific/Kiritimati'
# sessions abandoned by the scheduler's clock would make every comparison of
# sessions depend on timing; scheduler_jobs.sh turns the job on
qoe.session_expiry_interval = 0
${1:-}
CONF
	# a port taken between the check and the start: try another one
	local try
	for try in 1 2 3 4 5; do
		qoe_as_postgres $PGBIN/pg_ctl -D "$QOE_PGDATA_DIR/data" -w -t 60 \
			-l "$QOE_PGDATA_DIR/server.log" start >/dev/null && break
		if [ $try = 5 ] || ! grep -q "could not create any TCP/IP sockets" "$QOE_PGDATA_DIR/server.log"; then
			cat "$QOE_PGDATA_DIR/server.log"
			return 1
		fi
		PGPORT=$(qoe_free_port)
		sed -i "s/^port = .*/port = $PGPORT/" "$QOE_PGDATA_DIR/data/postgresql.conf"
	done
	trap qoe_cluster_stop EXIT
}

qoe_cluster_stop() {
	[ -n "${QOE_PGDATA_DIR:-}" ] || return 0
	qoe_as_postgres $PGBIN/pg_ctl -D "$QOE_PGDATA_DIR/data" -m fast stop >/dev/null 2>&1
	rm -rf "$QOE_PGDATA_DIR"
	QOE_PGDATA_DIR=
}
