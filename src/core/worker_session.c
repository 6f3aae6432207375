/*
 * worker_session.c: the role checks shared by the Kafka launcher and
 * workers, the Redis publisher and the alert notifier, the transactions
 * they run on their own, and the supervision of such a worker by a process
 * connected to no database.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "core/catalog.h"
#include "core/guc.h"
#include "core/worker_session.h"

/* With no database selected, pg_database can only be scanned in full. */
static bool
database_exists(const char *name)
{
	Relation	rel = table_open(DatabaseRelationId, AccessShareLock);
	TableScanDesc scan = table_beginscan_catalog(rel, 0, NULL);
	HeapTuple	tup;
	bool		found = false;

	while (!found && HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
		found = strcmp(NameStr(((Form_pg_database) GETSTRUCT(tup))->datname), name) == 0;
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

bool
qoe_worker_obstacle(char *msg, char *hint, size_t len)
{
	HeapTuple	tup;

	msg[0] = hint[0] = '\0';
	StartTransactionCommand();
	if (!database_exists(qoe_database))
	{
		snprintf(msg, len, "database \"%s\" named by qoe.database does not exist", qoe_database);
		snprintf(hint, len, "Create it, or set qoe.database and restart the server.");
	}
	else if (!HeapTupleIsValid(tup = SearchSysCache1(AUTHNAME, CStringGetDatum(qoe_worker_role))))
	{
		snprintf(msg, len, "role \"%s\" named by qoe.worker_role does not exist", qoe_worker_role);
		snprintf(hint, len, "CREATE EXTENSION qoe_ext creates it.");
	}
	else
	{
		Form_pg_authid role = (Form_pg_authid) GETSTRUCT(tup);

		if (role->rolsuper)
		{
			snprintf(msg, len, "role \"%s\" named by qoe.worker_role is a superuser, and the workers run other roles' triggers",
					 qoe_worker_role);
			snprintf(hint, len, "Run ALTER ROLE %s NOSUPERUSER, or name another role in qoe.worker_role and restart the server.",
					 quote_identifier(qoe_worker_role));
		}
		else if (!role->rolcanlogin)
		{
			snprintf(msg, len, "role \"%s\" named by qoe.worker_role cannot log in", qoe_worker_role);
			snprintf(hint, len, "Run ALTER ROLE %s LOGIN CONNECTION LIMIT 0: background workers can then use it, clients cannot.",
					 quote_identifier(qoe_worker_role));
		}
		ReleaseSysCache(tup);
	}
	CommitTransactionCommand();
	return msg[0] != '\0';
}

void
qoe_worker_secure_session(void)
{
	if (GetSessionUserIsSuperuser())
		ereport(FATAL,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("qoe_ext background workers must not run as a superuser"),
				 errdetail("qoe.worker_role names role \"%s\", a superuser.", qoe_worker_role),
				 errhint("Run ALTER ROLE %s NOSUPERUSER, or name another role in qoe.worker_role and restart the server.",
						 quote_identifier(qoe_worker_role))));
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
}

void
qoe_worker_connect_as_role(const char *appname)
{
	BackgroundWorkerInitializeConnection(qoe_database, qoe_worker_role, 0);
	qoe_worker_secure_session();
	pgstat_report_appname(appname);
}

static bool
start_child(QoeChild *child, char *msg, char *hint, size_t len)
{
	BackgroundWorker worker = {0};

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "qoe_ext", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, child->function, BGW_MAXLEN);
	strlcpy(worker.bgw_name, child->name, BGW_MAXLEN);
	strlcpy(worker.bgw_type, child->name, BGW_MAXLEN);
	worker.bgw_main_arg = child->main_arg;
	worker.bgw_notify_pid = MyProcPid;
	if (RegisterDynamicBackgroundWorker(&worker, &child->handle))
		return true;
	child->handle = NULL;
	snprintf(msg, len, "no background worker slot is free");
	snprintf(hint, len, "Raise max_worker_processes.");
	return false;
}

long
qoe_child_look(QoeChild *child, TimestampTz now, bool at_once)
{
	pid_t		pid;

	if (child->handle != NULL &&
		GetBackgroundWorkerPid(child->handle, &pid) == BGWH_STOPPED)
	{
		pfree(child->handle);
		child->handle = NULL;
		child->next_try = TimestampTzPlusMilliseconds(now, child->retry_ms);
	}
	if (at_once)
		child->next_try = now;
	if (child->handle == NULL && now >= child->next_try)
	{
		char		msg[256];
		char		hint[256];
		bool		blocked = qoe_worker_obstacle(msg, hint, sizeof(msg));

		if (!blocked && start_child(child, msg, hint, sizeof(msg)))
			child->logged[0] = '\0';
		/* once per new reason: waiting is normal before CREATE EXTENSION */
		else if ((child->log_obstacles || !blocked) && strcmp(msg, child->logged) != 0)
		{
			ereport(LOG, (errmsg("%s not started: %s", child->name, msg), errhint("%s", hint)));
			strlcpy(child->logged, msg, sizeof(child->logged));
		}
		child->next_try = TimestampTzPlusMilliseconds(now, child->retry_ms);
	}
	if (child->handle != NULL)
		return child->retry_ms;
	return Max(TimestampDifferenceMilliseconds(now, child->next_try), 10);
}

void
qoe_child_stop(QoeChild *child)
{
	if (child->handle != NULL)
		TerminateBackgroundWorker(child->handle);
}

void
qoe_worker_report_stats(void)
{
	(void) pgstat_report_stat(true);
}

ErrorData *
qoe_run_own_transaction(const char *activity, void (*fn) (void *arg), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ErrorData  *volatile caught = NULL;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (OidIsValid(get_extension_oid("qoe_ext", true)))
		{
			int			nest_level;

			pgstat_report_activity(STATE_RUNNING, activity);
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			nest_level = qoe_pin_search_path();
			fn(arg);
			qoe_unpin_search_path(nest_level);
			SPI_finish();
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		caught = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	qoe_worker_report_stats();
	pgstat_report_activity(STATE_IDLE, NULL);
	return caught;
}
