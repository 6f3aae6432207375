#!/usr/bin/env bash
# The t-digest and QoE aggregates under valgrind memcheck: a private server
# runs under valgrind (backends and parallel workers are forked, so they are
# checked too), a workload exercises every tdigest / qoe_score function in
# serial and parallel plans including invalid input, and the test fails on
# any invalid read or write, or any memcheck report whose stack passes
# through qoe_ext.  Exit 0 pass, 1 fail, 77 skip.
set -u
QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/deps.sh"
. "$QOE_ROOT/test/lib/cluster.sh"	# PGBIN, qoe_as_postgres
qoe_install_deps valgrind >/dev/null 2>&1 || true
command -v valgrind >/dev/null || { echo "valgrind not available"; exit 77; }
[ -f "$($PGBIN/pg_config --pkglibdir)/qoe_ext.so" ] || { echo "qoe_ext is not installed"; exit 77; }

dir=$(mktemp -d /tmp/qoe_vg.XXXXXX)
chown postgres: "$dir"
port=$((56000 + RANDOM % 1000))
cleanup() {
	qoe_as_postgres $PGBIN/pg_ctl -D "$dir/data" -m immediate stop >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT
qoe_as_postgres $PGBIN/initdb -D "$dir/data" -A trust -E UTF8 --locale=C >/dev/null || exit 1
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$dir'
max_parallel_workers_per_gather = 2
fsync = off
autovacuum = off
CONF
qoe_as_postgres valgrind --quiet --trace-children=yes --num-callers=30 \
	--error-limit=no --log-file="$dir/vg.%p.log" \
	$PGBIN/postgres -D "$dir/data" >"$dir/server.log" 2>&1 &
for _ in $(seq 1 240); do
	$PGBIN/pg_isready -q -h "$dir" -p $port && break
	sleep 0.5
done
$PGBIN/pg_isready -q -h "$dir" -p $port || { echo "server under valgrind did not start"; cat "$dir/server.log"; exit 1; }

psql -X -q -h "$dir" -p $port -U postgres -d postgres -v ON_ERROR_STOP=0 >"$dir/workload.out" 2>&1 <<'SQL'
CREATE EXTENSION qoe_ext CASCADE;
SELECT setseed(0.3);
CREATE TABLE t AS SELECT i % 7 AS g, exp(7 + random() * 2) AS v, (i % 50)::float8 AS s
FROM generate_series(1, 20000) i;
ANALYZE t;
SELECT qoe.tdigest_percentiles(qoe.tdigest_agg(v), ARRAY[0, 0.5, 0.99, 1]) FROM t;
SELECT g, qoe.tdigest_rank(qoe.tdigest_agg(v, 20), 2000), qoe.percentile_approx(v, 0.9),
       qoe.percentile_approx(v, ARRAY[0.1, NULL, 0.9]) FROM t GROUP BY g;
CREATE TABLE r AS SELECT g, qoe.tdigest_agg(v) AS d FROM t GROUP BY g;
SELECT qoe.tdigest_count(qoe.tdigest_merge(d)), qoe.tdigest_mean(qoe.tdigest_merge(d)) FROM r;
SELECT d::text::qoe.tdigest::text = d::text, qoe.tdigest_send(d) IS NOT NULL FROM r;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SELECT qoe.tdigest_count(qoe.tdigest_agg(v)), qoe.percentile_approx(v, ARRAY[0.5, 0.95]),
       qoe.rebuffer_ratio(s, v), qoe.qoe_score_agg(s, v), qoe.qoe_good_share(s) FROM t;
SELECT g, qoe.tdigest_percentile(qoe.tdigest_agg(v), 0.5) FROM t GROUP BY g;
SELECT qoe.tdigest_percentile(qoe.tdigest_merge(d), 0.5) FROM r;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
SELECT qoe.qoe_score(2000, 0.01, 3000, 0.001), qoe.qoe_score(NULL, 0, 1, 0), qoe.qoe_score(1, NULL, NULL, NULL);
UPDATE qoe.qoe_score_config SET weight_vst = 0.5;
SELECT qoe.qoe_score(2000, 0.01, 3000, 0.001);
-- values sharing their top 48 bits (runs of keys sorted by the low bytes),
-- and single-value digests merged in random order (merge-sorted centroids)
SELECT qoe.tdigest_percentile(qoe.tdigest_agg(1 + (65535 - i % 3000 - i % 7) * 2.0::float8 ^ (-52), 10000), 0.5)
FROM generate_series(1, 20000) i;
SELECT qoe.tdigest_count(qoe.tdigest_merge(d ORDER BY random()))
FROM (SELECT qoe.tdigest_agg(v, 50) AS d FROM t GROUP BY v) s;
-- invalid input must be an error, never a bad access
SELECT qoe.tdigest_agg(v) FROM (VALUES (1::float8), ('NaN')) x(v);
SELECT '{"version":1,"compression":100,"count":2,"min":1,"max":5,"sum":6,"centroids":[[5,1],[1,1]]}'::qoe.tdigest;
SELECT '{"version":1,"compression":100,"count":1,"min":5,"max":5,"sum":5,"centroids":[[5,1]'::qoe.tdigest;
SELECT '{"version":1,"compression":100,"count":1,"min":5,"max":5,"sum":5,"centroids":[[5,1]],"flags":0}'::qoe.tdigest;
SELECT qoe.tdigest_percentile(qoe.tdigest_agg(x), 2) FROM generate_series(1, 3) x;
SELECT qoe.tdigest_agg(x, 3) FROM generate_series(1, 3) x;
SELECT qoe.qoe_score(-1, 0, 0, 0);
SELECT qoe.tdigest_merge(d) FROM (VALUES
    ('{"version":1,"compression":100,"count":9007199254740992,"min":1,"max":2,"sum":3,"centroids":[[1,1],[2,9007199254740991]]}'::qoe.tdigest),
    ('{"version":1,"compression":100,"count":1,"min":1,"max":1,"sum":1,"centroids":[[1,1]]}')) v(d);
SELECT qoe.rebuffer_ratio(v, v) FROM (VALUES (1e308::float8), (1e308)) t(v);
SELECT qoe.rebuffer_ratio_final('{1,NaN,1}');
SQL
qoe_as_postgres $PGBIN/pg_ctl -D "$dir/data" -m fast -w -t 300 stop >/dev/null 2>&1
wait

fail=0
grep -q "ERROR:  tdigest cannot accept NaN" "$dir/workload.out" || { echo "workload did not run to its error cases"; fail=1; }
if grep -l "server closed the connection\|terminated by signal" "$dir/workload.out" "$dir/server.log" 2>/dev/null; then
	echo "a backend crashed"
	fail=1
fi
invalid=$(cat "$dir"/vg.*.log | grep -c "Invalid read\|Invalid write\|Invalid free\|Mismatched free\|Jump to the invalid")
# every report whose stack passes through qoe_ext
ours=$(awk '/^==[0-9]+== [A-Z]/ {blk=$0; next} /^==[0-9]+== +(at|by) / {if ($0 ~ /qoe_ext\.so|tdigest(_io|_agg)?\.[ch]:|qoe_score\.c:/) hit[blk]=1} END {print length(hit)}' "$dir"/vg.*.log)
echo "valgrind: $(ls "$dir"/vg.*.log | wc -l) processes checked, $invalid invalid accesses, $ours reports in qoe_ext"
if [ "$invalid" -ne 0 ] || [ "$ours" -ne 0 ]; then
	grep -h -B2 -A25 "Invalid read\|Invalid write\|qoe_ext.so" "$dir"/vg.*.log | head -120
	fail=1
fi
[ $fail -eq 0 ] || { tail -40 "$dir/workload.out"; exit 1; }
exit 0
