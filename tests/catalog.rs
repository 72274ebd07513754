//! Every example in the catalog, through the generated crate: valid examples decode and
//! re-encode to the same JSON, invalid examples are rejected at the pointer they name, and a
//! mutation sweep shows the fast typed path never accepts what the schema validator rejects.

use event_contracts::runtime::{ReencodeMessage, RoundTripError, SchemaSet, SystemInfo};
use event_contracts::{audio, dam, DecodeError, EventInfo};
use serde_json::Value;

mod mutations;

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

/// Every wrapped system's envelope examples: the envelope schema's id, the system's whole
/// message round trip, the example's index and the example.
fn envelope_examples() -> Vec<(&'static str, ReencodeMessage, usize, &'static Value)> {
    let mut out = Vec::new();
    for (system, schemas) in systems() {
        let (Some(id), Some(reencode)) = (system.envelope_schema_id, system.reencode_message)
        else {
            continue;
        };
        let schema = schemas.get(id).unwrap();
        for (i, example) in examples(schema, "examples").iter().enumerate() {
            out.push((id, reencode, i, example));
        }
    }
    out
}

#[test]
fn envelope_examples_decode_as_whole_messages() {
    let mut count = 0;
    for (id, reencode, i, example) in envelope_examples() {
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
    assert!(count >= 4, "only {count} envelope examples");
}

/// `value` as JSON text with every ASCII letter of every string and key written as a `\u`
/// escape: the same message to a JSON reader, but no string can be borrowed from the input.
fn letters_escaped(value: &Value) -> String {
    fn string(s: &str, out: &mut String) {
        out.push('"');
        for c in s.chars() {
            if c.is_ascii_alphabetic() {
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                let quoted = serde_json::to_string(&c.to_string()).unwrap();
                out.push_str(&quoted[1..quoted.len() - 1]);
            }
        }
        out.push('"');
    }
    let mut out = String::new();
    match value {
        Value::String(s) => string(s, &mut out),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(letters_escaped).collect();
            out = format!("[{}]", items.join(","));
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(k, &mut out);
                out.push(':');
                out.push_str(&letters_escaped(v));
            }
            out.push('}');
        }
        other => out = other.to_string(),
    }
    out
}

/// A whole message decodes to the same typed value whatever order its envelope's properties
/// come in (the event is decoded in the same pass when its name comes first, from its kept
/// text when it comes after) and however its strings are escaped.
#[test]
fn whole_messages_decode_alike_in_any_property_order() {
    let mut compared = 0;
    for (id, reencode, i, example) in envelope_examples() {
        let Ok(expected) = reencode(&serde_json::to_vec(example).unwrap()) else {
            continue;
        };
        let entries: Vec<(String, Value)> = example
            .as_object()
            .expect("an envelope example is an object")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut orders: Vec<Vec<(String, Value)>> = (0..entries.len())
            .map(|r| {
                let mut order = entries.clone();
                order.rotate_left(r);
                order
            })
            .collect();
        orders.push(entries.iter().rev().cloned().collect());
        for order in orders {
            let keys: Vec<&str> = order.iter().map(|(k, _)| k.as_str()).collect();
            let value = Value::Object(order.iter().cloned().collect());
            for text in [
                serde_json::to_string(&value).unwrap(),
                letters_escaped(&value),
            ] {
                match reencode(text.as_bytes()) {
                    Ok(got) => assert_eq!(
                        String::from_utf8_lossy(&got),
                        String::from_utf8_lossy(&expected),
                        "{id}#/examples/{i} with its keys in the order {keys:?}: {text}"
                    ),
                    Err(e) => panic!(
                        "{id}#/examples/{i} with its keys in the order {keys:?}: {e}\n{text}"
                    ),
                }
                compared += 1;
            }
        }
    }
    assert!(compared >= 40, "only {compared} messages compared");
}

#[test]
fn typed_decoding_agrees_with_the_schema_validator() {
    let mut checked = 0;
    let mut unrepresentable = 0;
    for (system, schemas) in systems() {
        for info in system.events {
            let schema = schemas.get(info.schema_id).unwrap();
            let validator =
                event_contracts::runtime::Validator::compile(schemas.documents(), info.schema_id)
                    .unwrap();
            for example in examples(schema, "examples") {
                for mutations::Variant {
                    case,
                    pointer: changed,
                    doc,
                } in mutations::variants(example)
                {
                    let bytes = serde_json::to_vec(&doc).unwrap();
                    let schema_says = validator.is_valid(&doc);
                    match decode(system, wire_name(info), &bytes) {
                        Ok(_) => assert!(
                            schema_says,
                            "{} ({case}): decoded a document the schema rejects:\n{doc}",
                            info.schema_id
                        ),
                        Err(DecodeError::Invalid(v)) => {
                            assert!(!schema_says, "{} ({case}): {v}", info.schema_id)
                        }
                        Err(DecodeError::Unrepresentable { pointer, message }) => {
                            assert!(schema_says, "{} ({case}): {message}", info.schema_id);
                            // Only a value beyond 64 bits, and it is named where it is.
                            assert_eq!(pointer, changed, "{}: {message}\n{doc}", info.schema_id);
                            unrepresentable += 1;
                        }
                        Err(e) => panic!("{} ({case}): unexpected {e}", info.schema_id),
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} mutations");
    assert!(
        unrepresentable > 10,
        "only {unrepresentable} unrepresentable"
    );
}

/// Every number that is an integer written as a float (`16000` as `16000.0`).
fn integers_as_floats(value: &Value) -> Value {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            serde_json::json!(n.as_f64().expect("a number"))
        }
        Value::Array(items) => Value::Array(items.iter().map(integers_as_floats).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), integers_as_floats(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn count_integers(value: &Value) -> usize {
    match value {
        Value::Number(n) => usize::from(n.is_i64() || n.is_u64()),
        Value::Array(items) => items.iter().map(count_integers).sum(),
        Value::Object(map) => map.values().map(count_integers).sum(),
        _ => 0,
    }
}

/// A producer whose numbers went through float arithmetic (Python writes `16000.0`) sends
/// schema-valid messages: every system decodes every example with each integer written as a
/// float, events and whole messages (`seq: 3.0`), and re-encodes the same numbers.
#[test]
fn every_integer_written_as_a_float_decodes_to_the_same_value() {
    let mut integers = 0;
    for (system, schemas) in systems() {
        let mut in_system = 0;
        for info in system.events {
            let schema = schemas.get(info.schema_id).unwrap();
            for (i, example) in examples(schema, "examples").iter().enumerate() {
                let floats = integers_as_floats(example);
                let bytes = serde_json::to_vec(&floats).unwrap();
                let back = decode(system, wire_name(info), &bytes).unwrap_or_else(|e| {
                    panic!(
                        "{}#/examples/{i} with floats: {e}\n{floats}",
                        info.schema_id
                    )
                });
                assert!(
                    json_eq(example, &back),
                    "{}#/examples/{i}: {back}",
                    info.schema_id
                );
                in_system += count_integers(example);
            }
        }
        if let (Some(id), Some(reencode)) = (system.envelope_schema_id, system.reencode_message) {
            for (i, example) in examples(schemas.get(id).unwrap(), "examples")
                .iter()
                .enumerate()
            {
                let floats = integers_as_floats(example);
                let as_sent = reencode(&serde_json::to_vec(example).unwrap());
                let as_floats = reencode(&serde_json::to_vec(&floats).unwrap());
                match (as_sent, as_floats) {
                    (Ok(a), Ok(b)) => assert!(
                        json_eq(
                            &serde_json::from_slice(&a).unwrap(),
                            &serde_json::from_slice(&b).unwrap()
                        ),
                        "{id}#/examples/{i}"
                    ),
                    // An illustrative payload fails the same way either way.
                    (Err(a), Err(b)) => {
                        assert_eq!(a.to_string(), b.to_string(), "{id}#/examples/{i}")
                    }
                    (a, b) => panic!("{id}#/examples/{i}: as sent {a:?}, with floats {b:?}"),
                }
                in_system += count_integers(example);
            }
        }
        assert!(in_system > 0, "{}: no integer in any example", system.name);
        integers += in_system;
    }
    assert!(integers > 100, "only {integers} integers");
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

/// The first envelope example of `system` whose payload event is `event`, with `edit` applied.
fn message(system: &str, event: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let (system, schemas) = systems().find(|(s, _)| s.name == system).expect("system");
    let envelope = schemas.get(system.envelope_schema_id.unwrap()).unwrap();
    let mut example = examples(envelope, "examples")
        .iter()
        .find(|e| e.as_object().unwrap().values().any(|v| v == event))
        .expect("an envelope example of the event")
        .clone();
    edit(&mut example);
    serde_json::to_vec(&example).unwrap()
}

#[test]
fn an_integer_beyond_64_bits_is_unrepresentable_at_its_pointer() {
    use event_contracts::{livepeer, orchestrator};
    let set = |pointer: &'static str, value: Value| {
        move |m: &mut Value| match m.pointer_mut(pointer) {
            Some(slot) => *slot = value,
            None => {
                let (parent, key) = pointer.rsplit_once('/').unwrap();
                m.pointer_mut(parent).unwrap()[key] = value;
            }
        }
    };
    let cases: [(&str, Result<_, DecodeError>); 5] = [
        (
            "/payload/audio_config/sample_rate",
            audio::decode_message(&message(
                "audio",
                "AudioChunkReceived",
                set(
                    "/payload/audio_config/sample_rate",
                    serde_json::json!(1e300),
                ),
            ))
            .map(drop),
        ),
        (
            "/seq",
            orchestrator::decode_message(&message(
                "orchestrator",
                "ai.run.stage_progress",
                set("/seq", serde_json::json!(1e300)),
            ))
            .map(drop),
        ),
        (
            "/extensions/seq",
            orchestrator::decode_message(&message(
                "orchestrator",
                "ai.paper.generated",
                set("/extensions/seq", serde_json::json!(1e19 * 2.0)),
            ))
            .map(drop),
        ),
        (
            "/data/timestamp",
            livepeer::decode_message(&message(
                "livepeer",
                "stream_trace",
                set("/data/timestamp", serde_json::json!(1e300)),
            ))
            .map(drop),
        ),
        (
            "/data/timestamp",
            livepeer::decode_message(&message(
                "livepeer",
                "stream_trace",
                set("/data/timestamp", serde_json::json!(9.3e18)),
            ))
            .map(drop),
        ),
    ];
    for (want, got) in cases {
        match got {
            Err(DecodeError::Unrepresentable { pointer, message }) => {
                assert_eq!(pointer, want, "{message}");
                assert!(message.contains("64-bit"), "{message}");
            }
            other => panic!("{want}: {other:?}"),
        }
    }
}

#[test]
fn integers_written_as_floats_re_encode_as_integers() {
    use event_contracts::orchestrator;
    let bytes = message("audio", "AudioChunkReceived", |m| {
        m["payload"]["audio_config"]["sample_rate"] = serde_json::json!(16000.0);
    });
    assert!(String::from_utf8_lossy(&bytes).contains("\"sample_rate\":16000.0"));
    let decoded = audio::decode_message(&bytes).unwrap();
    let audio::AudioEvent::AudioChunkReceived(chunk) = &decoded.payload else {
        panic!("{decoded:?}")
    };
    assert_eq!(chunk.audio_config.sample_rate, 16000);
    let out = String::from_utf8(audio::encode_message(&decoded).unwrap()).unwrap();
    assert!(out.contains("\"sample_rate\":16000,"), "{out}");

    let bytes = message("orchestrator", "ai.run.stage_progress", |m| {
        m["seq"] = serde_json::json!(3e0);
    });
    assert!(String::from_utf8_lossy(&bytes).contains("\"seq\":3.0"));
    let decoded = orchestrator::decode_message(&bytes).unwrap();
    assert_eq!(decoded.seq, Some(3));
    let out = String::from_utf8(orchestrator::encode_message(&decoded).unwrap()).unwrap();
    assert!(out.contains("\"seq\":3,"), "{out}");
}
