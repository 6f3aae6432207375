#!/usr/bin/env bash
# Fuzz the event decoder: mutated and random payloads through the new
# decoder built with ASan+UBSan, a shorter run of the plain build under
# valgrind, and (when the old decoder can be built) a check on every input
# that old and new agree: same verdict, events, reasons and JSON values.
#
#   bash bench/decode/fuzz.sh [iterations] [seed]
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-200000}
SEED=${2:-1}
WORK=$(mktemp -d /tmp/qoe_decode_fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

make -s -C "$ROOT" PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config} src/tools/qoe_gen
"$ROOT/src/tools/qoe_gen" --seed 3 --events 2000 --format array --batch 3 --uuid-ids \
	--start-ms $(( ($(date +%s) - 86400) * 1000 )) >"$WORK/corpus.json"
"$ROOT/src/tools/qoe_gen" --seed 4 --events 500 --format ndjson --dotted --iso-timestamps \
	--start-ms $(( ($(date +%s) - 86400) * 1000 )) >>"$WORK/corpus.json"

bash "$ROOT/bench/decode/build.sh" "$WORK/fuzz_asan" -O1 -g -fsanitize=address,undefined,float-cast-overflow \
	-fno-sanitize-recover=all -fno-omit-frame-pointer
echo "ASan+UBSan:"
ASAN_OPTIONS=detect_leaks=0 "$WORK/fuzz_asan" fuzz "$SEED" "$N" "$WORK/corpus.json"

bash "$ROOT/bench/decode/build.sh" "$WORK/fuzz_plain" -O1 -g
echo "valgrind:"
valgrind -q --error-exitcode=9 --leak-check=no "$WORK/fuzz_plain" fuzz "$((SEED + 1))" "$((N / 20))" \
	"$WORK/corpus.json"
