//! The public vocabulary of a compatibility check: modes, rules, findings and the report.
//! The renderers (text, JSON, GitHub annotations, SARIF, Markdown) and the CLI depend only on
//! these types.

use serde::Serialize;

/// Compatibility mode of an event, as declared in its system's manifest (default BACKWARD).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    /// Every message an old producer can write is accepted by a new consumer.
    Backward,
    /// Every message a new producer can write is accepted by an old consumer.
    Forward,
    /// Both.
    Full,
    BackwardTransitive,
    ForwardTransitive,
    FullTransitive,
    /// No check.
    None,
}

/// How a schema is read as a set of messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Semantics {
    /// What the generated code does: producers emit only declared properties, consumers ignore
    /// unknown properties unless the schema closes the object.
    #[default]
    Generated,
    /// JSON Schema as a set of documents (for producers that are not generated).
    Set,
}

/// Which version of a schema a location or a message belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Old,
    New,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Which JSON documents are accepted.
    Data,
    /// The generated Rust API (code compiled against the old crate).
    GeneratedSource,
    /// Channel, routing key, subject, stream, envelope.
    Transport,
    /// Catalog policy (versions, modes, metadata).
    Policy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// A stable rule identifier, e.g. `EC-D012`. The registry of rules (id, category, default
/// severity, one-line title and fix hint) lives in `rules.rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RuleId(pub &'static str);

/// The outcome of one finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Compatible,
    Incompatible,
    /// Could not be decided (the keyword is in `Finding::undecided_keyword`); fails the check
    /// unless allowed.
    Unknown,
}

/// A place in one side's JSON source.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Location {
    pub side: Side,
    /// Path relative to the repository root (`schemas/audio/events/X.json`) or the file as given.
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub column: usize,
    /// JSON pointer inside `file`.
    pub pointer: String,
}

/// A concrete message proving a break: accepted by `accepted_by`'s real validator, rejected
/// by the other side's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Counterexample {
    pub message: serde_json::Value,
    pub accepted_by: Side,
    /// The rejecting side's first validator error, `pointer: message`.
    pub rejected_because: String,
}

/// One thing that changed between the two versions and what it means.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub rule: RuleId,
    pub category: Category,
    pub severity: Severity,
    pub verdict: Verdict,
    /// The system (`audio`) and event name (`AudioChunkReceived`), when the finding is about one.
    pub system: Option<String>,
    pub event: Option<String>,
    /// The mode the verdict was decided under; for transitive modes, every failing earlier
    /// version is its own finding with `against_version` set.
    pub mode: Mode,
    pub against_version: Option<String>,
    /// JSON pointer of the changed place within the event's message (`/payload/chunk_id`).
    pub path: String,
    /// One sentence, in words.
    pub message: String,
    pub hint: &'static str,
    pub old: Option<Location>,
    pub new: Option<Location>,
    pub counterexample: Option<Counterexample>,
    pub undecided_keyword: Option<String>,
    /// Stable across runs and unrelated edits: hash of rule, system, event, path with the
    /// union branch named, and what broke (values, bounds, names; not line numbers, not
    /// message text). Keys the allow-list; see [`crate::fingerprint`].
    pub fingerprint: String,
    /// Set by the CLI when the allow-list accepts this finding: the recorded reason.
    pub allowed: Option<String>,
}

/// In which order to deploy a change, from both directions' verdicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rollout {
    /// Nothing observable changed, or both directions hold.
    AnyOrder,
    /// BACKWARD holds, FORWARD does not: upgrade the consumers, then the producers.
    ConsumersFirst,
    /// FORWARD holds, BACKWARD does not: upgrade the producers, then the consumers.
    ProducersFirst,
    /// Neither holds: publish a new event (version) instead.
    NewEventVersion,
    /// Some verdict is unknown.
    Undecided,
}

/// Per event: both directions, whatever the declared mode, and the rollout advice.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventSummary {
    pub system: String,
    pub event: String,
    /// `added`, `removed`, `changed` or `unchanged`.
    pub change: &'static str,
    pub declared_mode: Mode,
    pub backward: Verdict,
    pub forward: Verdict,
    pub rollout: Rollout,
    /// From the new manifest (the old one for a removed event).
    pub producers: Vec<String>,
    pub consumers: Vec<String>,
    /// A removed event that looks renamed (an event added in the same system has the same
    /// schema, `$id`, `title` and `description` aside): the new name; on the added event,
    /// the old name.
    pub renamed: Option<String>,
}

/// Everything one check found, sorted: system, event, breaking first, then path.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// Version of the JSON output format.
    pub format_version: u32,
    pub findings: Vec<Finding>,
    /// Every event present on either side, sorted by system then event.
    pub events: Vec<EventSummary>,
    /// The revision the old side was read from (a short commit id), when it came from git:
    /// renderers print old-side locations as `REV:path:line:col` so that they are not taken
    /// for places in the working tree. Findings against an earlier release name that
    /// release in `against_version` instead.
    pub old_revision: Option<String>,
    /// The dialect each side was read in (two-file checks; a catalog is 2020-12 throughout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialects: Option<Dialects>,
}

/// How each side of a two-file check was read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dialects {
    pub old: crate::dialect::ReadAs,
    pub new: crate::dialect::ReadAs,
}

impl Dialects {
    /// `old read as draft-07 ($schema), new read as 2020-12 (no $schema: the default)`.
    pub fn describe(&self) -> String {
        format!(
            "old read as {}, new read as {}",
            self.old.describe(),
            self.new.describe()
        )
    }
}
