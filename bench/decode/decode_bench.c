/*
 * decode_bench.c: the event decoder outside the server, for timing and for
 * differential fuzzing.
 *
 * It links src/ingest/event_decode.c and src/ingest/json_scan.c as they are, with small
 * stand-ins for the few backend functions they call (palloc and friends,
 * psprintf, timestamptz_to_str); libpgport provides the rest. Built with
 * -DWITH_OLD it also links the jansson-based decoder of commit 8523c78
 * (renamed old_*), so both can be timed in one run and every fuzz input
 * can be judged by both.
 *
 *   decode_bench bench FILE [ROUNDS]   FILE holds one JSON payload per line
 *   decode_bench fuzz SEED ITERATIONS [FILE]
 *   decode_bench decode JSON|-         what both decoders make of it
 *   decode_bench libfuzzer [ARGS]      built with -DQOE_LIBFUZZER
 *
 * bench times jansson's json_loadb (parse only), the old decoder and the
 * new one on the same bytes, best of ROUNDS, and prints us/event and MB/s.
 * fuzz mutates seed payloads (and FILE's lines) and checks that nothing
 * crashes (build it with ASan/UBSan or run it under valgrind) and, with
 * WITH_OLD, that both decoders agree on everything but the wording of
 * syntax errors, the spelling of re-serialized JSON and what differs by
 * design. libfuzzer hands the decoder to libFuzzer's coverage-guided driver
 * and checks the same invariants of the output (check_output) on each input.
 */
#include "postgres.h"

#include <time.h>
#include <jansson.h>

#include "core/guc.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/timestamp.h"

#include "ingest/event_decode.h"
#include "ingest/json_scan.h"

#define JSON_DEPTH_PROBE JSON_SCAN_MAX_DEPTH

#ifdef WITH_OLD
extern void old_EventDecodeInit(void);
extern void old_qoe_decode_payload(const char *data, size_t len,
								   const QoeDecodeWindow *window, QoeDecoded *out);
#endif

/* ---------------------------------------------------------------- memory */

/*
 * Two allocators. The arena (bench) bump-allocates and forgets, like a
 * memory context reset after each batch. The tracked one (fuzz) mallocs
 * every chunk on its own, so ASan and valgrind see each chunk's bounds,
 * and frees them all at the reset.
 */
static bool use_arena = false;

typedef struct Chunk
{
	struct Chunk *prev;
	struct Chunk *next;
	size_t		size;
	size_t		pad;			/* keep the payload 16-byte aligned */
} Chunk;

static Chunk chunks = {&chunks, &chunks, 0, 0};

#define ARENA_BLOCK (8 * 1024 * 1024)
static char *arena_blocks[4096];
static int	arena_nblocks;
static int	arena_block;
static size_t arena_used;

static void *
arena_alloc(size_t size)
{
	size_t		need = MAXALIGN(size + sizeof(size_t));
	size_t	   *p;

	if (need > ARENA_BLOCK)
	{
		fprintf(stderr, "arena: chunk of %zu bytes too big\n", size);
		exit(2);
	}
	if (arena_nblocks == 0 || arena_used + need > ARENA_BLOCK)
	{
		if (arena_nblocks > 0)
			arena_block++;
		if (arena_block == arena_nblocks)
		{
			if (arena_nblocks == lengthof(arena_blocks))
			{
				fprintf(stderr, "arena: out of blocks\n");
				exit(2);
			}
			arena_blocks[arena_nblocks++] = malloc(ARENA_BLOCK);
		}
		arena_used = 0;
	}
	p = (size_t *) (arena_blocks[arena_block] + arena_used);
	arena_used += need;
	*p = size;
	return p + 1;
}

static void
memory_reset(void)
{
	if (use_arena)
	{
		arena_block = 0;
		arena_used = 0;
		return;
	}
	while (chunks.next != &chunks)
	{
		Chunk	   *c = chunks.next;

		chunks.next = c->next;
		free(c);
	}
	chunks.prev = &chunks;
}

void *
palloc(Size size)
{
	Chunk	   *c;

	if (use_arena)
		return arena_alloc(size);
	c = malloc(sizeof(Chunk) + size);
	if (c == NULL)
		abort();
	c->size = size;
	c->prev = &chunks;
	c->next = chunks.next;
	chunks.next->prev = c;
	chunks.next = c;
	return c + 1;
}

void *
palloc0(Size size)
{
	void	   *p = palloc(size);

	memset(p, 0, size);
	return p;
}

void
pfree(void *pointer)
{
	Chunk	   *c;

	if (use_arena)
		return;
	c = (Chunk *) pointer - 1;
	c->prev->next = c->next;
	c->next->prev = c->prev;
	free(c);
}

void *
repalloc(void *pointer, Size size)
{
	size_t		old = use_arena ? ((size_t *) pointer)[-1] : ((Chunk *) pointer - 1)->size;
	void	   *p = palloc(size);

	memcpy(p, pointer, Min(old, size));
	pfree(pointer);
	return p;
}

char *
pstrdup(const char *in)
{
	size_t		len = strlen(in);
	char	   *out = palloc(len + 1);

	memcpy(out, in, len + 1);
	return out;
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *out;

	len = strnlen(in, len);
	out = palloc(len + 1);
	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

char *
psprintf(const char *fmt,...)
{
	va_list		args;
	int			len;
	char	   *out;

	va_start(args, fmt);
	len = vsnprintf(NULL, 0, fmt, args);
	va_end(args);
	out = palloc(len + 1);
	va_start(args, fmt);
	vsnprintf(out, len + 1, fmt, args);
	va_end(args);
	return out;
}

/* UTC, enough to tell timestamps apart in messages */
const char *
timestamptz_to_str(TimestampTz t)
{
	static char buf[4][64];
	static int	next;
	char	   *out = buf[next++ % 4];
	int64		secs = t / USECS_PER_SEC + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
	time_t		tt = (time_t) secs;
	struct tm	tm;

	if (gmtime_r(&tt, &tm) == NULL)
		snprintf(out, 64, "(" INT64_FORMAT ")", (int64) t);
	else
		snprintf(out, 64, "%04d-%02d-%02d %02d:%02d:%02d+00", tm.tm_year + 1900,
				 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return out;
}

/*
 * qoe_decode_window_now() and the decoder's interrupt checks reach these;
 * the bench builds its window itself and is never interrupted.
 */
int			qoe_late_window_s = 3 * 86400;
int			qoe_future_window_s = 3600;
volatile sig_atomic_t InterruptPending = false;

void
ProcessInterrupts(void)
{
}

TimestampTz
GetCurrentTimestamp(void)
{
	return ((int64) time(NULL) -
			(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY) * USECS_PER_SEC;
}

int
GetDatabaseEncoding(void)
{
	return PG_UTF8;
}

const char *
GetDatabaseEncodingName(void)
{
	return "UTF8";
}

/* an ereport(ERROR) outside the server: say what, then stop */
bool
errstart_cold(int elevel, const char *domain)
{
	return true;
}

int
errcode(int sqlerrcode)
{
	return 0;
}

static int
print_message(const char *fmt, va_list args)
{
	vfprintf(stderr, fmt, args);
	fputc('\n', stderr);
	return 0;
}

int
errmsg(const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	print_message(fmt, args);
	va_end(args);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	print_message(fmt, args);
	va_end(args);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	return 0;
}

int
errhint(const char *fmt,...)
{
	return 0;
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	fprintf(stderr, "ERROR at %s:%d (%s)\n", filename, lineno, funcname);
	exit(2);
}

/* ---------------------------------------------------------------- input */

typedef struct Lines
{
	char	  **line;
	size_t	   *len;
	int			n;
	size_t		bytes;
} Lines;

static Lines
read_lines(const char *path)
{
	Lines		l = {0};
	FILE	   *f = fopen(path, "rb");
	char	   *buf = NULL;
	size_t		cap = 0;
	ssize_t		n;
	int			alloc = 0;

	if (f == NULL)
	{
		perror(path);
		exit(2);
	}
	while ((n = getline(&buf, &cap, f)) > 0)
	{
		if (buf[n - 1] == '\n')
			n--;
		if (l.n == alloc)
		{
			alloc = alloc * 2 + 64;
			l.line = realloc(l.line, sizeof(char *) * alloc);
			l.len = realloc(l.len, sizeof(size_t) * alloc);
		}
		/* exactly n bytes, no terminator: an overread is an ASan error */
		l.line[l.n] = malloc(n > 0 ? n : 1);
		memcpy(l.line[l.n], buf, n);
		l.len[l.n] = n;
		l.bytes += n;
		l.n++;
	}
	free(buf);
	fclose(f);
	return l;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static QoeDecodeWindow
wide_window(void)
{
	QoeDecodeWindow w;
	int64		now_us = ((int64) time(NULL) -
						  (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY) * USECS_PER_SEC;

	w.received_at = now_us;
	w.min_time = now_us - (int64) 3650 * USECS_PER_DAY;
	w.max_time = now_us + (int64) 3650 * USECS_PER_DAY;
	return w;
}

/* ---------------------------------------------------------------- bench */

typedef enum Contender
{
	C_JANSSON_PARSE, C_OLD, C_NEW, C_COUNT
} Contender;

static const char *const contender_names[C_COUNT] = {
	"jansson json_loadb only", "old decoder (jansson)", "new decoder (json_scan)"
};

static void
json_loadb_only(const char *data, size_t len)
{
	json_error_t error;
	json_t	   *root = json_loadb(data, len, JSON_DECODE_ANY, &error);

	if (root == NULL)
	{
		fprintf(stderr, "jansson: %s\n", error.text);
		exit(1);
	}
	json_decref(root);
}

static int
bench(const char *path, int rounds)
{
	Lines		l = read_lines(path);
	QoeDecodeWindow window = wide_window();
	double		best[C_COUNT];
	long		events = 0;

	use_arena = true;
	for (int c = 0; c < C_COUNT; c++)
		best[c] = -1;

	/* everything the new decoder accepts is counted; nothing may be rejected */
	for (int i = 0; i < l.n; i++)
	{
		QoeDecoded out;

		qoe_decode_payload(l.line[i], l.len[i], &window, &out);
		if (out.nrejections > 0)
		{
			fprintf(stderr, "line %d: rejected: %s\n", i + 1, out.rejections[0].reason);
			return 1;
		}
		events += out.nevents;
		memory_reset();
	}

	for (int r = 0; r < rounds; r++)
	{
		for (int c = 0; c < C_COUNT; c++)
		{
			double		t0;
			double		t;

#ifndef WITH_OLD
			if (c == C_OLD)
				continue;
#endif
			t0 = now_s();
			for (int i = 0; i < l.n; i++)
			{
				QoeDecoded out;

				switch ((Contender) c)
				{
					case C_JANSSON_PARSE:
						json_loadb_only(l.line[i], l.len[i]);
						break;
					case C_OLD:
#ifdef WITH_OLD
						old_qoe_decode_payload(l.line[i], l.len[i], &window, &out);
#endif
						break;
					case C_NEW:
						qoe_decode_payload(l.line[i], l.len[i], &window, &out);
						break;
					case C_COUNT:
						break;
				}
				memory_reset();
			}
			t = now_s() - t0;
			if (best[c] < 0 || t < best[c])
				best[c] = t;
		}
	}

	printf("%ld events in %d payloads, %.1f MB, %.0f bytes/event; best of %d rounds\n",
		   events, l.n, l.bytes / 1e6, (double) l.bytes / events, rounds);
	printf("%-26s %10s %10s %10s\n", "", "us/event", "MB/s", "vs new");
	for (int c = 0; c < C_COUNT; c++)
	{
		if (best[c] < 0)
			continue;
		printf("%-26s %10.3f %10.1f %9.1fx\n", contender_names[c],
			   best[c] * 1e6 / events, l.bytes / 1e6 / best[c], best[c] / best[C_NEW]);
	}
	return 0;
}

/* ---------------------------------------------------------------- fuzz */

static uint64 rng_state;

static uint64
rng(void)
{
	/* splitmix64 */
	uint64		z = (rng_state += UINT64CONST(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static int
rnd(int n)
{
	return (int) (rng() % (uint64) n);
}

typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

static void
buf_put(Buf *b, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (b->len + n > b->cap)
	{
		b->cap = (b->len + n) * 2 + 64;
		b->data = realloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

static void
buf_str(Buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static const char *const seeds[] = {
	"{\"event_type\":\"start\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2}",
	"[{\"event_type\":\"heartbeat\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2,\"position_sec\":1.5,\"buffer_health_sec\":8,\"x\":{\"a\":[1,2,{\"b\":null}]}},42,\"str\",[],{}]",
	"{\"event_type\":\"buffering\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2,\"buffering_ms\":500,\"duration_ms\":-5}",
	"{\"event_type\":\"start\",\"session_id\":\"s\",\"user_id\":\"x\",\"user_id\":7,\"content_id\":2,\"u\":1,\"u\":[2]}",
	"{\"event_type\":\"ERROR\",\"session_id\":12345,\"event_id\":7,\"user_id\":1.0,\"content_id\":2e0,\"fatal\":true,\"error_code\":404}",
	"{\"event_type\":\"start\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2,\"timestamp\":\"2026-01-02T03:04:05.678+01:00\"}",
	"{\"event_type\":\"start\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2,\"timestamp\":1700000000000.4}",
	"{\"event_type\":\"start\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2,\"timestamp\":1700000000}",
	"{\"ev\\u0065nt_type\":\"st\\u0061rt\",\"session_id\":\"\\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\",\"user_id\":1,\"content_id\":2,\"k\\u00e9y\":\"\\u00e9\"}",
	"{\"event_type\":\"start\",\"session_id\":\"\xc3\xbc" "n\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80\",\"user_id\":1,\"content_id\":2}",
	"  [ {\"event_type\" : \"stop\" , \"session_id\" : \"a b\" , \"user_id\" : 0 , \"content_id\" : 9223372036854775807 , \"extra\" : { \"k\" : [ 1 , -0 , -0.0 , 1e5 , 1E-5 , 0.1 ] } } ]  ",
	"{\"event_type\":\"seek\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2,\"bitrate_kbps\":1000001,\"vst_ms\":3600000,\"dropped_frames\":2147483647,\"buffering_events\":2147483648}",
	"{\"event_type\":\"start\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2,\"position_sec\":1e7,\"content_duration_sec\":10000000.5,\"resolution\":\"\"}",
	"{\"event_type\":\"start\",\"session_id\":null,\"user_id\":1,\"content_id\":2}",
	"{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,\"p\":16,\"q\":17,\"r\":18,\"a\":19,\"event_type\":\"stop\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2,\"r\":\"last\"}",
	"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	"[1,2.5,-3e-2,true,false,null,\"x\",{\"y\":[]}]",
	"{\"event_type\":\"video.playback.heartbeat\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2,\"timestamp\":\"2026-11-21 12:00\"}",
	"{\"event_type\":\"start\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2,\"timestamp\":1e300}",
	"{\"event_type\":\"start\",\"session_id\":\"s\",\"user_id\":123456789012345678901,\"content_id\":2}",
	"{\"event_type\":\"start\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2,\"position_sec\":0.30000000000000004,\"buffer_health_sec\":123456789012345678901234567890e-25}",
};

/* Bytes a mutation likes to insert: JSON's own and UTF-8's trouble makers. */
static const char *const inserts[] = {
	"{", "}", "[", "]", ",", ":", "\"", "\\", " ", "\n", "\t", "0", "1", "-", "+", ".", "e",
	"E", "true", "false", "null", "tru", "\\u", "\\ud800", "\\udc00", "\\ud83d\\ude00",
	"\\u0000", "\\x", "\xc3\xa9", "\xc3", "\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80",
	"\xf4\x90\x80\x80", "\xf0\x9f\x98\x80", "\xff", "\x01", "", "9223372036854775808",
	"-9223372036854775809", "1e999", "1e-999", "01", "1.", ".5", "-0", "\"user_id\":",
	"1e-16383", "1e-16384", "0e-16384", "0.5e-16382", "1e131071", "1e131072", "0.1e131072",
	"0e1073741822", "0e1073741823", "327267367867168100000", "-0e-99999", "\\udbff\\udfff",
	"\"event_type\":", "\"timestamp\":", "\"k\":", "null,", "[[[[", "]]]]", "{\"a\":",
};

static void
mutate(Buf *b)
{
	int			n = 1 + rnd(4);

	for (int m = 0; m < n; m++)
	{
		size_t		at = b->len > 0 ? (size_t) rnd((int) b->len + 1) : 0;
		int			op = rnd(6);

		if (op == 0 && b->len > 0 && at < b->len)
		{
			/* delete a few bytes */
			size_t		want = 1 + rnd(4);
			size_t		k = Min(want, b->len - at);

			memmove(b->data + at, b->data + at + k, b->len - at - k);
			b->len -= k;
		}
		else if (op == 1 && at < b->len)
			b->data[at] = (char) rnd(256);
		else if (op == 2)
			b->len = at;		/* truncate */
		else if (op == 3 && b->len > 0)
		{
			/* duplicate a span elsewhere */
			size_t		from = (size_t) rnd((int) b->len);
			size_t		want = 1 + rnd(40);
			size_t		k = Min(want, b->len - from);
			char	   *copy = malloc(k);
			Buf			tail = {0};

			memcpy(copy, b->data + from, k);
			buf_put(&tail, b->data + at, b->len - at);
			b->len = at;
			buf_put(b, copy, k);
			buf_put(b, tail.data, tail.len);
			free(copy);
			free(tail.data);
		}
		else
		{
			const char *s = inserts[rnd(lengthof(inserts))];
			Buf			tail = {0};

			buf_put(&tail, b->data + at, b->len - at);
			b->len = at;
			buf_str(b, s);
			buf_put(b, tail.data, tail.len);
			free(tail.data);
		}
	}
}

/* A random event-ish value: canonical keys with values of any type. */
static void
random_value(Buf *b, int depth)
{
	static const char *const keys[] = {
		"event_type", "event_id", "session_id", "user_id", "profile_id", "content_id",
		"timestamp", "position_sec", "bitrate_kbps", "resolution", "buffer_health_sec",
		"buffering_events", "dropped_frames", "buffering_ms", "duration_ms", "vst_ms",
		"error_code", "fatal", "content_duration_sec", "device_type", "country", "cdn_pop",
		"x", "y", "z\\u00e9", "user\\u005fid", "EVENT_TYPE"
	};
	static const char *const scalars[] = {
		"\"start\"", "\"Heartbeat\"", "\"video_play\"", "\"teleport\"", "\"\"", "\"s\"",
		"\"2026-11-21T10:00:00Z\"", "\"2026-02-30T25:00\"", "0", "1", "-1", "7", "1.5", "1e3",
		"-0", "-0.0", "86400001", "1700000000000", "1e400", "true", "false", "null",
		"1234567890123456789", "-9223372036854775808", "0.1", "2.5e-3", "\"\\u00e9t\\u00e9\""
	};
	int			r = rnd(10);

	if (depth > 3 || r < 6)
		buf_str(b, scalars[rnd(lengthof(scalars))]);
	else if (r < 9)
	{
		int			n = rnd(depth == 0 ? 14 : 4);

		buf_str(b, "{");
		for (int i = 0; i < n; i++)
		{
			if (i > 0)
				buf_str(b, rnd(8) == 0 ? " , " : ",");
			buf_str(b, "\"");
			buf_str(b, keys[rnd(lengthof(keys))]);
			buf_str(b, "\":");
			random_value(b, depth + 1);
		}
		buf_str(b, "}");
	}
	else
	{
		int			n = rnd(4);

		buf_str(b, "[");
		for (int i = 0; i < n; i++)
		{
			if (i > 0)
				buf_str(b, ",");
			random_value(b, depth + 1);
		}
		buf_str(b, "]");
	}
}


/* A random JSON number: any length of digits, fraction and exponent. */
static void
random_number(Buf *b)
{
	char		digits[80];
	int			n = 0;
	int			k;

	if (rnd(3) == 0)
		digits[n++] = '-';
	k = rnd(4) == 0 ? 1 + rnd(25) : 1 + rnd(6);
	for (int i = 0; i < k; i++)
		digits[n++] = (char) ('0' + (i == 0 && k > 1 ? 1 + rnd(9) : rnd(10)));
	if (rnd(2))
	{
		digits[n++] = '.';
		k = rnd(4) == 0 ? 1 + rnd(25) : 1 + rnd(4);
		for (int i = 0; i < k; i++)
			digits[n++] = (char) ('0' + rnd(10));
	}
	if (rnd(3) == 0)
	{
		digits[n++] = rnd(2) ? 'e' : 'E';
		if (rnd(2))
			digits[n++] = rnd(2) ? '-' : '+';
		n += snprintf(digits + n, sizeof(digits) - n, "%d",
					  rnd(8) == 0 ? 16370 + rnd(20) : rnd(4) == 0 ? rnd(400) : rnd(25));
	}
	buf_put(b, digits, n);
}

/* An event whose numbers are random: exercises exact conversion. */
static void
number_event(Buf *b)
{
	static const char *const fields[] = {
		"position_sec", "buffer_health_sec", "content_duration_sec", "user_id",
		"content_id", "profile_id", "bitrate_kbps", "timestamp", "buffering_ms", "x"
	};

	buf_str(b, "{\"event_type\":\"heartbeat\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2");
	for (int i = rnd(4); i >= 0; i--)
	{
		buf_str(b, ",\"");
		buf_str(b, fields[rnd(lengthof(fields))]);
		buf_str(b, "\":");
		random_number(b);
	}
	buf_str(b, "}");
}

/* Nesting around the depth limits (syntax, jsonb's), bare or inside an event. */
static void
deep_value(Buf *b)
{
	int			depth = (rnd(2) ? JSON_DEPTH_PROBE : 256) - 4 + rnd(8);
	char	   *closers = malloc(depth);
	bool		in_event = rnd(2);

	if (in_event)
		buf_str(b, "[{\"event_type\":\"start\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2,\"deep\":");
	for (int i = 0; i < depth; i++)
	{
		if (rnd(2))
		{
			buf_str(b, "{\"k\":");
			closers[i] = '}';
		}
		else
		{
			buf_str(b, "[");
			closers[i] = ']';
		}
	}
	buf_str(b, rnd(2) ? "1" : "[]");
	for (int i = depth - 1; i >= 0; i--)
		buf_put(b, &closers[i], 1);
	if (in_event)
		buf_str(b, "}]");
	free(closers);
}

/* Long and escaped strings, many unknown keys, repeated keys. */
static void
string_event(Buf *b)
{
	int			len = rnd(3) == 0 ? 190 + rnd(20) : 1 + rnd(80);
	const char *field = rnd(2) ? "device_type" : (rnd(2) ? "event_type" : "timestamp");

	buf_str(b, "{\"event_type\":\"stop\",\"session_id\":\"s\",\"user_id\":1,\"content_id\":2,\"");
	buf_str(b, field);
	buf_str(b, "\":\"");
	for (int i = 0; i < len; i++)
	{
		switch (rnd(6))
		{
			case 0:
				buf_str(b, "\\u00e9");
				break;
			case 1:
				buf_str(b, "\xc3\xa9");
				break;
			case 2:
				buf_str(b, "\\n");
				break;
			default:
				buf_str(b, "2");
				break;
		}
	}
	buf_str(b, "\"");
	for (int i = rnd(3) == 0 ? rnd(60) : 0; i > 0; i--)
	{
		char		key[32];

		snprintf(key, sizeof(key), rnd(2) ? ",\"k%d\":%d" : ",\"k\\u0030%d\":%d", rnd(30), i);
		buf_str(b, key);
	}
	buf_str(b, "}");
}

#ifdef WITH_OLD
static bool
same_json(const char *a, size_t alen, const char *b, size_t blen)
{
	json_error_t e;
	json_t	   *ja = json_loadb(a, alen, JSON_DECODE_ANY, &e);
	json_t	   *jb = json_loadb(b, blen, JSON_DECODE_ANY, &e);
	bool		same = ja != NULL && jb != NULL && json_equal(ja, jb);

	if (ja)
		json_decref(ja);
	if (jb)
		json_decref(jb);
	return same;
}

static bool
valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	while (*p)
	{
		int			n = *p < 0x80 ? 1 : *p < 0xC2 ? 0 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : *p < 0xF5 ? 4 : 0;

		if (n == 0)
			return false;
		for (int i = 1; i < n; i++)
			if ((p[i] & 0xC0) != 0x80)
				return false;
		p += n;
	}
	return true;
}

static bool
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool
same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(double)) == 0;
}

static const char *
event_difference(const QoeEvent *a, const QoeEvent *b)
{
	if (a->type != b->type)
		return "type";
	if (a->present != b->present)
		return "present";
	if (a->event_time != b->event_time)
		return "event_time";
	if (a->user_id != b->user_id || a->content_id != b->content_id ||
		((a->present & QOE_HAS_PROFILE) && a->profile_id != b->profile_id))
		return "ids";
	if (((a->present & QOE_HAS_POSITION) && !same_double(a->position_sec, b->position_sec)) ||
		((a->present & QOE_HAS_BUFFER_HEALTH) && !same_double(a->buffer_health_sec, b->buffer_health_sec)) ||
		((a->present & QOE_HAS_DURATION) && !same_double(a->content_duration_sec, b->content_duration_sec)))
		return "reals";
	if (((a->present & QOE_HAS_BITRATE) && a->bitrate_kbps != b->bitrate_kbps) ||
		((a->present & QOE_HAS_BUFFERING_EVENTS) && a->buffering_events != b->buffering_events) ||
		((a->present & QOE_HAS_DROPPED_FRAMES) && a->dropped_frames != b->dropped_frames) ||
		((a->present & QOE_HAS_STALL_MS) && a->stall_ms != b->stall_ms) ||
		((a->present & QOE_HAS_VST_MS) && a->vst_ms != b->vst_ms) ||
		((a->present & QOE_HAS_FATAL) && a->fatal != b->fatal))
		return "counters";
	if (a->item_index != b->item_index)
		return "item_index";
	if (!same_str(a->session_id, b->session_id) || !same_str(a->event_id, b->event_id) ||
		!same_str(a->error_code, b->error_code) || !same_str(a->resolution, b->resolution) ||
		!same_str(a->device_type, b->device_type) || !same_str(a->country, b->country) ||
		!same_str(a->cdn_pop, b->cdn_pop))
		return "texts";
	if ((a->extra == NULL) != (b->extra == NULL) ||
		(a->extra != NULL && !same_json(a->extra, strlen(a->extra), b->extra, strlen(b->extra))))
		return "extra";
	return NULL;
}

static bool
payload_rejected(const QoeDecoded *d)
{
	return d->nevents == 0 && d->nrejections == 1 && d->rejections[0].item_index == -1 &&
		strncmp(d->rejections[0].reason, "invalid JSON at ", 16) == 0;
}

/*
 * Where the new decoder differs by design (it follows what PostgreSQL can
 * store, see event_decode.c): jansson called these whole payloads invalid,
 * the new decoder judges the event holding them; and it rejects events
 * jansson took whose unknown fields jsonb cannot store.
 */
static bool
differs_by_design(const QoeDecoded *n, const QoeDecoded *o)
{
	static const char *const jansson_only[] = {
		"too big integer", "too big negative integer", "real number overflow",
		"\\u0000 is not allowed", "NUL byte in object key", "invalid Unicode",
		"unable to decode byte"
	};

	if (payload_rejected(o) && !payload_rejected(n))
		for (size_t i = 0; i < lengthof(jansson_only); i++)
			if (strstr(o->rejections[0].reason, jansson_only[i]) != NULL)
				return true;
	for (int i = 0; i < n->nrejections; i++)
		if (strstr(n->rejections[i].reason, " cannot be stored: ") != NULL ||
			strstr(n->rejections[i].reason, "too large to store") != NULL)
			return true;
	return false;
}

/*
 * Reasons agree, or differ only where the new decoder says "out of range"
 * with the value as written: jansson's said "must be an integer" for an
 * integral real beyond int64, and printed the converted value.
 */
static bool
same_reason(const char *a, const char *b)
{
	const char *ra = strstr(a, " is out of range: ");
	const char *rb = strstr(b, " must be an integer, got a number");

	if (strcmp(a, b) == 0)
		return true;
	if (ra == NULL)
		return false;
	if (rb == NULL)
		rb = strstr(b, " is out of range: ");
	return rb != NULL && ra - a == rb - b && memcmp(a, b, ra - a) == 0;
}

/* Both decoders on one input; NULL when they agree, else what differs. */
static const char *
compare(const char *data, size_t len, const QoeDecodeWindow *w, long *invalid,
		long *same_position, long *by_design)
{
	QoeDecoded n,
				o;

	qoe_decode_payload(data, len, w, &n);
	if (memchr(data, '\0', len) != NULL)
	{
		/*
		 * A NUL byte is never valid JSON, but jansson skips one that follows
		 * a number or a word (its lexer's unget loses it). Not kept.
		 */
		(*invalid)++;
		return n.nevents == 0 && n.nrejections == 1 && n.rejections[0].item_index == -1 &&
			strncmp(n.rejections[0].reason, "invalid JSON at ", 16) == 0
			? NULL : "a NUL byte accepted";
	}
	old_qoe_decode_payload(data, len, w, &o);
	if (differs_by_design(&n, &o))
	{
		(*by_design)++;
		return NULL;
	}
	if (n.nevents != o.nevents)
		return "number of events";
	if (n.nrejections != o.nrejections)
		return "number of rejections";
	for (int i = 0; i < n.nevents; i++)
	{
		const char *d = event_difference(&n.events[i], &o.events[i]);

		if (d != NULL)
			return d;
	}
	for (int i = 0; i < n.nrejections; i++)
	{
		const QoeRejection *a = &n.rejections[i];
		const QoeRejection *b = &o.rejections[i];

		if (a->item_index != b->item_index)
			return "rejection item_index";
		if (!valid_utf8(a->reason))
			return "reason is not UTF-8";
		if (a->item_index == -1 && strncmp(b->reason, "invalid JSON at ", 16) == 0)
		{
			const char *ac = strchr(a->reason, ':');
			const char *bc = strchr(b->reason, ':');

			if (strncmp(a->reason, "invalid JSON at line ", 21) != 0)
				return "syntax verdict";
			if (a->payload_len != len || memcmp(a->payload, data, len) != 0)
				return "raw payload";
			(*invalid)++;
			if (ac - a->reason == bc - b->reason && memcmp(a->reason, b->reason, ac - a->reason) == 0)
				(*same_position)++;
			continue;
		}
		/* the old decoder could cut a character in two quoting 64 bytes */
		if (!same_reason(a->reason, b->reason) && valid_utf8(b->reason))
			return "rejection reason";
		if (!same_json(a->payload, a->payload_len, b->payload, b->payload_len))
			return "rejection payload";
		if (strlen(a->payload) != a->payload_len)
			return "payload length";
	}
	return NULL;
}
#endif

static void show(const char *what, const char *data, size_t len);

static bool
valid_text(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;

	while (p < end)
	{
		int			n = json_utf8_sequence(p, end);

		if (n == 0 || *p == '\0')
			return false;
		p += n;
	}
	return true;
}

/*
 * What every decoded payload must satisfy, whatever the input: each event's
 * raw text lies in the input, its strings are text, its extra is a JSON
 * object that jsonb can store (no defect, not too deep); each reason is text.
 */
static bool
check_output(const char *input, size_t len, const QoeDecoded *out)
{
	const char *bad = NULL;

	for (int i = 0; i < out->nevents && bad == NULL; i++)
	{
		const QoeEvent *ev = &out->events[i];
		const char *const texts[] = {
			ev->session_id, ev->event_id, ev->error_code, ev->resolution,
			ev->device_type, ev->country, ev->cdn_pop
		};

		if (ev->raw < input || ev->raw + ev->raw_len > input + len || ev->raw_len == 0 ||
			ev->origin != 0)
			bad = "raw text or origin";
		for (size_t t = 0; t < lengthof(texts); t++)
			if (texts[t] != NULL && !valid_text(texts[t], strlen(texts[t])))
				bad = "a text field is not text";
		if (ev->extra != NULL)
		{
			JsonScanner sc;
			JsonScanValue v;

			json_scan_init(&sc, ev->extra, strlen(ev->extra));
			if (!json_scan_value(&sc, 1, &v) || !json_scan_finish(&sc) ||
				v.kind != JSK_OBJECT || v.defect != JSD_NONE || v.depth > 256)
				bad = "extra is not JSON that jsonb stores";
		}
	}
	for (int i = 0; i < out->nrejections && bad == NULL; i++)
		if (!valid_text(out->rejections[i].reason, strlen(out->rejections[i].reason)))
			bad = "a reason is not text";
	if (bad == NULL)
		return true;
	show("input", input, len);
	fprintf(stderr, "%s\n", bad);
	return false;
}

static void
show(const char *what, const char *data, size_t len)
{
	fprintf(stderr, "%s: ", what);
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) data[i];

		if (c >= 0x20 && c < 0x7f)
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fputc('\n', stderr);
}

static int
fuzz(uint64 seed, long iterations, const char *path)
{
	QoeDecodeWindow window = wide_window();
	Lines		l = {0};
	long		invalid = 0,
				same_position = 0,
				by_design = 0,
				events = 0,
				rejections = 0;
	Buf			b = {0};

	if (path != NULL)
		l = read_lines(path);
	rng_state = seed;
	for (long it = 0; it < iterations; it++)
	{
		QoeDecoded out;
		char	   *input;
		int			kind = rnd(13);

		b.len = 0;
		if (kind < 4)
			buf_str(&b, seeds[rnd(lengthof(seeds))]);
		else if (kind == 10)
			number_event(&b);
		else if (kind == 11)
			deep_value(&b);
		else if (kind == 12)
			string_event(&b);
		else if (kind < 7 || l.n == 0)
		{
			if (rnd(2))
				random_value(&b, 0);
			else
			{
				int			n = rnd(4);

				buf_str(&b, "[");
				for (int i = 0; i < n; i++)
				{
					if (i > 0)
						buf_str(&b, ",");
					random_value(&b, 0);
				}
				buf_str(&b, "]");
			}
		}
		else
		{
			int			i = rnd(l.n);

			buf_put(&b, l.line[i], Min(l.len[i], (size_t) 4000));
		}
		if (rnd(4) != 0)
			mutate(&b);

		/* exactly len bytes: reading past them is an ASan error */
		input = malloc(b.len > 0 ? b.len : 1);
		memcpy(input, b.data, b.len);

		if (rnd(8) == 0)
		{
			/* a narrow window, to reach the window messages */
			QoeDecodeWindow narrow = window;

			narrow.min_time = window.received_at - USECS_PER_DAY;
			narrow.max_time = window.received_at + USECS_PER_SEC;
			qoe_decode_payload(input, b.len, &narrow, &out);
		}
		else
			qoe_decode_payload(input, b.len, &window, &out);
		events += out.nevents;
		rejections += out.nrejections;
		if (!check_output(input, b.len, &out))
			return 1;
		memory_reset();
#ifdef WITH_OLD
		{
			const char *d = compare(input, b.len, &window, &invalid, &same_position,
									&by_design);

			if (d != NULL)
			{
				QoeDecoded n,
							o;

				show("input", input, b.len);
				fprintf(stderr, "decoders differ: %s\n", d);
				qoe_decode_payload(input, b.len, &window, &n);
				old_qoe_decode_payload(input, b.len, &window, &o);
				for (int i = 0; i < n.nrejections; i++)
					fprintf(stderr, "  new: %d %s | %s\n", n.rejections[i].item_index,
							n.rejections[i].reason, n.rejections[i].payload);
				for (int i = 0; i < o.nrejections; i++)
					fprintf(stderr, "  old: %d %s | %s\n", o.rejections[i].item_index,
							o.rejections[i].reason, o.rejections[i].payload);
				fprintf(stderr, "  events new %d old %d\n", n.nevents, o.nevents);
				return 1;
			}
		}
		memory_reset();
#endif
		free(input);
	}
	printf("fuzz: %ld inputs, %ld events, %ld rejections", iterations, events, rejections);
#ifndef WITH_OLD
	(void) invalid;
	(void) same_position;
	(void) by_design;
#else
	printf("; agrees with the old decoder on all but %ld that differ by design, %ld not JSON"
		   " (same line:column for %ld)", by_design, invalid, same_position);
#endif
	printf("\n");
	free(b.data);
	return 0;
}

#ifdef QOE_LIBFUZZER
extern int	LLVMFuzzerRunDriver(int *argc, char ***argv,
								int (*callback) (const uint8_t *data, size_t size));

static int
fuzz_one(const uint8_t *data, size_t size)
{
	static QoeDecodeWindow window;
	QoeDecoded out;

	if (window.max_time == 0)
		window = wide_window();
	qoe_decode_payload((const char *) data, size, &window, &out);
	if (!check_output((const char *) data, size, &out))
		abort();
	memory_reset();
	return 0;
}
#endif

/* What the decoder (and the old one) make of one payload. */
static int
show_decode(const char *payload)
{
	QoeDecodeWindow window = wide_window();
	QoeDecoded out;

	for (int which = 0; which < 2; which++)
	{
#ifdef WITH_OLD
		if (which == 1)
			old_qoe_decode_payload(payload, strlen(payload), &window, &out);
#else
		if (which == 1)
			break;
#endif
		if (which == 0)
			qoe_decode_payload(payload, strlen(payload), &window, &out);
		for (int i = 0; i < out.nevents; i++)
			printf("%s event %d: %s session %s user " INT64_FORMAT " extra %s\n",
				   which ? "old" : "new", out.events[i].item_index,
				   qoe_event_type_name(out.events[i].type), out.events[i].session_id,
				   out.events[i].user_id, out.events[i].extra ? out.events[i].extra : "-");
		for (int i = 0; i < out.nrejections; i++)
			printf("%s rejection %d: %s | %s\n", which ? "old" : "new",
				   out.rejections[i].item_index, out.rejections[i].reason,
				   out.rejections[i].payload);
	}
	return 0;
}

int
main(int argc, char **argv)
{
#ifdef WITH_OLD
	old_EventDecodeInit();		/* jansson allocates with palloc, as in the server */
#else
	json_set_alloc_funcs((json_malloc_t) palloc, (json_free_t) pfree);
#endif
	if (argc >= 3 && strcmp(argv[1], "bench") == 0)
		return bench(argv[2], argc > 3 ? atoi(argv[3]) : 5);
	if (argc >= 4 && strcmp(argv[1], "fuzz") == 0)
		return fuzz(strtoull(argv[2], NULL, 10), atol(argv[3]), argc > 4 ? argv[4] : NULL);
	if (argc == 3 && strcmp(argv[1], "decode") == 0 && strcmp(argv[2], "-") == 0)
	{
		Buf			in = {0};
		char		chunk[65536];
		size_t		n;

		while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
			buf_put(&in, chunk, n);
		buf_put(&in, "", 1);
		return show_decode(in.data);
	}
	if (argc == 3 && strcmp(argv[1], "decode") == 0)
		return show_decode(argv[2]);
#ifdef QOE_LIBFUZZER
	if (argc >= 2 && strcmp(argv[1], "libfuzzer") == 0)
	{
		/* libFuzzer reads its own options from argv, the program name first */
		argv[1] = argv[0];
		argc--;
		argv++;
		return LLVMFuzzerRunDriver(&argc, &argv, fuzz_one);
	}
#endif
	fprintf(stderr, "usage: %s bench FILE [ROUNDS] | fuzz SEED ITERATIONS [FILE] | decode JSON|-\n",
			argv[0]);
	return 2;
}
