//! Repository automation: `cargo xtask codegen [--check]`, `cargo xtask lint`,
//! `cargo xtask validate <event-or-channel> [FILE|-]`, `cargo xtask compat`, `cargo xtask diff`,
//! `cargo xtask docs [--out DIR]`, `cargo xtask pr-comment`, `cargo xtask test`,
//! `cargo xtask explain <code>`.

mod codegen;
mod lint;
mod test_cmd;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "xtask",
    about = "Schema-first event contracts: generate, check, lint, validate"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate `generated/` (and schemas/manifest.schema.json) from `schemas/`.
    Codegen {
        /// Change nothing; exit 1 naming every stale file.
        #[arg(long)]
        check: bool,
    },
    /// Check the documents' conventions on the catalog.
    Lint,
    /// Validate one captured message (envelope included) against the catalog.
    Validate {
        /// An event name (`stream_trace`, `capture.alive`, `AudioChunkReceived`) or a channel
        /// (`stream:audio-ingest`, a subject, a routing key, a topic).
        target: String,
        /// The message file; `-` or nothing reads standard input.
        file: Option<PathBuf>,
    },
    /// Check schema compatibility against a git revision, or between two schema files.
    Compat(xtask::compat::CompatArgs),
    /// A review-ready changelog of schemas/ since a git revision, with rollout advice.
    Diff(xtask::diff::DiffArgs),
    /// Write the browsable HTML event catalog of every catalog (opens from disk, no server).
    Docs {
        /// The site's folder; replaced whole on every run [default: target/doc-catalog].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Post the schema review of a pull request as one sticky comment (GitHub Actions).
    PrComment(xtask::pr_comment::PrCommentArgs),
    /// What a diagnostic code (`E006`) means and what to do about it (docs/diagnostics.md).
    Explain {
        /// The code, e.g. `E006` (`e6` and `6` work too).
        code: String,
    },
    /// The test suite: starts the brokers the integration tests talk to (`.ci/services.sh`),
    /// then runs `cargo test --workspace` with any further arguments.
    Test {
        /// Passed on to `cargo test --workspace` (e.g. `--test redis_transport`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// The workspace root (xtask lives one level below it).
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `compat`, `diff` and `pr-comment` promise exit 3 for usage errors; the others keep
            // clap's 2.
            let sub = std::env::args().nth(1);
            if e.use_stderr() && matches!(sub.as_deref(), Some("compat" | "diff" | "pr-comment")) {
                let _ = e.print();
                return ExitCode::from(xtask::compat::EXIT_USAGE);
            }
            e.exit()
        }
    };
    let result = match cli.command {
        Command::Compat(args) => {
            let output = args.common.output.clone();
            return xtask::compat::run(&args).finish(output.as_deref());
        }
        Command::Diff(args) => {
            let output = args.common.output.clone();
            return xtask::diff::run(&args).finish(output.as_deref());
        }
        Command::PrComment(args) => {
            let output = args.common.output.clone();
            let env = xtask::pr_comment::GithubEnv::from_process();
            return xtask::pr_comment::run(&args, &env).finish(output.as_deref());
        }
        Command::Codegen { check } => codegen::run(check),
        Command::Lint => lint::run(),
        Command::Docs { out } => {
            let dirs: Vec<&str> = codegen::CATALOGS.iter().map(|c| c.schemas).collect();
            xtask::docs::run(&project_root(), &dirs, out)
        }
        Command::Validate { target, file } => validate::run(&target, file.as_deref()),
        Command::Test { args } => test_cmd::run(&args),
        Command::Explain { code } => match event_contracts_codegen::diag::explain(&code) {
            Some(text) => {
                print!("{text}");
                Ok(ExitCode::SUCCESS)
            }
            None => Err(anyhow::anyhow!(
                "no diagnostic code `{code}`: codes run from E001 to {} (docs/diagnostics.md)",
                event_contracts_codegen::diag::Code::ALL
                    .last()
                    .map_or("E001", |c| c.as_str())
            )),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
