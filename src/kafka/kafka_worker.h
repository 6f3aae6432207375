/*
 * kafka_worker.h: the entry point of a Kafka source worker, started by the
 * launcher with its shared memory slot number as the argument.
 */
#ifndef QOE_KAFKA_WORKER_H
#define QOE_KAFKA_WORKER_H

#include "postgres.h"

extern PGDLLEXPORT void qoe_worker_main(Datum main_arg);

#endif
