//! `cargo xtask lint`: the source documents' conventions as checks over the catalog.

use std::process::ExitCode;

use event_contracts_codegen::catalog::{Catalog, Loc};
use event_contracts_codegen::diag::{Code, Diagnostics};
use event_contracts_codegen::manifest::KeyStyle;
use event_contracts_codegen::{check, schema_documents, CheckedSystem};
use event_contracts_runtime::{display_pointer, Validator};
use serde_json::Value;

use crate::project_root;

pub fn run() -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for dirs in crate::codegen::CATALOGS {
        let catalog = match Catalog::read_dir(&project_root().join(dirs.schemas)) {
            Ok(c) => c,
            Err(d) => {
                eprintln!("{}:\n{}", dirs.schemas, d.render());
                failed = true;
                continue;
            }
        };
        let checked = check(&catalog);
        let mut diags = checked.as_ref().err().cloned().unwrap_or_default();
        lint(&catalog, checked.as_deref().ok(), &mut diags);
        if diags.is_empty() {
            let events: usize = catalog
                .systems
                .iter()
                .map(|s| s.manifest.events.len())
                .sum();
            println!(
                "lint {}: {} systems, {events} events, {} schema files: all conventions hold",
                dirs.schemas,
                catalog.systems.len(),
                catalog.files.len()
            );
        } else {
            eprintln!("{}:\n{}", dirs.schemas, diags.sorted().render());
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Every convention check, appended to `diags`. Checks that need the typed model (what an
/// event requires once `$ref` and `allOf` are merged) run when `checked` is there.
pub fn lint(catalog: &Catalog, checked: Option<&[CheckedSystem<'_>]>, diags: &mut Diagnostics) {
    examples(catalog, diags);
    let snake = regex::Regex::new("^[a-z][a-z0-9]*(_[a-z0-9]+)*$").expect("a regex");
    for sys in &catalog.systems {
        let m = &sys.manifest;
        let manifest = Loc::new(sys.manifest_file.clone(), "");
        let name_pattern = match m.event_name_pattern.as_deref().map(regex::Regex::new) {
            Some(Err(e)) => {
                diags.push(catalog.diag(
                    Code::NamePattern,
                    &manifest.join("event_name_pattern"),
                    format!("`event_name_pattern` is not a regular expression: {e}"),
                    "fix the pattern",
                ));
                None
            }
            other => other.and_then(Result::ok),
        };
        let model = checked.and_then(|c| c.iter().find(|c| std::ptr::eq(c.source, sys)));
        for (i, ev) in m.events.iter().enumerate() {
            let at = manifest.join("events").join(&i.to_string());
            let schema = Loc::new(format!("{}/{}", sys.dir, ev.schema), "");
            if ev.channel.address().trim().is_empty() {
                diags.push(catalog.diag(
                    Code::EmptyChannel,
                    &at.join("channel"),
                    format!("event `{}` has an empty channel", ev.name),
                    "name its topic, stream, routing key, subject or path",
                ));
            }
            if let (Some(re), false) = (&name_pattern, ev.fallback) {
                if !re.is_match(&ev.name) {
                    diags.push(catalog.diag(
                        Code::EventNameConvention,
                        &at.join("name"),
                        format!("event name `{}` does not follow {}", ev.name, re.as_str()),
                        "name events ai.{domain}.{action}, e.g. ai.run.started",
                    ));
                }
            }
            let Some(model) = model else { continue };
            let required = model.graph.required_properties(model.events[i]);
            for prop in &m.required_properties {
                if !required.contains(prop) {
                    diags.push(catalog.diag(Code::CommonPropertyMissing, &schema, format!("event `{}` does not require `{prop}`", ev.name), format!("the {} document requires `{prop}` on every event: add it to `required` (or allOf the common definition)", m.source_document)));
                }
            }
        }
        if m.payload_keys == KeyStyle::SnakeCase {
            for (path, file) in catalog.files.iter().filter(|(p, _)| {
                p.starts_with(&format!("{}/", sys.dir)) && !p.ends_with("manifest.json")
            }) {
                let mut names = Vec::new();
                property_names(&file.value, &mut String::new(), &mut names);
                for (pointer, name) in names {
                    if !snake.is_match(&name) {
                        diags.push(catalog.diag(
                            Code::Convention,
                            &Loc::new(path.clone(), pointer),
                            format!("property `{name}` is not snake_case"),
                            format!(
                                "the {} document asks for snake_case payload keys",
                                m.source_document
                            ),
                        ));
                    }
                }
            }
        }
    }
}

/// Every `properties` key in a schema document, with its pointer.
fn property_names(v: &Value, at: &mut String, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if k == "examples"
                    || k.starts_with("x-")
                    || k == "default"
                    || k == "const"
                    || k == "enum"
                {
                    continue;
                }
                let len = at.len();
                at.push('/');
                at.push_str(&event_contracts_codegen::source::escape_token(k));
                if k == "properties" {
                    if let Value::Object(props) = child {
                        for (name, schema) in props {
                            let l2 = at.len();
                            at.push('/');
                            at.push_str(&event_contracts_codegen::source::escape_token(name));
                            out.push((at.clone(), name.clone()));
                            property_names(schema, at, out);
                            at.truncate(l2);
                        }
                    }
                } else {
                    property_names(child, at, out);
                }
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("/{i}"));
                property_names(item, at, out);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

/// Every example validates; every invalid example fails at the pointer it names.
fn examples(catalog: &Catalog, diags: &mut Diagnostics) {
    let docs = schema_documents(catalog);
    for (path, file) in &catalog.files {
        if path.ends_with("manifest.json") {
            continue;
        }
        let id = format!("{}{path}", event_contracts_codegen::catalog::ID_BASE);
        let Ok(validator) = Validator::compile(&docs, &id) else {
            continue; // `check` already reported it
        };
        let base = Loc::new(path.clone(), "");
        for (i, ex) in file
            .value
            .get("examples")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Err(v) = validator.check(ex) {
                diags.push(catalog.diag(
                    Code::Example,
                    &base.join("examples").join(&i.to_string()),
                    format!("example does not validate: {v}"),
                    "fix the example or the schema",
                ));
            }
        }
        for (i, case) in file
            .value
            .get("x-invalid-examples")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = base.join("x-invalid-examples").join(&i.to_string());
            let (Some(instance), Some(pointer)) = (
                case.get("instance"),
                case.get("pointer").and_then(Value::as_str),
            ) else {
                diags.push(catalog.diag(
                    Code::InvalidExampleShape,
                    &at,
                    "an invalid example needs `instance` and `pointer`",
                    "see schemas/CONVENTIONS.md",
                ));
                continue;
            };
            match validator.check(instance) {
                Ok(()) => diags.push(catalog.diag(
                    Code::InvalidExampleAccepted,
                    &at,
                    "invalid example validates",
                    "make it really invalid, or move it to `examples`",
                )),
                Err(v) if !v.0.iter().any(|v| v.pointer == pointer) => diags.push(catalog.diag(
                    Code::InvalidExamplePointer,
                    &at.join("pointer"),
                    format!(
                        "expected an error at `{}`, the validator reports: {v}",
                        display_pointer(pointer)
                    ),
                    "fix the pointer",
                )),
                Err(_) => {}
            }
        }
        let is_event = catalog.systems.iter().any(|s| {
            s.manifest
                .events
                .iter()
                .any(|e| format!("{}/{}", s.dir, e.schema) == *path)
        });
        if is_event
            && file
                .value
                .get("examples")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
        {
            diags.push(catalog.diag(
                Code::MissingExamples,
                &base,
                "event schema has no `examples`",
                "add at least one realistic example",
            ));
        }
    }
}
