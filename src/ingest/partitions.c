/*
 * partitions.c: daily range partitions of qoe.viewing_events.
 *
 * A partition covers one UTC day and is named viewing_events_pYYYYMMDD, a
 * name made from the day number alone: no event text ever reaches the SQL
 * built here. Partitions are made ahead by the Kafka launcher (premake) and,
 * for late or early events inside the accepted window, on demand by the
 * writer. Either way a partition is created as a standalone table and then
 * attached: ATTACH PARTITION takes only SHARE UPDATE EXCLUSIVE on
 * qoe.viewing_events, which neither readers nor inserters wait for, where
 * CREATE TABLE ... PARTITION OF would hold ACCESS EXCLUSIVE until the
 * ingesting transaction commits. An advisory lock per day keeps two writers
 * from racing to create one.
 *
 * The DDL runs as the owner of qoe.viewing_events (writers need no
 * ownership) in a security-restricted context, with search_path pinned and a
 * lock timeout, so it can neither run the caller's code nor queue behind a
 * long query for long.
 *
 * qoe.viewing_events has no indexes of its own: each partition gets
 * partition_indexes before it is attached. With partitioned indexes on the
 * parent (an extension member, which pg_dump leaves to CREATE EXTENSION), a
 * restore's ATTACH PARTITION would build the partition's indexes and the
 * dump's CREATE INDEX of the same names would then fail.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "core/guc.h"
#include "ingest/partitions.h"
#include "core/subxact.h"

#define PARTITION_PREFIX "viewing_events_p"

/* advisory lock class of partition creation; the day is the other key */
#define PARTITION_LOCK_CLASS 0x716f6570	/* "qoep" */

/* how long partition DDL waits for a lock on qoe.viewing_events */
#define PARTITION_LOCK_TIMEOUT "5s"

/*
 * The indexes of every partition (why these, and none by title:
 * sql/install/10_events.sql). A single-column B-tree by session: PostgreSQL
 * deduplicates its repeated keys, so per-session access costs a few bytes
 * per event; stalls by arrival are what the stall-loop alert looks at
 * (qoe.alert_stall_loops).
 */
static const char *const partition_indexes[] = {
	"(session_id)",
	"(received_at) WHERE event_type OPERATOR(pg_catalog.=) 'buffering'::qoe.event_type",
};

int32
qoe_day_of(TimestampTz t)
{
	int64		day = t / USECS_PER_DAY;

	if (t < 0 && t % USECS_PER_DAY != 0)
		day--;
	return (int32) day;
}

static void
partition_name(int32 day, char *name, size_t size)
{
	int			y, m, d;

	j2date(day + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	snprintf(name, size, PARTITION_PREFIX "%04d%02d%02d", y, m, d);
}

static char *
day_bound(int32 day)
{
	int			y, m, d;

	j2date(day + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	return psprintf("'%04d-%02d-%02d 00:00:00+00'", y, m, d);
}

/* The security context partition DDL runs in, and what to restore after. */
typedef struct OwnerContext
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			nest_level;
} OwnerContext;

static void
become_owner(const QoeCatalog *cat, OwnerContext *ctx)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(cat->viewing_events_oid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", cat->viewing_events_oid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	GetUserIdAndSecContext(&ctx->saved_userid, &ctx->saved_sec_context);
	SetUserIdAndSecContext(owner, ctx->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	ctx->nest_level = qoe_pin_search_path();
	(void) set_config_option("lock_timeout", PARTITION_LOCK_TIMEOUT, PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/* An error in between restores all of this with the (sub)transaction. */
static void
become_caller(const OwnerContext *ctx)
{
	qoe_unpin_search_path(ctx->nest_level);
	SetUserIdAndSecContext(ctx->saved_userid, ctx->saved_sec_context);
}

static void
run_ddl(const char *sql)
{
	int			ret = SPI_execute(sql, false, 0);

	if (ret != SPI_OK_UTILITY)
		elog(ERROR, "\"%s\" failed: %s", sql, SPI_result_code_string(ret));
}

static Oid
create_partition(const QoeCatalog *cat, int32 day, const char *name)
{
	OwnerContext ctx;
	const char *qname = quote_identifier(name);

	become_owner(cat, &ctx);
	run_ddl(psprintf("CREATE TABLE qoe.%s (LIKE qoe.viewing_events INCLUDING DEFAULTS"
					 " INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE"
					 " INCLUDING COMPRESSION)", qname));
	for (size_t i = 0; i < lengthof(partition_indexes); i++)
		run_ddl(psprintf("CREATE INDEX ON qoe.%s %s", qname, partition_indexes[i]));
	run_ddl(psprintf("ALTER TABLE qoe.viewing_events ATTACH PARTITION qoe.%s"
					 " FOR VALUES FROM (%s) TO (%s)",
					 qname, day_bound(day), day_bound(day + 1)));
	become_caller(&ctx);
	return get_relname_relid(name, cat->namespace_oid);
}

/* Do the partition's bounds hold the first and the last microsecond of day? */
static bool
bounds_cover_day(Relation rel, int32 day)
{
	TupleDesc	desc = RelationGetDescr(rel);
	AttrNumber	attno = SPI_fnumber(desc, "event_time");
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	TimestampTz ends[2] = {(TimestampTz) day * USECS_PER_DAY,
	(TimestampTz) (day + 1) * USECS_PER_DAY - 1};
	bool		covered = attno > 0;

	InitResultRelInfo(rri, rel, 0, NULL, 0);
	for (int i = 0; i < 2 && covered; i++)
	{
		ExecClearTuple(slot);
		memset(slot->tts_isnull, true, sizeof(bool) * desc->natts);
		slot->tts_values[attno - 1] = TimestampTzGetDatum(ends[i]);
		slot->tts_isnull[attno - 1] = false;
		ExecStoreVirtualTuple(slot);
		covered = ExecPartitionCheck(rri, slot, estate, false);
	}
	ExecDropSingleTupleTableSlot(slot);
	FreeExecutorState(estate);
	return covered;
}

/*
 * Why the relation found under a day's partition name cannot take that day's
 * events, or NULL when it can: it must be a plain table attached to
 * qoe.viewing_events whose bounds hold the whole day (the writer inserts
 * into it directly, without partition routing).
 */
static char *
partition_problem(const QoeCatalog *cat, Oid relid, int32 day, const char *name)
{
	Relation	rel = relation_open(relid, RowExclusiveLock);
	char	   *problem = NULL;

	if (rel->rd_rel->relkind != RELKIND_RELATION)
		problem = psprintf("qoe.%s is not a plain table (relkind '%c')", name,
						   rel->rd_rel->relkind);
	else if (!rel->rd_rel->relispartition ||
			 get_partition_parent(relid, true) != cat->viewing_events_oid)
		problem = psprintf("qoe.%s is not a partition of qoe.viewing_events", name);
	else if (!bounds_cover_day(rel, day))
		problem = psprintf("the bounds of qoe.%s do not hold the whole UTC day", name);
	relation_close(rel, NoLock);
	return problem;
}

static Oid
partition_for_day(const QoeCatalog *cat, int32 day, char **problem, bool *created)
{
	char		name[NAMEDATALEN];
	Oid			relid;
	LOCKTAG		tag;

	*problem = NULL;
	*created = false;
	partition_name(day, name, sizeof(name));
	relid = get_relname_relid(name, cat->namespace_oid);
	if (!OidIsValid(relid))
	{
		SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, PARTITION_LOCK_CLASS, (uint32) day, 3);
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
		AcceptInvalidationMessages();
		relid = get_relname_relid(name, cat->namespace_oid);
		if (!OidIsValid(relid))
		{
			*created = true;
			return create_partition(cat, day, name);
		}
	}
	*problem = partition_problem(cat, relid, day, name);
	return *problem == NULL ? relid : InvalidOid;
}

Oid
qoe_partition_for_day(const QoeCatalog *cat, int32 day, char **problem)
{
	bool		created;

	return partition_for_day(cat, day, problem, &created);
}

int
qoe_premake_partitions(const QoeCatalog *cat, int days)
{
	int32		today = qoe_day_of(GetCurrentTimestamp());
	int			made = 0;

	for (int32 day = today; day <= today + days; day++)
	{
		char	   *problem;
		bool		created;

		(void) partition_for_day(cat, day, &problem, &created);
		made += created;
	}
	return made;
}

PG_FUNCTION_INFO_V1(qoe_premake_partitions_sql);
Datum
qoe_premake_partitions_sql(PG_FUNCTION_ARGS)
{
	int			days = PG_ARGISNULL(0) ? qoe_partition_premake_days : PG_GETARG_INT32(0);
	QoeCatalog	cat;
	int			made;

	if (days < 0 || days > 366)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("days must be between 0 and 366"),
				 errdetail("The value given was %d.", days)));
	qoe_catalog_lookup(&cat);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	made = qoe_premake_partitions(&cat, days);
	SPI_finish();
	PG_RETURN_INT32(made);
}

/* Day number of a partition name made by partition_name(), or false. */
static bool
day_of_partition_name(const char *name, int32 *day)
{
	int			y, m, d;
	char		tail;

	if (strncmp(name, PARTITION_PREFIX, strlen(PARTITION_PREFIX)) != 0 ||
		sscanf(name + strlen(PARTITION_PREFIX), "%4d%2d%2d%c", &y, &m, &d, &tail) != 3 ||
		!IS_VALID_JULIAN(y, m, d))
		return false;
	*day = date2j(y, m, d) - POSTGRES_EPOCH_JDATE;
	return true;
}

/*
 * Dropping a partition locks qoe.viewing_events in ACCESS EXCLUSIVE mode. With
 * the lock timeout, a long query holds the drop back (it is retried on the
 * next call) instead of queueing every reader and writer behind the drop.
 */
static void
drop_partition(void *name)
{
	run_ddl(psprintf("DROP TABLE qoe.%s", quote_identifier((const char *) name)));
}

static bool
try_drop(const char *name)
{
	ErrorData  *edata = qoe_try_subtransaction(drop_partition, (void *) name);

	if (edata == NULL)
		return true;
	if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
		ReThrowError(edata);
	ereport(WARNING,
			(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
			 errmsg("partition qoe.%s was not dropped: qoe.viewing_events is in use", name),
			 errdetail("The lock was not granted within %s.", PARTITION_LOCK_TIMEOUT),
			 errhint("It is dropped by a later call of qoe.drop_old_partitions().")));
	FreeErrorData(edata);
	return false;
}

PG_FUNCTION_INFO_V1(qoe_drop_old_partitions);
Datum
qoe_drop_old_partitions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TimestampTz cutoff;
	QoeCatalog	cat;
	OwnerContext ctx;
	List	   *children;
	ListCell   *lc;

	/* calendar arithmetic that fails on overflow, never wraps around */
	if (PG_ARGISNULL(0))
		cutoff = now - (TimestampTz) qoe_event_retention_s * USECS_PER_SEC;
	else
		cutoff = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
														 TimestampTzGetDatum(now),
														 PG_GETARG_DATUM(0)));
	if (cutoff > now - USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retention must be at least one day"),
				 errhint("Raw events are dropped a whole day at a time.")));

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	qoe_catalog_lookup(&cat);
	children = find_inheritance_children(cat.viewing_events_oid, AccessShareLock);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	become_owner(&cat, &ctx);
	foreach(lc, children)
	{
		char	   *name = get_rel_name(lfirst_oid(lc));
		int32		day;
		Datum		value;
		bool		isnull = false;

		/* partitions not made by qoe_ext are left alone */
		if (name == NULL || !day_of_partition_name(name, &day) ||
			(TimestampTz) (day + 1) * USECS_PER_DAY > cutoff)
			continue;
		if (!try_drop(name))
			continue;
		value = CStringGetTextDatum(name);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	become_caller(&ctx);
	SPI_finish();
	return (Datum) 0;
}
