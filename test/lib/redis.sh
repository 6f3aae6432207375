# A throwaway redis-server on loopback for the Redis publisher tests
# (test/integration/redis_*.sh). Source with QOE_ROOT set: it sources
# cluster.sh and kafka_source.sh (qoe_wait_for) too. A test then starts
#   set -eu
#   QOE_ROOT=${QOE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
#   . "$QOE_ROOT/test/lib/redis.sh"
#   qoe_redis_start
#   qoe_publisher_cluster
#
#   qoe_redis_start [redis-server options]  start on a free port (REDIS_PORT),
#                                           or on REDIS_PORT again after a stop;
#                                           without redis-server the test is
#                                           skipped (exit 77)
#   qoe_redis_stop                          stop it (SIGKILL: nothing is saved)
#   qoe_rcli ARGS                           redis-cli against it
#   qoe_publisher_cluster [conf lines]      a cluster with qoe_ext installed and
#                                           the publisher connected to this Redis
#   qoe_redis_viewers / qoe_sql_viewers     concurrent viewers per title, "id|n"
#                                           lines, from Redis and from SQL
#   qoe_wait_viewers_equal MS / qoe_wait_trending_equal MS / qoe_wait_metrics_equal MS
#                                           wait until the keys equal the views
#   qoe_ingest_recent SEED VIEWERS          ingest events of the last 3 minutes
#   qoe_ms                                  the wall clock in ms
. "$QOE_ROOT/test/lib/cluster.sh"
. "$QOE_ROOT/test/lib/kafka_source.sh"

QOE_REDIS_DIR=${QOE_REDIS_DIR:-}
REDIS_PORT=${REDIS_PORT:-}

qoe_ms() { date +%s%3N; }

qoe_rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

qoe_redis_start() {
	command -v redis-server >/dev/null || { echo "redis-server not installed"; exit 77; }
	[ -n "$QOE_REDIS_DIR" ] || QOE_REDIS_DIR=$(mktemp -d /tmp/qoe_redis.XXXXXX)
	[ -n "$REDIS_PORT" ] || REDIS_PORT=$(qoe_free_port)
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
		--dir "$QOE_REDIS_DIR" --daemonize yes --pidfile "$QOE_REDIS_DIR/redis.pid" \
		--logfile "$QOE_REDIS_DIR/redis.log" "$@" || return 1
	local deadline=$((SECONDS + 10))
	until [ -s "$QOE_REDIS_DIR/redis.pid" ] && (echo >/dev/tcp/127.0.0.1/$REDIS_PORT) 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || { cat "$QOE_REDIS_DIR/redis.log"; return 1; }
		sleep 0.05
	done
}

qoe_redis_stop() {
	[ -n "$QOE_REDIS_DIR" ] && [ -s "$QOE_REDIS_DIR/redis.pid" ] || return 0
	local pid
	pid=$(cat "$QOE_REDIS_DIR/redis.pid")
	kill -CONT "$pid" 2>/dev/null
	kill -KILL "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
	rm -f "$QOE_REDIS_DIR/redis.pid"
}

qoe_redis_cleanup() {
	qoe_cluster_stop || true	# the test may have stopped the server
	qoe_redis_stop
	[ -n "$QOE_REDIS_DIR" ] && rm -rf "$QOE_REDIS_DIR"
	QOE_REDIS_DIR=
}

# The supervisor starts the publisher while qoe.redis_host is set, looking
# again every 10 s after CREATE EXTENSION makes its role qoe_worker: the
# restart starts it at once. Returns once it is connected.
qoe_publisher_cluster() {
	qoe_cluster_start || return 1
	trap qoe_redis_cleanup EXIT
	psql -qX -v ON_ERROR_STOP=1 -c "CREATE EXTENSION qoe_ext CASCADE" || return 1
	cat >>"$QOE_PGDATA_DIR/data/postgresql.conf" <<CONF
qoe.redis_host = '127.0.0.1'
qoe.redis_port = $REDIS_PORT
${1:-}
CONF
	qoe_as_postgres $PGBIN/pg_ctl -D "$QOE_PGDATA_DIR/data" -w -t 60 \
		-l "$QOE_PGDATA_DIR/server.log" restart >/dev/null || return 1
	qoe_wait_for 30 "SELECT state FROM qoe.redis_status" connected
}

qoe_sql_viewers() {
	psql -qXAt -c "SELECT content_id || '|' || sum(viewers) FROM qoe.concurrent_viewers
	                GROUP BY content_id ORDER BY content_id"
}

qoe_redis_viewers() {
	local keys
	keys=$(qoe_rcli --scan --pattern 'concurrent_viewers:*' | sort)
	[ -n "$keys" ] || return 0
	paste -d'|' <(echo "$keys" | sed 's/^concurrent_viewers://') <(qoe_rcli MGET $keys) |
		sort -t'|' -k1,1n
}

# Wait until the Redis keys equal the view; prints the milliseconds it took.
qoe_wait_viewers_equal() {
	local timeout_ms=$1 t0 a b
	t0=$(qoe_ms)
	while :; do
		a=$(qoe_sql_viewers)
		b=$(qoe_redis_viewers)
		if [ "$a" = "$b" ]; then
			echo $(($(qoe_ms) - t0))
			return 0
		fi
		if [ $(($(qoe_ms) - t0)) -gt "$timeout_ms" ]; then
			echo "concurrent viewers differ after ${timeout_ms} ms" >&2
			diff <(echo "$a") <(echo "$b") | head -20 >&2
			return 1
		fi
		sleep 0.05
	done
}

# Titles whose trending_content member differs from qoe.trending_content
# (missing on either side, or a score off by more than its rounding).
qoe_trending_diff() {
	local pairs
	pairs=$(qoe_rcli ZREVRANGE trending_content 0 -1 WITHSCORES | paste -d' ' - - |
		awk 'NF == 2 {printf "%s(%s,%s)", (n++ > 0 ? "," : ""), $1, $2}')
	[ -n "$pairs" ] || pairs="(0,0)"
	psql -qXAt -v ON_ERROR_STOP=1 -c "
	    SELECT count(*) FROM qoe.trending_content v
	      FULL JOIN (VALUES $pairs) r(content_id, score) USING (content_id)
	     WHERE r.score IS NULL OR v.score IS NULL
	        OR abs(v.score - r.score) > 0.001 * v.score"
}
qoe_wait_trending_equal() {
	local deadline=$(($(qoe_ms) + $1))
	until [ "$(qoe_trending_diff)" = 0 ]; do
		[ "$(qoe_ms)" -lt $deadline ] ||
			{ echo "trending_content differs from the view: $(qoe_trending_diff) titles"; return 1; }
		sleep 0.1
	done
}

# Titles whose qoe_metrics:{id} hash differs from qoe.qoe_metrics over the
# latest complete and the current 5-minute window (doc/redis.md): missing on
# either side, a metric off by more than its 6-digit rounding, or another
# plays, concurrent_viewers or window_start.
QOE_METRICS_FIELDS="vst_p50_ms vst_p95_ms vst_p99_ms rebuffering_ratio qoe_score plays concurrent_viewers window_start"
qoe_metrics_diff() {
	local keys rows=""
	keys=$(qoe_rcli --scan --pattern 'qoe_metrics:*')
	[ -z "$keys" ] || rows=$(for k in $keys; do echo "HMGET $k $QOE_METRICS_FIELDS"; done | qoe_rcli |
		paste -d'|' - - - - - - - - | paste -d'|' <(echo "$keys" | sed 's/^qoe_metrics://') - |
		awk -F'|' '{ printf "%s(%s", (NR > 1 ? "," : ""), $1
		             for (i = 2; i <= 8; i++) printf ",%s", ($i == "" ? "NULL" : $i)
		             printf ",%s)", ($9 == "" ? "NULL" : "'"'"'" $9 "'"'"'") }')
	[ -n "$rows" ] || rows="(NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL)"
	psql -qXAt -v ON_ERROR_STOP=1 <<SQL
CREATE FUNCTION pg_temp.near(a float8, b float8) RETURNS bool LANGUAGE sql
    AS \$\$ SELECT (a IS NULL AND b IS NULL) OR coalesce(abs(a - b) <= 1e-5 * abs(a) + 1e-9, false) \$\$;
WITH r(content_id, p50, p95, p99, rr, score, plays, viewers, ws) AS (
         SELECT v.column1::bigint, v.column2::float8, v.column3::float8, v.column4::float8,
                v.column5::float8, v.column6::float8, v.column7::bigint, v.column8::bigint,
                v.column9::timestamptz
           FROM (VALUES $rows) v WHERE v.column1 IS NOT NULL),
     w AS (SELECT date_bin('5 min', now(), '2000-01-01 00:00+00') - interval '5 min' AS s),
     m AS (SELECT m.*, w.s FROM w, qoe.qoe_metrics(w.s, now(), NULL, '{content_id}') m),
     cv AS (SELECT content_id, sum(viewers) AS n FROM qoe.concurrent_viewers GROUP BY 1)
SELECT count(*) FROM m FULL JOIN r USING (content_id) LEFT JOIN cv USING (content_id)
 WHERE m.content_id IS NULL OR r.content_id IS NULL
    OR NOT (pg_temp.near(m.vst_p50_ms, r.p50) AND pg_temp.near(m.vst_p95_ms, r.p95)
            AND pg_temp.near(m.vst_p99_ms, r.p99) AND pg_temp.near(m.rebuffering_ratio, r.rr)
            AND pg_temp.near(m.qoe_score, r.score))
    OR m.plays IS DISTINCT FROM r.plays OR coalesce(cv.n, 0) IS DISTINCT FROM r.viewers
    OR m.s IS DISTINCT FROM r.ws;
SQL
}

qoe_wait_metrics_equal() {
	local deadline=$(($(qoe_ms) + $1))
	until [ "$(qoe_metrics_diff)" = 0 ]; do
		[ "$(qoe_ms)" -lt $deadline ] ||
			{ echo "qoe_metrics hashes differ from qoe.qoe_metrics: $(qoe_metrics_diff) titles"; return 1; }
		sleep 0.1
	done
}

# Ingest generated events ending about a minute ago through qoe.ingest.
qoe_ingest_recent() {
	local seed=$1 viewers=$2
	"$QOE_ROOT/src/tools/qoe_gen" --seed "$seed" --viewers "$viewers" --titles 50 --uuid-ids \
		--duration-sec 120 --start-ms $(( ($(date +%s) - 180) * 1000 )) --format array --batch 200 |
		sed -e 's/^/SELECT accepted FROM qoe.ingest($q$/' -e 's/$/$q$);/' |
		psql -qX -v ON_ERROR_STOP=1 -o /dev/null
}

# SQL that waits, inside the caller's transaction, until the publisher has
# run N more rounds (qoe.redis_status reads shared memory, so the open
# transaction sees them): what it published meanwhile is what it saw of the
# uncommitted work, nothing.
qoe_sql_await_publishes() {
	cat <<SQL
DO \$\$ DECLARE
    target bigint := (SELECT publishes FROM qoe.redis_status) + $1;
BEGIN
    WHILE (SELECT publishes FROM qoe.redis_status) < target LOOP
        IF clock_timestamp() > now() + interval '10 s' THEN RAISE 'the publisher ran no rounds'; END IF;
        PERFORM pg_sleep(0.02);
    END LOOP;
END \$\$;
SQL
}
