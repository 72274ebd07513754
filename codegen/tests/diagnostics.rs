//! How diagnostics read: rendered like rustc with the offending line and a caret, every code
//! documented in docs/diagnostics.md, and every code reported by some check.

use std::collections::BTreeSet;
use std::path::Path;

use event_contracts_codegen::catalog::Catalog;
use event_contracts_codegen::diag::{code_table, Code, Diagnostics};
use event_contracts_codegen::generate_catalog;

const BASE: &str = "https://event-contracts.local/schemas/";

fn manifest(envelope: &str) -> String {
    format!(
        r#"{{
  "system": "fleet",
  "title": "Fleet",
  "description": "A team's own system.",
  "source_document": "none",
  "transport": "nats",
  "envelope": {envelope},
  "events": [
    {{
      "name": "unit.moved",
      "schema": "events/unit.moved.json",
      "channel": {{"transport": "nats", "stream": "FLEET", "subject": "fleet.unit.moved"}},
      "version": 1,
      "producers": ["p"],
      "consumers": ["c"]
    }}
  ]
}}"#
    )
}

const ENVELOPE: &str = r#"{"kind": "wrapped", "schema": "envelope.json", "type_field": "kind", "payload_field": "body",
    "roles": {"message_id": "msg_id", "source": "device"}}"#;

fn envelope_schema() -> String {
    format!(
        r#"{{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "{BASE}fleet/envelope.json",
  "title": "FleetEnvelope",
  "type": "object",
  "properties": {{
    "msg_id": {{"type": "string", "format": "uuid"}},
    "kind": {{"type": "string"}},
    "device": {{"type": "string", "minLength": 1}},
    "body": {{"type": "object"}}
  }},
  "required": ["msg_id", "kind", "device", "body"]
}}"#
    )
}

fn event(properties: &str) -> String {
    format!(
        r#"{{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "{BASE}fleet/events/unit.moved.json",
  "title": "UnitMoved",
  "type": "object",
  "properties": {{
{properties}
  }},
  "required": ["unit"]
}}"#
    )
}

const UNIT: &str = r#"    "unit": {"type": "string"}"#;

fn files(manifest: String, envelope: String, event: String) -> Vec<(String, String)> {
    vec![
        ("fleet/manifest.json".into(), manifest),
        ("fleet/envelope.json".into(), envelope),
        ("fleet/events/unit.moved.json".into(), event),
    ]
}

/// The diagnostics of reading and generating the catalog.
fn diagnostics(files: Vec<(String, String)>) -> Diagnostics {
    match Catalog::from_texts(files) {
        Err(d) => d,
        Ok(catalog) => generate_catalog(&catalog, "test").expect_err("the catalog is refused"),
    }
}

#[test]
fn the_base_catalog_generates() {
    let catalog =
        Catalog::from_texts(files(manifest(ENVELOPE), envelope_schema(), event(UNIT))).unwrap();
    generate_catalog(&catalog, "test").unwrap_or_else(|d| panic!("{}", d.render()));
}

#[test]
fn bad_json_syntax_shows_the_line_serde_stopped_on() {
    let broken = event(UNIT).replace(r#""title": "UnitMoved","#, r#""title": "UnitMoved""#);
    let d = diagnostics(files(manifest(ENVELOPE), envelope_schema(), broken));
    assert_eq!(d.0[0].code, Code::JsonSyntax);
    insta::assert_snapshot!("json_syntax", d.render());
}

#[test]
fn an_unsupported_keyword_is_marked_at_its_key() {
    let properties = format!(
        "{UNIT},\n    \"tags\": {{\n      \"type\": \"object\",\n      \"patternProperties\": {{\"^x-\": {{\"type\": \"string\"}}}}\n    }}"
    );
    let d = diagnostics(files(
        manifest(ENVELOPE),
        envelope_schema(),
        event(&properties),
    ));
    assert_eq!(d.0[0].code, Code::UnsupportedKeyword);
    insta::assert_snapshot!("unsupported_keyword", d.render());
}

#[test]
fn an_unsupported_format_is_marked_at_its_value() {
    let properties =
        format!("{UNIT},\n    \"contact\": {{\"type\": \"string\", \"format\": \"email\"}}");
    let d = diagnostics(files(
        manifest(ENVELOPE),
        envelope_schema(),
        event(&properties),
    ));
    assert_eq!(d.0[0].code, Code::UnsupportedFormat);
    insta::assert_snapshot!("unsupported_format", d.render());
}

#[test]
fn an_envelope_role_error_is_marked_in_the_manifest_and_an_unfilled_property_in_the_envelope() {
    let roles = ENVELOPE.replace(r#""source": "device""#, r#""source": "sender""#);
    let d = diagnostics(files(manifest(&roles), envelope_schema(), event(UNIT)));
    let codes: Vec<Code> = d.0.iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        [Code::UnfilledEnvelopeProperty, Code::EnvelopeRole],
        "{d}"
    );
    insta::assert_snapshot!("envelope_role", d.render());
}

#[test]
fn a_manifest_error_is_marked_where_serde_stopped() {
    let wrong = manifest(ENVELOPE).replace(
        r#""transport": "nats","#,
        r#""transport": "carrier-pigeon","#,
    );
    let d = diagnostics(files(wrong, envelope_schema(), event(UNIT)));
    assert_eq!(d.0[0].code, Code::Manifest);
    insta::assert_snapshot!("manifest", d.render());
}

#[test]
fn a_problem_without_a_source_line_renders_without_a_snippet() {
    let d = diagnostics(vec![]);
    assert_eq!(d.0[0].code, Code::NoSystem);
    assert!(d.0[0].snippet.is_none());
    insta::assert_snapshot!("no_system", d.render());
}

#[test]
fn the_one_line_form_stays_for_scripts_and_editors() {
    let properties =
        format!("{UNIT},\n    \"contact\": {{\"type\": \"string\", \"format\": \"email\"}}");
    let d = diagnostics(files(
        manifest(ENVELOPE),
        envelope_schema(),
        event(&properties),
    ));
    assert!(
        d.0[0]
            .to_string()
            .starts_with("schemas/fleet/events/unit.moved.json:8:45: error[E026] at "),
        "{}",
        d.0[0]
    );
}

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

#[test]
fn docs_diagnostics_md_lists_every_code() {
    let doc = std::fs::read_to_string(workspace().join("docs/diagnostics.md")).unwrap();
    assert!(
        doc.contains(&code_table()),
        "docs/diagnostics.md must contain this table (generated from codegen/src/diag.rs):\n{}",
        code_table()
    );
}

/// Codes no check reports any more; their numbers stay taken so they never mean anything else.
const RETIRED: &[Code] = &[Code::UnknownEvent];

#[test]
fn every_code_is_reported_by_some_check() {
    let mut used = BTreeSet::new();
    let mut files = Vec::new();
    let mut dirs = vec![
        workspace().join("codegen/src"),
        workspace().join("xtask/src"),
    ];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("diag.rs") {
                files.push(path);
            }
        }
    }
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for code in Code::ALL {
            let at = format!("Code::{}", code.name());
            if text.match_indices(&at).any(|(i, _)| {
                !text[i + at.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
            }) {
                used.insert(*code);
            }
        }
    }
    for code in Code::ALL {
        assert_eq!(
            used.contains(code),
            !RETIRED.contains(code),
            "{} ({}): reported by a check iff not retired",
            code.as_str(),
            code.name()
        );
    }
}

fn branch(tag: &str) -> String {
    format!(
        r#"{{"type": "object", "properties": {{"kind": {{"const": "{tag}"}}}}, "required": ["kind"]}}"#
    )
}

/// Each problem that used to share E006/E007/E003 with others is reported under its own code,
/// and every diagnostic of a parsed file carries the line it is about.
#[test]
fn each_split_out_problem_is_reported_under_its_own_code_with_its_line() {
    let a = branch("a");
    let b = branch("b");
    let event_cases: Vec<(Code, String)> = vec![
        (
            Code::UnsupportedPattern,
            r#""p": {"type": "string", "pattern": "(?=a)b"}"#.into(),
        ),
        (Code::UnknownType, r#""p": {"type": "date"}"#.into()),
        (
            Code::MultipleTypes,
            r#""p": {"type": ["string", "integer"]}"#.into(),
        ),
        (Code::NullOnly, r#""p": {"type": "null"}"#.into()),
        (
            Code::EnumBreaksConstraints,
            r#""p": {"type": "string", "maxLength": 2, "enum": ["abc"]}"#.into(),
        ),
        (
            Code::MixedMap,
            r#""p": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}}"#.into(),
        ),
        (
            Code::MergeNotObject,
            r#""p": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"type": "string"}]}"#.into(),
        ),
        (
            Code::UnionSiblings,
            format!(r#""p": {{"oneOf": [{a}, {b}], "required": ["kind"]}}"#),
        ),
        (Code::DuplicateTag, format!(r#""p": {{"oneOf": [{a}, {a}]}}"#)),
        (
            Code::FallbackTags,
            format!(
                r#""p": {{"oneOf": [{a}, {b}, {{"type": "object", "properties": {{"kind": {{"type": "string", "not": {{"enum": ["a"]}}}}}}, "required": ["kind"]}}]}}"#
            ),
        ),
    ];
    let mut cases: Vec<(Code, Vec<(String, String)>)> = event_cases
        .into_iter()
        .map(|(code, p)| {
            let files = files(
                manifest(ENVELOPE),
                envelope_schema(),
                event(&format!("{UNIT},\n    {p}")),
            );
            (code, files)
        })
        .collect();
    cases.push((
        Code::MissingSchemaFile,
        files(
            manifest(ENVELOPE).replace("events/unit.moved.json", "events/unit.gone.json"),
            envelope_schema(),
            event(UNIT),
        ),
    ));
    cases.push((
        Code::ChannelTransport,
        files(
            manifest(ENVELOPE).replace(
                r#"{"transport": "nats", "stream": "FLEET", "subject": "fleet.unit.moved"}"#,
                r#"{"transport": "kafka", "topic": "fleet"}"#,
            ),
            envelope_schema(),
            event(UNIT),
        ),
    ));
    cases.push((
        Code::EnvelopeNeedsValidator,
        files(
            manifest(ENVELOPE),
            envelope_schema().replace(
                r#""device": {"type": "string", "minLength": 1}"#,
                r#""device": {"type": "string", "not": {"const": "x"}}"#,
            ),
            event(UNIT),
        ),
    ));
    for (code, files) in cases {
        let d = diagnostics(files);
        assert!(
            d.0.iter().any(|d| d.code == code),
            "{code:?} expected:\n{}",
            d.render()
        );
        for d in &d.0 {
            let s = d.snippet.as_ref().unwrap_or_else(|| panic!("no line: {d}"));
            assert!(
                s.text
                    .chars()
                    .skip(s.offset)
                    .take(s.len)
                    .any(|c| !c.is_whitespace()),
                "the caret marks nothing:\n{}",
                d.render()
            );
        }
    }
}
