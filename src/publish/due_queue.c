/*
 * due_queue.c: a binary min-heap of (time, id) pairs (due_queue.h).
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "publish/due_queue.h"

void
qoe_due_init(QoeDueQueue *q, MemoryContext cxt)
{
	q->items = NULL;
	q->n = 0;
	q->size = 0;
	q->cxt = cxt;
}

void
qoe_due_reset(QoeDueQueue *q)
{
	q->n = 0;
}

void
qoe_due_push(QoeDueQueue *q, TimestampTz at, int64 id)
{
	int			i;

	if (q->n == q->size)
	{
		q->size = Max(1024, q->size * 2);
		q->items = q->items == NULL
			? MemoryContextAllocHuge(q->cxt, sizeof(QoeDueItem) * q->size)
			: repalloc_huge(q->items, sizeof(QoeDueItem) * q->size);
	}
	/* sift up from the new leaf */
	for (i = q->n++; i > 0 && q->items[(i - 1) / 2].at > at; i = (i - 1) / 2)
		q->items[i] = q->items[(i - 1) / 2];
	q->items[i].at = at;
	q->items[i].id = id;
}

bool
qoe_due_pop(QoeDueQueue *q, TimestampTz until, QoeDueItem *item)
{
	QoeDueItem last;
	int			i = 0;

	if (q->n == 0 || q->items[0].at > until)
		return false;
	*item = q->items[0];
	last = q->items[--q->n];
	/* sift the last leaf down from the root */
	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= q->n)
			break;
		if (child + 1 < q->n && q->items[child + 1].at < q->items[child].at)
			child++;
		if (q->items[child].at >= last.at)
			break;
		q->items[i] = q->items[child];
		i = child;
	}
	if (q->n > 0)
		q->items[i] = last;
	return true;
}
