//! `cargo xtask diff --against REV [--format markdown|json]`: a review-ready changelog of
//! `schemas/` between a git revision and the working tree, grouped by system and event:
//! breaking findings first (each with its counterexample in a collapsible block), then the
//! rest, then the rollout order from the manifest's producers and consumers.
//!
//! Exit 0 when the changelog was written (whatever it says), 3 on usage, git or parse errors:
//! the pass/fail decision is `cargo xtask compat`'s.

use std::collections::BTreeMap;

use clap::{Parser, ValueEnum};
use event_contracts_compat::{
    self as engine, EventSummary, Finding, Mode, Report, Rollout, Severity, Verdict,
};
use serde::Serialize;

use crate::compat::{self, allow, Common, Outcome};

/// Version of the JSON changelog format.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Markdown,
    Json,
}

#[derive(Parser, Clone, Debug)]
#[command(
    name = "diff",
    about = "A review-ready changelog of schemas/ since a git revision, with rollout advice",
    after_help = "Exit codes: 0 changelog written, 3 usage, git or parse error."
)]
pub struct DiffArgs {
    /// Git revision whose schemas/ is the old side (the working tree is the new side).
    #[arg(long, value_name = "REV")]
    pub against: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Markdown)]
    pub format: DiffFormat,
    #[command(flatten)]
    pub common: Common,
}

/// Runs `diff` exactly as the command line would (`argv` after `diff`).
pub fn run_cli<I, T>(argv: I) -> Outcome
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let argv =
        std::iter::once(std::ffi::OsString::from("diff")).chain(argv.into_iter().map(Into::into));
    match DiffArgs::try_parse_from(argv) {
        Ok(args) => run(&args),
        Err(e) => compat::clap_outcome(&e),
    }
}

pub fn run(args: &DiffArgs) -> Outcome {
    match changelog(args) {
        Ok(o) => o,
        Err(e) => Outcome::error(&e),
    }
}

fn changelog(args: &DiffArgs) -> anyhow::Result<Outcome> {
    let root = args
        .common
        .repo
        .clone()
        .unwrap_or_else(compat::workspace_root);
    let loaded = compat::load(&root, &args.against, None, &args.common.release_tags)?;
    let mut stderr: String = loaded.notes.iter().map(|n| format!("{n}\n")).collect();
    let mut report = engine::check_catalogs(
        &loaded.old,
        &loaded.new,
        &loaded.history,
        &compat::options(args.common.semantics, None),
    )
    .map_err(|e| compat::engine_error(e, Some(&loaded.rev)))?;
    report.old_revision = Some(loaded.rev.short().to_owned());
    if let Some(list) = compat::read_allow(&args.common, &root, allow::today())? {
        for w in list.apply(&mut report.findings) {
            stderr.push_str(&format!("{w}\n"));
        }
    }
    let against = Against {
        rev: loaded.rev.name.clone(),
        commit: loaded.rev.commit.clone(),
    };
    let log = Changelog::new(&report, against);
    let stdout = match args.format {
        DiffFormat::Markdown => log.markdown(),
        DiffFormat::Json => {
            let mut s = serde_json::to_string_pretty(&log).expect("the changelog serializes");
            s.push('\n');
            s
        }
    };
    Ok(Outcome {
        stdout,
        stderr,
        code: 0,
        report: Some(report),
    })
}

#[derive(Serialize)]
pub struct Against {
    pub rev: String,
    pub commit: String,
}

/// The changelog: what `--format json` prints.
#[derive(Serialize)]
pub struct Changelog<'r> {
    pub format_version: u32,
    pub against: Against,
    /// Counts over the whole changelog.
    pub summary: Summary,
    /// Findings about the catalog as a whole (no system).
    pub catalog: Vec<&'r Finding>,
    pub systems: Vec<SystemLog<'r>>,
}

#[derive(Default, Serialize)]
pub struct Summary {
    pub events_changed: usize,
    pub events_added: usize,
    pub events_removed: usize,
    /// Events with a breaking finding that is not allowed.
    pub events_breaking: usize,
    pub breaking_findings: usize,
    pub allowed_findings: usize,
    pub other_findings: usize,
}

#[derive(Serialize)]
pub struct SystemLog<'r> {
    pub system: String,
    /// Findings about the system but no one event (manifest, envelope).
    pub findings: Vec<&'r Finding>,
    /// Events with a change, breaking ones first.
    pub events: Vec<EventLog<'r>>,
}

#[derive(Serialize)]
pub struct EventLog<'r> {
    #[serde(flatten)]
    pub summary: &'r EventSummary,
    /// Breaking findings (incompatible or unknown errors, allowed or not).
    pub breaking: Vec<&'r Finding>,
    /// Everything else that changed.
    pub other: Vec<&'r Finding>,
    /// The deployment order in words.
    pub advice: String,
}

/// Whether a finding is a break (shown first, with its counterexample).
fn breaking(f: &Finding) -> bool {
    f.severity == Severity::Error && f.verdict != Verdict::Compatible
}

impl<'r> Changelog<'r> {
    pub fn new(report: &'r Report, against: Against) -> Self {
        let mut summary = Summary::default();
        let mut systems: BTreeMap<&str, SystemLog<'r>> = BTreeMap::new();
        let mut catalog = Vec::new();
        for f in &report.findings {
            if breaking(f) {
                if f.allowed.is_some() {
                    summary.allowed_findings += 1;
                } else {
                    summary.breaking_findings += 1;
                }
            } else {
                summary.other_findings += 1;
            }
            match (&f.system, &f.event) {
                (None, _) => catalog.push(f),
                (Some(s), None) => system_entry(&mut systems, s).findings.push(f),
                (Some(_), Some(_)) => {} // under its event below
            }
        }
        for ev in &report.events {
            let of_event = |f: &&Finding| {
                f.system.as_deref() == Some(&ev.system) && f.event.as_deref() == Some(&ev.event)
            };
            let (breaks, other): (Vec<&Finding>, Vec<&Finding>) = report
                .findings
                .iter()
                .filter(of_event)
                .partition(|f| breaking(f));
            if ev.change == "unchanged" && breaks.is_empty() && other.is_empty() {
                continue;
            }
            match ev.change {
                "added" => summary.events_added += 1,
                "removed" => summary.events_removed += 1,
                _ => summary.events_changed += 1,
            }
            if breaks.iter().any(|f| f.allowed.is_none()) {
                summary.events_breaking += 1;
            }
            system_entry(&mut systems, &ev.system)
                .events
                .push(EventLog {
                    summary: ev,
                    advice: advice(ev),
                    breaking: breaks,
                    other,
                });
        }
        let mut systems: Vec<SystemLog<'r>> = systems.into_values().collect();
        for s in &mut systems {
            // Breaking events first, then by name (the report is sorted by name already).
            s.events.sort_by_key(|e| e.breaking.is_empty());
        }
        Self {
            format_version: FORMAT_VERSION,
            against,
            summary,
            catalog,
            systems,
        }
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let short = &self.against.commit[..self.against.commit.len().min(10)];
        out.push_str(&format!(
            "# Schema changes since `{}` ({short})\n\n",
            self.against.rev
        ));
        let s = &self.summary;
        if self.systems.is_empty() && self.catalog.is_empty() {
            out.push_str("No event contract changed.\n");
            return out;
        }
        out.push_str(&format!(
            "{} changed, {} added, {} removed; **{} breaking** ({} breaking findings not allowed, {} allowed), {} other findings.\n\n",
            plural(s.events_changed, "event"),
            s.events_added,
            s.events_removed,
            s.events_breaking,
            s.breaking_findings,
            s.allowed_findings,
            s.other_findings
        ));
        // The overview table: one row per changed event.
        out.push_str("| system | event | change | mode | backward | forward | rollout |\n");
        out.push_str("|---|---|---|---|---|---|---|\n");
        for sys in &self.systems {
            for e in &sys.events {
                let ev = e.summary;
                out.push_str(&format!(
                    "| {} | `{}` | {} | {} | {} | {} | {} |\n",
                    ev.system,
                    ev.event,
                    ev.change,
                    mode_name(ev.declared_mode),
                    verdict_name(ev.backward),
                    verdict_name(ev.forward),
                    rollout_name(ev.rollout)
                ));
            }
        }
        out.push('\n');
        if !self.catalog.is_empty() {
            out.push_str("## Catalog\n\n");
            findings_md(&mut out, &self.catalog, short);
        }
        for sys in &self.systems {
            out.push_str(&format!("## {}\n\n", sys.system));
            if !sys.findings.is_empty() {
                findings_md(&mut out, &sys.findings, short);
            }
            for e in &sys.events {
                let ev = e.summary;
                out.push_str(&format!(
                    "### `{}` ({}, {})\n\n",
                    ev.event,
                    ev.change,
                    mode_name(ev.declared_mode)
                ));
                if !e.breaking.is_empty() {
                    out.push_str("**Breaking**\n\n");
                    findings_md(&mut out, &e.breaking, short);
                }
                if !e.other.is_empty() {
                    out.push_str(if e.breaking.is_empty() {
                        "**Changes**\n\n"
                    } else {
                        "**Other changes**\n\n"
                    });
                    findings_md(&mut out, &e.other, short);
                }
                out.push_str(&format!("**Rollout:** {}\n\n", e.advice));
            }
        }
        out
    }
}

fn system_entry<'m, 'r>(
    systems: &'m mut BTreeMap<&'r str, SystemLog<'r>>,
    system: &'r str,
) -> &'m mut SystemLog<'r> {
    systems.entry(system).or_insert_with(|| SystemLog {
        system: system.to_owned(),
        findings: Vec::new(),
        events: Vec::new(),
    })
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none listed".into()
    } else {
        names.join(", ")
    }
}

/// The rollout order in words, naming the manifest's producers and consumers.
pub fn advice(ev: &EventSummary) -> String {
    let (p, c) = (list(&ev.producers), list(&ev.consumers));
    match (ev.change, &ev.renamed) {
        ("removed", Some(new)) => {
            return format!(
                "looks like a rename to `{new}` (same schema); {}.",
                engine::render::rename_advice()
            )
        }
        ("added", Some(old)) => {
            return format!(
                "looks like a rename of `{old}` (same schema); {}.",
                engine::render::rename_advice()
            )
        }
        _ => {}
    }
    match ev.change {
        "added" => {
            return format!(
                "new event: deploy the consumers ({c}) before the producers ({p}) start publishing it."
            )
        }
        "removed" => {
            return format!(
                "removed event: stop the producers ({p}) first, then remove it from the consumers ({c})."
            )
        }
        _ => {}
    }
    match ev.rollout {
        Rollout::AnyOrder => format!("any order (producers: {p}; consumers: {c})."),
        Rollout::ConsumersFirst => format!(
            "consumers first: deploy {c}, then {p} (new consumers read old messages; old consumers would reject new ones)."
        ),
        Rollout::ProducersFirst => format!(
            "producers first: deploy {p}, then {c} (old consumers read the new messages; new consumers would reject old ones)."
        ),
        Rollout::NewEventVersion => format!(
            "needs a new event version: neither old nor new consumers read both shapes; publish it as a new event (bump `version`, new name or channel), move the consumers ({c}), then the producers ({p}), and retire the old one."
        ),
        Rollout::Undecided => format!(
            "undecided: a verdict is unknown; review the findings by hand before deploying (producers: {p}; consumers: {c})."
        ),
    }
}

/// The findings as a Markdown list; `old_revision` names the revision of old-side locations
/// (a finding against an earlier release names that release instead).
fn findings_md(out: &mut String, findings: &[&Finding], old_revision: &str) {
    for f in findings {
        let rev = f.against_version.as_deref().or(Some(old_revision));
        let loc = f
            .new
            .as_ref()
            .or(f.old.as_ref())
            .map(|l| format!(" ({})", engine::render::location(l, rev)))
            .unwrap_or_default();
        // The engine's messages usually start with the path already.
        let path = if f.path.is_empty() || f.message.contains(f.path.as_str()) {
            String::new()
        } else {
            format!(" `{}`", f.path)
        };
        let version = f
            .against_version
            .as_deref()
            .map(|v| format!(" [against {v}]"))
            .unwrap_or_default();
        let verdict = match f.verdict {
            Verdict::Unknown => " (unknown)",
            _ => "",
        };
        out.push_str(&format!(
            "- **{}**{verdict}{path}: {}{version}{loc}\n",
            f.rule.0, f.message
        ));
        if breaking(f) && !f.hint.is_empty() {
            out.push_str(&format!("  - fix: {}\n", f.hint));
        }
        if let Some(reason) = &f.allowed {
            out.push_str(&format!("  - allowed: {reason}\n"));
        }
        if let Some(k) = &f.undecided_keyword {
            out.push_str(&format!("  - undecided keyword: `{k}`\n"));
        }
        if let Some(cx) = &f.counterexample {
            let side = match cx.accepted_by {
                engine::Side::Old => "old",
                engine::Side::New => "new",
            };
            let rejecting = match cx.accepted_by {
                engine::Side::Old => "new",
                engine::Side::New => "old",
            };
            let message = serde_json::to_string_pretty(&cx.message)
                .unwrap_or_else(|_| cx.message.to_string());
            out.push_str(&format!(
                "\n  <details><summary>Counterexample: accepted by the {side} schema, rejected by the {rejecting} one ({})</summary>\n\n  ```json\n",
                html_escape(&cx.rejected_because)
            ));
            for line in message.lines() {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
            out.push_str("  ```\n\n  </details>\n\n");
        }
    }
    if !out.ends_with("\n\n") {
        out.push('\n');
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn mode_name(m: Mode) -> &'static str {
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

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Compatible => "ok",
        Verdict::Incompatible => "**breaks**",
        Verdict::Unknown => "unknown",
    }
}

fn rollout_name(r: Rollout) -> &'static str {
    match r {
        Rollout::AnyOrder => "any order",
        Rollout::ConsumersFirst => "consumers first",
        Rollout::ProducersFirst => "producers first",
        Rollout::NewEventVersion => "new event version",
        Rollout::Undecided => "undecided",
    }
}
