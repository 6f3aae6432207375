# A real Prometheus Alertmanager (Debian prometheus-alertmanager) on loopback,
# with its own configuration and storage in a temporary directory.
# Source after cluster.sh: qoe_am_start [port] (a free port when none is
# given; sets QOE_AM_PORT and QOE_AM_URL), qoe_am_stop, qoe_am_alerts (the
# active alerts as JSON from GET /api/v2/alerts).
QOE_AM_BIN=${QOE_AM_BIN:-/usr/bin/prometheus-alertmanager}

qoe_am_start() {
	[ -n "${QOE_AM_DIR:-}" ] || QOE_AM_DIR=$(mktemp -d /tmp/qoe_am.XXXXXX)
	QOE_AM_PORT=${1:-$(qoe_free_port)}
	QOE_AM_URL=http://127.0.0.1:$QOE_AM_PORT
	cat >"$QOE_AM_DIR/alertmanager.yml" <<CONF
route:
  receiver: 'none'
  group_wait: 1s
receivers:
  - name: 'none'
CONF
	"$QOE_AM_BIN" --config.file="$QOE_AM_DIR/alertmanager.yml" \
		--storage.path="$QOE_AM_DIR/data" \
		--web.listen-address=127.0.0.1:$QOE_AM_PORT \
		--cluster.listen-address= >>"$QOE_AM_DIR/alertmanager.log" 2>&1 &
	QOE_AM_PID=$!
	local i
	for i in $(seq 1 100); do
		curl -sf "$QOE_AM_URL/-/ready" >/dev/null 2>&1 && return 0
		kill -0 $QOE_AM_PID 2>/dev/null || break
		sleep 0.1
	done
	echo "alertmanager did not start:"
	tail -20 "$QOE_AM_DIR/alertmanager.log"
	return 1
}

qoe_am_stop() {
	if [ -n "${QOE_AM_PID:-}" ]; then
		kill $QOE_AM_PID 2>/dev/null
		wait $QOE_AM_PID 2>/dev/null
		QOE_AM_PID=
	fi
}

qoe_am_alerts() {
	curl -sf "$QOE_AM_URL/api/v2/alerts"
}
