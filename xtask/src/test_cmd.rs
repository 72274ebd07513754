//! `cargo xtask test [ARGS…]`: the README's test command. Makes every broker the integration
//! tests talk to answer (`.ci/services.sh`: Redis, RabbitMQ, NATS, PostgreSQL, and Kafka as
//! tansu, which no machine has preinstalled), then runs `cargo test --workspace ARGS…`.

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
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["test", "--workspace"])
        .args(args)
        .current_dir(&root)
        .status()
        .context("running cargo test")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
