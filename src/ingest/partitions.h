/*
 * partitions.h: the daily partitions of qoe.viewing_events.
 */
#ifndef QOE_PARTITIONS_H
#define QOE_PARTITIONS_H

#include "core/catalog.h"

/* UTC day number (days since 2000-01-01) of a timestamp. */
extern int32 qoe_day_of(TimestampTz t);

/*
 * The partition holding day `day`, created (and attached) when missing, as
 * the owner of qoe.viewing_events. InvalidOid, with *problem saying why, when
 * the relation named for that day cannot take its events (not a plain table,
 * not attached to qoe.viewing_events, bounds not holding the day). Needs SPI.
 * A lock not granted within the lock timeout is an ERROR (lock_not_available).
 */
extern Oid	qoe_partition_for_day(const QoeCatalog *cat, int32 day, char **problem);

/*
 * Create the missing partitions of today .. today + days (UTC); returns how
 * many were created. Needs SPI; errors as qoe_partition_for_day.
 */
extern int	qoe_premake_partitions(const QoeCatalog *cat, int days);

#endif
