/*
 * event_decode.c: validate playback telemetry JSON (SPEC section 2) and turn
 * it into QoeEvent structs, or into rejections that say exactly what was
 * wrong. Pure parsing: no catalog access, no writes, so the SQL ingest
 * functions and the Kafka workers share it unchanged.
 *
 * Why no JSON library: ingest must beat COPY of the same events into a
 * jsonb table (~12 us per event, all included), and jansson's json_loadb
 * alone cost 7.3-8.8 us per generator event (~45 MB/s), building a tree
 * only to walk it once. Here json_scan.c reads the bytes once and each
 * member goes straight into its QoeEvent field; only the strings an event
 * keeps are allocated: 0.7 us per event, ~520 MB/s (bash bench/decode/run.sh).
 * The rules are still jansson's (bench/decode/fuzz.sh holds the two decoders
 * side by side): strict RFC 8259, the last of repeated keys wins, judged
 * once the object is complete, where the key first appeared. Except where
 * storage differs: an accepted event is one PostgreSQL can store, so what
 * jsonb_in or a column would refuse (\u0000, unpaired surrogates, bytes that
 * are not UTF-8, numbers outside numeric's range in unknown fields, values
 * outside a column's range, nesting jsonb_in may not take) rejects just
 * that event, naming the field; and any integer jsonb keeps is valid JSON.
 *
 * Everything is palloc'd in the caller's memory context. Every loop whose
 * length the client controls is near-linear and checks for interrupts.
 */
#include "postgres.h"

#include <math.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "ingest/event_decode.h"
#include "core/guc.h"
#include "ingest/json_scan.h"

#define MAX_TEXT_FIELD_LEN	200
#define MAX_BITRATE_KBPS	1000000
#define MAX_POSITION_SEC	1.0e7
#define MAX_STALL_MS		(24 * 3600 * 1000)
#define MAX_VST_MS			(3600 * 1000)
/*
 * Unknown fields become one jsonb object. jsonb_in recurses once per level
 * of nesting: 256 levels fit PostgreSQL's smallest max_stack_depth (100kB)
 * with room to spare. Their JSON text as sent (repeats included) is held to
 * 1 MB: far below jsonb's 256 MB per container, and it bounds the members
 * kept per event. A payload holds at most MAX_PAYLOAD_ITEMS events, so what
 * is kept for one payload stays far below palloc's 1 GB.
 */
#define MAX_EXTRA_DEPTH		256
#define MAX_EXTRA_LEN		(1024 * 1024)
#define MAX_PAYLOAD_ITEMS	1000000
#define MAX_EPOCH_MS		INT64CONST(1000000000000000)
#define MS_FROM_UNIX_TO_PG_EPOCH \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000)

typedef struct NamedType
{
	const char *name;
	size_t		len;
	QoeEventType type;
} NamedType;

#define NAMED(s, t) {s, sizeof(s) - 1, t}

/* Canonical names first, in QoeEventType order; then dotted names and SDK
 * aliases. Matched without regard to letter case. */
static const NamedType event_type_names[] = {
	NAMED("start", QOE_EV_START),
	NAMED("first_frame", QOE_EV_FIRST_FRAME),
	NAMED("heartbeat", QOE_EV_HEARTBEAT),
	NAMED("buffering", QOE_EV_BUFFERING),
	NAMED("pause", QOE_EV_PAUSE),
	NAMED("resume", QOE_EV_RESUME),
	NAMED("seek", QOE_EV_SEEK),
	NAMED("bitrate_change", QOE_EV_BITRATE_CHANGE),
	NAMED("error", QOE_EV_ERROR),
	NAMED("stop", QOE_EV_STOP),
	NAMED("video.playback.start", QOE_EV_START),
	NAMED("video_play", QOE_EV_START),
	NAMED("video.playback.heartbeat", QOE_EV_HEARTBEAT),
	NAMED("session_heartbeat", QOE_EV_HEARTBEAT),
	NAMED("video.playback.stop", QOE_EV_STOP),
	NAMED("video_stop", QOE_EV_STOP),
	NAMED("video_complete", QOE_EV_STOP),
	NAMED("video.buffering", QOE_EV_BUFFERING),
	NAMED("video_buffer", QOE_EV_BUFFERING),
	NAMED("video.error", QOE_EV_ERROR),
	NAMED("video_error", QOE_EV_ERROR),
	NAMED("video_pause", QOE_EV_PAUSE),
	NAMED("video_seek", QOE_EV_SEEK),
	NAMED("video_quality_change", QOE_EV_BITRATE_CHANGE),
};

/* The canonical keys; anything else goes to QoeEvent.extra. */
typedef enum EventKey
{
	K_EVENT_TYPE,
	K_EVENT_ID,
	K_SESSION_ID,
	K_USER_ID,
	K_PROFILE_ID,
	K_CONTENT_ID,
	K_TIMESTAMP,
	K_POSITION,
	K_BITRATE,
	K_RESOLUTION,
	K_BUFFER_HEALTH,
	K_BUFFERING_EVENTS,
	K_DROPPED_FRAMES,
	K_BUFFERING_MS,
	K_DURATION_MS,
	K_VST_MS,
	K_ERROR_CODE,
	K_FATAL,
	K_CONTENT_DURATION,
	K_DEVICE_TYPE,
	K_COUNTRY,
	K_CDN_POP,
	K_SEEK_INDUCED,
	K_COUNT,
	K_UNKNOWN = -1
} EventKey;

static const char *const key_names[K_COUNT] = {
	"event_type", "event_id", "session_id", "user_id", "profile_id",
	"content_id", "timestamp", "position_sec", "bitrate_kbps", "resolution",
	"buffer_health_sec", "buffering_events", "dropped_frames", "buffering_ms",
	"duration_ms", "vst_ms", "error_code", "fatal", "content_duration_sec",
	"device_type", "country", "cdn_pop", "seek_induced"
};

/* An unknown member, kept for QoeEvent.extra. */
typedef struct ExtraMember
{
	JsonScanValue key;			/* its JSON text, quotes included */
	JsonScanValue value;
	const char *name;			/* the key's unescaped text, to find repeats */
	size_t		name_len;
	bool		repeated;		/* a later member of the same name took its value */
} ExtraMember;

#define LOCAL_EXTRA		8
#define EXTRA_LINEAR	16		/* beyond this many, repeats are found by sorting */

/*
 * The members of one event object as scanned, judged once the object is
 * complete: with a repeated key the last value wins, at the place of the
 * first one, as with the jansson object the decoder used to walk. Unknown
 * members are all kept in order, repeats included, and resolved at the end.
 */
typedef struct EventMembers
{
	uint32		seen;			/* bit per EventKey */
	int			norder;
	int8		order[K_COUNT]; /* canonical keys in order of appearance */
	JsonScanValue value[K_COUNT];
	ExtraMember *extra;
	int			nextra;
	int			extra_cap;
	size_t		extra_len;		/* their JSON text, up to MAX_EXTRA_LEN + 1 */
	ExtraMember local_extra[LOCAL_EXTRA];
} EventMembers;

typedef struct DecodeState
{
	const QoeDecodeWindow *window;
	QoeDecoded *out;
	int			event_cap;
	int			reject_cap;
	EventMembers members;
} DecodeState;

const char *
qoe_event_type_name(QoeEventType type)
{
	return event_type_names[type].name;
}

static EventKey
lookup_key(const char *s, size_t len)
{
#define IS(k) (memcmp(s, key_names[k], len) == 0 ? (k) : K_UNKNOWN)
	switch (len)
	{
		case 5:
			return IS(K_FATAL);
		case 6:
			return IS(K_VST_MS);
		case 7:
			if (s[0] == 'u')
				return IS(K_USER_ID);
			return s[1] == 'o' ? IS(K_COUNTRY) : IS(K_CDN_POP);
		case 8:
			return IS(K_EVENT_ID);
		case 9:
			return IS(K_TIMESTAMP);
		case 10:
			switch (s[0])
			{
				case 'e':
					return s[1] == 'v' ? IS(K_EVENT_TYPE) : IS(K_ERROR_CODE);
				case 's':
					return IS(K_SESSION_ID);
				case 'p':
					return IS(K_PROFILE_ID);
				case 'c':
					return IS(K_CONTENT_ID);
				case 'r':
					return IS(K_RESOLUTION);
			}
			return K_UNKNOWN;
		case 11:
			return s[0] == 'd' && s[1] == 'u' ? IS(K_DURATION_MS) : IS(K_DEVICE_TYPE);
		case 12:
			if (s[0] == 'p')
				return IS(K_POSITION);
			if (s[0] == 's')
				return IS(K_SEEK_INDUCED);
			return s[1] == 'i' ? IS(K_BITRATE) : IS(K_BUFFERING_MS);
		case 14:
			return IS(K_DROPPED_FRAMES);
		case 16:
			return IS(K_BUFFERING_EVENTS);
		case 17:
			return IS(K_BUFFER_HEALTH);
		case 20:
			return IS(K_CONTENT_DURATION);
	}
	return K_UNKNOWN;
#undef IS
}

/*
 * The unescaped text of a string value, NUL-terminated: in buf when it
 * fits, else palloc'd.
 */
static char *
string_text(const JsonScanValue *v, char *buf, size_t bufsize, size_t *len)
{
	size_t		raw = v->end - v->start - 2;
	char	   *text = raw < bufsize ? buf : palloc(raw + 1);

	if (!v->escaped)
	{
		memcpy(text, v->start + 1, raw);
		text[raw] = '\0';
		*len = raw;
	}
	else
		*len = json_string_decode(v, text);
	return text;
}

static EventKey
key_of(const JsonScanValue *key)
{
	char		buf[128];
	size_t		len;

	if (!key->escaped)
		return lookup_key(key->start + 1, key->end - key->start - 2);
	/* "\u0075ser_id" is user_id; no canonical key needs more source than this */
	if ((size_t) (key->end - key->start - 2) >= sizeof(buf))
		return K_UNKNOWN;
	string_text(key, buf, sizeof(buf), &len);
	return lookup_key(buf, len);
}

static bool
lookup_event_type(const char *name, size_t len, QoeEventType *type)
{
	for (size_t i = 0; i < lengthof(event_type_names); i++)
		if (event_type_names[i].len == len &&
			pg_strncasecmp(name, event_type_names[i].name, len) == 0)
		{
			*type = event_type_names[i].type;
			return true;
		}
	return false;
}

/*
 * How many bytes of valid UTF-8 text to quote in a reason: at most max, and
 * never half a character (a reason is stored as text).
 */
static int
quote_len(const char *text, size_t len, int max)
{
	int			n = max;

	if (len <= (size_t) max)
		return (int) len;
	while (n > 0 && ((unsigned char) text[n] & 0xC0) == 0x80)
		n--;
	return n;
}

static const char *
kind_name(JsonScanKind kind)
{
	switch (kind)
	{
		case JSK_OBJECT:
			return "an object";
		case JSK_ARRAY:
			return "an array";
		case JSK_STRING:
			return "a string";
		case JSK_INTEGER:
		case JSK_REAL:
			return "a number";
		case JSK_TRUE:
		case JSK_FALSE:
			return "a boolean";
		case JSK_NULL:
			return "null";
	}
	return "unknown";
}

/*
 * Source text quoted in a reason (stored as text): at most max bytes, whole
 * UTF-8 characters, any other byte as \xNN, "..." where cut.
 */
static char *
printable(const char *text, size_t len, size_t max)
{
	char	   *out = palloc(max * 4 + 4);
	char	   *d = out;
	const char *p = text;
	const char *end = text + Min(len, max);

	while (p < end)
	{
		int			n = json_utf8_sequence((const unsigned char *) p, (const unsigned char *) end);

		if (n > 0 && *p != '\0')
		{
			memcpy(d, p, n);
			d += n;
			p += n;
		}
		else
			d += sprintf(d, "\\x%02x", (unsigned char) *p++);
	}
	if (len > max)
		d += sprintf(d, "...");
	*d = '\0';
	return out;
}

/* How a field is named in a reason: a canonical key, or an unknown one's text. */
static char *
field_label(const JsonScanValue *key)
{
	return printable(key->start + 1, key->end - key->start - 2, 64);
}

/* Why PostgreSQL cannot store a value; see json_scan.h. */
static char *
defect_reason(const char *what, const char *field, const JsonScanValue *v)
{
	char	   *why = NULL;

	switch (v->defect)
	{
		case JSD_NUL:
			why = pstrdup("\\u0000 is not allowed in text");
			break;
		case JSD_SURROGATE:
			why = psprintf("unpaired surrogate %.6s", v->defect_start);
			break;
		case JSD_UTF8:
			why = psprintf("invalid UTF-8 byte 0x%02x", (unsigned char) *v->defect_start);
			break;
		case JSD_NUMERIC:
			why = psprintf("number %s is outside the range of numeric",
						   printable(v->defect_start, v->defect_end - v->defect_start, 40));
			break;
		case JSD_NONE:
			elog(ERROR, "no defect to report");
	}
	return psprintf("%s \"%s\" cannot be stored: %s", what, field, why);
}

/*
 * Field readers: each returns NULL on success or the rejection reason.
 */
static char *
out_of_range(const char *key, const JsonScanValue *v, int64 min, int64 max)
{
	return psprintf("field \"%s\" is out of range: %s (allowed " INT64_FORMAT " to " INT64_FORMAT ")",
					key, printable(v->start, v->end - v->start, 40), min, max);
}

static char *
read_int64(const char *key, const JsonScanValue *v, int64 min, int64 max, int64 *out)
{
	if (v->kind == JSK_INTEGER && !v->huge)
		*out = v->integer;
	else if (v->kind == JSK_INTEGER)
		return out_of_range(key, v, min, max);
	else if (v->kind == JSK_REAL)
	{
		/* an integral real counts as an integer; HUGE_VAL is integral too */
		double		d = json_scan_real(v);

		if (d != floor(d))
			return psprintf("field \"%s\" must be an integer, got a number", key);
		if (fabs(d) >= 9.0e18)
			return out_of_range(key, v, min, max);
		*out = (int64) d;
	}
	else
		return psprintf("field \"%s\" must be an integer, got %s", key, kind_name(v->kind));
	if (*out < min || *out > max)
		return psprintf("field \"%s\" is out of range: " INT64_FORMAT
						" (allowed " INT64_FORMAT " to " INT64_FORMAT ")",
						key, *out, min, max);
	return NULL;
}

static char *
read_int32(const char *key, const JsonScanValue *v, int32 max, int32 *out)
{
	int64		value;
	char	   *reason = read_int64(key, v, 0, max, &value);

	*out = (int32) value;
	return reason;
}

static char *
read_bool(const char *key, const JsonScanValue *v, bool *out)
{
	if (v->kind != JSK_TRUE && v->kind != JSK_FALSE)
		return psprintf("field \"%s\" must be a boolean, got %s", key, kind_name(v->kind));
	*out = (v->kind == JSK_TRUE);
	return NULL;
}

/* A real column: the range is checked as a double, well inside float4's. */
static char *
read_double(const char *key, const JsonScanValue *v, double max, double *out)
{
	if (v->kind == JSK_INTEGER || v->kind == JSK_REAL)
		*out = json_scan_real(v);
	else
		return psprintf("field \"%s\" must be a number, got %s", key, kind_name(v->kind));
	if (!isfinite(*out))
		return psprintf("field \"%s\" is out of range: %s (allowed 0 to %g)", key,
						printable(v->start, v->end - v->start, 40), max);
	if (*out < 0 || *out > max)
		return psprintf("field \"%s\" is out of range: %g (allowed 0 to %g)", key, *out, max);
	return NULL;
}

static char *
text_too_long(const char *key, size_t len)
{
	return psprintf("field \"%s\" is too long: %zu bytes (at most %d)",
					key, len, MAX_TEXT_FIELD_LEN);
}

/* A text column; a string's defects were judged before. */
static char *
read_text(const char *key, const JsonScanValue *v, bool numbers_too, char **out)
{
	if (v->kind == JSK_STRING)
	{
		size_t		len = v->end - v->start - 2;
		char	   *text;

		if (!v->escaped)
		{
			if (len == 0)
				return psprintf("field \"%s\" is empty", key);
			if (len > MAX_TEXT_FIELD_LEN)
				return text_too_long(key, len);
			text = palloc(len + 1);
			memcpy(text, v->start + 1, len);
			text[len] = '\0';
		}
		else
		{
			/* unescaping never lengthens; the limit is on the unescaped text */
			text = palloc(len + 1);
			len = json_string_decode(v, text);
			if (len == 0)
				return psprintf("field \"%s\" is empty", key);
			if (len > MAX_TEXT_FIELD_LEN)
				return text_too_long(key, len);
		}
		*out = text;
		return NULL;
	}
	if (numbers_too && v->kind == JSK_INTEGER && !v->huge)
	{
		*out = psprintf(INT64_FORMAT, v->integer);
		return NULL;
	}
	if (numbers_too && v->kind == JSK_INTEGER)
	{
		/* beyond int64: its digits as written */
		size_t		len = v->end - v->start;

		if (len > MAX_TEXT_FIELD_LEN)
			return text_too_long(key, len);
		*out = pnstrdup(v->start, len);
		return NULL;
	}
	return psprintf("field \"%s\" must be a string, got %s", key, kind_name(v->kind));
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

/* Days in a month of the proleptic Gregorian calendar; m in 1 .. 12. */
static int
days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool		leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return days[m - 1] + (m == 2 && leap);
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
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
		mi > 59 || sec > 60 || off_h > 23 || off_m > 59)
		return false;
	*epoch_ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + sec * 1000 + ms -
		(int64) sign * (off_h * 60 + off_m) * 60000;
	return true;
}

static char *
read_timestamp(const JsonScanValue *v, TimestampTz *out)
{
	int64		epoch_ms;

	if (v->kind == JSK_STRING)
	{
		char		buf[64];
		size_t		len;
		char	   *text = string_text(v, buf, sizeof(buf), &len);

		if (!parse_iso8601_ms(text, &epoch_ms))
			return psprintf("field \"timestamp\" is not an ISO-8601 date-time: \"%.*s\"",
							quote_len(text, len, 64), text);
	}
	else if (v->kind == JSK_INTEGER && !v->huge)
		epoch_ms = v->integer;
	else if (v->kind == JSK_INTEGER || v->kind == JSK_REAL)
	{
		double		d = json_scan_real(v);

		/* the bound below, checked before converting (HUGE_VAL fails it) */
		if (!(fabs(d) <= (double) MAX_EPOCH_MS))
			return psprintf("field \"timestamp\" is out of range: %s",
							printable(v->start, v->end - v->start, 40));
		epoch_ms = (int64) rint(d);
	}
	else
		return psprintf("field \"timestamp\" must be epoch milliseconds or ISO-8601 text, got %s",
						kind_name(v->kind));
	/* keep the arithmetic below far from overflow; the window check does the rest */
	if (epoch_ms < -MAX_EPOCH_MS || epoch_ms > MAX_EPOCH_MS)
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

/* Read one canonical member into ev; NULL or the rejection reason. */
static char *
read_field(EventKey k, const JsonScanValue *v, QoeEvent *ev, bool *typed)
{
	const char *key = key_names[k];

	switch (k)
	{
		case K_EVENT_TYPE:
			{
				char		buf[64];
				size_t		len;
				char	   *name;

				if (v->kind != JSK_STRING)
					return psprintf("field \"event_type\" must be a string, got %s",
									kind_name(v->kind));
				if (!v->escaped)
				{
					name = (char *) v->start + 1;
					len = v->end - v->start - 2;
				}
				else
					name = string_text(v, buf, sizeof(buf), &len);
				if (!lookup_event_type(name, len, &ev->type))
				{
					if (!v->escaped)
						name = string_text(v, buf, sizeof(buf), &len);
					return psprintf("unknown event_type \"%.*s\"",
									quote_len(name, len, 64), name);
				}
				*typed = true;
				return NULL;
			}
		case K_EVENT_ID:
			return read_text(key, v, true, &ev->event_id);
		case K_SESSION_ID:
			return read_text(key, v, true, &ev->session_id);
		case K_USER_ID:
			return read_int64(key, v, 0, PG_INT64_MAX, &ev->user_id);
		case K_CONTENT_ID:
			return read_int64(key, v, 0, PG_INT64_MAX, &ev->content_id);
		case K_PROFILE_ID:
			ev->present |= QOE_HAS_PROFILE;
			return read_int64(key, v, 0, PG_INT64_MAX, &ev->profile_id);
		case K_TIMESTAMP:
			return read_timestamp(v, &ev->event_time);
		case K_POSITION:
			ev->present |= QOE_HAS_POSITION;
			return read_double(key, v, MAX_POSITION_SEC, &ev->position_sec);
		case K_BITRATE:
			ev->present |= QOE_HAS_BITRATE;
			return read_int32(key, v, MAX_BITRATE_KBPS, &ev->bitrate_kbps);
		case K_BUFFER_HEALTH:
			ev->present |= QOE_HAS_BUFFER_HEALTH;
			return read_double(key, v, MAX_POSITION_SEC, &ev->buffer_health_sec);
		case K_BUFFERING_EVENTS:
			ev->present |= QOE_HAS_BUFFERING_EVENTS;
			return read_int32(key, v, PG_INT32_MAX, &ev->buffering_events);
		case K_DROPPED_FRAMES:
			ev->present |= QOE_HAS_DROPPED_FRAMES;
			return read_int32(key, v, PG_INT32_MAX, &ev->dropped_frames);
		case K_BUFFERING_MS:
		case K_DURATION_MS:
			ev->present |= QOE_HAS_STALL_MS;
			return read_int32(key, v, MAX_STALL_MS, &ev->stall_ms);
		case K_VST_MS:
			ev->present |= QOE_HAS_VST_MS;
			return read_int32(key, v, MAX_VST_MS, &ev->vst_ms);
		case K_FATAL:
			ev->present |= QOE_HAS_FATAL;
			return read_bool(key, v, &ev->fatal);
		case K_SEEK_INDUCED:
			ev->present |= QOE_HAS_SEEK_INDUCED;
			return read_bool(key, v, &ev->seek_induced);
		case K_CONTENT_DURATION:
			ev->present |= QOE_HAS_DURATION;
			return read_double(key, v, MAX_POSITION_SEC, &ev->content_duration_sec);
		case K_ERROR_CODE:
			return read_text(key, v, true, &ev->error_code);
		case K_RESOLUTION:
			return read_text(key, v, false, &ev->resolution);
		case K_DEVICE_TYPE:
			return read_text(key, v, false, &ev->device_type);
		case K_COUNTRY:
			return read_text(key, v, false, &ev->country);
		case K_CDN_POP:
			return read_text(key, v, false, &ev->cdn_pop);
		case K_COUNT:
		case K_UNKNOWN:
			break;
	}
	return NULL;
}

/* Keep an unknown member for extra; repeats are resolved at the end. */
static void
add_extra(EventMembers *m, const JsonScanValue *key, const JsonScanValue *value)
{
	ExtraMember *e;

	if (m->nextra == m->extra_cap)
	{
		ExtraMember *bigger = palloc(sizeof(ExtraMember) * m->extra_cap * 2);

		memcpy(bigger, m->extra, sizeof(ExtraMember) * m->nextra);
		if (m->extra != m->local_extra)
			pfree(m->extra);
		m->extra = bigger;
		m->extra_cap *= 2;
	}
	e = &m->extra[m->nextra++];
	e->key = *key;
	e->value = *value;
	e->repeated = false;
	e->name = key->start + 1;
	e->name_len = key->end - key->start - 2;
	if (key->escaped)
	{
		char	   *text = palloc(e->name_len + 1);

		e->name_len = json_string_decode(key, text);
		e->name = text;
	}
}

/* Past the size limit the event is rejected: scan on, keep nothing. */
static void
keep_extra(EventMembers *m, const JsonScanValue *key, const JsonScanValue *value)
{
	if (m->extra_len <= MAX_EXTRA_LEN)
	{
		m->extra_len += (key->end - key->start) + (value->end - value->start);
		add_extra(m, key, value);
	}
}

static int
compare_names(const ExtraMember *a, const ExtraMember *b)
{
	int			c = memcmp(a->name, b->name, Min(a->name_len, b->name_len));

	if (c != 0)
		return c;
	return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}

/*
 * The indexes of the unknown members ordered by name, then by place: a
 * bottom-up merge sort, O(n log n) comparisons whatever keys a client
 * crafts (a hash table over client keys can be flooded).
 */
static int *
sort_by_name(const EventMembers *m)
{
	int			n = m->nextra;
	int		   *idx = palloc(sizeof(int) * n);
	int		   *tmp = palloc(sizeof(int) * n);

	for (int i = 0; i < n; i++)
		idx[i] = i;
	for (int width = 1; width < n; width *= 2)
	{
		for (int lo = 0; lo < n; lo += 2 * width)
		{
			int			mid = Min(lo + width, n);
			int			hi = Min(lo + 2 * width, n);
			int			a = lo,
						b = mid,
						d = lo;

			CHECK_FOR_INTERRUPTS();
			/* stable: on equal names the left (earlier) one goes first */
			while (a < mid && b < hi)
				tmp[d++] = compare_names(&m->extra[idx[b]], &m->extra[idx[a]]) < 0
					? idx[b++] : idx[a++];
			while (a < mid)
				tmp[d++] = idx[a++];
			while (b < hi)
				tmp[d++] = idx[b++];
		}
		{
			int		   *swap = idx;

			idx = tmp;
			tmp = swap;
		}
	}
	pfree(tmp);
	return idx;
}

/*
 * Repeated unknown keys: the first member of a name takes the value of the
 * last one, the others are marked repeated.
 */
static void
resolve_repeats(EventMembers *m)
{
	if (m->nextra <= EXTRA_LINEAR)
	{
		for (int i = 1; i < m->nextra; i++)
			for (int j = 0; j < i; j++)
				if (!m->extra[j].repeated && compare_names(&m->extra[j], &m->extra[i]) == 0)
				{
					m->extra[j].value = m->extra[i].value;
					m->extra[i].repeated = true;
					break;
				}
	}
	else
	{
		int		   *idx = sort_by_name(m);

		for (int i = 0; i < m->nextra;)
		{
			int			j = i + 1;

			while (j < m->nextra && compare_names(&m->extra[idx[i]], &m->extra[idx[j]]) == 0)
			{
				m->extra[idx[j]].repeated = true;
				j++;
			}
			if (j > i + 1)
				m->extra[idx[i]].value = m->extra[idx[j - 1]].value;
			i = j;
		}
		pfree(idx);
	}
}

/*
 * The unknown members as one compact JSON object, in order of appearance,
 * into *json; NULL, or the reason jsonb could not store it.
 */
static char *
extra_json(EventMembers *m, char **json)
{
	size_t		size = 2;
	char	   *d;

	if (m->extra_len > MAX_EXTRA_LEN)
		return psprintf("unknown fields are too large to store: more than %d bytes of JSON",
						MAX_EXTRA_LEN);
	resolve_repeats(m);
	for (int i = 0; i < m->nextra; i++)
	{
		const ExtraMember *e = &m->extra[i];

		if (e->repeated)
			continue;
		if (e->key.defect != JSD_NONE)
			return defect_reason("field name", field_label(&e->key), &e->key);
		if (e->value.defect != JSD_NONE)
			return defect_reason("field", field_label(&e->key), &e->value);
		if (e->value.depth >= MAX_EXTRA_DEPTH)
			return psprintf("field \"%s\" cannot be stored: nested %d levels deep (at most %d)",
							field_label(&e->key), e->value.depth, MAX_EXTRA_DEPTH - 1);
		size += e->key.end - e->key.start + 2 + (e->value.end - e->value.start);
	}
	d = *json = palloc(size + 1);
	*d++ = '{';
	for (int i = 0; i < m->nextra; i++)
	{
		const ExtraMember *e = &m->extra[i];

		if (e->repeated)
			continue;
		if (d - *json > 1)
			*d++ = ',';
		memcpy(d, e->key.start, e->key.end - e->key.start);
		d += e->key.end - e->key.start;
		*d++ = ':';
		d += json_compact(e->value.start, e->value.end, d);
	}
	*d++ = '}';
	*d = '\0';
	return NULL;
}

/*
 * Scan the event object at s->p into m, checking its syntax; false on a
 * syntax error. Nothing is judged yet: a later duplicate key may replace
 * a bad value.
 */
static bool
scan_event(JsonScanner *s, int depth, EventMembers *m)
{
	JsonScanValue key;
	int			r;

	m->seen = 0;
	m->norder = 0;
	m->nextra = 0;
	m->extra_len = 0;
	if (!json_scan_open(s, depth))
		return false;
	for (bool first = true; (r = json_scan_member(s, first, &key)) > 0; first = false)
	{
		EventKey	k = key_of(&key);

		CHECK_FOR_INTERRUPTS();
		if (k == K_UNKNOWN)
		{
			JsonScanValue value;

			if (!json_scan_value(s, depth + 1, &value))
				return false;
			keep_extra(m, &key, &value);
			continue;
		}
		if (!json_scan_value(s, depth + 1, &m->value[k]))
			return false;
		/* no column of its own: stored in extra, where a rebuild reads it */
		if (k == K_SEEK_INDUCED)
			keep_extra(m, &key, &m->value[k]);
		if ((m->seen & (1u << k)) == 0)
		{
			m->seen |= 1u << k;
			m->order[m->norder++] = (int8) k;
		}
	}
	return r == 0;
}

/*
 * Judge the scanned members of one event; NULL on success or the reason.
 * The canonical fields first, in order of appearance, then the unknown ones.
 */
static char *
decode_event(EventMembers *m, const QoeDecodeWindow *window, QoeEvent *ev)
{
	bool		typed = false;
	bool		timed = false;

	memset(ev, 0, sizeof(*ev));
	ev->user_id = -1;
	ev->content_id = -1;

	for (int i = 0; i < m->norder; i++)
	{
		EventKey	k = (EventKey) m->order[i];
		const JsonScanValue *v = &m->value[k];
		char	   *reason;

		if (v->kind == JSK_NULL)
			continue;			/* an explicit null is an absent field */
		/* a number's defect is numeric's: the columns here are not numeric */
		if (v->kind == JSK_STRING && v->defect != JSD_NONE)
			return defect_reason("field", key_names[k], v);
		reason = read_field(k, v, ev, &typed);
		if (reason != NULL)
			return reason;
		timed |= (k == K_TIMESTAMP);
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
	if (m->nextra > 0)
		return extra_json(m, &ev->extra);
	return NULL;
}

static void
add_rejection(DecodeState *st, int item_index, char *reason, char *payload,
			  size_t payload_len)
{
	QoeDecoded *out = st->out;
	QoeRejection *r;

	if (out->nrejections == st->reject_cap)
	{
		st->reject_cap = st->reject_cap * 2 + 4;
		out->rejections = out->rejections == NULL
			? palloc(sizeof(QoeRejection) * st->reject_cap)
			: repalloc(out->rejections, sizeof(QoeRejection) * st->reject_cap);
	}
	r = &out->rejections[out->nrejections++];
	r->item_index = item_index;
	r->reason = reason;
	r->payload = payload;
	r->payload_len = payload_len;
}

/* A rejected value's JSON text, compact. */
static void
reject_value(DecodeState *st, int item_index, char *reason, const char *start,
			 const char *end)
{
	char	   *text = palloc(end - start + 1);
	size_t		len = json_compact(start, end, text);

	add_rejection(st, item_index, reason, text, len);
}

/* One event (the payload, or an element of it); false on a syntax error. */
static bool
decode_item(JsonScanner *s, int depth, int item_index, DecodeState *st)
{
	QoeDecoded *out = st->out;

	if (json_scan_peek(s) == '{')
	{
		const char *start = s->p;
		char	   *reason;

		if (!scan_event(s, depth, &st->members))
			return false;
		if (out->nevents == st->event_cap)
		{
			st->event_cap *= 2;
			out->events = repalloc(out->events, sizeof(QoeEvent) * st->event_cap);
		}
		reason = decode_event(&st->members, st->window, &out->events[out->nevents]);
		if (reason == NULL)
		{
			QoeEvent   *ev = &out->events[out->nevents++];

			ev->item_index = item_index;
			ev->raw = start;
			ev->raw_len = s->p - start;
		}
		else
			reject_value(st, item_index, reason, start, s->p);
	}
	else
	{
		JsonScanValue v;

		if (!json_scan_value(s, depth, &v))
			return false;
		reject_value(st, item_index,
					 psprintf("event is %s, not a JSON object", kind_name(v.kind)),
					 v.start, v.end);
	}
	return true;
}

/*
 * The acceptance window around the server clock now, from the qoe.*_window
 * settings. Texts are decoded as UTF-8, so the database must be UTF8.
 */
void
qoe_decode_window_now(QoeDecodeWindow *window)
{
	TimestampTz now = GetCurrentTimestamp();

	if (GetDatabaseEncoding() != PG_UTF8)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("qoe_ext needs a UTF8 database"),
				 errdetail("This database uses encoding %s.", GetDatabaseEncodingName()),
				 errhint("Create the database with ENCODING 'UTF8'.")));
	window->received_at = now;
	window->min_time = now - (int64) qoe_late_window_s * USECS_PER_SEC;
	window->max_time = now + (int64) qoe_future_window_s * USECS_PER_SEC;
}

void
qoe_decode_payload(const char *data, size_t len, const QoeDecodeWindow *window,
				   QoeDecoded *out)
{
	JsonScanner s;
	DecodeState st;
	bool		ok;
	char	   *reason = NULL;	/* why the payload as a whole is rejected */

	memset(out, 0, sizeof(*out));
	st.window = window;
	st.out = out;
	st.reject_cap = 0;
	st.members.extra = st.members.local_extra;
	st.members.extra_cap = LOCAL_EXTRA;
	json_scan_init(&s, data, len);

	if (json_scan_peek(&s) == '[')
	{
		st.event_cap = 16;
		out->events = palloc(sizeof(QoeEvent) * st.event_cap);
		ok = json_scan_open(&s, 1);
		for (int i = 0; ok; i++)
		{
			int			r = json_scan_element(&s, i == 0);

			if (r <= 0)
			{
				ok = (r == 0);
				break;
			}
			if (i == MAX_PAYLOAD_ITEMS)
			{
				reason = psprintf("payload holds more than %d events", MAX_PAYLOAD_ITEMS);
				break;
			}
			CHECK_FOR_INTERRUPTS();
			ok = decode_item(&s, 2, i, &st);
		}
	}
	else
	{
		st.event_cap = 1;
		out->events = palloc(sizeof(QoeEvent));
		ok = decode_item(&s, 1, -1, &st);
		if (ok && out->nevents == 1)
		{
			/* the whole document is the event's text */
			out->events[0].raw = data;
			out->events[0].raw_len = len;
		}
	}
	if (ok && reason == NULL)
		ok = json_scan_finish(&s);
	if (!ok)
		reason = json_scan_error_message(&s);

	if (reason != NULL)
	{
		/* whatever was decoded goes, the raw bytes are the payload */
		char	   *raw = palloc(len + 1);

		memcpy(raw, data, len);
		raw[len] = '\0';
		out->nevents = 0;
		out->nrejections = 0;
		add_rejection(&st, -1, reason, raw, len);
	}
}
