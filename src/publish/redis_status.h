/*
 * redis_status.h: the publisher's state in shared memory, read by
 * qoe.redis_status (doc/redis.md). Written by the publisher only.
 */
#ifndef QOE_REDIS_STATUS_H
#define QOE_REDIS_STATUS_H

#include "datatype/timestamp.h"

typedef enum QoeRedisState
{
	QOE_REDIS_OFF,				/* no publisher, or qoe.redis_host is empty */
	QOE_REDIS_CONNECTING,
	QOE_REDIS_CONNECTED,
	QOE_REDIS_DISCONNECTED		/* after a failure, until the next attempt */
} QoeRedisState;

extern void RedisStatusShmemInit(void);
extern void qoe_redis_status_attach(void);
extern void qoe_redis_status_set_state(QoeRedisState state, const char *server);
extern void qoe_redis_status_error(const char *message);
/*
 * A round that reached Redis and read every reply: keys it wrote, alert
 * messages it published, whether a commit woke it, whether it read the
 * viewers (of some titles), of every title, and the same of qoe_metrics.
 */
extern void qoe_redis_status_published(int64 keys_written, int64 alerts_published, bool woken,
									   bool read_viewers, bool read_all_viewers,
									   bool read_metrics, bool read_all_metrics);

/*
 * The rate of notes of ingest commits the publisher applied at at (a
 * second, viewers_ledger.h), which sets the spacing of its woken rounds.
 */
extern void qoe_redis_status_pace(double notes_per_second, TimestampTz at);

#endif
