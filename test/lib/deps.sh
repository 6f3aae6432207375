# Debian packages qoe_ext needs to build, test, benchmark and run its demo.
# Sourced by the test, bench and demo scripts; installs only what is missing.
QOE_DEB_PACKAGES="build-essential pkg-config bc postgresql-15 postgresql-server-dev-15 libpq-dev
  libjansson-dev librdkafka-dev libhiredis-dev libcurl4-openssl-dev kcat redis-server valgrind python3
  curl prometheus-alertmanager postgresql-15-hll"

qoe_install_deps() {
	local missing="" p
	for p in $QOE_DEB_PACKAGES "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "installing Debian packages:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq $missing >/dev/null
}

qoe_build_install() {
	make -s -C "$QOE_ROOT" PG_CONFIG=${QOE_PGBIN:-/usr/lib/postgresql/15/bin}/pg_config >/dev/null &&
		make -s -C "$QOE_ROOT" PG_CONFIG=${QOE_PGBIN:-/usr/lib/postgresql/15/bin}/pg_config install >/dev/null
}

# bench/ingest_sql/feed.c, the benchmarks' client that sends batches to
# qoe.ingest as bound parameters (as an application would), built as $1/feed
qoe_build_feed() {
	cc -O2 -Wall -Wextra -Werror -I"$(pg_config --includedir)" -o "$1/feed" \
		"$QOE_ROOT/bench/ingest_sql/feed.c" -lpq
}
