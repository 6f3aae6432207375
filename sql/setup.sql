-- Install, and check what the extension brings.
CREATE EXTENSION qoe_ext CASCADE;
SELECT extname, extversion, nspname
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'qoe_ext';

-- every SQL object has a comment
SELECT pg_describe_object(d.classid, d.objid, 0) AS object_without_comment
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'qoe_ext')
   AND d.deptype = 'e'
   AND obj_description(d.objid, (SELECT relname FROM pg_class WHERE oid = d.classid)) IS NULL
 ORDER BY 1;

-- settings and their defaults
SELECT name, boot_val AS default_value, unit FROM pg_settings WHERE name LIKE 'qoe.%' ORDER BY name;
SET qoe.session_timeout = '10min';
SHOW qoe.session_timeout;
RESET qoe.session_timeout;
SET qoe.session_timeout = 'forever';
SET qoe.no_such_setting = 1;

-- a helper for the tests: epoch milliseconds, offset from now
CREATE FUNCTION test_ms(offset_ms bigint DEFAULT 0) RETURNS bigint
    LANGUAGE sql STABLE AS $$ SELECT (extract(epoch FROM now()) * 1000)::bigint + offset_ms $$;
