/*
 * scheduler.c: the analytics layer's periodic work, run by the launcher.
 *
 * Twice a second, qoe.refresh_rollups() merges the per-window changes ingest
 * appended and re-aggregates the windows they touch, so an accepted event
 * shows in qoe.qoe_5min and qoe.qoe_metrics() within a second. One
 * launcher runs per cluster, and the function itself admits one refresher at
 * a time, so a manual call meanwhile only waits. A failure is logged (once
 * per distinct message) and kept in qoe.rollup_status.last_error; the next
 * run tries again.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "analytics/scheduler.h"
#include "core/catalog.h"

#define REFRESH_MS 500

static TimestampTz refresh_at = 0;
static char last_logged[256] = "";

/* Run sql in a transaction of its own, search_path pinned; false on error. */
static bool
run_in_transaction(const char *activity, const char *sql, int nargs, Oid *argtypes,
				   Datum *args, ErrorData **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool done = false;

	*error = NULL;
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
			if (SPI_execute_with_args(sql, nargs, argtypes, args, NULL, false, 0) < 0)
				elog(ERROR, "running \"%s\" failed", sql);
			qoe_unpin_search_path(nest_level);
			SPI_finish();
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
		done = true;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		*error = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	return done;
}

static void
refresh_rollups(void)
{
	ErrorData  *error;
	ErrorData  *again;
	Oid			argtypes[1] = {TEXTOID};
	Datum		arg;

	if (run_in_transaction("refreshing rollups", "SELECT qoe.refresh_rollups()", 0, NULL, NULL,
						   &error))
	{
		last_logged[0] = '\0';
		return;
	}
	if (strcmp(error->message, last_logged) != 0)
	{
		ereport(LOG,
				(errmsg("qoe_ext could not refresh the rollups, retrying every %d ms: %s",
						REFRESH_MS, error->message)));
		strlcpy(last_logged, error->message, sizeof(last_logged));
	}
	arg = CStringGetTextDatum(error->message);
	if (!run_in_transaction("recording a rollup refresh error",
							"UPDATE qoe.rollup_status SET last_error = $1,"
							" last_error_at = pg_catalog.now()",
							1, argtypes, &arg, &again))
		FreeErrorData(again);	/* the refresh error above is what matters */
	FreeErrorData(error);
}

long
qoe_scheduler_run(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (now >= refresh_at)
	{
		refresh_rollups();
		now = GetCurrentTimestamp();
		refresh_at = TimestampTzPlusMilliseconds(now, REFRESH_MS);
	}
	return Max(TimestampDifferenceMilliseconds(now, refresh_at), 1);
}
