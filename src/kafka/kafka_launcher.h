/*
 * kafka_launcher.h: the supervisor background worker, registered by _PG_init
 * when qoe_ext is preloaded, and the launcher it starts, which starts and
 * supervises the Kafka workers.
 */
#ifndef QOE_KAFKA_LAUNCHER_H
#define QOE_KAFKA_LAUNCHER_H

#include "postgres.h"

extern void KafkaLauncherRegister(void);
extern PGDLLEXPORT void qoe_supervisor_main(Datum main_arg);
extern PGDLLEXPORT void qoe_launcher_main(Datum main_arg);

/*
 * Connect a Kafka worker started by the launcher to dboid, as the launcher's
 * role; refuses a superuser and pins search_path = pg_catalog, pg_temp.
 */
extern void qoe_worker_connect(Oid dboid);

#endif
