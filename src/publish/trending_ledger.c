/*
 * trending_ledger.c: the plays of the last hour per title, kept by the Redis
 * publisher (trending_ledger.h, doc/redis.md).
 *
 * qoe.trending_content scans every session started in the last hour: at
 * 260,000 viewers a sequential scan of qoe.sessions, 0.9 s, which held every
 * other round of the publisher back each time it published the set. Here the
 * score is summed from memory: a few milliseconds per round at that size.
 */
#include "postgres.h"

#include <math.h>

#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "publish/trending_ledger.h"

/* A play's weight halves every 15 minutes (qoe.trending_content). */
#define HALF_LIFE_S 900.0

typedef struct TrendingPlay
{
	uint64		session;		/* hash key */
	int64		content_id;
	TimestampTz started_at;
} TrendingPlay;

typedef struct TitleScore
{
	int64		content_id;		/* hash key */
	double		score;
} TitleScore;

static MemoryContext ledger_cxt = NULL;
static HTAB *plays = NULL;

void
qoe_trending_ledger_reset(void)
{
	HASHCTL		ctl = {0};

	if (ledger_cxt == NULL)
		ledger_cxt = AllocSetContextCreate(TopMemoryContext, "qoe_ext trending ledger",
										   ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(ledger_cxt);
	ctl.hcxt = ledger_cxt;
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(TrendingPlay);
	plays = hash_create("qoe_ext trending ledger plays", 65536, &ctl,
						HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

void
qoe_trending_ledger_note(uint64 session, int64 content_id, bool played, TimestampTz started_at)
{
	TrendingPlay *p;

	if (!played)
	{
		/* a first frame taken back (a late event): no play any more */
		hash_search(plays, &session, HASH_REMOVE, NULL);
		return;
	}
	p = hash_search(plays, &session, HASH_ENTER, NULL);
	p->content_id = content_id;
	p->started_at = started_at;
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

int
qoe_trending_ledger_top(TimestampTz now, int n, QoeTrendingScore **top)
{
	HASHCTL		ctl = {0};
	HTAB	   *titles;
	HASH_SEQ_STATUS seq;
	TrendingPlay *p;
	TitleScore *t;
	QoeTrendingScore *all;
	long		ntitles;
	int			i = 0;

	ctl.hcxt = CurrentMemoryContext;
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(TitleScore);
	titles = hash_create("qoe_ext trending scores", 4096, &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	hash_seq_init(&seq, plays);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		bool		found;
		double		age_s;

		if (p->started_at <= now - QOE_TRENDING_WINDOW_US)
		{
			hash_search(plays, &p->session, HASH_REMOVE, NULL);
			continue;
		}
		/* a start in the future (a client clock ahead) counts 1 */
		age_s = Max((double) (now - p->started_at) / USECS_PER_SEC, 0.0);
		t = hash_search(titles, &p->content_id, HASH_ENTER, &found);
		if (!found)
			t->score = 0;
		t->score += pow(0.5, age_s / HALF_LIFE_S);
	}
	ntitles = hash_get_num_entries(titles);
	all = palloc(sizeof(QoeTrendingScore) * Max(ntitles, 1));
	hash_seq_init(&seq, titles);
	while ((t = hash_seq_search(&seq)) != NULL)
	{
		all[i].content_id = t->content_id;
		all[i++].score = t->score;
	}
	qsort(all, i, sizeof(QoeTrendingScore), higher_score_first);
	hash_destroy(titles);
	*top = all;
	return Min(i, n);
}
