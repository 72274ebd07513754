//! Generation time on large catalogs, against parsing the same text in the same process.
//!
//! ```sh
//! cargo bench -p event-contracts-codegen --bench generate
//! GENERATE_BENCH_ROUNDS=9 cargo bench -p event-contracts-codegen --bench generate
//! GENERATE_BENCH_ONLY=synthetic cargo bench -p event-contracts-codegen --bench generate
//! ```
//!
//! Catalogs: the repository's own `schemas/`; a synthetic system of 1,000 events (about
//! 10 MB: every supported keyword, shared definitions, a 120-value enum, nested objects and
//! arrays per event); one 5 MB schema holding a 220,000-value enum; one object of 50,000
//! required properties; and 1,000 events referring to one 2.6 MB definition. Each is timed as
//! parse (`Catalog::from_texts`: JSON plus the line:column map), check (types and
//! diagnostics, every schema compiled by the validator) and generate (check, emit, format).
//! Prints the median with the fastest and slowest round, and generate's ratio to parse.

use std::hint::black_box;
use std::time::{Duration, Instant};

use event_contracts_codegen::catalog::Catalog;
use event_contracts_codegen::{check, generate_catalog};
use serde_json::{json, Map, Value};

const BASE: &str = "https://event-contracts.local/schemas/";

/// `(path under schemas/, text)` of every file of a catalog.
type Files = Vec<(String, String)>;

/// One catalog to time: the key `GENERATE_BENCH_ONLY` selects it by, its label, its files.
struct Bench {
    key: &'static str,
    label: &'static str,
    files: fn() -> Files,
}

/// Median, fastest and slowest of `rounds` runs after one warm-up run.
fn time<T>(rounds: usize, mut f: impl FnMut() -> T) -> (Duration, Duration, Duration) {
    black_box(f());
    let mut runs: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed()
        })
        .collect();
    runs.sort();
    (runs[runs.len() / 2], runs[0], runs[runs.len() - 1])
}

fn schema(path: &str, body: Value) -> (String, String) {
    let mut m = Map::new();
    m.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    m.insert("$id".into(), json!(format!("{BASE}{path}")));
    if let Value::Object(b) = body {
        m.extend(b);
    }
    let text = serde_json::to_string_pretty(&Value::Object(m)).expect("serializes");
    (path.to_owned(), text)
}

fn manifest(system: &str, events: impl Iterator<Item = (String, String)>) -> (String, String) {
    let events: Vec<Value> = events
        .map(|(name, file)| {
            json!({
                "name": name, "schema": file,
                "channel": {"transport": "nats", "stream": "S", "subject": name},
                "version": 1, "producers": ["p"], "consumers": ["c"]
            })
        })
        .collect();
    let m = json!({
        "system": system, "title": "Bench", "description": "A synthetic catalog.",
        "source_document": "none", "transport": "nats", "envelope": {"kind": "flat"},
        "events": events
    });
    (
        format!("{system}/manifest.json"),
        serde_json::to_string_pretty(&m).expect("serializes"),
    )
}

/// `events` event schemas of about 10 KB each, sharing ten definitions.
fn synthetic(events: usize) -> Vec<(String, String)> {
    let mut files = vec![manifest(
        "bench",
        (0..events).map(|i| (format!("bench.event_{i}"), format!("events/e{i}.json"))),
    )];
    for k in 0..10 {
        files.push(schema(
            &format!("bench/defs/tenant{k}.json"),
            json!({"title": format!("Tenant{k}"), "type": "object", "properties": {
                "id": {"type": "string", "format": "uuid"},
                "name": {"type": "string", "minLength": 1},
                "plan": {"enum": ["free", "pro", "enterprise"]}
            }, "required": ["id"]}),
        ));
    }
    let prose = "Quoted from the source document, as every description is: what the field means, who writes it, and what a consumer may rely on.";
    for i in 0..events {
        let mut props = Map::new();
        props.insert(
            "id".into(),
            json!({"type": "string", "format": "uuid", "description": prose}),
        );
        props.insert(
            "at".into(),
            json!({"type": "string", "format": "date-time"}),
        );
        props.insert(
            "tenant".into(),
            json!({"$ref": format!("../defs/tenant{}.json", i % 10)}),
        );
        props.insert(
            "kind".into(),
            json!({"enum": (0..120).map(|j| format!("kind-{i}-{j}")).collect::<Vec<_>>()}),
        );
        props.insert(
            "count".into(),
            json!({"type": "integer", "minimum": 0, "maximum": 1000}),
        );
        props.insert(
            "ratio".into(),
            json!({"type": "number", "minimum": 0, "maximum": 1}),
        );
        props.insert(
            "name".into(),
            json!({"type": ["string", "null"], "minLength": 1, "maxLength": 64, "pattern": "^[a-z][a-z0-9_]*$"}),
        );
        props.insert(
            "tags".into(),
            json!({"type": "array", "items": {"type": "string"}, "maxItems": 16, "uniqueItems": true}),
        );
        let detail: Map<String, Value> = (0..10)
            .map(|f| {
                (
                    format!("f{f}"),
                    json!({"type": "string", "maxLength": 32, "description": prose}),
                )
            })
            .collect();
        props.insert(
            "detail".into(),
            json!({"type": "object", "properties": detail, "required": ["f0", "f1"]}),
        );
        props.insert(
            "lines".into(),
            json!({"type": "array", "items": {"type": "object", "properties": {
                "sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1},
                "price": {"type": "number", "exclusiveMinimum": 0}
            }, "required": ["sku", "qty"]}}),
        );
        props.insert(
            "labels".into(),
            json!({"type": "object", "additionalProperties": {"type": "string"}}),
        );
        for p in 0..15 {
            props.insert(
                format!("p{p}"),
                json!({"type": "string", "description": prose}),
            );
        }
        files.push(schema(
            &format!("bench/events/e{i}.json"),
            json!({
                "title": format!("Event{i}"), "description": prose, "type": "object",
                "properties": props, "required": ["id", "at", "kind"],
                "examples": [{"id": "6f1c4a4e-8f8e-4a71-9a0b-2f1d3c4b5a69", "at": "2024-01-02T03:04:05Z", "kind": format!("kind-{i}-0")}]
            }),
        ));
    }
    files
}

/// One event whose schema holds a 220,000-value enum (about 5 MB).
fn huge_enum() -> Vec<(String, String)> {
    let values: Vec<String> = (0..220_000).map(|i| format!("value-{i:06}")).collect();
    vec![
        manifest(
            "big",
            std::iter::once(("big.event".into(), "events/e.json".into())),
        ),
        schema(
            "big/events/e.json",
            json!({"title": "Big", "type": "object", "properties": {"v": {"enum": values}}, "required": ["v"],
                   "examples": [{"v": "value-000000"}]}),
        ),
    ]
}

/// One event whose object declares 50,000 properties, every one required.
fn wide_object() -> Files {
    let props: Map<String, Value> = (0..50_000)
        .map(|i| (format!("field_{i}"), json!({"type": "integer"})))
        .collect();
    let required: Vec<String> = props.keys().cloned().collect();
    vec![
        manifest(
            "wide",
            std::iter::once(("wide.event".into(), "events/e.json".into())),
        ),
        schema(
            "wide/events/e.json",
            json!({"title": "Wide", "type": "object", "properties": props, "required": required}),
        ),
    ]
}

/// 1,000 small events that all refer to one 2.6 MB definition (a 100,000-value enum).
fn shared_large_definition() -> Files {
    let mut files = vec![manifest(
        "shared",
        (0..1000).map(|i| (format!("shared.event_{i}"), format!("events/e{i}.json"))),
    )];
    let values: Vec<String> = (0..100_000).map(|i| format!("code-{i:06}")).collect();
    files.push(schema(
        "shared/defs/code.json",
        json!({"title": "Code", "enum": values}),
    ));
    for i in 0..1000 {
        files.push(schema(
            &format!("shared/events/e{i}.json"),
            json!({"title": format!("Event{i}"), "type": "object",
                   "properties": {"code": {"$ref": "../defs/code.json"}, "n": {"type": "integer"}},
                   "required": ["code"]}),
        ));
    }
    files
}

fn repository() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("reads schemas/").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let rel = path.strip_prefix(&root).expect("under schemas/");
                let rel = rel.to_string_lossy().replace('\\', "/");
                out.push((rel, std::fs::read_to_string(&path).expect("reads a schema")));
            }
        }
    }
    out
}

fn ms(d: Duration) -> String {
    format!("{:9.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let rounds: usize = std::env::var("GENERATE_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    // `repository`, `synthetic` or `enum`: one catalog only (to profile it).
    let only = std::env::var("GENERATE_BENCH_ONLY").ok();
    println!("median of {rounds} rounds [fastest, slowest]");
    let catalogs = [
        Bench {
            key: "repository",
            label: "repository schemas/",
            files: repository,
        },
        Bench {
            key: "synthetic",
            label: "1,000 synthetic events",
            files: || synthetic(1000),
        },
        Bench {
            key: "enum",
            label: "one 220,000-value enum",
            files: huge_enum,
        },
        Bench {
            key: "wide",
            label: "one 50,000-property object",
            files: wide_object,
        },
        Bench {
            key: "shared",
            label: "1,000 events sharing a 2.6 MB definition",
            files: shared_large_definition,
        },
    ];
    for Bench { key, label, files } in catalogs {
        if only.as_deref().is_some_and(|o| o != key) {
            continue;
        }
        let files = files();
        let bytes: usize = files.iter().map(|(_, t)| t.len()).sum();
        let catalog = Catalog::from_texts(files.clone()).expect("the catalog parses");
        let types: usize = check(&catalog)
            .unwrap_or_else(|d| panic!("{label}: {d}"))
            .iter()
            .map(|s| s.graph.types.len())
            .sum();
        let out: usize = generate_catalog(&catalog, "bench")
            .expect("generates")
            .iter()
            .map(|f| f.contents.len())
            .sum();
        println!(
            "{label}: {} files, {:.1} MB in, {types} types, {:.1} MB out",
            files.len(),
            bytes as f64 / 1e6,
            out as f64 / 1e6
        );
        let parse = time(rounds, || {
            Catalog::from_texts(files.clone()).expect("parses")
        });
        let checked = time(rounds, || check(&catalog).map(|s| s.len()).expect("checks"));
        let generate = time(rounds, || {
            generate_catalog(&catalog, "bench").expect("generates")
        });
        for (step, (median, fastest, slowest)) in
            [("parse", parse), ("check", checked), ("generate", generate)]
        {
            println!(
                "  {step:<9}{} [{}, {}]",
                ms(median),
                ms(fastest).trim_start(),
                ms(slowest).trim_start()
            );
        }
        println!(
            "  generate / parse: {:.1}x",
            generate.0.as_secs_f64() / parse.0.as_secs_f64()
        );
    }
}
