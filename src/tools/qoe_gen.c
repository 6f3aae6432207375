/*
 * qoe_gen: seeded, realistic playback-telemetry generator for qoe_ext.
 *
 * Simulates a streaming service -- a Zipf-popular catalog, users with
 * profiles, home countries and favourite devices, about --viewers concurrent
 * playback sessions -- and writes the client events those sessions send, as
 * NDJSON or as JSON arrays, in event-time order.  The benchmarks (bench/), the
 * tests (test/) and the demo feed its output to qoe.ingest(text) and to Kafka.
 * The same flags, seed and --start-ms always give the same bytes, so a run
 * can be replayed exactly.  The event format is the one SPEC section 2 and the
 * ingest decoder define; doc/generator.md is the operator's page.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NEVER INT64_MAX
#define HEARTBEAT_MS 30000
#define EVENT_MAX 1024          /* an event stays under 700 bytes, even with UUIDs */
#define OUT_CAP (1 << 20)       /* bytes buffered before one fwrite */
#define SLOT_BITS 20            /* heap key = relative ms << SLOT_BITS | slot */
#define MAX_VIEWERS ((1 << SLOT_BITS) - 1)
#define MAX_LATE 20             /* late and duplicate events trail by 1..20 */
#define MAX_DEGRADE 16
#define TWO_PI 6.283185307179586

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- random */

typedef struct Rng
{
	uint64_t	s[4];
} Rng;

/*
 * Each concern draws from its own stream, so that e.g. --out-of-order or
 * --uuid-ids reorder or relabel the same sessions instead of producing
 * different ones, and --catalog agrees with the events of any run.
 */
enum Stream
{
	STREAM_CATALOG = 1, STREAM_POPULARITY, STREAM_USERS, STREAM_SESSIONS,
	STREAM_IDS, STREAM_DELIVERY, STREAM_TASTES, STREAM_TASTE_PICKS
};

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
rng_init(Rng *r, uint64_t seed, enum Stream stream)
{
	uint64_t	x = seed ^ ((uint64_t) stream * 0xd1342543de82ef95ULL);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static inline uint64_t
rng_next(Rng *r)
{
	uint64_t   *s = r->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* in [0, 1) */
static inline double
uniform(Rng *r)
{
	return (double) (rng_next(r) >> 11) * 0x1.0p-53;
}

/* in [lo, hi] */
static inline int64_t
uniform_int(Rng *r, int64_t lo, int64_t hi)
{
	return lo + (int64_t) (uniform(r) * (double) (hi - lo + 1));
}

static inline bool
chance(Rng *r, double p)
{
	return uniform(r) < p;
}

static double
exponential(Rng *r, double mean)
{
	return -mean * log1p(-uniform(r));
}

static double
std_normal(Rng *r)
{
	double		u1 = 1.0 - uniform(r);	/* (0, 1], so log() is finite */
	double		u2 = uniform(r);

	return sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2);
}

static double
lognormal(Rng *r, double median, double sigma)
{
	return median * exp(sigma * std_normal(r));
}

/* A lognormal factor with mean 1: how much worse or better than typical. */
static double
spread_factor(Rng *r, double sigma)
{
	return exp(sigma * std_normal(r) - sigma * sigma / 2);
}

static int64_t
clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static uint32_t
poisson(Rng *r, double mean)
{
	double		limit;
	double		p;
	uint32_t	k = 0;

	if (mean <= 0)
		return 0;
	if (mean > 30)				/* normal approximation; Knuth's loop gets slow */
		return (uint32_t) clamp64(llround(mean + sqrt(mean) * std_normal(r)), 0, INT32_MAX);
	limit = exp(-mean);
	p = uniform(r);
	while (p > limit)
	{
		p *= uniform(r);
		k++;
	}
	return k;
}

/* Index into a table of structs whose first member is `unsigned weight`. */
static size_t
pick_weighted(Rng *r, const void *table, size_t n, size_t stride)
{
	const char *p = table;
	unsigned	total = 0;
	unsigned	x;

	for (size_t i = 0; i < n; i++)
		total += *(const unsigned *) (p + i * stride);
	x = (unsigned) (uniform(r) * total);
	for (size_t i = 0; i < n; i++)
	{
		unsigned	w = *(const unsigned *) (p + i * stride);

		if (x < w)
			return i;
		x -= w;
	}
	return n - 1;
}

#define PICK(r, table) pick_weighted((r), (table), COUNT(table), sizeof((table)[0]))

/* ----------------------------------------------------------- the world */

static const int ladder_kbps[] = {235, 375, 750, 1750, 3000, 4300, 5800, 8000, 16000};
static const char *const ladder_resolution[] =
{"240p", "360p", "480p", "720p", "720p", "1080p", "1080p", "1080p", "2160p"};
#define RUNG_UHD 8

typedef struct Device
{
	unsigned	weight;
	const char *name;
	int			top_rung;		/* without UHD */
	bool		uhd_capable;	/* only big screens may reach 16000 kbps */
	double		dropped_per_min;
	int			buffer_target_ms;
} Device;

static const Device devices[] = {
	{34, "smart_tv", 7, true, 1.5, 30000},
	{17, "mobile_ios", 6, false, 1.0, 20000},
	{19, "mobile_android", 6, false, 4.0, 20000},
	{16, "web", 7, false, 3.0, 25000},
	{5, "console", 7, true, 0.8, 30000},
	{9, "streaming_stick", 7, true, 3.0, 25000},
};

#define MAX_POPS 5

/* A country and the CDN POPs of its region that serve it. */
typedef struct Country
{
	unsigned	weight;
	const char *code;
	const char *pops[MAX_POPS];
	unsigned	pop_weights[MAX_POPS];
} Country;

static const Country countries[] = {
	{30, "US", {"us-east-1a", "us-east-1b", "us-east-2a", "us-west-1a", "us-west-2a"}, {30, 15, 20, 15, 20}},
	{11, "BR", {"sa-east-1a", "sa-east-1b", "sa-east-1c"}, {50, 30, 20}},
	{8, "GB", {"eu-west-2a", "eu-west-2b"}, {60, 40}},
	{7, "DE", {"eu-central-1a", "eu-central-1b"}, {60, 40}},
	{6, "FR", {"eu-west-3a", "eu-west-3b"}, {60, 40}},
	{8, "IN", {"ap-south-1a", "ap-south-1b"}, {55, 45}},
	{6, "MX", {"mx-central-1a", "us-east-2a"}, {70, 30}},
	{5, "JP", {"ap-northeast-1a", "ap-northeast-1c"}, {60, 40}},
	{4, "CA", {"ca-central-1a", "ca-central-1b"}, {60, 40}},
	{4, "ES", {"eu-south-2a", "eu-west-3a"}, {70, 30}},
	{3, "IT", {"eu-south-1a", "eu-central-1a"}, {70, 30}},
	{3, "AU", {"ap-southeast-2a", "ap-southeast-2b"}, {60, 40}},
	{2, "AR", {"sa-east-1a", "sa-east-1c"}, {60, 40}},
	{2, "KR", {"ap-northeast-2a", "ap-northeast-1a"}, {80, 20}},
	{1, "NL", {"eu-west-1a", "eu-central-1a"}, {70, 30}},
};

typedef struct ErrorCode
{
	unsigned	weight;
	const char *code;
} ErrorCode;

static const ErrorCode start_failure_errors[] = {
	{30, "MANIFEST_TIMEOUT"}, {25, "DRM_LICENSE_DENIED"}, {25, "NETWORK_ERROR"},
	{10, "HTTP_404"}, {10, "HTTP_503"},
};
static const ErrorCode playback_failure_errors[] = {
	{50, "NETWORK_ERROR"}, {25, "DECODER_ERROR"}, {15, "HTTP_503"}, {10, "DRM_LICENSE_DENIED"},
};
static const ErrorCode recoverable_errors[] = {
	{40, "NETWORK_ERROR"}, {30, "HTTP_404"}, {15, "DECODER_ERROR"}, {15, "HTTP_503"},
};

static const char *const genres[] = {
	"drama", "comedy", "thriller", "action", "documentary", "animation",
	"crime", "romance", "horror", "family", "scifi", "reality",
};
static const char *const title_adjectives[] = {
	"Silent", "Golden", "Broken", "Hidden", "Last", "Frozen", "Crimson", "Lost",
	"Wild", "Midnight", "Distant", "Iron", "Electric", "Quiet", "Burning", "Northern",
};
static const char *const title_nouns[] = {
	"Harbor", "Signal", "Empire", "River", "Garden", "Protocol", "Horizon", "Kingdom",
	"Code", "Shadows", "Orchard", "Frontier", "Tides", "Station", "Letters", "Summit",
};

enum EventType
{
	EV_START, EV_FIRST_FRAME, EV_HEARTBEAT, EV_BUFFERING, EV_PAUSE, EV_RESUME,
	EV_SEEK, EV_BITRATE_CHANGE, EV_ERROR, EV_STOP
};

static const char *const event_names[] = {
	"start", "first_frame", "heartbeat", "buffering", "pause", "resume",
	"seek", "bitrate_change", "error", "stop",
};
static const char *const dotted_event_names[] = {
	"video.playback.start", "first_frame", "video.playback.heartbeat",
	"video.buffering", "pause", "resume", "seek", "bitrate_change",
	"video.error", "video.playback.stop",
};

/* ------------------------------------------------------------- options */

typedef struct Options
{
	uint64_t	seed;
	int64_t		events;			/* 0: no limit */
	int64_t		duration_ms;	/* 0: no limit */
	int64_t		start_ms;		/* -1: derived from the wall clock */
	uint32_t	viewers;
	uint32_t	users;
	uint32_t	titles;
	double		zipf;
	double		taste;			/* share of picks from the favourite genres */
	double		series;			/* chance of going on with a series */
	bool		array_format;
	uint32_t	batch;
	double		rate;
	bool		realtime;
	bool		kafka_key;
	bool		dotted;
	bool		uuid_ids;
	bool		iso_timestamps;
	double		out_of_order;
	double		duplicates;
	const char *degrade_pops[MAX_DEGRADE];
	int			n_degrade_pops;
	int64_t		degrade_titles[MAX_DEGRADE];
	int			n_degrade_titles;
	bool		catalog;
	bool		verbose;
} Options;

static const char usage_text[] =
	"Usage: qoe_gen (--events N | --duration-sec S) [options]\n"
	"       qoe_gen --catalog [--seed N] [--titles N]\n"
	"Writes realistic, seeded video playback events (JSON) to stdout.\n"
	"\n"
	"Stop conditions (at least one):\n"
	"  --events N           stop after N events written (duplicates count)\n"
	"  --duration-sec S     stop after S simulated seconds\n"
	"Simulation:\n"
	"  --seed N             random seed (default 1)\n"
	"  --start-ms MS        client time of the simulation start, epoch ms\n"
	"                       (default: now minus the span, or minus one hour)\n"
	"  --viewers N          concurrent sessions to sustain (default 1000)\n"
	"  --users N            user accounts (default 10000)\n"
	"  --titles N           catalog size (default 2000)\n"
	"  --zipf S             popularity skew exponent (default 1.0)\n"
	"  --taste F            share of a viewer's picks from their favourite genres (default 0.8)\n"
	"  --series F           chance of watching the next episode of the last series (default 0.8)\n"
	"  --degrade-pop NAME   slow starts and stalls on this CDN POP (repeatable)\n"
	"  --degrade-title ID   slow starts and stalls on this title (repeatable)\n"
	"Output:\n"
	"  --format ndjson|array  one event per line, or arrays (default ndjson)\n"
	"  --batch N            events per array line (default 100, 1..10000)\n"
	"  --rate EPS           pace to EPS events per wall-clock second (default 0: no pacing)\n"
	"  --realtime           pace to event time: write each line once the wall clock reaches\n"
	"                       its last event's timestamp (past events go out at once)\n"
	"  --kafka-key          NDJSON lines prefixed with the session_id and a tab (kcat -K '\\t')\n"
	"  --dotted             dotted event names (video.playback.start, ...)\n"
	"  --uuid-ids           UUIDv4 session and event ids\n"
	"  --iso-timestamps     ISO-8601 UTC timestamps instead of epoch ms\n"
	"  --out-of-order F     fraction of events emitted 1..20 events late (default 0)\n"
	"  --duplicates F       fraction of events emitted twice, like retries (default 0)\n"
	"  --catalog            print the catalog as CSV (content_id,title,duration_sec,genres) and exit\n"
	"  --verbose            report the start time and totals on stderr\n"
	"  --help               show this text\n";

static _Noreturn void usage_error(const char *fmt,...) __attribute__((format(printf, 1, 2)));

static _Noreturn void
usage_error(const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	fputs("qoe_gen: ", stderr);
	vfprintf(stderr, fmt, args);
	fputs("\nTry 'qoe_gen --help'.\n", stderr);
	va_end(args);
	exit(2);
}

static int64_t
parse_int(const char *opt, const char *s, int64_t lo, int64_t hi)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		usage_error("invalid value \"%s\" for --%s: expected an integer in %" PRId64 "..%" PRId64,
					s, opt, lo, hi);
	return v;
}

static double
parse_number(const char *opt, const char *s, double lo, double hi)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
		usage_error("invalid value \"%s\" for --%s: expected a number in %g..%g", s, opt, lo, hi);
	return v;
}

static uint64_t
parse_seed(const char *s)
{
	char	   *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
		usage_error("invalid value \"%s\" for --seed: expected an unsigned integer", s);
	return v;
}

static bool
pop_exists(const char *name)
{
	for (size_t c = 0; c < COUNT(countries); c++)
		for (int i = 0; i < MAX_POPS && countries[c].pops[i]; i++)
			if (strcmp(countries[c].pops[i], name) == 0)
				return true;
	return false;
}

enum
{
	OPT_EVENTS = 256, OPT_DURATION, OPT_SEED, OPT_START_MS, OPT_VIEWERS, OPT_USERS,
	OPT_TITLES, OPT_ZIPF, OPT_FORMAT, OPT_BATCH, OPT_RATE, OPT_REALTIME, OPT_DOTTED, OPT_UUID_IDS,
	OPT_ISO, OPT_OUT_OF_ORDER, OPT_DUPLICATES, OPT_DEGRADE_POP, OPT_DEGRADE_TITLE,
	OPT_CATALOG, OPT_VERBOSE, OPT_KAFKA_KEY, OPT_TASTE, OPT_SERIES
};

static const struct option long_options[] = {
	{"events", required_argument, NULL, OPT_EVENTS},
	{"duration-sec", required_argument, NULL, OPT_DURATION},
	{"seed", required_argument, NULL, OPT_SEED},
	{"start-ms", required_argument, NULL, OPT_START_MS},
	{"viewers", required_argument, NULL, OPT_VIEWERS},
	{"users", required_argument, NULL, OPT_USERS},
	{"titles", required_argument, NULL, OPT_TITLES},
	{"zipf", required_argument, NULL, OPT_ZIPF},
	{"taste", required_argument, NULL, OPT_TASTE},
	{"series", required_argument, NULL, OPT_SERIES},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"batch", required_argument, NULL, OPT_BATCH},
	{"rate", required_argument, NULL, OPT_RATE},
	{"realtime", no_argument, NULL, OPT_REALTIME},
	{"kafka-key", no_argument, NULL, OPT_KAFKA_KEY},
	{"dotted", no_argument, NULL, OPT_DOTTED},
	{"uuid-ids", no_argument, NULL, OPT_UUID_IDS},
	{"iso-timestamps", no_argument, NULL, OPT_ISO},
	{"out-of-order", required_argument, NULL, OPT_OUT_OF_ORDER},
	{"duplicates", required_argument, NULL, OPT_DUPLICATES},
	{"degrade-pop", required_argument, NULL, OPT_DEGRADE_POP},
	{"degrade-title", required_argument, NULL, OPT_DEGRADE_TITLE},
	{"catalog", no_argument, NULL, OPT_CATALOG},
	{"verbose", no_argument, NULL, OPT_VERBOSE},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0}
};

/* 2100-01-01: keeps ISO-8601 years at four digits with room for long runs. */
#define LATEST_START_MS 4102444800000LL

static void
parse_options(int argc, char **argv, Options *o)
{
	int			c;

	*o = (Options) {
		.seed = 1, .start_ms = -1, .viewers = 1000, .users = 10000,
		.titles = 2000, .zipf = 1.0, .taste = 0.8, .series = 0.8, .batch = 100,
	};
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case OPT_EVENTS:
				o->events = parse_int("events", optarg, 1, INT64_MAX);
				break;
			case OPT_DURATION:
				o->duration_ms = llround(1000 * parse_number("duration-sec", optarg, 0.001, 3.2e8));
				break;
			case OPT_SEED:
				o->seed = parse_seed(optarg);
				break;
			case OPT_START_MS:
				o->start_ms = parse_int("start-ms", optarg, 0, LATEST_START_MS);
				break;
			case OPT_VIEWERS:
				o->viewers = parse_int("viewers", optarg, 1, MAX_VIEWERS);
				break;
			case OPT_USERS:
				o->users = parse_int("users", optarg, 1, 10000000);
				break;
			case OPT_TITLES:
				o->titles = parse_int("titles", optarg, 1, 1000000);
				break;
			case OPT_ZIPF:
				o->zipf = parse_number("zipf", optarg, 0, 5);
				break;
			case OPT_TASTE:
				o->taste = parse_number("taste", optarg, 0, 1);
				break;
			case OPT_SERIES:
				o->series = parse_number("series", optarg, 0, 1);
				break;
			case OPT_FORMAT:
				if (strcmp(optarg, "ndjson") != 0 && strcmp(optarg, "array") != 0)
					usage_error("invalid value \"%s\" for --format: expected ndjson or array", optarg);
				o->array_format = strcmp(optarg, "array") == 0;
				break;
			case OPT_BATCH:
				o->batch = parse_int("batch", optarg, 1, 10000);
				break;
			case OPT_RATE:
				o->rate = parse_number("rate", optarg, 0, 1e9);
				break;
			case OPT_REALTIME:
				o->realtime = true;
				break;
			case OPT_KAFKA_KEY:
				o->kafka_key = true;
				break;
			case OPT_DOTTED:
				o->dotted = true;
				break;
			case OPT_UUID_IDS:
				o->uuid_ids = true;
				break;
			case OPT_ISO:
				o->iso_timestamps = true;
				break;
			case OPT_OUT_OF_ORDER:
				o->out_of_order = parse_number("out-of-order", optarg, 0, 1);
				break;
			case OPT_DUPLICATES:
				o->duplicates = parse_number("duplicates", optarg, 0, 1);
				break;
			case OPT_DEGRADE_POP:
				if (!pop_exists(optarg))
					usage_error("unknown CDN POP \"%s\" for --degrade-pop (e.g. us-east-1a, eu-west-2a, sa-east-1b)", optarg);
				if (o->n_degrade_pops == MAX_DEGRADE)
					usage_error("too many --degrade-pop flags (at most %d)", MAX_DEGRADE);
				o->degrade_pops[o->n_degrade_pops++] = optarg;
				break;
			case OPT_DEGRADE_TITLE:
				if (o->n_degrade_titles == MAX_DEGRADE)
					usage_error("too many --degrade-title flags (at most %d)", MAX_DEGRADE);
				o->degrade_titles[o->n_degrade_titles++] = parse_int("degrade-title", optarg, 1, 1000000);
				break;
			case OPT_CATALOG:
				o->catalog = true;
				break;
			case OPT_VERBOSE:
				o->verbose = true;
				break;
			case 'h':
				fputs(usage_text, stdout);
				exit(0);
			default:			/* getopt_long has said what was wrong */
				fputs("Try 'qoe_gen --help'.\n", stderr);
				exit(2);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument \"%s\"", argv[optind]);
	for (int i = 0; i < o->n_degrade_titles; i++)
		if (o->degrade_titles[i] > o->titles)
			usage_error("--degrade-title %" PRId64 " is outside the catalog (1..%" PRIu32 ")",
						o->degrade_titles[i], o->titles);
	if (!o->catalog && o->events == 0 && o->duration_ms == 0)
		usage_error("give --events N and/or --duration-sec S");
	if (o->realtime && o->rate > 0)
		usage_error("give --rate EPS or --realtime, not both");
	if (o->kafka_key && o->array_format)
		usage_error("--kafka-key needs --format ndjson: a Kafka message carries one event");
}

/* -------------------------------------------------------------- output */

/*
 * One reusable buffer, written with fwrite in large chunks; events are framed
 * into NDJSON lines or array lines here, and --events / --rate are enforced
 * here because they count what was actually written.
 */
typedef struct Output
{
	char		buf[OUT_CAP + EVENT_MAX + 64];	/* + framing and a --kafka-key key */
	size_t		len;
	bool		array;
	bool		kafka_key;		/* prefix NDJSON lines with "session_id\t" */
	uint32_t	batch;
	uint32_t	in_line;		/* events in the open array line */
	int64_t		limit;			/* 0: none */
	int64_t		written;
	bool		full;			/* the --events limit is reached */
	double		rate;
	bool		realtime;		/* --realtime: lines wait for due_ms */
	int64_t		due_ms;			/* event time of the event being written */
	struct timespec started;
} Output;

static Output out;

static void
flush_output(void)
{
	if ((out.len > 0 && fwrite(out.buf, 1, out.len, stdout) != out.len) || fflush(stdout) != 0)
	{
		if (errno == EPIPE)		/* the reader went away: that is its call */
			exit(0);
		fprintf(stderr, "qoe_gen: cannot write to stdout: %s\n", strerror(errno));
		exit(1);
	}
	out.len = 0;
}

static void
out_append(const char *text, size_t len)
{
	memcpy(out.buf + out.len, text, len);
	out.len += len;
	if (out.len >= OUT_CAP)
		flush_output();
}

static double
seconds_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double) (now.tv_sec - t0->tv_sec) + (now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Sleep until the written events are due; small leads are not worth a nap. */
static void
pace_output(void)
{
	double		ahead = out.written / out.rate - seconds_since(&out.started);

	if (ahead > 0.002)
	{
		struct timespec nap = {(time_t) ahead, (long) ((ahead - (time_t) ahead) * 1e9)};

		nanosleep(&nap, NULL);
	}
}

/* --realtime: sleep until the wall clock reaches the event time just written. */
static void
pace_to_event_time(void)
{
	struct timespec now;
	int64_t		ahead_ms;

	clock_gettime(CLOCK_REALTIME, &now);
	ahead_ms = out.due_ms - ((int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000);
	if (ahead_ms > 1)
	{
		struct timespec nap = {(time_t) (ahead_ms / 1000), (long) (ahead_ms % 1000) * 1000000};

		nanosleep(&nap, NULL);
	}
}

static void
close_array_line(void)
{
	if (out.in_line > 0)
	{
		out_append("]\n", 2);
		out.in_line = 0;
	}
}

/*
 * --kafka-key: copy the event's session_id, the Kafka message key that keeps
 * a session's events in one partition and in order.  The text is our own
 * format_event() output, so the field is always there, without escapes.
 */
static size_t
put_session_key(char *p, const char *text, size_t len)
{
	static const char field[] = "\"session_id\":\"";
	const size_t flen = sizeof(field) - 1;
	char	   *start = p;

	for (size_t i = 0; i + flen <= len; i++)
	{
		if (memcmp(text + i, field, flen) == 0)
		{
			for (i += flen; i < len && text[i] != '"'; i++)
				*p++ = text[i];
			break;
		}
	}
	*p++ = '\t';
	return (size_t) (p - start);
}

static void
write_event(const char *text, size_t len)
{
	bool		line_done = true;

	if (out.full)
		return;
	if (out.kafka_key)
		out.len += put_session_key(out.buf + out.len, text, len);
	if (out.array)
		out.buf[out.len++] = out.in_line == 0 ? '[' : ',';
	memcpy(out.buf + out.len, text, len);
	out.len += len;
	if (!out.array)
		out.buf[out.len++] = '\n';
	else if (++out.in_line == out.batch)
	{
		memcpy(out.buf + out.len, "]\n", 2);
		out.len += 2;
		out.in_line = 0;
	}
	else
		line_done = false;
	if (++out.written == out.limit)
	{
		out.full = true;
		close_array_line();
	}
	if (out.realtime && line_done)
	{
		pace_to_event_time();
		flush_output();
	}
	else if (out.rate > 0 && line_done)
	{
		flush_output();
		pace_output();
	}
	else if (out.len >= OUT_CAP)
		flush_output();
}

/* ------------------------------------------------- late and repeated events */

/*
 * --out-of-order and --duplicates: an event (or its copy) is parked and
 * written after 1..MAX_LATE further events.  At most two events are parked per
 * event generated and none stays longer than MAX_LATE turns, so 2 * MAX_LATE
 * places suffice.
 */
#define HELD_MAX (2 * MAX_LATE + 2)

typedef struct Held
{
	uint64_t	due;			/* turn after which it is written */
	uint32_t	len;
	char		text[EVENT_MAX];
} Held;

typedef struct Delivery
{
	double		late_fraction;
	double		duplicate_fraction;
	Rng			rng;
	uint64_t	turn;			/* events generated so far */
	Held		held[HELD_MAX];
	bool		in_use[HELD_MAX];
	int			order[HELD_MAX];	/* parked places, oldest first */
	int			n_held;
} Delivery;

static Delivery delivery;

static void
park(const char *text, size_t len)
{
	int			i = 0;

	while (delivery.in_use[i])
		i++;
	delivery.in_use[i] = true;
	delivery.held[i].due = delivery.turn + uniform_int(&delivery.rng, 1, MAX_LATE);
	delivery.held[i].len = (uint32_t) len;
	memcpy(delivery.held[i].text, text, len);
	delivery.order[delivery.n_held++] = i;
}

static void
release_parked(bool all)
{
	int			kept = 0;

	for (int k = 0; k < delivery.n_held; k++)
	{
		int			i = delivery.order[k];

		if (all || delivery.held[i].due <= delivery.turn)
		{
			write_event(delivery.held[i].text, delivery.held[i].len);
			delivery.in_use[i] = false;
		}
		else
			delivery.order[kept++] = i;
	}
	delivery.n_held = kept;
}

static void
deliver(const char *text, size_t len)
{
	delivery.turn++;
	if (delivery.late_fraction > 0 && chance(&delivery.rng, delivery.late_fraction))
		park(text, len);
	else
		write_event(text, len);
	if (delivery.duplicate_fraction > 0 && chance(&delivery.rng, delivery.duplicate_fraction))
		park(text, len);
	if (delivery.n_held > 0)
		release_parked(false);
}

/* ---------------------------------------------------- text formatting */

/* No printf on the hot path: plain digit loops, immune to the locale. */
#define PUT_LIT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

static char *
put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

static char *
put_u64(char *p, uint64_t v)
{
	char		tmp[20];
	int			n = 0;

	do
	{
		tmp[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *
put_digits(char *p, unsigned v, int width)
{
	for (int i = width - 1; i >= 0; i--)
	{
		p[i] = (char) ('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

/* milliseconds as seconds with one decimal: 45200 -> 45.2 */
static char *
put_tenths(char *p, int64_t ms)
{
	int64_t		tenths = (ms + 50) / 100;

	p = put_u64(p, (uint64_t) (tenths / 10));
	*p++ = '.';
	*p++ = (char) ('0' + tenths % 10);
	return p;
}

/* milliseconds as seconds with up to three decimals: 2712500 -> 2712.5 */
static char *
put_seconds(char *p, int64_t ms)
{
	int			frac = (int) (ms % 1000);

	p = put_u64(p, (uint64_t) (ms / 1000));
	*p++ = '.';
	if (frac == 0)
		*p++ = '0';
	else
	{
		int			width = 3;

		while (frac % 10 == 0)
		{
			frac /= 10;
			width--;
		}
		p = put_digits(p, (unsigned) frac, width);
	}
	return p;
}

static char *
put_hex(char *p, uint64_t v, int digits)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = digits - 1; i >= 0; i--)
	{
		p[i] = hex[v & 15];
		v >>= 4;
	}
	return p + digits;
}

/* Random bits as a version-4, variant-1 UUID. */
static char *
put_uuid(char *p, uint64_t hi, uint64_t lo)
{
	hi = (hi & ~0xf000ULL) | 0x4000ULL;
	lo = (lo & ~(3ULL << 62)) | (2ULL << 62);
	p = put_hex(p, hi >> 32, 8);
	*p++ = '-';
	p = put_hex(p, (hi >> 16) & 0xffff, 4);
	*p++ = '-';
	p = put_hex(p, hi & 0xffff, 4);
	*p++ = '-';
	p = put_hex(p, lo >> 48, 4);
	*p++ = '-';
	return put_hex(p, lo & 0xffffffffffffULL, 12);
}

/* Epoch ms as 2026-11-21T18:56:03.120Z (days to civil date: H. Hinnant's method). */
static char *
put_iso8601(char *p, int64_t ms)
{
	int64_t		secs = ms / 1000;
	int64_t		z = secs / 86400 + 719468;
	int64_t		era = z / 146097;
	unsigned	doe = (unsigned) (z - era * 146097);
	unsigned	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned	mp = (5 * doy + 2) / 153;
	unsigned	day = doy - (153 * mp + 2) / 5 + 1;
	unsigned	month = mp < 10 ? mp + 3 : mp - 9;
	unsigned	year = (unsigned) (yoe + era * 400) + (month <= 2);
	unsigned	sod = (unsigned) (secs % 86400);

	p = put_digits(p, year, 4);
	*p++ = '-';
	p = put_digits(p, month, 2);
	*p++ = '-';
	p = put_digits(p, day, 2);
	*p++ = 'T';
	p = put_digits(p, sod / 3600, 2);
	*p++ = ':';
	p = put_digits(p, sod / 60 % 60, 2);
	*p++ = ':';
	p = put_digits(p, sod % 60, 2);
	*p++ = '.';
	p = put_digits(p, (unsigned) (ms % 1000), 3);
	*p++ = 'Z';
	return p;
}

/* ------------------------------------------------------------- catalog */

typedef struct Title
{
	int64_t		duration_ms;
	bool		two_words;
	uint8_t		adjective;
	uint8_t		noun;
	uint16_t	genre_mask;
} Title;

/* Episodes run 20-60 min, films 80-150 min, about 70/30. */
static void
draw_title(Rng *r, Title *t)
{
	bool		film = chance(r, 0.30);
	int			n_genres;

	t->duration_ms = (film ? uniform_int(r, 80, 149) : uniform_int(r, 20, 59)) * 60000
		+ uniform_int(r, 0, 59999);
	t->two_words = chance(r, 0.5);
	t->adjective = (uint8_t) uniform_int(r, 0, COUNT(title_adjectives) - 1);
	t->noun = (uint8_t) uniform_int(r, 0, COUNT(title_nouns) - 1);
	t->genre_mask = 0;
	n_genres = (int) uniform_int(r, 1, 3);
	while (n_genres > 0)
	{
		uint16_t	bit = (uint16_t) (1u << uniform_int(r, 0, COUNT(genres) - 1));

		if (!(t->genre_mask & bit))
		{
			t->genre_mask |= bit;
			n_genres--;
		}
	}
}

/* content_id,title,duration_sec,"{genre,...}" -- ready for COPY ... CSV */
static void
print_catalog(const Options *o)
{
	Rng			r;
	char		line[256];

	rng_init(&r, o->seed, STREAM_CATALOG);
	for (uint32_t id = 1; id <= o->titles; id++)
	{
		Title		t;
		char	   *p = line;
		const char *sep = "";

		draw_title(&r, &t);
		p = put_u64(p, id);
		p = PUT_LIT(p, ",Title ");
		p = put_u64(p, id);
		*p++ = ' ';
		if (t.two_words)
		{
			p = put_str(p, title_adjectives[t.adjective]);
			*p++ = ' ';
		}
		p = put_str(p, title_nouns[t.noun]);
		*p++ = ',';
		p = put_seconds(p, t.duration_ms);
		p = PUT_LIT(p, ",\"{");
		for (size_t g = 0; g < COUNT(genres); g++)
			if (t.genre_mask & (1u << g))
			{
				p = put_str(put_str(p, sep), genres[g]);
				sep = ",";
			}
		p = PUT_LIT(p, "}\"\n");
		out_append(line, (size_t) (p - line));
	}
}

/* ---------------------------------------------------------- simulation */

typedef struct User
{
	uint8_t		country;
	uint8_t		home_pop;
	uint8_t		device;			/* favourite */
	uint8_t		profiles;		/* 1..4 */
	uint16_t	genres;			/* favourite genres, a mask over genres[] */
	uint32_t	last_title;		/* 0: none yet */
} User;

typedef struct Session
{
	int64_t		t;				/* client time of the pending event, epoch ms */
	enum EventType pending;
	int64_t		pos_ms;			/* playhead */
	int64_t		target_ms;		/* playhead at which the viewer leaves */
	int64_t		duration_ms;
	int64_t		play_ms;		/* time spent playing: no stalls, no pauses */
	/* next occurrences, on the play clock */
	int64_t		next_heartbeat;
	int64_t		next_stall;
	int64_t		next_abr;
	int64_t		next_pause;
	int64_t		next_seek;
	int64_t		next_error;
	int64_t		next_fatal;
	double		stall_mean_ms;	/* mean play time between stalls */
	double		dropped_per_ms;
	uint64_t	id[2];
	uint32_t	user;
	uint32_t	content;
	uint32_t	seq;
	uint32_t	stalls;
	uint32_t	dropped;
	int64_t		stall_ms;		/* of the pending buffering event */
	int64_t		pause_ms;		/* of the pending pause */
	int64_t		buffer_ms;
	int			profile;
	int			device;
	int			country;
	const char *pop;
	int			rung;			/* current rendition */
	int			top_rung;		/* best the device and title allow */
	int			sustain_rung;	/* best the network sustains now */
	const char *error_code;
	bool		fatal;
	bool		degraded;
	bool		abandons;		/* leaves without a stop event */
} Session;

typedef struct Sim
{
	const Options *opt;
	Rng			rng;			/* all behaviour */
	Rng			ids;			/* session and event ids */
	Rng			tastes;			/* picks by taste, apart from all else */
	int64_t		start_ms;
	uint32_t	n_titles;
	int64_t    *title_duration_ms;
	uint16_t   *title_genres;
	bool	   *title_degraded;
	bool		clear_baseline; /* an incident run: healthy traffic clear of the alerts */
	double	   *popularity_cdf; /* by popularity rank */
	uint32_t   *title_by_rank;
	uint32_t	n_users;
	User	   *users;
	uint32_t	n_slots;
	Session    *sessions;		/* one slot per sustained viewer */
	uint64_t   *heap;			/* min-heap of slots by pending event time */
	uint64_t	sessions_started;
	const char *type_names[EV_STOP + 1];
} Sim;

static void *
xcalloc(size_t n, size_t size)
{
	void	   *p = calloc(n, size);

	if (p == NULL)
	{
		fprintf(stderr, "qoe_gen: out of memory\n");
		exit(1);
	}
	return p;
}

/* Titles are ranked by a seeded shuffle, so popular titles are not just the low ids. */
static void
build_catalog(Sim *sim)
{
	const Options *o = sim->opt;
	Rng			r;
	double		total = 0;

	sim->n_titles = o->titles;
	sim->title_duration_ms = xcalloc(o->titles + 1, sizeof(int64_t));
	sim->title_genres = xcalloc(o->titles + 1, sizeof(uint16_t));
	sim->title_degraded = xcalloc(o->titles + 1, sizeof(bool));
	sim->popularity_cdf = xcalloc(o->titles, sizeof(double));
	sim->title_by_rank = xcalloc(o->titles, sizeof(uint32_t));

	rng_init(&r, o->seed, STREAM_CATALOG);
	for (uint32_t id = 1; id <= o->titles; id++)
	{
		Title		t;

		draw_title(&r, &t);
		sim->title_duration_ms[id] = t.duration_ms;
		sim->title_genres[id] = t.genre_mask;
	}
	for (int i = 0; i < o->n_degrade_titles; i++)
		sim->title_degraded[o->degrade_titles[i]] = true;

	/*
	 * With --degrade-pop or --degrade-title the run is an incident among a
	 * well-running service: the healthy sessions start faster (VST p95
	 * ~2.2 s, not ~3 s) and fail less (0.2 % + 0.1 %, not 0.7 % + 0.3 %),
	 * clear of the default alert rules' 3 s and 1 % (doc/alerts.md), which
	 * then single out what is degraded. Without those flags the traffic is
	 * the same as ever, byte for byte.
	 */
	sim->clear_baseline = o->n_degrade_pops > 0 || o->n_degrade_titles > 0;

	rng_init(&r, o->seed, STREAM_POPULARITY);
	for (uint32_t i = 0; i < o->titles; i++)
		sim->title_by_rank[i] = i + 1;
	for (uint32_t i = o->titles - 1; i > 0; i--)
	{
		uint32_t	j = (uint32_t) uniform_int(&r, 0, i);
		uint32_t	tmp = sim->title_by_rank[i];

		sim->title_by_rank[i] = sim->title_by_rank[j];
		sim->title_by_rank[j] = tmp;
	}
	for (uint32_t i = 0; i < o->titles; i++)
	{
		total += pow(i + 1.0, -o->zipf);
		sim->popularity_cdf[i] = total;
	}
	for (uint32_t i = 0; i < o->titles; i++)
		sim->popularity_cdf[i] /= total;
}

static void
build_users(Sim *sim)
{
	Rng			r;

	rng_init(&r, sim->opt->seed, STREAM_USERS);
	sim->n_users = sim->opt->users;
	sim->users = xcalloc(sim->n_users, sizeof(User));
	for (uint32_t i = 0; i < sim->n_users; i++)
	{
		static const unsigned profile_weights[] = {25, 30, 25, 20};
		User	   *u = &sim->users[i];
		const Country *c;

		u->country = (uint8_t) PICK(&r, countries);
		c = &countries[u->country];
		u->home_pop = (uint8_t) pick_weighted(&r, c->pop_weights, MAX_POPS, sizeof(unsigned));
		u->device = (uint8_t) PICK(&r, devices);
		u->profiles = (uint8_t) (1 + PICK(&r, profile_weights));
	}
	/* tastes from their own stream: the draws above stay those of earlier versions */
	rng_init(&r, sim->opt->seed, STREAM_TASTES);
	for (uint32_t i = 0; i < sim->n_users; i++)
	{
		User	   *u = &sim->users[i];
		int			n = chance(&r, 0.5) ? 1 : 2;

		while (n > 0)
		{
			uint16_t	bit = (uint16_t) (1u << uniform_int(&r, 0, COUNT(genres) - 1));

			if (!(u->genres & bit))
			{
				u->genres |= bit;
				n--;
			}
		}
	}
}

static uint32_t
pick_title(Sim *sim, Rng *r)
{
	double		u = uniform(r);
	uint32_t	lo = 0,
				hi = sim->n_titles - 1;

	while (lo < hi)
	{
		uint32_t	mid = lo + (hi - lo) / 2;

		if (sim->popularity_cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return sim->title_by_rank[lo];
}

#define SERIES_BLOCK 8
#define EPISODE_MAX_MS (60 * 60000)

/*
 * Episodes are grouped into series: the episodes (titles under an hour)
 * among each block of 8 consecutive ids, in id order. Returns the episode
 * after `title` in its series, or 0.
 */
static uint32_t
next_episode(const Sim *sim, uint32_t title)
{
	if (title == 0 || sim->title_duration_ms[title] >= EPISODE_MAX_MS)
		return 0;
	for (uint32_t t = title + 1; t <= sim->n_titles && (t - 1) / SERIES_BLOCK == (title - 1) / SERIES_BLOCK; t++)
		if (sim->title_duration_ms[t] < EPISODE_MAX_MS)
			return t;
	return 0;
}

/*
 * What a viewer with tastes watches instead of the catalog-wide popular
 * pick: the next episode of the series they watched last (--series), else
 * with --taste a popular title of one of their favourite genres, else the
 * popular pick itself. Draws only from the taste stream, so with --taste 0
 * --series 0 every run is the one of a generator without tastes.
 */
static uint32_t
taste_title(Sim *sim, uint32_t user, uint32_t popular)
{
	User	   *u = &sim->users[user - 1];
	Rng		   *r = &sim->tastes;
	uint32_t	next = next_episode(sim, u->last_title);
	uint32_t	t = popular;

	if (next != 0 && chance(r, sim->opt->series))
		t = next;
	else if (chance(r, sim->opt->taste))
	{
		/* any title of the genres, popular or not: redraw until one matches */
		for (int tries = 0; tries < 200; tries++)
		{
			t = (uint32_t) uniform_int(r, 1, sim->n_titles);
			if (sim->title_genres[t] & u->genres)
				break;
		}
	}
	u->last_title = t;
	return t;
}

static bool
pop_degraded(const Options *o, const char *pop)
{
	for (int i = 0; i < o->n_degrade_pops; i++)
		if (strcmp(o->degrade_pops[i], pop) == 0)
			return true;
	return false;
}

/* Who watches what, where and on which device; the pending event is `start`. */
static void
session_begin(Sim *sim, Session *s, int64_t t)
{
	Rng		   *r = &sim->rng;
	const User *u;
	const Country *c;
	const Device *d;
	int			cap;

	memset(s, 0, sizeof(*s));
	s->t = t;
	s->pending = EV_START;
	/* a mild skew: some accounts watch far more than others */
	s->user = 1 + (uint32_t) (sim->n_users * pow(uniform(r), 1.5));
	if (s->user > sim->n_users)
		s->user = sim->n_users;
	u = &sim->users[s->user - 1];
	s->profile = (u->profiles == 1 || chance(r, 0.5)) ? 0 : (int) uniform_int(r, 1, u->profiles - 1);
	s->content = pick_title(sim, r);
	if (sim->opt->taste > 0 || sim->opt->series > 0)
		s->content = taste_title(sim, s->user, s->content);
	s->duration_ms = sim->title_duration_ms[s->content];
	s->device = chance(r, 0.75) ? u->device : (int) PICK(r, devices);
	s->country = u->country;
	c = &countries[s->country];
	s->pop = chance(r, 0.9) ? c->pops[u->home_pop]
		: c->pops[pick_weighted(r, c->pop_weights, MAX_POPS, sizeof(unsigned))];
	s->degraded = sim->title_degraded[s->content] || pop_degraded(sim->opt, s->pop);
	s->id[0] = rng_next(&sim->ids);
	s->id[1] = rng_next(&sim->ids);

	/* ABR: start a rung or two below what the network sustains, then climb */
	d = &devices[s->device];
	cap = d->uhd_capable && chance(r, 0.35) ? RUNG_UHD : d->top_rung;
	s->top_rung = cap;
	s->sustain_rung = (int) clamp64(cap - (int64_t) exponential(r, 1.3) - (s->degraded ? 2 : 0), 0, cap);
	s->rung = (int) clamp64(s->sustain_rung - 1 - chance(r, 0.5), 0, cap);
	s->dropped_per_ms = d->dropped_per_min / 60000.0 * spread_factor(r, 0.8);
	sim->sessions_started++;
}

/* A new session takes the slot after a short breather. */
static void
session_next_in_slot(Sim *sim, Session *s)
{
	session_begin(sim, s, s->t + 1000 + (int64_t) exponential(&sim->rng, 20000));
}

/*
 * How far the viewer will get: ~40% watch to >= 90% of the title, the rest
 * drop off, most of them early.
 */
static int64_t
draw_leaving_point(Rng *r, int64_t duration_ms)
{
	double		share = chance(r, 0.40) ? 0.90 + 0.10 * uniform(r) : 0.90 * pow(uniform(r), 1.6);

	return clamp64((int64_t) (share * duration_ms), 10000, duration_ms);
}

static void
plan_playback(Sim *sim, Session *s)
{
	Rng		   *r = &sim->rng;

	s->target_ms = draw_leaving_point(r, s->duration_ms);
	s->abandons = chance(r, 0.05);
	s->next_heartbeat = HEARTBEAT_MS;
	/* stalls: ~0.5 per 10 min overall, concentrated on poor connections */
	s->stall_mean_ms = (s->degraded ? 150000.0 : 1200000.0) / spread_factor(r, 0.9);
	s->next_stall = (int64_t) exponential(r, s->stall_mean_ms);
	s->next_abr = s->rung < s->sustain_rung ? uniform_int(r, 5000, 40000)
		: (int64_t) exponential(r, 600000);
	s->next_pause = (int64_t) exponential(r, 2400000);
	s->next_seek = (int64_t) exponential(r, 1800000);
	s->next_error = chance(r, 0.02) ? uniform_int(r, 0, s->target_ms) : NEVER;
	s->next_fatal = chance(r, s->degraded ? 0.01 : sim->clear_baseline ? 0.001 : 0.003)
		? uniform_int(r, 0, s->target_ms) : NEVER;
}

/* After `start`: exit before video start, start failure, or a first frame. */
static void
resolve_start(Sim *sim, Session *s)
{
	Rng		   *r = &sim->rng;
	double		ebvs = s->degraded ? 0.10 : 0.03;
	double		failure = s->degraded ? 0.05 : sim->clear_baseline ? 0.002 : 0.007;
	double		u = uniform(r);

	if (u < ebvs)
	{
		s->pending = EV_STOP;
		s->t += uniform_int(r, 2000, 10000);
	}
	else if (u < ebvs + failure)
	{
		s->pending = EV_ERROR;
		s->fatal = true;
		s->error_code = start_failure_errors[PICK(r, start_failure_errors)].code;
		s->t += uniform_int(r, 1000, 10000);
	}
	else
	{
		/*
		 * video start time: median 1.1 s, p95 ~3 s (~2.2 s in an incident
		 * run); median ~6 s, p95 ~16 s when degraded
		 */
		double		vst = lognormal(r, s->degraded ? 6000 : 1100,
									!s->degraded && sim->clear_baseline ? 0.42 : 0.61);

		s->pending = EV_FIRST_FRAME;
		s->t += clamp64((int64_t) vst, 150, 60000);
		s->buffer_ms = uniform_int(r, 2000, 6000);
		plan_playback(sim, s);
	}
}

/* Bandwidth drifts; the player steps one rung toward what it sustains. */
static void
switch_rendition(Rng *r, Session *s)
{
	if (chance(r, 0.4))
		s->sustain_rung = (int) clamp64(s->sustain_rung + (chance(r, 0.5) ? 1 : -1), 0, s->top_rung);
	if (s->rung < s->sustain_rung)
		s->rung++;
	else if (s->rung > s->sustain_rung)
		s->rung--;
	else						/* a dip the player recovers from at the next switch */
		s->rung += s->rung > 0 ? -1 : 1;
}

static void
seek(Rng *r, Session *s)
{
	int64_t		jump = chance(r, 0.65) ? uniform_int(r, 10000, 300000) : -uniform_int(r, 10000, 90000);

	s->pos_ms = clamp64(s->pos_ms + jump, 0, s->duration_ms - 1000);
	if (s->pos_ms > s->target_ms)	/* skipped past where they meant to stop */
		s->target_ms = clamp64(s->pos_ms + uniform_int(r, 5000, 60000), 0, s->duration_ms);
	s->buffer_ms = uniform_int(r, 1000, 4000);
}

static void
stall(Rng *r, Session *s)
{
	s->stall_ms = s->degraded ? uniform_int(r, 3000, 10000)
		: clamp64((int64_t) lognormal(r, 1500, 0.84), 250, 30000);
	s->stalls++;
	s->buffer_ms = uniform_int(r, 500, 2500);	/* refilled when playback resumes */
	s->next_stall = s->play_ms + (int64_t) exponential(r, s->stall_mean_ms);
	/* players usually step down soon after running dry */
	if (s->sustain_rung > 0 && chance(r, 0.6))
	{
		s->sustain_rung--;
		s->next_abr = s->play_ms + uniform_int(r, 1000, 6000);
	}
}

static void
refresh_buffer(Rng *r, Session *s)
{
	int64_t		target = devices[s->device].buffer_target_ms / (s->degraded ? 3 : 1);

	s->buffer_ms += (target - s->buffer_ms) / 2 + (int64_t) (1500 * std_normal(r));
	s->buffer_ms = clamp64(s->buffer_ms, 300, target + 5000);
}

enum Happening
{
	H_LEAVE, H_FATAL, H_HEARTBEAT, H_STALL, H_ABR, H_PAUSE, H_SEEK, H_ERROR
};

static void
consider(int64_t when, enum Happening what, int64_t *at, enum Happening *next)
{
	if (when < *at)
	{
		*at = when;
		*next = what;
	}
}

/* While playing: play up to the earliest thing that happens next. */
static void
schedule_playback(Sim *sim, Session *s)
{
	Rng		   *r = &sim->rng;
	int64_t		at = s->play_ms + (s->target_ms - s->pos_ms);
	enum Happening next = H_LEAVE;
	int64_t		delta;

	consider(s->next_fatal, H_FATAL, &at, &next);
	consider(s->next_heartbeat, H_HEARTBEAT, &at, &next);
	consider(s->next_stall, H_STALL, &at, &next);
	consider(s->next_abr, H_ABR, &at, &next);
	consider(s->next_pause, H_PAUSE, &at, &next);
	consider(s->next_seek, H_SEEK, &at, &next);
	consider(s->next_error, H_ERROR, &at, &next);

	delta = at - s->play_ms;
	s->t += delta;
	s->pos_ms += delta;
	s->play_ms = at;
	s->dropped += poisson(r, s->dropped_per_ms * (double) delta);

	switch (next)
	{
		case H_LEAVE:
			if (s->abandons)
				session_next_in_slot(sim, s);
			else
				s->pending = EV_STOP;
			break;
		case H_FATAL:
			s->pending = EV_ERROR;
			s->fatal = true;
			s->error_code = playback_failure_errors[PICK(r, playback_failure_errors)].code;
			break;
		case H_HEARTBEAT:
			s->pending = EV_HEARTBEAT;
			s->next_heartbeat += HEARTBEAT_MS;
			refresh_buffer(r, s);
			break;
		case H_STALL:
			s->pending = EV_BUFFERING;
			stall(r, s);
			break;
		case H_ABR:
			s->pending = EV_BITRATE_CHANGE;
			switch_rendition(r, s);
			s->next_abr = s->play_ms + (int64_t) exponential(r, s->degraded ? 300000 : 600000);
			break;
		case H_PAUSE:
			s->pending = EV_PAUSE;
			s->pause_ms = (int64_t) (1000 * exp(log(5) + uniform(r) * log(120.0 / 5)));
			s->next_pause = s->play_ms + (int64_t) exponential(r, 2400000);
			break;
		case H_SEEK:
			s->pending = EV_SEEK;
			seek(r, s);
			s->next_seek = s->play_ms + (int64_t) exponential(r, 1800000);
			break;
		case H_ERROR:
			s->pending = EV_ERROR;
			s->fatal = false;
			s->error_code = recoverable_errors[PICK(r, recoverable_errors)].code;
			s->next_error = NEVER;
			break;
	}
}

/* The pending event has been written: work out the session's next one. */
static void
session_advance(Sim *sim, Session *s)
{
	switch (s->pending)
	{
		case EV_START:
			resolve_start(sim, s);
			return;
		case EV_STOP:
			session_next_in_slot(sim, s);
			return;
		case EV_ERROR:
			if (s->fatal)
			{
				session_next_in_slot(sim, s);
				return;
			}
			break;
		case EV_PAUSE:
			s->pending = EV_RESUME;
			s->t += s->pause_ms;
			return;
		case EV_BUFFERING:
			s->t += s->stall_ms;	/* playback resumes after the stall */
			break;
		default:
			break;
	}
	schedule_playback(sim, s);
}

static size_t
format_event(Sim *sim, const Session *s, char *buf)
{
	const Options *o = sim->opt;
	enum EventType type = s->pending;
	char	   *p = buf;

	p = PUT_LIT(p, "{\"event_type\":\"");
	p = put_str(p, sim->type_names[type]);
	p = PUT_LIT(p, "\",\"event_id\":\"");
	if (o->uuid_ids)
	{
		uint64_t	hi = rng_next(&sim->ids);

		p = put_uuid(p, hi, rng_next(&sim->ids));
	}
	else
		p = put_u64(p, s->seq);
	p = PUT_LIT(p, "\",\"session_id\":\"");
	p = o->uuid_ids ? put_uuid(p, s->id[0], s->id[1]) : put_hex(p, s->id[0], 16);
	p = PUT_LIT(p, "\",\"user_id\":");
	p = put_u64(p, s->user);
	p = PUT_LIT(p, ",\"profile_id\":");
	p = put_u64(p, (uint64_t) s->user * 10 + (uint64_t) s->profile);
	p = PUT_LIT(p, ",\"content_id\":");
	p = put_u64(p, s->content);
	p = PUT_LIT(p, ",\"timestamp\":");
	if (o->iso_timestamps)
	{
		*p++ = '"';
		p = put_iso8601(p, s->t);
		*p++ = '"';
	}
	else
		p = put_u64(p, (uint64_t) s->t);
	p = PUT_LIT(p, ",\"position_sec\":");
	p = put_tenths(p, s->pos_ms);
	p = PUT_LIT(p, ",\"bitrate_kbps\":");
	p = put_u64(p, (uint64_t) ladder_kbps[s->rung]);
	p = PUT_LIT(p, ",\"resolution\":\"");
	p = put_str(p, ladder_resolution[s->rung]);
	*p++ = '"';
	if (type == EV_FIRST_FRAME || type == EV_HEARTBEAT)
	{
		p = PUT_LIT(p, ",\"buffer_health_sec\":");
		p = put_tenths(p, s->buffer_ms);
	}
	if (type == EV_HEARTBEAT || type == EV_BUFFERING || type == EV_STOP)
	{
		p = PUT_LIT(p, ",\"buffering_events\":");
		p = put_u64(p, s->stalls);
		p = PUT_LIT(p, ",\"dropped_frames\":");
		p = put_u64(p, s->dropped);
	}
	if (type == EV_BUFFERING)
	{
		p = PUT_LIT(p, ",\"buffering_ms\":");
		p = put_u64(p, (uint64_t) s->stall_ms);
	}
	if (type == EV_ERROR)
	{
		p = PUT_LIT(p, ",\"error_code\":\"");
		p = put_str(p, s->error_code);
		p = s->fatal ? PUT_LIT(p, "\",\"fatal\":true") : PUT_LIT(p, "\",\"fatal\":false");
	}
	p = PUT_LIT(p, ",\"content_duration_sec\":");
	p = put_seconds(p, s->duration_ms);
	p = PUT_LIT(p, ",\"device_type\":\"");
	p = put_str(p, devices[s->device].name);
	p = PUT_LIT(p, "\",\"country\":\"");
	p = put_str(p, countries[s->country].code);
	p = PUT_LIT(p, "\",\"cdn_pop\":\"");
	p = put_str(p, s->pop);
	p = PUT_LIT(p, "\"}");
	return (size_t) (p - buf);
}

static void
heap_sift_down(uint64_t *heap, size_t n, size_t i)
{
	uint64_t	key = heap[i];

	for (;;)
	{
		size_t		child = 2 * i + 1;

		if (child >= n)
			break;
		if (child + 1 < n && heap[child + 1] < heap[child])
			child++;
		if (heap[child] >= key)
			break;
		heap[i] = heap[child];
		i = child;
	}
	heap[i] = key;
}

static uint64_t
heap_key(const Sim *sim, size_t slot)
{
	return ((uint64_t) (sim->sessions[slot].t - sim->start_ms) << SLOT_BITS) | slot;
}

/* Every slot opens a session within the first minute, then stays busy. */
static void
start_sessions(Sim *sim)
{
	sim->n_slots = sim->opt->viewers;
	sim->sessions = xcalloc(sim->n_slots, sizeof(Session));
	sim->heap = xcalloc(sim->n_slots, sizeof(uint64_t));
	for (size_t i = 0; i < sim->n_slots; i++)
	{
		session_begin(sim, &sim->sessions[i], sim->start_ms + uniform_int(&sim->rng, 0, 59999));
		sim->heap[i] = heap_key(sim, i);
	}
	for (size_t i = sim->n_slots / 2 + 1; i-- > 0;)
		heap_sift_down(sim->heap, sim->n_slots, i);
}

/* Emit in event-time order across all sessions until a stop condition holds. */
static void
run(Sim *sim)
{
	uint64_t	end = sim->opt->duration_ms > 0 ? (uint64_t) sim->opt->duration_ms : UINT64_MAX >> SLOT_BITS;
	char		text[EVENT_MAX];

	while (!out.full && (sim->heap[0] >> SLOT_BITS) < end)
	{
		size_t		slot = sim->heap[0] & MAX_VIEWERS;
		Session    *s = &sim->sessions[slot];

		out.due_ms = s->t;
		deliver(text, format_event(sim, s, text));
		s->seq++;
		session_advance(sim, s);
		sim->heap[0] = heap_key(sim, slot);
		heap_sift_down(sim->heap, sim->n_slots, 0);
	}
	release_parked(true);
}

static int64_t
default_start_ms(const Options *o)
{
	struct timespec now;
	int64_t		span = o->duration_ms > 0 ? o->duration_ms : 3600000;

	clock_gettime(CLOCK_REALTIME, &now);
	return ((int64_t) now.tv_sec * 1000 - span) / 1000 * 1000;
}

int
main(int argc, char **argv)
{
	Options		opt;
	Sim			sim = {0};

	parse_options(argc, argv, &opt);
	signal(SIGPIPE, SIG_IGN);	/* a closed pipe then shows up as EPIPE */

	if (opt.catalog)
	{
		print_catalog(&opt);
		flush_output();
		return 0;
	}

	sim.opt = &opt;
	sim.start_ms = opt.start_ms >= 0 ? opt.start_ms : default_start_ms(&opt);
	for (int i = 0; i <= EV_STOP; i++)
		sim.type_names[i] = opt.dotted ? dotted_event_names[i] : event_names[i];
	rng_init(&sim.rng, opt.seed, STREAM_SESSIONS);
	rng_init(&sim.ids, opt.seed, STREAM_IDS);
	rng_init(&sim.tastes, opt.seed, STREAM_TASTE_PICKS);
	rng_init(&delivery.rng, opt.seed, STREAM_DELIVERY);
	delivery.late_fraction = opt.out_of_order;
	delivery.duplicate_fraction = opt.duplicates;
	out.array = opt.array_format;
	out.kafka_key = opt.kafka_key;
	out.batch = opt.batch;
	out.limit = opt.events;
	out.rate = opt.rate;
	out.realtime = opt.realtime;
	clock_gettime(CLOCK_MONOTONIC, &out.started);

	if (opt.verbose)
		fprintf(stderr, "qoe_gen: seed %" PRIu64 ", start-ms %" PRId64 "\n", opt.seed, sim.start_ms);
	build_catalog(&sim);
	build_users(&sim);
	start_sessions(&sim);
	run(&sim);
	close_array_line();
	flush_output();
	if (opt.verbose)
		fprintf(stderr, "qoe_gen: wrote %" PRId64 " events from %" PRIu64 " sessions in %.2f s\n",
				out.written, sim.sessions_started, seconds_since(&out.started));
	return 0;
}
