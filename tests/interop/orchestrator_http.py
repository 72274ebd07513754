"""orchestrator: CloudEvents 1.0 over HTTP with the standard library (urllib, http.server).

Python -> Rust: document 004's envelope POSTed to the Rust ingest endpoint in every form a
CloudEvents producer uses: structured (`application/cloudevents+json`), the document's `curl`
form (plain `application/json`), binary (`ce-*` headers), trace context as the `traceparent`
attribute, the HTTP `traceparent` header or the document's `extensions: {seq, traceparent}`.

Rust -> Python: a small HTTP server taking the Rust `HttpSink`'s requests in structured and
binary mode, rebuilding and validating each event as a CloudEvents receiver would."""

from __future__ import annotations

import copy
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

from conformance import (
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

SOURCE = "py-interop/worker"
STRUCTURED = "application/cloudevents+json"
# What the ingest endpoint answers per outcome (runtime/src/transport/http/mod.rs).
STATUS = {"handled": 200, "skipped": 200, "dead-lettered": 400}


def cloudevent(event: str, data, traceparent: str | None) -> dict:
    run_id = data.get("run_id") if isinstance(data, dict) else None
    message = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": SOURCE,
        "type": event,
        "subject": f"run/{run_id if isinstance(run_id, str) else uuid.uuid4()}",
        "time": now_rfc3339("rfc3339-seconds"),
        "datacontenttype": "application/json",
        "data": data,
    }
    if traceparent:
        message["traceparent"] = traceparent
    return message


def binary(message: dict, content_type: str = "application/json") -> tuple[dict, bytes]:
    headers = {"content-type": content_type}
    for name, value in message.items():
        if name in ("data", "datacontenttype"):
            continue
        if name == "extensions":
            continue
        headers[f"ce-{name}"] = urllib.parse.quote(str(value), safe="/:@!$&'()*+,;=-._~")
    if "traceparent" in message:
        headers["traceparent"] = message["traceparent"]
    return headers, json.dumps(message["data"]).encode()


def post(url: str, headers: dict, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def publish(config: dict, out: str):
    catalog = Catalog("orchestrator")
    cases = plan(catalog, unknown_name="ai.future.thing")
    for case in cases:
        if case.reason == "unknown-event":
            # The document: "Handle unknown events gracefully: Log warning, don't throw".
            case.expect, case.reason, case.error_contains = ["skipped"], None, []
            case.options["status"] = 202
        if case.label.endswith("(a producer's retry)"):
            # The same event again in binary mode is the same event (`source` + `id`).
            case.expect = case.expect + ["skipped"]
            case.options["modes"] = ["structured", "structured", "binary"]
    started = catalog.event_schema("ai.myfeature.started")["examples"][0]
    progress = catalog.event_schema("ai.run.stage_progress")["examples"][0]
    cases += [
        Case("the document's curl form (plain application/json)", "ai.myfeature.started", started,
             trace="none", options={"mode": "json"}),
        Case("binary mode, traceparent header", "ai.run.stage_progress", progress,
             options={"mode": "binary"}),
        Case("HTTP traceparent header, structured body without the attribute", "ai.run.stage_progress",
             progress, options={"mode": "structured", "trace_in": "http-header"}),
        Case("extensions {seq, traceparent} (the document's envelope)", "ai.run.stage_progress",
             progress, trap=2, options={"trace_in": "extensions", "extensions_seq": 5}),
        Case("top-level seq written as 3.0", "ai.run.stage_progress", progress, trap=1,
             options={"seq": 3.0}),
        Case("extensions.seq written as 4.0", "ai.run.stage_progress", progress, trap=1,
             options={"extensions_seq": 4.0}),
        Case("datacontenttype with a charset, structured", "ai.run.stage_progress", progress, trap=4,
             options={"datacontenttype": "application/json; charset=utf-8"}),
        Case("content type with a charset, binary", "ai.run.stage_progress", progress, trap=4,
             options={"mode": "binary", "content_type": "application/json; charset=utf-8"}),
        Case("binary mode, data that is not JSON", "ai.run.stage_progress", raw=b'{"progress": 0.5,,}',
             expect=["dead-lettered"], reason="malformed", options={"mode": "binary"}),
    ]
    # The envelope schema's examples (the document's envelopes) as sent, with a fresh id:
    # the contract promises what Python's jsonschema says of each.
    for i, example in enumerate(catalog.schema("envelope.json").get("examples", [])):
        message = copy.deepcopy(example)
        message["id"] = str(uuid.uuid4())
        errors = catalog.validate(message["type"], message)
        tp = message.get("traceparent") or (message.get("extensions") or {}).get("traceparent")
        case = Case(f"envelope examples[{i}] as the document shows it", message["type"], trace="as-is",
                    trap=2 if "traceparent" not in message and tp else None,
                    options={"message": message, "traceparent": tp})
        if errors:
            case.expect, case.reason = ["dead-lettered"], "schema-violation"
            case.error_contains = [errors[0].split(":")[0] or '""']
        cases.append(case)

    url = config["url"]
    sent = Sent("orchestrator")
    for case in cases:
        options = case.options
        traceparent = None
        if case.raw is not None:
            message = None
        elif "message" in options:
            message = options["message"]
            traceparent = options["traceparent"]
        else:
            traceparent = new_traceparent() if case.trace == "header" else None
            trace_in = options.get("trace_in", "attribute")
            message = cloudevent(case.event, case.payload, traceparent if trace_in == "attribute" else None)
            if "seq" in options:
                message["seq"] = options["seq"]
            if "datacontenttype" in options:
                message["datacontenttype"] = options["datacontenttype"]
            extensions = {}
            if "extensions_seq" in options:
                extensions["seq"] = options["extensions_seq"]
            if trace_in == "extensions":
                extensions["traceparent"] = traceparent
            if extensions:
                message["extensions"] = extensions
        modes = options.get("modes") or [options.get("mode", "structured")] * len(case.expect)
        for i, mode in enumerate(modes):
            if mode == "binary":
                if message is None:
                    headers = {"content-type": "application/json", "ce-specversion": "1.0", "ce-id": str(uuid.uuid4()),
                               "ce-source": SOURCE, "ce-type": case.event, "ce-subject": f"run/{uuid.uuid4()}",
                               "ce-time": now_rfc3339("rfc3339-seconds")}
                    body = case.raw
                else:
                    headers, body = binary(message, options.get("content_type", "application/json"))
            else:
                body = case.raw if message is None else json.dumps(message).encode()
                headers = {"content-type": "application/json" if mode == "json" else STRUCTURED}
                if options.get("trace_in") == "http-header":
                    headers["traceparent"] = traceparent
            status, answer = post(url, headers, body)
            expect = case.expect[i]
            want_status = options.get("status", STATUS[expect])
            sent.add(case, i, channel=config["path"], payload=body, traceparent=traceparent,
                     mode=mode, id=message["id"] if message else headers.get("ce-id"),
                     source=message["source"] if message else SOURCE,
                     status=status, want_status=want_status, answer=answer[:2000])
    sent.write(out)


def serve(config: dict, out: str):
    """Answers the Rust client's requests until it has seen `config["expect"]` of them (or the
    wait is over), then reads the list of what Rust published from stdin and writes what it
    found. The port goes to stdout first."""
    catalog = Catalog("orchestrator")
    requests: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            problems: list[str] = []
            media = headers.get("content-type", "").split(";")[0].strip().lower()
            if "ce-specversion" in headers:
                mode = "binary"
                expect_equal(problems, "content-type media type", media, "application/json")
                message = {
                    k[3:]: urllib.parse.unquote(v) for k, v in headers.items() if k.startswith("ce-")
                }
                if "seq" in message:
                    try:
                        message["seq"] = int(message["seq"])
                    except ValueError:
                        problems.append(f"ce-seq {message['seq']!r} is not an integer")
                message["datacontenttype"] = headers.get("content-type", "")
                try:
                    message["data"] = json.loads(body)
                except ValueError as e:
                    problems.append(f"data is not JSON: {e}")
                try:
                    problems.extend(f"schema: {e}" for e in catalog.validate(message.get("type", ""), message))
                except KeyError as e:
                    problems.append(f"names no event of the catalog: {e}")
                problems.extend(f"time: {p}" for p in catalog.time_problems(message))
            else:
                mode = "structured"
                expect_equal(problems, "content-type media type", media, STRUCTURED)
                try:
                    event_type = json.loads(body).get("type", "")
                except ValueError:
                    event_type = ""
                message = check_json(catalog, event_type, body, problems) or {}
            requests.append({"mode": mode, "message": message, "headers": headers, "problems": problems})
            answer = json.dumps({"status": 200, "outcome": "handled", "id": message.get("id")}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = HTTPServer(("127.0.0.1", 0), Handler)
    server.timeout = 0.2
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    deadline = time.monotonic() + config.get("wait_seconds", 30)
    while len(requests) < config["expect"] and time.monotonic() < deadline:
        server.handle_request()
    server.server_close()

    published = {(p["mode"], p["id"]): p for p in json.load(sys.stdin)["published"]}
    received = Received("orchestrator")
    for request in requests:
        mode, message, headers, problems = (request[k] for k in ("mode", "message", "headers", "problems"))
        id_ = message.get("id")
        want = published.get((mode, id_))
        if want is None:
            problems.append(f"{mode} event {id_!r} was never published")
        else:
            expect_equal(problems, "type", message.get("type"), want["event"])
            expect_equal(problems, "traceparent attribute", message.get("traceparent"), want["traceparent"])
            expect_equal(problems, "HTTP traceparent header", headers.get("traceparent"), want["traceparent"])
        received.add(f"{mode}:{id_}", message.get("type"), problems, mode=mode)
    received.write(out)
