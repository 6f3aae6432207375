/*
 * session_fold.h: the playback session as a left fold over its events.
 *
 * Events are applied in a fixed order (event time, then event type, then
 * event_id), so the same set of events always yields the same session,
 * whatever order they arrived in. The running state is stored with the
 * session row (sessions.fold_state), so events newer than everything seen
 * are folded in without rereading the session's history.
 */
#ifndef QOE_SESSION_FOLD_H
#define QOE_SESSION_FOLD_H

#include "ingest/event_decode.h"

#define SESSION_FOLD_VERSION 2

/* SessionFold.flags */
#define SF_HAS_START		(1 << 0)
#define SF_HAS_FIRST_FRAME	(1 << 1)
#define SF_FIRST_FRAME_GUESSED (1 << 2)	/* from buffer health, may be replaced */
#define SF_ENDED			(1 << 3)
#define SF_START_FAILED		(1 << 4)
#define SF_PLAYBACK_FAILED	(1 << 5)
#define SF_PAUSED			(1 << 6)
#define SF_STALL_OPEN		(1 << 7)
#define SF_HAS_VST_FIELD	(1 << 8)
#define SF_HAS_POSITION		(1 << 9)
#define SF_SEEK_WINDOW		(1 << 10)	/* a seek, no buffering or progress since */
#define SF_STALL_SEEK		(1 << 11)	/* the latest stall is seek-induced */

typedef struct SessionFold
{
	int32		version;
	uint32		flags;
	TimestampTz started_at;		/* start event, else the first event */
	TimestampTz first_frame_at;
	TimestampTz last_event_at;
	TimestampTz ended_at;
	TimestampTz weighed_until;	/* playing time attributed to a bitrate so far */
	TimestampTz paused_at;
	TimestampTz stall_opened_at;
	TimestampTz stall_until;	/* end of the latest stall of known length */
	int64		stall_ms;
	int64		seek_stall_ms;
	int64		paused_ms;
	int64		bitrate_kbps_ms;	/* sum of bitrate x playing time */
	int64		bitrate_weight_ms;
	double		max_position_sec;
	double		content_duration_sec;
	int32		vst_field_ms;
	int32		bitrate_kbps;	/* the rendition playing now */
	int32		peak_bitrate_kbps;
	int32		bitrate_switches;
	int32		bitrate_downswitches;
	int32		stall_events;
	int32		seek_stall_events;
	int32		buffering_counter_last;
	int32		buffering_counter_total;
	int32		dropped_counter_last;
	int32		dropped_counter_total;
	int32		error_count;
	int32		event_count;
} SessionFold;

/* The session's columns as the fold derives them. */
typedef struct SessionMetrics
{
	bool		has_first_frame;
	bool		has_vst;
	bool		has_avg_bitrate;
	bool		ended;
	bool		has_position;
	int32		vst_ms;
	int64		watch_ms;
	int32		stall_count;
	int64		stall_ms;
	int32		seek_stall_count;
	int64		seek_stall_ms;
	int64		paused_ms;
	int32		avg_bitrate_kbps;
	int32		dropped_frames;
	bool		completed;
	bool		ebvs;
	bool		start_failed;
	bool		playback_failed;
	double		content_duration_sec;
} SessionMetrics;

extern void session_fold_init(SessionFold *fold);
extern void session_fold_apply(SessionFold *fold, const QoeEvent *ev);
extern void session_fold_metrics(const SessionFold *fold, double catalog_duration_sec,
								 SessionMetrics *m);
extern int	qoe_event_order_cmp(const QoeEvent *a, const QoeEvent *b);

#endif
