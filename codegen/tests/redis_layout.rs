//! The manifest's Redis stream entry layout (`redis`): declared, it reaches the generated
//! `Contract` and the rustdoc; left out, a Redis system gets the default; misplaced or
//! unusable, it is a located E025.

use event_contracts_codegen::catalog::Catalog;
use event_contracts_codegen::diag::{Code, Diagnostic};
use event_contracts_codegen::generate_catalog;

const BASE: &str = "https://event-contracts.local/schemas/";

/// A flat one-event system on `transport`, with `redis` (the manifest member, or nothing).
fn catalog(transport: &str, channel: &str, redis: &str) -> Vec<(String, String)> {
    let manifest = format!(
        r#"{{
  "system": "jobs",
  "title": "Jobs",
  "description": "A team's own system.",
  "source_document": "none",
  "transport": "{transport}",{redis}
  "envelope": {{"kind": "flat"}},
  "events": [
    {{"name": "job.done", "schema": "events/job.done.json", "channel": {channel}, "version": 1, "producers": ["p"], "consumers": ["c"], "message_id": "job_id"}}
  ]
}}"#
    );
    let event = format!(
        r#"{{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"{BASE}jobs/events/job.done.json","title":"JobDone","type":"object","properties":{{"job_id":{{"type":"string"}}}},"required":["job_id"]}}"#
    );
    vec![
        ("jobs/manifest.json".into(), manifest),
        ("jobs/events/job.done.json".into(), event),
    ]
}

const REDIS_CHANNEL: &str = r#"{"transport": "redis", "stream": "stream:jobs"}"#;

fn generate(transport: &str, channel: &str, redis: &str) -> Result<String, Vec<Diagnostic>> {
    let catalog = Catalog::from_texts(catalog(transport, channel, redis)).expect("parses");
    match generate_catalog(&catalog, "test") {
        Ok(files) => Ok(files
            .into_iter()
            .find(|f| f.path == "src/jobs.rs")
            .expect("module")
            .contents),
        Err(d) => Err(d.0),
    }
}

#[test]
fn a_declared_layout_reaches_the_contract_and_the_docs() {
    let code = generate(
        "redis",
        REDIS_CHANNEL,
        r#" "redis": {"payload_field": "data", "header_prefix": "hdr."},"#,
    )
    .unwrap_or_else(|d| panic!("{d:?}"));
    assert!(
        code.contains(r#"payload_field: "data""#) && code.contains(r#"header_prefix: "hdr.""#),
        "the Contract's STREAM_ENTRY"
    );
    assert!(
        code.contains("the whole message as JSON in the field `data`")
            && code.contains("`hdr.traceparent`"),
        "the module and System docs describe the entry"
    );
}

#[test]
fn a_redis_system_without_a_layout_gets_the_default() {
    let code = generate("redis", REDIS_CHANNEL, "").unwrap_or_else(|d| panic!("{d:?}"));
    assert!(code.contains(r#"payload_field: "envelope""#));
    assert!(code.contains(r#"header_prefix: "h:""#));
    assert!(code.contains("the whole message as JSON in the field `envelope`"));
}

#[test]
fn a_system_on_another_transport_declares_no_layout_and_gets_no_const() {
    let nats = r#"{"transport": "nats", "stream": "JOBS", "subject": "jobs.done"}"#;
    let code = generate("nats", nats, "").unwrap_or_else(|d| panic!("{d:?}"));
    assert!(!code.contains("STREAM_ENTRY"), "the trait default stands");
    let d = generate("nats", nats, r#" "redis": {"payload_field": "envelope"},"#)
        .expect_err("a layout on a NATS system");
    let wrong: Vec<&Diagnostic> = d.iter().filter(|d| d.pointer == "/redis").collect();
    assert_eq!(wrong.len(), 1, "{d:?}");
    assert_eq!(wrong[0].code, Code::RedisLayout);
    assert_eq!(wrong[0].file, "schemas/jobs/manifest.json");
    assert!(wrong[0].message.contains("nats system"), "{}", wrong[0]);
}

#[test]
fn unusable_layouts_are_located_errors() {
    for (redis, pointer, says) in [
        (
            r#" "redis": {"header_prefix": ""},"#,
            "/redis/header_prefix",
            "every field would be read as a header",
        ),
        (
            r#" "redis": {"payload_field": ""},"#,
            "/redis/payload_field",
            "empty",
        ),
        (
            r#" "redis": {"payload_field": "h:body"},"#,
            "/redis/payload_field",
            "starts with the header prefix",
        ),
    ] {
        let d = generate("redis", REDIS_CHANNEL, redis).expect_err(redis);
        let found = d
            .iter()
            .find(|d| d.pointer == pointer)
            .unwrap_or_else(|| panic!("{redis}: nothing at {pointer}: {d:?}"));
        assert_eq!(found.code, Code::RedisLayout);
        assert!(found.message.contains(says), "{found}");
        assert!(found.position.line > 0, "located: {found}");
    }
}
