//! Declared envelope roles: a team's own envelope names generate with no generator change,
//! and every mistake in the declaration is located with its own code (E016 for a role that
//! does not fit its property, E043 type/payload field, E045 `also_read`, E046 a refused
//! `default`, E047 a required property nothing fills) and a hint.

use event_contracts_codegen::catalog::Catalog;
use event_contracts_codegen::diag::{Code, Diagnostic};
use event_contracts_codegen::generate_catalog;

const BASE: &str = "https://event-contracts.local/schemas/";

/// The issue's envelope `{msg_id, kind, emitted_at, device, body}` over NATS, with `envelope`
/// the manifest's envelope object and `extra` more envelope properties.
fn catalog(envelope: &str, extra: &str) -> Vec<(String, String)> {
    let manifest = format!(
        r#"{{
  "system": "fleet",
  "title": "Fleet",
  "description": "A team's own system.",
  "source_document": "none",
  "transport": "nats",
  "envelope": {envelope},
  "events": [
    {{"name": "unit.moved", "schema": "events/unit.moved.json", "channel": {{"transport": "nats", "stream": "FLEET", "subject": "fleet.unit.moved"}}, "version": 1, "producers": ["p"], "consumers": ["c"]}}
  ]
}}"#
    );
    let envelope_schema = format!(
        r#"{{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"{BASE}fleet/envelope.json","title":"FleetEnvelope","type":"object",
"properties":{{
  "msg_id":{{"type":"string","format":"uuid"}},
  "kind":{{"type":"string"}},
  "emitted_at":{{"type":"string","format":"date-time"}},
  "device":{{"type":"string","minLength":1}},{extra}
  "body":{{"type":"object"}}
}},
"required":["msg_id","kind","emitted_at","device","body"]}}"#
    );
    let event = format!(
        r#"{{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"{BASE}fleet/events/unit.moved.json","title":"UnitMoved","type":"object","properties":{{"unit":{{"type":"string"}}}},"required":["unit"]}}"#
    );
    vec![
        ("fleet/manifest.json".into(), manifest),
        ("fleet/envelope.json".into(), envelope_schema),
        ("fleet/events/unit.moved.json".into(), event),
    ]
}

const ROLES: &str = r#"{"kind": "wrapped", "schema": "envelope.json", "type_field": "kind", "payload_field": "body",
  "roles": {"message_id": "msg_id", "time": {"property": "emitted_at", "format": "rfc3339-millis"}, "source": "device"}}"#;

fn diagnostics(envelope: &str, extra: &str) -> Vec<Diagnostic> {
    let catalog = Catalog::from_texts(catalog(envelope, extra)).expect("parses");
    match generate_catalog(&catalog, "test") {
        Ok(_) => vec![],
        Err(d) => d.0,
    }
}

fn module(envelope: &str, extra: &str) -> String {
    let catalog = Catalog::from_texts(catalog(envelope, extra)).expect("parses");
    let files = generate_catalog(&catalog, "test").unwrap_or_else(|d| panic!("{d}"));
    files
        .into_iter()
        .find(|f| f.path == "src/fleet.rs")
        .expect("module")
        .contents
}

#[test]
fn declared_roles_fill_a_teams_own_envelope() {
    let code = module(ROLES, "");
    assert!(
        code.contains("msg_id: match &meta.id"),
        "msg_id from Meta::id"
    );
    assert!(
        code.contains("emitted_at: ::event_contracts_runtime::DateTime::now_utc_with_fraction(3)")
    );
    assert!(
        code.contains(r#""/device""#),
        "device required from Meta::source"
    );
    assert!(
        code.contains("Some(message.msg_id.to_string())"),
        "msg_id is the message id"
    );
}

#[test]
fn an_undeclared_required_property_is_located_at_the_envelope_with_the_role_to_declare() {
    let plain = r#"{"kind": "wrapped", "schema": "envelope.json", "type_field": "kind", "payload_field": "body"}"#;
    let d = diagnostics(plain, "");
    let unfilled: Vec<&Diagnostic> = d
        .iter()
        .filter(|d| d.code == Code::UnfilledEnvelopeProperty)
        .collect();
    assert_eq!(unfilled.len(), 3, "{d:?}");
    let msg_id = unfilled
        .iter()
        .find(|d| d.pointer == "/properties/msg_id")
        .expect("msg_id reported");
    assert_eq!(msg_id.file, "schemas/fleet/envelope.json");
    assert_eq!(msg_id.position.line, 3, "{msg_id}");
    assert!(
        msg_id.hint.contains(r#""roles": {"message_id": "msg_id"}"#),
        "{msg_id}"
    );
    let time = unfilled
        .iter()
        .find(|d| d.pointer == "/properties/emitted_at")
        .expect("emitted_at reported");
    assert!(
        time.hint.contains(r#""format": "rfc3339-millis""#),
        "{time}"
    );
}

#[test]
fn an_optional_property_without_a_role_is_left_unset() {
    let code = module(ROLES, r#""region":{"type":"string"},"#);
    assert!(code.contains("region: None"), "optional and unfilled");
}

#[test]
fn a_role_naming_a_missing_property_is_located_at_the_manifest_key() {
    let typo = ROLES.replace(r#""message_id": "msg_id""#, r#""message_id": "msgid""#);
    let d = diagnostics(&typo, "");
    let at_key = d
        .iter()
        .find(|d| d.pointer == "/envelope/roles/message_id")
        .unwrap_or_else(|| panic!("{d:?}"));
    assert_eq!(at_key.code, Code::EnvelopeRole);
    assert_eq!(at_key.file, "schemas/fleet/manifest.json");
    assert_eq!(at_key.position.line, 8, "{at_key}");
    assert!(at_key.message.contains("`msgid`"), "{at_key}");
    assert!(
        at_key
            .hint
            .contains("msg_id, kind, emitted_at, device, body"),
        "{at_key}"
    );
}

#[test]
fn a_role_of_the_wrong_kind_or_taken_twice_is_refused() {
    let wrong_format = ROLES.replace("rfc3339-millis", "unix-millis");
    let d = diagnostics(&wrong_format, "");
    assert!(
        d.iter()
            .any(|d| d.pointer == "/envelope/roles/time/property"
                && d.message
                    .contains("`unix-millis` needs an integer property")),
        "{d:?}"
    );
    let twice = ROLES.replace(
        r#""source": "device""#,
        r#""source": "device", "subject": "device""#,
    );
    let d = diagnostics(&twice, "");
    assert!(
        d.iter()
            .any(|d| d.pointer == "/envelope/roles/subject"
                && d.message.contains("both name `device`")),
        "{d:?}"
    );
    let payload = ROLES.replace(r#""source": "device""#, r#""source": "body""#);
    let d = diagnostics(&payload, "");
    assert!(
        d.iter()
            .any(|d| d.pointer == "/envelope/roles/source" && d.message.contains("payload field")),
        "{d:?}"
    );
}

#[test]
fn a_type_field_the_envelope_lacks_is_located() {
    let typo = ROLES.replace(r#""type_field": "kind""#, r#""type_field": "knd""#);
    let d = diagnostics(&typo, "");
    assert!(
        d.iter()
            .any(|d| d.pointer == "/envelope/type_field" && d.code == Code::EnvelopeField),
        "{d:?}"
    );
}

/// The envelope's trace context in two places: a top-level `traceparent`, and the same value
/// inside an optional `meta` object (the CloudEvents document's `extensions` form).
const NESTED: &str = r#""traceparent":{"type":"string"},"meta":{"type":"object","title":"FleetMeta","properties":{"traceparent":{"type":"string"},"hops":{"type":"array","items":{"type":"string"}}}},"#;

fn with_also_read(also_read: &str) -> String {
    ROLES.replace(
        r#""source": "device"}"#,
        &format!(r#""source": "device", "traceparent": "traceparent"}}, "also_read": {also_read}"#),
    )
}

#[test]
fn also_read_locations_are_read_after_the_roles_own_property() {
    let code = module(
        &with_also_read(r#"{"traceparent": ["/meta/traceparent"]}"#),
        NESTED,
    );
    let reader = code
        .split("fn traceparent(")
        .nth(1)
        .expect("a traceparent reader");
    let reader: String = reader[..reader.find("\n    }").expect("its end")]
        .split_whitespace()
        .collect();
    let own = reader.find("message.traceparent.clone()").expect(&reader);
    let nested = reader
        .find("message.meta.as_ref().and_then(|v|v.traceparent.as_ref())")
        .expect(&reader);
    assert!(own < nested, "own property first: {reader}");
    assert!(reader.contains(".or_else("), "{reader}");
    // Only consumers read it: publishing fills no `meta`.
    assert!(code.contains("meta: None"), "publishing leaves it unset");
}

#[test]
fn an_also_read_location_that_does_not_resolve_is_located_with_the_step_that_fails() {
    for (pointer, says) in [
        ("/meta/tracepar", "declares no property `tracepar`"),
        ("/meta/hops", "is not a string property"),
        ("/meta/hops/0", "is not an object with declared properties"),
        ("/device/x", "is not an object with declared properties"),
        ("/body/traceparent", "type or payload field"),
        ("meta/traceparent", "not a JSON pointer"),
    ] {
        let d = diagnostics(
            &with_also_read(&format!(
                r#"{{"traceparent": ["/meta/traceparent", "{pointer}"]}}"#
            )),
            NESTED,
        );
        assert_eq!(d.len(), 1, "{pointer}: {d:?}");
        assert_eq!(d[0].code, Code::AlsoRead);
        assert_eq!(
            d[0].pointer, "/envelope/also_read/traceparent/1",
            "{pointer}"
        );
        assert_eq!(d[0].file, "schemas/fleet/manifest.json");
        assert!(d[0].message.contains(says), "{pointer}: {}", d[0]);
    }
}

#[test]
fn a_required_string_with_a_default_is_filled_with_it_and_a_default_its_schema_refuses_is_located()
{
    let region = r#""region":{"type":"string","pattern":"^[a-z]+(; .*)?$","default":"eu"},"#;
    let required = |extra: &str| {
        catalog(ROLES, extra)
            .into_iter()
            .map(|(path, text)| {
                let text = if path.ends_with("envelope.json") {
                    text.replace(
                        r#""required":["msg_id""#,
                        r#""required":["region","msg_id""#,
                    )
                } else {
                    text
                };
                (path, text)
            })
            .collect::<Vec<_>>()
    };
    let catalog_ok = Catalog::from_texts(required(region)).expect("parses");
    let files = generate_catalog(&catalog_ok, "test").unwrap_or_else(|d| panic!("{d}"));
    let code = &files
        .iter()
        .find(|f| f.path == "src/fleet.rs")
        .expect("module")
        .contents;
    assert!(
        code.contains(r#"region: "eu".to_owned()"#),
        "filled from its default"
    );

    let bad = Catalog::from_texts(required(&region.replace(r#""eu""#, r#""EU""#))).expect("parses");
    let d = generate_catalog(&bad, "test")
        .expect_err("a default the pattern refuses")
        .0;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, Code::EnvelopeDefault);
    assert_eq!(d[0].file, "schemas/fleet/envelope.json");
    assert_eq!(d[0].pointer, "/properties/region/default", "{}", d[0]);
}
