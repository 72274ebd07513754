//! The allow-list of accepted breaks (`compat-allow.json` at the repository root):
//!
//! ```json
//! {
//!   "version": 1,
//!   "allow": [
//!     {
//!       "fingerprint": "ec2-3f0a9c1d5e7b2468",
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
//! marked allowed, and no longer fails the check). The fingerprint covers what broke (see
//! [`event_contracts_compat::fingerprint`]), so an entry accepting the removal of one enum
//! value does not accept the removal of another. `rule` and `event` (`system/event`) are for
//! the reader and are checked against the finding. Every entry needs a written `reason`
//! (placeholders such as `TODO: …` are refused) and an `expires` day (`YYYY-MM-DD`, the last
//! day the acceptance holds): an acceptance without an end is how an old reason ends up
//! standing beside a break nobody reviewed. An allow-list with an invalid, placeholder or
//! expired entry is refused as a whole (exit 3, naming `file:line:col`). An entry that matches
//! no finding is stale: a warning, not a failure.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{bail, Context};
use event_contracts_codegen::source::SourceFile;
use event_contracts_compat::{Finding, FINGERPRINT_PREFIX};
use serde::{Deserialize, Serialize};

/// The allow-list format version this build reads.
pub const VERSION: u32 = 1;

/// The reason `--suggest-allow` writes; the check refuses it until someone writes the real one.
pub const PLACEHOLDER_REASON: &str = "TODO: why this break is safe (who checked which consumers)";

/// How many days a suggested entry holds: a review every quarter unless the author picks
/// another day.
pub const SUGGESTED_DAYS: i64 = 90;

/// First words that mark a reason nobody has written yet.
const PLACEHOLDER_WORDS: [&str; 4] = ["TODO", "FIXME", "TBD", "XXX"];

/// The `$comment` of an allow-list that `--suggest-allow --write` creates.
const NEW_FILE_COMMENT: &str = "Accepted schema breaks for `cargo xtask compat`. Each entry: fingerprint (from the finding; `cargo xtask compat --against main --suggest-allow --write` adds entries), rule (EC-…), event (system/event), reason (why it is safe: who checked which consumers; placeholders such as TODO are refused), expires (YYYY-MM-DD, the last day it holds; required). An entry that matches no finding is reported as stale.";

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    schema: Option<String>,
    /// Free text for the reader.
    #[serde(rename = "$comment", default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    version: u32,
    #[serde(default)]
    allow: Vec<Entry>,
}

/// One accepted break.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub fingerprint: String,
    pub rule: String,
    /// `system/event`, when the finding is about one event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    pub reason: String,
    /// Last day the acceptance holds, `YYYY-MM-DD`. Required; optional in the type only so
    /// that a missing one gets a located message saying what to write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// A parsed allow-list, with where each entry stands in its file.
#[derive(Debug, Default)]
pub struct AllowList {
    /// How to name the file in messages (relative to the repository root when inside it).
    pub label: String,
    entries: Vec<(Entry, (usize, usize))>,
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

fn format_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Today in UTC (the allow-list's `expires` is a calendar day).
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// Why `reason` is not a reason yet: empty, a placeholder word first (`TODO: …`), or the
/// text `--suggest-allow` writes.
fn placeholder(reason: &str) -> Option<String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Some("the reason is empty".into());
    }
    let first: String = reason
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    if let Some(word) = PLACEHOLDER_WORDS
        .iter()
        .find(|w| first.eq_ignore_ascii_case(w))
    {
        return Some(format!(
            "the reason is a placeholder (it starts with `{word}`)"
        ));
    }
    let suggested = PLACEHOLDER_REASON
        .split_once(": ")
        .map_or(PLACEHOLDER_REASON, |(_, rest)| rest);
    if reason.eq_ignore_ascii_case(PLACEHOLDER_REASON) || reason.eq_ignore_ascii_case(suggested) {
        return Some("the reason is the text --suggest-allow writes".into());
    }
    None
}

/// Whether `fingerprint` has this build's format, `ec2-` and 16 lowercase hex digits.
fn current_format(fingerprint: &str) -> bool {
    fingerprint
        .strip_prefix(FINGERPRINT_PREFIX)
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

impl AllowList {
    /// Parses and validates `text`; every error names `label:line:col`, what is wrong and
    /// what to do. `today` decides which entries have expired.
    pub fn parse(label: &str, text: &str, today: time::Date) -> anyhow::Result<Self> {
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
                "{label}:{}:{}: {}\n  hint: the allow-list is {{\"version\": {VERSION}, \"allow\": [{{\"fingerprint\", \"rule\", \"event\", \"reason\", \"expires\"}}]}}",
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
            let what = format!(
                "entry `{}` ({}{})",
                entry.fingerprint,
                entry.rule,
                entry
                    .event
                    .as_deref()
                    .map(|e| format!(", {e}"))
                    .unwrap_or_default()
            );
            if entry.fingerprint.trim().is_empty() {
                return Err(fail(
                    &format!("{base}/fingerprint"),
                    "empty fingerprint: copy it from the finding (text output, JSON `fingerprint`)"
                        .into(),
                ));
            }
            if !current_format(&entry.fingerprint) {
                return Err(fail(
                    &format!("{base}/fingerprint"),
                    format!(
                        "`{}` is not a fingerprint of this build (`{FINGERPRINT_PREFIX}` and 16 hex \
                         digits); fingerprints without what broke accepted larger breaks too: \
                         regenerate the entry with `cargo xtask compat --against REV \
                         --suggest-allow --write` and review its reason",
                        entry.fingerprint
                    ),
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
            if let Some(why) = placeholder(&entry.reason) {
                return Err(fail(
                    &format!("{base}/reason"),
                    format!(
                        "{what}: {why}; an accepted break needs a reason: say why it is safe \
                         (who checked which consumers)"
                    ),
                ));
            }
            let Some(expires) = &entry.expires else {
                return Err(fail(
                    &base,
                    format!(
                        "{what} has no `expires`: add the last day the acceptance holds \
                         (\"expires\": \"YYYY-MM-DD\"), so the break is reviewed again"
                    ),
                ));
            };
            let Some(day) = parse_date(expires) else {
                return Err(fail(
                    &format!("{base}/expires"),
                    format!("`{expires}` is not a date: write YYYY-MM-DD"),
                ));
            };
            if day < today {
                return Err(fail(
                    &format!("{base}/expires"),
                    format!(
                        "{what} expired on {expires}: the break is no longer accepted; fix the \
                         schema, or renew the entry with a later date and a reason saying why \
                         it still holds"
                    ),
                ));
            }
            entries.push((entry.clone(), at(&base)));
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
    /// stale entries and entries whose `rule`/`event` disagree with the finding.
    pub fn apply(&self, findings: &mut [Finding]) -> Vec<Warning> {
        let mut warnings = Vec::new();
        let warn = |(line, column): (usize, usize), message: String| Warning {
            file: self.label.clone(),
            line,
            column,
            message,
        };
        for (entry, pos) in &self.entries {
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

/// An entry for each finding that fails the check, once per fingerprint, with the placeholder
/// reason (refused until someone writes the real one) and an expiry [`SUGGESTED_DAYS`] after
/// `today`.
pub fn suggest(findings: &[Finding], today: time::Date) -> Vec<Entry> {
    let expires = format_date(today.saturating_add(time::Duration::days(SUGGESTED_DAYS)));
    let mut seen = HashSet::new();
    findings
        .iter()
        .filter(|f| f.allowed.is_none() && fails(f))
        .filter(|f| seen.insert(f.fingerprint.as_str()))
        .map(|f| Entry {
            fingerprint: f.fingerprint.clone(),
            rule: f.rule.0.to_owned(),
            event: match (&f.system, &f.event) {
                (Some(s), Some(e)) => Some(format!("{s}/{e}")),
                _ => None,
            },
            reason: PLACEHOLDER_REASON.to_owned(),
            expires: Some(expires.clone()),
        })
        .collect()
}

/// The entries as JSON objects separated by commas, to paste into the `allow` array.
pub fn entries_text(entries: &[Entry]) -> String {
    let mut out = entries
        .iter()
        .map(|e| serde_json::to_string_pretty(e).expect("entries serialize"))
        .collect::<Vec<_>>()
        .join(",\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// The allow-list `existing` (the file's text, `None` when there is none yet) with `entries`
/// appended, skipping fingerprints it already lists. Existing entries keep their order and
/// content; the result is pretty-printed. Returns the new text and how many entries were
/// added.
pub fn merge(
    label: &str,
    existing: Option<&str>,
    entries: &[Entry],
) -> anyhow::Result<(String, usize)> {
    let mut file = match existing {
        Some(text) => serde_json::from_str::<FileFormat>(text)
            .with_context(|| format!("{label}: reading the allow-list to merge into"))?,
        None => FileFormat {
            schema: None,
            comment: Some(NEW_FILE_COMMENT.to_owned()),
            version: VERSION,
            allow: Vec::new(),
        },
    };
    let listed: HashSet<String> = file.allow.iter().map(|e| e.fingerprint.clone()).collect();
    let new: Vec<Entry> = entries
        .iter()
        .filter(|e| !listed.contains(&e.fingerprint))
        .cloned()
        .collect();
    let added = new.len();
    file.allow.extend(new);
    let mut text = serde_json::to_string_pretty(&file).expect("the allow-list serializes");
    text.push('\n');
    Ok((text, added))
}

/// Replaces `path` with `text` all at once: written beside it, then renamed over it, so a
/// crash or a full disk never leaves a half-written allow-list.
pub fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "compat-allow.json".into());
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("replacing {}", path.display()));
    }
    Ok(())
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
