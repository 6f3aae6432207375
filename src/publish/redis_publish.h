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

/*
 * The least time between the starts of woken rounds, in ms, at a rate of
 * notes_per_second (viewers_ledger.h): QOE_WAKE_SPACING_MS, longer with the
 * square of the rate above 40,000 a second, at most 1 s
 * (doc/redis_design.md, spacing).
 */
extern int	qoe_redis_round_spacing_ms(double notes_per_second);

/* The supervisor exits: the publisher goes with it. */
extern void PublishStop(void);
extern PGDLLEXPORT void qoe_publisher_main(Datum main_arg);

#endif
