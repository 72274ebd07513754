//! `cargo xtask compat --format junit`, read back by junitparser (PyPI, pinned, in a venv under
//! target/ made by .ci/pyvenv.sh): what a CI host's test report would show for a break, an
//! undecided change, a compatible change, an unchecked (NONE) event, and the same break once
//! the allow-list accepts it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

const JUNITPARSER: &str = "junitparser==5.0.3";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// The JSON that junitparser makes of `xml` (see tests/support/junit_consumer.py).
fn consume(xml: &str, dir: &Path) -> Value {
    let root = workspace();
    let venv = Command::new("bash")
        .arg(root.join(".ci/pyvenv.sh"))
        .args(["target/junitparser-venv", JUNITPARSER])
        .current_dir(&root)
        .output()
        .expect("bash runs .ci/pyvenv.sh");
    assert!(
        venv.status.success(),
        "installing {JUNITPARSER}: {}",
        String::from_utf8_lossy(&venv.stderr)
    );
    let venv = PathBuf::from(String::from_utf8(venv.stdout).expect("UTF-8").trim());
    let file = dir.join("compat-junit.xml");
    std::fs::write(&file, xml).expect("write the report");
    let out = Command::new(venv.join("bin/python"))
        .arg(root.join("xtask/tests/support/junit_consumer.py"))
        .arg(&file)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "junitparser could not read the report: {}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the consumer prints JSON")
}

fn case<'v>(report: &'v Value, classname: &str, name: &str) -> &'v Value {
    report["suites"]
        .as_array()
        .expect("suites")
        .iter()
        .flat_map(|s| s["cases"].as_array().expect("cases"))
        .find(|c| c["classname"] == classname && c["name"] == name)
        .unwrap_or_else(|| panic!("no testcase {classname}/{name} in {report:#}"))
}

fn kinds(case: &Value) -> Vec<&str> {
    case["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["kind"].as_str().expect("kind"))
        .collect()
}

const ORDER_NOTED_ENTRY: &str = r#"    {
      "name": "order.noted",
      "schema": "events/order.noted.json",
      "channel": { "transport": "amqp", "exchange": "events", "routing_key": "order.noted" },
      "version": 1,
      "producers": ["checkout"],
      "consumers": ["mailer"]
    }"#;

/// The catalog plus `order.canceled` (declared mode NONE) and `order.noted` (shaped like
/// `order.placed`), committed; then `order.placed` gains a required property (a break),
/// `order.noted` a `not` (undecided), `order.shipped` an optional property (compatible).
fn scenario() -> Repo {
    let canceled_unchecked = ORDER_CANCELED_ENTRY.replace(
        r#""version": 1,"#,
        r#""version": 1,
      "compatibility": "NONE","#,
    );
    let noted = |o: OrderPlaced| {
        order_placed(&OrderPlaced {
            file: "order.noted.json",
            ..o
        })
    };
    let repo = Repo::new();
    repo.write(
        "schemas/shop/manifest.json",
        &manifest(&[canceled_unchecked.as_str(), ORDER_NOTED_ENTRY]),
    );
    repo.write(
        "schemas/shop/events/order.placed.json",
        &order_placed(&OrderPlaced::default()),
    );
    repo.write(
        "schemas/shop/events/order.noted.json",
        &noted(OrderPlaced::default()),
    );
    repo.write("schemas/shop/events/order.shipped.json", ORDER_SHIPPED);
    repo.write("schemas/shop/events/order.canceled.json", ORDER_CANCELED);
    repo.commit("catalog");
    repo.write(
        "schemas/shop/events/order.placed.json",
        &order_placed(&OrderPlaced {
            required: vec!["currency"],
            properties: vec![("currency", r#"{ "type": "string" }"#)],
            ..OrderPlaced::default()
        }),
    );
    repo.write(
        "schemas/shop/events/order.noted.json",
        &noted(OrderPlaced {
            note_extra: r#", "not": { "pattern": "^(in)\\1ternal:" }"#,
            ..OrderPlaced::default()
        }),
    );
    repo.write(
        "schemas/shop/events/order.shipped.json",
        &ORDER_SHIPPED.replace(
            r#""carrier": { "type": "string", "enum": ["dhl", "ups"] }"#,
            r#""carrier": { "type": "string", "enum": ["dhl", "ups"] },
    "tracking_url": { "type": "string" }"#,
        ),
    );
    repo
}

#[test]
fn a_junit_consumer_reads_failures_errors_skips_and_passes() {
    let repo = scenario();
    let o = repo.compat(&["--against", "HEAD", "--format", "junit"]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    let report = consume(&o.stdout, repo.root());

    // One testcase per event, in one suite per system.
    assert_eq!(
        report["suites"].as_array().map(Vec::len),
        Some(1),
        "{report:#}"
    );
    let suite = &report["suites"][0];
    assert_eq!(suite["name"], "shop");
    let names: Vec<&str> = suite["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "order.canceled",
            "order.noted",
            "order.placed",
            "order.shipped"
        ]
    );

    // The break is a failure naming its rule, with location and counterexample; the `not` an
    // error naming the undecided keyword.
    let placed = case(&report, "shop", "order.placed");
    assert_eq!(placed["passed"], false);
    let failure = placed["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["kind"] == "failure")
        .unwrap_or_else(|| panic!("no failure: {placed:#}"));
    assert_eq!(failure["type"], "EC-D003");
    let message = failure["message"].as_str().expect("message");
    assert!(
        message.starts_with("EC-D003: ") && message.contains("/currency"),
        "{message}"
    );
    let text = failure["text"].as_str().expect("text");
    assert!(
        text.contains("at: schemas/shop/events/order.placed.json:"),
        "{text}"
    );
    assert!(
        text.contains("counterexample (accepted by the old schema"),
        "{text}"
    );
    assert!(text.contains("\"order_id\": \"o-1\""), "{text}");
    assert_eq!(kinds(placed), ["failure"], "{placed:#}");
    let noted = case(&report, "shop", "order.noted");
    assert_eq!(kinds(noted), ["error"], "{noted:#}");
    let error = &noted["results"][0];
    assert_eq!(error["type"], "EC-D039");
    assert!(
        error["message"]
            .as_str()
            .expect("message")
            .contains("undecided: keyword `not`"),
        "{error:#}"
    );

    // A compatible change passes, and says what changed.
    let shipped = case(&report, "shop", "order.shipped");
    assert_eq!(shipped["passed"], true, "{shipped:#}");
    let out = shipped["system_out"].as_str().expect("system-out");
    assert!(
        out.contains("change: EC-D001") && out.contains("/tracking_url"),
        "{out}"
    );

    // Mode NONE is skipped.
    let canceled = case(&report, "shop", "order.canceled");
    assert_eq!(canceled["skipped"], true, "{canceled:#}");
    assert_eq!(kinds(canceled), ["skipped"]);

    // The counts, as Ant defines them (testcases), agree with the testcases the consumer read.
    assert_eq!(
        (
            &report["tests"],
            &report["failures"],
            &report["errors"],
            &report["skipped"]
        ),
        (&4.into(), &1.into(), &1.into(), &1.into()),
        "{report:#}"
    );
    assert_eq!(
        (
            &suite["tests"],
            &suite["failures"],
            &suite["errors"],
            &suite["skipped"]
        ),
        (&4.into(), &1.into(), &1.into(), &1.into())
    );
}

#[test]
fn an_allowed_break_passes_and_keeps_its_reason() {
    let repo = scenario();
    let o = repo.compat(&["--against", "HEAD"]);
    let entries: Vec<String> = o
        .report
        .as_ref()
        .expect("a report")
        .failing()
        .map(|f| {
            format!(
                r#"{{ "fingerprint": "{}", "rule": "{}", "event": "shop/{}", "reason": "checkout & billing <already> send it", "expires": "2999-12-31" }}"#,
                f.fingerprint,
                f.rule.0,
                f.event.as_deref().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        entries.len(),
        2,
        "a break and an undecided change: {entries:#?}"
    );
    repo.write(
        "compat-allow.json",
        &format!("{{ \"version\": 1, \"allow\": [{}] }}", entries.join(", ")),
    );
    let o = repo.compat(&["--against", "HEAD", "--format", "junit"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let report = consume(&o.stdout, repo.root());
    let placed = case(&report, "shop", "order.placed");
    assert_eq!(placed["passed"], true, "{placed:#}");
    let out = placed["system_out"].as_str().expect("system-out");
    assert!(out.contains("allowed: EC-D003"), "{out}");
    // Escaped on the way in, read back as written.
    assert!(
        out.contains("reason: checkout & billing <already> send it"),
        "{out}"
    );
    assert_eq!(case(&report, "shop", "order.noted")["passed"], true);
    assert_eq!(report["failures"], 0);
    assert_eq!(report["errors"], 0);
}
