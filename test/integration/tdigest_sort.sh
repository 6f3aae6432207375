#!/usr/bin/env bash
# The t-digest's sort is near-linear and its aggregate cancellable for any
# input.  320,000 values of the form 1 + k * 2^-52 (equal in their top 48
# bits) in descending blocks once took 50 s in a quadratic fix-up that
# ignored cancel; they must take about as long as ordinary data measured in
# the same run, and statement_timeout = 1s must end a big aggregate over such
# values within a couple of seconds.  Run against the suite's cluster (PGHOST,
# PGPORT).  Exit 0 pass, 1 fail.
set -u
db=qoe_tdigest_sort
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1' EXIT
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres \
	-c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null || exit 1
psql -X -q -v ON_ERROR_STOP=1 -d $db >/dev/null <<'SQL' || exit 1
CREATE EXTENSION qoe_ext CASCADE;
SELECT setseed(0.4);
CREATE TABLE ordinary AS SELECT random() * 1000 AS v FROM generate_series(0, 319999);
CREATE TABLE colliding AS
SELECT 1 + (65535 - i % 65536) * 2.0::float8 ^ (-52) AS v FROM generate_series(0, 319999) i;
VACUUM ANALYZE ordinary, colliding;
SQL

# seconds one aggregate takes (best of 3); the timeout keeps a regression
# from hanging the suite
best_time() {
	psql -X -q -At -d $db -v ON_ERROR_STOP=1 <<SQL
SET statement_timeout = '60s';
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE t (s float8);
SELECT clock_timestamp() AS t0 \gset
SELECT qoe.tdigest_count(qoe.tdigest_agg(v, 10000)) FROM $1 \g /dev/null
INSERT INTO t SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz);
SELECT clock_timestamp() AS t0 \gset
SELECT qoe.tdigest_count(qoe.tdigest_agg(v, 10000)) FROM $1 \g /dev/null
INSERT INTO t SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz);
SELECT clock_timestamp() AS t0 \gset
SELECT qoe.tdigest_count(qoe.tdigest_agg(v, 10000)) FROM $1 \g /dev/null
INSERT INTO t SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz);
SELECT round(min(s)::numeric, 3) FROM t;
SQL
}
ordinary=$(best_time ordinary) || { echo "aggregate over ordinary values failed"; exit 1; }
colliding=$(best_time colliding) || { echo "aggregate over colliding values failed (or took over 60 s)"; exit 1; }
echo "320,000 values at compression 10000: ordinary ${ordinary} s, colliding ${colliding} s"
fail=0
# generous: ten times ordinary data, plus half a second of noise
if [ "$(echo "$colliding > 10 * $ordinary + 0.5" | bc)" = 1 ]; then
	echo "colliding values are far slower than ordinary ones: the sort is not near-linear"
	fail=1
fi

# statement_timeout ends a big aggregate (32 M colliding values) promptly
out=$(psql -X -q -At -d $db 2>&1 <<'SQL'
SET statement_timeout = '1s';
SET max_parallel_workers_per_gather = 0;
SELECT clock_timestamp() AS t0 \gset
SELECT qoe.tdigest_count(qoe.tdigest_agg(v, 10000)) FROM colliding, generate_series(1, 100);
RESET statement_timeout;
SELECT 'elapsed', extract(epoch FROM clock_timestamp() - :'t0'::timestamptz);
SQL
)
elapsed=$(echo "$out" | sed -n 's/^elapsed|//p')
echo "statement_timeout 1s on 32 M colliding values: ended after ${elapsed:-?} s"
echo "$out" | grep -q "canceling statement due to statement timeout" ||
	{ echo "the aggregate was not cancelled by statement_timeout:"; echo "$out"; fail=1; }
if [ -z "$elapsed" ] || [ "$(echo "$elapsed > 3" | bc)" = 1 ]; then
	echo "statement_timeout took effect too late"
	fail=1
fi
exit $fail
