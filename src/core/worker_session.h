/*
 * worker_session.h: what every qoe_ext background process that connects to
 * a database checks before and after connecting, as qoe.worker_role.
 */
#ifndef QOE_WORKER_SESSION_H
#define QOE_WORKER_SESSION_H

#include "postgres.h"

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

#endif
