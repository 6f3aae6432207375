#!/usr/bin/env bash
# Two PostgreSQL nodes share one topic (SPEC section 7, doc/scaling.md): the
# same source on each, node_count => 2, node_index 0 and 1 (two workers on
# node 0, one on node 1). Each node stores exactly the partitions of its share
# (even ones on node 0, odd ones on node 1), the two together every event
# once; and node 0, as coordinator, merges node 1's qoe.qoe_5min through
# postgres_fdw into exactly the windows one node would have computed from
# all the events (the reference: the same events through qoe.ingest).
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"
N=30000
qoe_kafka_test_start events:6
qoe_kafka_events "$WORK/events.ndjson" $N 73
NODE0=(PGHOST=$PGHOST PGPORT=$PGPORT)
NODE0_DIR=$QOE_PGDATA_DIR

# node 1: a second cluster, stopped on exit before what node 0's start trapped
eval "set -- $(trap -p EXIT)"
node0_exit=${3:-}
qoe_cluster_start
NODE1=(PGHOST=$PGHOST PGPORT=$PGPORT)
NODE1_DIR=$QOE_PGDATA_DIR
trap "rc=\$?; QOE_PGDATA_DIR=$NODE1_DIR; qoe_cluster_stop; QOE_PGDATA_DIR=$NODE0_DIR; (exit \$rc); $node0_exit" EXIT
QOE_PGDATA_DIR=$NODE0_DIR
# run a command (a shell function too) against one node
node0() { (export "${NODE0[@]}"; "$@"); }
node1() { (export "${NODE1[@]}"; "$@"); }

node1 psql -qX -v ON_ERROR_STOP=1 -c "CREATE EXTENSION qoe_ext CASCADE" \
	-c "SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events', node_index => 1, node_count => 2)" >/dev/null
node0 psql -qX -v ON_ERROR_STOP=1 \
	-c "SELECT qoe.add_source('player', '$QOE_KAFKA_BROKERS', 'events', workers => 2, node_index => 0, node_count => 2)" >/dev/null

# a share outside node_count is refused, with the constraint's words
out=$(node0 psql -qX -c "SELECT qoe.add_source('bad', '$QOE_KAFKA_BROKERS', 'events', node_index => 2, node_count => 2)" 2>&1 || true)
echo "$out" | grep -q 'node_index must be between 0 and node_count - 1' ||
	{ echo "node_index 2 of 2 accepted: $out"; exit 1; }

workers="SELECT string_agg(partitions::text, ',' ORDER BY worker_index) FROM qoe.source_workers()"
node0 qoe_wait_for 60 "$workers" "2,1"
node1 qoe_wait_for 60 "$workers" "3"
qoe_kafka_produce events <"$WORK/events.ndjson"
deadline=$((SECONDS + 120))
while :; do
	stored=$(( $(node0 psql -qXAt -c "$QOE_STORED_SQL") + $(node1 psql -qXAt -c "$QOE_STORED_SQL") ))
	[ $stored = $N ] && break
	[ $SECONDS -lt $deadline ] || { echo "stored $stored of $N events"; exit 1; }
	sleep 0.2
done

# each node holds its share of the partitions, and nothing else
share="SELECT string_agg(partition::text, ',' ORDER BY partition) FROM qoe.source_offsets WHERE next_offset > 0"
[ "$(node0 psql -qXAt -c "$share")" = "0,2,4" ] || { echo "node 0 stored partitions $(node0 psql -qXAt -c "$share")"; exit 1; }
[ "$(node1 psql -qXAt -c "$share")" = "1,3,5" ] || { echo "node 1 stored partitions $(node1 psql -qXAt -c "$share")"; exit 1; }
e0=$(node0 qoe_events_summary); e1=$(node1 qoe_events_summary)
[ $(( ${e0%|*} + ${e1%|*} )) = $N ] && [ "${e0%|*}" = "${e0#*|}" ] && [ "${e1%|*}" = "${e1#*|}" ] ||
	{ echo "stored events (all|distinct): node 0 $e0, node 1 $e1, expected $N in all"; exit 1; }

# the coordinator (node 0) merges both nodes' windows
node0 qoe_reference_ingest ref "$WORK/events.ndjson"
for db in postgres ref; do node0 psql -qXAt -d $db -c "SELECT qoe.refresh_rollups()" >/dev/null; done
node1 psql -qXAt -c "SELECT qoe.refresh_rollups()" >/dev/null
node0 psql -qX -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION postgres_fdw;
CREATE SERVER node1 FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (host '${NODE1[0]#PGHOST=}', port '${NODE1[1]#PGPORT=}', dbname 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER node1 OPTIONS (user 'postgres');
CREATE SCHEMA node1;
IMPORT FOREIGN SCHEMA qoe LIMIT TO (qoe_5min) FROM SERVER node1 INTO node1;
SQL
windows="SELECT md5(string_agg(w::text, ';' ORDER BY w::text)), count(*)
  FROM (SELECT window_start, content_id, country, device_type, cdn_pop, sum(sessions), sum(events),
               sum(attempts), sum(plays), sum(ebvs), sum(start_failures), sum(playback_failures),
               sum(vst_count), sum(watch_ms), sum(stall_ms), sum(stall_count), sum(completions),
               sum(score_x_watch), sum(good_sessions), qoe.tdigest_count(qoe.tdigest_merge(vst_digest)),
               hll_cardinality(hll_union_agg(unique_viewers))
          FROM (ROWS) r GROUP BY 1, 2, 3, 4, 5) w"
merged=$(node0 psql -qXAt -c "${windows/ROWS/SELECT * FROM qoe.qoe_5min UNION ALL SELECT * FROM node1.qoe_5min}")
reference=$(node0 psql -qXAt -d ref -c "${windows/ROWS/SELECT * FROM qoe.qoe_5min}")
echo "windows merged from both nodes: $merged; one node with every event: $reference"
[ "$merged" = "$reference" ] || { echo "the merged windows differ from one node's"; exit 1; }
[ "${reference#*|}" -gt 100 ] || { echo "too few windows to compare: ${reference#*|}"; exit 1; }
