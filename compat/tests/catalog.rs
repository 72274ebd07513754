//! The real catalog: compared with itself it yields nothing; real mutations are caught with
//! the right rule.

use std::path::Path;

use event_contracts_compat::{check_catalogs, Mode, Options, Verdict};

fn read(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("schemas/ is readable")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            read(root, &p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            let rel = p
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&p).expect("utf-8")));
        }
    }
}

pub fn catalog() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    let mut out = Vec::new();
    read(&root, &root, &mut out);
    out
}

fn edit(
    files: &[(String, String)],
    path: &str,
    f: impl Fn(&mut serde_json::Value),
) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(p, t)| {
            if p == path {
                let mut v: serde_json::Value = serde_json::from_str(t).expect("json");
                f(&mut v);
                (p.clone(), serde_json::to_string_pretty(&v).expect("json"))
            } else {
                (p.clone(), t.clone())
            }
        })
        .collect()
}

#[test]
fn the_catalog_against_itself_has_no_finding() {
    let files = catalog();
    let t = std::time::Instant::now();
    let report = check_catalogs(&files, &files, &[], &Options::default()).expect("checks");
    eprintln!("self-check took {:?}", t.elapsed());
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert!(report.events.len() > 60, "{}", report.events.len());
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn a_required_property_added_to_a_real_event_breaks_backward() {
    let files = catalog();
    let new = edit(&files, "dam/events/capture.alive.json", |v| {
        let part = &mut v["allOf"][1];
        part["properties"]["uptime_s"] = serde_json::json!({"type": "integer", "minimum": 0});
        part["required"]
            .as_array_mut()
            .expect("array")
            .push("uptime_s".into());
    });
    let t = std::time::Instant::now();
    let report = check_catalogs(&files, &new, &[], &Options::default()).expect("checks");
    eprintln!("check against a modified copy took {:?}", t.elapsed());
    let f = report
        .findings
        .iter()
        .find(|f| f.rule.0 == "EC-D003")
        .unwrap_or_else(|| panic!("{:#?}", report.findings));
    assert_eq!(f.verdict, Verdict::Incompatible);
    assert_eq!(f.path, "/uptime_s");
    assert_eq!(f.event.as_deref(), Some("capture.alive"));
    let cx = f.counterexample.as_ref().expect("counterexample");
    assert!(cx.message.get("uptime_s").is_none());
    assert_eq!(report.exit_code(), 1);
    let _ = Mode::Backward;
}

fn edit_manifest(
    files: &[(String, String)],
    path: &str,
    f: impl Fn(&mut serde_json::Value),
) -> Vec<(String, String)> {
    edit(files, path, f)
}

#[test]
fn real_catalog_mutations_are_caught_with_the_right_rule() {
    let files = catalog();
    let opts = Options::default();
    let rules_of = |r: &event_contracts_compat::Report| -> Vec<&'static str> {
        r.findings
            .iter()
            .filter(|f| f.verdict != Verdict::Compatible)
            .map(|f| f.rule.0)
            .collect()
    };

    // An envelope field narrowed: every audio event's message changes at /trace_id.
    let new = edit(&files, "audio/envelope.json", |v| {
        v["properties"]["trace_id"]["minLength"] = serde_json::json!(16);
    });
    let r = check_catalogs(&files, &new, &[], &opts).expect("checks");
    let hits: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.rule.0 == "EC-D016" && f.path == "/trace_id")
        .collect();
    assert_eq!(
        hits.len(),
        14,
        "{}",
        event_contracts_compat::render::text(&r)
    );
    assert!(hits
        .iter()
        .all(|f| f.verdict == Verdict::Incompatible && f.counterexample.is_some()));

    // An event removed from the manifest.
    let new = edit_manifest(&files, "dam/manifest.json", |v| {
        v["events"]
            .as_array_mut()
            .expect("events")
            .retain(|e| e["name"] != "webapp.alive");
    });
    let r = check_catalogs(&files, &new, &[], &opts).expect("checks");
    assert_eq!(rules_of(&r), vec!["EC-T001"]);
    assert!(r.findings[0].counterexample.is_some());

    // A channel changed.
    let new = edit_manifest(&files, "agents/manifest.json", |v| {
        v["events"][0]["channel"]["subject"] = "ingest.document.done".into();
    });
    let r = check_catalogs(&files, &new, &[], &opts).expect("checks");
    assert!(rules_of(&r).contains(&"EC-T002"), "{:?}", rules_of(&r));

    // The schema file renamed: the same event, no break.
    let mut moved: Vec<(String, String)> = files
        .iter()
        .map(|(p, t)| {
            if p == "dam/events/webapp.alive.json" {
                (
                    "dam/events/webapp_alive.json".to_owned(),
                    t.replace("webapp.alive.json\"", "webapp_alive.json\""),
                )
            } else {
                (p.clone(), t.clone())
            }
        })
        .collect();
    moved = edit_manifest(&moved, "dam/manifest.json", |v| {
        for e in v["events"].as_array_mut().expect("events") {
            if e["name"] == "webapp.alive" {
                e["schema"] = "events/webapp_alive.json".into();
            }
        }
    });
    let r = check_catalogs(&files, &moved, &[], &opts).expect("checks");
    let all: Vec<&str> = r.findings.iter().map(|f| f.rule.0).collect();
    assert_eq!(
        all,
        vec!["EC-T005"],
        "{}",
        event_contracts_compat::render::text(&r)
    );

    // A oneOf branch removed from livepeer's stream_trace union.
    let new = edit(&files, "livepeer/events/stream_trace.json", |v| {
        v["oneOf"].as_array_mut().expect("oneOf").remove(1);
    });
    let r = check_catalogs(&files, &new, &[], &opts).expect("checks");
    let f = r
        .findings
        .iter()
        .find(|f| f.rule.0 == "EC-D031")
        .unwrap_or_else(|| panic!("{}", event_contracts_compat::render::text(&r)));
    assert_eq!(f.verdict, Verdict::Incompatible);
    assert_eq!(f.path, "/data");

    // A property renamed with x-renamed-from: BACKWARD holds; the Rust field is renamed.
    let new = edit(&files, "dam/events/capture.alive.json", |v| {
        let props = v["allOf"][1]["properties"].as_object_mut().expect("props");
        let mut version = props.remove("version").expect("version");
        version["x-renamed-from"] = "version".into();
        props.insert("service_version".into(), version);
        let req = v["allOf"][1]["required"].as_array_mut().expect("req");
        req.retain(|r| r != "version");
        req.push("service_version".into());
    });
    let r = check_catalogs(
        &files,
        &new,
        &[],
        &Options {
            mode: Some(Mode::Backward),
            ..Options::default()
        },
    )
    .expect("checks");
    let renamed = r
        .findings
        .iter()
        .find(|f| f.rule.0 == "EC-D038")
        .expect("rename");
    assert_eq!(renamed.verdict, Verdict::Compatible);
    assert!(r.findings.iter().any(|f| f.rule.0 == "EC-S003"));
    let ev = r
        .events
        .iter()
        .find(|e| e.event == "capture.alive")
        .expect("event");
    assert_eq!(ev.backward, Verdict::Compatible);
    assert_eq!(ev.forward, Verdict::Incompatible);

    // Transitive: every failing earlier version is its own finding.
    let v1 = edit(&files, "dam/events/capture.alive.json", |v| {
        v["allOf"][1]["properties"]["version"]["maxLength"] = serde_json::json!(8);
    });
    let v2 = edit_manifest(&files, "dam/manifest.json", |v| {
        v["events"][0]["compatibility"] = "FORWARD_TRANSITIVE".into();
    });
    let r = check_catalogs(&v2, &v2, &[("v1".into(), v1)], &opts).expect("checks");
    let f = r
        .findings
        .iter()
        .find(|f| f.against_version.as_deref() == Some("v1"))
        .unwrap_or_else(|| panic!("{}", event_contracts_compat::render::text(&r)));
    assert_eq!(f.rule.0, "EC-D017");
    assert_eq!(f.verdict, Verdict::Incompatible);
}

#[test]
fn stream_trace_fallback_is_decided() {
    let files = catalog();
    // The fallback branch excludes every listed subtype: no overlap, nothing undecided.
    let report = check_catalogs(&files, &files, &[], &Options::default()).expect("checks");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);

    // A listed subtype dropped from the exclusion overlaps its own branch: a message of that
    // subtype matches both, which `oneOf` rejects.
    let other = "livepeer/defs/stream_trace/other.json";
    let dropped = edit(&files, other, |v| {
        let list = v["properties"]["type"]["not"]["enum"]
            .as_array_mut()
            .expect("the exclusion list");
        list.retain(|x| x != "orchestrator_swap");
    });
    let options = Options {
        mode: Some(Mode::Full),
        ..Options::default()
    };
    let report = check_catalogs(&files, &dropped, &[], &options).expect("checks");
    let overlap = report
        .findings
        .iter()
        .find(|f| f.rule.0 == "EC-D032")
        .unwrap_or_else(|| panic!("no overlap: {:#?}", report.findings));
    assert_eq!(overlap.verdict, Verdict::Incompatible, "{overlap:#?}");
    let cx = overlap.counterexample.as_ref().expect("a counterexample");
    assert_eq!(cx.message["data"]["type"], "orchestrator_swap");
    assert!(report
        .findings
        .iter()
        .all(|f| f.verdict != Verdict::Unknown));
}

/// Every event of the real catalog, one at a time: a required property added at the schema's
/// root must be a verified break (never "unknown" because no counterexample could be built),
/// and the counterexample must be rejected for that property, not for something else.
#[test]
fn a_required_property_added_to_any_real_event_is_a_verified_break() {
    let files = catalog();
    let events: Vec<String> = files
        .iter()
        .map(|(p, _)| p.clone())
        .filter(|p| p.contains("/events/"))
        .collect();
    assert!(events.len() > 60, "{}", events.len());
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in &events {
        let schema: serde_json::Value =
            serde_json::from_str(&files.iter().find(|(p, _)| p == path).expect("listed").1)
                .expect("json");
        // `required` means nothing to an array payload (livepeer's discovery results).
        if schema.get("type").is_some_and(|t| t != "object") {
            continue;
        }
        checked += 1;
        // One system's files suffice: events never reference another system's schemas.
        let system = format!("{}/", path.split('/').next().expect("system folder"));
        let files: Vec<(String, String)> = files
            .iter()
            .filter(|(p, _)| p.starts_with(&system))
            .cloned()
            .collect();
        let new = edit(&files, path, |v| {
            let root = v.as_object_mut().expect("an event schema is an object");
            let props = root
                .entry("properties")
                .or_insert_with(|| serde_json::json!({}));
            props["sweep_added"] = serde_json::json!({"type": "string"});
            let required = root
                .entry("required")
                .or_insert_with(|| serde_json::json!([]));
            required
                .as_array_mut()
                .expect("required is an array")
                .push("sweep_added".into());
        });
        let report = check_catalogs(&files, &new, &[], &Options::default()).expect("checks");
        let hit = report
            .findings
            .iter()
            .find(|f| f.rule.0 == "EC-D003" && f.path.ends_with("/sweep_added"));
        match hit {
            Some(f) if f.verdict == Verdict::Incompatible => {
                let cx = f
                    .counterexample
                    .as_ref()
                    .expect("a break has a counterexample");
                if !cx.rejected_because.contains("sweep_added") {
                    failures.push(format!(
                        "{path}: rejected for another reason: {}",
                        cx.rejected_because
                    ));
                }
            }
            other => failures.push(format!(
                "{path}: {:?}\n{}",
                other.map(|f| (f.verdict, f.undecided_keyword.clone())),
                event_contracts_compat::render::text(&report)
            )),
        }
    }
    assert!(checked > 60, "{checked}");
    assert!(
        failures.is_empty(),
        "{} of {checked} events:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A counterexample is explained by the change it illustrates. Old: `capture.alive` with an
/// optional `host`. New: `host` required and `version` at least 3 characters, in one edit. The
/// length finding's counterexample has a `host` (an old producer can write one), so it is
/// refused for its length alone; the required finding's is refused for lacking `host`.
#[test]
fn each_counterexample_is_refused_for_its_own_change() {
    let files = catalog();
    let path = "dam/events/capture.alive.json";
    let old = edit(&files, path, |v| {
        v["allOf"][1]["properties"]["host"] = serde_json::json!({"type": "string"});
    });
    let new = edit(&old, path, |v| {
        let part = &mut v["allOf"][1];
        part["properties"]["version"]["minLength"] = serde_json::json!(3);
        part["required"]
            .as_array_mut()
            .expect("array")
            .push("host".into());
        // As `cargo xtask lint` demands of the author: the examples are valid again.
        for example in v["examples"].as_array_mut().expect("examples") {
            example["host"] = "capture-01".into();
        }
    });
    let report = check_catalogs(&old, &new, &[], &Options::default()).expect("checks");
    let counterexample = |rule: &str| {
        let f = report
            .findings
            .iter()
            .find(|f| f.rule.0 == rule)
            .unwrap_or_else(|| panic!("no {rule}: {:#?}", report.findings));
        assert_eq!(f.verdict, Verdict::Incompatible, "{rule}");
        f.counterexample.clone().expect("counterexample")
    };
    let length = counterexample("EC-D016");
    assert!(
        length.rejected_because.starts_with("/version: "),
        "{}",
        length.rejected_because
    );
    assert!(
        length.message.get("host").is_some(),
        "the length counterexample would also be refused for lacking `host`: {}",
        length.message
    );
    let required = counterexample("EC-D003");
    assert!(
        required
            .rejected_because
            .contains("\"host\" is a required property"),
        "{}",
        required.rejected_because
    );
}

#[test]
fn a_read_location_changes_no_message_but_an_envelope_field_does() {
    let files = catalog();
    let opts = Options::default();
    // Where else consumers look for a role's value: no finding.
    let new = edit_manifest(&files, "orchestrator/manifest.json", |v| {
        v["envelope"]["also_read"] = serde_json::json!({});
    });
    let r = check_catalogs(&new, &files, &[], &opts).expect("checks");
    assert!(
        r.findings.is_empty(),
        "{}",
        event_contracts_compat::render::text(&r)
    );
    // The field that names the event: every event's messages change.
    let new = edit_manifest(&files, "orchestrator/manifest.json", |v| {
        v["envelope"]["type_field"] = "subject".into();
    });
    let r = check_catalogs(&files, &new, &[], &opts).expect("checks");
    assert!(
        r.findings
            .iter()
            .any(|f| f.rule.0 == "EC-T003" && f.verdict == Verdict::Incompatible),
        "{}",
        event_contracts_compat::render::text(&r)
    );
}
