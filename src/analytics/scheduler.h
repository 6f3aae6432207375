/*
 * scheduler.h: the periodic jobs of the analytics layer (scheduler.c): the
 * live one run by the qoe_ext launcher's loop (src/kafka/kafka_launcher.c)
 * between its own tasks, the alert rules by the "qoe_ext alert evaluator"
 * background worker, the others by the "qoe_ext scheduler" background
 * worker; the supervisor keeps both running.
 */
#ifndef QOE_SCHEDULER_H
#define QOE_SCHEDULER_H

#include "postgres.h"

#include "datatype/timestamp.h"

/*
 * The processes that run the jobs, so that no job holds back the refresh of
 * the rollups (doc/operations.md, the scheduler).
 */
typedef enum QoeJobRunner
{
	QOE_JOBS_PERIODIC,			/* "qoe_ext scheduler": build the coarser
								 * rollup levels, expire sessions, sample
								 * concurrent viewers, refresh the business
								 * views and the recommendations, apply
								 * retention */
	QOE_JOBS_LIVE,				/* the launcher: merge the rollups */
	QOE_JOBS_ALERTS				/* "qoe_ext alert evaluator": evaluate the alert
								 * rules (woken by commits that stored a stall) */
} QoeJobRunner;

/*
 * Run runner's jobs that are due, each on its qoe.*_interval setting and in
 * a transaction of its own, recorded in qoe.scheduler_status; call outside
 * any transaction. Errors are recorded and logged, never raised. Returns
 * how many ms until one of them is due again.
 */
extern long qoe_scheduler_run(QoeJobRunner runner);

/*
 * The supervisor's look at the scheduler and alert evaluator processes:
 * each started once nothing stands in the way (as the launcher), again 10 s
 * after it stops. Returns how many ms until the next look is useful.
 */
extern long SchedulerSupervise(TimestampTz now);

/* Ask the scheduler and alert evaluator processes to stop (the supervisor exiting). */
extern void SchedulerStop(void);

extern PGDLLEXPORT void qoe_scheduler_main(Datum main_arg);

#endif
