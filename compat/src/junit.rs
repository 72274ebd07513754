//! JUnit XML for CI hosts that show test reports but not SARIF (GitLab, Jenkins, Azure
//! Pipelines).
//!
//! One `<testsuite>` per system and one `<testcase>` per event of the report (unchanged events
//! included, so the number of tests is stable from run to run). Inside an event's testcase:
//! - a `<failure>` for each incompatible finding of severity error that is not allowed, its
//!   `type` the rule id, its text the location, mode, counterexample and fix;
//! - an `<error>` for each unknown verdict that is not allowed (the check could not decide, so
//!   it fails, but nothing was shown to be broken);
//! - `<skipped>` when the event's declared mode is NONE (not checked);
//! - everything else, allowed breaks with their reasons included, in `<system-out>`: the test
//!   passes, and the report still says what was accepted and why.
//!
//! Findings about a system but no one event get a `(system)` testcase in that system's suite;
//! findings about the whole catalog a `(catalog)` suite. The `tests`, `failures`, `errors` and
//! `skipped` attributes count testcases, as Ant's JUnit task defines them: a testcase with a
//! failure counts as failed even if it also has an error.

use std::fmt::Write;

use crate::finding::{Finding, Mode, Report, Severity, Side, Verdict};
use crate::render::mode_word;

/// Name of the testcase holding a system's findings about no one event.
pub const SYSTEM_CASE: &str = "(system)";
/// Name of the suite and testcase holding findings about the whole catalog.
pub const CATALOG_CASE: &str = "(catalog)";

enum Outcome {
    Passed,
    Failed,
    Errored,
    Skipped,
}

struct Case<'r> {
    name: String,
    skipped: Option<String>,
    findings: Vec<&'r Finding>,
}

impl Case<'_> {
    fn failures(&self) -> impl Iterator<Item = &&Finding> {
        self.findings.iter().filter(|f| {
            f.allowed.is_none()
                && f.verdict == Verdict::Incompatible
                && f.severity == Severity::Error
        })
    }

    fn errors(&self) -> impl Iterator<Item = &&Finding> {
        self.findings
            .iter()
            .filter(|f| f.allowed.is_none() && f.verdict == Verdict::Unknown)
    }

    fn outcome(&self) -> Outcome {
        if self.failures().next().is_some() {
            Outcome::Failed
        } else if self.errors().next().is_some() {
            Outcome::Errored
        } else if self.skipped.is_some() {
            Outcome::Skipped
        } else {
            Outcome::Passed
        }
    }
}

struct Suite<'r> {
    name: String,
    cases: Vec<Case<'r>>,
}

#[derive(Default)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
    }

    fn of(cases: &[Case<'_>]) -> Self {
        let mut c = Counts {
            tests: cases.len(),
            ..Counts::default()
        };
        for case in cases {
            match case.outcome() {
                Outcome::Failed => c.failures += 1,
                Outcome::Errored => c.errors += 1,
                Outcome::Skipped => c.skipped += 1,
                Outcome::Passed => {}
            }
        }
        c
    }

    fn attributes(&self) -> String {
        format!(
            "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\"",
            self.tests, self.failures, self.errors, self.skipped
        )
    }
}

/// Groups the report into suites (systems, sorted) and cases (events, sorted as the report
/// has them; the system's own case first).
fn suites(report: &Report) -> Vec<Suite<'_>> {
    let mut suites: Vec<Suite<'_>> = Vec::new();
    let suite_of = |suites: &mut Vec<Suite<'_>>, name: &str| -> usize {
        match suites.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                suites.push(Suite {
                    name: name.to_owned(),
                    cases: Vec::new(),
                });
                suites.len() - 1
            }
        }
    };
    for ev in &report.events {
        let i = suite_of(&mut suites, &ev.system);
        let skipped = (ev.declared_mode == Mode::None)
            .then(|| "compatibility mode NONE: not checked".to_owned());
        suites[i].cases.push(Case {
            name: ev.event.clone(),
            skipped,
            findings: report
                .findings
                .iter()
                .filter(|f| {
                    f.system.as_deref() == Some(ev.system.as_str())
                        && f.event.as_deref() == Some(ev.event.as_str())
                })
                .collect(),
        });
    }
    for f in &report.findings {
        let (suite, case) = match (&f.system, &f.event) {
            (None, _) => (CATALOG_CASE, CATALOG_CASE),
            (Some(s), None) => (s.as_str(), SYSTEM_CASE),
            (Some(s), Some(e)) => {
                let known = report
                    .events
                    .iter()
                    .any(|ev| &ev.system == s && &ev.event == e);
                if known {
                    continue;
                }
                // A finding about an event the summary does not list still gets a testcase.
                (s.as_str(), e.as_str())
            }
        };
        let i = suite_of(&mut suites, suite);
        match suites[i].cases.iter_mut().find(|c| c.name == case) {
            Some(c) => c.findings.push(f),
            None => {
                let new = Case {
                    name: case.to_owned(),
                    skipped: None,
                    findings: vec![f],
                };
                if case == SYSTEM_CASE {
                    suites[i].cases.insert(0, new);
                } else {
                    suites[i].cases.push(new);
                }
            }
        }
    }
    suites.sort_by(|a, b| a.name.cmp(&b.name));
    suites
}

/// The report as a JUnit XML document.
pub fn junit(report: &Report) -> String {
    let suites = suites(report);
    let per_suite: Vec<Counts> = suites.iter().map(|s| Counts::of(&s.cases)).collect();
    let mut total = Counts::default();
    for c in &per_suite {
        total.add(c);
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    writeln!(
        out,
        "<testsuites name=\"event-contracts compat\" {} time=\"0\">",
        total.attributes()
    )
    .ok();
    for (suite, counts) in suites.iter().zip(&per_suite) {
        writeln!(
            out,
            "  <testsuite name=\"{}\" {} time=\"0\">",
            attr(&suite.name),
            counts.attributes()
        )
        .ok();
        for case in &suite.cases {
            case_xml(&mut out, &suite.name, case);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn case_xml(out: &mut String, suite: &str, case: &Case<'_>) {
    write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
        attr(suite),
        attr(&case.name)
    )
    .ok();
    let others: Vec<&&Finding> = case
        .findings
        .iter()
        .filter(|f| {
            !(f.allowed.is_none()
                && (f.verdict == Verdict::Unknown
                    || (f.verdict == Verdict::Incompatible && f.severity == Severity::Error)))
        })
        .collect();
    let empty = case.failures().next().is_none()
        && case.errors().next().is_none()
        && case.skipped.is_none()
        && others.is_empty();
    if empty {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    // Element order as the JUnit schemas have it: skipped, error, failure, system-out.
    if let Some(reason) = &case.skipped {
        writeln!(out, "      <skipped message=\"{}\"/>", attr(reason)).ok();
    }
    for f in case.errors() {
        let keyword = f.undecided_keyword.as_deref().unwrap_or("?");
        writeln!(
            out,
            "      <error type=\"{}\" message=\"{}\">{}</error>",
            attr(f.rule.0),
            attr(&format!("{} (undecided: keyword `{keyword}`)", f.message)),
            text(&details(f))
        )
        .ok();
    }
    for f in case.failures() {
        writeln!(
            out,
            "      <failure type=\"{}\" message=\"{}\">{}</failure>",
            attr(f.rule.0),
            attr(&format!("{}: {}", f.rule.0, f.message)),
            text(&details(f))
        )
        .ok();
    }
    if !others.is_empty() {
        let mut log = String::new();
        for f in others {
            let what = match (&f.allowed, f.verdict) {
                (Some(_), _) => "allowed",
                (None, Verdict::Incompatible) => "warning",
                _ => "change",
            };
            writeln!(log, "{what}: {}: {}", f.rule.0, f.message).ok();
            if let Some(reason) = &f.allowed {
                writeln!(log, "  reason: {reason}").ok();
            }
            for line in details(f).lines() {
                writeln!(log, "  {line}").ok();
            }
        }
        writeln!(out, "      <system-out>{}</system-out>", text(&log)).ok();
    }
    out.push_str("    </testcase>\n");
}

/// What a reader needs to act on a finding: where, under which mode, the counterexample and
/// the fix.
fn details(f: &Finding) -> String {
    let mut s = String::new();
    if let Some(l) = f.new.as_ref().or(f.old.as_ref()) {
        let side = match l.side {
            Side::Old => "old",
            Side::New => "new",
        };
        writeln!(s, "at: {}:{}:{} ({side} schema)", l.file, l.line, l.column).ok();
    }
    if !f.path.is_empty() {
        writeln!(s, "path: {}", f.path).ok();
    }
    let mut mode = mode_word(f.mode).to_owned();
    if let Some(v) = &f.against_version {
        write!(mode, " against {v}").ok();
    }
    writeln!(s, "mode: {mode}").ok();
    if let Some(c) = &f.counterexample {
        let (accepting, rejecting) = match c.accepted_by {
            Side::Old => ("old", "new"),
            Side::New => ("new", "old"),
        };
        writeln!(
            s,
            "counterexample (accepted by the {accepting} schema, rejected by the {rejecting}: {}):",
            c.rejected_because
        )
        .ok();
        let body =
            serde_json::to_string_pretty(&c.message).unwrap_or_else(|_| c.message.to_string());
        s.push_str(&body);
        s.push('\n');
    }
    if f.verdict != Verdict::Compatible {
        writeln!(s, "fix: {}", f.hint).ok();
    }
    writeln!(s, "fingerprint: {}", f.fingerprint).ok();
    s
}

/// XML 1.0 has no way to write most control characters, not even escaped: they become U+FFFD.
fn xml_char(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
        c => c,
    }
}

/// Escapes element text.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(xml_char) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an attribute value (quoted with `"`); line breaks are kept as character references,
/// which attribute normalisation would otherwise turn into spaces.
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(xml_char) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_the_document_well_formed() {
        assert_eq!(attr("a\"<&>\nb"), "a&quot;&lt;&amp;&gt;&#10;b");
        assert_eq!(text("]]> <x> \u{0}"), "]]&gt; &lt;x&gt; \u{FFFD}");
    }
}
