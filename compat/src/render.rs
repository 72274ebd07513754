//! Renderers of a [`Report`]: plain text, versioned JSON, GitHub workflow annotations, SARIF
//! 2.1.0 and a review-ready Markdown changelog.

use std::fmt::Write;

use serde_json::{json, Value};

use crate::finding::{Category, Finding, Location, Mode, Report, Rollout, Severity, Side, Verdict};
use crate::rules;

/// Where a finding is shown: the new side, or the old side for removals.
fn place(f: &Finding) -> Option<&Location> {
    f.new.as_ref().or(f.old.as_ref())
}

/// The revision a finding's old-side locations come from: the earlier release it was checked
/// against, else the report's old revision (none for two standalone files).
pub fn old_revision<'r>(report: &'r Report, f: &'r Finding) -> Option<&'r str> {
    f.against_version
        .as_deref()
        .or(report.old_revision.as_deref())
}

/// `file:line:col`, or `REV:file:line:col` for a place in the old revision, so that it is not
/// taken for a place in the working tree (`git show REV:file` shows it).
pub fn location(l: &Location, old_revision: Option<&str>) -> String {
    match (l.side, old_revision) {
        (Side::Old, Some(rev)) => format!("{rev}:{}:{}:{}", l.file, l.line, l.column),
        _ => format!("{}:{}:{}", l.file, l.line, l.column),
    }
}

/// Which contract a finding is about, for readers who must not mistake a change of the
/// generated Rust API for a change of the messages.
fn label(f: &Finding) -> &'static str {
    match f.category {
        Category::GeneratedSource => "rust-api",
        Category::Data => "wire",
        Category::Transport => "transport",
        Category::Policy => "policy",
    }
}

fn side_word(side: Side) -> &'static str {
    match side {
        Side::Old => "old",
        Side::New => "new",
    }
}

fn other_side(side: Side) -> Side {
    match side {
        Side::Old => Side::New,
        Side::New => Side::Old,
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "ERROR",
        Severity::Warning => "WARNING",
        Severity::Info => "INFO",
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Compatible => "compatible",
        Verdict::Incompatible => "incompatible",
        Verdict::Unknown => "unknown",
    }
}

pub fn mode_word(m: Mode) -> &'static str {
    match m {
        Mode::Backward => "BACKWARD",
        Mode::Forward => "FORWARD",
        Mode::Full => "FULL",
        Mode::BackwardTransitive => "BACKWARD_TRANSITIVE",
        Mode::ForwardTransitive => "FORWARD_TRANSITIVE",
        Mode::FullTransitive => "FULL_TRANSITIVE",
        Mode::None => "NONE",
    }
}

fn status(f: &Finding) -> String {
    let mut s = match (f.category, f.verdict) {
        // The generated code, not the wire: messages read and written are unaffected.
        (Category::GeneratedSource, Verdict::Incompatible) => {
            "breaks Rust code built against the old crate; messages are unaffected".to_owned()
        }
        _ => format!("{} under {}", verdict_word(f.verdict), mode_word(f.mode)),
    };
    if let Some(v) = &f.against_version {
        write!(s, " against {v}").ok();
    }
    if let Some(k) = &f.undecided_keyword {
        write!(s, ", undecided keyword `{k}`{}", undecided_why(k)).ok();
    }
    if let Some(a) = &f.allowed {
        write!(s, ", allowed: {a}").ok();
    }
    s
}

/// Why a keyword is left undecided, where that is one reason whatever the schemas: the
/// reader should know whether to restate the schema or allow-list the finding.
fn undecided_why(keyword: &str) -> &'static str {
    match keyword {
        "unevaluatedItems" | "unevaluatedProperties" => {
            " (too costly: kept opaque beside a composing keyword, what it covers depends on \
             every branch's annotations)"
        }
        _ => "",
    }
}

/// One line per finding, `file:line:col: SEVERITY RULE_ID [label] system/event: message
/// [verdict under MODE]` (`REV:file:…` for a place in the old revision; the label says
/// whether the wire, the transport, the generated Rust API or catalog policy changed); then,
/// for every finding that is not compatible, indented lines with the fix and the
/// counterexample, as in the Markdown.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    if let Some(d) = &report.dialects {
        writeln!(out, "dialects: {}", d.describe()).ok();
    }
    for f in &report.findings {
        let at = match place(f) {
            Some(l) => location(l, old_revision(report, f)),
            None => "<catalog>:1:1".to_owned(),
        };
        let scope = match (&f.system, &f.event) {
            (Some(s), Some(e)) => format!("{s}/{e}: "),
            (Some(s), None) => format!("{s}: "),
            _ => String::new(),
        };
        writeln!(
            out,
            "{at}: {} {} [{}] {scope}{} [{}]",
            severity_word(f.severity),
            f.rule.0,
            label(f),
            f.message,
            status(f)
        )
        .ok();
        if f.verdict != Verdict::Compatible {
            writeln!(out, "  fix: {}", f.hint).ok();
        }
        if let Some(c) = &f.counterexample {
            writeln!(
                out,
                "  counterexample: accepted by the {} schema, rejected by the {} one ({}): {}",
                side_word(c.accepted_by),
                side_word(other_side(c.accepted_by)),
                c.rejected_because.replace('\n', " "),
                c.message
            )
            .ok();
        }
    }
    out
}

/// The report as JSON (`format_version` says which shape).
pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn gh_escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn gh_escape_property(s: &str) -> String {
    gh_escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub workflow commands: `::error file=..,line=..,col=..,title=RULE_ID::message`.
pub fn github(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let level = match (f.verdict, f.severity) {
            (Verdict::Unknown, _) => "error",
            (Verdict::Compatible, _) => "notice",
            (_, Severity::Error) => "error",
            (_, Severity::Warning) => "warning",
            (_, Severity::Info) => "notice",
        };
        let level = if f.allowed.is_some() { "notice" } else { level };
        let mut props = Vec::new();
        let mut msg = format!("{} [{}]", f.message, status(f));
        match place(f) {
            // An annotation marks a file of the working tree; a place in the old revision is
            // named in the message instead.
            Some(l) if l.side == Side::Old && old_revision(report, f).is_some() => {
                write!(msg, "\nat {}", location(l, old_revision(report, f))).ok();
            }
            Some(l) => {
                props.push(format!("file={}", gh_escape_property(&l.file)));
                props.push(format!("line={}", l.line));
                props.push(format!("col={}", l.column));
            }
            None => {}
        }
        props.push(format!("title={}", gh_escape_property(f.rule.0)));
        if let Some(c) = &f.counterexample {
            write!(
                msg,
                "\ncounterexample: {}\nrejected: {}",
                c.message, c.rejected_because
            )
            .ok();
        }
        write!(msg, "\nhint: {}", f.hint).ok();
        writeln!(
            out,
            "::{level} {}::{}",
            props.join(","),
            gh_escape_data(&msg)
        )
        .ok();
    }
    out
}

/// SARIF 2.1.0: the rule registry as the tool's rules, each finding a result.
pub fn sarif(report: &Report) -> String {
    let level = |s: Severity| match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    };
    let rules: Vec<Value> = rules::all()
        .iter()
        .map(|r| {
            json!({
                "id": r.id.0,
                "name": r.title,
                "shortDescription": { "text": r.title },
                "help": { "text": r.hint },
                "defaultConfiguration": { "level": level(r.severity) },
                "properties": { "category": r.category },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let lvl = match f.verdict {
                Verdict::Compatible => "note",
                Verdict::Unknown => "error",
                Verdict::Incompatible => level(f.severity),
            };
            let locations: Vec<Value> = place(f)
                .map(|l| {
                    vec![json!({
                        "physicalLocation": {
                            "artifactLocation": { "uri": l.file },
                            "region": { "startLine": l.line, "startColumn": l.column },
                        },
                        "logicalLocations": [{ "fullyQualifiedName": f.path, "kind": "member" }],
                    })]
                })
                .unwrap_or_default();
            let mut r = json!({
                "ruleId": f.rule.0,
                "ruleIndex": rules::all().iter().position(|r| r.id == f.rule),
                "level": lvl,
                "message": { "text": format!("{} [{}]", f.message, status(f)) },
                "locations": locations,
                "partialFingerprints": { "ecFingerprint/v2": f.fingerprint },
                "properties": {
                    "verdict": f.verdict,
                    "mode": f.mode,
                    "path": f.path,
                    "system": f.system,
                    "event": f.event,
                    "counterexample": f.counterexample,
                    "undecidedKeyword": f.undecided_keyword,
                },
            });
            if let Some(a) = &f.allowed {
                r["suppressions"] = json!([{ "kind": "external", "justification": a }]);
            }
            r
        })
        .collect();
    let mut doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "event-contracts-compat",
                "informationUri": "https://github.com/",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    if let Some(d) = &report.dialects {
        doc["runs"][0]["properties"] = json!({ "dialects": d });
    }
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn rollout_advice(r: Rollout, producers: &[String], consumers: &[String]) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "(none listed)".to_owned()
        } else {
            v.iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let (p, c) = (list(producers), list(consumers));
    match r {
        Rollout::AnyOrder => format!("deploy in any order (producers {p}; consumers {c})"),
        Rollout::ConsumersFirst => {
            format!("upgrade the consumers {c} first, then the producers {p}")
        }
        Rollout::ProducersFirst => {
            format!("upgrade the producers {p} first, then the consumers {c}")
        }
        Rollout::NewEventVersion => format!(
            "neither order is safe: publish a new event (version) and migrate producers {p} and consumers {c}"
        ),
        Rollout::Undecided => format!(
            "undecided (a verdict is unknown): review by hand before deploying producers {p} or consumers {c}"
        ),
    }
}

/// What to do about a renamed event: the fix of its rule.
pub fn rename_advice() -> &'static str {
    rules::EVENT_RENAMED.hint
}

fn md_finding(out: &mut String, report: &Report, f: &Finding) {
    let where_ = place(f)
        .map(|l| format!(" (`{}`)", location(l, old_revision(report, f))))
        .unwrap_or_default();
    let api = if f.category == Category::GeneratedSource {
        " (Rust API)"
    } else {
        ""
    };
    writeln!(
        out,
        "- **{}** {}{api} — {}{} _[{}]_",
        f.rule.0,
        severity_word(f.severity).to_lowercase(),
        f.message,
        where_,
        status(f)
    )
    .ok();
    if f.verdict != Verdict::Compatible {
        writeln!(out, "  - fix: {}", f.hint).ok();
    }
    if let Some(c) = &f.counterexample {
        let side = side_word(c.accepted_by);
        let body = serde_json::to_string_pretty(&c.message).unwrap_or_default();
        writeln!(
            out,
            "  <details><summary>counterexample: accepted by the {side} schema, rejected by the other ({})</summary>\n\n  ```json\n{}\n  ```\n  </details>",
            c.rejected_because.replace('\n', " "),
            body.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
        )
        .ok();
    }
}

/// A review-ready changelog: by system, then event; per event the rollout advice, the
/// breaking findings with their counterexamples, then the rest.
pub fn markdown(report: &Report) -> String {
    let mut out = String::from("# Event contract changes\n\n");
    let breaking = report
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::Incompatible)
        .count();
    let unknown = report
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::Unknown)
        .count();
    let changed = report
        .events
        .iter()
        .filter(|e| e.change != "unchanged")
        .count();
    writeln!(
        out,
        "{changed} event(s) changed, {} finding(s): {breaking} incompatible, {unknown} unknown.\n",
        report.findings.len()
    )
    .ok();
    if let Some(d) = &report.dialects {
        writeln!(out, "Schemas {}.\n", d.describe()).ok();
    }
    let mut systems: Vec<&str> = report
        .events
        .iter()
        .map(|e| e.system.as_str())
        .chain(report.findings.iter().filter_map(|f| f.system.as_deref()))
        .collect();
    systems.sort();
    systems.dedup();
    if systems.is_empty() {
        systems.push("");
    }
    for system in systems {
        let sys_findings: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.system.as_deref().unwrap_or("") == system)
            .collect();
        let events: Vec<_> = report
            .events
            .iter()
            .filter(|e| e.system == system && e.change != "unchanged")
            .collect();
        if sys_findings.is_empty() && events.is_empty() {
            continue;
        }
        if !system.is_empty() {
            writeln!(out, "## {system}\n").ok();
        }
        let system_wide: Vec<&&Finding> =
            sys_findings.iter().filter(|f| f.event.is_none()).collect();
        if !system_wide.is_empty() && events.iter().all(|e| !e.event.is_empty()) {
            writeln!(out, "### (system-wide)\n").ok();
            for f in &system_wide {
                md_finding(&mut out, report, f);
            }
            out.push('\n');
        }
        for e in events {
            writeln!(
                out,
                "### `{}` — {} ({} declared)\n",
                e.event,
                e.change,
                mode_word(e.declared_mode)
            )
            .ok();
            let advice = match (&e.renamed, e.change) {
                (Some(new), "removed") => format!(
                    "looks like a rename to `{new}` (same schema); {}",
                    rename_advice()
                ),
                (Some(old), _) => format!(
                    "looks like a rename of `{old}` (same schema); {}",
                    rename_advice()
                ),
                (None, _) => rollout_advice(e.rollout, &e.producers, &e.consumers),
            };
            writeln!(
                out,
                "BACKWARD {}, FORWARD {}. Rollout: {advice}.\n",
                verdict_word(e.backward),
                verdict_word(e.forward),
            )
            .ok();
            let mine: Vec<&&Finding> = sys_findings
                .iter()
                .filter(|f| {
                    f.event.as_deref() == Some(e.event.as_str())
                        || (f.event.is_none() && e.system.is_empty())
                })
                .collect();
            let (bad, rest): (Vec<&&Finding>, Vec<&&Finding>) = mine
                .into_iter()
                .partition(|f| f.verdict != Verdict::Compatible);
            if !bad.is_empty() {
                out.push_str("Breaking or undecided:\n\n");
                for f in bad {
                    md_finding(&mut out, report, f);
                }
                out.push('\n');
            }
            if !rest.is_empty() {
                out.push_str("Other changes:\n\n");
                for f in rest {
                    md_finding(&mut out, report, f);
                }
                out.push('\n');
            }
        }
    }
    out
}
