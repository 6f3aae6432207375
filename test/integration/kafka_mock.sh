#!/usr/bin/env bash
# The local Kafka of test/lib/kafka.sh: generated events produced to a
# 4-partition topic come back exactly once with the same payloads, each
# session's events in one partition and in order; with the brokers down a
# consumer receives nothing and a producer waits, and once they are back up
# both finish with nothing lost.
set -eu
export QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/kafka.sh"
WORK=$(mktemp -d /tmp/qoe_kafka_mock.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
N=20000
M=3000

fail() { echo "FAIL: $*"; exit 1; }

# wait until a file has at least $2 lines, at most $3 seconds
wait_lines() {
	local i
	for i in $(seq $(($3 * 10))); do
		[ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

qoe_kafka_start events:4 keyed:4
GEN="$QOE_ROOT/src/tools/qoe_gen --seed 11 --viewers 300 --uuid-ids --start-ms 1763740800000"
$GEN --events $N >"$WORK/sent.ndjson"
[ "$(sort -u "$WORK/sent.ndjson" | wc -l)" -eq $N ] || fail "the generator repeated an event"

# keys taken from the lines by qoe_kafka_produce, and from qoe_gen --kafka-key
qoe_kafka_produce events <"$WORK/sent.ndjson"
$GEN --events $N --kafka-key | qoe_kafka_produce --keyed keyed
for topic in events keyed; do
	held=$(qoe_kafka_count $topic)
	[ "$held" -eq $N ] || fail "$topic holds $held messages, expected $N"

	kcat -C -q -b "$QOE_KAFKA_BROKERS" -t $topic -o beginning -e -f '%p\t%k\t%s\n' >"$WORK/$topic.tsv"
	[ "$(wc -l <"$WORK/$topic.tsv")" -eq $N ] || fail "$topic: consumed $(wc -l <"$WORK/$topic.tsv") messages, expected $N"
	cut -f 3 "$WORK/$topic.tsv" | sort >"$WORK/got"
	sort "$WORK/sent.ndjson" | cmp -s - "$WORK/got" || fail "$topic: consumed payloads differ from the produced ones"

	# the key is the payload's session_id, and a session lives in one partition
	bad=$(awk -F '\t' 'index($3, "\"session_id\":\"" $2 "\"") == 0' "$WORK/$topic.tsv" | wc -l)
	[ "$bad" -eq 0 ] || fail "$topic: $bad messages whose key is not their session_id"
	split=$(cut -f 1,2 "$WORK/$topic.tsv" | sort -u | cut -f 2 | uniq -d | wc -l)
	[ "$split" -eq 0 ] || fail "$topic: $split sessions spread over several partitions"
	used=$(cut -f 1 "$WORK/$topic.tsv" | sort -u | wc -l)
	[ "$used" -eq 4 ] || fail "$topic: only $used of 4 partitions used"

	# per session, consumption order is production order (stable sort by session)
	sed -E 's/^.*"session_id":"([^"]*)".*$/\1\t&/' "$WORK/sent.ndjson" | sort -s -t "$(printf '\t')" -k1,1 >"$WORK/a"
	cut -f 2,3 "$WORK/$topic.tsv" | sort -s -t "$(printf '\t')" -k1,1 >"$WORK/b"
	cmp -s "$WORK/a" "$WORK/b" || fail "$topic: a session's events came back out of order"
done
echo "$N events produced and consumed back exactly once on both topics"

# brokers down mid-run: a consumer that has read everything gets nothing new,
# a producer keeps its messages; both complete after the brokers come back
kcat -C -q -u -E -b "$QOE_KAFKA_BROKERS" -t events -o beginning -c $((N + M)) \
	-X reconnect.backoff.max.ms=500 >"$WORK/live.ndjson" 2>"$WORK/consumer.err" &
consumer=$!
wait_lines "$WORK/live.ndjson" $N 30 || fail "the live consumer did not read the first $N events"
qoe_kafka_down
$GEN --events $M --seed 12 >"$WORK/more.ndjson"
qoe_kafka_produce events <"$WORK/more.ndjson" 2>"$WORK/producer.err" &
producer=$!
# a bounded observation window: nothing may get through while down
! wait_lines "$WORK/live.ndjson" $((N + 1)) 3 || fail "a message was consumed while the brokers were down"
kill -0 $producer 2>/dev/null || fail "the producer finished while the brokers were down"
qoe_kafka_up
wait $producer || { cat "$WORK/producer.err"; fail "the producer failed after the brokers came back"; }
wait_lines "$WORK/live.ndjson" $((N + M)) 30 || fail "the consumer got $(wc -l <"$WORK/live.ndjson") of $((N + M)) after the brokers came back"
wait $consumer || fail "the live consumer failed"
held=$(qoe_kafka_count events)
[ "$held" -eq $((N + M)) ] || fail "events holds $held messages after down/up, expected $((N + M))"
cat "$WORK/sent.ndjson" "$WORK/more.ndjson" | sort >"$WORK/all"
sort "$WORK/live.ndjson" | cmp -s - "$WORK/all" || fail "the live consumer's events differ from the produced ones"
echo "down/up: nothing consumed while down, all $((N + M)) events after up"

# usage errors are reported, not ignored
"$QOE_ROOT/src/tools/qoe_kafka_mock" --topic nopartitions 2>"$WORK/usage.err" && fail "a bad --topic was accepted"
grep -q 'expected NAME:PARTITIONS' "$WORK/usage.err" || fail "unclear usage error: $(cat "$WORK/usage.err")"
echo ok
