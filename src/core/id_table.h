/*
 * id_table.h: hash tables keyed by a 64-bit id (a content_id, the hash of a
 * session_id): the Redis publisher's ledgers, which look one up per note of
 * an ingest commit and per title a round writes (doc/redis_design.md), and
 * the recommender's scoring tables.
 *
 * dynahash hashes an 8-byte key with hash_bytes, compares it with memcmp,
 * and reaches an entry through a directory, a bucket and a chain: its
 * lookups were a third of the publisher's CPU under a fast ingest. Where no
 * pointer to an entry is kept across an insertion or a deletion, a table is
 * an open-addressing one (lib/simplehash.h: entries inline, moved when
 * others come and go); where one is, dynahash with qoe_id_hashctl's key
 * functions. The ids are clients': the hash is keyed with a random seed per
 * process (doc/security.md).
 *
 * To declare a simplehash table, define ID_TABLE_PREFIX (the functions'
 * prefix), ID_TABLE_ELEMENT (the entry type, with a member "char status")
 * and ID_TABLE_KEY (its int64 key member), then include this file.
 */
#ifndef QOE_ID_TABLE_H
#define QOE_ID_TABLE_H

#include "postgres.h"

#include "utils/hsearch.h"

/* The hashes' key, random per process once qoe_id_table_seed ran. */
extern uint64 qoe_id_seed;

/* Pick this process's qoe_id_seed if not yet done: before its first table. */
extern void qoe_id_table_seed(void);

/*
 * A 32-bit hash of an id: the id and the seed mixed through a bijection of
 * 64 bits (MurmurHash3's finalizer), so that which ids collide depends on
 * the seed.
 */
static inline uint32
qoe_id_hash(int64 id)
{
	uint64		k = (uint64) id ^ qoe_id_seed;

	k ^= k >> 33;
	k *= UINT64CONST(0xff51afd7ed558ccd);
	k ^= k >> 33;
	k *= UINT64CONST(0xc4ceb9fe1a85ec53);
	k ^= k >> 33;
	return (uint32) k;
}

static inline uint32
qoe_id_key_hash(const void *key, Size keysize)
{
	return qoe_id_hash(*(const int64 *) key);
}

static inline int
qoe_id_key_match(const void *a, const void *b, Size keysize)
{
	return *(const int64 *) a != *(const int64 *) b;
}

/*
 * ctl set for a dynahash table keyed by an 8-byte id with entries of
 * entrysize; create it with the flags returned.
 */
static inline int
qoe_id_hashctl(HASHCTL *ctl, Size entrysize)
{
	ctl->keysize = sizeof(int64);
	ctl->entrysize = entrysize;
	ctl->hash = qoe_id_key_hash;
	ctl->match = qoe_id_key_match;
	return HASH_ELEM | HASH_FUNCTION | HASH_COMPARE;
}

#endif							/* QOE_ID_TABLE_H */

#ifdef ID_TABLE_PREFIX
#define SH_PREFIX ID_TABLE_PREFIX
#define SH_ELEMENT_TYPE ID_TABLE_ELEMENT
#define SH_KEY_TYPE int64
#define SH_KEY ID_TABLE_KEY
#define SH_HASH_KEY(table, key) qoe_id_hash(key)
#define SH_EQUAL(table, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"
#undef ID_TABLE_PREFIX
#undef ID_TABLE_ELEMENT
#undef ID_TABLE_KEY
#endif
