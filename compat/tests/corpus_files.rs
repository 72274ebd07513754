//! The file corpus: `tests/corpus/<family>/<case>.json`, each an old and a new schema with the
//! BACKWARD and FORWARD verdicts for generated producers (and for `--semantics set` where they
//! differ) that `tests/corpus/derive.py` established by counterexample search under two
//! independent validators (Python's `jsonschema` and the `jsonschema` crate), and the
//! counterexample both agree on for each incompatible direction.
//!
//! The checker runs on every case under both semantics. A decided verdict that differs from
//! the expectation fails; "unknown" and refusals (`check_files` errors, the CLI's exit 3) are
//! counted per family, printed, and held under the limits below. Every recorded counterexample
//! and every counterexample the checker reports is re-validated here with the `jsonschema`
//! crate in the schema's own dialect; `recorded_counterexamples_hold_under_python` does the
//! same with Python's validator.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use event_contracts_compat::{check_files, Category, Mode, Options, Semantics, Side, Verdict};
use serde_json::Value;

/// Most cases (percent of all) the checker may leave unknown under either semantics: 1 of 165
/// (0.6%), `unevaluatedProperties` beside a `oneOf`, whose evaluated set depends on which
/// branch holds and which compat names as too costly to model. Issue 14's target is at most 2%.
const MAX_UNKNOWN_PERCENT: f64 = 0.7;
struct Case {
    family: String,
    name: String,
    old: Value,
    new: Value,
    /// (BACKWARD, FORWARD) for generated producers, then for `--semantics set`.
    generated: (Verdict, Verdict),
    set: (Verdict, Verdict),
    /// `backward`, `forward`, `set_backward`, `set_forward` → instance.
    counterexamples: BTreeMap<String, Value>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn verdict(v: &Value, file: &Path, key: &str) -> Verdict {
    match v.as_str() {
        Some("compatible") => Verdict::Compatible,
        Some("incompatible") => Verdict::Incompatible,
        other => panic!("{}: `{key}` is {other:?}", file.display()),
    }
}

fn cases() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .flat_map(|d| {
            std::fs::read_dir(d)
                .expect("a family directory")
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect::<Vec<_>>()
        })
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(f).expect("readable"))
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let generated = (
                verdict(&v["backward"], f, "backward"),
                verdict(&v["forward"], f, "forward"),
            );
            let set = match v.get("set") {
                Some(s) => (
                    verdict(&s["backward"], f, "set.backward"),
                    verdict(&s["forward"], f, "set.forward"),
                ),
                None => generated,
            };
            assert!(
                v["why"].as_str().is_some_and(|w| !w.is_empty()),
                "{}: no `why`",
                f.display()
            );
            Case {
                family: f
                    .parent()
                    .and_then(Path::file_name)
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                name: f
                    .file_stem()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                old: with_dialect(&v["old"]),
                new: with_dialect(&v["new"]),
                generated,
                set,
                counterexamples: v
                    .get("counterexamples")
                    .and_then(Value::as_object)
                    .map(|m| m.iter().map(|(k, x)| (k.clone(), x.clone())).collect())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// The schema as the validators and the checker see it: 2020-12 unless it names its dialect.
fn with_dialect(schema: &Value) -> Value {
    let mut s = schema.clone();
    if let Value::Object(m) = &mut s {
        m.entry("$schema")
            .or_insert_with(|| "https://json-schema.org/draft/2020-12/schema".into());
    }
    s
}

/// The `jsonschema` crate's validator in the schema's own dialect.
fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::validator_for(schema).expect("the case's schema compiles")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Decided,
    Unknown,
    Wrong,
    Refused,
}

#[derive(Default)]
struct Tally {
    decided: usize,
    wrong: usize,
    unknown: usize,
    refused: usize,
}

#[test]
fn corpus_files() {
    let cases = cases();
    assert!(cases.len() >= 150, "{} cases", cases.len());
    let mut failures: Vec<String> = Vec::new();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for case in &cases {
        let id = format!("{}/{}", case.family, case.name);
        let (vo, vn) = (validator(&case.old), validator(&case.new));
        for (key, instance) in &case.counterexamples {
            let (acc, rej) = if key.ends_with("backward") {
                (&vo, &vn)
            } else {
                (&vn, &vo)
            };
            if !acc.is_valid(instance) || rej.is_valid(instance) {
                failures.push(format!(
                    "{id}: recorded {key} counterexample {instance} does not hold"
                ));
            }
        }
        let (old, new) = (case.old.to_string(), case.new.to_string());
        let mut outcome = Outcome::Decided;
        let mut unknown_at: Vec<String> = Vec::new();
        for (semantics, want) in [
            (Semantics::Generated, case.generated),
            (Semantics::Set, case.set),
        ] {
            let options = Options {
                semantics,
                ..Options::default()
            };
            let report =
                match check_files(("old.json", &old), ("new.json", &new), Mode::Full, &options) {
                    Ok(r) => r,
                    Err(e) => {
                        if outcome != Outcome::Refused {
                            println!("refused: {id}: {e}");
                        }
                        outcome = outcome.max(Outcome::Refused);
                        continue;
                    }
                };
            let summary = &report.events[0];
            for (direction, got, expected) in [
                ("BACKWARD", summary.backward, want.0),
                ("FORWARD", summary.forward, want.1),
            ] {
                if got == Verdict::Unknown {
                    outcome = outcome.max(Outcome::Unknown);
                    unknown_at.push(format!("{semantics:?} {direction}"));
                } else if got != expected {
                    outcome = outcome.max(Outcome::Wrong);
                    failures.push(format!(
                        "{id} [{semantics:?} {direction}]: {got:?}, expected {expected:?}\n{}",
                        event_contracts_compat::render::text(&report)
                    ));
                }
            }
            for f in &report.findings {
                if f.verdict == Verdict::Unknown && f.undecided_keyword.is_none() {
                    failures.push(format!("{id}: unknown {} names no keyword", f.rule.0));
                }
                // Every unknown left says why: too costly, or undecidable.
                if f.verdict == Verdict::Unknown {
                    let text = event_contracts_compat::render::text(&report);
                    if !text.contains("too costly") && !text.contains("undecidable") {
                        failures.push(format!("{id}: unknown {} says not why\n{text}", f.rule.0));
                    }
                }
                if f.verdict == Verdict::Incompatible && f.category == Category::Data {
                    let Some(cx) = &f.counterexample else {
                        failures.push(format!("{id}: {} has no counterexample", f.rule.0));
                        continue;
                    };
                    let (acc, rej) = match cx.accepted_by {
                        Side::Old => (&vo, &vn),
                        Side::New => (&vn, &vo),
                    };
                    if !acc.is_valid(&cx.message) || rej.is_valid(&cx.message) {
                        failures.push(format!(
                            "{id}: {} counterexample {} does not hold in the schemas' dialects",
                            f.rule.0, cx.message
                        ));
                    }
                }
            }
        }
        if outcome == Outcome::Unknown {
            println!("unknown: {id} ({})", unknown_at.join(", "));
        }
        let t = tallies.entry(case.family.clone()).or_default();
        match outcome {
            Outcome::Decided => t.decided += 1,
            Outcome::Unknown => t.unknown += 1,
            Outcome::Wrong => t.wrong += 1,
            Outcome::Refused => t.refused += 1,
        }
    }
    let mut total = Tally::default();
    println!(
        "{:<24} {:>7} {:>7} {:>7} {:>7}",
        "family", "decided", "wrong", "unknown", "refused"
    );
    for (family, t) in &tallies {
        println!(
            "{family:<24} {:>7} {:>7} {:>7} {:>7}",
            t.decided, t.wrong, t.unknown, t.refused
        );
        total.decided += t.decided;
        total.wrong += t.wrong;
        total.unknown += t.unknown;
        total.refused += t.refused;
    }
    println!(
        "{:<24} {:>7} {:>7} {:>7} {:>7}",
        "total", total.decided, total.wrong, total.unknown, total.refused
    );
    assert!(
        failures.is_empty(),
        "{} wrong verdict(s) or counterexample(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    let unknown_percent = 100.0 * total.unknown as f64 / cases.len() as f64;
    assert!(
        unknown_percent <= MAX_UNKNOWN_PERCENT,
        "{unknown_percent:.1}% of the cases unknown (at most {MAX_UNKNOWN_PERCENT}%)"
    );
    // No case is refused (exit 3): each is read in its own `$schema` dialect.
    assert_eq!(total.refused, 0, "cases refused");
}

/// Every recorded counterexample re-validated with Python's `jsonschema`, from the pinned venv
/// `.ci/pyvenv.sh` keeps in target/compat-corpus-venv (`derive.py --verify-recorded`).
#[test]
fn recorded_counterexamples_hold_under_python() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let requirements = corpus_dir().join("requirements.txt");
    let pins: Vec<String> = std::fs::read_to_string(&requirements)
        .expect("requirements.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let out = std::process::Command::new("bash")
        .arg(root.join(".ci/pyvenv.sh"))
        .arg("target/compat-corpus-venv")
        .args(&pins)
        .current_dir(&root)
        .output()
        .expect("bash runs .ci/pyvenv.sh");
    assert!(
        out.status.success(),
        "installing {pins:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let venv = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let run = std::process::Command::new(venv.join("bin/python"))
        .arg(corpus_dir().join("derive.py"))
        .arg("--verify-recorded")
        .current_dir(&root)
        .output()
        .expect("the venv's python runs");
    assert!(
        run.status.success(),
        "derive.py --verify-recorded:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let said = String::from_utf8_lossy(&run.stdout);
    let count: usize = said
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(count >= 100, "only {count} counterexamples checked: {said}");
}

/// Odd values of the object keywords this checker folds: a verdict or a located refusal,
/// never a panic, and no huge object built for a huge property count.
#[test]
fn odd_object_keywords_give_a_verdict_or_a_refusal() {
    let odd = [
        r#"{"type":"object","patternProperties":{"(":{"type":"string"}}}"#,
        r#"{"type":"object","patternProperties":{"^(a)\\1":{"type":"string"}}}"#,
        r#"{"type":"object","patternProperties":[]}"#,
        r#"{"type":"object","minProperties":"2","maxProperties":-1}"#,
        r#"{"type":"object","minProperties":4000000000,"maxProperties":4000000000}"#,
        r#"{"type":"object","dependentSchemas":{"a":5,"b":false,"c":{"required":"x"}}}"#,
        r#"{"type":"object","unevaluatedProperties":5}"#,
        r#"{"not":{"not":{"not":{"type":"integer"}}}}"#,
        r#"{"not":{"type":["integer","frog"]}}"#,
        r#"{"type":"object","properties":{"a":{"type":"string"}},"allOf":[{"patternProperties":{"^a":{"maxLength":1}}}],"additionalProperties":false,"unevaluatedProperties":false}"#,
    ];
    let plain = r#"{"type":"object","properties":{"a":{"type":"string"}}}"#;
    for schema in odd {
        for (old, new) in [(plain, schema), (schema, plain), (schema, schema)] {
            for semantics in [Semantics::Generated, Semantics::Set] {
                let options = Options {
                    semantics,
                    ..Options::default()
                };
                match check_files(("old.json", old), ("new.json", new), Mode::Full, &options) {
                    Ok(r) => assert_eq!(r.events.len(), 1, "{old} -> {new}"),
                    Err(e) => assert!(e.to_string().contains(".json:"), "{old} -> {new}: {e}"),
                }
            }
        }
    }
}
