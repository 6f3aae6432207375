-- Daily partitions: made ahead, made on demand inside the accepted window,
-- never for events outside it, dropped by retention.
\set ON_ERROR_STOP 0
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SET qoe.partition_premake_days = 2;
SELECT qoe.premake_partitions() >= 0 AS made_now_or_before;
-- today and the next two days exist
SELECT count(*) AS ahead FROM qoe.partitions
 WHERE partition_name IN (SELECT 'viewing_events_p' || to_char((now() AT TIME ZONE 'UTC')::date + d, 'YYYYMMDD')
                            FROM generate_series(0, 2) d);
SELECT qoe.premake_partitions(2) AS made_again;
SELECT qoe.premake_partitions(1000);

-- an event two days late gets its partition on demand, in the same transaction
SELECT count(*) AS before FROM qoe.partitions
 WHERE partition_name = 'viewing_events_p' || to_char((now() AT TIME ZONE 'UTC')::date - 2, 'YYYYMMDD');
BEGIN;
SELECT accepted FROM qoe.ingest(format('{"event_type":"start","session_id":"p1","user_id":1,"content_id":1,"timestamp":%s}',
                                       test_ms(-2 * 86400000)));
SELECT partition_name = 'viewing_events_p' || to_char((now() AT TIME ZONE 'UTC')::date - 2, 'YYYYMMDD') AS right_partition,
       bounds LIKE 'FOR VALUES FROM (''% 00:00:00+00'') TO (''% 00:00:00+00'')' AS utc_day_bounds
  FROM qoe.partitions p
 WHERE EXISTS (SELECT 1 FROM qoe.viewing_events v WHERE v.tableoid::regclass::text = 'qoe.' || p.partition_name
                                                   AND v.session_id = 'p1');
ROLLBACK;
SELECT count(*) AS after_rollback FROM qoe.partitions
 WHERE partition_name = 'viewing_events_p' || to_char((now() AT TIME ZONE 'UTC')::date - 2, 'YYYYMMDD');

-- outside the window (3 days by default): rejected, no partition made
SELECT accepted, rejected FROM qoe.ingest(format('{"event_type":"start","session_id":"p2","user_id":1,"content_id":1,"timestamp":%s}',
                                                test_ms(-4 * 86400000)));
SELECT count(*) AS partitions_for_p2 FROM qoe.partitions
 WHERE partition_name = 'viewing_events_p' || to_char((now() AT TIME ZONE 'UTC')::date - 4, 'YYYYMMDD');
-- a wider window lets it in
SET qoe.late_event_window = '5d';
SELECT accepted, rejected FROM qoe.ingest(format('{"event_type":"start","session_id":"p2","user_id":1,"content_id":1,"timestamp":%s}',
                                                test_ms(-4 * 86400000)));
-- ahead of the clock: an hour of skew by default
SELECT accepted, rejected FROM qoe.ingest(format('[{"event_type":"start","session_id":"p3","user_id":1,"content_id":1,"timestamp":%s},
    {"event_type":"start","session_id":"p4","user_id":1,"content_id":1,"timestamp":%s}]',
    test_ms(30 * 60000), test_ms(3 * 3600000)));
RESET qoe.late_event_window;

-- retention: the 4-day-old partition goes with a 3-day retention, today's stays
SELECT array_agg(name) = ARRAY['viewing_events_p' || to_char((now() AT TIME ZONE 'UTC')::date - 4, 'YYYYMMDD')]
       AS dropped_the_old_one
  FROM qoe.drop_old_partitions('3 days') AS name;
SELECT count(*) AS p2_events_left FROM qoe.viewing_events WHERE session_id = 'p2';
SELECT count(*) FROM qoe.drop_old_partitions();
SELECT qoe.drop_old_partitions('1 hour');
-- a partition qoe_ext did not make is left alone
CREATE TABLE qoe.archive_2001 PARTITION OF qoe.viewing_events
    FOR VALUES FROM ('2001-01-01 00:00:00+00') TO ('2001-01-02 00:00:00+00');
SELECT count(*) AS dropped FROM qoe.drop_old_partitions('1 day') AS name WHERE name = 'archive_2001';
DROP TABLE qoe.archive_2001;
