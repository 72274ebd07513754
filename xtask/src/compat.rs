//! `cargo xtask compat`: is the working tree's catalog compatible with `schemas/` at a git
//! revision (or is NEW.json compatible with OLD.json)?
//!
//! ```text
//! cargo xtask compat --against main [--format text|json|github|sarif|markdown|junit]
//! cargo xtask compat OLD.json NEW.json [--mode backward|forward|full]
//! ```
//!
//! Exit codes: 0 compatible, 1 incompatible, 2 unknown (undecidable, unsupported), 3 usage,
//! git or parse error (an invalid allow-list too). Accepted breaks are read from
//! `compat-allow.json` (see [`allow`]); `--suggest-allow --write` adds entries for the failing
//! findings to it.
//!
//! Releases for `*_TRANSITIVE` modes are the git tags matching `schemas-v*` (`--release-tags`)
//! that the `--against` revision contains, oldest first, deduplicated by the content of
//! `schemas/`, at most [`HISTORY_LIMIT`] of them.

pub mod allow;
pub mod source;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use clap::{Parser, ValueEnum};
use event_contracts_compat::{self as engine, CompatError, Mode, Options, Report, Semantics};

use self::allow::AllowList;
use self::source::{Files, Git, Rev};

/// Exit code for usage, git and parse errors.
pub const EXIT_USAGE: u8 = 3;
/// At most this many earlier releases are checked by `*_TRANSITIVE` modes (the newest).
pub const HISTORY_LIMIT: usize = 32;
/// The allow-list read by default, relative to the repository root.
pub const DEFAULT_ALLOW: &str = "compat-allow.json";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Backward,
    Forward,
    Full,
    BackwardTransitive,
    ForwardTransitive,
    FullTransitive,
}

impl ModeArg {
    pub fn mode(self) -> Mode {
        match self {
            ModeArg::Backward => Mode::Backward,
            ModeArg::Forward => Mode::Forward,
            ModeArg::Full => Mode::Full,
            ModeArg::BackwardTransitive => Mode::BackwardTransitive,
            ModeArg::ForwardTransitive => Mode::ForwardTransitive,
            ModeArg::FullTransitive => Mode::FullTransitive,
        }
    }

    fn transitive(self) -> bool {
        matches!(
            self,
            ModeArg::BackwardTransitive | ModeArg::ForwardTransitive | ModeArg::FullTransitive
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SemanticsArg {
    /// What the generated code does: producers emit only declared properties.
    Generated,
    /// Plain JSON Schema set semantics (producers that are not generated).
    Set,
}

impl SemanticsArg {
    pub fn semantics(self) -> Semantics {
        match self {
            SemanticsArg::Generated => Semantics::Generated,
            SemanticsArg::Set => Semantics::Set,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `file:line:col: SEVERITY RULE_ID message`
    Text,
    /// The versioned JSON report.
    Json,
    /// GitHub Actions workflow annotations.
    Github,
    /// SARIF 2.1.0 (code scanning).
    Sarif,
    /// A Markdown summary (PR comment).
    Markdown,
    /// JUnit XML: one testcase per event, a failure per breaking finding (CI test reports).
    Junit,
}

/// Flags shared by `compat` and `diff`.
#[derive(clap::Args, Clone, Debug)]
pub struct Common {
    /// `generated` (default): messages as the generated code writes and reads them; `set`:
    /// JSON Schema as a set of documents, for producers that are not generated.
    #[arg(long, value_enum, default_value_t = SemanticsArg::Generated)]
    pub semantics: SemanticsArg,
    /// Accepted breaks (default: compat-allow.json at the repository root, when present).
    #[arg(long, value_name = "FILE", conflicts_with = "no_allow")]
    pub allow: Option<PathBuf>,
    /// Ignore the allow-list.
    #[arg(long)]
    pub no_allow: bool,
    /// Write the output to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Tags that mark released versions, for *_TRANSITIVE modes (a glob under refs/tags/).
    #[arg(long, value_name = "GLOB", default_value = "schemas-v*")]
    pub release_tags: String,
    /// The repository (default: this workspace).
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
}

#[derive(Parser, Clone, Debug)]
#[command(
    name = "compat",
    about = "Check schema compatibility against a git revision, or between two schema files",
    after_help = "Exit codes: 0 compatible, 1 incompatible, 2 unknown or unsupported, 3 usage, git or parse error."
)]
pub struct CompatArgs {
    /// Git revision whose schemas/ is the old side (the working tree is the new side).
    #[arg(long, value_name = "REV", conflicts_with_all = ["old", "new"], required_unless_present = "old")]
    pub against: Option<String>,
    /// The old schema file (standalone mode, with NEW).
    #[arg(value_name = "OLD.json", requires = "new")]
    pub old: Option<PathBuf>,
    /// The new schema file.
    #[arg(value_name = "NEW.json")]
    pub new: Option<PathBuf>,
    /// Check every event under this mode instead of the mode its manifest declares
    /// (standalone files: default backward).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print allow-list entries for every failing finding (to stderr), to paste into the
    /// allow-list's `allow` array once each has a reason.
    #[arg(long)]
    pub suggest_allow: bool,
    /// With --suggest-allow: add the entries to the allow-list file (--allow FILE, else
    /// compat-allow.json) instead of printing them, keeping its entries and their order.
    /// Their reasons are placeholders the check refuses until someone writes them.
    #[arg(long, requires = "suggest_allow", conflicts_with = "no_allow")]
    pub write: bool,
    #[command(flatten)]
    pub common: Common,
}

/// What a run produced: what to print where, and the exit code.
#[derive(Debug, Default)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
    /// The report, when the check ran (tests look inside).
    pub report: Option<Report>,
}

impl Outcome {
    /// A usage, git or parse error: exit 3.
    pub fn error(e: &anyhow::Error) -> Self {
        Self {
            stderr: format!("error: {e:#}\n"),
            code: EXIT_USAGE,
            ..Self::default()
        }
    }

    /// Prints, writes `--output`, and returns the process exit code.
    pub fn finish(self, output: Option<&Path>) -> std::process::ExitCode {
        use std::io::Write;
        let mut code = self.code;
        let mut stderr = self.stderr;
        match output {
            Some(path) if code != EXIT_USAGE => {
                if let Err(e) = write_output(path, &self.stdout) {
                    stderr.push_str(&format!("error: {e:#}\n"));
                    code = EXIT_USAGE;
                }
            }
            _ => {
                let _ = std::io::stdout().write_all(self.stdout.as_bytes());
            }
        }
        let _ = std::io::stderr().write_all(stderr.as_bytes());
        std::process::ExitCode::from(code)
    }
}

fn write_output(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing --output {}", path.display()))
}

/// The workspace root: the default repository.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs `compat` exactly as the command line would, with `argv` being the arguments after
/// `compat`; clap errors become exit 3 (help and version exit 0).
pub fn run_cli<I, T>(argv: I) -> Outcome
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let argv =
        std::iter::once(std::ffi::OsString::from("compat")).chain(argv.into_iter().map(Into::into));
    match CompatArgs::try_parse_from(argv) {
        Ok(args) => run(&args),
        Err(e) => clap_outcome(&e),
    }
}

/// A clap error or help request as an outcome: help/version on stdout with 0, errors on stderr
/// with 3.
pub fn clap_outcome(e: &clap::Error) -> Outcome {
    let text = e.render().to_string();
    if e.use_stderr() {
        Outcome {
            stderr: text,
            code: EXIT_USAGE,
            ..Outcome::default()
        }
    } else {
        Outcome {
            stdout: text,
            ..Outcome::default()
        }
    }
}

/// Runs the check; every error is an exit-3 outcome.
pub fn run(args: &CompatArgs) -> Outcome {
    match check(args) {
        Ok(o) => o,
        Err(e) => Outcome::error(&e),
    }
}

/// The two catalogs of an `--against` run, and what they are.
pub struct Loaded {
    pub root: PathBuf,
    pub rev: Rev,
    pub old: Files,
    pub new: Files,
    pub history: Vec<(String, Files)>,
    /// Notes for stderr (history cut, no releases found, …).
    pub notes: Vec<String>,
}

/// Reads `schemas/` at `rev` and in the working tree of `root`, plus the releases when some
/// event (or `mode`) is transitive.
pub fn load(
    root: &Path,
    rev: &str,
    mode: Option<ModeArg>,
    release_tags: &str,
) -> anyhow::Result<Loaded> {
    let git = Git::open(root)?;
    let rev = git.resolve(rev)?;
    let old = git.files_at(&rev.commit)?;
    let new = source::worktree_files(root)?;
    let mut notes = Vec::new();
    if old.is_empty() {
        notes.push(format!(
            "note: {} ({}) has no schemas/: every event counts as added",
            rev.name,
            rev.short()
        ));
    }
    let transitive = match mode {
        Some(m) => m.transitive(),
        None => [&old, &new]
            .iter()
            .flat_map(|files| files.iter())
            .any(|(path, text)| path.ends_with("manifest.json") && text.contains("_TRANSITIVE\"")),
    };
    let mut history = Vec::new();
    if transitive {
        let (releases, cut) = git.releases(&rev, release_tags, HISTORY_LIMIT)?;
        if cut > 0 {
            notes.push(format!(
                "note: checking the {HISTORY_LIMIT} newest releases only; {cut} older ones are not checked"
            ));
        }
        if releases.is_empty() {
            notes.push(format!(
                "note: no release tag matching `{release_tags}` in the history of {} with other \
                 schemas: *_TRANSITIVE modes check against {} only",
                rev.name, rev.name
            ));
        }
        let commits: Vec<&str> = releases.iter().map(|r| r.commit.as_str()).collect();
        let files = git.files_at_many(&commits)?;
        history = releases.into_iter().map(|r| r.label).zip(files).collect();
    }
    Ok(Loaded {
        root: root.to_path_buf(),
        rev,
        old,
        new,
        history,
        notes,
    })
}

/// The engine's options for a catalog run.
pub fn options(semantics: SemanticsArg, mode: Option<ModeArg>) -> Options {
    Options {
        semantics: semantics.semantics(),
        mode: mode.map(ModeArg::mode),
        path_prefix: format!("{}/", source::SCHEMAS),
    }
}

/// An engine error as a CLI error (exit 3), saying which side failed.
pub fn engine_error(e: CompatError, rev: Option<&Rev>) -> anyhow::Error {
    match &e {
        CompatError::Parse { side, message } => {
            let which = match (side, rev) {
                (engine::Side::Old, Some(r)) => format!("schemas/ at {} ({})", r.name, r.short()),
                (engine::Side::Old, None) => "the old schema".into(),
                (engine::Side::New, Some(_)) => "schemas/ in the working tree".into(),
                (engine::Side::New, None) => "the new schema".into(),
            };
            anyhow!("{which} does not load:\n{message}")
        }
        #[allow(unreachable_patterns)]
        _ => anyhow!("the compatibility check failed: {e}"),
    }
}

/// The allow-list file: `--allow FILE`, else `compat-allow.json` at the root.
fn allow_path(common: &Common, root: &Path) -> PathBuf {
    common
        .allow
        .clone()
        .unwrap_or_else(|| root.join(DEFAULT_ALLOW))
}

/// How messages name the allow-list: relative to the repository root when inside it.
fn allow_label(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The allow-list to use: `--allow FILE` (must exist), else `compat-allow.json` at the root
/// when present, else none. Entries that expired before `today` make it invalid.
pub fn read_allow(
    common: &Common,
    root: &Path,
    today: time::Date,
) -> anyhow::Result<Option<AllowList>> {
    if common.no_allow {
        return Ok(None);
    }
    let path = allow_path(common, root);
    if common.allow.is_none() && !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the allow-list {}", path.display()))?;
    AllowList::parse(&allow_label(&path, root), &text, today).map(Some)
}

/// Renders a report in `format`.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Text => engine::render::text(report),
        Format::Json => engine::render::json(report),
        Format::Github => engine::render::github(report),
        Format::Sarif => engine::render::sarif(report),
        Format::Markdown => engine::render::markdown(report),
        Format::Junit => engine::junit::junit(report),
    }
}

fn check(args: &CompatArgs) -> anyhow::Result<Outcome> {
    let root = args.common.repo.clone().unwrap_or_else(workspace_root);
    let mut stderr = String::new();
    let (mut report, rev) = match (&args.against, &args.old, &args.new) {
        (Some(rev), None, None) => {
            let loaded = load(&root, rev, args.mode, &args.common.release_tags)?;
            for n in &loaded.notes {
                stderr.push_str(n);
                stderr.push('\n');
            }
            let mut report = engine::check_catalogs(
                &loaded.old,
                &loaded.new,
                &loaded.history,
                &options(args.common.semantics, args.mode),
            )
            .map_err(|e| engine_error(e, Some(&loaded.rev)))?;
            report.old_revision = Some(loaded.rev.short().to_owned());
            (report, Some(loaded.rev))
        }
        (None, Some(old), Some(new)) => {
            let mode = args.mode.unwrap_or(ModeArg::Backward);
            if mode.transitive() {
                bail!(
                    "--mode {} needs the release history: use --against REV (two files have no history)",
                    mode.to_possible_value()
                        .map(|v| v.get_name().to_owned())
                        .unwrap_or_default()
                );
            }
            let read = |p: &Path| {
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
            };
            let (old_text, new_text) = (read(old)?, read(new)?);
            let (old_name, new_name) = (old.display().to_string(), new.display().to_string());
            let mut options = options(args.common.semantics, Some(mode));
            options.path_prefix = String::new();
            let report = engine::check_files(
                (&old_name, &old_text),
                (&new_name, &new_text),
                mode.mode(),
                &options,
            )
            .map_err(|e| engine_error(e, None))?;
            (report, None)
        }
        _ => bail!(
            "say what to compare: --against REV (schemas/ at a git revision against the working tree) \
             or OLD.json NEW.json (two schema files)"
        ),
    };
    // The default allow-list is the catalog's: it applies to catalog runs only.
    let catalog_allow = rev.is_some() || args.common.allow.is_some();
    if args.write && !catalog_allow {
        bail!(
            "--write adds entries to the catalog's allow-list: with two schema files, name the \
             file with --allow FILE"
        );
    }
    let today = allow::today();
    let allow = if catalog_allow {
        read_allow(&args.common, &root, today)?
    } else {
        None
    };
    if let Some(allow) = &allow {
        for w in allow.apply(&mut report.findings) {
            stderr.push_str(&format!("{w}\n"));
        }
    }
    let mut stdout = render(&report, args.format);
    if args.format == Format::Github {
        // Stale and expired entries also show on the pull request.
        for line in stderr.lines().filter(|l| l.contains(": warning: ")) {
            if let Some((file, rest)) = split_location(line) {
                stdout.push_str(&format!(
                    "::warning file={},line={},col={}::{}\n",
                    file.0,
                    file.1,
                    file.2,
                    rest.trim_start_matches("warning: ")
                ));
            }
        }
    }
    if args.suggest_allow {
        let entries = allow::suggest(&report.findings, today);
        if args.write {
            stderr.push_str(&write_suggestions(&args.common, &root, &entries)?);
        } else if !entries.is_empty() {
            stderr.push_str(
                "allow-list entries for the failing findings, for the `allow` array (write each \
                 reason; --write adds them to the file):\n",
            );
            stderr.push_str(&allow::entries_text(&entries));
        }
    }
    let code = report.exit_code();
    stderr.push_str(&summary(&report, rev.as_ref(), code));
    Ok(Outcome {
        stdout,
        stderr,
        code,
        report: Some(report),
    })
}

/// Adds `entries` to the allow-list file (created when absent), atomically; says what it did.
fn write_suggestions(
    common: &Common,
    root: &Path,
    entries: &[allow::Entry],
) -> anyhow::Result<String> {
    let path = allow_path(common, root);
    let label = allow_label(&path, root);
    if entries.is_empty() {
        return Ok(format!("{label}: no failing finding to add\n"));
    }
    let existing = if path.exists() {
        Some(
            std::fs::read_to_string(&path)
                .with_context(|| format!("reading the allow-list {}", path.display()))?,
        )
    } else {
        None
    };
    let (text, added) = allow::merge(&label, existing.as_deref(), entries)?;
    allow::write_atomically(&path, &text)?;
    Ok(format!(
        "{label}: added {added} entr{} for the failing findings; write each reason (the \
         placeholder `{}` is refused) and check `expires`\n",
        if added == 1 { "y" } else { "ies" },
        allow::PLACEHOLDER_REASON
    ))
}

/// `file:line:col: rest` → ((file, line, col), rest).
fn split_location(line: &str) -> Option<((&str, &str, &str), &str)> {
    let mut parts = line.splitn(4, ':');
    let (file, l, c, rest) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some(((file, l, c), rest.trim_start()))
}

/// One closing line for stderr.
fn summary(report: &Report, rev: Option<&Rev>, code: u8) -> String {
    let failing = report
        .findings
        .iter()
        .filter(|f| f.allowed.is_none() && allow::fails(f))
        .count();
    let allowed = report
        .findings
        .iter()
        .filter(|f| f.allowed.is_some())
        .count();
    let against = rev
        .map(|r| {
            if r.commit.starts_with(&r.name) {
                format!(" against {}", r.short())
            } else {
                format!(" against {} ({})", r.name, r.short())
            }
        })
        .unwrap_or_default();
    let verdict = match code {
        0 => "compatible",
        1 => "INCOMPATIBLE",
        _ => "UNDECIDED",
    };
    format!(
        "compat{against}: {verdict}: {} findings, {failing} failing, {allowed} allowed\n",
        report.findings.len()
    )
}
