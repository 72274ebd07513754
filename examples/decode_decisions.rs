//! Prints every decode decision of the generated crates over the catalog, one line each, so
//! two revisions' decoding can be compared byte for byte (`diff` of the two outputs): each
//! event example and each of its mutations (every value replaced by each of a set of JSON
//! values, every property removed, added, every object's properties reversed in order,
//! every array grown by one), and malformed variants of the example's text (cut short, a
//! byte replaced). A line holds the schema id, the case and the outcome: the re-encoded
//! message, or the error as it displays (line and column of a syntax error included).
//! Whole messages of wrapped systems (the envelope examples) get the same treatment.
//!
//! `cargo run --example decode_decisions > decisions.txt`

use std::io::Write;

use event_contracts::runtime::{RoundTripError, SchemaSet, SystemInfo};
use serde_json::Value;

const CRATES: [(&[&SystemInfo], &SchemaSet); 2] = [
    (&event_contracts::SYSTEMS, &event_contracts::SCHEMAS),
    (&telemetry_contracts::SYSTEMS, &telemetry_contracts::SCHEMAS),
];

fn outcome(result: Result<Vec<u8>, RoundTripError>) -> String {
    match result {
        Ok(bytes) => format!("ok {}", String::from_utf8_lossy(&bytes)),
        Err(e) => format!("err {e}"),
    }
}

/// Every variant of `doc` the sweep tries, named by where it changed and how.
fn variants(doc: &Value) -> Vec<(String, Value)> {
    fn walk(root: &Value, pointer: String, node: &Value, out: &mut Vec<(String, Value)>) {
        let replacements = [
            Value::Null,
            Value::Bool(true),
            serde_json::json!(0),
            serde_json::json!(-1),
            serde_json::json!(1.5),
            serde_json::json!(1e300),
            serde_json::json!(2.0),
            serde_json::json!(1e19),
            serde_json::json!(""),
            serde_json::json!("x"),
            serde_json::json!("0x00"),
            serde_json::json!("2024-13-01T00:00:00Z"),
            serde_json::json!([]),
            serde_json::json!({}),
        ];
        let edit = |f: &dyn Fn(&mut Value)| {
            let mut m = root.clone();
            f(m.pointer_mut(&pointer).expect("pointer of a walked node"));
            m
        };
        for r in replacements {
            out.push((format!("{pointer} = {r}"), edit(&|v| *v = r.clone())));
        }
        if let Some(s) = node.as_str() {
            // Near misses of patterns: one character more, one less, one changed.
            let longer = format!("{s}0");
            out.push((
                format!("{pointer} + 0"),
                edit(&|v| *v = longer.clone().into()),
            ));
            let mut chars: Vec<char> = s.chars().collect();
            if chars.pop().is_some() {
                let shorter: String = chars.iter().collect();
                out.push((
                    format!("{pointer} - 1"),
                    edit(&|v| *v = shorter.clone().into()),
                ));
            }
            for (i, swap) in [(0, 'G'), (1, 'z'), (2, '.')] {
                let mut chars: Vec<char> = s.chars().collect();
                if i < chars.len() {
                    chars[i] = swap;
                    let changed: String = chars.into_iter().collect();
                    out.push((
                        format!("{pointer} [{i}]={swap}"),
                        edit(&|v| *v = changed.clone().into()),
                    ));
                }
            }
        }
        match node {
            Value::Object(map) => {
                let reversed: serde_json::Map<String, Value> = map
                    .iter()
                    .rev()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                out.push((
                    format!("{pointer} reversed"),
                    edit(&|v| *v = Value::Object(reversed.clone())),
                ));
                for (k, v) in map {
                    out.push((
                        format!("{pointer} -{k}"),
                        edit(&|v| {
                            v.as_object_mut().unwrap().shift_remove(k);
                        }),
                    ));
                    out.push((
                        format!("{pointer} +{k}_extra"),
                        edit(&|v| {
                            v.as_object_mut()
                                .unwrap()
                                .insert(format!("{k}_extra"), Value::Null);
                        }),
                    ));
                    let key = k.replace('~', "~0").replace('/', "~1");
                    walk(root, format!("{pointer}/{key}"), v, out);
                }
            }
            Value::Array(items) => {
                if let Some(first) = items.first() {
                    out.push((
                        format!("{pointer} push"),
                        edit(&|v| v.as_array_mut().unwrap().push(first.clone())),
                    ));
                }
                for (i, v) in items.iter().enumerate() {
                    walk(root, format!("{pointer}/{i}"), v, out);
                }
            }
            _ => {}
        }
    }
    let mut out = vec![(String::from("as is"), doc.clone())];
    walk(doc, String::new(), doc, &mut out);
    out
}

/// Malformed texts made from `text`: cut short at several places, one byte replaced.
fn malformed(text: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let step = (text.len() / 7).max(1);
    for cut in (1..text.len()).step_by(step) {
        out.push((format!("cut {cut}"), text[..cut].to_vec()));
    }
    for at in (0..text.len()).step_by(step) {
        for byte in [b'}', b'"', b'x', b'\n'] {
            let mut t = text.to_vec();
            t[at] = byte;
            out.push((format!("byte {at}={}", byte as char), t));
        }
    }
    out
}

fn sweep(out: &mut impl Write, id: &str, doc: &Value, decide: &dyn Fn(&[u8]) -> String) {
    for (case, variant) in variants(doc) {
        let bytes = serde_json::to_vec(&variant).expect("writes JSON");
        writeln!(out, "{id} | {case} | {}", decide(&bytes)).unwrap();
    }
    let pretty = serde_json::to_vec_pretty(doc).expect("writes JSON");
    for (case, bytes) in malformed(&pretty) {
        writeln!(out, "{id} | {case} | {}", decide(&bytes)).unwrap();
    }
}

fn main() {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (systems, schemas) in CRATES {
        for system in systems {
            for info in system.events {
                let name = if info.name == "*" {
                    "custom_relayed_event"
                } else {
                    info.name
                };
                let schema = schemas.get(info.schema_id).expect("embedded schema");
                let examples = schema["examples"].as_array().cloned().unwrap_or_default();
                for (i, example) in examples.iter().enumerate() {
                    let id = format!("{} #{i}", info.schema_id);
                    sweep(&mut out, &id, example, &|bytes| {
                        outcome((system.reencode_event)(name, bytes))
                    });
                }
            }
            if let (Some(envelope_id), Some(reencode)) =
                (system.envelope_schema_id, system.reencode_message)
            {
                let envelope = schemas.get(envelope_id).expect("embedded envelope");
                let examples = envelope["examples"].as_array().cloned().unwrap_or_default();
                for (i, example) in examples.iter().enumerate() {
                    let id = format!("{envelope_id} #{i}");
                    sweep(&mut out, &id, example, &|bytes| outcome(reencode(bytes)));
                }
            }
        }
    }
}
