/*
 * partitions.c: daily range partitions of qoe.viewing_events.
 *
 * A partition covers one UTC day and is named viewing_events_pYYYYMMDD, a
 * name made from the day number alone: no event text ever reaches the SQL
 * built here. Partitions are made ahead (premake) and, for late or early
 * events inside the accepted window, on demand in the ingesting transaction;
 * an advisory lock per day keeps two writers from racing to create one.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "partitions.h"

#define PARTITION_PREFIX "viewing_events_p"

/* advisory lock class of partition creation; the day is the other key */
#define PARTITION_LOCK_CLASS 0x716f6570	/* "qoep" */

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

Oid
qoe_partition_for_day(const QoeCatalog *cat, int32 day, bool *created)
{
	char		name[NAMEDATALEN];
	Oid			relid;
	LOCKTAG		tag;
	int			ret;

	*created = false;
	partition_name(day, name, sizeof(name));
	relid = get_relname_relid(name, cat->namespace_oid);
	if (OidIsValid(relid))
		return relid;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, PARTITION_LOCK_CLASS, (uint32) day, 3);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	AcceptInvalidationMessages();
	relid = get_relname_relid(name, cat->namespace_oid);
	if (OidIsValid(relid))
		return relid;

	ret = SPI_execute(psprintf("CREATE TABLE qoe.%s PARTITION OF qoe.viewing_events"
							   " FOR VALUES FROM (%s) TO (%s)",
							   quote_identifier(name), day_bound(day), day_bound(day + 1)),
					  false, 0);
	if (ret != SPI_OK_UTILITY)
		elog(ERROR, "creating partition %s failed: %s", name, SPI_result_code_string(ret));
	*created = true;
	return get_relname_relid(name, cat->namespace_oid);
}

int
qoe_premake_partitions(const QoeCatalog *cat, int days)
{
	int32		today = qoe_day_of(GetCurrentTimestamp());
	int			made = 0;

	for (int32 day = today; day <= today + days; day++)
	{
		bool		created;

		(void) qoe_partition_for_day(cat, day, &created);
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
	SPI_connect();
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

PG_FUNCTION_INFO_V1(qoe_drop_old_partitions);
Datum
qoe_drop_old_partitions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		retention_us;
	TimestampTz cutoff;
	QoeCatalog	cat;
	List	   *children;
	ListCell   *lc;

	if (PG_ARGISNULL(0))
		retention_us = (int64) qoe_event_retention_s * USECS_PER_SEC;
	else
	{
		Interval   *iv = PG_GETARG_INTERVAL_P(0);

		retention_us = iv->time + (int64) iv->day * USECS_PER_DAY +
			(int64) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;
	}
	if (retention_us < USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retention must be at least one day"),
				 errhint("Raw events are dropped a whole day at a time.")));
	cutoff = GetCurrentTimestamp() - retention_us;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	qoe_catalog_lookup(&cat);
	children = find_inheritance_children(cat.viewing_events_oid, AccessShareLock);
	SPI_connect();
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
		if (SPI_execute(psprintf("DROP TABLE qoe.%s", quote_identifier(name)), false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "dropping partition %s failed", name);
		value = CStringGetTextDatum(name);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	SPI_finish();
	return (Datum) 0;
}
