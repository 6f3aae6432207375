-- qoe.hll_merge (src/sketch/hll_merge.c) against postgresql-hll's own
-- union, hll_union_agg: the same value byte for byte, hence the same
-- hll_cardinality, on random sketches of every representation (empty,
-- explicit, sparse, full) and several parameter sets, serially and in
-- forced parallel plans; its errors.
SELECT setseed(0.31);
CREATE TABLE hm AS
WITH params(p, log2m, regwidth, expthresh, sparseon) AS (VALUES
        (1, 11, 5, -1, 1),   -- the defaults, as qoe.qoe_5min's sketches
        (2, 10, 4, 16, 1),   -- a small explicit threshold
        (3, 12, 6, 0, 1),    -- no explicit representation
        (4, 11, 5, -1, 0),   -- no sparse representation
        (5, 6, 3, 4, 1)),    -- few registers, narrow ones
sk AS (
    SELECT p.*, g, s, (random() * random() * 600)::int AS n, (random() * 4000)::int AS base
      FROM params p, generate_series(1, 80) g,
           LATERAL generate_series(1, 1 + (random() * 20)::int + 0 * g) s)
SELECT p, g, s,
       CASE WHEN n % 23 = 1 THEN NULL
            WHEN n = 0 THEN hll_empty(log2m, regwidth, expthresh, sparseon)
            ELSE (SELECT hll_add_agg(hll_hash_bigint(base + (random() * n * 3)::int + 0 * i),
                                     log2m, regwidth, expthresh, sparseon)
                    FROM generate_series(1, n + 0 * s) i) END AS h
  FROM sk;
ANALYZE hm;
-- the inputs hold every representation (1 empty, 2 explicit, 3 sparse, 4 full)
SELECT p, array_agg(DISTINCT hll_type(h) ORDER BY hll_type(h)) AS input_types, count(*) AS sketches
  FROM hm WHERE h IS NOT NULL GROUP BY p ORDER BY p;

CREATE FUNCTION hm_compare() RETURNS TABLE (p int, groups bigint, same_value bigint,
                                            same_cardinality bigint, result_types int[])
LANGUAGE sql AS $$
    SELECT p, count(*), count(*) FILTER (WHERE a::text IS NOT DISTINCT FROM b::text),
           count(*) FILTER (WHERE hll_cardinality(a) IS NOT DISTINCT FROM hll_cardinality(b)),
           array_agg(DISTINCT hll_type(b) ORDER BY hll_type(b))
      FROM (SELECT p, g, hll_union_agg(h) AS a, qoe.hll_merge(h) AS b FROM hm GROUP BY p, g
            UNION ALL
            SELECT p, 0, hll_union_agg(h), qoe.hll_merge(h) FROM hm GROUP BY p) x
     GROUP BY p ORDER BY p $$;
SELECT * FROM hm_compare();

-- undefined absorbs, empty and NULL are neutral; only NULLs give NULL
SELECT hll_type(qoe.hll_merge(h)) AS with_undefined, hll_type(hll_union_agg(h)) AS hll_union_agg
  FROM (VALUES ('\x118b7f'::hll), ('\x108b7f'::hll), (hll_empty() || hll_hash_bigint(1))) v(h);
SELECT qoe.hll_merge(h)::text = hll_union_agg(h)::text AS same, hll_type(qoe.hll_merge(h)) AS type
  FROM (VALUES ('\x118b7f'::hll), (NULL), (hll_empty() || hll_hash_bigint(1))) v(h);
SELECT qoe.hll_merge(h)::text = hll_union_agg(h)::text AS same, hll_type(qoe.hll_merge(h)) AS type
  FROM (VALUES ('\x118b7f'::hll), ('\x128b7f'::hll)) v(h);  -- explicit, no hashes
SELECT qoe.hll_merge(NULL::hll) IS NULL AS null_only;

-- partial aggregation in workers, combined in the leader
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT p, qoe.hll_merge(h) FROM hm GROUP BY p;
SELECT * FROM hm_compare();
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;

-- sketches of other parameters do not merge
SELECT qoe.hll_merge(h) FROM (VALUES (hll_empty(11, 5, -1, 1)), (hll_empty(10, 5, -1, 1))) v(h);

DROP FUNCTION hm_compare();
DROP TABLE hm;
