//! `cargo xtask validate <event-or-channel> [FILE|-]`: checks one captured message, envelope
//! included, against the catalog in `schemas/` and prints every error with its pointer and
//! its line:column in the message. Exit 0 valid, 1 invalid, 2 usage.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use event_contracts_codegen::catalog::{Catalog, SystemSource, ID_BASE};
use event_contracts_codegen::manifest::{Envelope, EventEntry};
use event_contracts_codegen::schema_documents;
use event_contracts_codegen::source::SourceFile;
use event_contracts_runtime::{display_pointer, Validator, Violation};
use serde_json::Value;

use crate::project_root;

/// What the target named: one event, or every event on a channel.
struct Target<'c> {
    system: &'c SystemSource,
    events: Vec<&'c EventEntry>,
}

fn find<'c>(catalog: &'c Catalog, target: &str) -> Option<Target<'c>> {
    for system in &catalog.systems {
        let by_name: Vec<_> = system
            .manifest
            .events
            .iter()
            .filter(|e| e.name == target)
            .collect();
        if !by_name.is_empty() {
            return Some(Target {
                system,
                events: by_name,
            });
        }
    }
    for system in &catalog.systems {
        let on_channel: Vec<_> = system
            .manifest
            .events
            .iter()
            .filter(|e| e.channel.address() == target)
            .collect();
        if !on_channel.is_empty() {
            return Some(Target {
                system,
                events: on_channel,
            });
        }
    }
    None
}

pub fn run(target: &str, file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let catalog = match Catalog::read_dir(&project_root().join("schemas")) {
        Ok(c) => c,
        Err(d) => bail!("the catalog does not load:\n{}", d.render()),
    };
    // A catalog codegen refuses has no verdict to give: a schema defined as itself (a `$ref`
    // cycle) would otherwise accept every message.
    if let Err(d) = event_contracts_codegen::check(&catalog) {
        bail!("the catalog does not check:\n{}", d.render());
    }
    let Some(found) = find(&catalog, target) else {
        let mut known: Vec<String> = catalog
            .systems
            .iter()
            .flat_map(|s| s.manifest.events.iter().map(|e| e.name.clone()))
            .collect();
        known.sort();
        eprintln!(
            "error: no event or channel named `{target}`\n  hint: known events: {}",
            known.join(", ")
        );
        return Ok(ExitCode::from(2));
    };
    let (label, text) = match file {
        None => ("<stdin>".to_owned(), read_stdin()?),
        Some(p) if p == Path::new("-") => ("<stdin>".to_owned(), read_stdin()?),
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        ),
    };
    let message = match SourceFile::parse(label.clone(), text) {
        Ok(m) => m,
        Err(e) => {
            eprintln!(
                "{label}:{}:{}: not JSON: {}",
                e.position.line, e.position.column, e.message
            );
            return Ok(ExitCode::from(1));
        }
    };
    let docs = schema_documents(&catalog);
    let compile = |path: &str| -> anyhow::Result<Validator> {
        let id = format!("{ID_BASE}{}/{path}", found.system.dir);
        Validator::compile(&docs, &id).map_err(|e| anyhow::anyhow!(e))
    };
    let mut violations: Vec<Violation> = Vec::new();
    let event = match &found.system.manifest.envelope {
        Envelope::Flat => {
            // In a flat system the channel (routing key, subject) names exactly one event.
            let event = found.events[0];
            if let Err(v) = compile(&event.schema)?.check(&message.value) {
                violations.extend(v.0);
            }
            event.name.clone()
        }
        Envelope::Wrapped {
            schema,
            type_field,
            payload_field,
            ..
        } => {
            if let Err(v) = compile(schema)?.check(&message.value) {
                violations.extend(v.0);
            }
            let name = message
                .value
                .get(type_field)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let events = &found.system.manifest.events;
            let listed = events.iter().any(|e| e.name == name);
            // A name the system does not list goes to its fallback event, when it has one.
            let chosen = found
                .events
                .iter()
                .copied()
                .find(|e| e.name == name || (e.fallback && !listed));
            match (chosen, message.value.get(payload_field)) {
                (Some(event), Some(payload)) => {
                    if let Err(v) = compile(&event.schema)?.check(payload) {
                        violations.extend(v.within(&format!("/{payload_field}")).0);
                    }
                }
                (None, _) => violations.push(Violation {
                    pointer: format!("/{type_field}"),
                    keyword: "const".into(),
                    message: format!(
                        "`{name}` is not {}",
                        found
                            .events
                            .iter()
                            .map(|e| format!("`{}`", e.name))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                }),
                (Some(_), None) => {} // the envelope schema already reported the missing payload
            }
            name
        }
    };
    if violations.is_empty() {
        println!(
            "{label}: valid {} `{event}` message",
            found.system.manifest.system
        );
        return Ok(ExitCode::SUCCESS);
    }
    for v in &violations {
        let pos = message.position(&v.pointer);
        eprintln!(
            "{label}:{}:{}: {}: {} ({})",
            pos.line,
            pos.column,
            display_pointer(&v.pointer),
            v.message,
            v.keyword
        );
    }
    eprintln!(
        "{} error(s); the message does not match the `{event}` contract",
        violations.len()
    );
    Ok(ExitCode::from(1))
}

fn read_stdin() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("reading standard input")?;
    Ok(s)
}
