#!/usr/bin/env bash
# Three clients ingest one generated stream at the same time, batches dealt
# round-robin, so every session is written by several transactions at once.
# The sessions must equal those of the same stream ingested by one client.
# Like any PostgreSQL writers of the same rows, the clients retry a batch that
# fails with deadlock_detected or serialization_failure (doc/ingestion.md).
set -eu
QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/qoe_concurrent.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
$QOE_ROOT/src/tools/qoe_gen --seed 5 --viewers 60 --duration-sec 1800 --duplicates 0.05 \
	--start-ms $(( ($(date +%s) - 3 * 3600) * 1000 )) --format array --batch 20 |
	sed -e 's/^/DO $do$ BEGIN LOOP BEGIN PERFORM qoe.ingest($q$/' \
		-e 's/$/$q$); EXIT; EXCEPTION WHEN deadlock_detected OR serialization_failure THEN END; END LOOP; END $do$;/' \
		>"$WORK/all.sql"
for i in 0 1 2; do
	awk -v part=$i 'NR % 3 == part' "$WORK/all.sql" >"$WORK/part$i.sql"
done

for db in serial concurrent; do
	psql -qX -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null
	psql -qX -d $db -v ON_ERROR_STOP=1 -c "CREATE EXTENSION qoe_ext CASCADE"
done
psql -qX -d serial -v ON_ERROR_STOP=1 -o /dev/null -f "$WORK/all.sql"
pids=""
for i in 0 1 2; do
	psql -qX -d concurrent -v ON_ERROR_STOP=1 -o /dev/null -f "$WORK/part$i.sql" &
	pids="$pids $!"
done
for p in $pids; do wait "$p" || { echo "a concurrent client failed"; exit 1; }; done

summary() {
	psql -qXAt -d "$1" -v ON_ERROR_STOP=1 \
		-c "SELECT count(*), md5(string_agg(to_jsonb(s)::text, '' ORDER BY session_id)) FROM qoe.sessions s" \
		-c "SELECT count(*) FROM qoe.viewing_events"
}
a=$(summary serial)
b=$(summary concurrent)
echo "serial:     $a"
echo "concurrent: $b"
[ "$a" = "$b" ] || { echo "sessions differ between serial and concurrent ingest"; exit 1; }
