//! `cargo xtask compat` and `cargo xtask diff` end to end, against throwaway git repositories:
//! exit codes, git reading (renames, bad revisions), the allow-list, transitive history, and
//! snapshots of the text and Markdown output.

mod common;

use common::*;
use event_contracts_compat::Verdict;

fn failing(o: &xtask::compat::Outcome) -> Vec<&event_contracts_compat::Finding> {
    o.report
        .as_ref()
        .expect("a report")
        .findings
        .iter()
        .filter(|f| f.allowed.is_none() && xtask::compat::allow::fails(f))
        .collect()
}

#[test]
fn unchanged_catalog_is_compatible() {
    let repo = Repo::with_catalog();
    let o = repo.compat(&["--against", "HEAD"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(failing(&o).is_empty());
}

#[test]
fn compatible_change_exits_0() {
    let repo = Repo::with_catalog();
    repo.write(
        "schemas/shop/events/order.placed.json",
        &order_placed(&OrderPlaced {
            properties: vec![("coupon", r#"{ "type": "string" }"#)],
            ..OrderPlaced::default()
        }),
    );
    let o = repo.compat(&["--against", "HEAD"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(failing(&o).is_empty(), "{:#?}", summary(&o));
    // The generated manifest schema is never compared.
    repo.write("schemas/manifest.schema.json", "not even JSON");
    assert_eq!(repo.compat(&["--against", "HEAD"]).code, 0);
}

#[test]
fn breaking_change_exits_1_with_a_counterexample() {
    let repo = Repo::with_catalog();
    repo.write(
        "schemas/shop/events/order.placed.json",
        &order_placed(&OrderPlaced {
            required: vec!["currency"],
            properties: vec![("currency", r#"{ "type": "string" }"#)],
            ..OrderPlaced::default()
        }),
    );
    let o = repo.compat(&["--against", "HEAD"]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    let breaks = failing(&o);
    assert!(!breaks.is_empty());
    let f = breaks[0];
    assert_eq!(f.verdict, Verdict::Incompatible);
    assert_eq!(f.event.as_deref(), Some("order.placed"));
    let cx = f.counterexample.as_ref().expect("a counterexample");
    assert!(
        cx.message.get("currency").is_none(),
        "an old message has no currency: {}",
        cx.message
    );
    let loc = f.new.as_ref().expect("a location in the new schema");
    assert_eq!(loc.file, "schemas/shop/events/order.placed.json");
    assert!(loc.line > 1);
    // The text output names file:line:col, the severity and the rule.
    let expected = format!(
        "schemas/shop/events/order.placed.json:{}:{}: ",
        loc.line, loc.column
    );
    assert!(
        o.stdout
            .lines()
            .any(|l| l.starts_with(&expected) && l.contains(f.rule.0)),
        "{expected}\n{}",
        o.stdout
    );
}

#[test]
fn every_format_renders() {
    let repo = Repo::with_catalog();
    repo.write(
        "schemas/shop/events/order.placed.json",
        &order_placed(&OrderPlaced {
            amount_type: "string",
            ..OrderPlaced::default()
        }),
    );
    for format in ["text", "json", "github", "sarif", "markdown"] {
        let o = repo.compat(&["--against", "HEAD", "--format", format]);
        assert_eq!(o.code, 1, "{format}: {}{}", o.stdout, o.stderr);
        assert!(!o.stdout.is_empty(), "{format} prints something");
        if matches!(format, "json" | "sarif") {
            serde_json::from_str::<serde_json::Value>(&o.stdout)
                .unwrap_or_else(|e| panic!("{format} is JSON: {e}\n{}", o.stdout));
        }
    }
    let out = repo.path("report.sarif");
    let o = repo.compat(&[
        "--against",
        "HEAD",
        "--format",
        "sarif",
        "--output",
        &out.display().to_string(),
    ]);
    assert_eq!(o.code, 1);
}

#[test]
fn unknown_exits_2() {
    let repo = Repo::with_catalog();
    // A `not` over a pattern with a back-reference (no regular language) cannot be decided: a
    // new one may or may not reject old messages.
    repo.write(
        "schemas/shop/events/order.placed.json",
        &order_placed(&OrderPlaced {
            note_extra: r#", "not": { "pattern": "^(in)\\1ternal:" }"#,
            ..OrderPlaced::default()
        }),
    );
    let o = repo.compat(&["--against", "HEAD"]);
    let findings = summary(&o);
    assert_eq!(o.code, 2, "{findings:#?}\n{}{}", o.stdout, o.stderr);
    assert!(
        o.report
            .as_ref()
            .expect("a report")
            .findings
            .iter()
            .any(|f| f.verdict == Verdict::Unknown),
        "{findings:#?}"
    );
}

#[test]
fn a_revision_that_does_not_exist_exits_3() {
    let repo = Repo::with_catalog();
    let o = repo.compat(&["--against", "no-such-branch"]);
    assert_eq!(o.code, 3);
    assert!(
        o.stderr
            .contains("revision `no-such-branch` does not exist"),
        "{}",
        o.stderr
    );
    let o = repo.compat(&["--against", "--upload-pack=evil"]);
    assert_eq!(o.code, 3, "{}", o.stderr);
}

#[test]
fn not_a_repository_exits_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("schemas")).expect("mkdir");
    let o = xtask::compat::run_cli([
        "--repo",
        &dir.path().display().to_string(),
        "--against",
        "HEAD",
    ]);
    assert_eq!(o.code, 3);
    assert!(o.stderr.contains("is not a git repository"), "{}", o.stderr);
}

#[test]
fn a_schema_that_is_not_json_exits_3() {
    let repo = Repo::with_catalog();
    repo.write("schemas/shop/events/order.placed.json", "{ \"type\": ");
    let o = repo.compat(&["--against", "HEAD"]);
    assert_eq!(o.code, 3, "{}{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("working tree"), "{}", o.stderr);
}

#[test]
fn usage_errors_exit_3() {
    let repo = Repo::with_catalog();
    for args in [
        &["--against", "HEAD", "--format", "yaml"][..],
        &["--against", "HEAD", "--mode", "sideways"][..],
        &["--against", "HEAD", "a.json", "b.json"][..],
        &["only-one.json"][..],
        &[][..],
        &["--bogus"][..],
    ] {
        let o = repo.compat(args);
        assert_eq!(o.code, 3, "{args:?}: {}", o.stderr);
    }
    let o = repo.compat(&["--help"]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("--against"));
}

#[test]
fn the_binary_maps_usage_errors_to_3() {
    let xtask = env!("CARGO_BIN_EXE_xtask");
    let status = std::process::Command::new(xtask)
        .args(["compat", "--format", "yaml", "--against", "HEAD"])
        .output()
        .expect("xtask runs");
    assert_eq!(status.status.code(), Some(3));
    let repo = Repo::with_catalog();
    let out = std::process::Command::new(xtask)
        .args(["compat", "--repo", &repo.root_arg(), "--against", "nope"])
        .output()
        .expect("xtask runs");
    assert_eq!(out.status.code(), Some(3));
    // --output writes the report to a file, nothing to stdout.
    break_required_currency(&repo);
    let report = repo.path("report.md");
    let out = std::process::Command::new(xtask)
        .args(["compat", "--repo", &repo.root_arg(), "--against", "main"])
        .args(["--format", "markdown", "--output"])
        .arg(&report)
        .output()
        .expect("xtask runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(&report).expect("--output is written");
    assert!(written.contains("EC-D003"), "{written}");
    let out = std::process::Command::new(xtask)
        .args(["diff", "--repo", &repo.root_arg()])
        .output()
        .expect("xtask runs");
    assert_eq!(out.status.code(), Some(3), "diff without --against");
}

#[test]
fn renamed_file_is_not_remove_and_add() {
    let repo = Repo::with_catalog();
    repo.rename(
        "schemas/shop/events/order.placed.json",
        "schemas/shop/events/placed.json",
    );
    repo.write(
        "schemas/shop/events/placed.json",
        &order_placed(&OrderPlaced {
            file: "placed.json",
            ..OrderPlaced::default()
        }),
    );
    repo.write(
        "schemas/shop/manifest.json",
        &manifest_with("placed.json", None, &[]),
    );
    let o = repo.compat(&["--against", "HEAD"]);
    assert_eq!(o.code, 0, "{:#?}\n{}{}", summary(&o), o.stdout, o.stderr);
    let report = o.report.as_ref().expect("a report");
    let placed = report
        .events
        .iter()
        .find(|e| e.event == "order.placed")
        .expect("order.placed is summarised");
    assert!(
        placed.change != "added" && placed.change != "removed",
        "{placed:?}"
    );
    assert_eq!(report.events.len(), 2, "{:?}", report.events);
}

#[test]
fn standalone_files() {
    let repo = Repo::with_catalog();
    repo.write("old.json", &order_placed(&OrderPlaced::default()));
    repo.write(
        "new.json",
        &order_placed(&OrderPlaced {
            required: vec!["note"],
            ..OrderPlaced::default()
        }),
    );
    let (old, new) = (
        repo.path("old.json").display().to_string(),
        repo.path("new.json").display().to_string(),
    );
    assert_eq!(repo.compat(&[&old, &new]).code, 1);
    // Requiring a field is FORWARD-compatible: every new message is an old one.
    assert_eq!(repo.compat(&[&old, &new, "--mode", "forward"]).code, 0);
    assert_eq!(repo.compat(&[&old, &new, "--mode", "full"]).code, 1);
    let o = repo.compat(&[&old, &new, "--mode", "full-transitive"]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert_eq!(
        repo.compat(&[&old, &repo.path("missing.json").display().to_string()])
            .code,
        3
    );
}

fn break_required_currency(repo: &Repo) {
    repo.write(
        "schemas/shop/events/order.placed.json",
        &order_placed(&OrderPlaced {
            required: vec!["currency"],
            properties: vec![("currency", r#"{ "type": "string" }"#)],
            ..OrderPlaced::default()
        }),
    );
}

#[test]
fn allow_list_accepts_a_break() {
    let repo = Repo::with_catalog();
    break_required_currency(&repo);
    let o = repo.compat(&["--against", "HEAD", "--suggest-allow"]);
    assert_eq!(o.code, 1);
    let breaks = failing(&o);
    let entries: Vec<String> = breaks
        .iter()
        .map(|f| {
            format!(
                r#"{{ "fingerprint": "{}", "rule": "{}", "event": "shop/order.placed", "reason": "billing already sends currency (checked with the billing team)", "expires": "2099-12-31" }}"#,
                f.fingerprint, f.rule.0
            )
        })
        .collect();
    assert!(o.stderr.contains(&breaks[0].fingerprint), "{}", o.stderr);
    // Entries to paste into the `allow` array, not a whole file that would replace it.
    assert!(!o.stderr.contains("\"version\""), "{}", o.stderr);
    repo.write(
        "compat-allow.json",
        &format!(
            "{{\n  \"version\": 1,\n  \"allow\": [\n    {}\n  ]\n}}\n",
            entries.join(",\n    ")
        ),
    );
    let o = repo.compat(&["--against", "HEAD"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let report = o.report.as_ref().expect("a report");
    assert!(report
        .findings
        .iter()
        .filter(|f| f.fingerprint == breaks[0].fingerprint)
        .all(|f| f.allowed.as_deref()
            == Some("billing already sends currency (checked with the billing team)")));
    assert!(!o.stderr.contains("warning"), "{}", o.stderr);
    // --no-allow ignores it.
    assert_eq!(repo.compat(&["--against", "HEAD", "--no-allow"]).code, 1);
}

#[test]
fn stale_allow_list_entry_is_a_warning() {
    let repo = Repo::with_catalog();
    repo.write(
        "compat-allow.json",
        r#"{
  "version": 1,
  "allow": [
    { "fingerprint": "ec2-0000000000000000", "rule": "EC-D001", "event": "shop/order.placed", "reason": "long gone", "expires": "2099-12-31" }
  ]
}
"#,
    );
    let o = repo.compat(&["--against", "HEAD"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains(
            "compat-allow.json:4:5: warning: stale entry: fingerprint `ec2-0000000000000000`"
        ),
        "{}",
        o.stderr
    );
    let o = repo.compat(&["--against", "HEAD", "--format", "github"]);
    assert!(
        o.stdout
            .contains("::warning file=compat-allow.json,line=4,col=5::stale entry"),
        "{}",
        o.stdout
    );
}

#[test]
fn malformed_allow_list_exits_3_with_its_position() {
    let repo = Repo::with_catalog();
    for (text, expected) in [
        ("{ \"version\": 1, \"allow\": [ }", "compat-allow.json:1:28: the allow-list is not JSON"),
        (
            "{\n  \"version\": 1,\n  \"allow\": [{ \"fingerprint\": \"x\", \"rule\": \"EC-D001\" }]\n}",
            "compat-allow.json:3:53: missing field `reason`",
        ),
        (
            "{\n  \"version\": 1,\n  \"allow\": [{ \"fingerprint\": \"ec2-0123456789abcdef\", \"rule\": \"EC-D001\", \"reason\": \" \" }]\n}",
            "compat-allow.json:3:83: entry `ec2-0123456789abcdef` (EC-D001): the reason is empty; an accepted break needs a reason",
        ),
        (
            "{\n  \"version\": 1,\n  \"allow\": [{ \"fingerprint\": \"ec2-0123456789abcdef\", \"rule\": \"D1\", \"reason\": \"r\" }]\n}",
            "compat-allow.json:3:62: `D1` is not a rule id",
        ),
        (
            "{ \"version\": 1, \"allow\": [{ \"fingerprint\": \"ec2-0123456789abcdef\", \"rule\": \"EC-D001\", \"reason\": \"r\", \"expires\": \"soon\" }] }",
            "`soon` is not a date",
        ),
        (
            "{\n  \"version\": 1,\n  \"allow\": [{ \"fingerprint\": \"0123456789abcdef\", \"rule\": \"EC-D001\", \"reason\": \"r\", \"expires\": \"2099-12-31\" }]\n}",
            "compat-allow.json:3:30: `0123456789abcdef` is not a fingerprint of this build",
        ),
        ("{ \"version\": 2, \"allow\": [] }", "allow-list version 2 is not supported"),
        ("{ \"version\": 1, \"alow\": [] }", "unknown field `alow`"),
    ] {
        repo.write("compat-allow.json", text);
        let o = repo.compat(&["--against", "HEAD"]);
        assert_eq!(o.code, 3, "{text}: {}", o.stderr);
        assert!(o.stderr.contains(expected), "{text}:\n{}", o.stderr);
    }
    let o = repo.compat(&["--against", "HEAD", "--allow", "/no/such/allow.json"]);
    assert_eq!(o.code, 3);
}

#[test]
fn transitive_history_reports_every_failing_version() {
    let repo = Repo::new();
    let placed = |note_max| {
        order_placed(&OrderPlaced {
            note_max,
            ..OrderPlaced::default()
        })
    };
    repo.write(
        "schemas/shop/manifest.json",
        &manifest_with("order.placed.json", Some("BACKWARD_TRANSITIVE"), &[]),
    );
    repo.write("schemas/shop/events/order.shipped.json", ORDER_SHIPPED);
    // Released versions allow ever shorter notes (each release breaks the one before; history
    // is what it is).
    for (note_max, tag) in [
        (500, Some("schemas-v1")),
        (400, Some("schemas-v2")),
        (200, None),
    ] {
        repo.write("schemas/shop/events/order.placed.json", &placed(note_max));
        repo.commit(&format!("note up to {note_max}"));
        match tag {
            // An annotated tag peels to its commit.
            Some("schemas-v2") => {
                repo.git(&["tag", "-a", "schemas-v2", "-m", "release 2"]);
                // A release whose schemas/ equals schemas-v2's is not checked twice.
                repo.write("README.md", "docs only\n");
                repo.commit("docs");
                repo.tag("schemas-v2.1");
            }
            Some(tag) => repo.tag(tag),
            None => {}
        }
    }
    repo.tag("unrelated-tag");
    // 300: compatible with HEAD (200), too short for schemas-v2 (400) and schemas-v1 (500).
    repo.write("schemas/shop/events/order.placed.json", &placed(300));
    let o = repo.compat(&["--against", "HEAD"]);
    assert_eq!(o.code, 1, "{:#?}\n{}{}", summary(&o), o.stdout, o.stderr);
    let mut versions: Vec<Option<&str>> = failing(&o)
        .iter()
        .map(|f| f.against_version.as_deref())
        .collect();
    versions.sort();
    versions.dedup();
    assert_eq!(
        versions,
        [Some("schemas-v1"), Some("schemas-v2")],
        "{:#?}",
        summary(&o)
    );
    // Another tag glob finds no release: only HEAD is checked, which holds.
    let o = repo.compat(&["--against", "HEAD", "--release-tags", "v*"]);
    assert_eq!(o.code, 0, "{:#?}\n{}", summary(&o), o.stderr);
    assert!(
        o.stderr.contains("no release tag matching `v*`"),
        "{}",
        o.stderr
    );
    // The --mode override makes order.shipped transitive too; it did not change.
    assert_eq!(
        repo.compat(&["--against", "HEAD", "--mode", "backward"])
            .code,
        0
    );
}

/// The fixed scenario of the snapshots: one break (a new required property), one compatible
/// change (a new optional property on order.shipped), one event added, one removed (the
/// added one has another schema, so it is no rename).
fn snapshot_repo() -> Repo {
    let repo = Repo::new();
    repo.write(
        "schemas/shop/manifest.json",
        &manifest(&[ORDER_CANCELED_ENTRY]),
    );
    repo.write(
        "schemas/shop/events/order.placed.json",
        &order_placed(&OrderPlaced::default()),
    );
    repo.write("schemas/shop/events/order.shipped.json", ORDER_SHIPPED);
    repo.write("schemas/shop/events/order.canceled.json", ORDER_CANCELED);
    repo.commit("v1");
    break_required_currency(&repo);
    repo.write(
        "schemas/shop/events/order.shipped.json",
        &ORDER_SHIPPED.replace(
            r#""carrier": { "type": "string", "enum": ["dhl", "ups"] }"#,
            r#""carrier": { "type": "string", "enum": ["dhl", "ups"] },
    "tracking_url": { "type": "string" }"#,
        ),
    );
    repo.remove("schemas/shop/events/order.canceled.json");
    repo.write(
        "schemas/shop/manifest.json",
        &manifest(&[r#"    {
      "name": "order.refunded",
      "schema": "events/order.refunded.json",
      "channel": { "transport": "amqp", "exchange": "events", "routing_key": "order.refunded" },
      "version": 1,
      "producers": ["billing"],
      "consumers": ["mailer"]
    }"#]),
    );
    repo.write(
        "schemas/shop/events/order.refunded.json",
        &ORDER_CANCELED
            .replace("order.canceled", "order.refunded")
            .replace("OrderCanceled", "OrderRefunded")
            .replace("canceled", "refunded")
            .replace(
                r#""order_id": { "type": "string", "minLength": 1 }"#,
                r#""order_id": { "type": "string", "minLength": 1 },
    "refunded_amount": { "type": "integer", "minimum": 0 }"#,
            ),
    );
    repo
}

#[test]
fn snapshot_text() {
    let repo = snapshot_repo();
    let o = repo.compat(&["--against", "main"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    insta::assert_snapshot!("compat_text", redact_commits(&repo, &o.stdout));
}

#[test]
fn snapshot_markdown() {
    let repo = snapshot_repo();
    let o = repo.compat(&["--against", "main", "--format", "markdown"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    insta::assert_snapshot!("compat_markdown", redact_commits(&repo, &o.stdout));
}

#[test]
fn snapshot_diff_markdown() {
    let repo = snapshot_repo();
    let o = repo.diff(&["--against", "main"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    insta::assert_snapshot!("diff_markdown", redact_commits(&repo, &o.stdout));
    let json = repo.diff(&["--against", "main", "--format", "json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["systems"][0]["system"], "shop");
    // Breaking events first (the removed one and the new required property), then the rest.
    let events = v["systems"][0]["events"].as_array().expect("events");
    let order: Vec<(&str, bool)> = events
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap_or_default(),
                e["breaking"].as_array().is_some_and(|b| !b.is_empty()),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("order.canceled", true),
            ("order.placed", true),
            ("order.refunded", false),
            ("order.shipped", false)
        ]
    );
}

/// An allow-list with one entry, laid out one key per line: the entry object starts at 4:5,
/// its `reason` value at 8:17 and its `expires` value at 9:18.
fn allow_list(fingerprint: &str, reason: &str, expires: &str) -> String {
    format!(
        r#"{{
  "version": 1,
  "allow": [
    {{
      "fingerprint": "{fingerprint}",
      "rule": "EC-D003",
      "event": "shop/order.placed",
      "reason": {},
      "expires": "{expires}"
    }}
  ]
}}
"#,
        serde_json::Value::from(reason)
    )
}

fn only_failing_fingerprint(o: &xtask::compat::Outcome) -> String {
    let breaks = failing(o);
    assert_eq!(breaks.len(), 1, "{:#?}", summary(o));
    breaks[0].fingerprint.clone()
}

fn today() -> String {
    let d = xtask::compat::allow::today();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[test]
fn an_entry_does_not_accept_a_larger_break() {
    let repo = Repo::new();
    repo.write("schemas/shop/manifest.json", &manifest(&[]));
    repo.write("schemas/shop/events/order.shipped.json", ORDER_SHIPPED);
    let placed = |currency: &'static str| {
        order_placed(&OrderPlaced {
            properties: vec![("currency", currency)],
            ..OrderPlaced::default()
        })
    };
    let path = "schemas/shop/events/order.placed.json";
    repo.write(path, &placed(r#"{ "enum": ["EUR", "USD", "GBP"] }"#));
    repo.commit("currencies");
    repo.write(path, &placed(r#"{ "enum": ["EUR", "USD"] }"#));
    let o = repo.compat(&["--against", "HEAD"]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    let gbp = only_failing_fingerprint(&o);
    let reason = "no producer sends GBP (checked with checkout, #12)";
    repo.write(
        "compat-allow.json",
        &allow_list(&gbp, reason, "2099-12-31").replace("EC-D003", "EC-D013"),
    );
    let o = repo.compat(&["--against", "HEAD"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    // The same break, the enum reordered: still the accepted one.
    repo.write(path, &placed(r#"{ "enum": ["USD", "EUR"] }"#));
    assert_eq!(repo.compat(&["--against", "HEAD"]).code, 0);
    // USD removed too: a new break the entry does not cover, and no old reason beside it.
    repo.write(path, &placed(r#"{ "enum": ["EUR"] }"#));
    let o = repo.compat(&["--against", "HEAD"]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert_ne!(only_failing_fingerprint(&o), gbp);
    assert!(!o.stdout.contains(reason), "{}", o.stdout);
    assert!(o.stderr.contains("stale entry"), "{}", o.stderr);
}

#[test]
fn placeholder_reasons_are_refused_with_their_position() {
    let repo = Repo::with_catalog();
    break_required_currency(&repo);
    let fingerprint = only_failing_fingerprint(&repo.compat(&["--against", "HEAD"]));
    for reason in [
        "",
        "   ",
        xtask::compat::allow::PLACEHOLDER_REASON,
        "why this break is safe (who checked which consumers)",
        "TODO",
        "todo: ask billing",
        "FIXME later",
        "TBD",
        "XXX: check",
    ] {
        repo.write(
            "compat-allow.json",
            &allow_list(&fingerprint, reason, "2099-12-31"),
        );
        let o = repo.compat(&["--against", "HEAD"]);
        assert_eq!(o.code, 3, "{reason:?}: {}", o.stderr);
        let expected = format!("compat-allow.json:8:17: entry `{fingerprint}` (EC-D003, shop/order.placed): the reason ");
        assert!(o.stderr.contains(&expected), "{reason:?}:\n{}", o.stderr);
        assert!(o.stderr.contains("say why it is safe"), "{}", o.stderr);
    }
    // A reason that only mentions a placeholder word later is a reason.
    repo.write(
        "compat-allow.json",
        &allow_list(
            &fingerprint,
            "billing sends currency since 2.3 (its TODO list is done)",
            "2099-12-31",
        ),
    );
    assert_eq!(repo.compat(&["--against", "HEAD"]).code, 0);
}

#[test]
fn expires_is_required_and_enforced() {
    let repo = Repo::with_catalog();
    break_required_currency(&repo);
    let fingerprint = only_failing_fingerprint(&repo.compat(&["--against", "HEAD"]));
    let reason = "billing already sends currency (checked with the billing team)";
    repo.write(
        "compat-allow.json",
        &allow_list(&fingerprint, reason, "2000-01-01"),
    );
    let o = repo.compat(&["--against", "HEAD"]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    let expected = format!(
        "compat-allow.json:9:18: entry `{fingerprint}` (EC-D003, shop/order.placed) expired on 2000-01-01: the break is no longer accepted"
    );
    assert!(o.stderr.contains(&expected), "{}", o.stderr);
    // The changelog reads the same allow-list and refuses it the same way.
    assert_eq!(repo.diff(&["--against", "HEAD"]).code, 3);
    // The last day still holds.
    repo.write(
        "compat-allow.json",
        &allow_list(&fingerprint, reason, &today()),
    );
    let o = repo.compat(&["--against", "HEAD"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // No `expires` at all.
    let text = allow_list(&fingerprint, reason, "2099-12-31")
        .replace(",\n      \"expires\": \"2099-12-31\"", "");
    repo.write("compat-allow.json", &text);
    let o = repo.compat(&["--against", "HEAD"]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!(
            "compat-allow.json:4:5: entry `{fingerprint}` (EC-D003, shop/order.placed) has no `expires`"
        )),
        "{}",
        o.stderr
    );
}

#[test]
fn suggest_allow_write_merges_into_the_allow_list() {
    let repo = Repo::with_catalog();
    break_required_currency(&repo);
    let existing = allow_list(
        "ec2-00000000000000aa",
        "an earlier accepted break (checked with billing)",
        "2099-12-31",
    );
    repo.write("compat-allow.json", &existing);
    let o = repo.compat(&["--against", "HEAD", "--suggest-allow", "--write"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains("compat-allow.json: added 1 entry"),
        "{}",
        o.stderr
    );
    let fingerprint = only_failing_fingerprint(&o);
    let written = std::fs::read_to_string(repo.path("compat-allow.json")).expect("written");
    let v: serde_json::Value = serde_json::from_str(&written).expect("JSON");
    let allow = v["allow"].as_array().expect("allow");
    assert_eq!(allow.len(), 2, "{written}");
    assert_eq!(
        allow[0]["fingerprint"], "ec2-00000000000000aa",
        "kept first"
    );
    assert_eq!(
        allow[0]["reason"],
        "an earlier accepted break (checked with billing)"
    );
    assert_eq!(allow[1]["fingerprint"], fingerprint.as_str());
    assert_eq!(allow[1]["rule"], "EC-D003");
    assert_eq!(allow[1]["event"], "shop/order.placed");
    assert_eq!(allow[1]["reason"], xtask::compat::allow::PLACEHOLDER_REASON);
    assert!(allow[1]["expires"]
        .as_str()
        .is_some_and(|d| d > today().as_str()));
    assert!(!repo.path(".compat-allow.json.tmp").exists());
    // Left as written, the placeholder is refused: CI cannot pass by pasting.
    let o = repo.compat(&["--against", "HEAD"]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(
        o.stderr.contains("the reason is a placeholder"),
        "{}",
        o.stderr
    );
    // Once someone writes the reason, the break is accepted.
    repo.write(
        "compat-allow.json",
        &written.replace(
            xtask::compat::allow::PLACEHOLDER_REASON,
            "billing already sends currency (checked with the billing team)",
        ),
    );
    let o = repo.compat(&["--against", "HEAD"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

#[test]
fn suggest_allow_write_creates_the_allow_list() {
    let repo = Repo::with_catalog();
    break_required_currency(&repo);
    let o = repo.compat(&["--against", "HEAD", "--suggest-allow", "--write"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let written = std::fs::read_to_string(repo.path("compat-allow.json")).expect("written");
    let v: serde_json::Value = serde_json::from_str(&written).expect("JSON");
    assert_eq!(v["version"], 1);
    assert_eq!(v["allow"].as_array().map(Vec::len), Some(1), "{written}");
    // --write only goes with --suggest-allow, and not with --no-allow.
    assert_eq!(repo.compat(&["--against", "HEAD", "--write"]).code, 3);
    let o = repo.compat(&[
        "--against",
        "HEAD",
        "--suggest-allow",
        "--write",
        "--no-allow",
    ]);
    assert_eq!(o.code, 3);
}

/// The catalog with `order.canceled`, then the working tree replacing it by `order.refunded`
/// whose schema is `order.canceled`'s with its own `$id`, `title` and `description` (plus
/// `extra_required`).
fn renamed_repo(extra_required: &str) -> Repo {
    let repo = Repo::new();
    repo.write(
        "schemas/shop/manifest.json",
        &manifest(&[ORDER_CANCELED_ENTRY]),
    );
    repo.write(
        "schemas/shop/events/order.placed.json",
        &order_placed(&OrderPlaced::default()),
    );
    repo.write("schemas/shop/events/order.shipped.json", ORDER_SHIPPED);
    repo.write("schemas/shop/events/order.canceled.json", ORDER_CANCELED);
    repo.commit("v1");
    repo.remove("schemas/shop/events/order.canceled.json");
    repo.write(
        "schemas/shop/manifest.json",
        &manifest(&[&ORDER_CANCELED_ENTRY.replace("order.canceled", "order.refunded")]),
    );
    repo.write(
        "schemas/shop/events/order.refunded.json",
        &ORDER_CANCELED
            .replace("order.canceled", "order.refunded")
            .replace("OrderCanceled", "OrderRefunded")
            .replace("An order was canceled.", "An order was refunded.")
            .replace(
                r#"["order_id"]"#,
                &format!(r#"["order_id"{extra_required}]"#),
            ),
    );
    repo
}

#[test]
fn a_renamed_event_is_one_finding_with_migration_advice() {
    let repo = renamed_repo("");
    let o = repo.compat(&["--against", "main"]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    let report = o.report.as_ref().expect("a report");
    let rules: Vec<&str> = report.findings.iter().map(|f| f.rule.0).collect();
    assert_eq!(rules, ["EC-T006"], "{:#?}", summary(&o));
    let f = &report.findings[0];
    assert_eq!(f.event.as_deref(), Some("order.canceled"));
    assert!(
        f.message
            .contains("looks like a rename of `order.canceled` (same schema)"),
        "{}",
        f.message
    );
    assert!(f.counterexample.is_some());
    assert!(
        o.stdout.contains("  fix: consumers of the old name no longer receive it: publish under both names for one release"),
        "{}",
        o.stdout
    );
    let json = repo.compat(&["--against", "main", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(v["findings"][0]["rule"], "EC-T006");
    let renamed: Vec<(&str, &str)> = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| Some((e["event"].as_str()?, e["renamed"].as_str()?)))
        .collect();
    assert_eq!(
        renamed,
        [
            ("order.canceled", "order.refunded"),
            ("order.refunded", "order.canceled")
        ]
    );
    let md = repo.compat(&["--against", "main", "--format", "markdown"]);
    assert!(
        md.stdout
            .contains("Rollout: looks like a rename to `order.refunded` (same schema); consumers of the old name"),
        "{}",
        md.stdout
    );
    let diff = repo.diff(&["--against", "main"]);
    assert!(
        diff.stdout
            .contains("**Rollout:** looks like a rename of `order.canceled` (same schema); "),
        "{}",
        diff.stdout
    );
}

#[test]
fn a_removed_event_is_located_in_the_old_revision() {
    // Not a rename: the added event's schema differs.
    let repo = renamed_repo(r#", "reason""#);
    let o = repo.compat(&["--against", "main"]);
    let mut rules: Vec<&str> = failing(&o).iter().map(|f| f.rule.0).collect();
    rules.sort();
    assert_eq!(rules, ["EC-T001"], "{:#?}", summary(&o));
    let short = repo
        .git(&["rev-parse", "--short=10", "main"])
        .trim()
        .to_owned();
    let removed = format!(
        "{short}:schemas/shop/manifest.json:26:5: ERROR EC-T001 [transport] shop/order.canceled"
    );
    assert!(o.stdout.contains(&removed), "{removed}\n{}", o.stdout);
    let diff = repo.diff(&["--against", "main"]);
    assert!(
        diff.stdout
            .contains(&format!("({short}:schemas/shop/manifest.json:26:5)")),
        "{}",
        diff.stdout
    );
}
