#!/usr/bin/env bash
# Making a day's partition never queues ingest or readers behind a long query
# (it is attached with SHARE UPDATE EXCLUSIVE, not created under ACCESS
# EXCLUSIVE); dropping one waits at most its lock timeout; two writers making
# the same missing days in opposite orders do not deadlock.
set -u
QOE_ROOT=${QOE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$QOE_ROOT/test/lib/cluster.sh"
qoe_cluster_start || exit 1
fail() { echo "FAIL: $*"; exit 1; }
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }

q -c "CREATE EXTENSION qoe_ext CASCADE" || exit 1
ev() { # session, days ago
	echo "{\"event_type\":\"start\",\"session_id\":\"$1\",\"user_id\":1,\"content_id\":1,\"timestamp\":$(( ($(date +%s) - $2 * 86400) * 1000 ))}"
}
partition() { q -c "SELECT 'qoe.viewing_events_p' || to_char((now() AT TIME ZONE 'UTC')::date - $1, 'YYYYMMDD')"; }

# a long reader of qoe.viewing_events, holding its lock for 60 s
psql -qXAt -c "SELECT count(*), pg_sleep(60) FROM qoe.viewing_events" >/dev/null 2>&1 &
reader=$!
trap 'kill $reader 2>/dev/null; qoe_cluster_stop' EXIT
for i in $(seq 100); do
	[ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT count(*), pg_sleep(60)%'")" = 1 ] && break
	sleep 0.1
done

# ingest of a day with no partition yet, then a new reader: neither waits
start=$(date +%s%N)
got=$(timeout 10 psql -qXAt -c "SELECT accepted FROM qoe.ingest('$(ev late-1 2)')") ||
	fail "ingest that makes a partition waited behind a long reader"
[ "$got" = 1 ] || fail "ingest stored '$got', expected 1"
timeout 10 psql -qXAt -c "SELECT count(*) FROM qoe.viewing_events" >/dev/null ||
	fail "a new reader waited behind partition creation"
echo "partition made on demand and read back in $(( ($(date +%s%N) - start) / 1000000 )) ms beside a 60 s reader"
[ "$(q -c "SELECT count(*) FROM qoe.viewing_events WHERE session_id = 'late-1'")" = 1 ] ||
	fail "the late event is not visible through qoe.viewing_events"

# dropping waits at most its lock timeout, and keeps the partition
q -c "SELECT qoe.drop_old_partitions('1 day')" >/dev/null 2>&1 &
dropper=$!
start=$(date +%s%N)
wait $dropper
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -lt 9000 ] || fail "drop_old_partitions waited ${ms} ms for its lock (lock timeout is 5 s)"
[ -n "$(q -c "SELECT to_regclass('$(partition 2)')")" ] ||
	fail "the partition was dropped while a query was reading qoe.viewing_events"
q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT count(*), pg_sleep(60)%'" >/dev/null
wait $reader 2>/dev/null

# without the reader, the drop goes through
q -c "SELECT count(*) FROM qoe.drop_old_partitions('1 day')" | grep -qx 1 ||
	fail "drop_old_partitions did not drop the 2-day-old partition once unblocked"

# two writers, each making the two missing days in the opposite order, many times
for round in $(seq 5); do
	q -c "SELECT qoe.drop_old_partitions('1 day')" >/dev/null
	a="[$(ev "a$round" 2),$(ev "a$round" 1)]"
	b="[$(ev "b$round" 1),$(ev "b$round" 2)]"
	psql -qXAt -c "SELECT accepted FROM qoe.ingest('$a')" >/tmp/qoe_pl_a.$$ 2>&1 &
	pa=$!
	psql -qXAt -c "SELECT accepted FROM qoe.ingest('$b')" >/tmp/qoe_pl_b.$$ 2>&1
	wait $pa
	grep -qx 2 /tmp/qoe_pl_a.$$ && grep -qx 2 /tmp/qoe_pl_b.$$ ||
		fail "round $round: $(cat /tmp/qoe_pl_a.$$ /tmp/qoe_pl_b.$$)"
done
rm -f /tmp/qoe_pl_a.$$ /tmp/qoe_pl_b.$$
echo "ok"
