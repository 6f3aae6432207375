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

#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "publish/due_queue.h"
#include "publish/trending_ledger.h"

/* A play's weight halves every 15 minutes (qoe.trending_content). */
#define HALF_LIFE_US ((double) 900 * USECS_PER_SEC)

/* Weights are taken relative to a base time, moved on after this long. */
#define REBASE_WEIGHTS_US ((int64) 6 * 3600 * USECS_PER_SEC)

typedef struct TrendingPlay
{
	int64		session;		/* hash key: the hash of session_id */
	char		status;			/* simplehash's */
	bool		past;			/* in its title's weights; else a future play */
	int64		content_id;
	TimestampTz started_at;
} TrendingPlay;

#define ID_TABLE_PREFIX trend_plays
#define ID_TABLE_ELEMENT TrendingPlay
#define ID_TABLE_KEY session
#include "core/id_table.h"

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
	char		status;			/* simplehash's */
	double		weights;
	int64		future;
	int64		plays;
} TitleTrend;

#define ID_TABLE_PREFIX trend_titles
#define ID_TABLE_ELEMENT TitleTrend
#define ID_TABLE_KEY content_id
#include "core/id_table.h"

static MemoryContext ledger_cxt = NULL;
static trend_plays_hash *plays = NULL;
static trend_titles_hash *titles = NULL;
/*
 * Every play by started_at, to drop after the hour, and the future plays,
 * to count when they start; an item is stale if its play is gone or
 * started at another time (or, in by_future, is counted already).
 */
static QoeDueQueue by_start;
static QoeDueQueue by_future;
static TimestampTz base = 0;

static double
weight(TimestampTz started_at)
{
	return exp2((double) (started_at - base) / HALF_LIFE_US);
}

void
qoe_trending_ledger_reset(void)
{
	if (ledger_cxt == NULL)
		ledger_cxt = AllocSetContextCreate(TopMemoryContext, "qoe_ext trending ledger",
										   ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(ledger_cxt);
	plays = trend_plays_create(ledger_cxt, 65536, NULL);
	titles = trend_titles_create(ledger_cxt, 4096, NULL);
	qoe_due_init(&by_start, ledger_cxt);
	qoe_due_init(&by_future, ledger_cxt);
	base = GetCurrentTimestamp();
}

/* Take a play out of its title's sums and of the table (its items go stale). */
static void
forget_play(TrendingPlay *p)
{
	TitleTrend *t = trend_titles_lookup(titles, p->content_id);

	if (p->past)
		t->weights -= weight(p->started_at);
	else
		t->future--;
	if (--t->plays == 0)
		trend_titles_delete_item(titles, t);
	trend_plays_delete_item(plays, p);
}

void
qoe_trending_ledger_note(uint64 session, int64 content_id, bool played, TimestampTz started_at,
						 TimestampTz now)
{
	TrendingPlay *p = trend_plays_lookup(plays, (int64) session);
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
	p = trend_plays_insert(plays, (int64) session, &found);
	p->content_id = content_id;
	p->started_at = started_at;
	qoe_due_push(&by_start, started_at, p->session);
	t = trend_titles_insert(titles, content_id, &found);
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
		qoe_due_push(&by_future, started_at, p->session);
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
	trend_titles_iterator it;
	trend_plays_iterator pit;
	TitleTrend *t;
	TrendingPlay *p;

	base = now;
	trend_titles_start_iterate(titles, &it);
	while ((t = trend_titles_iterate(titles, &it)) != NULL)
		t->weights = 0;
	trend_plays_start_iterate(plays, &pit);
	while ((p = trend_plays_iterate(plays, &pit)) != NULL)
		if (p->past)
			trend_titles_lookup(titles, p->content_id)->weights += weight(p->started_at);
}

int
qoe_trending_ledger_top(TimestampTz now, int n, QoeTrendingScore **top)
{
	trend_titles_iterator it;
	QoeDueItem	due;
	TitleTrend *t;
	QoeTrendingScore *all;
	double		decay;
	int			i = 0;

	/* plays that started since the last round */
	while (qoe_due_pop(&by_future, now, &due))
	{
		TrendingPlay *p = trend_plays_lookup(plays, due.id);

		if (p == NULL || p->past || p->started_at != due.at)
			continue;
		p->past = true;
		t = trend_titles_lookup(titles, p->content_id);
		t->future--;
		t->weights += weight(p->started_at);
	}
	/* plays older than the hour */
	while (qoe_due_pop(&by_start, now - QOE_TRENDING_WINDOW_US, &due))
	{
		TrendingPlay *p = trend_plays_lookup(plays, due.id);

		if (p != NULL && p->started_at == due.at)
			forget_play(p);
	}
	if (now - base > REBASE_WEIGHTS_US)
		move_base(now);

	decay = exp2(-(double) (now - base) / HALF_LIFE_US);
	all = palloc(sizeof(QoeTrendingScore) * Max(titles->members, 1));
	trend_titles_start_iterate(titles, &it);
	while ((t = trend_titles_iterate(titles, &it)) != NULL)
	{
		all[i].content_id = t->content_id;
		all[i++].score = t->weights * decay + (double) t->future;
	}
	qsort(all, i, sizeof(QoeTrendingScore), higher_score_first);
	*top = all;
	return Min(i, n);
}
