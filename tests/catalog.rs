//! Every example in the catalog, through the generated crate: valid examples decode and
//! re-encode to the same JSON, invalid examples are rejected at the pointer they name, and a
//! mutation sweep shows the fast typed path never accepts what the schema validator rejects.

use event_contracts::runtime::{RoundTripError, SchemaSet, SystemInfo};
use event_contracts::{audio, dam, DecodeError, EventInfo};
use serde_json::Value;

/// Every generated crate of the workspace: the product catalog and the example of a team's
/// own catalog, with the catalog folder each is generated from.
const CRATES: [(&str, &[&SystemInfo], &SchemaSet); 2] = [
    (
        "schemas",
        &event_contracts::SYSTEMS,
        &event_contracts::SCHEMAS,
    ),
    (
        "examples/telemetry/schemas",
        &telemetry_contracts::SYSTEMS,
        &telemetry_contracts::SCHEMAS,
    ),
];

/// Each system's events with a decoder that re-encodes to JSON through the typed value.
fn systems() -> impl Iterator<Item = (&'static SystemInfo, &'static SchemaSet)> {
    CRATES
        .into_iter()
        .flat_map(|(_, systems, schemas)| systems.iter().map(move |s| (*s, schemas)))
}

fn decode(system: &SystemInfo, name: &str, bytes: &[u8]) -> Result<Value, DecodeError> {
    match (system.reencode_event)(name, bytes) {
        Ok(out) => Ok(serde_json::from_slice(&out).expect("encode writes JSON")),
        Err(RoundTripError::Decode(e)) => Err(e),
        Err(RoundTripError::Encode(e)) => panic!("a decoded event does not re-encode: {e}"),
    }
}

/// No catalog folder is left out: a system under a catalog that no generated crate lists would
/// get no round trip and no mutation sweep while the suite reported `ok`.
#[test]
fn every_system_of_every_catalog_is_covered() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (dir, systems, _) in CRATES {
        let mut on_disk: Vec<String> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("manifest.json").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = systems.iter().map(|s| s.name.to_owned()).collect();
        listed.sort();
        assert_eq!(
            on_disk, listed,
            "{dir}: systems on disk vs systems the crate lists"
        );
        for system in systems {
            assert!(!system.events.is_empty(), "{}: no events", system.name);
        }
    }
}

/// The name to decode an event under (the fallback takes any unlisted name).
fn wire_name(info: &EventInfo) -> &'static str {
    if info.name == "*" {
        "custom_relayed_event"
    } else {
        info.name
    }
}

/// JSON equality as JSON Schema defines it: `1` and `1.0` are the same number.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn examples<'a>(schema: &'a Value, key: &str) -> &'a [Value] {
    schema
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

#[test]
fn every_valid_example_round_trips() {
    let mut count = 0;
    for (system, schemas) in systems() {
        for info in system.events {
            let schema = schemas.get(info.schema_id).expect("embedded schema");
            let valid = examples(schema, "examples");
            assert!(!valid.is_empty(), "{} has no examples", info.schema_id);
            for (i, example) in valid.iter().enumerate() {
                let bytes = serde_json::to_vec(example).unwrap();
                let back = decode(system, wire_name(info), &bytes).unwrap_or_else(|e| {
                    panic!("{}#/examples/{i} does not decode: {e}", info.schema_id)
                });
                assert!(
                    json_eq(example, &back),
                    "{}#/examples/{i} changed on round trip:\n{example}\n{back}",
                    info.schema_id
                );
                count += 1;
            }
        }
    }
    assert!(count >= 60, "only {count} examples");
}

#[test]
fn every_invalid_example_is_rejected_at_its_pointer() {
    let mut count = 0;
    for (system, schemas) in systems() {
        for info in system.events {
            let schema = schemas.get(info.schema_id).unwrap();
            let invalid = examples(schema, "x-invalid-examples");
            assert!(
                !invalid.is_empty(),
                "{} has no invalid examples",
                info.schema_id
            );
            for (i, case) in invalid.iter().enumerate() {
                let bytes = serde_json::to_vec(&case["instance"]).unwrap();
                let want = case["pointer"].as_str().unwrap();
                match decode(system, wire_name(info), &bytes) {
                    Err(DecodeError::Invalid(v)) => assert!(
                        v.0.iter().any(|v| v.pointer == want),
                        "{}#/x-invalid-examples/{i}: expected an error at `{want}`, got {v}",
                        info.schema_id
                    ),
                    other => panic!(
                        "{}#/x-invalid-examples/{i} ({}) was not rejected: {other:?}",
                        info.schema_id, case["description"]
                    ),
                }
                count += 1;
            }
        }
    }
    assert!(count >= 60, "only {count} invalid examples");
}

#[test]
fn envelope_examples_decode_as_whole_messages() {
    let mut count = 0;
    for (system, schemas) in systems() {
        let (Some(id), Some(reencode)) = (system.envelope_schema_id, system.reencode_message)
        else {
            continue;
        };
        let schema = schemas.get(id).unwrap();
        for (i, example) in examples(schema, "examples").iter().enumerate() {
            match reencode(&serde_json::to_vec(example).unwrap()) {
                Ok(_) => {}
                // An envelope example may carry a payload that is only illustrative.
                Err(RoundTripError::Decode(DecodeError::Invalid(v)))
                    if v.0.iter().all(|v| {
                        v.pointer.starts_with("/data")
                            || v.pointer.starts_with("/payload")
                            || v.pointer.starts_with("/body")
                    }) => {}
                Err(e) => panic!("{id}#/examples/{i}: {e}"),
            }
            count += 1;
        }
    }
    assert!(count >= 4, "only {count} envelope examples");
}

/// Variants of a valid document: each property dropped, each value replaced by values of
/// other JSON types and by boundary strings and numbers.
fn mutations(doc: &Value) -> Vec<Value> {
    fn walk(root: &Value, at: &mut Vec<String>, node: &Value, out: &mut Vec<Value>) {
        let replacements = [
            Value::Null,
            Value::Bool(true),
            serde_json::json!(0),
            serde_json::json!(-1),
            serde_json::json!(1.5),
            serde_json::json!(1e300),
            serde_json::json!(""),
            serde_json::json!("x"),
            serde_json::json!("2024-13-01T00:00:00Z"),
            serde_json::json!([]),
            serde_json::json!({}),
        ];
        let pointer = at
            .iter()
            .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
            .collect::<String>();
        for r in &replacements {
            let mut m = root.clone();
            *m.pointer_mut(&pointer).unwrap() = r.clone();
            out.push(m);
        }
        match node {
            Value::Object(map) => {
                for (k, v) in map {
                    let mut m = root.clone();
                    m.pointer_mut(&pointer)
                        .unwrap()
                        .as_object_mut()
                        .unwrap()
                        .remove(k);
                    out.push(m);
                    let mut m = root.clone();
                    m.pointer_mut(&pointer)
                        .unwrap()
                        .as_object_mut()
                        .unwrap()
                        .insert(format!("{k}_extra"), Value::Null);
                    out.push(m);
                    at.push(k.clone());
                    walk(root, at, v, out);
                    at.pop();
                }
            }
            Value::Array(items) => {
                if let Some(first) = items.first() {
                    let mut m = root.clone();
                    m.pointer_mut(&pointer)
                        .unwrap()
                        .as_array_mut()
                        .unwrap()
                        .push(first.clone());
                    out.push(m);
                }
                for (i, v) in items.iter().enumerate() {
                    at.push(i.to_string());
                    walk(root, at, v, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, &mut Vec::new(), doc, &mut out);
    out
}

#[test]
fn typed_decoding_agrees_with_the_schema_validator() {
    let mut checked = 0;
    for (system, schemas) in systems() {
        for info in system.events {
            let schema = schemas.get(info.schema_id).unwrap();
            let validator =
                event_contracts::runtime::Validator::compile(schemas.documents(), info.schema_id)
                    .unwrap();
            for example in examples(schema, "examples") {
                for doc in mutations(example) {
                    let bytes = serde_json::to_vec(&doc).unwrap();
                    let schema_says = validator.is_valid(&doc);
                    match decode(system, wire_name(info), &bytes) {
                        Ok(_) => assert!(
                            schema_says,
                            "{}: decoded a document the schema rejects:\n{doc}",
                            info.schema_id
                        ),
                        Err(DecodeError::Invalid(v)) => {
                            assert!(!schema_says, "{}: {v}", info.schema_id)
                        }
                        Err(DecodeError::Unrepresentable { .. }) => assert!(schema_says),
                        Err(e) => panic!("{}: unexpected {e}", info.schema_id),
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} mutations");
}

#[test]
fn unknown_names_and_bad_json_are_clear_errors() {
    let err = dam::DamEvent::decode("capture.teleported", b"{}").unwrap_err();
    assert!(matches!(err, DecodeError::UnknownEvent { .. }), "{err}");
    let err = dam::DamEvent::decode("capture.alive", b"{\n  \"service\": ,\n}").unwrap_err();
    assert!(matches!(err, DecodeError::Syntax { line: 2, .. }), "{err}");
    let err = audio::decode_message(br#"{"schema_version":"v2"}"#).unwrap_err();
    let v = err.violations().expect("schema violations");
    assert!(v.0.iter().any(|v| v.pointer == "/schema_version"), "{v}");
}
