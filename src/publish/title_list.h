/*
 * title_list.h: a growable list of content_ids: the titles a ledger changed
 * since a round took them, and the titles a round publishes.
 */
#ifndef QOE_TITLE_LIST_H
#define QOE_TITLE_LIST_H

#include "postgres.h"

#include "utils/memutils.h"

typedef struct QoeTitleList
{
	int64	   *ids;			/* NULL until the first title */
	int			n;				/* in a round's list, -1: every title */
	int			size;
} QoeTitleList;

/* Append content_id, growing the list in cxt (its first allocation's context). */
static inline void
qoe_title_list_add(QoeTitleList *list, MemoryContext cxt, int64 content_id)
{
	if (list->n == list->size)
	{
		list->size = Max(1024, list->size * 2);
		list->ids = list->ids == NULL
			? MemoryContextAlloc(cxt, sizeof(int64) * list->size)
			: repalloc(list->ids, sizeof(int64) * list->size);
	}
	list->ids[list->n++] = content_id;
}

#endif
