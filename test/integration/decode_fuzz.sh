#!/usr/bin/env bash
# The event decoder against hostile input.
#  1. A short sanitizer fuzz run outside the server: libFuzzer (clang) with
#     ASan+UBSan on the decoder as it is in src/, about 20 s, failing on any
#     sanitizer report or broken output invariant (bench/decode/decode_bench.c,
#     check_output); then the seeded differential fuzz against the old
#     jansson decoder under ASan+UBSan (bench/decode/fuzz.sh's first half).
#     Without clang's libFuzzer runtime, gcc's sanitizers run the seeded fuzz
#     for longer instead.
#  2. In the server: 65,536 unknown keys crafted to collide in the FNV-1a
#     table the decoder used to have decode in well under a second, and
#     statement_timeout = 1s ends a decode that takes longer than 2 s.
# Exit 0 pass, 1 fail, 77 skip.
set -u
QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$QOE_ROOT/test/lib/deps.sh"
PGBIN=${QOE_PGBIN:-/usr/lib/postgresql/15/bin}
export PG_CONFIG=$PGBIN/pg_config
qoe_install_deps clang libclang-rt-14-dev >/dev/null 2>&1 || true
[ -f "$($PG_CONFIG --pkglibdir)/qoe_ext.so" ] || { echo "qoe_ext is not installed"; exit 77; }

work=$(mktemp -d /tmp/qoe_decode_fuzz.XXXXXX)
chmod 755 "$work"
. "$QOE_ROOT/test/lib/cluster.sh"
cleanup() {
	qoe_cluster_stop
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

# --- 1. sanitizer fuzzing -------------------------------------------------
make -s -C "$QOE_ROOT" PG_CONFIG="$PG_CONFIG" src/tools/qoe_gen || fail "qoe_gen does not build"
"$QOE_ROOT/src/tools/qoe_gen" --seed 3 --events 300 --format array --batch 3 --uuid-ids \
	--start-ms $(( ($(date +%s) - 86400) * 1000 )) >"$work/corpus.json"
SAN="-O1 -g -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1

fuzzer_lib=""
if command -v clang >/dev/null; then
	fuzzer_lib="$(clang -print-resource-dir)/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a"
	[ -f "$fuzzer_lib" ] || fuzzer_lib=""
fi
if [ -n "$fuzzer_lib" ]; then
	CC=clang LDEXTRA="$fuzzer_lib -lstdc++" bash "$QOE_ROOT/bench/decode/build.sh" \
		"$work/fuzz_lf" $SAN -DQOE_LIBFUZZER -fsanitize=fuzzer-no-link ||
		fail "the libFuzzer build failed"
	# seeds: generated events, one per file, and the tricky cases by hand
	mkdir -p "$work/seeds"
	split -l 1 "$work/corpus.json" "$work/seeds/gen-"
	i=0
	while IFS= read -r seed; do
		i=$((i + 1))
		printf '%s' "$seed" >"$work/seeds/hand-$i"
	done <<'SEEDS'
{"event_type":"start","session_id":"s","user_id":1,"content_id":2,"x":1e-16384,"y":1e131071}
[{"event_type":"stop","session_id":"\ud83d\ude00","user_id":1,"content_id":2,"k":"\ud800"},{"\u0000":0}]
{"event_type":"heartbeat","session_id":1,"user_id":9223372036854775808,"content_id":2e0,"z":[[[{"a":0e-16383}]]]}
[{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"a":18}]
SEEDS
	echo "libFuzzer, ASan+UBSan, 20 s:"
	"$work/fuzz_lf" libfuzzer -max_total_time=20 -seed=1 -max_len=8192 -print_final_stats=0 \
		-artifact_prefix="$work/" "$work/seeds" >"$work/libfuzzer.log" 2>&1 || {
		tail -n 40 "$work/libfuzzer.log"
		fail "libFuzzer found a problem"
	}
	tail -n 1 "$work/libfuzzer.log"
	seeded=20000
else
	echo "no libFuzzer runtime: the seeded fuzz runs longer instead"
	seeded=150000
fi
bash "$QOE_ROOT/bench/decode/build.sh" "$work/fuzz_asan" $SAN || fail "the sanitizer build failed"
echo "seeded fuzz, ASan+UBSan:"
"$work/fuzz_asan" fuzz 1 $seeded "$work/corpus.json" || fail "the seeded fuzz found a problem"

# --- 2. hostile sizes in the server ---------------------------------------
# test/run.sh's cluster, or one of our own when run alone
if ! psql -XqAt -c "SELECT 1" >/dev/null 2>&1; then
	qoe_cluster_start || fail "the cluster did not start"
fi
export PGDATABASE=decode_fuzz
PGOPTIONS="-c client_min_messages=warning" psql -XqAt -d postgres -c "DROP DATABASE IF EXISTS decode_fuzz" \
	-c "CREATE DATABASE decode_fuzz" &&
	psql -XqAt -v ON_ERROR_STOP=1 -c "CREATE EXTENSION qoe_ext CASCADE" || fail "CREATE EXTENSION"

# Keys whose 32-bit FNV-1a hashes share their low 17 bits' top part: with the
# old table (131,072 slots for 65,536 keys, linear probing) every key lands
# in one cluster of 1,024 slots and each insert walks it: quadratic.
cat >"$work/collide.c" <<'C'
#include <stdio.h>
#include <stdint.h>
#include <string.h>
int main(void)
{
	printf("{\"event_type\":\"start\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2");
	for (uint32_t i = 0, found = 0; found < 65536; i++)
	{
		char key[16];
		uint32_t h = 2166136261u;

		snprintf(key, sizeof(key), "k%x", i);
		for (size_t j = 0; j < strlen(key); j++)
			h = (h ^ (unsigned char) key[j]) * 16777619u;
		if ((h & 0x1FFFF) < 1024)
		{
			printf(",\"%s\":%u", key, found++);
		}
	}
	printf("}\n");
	return 0;
}
C
cc -O2 -o "$work/collide" "$work/collide.c" && "$work/collide" >"$work/collide.json" ||
	fail "the key generator failed"
ms=$(psql -XqAt -v ON_ERROR_STOP=1 <<SQL
CREATE TEMP TABLE p (t text);
\copy p FROM '$work/collide.json' WITH (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02')
CREATE FUNCTION pg_temp.decode_ms() RETURNS integer LANGUAGE plpgsql AS \$\$
DECLARE
    t0 timestamptz := clock_timestamp();
    n integer;
BEGIN
    SELECT count(*) INTO n FROM qoe.decode_event((SELECT t FROM p)) WHERE reason IS NULL;
    IF n <> 1 THEN RAISE 'the crafted event was not accepted'; END IF;
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END \$\$;
SELECT pg_temp.decode_ms();
SQL
) || fail "decoding the crafted keys failed"
echo "65,536 crafted colliding keys: $ms ms"
[ "$ms" -lt 1000 ] || fail "decoding 65,536 colliding keys took $ms ms"

# A decode of 2.5 s or so (a million events of 21 fields): with a timeout of
# 1 s it must end within 1.8 s, cancelled, not at its end (on a loaded machine,
# where everything is slower, before half of what follows the first second).
huge="'[' || repeat('{\"event_type\":\"start\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2,\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,\"p\":16,\"q\":17},', 999999) || '{}]'"
elapsed() {
	local t0=$(date +%s%N)
	psql -XqAt -c "SET statement_timeout = '$1'" \
		-c "SELECT count(*) FROM qoe.decode_event($huge)" >"$work/timeout.out" 2>&1
	echo $(( ($(date +%s%N) - t0) / 1000000 ))
}
full=$(elapsed 0)
grep -qx 1000000 "$work/timeout.out" || { cat "$work/timeout.out"; fail "the huge decode failed"; }
cut=$(elapsed 1s)
echo "huge decode: $full ms; with statement_timeout = 1s: $cut ms"
grep -q "canceling statement due to statement timeout" "$work/timeout.out" ||
	{ cat "$work/timeout.out"; fail "the huge decode was not cancelled"; }
if [ "$full" -lt 2000 ]; then
	echo "the huge decode took under 2 s: too fast to tell a prompt cancel"
else
	limit=$(( 1000 + (full - 1000) / 2 > 1800 ? 1000 + (full - 1000) / 2 : 1800 ))
	[ "$cut" -lt "$limit" ] ||
		fail "statement_timeout = 1s ended a $full ms decode only after $cut ms (limit $limit ms)"
fi
echo "ok"
