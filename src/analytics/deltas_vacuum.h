/*
 * deltas_vacuum.h: the launcher vacuums qoe.session_window_deltas after the
 * merges of the rollups (doc/rollups.md, How the rollups are kept).
 */
#ifndef QOE_DELTAS_VACUUM_H
#define QOE_DELTAS_VACUUM_H

#include "postgres.h"

/*
 * VACUUM qoe.session_window_deltas (as its owner, skipping it when another
 * vacuum holds it, without truncating the heap) when its statistics count
 * dead rows: what the merges deleted. Call in a background process connected
 * to the database, outside any transaction (VACUUM runs its own). Never
 * throws: an error is returned (palloc'd in the caller's memory context), or
 * NULL.
 */
extern ErrorData *qoe_vacuum_deltas(void);

#endif
