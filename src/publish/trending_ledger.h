/*
 * trending_ledger.h: the plays of the last hour, kept by the Redis publisher
 * as ingest commits change them, so that a round publishes trending_content
 * without reading qoe.sessions (doc/redis.md, trending_content).
 *
 * Per session (the viewers ledger's 64-bit hash of its session_id) past its
 * first frame and started within the hour: its title and started_at. The
 * viewers ledger (viewers_ledger.c) feeds it from the notes of its ring and
 * rebuilds it in its rebase, in the same snapshot.
 */
#ifndef QOE_TRENDING_LEDGER_H
#define QOE_TRENDING_LEDGER_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* Plays counted for an hour after they start (qoe.trending_content). */
#define QOE_TRENDING_WINDOW_US ((int64) 3600 * USECS_PER_SEC)

/* A title of trending_content, score as qoe.trending_content computes it. */
typedef struct QoeTrendingScore
{
	int64		content_id;
	double		score;
} QoeTrendingScore;

/* Empty; the calling process keeps it. */
extern void qoe_trending_ledger_reset(void);

/*
 * A committed session's state: past its first frame (played) or not,
 * started at started_at, on content_id; now is the caller's clock.
 */
extern void qoe_trending_ledger_note(uint64 session, int64 content_id, bool played,
									 TimestampTz started_at, TimestampTz now);

/*
 * The n titles of the highest scores at now (ties by content_id), into
 * *top (palloc'd in the current memory context); returns how many. Drops
 * the plays older than the hour.
 */
extern int	qoe_trending_ledger_top(TimestampTz now, int n, QoeTrendingScore **top);

#endif
