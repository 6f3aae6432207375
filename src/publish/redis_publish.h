/*
 * redis_publish.h: the Redis publisher background worker (doc/redis.md).
 */
#ifndef QOE_REDIS_PUBLISH_H
#define QOE_REDIS_PUBLISH_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* its settings always; its shared memory when preloaded */
extern void PublishInit(void);

/*
 * For the Kafka supervisor (kafka_launcher.c), a process connected to no
 * database: start the publisher while qoe.redis_host is set (at once when
 * it was just set, e.g. by a reload), stop it when emptied. Returns how many
 * ms until the next look is useful.
 */
extern long PublishSupervise(TimestampTz now);

/* The supervisor exits: the publisher goes with it. */
extern void PublishStop(void);
extern PGDLLEXPORT void qoe_publisher_main(Datum main_arg);

#endif
