//! Schema compatibility for the event catalog.
//!
//! Input: two versions of `schemas/` as `(path under schemas/, text)` pairs (one read from a
//! git revision, one from the working tree), or two standalone schema files. Output: a
//! [`Report`] of [`Finding`]s, each with a stable [`RuleId`], a verdict and, for a break, a
//! counterexample message that one side's real validator accepts and the other's rejects.
//!
//! How: each side's schemas are normalised into a canonical form ([`schema`]: `$ref`
//! resolved, `allOf` merged, `type` arrays and type-disjoint unions folded, `const` as a
//! one-value `enum`, integer bounds inclusive), the two forms are walked together
//! ([`compare`]) deciding BACKWARD and FORWARD per difference, patterns are compared as
//! regular languages ([`lang`]), and every claimed break is confirmed by building a message
//! ([`synth`]) and running both sides' `jsonschema` validators on it; an unconfirmed break is
//! reported as unknown, naming the keyword.
//!
//! This crate only decides and renders; reading git, files and the allow-list is the CLI's
//! (`xtask`) job.

pub mod compare;
pub mod dialect;
mod engine;
pub mod finding;
pub mod junit;
pub mod lang;
pub mod render;
pub mod rules;
pub mod schema;
pub mod synth;

pub use engine::rollout;
pub use finding::{
    Category, Counterexample, Dialects, EventSummary, Finding, Location, Mode, Report, Rollout,
    RuleId, Semantics, Severity, Side, Verdict,
};

/// Version of the JSON report format ([`render::json`]).
pub const FORMAT_VERSION: u32 = 1;

/// How to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub semantics: Semantics,
    /// Overrides every event's declared mode.
    pub mode: Option<Mode>,
    /// Prefix prepended to file paths in Locations, e.g. "schemas/".
    pub path_prefix: String,
}

impl Default for Options {
    /// Generated semantics, each event's declared mode, locations under `schemas/`.
    fn default() -> Self {
        Self {
            semantics: Semantics::Generated,
            mode: None,
            path_prefix: "schemas/".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CompatError {
    /// A side does not parse or check: `file:line:col: message`.
    #[error("the {side:?} side does not parse: {message}")]
    Parse { side: Side, message: String },
}

/// Whole catalogs: files are (path under schemas/, text), e.g.
/// `("audio/events/AudioChunkReceived.json", "{...}")`.
///
/// `history`: earlier released versions, oldest first, each (label e.g. a git rev, files);
/// used only by `*_TRANSITIVE` modes. The "old" side is always the immediate predecessor;
/// transitive modes also check new against every entry of history and report every failing
/// version through [`Finding::against_version`].
pub fn check_catalogs(
    old: &[(String, String)],
    new: &[(String, String)],
    history: &[(String, Vec<(String, String)>)],
    options: &Options,
) -> Result<Report, CompatError> {
    engine::check_catalogs(old, new, history, options)
}

/// Two standalone schema files (name, text); `$ref`s are resolved within each file only.
/// The mode is given explicitly (`options.mode` still overrides it).
pub fn check_files(
    old: (&str, &str),
    new: (&str, &str),
    mode: Mode,
    options: &Options,
) -> Result<Report, CompatError> {
    engine::check_files(old, new, mode, options)
}

/// The prefix of every fingerprint: the format's version. Fingerprints of another format
/// (the 16 bare hex digits of version 1, which left out what broke) never match.
pub const FINGERPRINT_PREFIX: &str = "ec2-";

/// A stable fingerprint of a finding: `ec2-` and FNV-1a 64 of
/// `rule\0system\0event\0path\0what`, as 16 hex digits.
///
/// `what` is the canonical description of what broke (the sorted removed enum values, the old
/// and new bounds, the property's required-ness, the changed constraint's value, the Rust
/// names and types), so a larger break at the same place has another fingerprint and needs
/// its own allow-list entry. Line numbers, message wording and counterexamples (built from
/// the schemas' examples, which change for unrelated reasons) do not enter it. For a finding
/// inside a union branch the path names the branch (`/data/oneOf[type="a"]/x`: tag value,
/// else title, else position), so the same change in two branches has two fingerprints.
pub fn fingerprint(
    rule: RuleId,
    system: Option<&str>,
    event: Option<&str>,
    path: &str,
    what: &str,
) -> String {
    let text = format!(
        "{}\0{}\0{}\0{}\0{}",
        rule.0,
        system.unwrap_or(""),
        event.unwrap_or(""),
        path,
        what
    );
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{FINGERPRINT_PREFIX}{h:016x}")
}

impl Report {
    /// 0 compatible, 1 any non-allowed incompatible finding of severity error, 2 any
    /// non-allowed unknown (and no such incompatible one).
    pub fn exit_code(&self) -> u8 {
        let live = || self.findings.iter().filter(|f| f.allowed.is_none());
        if live().any(|f| f.verdict == Verdict::Incompatible && f.severity == Severity::Error) {
            1
        } else if live().any(|f| f.verdict == Verdict::Unknown) {
            2
        } else {
            0
        }
    }

    /// Findings that fail the check (incompatible errors and unknowns not allowed).
    pub fn failing(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| {
            f.allowed.is_none()
                && (f.verdict == Verdict::Unknown
                    || (f.verdict == Verdict::Incompatible && f.severity == Severity::Error))
        })
    }
}
