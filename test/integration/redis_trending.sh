#!/usr/bin/env bash
# qoe.trending_content, by hand (doc/redis.md): plays of the last hour, each
# weighted 0.5 ^ (age / 15 min); a session without a first frame is no play,
# one started 61 minutes ago is out. Without a publisher qoe.redis_status
# says off. Every column of the new views has a comment.
set -eu
QOE_ROOT=${QOE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$QOE_ROOT/test/lib/cluster.sh"
qoe_cluster_start
psql -qX -v ON_ERROR_STOP=1 -c "CREATE EXTENSION qoe_ext CASCADE"

got=$(psql -qXAt -v ON_ERROR_STOP=1 <<'SQL'
-- title 1: plays started now, 15 and 30 min ago, one 61 min ago (out), one never started (no play)
-- title 2: one play 45 min ago
SELECT sum(accepted) FROM (
    SELECT (qoe.ingest(pg_catalog.jsonb_agg(e))).accepted
      FROM (SELECT pg_catalog.jsonb_build_object('event_type', t, 'session_id', s, 'event_id', t,
                   'user_id', 1, 'content_id', c,
                   'timestamp', ((extract(epoch FROM now()) - m * 60) * 1000)::bigint + d) AS e
              FROM (VALUES ('tr-1', 1, 0), ('tr-2', 1, 15), ('tr-3', 1, 30), ('tr-4', 1, 61),
                           ('tr-6', 2, 45)) v(s, c, m),
                   (VALUES ('start', 0), ('first_frame', 1000)) k(t, d)
            UNION ALL
            SELECT pg_catalog.jsonb_build_object('event_type', 'start', 'session_id', 'tr-5',
                   'event_id', 'a', 'user_id', 1, 'content_id', 1,
                   'timestamp', (extract(epoch FROM now()) * 1000)::bigint)) x) y;
SELECT content_id, plays, round(score::numeric, 3) FROM qoe.trending_content ORDER BY content_id;
SELECT state, pid IS NULL, publishes FROM qoe.redis_status;
SELECT count(*) FROM pg_attribute a
 WHERE a.attrelid IN ('qoe.trending_content'::regclass, 'qoe.redis_status'::regclass)
   AND a.attnum > 0 AND col_description(a.attrelid, a.attnum) IS NULL;
SQL
)
expected="11
1|3|1.750
2|1|0.125
off|t|0
0"
echo "$got"
[ "$got" = "$expected" ] || { echo "expected:"; echo "$expected"; exit 1; }
echo ok
