/*
 * worker_session.h: what every qoe_ext background process that connects to
 * a database checks before and after connecting, as qoe.worker_role.
 */
#ifndef QOE_WORKER_SESSION_H
#define QOE_WORKER_SESSION_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "postmaster/bgworker.h"

/*
 * Why qoe.database and qoe.worker_role cannot serve a background worker now
 * (no such database; no such role; a superuser; a role that cannot log in),
 * as an errmsg and an errhint of at most len bytes each; false when nothing
 * stands in the way. Runs its own transaction: call outside one, from a
 * process with shared catalog access but no database needed.
 */
extern bool qoe_worker_obstacle(char *msg, char *hint, size_t len);

/*
 * Right after connecting: FATAL if the session user is a superuser (the
 * role may have changed since it was checked), then search_path pinned to
 * pg_catalog, pg_temp for the whole process, as autovacuum does
 * (PGC_S_OVERRIDE beats ALTER DATABASE and ALTER ROLE settings).
 */
extern void qoe_worker_secure_session(void);

/*
 * A background worker started by the supervisor (launcher, scheduler,
 * publisher, alert notifier): connect to qoe.database as qoe.worker_role,
 * secure the session as above, and show appname in pg_stat_activity.
 */
extern void qoe_worker_connect_as_role(const char *appname);

/*
 * Run fn(arg) in a transaction of its own, from a background process between
 * transactions: statement start and snapshot set, activity shown in
 * pg_stat_activity, SPI connected and search_path pinned around fn, then
 * committed. fn runs only in a database where qoe_ext is installed (these
 * processes may start before CREATE EXTENSION); what it must keep past the
 * commit it copies into a memory context it was given through arg. Returns
 * NULL when the transaction committed, else its error, copied into the
 * caller's memory context, the transaction aborted and the caller's memory
 * context current again.
 */
extern ErrorData *qoe_run_own_transaction(const char *activity,
										  void (*fn) (void *arg), void *arg);

/*
 * After a background process's transaction: send its table statistics (rows
 * inserted, updated, deleted) to the cumulative statistics. A regular
 * backend does so when it goes idle; a background worker only when it calls
 * this or exits, so without it autovacuum never saw what the workers, merges
 * and jobs wrote, and never vacuumed or analyzed for it. Forced: these
 * processes may idle for long after a transaction, with nothing to flush
 * what a rate-limited report left pending.
 */
extern void qoe_worker_report_stats(void);

/* The supervisor's look at its children, and their restart delay. */
#define QOE_SUPERVISE_MS 10000

/*
 * A background worker of qoe_ext that a supervising process (connected to
 * no database) keeps running as qoe.worker_role: started once nothing stands
 * in the way, started again retry_ms after it stops. Zero-initialize the
 * state fields.
 */
typedef struct QoeChild
{
	const char *function;		/* its bgw_function_name in qoe_ext */
	const char *name;			/* its bgw_name and bgw_type */
	Datum		main_arg;
	bool		log_obstacles;	/* log (once per reason) why it cannot start */
	long		retry_ms;
	BackgroundWorkerHandle *handle; /* NULL while it does not run */
	TimestampTz next_try;
	char		logged[256];
} QoeChild;

/*
 * One look at child at time now: forget it if it stopped, start it when due
 * (at once if at_once, else retry_ms after its last try or stop) and nothing
 * stands in the way (qoe_worker_obstacle; a free worker slot). Returns how
 * many ms until the next look is useful.
 */
extern long qoe_child_look(QoeChild *child, TimestampTz now, bool at_once);

/* Ask child to stop (a before_shmem_exit callback's work). */
extern void qoe_child_stop(QoeChild *child);

#endif
