/*
 * scheduler.h: the analytics layer's periodic work, run by the qoe_ext
 * launcher's loop (src/kafka/kafka_launcher.c) between its own tasks.
 */
#ifndef QOE_SCHEDULER_H
#define QOE_SCHEDULER_H

#include "postgres.h"

/*
 * Run whatever is due (qoe.refresh_rollups() twice a second), each in a
 * transaction of its own, outside any transaction. Returns how many ms
 * until something is due again.
 */
extern long qoe_scheduler_run(void);

#endif
