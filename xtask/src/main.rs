//! Repository automation: `cargo xtask codegen [--check]`, `cargo xtask lint`,
//! `cargo xtask validate <event-or-channel> [FILE|-]`.

mod codegen;
mod lint;
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
}

/// The workspace root (xtask lives one level below it).
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Codegen { check } => codegen::run(check),
        Command::Lint => lint::run(),
        Command::Validate { target, file } => validate::run(&target, file.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
