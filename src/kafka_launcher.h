/*
 * kafka_launcher.h: the launcher background worker, registered by _PG_init
 * when qoe_ext is preloaded; it starts and supervises the Kafka workers.
 */
#ifndef QOE_KAFKA_LAUNCHER_H
#define QOE_KAFKA_LAUNCHER_H

#include "postgres.h"

extern void KafkaLauncherRegister(void);
extern PGDLLEXPORT void qoe_launcher_main(Datum main_arg);

#endif
