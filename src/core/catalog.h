/*
 * catalog.h: where qoe_ext's own objects are, looked up once per batch.
 */
#ifndef QOE_CATALOG_H
#define QOE_CATALOG_H

#include "ingest/event_decode.h"
#include "executor/spi.h"
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

/*
 * SQL that qoe_ext runs itself resolves names as if search_path were
 * "pg_catalog, pg_temp", whatever the caller or the database set: objects in
 * other schemas (public.unnest, a public "=" operator) can never capture it.
 * qoe_pin_search_path() returns a GUC nest level; qoe_unpin_search_path()
 * restores the caller's setting. An error in between restores it too (the
 * (sub)transaction abort pops the nest level).
 */
extern int	qoe_pin_search_path(void);
extern void qoe_unpin_search_path(int nest_level);

/*
 * SPI_prepare sql and keep the plan for the backend's life (SPI_keepplan);
 * an error naming sql if it does not prepare. Call inside SPI_connect.
 */
extern SPIPlanPtr qoe_prepare_kept(const char *sql, int nargs, Oid *argtypes);

#endif
