//! `cargo xtask test [ARGS…]`: the README's test command. Makes every broker the integration
//! tests talk to answer (`.ci/services.sh`: Redis, RabbitMQ, NATS, PostgreSQL, and Kafka as
//! tansu, which no machine has preinstalled), then runs `cargo test --workspace ARGS…`.
//!
//! With no ARGS it then runs the tests that decide what a message is once more with the
//! `sonic` feature (an event's typed fast path on sonic-rs): the runtime's unit tests, the
//! catalog's examples and mutation sweep, the documents' examples and the fuzzer. Both fast
//! paths must give the schema validator's decisions.

use std::process::{Command, ExitCode};

use anyhow::Context;

use crate::project_root;

pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let root = project_root();
    let services = root.join(".ci/services.sh");
    let status = Command::new("bash")
        .arg(&services)
        .current_dir(&root)
        .status()
        .with_context(|| format!("running {}", services.display()))?;
    if !status.success() {
        anyhow::bail!(
            "{} could not start the brokers (see its output above); the integration tests need them",
            services.display()
        );
    }
    let workspace = ["test", "--workspace"]
        .into_iter()
        .chain(args.iter().map(String::as_str))
        .collect();
    let mut runs: Vec<Vec<&str>> = vec![workspace];
    if args.is_empty() {
        runs.extend(SONIC_RUNS.iter().map(|run| run.to_vec()));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for run in runs {
        println!("\n==> cargo {}", run.join(" "));
        let status = Command::new(&cargo)
            .args(&run)
            .current_dir(&root)
            .status()
            .context("running cargo test")?;
        if !status.success() {
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The decision tests again, on the `sonic` fast path.
const SONIC_RUNS: [&[&str]; 2] = [
    &[
        "test",
        "-p",
        "event-contracts-runtime",
        "--features",
        "sonic",
        "--lib",
    ],
    &[
        "test",
        "-p",
        "event-contracts-suite",
        "--features",
        "sonic",
        "--test",
        "catalog",
        "--test",
        "document_examples",
        "--test",
        "fuzz",
    ],
];
