/*
 * worker_session.c: the role checks shared by the Kafka launcher and
 * workers, the Redis publisher and the alert notifier.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/syscache.h"

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
