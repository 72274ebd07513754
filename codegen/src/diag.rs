//! Diagnostics: every problem found in the catalog, each with a stable code, a location and a
//! hint. The generator collects them all before it gives up, so one run shows every mistake.

use std::fmt;

use event_contracts_runtime::display_pointer;

use crate::source::Position;

/// A stable diagnostic code. Codes never change meaning; new ones are appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// E001: the file is not valid JSON.
    JsonSyntax,
    /// E002: a file could not be read.
    Io,
    /// E003: the manifest does not match its schema.
    Manifest,
    /// E004: a `$ref` names a file or pointer that does not exist.
    UnresolvedRef,
    /// E005: a `$ref` points at the network or outside `schemas/`.
    ForbiddenRef,
    /// E006: a keyword the generator does not support.
    UnsupportedKeyword,
    /// E007: a keyword is used in a shape the generator cannot type.
    UnsupportedShape,
    /// E008: two types would get the same Rust name.
    NameCollision,
    /// E009: `$id` missing, duplicated or not matching the file path.
    SchemaId,
    /// E010: an example does not validate, or an invalid example does.
    Example,
    /// E011: a document convention is broken (lint).
    Convention,
    /// E012: an unknown event or channel was named.
    UnknownEvent,
    /// E013: `$ref`s (or `allOf`/`oneOf`/`not` parts) lead back to the schema they start from
    /// with no property or array item in between: a schema defined as itself.
    RefCycle,
    /// E014: schemas nest deeper than the generator follows.
    TooDeep,
    /// E015: a `title` or system name that cannot be a Rust name.
    InvalidName,
    /// E016: the manifest's envelope roles do not fit the envelope schema, or a required
    /// envelope property plays no role.
    EnvelopeRole,
    /// E017: the HTML catalog (`cargo xtask docs`) cannot show something as written: two
    /// pages that would share a file name, or an `x-invalid-examples` entry it cannot read.
    DocSite,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::JsonSyntax => "E001",
            Code::Io => "E002",
            Code::Manifest => "E003",
            Code::UnresolvedRef => "E004",
            Code::ForbiddenRef => "E005",
            Code::UnsupportedKeyword => "E006",
            Code::UnsupportedShape => "E007",
            Code::NameCollision => "E008",
            Code::SchemaId => "E009",
            Code::Example => "E010",
            Code::Convention => "E011",
            Code::UnknownEvent => "E012",
            Code::RefCycle => "E013",
            Code::TooDeep => "E014",
            Code::InvalidName => "E015",
            Code::EnvelopeRole => "E016",
            Code::DocSite => "E017",
        }
    }
}

/// One problem, located by file, line:column and JSON pointer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub code: Code,
    pub file: String,
    pub position: Position,
    pub pointer: String,
    pub message: String,
    pub hint: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error[{}] at {}: {}\n  hint: {}",
            self.file,
            self.position.line,
            self.position.column,
            self.code.as_str(),
            display_pointer(&self.pointer),
            self.message,
            self.hint
        )
    }
}

/// Every diagnostic of a run, sorted by file and position.
#[derive(Clone, Debug, Default, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds `d`; the same diagnostic twice is reported once (see [`Diagnostics::sorted`]).
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sorted by file and position, each diagnostic once. Duplicates are dropped here rather
    /// than looked for on every push, which was quadratic in the number of diagnostics.
    pub fn sorted(mut self) -> Self {
        self.0.sort_by(|a, b| {
            (&a.file, a.position, &a.pointer).cmp(&(&b.file, b.position, &b.pointer))
        });
        let mut seen = std::collections::HashSet::new();
        self.0.retain(|d| seen.insert(d.clone()));
        self
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        write!(f, "{} error(s)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::{Code, Diagnostic};
    use crate::source::Position;

    #[test]
    fn a_diagnostic_about_the_whole_document_shows_the_root_pointer_as_rfc_6901_writes_it() {
        let diagnostic = |pointer: &str| Diagnostic {
            code: Code::UnsupportedShape,
            file: "schemas/x/events/e.json".into(),
            position: Position { line: 1, column: 1 },
            pointer: pointer.into(),
            message: "an event schema must be an object".into(),
            hint: "start the file with `{`".into(),
        };
        assert_eq!(
            diagnostic("").to_string(),
            "schemas/x/events/e.json:1:1: error[E007] at \"\": an event schema must be an \
             object\n  hint: start the file with `{`"
        );
        assert!(diagnostic("/properties/a")
            .to_string()
            .contains(" at /properties/a: "));
    }
}
