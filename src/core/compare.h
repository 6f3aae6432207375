/*
 * compare.h: sorting int64 ids, shared by the subsystems.
 */
#ifndef QOE_COMPARE_H
#define QOE_COMPARE_H

#include "postgres.h"

/* qsort order of int64 values, ascending. */
static inline int
qoe_cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* Sort ids[0..n) and remove repeats; returns how many remain. */
static inline int64
qoe_sort_unique_int64(int64 *ids, int64 n)
{
	int64		m = 0;

	qsort(ids, n, sizeof(int64), qoe_cmp_int64);
	for (int64 i = 0; i < n; i++)
		if (m == 0 || ids[m - 1] != ids[i])
			ids[m++] = ids[i];
	return m;
}

#endif
