/*
 * viewers_ledger.c: the sessions playing now, kept by the Redis publisher
 * from the notes of ingest commits (viewers_ledger.h, doc/redis.md).
 *
 * At a large audience a read of the viewers of the titles a few commits
 * changed scans most of qoe.sessions (at 260,000 playing sessions, hundreds
 * of titles of ~130 sessions each: a sequential scan of 640 MB); the ledger
 * makes that read a lookup. The ring is written under one lock held for the
 * copy of a commit's notes; the writer never waits for the publisher: a
 * full ring is marked lost and the publisher rebuilds from the table.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "core/commit_wake.h"
#include "core/guc.h"
#include "publish/due_queue.h"
#include "publish/metrics_ledger.h"
#include "publish/trending_ledger.h"
#include "publish/viewers_ledger.h"

/*
 * Notes the ring holds: about 1 s of one Kafka worker at full speed on live
 * events (a session note and a window note per session a batch changes).
 */
#define RING_NOTES 131072

/*
 * A rebase at least this often: rows changed by hand, a start time a late
 * event took back reach the keys within it. Each holds the publisher's other
 * rounds back for its read (about a second at 260,000 viewers), so it is
 * rare; a TRUNCATE rebuilds at its commit (qoe_redis_ledger_truncated).
 */
#define LEDGER_REBASE_MS 600000

/* A session's state after a commit, or its change to a window's figures. */
typedef struct LedgerNote
{
	TransactionId xid;			/* the noting transaction (top level) */
	bool		is_window;		/* window, not the session fields */
	bool		startable;		/* active and past its first frame */
	bool		wakes;			/* it started or stopped playing: a round at once */
	bool		play_changed;	/* played or started_at changed (trending_content) */
	bool		played;			/* past its first frame */
	int64		content_id;
	union
	{
		struct
		{
			uint64		session;	/* hash of session_id */
			TimestampTz last_event_at;
			TimestampTz started_at;
		};
		QoeWindowChange window;
	};
} LedgerNote;

typedef struct LedgerShared
{
	LWLock	   *lock;
	pg_atomic_uint32 attached;	/* the pid of the publisher keeping the ledger, or 0 */
	bool		lost;			/* notes were dropped: rebase */
	bool		prepared;		/* a transaction with notes was prepared: rebase */
	uint64		seed;			/* of session_hash, random per cluster start */
	int			n;
	LedgerNote	notes[RING_NOTES];
} LedgerShared;

static LedgerShared *ledger = NULL; /* NULL unless preloaded */

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
ledger_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(LedgerShared)));
	RequestNamedLWLockTranche("qoe_ext viewers ledger", 1);
}

static void
ledger_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ledger = ShmemInitStruct("qoe_ext viewers ledger", sizeof(LedgerShared), &found);
	if (!found)
	{
		ledger->lock = &(GetNamedLWLockTranche("qoe_ext viewers ledger"))->lock;
		pg_atomic_init_u32(&ledger->attached, 0);
		ledger->lost = false;
		ledger->prepared = false;
		ledger->n = 0;
		if (!pg_strong_random(&ledger->seed, sizeof(ledger->seed)))
			ledger->seed = pg_prng_uint64(&pg_global_prng_state);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
ViewersLedgerShmemInit(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ledger_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ledger_shmem_startup;
}

/* ---- ingest: a transaction's notes ---- */

static LedgerNote *pending = NULL;	/* in TopMemoryContext */
static SubTransactionId *pending_subxact = NULL;	/* who noted each */
static int	npending = 0;
static int	pending_size = 0;
static bool skipped = false;	/* changes no note tells: no publisher then, a TRUNCATE */
static bool callbacks_registered = false;

static uint64
session_hash(const char *session_id, int len)
{
	/* seeded: which session_ids collide (count as one) is no client's choice */
	return hash_bytes_extended((const unsigned char *) session_id, len,
							   ledger != NULL ? ledger->seed : 0);
}

/*
 * Copy the transaction's notes to the ring, after its commit is visible, then
 * wake the publisher if one of them started or stopped playing (after the
 * copy: the round it wakes must find them).
 */
static void
post_pending(void)
{
	bool		wake = false;
	bool		round = false;
	bool		windows = false;

	for (int i = 0; i < npending; i++)
	{
		round |= pending[i].wakes;
		windows |= pending[i].is_window;
	}

	LWLockAcquire(ledger->lock, LW_EXCLUSIVE);
	if (!ledger->lost && ledger->n + npending > RING_NOTES)
	{
		/* a round rebuilds the ledger */
		ledger->lost = true;
		ledger->n = 0;
		round = true;
	}
	if (!ledger->lost)
	{
		/* half full: the publisher drains it without waiting for a round */
		wake = ledger->n < RING_NOTES / 2 && ledger->n + npending >= RING_NOTES / 2;
		memcpy(ledger->notes + ledger->n, pending, sizeof(LedgerNote) * npending);
		ledger->n += npending;
	}
	LWLockRelease(ledger->lock);
	if (wake || round || windows)
		qoe_wake(QOE_WAKE_PUBLISHER, (wake ? QOE_WAKE_LEDGER : 0) | (round ? QOE_WAKE_VIEWERS : 0) |
				 (windows ? QOE_WAKE_METRICS : 0));
}

static void
ledger_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (pg_atomic_read_u32(&ledger->attached) != 0)
			{
				/* a publisher came during the transaction, or a TRUNCATE: it rebases */
				if (skipped)
				{
					LWLockAcquire(ledger->lock, LW_EXCLUSIVE);
					ledger->lost = true;
					ledger->n = 0;
					LWLockRelease(ledger->lock);
					qoe_wake(QOE_WAKE_PUBLISHER, QOE_WAKE_VIEWERS);
				}
				else if (npending > 0)
					post_pending();
			}
			npending = 0;
			skipped = false;
			break;
		case XACT_EVENT_PREPARE:
			/* its COMMIT PREPARED posts nothing: rebases until it is gone */
			if ((npending > 0 || skipped) && pg_atomic_read_u32(&ledger->attached) != 0)
			{
				LWLockAcquire(ledger->lock, LW_EXCLUSIVE);
				ledger->prepared = true;
				LWLockRelease(ledger->lock);
			}
			npending = 0;
			skipped = false;
			break;
		case XACT_EVENT_ABORT:
			npending = 0;
			skipped = false;
			break;
		default:
			break;
	}
}

/* A rolled-back savepoint takes its notes (and its children's) with it. */
static void
ledger_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	int			kept = 0;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	for (int i = 0; i < npending; i++)
		if (pending_subxact[i] < mySubid)
		{
			pending[kept] = pending[i];
			pending_subxact[kept++] = pending_subxact[i];
		}
	npending = kept;
}

/* A new note of this transaction, zeroed; NULL when no publisher keeps the ledger. */
static void
register_callbacks(void)
{
	if (!callbacks_registered)
	{
		RegisterXactCallback(ledger_xact_callback, NULL);
		RegisterSubXactCallback(ledger_subxact_callback, NULL);
		callbacks_registered = true;
	}
}

static LedgerNote *
new_note(void)
{
	LedgerNote *note;

	if (ledger == NULL)
		return NULL;
	register_callbacks();
	/* publishing off: nothing to keep (ingest pays nothing for it) */
	if (pg_atomic_read_u32(&ledger->attached) == 0)
	{
		skipped = true;
		return NULL;
	}
	if (npending == pending_size)
	{
		pending_size = Max(1024, pending_size * 2);
		pending = pending == NULL
			? MemoryContextAlloc(TopMemoryContext, sizeof(LedgerNote) * pending_size)
			: repalloc(pending, sizeof(LedgerNote) * pending_size);
		pending_subxact = pending_subxact == NULL
			? MemoryContextAlloc(TopMemoryContext, sizeof(SubTransactionId) * pending_size)
			: repalloc(pending_subxact, sizeof(SubTransactionId) * pending_size);
	}
	note = &pending[npending];
	memset(note, 0, sizeof(LedgerNote));
	note->xid = GetTopTransactionId();
	pending_subxact[npending++] = GetCurrentSubTransactionId();
	return note;
}

void
qoe_ledger_note(const char *session_id, int64 content_id, TimestampTz last_event_at,
				bool startable, bool wakes, bool play_changed, bool played,
				TimestampTz started_at)
{
	LedgerNote *note = new_note();

	if (note == NULL)
		return;
	note->startable = startable;
	note->wakes = wakes;
	note->session = session_hash(session_id, strlen(session_id));
	note->content_id = content_id;
	note->last_event_at = last_event_at;
	note->play_changed = play_changed;
	note->played = played;
	note->started_at = started_at;
}

void
qoe_ledger_note_window(int64 content_id, const QoeWindowChange *change)
{
	LedgerNote *note = new_note();

	if (note == NULL)
		return;
	note->is_window = true;
	note->content_id = content_id;
	note->window = *change;
}

/*
 * qoe.redis_ledger_truncated(), AFTER TRUNCATE of a table the ledgers mirror
 * (qoe.sessions, qoe.qoe_5min, qoe.qoe_5min_by_title): a TRUNCATE leaves no
 * note, so its commit has the publisher rebuild them.
 */
PG_FUNCTION_INFO_V1(qoe_redis_ledger_truncated);
Datum
qoe_redis_ledger_truncated(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BY_TRUNCATE(((TriggerData *) fcinfo->context)->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("qoe.redis_ledger_truncated() must be called as an AFTER TRUNCATE trigger")));
	if (ledger != NULL)
	{
		register_callbacks();
		skipped = true;
	}
	PG_RETURN_POINTER(NULL);
}

/* ---- the publisher's ledger ---- */

typedef struct LedgerSession
{
	int64		session;		/* hash key: the hash of session_id */
	char		status;			/* simplehash's */
	int64		content_id;
	TimestampTz last_event_at;
	TimestampTz queued_at;		/* its time in by_last_event, <= last_event_at */
} LedgerSession;

#define ID_TABLE_PREFIX ledger_sessions
#define ID_TABLE_ELEMENT LedgerSession
#define ID_TABLE_KEY session
#include "core/id_table.h"

typedef struct LedgerTitle
{
	int64		content_id;		/* hash key */
	char		status;			/* simplehash's */
	bool		changed;		/* listed in changed[] */
	int64		viewers;
} LedgerTitle;

#define ID_TABLE_PREFIX ledger_titles
#define ID_TABLE_ELEMENT LedgerTitle
#define ID_TABLE_KEY content_id
#include "core/id_table.h"

static ledger_sessions_hash *sessions = NULL;
static ledger_titles_hash *titles = NULL;
static QoeDueQueue by_last_event;	/* the oldest last event first */
static QoeTitleList changed;	/* in TopMemoryContext */

/* The last rebase's snapshot: its committed transactions' notes are in it. */
static TransactionId seen_xmin = InvalidTransactionId;
static TransactionId seen_xmax = InvalidTransactionId;
static TransactionId *seen_xip = NULL;
static int	seen_xcnt = 0;
static bool stale = true;		/* to rebuild before use */
static TimestampTz rebased_at = 0;

/* The notes a catch-up took from the ring, in TopMemoryContext. */
static LedgerNote *taken = NULL;
static int	taken_size = 0;

/* Notes applied a second (qoe_note_rate_decayed), as of rate_at. */
static double note_rate = 0;
static TimestampTz rate_at = 0;

static void
reset_ledger(void)
{
	if (sessions != NULL)
		ledger_sessions_destroy(sessions);
	if (titles != NULL)
		ledger_titles_destroy(titles);
	sessions = ledger_sessions_create(TopMemoryContext, 65536, NULL);
	titles = ledger_titles_create(TopMemoryContext, 4096, NULL);
	if (by_last_event.cxt == NULL)
		qoe_due_init(&by_last_event, TopMemoryContext);
	qoe_due_reset(&by_last_event);
	changed.n = 0;
}

static void
ledger_detach(int code, Datum arg)
{
	uint32		mine = (uint32) MyProcPid;

	/* a publisher started since (the old one's exit is late) keeps it */
	(void) pg_atomic_compare_exchange_u32(&ledger->attached, &mine, 0);
}

void
qoe_ledger_attach(void)
{
	reset_ledger();
	qoe_metrics_ledger_reset();
	qoe_trending_ledger_reset();
	if (ledger == NULL)
		return;
	pg_atomic_write_u32(&ledger->attached, (uint32) MyProcPid);
	on_shmem_exit(ledger_detach, 0);
}

void
qoe_ledger_invalidate(void)
{
	stale = true;
}

bool
qoe_ledger_rebase_due(TimestampTz now)
{
	bool		prepared = false;

	if (ledger != NULL)
	{
		LWLockAcquire(ledger->lock, LW_SHARED);
		prepared = ledger->prepared;
		LWLockRelease(ledger->lock);
	}
	return prepared || qoe_ledger_lost() ||
		now >= TimestampTzPlusMilliseconds(rebased_at, LEDGER_REBASE_MS);
}

bool
qoe_ledger_lost(void)
{
	bool		lost;

	if (ledger == NULL)
		return false;
	LWLockAcquire(ledger->lock, LW_SHARED);
	lost = ledger->lost;
	LWLockRelease(ledger->lock);
	return lost || stale;
}

static void
mark_changed(LedgerTitle *t)
{
	if (!t->changed)
	{
		t->changed = true;
		qoe_title_list_add(&changed, TopMemoryContext, t->content_id);
	}
}

static void
count(int64 content_id, int delta)
{
	bool		found;
	LedgerTitle *t = ledger_titles_insert(titles, content_id, &found);

	if (!found)
	{
		t->viewers = 0;
		t->changed = false;
	}
	t->viewers += delta;
	mark_changed(t);
}

static void
add_session(uint64 session, int64 content_id, TimestampTz last_event_at)
{
	bool		found;
	LedgerSession *s = ledger_sessions_insert(sessions, (int64) session, &found);

	if (!found)
	{
		s->content_id = content_id;
		s->last_event_at = s->queued_at = last_event_at;
		qoe_due_push(&by_last_event, last_event_at, s->session);
		count(content_id, 1);
		return;
	}
	if (s->content_id != content_id)
	{
		count(s->content_id, -1);
		count(content_id, 1);
		s->content_id = content_id;
	}
	s->last_event_at = last_event_at;
	/*
	 * A later last event is queued again when the earlier comes due; an
	 * earlier one (events out of order) now: the item queued before goes
	 * stale.
	 */
	if (last_event_at < s->queued_at)
	{
		s->queued_at = last_event_at;
		qoe_due_push(&by_last_event, last_event_at, s->session);
	}
}

/* Its queued item goes stale (no session, or another time). */
static void
forget_session(LedgerSession *s)
{
	count(s->content_id, -1);
	ledger_sessions_delete_item(sessions, s);
}

static bool
committed_before_rebase(TransactionId xid)
{
	if (!TransactionIdIsValid(seen_xmax) || !TransactionIdPrecedes(xid, seen_xmax))
		return false;
	if (TransactionIdPrecedes(xid, seen_xmin))
		return true;
	for (int i = 0; i < seen_xcnt; i++)
		if (TransactionIdEquals(seen_xip[i], xid))
			return false;
	return true;
}

static TimestampTz
cutoff_at(TimestampTz now)
{
	return now - (int64) qoe_session_timeout_s * USECS_PER_SEC;
}

void
qoe_ledger_begin_rebase(void)
{
	if (ledger == NULL)
		return;
	LWLockAcquire(ledger->lock, LW_EXCLUSIVE);
	ledger->lost = false;
	ledger->prepared = false;
	ledger->n = 0;
	LWLockRelease(ledger->lock);
	stale = true;
}

void
qoe_ledger_rebase(TimestampTz now)
{
	Snapshot	snapshot;
	bool		isnull;

	/*
	 * A prepared transaction still to commit is seen before the snapshot is
	 * taken: one that commits in between is in the snapshot.
	 */
	if (SPI_execute("SELECT EXISTS (SELECT FROM pg_catalog.pg_prepared_xacts"
					" WHERE database OPERATOR(pg_catalog.=) pg_catalog.current_database())",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading pg_prepared_xacts failed");
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) &&
		ledger != NULL)
	{
		LWLockAcquire(ledger->lock, LW_EXCLUSIVE);
		ledger->prepared = true;
		LWLockRelease(ledger->lock);
	}
	/* a fresh snapshot whatever the isolation level */
	PushActiveSnapshot(GetLatestSnapshot());
	snapshot = GetActiveSnapshot();
	/*
	 * One scan for both ledgers: the sessions playing as
	 * qoe.concurrent_viewers counts them, the plays of the last hour as
	 * qoe.trending_content counts them
	 */
	if (SPI_execute("SELECT session_id, content_id, last_event_at, started_at,"
					"       state OPERATOR(pg_catalog.=) 'active'::qoe.session_state"
					"       AND last_event_at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.-)"
					"        coalesce(pg_catalog.current_setting('qoe.session_timeout', true),"
					"                  '5min')::pg_catalog.interval),"
					"       started_at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.-) interval '1 hour')"
					"  FROM qoe.sessions"
					" WHERE first_frame_at IS NOT NULL"
					"   AND (state OPERATOR(pg_catalog.=) 'active'::qoe.session_state"
					"        AND last_event_at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.-)"
					"         coalesce(pg_catalog.current_setting('qoe.session_timeout', true),"
					"                   '5min')::pg_catalog.interval)"
					"        OR started_at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.-) interval '1 hour'))",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading qoe.sessions failed");
	reset_ledger();
	qoe_trending_ledger_reset();
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		text	   *id = DatumGetTextPP(SPI_getbinval(tup, desc, 1, &isnull));
		uint64		session = session_hash(VARDATA_ANY(id), VARSIZE_ANY_EXHDR(id));
		int64		content_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));

		if (DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull)))
			add_session(session, content_id, DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull)));
		if (DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull)))
			qoe_trending_ledger_note(session, content_id, true,
									 DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull)), now);
	}
	/* every title is published by the round that rebases */
	for (int i = 0; i < changed.n; i++)
		ledger_titles_lookup(titles, changed.ids[i])->changed = false;
	changed.n = 0;
	qoe_metrics_ledger_rebase(now);

	seen_xmin = snapshot->xmin;
	seen_xmax = snapshot->xmax;
	seen_xcnt = snapshot->xcnt;
	seen_xip = seen_xip == NULL
		? MemoryContextAlloc(TopMemoryContext, sizeof(TransactionId) * Max(seen_xcnt, 1))
		: repalloc(seen_xip, sizeof(TransactionId) * Max(seen_xcnt, 1));
	memcpy(seen_xip, snapshot->xip, sizeof(TransactionId) * seen_xcnt);
	PopActiveSnapshot();
	stale = false;
	rebased_at = now;
}

/*
 * n notes taken at now: each counts 1 / QOE_NOTE_RATE_SECONDS and decays
 * exponentially, so a steady rate r sums to r.
 */
static void
count_rate(int n, TimestampTz now)
{
	note_rate = qoe_ledger_note_rate(now) + n / QOE_NOTE_RATE_SECONDS;
	rate_at = Max(rate_at, now);
}

double
qoe_ledger_note_rate(TimestampTz now)
{
	return qoe_note_rate_decayed(note_rate, rate_at, now);
}

void
qoe_ledger_catch_up(TimestampTz now)
{
	LedgerNote *notes;
	int			n;
	QoeDueItem	due;
	TimestampTz cutoff = cutoff_at(now);

	if (ledger == NULL)
		return;
	for (;;)
	{
		LWLockAcquire(ledger->lock, LW_EXCLUSIVE);
		n = ledger->lost ? 0 : ledger->n;
		/* allocated even for none: memcpy wants a valid pointer */
		if (n <= taken_size && taken != NULL)
			break;
		LWLockRelease(ledger->lock);
		/*
		 * Kept from one catch-up to the next: a block this large allocated
		 * each time cost malloc a consolidation each time.
		 */
		if (taken != NULL)
			pfree(taken);
		taken_size = Min(Max(n, 2 * taken_size), RING_NOTES);
		taken = MemoryContextAlloc(TopMemoryContext, sizeof(LedgerNote) * taken_size);
	}
	notes = taken;
	memcpy(notes, ledger->notes, sizeof(LedgerNote) * n);
	ledger->n = 0;
	LWLockRelease(ledger->lock);
	count_rate(n, now);

	qoe_metrics_ledger_roll(now);
	for (int i = 0; i < n; i++)
	{
		LedgerNote *note = &notes[i];
		LedgerSession *s;

		if (committed_before_rebase(note->xid))
			continue;
		if (note->is_window)
		{
			qoe_metrics_ledger_add(note->content_id, &note->window);
			continue;
		}
		/* a heartbeat changes no play: no lookup among 260,000 */
		if (note->play_changed)
			qoe_trending_ledger_note(note->session, note->content_id, note->played,
									 note->started_at, now);
		if (note->startable && note->last_event_at > cutoff)
			add_session(note->session, note->content_id, note->last_event_at);
		else if ((s = ledger_sessions_lookup(sessions, (int64) note->session)) != NULL)
			forget_session(s);
	}

	/* time-outs: no commit reports them */
	while (qoe_due_pop(&by_last_event, cutoff, &due))
	{
		LedgerSession *s = ledger_sessions_lookup(sessions, due.id);

		if (s == NULL || s->queued_at != due.at)
			continue;			/* stale: gone, or queued again earlier */
		if (s->last_event_at > cutoff)
		{
			s->queued_at = s->last_event_at;
			qoe_due_push(&by_last_event, s->queued_at, s->session);
		}
		else
			forget_session(s);
	}
}

int64
qoe_ledger_viewers(int64 content_id)
{
	LedgerTitle *t = ledger_titles_lookup(titles, content_id);

	return t == NULL ? 0 : t->viewers;
}

void
qoe_ledger_take_changed(QoeTitleList *out)
{
	out->n = 0;
	for (int i = 0; i < changed.n; i++)
	{
		LedgerTitle *t = ledger_titles_lookup(titles, changed.ids[i]);

		qoe_title_list_add(out, TopMemoryContext, changed.ids[i]);
		t->changed = false;
		if (t->viewers == 0)
			ledger_titles_delete_item(titles, t);
	}
	changed.n = 0;
}

void
qoe_ledger_touch(const int64 *content_id)
{
	ledger_titles_iterator it;
	LedgerTitle *t;

	if (content_id != NULL)
	{
		count(*content_id, 0);
		return;
	}
	ledger_titles_start_iterate(titles, &it);
	while ((t = ledger_titles_iterate(titles, &it)) != NULL)
		mark_changed(t);
}

void
qoe_ledger_for_each_title(void (*f) (int64 content_id, int64 viewers))
{
	ledger_titles_iterator it;
	LedgerTitle *t;

	ledger_titles_start_iterate(titles, &it);
	while ((t = ledger_titles_iterate(titles, &it)) != NULL)
		if (t->viewers > 0)
			f(t->content_id, t->viewers);
}
