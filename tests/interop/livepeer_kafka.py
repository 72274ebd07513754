"""livepeer over Kafka with kafka-python: the envelope `{id, type, timestamp, gateway, data}`
of document 000 ("`id` (string): generated UUID for the message key", "`timestamp` (string):
enqueue time in Unix milliseconds"), the record key = `id`, a W3C `traceparent` record header."""

from __future__ import annotations

import json
import time
import uuid

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from conformance import Case, Catalog, Received, Sent, check_json, expect_equal, new_traceparent, plan

GATEWAY = "gateway-py.interop.test:8935"


def envelope(event: str, data) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": event,
        "timestamp": str(int(time.time() * 1000)),
        "gateway": GATEWAY,
        "data": data,
    }


def publish(config: dict, out: str):
    catalog = Catalog("livepeer")
    cases = plan(catalog, unknown_name=None)
    # The envelope itself breaking its schema: no `gateway`.
    cases.append(
        Case(
            "envelope without gateway",
            "stream_trace",
            catalog.event_schema("stream_trace")["examples"][0],
            expect=["dead-lettered"],
            reason="schema-violation",
            error_contains=["gateway"],
            options={"drop": "gateway"},
        )
    )
    cases.append(Case("no traceparent header", "stream_trace", catalog.event_schema("stream_trace")["examples"][0], trace="none"))
    topic = config["topic"]
    producer = KafkaProducer(bootstrap_servers=config["brokers"], acks="all", linger_ms=5)
    sent = Sent("livepeer")
    for case in cases:
        if case.raw is not None:
            key, body = str(uuid.uuid4()), case.raw
        else:
            message = envelope(case.event, case.payload)
            for prop in case.options.get("drop", "").split():
                del message[prop]
            key, body = message["id"], json.dumps(message).encode()
        traceparent = new_traceparent() if case.trace == "header" else None
        headers = [("traceparent", traceparent.encode())] if traceparent else []
        for i in range(len(case.expect)):
            producer.send(topic, key=key.encode(), value=body, headers=headers).get(timeout=30)
            sent.add(case, i, channel=topic, payload=body, traceparent=traceparent)
    producer.flush()
    producer.close()
    sent.write(out)


def read(config: dict, out: str):
    """Reads every record the Rust producer wrote (manual assignment, from the beginning) and
    checks each against the schemas and the wire details a Kafka consumer relies on."""
    catalog = Catalog("livepeer")
    published = {p["id"]: p for p in config["published"]}
    consumer = KafkaConsumer(bootstrap_servers=config["brokers"], enable_auto_commit=False)
    topic = config["topic"]
    deadline = time.monotonic() + config.get("wait_seconds", 30)
    # The client learns a new topic's partitions from the broker's metadata.
    while not (ids := consumer.partitions_for_topic(topic)) and time.monotonic() < deadline:
        time.sleep(0.1)
    partitions = [TopicPartition(topic, p) for p in sorted(ids or [])]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    records = []
    while len(records) < len(published) and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=200).values():
            records.extend(batch)
    consumer.close()
    received = Received("livepeer")
    for record in records:
        problems: list[str] = []
        headers = {k: v.decode() for k, v in record.headers}
        try:
            event = json.loads(record.value).get("type")
        except ValueError:
            event = None
        message = check_json(catalog, event or "", record.value, problems)
        id_ = message.get("id") if isinstance(message, dict) else None
        want = published.get(id_)
        if want is None:
            problems.append(f"record with id {id_!r} was never published")
            received.add(str(id_), event, problems)
            continue
        expect_equal(problems, "record key", record.key.decode() if record.key else None, id_)
        expect_equal(problems, "type", event, want["event"])
        expect_equal(problems, "header traceparent", headers.get("traceparent"), want["traceparent"])
        expect_equal(problems, "header content-type", headers.get("content-type"), "application/json")
        received.add(id_, event, problems, partition=record.partition, offset=record.offset)
    received.write(out)
