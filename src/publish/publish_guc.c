/*
 * publish_guc.c: the qoe.redis_* settings (doc/redis.md). All take effect on
 * reload; the Kafka supervisor starts the publisher while qoe.redis_host
 * is set, and it exits when that is emptied.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "publish/publish_guc.h"

char	   *qoe_redis_host = NULL;
int			qoe_redis_port = 6379;
int			qoe_redis_db = 0;
char	   *qoe_redis_user = NULL;
char	   *qoe_redis_password = NULL;
char	   *qoe_redis_key_prefix = NULL;
int			qoe_redis_interval_ms = 500;
int			qoe_redis_timeout_ms = 200;
int			qoe_redis_key_ttl_s = 60;
int			qoe_redis_trending_size = 100;

void
PublishGucInit(void)
{
	DefineCustomStringVariable("qoe.redis_host",
							   "Redis server the live metrics and alert changes are published to: a host name, an IP address, or a Unix socket path.",
							   "Empty: nothing is published. Setting it on reload starts the publisher, emptying it stops it.",
							   &qoe_redis_host, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("qoe.redis_port",
							"TCP port of the Redis server.",
							NULL,
							&qoe_redis_port, qoe_redis_port, 1, 65535,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("qoe.redis_database",
							"Redis logical database number (SELECT) the keys are written to.",
							NULL,
							&qoe_redis_db, qoe_redis_db, 0, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("qoe.redis_user",
							   "Redis ACL user for AUTH; empty sends AUTH with the password only.",
							   NULL,
							   &qoe_redis_user, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("qoe.redis_password",
							   "Password for Redis AUTH; empty: no AUTH.",
							   "Only superusers (and members of pg_read_all_settings) can read it.",
							   &qoe_redis_password, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomStringVariable("qoe.redis_key_prefix",
							   "Prefix put before every Redis key the publisher writes.",
							   NULL,
							   &qoe_redis_key_prefix, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("qoe.redis_publish_interval",
							"Time between two publishing rounds of every key.",
							"Each round reads the committed state and writes only the keys that changed; ingest commits also wake the publisher in between (doc/redis.md).",
							&qoe_redis_interval_ms, qoe_redis_interval_ms, 10, 60000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("qoe.redis_timeout",
							"How long a connection attempt, or a silent Redis owing replies, is waited for.",
							"After that the connection is dropped and retried with a backoff of at most 1 s.",
							&qoe_redis_timeout_ms, qoe_redis_timeout_ms, 10, 60000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("qoe.redis_key_ttl",
							"Time to live of the published keys; 0: they never expire.",
							"The publisher rewrites its keys every third of it, so a key disappears this long after its title stops being published or the publisher stops.",
							&qoe_redis_key_ttl_s, qoe_redis_key_ttl_s, 0, 7 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("qoe.redis_trending_size",
							"How many titles the trending_content sorted set holds.",
							NULL,
							&qoe_redis_trending_size, qoe_redis_trending_size, 1, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
}
