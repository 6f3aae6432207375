#!/usr/bin/env bash
# The whole test suite: installs the Debian packages it needs, builds and
# installs qoe_ext, starts a throwaway cluster with the library preloaded, runs
# the pg_regress suite (sql/ + expected/), the isolation specs (specs/ +
# expected/) and every test/integration/*.sh, and
# ends with one line "N passed, N failed". QOE_PGBIN=<a server's bin/> builds,
# installs and tests against that copy of PostgreSQL 15 instead of Debian's.
set -u
export QOE_ROOT=$(cd "$(dirname "$0")/.." && pwd)
export QOE_SHARED_DIR=${QOE_SHARED_DIR:-$(cd "$QOE_ROOT/.." && pwd)/shared}
. "$QOE_ROOT/test/lib/deps.sh"
. "$QOE_ROOT/test/lib/cluster.sh"

if [ ! -f "$QOE_SHARED_DIR/vectors/sessions.json" ]; then
	echo "reference vectors not found: set QOE_SHARED_DIR to the shared/ folder"
	echo "0 passed, 1 failed"
	exit 1
fi
qoe_install_deps || { echo "0 passed, 1 failed"; exit 1; }
qoe_build_install || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
qoe_cluster_start || { echo "0 passed, 1 failed"; exit 1; }

passed=0 failed=0 skipped=0

cd "$QOE_ROOT"
# the pg_regress suite, then the isolation specs (specs/), each run whatever
# the other gave
make -s PG_CONFIG=$PGBIN/pg_config installcheck ISOLATION= >regress.log 2>&1
make -s PG_CONFIG=$PGBIN/pg_config installcheck REGRESS= >isolation.log 2>&1
for kind in regress isolation; do
	while read -r name result; do
		echo "$kind $name: $result"
		case $result in ok) passed=$((passed + 1)) ;; *) failed=$((failed + 1)) ;; esac
	done < <(sed -nE 's/^(test| )? *([a-z_0-9]+) +\.\.\. +(ok|FAILED|failed).*/\2 \3/p' $kind.log)
	if ! grep -q '\.\.\. ' $kind.log; then
		cat $kind.log
		failed=$((failed + 1))
	fi
	rm -f $kind.log
done
for diffs in regression.diffs output_iso/regression.diffs; do
	[ -f $diffs ] && head -c 20000 $diffs
done

for t in "$QOE_ROOT"/test/integration/*.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .sh)
	out=$(bash "$t" 2>&1)
	rc=$?
	case $rc in
	0) passed=$((passed + 1)); echo "integration $name: ok" ;;
	77) skipped=$((skipped + 1)); echo "integration $name: skipped" ;;
	*) failed=$((failed + 1)); echo "integration $name: FAILED"; echo "$out" | tail -n 40 ;;
	esac
done

qoe_cluster_stop
if [ $skipped -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ]
