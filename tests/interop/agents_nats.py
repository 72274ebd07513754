"""agents over NATS JetStream with nats-py: document 003's flat JSON events published on their
subjects as the document describes them, with a W3C `traceparent` header and no
`Nats-Msg-Id` (the document never mentions it), so JetStream stores a resend twice and the
consumer must dedupe it by the event's declared id."""

from __future__ import annotations

import asyncio
import json

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from conformance import Catalog, Received, Sent, check_json, expect_equal, new_traceparent, plan

MSG_ID_HEADER = "Nats-Msg-Id"


async def publish_async(config: dict, out: str):
    catalog = Catalog("agents")
    cases = plan(catalog, unknown_name="ingest.document.archived")
    client = await nats.connect(config["url"])
    js = client.jetstream()
    prefix = config["subject_prefix"]
    sent = Sent("agents")
    for case in cases:
        body = case.raw if case.raw is not None else json.dumps(case.payload).encode()
        traceparent = new_traceparent() if case.trace == "header" else None
        headers = {"traceparent": traceparent} if traceparent else None
        for i in range(len(case.expect)):
            ack = await js.publish(prefix + case.event, body, headers=headers)
            sent.add(case, i, channel=case.event, payload=body, traceparent=traceparent,
                     stream=ack.stream, seq=ack.seq)
    await client.close()
    sent.write(out)


async def read_async(config: dict, out: str):
    """Reads every stored message of each stream with an ephemeral pull consumer and checks
    each against the schemas and the headers a NATS consumer relies on."""
    catalog = Catalog("agents")
    published = {p["id"]: p for p in config["published"]}
    prefix = config["subject_prefix"]
    client = await nats.connect(config["url"])
    js = client.jetstream()
    received = Received("agents")
    for stream in config["streams"]:
        expected = sum(1 for p in config["published"] if p["stream"] == stream["catalog"])
        sub = await js.pull_subscribe(
            stream["subjects"], durable=None, stream=stream["name"],
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT),
        )
        got = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + config.get("wait_seconds", 30)
        while got < expected and loop.time() < deadline:
            try:
                messages = await sub.fetch(expected - got, timeout=1)
            except nats.errors.TimeoutError:
                continue
            for m in messages:
                got += 1
                await m.ack()
                problems: list[str] = []
                subject = m.subject[len(prefix):] if m.subject.startswith(prefix) else m.subject
                check_json(catalog, subject, m.data, problems)
                headers = m.headers or {}
                id_ = headers.get(MSG_ID_HEADER)
                want = published.get(id_)
                if want is None:
                    problems.append(f"{MSG_ID_HEADER} {id_!r} was never published (subject {m.subject})")
                    received.add(str(id_), subject, problems)
                    continue
                expect_equal(problems, "subject", m.subject, prefix + want["event"])
                declared = catalog.event(subject).get("message_id")
                if declared:
                    payload = json.loads(m.data)
                    expect_equal(problems, f"{MSG_ID_HEADER} = `{declared}`", id_, payload.get(declared))
                expect_equal(problems, "header traceparent", headers.get("traceparent"), want["traceparent"])
                expect_equal(problems, "header content-type", headers.get("content-type"), "application/json")
                received.add(id_, subject, problems, stream=stream["name"], seq=m.metadata.sequence.stream)
        await sub.unsubscribe()
    await client.close()
    received.write(out)


def publish(config: dict, out: str):
    asyncio.run(publish_async(config, out))


def read(config: dict, out: str):
    asyncio.run(read_async(config, out))
