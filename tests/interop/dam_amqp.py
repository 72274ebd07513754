"""dam over RabbitMQ with pika: document 002's flat JSON payloads published to the topic
exchange `events` with the topic as routing key, persistent, `content_type: application/json`,
a W3C `traceparent` header where the producer traces."""

from __future__ import annotations

import json
import time

import pika

from conformance import Catalog, Received, Sent, check_json, expect_equal, new_traceparent, plan


def connect(config: dict) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(config["url"]))


def publish(config: dict, out: str):
    catalog = Catalog("dam")
    cases = plan(catalog, unknown_name="capture.no_such_event")
    connection = connect(config)
    channel = connection.channel()
    channel.confirm_delivery()
    sent = Sent("dam")
    for case in cases:
        body = case.raw if case.raw is not None else json.dumps(case.payload).encode()
        traceparent = new_traceparent() if case.trace == "header" else None
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=2,
            headers={"traceparent": traceparent} if traceparent else None,
        )
        for i in range(len(case.expect)):
            # Confirmed and mandatory: an unroutable message raises instead of vanishing.
            channel.basic_publish(config["exchange"], case.event, body, properties, mandatory=True)
            sent.add(case, i, channel=case.event, payload=body, traceparent=traceparent)
    connection.close()
    sent.write(out)


def read(config: dict, out: str):
    """Takes every message of the queue the test bound with `#` to the exchange and checks each
    against the schemas and the AMQP properties a consumer relies on."""
    catalog = Catalog("dam")
    published = {p["id"]: p for p in config["published"]}
    connection = connect(config)
    channel = connection.channel()
    received = Received("dam")
    deadline = time.monotonic() + config.get("wait_seconds", 30)
    count = 0
    while count < len(published) and time.monotonic() < deadline:
        method, properties, body = channel.basic_get(config["queue"], auto_ack=True)
        if method is None:
            time.sleep(0.05)
            continue
        count += 1
        problems: list[str] = []
        event = method.routing_key
        check_json(catalog, event, body, problems)
        id_ = properties.message_id
        want = published.get(id_)
        if want is None:
            problems.append(f"message-id {id_!r} was never published (routing key {event})")
            received.add(str(id_), event, problems)
            continue
        expect_equal(problems, "routing key", event, want["event"])
        expect_equal(problems, "exchange", method.exchange, config["exchange"])
        expect_equal(problems, "content_type", properties.content_type, "application/json")
        expect_equal(problems, "delivery_mode (persistent)", properties.delivery_mode, 2)
        headers = properties.headers or {}
        traceparent = headers.get("traceparent")
        if isinstance(traceparent, bytes):
            traceparent = traceparent.decode()
        expect_equal(problems, "header traceparent", traceparent, want["traceparent"])
        received.add(id_, event, problems)
    connection.close()
    received.write(out)
