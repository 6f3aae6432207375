-- Every object of the extension carries a COMMENT that says what it is:
-- relations, columns, constraints, triggers, functions and types in schema
-- qoe. Excepted: the daily partitions made at run time (and their indexes
-- and constraints), and indexes that carry a commented constraint.
SELECT kind, name FROM (
    SELECT 'relation' AS kind, c.oid::regclass::text AS name
      FROM pg_class c
     WHERE c.relnamespace = 'qoe'::regnamespace AND NOT c.relispartition
       AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i', 'I')
       AND obj_description(c.oid, 'pg_class') IS NULL
       AND NOT EXISTS (SELECT FROM pg_constraint co WHERE co.conindid = c.oid)
    UNION ALL
    SELECT 'column', format('%s.%I', c.oid::regclass, a.attname)
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
     WHERE c.relnamespace = 'qoe'::regnamespace AND NOT c.relispartition
       AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped
       AND col_description(c.oid, a.attnum) IS NULL
    UNION ALL
    SELECT 'constraint', format('%s on %s', co.conname, co.conrelid::regclass)
      FROM pg_constraint co LEFT JOIN pg_class c ON c.oid = co.conrelid
     WHERE co.connamespace = 'qoe'::regnamespace AND NOT coalesce(c.relispartition, false)
       AND obj_description(co.oid, 'pg_constraint') IS NULL
    UNION ALL
    SELECT 'trigger', format('%s on %s', t.tgname, t.tgrelid::regclass)
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'qoe'::regnamespace AND NOT c.relispartition AND NOT t.tgisinternal
       AND obj_description(t.oid, 'pg_trigger') IS NULL
    UNION ALL
    SELECT 'function', p.oid::regprocedure::text
      FROM pg_proc p
     WHERE p.pronamespace = 'qoe'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL
    UNION ALL
    SELECT 'type', t.oid::regtype::text
      FROM pg_type t
     WHERE t.typnamespace = 'qoe'::regnamespace AND t.typtype IN ('b', 'd', 'e') AND t.typcategory <> 'A'
       AND obj_description(t.oid, 'pg_type') IS NULL
) missing
ORDER BY kind, name;
