/*
 * rollup.h: the 5-minute QoE rollups (doc/rollups.md).
 *
 * The batch writer hands over what it did to each session; rollup.c turns
 * that into changes to the session's per-window contributions, appended to
 * qoe.session_window_deltas in the ingest transaction. qoe.refresh_rollups()
 * (run by scheduler.c) merges them into qoe.session_windows and
 * re-aggregates the groups they touch into qoe.qoe_5min.
 */
#ifndef QOE_ROLLUP_H
#define QOE_ROLLUP_H

#include "core/catalog.h"
#include "executor/spi.h"
#include "ingest/sessions.h"

/* Window length: every window starts at a multiple of it since 2000-01-01 UTC. */
#define QOE_ROLLUP_WINDOW_US ((int64) 5 * 60 * USECS_PER_SEC)

/* The start of the window holding t. */
extern TimestampTz qoe_window_of(TimestampTz t);

/*
 * Append the changes a batch made to its sessions' windows (nothing while
 * qoe.rollup_status.enabled is off), and note for the Redis publisher those
 * that fall in the windows its qoe_metrics hashes show. Must run
 * inside the writer's SPI connection.
 */
extern void qoe_rollup_sessions(const QoeCatalog *cat, const QoeSessionChange *changes, int n);

/*
 * qoe_sessions_expire() returns these columns of the sessions it marked
 * abandoned; qoe_rollup_abandoned() counts those that never started as
 * EBVS in the window of their last event.
 */
#define QOE_ROLLUP_ABANDONED_COLUMNS \
	"session_id, user_id, content_id, country, device_type, cdn_pop, last_event_at, ebvs"
extern void qoe_rollup_abandoned(SPITupleTable *expired, uint64 n);

/*
 * Act as the owner of relid (the rollups' tables: ingest's own bookkeeping)
 * in a restricted security context; *save_userid, *save_sec get the caller's
 * identity, which SetUserIdAndSecContext or the (sub)transaction's abort
 * restores.
 */
extern void qoe_rollup_become_owner(Oid relid, Oid *save_userid, int *save_sec);

#endif
