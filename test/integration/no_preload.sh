#!/usr/bin/env bash
# CREATE EXTENSION and SQL ingest work on a server that does not preload the
# library (it is then loaded on first use).
set -eu
QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
qoe_cluster_start "shared_preload_libraries = ''"

psql -qXAt -v ON_ERROR_STOP=1 -c "SHOW shared_preload_libraries" | grep -qv qoe_ext
out=$(psql -qXAt -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION qoe_ext CASCADE;
SELECT accepted FROM qoe.ingest('{"event_type":"start","session_id":"np","user_id":1,"content_id":2}');
SELECT state FROM qoe.sessions WHERE session_id = 'np';
SHOW qoe.session_timeout;
SQL
)
expected=$'1\nactive\n5min'
if [ "$out" != "$expected" ]; then
	echo "expected:"; echo "$expected"; echo "got:"; echo "$out"
	exit 1
fi

# Kafka sources can be configured; nothing consumes them, and both the
# status and add_source say so
out=$(psql -qXAt -v ON_ERROR_STOP=1 2>&1 <<'SQL'
SELECT qoe.add_source('np', 'localhost:9092', 'events');
SELECT state, workers_running FROM qoe.source_status;
SELECT qoe.launcher_pid() IS NULL;
SQL
)
echo "$out" | grep -q 'NOTICE:  no qoe_ext launcher serves database "postgres"' ||
	{ echo "no NOTICE from add_source without preload:"; echo "$out"; exit 1; }
[ "$(echo "$out" | grep -v '^NOTICE\|^HINT\|^$')" = $'no launcher|0\nt' ] ||
	{ echo "unexpected source status without preload:"; echo "$out"; exit 1; }
