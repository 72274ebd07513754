//! Every JSON example the source documents show, and messages written from their words, through
//! the generated crate (issue 10, traps 8 and 5).
//!
//! `tests/fixtures/document_examples/<system>.json` holds, per system, the examples extracted by
//! hand from `shared/docs/<document>` (`shown`, with their line ranges, verbatim where they are
//! not JSON) and messages a producer following the document's words would send
//! (`written_from_the_text`). Each says what must happen to it: `accepted`, or `refused: <why>`
//! with where it is refused. A document example is refused only where the document contradicts
//! itself or it is not a message; a written one only where the system's `NOTES.md` records why
//! the schema stays stricter than the document. Each time a case quotes must have the shape the
//! system's generated `now()` writes (its manifest's `time_format`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use event_contracts::runtime::transport::kafka::forward::{ForwardError, Forwarder, StreamInfo};
use event_contracts::runtime::{RoundTripError, SystemInfo, Validator};
use event_contracts::{agents, audio, dam, livepeer, orchestrator, DecodeError};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    /// The document in `shared/docs/` the examples are taken from: the manifest's
    /// `source_document`.
    document: String,
    #[allow(dead_code)]
    about: String,
    shown: Vec<Case>,
    written_from_the_text: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// Line range(s) of the document the case comes from.
    lines: String,
    /// Where in the document, and what was done to it.
    #[serde(rename = "where")]
    place: String,
    decode: Decode,
    /// The event name (`event`) or the definition's path under `schemas/` (`def`).
    #[serde(default)]
    name: Option<String>,
    /// The message, when it is JSON.
    #[serde(default)]
    json: Option<Value>,
    /// The document's text line by line, when it is not JSON.
    #[serde(default)]
    text: Option<Vec<String>>,
    /// `accepted`, or `refused: <why>`.
    expected: String,
    /// Where a refused case is refused: `"not JSON"` or the violations (pointer, keyword).
    #[serde(default)]
    refused_at: Option<RefusedAt>,
    /// Pointer of a time the case quotes from the document.
    #[serde(default)]
    time: Option<String>,
    /// For `forward`: the Kafka type the gateway gives the event.
    #[serde(default)]
    becomes: Option<String>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Decode {
    /// The whole message of a wrapped system, envelope included.
    Message,
    /// One event named by `name`: a flat system's whole message, or a wrapped system's payload.
    Event,
    /// A shape the document shows on its own, checked against the definition `name`.
    Def,
    /// A body relayed to the livepeer gateway, through its forwarding rules.
    Forward,
}

/// Where a refused case is refused: `"not JSON at <line>:<column>"` (where the JSON parser
/// stops) or the violations.
#[derive(Deserialize)]
#[serde(untagged)]
enum RefusedAt {
    NotJson(String),
    Violations(BTreeSet<At>),
}

/// One violation: the JSON pointer of the refused value and the schema keyword that failed.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
struct At {
    pointer: String,
    keyword: String,
}

/// What decoding a case did.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Accepted {
        becomes: Option<String>,
    },
    NotJson {
        line: usize,
        column: usize,
    },
    Refused(BTreeSet<At>),
    /// Refused in a way no fixture expects (an unknown event, an unrepresentable value).
    Other(String),
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(system: &str) -> Fixture {
    let path = root().join(format!("tests/fixtures/document_examples/{system}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn violations(e: &DecodeError) -> Outcome {
    match e {
        DecodeError::Syntax { line, column, .. } => Outcome::NotJson {
            line: *line,
            column: *column,
        },
        DecodeError::Invalid(v) => Outcome::Refused(
            v.0.iter()
                .map(|v| At {
                    pointer: v.pointer.clone(),
                    keyword: v.keyword.clone(),
                })
                .collect(),
        ),
        other => Outcome::Other(other.to_string()),
    }
}

fn not_json(e: &serde_json::Error) -> Outcome {
    Outcome::NotJson {
        line: e.line(),
        column: e.column(),
    }
}

fn round_trip(result: Result<Vec<u8>, RoundTripError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Accepted { becomes: None },
        Err(RoundTripError::Decode(e)) => violations(&e),
        Err(RoundTripError::Encode(e)) => panic!("a decoded message does not encode again: {e}"),
    }
}

fn decode(system: &SystemInfo, case: &Case, bytes: &[u8]) -> Outcome {
    let name = || {
        case.name
            .as_deref()
            .expect("the case names its event or definition")
    };
    match case.decode {
        Decode::Message => {
            let reencode = system
                .reencode_message
                .unwrap_or_else(|| panic!("{} has no envelope", system.name));
            round_trip(reencode(bytes))
        }
        Decode::Event => round_trip((system.reencode_event)(name(), bytes)),
        Decode::Def => {
            let value = match serde_json::from_slice::<Value>(bytes) {
                Ok(value) => value,
                Err(e) => return not_json(&e),
            };
            let id = format!("https://event-contracts.local/schemas/{}", name());
            let validator = Validator::compile(event_contracts::SCHEMAS.documents(), &id)
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            match validator.check(&value) {
                Ok(()) => Outcome::Accepted { becomes: None },
                Err(v) => violations(&DecodeError::Invalid(v)),
            }
        }
        Decode::Forward => {
            let stream = StreamInfo {
                stream_id: "stream-doc".into(),
                request_id: "req-doc".into(),
                pipeline_id: "pip-doc".into(),
                orchestrator: Some((
                    "0x3b28a7d785356dc67c7970666747e042305bfb79".into(),
                    "https://orch.example:8935".into(),
                )),
            };
            match Forwarder::new("gateway-doc:8935").forward::<livepeer::System>(&stream, bytes) {
                Ok(message) => Outcome::Accepted {
                    becomes: Some(message.r#type.clone()),
                },
                // The gateway's own parse failed: where, as the same parser reports it.
                Err(ForwardError::Body(why)) if why.starts_with("not JSON") => {
                    match serde_json::from_slice::<Value>(bytes) {
                        Err(e) => not_json(&e),
                        Ok(_) => Outcome::Other(why),
                    }
                }
                Err(ForwardError::Body(why)) => Outcome::Other(why),
                Err(ForwardError::Decode(e)) => violations(&e),
            }
        }
    }
}

fn expected(case: &Case) -> Result<Outcome, String> {
    let refused = case
        .expected
        .strip_prefix("refused: ")
        .is_some_and(|why| !why.trim().is_empty());
    match (case.expected.as_str(), &case.refused_at) {
        ("accepted", None) => Ok(Outcome::Accepted {
            becomes: case.becomes.clone(),
        }),
        (_, Some(RefusedAt::NotJson(at))) if refused => not_json_at(at)
            .ok_or_else(|| format!("`refused_at` `{at}` is not `not JSON at <line>:<column>`")),
        (_, Some(RefusedAt::Violations(v))) if refused => Ok(Outcome::Refused(v.clone())),
        _ => Err(
            "`expected` must be `accepted` (without `refused_at`) or `refused: <why>` with `refused_at`"
                .into(),
        ),
    }
}

/// `not JSON at 8:49` as an outcome.
fn not_json_at(at: &str) -> Option<Outcome> {
    let (line, column) = at.strip_prefix("not JSON at ")?.split_once(':')?;
    Some(Outcome::NotJson {
        line: line.parse().ok()?,
        column: column.parse().ok()?,
    })
}

fn bytes(case: &Case) -> Vec<u8> {
    match (&case.json, &case.text) {
        (Some(json), None) => serde_json::to_vec(json).expect("a JSON value encodes"),
        (None, Some(lines)) => lines.join("\n").into_bytes(),
        _ => panic!("{}: give exactly one of `json` and `text`", case.lines),
    }
}

/// The current time as `system` writes the times inside its events, as text.
fn now(system: &str) -> String {
    match system {
        "livepeer" => livepeer::now().to_string(),
        "audio" => audio::now().to_string(),
        "dam" => dam::now().to_string(),
        "agents" => agents::now().to_string(),
        "orchestrator" => orchestrator::now().to_string(),
        other => panic!("no `now()` known for system `{other}`: add it here"),
    }
}

/// Digits as `0`, everything else as written: `2025-08-04T14:33:09Z` → `0000-00-00T00:00:00Z`.
fn shape(time: &str) -> String {
    time.chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { c })
        .collect()
}

fn manifest_source_document(system: &str) -> String {
    let path = root().join(format!("schemas/{system}/manifest.json"));
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    manifest["source_document"]
        .as_str()
        .expect("every manifest names its source document")
        .to_owned()
}

#[test]
fn every_document_example_has_the_outcome_its_fixture_records() {
    let mut failures = Vec::new();
    let mut counted = 0;
    for system in event_contracts::SYSTEMS {
        let fixture = fixture(system.name);
        assert_eq!(
            fixture.document,
            manifest_source_document(system.name),
            "{}: the fixture's document is not the manifest's source document",
            system.name
        );
        assert!(
            !fixture.shown.is_empty(),
            "{}: no example of the document listed",
            system.name
        );
        let cases = fixture
            .shown
            .iter()
            .map(|c| ("shown", c))
            .chain(fixture.written_from_the_text.iter().map(|c| ("written", c)));
        for (list, case) in cases {
            counted += 1;
            let at = format!(
                "{} {list} lines {} ({})",
                system.name, case.lines, case.place
            );
            let want = match expected(case) {
                Ok(want) => want,
                Err(e) => {
                    failures.push(format!("{at}: {e}"));
                    continue;
                }
            };
            let got = decode(system, case, &bytes(case));
            if got != want {
                failures.push(format!(
                    "{at}: expected {want:?} ({}), got {got:?}",
                    case.expected
                ));
            }
        }
    }
    assert!(counted > 0);
    assert!(
        failures.is_empty(),
        "{} of {counted} document cases differ from their fixture:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Each system writes the times inside its events in the shape its document shows.
#[test]
fn every_time_the_documents_show_has_the_shape_now_writes() {
    let mut checked = 0;
    for system in event_contracts::SYSTEMS {
        let written = shape(&now(system.name));
        let fixture = fixture(system.name);
        for case in fixture.shown.iter().chain(&fixture.written_from_the_text) {
            let (Some(pointer), Some(json)) = (&case.time, &case.json) else {
                continue;
            };
            let time = json
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_else(|| {
                    panic!("{} lines {}: no time at {pointer}", system.name, case.lines)
                });
            assert_eq!(
                shape(time),
                written,
                "{} lines {}: the document writes `{time}`, `{}::now()` writes another shape",
                system.name,
                case.lines,
                system.name
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no fixture quotes a time");
}

/// go-livepeer writes `data.timestamp` as `time.Now().UnixMilli()`; the document shows no time,
/// so `now()` is checked against the clock.
#[test]
fn livepeer_now_is_unix_milliseconds() {
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis();
    let now = i128::from(livepeer::now());
    let clock = i128::try_from(clock).expect("milliseconds fit");
    assert!((now - clock).abs() < 60_000, "now() {now} vs clock {clock}");
    assert_eq!(livepeer::TIME_FORMAT, "unix-millis");
}
