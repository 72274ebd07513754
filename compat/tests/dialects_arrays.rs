//! Table-driven cases for issue 14 part A: each schema read in its `$schema` dialect, the
//! array applicators (`prefixItems`, tuple `items` + `additionalItems`, `items: false` after
//! a prefix, `contains`/`minContains`/`maxContains`, `unevaluatedItems`), the two shapes
//! that were "unknown" and the `additionalProperties` defect of the generated semantics.
//! Unlike `corpus.rs` the schemas are used as written (no `$schema` added), and every
//! counterexample is re-checked by validators of each side's own draft.

use event_contracts_compat::dialect::Dialect;
use event_contracts_compat::{
    check_files, render, Category, Finding, Mode, Options, Semantics, Side, Verdict,
};
use serde_json::Value;

struct Case {
    name: &'static str,
    old: &'static str,
    new: &'static str,
    /// Data rules expected (sorted or not).
    rules: &'static [&'static str],
    /// BACKWARD and FORWARD verdicts in the generated semantics: `C`, `I` or `U`.
    generated: (char, char),
    /// The same under `--semantics set`.
    set: (char, char),
    /// For `U`: the keyword every unknown finding must name.
    undecided: Option<&'static str>,
}

const fn c(
    name: &'static str,
    old: &'static str,
    new: &'static str,
    rules: &'static [&'static str],
    generated: (char, char),
    set: (char, char),
) -> Case {
    Case {
        name,
        old,
        new,
        rules,
        generated,
        set,
        undecided: None,
    }
}

const fn undecided(mut case: Case, keyword: &'static str) -> Case {
    case.undecided = Some(keyword);
    case
}

static CASES: &[Case] = &[
    // --- dialects ----------------------------------------------------------------------
    c(
        "draft-07 tuple items: additionalItems false -> integer lets longer arrays through",
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"array","items":[{"type":"string"}],"additionalItems":false}"#,
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"array","items":[{"type":"string"}],"additionalItems":{"type":"integer"}}"#,
        &["EC-D027"],
        ('C', 'I'),
        ('C', 'I'),
    ),
    c(
        "draft-07 tuple items: a position's type changed",
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"array","items":[{"type":"string"},{"type":"integer"}]}"#,
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"array","items":[{"type":"string"},{"type":"string"}]}"#,
        &["EC-D012"],
        ('I', 'I'),
        ('I', 'I'),
    ),
    c(
        "draft-07 tuple + additionalItems false is 2020-12 prefixItems + items false",
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"array","items":[{"type":"string"},{"type":"integer"}],"additionalItems":false}"#,
        r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}"#,
        &[],
        ('C', 'C'),
        ('C', 'C'),
    ),
    c(
        "2019-09 tuple items + unevaluatedItems false is additionalItems false",
        r#"{"$schema":"https://json-schema.org/draft/2019-09/schema","type":"array","items":[{"type":"string"}],"unevaluatedItems":false}"#,
        r#"{"$schema":"https://json-schema.org/draft/2019-09/schema","type":"array","items":[{"type":"string"}],"additionalItems":false}"#,
        &[],
        ('C', 'C'),
        ('C', 'C'),
    ),
    c(
        "draft-07 object items is every item, as in 2020-12",
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"array","items":{"type":"string"}}"#,
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"array","items":{"type":"string","maxLength":2}}"#,
        &["EC-D016"],
        ('I', 'C'),
        ('I', 'C'),
    ),
    c(
        "draft-04 boolean exclusiveMaximum dropped widens the range",
        r#"{"$schema":"http://json-schema.org/draft-04/schema#","type":"number","maximum":10,"exclusiveMaximum":true}"#,
        r#"{"$schema":"http://json-schema.org/draft-04/schema#","type":"number","maximum":10}"#,
        &["EC-D023"],
        ('C', 'I'),
        ('C', 'I'),
    ),
    c(
        "draft-04 boolean exclusiveMinimum added narrows the range",
        r#"{"$schema":"http://json-schema.org/draft-04/schema#","type":"integer","minimum":0}"#,
        r#"{"$schema":"http://json-schema.org/draft-04/schema#","type":"integer","minimum":0,"exclusiveMinimum":true}"#,
        &["EC-D022"],
        ('I', 'C'),
        ('I', 'C'),
    ),
    c(
        "draft-04 exclusiveMaximum true is draft-06's numeric exclusiveMaximum",
        r#"{"$schema":"http://json-schema.org/draft-04/schema#","type":"number","maximum":10,"exclusiveMaximum":true}"#,
        r#"{"$schema":"http://json-schema.org/draft-06/schema#","type":"number","exclusiveMaximum":10}"#,
        &[],
        ('C', 'C'),
        ('C', 'C'),
    ),
    c(
        "draft-04 id is an identifier, not a constraint",
        r#"{"$schema":"http://json-schema.org/draft-04/schema#","id":"http://example.com/a.json","type":"string"}"#,
        r#"{"$schema":"http://json-schema.org/draft-04/schema#","id":"http://example.com/b.json","type":"string"}"#,
        &[],
        ('C', 'C'),
        ('C', 'C'),
    ),
    c(
        "draft-04 has no const: removing it changes nothing",
        r#"{"$schema":"http://json-schema.org/draft-04/schema#","type":"string","const":"a"}"#,
        r#"{"$schema":"http://json-schema.org/draft-04/schema#","type":"string"}"#,
        &[],
        ('C', 'C'),
        ('C', 'C'),
    ),
    c(
        "draft-06 const removed widens the values",
        r#"{"$schema":"http://json-schema.org/draft-06/schema#","type":"string","const":"a"}"#,
        r#"{"$schema":"http://json-schema.org/draft-06/schema#","type":"string"}"#,
        &["EC-D014"],
        ('C', 'I'),
        ('C', 'I'),
    ),
    c(
        "draft-04 has no contains: adding it changes nothing",
        r#"{"$schema":"http://json-schema.org/draft-04/schema#","type":"array"}"#,
        r#"{"$schema":"http://json-schema.org/draft-04/schema#","type":"array","contains":{"type":"string"}}"#,
        &[],
        ('C', 'C'),
        ('C', 'C'),
    ),
    c(
        "draft-07 has no minContains: raising it changes nothing",
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"array","contains":{"type":"string"}}"#,
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"array","contains":{"type":"string"},"minContains":3}"#,
        &[],
        ('C', 'C'),
        ('C', 'C'),
    ),
    c(
        "draft-07 dependencies (a list) removed",
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"dependencies":{"a":["b"]}}"#,
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}"#,
        &["EC-D037"],
        ('C', 'I'),
        ('C', 'I'),
    ),
    c(
        "draft-07 dependencies (a list) added",
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}"#,
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"dependencies":{"a":["b"]}}"#,
        &["EC-D036"],
        ('I', 'C'),
        ('I', 'C'),
    ),
    c(
        "draft-07 dependencies is 2019-09 dependentRequired",
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"string"}},"dependencies":{"a":["b"]}}"#,
        r#"{"$schema":"https://json-schema.org/draft/2019-09/schema","type":"object","properties":{"a":{"type":"string"}},"dependentRequired":{"a":["b"]}}"#,
        &[],
        ('C', 'C'),
        ('C', 'C'),
    ),
    c(
        "draft-07 $ref hides its siblings: a maxLength beside it never applied",
        r##"{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"s":{"type":"string"}},"type":"object","properties":{"a":{"$ref":"#/definitions/s","maxLength":3}}}"##,
        r##"{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"s":{"type":"string"}},"type":"object","properties":{"a":{"$ref":"#/definitions/s"}}}"##,
        &[],
        ('C', 'C'),
        ('C', 'C'),
    ),
    c(
        "2020-12 $ref keeps its siblings: a maxLength beside it applies",
        r##"{"$defs":{"s":{"type":"string"}},"type":"object","properties":{"a":{"$ref":"#/$defs/s","maxLength":3}}}"##,
        r##"{"$defs":{"s":{"type":"string"}},"type":"object","properties":{"a":{"$ref":"#/$defs/s"}}}"##,
        &["EC-D017"],
        ('C', 'I'),
        ('C', 'I'),
    ),
    c(
        "draft-07 definitions are 2020-12 $defs",
        r##"{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"s":{"type":"string"}},"type":"object","properties":{"a":{"$ref":"#/definitions/s"}}}"##,
        r##"{"$defs":{"s":{"type":"string"}},"type":"object","properties":{"a":{"$ref":"#/$defs/s"}}}"##,
        &[],
        ('C', 'C'),
        ('C', 'C'),
    ),
    // --- prefixItems / tuple items / items: false --------------------------------------
    c(
        "prefixItems added to an array of anything",
        r#"{"type":"array"}"#,
        r#"{"type":"array","prefixItems":[{"type":"string"}]}"#,
        &["EC-D010"],
        ('I', 'C'),
        ('I', 'C'),
    ),
    c(
        "prefixItems removed",
        r#"{"type":"array","prefixItems":[{"type":"string"}]}"#,
        r#"{"type":"array"}"#,
        &["EC-D011"],
        ('C', 'I'),
        ('C', 'I'),
    ),
    c(
        "a prefix item narrowed",
        r#"{"type":"array","prefixItems":[{"type":["string","integer"]},{"type":"boolean"}]}"#,
        r#"{"type":"array","prefixItems":[{"type":"string"},{"type":"boolean"}]}"#,
        &["EC-D010"],
        ('I', 'C'),
        ('I', 'C'),
    ),
    c(
        "items: false added after a prefix",
        r#"{"type":"array","prefixItems":[{"type":"string"}]}"#,
        r#"{"type":"array","prefixItems":[{"type":"string"}],"items":false}"#,
        &["EC-D026"],
        ('I', 'C'),
        ('I', 'C'),
    ),
    c(
        "items: false removed after a prefix",
        r#"{"type":"array","prefixItems":[{"type":"string"}],"items":false}"#,
        r#"{"type":"array","prefixItems":[{"type":"string"}]}"#,
        &["EC-D027"],
        ('C', 'I'),
        ('C', 'I'),
    ),
    c(
        "the tail after a prefix changed type",
        r#"{"type":"array","prefixItems":[{"type":"string"}],"items":{"type":"integer"}}"#,
        r#"{"type":"array","prefixItems":[{"type":"string"}],"items":{"type":"string"}}"#,
        &["EC-D012"],
        ('I', 'I'),
        ('I', 'I'),
    ),
    c(
        "a prefix entry equal to the tail is no change",
        r#"{"type":"array","prefixItems":[{"type":"string"}],"items":{"type":"integer"}}"#,
        r#"{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":{"type":"integer"}}"#,
        &[],
        ('C', 'C'),
        ('C', 'C'),
    ),
    c(
        "a prefix item appended before items: false",
        r#"{"type":"array","prefixItems":[{"type":"string"}],"items":false}"#,
        r#"{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}"#,
        &["EC-D027"],
        ('C', 'I'),
        ('C', 'I'),
    ),
    c(
        "a prefix item past maxItems never applies",
        r#"{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"maxItems":1}"#,
        r#"{"type":"array","prefixItems":[{"type":"string"},{"type":"boolean"}],"maxItems":1}"#,
        &[],
        ('C', 'C'),
        ('C', 'C'),
    ),
    c(
        "a prefix under an object property",
        r#"{"type":"object","properties":{"p":{"type":"array","prefixItems":[{"type":"number"},{"type":"number"}],"items":false}},"required":["p"]}"#,
        r#"{"type":"object","properties":{"p":{"type":"array","prefixItems":[{"type":"number"},{"type":"number","minimum":0}],"items":false}},"required":["p"]}"#,
        &["EC-D022"],
        ('I', 'C'),
        ('I', 'C'),
    ),
    // --- contains ------------------------------------------------------------------------
    c(
        "contains added",
        r#"{"type":"array","items":{"type":"integer"}}"#,
        r#"{"type":"array","items":{"type":"integer"},"contains":{"minimum":5}}"#,
        &["EC-D060"],
        ('I', 'C'),
        ('I', 'C'),
    ),
    c(
        "contains removed",
        r#"{"type":"array","items":{"type":"integer"},"contains":{"minimum":5}}"#,
        r#"{"type":"array","items":{"type":"integer"}}"#,
        &["EC-D061"],
        ('C', 'I'),
        ('C', 'I'),
    ),
    c(
        "minContains raised",
        r#"{"type":"array","contains":{"type":"string"}}"#,
        r#"{"type":"array","contains":{"type":"string"},"minContains":2}"#,
        &["EC-D062"],
        ('I', 'C'),
        ('I', 'C'),
    ),
    c(
        "maxContains added",
        r#"{"type":"array","contains":{"type":"string"}}"#,
        r#"{"type":"array","contains":{"type":"string"},"maxContains":1}"#,
        &["EC-D062"],
        ('I', 'C'),
        ('I', 'C'),
    ),
    c(
        "maxContains removed",
        r#"{"type":"array","contains":{"type":"string"},"maxContains":1}"#,
        r#"{"type":"array","contains":{"type":"string"}}"#,
        &["EC-D062"],
        ('C', 'I'),
        ('C', 'I'),
    ),
    c(
        "contains schema widened",
        r#"{"type":"array","contains":{"type":"string","minLength":2}}"#,
        r#"{"type":"array","contains":{"type":"string"}}"#,
        &["EC-D062"],
        ('C', 'I'),
        ('C', 'I'),
    ),
    c(
        "contains schema narrowed",
        r#"{"type":"array","contains":{"type":"string"}}"#,
        r#"{"type":"array","contains":{"type":"string","enum":["a"]}}"#,
        &["EC-D062"],
        ('I', 'C'),
        ('I', 'C'),
    ),
    c(
        "contains every non-empty array of its items already meets",
        r#"{"type":"array","items":{"type":"string"},"minItems":1}"#,
        r#"{"type":"array","items":{"type":"string"},"minItems":1,"contains":{"type":"string"}}"#,
        &["EC-D060"],
        ('C', 'C'),
        ('C', 'C'),
    ),
    c(
        "contains a possibly empty array of its items misses",
        r#"{"type":"array","items":{"type":"string"}}"#,
        r#"{"type":"array","items":{"type":"string"},"contains":{"type":"string"}}"#,
        &["EC-D060"],
        ('I', 'C'),
        ('I', 'C'),
    ),
    c(
        "minContains 0 alone accepts every array",
        r#"{"type":"array"}"#,
        r#"{"type":"array","contains":{"type":"string"},"minContains":0}"#,
        &[],
        ('C', 'C'),
        ('C', 'C'),
    ),
    c(
        "maxContains already kept by maxItems",
        r#"{"type":"array","maxItems":2}"#,
        r#"{"type":"array","maxItems":2,"contains":{"type":"string"},"minContains":0,"maxContains":2}"#,
        &["EC-D060"],
        ('C', 'C'),
        ('C', 'C'),
    ),
    // --- unevaluatedItems ----------------------------------------------------------------
    c(
        "unevaluatedItems false after a prefix, nothing composing: items false",
        r#"{"type":"array","prefixItems":[{"type":"string"}]}"#,
        r#"{"type":"array","prefixItems":[{"type":"string"}],"unevaluatedItems":false}"#,
        &["EC-D026"],
        ('I', 'C'),
        ('I', 'C'),
    ),
    c(
        "unevaluatedItems schema changed, nothing composing",
        r#"{"type":"array","unevaluatedItems":{"type":"string"}}"#,
        r#"{"type":"array","unevaluatedItems":{"type":"integer"}}"#,
        &["EC-D012"],
        ('I', 'I'),
        ('I', 'I'),
    ),
    c(
        "unevaluatedItems beside items: every item is evaluated already",
        r#"{"type":"array","items":{"type":"string"}}"#,
        r#"{"type":"array","items":{"type":"string"},"unevaluatedItems":false}"#,
        &[],
        ('C', 'C'),
        ('C', 'C'),
    ),
    // An allOf of parts that compose nothing evaluates its longest prefix.
    c(
        "unevaluatedItems beside an allOf of plain parts is the tail after the merged prefix",
        r#"{"type":"array","allOf":[{"prefixItems":[{"type":"string"}]}]}"#,
        r#"{"type":"array","allOf":[{"prefixItems":[{"type":"string"}]}],"unevaluatedItems":false}"#,
        &["EC-D026"],
        ('I', 'C'),
        ('I', 'C'),
    ),
    undecided(
        c(
            "unevaluatedItems beside anyOf stays undecided, named",
            r#"{"type":"array","anyOf":[{"prefixItems":[{"type":"string"}]},{"items":{"type":"integer"}}]}"#,
            r#"{"type":"array","anyOf":[{"prefixItems":[{"type":"string"}]},{"items":{"type":"integer"}}],"unevaluatedItems":false}"#,
            &["EC-D040"],
            ('U', 'C'),
            ('U', 'C'),
        ),
        "unevaluatedItems",
    ),
    // --- the two easy shapes -------------------------------------------------------------
    c(
        "additionalProperties false on a schema without type",
        r#"{}"#,
        r#"{"additionalProperties":false}"#,
        &["EC-D006"],
        ('I', 'C'),
        ('I', 'C'),
    ),
    c(
        "additionalProperties false removed from a schema without type",
        r#"{"additionalProperties":false}"#,
        r#"{}"#,
        &["EC-D007"],
        ('C', 'I'),
        ('C', 'I'),
    ),
    c(
        "a false property removed from a closed object",
        r#"{"type":"object","properties":{"a":{"type":"string"},"b":false},"additionalProperties":false}"#,
        r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#,
        &["EC-D002"],
        ('C', 'C'),
        ('C', 'C'),
    ),
    c(
        "a false property removed from an open object",
        r#"{"type":"object","properties":{"a":{"type":"string"},"b":false}}"#,
        r#"{"type":"object","properties":{"a":{"type":"string"}}}"#,
        &["EC-D002"],
        ('C', 'C'),
        ('C', 'I'),
    ),
    // --- additionalProperties beside an added or removed property -------------------------
    c(
        "a property added beside an additionalProperties schema it contradicts",
        r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}"#,
        r#"{"type":"object","properties":{"a":{"type":"string"},"bar":{"type":"integer"}},"additionalProperties":{"type":"string"}}"#,
        &["EC-D001"],
        ('I', 'I'),
        ('I', 'I'),
    ),
    c(
        "a property added beside an additionalProperties schema it agrees with",
        r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}"#,
        r#"{"type":"object","properties":{"a":{"type":"string"},"bar":{"type":"string"}},"additionalProperties":{"type":"string"}}"#,
        &["EC-D001"],
        ('C', 'C'),
        ('C', 'C'),
    ),
    c(
        "a property removed beside an additionalProperties schema it contradicts",
        r#"{"type":"object","properties":{"a":{"type":"string"},"bar":{"type":"integer"}},"additionalProperties":{"type":"string"}}"#,
        r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}"#,
        &["EC-D002"],
        ('I', 'I'),
        ('I', 'I'),
    ),
];

fn verdict(c: char) -> Verdict {
    match c {
        'C' => Verdict::Compatible,
        'I' => Verdict::Incompatible,
        'U' => Verdict::Unknown,
        other => panic!("bad verdict {other}"),
    }
}

fn worst(a: Verdict, b: Verdict) -> Verdict {
    use Verdict::*;
    match (a, b) {
        (Incompatible, _) | (_, Incompatible) => Incompatible,
        (Unknown, _) | (_, Unknown) => Unknown,
        _ => Compatible,
    }
}

/// The side's validator, in the side's own draft.
fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .with_draft(Dialect::of(schema).draft())
        .should_validate_formats(true)
        .build(schema)
        .expect("compiles")
}

fn assert_counterexample_holds(case: &str, old: &Value, new: &Value, f: &Finding) {
    let Some(cx) = &f.counterexample else { return };
    let (vo, vn) = (validator(old), validator(new));
    let (acc, rej) = match cx.accepted_by {
        Side::Old => (&vo, &vn),
        Side::New => (&vn, &vo),
    };
    assert!(
        acc.is_valid(&cx.message) && !rej.is_valid(&cx.message),
        "{case}: {} counterexample {} does not separate the sides",
        f.rule.0,
        cx.message
    );
}

#[test]
fn cases() {
    let mut failures = Vec::new();
    for case in CASES {
        let (ov, nv): (Value, Value) = (
            serde_json::from_str(case.old).expect("case JSON"),
            serde_json::from_str(case.new).expect("case JSON"),
        );
        for (semantics, (b, f)) in [
            (Semantics::Generated, case.generated),
            (Semantics::Set, case.set),
        ] {
            let options = Options {
                semantics,
                ..Options::default()
            };
            for (mode, want) in [
                (Mode::Backward, verdict(b)),
                (Mode::Forward, verdict(f)),
                (Mode::Full, worst(verdict(b), verdict(f))),
            ] {
                let report = match check_files(
                    ("old.json", case.old),
                    ("new.json", case.new),
                    mode,
                    &options,
                ) {
                    Ok(r) => r,
                    Err(e) => {
                        failures.push(format!("{} [{semantics:?}]: {e}", case.name));
                        break;
                    }
                };
                let data: Vec<&Finding> = report
                    .findings
                    .iter()
                    .filter(|f| f.category == Category::Data)
                    .collect();
                let got = data
                    .iter()
                    .fold(Verdict::Compatible, |a, f| worst(a, f.verdict));
                if got != want {
                    failures.push(format!(
                        "{} [{semantics:?} {mode:?}]: verdict {got:?}, expected {want:?}\n{}",
                        case.name,
                        render::text(&report)
                    ));
                }
                let mut rules: Vec<&str> = data.iter().map(|f| f.rule.0).collect();
                rules.sort();
                rules.dedup();
                let mut expected = case.rules.to_vec();
                expected.sort();
                if rules != expected {
                    failures.push(format!(
                        "{} [{semantics:?} {mode:?}]: rules {rules:?}, expected {expected:?}\n{}",
                        case.name,
                        render::text(&report)
                    ));
                }
                for f in &data {
                    if f.verdict == Verdict::Incompatible {
                        assert!(
                            f.counterexample.is_some(),
                            "{}: {} has no counterexample",
                            case.name,
                            f.rule.0
                        );
                    }
                    if f.verdict == Verdict::Unknown {
                        assert_eq!(
                            f.undecided_keyword.as_deref(),
                            case.undecided,
                            "{}: {}",
                            case.name,
                            f.rule.0
                        );
                    }
                    assert_counterexample_holds(case.name, &ov, &nv, f);
                }
                // No Rust type renamed after the file names old.json and new.json.
                if let Some(r) = report.findings.iter().find(|f| f.rule.0 == "EC-S001") {
                    failures.push(format!("{}: {}", case.name, r.message));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn report(old: &str, new: &str) -> event_contracts_compat::Report {
    check_files(
        ("old.json", old),
        ("new.json", new),
        Mode::Full,
        &Options::default(),
    )
    .expect("checks")
}

#[test]
fn every_output_states_the_dialect_each_side_was_read_in() {
    let r = report(
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"array","items":[{"type":"string"}]}"#,
        r#"{"type":"array","prefixItems":[{"type":"string"}]}"#,
    );
    let said = "old read as draft-07 ($schema), new read as 2020-12 (no $schema: the default)";
    assert!(render::text(&r).starts_with(&format!("dialects: {said}\n")));
    assert!(
        render::markdown(&r).contains(said),
        "{}",
        render::markdown(&r)
    );
    let json: Value = serde_json::from_str(&render::json(&r)).expect("JSON");
    assert_eq!(json["dialects"]["old"]["dialect"], "draft-07");
    assert_eq!(json["dialects"]["new"]["dialect"], "2020-12");
    assert_eq!(json["dialects"]["new"]["declared"], Value::Null);
    let sarif: Value = serde_json::from_str(&render::sarif(&r)).expect("SARIF");
    assert_eq!(
        sarif["runs"][0]["properties"]["dialects"]["old"]["declared"],
        "http://json-schema.org/draft-07/schema#"
    );
    // A `$schema` naming no dialect known here is read as the default, and says so.
    let r = report(
        r#"{"$schema":"https://example.com/my-meta","type":"string"}"#,
        r#"{"$schema":"https://json-schema.org/draft/2019-09/schema","type":"string"}"#,
    );
    assert!(
        render::text(&r).starts_with(
            "dialects: old read as 2020-12 (unknown $schema `https://example.com/my-meta`: the default), new read as 2019-09 ($schema)\n"
        ),
        "{}",
        render::text(&r)
    );
}

#[test]
fn recursive_ref_is_unknown_and_named() {
    let r = report(
        r##"{"$schema":"https://json-schema.org/draft/2019-09/schema","$recursiveAnchor":true,"type":"object","properties":{"child":{"$recursiveRef":"#"},"n":{"type":"integer"}}}"##,
        r##"{"$schema":"https://json-schema.org/draft/2019-09/schema","$recursiveAnchor":true,"type":"object","properties":{"child":{"type":"object"},"n":{"type":"integer"}}}"##,
    );
    let unknown: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::Unknown)
        .collect();
    assert!(!unknown.is_empty(), "{}", render::text(&r));
    for f in unknown {
        assert_eq!(
            f.undecided_keyword.as_deref(),
            Some("$recursiveRef"),
            "{f:?}"
        );
    }
}

#[test]
fn two_files_report_a_rust_rename_only_when_the_title_changes() {
    let rust = |old: &str, new: &str| -> Vec<String> {
        report(old, new)
            .findings
            .into_iter()
            .filter(|f| f.rule.0 == "EC-S001")
            .map(|f| f.message)
            .collect()
    };
    let untitled = r#"{"type":"object","properties":{"a":{"type":"string"}}}"#;
    assert!(rust(untitled, untitled).is_empty());
    let titled = |t: &str| {
        format!(r#"{{"title":"{t}","type":"object","properties":{{"a":{{"type":"string"}}}}}}"#)
    };
    assert!(rust(&titled("Order"), untitled).is_empty());
    assert!(rust(untitled, &titled("Order")).is_empty());
    assert_eq!(
        rust(&titled("Order"), &titled("Purchase")),
        ["Rust type `Order` renamed to `Purchase`"]
    );
}
