-- What pg_dump saves of the tables of 60_rollups.sql and 67_scheduler.sql
-- (doc/operations.md, "Backup and restore" classifies every table). The
-- rollups are kept longer than the raw events they were folded from, so a
-- restore could not rebuild them: they are dumped, with the deltas not yet
-- merged and the late groups whose levels are not rebuilt yet, and the rollup switch (one row: replaced on restore).

SELECT pg_catalog.pg_extension_config_dump('qoe.session_window_deltas', '');
SELECT pg_catalog.pg_extension_config_dump('qoe.session_windows', '');
SELECT pg_catalog.pg_extension_config_dump('qoe.qoe_5min', '');
SELECT pg_catalog.pg_extension_config_dump('qoe.qoe_5min_by_title', '');
SELECT pg_catalog.pg_extension_config_dump('qoe.qoe_rollups', '');
SELECT pg_catalog.pg_extension_config_dump('qoe.rollup_levels_pending', '');
SELECT pg_catalog.pg_extension_config_dump('qoe.concurrency_1min', '');

CREATE TRIGGER replace_row BEFORE INSERT ON qoe.rollup_status
    FOR EACH ROW EXECUTE FUNCTION qoe.replace_row('id');
COMMENT ON TRIGGER replace_row ON qoe.rollup_status IS
    'An inserted row replaces the one there: restoring a dump keeps the rollup switch';
SELECT pg_catalog.pg_extension_config_dump('qoe.rollup_status', '');

CREATE TRIGGER replace_row BEFORE INSERT ON qoe.rollup_levels
    FOR EACH ROW EXECUTE FUNCTION qoe.replace_row('level');
COMMENT ON TRIGGER replace_row ON qoe.rollup_levels IS
    'An inserted level replaces the one of that name: restoring a dump keeps edited levels';
SELECT pg_catalog.pg_extension_config_dump('qoe.rollup_levels', '');
