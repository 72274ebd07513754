//! Snapshots of the text and Markdown renderers on a small fixed report, and the shape of the
//! JSON, GitHub and SARIF renderers.

use event_contracts_compat::{
    fingerprint, render, rules, Counterexample, EventSummary, Finding, Location, Mode, Report,
    Rollout, RuleId, Side, Verdict,
};
use serde_json::json;

fn loc(side: Side, file: &str, line: usize, column: usize, pointer: &str) -> Location {
    Location {
        side,
        file: file.into(),
        line,
        column,
        pointer: pointer.into(),
    }
}

fn finding(rule: &'static str, verdict: Verdict, path: &str, message: &str) -> Finding {
    let r = rules::get(rule).expect("a rule");
    Finding {
        rule: RuleId(rule),
        category: r.category,
        severity: if verdict == Verdict::Compatible {
            event_contracts_compat::Severity::Info
        } else {
            r.severity
        },
        verdict,
        system: Some("audio".into()),
        event: Some("AudioChunkReceived".into()),
        mode: Mode::Backward,
        against_version: None,
        path: path.into(),
        message: message.into(),
        hint: r.hint,
        old: None,
        new: None,
        counterexample: None,
        undecided_keyword: None,
        fingerprint: fingerprint(
            RuleId(rule),
            Some("audio"),
            Some("AudioChunkReceived"),
            path,
            "",
        ),
        allowed: None,
    }
}

fn report() -> Report {
    let mut required = finding(
        "EC-D003",
        Verdict::Incompatible,
        "/payload/sequence",
        "`/payload/sequence`: optional property is now required",
    );
    required.old = Some(loc(
        Side::Old,
        "schemas/audio/events/AudioChunkReceived.json",
        47,
        7,
        "/allOf/1/required",
    ));
    required.new = Some(loc(
        Side::New,
        "schemas/audio/events/AudioChunkReceived.json",
        48,
        7,
        "/allOf/1/required",
    ));
    required.counterexample = Some(Counterexample {
        message: json!({"event_type": "AudioChunkReceived", "payload": {"chunk_id": "c:1"}}),
        accepted_by: Side::Old,
        rejected_because: "/payload: \"sequence\" is a required property".into(),
    });
    let mut pattern = finding(
        "EC-D020",
        Verdict::Unknown,
        "/payload/storage_uri",
        "`/payload/storage_uri`: pattern changed from `^a` to `^(?=a)b`",
    );
    pattern.undecided_keyword = Some("pattern".into());
    pattern.new = Some(loc(
        Side::New,
        "schemas/audio/events/AudioChunkReceived.json",
        40,
        22,
        "/allOf/1/properties/storage_uri/pattern",
    ));
    let mut added = finding(
        "EC-D001",
        Verdict::Compatible,
        "/payload/language",
        "`/payload/language`: optional property added",
    );
    added.new = Some(loc(
        Side::New,
        "schemas/audio/events/AudioChunkReceived.json",
        52,
        9,
        "/allOf/1/properties/language",
    ));
    let mut removed = finding(
        "EC-T001",
        Verdict::Incompatible,
        "",
        "event `BotStopRequested` removed from system `audio`",
    );
    removed.event = Some("BotStopRequested".into());
    removed.fingerprint = fingerprint(
        RuleId("EC-T001"),
        Some("audio"),
        Some("BotStopRequested"),
        "",
        "removed",
    );
    removed.old = Some(loc(
        Side::Old,
        "schemas/audio/manifest.json",
        180,
        5,
        "/events/9",
    ));
    Report {
        format_version: 1,
        findings: vec![required, pattern, added, removed],
        events: vec![
            EventSummary {
                system: "audio".into(),
                event: "AudioChunkReceived".into(),
                change: "changed",
                declared_mode: Mode::Backward,
                backward: Verdict::Incompatible,
                forward: Verdict::Unknown,
                rollout: Rollout::Undecided,
                producers: vec!["orchestration-api".into()],
                consumers: vec!["audio-pipeline".into()],
                renamed: None,
            },
            EventSummary {
                system: "audio".into(),
                event: "BotStopRequested".into(),
                change: "removed",
                declared_mode: Mode::Backward,
                backward: Verdict::Incompatible,
                forward: Verdict::Compatible,
                rollout: Rollout::ProducersFirst,
                producers: vec!["orchestration-api".into(), "monitoring".into()],
                consumers: vec!["bot-orchestrator".into()],
                renamed: None,
            },
            EventSummary {
                system: "audio".into(),
                event: "BotRequested".into(),
                change: "unchanged",
                declared_mode: Mode::Backward,
                backward: Verdict::Compatible,
                forward: Verdict::Compatible,
                rollout: Rollout::AnyOrder,
                producers: vec![],
                consumers: vec![],
                renamed: None,
            },
        ],
        old_revision: Some("0123abcdef".into()),
        dialects: None,
    }
}

#[test]
fn text_snapshot() {
    insta::assert_snapshot!(render::text(&report()));
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!(render::markdown(&report()));
}

#[test]
fn json_is_versioned_and_round_trips() {
    let v: serde_json::Value = serde_json::from_str(&render::json(&report())).expect("json");
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["findings"][0]["rule"], "EC-D003");
    assert_eq!(v["findings"][0]["verdict"], "incompatible");
    assert_eq!(v["events"][0]["rollout"], "undecided");
}

#[test]
fn github_annotations_escape_per_workflow_command_rules() {
    let mut r = report();
    r.findings[0].message = "a: 50%, b\nnext".into();
    r.findings[0].new.as_mut().expect("loc").file = "schemas/a,b:c.json".into();
    let out = render::github(&r);
    let first = out.lines().next().expect("a line");
    assert!(
        first.starts_with("::error file=schemas/a%2Cb%3Ac.json,line=48,col=7,title=EC-D003::"),
        "{first}"
    );
    assert!(first.contains("a: 50%25, b%0Anext"), "{first}");
    assert_eq!(out.lines().count(), 4, "one line per finding");
    assert!(out.lines().nth(2).expect("third").starts_with("::notice "));
}

#[test]
fn sarif_has_the_registry_and_located_results() {
    let v: serde_json::Value = serde_json::from_str(&render::sarif(&report())).expect("json");
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(
        run["tool"]["driver"]["rules"]
            .as_array()
            .expect("rules")
            .len(),
        rules::all().len()
    );
    let res = &run["results"][0];
    assert_eq!(res["ruleId"], "EC-D003");
    assert_eq!(res["level"], "error");
    assert_eq!(
        res["locations"][0]["physicalLocation"]["region"]["startLine"],
        48
    );
    assert_eq!(run["results"][1]["level"], "error", "unknown fails");
    assert_eq!(run["results"][2]["level"], "note", "compatible is a note");
}

#[test]
fn exit_codes_follow_the_policy() {
    let mut r = report();
    assert_eq!(r.exit_code(), 1);
    r.findings[0].allowed = Some("migration planned".into());
    r.findings[3].allowed = Some("event retired".into());
    assert_eq!(r.exit_code(), 2, "the unknown pattern still fails");
    r.findings[1].allowed = Some("checked by hand".into());
    assert_eq!(r.exit_code(), 0);
}

#[test]
fn fingerprints_are_stable_and_cover_what_broke() {
    let fp = |path: &str, what: &str| {
        fingerprint(RuleId("EC-D013"), Some("audio"), Some("X"), path, what)
    };
    // FNV-1a 64 behind the format's prefix: fixed across runs and platforms.
    assert_eq!(
        fp("/unit", "removed [\"hpa\"] added []"),
        "ec2-b40db4ed520c7c1e"
    );
    assert_eq!(
        fp("/unit", "removed [\"hpa\"] added []"),
        fp("/unit", "removed [\"hpa\"] added []")
    );
    assert_ne!(
        fp("/unit", "removed [\"hpa\"] added []"),
        fp("/other", "removed [\"hpa\"] added []")
    );
    // A larger break at the same place is another finding for the allow-list.
    assert_ne!(
        fp("/unit", "removed [\"hpa\"] added []"),
        fp("/unit", "removed [\"hpa\",\"percent\"] added []")
    );
    assert_eq!(fingerprint(RuleId(""), None, None, "", "").len(), 20);
}

#[test]
fn text_prints_the_fix_and_counterexample_of_every_break() {
    let out = render::text(&report());
    let lines: Vec<&str> = out.lines().collect();
    let at = |rule: &str| {
        lines
            .iter()
            .position(|l| !l.starts_with(' ') && l.contains(rule))
            .unwrap_or_else(|| panic!("{rule} in\n{out}"))
    };
    let d003 = at("EC-D003");
    assert_eq!(
        lines[d003 + 1],
        "  fix: make the new property optional, or publish a new event version"
    );
    assert!(
        lines[d003 + 2].starts_with(
            "  counterexample: accepted by the old schema, rejected by the new one (/payload: \"sequence\" is a required property): {"
        ),
        "{out}"
    );
    // Unknown findings have a fix too; compatible ones have none.
    assert!(lines[at("EC-D020") + 1].starts_with("  fix: "), "{out}");
    assert!(!lines[at("EC-D001") + 1].starts_with("  "), "{out}");
}

#[test]
fn old_side_locations_name_their_revision() {
    let mut r = report();
    let removed_line = "0123abcdef:schemas/audio/manifest.json:180:5: ERROR EC-T001";
    assert!(
        render::text(&r).contains(removed_line),
        "{}",
        render::text(&r)
    );
    assert!(
        render::markdown(&r).contains("(`0123abcdef:schemas/audio/manifest.json:180:5`)"),
        "{}",
        render::markdown(&r)
    );
    // A workflow annotation marks a working-tree file: the old place goes in the message.
    let github = render::github(&r);
    let t001 = github
        .lines()
        .find(|l| l.contains("EC-T001"))
        .expect("a line");
    assert!(!t001.contains("file="), "{t001}");
    assert!(
        t001.contains("%0Aat 0123abcdef:schemas/audio/manifest.json:180:5"),
        "{t001}"
    );
    // New-side locations stay plain.
    assert!(render::text(&r).starts_with("schemas/audio/events/AudioChunkReceived.json:48:7: "));
    // A finding against an earlier release names that release.
    r.findings[3].against_version = Some("schemas-v1".into());
    assert!(render::text(&r).contains("schemas-v1:schemas/audio/manifest.json:180:5: "));
    // Two standalone files have no revision.
    r.old_revision = None;
    r.findings[3].against_version = None;
    assert!(render::text(&r).contains("\nschemas/audio/manifest.json:180:5: "));
}

#[test]
fn rust_api_findings_are_labelled_apart_from_wire_breaks() {
    let mut r = report();
    let mut api = finding(
        "EC-S004",
        Verdict::Incompatible,
        "/payload/sequence",
        "field `sequence` of `AudioChunkReceivedPayload` changes Rust type from `Option<u64>` to `u64`",
    );
    api.new = Some(loc(
        Side::New,
        "schemas/audio/events/AudioChunkReceived.json",
        48,
        7,
        "/allOf/1/properties/sequence",
    ));
    r.findings.push(api);
    let text = render::text(&r);
    let api_line = text
        .lines()
        .find(|l| l.contains("EC-S004"))
        .expect("a line");
    assert!(
        api_line.contains("WARNING EC-S004 [rust-api] audio/"),
        "{api_line}"
    );
    assert!(
        api_line
            .ends_with("[breaks Rust code built against the old crate; messages are unaffected]"),
        "{api_line}"
    );
    let wire_line = text
        .lines()
        .find(|l| l.contains("EC-D003"))
        .expect("a line");
    assert!(
        wire_line.contains("ERROR EC-D003 [wire] audio/"),
        "{wire_line}"
    );
    assert!(
        wire_line.ends_with("[incompatible under BACKWARD]"),
        "{wire_line}"
    );
    let md = render::markdown(&r);
    assert!(
        md.contains("- **EC-S004** warning (Rust API) — field `sequence`"),
        "{md}"
    );
}
