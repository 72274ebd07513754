"""audio over Redis Streams with redis-py: the v1 envelope of document 001 written with `XADD`
to `stream:*`, in the entry layout the contract declares for Redis Streams (the JSON envelope
in the field `envelope`, transport headers as `h:<name>` fields); trace context either as the
`h:traceparent` field or, as the document plans, in the envelope's `trace_id` / `span_id`."""

from __future__ import annotations

import json
import secrets
import uuid

import redis

from conformance import (
    TRACEPARENT_RE,
    Case,
    Catalog,
    Received,
    Sent,
    check_json,
    expect_equal,
    new_traceparent,
    now_rfc3339,
    plan,
)

# The Redis Streams entry layout (runtime/src/transport/redis.rs, "Stream entries").
ENVELOPE_FIELD = "envelope"
HEADER_PREFIX = "h:"
SOURCE = "py-interop"


def envelope(catalog: Catalog, event: str, payload, trace_id: str, span_id: str | None) -> dict:
    message = {
        "schema_version": "v1",
        "event_id": str(uuid.uuid4()),
        "event_type": event,
        "source": SOURCE,
        "timestamp": now_rfc3339(catalog.time_format()),
        "trace_id": trace_id,
        "payload": payload,
    }
    if span_id is not None:
        message["span_id"] = span_id
    return message


def publish(config: dict, out: str):
    catalog = Catalog("audio")
    example = catalog.event_schema("AudioChunkReceived")["examples"][0]
    cases = plan(catalog, unknown_name="NoSuchEvent")
    cases += [
        # The document's own tracing: "Add tracing headers (`trace_id`, `span_id`)".
        Case("trace_id and span_id in the envelope, no header", "AudioChunkReceived",
             catalog.uniquify("AudioChunkReceived", example, 9001), trace="envelope"),
        # The document's envelope as shown: `trace_id` only, no span, no header.
        Case("trace_id only (the document's envelope)", "AudioChunkReceived",
             catalog.uniquify("AudioChunkReceived", example, 9002), trace="none"),
        Case("envelope without source", "AudioChunkReceived",
             catalog.uniquify("AudioChunkReceived", example, 9003),
             expect=["dead-lettered"], reason="schema-violation", error_contains=["source"],
             options={"drop": "source"}),
        # Foreign entry layouts: the error must name the field it expected and those it found.
        Case("envelope under another field (`data`)", "AudioChunkReceived",
             catalog.uniquify("AudioChunkReceived", example, 9004),
             expect=["dead-lettered"], reason="malformed", error_contains=["envelope", "data"],
             trap=3, options={"layout": "data"}),
        Case("envelope as flat fields", "AudioChunkReceived",
             catalog.uniquify("AudioChunkReceived", example, 9005),
             expect=["dead-lettered"], reason="malformed", error_contains=["envelope", "event_type"],
             trap=3, options={"layout": "flat"}),
    ]
    client = redis.Redis.from_url(config["url"])
    namespace = config["namespace"]
    sent = Sent("audio")
    for case in cases:
        channel = catalog.channel(case.event)["stream"] if case.event in catalog.events else "stream:audio-ingest"
        traceparent = None
        if case.raw is not None:
            fields = {ENVELOPE_FIELD: case.raw}
            body = case.raw
        else:
            if case.trace == "header":
                traceparent = new_traceparent()
                trace_id, span_id = TRACEPARENT_RE.match(traceparent).group(1), None
            elif case.trace == "envelope":
                trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
                traceparent = f"00-{trace_id}-{span_id}-01"
            else:
                trace_id, span_id = "request-trace-id", None
            message = envelope(catalog, case.event, case.payload, trace_id, span_id)
            for prop in case.options.get("drop", "").split():
                del message[prop]
            body = json.dumps(message).encode()
            layout = case.options.get("layout")
            if layout == "data":
                fields = {"data": body}
            elif layout == "flat":
                fields = {k: json.dumps(v) if isinstance(v, (dict, list)) else str(v) for k, v in message.items()}
            else:
                fields = {ENVELOPE_FIELD: body}
                if case.trace == "header":
                    fields[HEADER_PREFIX + "traceparent"] = traceparent
        for i in range(len(case.expect)):
            entry_id = client.xadd(namespace + channel, fields).decode()
            sent.add(case, i, channel=channel, payload=body, traceparent=traceparent, entry_id=entry_id)
    sent.write(out)


def read(config: dict, out: str):
    """Reads every entry the Rust producer wrote (`XRANGE` of each stream) and checks each
    against the schemas and the entry layout a Redis consumer relies on."""
    catalog = Catalog("audio")
    published = {p["id"]: p for p in config["published"]}
    client = redis.Redis.from_url(config["url"])
    received = Received("audio")
    streams = sorted({p["channel"] for p in config["published"]})
    for stream in streams:
        for entry_id, raw_fields in client.xrange(config["namespace"] + stream):
            fields = {k.decode(): v for k, v in raw_fields.items()}
            problems: list[str] = []
            body = fields.get(ENVELOPE_FIELD)
            if body is None:
                problems.append(f"no `{ENVELOPE_FIELD}` field; fields: {sorted(fields)}")
                received.add(entry_id.decode(), None, problems)
                continue
            others = [f for f in fields if f != ENVELOPE_FIELD and not f.startswith(HEADER_PREFIX)]
            if others:
                problems.append(f"fields outside the layout: {others}")
            try:
                event = json.loads(body).get("event_type")
            except ValueError:
                event = None
            message = check_json(catalog, event or "", body, problems)
            id_ = message.get("event_id") if isinstance(message, dict) else None
            want = published.get(id_)
            if want is None:
                problems.append(f"entry with event_id {id_!r} was never published")
                received.add(str(id_), event, problems)
                continue
            expect_equal(problems, "stream", stream, want["channel"])
            expect_equal(problems, "event_type", event, want["event"])
            headers = {f[len(HEADER_PREFIX):]: v.decode() for f, v in fields.items() if f.startswith(HEADER_PREFIX)}
            expect_equal(problems, "h:traceparent", headers.get("traceparent"), want["traceparent"])
            expect_equal(problems, "h:content-type", headers.get("content-type"), "application/json")
            trace = TRACEPARENT_RE.match(want["traceparent"] or "")
            if trace:
                expect_equal(problems, "envelope trace_id", message.get("trace_id"), trace.group(1))
                expect_equal(problems, "envelope span_id", message.get("span_id"), trace.group(2))
            received.add(id_, event, problems, entry_id=entry_id.decode())
    received.write(out)
