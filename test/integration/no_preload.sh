#!/usr/bin/env bash
# CREATE EXTENSION and SQL ingest work on a server that does not preload the
# library (it is then loaded on first use).
set -eu
QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
qoe_cluster_start "shared_preload_libraries = ''"

psql -qXAt -v ON_ERROR_STOP=1 -c "SHOW shared_preload_libraries" | grep -qv qoe_ext
out=$(psql -qXAt -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION qoe_ext;
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
