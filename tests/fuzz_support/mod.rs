//! A seeded, property-based fuzzer over every entry point that reads outside input: each
//! system's whole-message decoding and each event's decoding (through `SYSTEMS`), the
//! CloudEvents binary-mode header parsing and structured conversion, the ingest endpoint's
//! request handling (in process, through the same router as `serve`), catalog loading and
//! checking, and the compatibility check of two schemas.
//!
//! Inputs are catalog examples and schema files mutated at the byte level (bit flips,
//! truncation, splicing, deep nesting, huge numbers, unicode escapes, random bytes) and at the
//! structure level (JSON values replaced, removed, added, retyped, nested). The invariant: no
//! panic, and every refusal an `Err` (or, over HTTP, a problem+json answer with a 4xx/503
//! status). A failing input is written under `target/fuzz-failures/`; kept regressions live in
//! `tests/fixtures/fuzz/` and are replayed by `tests/fuzz.rs`.
//!
//! cargo-fuzz (libFuzzer) needs a nightly toolchain and sanitizer builds of the whole
//! dependency tree; this runs on the stable toolchain inside `cargo test`.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use event_contracts::runtime::transport::http::{
    cloudevents, IngestAuth, IngestServer, MemoryStore, WebhookSecret,
};
use event_contracts::runtime::transport::{
    Context, Contract, Handle, HandlerResult, Headers, Policy, UnknownPolicy,
};
use event_contracts::runtime::{RoundTripError, SchemaSet, SystemInfo};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest input a mutation may grow to: inputs stay bounded, so a case cannot hang on size.
const MAX_LEN: usize = 256 * 1024;

pub const TARGETS: [&str; 5] = ["decode", "cloudevents", "ingest", "schema", "compat"];

/// One fuzz input, in the form that is replayed from `tests/fixtures/fuzz/`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Case {
    pub target: String,
    /// What the input is for: the system and event (decode), the schema file names (schema,
    /// compat).
    #[serde(default)]
    pub pick: Vec<String>,
    #[serde(default)]
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body (decode, cloudevents, ingest) or the file texts (schema: every file of the
    /// system in `pick` order; compat: old and new).
    #[serde(default)]
    pub parts: Vec<Vec<u8>>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Stats {
    pub cases: u64,
    /// Inputs refused with an error (the expected answer to most mutations).
    pub refused: u64,
    pub accepted: u64,
    pub slowest: Duration,
    pub elapsed: Duration,
    /// Each failure: why, and where its input was written.
    pub failures: Vec<(String, PathBuf)>,
}

/// Runs `cases` inputs of `target` from `seed`; failures are collected, not raised.
pub fn run(target: &str, cases: u64, seed: u64) -> Stats {
    let corpus = Corpus::get();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut stats = Stats::default();
    let start = Instant::now();
    // Panics are caught and recorded; the default hook would print each one.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for _ in 0..cases {
        let case = generate(target, &mut rng, corpus);
        let began = Instant::now();
        let verdict = catch_unwind(AssertUnwindSafe(|| execute(&case)));
        stats.slowest = stats.slowest.max(began.elapsed());
        stats.cases += 1;
        let failure = match verdict {
            Ok(Ok(true)) => {
                stats.accepted += 1;
                None
            }
            Ok(Ok(false)) => {
                stats.refused += 1;
                None
            }
            Ok(Err(broken)) => Some(broken),
            Err(panic) => Some(format!("panic: {}", panic_message(&panic))),
        };
        if let Some(why) = failure {
            let path = save_failure(&case);
            stats.failures.push((why, path));
            if stats.failures.len() >= 20 {
                break;
            }
        }
    }
    std::panic::set_hook(hook);
    stats.elapsed = start.elapsed();
    stats
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(not a string)".into())
}

fn save_failure(case: &Case) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let text = serde_json::to_string(case).unwrap_or_default();
    let hash = text.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    let path = dir.join(format!("{}-{hash:016x}.json", case.target));
    let _ = std::fs::write(&path, text);
    path
}

/// The number of cases per target in `cargo test`: `FUZZ_CASES`, else `default`.
pub fn cases_from_env(default: u64) -> u64 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------
// Seeds

/// Every generated crate of the workspace.
fn crates() -> [(&'static [&'static SystemInfo], &'static SchemaSet); 2] {
    [
        (&event_contracts::SYSTEMS, &event_contracts::SCHEMAS),
        (&telemetry_contracts::SYSTEMS, &telemetry_contracts::SCHEMAS),
    ]
}

pub struct Corpus {
    /// (system, event wire name, example bytes).
    events: Vec<(&'static SystemInfo, &'static str, Vec<u8>)>,
    /// Whole messages of wrapped systems (envelope examples).
    messages: Vec<(&'static SystemInfo, Vec<u8>)>,
    /// Structured CloudEvents of the orchestrator system.
    cloudevents: Vec<Vec<u8>>,
    /// Every object key and string seen in the seeds: structure mutations reuse them.
    keys: Vec<String>,
    /// Schema files by system folder: (path under schemas/, text).
    schema_systems: Vec<Vec<(String, String)>>,
    /// Event schema files.
    event_schemas: Vec<(String, String)>,
    /// The event schemas that compat reads on their own (no `$ref` to another file), so a
    /// mutation, not a missing file, decides the answer.
    standalone_schemas: Vec<(String, String)>,
}

impl Corpus {
    pub fn get() -> &'static Corpus {
        static CORPUS: OnceLock<Corpus> = OnceLock::new();
        CORPUS.get_or_init(Corpus::load)
    }

    fn load() -> Corpus {
        let mut events = Vec::new();
        let mut messages = Vec::new();
        let mut keys = BTreeSet::new();
        for (systems, schemas) in crates() {
            for system in systems.iter().copied() {
                for info in system.events {
                    let Some(schema) = schemas.documents().get(info.schema_id) else {
                        continue;
                    };
                    let schema: Value = serde_json::from_str(&schema.to_string()).unwrap();
                    collect_keys(&schema, &mut keys);
                    for list in ["examples", "x-invalid-examples"] {
                        for example in schema[list].as_array().into_iter().flatten() {
                            let example = example.get("value").unwrap_or(example);
                            events.push((system, info.name, serde_json::to_vec(example).unwrap()));
                        }
                    }
                }
                if let (Some(id), Some(_)) = (system.envelope_schema_id, system.reencode_message) {
                    if let Some(schema) = schemas.documents().get(id) {
                        let schema: Value = serde_json::from_str(&schema.to_string()).unwrap();
                        for example in schema["examples"].as_array().into_iter().flatten() {
                            messages.push((system, serde_json::to_vec(example).unwrap()));
                        }
                    }
                }
            }
        }
        let cloudevents: Vec<Vec<u8>> = messages
            .iter()
            .filter(|(s, _)| s.name == "orchestrator")
            .map(|(_, m)| m.clone())
            .collect();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        let mut files = Vec::new();
        walk(&root, &root, &mut files);
        let mut schema_systems: Vec<Vec<(String, String)>> = Vec::new();
        let mut event_schemas = Vec::new();
        for (path, text) in files {
            let Some((system, _)) = path.split_once('/') else {
                continue;
            };
            if path.contains("/events/") {
                event_schemas.push((path.clone(), text.clone()));
            }
            match schema_systems
                .iter_mut()
                .find(|g| g[0].0.starts_with(&format!("{system}/")))
            {
                Some(group) => group.push((path, text)),
                None => schema_systems.push(vec![(path, text)]),
            }
        }
        for (_, text) in &event_schemas {
            if let Ok(v) = serde_json::from_str::<Value>(text) {
                collect_keys(&v, &mut keys);
            }
        }
        let standalone_schemas: Vec<(String, String)> = event_schemas
            .iter()
            .filter(|(path, text)| {
                event_contracts_compat::check_files(
                    (path, text),
                    (path, text),
                    event_contracts_compat::Mode::Full,
                    &event_contracts_compat::Options::default(),
                )
                .is_ok()
            })
            .cloned()
            .collect();
        Corpus {
            events,
            standalone_schemas,
            messages,
            cloudevents,
            keys: keys.into_iter().collect(),
            schema_systems,
            event_schemas,
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

fn collect_keys(value: &Value, keys: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                keys.insert(k.clone());
                collect_keys(v, keys);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_keys(v, keys)),
        Value::String(s) if s.len() < 80 => {
            keys.insert(s.clone());
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations

/// Byte sequences that break parsers: huge and tiny numbers, lone surrogates, control
/// characters, deep openers, odd unicode.
const TOKENS: &[&str] = &[
    "1e999999",
    "-1e-999999",
    "18446744073709551616",
    "-9223372036854775809",
    "1.7976931348623157e309",
    "0.0000000000000000000000000000000001",
    "-0",
    "1.0",
    "3.0e0",
    "\"\\ud800\"",
    "\"\\udc00\\ud800\"",
    "\"\\u0000\"",
    "\"\\uffff\"",
    "\"\\uD83D\\uDE00\"",
    "\"é日本🎉\u{202e}\"",
    "null",
    "true",
    "[]",
    "{}",
    "\"\"",
    "\"\\\\\"",
    ",",
    ":",
    "\"a\":",
    "\u{feff}",
    "\u{0}",
    "%",
    "%zz",
    "%ff%fe",
    "%c3%28",
    "#/$defs/x",
    "../../../../etc/passwd",
    "http://example.com/schema.json",
    "(a+)+$",
    "[",
    "a{1000}",
    "\\p{Nope}",
    "(?<x>",
];

fn token(rng: &mut fastrand::Rng) -> &'static str {
    TOKENS[rng.usize(..TOKENS.len())]
}

/// A byte-level mutation of `seed`, sometimes spliced with `other`.
pub fn mutate_bytes(rng: &mut fastrand::Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.usize(..4) {
        let len = b.len();
        match rng.u8(..11) {
            0 if len > 0 => {
                let i = rng.usize(..len);
                b[i] ^= 1 << rng.u8(..8);
            }
            1 if len > 0 => b.truncate(rng.usize(..len)),
            2 => {
                let cut = rng.usize(..=len);
                let from = rng.usize(..=other.len());
                b.truncate(cut);
                b.extend_from_slice(&other[from..]);
            }
            3 => {
                let at = rng.usize(..=len);
                b.splice(at..at, token(rng).bytes());
            }
            4 if len > 0 => {
                let start = rng.usize(..len);
                let end = (start + 1 + rng.usize(..16)).min(len);
                b.drain(start..end);
            }
            5 if len > 0 => {
                let start = rng.usize(..len);
                let end = (start + 1 + rng.usize(..64)).min(len);
                let chunk = b[start..end].to_vec();
                b.splice(start..start, chunk);
            }
            6 if len > 0 => {
                const BYTES: &[u8] = b"\"\\{}[]:,0-e.\x00\xff\x80\xc3 \n";
                let i = rng.usize(..len);
                b[i] = BYTES[rng.usize(..BYTES.len())];
            }
            7 => {
                let depth = 1 + rng.usize(..3000);
                let (open, close) = if rng.bool() {
                    ("[", "]")
                } else {
                    ("{\"a\":", "}")
                };
                let at = rng.usize(..=len);
                let mut nested = open.repeat(depth).into_bytes();
                if rng.bool() {
                    nested.extend_from_slice(b"1");
                    nested.extend_from_slice(close.repeat(depth).as_bytes());
                }
                b.splice(at..at, nested);
            }
            8 => {
                // A number's digits replaced by a very long digit run.
                if let Some(i) = (0..len).find(|&i| b[i].is_ascii_digit() && rng.u8(..8) == 0) {
                    let digits = "9".repeat(1 + rng.usize(..400));
                    b.splice(i..i + 1, digits.bytes());
                }
            }
            9 => {
                let n = rng.usize(..64);
                let at = rng.usize(..=len);
                let noise: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
                b.splice(at..at, noise);
            }
            _ => b = (0..rng.usize(..48)).map(|_| rng.u8(..)).collect(),
        }
    }
    b.truncate(MAX_LEN);
    b
}

fn random_string(rng: &mut fastrand::Rng, keys: &[String]) -> String {
    match rng.u8(..5) {
        0 => String::new(),
        1 => (0..rng.usize(..24)).map(|_| rng.char(..)).collect(),
        2 => "x".repeat(rng.usize(..5000)),
        3 => token(rng).trim_matches('"').to_owned(),
        _ if !keys.is_empty() => keys[rng.usize(..keys.len())].clone(),
        _ => "k".into(),
    }
}

fn random_value(rng: &mut fastrand::Rng, keys: &[String], depth: u32) -> Value {
    match rng.u8(..if depth == 0 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.bool()),
        2 => Value::from(rng.i64(..)),
        3 => Value::from(rng.u64(..)),
        4 => {
            let f = [0.5, -0.0, 1e300, -1e-300, f64::MAX, f64::MIN_POSITIVE, 3.0][rng.usize(..7)];
            Value::from(f)
        }
        5 => Value::String(random_string(rng, keys)),
        6 => Value::Array(
            (0..rng.usize(..4))
                .map(|_| random_value(rng, keys, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.usize(..4))
                .map(|_| (random_string(rng, keys), random_value(rng, keys, depth - 1)))
                .collect(),
        ),
    }
}

/// A structure-level mutation: some node of `value` replaced, removed, retyped, extended or
/// nested.
pub fn mutate_value(rng: &mut fastrand::Rng, value: &mut Value, keys: &[String]) {
    for _ in 0..1 + rng.usize(..3) {
        let node = pick_node(rng, value);
        match rng.u8(..7) {
            0 => *node = random_value(rng, keys, 3),
            1 => match node {
                Value::Object(map) if !map.is_empty() => {
                    let key = map.keys().nth(rng.usize(..map.len())).unwrap().clone();
                    map.shift_remove(&key);
                }
                Value::Array(items) if !items.is_empty() => {
                    items.remove(rng.usize(..items.len()));
                }
                other => *other = Value::Null,
            },
            2 => match node {
                Value::Object(map) => {
                    map.insert(random_string(rng, keys), random_value(rng, keys, 2));
                }
                Value::Array(items) => items.push(random_value(rng, keys, 2)),
                other => *other = Value::Array(vec![other.take()]),
            },
            3 => {
                // The same node with another type of the same content.
                *node = match node.take() {
                    Value::String(s) => s
                        .parse::<f64>()
                        .ok()
                        .map(Value::from)
                        .unwrap_or(Value::Array(vec![Value::String(s)])),
                    Value::Number(n) => Value::String(n.to_string()),
                    Value::Bool(b) => Value::String(b.to_string()),
                    Value::Null => Value::Object(Default::default()),
                    Value::Array(items) => items.into_iter().next().unwrap_or(Value::Null),
                    Value::Object(map) => Value::Array(map.into_iter().map(|(_, v)| v).collect()),
                }
            }
            4 => {
                let mut inner = node.take();
                for _ in 0..1 + rng.usize(..200) {
                    inner = if rng.bool() {
                        Value::Array(vec![inner])
                    } else {
                        Value::Object([("a".to_owned(), inner)].into_iter().collect())
                    };
                }
                *node = inner;
            }
            5 => *node = Value::String(random_string(rng, keys)),
            _ => {
                if let Value::Object(map) = node {
                    // A known key (a schema keyword or an envelope attribute) set to
                    // something random.
                    if !keys.is_empty() {
                        let key = keys[rng.usize(..keys.len())].clone();
                        map.insert(key, random_value(rng, keys, 2));
                    }
                }
            }
        }
    }
}

fn pick_node<'a>(rng: &mut fastrand::Rng, value: &'a mut Value) -> &'a mut Value {
    let len = match &*value {
        Value::Object(map) => map.len(),
        Value::Array(items) => items.len(),
        _ => 0,
    };
    if len == 0 || rng.u8(..4) == 0 {
        return value;
    }
    let i = rng.usize(..len);
    match value {
        Value::Object(map) => pick_node(rng, map.values_mut().nth(i).unwrap()),
        Value::Array(items) => pick_node(rng, &mut items[i]),
        other => other,
    }
}

/// A mutated JSON text of `seed`: byte-level or structure-level, at random.
fn mutate_json(rng: &mut fastrand::Rng, seed: &[u8], other: &[u8], keys: &[String]) -> Vec<u8> {
    if rng.bool() {
        if let Ok(mut value) = serde_json::from_slice::<Value>(seed) {
            mutate_value(rng, &mut value, keys);
            let mut bytes = serde_json::to_vec(&value).unwrap();
            if rng.u8(..4) == 0 {
                bytes = mutate_bytes(rng, &bytes, other);
            }
            bytes.truncate(MAX_LEN);
            return bytes;
        }
    }
    mutate_bytes(rng, seed, other)
}

// ---------------------------------------------------------------------------------------------
// Generation

const HEADER_NAMES: &[&str] = &[
    "ce-specversion",
    "ce-type",
    "ce-source",
    "ce-id",
    "ce-time",
    "ce-subject",
    "ce-seq",
    "ce-traceparent",
    "ce-dataschema",
    "ce-datacontenttype",
    "ce-data",
    "CE-Type",
    "ce-",
    "traceparent",
    "x-attempt",
    "content-length",
    "authorization",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

const CONTENT_TYPES: &[&str] = &[
    "application/cloudevents+json",
    "application/cloudevents+json; charset=utf-8",
    "application/cloudevents-batch+json",
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "text/plain",
    "application/xml",
    "application/octet-stream",
    "application/vnd.foo+json",
    "",
    ";",
    "application/cloudevents+json;;;=",
];

fn header_value(rng: &mut fastrand::Rng, keys: &[String]) -> Vec<u8> {
    match rng.u8(..5) {
        0 => (0..rng.usize(..32)).map(|_| rng.u8(..)).collect(),
        1 => token(rng).as_bytes().to_vec(),
        2 => [
            "1.0",
            "0.3",
            "3",
            "3.0",
            "-1",
            "1e400",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ][rng.usize(..7)]
        .as_bytes()
        .to_vec(),
        _ => random_string(rng, keys).into_bytes(),
    }
}

fn random_headers(rng: &mut fastrand::Rng, keys: &[String]) -> Vec<(String, Vec<u8>)> {
    let mut headers = Vec::new();
    if rng.u8(..8) != 0 {
        headers.push((
            "content-type".to_owned(),
            CONTENT_TYPES[rng.usize(..CONTENT_TYPES.len())]
                .as_bytes()
                .to_vec(),
        ));
    }
    for _ in 0..rng.usize(..8) {
        let name = HEADER_NAMES[rng.usize(..HEADER_NAMES.len())].to_owned();
        headers.push((name, header_value(rng, keys)));
    }
    headers
}

/// A valid binary-mode rendition of `event`, then mutated: the structured→binary split
/// followed by random damage to headers and body.
fn binary_case(
    rng: &mut fastrand::Rng,
    event: &[u8],
    keys: &[String],
) -> (Vec<(String, Vec<u8>)>, Vec<u8>) {
    match cloudevents::structured_to_binary(event) {
        Ok((ce, content_type, body)) => {
            let mut headers: Vec<(String, Vec<u8>)> =
                ce.into_iter().map(|(n, v)| (n, v.into_bytes())).collect();
            headers.push(("content-type".into(), content_type.into_bytes()));
            for _ in 0..rng.usize(..3) {
                if headers.is_empty() {
                    break;
                }
                let i = rng.usize(..headers.len());
                match rng.u8(..3) {
                    0 => headers[i].1 = mutate_bytes(rng, &headers[i].1, b"%"),
                    1 => {
                        headers.remove(i);
                    }
                    _ => headers.push((
                        HEADER_NAMES[rng.usize(..HEADER_NAMES.len())].to_owned(),
                        header_value(rng, keys),
                    )),
                }
            }
            let body = if rng.bool() {
                mutate_json(rng, &body, event, keys)
            } else {
                body
            };
            (headers, body)
        }
        Err(_) => (random_headers(rng, keys), event.to_vec()),
    }
}

pub fn generate(target: &str, rng: &mut fastrand::Rng, corpus: &Corpus) -> Case {
    let keys = &corpus.keys;
    let mut case = Case {
        target: target.to_owned(),
        pick: Vec::new(),
        headers: Vec::new(),
        parts: Vec::new(),
    };
    match target {
        "decode" => {
            let (system, event, seed) = &corpus.events[rng.usize(..corpus.events.len())];
            let (_, _, other) = &corpus.events[rng.usize(..corpus.events.len())];
            let whole = rng.u8(..3) == 0 && !corpus.messages.is_empty();
            if whole {
                let (system, seed) = &corpus.messages[rng.usize(..corpus.messages.len())];
                case.pick = vec![system.name.into()];
                case.parts = vec![mutate_json(rng, seed, other, keys)];
            } else {
                // Sometimes another event's name: a payload decoded as the wrong event.
                let name = if rng.u8(..8) == 0 {
                    system.events[rng.usize(..system.events.len())].name
                } else {
                    event
                };
                case.pick = vec![system.name.into(), name.into()];
                case.parts = vec![mutate_json(rng, seed, other, keys)];
            }
        }
        "cloudevents" => {
            let seed = &corpus.cloudevents[rng.usize(..corpus.cloudevents.len())];
            if rng.bool() {
                let (headers, body) = binary_case(rng, seed, keys);
                case.headers = headers;
                case.parts = vec![body];
            } else {
                case.headers = random_headers(rng, keys);
                case.parts = vec![mutate_json(rng, seed, seed, keys)];
            }
        }
        "ingest" => {
            let seed = &corpus.cloudevents[rng.usize(..corpus.cloudevents.len())];
            let other = &corpus.cloudevents[rng.usize(..corpus.cloudevents.len())];
            // Server 0 is open, server 1 requires a bearer token and a signature.
            case.pick = vec![if rng.u8(..4) == 0 { "auth" } else { "open" }.into()];
            let (mut headers, body) = match rng.u8(..4) {
                0 => binary_case(rng, seed, keys),
                1 => {
                    let mut batch = b"[".to_vec();
                    for i in 0..rng.usize(..4) {
                        if i > 0 {
                            batch.push(b',');
                        }
                        batch.extend_from_slice(&mutate_json(rng, seed, other, keys));
                    }
                    batch.push(b']');
                    let batch = if rng.u8(..4) == 0 {
                        mutate_bytes(rng, &batch, other)
                    } else {
                        batch
                    };
                    (
                        vec![(
                            "content-type".into(),
                            b"application/cloudevents-batch+json".to_vec(),
                        )],
                        batch,
                    )
                }
                2 => (
                    vec![(
                        "content-type".into(),
                        b"application/cloudevents+json".to_vec(),
                    )],
                    mutate_json(rng, seed, other, keys),
                ),
                _ => (
                    random_headers(rng, keys),
                    mutate_json(rng, seed, other, keys),
                ),
            };
            if case.pick[0] == "auth" && rng.bool() {
                // Correct credentials, so the mutated body gets past them, sometimes damaged.
                headers.push((
                    "authorization".into(),
                    format!("Bearer {FUZZ_TOKEN}").into_bytes(),
                ));
                let ts = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                let secret = WebhookSecret::parse(FUZZ_SECRET).unwrap();
                let mut signature = secret.sign("msg_fuzz", ts, &body).into_bytes();
                if rng.u8(..4) == 0 {
                    signature = mutate_bytes(rng, &signature, b"v1,");
                }
                headers.push(("webhook-id".into(), b"msg_fuzz".to_vec()));
                headers.push(("webhook-timestamp".into(), ts.to_string().into_bytes()));
                headers.push(("webhook-signature".into(), signature));
            }
            case.headers = headers;
            case.parts = vec![body];
        }
        "schema" => {
            let group = &corpus.schema_systems[rng.usize(..corpus.schema_systems.len())];
            let target = rng.usize(..group.len());
            let (_, other) = &corpus.event_schemas[rng.usize(..corpus.event_schemas.len())];
            for (i, (path, text)) in group.iter().enumerate() {
                case.pick.push(path.clone());
                case.parts.push(if i == target {
                    mutate_json(rng, text.as_bytes(), other.as_bytes(), keys)
                } else {
                    text.clone().into_bytes()
                });
            }
        }
        "compat" => {
            let seeds = if corpus.standalone_schemas.is_empty() {
                &corpus.event_schemas
            } else {
                &corpus.standalone_schemas
            };
            let (path, old) = &seeds[rng.usize(..seeds.len())];
            let (_, other) = &corpus.event_schemas[rng.usize(..corpus.event_schemas.len())];
            let old = if rng.u8(..4) == 0 {
                mutate_json(rng, old.as_bytes(), other.as_bytes(), keys)
            } else {
                old.clone().into_bytes()
            };
            let mut new = old.clone();
            // Mostly structural changes (a schema that still parses is the interesting case).
            for _ in 0..1 + rng.usize(..3) {
                new = if rng.u8(..5) == 0 {
                    mutate_bytes(rng, &new, other.as_bytes())
                } else {
                    match serde_json::from_slice::<Value>(&new) {
                        Ok(mut v) => {
                            mutate_value(rng, &mut v, keys);
                            serde_json::to_vec(&v).unwrap()
                        }
                        Err(_) => new,
                    }
                };
            }
            case.pick = vec![path.clone()];
            case.parts = vec![old, new];
        }
        other => panic!("unknown fuzz target `{other}`; known: {TARGETS:?}"),
    }
    case
}

// ---------------------------------------------------------------------------------------------
// Execution: Ok(true) accepted, Ok(false) refused with an error, Err a broken invariant.

const FUZZ_TOKEN: &str = "fuzz-token";
const FUZZ_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub fn execute(case: &Case) -> Result<bool, String> {
    match case.target.as_str() {
        "decode" => execute_decode(case),
        "cloudevents" => execute_cloudevents(case),
        "ingest" => execute_ingest(case),
        "schema" => execute_schema(case),
        "compat" => execute_compat(case),
        other => Err(format!("unknown target `{other}`")),
    }
}

fn find_system(name: &str) -> Result<&'static SystemInfo, String> {
    crates()
        .into_iter()
        .flat_map(|(systems, _)| systems.iter().copied())
        .find(|s| s.name == name)
        .ok_or_else(|| format!("no system `{name}`"))
}

fn execute_decode(case: &Case) -> Result<bool, String> {
    let system = find_system(&case.pick[0])?;
    let bytes = &case.parts[0];
    let result = match case.pick.get(1) {
        Some(event) => (system.reencode_event)(event, bytes),
        None => match system.reencode_message {
            Some(reencode) => reencode(bytes),
            None => return Err(format!("{} has no whole-message decoding", system.name)),
        },
    };
    match result {
        Ok(_) if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err() => Err(
            "accepted a message serde_json refuses as JSON (the reporting path would refuse it)"
                .into(),
        ),
        Ok(out) => {
            // What decodes must encode to JSON that decodes again to the same bytes.
            let again = match case.pick.get(1) {
                Some(event) => (system.reencode_event)(event, &out),
                None => system.reencode_message.unwrap()(&out),
            };
            match again {
                Ok(second) if second == out => Ok(true),
                Ok(second) => Err(format!(
                    "re-encoding is not stable: {} then {}",
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&second)
                )),
                Err(e) => Err(format!(
                    "an accepted message re-encodes to one that is refused: {e}: {}",
                    String::from_utf8_lossy(&out)
                )),
            }
        }
        Err(RoundTripError::Decode(_)) => Ok(false),
        Err(RoundTripError::Encode(e)) => Err(format!("decoded but does not encode: {e}")),
    }
}

fn headers_of(case: &Case) -> Headers {
    case.headers.iter().cloned().collect()
}

fn execute_cloudevents(case: &Case) -> Result<bool, String> {
    let headers = headers_of(case);
    let body = &case.parts[0];
    let _ = cloudevents::detect_mode(&headers);
    for (_, value) in &case.headers {
        let _ = cloudevents::decode_header_value(value);
        let _ = cloudevents::media_type(&String::from_utf8_lossy(value));
    }
    let accepted = match cloudevents::binary_to_structured(&headers, body) {
        Ok(event) => {
            let value: Value = serde_json::from_slice(&event)
                .map_err(|e| format!("binary_to_structured wrote text that is not JSON: {e}"))?;
            if !value.is_object() {
                return Err(format!("binary_to_structured wrote a non-object: {value}"));
            }
            // And back to binary mode: what one side writes, the other reads.
            cloudevents::structured_to_binary(&event)
                .map_err(|e| format!("a rebuilt event does not split into binary mode: {e}"))?;
            true
        }
        Err(_) => false,
    };
    let _ = cloudevents::structured_to_binary(body);
    Ok(accepted)
}

/// Acknowledges every event unread.
#[derive(Clone, Default)]
struct Accept;

impl Handle<event_contracts::orchestrator::System> for Accept {
    async fn handle(
        &self,
        _message: <event_contracts::orchestrator::System as Contract>::Message,
        _context: &Context,
    ) -> HandlerResult {
        Ok(())
    }
}

type FuzzServer = IngestServer<event_contracts::orchestrator::System, Accept, MemoryStore>;

struct Ingest {
    runtime: tokio::runtime::Runtime,
    open: FuzzServer,
    auth: FuzzServer,
}

thread_local! {
    static INGEST: std::cell::RefCell<Option<(Arc<Ingest>, u32)>> = const { std::cell::RefCell::new(None) };
}

/// The two servers of this thread, renewed now and then so the memory store stays small.
fn ingest() -> Arc<Ingest> {
    INGEST.with(|cell| {
        let mut slot = cell.borrow_mut();
        if let Some((servers, uses)) = slot.as_mut() {
            if *uses < 5000 {
                *uses += 1;
                return servers.clone();
            }
        }
        let policy = || Policy::new("fuzz").with_unknown(UnknownPolicy::Skip);
        let open = IngestServer::new(Accept, MemoryStore::default(), policy())
            .with_body_limit(64 * 1024)
            .with_batch_limit(3);
        let auth = IngestServer::new(Accept, MemoryStore::default(), policy()).with_auth(
            IngestAuth::default()
                .with_bearer(FUZZ_TOKEN)
                .unwrap()
                .with_webhook_secret(FUZZ_SECRET)
                .unwrap(),
        );
        let servers = Arc::new(Ingest {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            open,
            auth,
        });
        *slot = Some((servers.clone(), 1));
        servers
    })
}

const INGEST_STATUSES: &[u16] = &[200, 202, 400, 401, 403, 413, 415, 422, 503];

fn execute_ingest(case: &Case) -> Result<bool, String> {
    let servers = ingest();
    let server = if case.pick[0] == "auth" {
        &servers.auth
    } else {
        &servers.open
    };
    let headers: Vec<(String, Vec<u8>)> = case
        .headers
        .iter()
        .filter(|(n, v)| axum_header_ok(n, v))
        .cloned()
        .collect();
    let dead_before = dead_letters(&servers, server);
    let (status, response_headers, body) =
        servers
            .runtime
            .block_on(server.answer("POST", &headers, case.parts[0].clone()))?;
    if !INGEST_STATUSES.contains(&status) {
        return Err(format!(
            "status {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let is_batch_answer = status == 503 && body.starts_with(b"{\"results\"");
    if status >= 400 && !is_batch_answer {
        let content_type = response_headers.get_str("content-type").unwrap_or_default();
        {
            if content_type != "application/problem+json" {
                return Err(format!("{status} answered as `{content_type}`"));
            }
            let problem: Value = serde_json::from_slice(&body)
                .map_err(|e| format!("{status}: the problem is not JSON: {e}"))?;
            if problem["status"] != status {
                return Err(format!("{status}: the problem says {}", problem["status"]));
            }
        }
    }
    let has_token = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("authorization") && v == format!("Bearer {FUZZ_TOKEN}").as_bytes()
    });
    if case.pick[0] == "auth" && !has_token && status != 401 {
        return Err(format!(
            "a request without the token was answered {status}, not 401"
        ));
    }
    if matches!(status, 401 | 403) && dead_letters(&servers, server) != dead_before {
        return Err(format!("a refused ({status}) request was dead-lettered"));
    }
    Ok(status < 300)
}

/// Whether the HTTP types take this header at all (a request with a name or value they
/// refuse never reaches a server).
fn axum_header_ok(name: &str, value: &[u8]) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        && value
            .iter()
            .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

fn dead_letters(servers: &Ingest, server: &FuzzServer) -> usize {
    use event_contracts::runtime::transport::http::DeadLetterStore as _;
    servers
        .runtime
        .block_on(server.store().dead_letters())
        .map(|d| d.len())
        .unwrap_or(0)
}

fn execute_schema(case: &Case) -> Result<bool, String> {
    let inputs: Vec<(String, String)> = case
        .pick
        .iter()
        .zip(&case.parts)
        .map(|(path, text)| (path.clone(), String::from_utf8_lossy(text).into_owned()))
        .collect();
    let catalog = match event_contracts_codegen::catalog::Catalog::from_texts(inputs) {
        Ok(c) => c,
        Err(diags) => return located(&diags).map(|()| false),
    };
    match event_contracts_codegen::check(&catalog) {
        Ok(_) => Ok(true),
        Err(diags) => located(&diags).map(|()| false),
    }
}

/// Every diagnostic names its file (the rule: bad input gets a located error).
fn located(diags: &event_contracts_codegen::diag::Diagnostics) -> Result<(), String> {
    let text = diags.to_string();
    if text.trim().is_empty() {
        return Err("refused with no diagnostic".into());
    }
    Ok(())
}

fn execute_compat(case: &Case) -> Result<bool, String> {
    let name = case.pick[0].as_str();
    let old = String::from_utf8_lossy(&case.parts[0]);
    let new = String::from_utf8_lossy(&case.parts[1]);
    let mode = event_contracts_compat::Mode::Full;
    match event_contracts_compat::check_files(
        (name, &old),
        (name, &new),
        mode,
        &event_contracts_compat::Options::default(),
    ) {
        Ok(_) => Ok(true),
        Err(_) => Ok(false),
    }
}

/// Replays every kept regression input under `tests/fixtures/fuzz/`.
pub fn regressions() -> Vec<(PathBuf, Case)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return out;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let case: Case = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not a fuzz case: {e}", path.display()));
            out.push((path, case));
        }
    }
    out
}
