/*
 * publish_guc.h: the qoe.redis_* settings of the Redis publisher
 * (doc/redis.md). Defined by PublishGucInit, before core/guc.c reserves
 * the qoe prefix, so that values from postgresql.conf are kept.
 */
#ifndef QOE_PUBLISH_GUC_H
#define QOE_PUBLISH_GUC_H

extern char *qoe_redis_host;		/* empty: no publisher */
extern int	qoe_redis_port;
extern int	qoe_redis_db;
extern char *qoe_redis_user;		/* ACL user for AUTH; empty: AUTH password */
extern char *qoe_redis_password;	/* superuser-only */
extern char *qoe_redis_key_prefix;
extern int	qoe_redis_interval_ms;	/* between two publishing rounds */
extern int	qoe_redis_timeout_ms;	/* connect, and silence while a reply is due */
extern int	qoe_redis_key_ttl_s;	/* 0: keys never expire */
extern int	qoe_redis_trending_size;

extern void PublishGucInit(void);

#endif
