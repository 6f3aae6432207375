# A local Kafka for tests, benchmarks and the demo: librdkafka's mock cluster
# (src/tools/qoe_kafka_mock, built by make) driven with kcat.  Source this
# file with QOE_ROOT set, then:
#   qoe_kafka_start [--brokers N] TOPIC:PARTITIONS ...   exports QOE_KAFKA_BROKERS, QOE_KAFKA_PID
#   qoe_kafka_down / qoe_kafka_up     all brokers refuse / accept connections (data kept)
#   qoe_gen --kafka-key ... | qoe_kafka_produce --keyed TOPIC
#   ... NDJSON ... | qoe_kafka_produce TOPIC    key = the line's session_id
#   qoe_kafka_count TOPIC             messages the topic holds
#   qoe_kafka_stop                    (qoe_kafka_start also chains it to the EXIT trap)
# The mock keeps only about 5 MiB per partition and silently drops older
# messages: the producer compresses with lz4 (the limit counts compressed
# batches), and callers compare qoe_kafka_count with what they produced.
# The mock answers a fetch only when the consumer's fetch.wait.max.ms (500 ms
# by default) has run out, even if messages arrived meanwhile: set it low
# (e.g. 10) in a consumer whose latency matters.
# The mock is a background job of the calling shell: wait for your own jobs
# by pid, as a bare `wait` would wait for the mock too.

QOE_KAFKA_TIMEOUT=${QOE_KAFKA_TIMEOUT:-30}

qoe_kafka_start() {
	local out log i args=()
	while [ $# -gt 0 ]; do
		case $1 in
		--brokers) args+=(--brokers "$2"); shift 2 ;;
		*) args+=(--topic "$1"); shift ;;
		esac
	done
	out=$(mktemp /tmp/qoe_kafka.XXXXXX)
	log=$out.log
	"$QOE_ROOT/src/tools/qoe_kafka_mock" "${args[@]}" >"$out" 2>"$log" &
	QOE_KAFKA_PID=$!
	QOE_KAFKA_LOG=$log
	for i in $(seq $((QOE_KAFKA_TIMEOUT * 10))); do
		QOE_KAFKA_BROKERS=$(head -n 1 "$out")
		[ -n "$QOE_KAFKA_BROKERS" ] && break
		if ! kill -0 "$QOE_KAFKA_PID" 2>/dev/null; then
			cat "$log" >&2
			rm -f "$out" "$log"
			return 1
		fi
		sleep 0.1
	done
	rm -f "$out"
	if [ -z "$QOE_KAFKA_BROKERS" ]; then
		echo "qoe_kafka_start: no address from qoe_kafka_mock within ${QOE_KAFKA_TIMEOUT}s" >&2
		qoe_kafka_stop
		return 1
	fi
	export QOE_KAFKA_BROKERS QOE_KAFKA_PID QOE_KAFKA_LOG
	# stop the broker when the caller exits, then run what it trapped before
	local prev
	eval "set -- $(trap -p EXIT)"
	prev=${3:-}
	trap "qoe_kafka_stop; $prev" EXIT
}

qoe_kafka_stop() {
	[ -n "${QOE_KAFKA_PID:-}" ] || return 0
	kill -TERM "$QOE_KAFKA_PID" 2>/dev/null
	wait "$QOE_KAFKA_PID" 2>/dev/null
	rm -f "$QOE_KAFKA_LOG"
	QOE_KAFKA_PID=
}

# Signal the mock, then wait until its log confirms, so the caller knows the
# brokers are down (or up) when this returns.
qoe_kafka_signal() {
	local signal=$1 word=$2 before i
	before=$(grep -c "brokers $word" "$QOE_KAFKA_LOG" || true)
	kill -"$signal" "$QOE_KAFKA_PID" || return 1
	for i in $(seq $((QOE_KAFKA_TIMEOUT * 10))); do
		[ "$(grep -c "brokers $word" "$QOE_KAFKA_LOG" || true)" -gt "$before" ] && return 0
		sleep 0.1
	done
	echo "qoe_kafka_$word: the mock did not confirm" >&2
	return 1
}
qoe_kafka_down() { qoe_kafka_signal USR1 down; }
qoe_kafka_up() { qoe_kafka_signal USR2 up; }

# Produce stdin, one message per line, and return once kcat has flushed
# every message: it exits non-zero if one could not be delivered within
# message.timeout.ms (5 min), and -E keeps it retrying while the brokers are
# down instead of giving up at once.  Extra arguments go to kcat.  With
# --keyed each line is "key<TAB>json" (qoe_gen --kafka-key, the fast way);
# otherwise the key is taken from the line's "session_id" (empty if none), so
# one session's events stay in one partition, in order.
qoe_kafka_produce() {
	local keyed=false
	[ "$1" = --keyed ] && { keyed=true; shift; }
	local topic=$1
	shift
	if $keyed; then
		cat
	else
		sed -E 's/^(.*"session_id":"([^"]*)".*)$/\2\t\1/; t; s/^/\t/'
	fi | kcat -P -E -b "$QOE_KAFKA_BROKERS" -t "$topic" -K '\t' -z lz4 \
		-X linger.ms=20 -X queue.buffering.max.messages=500000 \
		-X reconnect.backoff.max.ms=1000 "$@"
}

# Messages the topic holds: the sum over its partitions of high watermark
# minus low watermark.  That is the number produced, unless the mock dropped
# old messages from a full partition (then the low watermark has moved).
qoe_kafka_count() {
	local topic=$1 queries="" p
	for p in $(kcat -L -b "$QOE_KAFKA_BROKERS" -t "$topic" | sed -nE 's/^ *partition ([0-9]+),.*/\1/p'); do
		queries="$queries -t $topic:$p:-1"
	done
	[ -n "$queries" ] || { echo "qoe_kafka_count: no partitions for topic $topic" >&2; return 1; }
	{
		kcat -Q -b "$QOE_KAFKA_BROKERS" $queries | sed 's/$/ high/'
		kcat -Q -b "$QOE_KAFKA_BROKERS" ${queries//:-1/:-2} | sed 's/$/ low/'
	} | awk '$5 == "high" { n += $4 } $5 == "low" { n -= $4 } END { print n + 0 }'
}
