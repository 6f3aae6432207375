/*
 * event_decode.h: JSON playback telemetry -> typed events.
 *
 * The one decoder every ingest path uses (SQL today, Kafka workers later):
 * raw JSON bytes holding one event object or an array of them come in; typed
 * events and, for whatever cannot be accepted, a precise rejection reason
 * come out. It writes nothing; event_writer.c stores the result.
 */
#ifndef QOE_EVENT_DECODE_H
#define QOE_EVENT_DECODE_H

#include "datatype/timestamp.h"

/* Canonical event types, in the order of the SQL enum qoe.event_type. */
typedef enum QoeEventType
{
	QOE_EV_START,
	QOE_EV_FIRST_FRAME,
	QOE_EV_HEARTBEAT,
	QOE_EV_BUFFERING,
	QOE_EV_PAUSE,
	QOE_EV_RESUME,
	QOE_EV_SEEK,
	QOE_EV_BITRATE_CHANGE,
	QOE_EV_ERROR,
	QOE_EV_STOP,
	QOE_EV_COUNT
} QoeEventType;

/* Which optional fields an event carries (QoeEvent.present). */
#define QOE_HAS_PROFILE			(1 << 0)
#define QOE_HAS_POSITION		(1 << 1)
#define QOE_HAS_BITRATE			(1 << 2)
#define QOE_HAS_BUFFER_HEALTH	(1 << 3)
#define QOE_HAS_BUFFERING_EVENTS (1 << 4)
#define QOE_HAS_DROPPED_FRAMES	(1 << 5)
#define QOE_HAS_STALL_MS		(1 << 6)
#define QOE_HAS_VST_MS			(1 << 7)
#define QOE_HAS_FATAL			(1 << 8)
#define QOE_HAS_DURATION		(1 << 9)
#define QOE_HAS_SEEK_INDUCED	(1 << 10)

typedef struct QoeEvent
{
	QoeEventType type;
	uint32		present;
	TimestampTz event_time;
	int64		user_id;
	int64		content_id;
	int64		profile_id;
	double		position_sec;
	double		buffer_health_sec;
	double		content_duration_sec;
	int32		bitrate_kbps;
	int32		buffering_events;
	int32		dropped_frames;
	int32		stall_ms;
	int32		vst_ms;
	bool		fatal;
	bool		seek_induced;	/* buffering: the client says a seek caused it */
	int			item_index;		/* position in the payload's array, from 0 */
	int			origin;			/* index of its payload in the caller's QoeSource array */
	const char *raw;			/* the event's own JSON text inside the payload */
	size_t		raw_len;
	char	   *session_id;
	char	   *event_id;		/* NULL when absent */
	char	   *error_code;
	char	   *resolution;
	char	   *device_type;
	char	   *country;
	char	   *cdn_pop;
	char	   *extra;			/* unknown fields as a JSON object, or NULL */
} QoeEvent;

typedef struct QoeRejection
{
	int			item_index;		/* -1 when the whole payload was rejected */
	char	   *reason;
	char	   *payload;		/* the rejected bytes, NUL-terminated */
	size_t		payload_len;	/* may hold NULs when the payload was not JSON */
} QoeRejection;

/* Events outside [min_time, max_time] are rejected; received_at fills a
 * missing timestamp. */
typedef struct QoeDecodeWindow
{
	TimestampTz received_at;
	TimestampTz min_time;
	TimestampTz max_time;
} QoeDecodeWindow;

typedef struct QoeDecoded
{
	QoeEvent   *events;
	int			nevents;
	QoeRejection *rejections;
	int			nrejections;
} QoeDecoded;

extern void qoe_decode_window_now(QoeDecodeWindow *window);
extern void qoe_decode_payload(const char *data, size_t len,
							   const QoeDecodeWindow *window, QoeDecoded *out);
extern const char *qoe_event_type_name(QoeEventType type);

#endif
