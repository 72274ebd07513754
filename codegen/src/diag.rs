//! Diagnostics: every problem found in the catalog, each with a stable code, a location and a
//! hint. The generator collects them all before it gives up, so one run shows every mistake.
//!
//! A diagnostic made from a parsed file carries the offending line, so it renders like rustc
//! (`render`) without reading the file again; `Display` stays the one-line
//! `file:line:col: error[E0xx] …` form that scripts and editors match.

use std::fmt;
use std::fmt::Write as _;

use event_contracts_runtime::display_pointer;

use crate::source::Position;

/// Declares every code once: the variant (its doc comment is the meaning `docs/diagnostics.md`
/// shows), the stable code string, the label under the caret and the general advice.
macro_rules! codes {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident = $code:literal, label $label:literal, help $help:literal;
    )+) => {
        /// A stable diagnostic code. Codes never change meaning; new ones are appended.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $( $(#[doc = $doc])+ $name, )+
        }

        impl Code {
            /// Every code, in code order.
            pub const ALL: &'static [Code] = &[$(Code::$name),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$name => $code,)+ }
            }

            /// The variant's name (`UnsupportedKeyword`).
            pub fn name(self) -> &'static str {
                match self { $(Code::$name => stringify!($name),)+ }
            }

            /// What the code means: the variant's doc comment on one line.
            pub fn meaning(self) -> String {
                let doc = match self { $(Code::$name => concat!($($doc, "\n"),+),)+ };
                doc.split_whitespace().collect::<Vec<_>>().join(" ")
            }

            /// The few words printed under the caret.
            pub fn label(self) -> &'static str {
                match self { $(Code::$name => $label,)+ }
            }

            /// What to do about it in general; each diagnostic's own hint is more specific.
            pub fn help(self) -> &'static str {
                match self { $(Code::$name => $help,)+ }
            }
        }
    };
}

codes! {
    /// The file is not valid JSON.
    JsonSyntax = "E001", label "invalid JSON here",
        help "Fix the JSON syntax at the caret (a missing comma, quote or bracket is the usual cause).";
    /// A file or directory could not be read.
    Io = "E002", label "cannot read",
        help "Run from the workspace root (where schemas/ is); check permissions and that the file is UTF-8.";
    /// The manifest does not match its schema (`schemas/manifest.schema.json`).
    Manifest = "E003", label "does not match manifest.schema.json",
        help "Compare the manifest with schemas/CONVENTIONS.md; an editor using manifest.schema.json shows the allowed fields.";
    /// A `$ref` names a file or pointer that does not exist.
    UnresolvedRef = "E004", label "nothing at this reference",
        help "Check the relative path from the referring file and the JSON pointer after `#`.";
    /// A `$ref` points at the network or outside `schemas/`.
    ForbiddenRef = "E005", label "outside the catalog",
        help "Reference only files inside schemas/, with a relative path such as ../defs/x.json or an `$id` of the catalog.";
    /// A keyword the generator does not support.
    UnsupportedKeyword = "E006", label "not supported by the generator",
        help "Use the keywords schemas/CONVENTIONS.md lists; annotations may use an `x-` prefix.";
    /// A keyword is used in a shape the generator cannot type: a `oneOf`/`anyOf` that is
    /// neither a tagged union nor a presence rule.
    UnsupportedShape = "E007", label "not a tagged union",
        help "Give every branch a distinct string `const` on one required property (e.g. `type`), or use branches of only `required`.";
    /// Two types would get the same Rust name.
    NameCollision = "E008", label "name already taken",
        help "Give one of the two types another `title`.";
    /// `$id` missing, duplicated or not matching the file path.
    SchemaId = "E009", label "wrong `$id`",
        help "Set `$id` to https://event-contracts.local/schemas/ followed by the file's path under schemas/.";
    /// An example does not validate against its schema.
    Example = "E010", label "example does not validate",
        help "Fix the example or the schema; the validator's message names the failing keyword.";
    /// A document convention is broken (lint): a payload property is not snake_case where the
    /// system's source document asks for snake_case keys.
    Convention = "E011", label "not snake_case",
        help "Rename the property in snake_case.";
    /// An unknown event or channel was named.
    UnknownEvent = "E012", label "unknown event",
        help "Name an event or channel the catalog declares.";
    /// `$ref`s (or `allOf`/`oneOf`/`not` parts) lead back to the schema they start from
    /// with no property or array item in between: a schema defined as itself.
    RefCycle = "E013", label "defined as itself",
        help "Remove one reference of the cycle, or put the recursion under a property or `items`.";
    /// Schemas nest deeper than the generator follows.
    TooDeep = "E014", label "nested too deep",
        help "Share definitions through `$ref` instead of nesting them.";
    /// A `title` or system name that cannot be a Rust name.
    InvalidName = "E015", label "not a Rust name",
        help "Write titles in PascalCase and system names in snake_case, ASCII letters and digits, no Rust keyword.";
    /// An envelope role names a property the envelope schema lacks, one another role or the
    /// type/payload field took, or a property of the wrong kind.
    EnvelopeRole = "E016", label "role does not fit",
        help "Name an envelope property of the kind the role needs, one property per role (schemas/CONVENTIONS.md, envelope roles).";
    /// No system manifest was found under the schema root.
    NoSystem = "E017", label "no manifest",
        help "Run from the workspace root, or add schemas/<system>/manifest.json.";
    /// The manifest names an event or envelope schema file that does not exist.
    MissingSchemaFile = "E018", label "no such file",
        help "Fix the path; it is relative to the system's folder.";
    /// An event's channel belongs to another transport than its system's.
    ChannelTransport = "E019", label "wrong transport",
        help "Use a channel of the system's `transport`.";
    /// More than one event of a system has `fallback: true`.
    DuplicateFallback = "E020", label "second fallback",
        help "Keep one fallback event per system.";
    /// Two manifests declare the same system name.
    DuplicateSystem = "E021", label "system declared twice",
        help "Give each system its own name: it is a module of the generated crate.";
    /// Two events of a system name the same schema file.
    SharedSchemaFile = "E022", label "schema file already used",
        help "Give each event its own schema file; share shapes with a `$ref` to a definition.";
    /// Two events of a system have the same name.
    DuplicateEventName = "E023", label "event name already used",
        help "Make every event name unique: it identifies the event on the wire.";
    /// The manifest's `message_id` or `idempotency_key` names no required string, UUID or
    /// integer property of the event.
    KeyProperty = "E024", label "not a required key property",
        help "Name a required top-level string, UUID or integer property of the event's schema.";
    /// The manifest's Redis stream entry layout is unusable: on a non-Redis system, an empty
    /// payload field or header prefix, or a payload field inside the header prefix.
    RedisLayout = "E025", label "unusable stream entry layout",
        help "Only `transport: redis` systems declare `redis`; use a non-empty payload field outside a non-empty header prefix.";
    /// A string `format` the generator does not type.
    UnsupportedFormat = "E026", label "format not supported",
        help "Use `date-time` or `uuid`, or a `pattern` instead of the format.";
    /// A `pattern` the generator cannot check (look-around, back-references).
    UnsupportedPattern = "E027", label "pattern cannot be checked",
        help "Write the pattern without look-around or back-references.";
    /// Where a schema is expected stands something else (a number, a string, an array).
    NotASchema = "E028", label "not a schema",
        help "Write a schema object such as {\"type\": \"string\"}, or `true`.";
    /// A keyword's value is not what JSON Schema 2020-12 allows there (a `$ref` or `pattern`
    /// that is not a string, a `type` that is neither a string nor an array of strings, a
    /// draft-04 boolean bound, a `multipleOf` not above 0).
    InvalidKeywordValue = "E029", label "invalid value for this keyword",
        help "Write the keyword as JSON Schema 2020-12 defines it.";
    /// A schema with constraints but no `type`.
    MissingType = "E030", label "no `type`",
        help "Add a `type`, or use {} for any JSON value.";
    /// A `type` the generator does not know.
    UnknownType = "E031", label "unknown type",
        help "Use object, array, string, integer, number or boolean, optionally with \"null\".";
    /// A value of several types (other than one type and null), which has no tagged Rust form.
    MultipleTypes = "E032", label "several types",
        help "Use one type (optionally with \"null\"), or a tagged `oneOf` of objects.";
    /// A value that can only be `null`.
    NullOnly = "E033", label "can only be null",
        help "Drop the property or give it a type.";
    /// An `enum` or `const` whose values are not strings.
    NonStringEnum = "E034", label "not a string",
        help "Use string values, or a numeric `type` with bounds.";
    /// An `enum` value that the schema's own string constraints refuse.
    EnumBreaksConstraints = "E035", label "refused by its own schema",
        help "Fix the value or the constraint.";
    /// A `$ref` or `allOf` part merged into an object is not an object schema.
    MergeNotObject = "E036", label "not an object schema",
        help "Merge only object schemas.";
    /// A property's schemas in `allOf` cannot be merged into one Rust type.
    AllOfConflict = "E037", label "conflicting declarations",
        help "Narrow with `const`/`enum` or a `$ref` to a more specific object, or keep one declaration.";
    /// `additionalProperties` with a schema beside declared `properties`.
    MixedMap = "E038", label "map beside properties",
        help "Use either declared properties or a map, not both.";
    /// Other keywords beside a tagged `oneOf`.
    UnionSiblings = "E039", label "beside a tagged `oneOf`",
        help "Move shared properties into each branch (an `allOf` with a shared `$ref` works).";
    /// A branch of a tagged union (or its fallback) is not an object with properties.
    UnionBranch = "E040", label "not an object branch",
        help "Give the branch \"type\": \"object\" and its tag property.";
    /// A union's fallback branch does not exclude exactly the listed tag values.
    FallbackTags = "E041", label "wrong exclusion",
        help "Write \"not\": {\"enum\": [...]} with exactly the other branches' tag values.";
    /// Two branches of a tagged union share a tag value.
    DuplicateTag = "E042", label "tag value used twice",
        help "Make each branch's `const` distinct.";
    /// The manifest's `type_field` or `payload_field` is not a suitable envelope property.
    EnvelopeField = "E043", label "not an envelope property",
        help "Name the envelope property holding the event name (a required string) or the payload.";
    /// The envelope schema uses keywords only the validator enforces.
    EnvelopeNeedsValidator = "E044", label "validator-only keywords",
        help "Keep the envelope to typed keywords; put conditions in the event schemas.";
    /// An `also_read` location of an envelope role does not resolve to a value of the role's kind.
    AlsoRead = "E045", label "does not resolve",
        help "Write a JSON pointer through the envelope's object properties to a value of the role's kind.";
    /// A required envelope property's `default` breaks the property's own schema.
    EnvelopeDefault = "E046", label "default refused by its schema",
        help "Write a default the property's `pattern` and lengths accept.";
    /// A required envelope property plays no declared role and has no `const` or `default`, so
    /// publishing cannot fill it.
    UnfilledEnvelopeProperty = "E047", label "nothing fills this",
        help "Declare its role in the manifest's `envelope.roles`, give it a `const` or `default`, or make it optional.";
    /// A type's name is the name of an item the generated crate already defines.
    ReservedName = "E048", label "name of a generated item",
        help "Choose another `title`.";
    /// Two events of a system would be handled by the same `Handler` method.
    HandlerCollision = "E049", label "same handler method",
        help "Give one of the events another `title`.";
    /// The runtime's validator cannot compile the schema.
    SchemaCompile = "E050", label "does not compile",
        help "Fix the reference or keyword the validator names.";
    /// The manifest's `event_name_pattern` is not a regular expression (lint).
    NamePattern = "E051", label "not a regular expression",
        help "Write a valid regular expression.";
    /// An event has an empty channel (lint).
    EmptyChannel = "E052", label "empty channel",
        help "Name the channel the event travels on.";
    /// An event name does not follow the manifest's `event_name_pattern` (lint).
    EventNameConvention = "E053", label "does not follow the naming rule",
        help "Rename the event to match the pattern, or fix the pattern.";
    /// An event does not require a property its source document requires on every event (lint).
    CommonPropertyMissing = "E054", label "does not require it",
        help "Add the property to `required` (or `allOf` the common definition).";
    /// An entry of `x-invalid-examples` lacks `instance` or `pointer`.
    InvalidExampleShape = "E055", label "needs `instance` and `pointer`",
        help "Write {\"instance\": ..., \"pointer\": \"/where/it/fails\"}.";
    /// An invalid example validates.
    InvalidExampleAccepted = "E056", label "validates",
        help "Make the example really invalid, or move it to `examples`.";
    /// An invalid example fails, but not at its declared pointer.
    InvalidExamplePointer = "E057", label "fails elsewhere",
        help "Fix the pointer to where the validator reports the error.";
    /// An event schema has no `examples`.
    MissingExamples = "E058", label "no examples",
        help "Add at least one realistic example.";
    /// The HTML catalog (`cargo xtask docs`) cannot show something as written: two pages that
    /// would share a file name, or an `x-invalid-examples` entry it cannot read.
    DocSite = "E059", label "cannot be shown in the HTML catalog",
        help "Rename one of the two events or systems (names differing only in case share a file on macOS and Windows), or give each invalid example an `instance`.";
}

/// The offending line of a diagnostic and the span the caret marks, taken from the file's text
/// when the diagnostic is made, so rendering never reads the file again.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Snippet {
    /// 1-based line number.
    pub line: usize,
    /// The line's text (a window around the span when the line is very long; tabs as spaces).
    pub text: String,
    /// Characters of `text` before the span.
    pub offset: usize,
    /// Characters the span covers (at least 1).
    pub len: usize,
}

/// Longest line shown whole; a longer one (minified JSON) is cut to a window around the span.
const MAX_SHOWN: usize = 120;
/// Characters kept before the span when a long line is cut.
const CONTEXT_BEFORE: usize = 40;

impl Snippet {
    /// The span of `len` characters starting at 1-based character `column` of `line_text`.
    /// Only the shown window is copied: a minified file is one long line, and each of its
    /// diagnostics would otherwise hold (and scan) all of it.
    pub fn new(line: usize, line_text: &str, column: usize, len: usize) -> Self {
        let chars = || {
            line_text
                .trim_end_matches(['\r', '\n'])
                .chars()
                .map(|c| if c == '\t' { ' ' } else { c })
        };
        let start = column.saturating_sub(1);
        let len = len.max(1);
        let short = chars().nth(MAX_SHOWN).is_none();
        let from = if short {
            0
        } else {
            start.saturating_sub(CONTEXT_BEFORE)
        };
        let mut rest = chars().skip(from);
        let shown: String = rest.by_ref().take(MAX_SHOWN).collect();
        let shown_len = shown.chars().count();
        let cut_before = from > 0;
        let cut_after = rest.next().is_some();
        let offset = (start - from).min(shown_len);
        let mut text = String::with_capacity(shown.len() + 6);
        if cut_before {
            text.push('…');
        }
        text.push_str(&shown);
        if cut_after {
            text.push('…');
        }
        Self {
            line,
            text,
            offset: offset + usize::from(cut_before),
            len: if short {
                len
            } else {
                len.min((shown_len - offset).max(1))
            },
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
    /// The offending source line, when the diagnostic comes from a file's text (not for I/O
    /// errors or problems with the catalog as a whole). Boxed: diagnostics travel in
    /// `Result`s, and most of them are never rendered.
    pub snippet: Option<Box<Snippet>>,
}

impl Diagnostic {
    /// The diagnostic as rustc shows one: the code and message, an `-->` line with
    /// `file:line:col` (which editors jump to) and the pointer, the source line with a caret
    /// under the offending key or value, and the hint.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "error[{}]: {}", self.code.as_str(), self.message);
        let gutter = self
            .snippet
            .as_ref()
            .map_or(1, |s| s.line.to_string().len())
            .max(2);
        let pad = " ".repeat(gutter);
        let _ = write!(
            out,
            "{pad}--> {}:{}:{}",
            self.file, self.position.line, self.position.column
        );
        if !self.pointer.is_empty() {
            let _ = write!(out, " (at {})", display_pointer(&self.pointer));
        }
        out.push('\n');
        if let Some(s) = &self.snippet {
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{:>gutter$} | {}", s.line, s.text);
            let _ = writeln!(
                out,
                "{pad} | {}{} {}",
                " ".repeat(s.offset),
                "^".repeat(s.len),
                self.code.label()
            );
            let _ = writeln!(out, "{pad} |");
        }
        let _ = write!(out, "{pad} = help: {}", self.hint);
        out
    }
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

    /// Every diagnostic rendered with its source line ([`Diagnostic::render`]), a blank line
    /// between them, and the count.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for d in &self.0 {
            out.push_str(&d.render());
            out.push_str("\n\n");
        }
        let _ = write!(out, "{} error(s)", self.0.len());
        out
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

/// The table of every code in `docs/diagnostics.md`, as Markdown.
pub fn code_table() -> String {
    let mut out = String::from("| Code | Name | Meaning | What to do |\n|---|---|---|---|\n");
    for code in Code::ALL {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} |",
            code.as_str(),
            code.name(),
            code.meaning().replace('|', "\\|"),
            code.help().replace('|', "\\|")
        );
    }
    out
}

/// `rustc --explain` for our codes: the meaning and advice of `code` (`E006`, `e6` or `6`).
pub fn explain(code: &str) -> Option<String> {
    let digits = code.trim().trim_start_matches(['E', 'e']);
    let n: u32 = digits.parse().ok()?;
    let code = Code::ALL
        .iter()
        .find(|c| c.as_str()[1..].parse::<u32>().ok() == Some(n))?;
    Some(format!(
        "{} ({}): {}\n\nWhat to do: {}\n",
        code.as_str(),
        code.name(),
        code.meaning(),
        code.help()
    ))
}

#[cfg(test)]
mod tests {
    use super::{Code, Diagnostic, Snippet};
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
            snippet: None,
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

    #[test]
    fn codes_are_unique_dense_and_each_says_something_of_its_own() {
        let mut seen = std::collections::BTreeSet::new();
        for (i, code) in Code::ALL.iter().enumerate() {
            assert_eq!(code.as_str(), format!("E{:03}", i + 1), "{code:?}");
            assert!(
                !code.meaning().is_empty() && !code.help().is_empty() && !code.label().is_empty()
            );
            assert!(
                seen.insert(code.meaning()),
                "{code:?} repeats another code's meaning"
            );
        }
    }

    #[test]
    fn a_long_line_is_cut_around_the_span_and_the_caret_stays_under_it() {
        let line = format!(
            "{}\"patternProperties\": {{}}{}",
            "x".repeat(300),
            "y".repeat(300)
        );
        let s = Snippet::new(7, &line, 301, 19);
        assert!(
            s.text.starts_with('…') && s.text.ends_with('…'),
            "{}",
            s.text
        );
        let marked: String = s.text.chars().skip(s.offset).take(s.len).collect();
        assert_eq!(marked, "\"patternProperties\"");
        assert!(s.text.chars().count() <= super::MAX_SHOWN + 2);
        let at_start = Snippet::new(1, &line, 1, 3);
        assert!(!at_start.text.starts_with('…') && at_start.text.ends_with('…'));
        assert_eq!((at_start.offset, at_start.len), (0, 3));
        // A span running past the window is cut at the window's end.
        let long_span = Snippet::new(1, &line, 301, 1000);
        let marked: String = long_span
            .text
            .chars()
            .skip(long_span.offset)
            .take(long_span.len)
            .collect();
        assert!(
            !marked.contains('…') && marked.starts_with("\"pattern"),
            "{marked}"
        );
    }

    #[test]
    fn explain_finds_a_code_however_it_is_written() {
        let text = super::explain("e6").unwrap();
        assert!(text.starts_with("E006 (UnsupportedKeyword): "), "{text}");
        assert_eq!(super::explain("E006"), super::explain("6"));
        assert!(super::explain("E999").is_none() && super::explain("x").is_none());
    }
}
