#!/usr/bin/env bash
# Item-KNN on generated viewers with tastes (doc/generator.md): a day of
# telemetry through qoe.ingest, qoe.refresh_interactions, a build, and the
# leave-one-out evaluation: item-KNN's HR@10 must beat most-popular's by at
# least 30 % (relative), and every recommendation must explain itself.
set -eu
QOE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
GEN="$QOE_ROOT/src/tools/qoe_gen --seed 7 --titles 300"
db=recommend_generated

psql -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap 'psql -qX -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1' EXIT
psql -qX -d $db -v ON_ERROR_STOP=1 -c "CREATE EXTENSION qoe_ext CASCADE"
$GEN --catalog | psql -qX -d $db -v ON_ERROR_STOP=1 \
	-c "\copy qoe.content (content_id, title, duration_sec, genres) FROM pstdin WITH (FORMAT csv)"
$GEN --viewers 100 --users 300 --duration-sec 86400 --start-ms $(( ($(date +%s) - 90000) * 1000 )) \
	--format array --batch 2000 |
	sed -e 's/^/SELECT 1 FROM qoe.ingest($q$/' -e 's/$/$q$);/' |
	psql -qX -d $db -v ON_ERROR_STOP=1 -o /dev/null

out=$(psql -qXAt -d $db -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'interactions ' || qoe.refresh_interactions();
SELECT 'build ' || mode || ' ' || titles FROM qoe.build_recommendations();
SELECT 'eval ' || model || ' ' || round(hr::numeric, 3) || ' ' || users
  FROM qoe.evaluate_recommendations() ORDER BY model;
SELECT 'beats ' || ((SELECT hr FROM qoe.evaluate_recommendations() WHERE model = 'item_knn')
                    >= 1.3 * (SELECT hr FROM qoe.evaluate_recommendations() WHERE model = 'most_popular'));
-- ten titles, none watched, each with its reasons among the user's titles
SELECT 'served ' || count(*) || ' ' || bool_and(r.reason <@ h.titles) || ' '
       || bool_and(NOT r.content_id = ANY (h.titles))
  FROM generate_series(1, 300, 37) u,
       LATERAL (SELECT array_agg(content_id) AS titles FROM qoe.interactions WHERE user_id = u) h,
       LATERAL qoe.recommend(u) r;
SQL
)
echo "$out"
echo "$out" | grep -qx 'beats true' || { echo "item-KNN does not beat most-popular by 30 %"; exit 1; }
echo "$out" | grep -qx 'served 90 true true' || { echo "recommendations wrong"; exit 1; }
