-- Roles for the people and programs that use qoe_ext (doc/security.md).
-- Roles belong to the cluster, not to the extension: they are created only
-- when missing (another database may have made them, or an earlier install),
-- an existing role is left as its owner set it, and DROP EXTENSION keeps them.
-- Their privileges on qoe's objects are granted in 90_grants.sql.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES
        ('qoe_reader', 'NOLOGIN',
         'qoe_ext: read-only access to events, sessions, the catalog and dead-letter reasons (no payloads, no Kafka credentials)'),
        ('qoe_writer', 'NOLOGIN',
         'qoe_ext: may ingest events with qoe.ingest (and nothing more)'),
        ('qoe_admin', 'NOLOGIN',
         'qoe_ext: reader and writer, plus maintenance (partitions, session expiry), the catalog and dead letters'),
        -- LOGIN because PostgreSQL 15 refuses a background worker a role that
        -- cannot log in; CONNECTION LIMIT 0 refuses every client connection
        -- (background workers are not counted against the limit).
        ('qoe_worker', 'LOGIN CONNECTION LIMIT 0',
         'qoe_ext: the role the Kafka background workers run as; no client can connect as it')
    ) AS v(name, options, comment)
    LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) r.name) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I %s', r.name, r.options);
            EXECUTE pg_catalog.format('COMMENT ON ROLE %I IS %L', r.name, r.comment);
        ELSIF EXISTS (SELECT FROM pg_catalog.pg_roles
                       WHERE rolname OPERATOR(pg_catalog.=) r.name
                         AND (rolsuper OR rolbypassrls OR rolcreaterole OR rolreplication)) THEN
            RAISE EXCEPTION 'role "%" exists and has superuser, bypassrls, createrole or replication', r.name
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'qoe_ext grants this role rights meant for an unprivileged role.',
                      HINT = pg_catalog.format('ALTER ROLE %I NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOREPLICATION, or drop it, then create the extension again.', r.name);
        END IF;
    END LOOP;

    FOR r IN SELECT * FROM (VALUES ('qoe_reader', 'qoe_admin'), ('qoe_writer', 'qoe_admin'),
                                   ('qoe_writer', 'qoe_worker')) AS m(role, member)
    LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_auth_members
                        WHERE roleid OPERATOR(pg_catalog.=) r.role::regrole
                          AND member OPERATOR(pg_catalog.=) r.member::regrole) THEN
            EXECUTE pg_catalog.format('GRANT %I TO %I', r.role, r.member);
        END IF;
    END LOOP;
END
$$;
