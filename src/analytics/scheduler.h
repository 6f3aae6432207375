/*
 * scheduler.h: the periodic jobs of the analytics layer (scheduler.c): the
 * live ones run by the qoe_ext launcher's loop (src/kafka/kafka_launcher.c)
 * between its own tasks, the others by the "qoe_ext scheduler" background
 * worker, which the supervisor keeps running.
 */
#ifndef QOE_SCHEDULER_H
#define QOE_SCHEDULER_H

#include "postgres.h"

#include "datatype/timestamp.h"

/*
 * Run the jobs that are due, each on its qoe.*_interval setting and in a
 * transaction of its own, recorded in qoe.scheduler_status; call outside
 * any transaction. live: the launcher's (merge the rollups, evaluate the
 * alert rules: woken by ingest commits), else the scheduler process's
 * (expire sessions, sample concurrent viewers, refresh the business views
 * and the recommendations, apply retention). Errors are recorded and
 * logged, never raised. Returns how many ms until one of them is due again.
 */
extern long qoe_scheduler_run(bool live);

/*
 * The supervisor's look at the scheduler process: started once nothing
 * stands in the way (as the launcher), again 10 s after it stops. Returns
 * how many ms until the next look is useful.
 */
extern long SchedulerSupervise(TimestampTz now);

/* Ask the scheduler process to stop (the supervisor exiting). */
extern void SchedulerStop(void);

extern PGDLLEXPORT void qoe_scheduler_main(Datum main_arg);

#endif
