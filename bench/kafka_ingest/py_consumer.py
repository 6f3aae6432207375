#!/usr/bin/python3
"""bench/kafka_ingest contender (c): the consumer of the original design.

A confluent_kafka consumer in a new group reads the topic from the start,
json.loads each message and inserts batches into a typed table with
psycopg2.extras.execute_values, committing the database transaction and then
the Kafka offsets per batch.  Stops once it has stored `total` events and
prints "<start> <first message> <done> <stored>" (epoch seconds).

    py_consumer.py BROKERS TOPIC GROUP TABLE TOTAL   (libpq's PG* variables pick the database)
"""
import json
import sys
import time

import psycopg2
import psycopg2.extras
from confluent_kafka import Consumer

BATCH = 10000
TIMEOUT_S = 600
COLUMNS = ("event_time, received_at, event_type, user_id, content_id, profile_id, session_id, "
           "event_id, position_sec, bitrate_kbps, buffer_health_sec, buffering_events, "
           "dropped_frames, stall_ms, fatal, error_code, content_duration_sec, resolution, "
           "device_type, country, cdn_pop")
TEMPLATE = "(to_timestamp(%s / 1000.0), now(), %s::qoe.event_type" + ", %s" * 18 + ")"


def row(doc):
    d = json.loads(doc)
    g = d.get
    return (d["timestamp"], d["event_type"], d["user_id"], d["content_id"], g("profile_id"),
            d["session_id"], g("event_id"), g("position_sec"), g("bitrate_kbps"),
            g("buffer_health_sec"), g("buffering_events"), g("dropped_frames"),
            g("buffering_ms"), g("fatal"), g("error_code"), g("content_duration_sec"),
            g("resolution"), g("device_type"), g("country"), g("cdn_pop"))


def main():
    brokers, topic, group, table, total = sys.argv[1:6]
    total = int(total)
    insert = "INSERT INTO %s (%s) VALUES %%s" % (table, COLUMNS)
    started = time.time()
    db = psycopg2.connect("")
    cur = db.cursor()
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "session.timeout.ms": 6000})
    consumer.subscribe([topic])
    first = None
    stored = 0
    while stored < total and time.time() - started < TIMEOUT_S:
        messages = consumer.consume(num_messages=BATCH, timeout=0.5)
        rows = []
        for m in messages:
            if m.error():
                print("consumer error: %s" % m.error(), file=sys.stderr)
                continue
            rows.append(row(m.value()))
        if not rows:
            continue
        if first is None:
            first = time.time()
        psycopg2.extras.execute_values(cur, insert, rows, template=TEMPLATE, page_size=BATCH)
        db.commit()
        consumer.commit(asynchronous=True)
        stored += len(rows)
    done = time.time()
    consumer.close()
    db.close()
    print("%.3f %.3f %.3f %d" % (started, first or done, done, stored))


if __name__ == "__main__":
    main()
