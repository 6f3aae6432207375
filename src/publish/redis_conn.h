/*
 * redis_conn.h: a non-blocking hiredis connection driven from the
 * publisher's latch, so that a slow, stopped or unreachable Redis costs at
 * most qoe.redis_timeout and never delays SIGTERM or SIGHUP.
 */
#ifndef QOE_REDIS_CONN_H
#define QOE_REDIS_CONN_H

#include <hiredis/hiredis.h>

#define QOE_REDIS_ERRLEN 256

extern redisContext *qoe_redis_connect(const char *host, int port, const char *user,
									   const char *password, int db, int timeout_ms,
									   char *err);
extern bool qoe_redis_exchange(redisContext *c, int n, redisReply **replies,
							   int timeout_ms, char *err);
extern void qoe_redis_free_replies(int n, redisReply **replies);

#endif
