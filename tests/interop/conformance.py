"""What every system's interop script shares.

- The schema files, every one loaded from `schemas/` by its `$id` into a `referencing` registry,
  so `$ref`s between files resolve offline; whole messages validated with `jsonschema`.
- The manifests: envelope roles, idempotency keys, channels.
- The document-following messages a foreign producer sends (`plan`): every example, every
  invalid example, integers written as floats, an integer no 64-bit type holds, a duplicate,
  an unknown event and bytes that are not JSON, each with the outcome the contract promises.
- The JSON files exchanged with tests/interop.rs (`Sent`, `Received`).
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
ID_BASE = "https://event-contracts.local/schemas/"

# The time shapes a manifest's `envelope.roles.time.format` can declare (schemas/CONVENTIONS.md),
# as a reader's fixed layout: a regular expression for the exact shape and a strptime layout.
TIME_SHAPES = {
    "rfc3339-seconds": (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", "%Y-%m-%dT%H:%M:%SZ"),
    "rfc3339-millis": (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", "%Y-%m-%dT%H:%M:%S.%fZ"),
    "rfc3339-micros": (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", "%Y-%m-%dT%H:%M:%S.%fZ"),
    "unix-millis-string": (r"\d{13}", None),
}

# Flat systems have no envelope time role; their documents show one shape for every
# timestamp: DAM `"ts": "2025-08-04T14:33:09Z"` (002), agents `"timestamp":
# "2024-01-15T10:30:00Z"` (003).
DOCUMENT_TIME_FORMATS = {"dam": "rfc3339-seconds", "agents": "rfc3339-seconds"}

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
# Larger than any 64-bit integer, signed or not: valid where a schema sets no maximum.
TOO_BIG = 10**20
NOT_JSON = b'\xff{"this is": not JSON'


def load_registry() -> Registry:
    """Every schema file under `schemas/`, by `$id`; nothing is ever fetched."""
    resources = []
    for path in sorted(SCHEMAS.rglob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and isinstance(doc.get("$id"), str):
            resource = Resource.from_contents(doc, default_specification=DRAFT202012)
            resources.append((doc["$id"], resource))
    return Registry().with_resources(resources)


def pointer(path) -> str:
    """RFC 6901 JSON pointer of a jsonschema path (`""` for the root)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def now_rfc3339(fmt: str) -> str:
    now = datetime.now(timezone.utc)
    if fmt == "rfc3339-millis":
        return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    if fmt == "rfc3339-micros":
        return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def is_rfc3339(value: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", value):
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T").replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def time_shape_problem(value: Any, fmt: str) -> str | None:
    """Why `value` is not in the fixed shape `fmt` a reader's parser expects, or None."""
    shape = TIME_SHAPES.get(fmt)
    if shape is None:
        return None
    regex, layout = shape
    if not isinstance(value, str) or not re.fullmatch(regex, value):
        return f"{value!r} is not in the fixed {fmt} shape /{regex}/"
    if layout is not None:
        try:
            datetime.strptime(value, layout)
        except ValueError as e:
            return f"{value!r}: strptime({layout!r}) fails: {e}"
    return None


def integral_floats(value: Any) -> Any:
    """`value` with every integer written as a float (`16000` -> `16000.0`), as Python writes
    numbers that went through float arithmetic."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, list):
        return [integral_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: integral_floats(v) for k, v in value.items()}
    return value


def has_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, list):
        return any(has_int(v) for v in value)
    if isinstance(value, dict):
        return any(has_int(v) for v in value.values())
    return False


def int_paths(value: Any, path=()):
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield path
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from int_paths(v, path + (i,))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from int_paths(v, path + (k,))


def set_path(value: Any, path, new: Any) -> Any:
    out = copy.deepcopy(value)
    target = out
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = new
    return out


class Catalog:
    """One system: its manifest and its schemas, validating whole messages."""

    def __init__(self, system: str, registry: Registry | None = None):
        self.system = system
        self.registry = registry or load_registry()
        self.manifest = json.loads((SCHEMAS / system / "manifest.json").read_text(encoding="utf-8"))
        self.events = {e["name"]: e for e in self.manifest["events"]}
        self.fallback = next((e for e in self.manifest["events"] if e.get("fallback")), None)
        self.envelope = self.manifest["envelope"]
        self.wrapped = self.envelope["kind"] == "wrapped"
        self.roles = self.envelope.get("roles", {}) if self.wrapped else {}
        self._validators: dict[str, Draft202012Validator] = {}
        # Every `format: date-time` value the last validation met, to check its shape.
        self.datetimes: list[str] = []
        checker = FormatChecker()

        @checker.checks("date-time")
        def date_time(instance):
            if not isinstance(instance, str):
                return True
            self.datetimes.append(instance)
            return is_rfc3339(instance)

        self.checker = checker

    # -- the manifest --------------------------------------------------------------------

    @property
    def type_field(self) -> str:
        return self.envelope["type_field"]

    @property
    def payload_field(self) -> str:
        return self.envelope["payload_field"]

    def role(self, name: str) -> str | None:
        role = self.roles.get(name)
        if isinstance(role, dict):
            return role.get("property")
        return role

    def time_format(self) -> str | None:
        time = self.roles.get("time")
        if isinstance(time, dict):
            return time.get("format")
        return DOCUMENT_TIME_FORMATS.get(self.system)

    def event(self, name: str) -> dict:
        entry = self.events.get(name) or self.fallback
        if entry is None:
            raise KeyError(f"{self.system}: no event {name!r} in the manifest")
        return entry

    def channel(self, name: str) -> dict:
        return self.event(name)["channel"]

    def key_properties(self, name: str) -> list[str]:
        """Top-level payload properties that identify the message or its unit of work."""
        entry = self.event(name)
        keys = list(entry.get("idempotency_key", []))
        if entry.get("message_id"):
            keys.append(entry["message_id"])
        return keys

    def dedupes(self, name: str) -> bool:
        """Whether a consumer can tell a resend of this event from a new one: it has a
        declared idempotency key or message id (flat), or an envelope id (wrapped)."""
        return bool(self.key_properties(name)) or self.role("message_id") is not None

    # -- schemas -------------------------------------------------------------------------

    def schema(self, relative: str) -> dict:
        return self.registry.contents(f"{ID_BASE}{self.system}/{relative}")

    def event_schema(self, name: str) -> dict:
        return self.schema(self.event(name)["schema"])

    def validator(self, relative: str) -> Draft202012Validator:
        if relative not in self._validators:
            self._validators[relative] = Draft202012Validator(
                self.schema(relative), registry=self.registry, format_checker=self.checker
            )
        return self._validators[relative]

    def errors(self, relative: str, instance: Any, prefix: str = "") -> list[str]:
        return [
            f"{prefix}{pointer(e.absolute_path)}: {e.message}"
            for e in self.validator(relative).iter_errors(instance)
        ]

    def validate(self, name: str, message: Any) -> list[str]:
        """Every violation of a whole message (envelope and event) of event `name`; the
        date-time values met are left in `self.datetimes`."""
        self.datetimes = []
        if not self.wrapped:
            return self.errors(self.event(name)["schema"], message)
        errors = self.errors(self.envelope["schema"], message)
        payload = message.get(self.payload_field) if isinstance(message, dict) else None
        errors += self.errors(self.event(name)["schema"], payload, "/" + self.payload_field)
        return errors

    def validate_payload(self, name: str, payload: Any) -> list[str]:
        return self.errors(self.event(name)["schema"], payload)

    def time_problems(self, message: Any) -> list[str]:
        """Timestamps a fixed-layout parser cannot read: the time role in the declared
        format, and every `date-time` value of the last validation in the same shape."""
        fmt = self.time_format()
        if fmt is None:
            return []
        problems = []
        prop = self.role("time")
        if prop is not None and isinstance(message, dict):
            problem = time_shape_problem(message.get(prop), fmt)
            if problem:
                problems.append(f"/{prop}: {problem}")
        if fmt.startswith("rfc3339"):
            for value in self.datetimes:
                if prop is not None and isinstance(message, dict) and value == message.get(prop):
                    continue
                problem = time_shape_problem(value, fmt)
                if problem:
                    problems.append(f"date-time value: {problem}")
        return problems

    # -- variants of the examples ----------------------------------------------------------

    def uniquify(self, name: str, payload: Any, n: int) -> Any:
        """A copy whose id and idempotency-key properties are new, so it is its own message
        and its own unit of work."""
        if not isinstance(payload, dict):
            return payload
        out = copy.deepcopy(payload)
        for prop in self.key_properties(name):
            value = out.get(prop)
            if isinstance(value, str) and UUID_RE.match(value):
                out[prop] = str(uuid.uuid4())
            elif isinstance(value, str):
                out[prop] = f"{value}-{n}-{secrets.token_hex(3)}"
            elif isinstance(value, int) and not isinstance(value, bool):
                out[prop] = value + n * 1_000_000 + secrets.randbelow(1_000_000)
        return out

    def unrepresentable(self, name: str, payload: Any):
        """(pointer, payload) with an integer-typed property set to an integer no 64-bit type
        holds but the schema accepts (no `maximum`), or None."""
        for path in int_paths(payload):
            probe = set_path(payload, path, 0.5)
            typed = any(
                e.validator == "type" and tuple(e.absolute_path) == path
                for e in self.validator(self.event(name)["schema"]).iter_errors(probe)
            )
            if not typed:
                continue
            big = set_path(payload, path, TOO_BIG)
            if not self.validate_payload(name, big):
                return pointer(path), big
        return None


@dataclass
class Case:
    """One message (or one message sent `len(expect)` times) a document-following producer
    sends, and what the contract promises for each copy."""

    label: str
    event: str
    payload: Any = None
    raw: bytes | None = None
    expect: list[str] = field(default_factory=lambda: ["handled"])
    reason: str | None = None
    error_contains: list[str] = field(default_factory=list)
    trap: int | None = None
    trace: str = "header"
    options: dict = field(default_factory=dict)


def wire_name(catalog: Catalog, name: str) -> str:
    """The name a producer writes for event `name`: a relayed type for the fallback event."""
    return "stream_heartbeat" if catalog.events[name].get("fallback") else name


def plan(catalog: Catalog, unknown_name: str | None) -> list[Case]:
    """The messages every system gets, in sending order."""
    cases: list[Case] = []
    n = 0
    prefix = "/" + catalog.payload_field if catalog.wrapped else ""
    first_dedupable = None
    unrepresentable = None
    for name in catalog.events:
        wire = wire_name(catalog, name)
        schema = catalog.event_schema(name)
        examples = schema.get("examples", [])
        for i, example in enumerate(examples):
            n += 1
            payload = catalog.uniquify(name, example, n)
            problems = catalog.validate_payload(name, payload)
            if problems:
                raise SystemExit(f"{catalog.system}: {name} examples[{i}] made unique is invalid: {problems}")
            cases.append(Case(f"{wire} examples[{i}]", wire, payload))
            if first_dedupable is None and catalog.dedupes(name):
                first_dedupable = (wire, name, example)
        for j, invalid in enumerate(schema.get("x-invalid-examples", [])):
            n += 1
            where = prefix + invalid["pointer"]
            cases.append(
                Case(
                    f"{wire} x-invalid-examples[{j}] ({invalid['description'][:60]})",
                    wire,
                    catalog.uniquify(name, invalid["instance"], n),
                    expect=["dead-lettered"],
                    reason="schema-violation",
                    error_contains=[where if where else '""'],
                )
            )
        if examples and has_int(examples[0]):
            n += 1
            payload = integral_floats(catalog.uniquify(name, examples[0], n))
            problems = catalog.validate_payload(name, payload)
            if problems:
                raise SystemExit(f"{catalog.system}: {name} with integral floats is invalid: {problems}")
            cases.append(Case(f"{wire} integers written as floats (N.0)", wire, payload, trap=1))
        if examples and unrepresentable is None:
            found = catalog.unrepresentable(name, catalog.uniquify(name, examples[0], n + 1))
            if found:
                unrepresentable = (wire, found)
    if unrepresentable:
        wire, (where, payload) = unrepresentable
        cases.append(
            Case(
                f"{wire} integer beyond 64 bits at {where}",
                wire,
                payload,
                expect=["dead-lettered"],
                reason="unrepresentable",
                error_contains=[prefix + where],
                trap=1,
            )
        )
    if first_dedupable is None:
        first = next(iter(catalog.events))
        first_dedupable = (wire_name(catalog, first), first, catalog.event_schema(first)["examples"][0])
    wire, name, example = first_dedupable
    n += 1
    twice = ["handled", "skipped"] if catalog.dedupes(name) else ["handled", "handled"]
    cases.append(
        Case(
            f"{wire} sent twice (a producer's retry)",
            wire,
            catalog.uniquify(name, example, n),
            expect=twice,
            trap=6,
        )
    )
    cases.append(
        Case(
            "bytes that are not JSON",
            wire,
            raw=NOT_JSON,
            expect=["dead-lettered"],
            reason="malformed",
        )
    )
    if unknown_name is not None and catalog.fallback is None:
        cases.append(
            Case(
                f"unknown event {unknown_name}",
                unknown_name,
                catalog.uniquify(name, example, n + 1),
                expect=["dead-lettered"],
                reason="unknown-event",
            )
        )
    return cases


class Sent:
    """What Python sent, with the outcome the contract promises for each message: the file
    tests/interop.rs checks what the Rust consumers did against."""

    def __init__(self, system: str):
        self.system = system
        self.messages: list[dict] = []

    def add(self, case: Case, copy_index: int, *, channel: str, payload: bytes, traceparent, **extra):
        expect = case.expect[copy_index]
        entry = {
            "label": case.label if len(case.expect) == 1 else f"{case.label} (copy {copy_index + 1})",
            "event": case.event,
            "channel": channel,
            "payload": payload.hex(),
            "expect": expect,
            "reason": case.reason if expect == "dead-lettered" else None,
            "error_contains": case.error_contains if expect == "dead-lettered" else [],
            "traceparent": traceparent if expect == "handled" else None,
            "trap": case.trap,
        }
        entry.update(extra)
        self.messages.append(entry)

    def write(self, path: str):
        Path(path).write_text(json.dumps({"system": self.system, "messages": self.messages}, indent=1))


class Received:
    """What Python read of the Rust producers' messages, and every problem it found."""

    def __init__(self, system: str):
        self.system = system
        self.messages: list[dict] = []
        self.notes: list[str] = []

    def add(self, key: str, event: str | None, problems: list[str], **extra):
        entry = {"key": key, "event": event, "problems": problems}
        entry.update(extra)
        self.messages.append(entry)

    def write(self, path: str):
        Path(path).write_text(
            json.dumps({"system": self.system, "messages": self.messages, "notes": self.notes}, indent=1)
        )


def expect_equal(problems: list[str], what: str, got: Any, want: Any):
    if got != want:
        problems.append(f"{what}: got {got!r}, want {want!r}")


def check_json(catalog: Catalog, event: str, body: bytes, problems: list[str]) -> Any:
    """Parses and validates one message body; its problems are appended."""
    try:
        message = json.loads(body)
    except ValueError as e:
        problems.append(f"not JSON: {e}")
        return None
    try:
        problems.extend(f"schema: {e}" for e in catalog.validate(event, message))
    except KeyError as e:
        problems.append(f"names no event of the catalog: {e}")
        return message
    problems.extend(f"time: {p}" for p in catalog.time_problems(message))
    return message
