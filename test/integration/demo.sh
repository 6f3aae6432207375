#!/usr/bin/env bash
# The README's main job keeps working: a short run of the demo prints its report.
set -eu
QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
out=$(QOE_DEMO_SECONDS=120 QOE_DEMO_VIEWERS=80 bash "$QOE_ROOT/src/tools/demo.sh" 2>&1) ||
	{ echo "$out"; echo "the demo failed"; exit 1; }
echo "$out"
for section in '== QoE overview ==' '== By CDN POP' '== QoE over time' '== Top titles' '== Alerts' '== Playing now' '== Live metrics in Redis' '== Recommendations' 'HR@10' 'dead letters' 'demo done'; do
	echo "$out" | grep -qF "$section" || { echo "missing: $section"; exit 1; }
done
# the degraded POP must stand out at the top of the POP table
echo "$out" | sed -n '/== By CDN POP/,/== Top titles/p' | sed -n 4p | grep -q 'us-east-1a' ||
	{ echo "degraded POP us-east-1a is not the worst"; exit 1; }
# the live metrics read back from Redis: the top title's viewers, a
# trending_content entry, its qoe_metrics hash
echo "$out" | grep -A1 -F '$ redis-cli GET concurrent_viewers:' | sed -n 2p | grep -qE '^[1-9][0-9]*$' ||
	{ echo "no concurrent_viewers read back from Redis"; exit 1; }
echo "$out" | grep -A1 -F '$ redis-cli ZREVRANGE trending_content' | sed -n 2p | grep -qE '^[0-9]+ [0-9.]+$' ||
	{ echo "no trending_content read back from Redis"; exit 1; }
echo "$out" | sed -n '/^\$ redis-cli HGETALL qoe_metrics:/,/^$/p' | grep -q '^window_start 20' ||
	{ echo "no qoe_metrics hash read back from Redis"; exit 1; }
