//! The allow-list of accepted breaks (`compat-allow.json` at the repository root):
//!
//! ```json
//! {
//!   "version": 1,
//!   "allow": [
//!     {
//!       "fingerprint": "ec1-3f0a…",
//!       "rule": "EC-D012",
//!       "event": "audio/AudioChunkReceived",
//!       "reason": "no consumer reads chunk_id yet (checked with the audio team, #123)",
//!       "expires": "2026-12-31"
//!     }
//!   ]
//! }
//! ```
//!
//! A finding whose fingerprint is listed is accepted with the entry's reason (it still shows,
//! marked allowed, and no longer fails the check). `rule` and `event` (`system/event`) are for
//! the reader and are checked against the finding; `expires` (`YYYY-MM-DD`, optional) ends the
//! acceptance after that day. An entry that matches no finding is stale: a warning, not a
//! failure.

use std::collections::HashMap;

use anyhow::bail;
use event_contracts_codegen::source::SourceFile;
use event_contracts_compat::Finding;
use serde::Deserialize;

/// The allow-list format version this build reads.
pub const VERSION: u32 = 1;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    /// Free text for the reader.
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    version: u32,
    #[serde(default)]
    allow: Vec<Entry>,
}

/// One accepted break.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub fingerprint: String,
    pub rule: String,
    /// `system/event`, when the finding is about one event.
    #[serde(default)]
    pub event: Option<String>,
    pub reason: String,
    /// Last day the acceptance holds, `YYYY-MM-DD`.
    #[serde(default)]
    pub expires: Option<String>,
}

/// A parsed allow-list, with where each entry stands in its file.
#[derive(Debug, Default)]
pub struct AllowList {
    /// How to name the file in messages (relative to the repository root when inside it).
    pub label: String,
    entries: Vec<(Entry, Option<time::Date>, (usize, usize))>,
}

/// A problem with an entry that does not fail the check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: warning: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// `YYYY-MM-DD`.
fn parse_date(s: &str) -> Option<time::Date> {
    let mut parts = s.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

/// Today in UTC (the allow-list's `expires` is a calendar day).
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

impl AllowList {
    /// Parses and validates `text`; every error names `label:line:col` and what to do.
    pub fn parse(label: &str, text: &str) -> anyhow::Result<Self> {
        let source = match SourceFile::parse(label, text) {
            Ok(s) => s,
            Err(e) => bail!(
                "{label}:{}:{}: the allow-list is not JSON: {}",
                e.position.line,
                e.position.column,
                strip_position(&e.message)
            ),
        };
        let parsed: FileFormat = match serde_json::from_str(text) {
            Ok(p) => p,
            Err(e) => bail!(
                "{label}:{}:{}: {}\n  hint: the allow-list is {{\"version\": {VERSION}, \"allow\": [{{\"fingerprint\", \"rule\", \"event\", \"reason\", \"expires\"?}}]}}",
                e.line(),
                e.column(),
                strip_position(&e.to_string())
            ),
        };
        let at = |pointer: &str| {
            let p = source.position(pointer);
            (p.line, p.column)
        };
        let fail = |pointer: &str, msg: String| -> anyhow::Error {
            let (line, column) = at(pointer);
            anyhow::anyhow!("{label}:{line}:{column}: {msg}")
        };
        if parsed.version != VERSION {
            return Err(fail(
                "/version",
                format!(
                    "allow-list version {} is not supported: this build reads version {VERSION}",
                    parsed.version
                ),
            ));
        }
        let rule_id = regex::Regex::new("^EC-[A-Z][0-9]{3}$").expect("a regex");
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut entries = Vec::with_capacity(parsed.allow.len());
        for (i, entry) in parsed.allow.iter().enumerate() {
            let base = format!("/allow/{i}");
            if entry.fingerprint.trim().is_empty() {
                return Err(fail(
                    &format!("{base}/fingerprint"),
                    "empty fingerprint: copy it from the finding (text output, JSON `fingerprint`)"
                        .into(),
                ));
            }
            if let Some(first) = seen.insert(&entry.fingerprint, i) {
                return Err(fail(
                    &format!("{base}/fingerprint"),
                    format!(
                        "fingerprint `{}` is listed twice (entries {first} and {i}): keep one",
                        entry.fingerprint
                    ),
                ));
            }
            if !rule_id.is_match(&entry.rule) {
                return Err(fail(
                    &format!("{base}/rule"),
                    format!(
                        "`{}` is not a rule id: rule ids look like `EC-D012`",
                        entry.rule
                    ),
                ));
            }
            if entry.reason.trim().is_empty() {
                return Err(fail(
                    &format!("{base}/reason"),
                    "an accepted break needs a reason: say why it is safe (who checked, which consumers)".into(),
                ));
            }
            let expires = match &entry.expires {
                None => None,
                Some(s) => Some(parse_date(s).ok_or_else(|| {
                    fail(
                        &format!("{base}/expires"),
                        format!("`{s}` is not a date: write YYYY-MM-DD"),
                    )
                })?),
            };
            entries.push((entry.clone(), expires, at(&base)));
        }
        Ok(Self {
            label: label.to_owned(),
            entries,
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Marks every finding the list accepts (`allowed = Some(reason)`); returns the warnings:
    /// stale entries, expired entries, entries whose `rule`/`event` disagree with the finding.
    pub fn apply(&self, findings: &mut [Finding], today: time::Date) -> Vec<Warning> {
        let mut warnings = Vec::new();
        let warn = |(line, column): (usize, usize), message: String| Warning {
            file: self.label.clone(),
            line,
            column,
            message,
        };
        for (entry, expires, pos) in &self.entries {
            let matching: Vec<&mut Finding> = findings
                .iter_mut()
                .filter(|f| f.fingerprint == entry.fingerprint)
                .collect();
            if matching.is_empty() {
                warnings.push(warn(
                    *pos,
                    format!(
                        "stale entry: fingerprint `{}` ({}{}) matches no finding; remove it",
                        entry.fingerprint,
                        entry.rule,
                        entry
                            .event
                            .as_deref()
                            .map(|e| format!(", {e}"))
                            .unwrap_or_default()
                    ),
                ));
                continue;
            }
            if let Some(day) = expires.filter(|d| *d < today) {
                warnings.push(warn(
                    *pos,
                    format!(
                        "entry `{}` ({}) expired on {day}: the break is no longer accepted; \
                         fix it or renew the entry with a new reason",
                        entry.fingerprint, entry.rule
                    ),
                ));
                continue;
            }
            for finding in matching {
                if finding.rule.0 != entry.rule {
                    warnings.push(warn(
                        *pos,
                        format!(
                            "entry `{}` says rule {} but the finding is {}: correct `rule`",
                            entry.fingerprint, entry.rule, finding.rule.0
                        ),
                    ));
                }
                let event = match (&finding.system, &finding.event) {
                    (Some(s), Some(e)) => Some(format!("{s}/{e}")),
                    _ => None,
                };
                if entry.event.is_some() && entry.event != event {
                    warnings.push(warn(
                        *pos,
                        format!(
                            "entry `{}` says event {} but the finding is about {}: correct `event`",
                            entry.fingerprint,
                            entry.event.as_deref().unwrap_or_default(),
                            event.as_deref().unwrap_or("the catalog")
                        ),
                    ));
                }
                finding.allowed = Some(entry.reason.clone());
            }
        }
        warnings
    }
}

/// serde_json appends ` at line L column C`; the location is already in front.
fn strip_position(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    }
}

/// An allow-list entry for each finding that fails the check, to paste into the file after
/// writing the reason.
pub fn suggest(findings: &[Finding]) -> String {
    let entries: Vec<serde_json::Value> = findings
        .iter()
        .filter(|f| f.allowed.is_none() && fails(f))
        .map(|f| {
            let mut e = serde_json::Map::new();
            e.insert("fingerprint".into(), f.fingerprint.clone().into());
            e.insert("rule".into(), f.rule.0.into());
            if let (Some(s), Some(ev)) = (&f.system, &f.event) {
                e.insert("event".into(), format!("{s}/{ev}").into());
            }
            e.insert(
                "reason".into(),
                "TODO: why this break is safe (who checked which consumers)".into(),
            );
            serde_json::Value::Object(e)
        })
        .collect();
    let file = serde_json::json!({ "version": VERSION, "allow": entries });
    let mut s = serde_json::to_string_pretty(&file).expect("JSON values serialize");
    s.push('\n');
    s
}

/// Whether a finding fails the check when not allowed.
pub fn fails(f: &Finding) -> bool {
    use event_contracts_compat::{Severity, Verdict};
    match f.verdict {
        Verdict::Incompatible => f.severity == Severity::Error,
        Verdict::Unknown => true,
        Verdict::Compatible => false,
    }
}
