/*
 * deltas_vacuum.c: keep qoe.session_window_deltas as small as what the
 * merges have not taken yet.
 *
 * Ingest appends to the table and every merge deletes all it takes, so the
 * table holds almost no live row but, until a vacuum frees them, the pages
 * of every row deleted since: new rows go to new pages. Autovacuum visits a
 * database once a minute (autovacuum_naptime), so the heap held up to a
 * minute of deltas, and every merge's DELETE and every real-time read of
 * the rollups (qoe.qoe_metrics(real_time => true): each round of the Redis
 * publisher) scanned all of it: 33 MB after 400,000 events, half the CPU of
 * a publisher round that read one title (doc/redis.md). Vacuumed after each
 * merge, freed pages are reused, and the heap stays at about what two merge
 * intervals append (rows deleted by a merge that ingest transactions still
 * running may see are freed by the next vacuum).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "analytics/deltas_vacuum.h"
#include "analytics/rollup.h"

/* The table, if the extension is installed; InvalidOid otherwise. */
static Oid
deltas_relid(void)
{
	Oid			nsp = get_namespace_oid("qoe", true);

	return OidIsValid(nsp) ? get_relname_relid("session_window_deltas", nsp) : InvalidOid;
}

static bool
has_dead_rows(Oid relid)
{
	PgStat_StatTabEntry *stats = pgstat_fetch_stat_tabentry(relid);

	return stats != NULL && stats->n_dead_tuples > 0;
}


ErrorData *
qoe_vacuum_deltas(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext portal = AllocSetContextCreate(TopMemoryContext, "qoe_ext deltas vacuum",
												 ALLOCSET_DEFAULT_SIZES);
	MemoryContext save_portal = PortalContext;
	ErrorData  *volatile caught = NULL;
	Oid			save_userid;
	int			save_sec;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	PG_TRY();
	{
		Oid			relid;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		relid = deltas_relid();
		if (OidIsValid(relid) && has_dead_rows(relid))
		{
			VacuumParams params = {
				.options = VACOPT_VACUUM | VACOPT_SKIP_LOCKED,
				.freeze_min_age = -1,
				.freeze_table_age = -1,
				.multixact_freeze_min_age = -1,
				.multixact_freeze_table_age = -1,
				.log_min_duration = -1,
				.index_cleanup = VACOPTVALUE_AUTO,
				/* truncating waits up to 5 s for ingest's locks: autovacuum's */
				.truncate = VACOPTVALUE_DISABLED,
				.nworkers = -1,
			};

			pgstat_report_activity(STATE_RUNNING, "vacuuming qoe.session_window_deltas");
			/* VACUUM is its owner's: no user code runs on it (no index, no trigger) */
			qoe_rollup_become_owner(relid, &save_userid, &save_sec);
			/*
			 * What vacuum() is given must outlive the transaction it commits
			 * before it starts its own: allocated where autovacuum does
			 */
			PortalContext = portal;
			MemoryContextSwitchTo(portal);
			vacuum(list_make1(makeVacuumRelation(NULL, relid, NIL)), &params,
				   GetAccessStrategy(BAS_VACUUM), true);
			SetUserIdAndSecContext(save_userid, save_sec);
		}
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		caught = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		/* the abort restores the identity of the transaction vacuum began */
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	PortalContext = save_portal;
	MemoryContextSwitchTo(cxt);
	MemoryContextDelete(portal);
	pgstat_report_activity(STATE_IDLE, NULL);
	return caught;
}
