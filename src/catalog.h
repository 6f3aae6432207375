/*
 * catalog.h: where qoe_ext's own objects are, looked up once per batch.
 */
#ifndef QOE_CATALOG_H
#define QOE_CATALOG_H

#include "event_decode.h"
#include "nodes/parsenodes.h"

typedef struct QoeCatalog
{
	Oid			namespace_oid;
	Oid			viewing_events_oid;
	Oid			sessions_oid;
	Oid			event_type_oids[QOE_EV_COUNT];	/* pg_enum oids by QoeEventType */
} QoeCatalog;

extern void qoe_catalog_lookup(QoeCatalog *cat);
extern Oid	qoe_relation_oid(Oid namespace_oid, const char *name);
extern QoeEventType qoe_event_type_from_oid(const QoeCatalog *cat, Oid enum_oid);
extern void qoe_require_ingest_privilege(Oid relid, AclMode mode, const char *what);

#endif
