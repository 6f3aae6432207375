/*
 * catalog.c: find the extension's schema, tables and enum labels. A syscache
 * lookup per batch is cheap and stays right across DROP/CREATE EXTENSION.
 */
#include "postgres.h"

#include "executor/spi.h"

#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "core/catalog.h"

Oid
qoe_relation_oid(Oid namespace_oid, const char *name)
{
	Oid			relid = get_relname_relid(name, namespace_oid);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"qoe.%s\" does not exist", name),
				 errhint("Is the extension installed? Run CREATE EXTENSION qoe_ext.")));
	return relid;
}

void
qoe_catalog_lookup(QoeCatalog *cat)
{
	Oid			typid;

	cat->namespace_oid = get_namespace_oid("qoe", false);
	cat->viewing_events_oid = qoe_relation_oid(cat->namespace_oid, "viewing_events");
	cat->sessions_oid = qoe_relation_oid(cat->namespace_oid, "sessions");
	typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
							CStringGetDatum("event_type"),
							ObjectIdGetDatum(cat->namespace_oid));
	for (int i = 0; i < QOE_EV_COUNT; i++)
	{
		cat->event_type_oids[i] =
			GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid, ObjectIdGetDatum(typid),
							CStringGetDatum(qoe_event_type_name((QoeEventType) i)));
		if (!OidIsValid(cat->event_type_oids[i]))
			elog(ERROR, "qoe.event_type has no label \"%s\"",
				 qoe_event_type_name((QoeEventType) i));
	}
}

QoeEventType
qoe_event_type_from_oid(const QoeCatalog *cat, Oid enum_oid)
{
	for (int i = 0; i < QOE_EV_COUNT; i++)
		if (cat->event_type_oids[i] == enum_oid)
			return (QoeEventType) i;
	elog(ERROR, "unexpected qoe.event_type value %u", enum_oid);
	return QOE_EV_COUNT;		/* keep compiler quiet */
}

/*
 * The writer stores rows without the executor, so it checks the privileges
 * the equivalent INSERT and UPDATE statements would need.
 */
void
qoe_require_ingest_privilege(Oid relid, AclMode mode, const char *what)
{
	if (pg_class_aclcheck(relid, GetUserId(), mode) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to ingest events"),
				 errdetail("Ingesting needs %s.", what),
				 errhint("Grant it the role qoe_writer, which holds every privilege ingest needs.")));
}

int
qoe_pin_search_path(void)
{
	int			nest_level = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nest_level;
}

void
qoe_unpin_search_path(int nest_level)
{
	AtEOXact_GUC(true, nest_level);
}

SPIPlanPtr
qoe_prepare_kept(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}
