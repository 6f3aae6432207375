/*
 * session_fold.c: how events make a session (definitions in doc/metrics.md).
 *
 * session_fold_apply() takes events in qoe_event_order_cmp() order. Between
 * two events the player is in one state (not started, playing, paused,
 * stalled, stalled after a seek, ended) with one rendition, which is what
 * makes sample-and-hold bitrate and pause time computable one event at a time.
 */
#include "postgres.h"

#include "ingest/session_fold.h"

#define COMPLETION_SHARE 0.70

static int64
ms_between(TimestampTz from, TimestampTz to)
{
	return to > from ? (to - from) / 1000 : 0;
}

/* Strings sort NULL first; used for the event_id tie-break. */
static int
cmp_nullable_text(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

int
qoe_event_order_cmp(const QoeEvent *a, const QoeEvent *b)
{
	if (a->event_time != b->event_time)
		return a->event_time < b->event_time ? -1 : 1;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return cmp_nullable_text(a->event_id, b->event_id);
}

void
session_fold_init(SessionFold *fold)
{
	memset(fold, 0, sizeof(*fold));
	fold->version = SESSION_FOLD_VERSION;
}

static bool
is_playing(const SessionFold *fold)
{
	return (fold->flags & SF_HAS_FIRST_FRAME) &&
		!(fold->flags & (SF_ENDED | SF_PAUSED | SF_STALL_OPEN));
}

/* Attribute playing time up to t to the rendition that was playing. */
static void
weigh_bitrate_until(SessionFold *fold, TimestampTz t)
{
	if (is_playing(fold) && fold->bitrate_kbps > 0 && t > fold->weighed_until)
	{
		/* less the part of it a stall of known length took */
		int64		ms = ms_between(fold->weighed_until, t) -
			ms_between(Max(fold->weighed_until, fold->stall_opened_at),
					   Min(t, fold->stall_until));

		fold->bitrate_kbps_ms += (int64) fold->bitrate_kbps * ms;
		fold->bitrate_weight_ms += ms;
	}
	if (t > fold->weighed_until)
		fold->weighed_until = t;
}

static void
set_first_frame(SessionFold *fold, TimestampTz t, bool guessed)
{
	fold->first_frame_at = t;
	fold->flags |= SF_HAS_FIRST_FRAME;
	if (guessed)
		fold->flags |= SF_FIRST_FRAME_GUESSED;
	else
		fold->flags &= ~SF_FIRST_FRAME_GUESSED;
	fold->weighed_until = t;
}

/*
 * The first frame comes from a first_frame event or a vst_ms field, the
 * earlier of the two; failing both, from the first heartbeat with buffered
 * video, which a later explicit report replaces. The first vst_ms reported
 * is the start time even when a first_frame event came before it.
 */
static void
note_first_frame(SessionFold *fold, const QoeEvent *ev)
{
	bool		known = (fold->flags & SF_HAS_FIRST_FRAME) != 0;
	bool		guessed = known && (fold->flags & SF_FIRST_FRAME_GUESSED);
	TimestampTz t;

	if (fold->flags & SF_ENDED)
		return;
	if ((ev->present & QOE_HAS_VST_MS) && !(fold->flags & SF_HAS_VST_FIELD))
	{
		fold->flags |= SF_HAS_VST_FIELD;
		fold->vst_field_ms = ev->vst_ms;
		t = (fold->flags & SF_HAS_START)
			? fold->started_at + (TimestampTz) ev->vst_ms * 1000 : ev->event_time;
	}
	else if (ev->type == QOE_EV_FIRST_FRAME)
		t = ev->event_time;
	else
	{
		if (!known && ev->type == QOE_EV_HEARTBEAT &&
			(ev->present & QOE_HAS_BUFFER_HEALTH) && ev->buffer_health_sec > 0)
			set_first_frame(fold, ev->event_time, true);
		return;
	}
	if (!known || guessed)
		set_first_frame(fold, t, false);
	else if (t < fold->first_frame_at)
		fold->first_frame_at = t;	/* bitrate stays weighed from the first report */
}

/* Cumulative counters: take increments, and treat a drop as a reset. */
static void
add_counter(int32 value, int32 *last, int32 *total)
{
	int64		sum = (int64) *total + (value >= *last ? value - *last : value);

	*total = (int32) Min(sum, PG_INT32_MAX);
	*last = value;
}

/* The stall time of the latest stall's kind. */
static int64 *
stall_total(SessionFold *fold)
{
	return (fold->flags & SF_STALL_SEEK) ? &fold->seek_stall_ms : &fold->stall_ms;
}

/* A stall of unknown length lasts until the next event. */
static void
close_open_stall(SessionFold *fold, TimestampTz t)
{
	if (fold->flags & SF_STALL_OPEN)
	{
		*stall_total(fold) += ms_between(fold->stall_opened_at, t);
		fold->flags &= ~SF_STALL_OPEN;
	}
}

/*
 * One state at a time: a stall of known length still running at t (a new
 * stall, a pause, the end) is cut short there.
 */
static void
cut_stall(SessionFold *fold, TimestampTz t)
{
	if (t < fold->stall_until)
	{
		*stall_total(fold) -= ms_between(fold->stall_opened_at, fold->stall_until) -
			ms_between(fold->stall_opened_at, t);
		fold->stall_until = t;
	}
}

static void
end_session(SessionFold *fold, TimestampTz t)
{
	close_open_stall(fold, t);
	cut_stall(fold, t);
	if (fold->flags & SF_PAUSED)
	{
		fold->paused_ms += ms_between(fold->paused_at, t);
		fold->flags &= ~SF_PAUSED;
	}
	fold->flags = (fold->flags & ~SF_SEEK_WINDOW) | SF_ENDED;
	fold->ended_at = t;
}

static void
apply_bitrate(SessionFold *fold, int32 kbps)
{
	if ((fold->flags & SF_HAS_FIRST_FRAME) && fold->bitrate_kbps > 0 &&
		kbps != fold->bitrate_kbps)
	{
		fold->bitrate_switches++;
		if (kbps < fold->bitrate_kbps)
			fold->bitrate_downswitches++;
	}
	fold->bitrate_kbps = kbps;
	fold->peak_bitrate_kbps = Max(fold->peak_bitrate_kbps, kbps);
}

/*
 * A stall is seek-induced when the client says so, else when it is the first
 * buffering after a seek with no sign of playback in between.
 */
static void
apply_buffering(SessionFold *fold, const QoeEvent *ev)
{
	bool		seek_induced;

	/* before the first frame it is start time; paused or ended, no stall */
	if (!(fold->flags & SF_HAS_FIRST_FRAME) || (fold->flags & (SF_ENDED | SF_PAUSED)))
		return;
	seek_induced = (ev->present & QOE_HAS_SEEK_INDUCED)
		? ev->seek_induced : (fold->flags & SF_SEEK_WINDOW) != 0;
	cut_stall(fold, ev->event_time);
	fold->flags &= ~(SF_SEEK_WINDOW | SF_STALL_SEEK);
	if (seek_induced)
	{
		fold->flags |= SF_STALL_SEEK;
		fold->seek_stall_events++;
	}
	else
		fold->stall_events++;
	fold->stall_opened_at = ev->event_time;
	if (ev->present & QOE_HAS_STALL_MS)
	{
		*stall_total(fold) += ev->stall_ms;
		fold->stall_until = ev->event_time + (TimestampTz) ev->stall_ms * 1000;
	}
	else
		fold->flags |= SF_STALL_OPEN;
}

static void
apply_error(SessionFold *fold, const QoeEvent *ev)
{
	fold->error_count++;
	if (!ev->fatal || (fold->flags & SF_ENDED))
		return;
	fold->flags |= (fold->flags & SF_HAS_FIRST_FRAME) ? SF_PLAYBACK_FAILED : SF_START_FAILED;
	end_session(fold, ev->event_time);
}

void
session_fold_apply(SessionFold *fold, const QoeEvent *ev)
{
	TimestampTz t = ev->event_time;

	if (fold->event_count++ == 0)
		fold->started_at = t;
	fold->last_event_at = Max(fold->last_event_at, t);

	if (!(fold->flags & SF_ENDED))
	{
		weigh_bitrate_until(fold, t);
		close_open_stall(fold, t);
	}

	if (ev->type == QOE_EV_START && !(fold->flags & SF_HAS_START))
	{
		fold->flags |= SF_HAS_START;
		/* the request time, even when a skewed clock put other events first */
		fold->started_at = t;
	}
	note_first_frame(fold, ev);

	if (ev->present & QOE_HAS_POSITION)
	{
		fold->flags |= SF_HAS_POSITION;
		/* rounded as stored (real), so a rebuild from stored events agrees */
		fold->max_position_sec = Max(fold->max_position_sec, (float4) ev->position_sec);
	}
	if (ev->present & QOE_HAS_DURATION)
		fold->content_duration_sec = Max(fold->content_duration_sec,
										 (float4) ev->content_duration_sec);
	if (ev->present & QOE_HAS_BUFFERING_EVENTS)
		add_counter(ev->buffering_events, &fold->buffering_counter_last,
					&fold->buffering_counter_total);
	if (ev->present & QOE_HAS_DROPPED_FRAMES)
		add_counter(ev->dropped_frames, &fold->dropped_counter_last,
					&fold->dropped_counter_total);
	if ((ev->present & QOE_HAS_BITRATE) && !(fold->flags & SF_ENDED))
		apply_bitrate(fold, ev->bitrate_kbps);

	switch (ev->type)
	{
		case QOE_EV_BUFFERING:
			apply_buffering(fold, ev);
			break;
		case QOE_EV_HEARTBEAT:
			/* a playing player's heartbeat shows playback moving again */
			if (!(fold->flags & SF_PAUSED))
				fold->flags &= ~SF_SEEK_WINDOW;
			break;
		case QOE_EV_SEEK:
			if ((fold->flags & SF_HAS_FIRST_FRAME) && !(fold->flags & SF_ENDED))
				fold->flags |= SF_SEEK_WINDOW;
			break;
		case QOE_EV_PAUSE:
			if ((fold->flags & SF_HAS_FIRST_FRAME) && !(fold->flags & (SF_ENDED | SF_PAUSED)))
			{
				cut_stall(fold, t);
				fold->flags |= SF_PAUSED;
				fold->paused_at = t;
			}
			break;
		case QOE_EV_RESUME:
			if (fold->flags & SF_PAUSED)
			{
				fold->paused_ms += ms_between(fold->paused_at, t);
				fold->flags &= ~SF_PAUSED;
			}
			break;
		case QOE_EV_ERROR:
			apply_error(fold, ev);
			break;
		case QOE_EV_STOP:
			if (!(fold->flags & SF_ENDED))
				end_session(fold, t);
			break;
		default:
			break;
	}
}

void
session_fold_metrics(const SessionFold *fold, double catalog_duration_sec, SessionMetrics *m)
{
	TimestampTz play_end = (fold->flags & SF_ENDED) ? fold->ended_at : fold->last_event_at;
	int64		open_stall = (fold->flags & SF_STALL_OPEN)
		? ms_between(fold->stall_opened_at, play_end) : 0;
	bool		open_is_seek = (fold->flags & SF_STALL_SEEK) != 0;
	int64		open_pause = (fold->flags & SF_PAUSED)
		? ms_between(fold->paused_at, play_end) : 0;

	memset(m, 0, sizeof(*m));
	m->ended = (fold->flags & SF_ENDED) != 0;
	m->has_position = (fold->flags & SF_HAS_POSITION) != 0;
	m->has_first_frame = (fold->flags & SF_HAS_FIRST_FRAME) != 0;
	m->start_failed = (fold->flags & SF_START_FAILED) != 0;
	m->playback_failed = (fold->flags & SF_PLAYBACK_FAILED) != 0;
	m->stall_ms = fold->stall_ms + (open_is_seek ? 0 : open_stall);
	m->seek_stall_ms = fold->seek_stall_ms + (open_is_seek ? open_stall : 0);
	m->paused_ms = fold->paused_ms + open_pause;
	/* the client's counter counts every buffering, seek-induced ones too */
	m->stall_count = Max(fold->stall_events,
						 fold->buffering_counter_total - fold->seek_stall_events);
	m->seek_stall_count = fold->seek_stall_events;
	m->dropped_frames = fold->dropped_counter_total;

	if (fold->flags & SF_HAS_VST_FIELD)
	{
		m->has_vst = true;
		m->vst_ms = fold->vst_field_ms;
	}
	else if ((fold->flags & SF_HAS_START) && m->has_first_frame &&
			 fold->first_frame_at >= fold->started_at)
	{
		m->has_vst = true;
		m->vst_ms = (int32) Min(ms_between(fold->started_at, fold->first_frame_at), PG_INT32_MAX);
	}

	if (m->has_first_frame)
		m->watch_ms = Max(0, ms_between(fold->first_frame_at, play_end) -
						  m->stall_ms - m->seek_stall_ms - m->paused_ms);
	if (fold->bitrate_weight_ms > 0)
	{
		m->has_avg_bitrate = true;
		m->avg_bitrate_kbps = (int32) ((fold->bitrate_kbps_ms + fold->bitrate_weight_ms / 2) /
									   fold->bitrate_weight_ms);
	}
	else if (m->has_first_frame && fold->bitrate_kbps > 0)
	{
		/* playing for no measurable time yet: the rendition on screen */
		m->has_avg_bitrate = true;
		m->avg_bitrate_kbps = fold->bitrate_kbps;
	}

	m->content_duration_sec = fold->content_duration_sec > 0
		? fold->content_duration_sec : catalog_duration_sec;
	m->completed = m->content_duration_sec > 0 &&
		fold->max_position_sec >= COMPLETION_SHARE * m->content_duration_sec;
	m->ebvs = m->ended && !m->has_first_frame && !m->start_failed;
}
