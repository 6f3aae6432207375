/*
 * event_decode.c: validate playback telemetry JSON (SPEC section 2) with
 * jansson and turn it into QoeEvent structs, or into rejections that say
 * exactly what was wrong. Pure parsing: no catalog access, no writes, so the
 * SQL ingest functions and the Kafka workers can share it unchanged.
 *
 * jansson allocates through palloc (see EventDecodeInit), so a decoded batch
 * lives and dies with the caller's memory context, even on ERROR.
 */
#include "postgres.h"

#include <math.h>
#include <jansson.h>

#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "event_decode.h"

#define MAX_TEXT_FIELD_LEN	200
#define MAX_BITRATE_KBPS	1000000
#define MAX_POSITION_SEC	1.0e7
#define MAX_STALL_MS		(24 * 3600 * 1000)
#define MAX_VST_MS			(3600 * 1000)
#define MS_FROM_UNIX_TO_PG_EPOCH \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000)

static const char *const event_type_names[QOE_EV_COUNT] = {
	"start", "first_frame", "heartbeat", "buffering", "pause", "resume",
	"seek", "bitrate_change", "error", "stop"
};

/* Dotted names and SDK aliases accepted for the canonical types. */
static const struct
{
	const char *name;
	QoeEventType type;
}			event_type_aliases[] = {
	{"video.playback.start", QOE_EV_START},
	{"video_play", QOE_EV_START},
	{"video.playback.heartbeat", QOE_EV_HEARTBEAT},
	{"session_heartbeat", QOE_EV_HEARTBEAT},
	{"video.playback.stop", QOE_EV_STOP},
	{"video_stop", QOE_EV_STOP},
	{"video_complete", QOE_EV_STOP},
	{"video.buffering", QOE_EV_BUFFERING},
	{"video_buffer", QOE_EV_BUFFERING},
	{"video.error", QOE_EV_ERROR},
	{"video_error", QOE_EV_ERROR},
	{"video_pause", QOE_EV_PAUSE},
	{"video_seek", QOE_EV_SEEK},
	{"video_quality_change", QOE_EV_BITRATE_CHANGE},
};

/* The canonical fields; anything else goes to QoeEvent.extra. */
typedef enum EventField
{
	F_UNKNOWN,
	F_EVENT_TYPE,
	F_EVENT_ID,
	F_SESSION_ID,
	F_USER_ID,
	F_PROFILE_ID,
	F_CONTENT_ID,
	F_TIMESTAMP,
	F_POSITION,
	F_BITRATE,
	F_RESOLUTION,
	F_BUFFER_HEALTH,
	F_BUFFERING_EVENTS,
	F_DROPPED_FRAMES,
	F_STALL_MS,
	F_VST_MS,
	F_ERROR_CODE,
	F_FATAL,
	F_DURATION,
	F_DEVICE_TYPE,
	F_COUNTRY,
	F_CDN_POP
} EventField;

static const struct
{
	const char *name;
	EventField	field;
}			field_names[] = {
	{"event_type", F_EVENT_TYPE},
	{"event_id", F_EVENT_ID},
	{"session_id", F_SESSION_ID},
	{"user_id", F_USER_ID},
	{"profile_id", F_PROFILE_ID},
	{"content_id", F_CONTENT_ID},
	{"timestamp", F_TIMESTAMP},
	{"position_sec", F_POSITION},
	{"bitrate_kbps", F_BITRATE},
	{"resolution", F_RESOLUTION},
	{"buffer_health_sec", F_BUFFER_HEALTH},
	{"buffering_events", F_BUFFERING_EVENTS},
	{"dropped_frames", F_DROPPED_FRAMES},
	{"buffering_ms", F_STALL_MS},
	{"duration_ms", F_STALL_MS},
	{"vst_ms", F_VST_MS},
	{"error_code", F_ERROR_CODE},
	{"fatal", F_FATAL},
	{"content_duration_sec", F_DURATION},
	{"device_type", F_DEVICE_TYPE},
	{"country", F_COUNTRY},
	{"cdn_pop", F_CDN_POP},
};

static void *
palloc_for_jansson(size_t size)
{
	return palloc(size > 0 ? size : 1);
}

static void
pfree_for_jansson(void *ptr)
{
	if (ptr != NULL)
		pfree(ptr);
}

void
EventDecodeInit(void)
{
	json_set_alloc_funcs(palloc_for_jansson, pfree_for_jansson);
}

const char *
qoe_event_type_name(QoeEventType type)
{
	return event_type_names[type];
}

static EventField
lookup_field(const char *key)
{
	for (size_t i = 0; i < lengthof(field_names); i++)
		if (strcmp(key, field_names[i].name) == 0)
			return field_names[i].field;
	return F_UNKNOWN;
}

static bool
lookup_event_type(const char *name, QoeEventType *type)
{
	for (int i = 0; i < QOE_EV_COUNT; i++)
		if (pg_strcasecmp(name, event_type_names[i]) == 0)
		{
			*type = (QoeEventType) i;
			return true;
		}
	for (size_t i = 0; i < lengthof(event_type_aliases); i++)
		if (pg_strcasecmp(name, event_type_aliases[i].name) == 0)
		{
			*type = event_type_aliases[i].type;
			return true;
		}
	return false;
}

static const char *
json_kind_name(const json_t *v)
{
	switch (json_typeof(v))
	{
		case JSON_OBJECT:
			return "an object";
		case JSON_ARRAY:
			return "an array";
		case JSON_STRING:
			return "a string";
		case JSON_INTEGER:
		case JSON_REAL:
			return "a number";
		case JSON_TRUE:
		case JSON_FALSE:
			return "a boolean";
		case JSON_NULL:
			return "null";
	}
	return "unknown";
}

/*
 * Field readers: each returns NULL on success or the rejection reason.
 */
static char *
read_int64(const char *key, const json_t *v, int64 min, int64 max, int64 *out)
{
	if (json_is_integer(v))
		*out = json_integer_value(v);
	else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
			 fabs(json_real_value(v)) < 9.0e18)
		*out = (int64) json_real_value(v);
	else
		return psprintf("field \"%s\" must be an integer, got %s", key, json_kind_name(v));
	if (*out < min || *out > max)
		return psprintf("field \"%s\" is out of range: " INT64_FORMAT
						" (allowed " INT64_FORMAT " to " INT64_FORMAT ")",
						key, *out, min, max);
	return NULL;
}

static char *
read_int32(const char *key, const json_t *v, int32 max, int32 *out)
{
	int64		value;
	char	   *reason = read_int64(key, v, 0, max, &value);

	*out = (int32) value;
	return reason;
}

static char *
read_double(const char *key, const json_t *v, double max, double *out)
{
	if (!json_is_number(v))
		return psprintf("field \"%s\" must be a number, got %s", key, json_kind_name(v));
	*out = json_number_value(v);
	if (!isfinite(*out) || *out < 0 || *out > max)
		return psprintf("field \"%s\" is out of range: %g (allowed 0 to %g)", key, *out, max);
	return NULL;
}

static char *
read_text(const char *key, const json_t *v, bool numbers_too, char **out)
{
	if (json_is_string(v))
	{
		size_t		len = json_string_length(v);

		if (len == 0)
			return psprintf("field \"%s\" is empty", key);
		if (len > MAX_TEXT_FIELD_LEN)
			return psprintf("field \"%s\" is too long: %zu bytes (at most %d)",
							key, len, MAX_TEXT_FIELD_LEN);
		*out = pstrdup(json_string_value(v));
		return NULL;
	}
	if (numbers_too && json_is_integer(v))
	{
		*out = psprintf(INT64_FORMAT, (int64) json_integer_value(v));
		return NULL;
	}
	return psprintf("field \"%s\" must be a string, got %s", key, json_kind_name(v));
}

/* Days from 1970-01-01 of a proleptic Gregorian date. */
static int64
days_from_civil(int y, int m, int d)
{
	int			era;
	unsigned	yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned) (y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64) era * 146097 + (int64) doe - 719468;
}

static bool
read_digits(const char **p, int n, int *out)
{
	int			value = 0;

	for (int i = 0; i < n; i++)
	{
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		value = value * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = value;
	return true;
}

/*
 * ISO-8601 date-time: YYYY-MM-DD[T ]HH:MM[:SS[.fraction]][Z|+HH[:MM]|-HH[:MM]],
 * UTC when no offset is given. Returns epoch milliseconds.
 */
static bool
parse_iso8601_ms(const char *s, int64 *epoch_ms)
{
	const char *p = s;
	int			y, mo, d, h, mi, sec = 0, off_h = 0, off_m = 0, sign = 0;
	int64		ms = 0;

	if (!read_digits(&p, 4, &y) || *p++ != '-' || !read_digits(&p, 2, &mo) ||
		*p++ != '-' || !read_digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	if (!read_digits(&p, 2, &h) || *p++ != ':' || !read_digits(&p, 2, &mi))
		return false;
	if (*p == ':')
	{
		p++;
		if (!read_digits(&p, 2, &sec))
			return false;
		if (*p == '.' || *p == ',')
		{
			int			scale = 100;

			p++;
			if (*p < '0' || *p > '9')
				return false;
			for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
				ms += (*p - '0') * scale;
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-')
	{
		sign = (*p++ == '+') ? 1 : -1;
		if (!read_digits(&p, 2, &off_h))
			return false;
		if (*p == ':')
			p++;
		if (*p != '\0' && !read_digits(&p, 2, &off_m))
			return false;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
		sec > 60 || off_h > 23 || off_m > 59)
		return false;
	*epoch_ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + sec * 1000 + ms -
		(int64) sign * (off_h * 60 + off_m) * 60000;
	return true;
}

static char *
read_timestamp(const json_t *v, TimestampTz *out)
{
	int64		epoch_ms;

	if (json_is_string(v))
	{
		if (!parse_iso8601_ms(json_string_value(v), &epoch_ms))
			return psprintf("field \"timestamp\" is not an ISO-8601 date-time: \"%.64s\"",
							json_string_value(v));
	}
	else if (json_is_integer(v))
		epoch_ms = json_integer_value(v);
	else if (json_is_real(v) && isfinite(json_real_value(v)))
		epoch_ms = (int64) rint(json_real_value(v));
	else
		return psprintf("field \"timestamp\" must be epoch milliseconds or ISO-8601 text, got %s",
						json_kind_name(v));
	/* keep the arithmetic below far from overflow; the window check does the rest */
	if (epoch_ms < -1000000000000000LL || epoch_ms > 1000000000000000LL)
		return psprintf("field \"timestamp\" is out of range: " INT64_FORMAT, epoch_ms);
	*out = (epoch_ms - MS_FROM_UNIX_TO_PG_EPOCH) * 1000;
	return NULL;
}

static char *
window_violation(TimestampTz t, const QoeDecodeWindow *window)
{
	const char *hint = "";

	if (t >= window->min_time && t <= window->max_time)
		return NULL;
	/* epoch seconds sent where milliseconds are expected land in early 1970 */
	if (t < ((int64) 100000000000 - MS_FROM_UNIX_TO_PG_EPOCH) * 1000)
		hint = " (epoch seconds sent instead of milliseconds?)";
	return psprintf("timestamp %s is outside the accepted window %s to %s%s",
					pstrdup(timestamptz_to_str(t)),
					pstrdup(timestamptz_to_str(window->min_time)),
					pstrdup(timestamptz_to_str(window->max_time)), hint);
}

/* Read one canonical field into ev; NULL or the rejection reason. */
static char *
read_field(EventField field, const char *key, const json_t *v, QoeEvent *ev, bool *typed)
{
	switch (field)
	{
		case F_EVENT_TYPE:
			if (!json_is_string(v))
				return psprintf("field \"event_type\" must be a string, got %s", json_kind_name(v));
			if (!lookup_event_type(json_string_value(v), &ev->type))
				return psprintf("unknown event_type \"%.64s\"", json_string_value(v));
			*typed = true;
			return NULL;
		case F_EVENT_ID:
			return read_text(key, v, true, &ev->event_id);
		case F_SESSION_ID:
			return read_text(key, v, true, &ev->session_id);
		case F_USER_ID:
			return read_int64(key, v, 0, PG_INT64_MAX, &ev->user_id);
		case F_CONTENT_ID:
			return read_int64(key, v, 0, PG_INT64_MAX, &ev->content_id);
		case F_PROFILE_ID:
			ev->present |= QOE_HAS_PROFILE;
			return read_int64(key, v, 0, PG_INT64_MAX, &ev->profile_id);
		case F_TIMESTAMP:
			return read_timestamp(v, &ev->event_time);
		case F_POSITION:
			ev->present |= QOE_HAS_POSITION;
			return read_double(key, v, MAX_POSITION_SEC, &ev->position_sec);
		case F_BITRATE:
			ev->present |= QOE_HAS_BITRATE;
			return read_int32(key, v, MAX_BITRATE_KBPS, &ev->bitrate_kbps);
		case F_BUFFER_HEALTH:
			ev->present |= QOE_HAS_BUFFER_HEALTH;
			return read_double(key, v, MAX_POSITION_SEC, &ev->buffer_health_sec);
		case F_BUFFERING_EVENTS:
			ev->present |= QOE_HAS_BUFFERING_EVENTS;
			return read_int32(key, v, PG_INT32_MAX, &ev->buffering_events);
		case F_DROPPED_FRAMES:
			ev->present |= QOE_HAS_DROPPED_FRAMES;
			return read_int32(key, v, PG_INT32_MAX, &ev->dropped_frames);
		case F_STALL_MS:
			ev->present |= QOE_HAS_STALL_MS;
			return read_int32(key, v, MAX_STALL_MS, &ev->stall_ms);
		case F_VST_MS:
			ev->present |= QOE_HAS_VST_MS;
			return read_int32(key, v, MAX_VST_MS, &ev->vst_ms);
		case F_FATAL:
			if (!json_is_boolean(v))
				return psprintf("field \"fatal\" must be a boolean, got %s", json_kind_name(v));
			ev->present |= QOE_HAS_FATAL;
			ev->fatal = json_is_true(v);
			return NULL;
		case F_DURATION:
			ev->present |= QOE_HAS_DURATION;
			return read_double(key, v, MAX_POSITION_SEC, &ev->content_duration_sec);
		case F_ERROR_CODE:
			return read_text(key, v, true, &ev->error_code);
		case F_RESOLUTION:
			return read_text(key, v, false, &ev->resolution);
		case F_DEVICE_TYPE:
			return read_text(key, v, false, &ev->device_type);
		case F_COUNTRY:
			return read_text(key, v, false, &ev->country);
		case F_CDN_POP:
			return read_text(key, v, false, &ev->cdn_pop);
		case F_UNKNOWN:
			break;
	}
	return NULL;
}

/* Decode one event object; NULL on success or the rejection reason. */
static char *
decode_event(json_t *obj, const QoeDecodeWindow *window, QoeEvent *ev)
{
	const char *key;
	json_t	   *value;
	json_t	   *extra = NULL;
	bool		typed = false;
	bool		timed = false;

	memset(ev, 0, sizeof(*ev));
	ev->user_id = -1;
	ev->content_id = -1;

	json_object_foreach(obj, key, value)
	{
		EventField	field = lookup_field(key);
		char	   *reason;

		if (field == F_UNKNOWN)
		{
			/*
			 * Not json_object(): the postgres executable exports a function of
			 * that name, which wins over jansson's at dynamic link time.
			 */
			if (extra == NULL)
				extra = json_pack("{}");
			json_object_set(extra, key, value);
			continue;
		}
		if (json_is_null(value))
			continue;			/* an explicit null is an absent field */
		reason = read_field(field, key, value, ev, &typed);
		if (reason != NULL)
			return reason;
		timed |= (field == F_TIMESTAMP);
	}

	if (!typed)
		return pstrdup("missing required field \"event_type\"");
	if (ev->session_id == NULL)
		return pstrdup("missing required field \"session_id\"");
	if (ev->user_id < 0)
		return pstrdup("missing required field \"user_id\"");
	if (ev->content_id < 0)
		return pstrdup("missing required field \"content_id\"");
	if (!timed)
		ev->event_time = window->received_at;
	else
	{
		char	   *reason = window_violation(ev->event_time, window);

		if (reason != NULL)
			return reason;
	}
	if (extra != NULL)
	{
		ev->extra = json_dumps(extra, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(extra);
	}
	return NULL;
}

static void
add_rejection(QoeDecoded *out, int *cap, int item_index, char *reason,
			  char *payload, size_t payload_len)
{
	QoeRejection *r;

	if (out->nrejections == *cap)
	{
		*cap = *cap * 2 + 4;
		out->rejections = out->rejections == NULL
			? palloc(sizeof(QoeRejection) * *cap)
			: repalloc(out->rejections, sizeof(QoeRejection) * *cap);
	}
	r = &out->rejections[out->nrejections++];
	r->item_index = item_index;
	r->reason = reason;
	r->payload = payload;
	r->payload_len = payload_len;
}

static void
decode_item(json_t *item, int index, const QoeDecodeWindow *window,
			QoeDecoded *out, int *reject_cap)
{
	QoeEvent   *ev = &out->events[out->nevents];
	char	   *reason;

	if (!json_is_object(item))
		reason = psprintf("event is %s, not a JSON object", json_kind_name(item));
	else
		reason = decode_event(item, window, ev);

	if (reason == NULL)
	{
		ev->item_index = index;
		out->nevents++;
	}
	else
	{
		char	   *text = json_dumps(item, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

		add_rejection(out, reject_cap, index, reason, text, strlen(text));
	}
}

void
qoe_decode_payload(const char *data, size_t len, const QoeDecodeWindow *window,
				   QoeDecoded *out)
{
	json_error_t error;
	json_t	   *root;
	int			reject_cap = 0;

	memset(out, 0, sizeof(*out));
	root = json_loadb(data, len, JSON_DECODE_ANY, &error);
	if (root == NULL)
	{
		char	   *raw = palloc(len + 1);

		memcpy(raw, data, len);
		raw[len] = '\0';
		add_rejection(out, &reject_cap, -1,
					  psprintf("invalid JSON at line %d, column %d: %s",
							   error.line, error.column, error.text),
					  raw, len);
		return;
	}

	if (json_is_array(root))
	{
		size_t		n = json_array_size(root);

		out->events = palloc(sizeof(QoeEvent) * Max(n, 1));
		for (size_t i = 0; i < n; i++)
			decode_item(json_array_get(root, i), (int) i, window, out, &reject_cap);
	}
	else
	{
		out->events = palloc(sizeof(QoeEvent));
		decode_item(root, -1, window, out, &reject_cap);
	}
	json_decref(root);
}
