//! Prints every decode decision of the generated crates over the catalog, one line each, so
//! two revisions' decoding can be compared byte for byte (`diff` of the two outputs): each
//! event example and each variant of the mutation sweep (`tests/mutations/`, the one
//! `tests/catalog.rs` checks against the schema validator), and malformed variants of the
//! example's text (cut short, a byte replaced). A line holds the schema id, the case and the outcome: the re-encoded
//! message, or the error as it displays (line and column of a syntax error included).
//! Whole messages of wrapped systems (the envelope examples) get the same treatment.
//!
//! `cargo run --example decode_decisions > decisions.txt`

use std::io::Write;

use event_contracts::runtime::{RoundTripError, SchemaSet, SystemInfo};
use serde_json::Value;

// The pointer of each variant serves the test's assertion; the case name here says it too.
#[allow(dead_code)]
#[path = "../tests/mutations/mod.rs"]
mod mutations;

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
    let as_is = std::iter::once((String::from("as is"), doc.clone()));
    let variants = mutations::variants(doc)
        .into_iter()
        .map(|v| (v.case, v.doc));
    for (case, variant) in as_is.chain(variants) {
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
