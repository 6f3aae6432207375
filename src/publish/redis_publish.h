/*
 * redis_publish.h: the Redis publisher background worker (doc/redis.md).
 */
#ifndef QOE_REDIS_PUBLISH_H
#define QOE_REDIS_PUBLISH_H

#include "postgres.h"

/* its settings always; its shared memory and worker when preloaded */
extern void PublishInit(void);
extern PGDLLEXPORT void qoe_publisher_main(Datum main_arg);

#endif
