/*
 * sessions.h: keep qoe.sessions current as batches of events are written.
 */
#ifndef QOE_SESSIONS_H
#define QOE_SESSIONS_H

#include "core/catalog.h"
#include "ingest/event_decode.h"

/*
 * Fold events into their sessions. events[] is sorted by session_id, then by
 * qoe_event_order_cmp(). keep[i] is set false for an event that repeats an
 * event_id the session already has: it must not be stored. Must run inside
 * an SPI connection.
 */
extern void qoe_sessions_apply(const QoeCatalog *cat, QoeEvent **events, int n, bool *keep);

/* Mark sessions idle for longer than timeout_us abandoned; returns how many. */
extern uint64 qoe_sessions_expire(int64 timeout_us);

#endif
