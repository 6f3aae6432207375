/*
 * scheduler.h: the periodic jobs of the analytics layer, run by the qoe_ext
 * launcher's loop (src/kafka/kafka_launcher.c) between its own tasks.
 */
#ifndef QOE_SCHEDULER_H
#define QOE_SCHEDULER_H

#include "postgres.h"

/*
 * Run the jobs that are due (merge the rollups, expire sessions, sample
 * concurrent viewers, refresh the business views, apply retention,
 * evaluate the alert rules; each on
 * its qoe.*_interval setting), each in a transaction of its own, recorded in
 * qoe.scheduler_status; call outside any transaction. Errors are recorded
 * and logged, never raised. Returns how many ms until a job is due again.
 */
extern long qoe_scheduler_run(void);

#endif
