/*
 * redis_publish.c: the Redis publisher (doc/redis.md), a background worker
 * seen as "qoe_ext publisher" in pg_stat_activity.
 *
 * It runs apart from every ingest: it keeps in memory what the keys show
 * (viewers_ledger.c, metrics_ledger.c, trending_ledger.c), from the notes
 * ingest commits post after they commit and from reads of committed data
 * (rebases), then writes to Redis the keys whose value changed since Redis
 * last acknowledged them, pipelined on one connection. Ingest never waits
 * for it, and a slow or absent Redis only delays the next round. After a
 * reconnection, and every third of the keys' TTL, it writes every key again
 * (Redis may have restarted empty; the TTL must not run out on a value that
 * did not change).
 *
 * Alert changes go out on the pub/sub channel qoe_alerts: the evaluation
 * queues them in qoe.redis_alert_outbox, in its own transaction; the
 * publisher PUBLISHes them in order and deletes from the outbox those Redis
 * acknowledged, so a message is published at least once, never for a
 * rolled-back evaluation, and waits out a Redis outage or a publisher restart.
 *
 * Rounds (core/commit_wake.c): an ingest commit that changed who plays or
 * the windows the qoe_metrics hashes show wakes it; a round publishes the
 * titles the notes changed, so it costs what they cost, not the whole
 * audience. An evaluation that queued alert changes wakes it for the
 * outbox. Woken rounds run as often as round_at allows (two paces: the
 * viewers alone, and the rest). Every qoe.redis_publish_interval it
 * publishes trending_content, rebuilds the ledgers when
 * qoe_ledger_rebase_due says so, and reads the outbox if no round did
 * within the interval.
 *
 * The Kafka supervisor starts it while qoe.redis_host is set
 * (PublishSupervise); it exits when that setting is emptied.
 *
 * It connects to qoe.database as qoe.worker_role, like the Kafka workers,
 * and reads only qoe.sessions and the 5-minute rollups and their deltas
 * (the ledgers' rebuild) and the alert outbox.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/commit_wake.h"
#include "core/guc.h"
#include "core/id_table.h"
#include "core/worker_session.h"
#include "publish/metrics_ledger.h"
#include "publish/publish_guc.h"
#include "publish/redis_conn.h"
#include "publish/redis_publish.h"
#include "publish/redis_status.h"
#include "publish/trending_ledger.h"
#include "publish/viewers_ledger.h"

#define MIN_BACKOFF_MS	50
#define MAX_BACKOFF_MS	500		/* keys catch up within 1 s of Redis returning */
#define SCORE_LEN		32
#define ALERT_BATCH		1000	/* alert messages per round; more: another round soon */

/*
 * Woken rounds start at least qoe_wake_earliest's 50 ms apart: under a
 * stream of commits (every ingest commit wakes it) they publish the titles
 * of about 50 ms of commits together. After a round, each kind of round
 * also rests at least this many times the CPU time its last round of that
 * kind used: rounds of the viewers alone and other woken rounds use at most
 * a fifth of a core each, periodic ones a tenth, however costly they grow
 * (the notes of a fast ingest of a live audience; doc/redis_design.md, spacing).
 * At a live 10,000 events/s a round of qoe_metrics costs about 10 ms (it
 * rewrites the hashes of the titles whose sums changed): nine times put
 * commit-to-qoe_metrics p99 at 104-189 ms there (session 19), against 57-60
 * with four.
 */
#define WOKEN_REST_FACTOR 4
#define PERIODIC_REST_FACTOR 10

/*
 * Above this many notes a second (two per event of live traffic: about
 * 20,000 events a second, twice the rate commit-to-Redis latency is held
 * at), woken rounds are spaced further apart with the square of the rate:
 * 200 ms at twice it, at most BUSY_SPACING_MAX_MS. At such rates most
 * titles change in every round, so a round writes nearly every key whatever
 * the spacing: the keys written a second fall as the ingest grows. In
 * proportion to the rate they stayed constant, and a fast ingest slowed by
 * other work (bench (a') at 50,000 rather than 75,000 events/s) still paid
 * over 5 % of its CPU (session 22). Unlike a rest in proportion to a
 * round's cost (session 21), the rate does not grow with the spacing: a
 * longer round does not lengthen the next.
 */
#define BUSY_NOTE_RATE 40000.0
#define BUSY_SPACING_MAX_MS 1000	/* the keys still follow within a second */

/* What a round reads and publishes. */
#define ROUND_VIEWERS	0x1
#define ROUND_TRENDING	0x2
#define ROUND_METRICS	0x4
#define ROUND_ALERTS	0x8
#define ROUND_NPARTS	4			/* the bits above */

/* What a title's key of either kind has: the head of ViewersKey and MetricsKey. */
typedef struct TitleKey
{
	int64		content_id;		/* hash key */
	bool		known;			/* held is what Redis holds */
	bool		seen;			/* in the view, as last read */
	uint64		round;			/* the last round that read its title */
} TitleKey;

/*
 * The keys of one kind whose title this round read, so that a round visits
 * those, not every key held (three passes over 2,000 keys a round were a
 * sixth of the publisher's CPU at a live 10,000 events/s).
 */
typedef struct RoundKeys
{
	TitleKey  **keys;			/* in the round's memory context */
	int			n;
	int			size;
} RoundKeys;

/* A concurrent_viewers key: what Redis is known to hold, and what is wanted. */
typedef struct ViewersKey
{
	TitleKey	t;
	int64		wanted;
	int64		held;			/* meaningful when known */
} ViewersKey;

/* One member of trending_content, score rounded to 4 significant digits. */
typedef struct TrendingItem
{
	int64		content_id;
	char		score[SCORE_LEN];
} TrendingItem;

/* The fields of a qoe_metrics:{content_id} hash, but updated_at. */
#define NFIELDS			8
#define FIELD_LEN		32
#define FIELD_RATIOS	5		/* the fields before: doubles */
#define FIELD_PLAYS		5
#define FIELD_VIEWERS	6		/* filled from the concurrent_viewers keys */
#define FIELD_WINDOW	7
static const char *const field_names[NFIELDS] = {
	"vst_p50_ms", "vst_p95_ms", "vst_p99_ms", "rebuffering_ratio", "qoe_score", "plays",
	"concurrent_viewers", "window_start"
};

/* The fields of one title's hash ("" for a NULL metric: no field). */
typedef struct MetricsFields
{
	char		v[NFIELDS][FIELD_LEN];
} MetricsFields;

/*
 * A qoe_metrics key: the fields Redis is known to hold, and those wanted
 * (each NUL-padded: the two compare whole).
 */
typedef struct MetricsKey
{
	TitleKey	t;
	MetricsFields wanted;
	MetricsFields held;			/* meaningful when known */
	double		wanted_values[FIELD_RATIOS];	/* of the fields of doubles wanted */
} MetricsKey;

/* What each pipelined command was for, to apply its reply. */
typedef enum OpKind
{
	OP_SET_VIEWERS,
	OP_DEL_VIEWERS,
	OP_DEL_METRICS,
	OP_QUEUED,					/* MULTI and the commands it queues */
	OP_TRENDING_EXEC,
	OP_METRICS_EXEC,
	OP_METRICS_HSET,			/* the fields of a hash Redis holds whole */
	OP_PUBLISH_ALERT
} OpKind;

typedef struct Op
{
	OpKind		kind;
	int64		id;				/* content_id; for OP_PUBLISH_ALERT the outbox seq */
	int			fields_new;		/* OP_METRICS_HSET: the fields it adds to the hash */
} Op;

static redisContext *conn = NULL;
static HTAB *viewers_keys = NULL;
static HTAB *metrics_keys = NULL;
static uint64 round_no = 0;
static MemoryContext round_keys_cxt = NULL;
static RoundKeys viewers_in_round;
static RoundKeys metrics_in_round;

/*
 * The titles a round publishes of one kind of key, from its ledger's
 * changed titles (n = -1: every title).
 */
static QoeTitleList viewer_titles;
static QoeTitleList metric_titles;

static TrendingItem *trending_held = NULL;	/* NULL: not known */
static int	trending_held_n = 0;
static char *settings_seen = NULL;	/* what the connection was made with */
static int	backoff_ms = 0;
static char logged_error[QOE_REDIS_ERRLEN];

/* This round's input and output, in the round's memory context. */
static char updated_at[FIELD_LEN];
static TrendingItem *trending_wanted;
static int	trending_wanted_n;
static Op  *ops;
static int	nops;
static int	ops_size;
static int64 *alert_seqs;		/* the outbox read: seq and message */
static char **alert_messages;
static int	alerts_n;
static Datum *alerts_done;		/* seqs (int8) Redis acknowledged publishing */
static int	alerts_done_n;

/* the supervisor's */
static QoeChild publisher = {.function = "qoe_publisher_main", .name = "qoe_ext publisher",
.retry_ms = QOE_SUPERVISE_MS};
static bool publisher_wanted = false;

void
PublishInit(void)
{
	PublishGucInit();
	if (process_shared_preload_libraries_in_progress)
	{
		RedisStatusShmemInit();
		ViewersLedgerShmemInit();
	}
}

long
PublishSupervise(TimestampTz now)
{
	bool		wanted = qoe_redis_host[0] != '\0';
	bool		newly = wanted && !publisher_wanted;

	publisher_wanted = wanted;
	if (!wanted)
	{
		/* it exits by itself on the reload too; this is for a quick stop */
		qoe_child_stop(&publisher);
		return QOE_SUPERVISE_MS;
	}
	return qoe_child_look(&publisher, now, newly);
}

void
PublishStop(void)
{
	qoe_child_stop(&publisher);
}

/* Whether a round that read what published part (a ROUND_* bit) whole. */
static bool
published_whole(int what, int part)
{
	if (!(what & part))
		return false;
	if (part == ROUND_VIEWERS)
		return viewer_titles.n < 0;
	if (part == ROUND_METRICS)
		return metric_titles.n < 0;
	return true;
}

/* ---- the state of the keys ---- */

/* Redis may hold anything now: write every key in the next round. */
static void
forget_published(void)
{
	HASH_SEQ_STATUS seq;
	ViewersKey *k;
	MetricsKey *m;

	hash_seq_init(&seq, viewers_keys);
	while ((k = hash_seq_search(&seq)) != NULL)
		k->t.known = false;
	hash_seq_init(&seq, metrics_keys);
	while ((m = hash_seq_search(&seq)) != NULL)
		m->t.known = false;
	if (trending_held != NULL)
		pfree(trending_held);
	trending_held = NULL;
	/* the viewers and qoe_metrics are written by the next round, from the ledgers */
	qoe_ledger_touch(NULL);
	qoe_metrics_ledger_touch(NULL);
}

static void
report_error(const char *message)
{
	qoe_redis_status_error(message);
	/* once per new message: an outage would otherwise log every round */
	if (strcmp(message, logged_error) != 0)
	{
		ereport(LOG, (errmsg("qoe_ext publisher: %s", message)));
		strlcpy(logged_error, message, sizeof(logged_error));
	}
}

static const char *
server_name(void)
{
	static char name[256];

	if (qoe_redis_host[0] == '/')
		snprintf(name, sizeof(name), "%s db %d", qoe_redis_host, qoe_redis_db);
	else
		snprintf(name, sizeof(name), "%s:%d db %d", qoe_redis_host, qoe_redis_port, qoe_redis_db);
	return name;
}

static void
close_connection(void)
{
	if (conn != NULL)
		redisFree(conn);
	conn = NULL;
}

/* Drop the connection and wait longer before the next attempt. */
static void
connection_failed(const char *why)
{
	close_connection();
	backoff_ms = backoff_ms == 0 ? MIN_BACKOFF_MS : Min(backoff_ms * 2, MAX_BACKOFF_MS);
	qoe_redis_status_set_state(QOE_REDIS_DISCONNECTED, server_name());
	report_error(why);
}

static bool
connect_redis(void)
{
	char		err[QOE_REDIS_ERRLEN];

	qoe_redis_status_set_state(QOE_REDIS_CONNECTING, server_name());
	pgstat_report_activity(STATE_RUNNING, "connecting to Redis");
	conn = qoe_redis_connect(qoe_redis_host, qoe_redis_port, qoe_redis_user,
							 qoe_redis_password, qoe_redis_db, qoe_redis_timeout_ms, err);
	if (conn == NULL)
	{
		char		msg[QOE_REDIS_ERRLEN];

		snprintf(msg, sizeof(msg), "could not connect to Redis at %s: %s", server_name(), err);
		connection_failed(msg);
		pgstat_report_activity(STATE_IDLE, NULL);
		return false;
	}
	qoe_redis_status_set_state(QOE_REDIS_CONNECTED, server_name());
	forget_published();
	return true;
}

/* ---- reading the committed state ---- */

/* k's title is read this round (once in the list). */
static void
put_in_round(RoundKeys *in_round, TitleKey *k)
{
	if (k->round == round_no)
		return;
	k->round = round_no;
	if (in_round->n == in_round->size)
	{
		in_round->size = Max(64, in_round->size * 2);
		in_round->keys = in_round->keys == NULL
			? MemoryContextAlloc(round_keys_cxt, sizeof(TitleKey *) * in_round->size)
			: repalloc(in_round->keys, sizeof(TitleKey *) * in_round->size);
	}
	in_round->keys[in_round->n++] = k;
}

/*
 * Before a read of titles' keys: those keys are in the round, and go unless
 * the read finds their title (title_read).
 */
static void
begin_title_read(HTAB *keys, RoundKeys *in_round, const QoeTitleList *titles)
{
	HASH_SEQ_STATUS seq;
	TitleKey   *k;

	if (titles->n < 0)
	{
		hash_seq_init(&seq, keys);
		while ((k = hash_seq_search(&seq)) != NULL)
		{
			put_in_round(in_round, k);
			k->seen = false;
		}
	}
	for (int i = 0; i < titles->n; i++)
		if ((k = hash_search(keys, &titles->ids[i], HASH_FIND, NULL)) != NULL)
		{
			put_in_round(in_round, k);
			k->seen = false;
		}
}

/* The key of a title the read found (created unknown and empty if new). */
static void *
title_read(HTAB *keys, RoundKeys *in_round, int64 content_id, Size entrysize)
{
	bool		found;
	TitleKey   *k = hash_search(keys, &content_id, HASH_ENTER, &found);

	if (!found)
	{
		memset((char *) k + sizeof(int64), 0, entrysize - sizeof(int64));
		k->known = false;
		k->round = 0;
	}
	put_in_round(in_round, k);
	k->seen = true;
	return k;
}

static void
viewers_wanted(int64 content_id, int64 viewers)
{
	((ViewersKey *) title_read(viewers_keys, &viewers_in_round, content_id,
							   sizeof(ViewersKey)))->wanted = viewers;
}

/*
 * The viewers of viewer_titles, from the ledger (viewers_ledger.h), caught
 * up by round_due; of every title, from qoe.sessions: the ledger is rebuilt.
 */
static void
read_viewers(void)
{
	if (viewer_titles.n < 0)
	{
		qoe_ledger_rebase(GetCurrentTimestamp());
		qoe_ledger_for_each_title(viewers_wanted);
		return;
	}
	for (int i = 0; i < viewer_titles.n; i++)
	{
		int64		viewers = qoe_ledger_viewers(viewer_titles.ids[i]);

		if (viewers > 0)
			viewers_wanted(viewer_titles.ids[i], viewers);
	}
}

/* The top titles of trending_content, from the ledger, caught up by round_due. */
static void
read_trending(MemoryContext round_cxt)
{
	QoeTrendingScore *top;
	int			n = qoe_trending_ledger_top(GetCurrentTimestamp(), qoe_redis_trending_size, &top);

	trending_wanted = MemoryContextAllocZero(round_cxt, sizeof(TrendingItem) * (n + 1));
	for (int i = 0; i < n; i++)
	{
		TrendingItem *t = &trending_wanted[i];
		char		rounded[SCORE_LEN];

		t->content_id = top[i].content_id;
		/* rounded, so a score that decays a little is no change */
		snprintf(rounded, sizeof(rounded), "%.4g", top[i].score);
		snprintf(t->score, SCORE_LEN, "%.15g", strtod(rounded, NULL));
	}
	trending_wanted_n = n;
}

/* t as ISO 8601 UTC, to the second or to the millisecond. */
static void
format_utc(TimestampTz t, bool ms, char *out)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
		elog(ERROR, "timestamp out of range");
	if (ms)
		snprintf(out, FIELD_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year, tm.tm_mon,
				 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (fsec / 1000));
	else
		snprintf(out, FIELD_LEN, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year, tm.tm_mon,
				 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static TimestampTz metrics_read_at;

/* The window_start field last formatted, and its value. */
static TimestampTz window_start_at = DT_NOBEGIN;
static char window_start[FIELD_LEN];

/* Field f of a hash: text, NUL-padded. */
static void
set_field(MetricsFields *fields, int f, const char *text)
{
	strncpy(fields->v[f], text, FIELD_LEN);
}

/*
 * Field f of m's wanted hash: value to 6 significant digits, or none if not
 * defined. Formatted only when it changed: printf was a seventh of the
 * publisher's CPU, and a round mostly sees the same start times again.
 */
static void
set_double_field(MetricsKey *m, int f, bool defined, double value)
{
	char		text[FIELD_LEN];

	if (!defined)
		set_field(&m->wanted, f, "");
	else if (m->wanted.v[f][0] == '\0' || m->wanted_values[f] != value)
	{
		snprintf(text, sizeof(text), "%.6g", value);
		set_field(&m->wanted, f, text);
		m->wanted_values[f] = value;
	}
}

/* The hash of a title, from the metrics ledger, if it has one. */
static void
metrics_wanted(int64 content_id)
{
	QoeTitleMetrics q;
	MetricsKey *m;
	char		plays[MAXINT8LEN + 1];

	if (!qoe_metrics_ledger_read(content_id, metrics_read_at, &q))
		return;
	m = title_read(metrics_keys, &metrics_in_round, content_id, sizeof(MetricsKey));
	for (int f = 0; f < 3; f++)
		set_double_field(m, f, q.has_vst, q.vst_ms[f]);
	set_double_field(m, 3, q.has_watch, q.rebuffering_ratio);
	set_double_field(m, 4, q.has_watch, q.qoe_score);
	pg_lltoa(q.plays, plays);
	set_field(&m->wanted, FIELD_PLAYS, plays);
	/* the same for every title: formatted once */
	if (q.window_start != window_start_at)
	{
		format_utc(q.window_start, false, window_start);
		window_start_at = q.window_start;
	}
	set_field(&m->wanted, FIELD_WINDOW, window_start);
}

/*
 * The metrics of metric_titles over the latest complete 5-minute window and
 * the current one (doc/redis.md), from the metrics ledger, caught up by
 * round_due or rebuilt by read_viewers in this round (every title);
 * concurrent_viewers is filled in when the commands are queued, from the
 * viewers read.
 */
static void
read_qoe_metrics(void)
{
	metrics_read_at = GetCurrentTimestamp();
	format_utc(metrics_read_at, true, updated_at);
	if (metric_titles.n < 0)
	{
		/* the rebase's "every title" is this round's */
		qoe_metrics_ledger_take_changed(&metric_titles);
		qoe_metrics_ledger_for_each_title(metrics_wanted);
		return;
	}
	for (int i = 0; i < metric_titles.n; i++)
		metrics_wanted(metric_titles.ids[i]);
}

/* The oldest alert changes queued, at most ALERT_BATCH. */
static void
read_alerts(MemoryContext round_cxt)
{
	char		sql[128];

	snprintf(sql, sizeof(sql),
			 "SELECT seq, message FROM qoe.redis_alert_outbox ORDER BY seq LIMIT %d", ALERT_BATCH);
	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading qoe.redis_alert_outbox failed");
	alert_seqs = MemoryContextAlloc(round_cxt, sizeof(int64) * (SPI_processed + 1));
	alert_messages = MemoryContextAlloc(round_cxt, sizeof(char *) * (SPI_processed + 1));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		bool		isnull;

		alert_seqs[r] = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		alert_messages[r] = MemoryContextStrdup(round_cxt, SPI_getvalue(tup, SPI_tuptable->tupdesc, 2));
	}
	alerts_n = (int) SPI_processed;
}

/* What one reading of the views needs and tells. */
typedef struct MetricsRead
{
	MemoryContext round_cxt;
	int			what;			/* ROUND_* bits */
	bool		installed;
} MetricsRead;

static void
read_metrics_in_transaction(void *arg)
{
	MetricsRead *read = (MetricsRead *) arg;

	read->installed = true;
	if (read->what & ROUND_VIEWERS)
		read_viewers();
	if (read->what & ROUND_TRENDING)
		read_trending(read->round_cxt);
	if (read->what & ROUND_METRICS)
		read_qoe_metrics();
	if (read->what & ROUND_ALERTS)
		read_alerts(read->round_cxt);
}

/*
 * Read the views into viewers_keys, metrics_keys (wanted, seen) and
 * trending_wanted, in a transaction of this process's own. False while the
 * extension is not installed, or on an error (reported, the round is
 * skipped).
 */
static bool
read_metrics(MemoryContext round_cxt, int what)
{
	MetricsRead read = {round_cxt, what, false};
	ErrorData  *error;

	if (what & ROUND_VIEWERS)
	{
		begin_title_read(viewers_keys, &viewers_in_round, &viewer_titles);
		if (viewer_titles.n < 0)
			qoe_ledger_begin_rebase();
	}
	if (what & ROUND_METRICS)
		begin_title_read(metrics_keys, &metrics_in_round, &metric_titles);
	trending_wanted_n = 0;
	alerts_n = 0;

	error = qoe_run_own_transaction("reading the metrics published to Redis",
									read_metrics_in_transaction, &read);
	if (error != NULL)
	{
		char		msg[QOE_REDIS_ERRLEN];

		snprintf(msg, sizeof(msg), "could not read the metrics: %s", error->message);
		report_error(msg);
		FreeErrorData(error);
		/* the titles taken from the ledgers go with the next round */
		if ((what & ROUND_VIEWERS) && viewer_titles.n < 0)
			qoe_ledger_invalidate();
		else if (what & ROUND_VIEWERS)
			for (int i = 0; i < viewer_titles.n; i++)
				qoe_ledger_touch(&viewer_titles.ids[i]);
		if ((what & ROUND_METRICS) && metric_titles.n > 0)
			for (int i = 0; i < metric_titles.n; i++)
				qoe_metrics_ledger_touch(&metric_titles.ids[i]);
		return false;
	}
	return read.installed;
}

/* ---- writing the keys ---- */

static bool
append(OpKind kind, int64 id, int argc, const char **argv)
{
	if (nops == ops_size)
	{
		ops_size *= 2;
		ops = repalloc(ops, sizeof(Op) * ops_size);
	}
	ops[nops].kind = kind;
	ops[nops].id = id;
	ops[nops].fields_new = 0;
	nops++;
	return redisAppendCommandArgv(conn, argc, argv, NULL) == REDIS_OK;
}

static char *
viewers_key(int64 content_id)
{
	return psprintf("%sconcurrent_viewers:" INT64_FORMAT, qoe_redis_key_prefix, content_id);
}

static char *
metrics_key(int64 content_id)
{
	return psprintf("%sqoe_metrics:" INT64_FORMAT, qoe_redis_key_prefix, content_id);
}

static bool
trending_changed(void)
{
	if (trending_held == NULL || trending_held_n != trending_wanted_n)
		return true;
	for (int i = 0; i < trending_wanted_n; i++)
		if (trending_held[i].content_id != trending_wanted[i].content_id ||
			strcmp(trending_held[i].score, trending_wanted[i].score) != 0)
			return true;
	return false;
}

/*
 * Replace a key in one MULTI/EXEC (readers see the old value or the new
 * one): DEL, then fill (argv, unless argc is 0) and EXPIRE.
 */
static bool
queue_rebuild(const char *key, OpKind exec_kind, int64 content_id, int argc, const char **argv)
{
	char		ttl[16];
	const char *multi[1] = {"MULTI"};
	const char *del[2] = {"DEL", key};
	const char *expire[3] = {"EXPIRE", key, ttl};
	const char *exec[1] = {"EXEC"};
	bool		ok = true;

	snprintf(ttl, sizeof(ttl), "%d", qoe_redis_key_ttl_s);
	ok &= append(OP_QUEUED, 0, 1, multi);
	ok &= append(OP_QUEUED, 0, 2, del);
	if (argc > 0)
	{
		ok &= append(OP_QUEUED, 0, argc, argv);
		if (qoe_redis_key_ttl_s > 0)
			ok &= append(OP_QUEUED, 0, 3, expire);
	}
	ok &= append(exec_kind, content_id, 1, exec);
	return ok;
}

static bool
queue_viewers(void)
{
	char		ttl[16];
	bool		ok = true;

	snprintf(ttl, sizeof(ttl), "%d", qoe_redis_key_ttl_s);
	for (int i = 0; i < viewers_in_round.n; i++)
	{
		ViewersKey *k = (ViewersKey *) viewers_in_round.keys[i];

		if (k->t.seen && (!k->t.known || k->held != k->wanted))
		{
			char	   *value = psprintf(INT64_FORMAT, k->wanted);
			const char *argv[5] = {"SET", viewers_key(k->t.content_id), value, "EX", ttl};

			ok &= append(OP_SET_VIEWERS, k->t.content_id, qoe_redis_key_ttl_s > 0 ? 5 : 3, argv);
		}
		else if (!k->t.seen)
		{
			/* nobody watches it now: the key goes, rather than reading 0 */
			const char *argv[2] = {"DEL", viewers_key(k->t.content_id)};

			ok &= append(OP_DEL_VIEWERS, k->t.content_id, 2, argv);
		}
	}
	return ok;
}

static bool
queue_trending(void)
{
	const char **argv;

	if (!trending_changed())
		return true;
	argv = palloc(sizeof(char *) * (2 + 2 * trending_wanted_n));
	argv[0] = "ZADD";
	argv[1] = psprintf("%strending_content", qoe_redis_key_prefix);
	for (int i = 0; i < trending_wanted_n; i++)
	{
		argv[2 + 2 * i] = trending_wanted[i].score;
		argv[3 + 2 * i] = psprintf(INT64_FORMAT, trending_wanted[i].content_id);
	}
	return queue_rebuild(argv[1], OP_TRENDING_EXEC, 0,
						 trending_wanted_n > 0 ? 2 + 2 * trending_wanted_n : 0, argv);
}

/* Whether a field Redis holds in m's hash would be absent from it now. */
static bool
field_disappears(const MetricsKey *m)
{
	for (int f = 0; f < NFIELDS; f++)
		if (m->held.v[f][0] != '\0' && m->wanted.v[f][0] == '\0')
			return true;
	return false;
}

/*
 * m's hash, written if a field but updated_at changed, or deleted. When
 * Redis holds each field it keeps, one HSET writes the fields that changed
 * and updated_at (one command is atomic; its TTL stays from the last whole
 * write, at most a third of it ago); should Redis have lost the hash
 * meanwhile (evicted, deleted), the HSET adds fields it was not to add, and
 * the next round replaces it whole (apply_replies). Otherwise it is
 * replaced whole: five commands and replies where one does (doc/redis.md,
 * qoe_metrics).
 */
static bool
queue_metrics_key(MetricsKey *m)
{
	if (m->t.seen)
	{
		ViewersKey *k = hash_search(viewers_keys, &m->t.content_id, HASH_FIND, NULL);
		const char *argv[2 + 2 * (NFIELDS + 1)] = {"HSET"};
		int			argc = 2;
		bool		whole;
		int			fields_new = 0;

		char		viewers[MAXINT8LEN + 1];

		pg_lltoa(k != NULL && k->t.seen ? k->wanted : 0, viewers);
		set_field(&m->wanted, FIELD_VIEWERS, viewers);
		if (m->t.known && memcmp(&m->held, &m->wanted, sizeof(MetricsFields)) == 0)
			return true;
		whole = !m->t.known || field_disappears(m);
		argv[1] = metrics_key(m->t.content_id);
		for (int f = 0; f < NFIELDS; f++)
			if (m->wanted.v[f][0] != '\0' && (whole || strcmp(m->wanted.v[f], m->held.v[f]) != 0))
			{
				argv[argc++] = field_names[f];
				argv[argc++] = m->wanted.v[f];
				fields_new += m->held.v[f][0] == '\0';
			}
		argv[argc++] = "updated_at";
		argv[argc++] = updated_at;
		if (whole)
			return queue_rebuild(argv[1], OP_METRICS_EXEC, m->t.content_id, argc, argv);
		if (!append(OP_METRICS_HSET, m->t.content_id, argc, argv))
			return false;
		ops[nops - 1].fields_new = fields_new;
		return true;
	}
	else
	{
		/* no activity in the two windows any more */
		const char *argv[2] = {"DEL", metrics_key(m->t.content_id)};

		return append(OP_DEL_METRICS, m->t.content_id, 2, argv);
	}
}

/*
 * The hashes of the titles whose metrics the round read, and (their
 * concurrent_viewers field) of those whose viewers it read.
 */
static bool
queue_qoe_metrics(bool metrics_read, bool viewers_read)
{
	bool		ok = true;

	if (metrics_read)
		for (int i = 0; i < metrics_in_round.n; i++)
			ok &= queue_metrics_key((MetricsKey *) metrics_in_round.keys[i]);
	if (viewers_read)
		for (int i = 0; i < viewers_in_round.n; i++)
		{
			MetricsKey *m = hash_search(metrics_keys, &viewers_in_round.keys[i]->content_id,
										HASH_FIND, NULL);

			/* not read: as it was, but for its viewers */
			if (m != NULL && !(metrics_read && m->t.round == round_no) && m->t.known && m->t.seen)
				ok &= queue_metrics_key(m);
		}
	return ok;
}

/* In the outbox's order, so subscribers receive the changes in order. */
static bool
queue_alerts(void)
{
	char	   *channel = psprintf("%sqoe_alerts", qoe_redis_key_prefix);
	bool		ok = true;

	for (int i = 0; i < alerts_n; i++)
	{
		const char *argv[3] = {"PUBLISH", channel, alert_messages[i]};

		ok &= append(OP_PUBLISH_ALERT, alert_seqs[i], 3, argv);
	}
	return ok;
}

/* Queue the commands for what changed; false if hiredis ran out of memory. */
static bool
queue_commands(int what)
{
	bool		ok = true;

	if (what & ROUND_VIEWERS)
		ok &= queue_viewers();
	if (what & ROUND_TRENDING)
		ok &= queue_trending();
	if (what & (ROUND_METRICS | ROUND_VIEWERS))
		ok &= queue_qoe_metrics((what & ROUND_METRICS) != 0, (what & ROUND_VIEWERS) != 0);
	if (what & ROUND_ALERTS)
		ok &= queue_alerts();
	return ok;
}

/* The error a reply carries, if any (EXEC: of the first failed command). */
static const char *
reply_error(const redisReply *r, OpKind kind)
{
	if (r->type == REDIS_REPLY_ERROR)
		return r->str;
	if (kind == OP_TRENDING_EXEC || kind == OP_METRICS_EXEC)
	{
		if (r->type != REDIS_REPLY_ARRAY)
			return "the transaction was discarded";
		for (size_t i = 0; i < r->elements; i++)
			if (r->element[i]->type == REDIS_REPLY_ERROR)
				return r->element[i]->str;
	}
	return NULL;
}

/*
 * Record what Redis acknowledged. An error reply (out of memory, a key of
 * another type, a missing permission) leaves its key to be written again
 * next round, its alert message to be published again; it is reported,
 * never fatal. Returns the keys written; the alerts published are in
 * alerts_done.
 */
static int64
apply_replies(redisReply **replies)
{
	int64		written = 0;
	char		first_error[QOE_REDIS_ERRLEN] = "";

	for (int i = 0; i < nops; i++)
	{
		const char *error = reply_error(replies[i], ops[i].kind);
		ViewersKey *k = NULL;
		MetricsKey *m = NULL;

		if (ops[i].kind == OP_SET_VIEWERS || ops[i].kind == OP_DEL_VIEWERS)
			k = hash_search(viewers_keys, &ops[i].id, HASH_FIND, NULL);
		if (ops[i].kind == OP_METRICS_EXEC || ops[i].kind == OP_METRICS_HSET ||
			ops[i].kind == OP_DEL_METRICS)
			m = hash_search(metrics_keys, &ops[i].id, HASH_FIND, NULL);
		if (error != NULL)
		{
			if (first_error[0] == '\0')
				snprintf(first_error, sizeof(first_error), "Redis refused a write: %s", error);
			if (k != NULL)
			{
				k->t.known = false;
				/* written again by the next round, from the ledger */
				qoe_ledger_touch(&ops[i].id);
			}
			if (m != NULL)
			{
				m->t.known = false;
				qoe_metrics_ledger_touch(&ops[i].id);
			}
			continue;
		}
		switch (ops[i].kind)
		{
			case OP_SET_VIEWERS:
				k->held = k->wanted;
				k->t.known = true;
				written++;
				break;
			case OP_DEL_VIEWERS:
				hash_search(viewers_keys, &ops[i].id, HASH_REMOVE, NULL);
				written++;
				break;
			case OP_DEL_METRICS:
				hash_search(metrics_keys, &ops[i].id, HASH_REMOVE, NULL);
				written++;
				break;
			case OP_QUEUED:
				break;
			case OP_TRENDING_EXEC:
				if (trending_held != NULL)
					pfree(trending_held);
				trending_held = MemoryContextAlloc(TopMemoryContext,
												   sizeof(TrendingItem) * (trending_wanted_n + 1));
				memcpy(trending_held, trending_wanted, sizeof(TrendingItem) * trending_wanted_n);
				trending_held_n = trending_wanted_n;
				written++;
				break;
			case OP_METRICS_HSET:
				if (replies[i]->type != REDIS_REPLY_INTEGER ||
					replies[i]->integer != ops[i].fields_new)
				{
					/* the hash was gone: it holds the fields changed alone */
					m->t.known = false;
					qoe_metrics_ledger_touch(&ops[i].id);
					written++;
					break;
				}
				/* FALLTHROUGH */
			case OP_METRICS_EXEC:
				m->held = m->wanted;
				m->t.known = true;
				written++;
				break;
			case OP_PUBLISH_ALERT:
				alerts_done[alerts_done_n++] = Int64GetDatum(ops[i].id);
				break;
		}
	}
	if (first_error[0] != '\0')
		report_error(first_error);
	else
		logged_error[0] = '\0';
	return written;
}

static void
delete_published_in_transaction(void *arg)
{
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		args[1];

	args[0] = PointerGetDatum(construct_array(alerts_done, alerts_done_n, INT8OID,
											  sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (SPI_execute_with_args("DELETE FROM qoe.redis_alert_outbox"
							  " WHERE seq OPERATOR(pg_catalog.=) ANY ($1)",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "deleting from qoe.redis_alert_outbox failed");
}

/*
 * The alert messages Redis published leave the outbox. Should this fail
 * (or the publisher die before), they are published again: at least once.
 */
static void
delete_published(void)
{
	ErrorData  *error;

	if (alerts_done_n == 0)
		return;
	error = qoe_run_own_transaction("deleting the alert changes published to Redis",
									delete_published_in_transaction, NULL);
	if (error != NULL)
	{
		char		msg[QOE_REDIS_ERRLEN];

		snprintf(msg, sizeof(msg), "could not delete published alert changes: %s", error->message);
		report_error(msg);
		FreeErrorData(error);
	}
}

/* True when the round reached Redis and read every reply. */
static bool
publish_round(MemoryContext round_cxt, int what, bool woken)
{
	redisReply **replies;
	char		err[QOE_REDIS_ERRLEN];
	int64		written;

	MemoryContextReset(round_cxt);
	MemoryContextSwitchTo(round_cxt);
	round_no++;
	round_keys_cxt = round_cxt;
	memset(&viewers_in_round, 0, sizeof(RoundKeys));
	memset(&metrics_in_round, 0, sizeof(RoundKeys));
	if (!read_metrics(round_cxt, what))
		return false;

	ops_size = 64;
	ops = palloc(sizeof(Op) * ops_size);
	nops = 0;
	alerts_done = palloc(sizeof(Datum) * (alerts_n + 1));
	alerts_done_n = 0;
	if (!queue_commands(what))
	{
		connection_failed("out of memory queueing Redis commands");
		return false;
	}
	pgstat_report_activity(STATE_RUNNING, "writing to Redis");
	replies = palloc(sizeof(redisReply *) * (nops + 1));
	if (!qoe_redis_exchange(conn, nops, replies, qoe_redis_timeout_ms, err))
	{
		char		msg[QOE_REDIS_ERRLEN];

		snprintf(msg, sizeof(msg), "lost the connection to Redis at %s: %s", server_name(), err);
		connection_failed(msg);
		pgstat_report_activity(STATE_IDLE, NULL);
		return false;
	}
	backoff_ms = 0;
	written = apply_replies(replies);	/* fills alerts_done */
	qoe_redis_status_published(written, alerts_done_n, woken,
							   (what & ROUND_VIEWERS) != 0, published_whole(what, ROUND_VIEWERS),
							   (what & ROUND_METRICS) != 0, published_whole(what, ROUND_METRICS));
	qoe_redis_free_replies(nops, replies);
	delete_published();
	/* a full batch: the rest in the next round, as soon as spacing allows */
	if (alerts_n == ALERT_BATCH)
		qoe_wake(QOE_WAKE_PUBLISHER, QOE_WAKE_ALERTS);
	pgstat_report_activity(STATE_IDLE, NULL);
	return true;
}

/*
 * qoe.redis_wake_publisher_at_commit(), from qoe.redis_queue_alert: the
 * evaluation's commit wakes the publisher for the outbox.
 */
PG_FUNCTION_INFO_V1(qoe_redis_wake_publisher_at_commit);
Datum
qoe_redis_wake_publisher_at_commit(PG_FUNCTION_ARGS)
{
	qoe_wake_at_commit(QOE_WAKE_PUBLISHER, QOE_WAKE_ALERTS);
	PG_RETURN_VOID();
}

/* ---- the worker ---- */

/* The last woken round of a kind: each kind is spaced by qoe_wake_earliest. */
typedef struct RoundPace
{
	TimestampTz started;
	TimestampTz ended;
	int64		cpu_us;
} RoundPace;

/*
 * Rounds that read more than the viewers, and rounds of the viewers alone
 * (from the ledger: a lookup), which need not wait out the rest of a costly
 * qoe_metrics read (hundreds of ms at a large audience).
 */
static RoundPace woken_pace;
static RoundPace viewers_pace;

/*
 * When each part (ROUND_* bit i) was last read and published whole (the
 * viewers: of every title); 0: never.
 */
static TimestampTz part_published_at[ROUND_NPARTS];

int
qoe_redis_round_spacing_ms(double notes_per_second)
{
	double		busy = Max(notes_per_second / BUSY_NOTE_RATE, 1.0);

	return (int) Min(QOE_WAKE_SPACING_MS * busy * busy, BUSY_SPACING_MAX_MS);
}

/*
 * When a woken round of a kind may start: after its own rest, and
 * qoe_redis_round_spacing_ms after the start of any woken round (at most 20
 * a second of both kinds together, fewer under a fast ingest).
 */
static TimestampTz
round_at(const RoundPace *pace, TimestampTz now)
{
	TimestampTz last_start = Max(woken_pace.started, viewers_pace.started);
	int			spacing_ms = qoe_redis_round_spacing_ms(qoe_ledger_note_rate(now));

	return Max(qoe_wake_earliest(pace->started, pace->ended, pace->cpu_us, 0, WOKEN_REST_FACTOR),
			   TimestampTzPlusMilliseconds(last_start, spacing_ms));
}

/*
 * What to publish now, taking the wake-ups it answers and their titles
 * (before the round's snapshot: a commit after this wakes the next round).
 * When woken_pace allows: the viewers of the titles whose count the ledger
 * changed, the qoe_metrics of the titles whose windows it changed, the alert
 * outbox after an evaluation that queued changes; while it does not, but
 * viewers_pace does, the viewers alone. The periodic round (every
 * qoe.redis_publish_interval, or its rest) publishes trending_content and
 * the parts no round published within that interval, every title when the
 * ledger is rebuilt (qoe_ledger_rebase_due), and the titles the ledger
 * changed without a commit (time-outs, a window closing) - unless a woken
 * round is pending, which publishes them within its spacing: under a stream
 * of commits the periodic round would otherwise be one more round writing
 * nearly every title (a fifth of the rounds under a fast ingest).
 */
static int
round_due(TimestampTz now, bool periodic)
{
	uint32		pending = qoe_wake_pending(QOE_WAKE_PUBLISHER) & ~QOE_WAKE_LEDGER;
	bool		leave_titles = false;
	int			what = 0;

	if (!periodic && (pending == 0 || now < round_at(&woken_pace, now)))
	{
		if (!(pending & QOE_WAKE_VIEWERS) || now < round_at(&viewers_pace, now))
			return 0;
		pending = QOE_WAKE_VIEWERS;
	}
	if (periodic && (pending & (QOE_WAKE_VIEWERS | QOE_WAKE_METRICS)) != 0)
	{
		leave_titles = true;
		pending &= ~(QOE_WAKE_VIEWERS | QOE_WAKE_METRICS);
	}
	pending = qoe_wake_take(QOE_WAKE_PUBLISHER, pending);
	/*
	 * The viewers: of the titles whose count the ledger changed (time-outs
	 * too). A lost ledger is rebuilt by the next round, at the pace of its
	 * kind however often the ring overflows (a fast ingest of a large
	 * audience can fill it during a rebuild): a round of the viewers alone
	 * rests WOKEN_REST_FACTOR times the rebuild's CPU.
	 */
	if (qoe_ledger_lost())
		viewer_titles.n = -1;
	else
	{
		qoe_ledger_catch_up(now);
		if (leave_titles)
			viewer_titles.n = 0;
		else
			qoe_ledger_take_changed(&viewer_titles);
	}
	if (viewer_titles.n != 0)
		what |= ROUND_VIEWERS;
	/*
	 * qoe_metrics: of the titles whose windows the ledger changed (commits,
	 * the range moving on), but in a round of the viewers alone; every
	 * title when the ledger is rebuilt.
	 */
	if (viewer_titles.n < 0)
		metric_titles.n = -1;
	else if (!leave_titles && (periodic || (pending & QOE_WAKE_METRICS)))
		qoe_metrics_ledger_take_changed(&metric_titles);
	else
		metric_titles.n = 0;
	if (metric_titles.n != 0)
		what |= ROUND_METRICS;
	if (pending & QOE_WAKE_ALERTS)
		what |= ROUND_ALERTS;
	if (periodic)
		for (int i = 0; i < ROUND_NPARTS; i++)
			if ((1 << i) != ROUND_VIEWERS && (1 << i) != ROUND_METRICS &&
				now >= TimestampTzPlusMilliseconds(part_published_at[i], qoe_redis_interval_ms))
				what |= 1 << i;
	/* every title: when the ledger is rebuilt */
	if (periodic && qoe_ledger_rebase_due(now))
	{
		what |= ROUND_VIEWERS | ROUND_METRICS;
		viewer_titles.n = metric_titles.n = -1;
	}
	return what;
}

/* When the next round is due, given the wake-ups pending now. */
static TimestampTz
round_wakes_at(TimestampTz next_round)
{
	uint32		pending = qoe_wake_pending(QOE_WAKE_PUBLISHER) & ~QOE_WAKE_LEDGER;

	TimestampTz now = GetCurrentTimestamp();

	if (pending & QOE_WAKE_VIEWERS)
		next_round = Min(next_round, round_at(&viewers_pace, now));
	if (pending != 0)
		next_round = Min(next_round, round_at(&woken_pace, now));
	return next_round;
}

/* The settings a connection depends on; a change means a new connection. */
static char *
connection_settings(void)
{
	return psprintf("%s\n%d\n%d\n%s\n%s\n%s", qoe_redis_host, qoe_redis_port, qoe_redis_db,
					qoe_redis_user, qoe_redis_password, qoe_redis_key_prefix);
}

void
qoe_publisher_main(Datum main_arg)
{
	HASHCTL		ctl = {0};
	MemoryContext round_cxt;
	TimestampTz next_round = 0;
	TimestampTz retry_at = 0;
	TimestampTz refresh_at = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	qoe_worker_connect_as_role("qoe_ext publisher");
	/*
	 * What it reads is in shared buffers (sessions playing now, the latest
	 * windows): a bitmap scan's prefetching would only look every page up
	 * twice, a seventh of its time under ingest (doc/redis_design.md).
	 */
	SetConfigOption("effective_io_concurrency", "0", PGC_USERSET, PGC_S_OVERRIDE);
	/*
	 * Its only queries are the rebases' scans: compiling them was 45 % of
	 * its CPU in an ingest of 400,000 events (one rebase, after a TRUNCATE),
	 * more than they take to run.
	 */
	SetConfigOption("jit", "off", PGC_USERSET, PGC_S_OVERRIDE);
	qoe_redis_status_attach();
	qoe_id_table_seed();
	qoe_ledger_attach();
	qoe_wake_attach(QOE_WAKE_PUBLISHER);

	/* dynahash: a round's list of keys points into them */
	viewers_keys = hash_create("qoe_ext published viewers", 1024, &ctl,
							   qoe_id_hashctl(&ctl, sizeof(ViewersKey)));
	metrics_keys = hash_create("qoe_ext published metrics", 1024, &ctl,
							   qoe_id_hashctl(&ctl, sizeof(MetricsKey)));
	round_cxt = AllocSetContextCreate(TopMemoryContext, "qoe_ext publisher round",
									  ALLOCSET_DEFAULT_SIZES);
	settings_seen = MemoryContextStrdup(TopMemoryContext, connection_settings());

	for (;;)
	{
		TimestampTz now;
		long		wait_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			char	   *settings;
			int			timeout_before = qoe_session_timeout_s;

			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			/* sessions the old timeout dropped may count again: rebuild now */
			if (qoe_session_timeout_s != timeout_before)
			{
				qoe_ledger_invalidate();
				next_round = GetCurrentTimestamp();
			}
			/* a shortened interval applies at once, not after the old one */
			next_round = Min(next_round, TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
																	 qoe_redis_interval_ms));
			settings = connection_settings();
			if (strcmp(settings, settings_seen) != 0)
			{
				/* another server, database, identity or prefix: start afresh */
				close_connection();
				backoff_ms = 0;
				retry_at = 0;
				pfree(settings_seen);
				settings_seen = MemoryContextStrdup(TopMemoryContext, settings);
			}
			pfree(settings);
		}

		/* the supervisor starts it again when the setting comes back */
		if (qoe_redis_host[0] == '\0')
			proc_exit(0);

		now = GetCurrentTimestamp();
		/* the ring half full: drained between rounds, so it does not overflow */
		if (qoe_wake_take(QOE_WAKE_PUBLISHER, QOE_WAKE_LEDGER) != 0 && !qoe_ledger_lost())
			qoe_ledger_catch_up(now);
		if (conn == NULL && now >= retry_at)
		{
			/* (re)connected: Redis may have restarted empty, publish every key now */
			if (connect_redis())
			{
				memset(part_published_at, 0, sizeof(part_published_at));
				qoe_ledger_invalidate();
				next_round = now;
			}
			else
				retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), backoff_ms);
		}
		if (conn != NULL)
		{
			bool		periodic = now >= next_round;
			int			what;

			/*
			 * Every key again, in a periodic round: a woken round that wrote
			 * them all would rest four times that before the next
			 */
			if (periodic && qoe_redis_key_ttl_s > 0 && now >= refresh_at)
			{
				forget_published();
				refresh_at = TimestampTzPlusMilliseconds(now, qoe_redis_key_ttl_s * 1000L / 3);
			}
			what = round_due(now, periodic);
			if (periodic || what != 0)
				qoe_redis_status_pace(qoe_ledger_note_rate(now), now);

			if (periodic)
				next_round = TimestampTzPlusMilliseconds(now, qoe_redis_interval_ms);
			if (what != 0)
			{
				int64		cpu_us = qoe_wake_cpu_us();
				TimestampTz ended;

				if (publish_round(round_cxt, what, !periodic))
					for (int i = 0; i < ROUND_NPARTS; i++)
						if (published_whole(what, 1 << i))
							part_published_at[i] = now;
				MemoryContextSwitchTo(TopMemoryContext);
				ended = GetCurrentTimestamp();
				cpu_us = qoe_wake_cpu_us() - cpu_us;
				if (periodic)
					next_round = Max(next_round, ended + PERIODIC_REST_FACTOR * cpu_us);
				else
				{
					RoundPace  *pace = what == ROUND_VIEWERS ? &viewers_pace : &woken_pace;

					pace->started = now;
					pace->ended = ended;
					pace->cpu_us = cpu_us;
				}
				if (conn == NULL)
					retry_at = TimestampTzPlusMilliseconds(ended, backoff_ms);
			}
		}
		now = GetCurrentTimestamp();
		if (conn == NULL)
			wait_ms = TimestampDifferenceMilliseconds(now, retry_at);
		else
			wait_ms = TimestampDifferenceMilliseconds(now, round_wakes_at(next_round));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(wait_ms, 1), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
