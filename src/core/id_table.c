/*
 * id_table.c: the seed of the id hash tables (id_table.h).
 */
#include "postgres.h"

#include "common/pg_prng.h"
#include "port.h"

#include "core/id_table.h"

uint64		qoe_id_seed = 0;

void
qoe_id_table_seed(void)
{
	if (qoe_id_seed != 0)
		return;
	if (!pg_strong_random(&qoe_id_seed, sizeof(qoe_id_seed)))
		qoe_id_seed = pg_prng_uint64(&pg_global_prng_state);
	/* 0 means not seeded */
	qoe_id_seed |= 1;
}
