#!/usr/bin/env bash
# Build decode_bench: bench/decode/build.sh OUTPUT [extra cc flags...]
# Links the decoder sources as they are in src/, and, when this is a git
# checkout holding it, the jansson-based decoder of commit 8523c78 as old_*
# (reading the object only; nothing in the work tree changes). CC picks the
# compiler and LDEXTRA adds to the link (for libFuzzer: CC=clang, flags
# -DQOE_LIBFUZZER -fsanitize=fuzzer-no-link,..., LDEXTRA its fuzzer_no_main
# library: decode_bench keeps its own main and calls libFuzzer's driver).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
OUT=$1
shift
OLD_COMMIT=8523c78
INC="-I$ROOT/src -I$($PG_CONFIG --includedir-server) $(pkg-config --cflags jansson)"
CC=${CC:-cc}
CFLAGS="$($PG_CONFIG --cflags) -Wall -Wextra -Wno-unused-parameter -Werror $*"
# PostgreSQL's flags and printf attributes are gcc's: clang warns about them
case $($CC --version) in
*clang*) CFLAGS="$CFLAGS -Wno-unknown-warning-option -Wno-ignored-optimization-argument -Wno-ignored-attributes" ;;
esac
LIBS="-L$($PG_CONFIG --pkglibdir) -lpgport $(pkg-config --libs jansson) -lm ${LDEXTRA:-}"
SRCS="$ROOT/src/ingest/event_decode.c $ROOT/src/ingest/json_scan.c $ROOT/bench/decode/decode_bench.c"

OBJDIR=$(mktemp -d /tmp/decode_bench.XXXXXX)
trap 'rm -rf "$OBJDIR"' EXIT
OLD=""
if git -C "$ROOT" show "$OLD_COMMIT:src/event_decode.c" >"$OBJDIR/old_event_decode.c" 2>/dev/null; then
	# the old decoder casts an out-of-range double to int64 (timestamp 1e300)
	# it includes its headers by their names from before src/ had subsystems
	$CC $CFLAGS -Wno-missing-prototypes -fno-sanitize=float-cast-overflow $INC -I$ROOT/src/core -I$ROOT/src/ingest -Dqoe_decode_payload=old_qoe_decode_payload \
		-DEventDecodeInit=old_EventDecodeInit -Dqoe_event_type_name=old_qoe_event_type_name \
		-c -o "$OBJDIR/old_event_decode.o" "$OBJDIR/old_event_decode.c"
	OLD="-DWITH_OLD $OBJDIR/old_event_decode.o"
else
	echo "note: commit $OLD_COMMIT not found; building without the old decoder" >&2
fi
$CC $CFLAGS $INC -o "$OUT" $SRCS $OLD $LIBS
