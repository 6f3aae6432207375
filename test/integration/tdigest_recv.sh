#!/usr/bin/env bash
# Binary input of qoe.tdigest: a valid digest goes out with COPY BINARY and
# back in unchanged; then hundreds of corrupted copies (every header byte
# flipped, centroid bytes flipped, lengths cut, counts made huge, seeded
# random bytes) are fed to tdigest_recv.  Each must be rejected with an error
# or accepted as a value that still passes every check; the server must
# never crash.  Exit 0 pass, 1 fail, 77 skip.
set -u
command -v python3 >/dev/null || { echo "python3 is needed"; exit 77; }
db=qoe_tdigest_recv
dir=$(mktemp -d /tmp/qoe_recv.XXXXXX)
chown postgres: "$dir"
chmod 755 "$dir"
trap 'rm -rf "$dir"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1' EXIT
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null || exit 1
psql -X -q -v ON_ERROR_STOP=1 -d $db >/dev/null <<SQL || exit 1
CREATE EXTENSION qoe_ext CASCADE;
SELECT setseed(0.9);
CREATE TABLE src AS SELECT qoe.tdigest_agg(exp(random() * 9)) AS d FROM generate_series(1, 5000);
CREATE TABLE dst (d qoe.tdigest);
COPY src TO '$dir/good.bin' (FORMAT binary);
COPY dst FROM '$dir/good.bin' (FORMAT binary);
SQL
same=$(psql -X -At -d $db -c "SELECT (SELECT d::text FROM src) = (SELECT d::text FROM dst)")
[ "$same" = t ] || { echo "binary round trip changed the digest"; exit 1; }
chmod 644 "$dir/good.bin"

python3 - "$dir" <<'PY'
import os, random, struct, sys
d = sys.argv[1]
good = open(os.path.join(d, 'good.bin'), 'rb').read()
start = 11 + 4 + 4 + 2 + 4            # header, field count, field length
(flen,) = struct.unpack('>i', good[21:25])
payload = good[start:start + flen]
def write(name, data):
    # keep the COPY framing consistent with the new payload length
    blob = good[:19] + struct.pack('>hi', 1, len(data)) + data + struct.pack('>h', -1)
    open(os.path.join(d, name), 'wb').write(blob)
n = 0
def emit(data):
    global n
    write('bad%04d.bin' % n, data); n += 1
for i in range(min(len(payload), 64)):            # every header byte flipped
    emit(payload[:i] + bytes([payload[i] ^ 0xff]) + payload[i + 1:])
for i in range(64, len(payload), 5):             # centroid bytes flipped
    emit(payload[:i] + bytes([payload[i] ^ 0x80]) + payload[i + 1:])
for cut in (0, 1, 2, 3, 11, 36, 39, 40, 41, 55, len(payload) - 1):   # truncated
    emit(payload[:cut])
emit(payload + b'\x00')                          # trailing byte
emit(payload[:36] + struct.pack('>i', 0x7fffffff) + payload[40:])   # huge centroid count
emit(payload[:36] + struct.pack('>i', -1) + payload[40:])
emit(payload[:4] + struct.pack('>q', -5) + payload[12:])           # negative count
rnd = random.Random(7)
for _ in range(60):                              # seeded random garbage
    emit(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 120))))
open(os.path.join(d, 'count'), 'w').write(str(n))
# a digest that is consistent but counts beyond 2^53, and one at 2^53
def digest(count):
    return (struct.pack('>BBH', 1, 0, 100) + struct.pack('>q', count)
            + struct.pack('>ddd', 5.0, 5.0, 5.0 * count) + struct.pack('>i', 1)
            + struct.pack('>dq', 5.0, count))
write('cap_over.bin', digest(2 ** 60))
write('cap_at.bin', digest(2 ** 53))
PY
count=$(cat "$dir/count")
chmod 644 "$dir"/*.bin
{
	for i in $(seq 0 $((count - 1))); do
		printf "COPY dst FROM '%s/bad%04d.bin' (FORMAT binary);\n" "$dir" "$i"
	done
	echo "SELECT 'alive', count(*) FROM dst;"
	# whatever was accepted must still pass every check
	echo "SELECT 'checked', count(qoe.tdigest_percentile(d, 0.5)) + count(d::text::qoe.tdigest) FROM dst;"
} >"$dir/feed.sql"
out=$(psql -X -d $db -v ON_ERROR_STOP=0 -f "$dir/feed.sql" 2>&1)
if echo "$out" | grep -q "server closed the connection\|terminating connection\|connection to server was lost"; then
	echo "the server crashed on corrupt binary input"
	echo "$out" | tail -20
	exit 1
fi
# counts are capped at 2^53 so that merges stay exact
cap=$(psql -X -d $db -v ON_ERROR_STOP=0 2>&1 <<SQL
COPY dst FROM '$dir/cap_over.bin' (FORMAT binary);
COPY dst FROM '$dir/cap_at.bin' (FORMAT binary);
SELECT 'at cap', qoe.tdigest_count(d) FROM dst WHERE qoe.tdigest_count(d) = 9007199254740992;
DELETE FROM dst WHERE qoe.tdigest_count(d) = 9007199254740992;
SQL
)
echo "$cap" | grep -q "Count 1152921504606846976 exceeds the maximum" ||
	{ echo "a binary digest counting 2^60 values was not refused:"; echo "$cap"; exit 1; }
echo "$cap" | grep -q "at cap" || { echo "a binary digest counting 2^53 values was refused:"; echo "$cap"; exit 1; }
errors=$(echo "$out" | grep -c "ERROR:")
accepted=$(psql -X -At -d $db -c "SELECT count(*) - 1 FROM dst")
echo "$out" | grep -q "alive" || { echo "$out" | tail -20; exit 1; }
echo "$out" | grep -q "checked" || { echo "accepted values failed their checks"; echo "$out" | tail -20; exit 1; }
echo "$count corrupted inputs: $errors rejected, $accepted accepted as valid digests"
[ "$errors" -gt $((count / 2)) ] || { echo "too few rejections"; exit 1; }
exit 0
