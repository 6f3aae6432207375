/*
 * partitions.h: the daily partitions of qoe.viewing_events.
 */
#ifndef QOE_PARTITIONS_H
#define QOE_PARTITIONS_H

#include "catalog.h"

/* UTC day number (days since 2000-01-01) of a timestamp. */
extern int32 qoe_day_of(TimestampTz t);

/* The partition holding day `day`, created when missing. Needs SPI. */
extern Oid	qoe_partition_for_day(const QoeCatalog *cat, int32 day, bool *created);

/* Create today .. today + days; returns how many were created. Needs SPI. */
extern int	qoe_premake_partitions(const QoeCatalog *cat, int days);

#endif
