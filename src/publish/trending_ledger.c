/*
 * trending_ledger.c: the plays of the last hour per title, kept by the Redis
 * publisher (trending_ledger.h, doc/redis.md).
 *
 * qoe.trending_content scans every session started in the last hour: at
 * 260,000 viewers a sequential scan of qoe.sessions, 0.9 s, which held every
 * other round of the publisher back each time it published the set. Here
 * each title's score is kept as its plays come and go.
 */
#include "postgres.h"

#include <math.h>

#include "lib/pairingheap.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/compare.h"
#include "publish/trending_ledger.h"

/* A play's weight halves every 15 minutes (qoe.trending_content). */
#define HALF_LIFE_US ((double) 900 * USECS_PER_SEC)

/* Weights are taken relative to a base time, moved on after this long. */
#define REBASE_WEIGHTS_US ((int64) 6 * 3600 * USECS_PER_SEC)

typedef struct TrendingPlay
{
	uint64		session;		/* hash key */
	int64		content_id;
	TimestampTz started_at;
	bool		past;			/* in its title's weights; else a future play */
	pairingheap_node by_start;	/* every play: to drop after the hour */
	pairingheap_node by_future; /* the future plays: to count when they start */
} TrendingPlay;

/*
 * A title's score at now is weights * 2^-((now - base) / half-life) +
 * future: each play started at s weighs 2^((s - base) / half-life) =
 * 0.5^((now - s) / half-life) at now, and one that starts after now
 * (a client clock ahead) 1. Summed as plays come and go, so that a round
 * costs the titles, not the plays.
 */
typedef struct TitleTrend
{
	int64		content_id;		/* hash key */
	double		weights;
	int64		future;
	int64		plays;
} TitleTrend;

static MemoryContext ledger_cxt = NULL;
static HTAB *plays = NULL;
static HTAB *titles = NULL;
static pairingheap *by_start = NULL;
static pairingheap *by_future = NULL;
static TimestampTz base = 0;

static int
earlier_start_first(const pairingheap_node *a, const pairingheap_node *b, void *arg)
{
	return qoe_earlier_first(pairingheap_const_container(TrendingPlay, by_start, a)->started_at,
							 pairingheap_const_container(TrendingPlay, by_start, b)->started_at);
}

static int
earlier_future_first(const pairingheap_node *a, const pairingheap_node *b, void *arg)
{
	return qoe_earlier_first(pairingheap_const_container(TrendingPlay, by_future, a)->started_at,
							 pairingheap_const_container(TrendingPlay, by_future, b)->started_at);
}

static double
weight(TimestampTz started_at)
{
	return exp2((double) (started_at - base) / HALF_LIFE_US);
}

void
qoe_trending_ledger_reset(void)
{
	HASHCTL		ctl = {0};
	MemoryContext old;

	if (ledger_cxt == NULL)
		ledger_cxt = AllocSetContextCreate(TopMemoryContext, "qoe_ext trending ledger",
										   ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(ledger_cxt);
	ctl.hcxt = ledger_cxt;
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(TrendingPlay);
	plays = hash_create("qoe_ext trending ledger plays", 65536, &ctl,
						HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(TitleTrend);
	titles = hash_create("qoe_ext trending ledger titles", 4096, &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	old = MemoryContextSwitchTo(ledger_cxt);
	by_start = pairingheap_allocate(earlier_start_first, NULL);
	by_future = pairingheap_allocate(earlier_future_first, NULL);
	MemoryContextSwitchTo(old);
	base = GetCurrentTimestamp();
}

/* Take a play out of its title's sums and of the heaps. */
static void
forget_play(TrendingPlay *p)
{
	TitleTrend *t = hash_search(titles, &p->content_id, HASH_FIND, NULL);

	if (p->past)
		t->weights -= weight(p->started_at);
	else
	{
		t->future--;
		pairingheap_remove(by_future, &p->by_future);
	}
	pairingheap_remove(by_start, &p->by_start);
	if (--t->plays == 0)
		hash_search(titles, &p->content_id, HASH_REMOVE, NULL);
	hash_search(plays, &p->session, HASH_REMOVE, NULL);
}

void
qoe_trending_ledger_note(uint64 session, int64 content_id, bool played, TimestampTz started_at,
						 TimestampTz now)
{
	TrendingPlay *p = hash_search(plays, &session, HASH_FIND, NULL);
	TitleTrend *t;
	bool		found;

	if (p != NULL)
	{
		if (played && p->content_id == content_id && p->started_at == started_at)
			return;				/* a heartbeat: nothing trending counts changed */
		forget_play(p);
	}
	/* a first frame taken back (a late event) leaves no play */
	if (!played)
		return;
	p = hash_search(plays, &session, HASH_ENTER, NULL);
	p->content_id = content_id;
	p->started_at = started_at;
	pairingheap_add(by_start, &p->by_start);
	t = hash_search(titles, &content_id, HASH_ENTER, &found);
	if (!found)
	{
		t->weights = 0;
		t->future = 0;
		t->plays = 0;
	}
	t->plays++;
	/* one starting later counts as future until a round finds it started */
	if ((p->past = started_at <= now))
		t->weights += weight(started_at);
	else
	{
		pairingheap_add(by_future, &p->by_future);
		t->future++;
	}
}

static int
higher_score_first(const void *a, const void *b)
{
	const QoeTrendingScore *x = a;
	const QoeTrendingScore *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->content_id < y->content_id ? -1 : x->content_id > y->content_id ? 1 : 0;
}

/* Sum every title's weights again from a new base (before they grow large). */
static void
move_base(TimestampTz now)
{
	HASH_SEQ_STATUS seq;
	TitleTrend *t;
	TrendingPlay *p;

	base = now;
	hash_seq_init(&seq, titles);
	while ((t = hash_seq_search(&seq)) != NULL)
		t->weights = 0;
	hash_seq_init(&seq, plays);
	while ((p = hash_seq_search(&seq)) != NULL)
		if (p->past)
			((TitleTrend *) hash_search(titles, &p->content_id, HASH_FIND, NULL))->weights +=
				weight(p->started_at);
}

int
qoe_trending_ledger_top(TimestampTz now, int n, QoeTrendingScore **top)
{
	HASH_SEQ_STATUS seq;
	TitleTrend *t;
	QoeTrendingScore *all;
	double		decay;
	int			i = 0;

	/* plays that started since the last round */
	while (!pairingheap_is_empty(by_future))
	{
		TrendingPlay *p = pairingheap_container(TrendingPlay, by_future,
												pairingheap_first(by_future));

		if (p->started_at > now)
			break;
		pairingheap_remove_first(by_future);
		p->past = true;
		t = hash_search(titles, &p->content_id, HASH_FIND, NULL);
		t->future--;
		t->weights += weight(p->started_at);
	}
	/* plays older than the hour */
	while (!pairingheap_is_empty(by_start))
	{
		TrendingPlay *p = pairingheap_container(TrendingPlay, by_start,
												pairingheap_first(by_start));

		if (p->started_at > now - QOE_TRENDING_WINDOW_US)
			break;
		forget_play(p);
	}
	if (now - base > REBASE_WEIGHTS_US)
		move_base(now);

	decay = exp2(-(double) (now - base) / HALF_LIFE_US);
	all = palloc(sizeof(QoeTrendingScore) * Max(hash_get_num_entries(titles), 1));
	hash_seq_init(&seq, titles);
	while ((t = hash_seq_search(&seq)) != NULL)
	{
		all[i].content_id = t->content_id;
		all[i++].score = t->weights * decay + (double) t->future;
	}
	qsort(all, i, sizeof(QoeTrendingScore), higher_score_first);
	*top = all;
	return Min(i, n);
}
