//! Schema-first event contracts: turns the JSON Schema catalog in `schemas/` into the Rust
//! source of the `event-contracts` crate.
//!
//! The pipeline is parse ([`catalog`]), build ([`build`]: the [`cycles`] guard, then [`model`]
//! over the [`keywords`] table, every problem collected as a [`diag::Diagnostic`]), check
//! ([`check`]), then emit ([`emit`], every name from [`naming`]). This crate decides what the files say, never
//! where or whether they are written: that policy lives in `xtask`.
//!
//! ```no_run
//! let files = event_contracts_codegen::Config::new("schemas").generate()?;
//! for f in files { println!("{}: {} bytes", f.path, f.contents.len()); }
//! # Ok::<(), event_contracts_codegen::diag::Diagnostics>(())
//! ```

pub mod asyncapi;
pub mod catalog;
mod compile;
pub mod cycles;
pub mod diag;
pub mod docs;
mod emit;
mod envelope;
pub mod keywords;
pub mod manifest;
pub mod model;
pub mod naming;
pub mod notice;
pub mod simple_pattern;
pub mod source;
mod system;
mod transport;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use event_contracts_runtime::Documents;
use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value;

use crate::catalog::{Catalog, Loc, SystemSource, ID_BASE};
use crate::diag::{Code, Diagnostics};
use crate::manifest::Envelope;
use crate::model::{Builder, TypeGraph, TypeId};

pub use naming::{field_idents, ident};
pub use notice::{notices, Notice};

/// One output file, relative to the generated crate's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    pub path: String,
    pub contents: String,
}

/// How to generate. Defaults fit this repository; every setter returns `&mut Self`.
#[derive(Clone, Debug)]
pub struct Config {
    schema_dir: PathBuf,
    command: String,
}

impl Config {
    /// Generate from the catalog at `schema_dir`.
    pub fn new(schema_dir: impl Into<PathBuf>) -> Self {
        Self {
            schema_dir: schema_dir.into(),
            command: "cargo xtask codegen".into(),
        }
    }

    /// The command named in every file's `@generated` header.
    pub fn command(&mut self, command: impl Into<String>) -> &mut Self {
        self.command = command.into();
        self
    }

    /// Reads the catalog and returns every generated file, or every diagnostic.
    pub fn generate(&self) -> Result<Vec<GeneratedFile>, Diagnostics> {
        let catalog = Catalog::read_dir(&self.schema_dir)?;
        generate_catalog(&catalog, &self.command)
    }
}

/// One system after checking: its types and events.
pub struct CheckedSystem<'c> {
    pub source: &'c SystemSource,
    pub graph: TypeGraph,
    /// Type id of each manifest event, in manifest order (an event whose schema file is
    /// missing has none).
    pub events: Vec<TypeId>,
    /// The manifest name of each entry of `events`.
    pub event_names: Vec<String>,
    /// Each manifest event's schema `examples`, as compact JSON, in manifest then document order.
    pub examples: Vec<Vec<String>>,
    pub envelope: Option<TypeId>,
}

impl CheckedSystem<'_> {
    /// The type of the manifest event called `name`.
    pub fn event_type(&self, name: &str) -> Option<TypeId> {
        let i = self.event_names.iter().position(|n| n == name)?;
        self.events.get(i).copied()
    }
}

/// Checks the whole catalog: ids, references, keywords, types, schema compilation.
pub fn check(catalog: &Catalog) -> Result<Vec<CheckedSystem<'_>>, Diagnostics> {
    on_big_stack(|| check_here(catalog))
}

/// Stack for checking and emitting: building a type recurses a few frames per nesting level,
/// and a catalog nested up to [`model::MAX_NESTING`] levels must not exhaust a caller's small
/// stack (test threads get 2 MiB). Only the pages used are ever committed.
const STACK_BYTES: usize = 256 << 20;

/// Runs `f` on a thread with a [`STACK_BYTES`] stack (on this thread if none can be started).
fn on_big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let task = std::sync::Mutex::new(Some(f));
    let run = || task.lock().ok().and_then(|mut f| f.take()).map(|f| f());
    let result = std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("codegen".into())
            .stack_size(STACK_BYTES)
            .spawn_scoped(scope, run);
        match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => None,
        }
    });
    match result {
        Some(out) => out,
        None => run().expect("the task runs once: here, when no thread could take it"),
    }
}

fn check_here(catalog: &Catalog) -> Result<Vec<CheckedSystem<'_>>, Diagnostics> {
    let mut diags = Diagnostics::default();
    check_ids(catalog, &mut diags);
    check_manifests(catalog, &mut diags);
    let (systems, built) = build_here(catalog);
    let cyclic = built.0.iter().any(|d| d.code == Code::RefCycle);
    diags.0.extend(built.0);
    if cyclic {
        // Validating a schema defined as itself never ends: nothing below could say more
        // than "fix that first".
        return Err(diags.sorted());
    }
    for sys in &systems {
        transport::check(catalog, sys, &mut diags);
    }
    compile::compile_all(catalog, &mut diags);
    if diags.is_empty() {
        Ok(systems)
    } else {
        Err(diags.sorted())
    }
}

/// Every system's types built from the catalog, with every problem met on the way. What was
/// built is returned even when there are diagnostics (compat compares catalogs the generator
/// would refuse); a catalog with a schema defined as itself (E013) has no types, so none are
/// built. [`check`] is this plus the catalog-wide checks (ids, manifests, transports,
/// schema compilation).
pub fn build(catalog: &Catalog) -> (Vec<CheckedSystem<'_>>, Diagnostics) {
    on_big_stack(|| build_here(catalog))
}

fn build_here(catalog: &Catalog) -> (Vec<CheckedSystem<'_>>, Diagnostics) {
    let mut diags = Diagnostics::default();
    cycles::check(catalog, &mut diags);
    if !diags.is_empty() {
        return (Vec::new(), diags);
    }
    let mut systems = Vec::new();
    for sys in &catalog.systems {
        let mut b = Builder::new(catalog);
        for (name, what) in module_items(&sys.manifest.system) {
            b.reserve(&name, what);
        }
        let manifest_loc = Loc::new(sys.manifest_file.clone(), "");
        let system_file = |rel: &str| format!("{}/{}", sys.dir, rel);
        let envelope = match &sys.manifest.envelope {
            Envelope::Flat => None,
            Envelope::Wrapped {
                schema,
                payload_field,
                ..
            } => {
                let file = system_file(schema);
                if catalog.files.contains_key(&file) {
                    let loc = Loc::new(file.clone(), "");
                    let name = title_of(catalog, &loc).unwrap_or_else(|| {
                        format!("{}Envelope", sys.manifest.system.to_upper_camel_case())
                    });
                    let id = b.envelope(&loc, &name, payload_field);
                    if b.graph.needs_schema(&model::Ty::Named(id)) {
                        diags.push(catalog.diag(
                            Code::EnvelopeNeedsValidator,
                            &loc,
                            "the envelope uses keywords only the validator enforces",
                            "keep the envelope to typed keywords; put conditions in the event schemas",
                        ));
                    }
                    Some(id)
                } else {
                    diags.push(catalog.diag(
                        Code::MissingSchemaFile,
                        &manifest_loc.join("envelope"),
                        format!("envelope schema schemas/{file} does not exist"),
                        "fix the path (relative to the system folder)",
                    ));
                    None
                }
            }
        };
        let mut events = Vec::new();
        let mut event_names = Vec::new();
        let mut examples = Vec::new();
        for (i, ev) in sys.manifest.events.iter().enumerate() {
            let file = system_file(&ev.schema);
            let at = manifest_loc.join("events").join(&i.to_string());
            if !catalog.files.contains_key(&file) {
                diags.push(catalog.diag(
                    Code::MissingSchemaFile,
                    &at.join("schema"),
                    format!("event schema schemas/{file} does not exist"),
                    "fix the path (relative to the system folder)",
                ));
                continue;
            }
            if ev.channel.transport() != sys.manifest.transport {
                diags.push(catalog.diag(
                    Code::ChannelTransport,
                    &at.join("channel"),
                    format!(
                        "a {} channel in a {} system",
                        ev.channel.transport().as_str(),
                        sys.manifest.transport.as_str()
                    ),
                    "use the system's transport",
                ));
            }
            examples.push(
                catalog.files[&file]
                    .value
                    .get("examples")
                    .and_then(Value::as_array)
                    .map(|all| all.iter().map(Value::to_string).collect())
                    .unwrap_or_default(),
            );
            let loc = Loc::new(file, "");
            let name = title_of(catalog, &loc).unwrap_or_else(|| ev.name.to_upper_camel_case());
            events.push(b.root(&loc, &name));
            event_names.push(ev.name.clone());
        }
        // Shared definitions get their types even when no event uses them yet.
        let defs: Vec<String> = catalog
            .files
            .keys()
            .filter(|p| p.starts_with(&format!("{}/defs/", sys.dir)))
            .cloned()
            .collect();
        for file in defs {
            let loc = Loc::new(file, "");
            if b.has_type_at(&loc) {
                continue;
            }
            let name = title_of(catalog, &loc).unwrap_or_else(|| "Definition".into());
            b.ty(&loc, &name);
        }
        transport::check_redis_layout(catalog, sys, &manifest_loc, &mut diags);
        let fallbacks = sys.manifest.events.iter().filter(|e| e.fallback).count();
        if fallbacks > 1 {
            diags.push(catalog.diag(
                Code::DuplicateFallback,
                &manifest_loc.join("events"),
                "more than one event has `fallback: true`",
                "keep one fallback per system",
            ));
        }
        check_handler_methods(catalog, sys, &b.graph, &events, &mut diags);
        b.graph.box_recursive_fields();
        diags.0.extend(b.diags.0);
        systems.push(CheckedSystem {
            source: sys,
            graph: b.graph,
            events,
            event_names,
            examples,
            envelope,
        });
    }
    (systems, diags)
}

/// The names a system module defines besides its types (here and in `transport`), with what
/// they are; plus the prelude names generated code uses unqualified. A type may not take one.
fn module_items(system: &str) -> Vec<(String, &'static str)> {
    let mut items: Vec<(String, &'static str)> = vec![
        (
            format!("{}Event", system.to_upper_camel_case()),
            "the system's event enum",
        ),
        ("EVENTS".into(), "the static list of events"),
        ("Message".into(), "the envelope's message type"),
        ("decode_message".into(), "the message decoding function"),
        ("encode_message".into(), "the message encoding function"),
        (
            "envelope_validator".into(),
            "the envelope validator function",
        ),
        ("System".into(), "the transport marker type"),
        (
            "CONSUMER_GROUPS".into(),
            "the static list of consumer groups",
        ),
        ("Handler".into(), "the handler trait"),
        ("Dispatch".into(), "the handler adapter"),
    ];
    for prelude in [
        "Option", "Some", "None", "Ok", "Err", "Send", "Sync", "FnOnce",
    ] {
        items.push((prelude.into(), "a prelude item generated code uses"));
    }
    items
}

/// Names of the generated crate's root that a system module may not take.
const ROOT_ITEMS: &[&str] = &["lib", "schemas", "runtime", "systems"];

/// What the manifests say on their own: system names that are module names, once each; each
/// event's name and schema file once per system.
fn check_manifests(catalog: &Catalog, diags: &mut Diagnostics) {
    let mut systems: HashMap<&str, &str> = HashMap::new();
    for sys in &catalog.systems {
        let at = Loc::new(sys.manifest_file.clone(), "/system");
        let name = sys.manifest.system.as_str();
        let is_module = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !name.contains("__")
            && !name.ends_with('_')
            && syn::parse_str::<syn::Ident>(name).is_ok();
        if !is_module || ROOT_ITEMS.contains(&name) {
            diags.push(catalog.diag(
                Code::InvalidName,
                &at,
                format!("system `{name}` cannot name a module of the generated crate"),
                format!(
                    "use a snake_case name that is not a Rust keyword nor one of {}",
                    ROOT_ITEMS.join(", ")
                ),
            ));
        }
        if let Some(first) = systems.insert(name, &sys.manifest_file) {
            diags.push(catalog.diag(
                Code::DuplicateSystem,
                &at,
                format!("system `{name}` is also declared by schemas/{first}"),
                "give each system its own name: it is a module of the generated crate",
            ));
        }
        let events = Loc::new(sys.manifest_file.clone(), "/events");
        let mut files: HashMap<&str, usize> = HashMap::new();
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, ev) in sys.manifest.events.iter().enumerate() {
            let at = events.join(&i.to_string());
            if let Some(first) = files.insert(ev.schema.as_str(), i) {
                files.insert(ev.schema.as_str(), first);
                diags.push(catalog.diag(
                    Code::SharedSchemaFile,
                    &at.join("schema"),
                    format!(
                        "event `{}` names the schema file `{}` of event `{}` (events/{first})",
                        ev.name, ev.schema, sys.manifest.events[first].name
                    ),
                    "give each event its own schema file; to share a shape, `$ref` a definition from both",
                ));
            }
            // The fallback's name is never matched on the wire.
            if ev.fallback {
                continue;
            }
            if let Some(first) = names.insert(ev.name.as_str(), i) {
                names.insert(ev.name.as_str(), first);
                diags.push(catalog.diag(
                    Code::DuplicateEventName,
                    &at.join("name"),
                    format!("event name `{}` is also used by events/{first}", ev.name),
                    "an event's name identifies it on the wire: make each one unique",
                ));
            }
        }
    }
}

/// One `Handler` method per event, named after its type in snake_case: two types whose names
/// differ only in case (`HTTPServer`, `HttpServer`) would give one method twice.
fn check_handler_methods(
    catalog: &Catalog,
    sys: &SystemSource,
    graph: &TypeGraph,
    events: &[TypeId],
    diags: &mut Diagnostics,
) {
    let mut methods: HashMap<String, TypeId> = HashMap::new();
    for &id in events {
        let def = &graph[id];
        let method = ident(&def.name.to_snake_case()).to_string();
        match methods.get(&method) {
            None => {
                methods.insert(method, id);
            }
            Some(&first) if first == id => {}
            Some(&first) => diags.push(catalog.diag(
                Code::HandlerCollision,
                &match catalog.value(&def.loc).and_then(|v| v.get("title")) {
                    Some(_) => def.loc.join("title"),
                    None => def.loc.clone(),
                },
                format!(
                    "events `{}` and `{}` would both be handled by `Handler::{method}` in system `{}`",
                    graph[first].name, def.name, sys.manifest.system
                ),
                "give one of them a `title` that differs in more than letter case",
            )),
        }
    }
}

fn title_of(catalog: &Catalog, loc: &Loc) -> Option<String> {
    catalog
        .value(loc)?
        .get("title")?
        .as_str()
        .map(str::to_owned)
}

fn check_ids(catalog: &Catalog, diags: &mut Diagnostics) {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for (path, file) in &catalog.files {
        if path.ends_with("manifest.json") {
            continue;
        }
        let loc = Loc::new(path.clone(), "/$id");
        let want = format!("{ID_BASE}{path}");
        match file.value.get("$id").and_then(Value::as_str) {
            None => diags.push(catalog.diag(
                Code::SchemaId,
                &Loc::new(path.clone(), ""),
                "the schema has no `$id`",
                format!("add \"$id\": \"{want}\""),
            )),
            Some(id) if id != want => diags.push(catalog.diag(
                Code::SchemaId,
                &loc,
                format!("`$id` is `{id}` but the file is schemas/{path}"),
                format!("use \"$id\": \"{want}\""),
            )),
            Some(id) => {
                if let Some(other) = seen.insert(id, path) {
                    diags.push(catalog.diag(
                        Code::SchemaId,
                        &loc,
                        format!("`$id` `{id}` is also used by schemas/{other}"),
                        "give every schema its own `$id`",
                    ));
                }
            }
        }
    }
}

/// Every schema as the embedded validator will see it: `$id` to document.
pub fn schema_documents(catalog: &Catalog) -> Documents {
    Arc::new(
        catalog
            .files
            .iter()
            .filter(|(p, _)| !p.ends_with("manifest.json"))
            .map(|(p, f)| (format!("{ID_BASE}{p}"), f.value.clone()))
            .collect(),
    )
}

/// Generates every file of the crate from a loaded catalog.
pub fn generate_catalog(
    catalog: &Catalog,
    command: &str,
) -> Result<Vec<GeneratedFile>, Diagnostics> {
    on_big_stack(|| generate_here(catalog, command))
}

/// [`generate_catalog`] and, from the same checked catalog, one AsyncAPI document per system
/// ([`asyncapi::export`]); all or nothing: any diagnostic and neither is returned.
pub fn generate_catalog_and_asyncapi(
    catalog: &Catalog,
    command: &str,
) -> Result<(Vec<GeneratedFile>, Vec<asyncapi::Document>), Diagnostics> {
    on_big_stack(|| {
        let systems = check_here(catalog)?;
        let documents = asyncapi::export(catalog, &systems, env!("CARGO_PKG_VERSION"))?;
        Ok((emit_crate(catalog, &systems, command), documents))
    })
}

fn generate_here(catalog: &Catalog, command: &str) -> Result<Vec<GeneratedFile>, Diagnostics> {
    let systems = check_here(catalog)?;
    Ok(emit_crate(catalog, &systems, command))
}

fn emit_crate(
    catalog: &Catalog,
    systems: &[CheckedSystem<'_>],
    command: &str,
) -> Vec<GeneratedFile> {
    let header = format!("// @generated by `{command}` from schemas/. Do not edit: change the schemas and run `{command}`.\n\n");
    let mut files = Vec::new();
    let mut mods = Vec::new();
    for sys in systems {
        let name = sys.source.manifest.system.clone();
        mods.push(name.clone());
        files.push(GeneratedFile {
            path: format!("src/{name}.rs"),
            contents: format!("{header}{}", emit_system(sys)),
        });
    }
    let docs = schema_documents(catalog);
    // Sorted by `$id`, so the embedded list never depends on hash order.
    let docs: BTreeMap<&String, &Value> = docs.iter().collect();
    let entries = docs.iter().map(|(id, v)| {
        let text = serde_json::to_string(v).expect("JSON serializes");
        quote!((#id, #text))
    });
    let n = docs.len();
    files.push(GeneratedFile {
        path: "src/schemas.rs".into(),
        contents: format!(
            "{header}{}",
            format(quote! {
                //! Every schema of the catalog, embedded, by `$id`.
                /// The catalog's schemas; validators compile from here, offline.
                pub static SCHEMAS: ::event_contracts_runtime::SchemaSet = ::event_contracts_runtime::SchemaSet::new(&DOCUMENTS);
                static DOCUMENTS: [(&str, &str); #n] = [#(#entries),*];
            })
        ),
    });
    let mod_idents: Vec<_> = mods.iter().map(|m| ident(m)).collect();
    let recursion_limit = recursion_limit(systems).map(|n| {
        let n = n.to_string();
        quote!(#![recursion_limit = #n])
    });
    let mod_docs: Vec<String> = systems
        .iter()
        .map(|s| {
            format!(
                " {} ({} transport).",
                s.source.manifest.title,
                s.source.manifest.transport.as_str()
            )
        })
        .collect();
    let events_refs = mod_idents.iter().map(|m| quote!(#m::EVENTS.as_slice()));
    let sys_names = &mods;
    let n_sys = systems.len();
    files.push(GeneratedFile {
        path: "src/lib.rs".into(),
        contents: format!(
            "{header}{}",
            format(quote! {
                //! Typed events, validators and dispatch for every catalogued event system.
                //!
                //! Each system module holds one type per schema, an `Event` impl per event, the
                //! system's event enum with `decode`/`encode` by wire name, and for wrapped systems the
                //! envelope generic over its payload with `decode_message`/`encode_message`.
                #![deny(warnings)]
                #![forbid(unsafe_code)]
                #recursion_limit
                pub use ::event_contracts_runtime as runtime;
                pub use ::event_contracts_runtime::{Channel, DateTime, DecodeError, EncodeError, Event, EventInfo, Validate, Violation, Violations};
                mod schemas;
                pub use schemas::SCHEMAS;
                #(#[doc = #mod_docs] pub mod #mod_idents;)*
                /// Every system's name with its events.
                pub fn systems() -> [(&'static str, &'static [EventInfo]); #n_sys] {
                    [#((#sys_names, #events_refs)),*]
                }
                /// Every system, type-erased (events, envelope, round trips).
                pub static SYSTEMS: [&::event_contracts_runtime::SystemInfo; #n_sys] = [#(&#mod_idents::SYSTEM_INFO),*];
            })
        ),
    });
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// rustc follows types within types when it proves `Send` or drop order, and gives up past
/// 128 steps (a few per level: the type, an `Option` or `Vec` around it). A catalog nesting
/// deeper than rustc's default allows gets a limit that fits.
fn recursion_limit(systems: &[CheckedSystem<'_>]) -> Option<usize> {
    const STEPS_PER_LEVEL: usize = 8;
    const DEFAULT_LIMIT: usize = 128;
    let depth = systems
        .iter()
        .map(|s| s.graph.nesting_depth())
        .max()
        .unwrap_or(0);
    (depth * STEPS_PER_LEVEL > DEFAULT_LIMIT).then(|| (depth * STEPS_PER_LEVEL).next_power_of_two())
}

fn format(tokens: TokenStream) -> String {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        // Unreachable for well-formed emitters; keep the raw tokens so the compiler points at the fault.
        Err(e) => format!("compile_error!({:?});\n{tokens}", e.to_string()),
    }
}

/// Below this many types a system module is emitted and formatted on one thread.
const TYPES_PER_THREAD: usize = 256;

/// A system module's text: its types, then the events, the event enum and the transport half.
/// The types are most of it; on a large system they are emitted and formatted in parallel,
/// in contiguous slices whose texts are joined in order (items format independently).
fn emit_system(sys: &CheckedSystem<'_>) -> String {
    let m = &sys.source.manifest;
    let mut module_doc = format!(
        " {}\n\n {}\n\n Source: `shared/docs/{}`; transport: {}.",
        m.title,
        m.description.replace('\n', "\n "),
        m.source_document,
        m.transport.as_str()
    );
    if let Some(layout) = transport::stream_entry_doc(m) {
        module_doc.push_str(&format!("\n\n {layout}"));
    }
    let types = &sys.graph.types;
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(types.len().div_ceil(TYPES_PER_THREAD))
        .max(1);
    let per_thread = types.len().div_ceil(threads).max(1);
    let emitter = emit::Emitter::new(&sys.graph);
    // One type at a time: small token streams and syntax trees stay in cache and their
    // memory is reused, where one tree of the whole module costs page faults and frees.
    let emit_types = |slice: &[model::TypeDef]| {
        slice
            .iter()
            .map(|d| format(emitter.type_def(d)))
            .collect::<String>()
    };
    let (texts, rest) = std::thread::scope(|scope| {
        let workers: Vec<_> = types
            .chunks(per_thread)
            .skip(1)
            .map(|slice| {
                std::thread::Builder::new()
                    .stack_size(STACK_BYTES)
                    .spawn_scoped(scope, move || emit_types(slice))
            })
            .collect();
        let mut texts = vec![emit_types(types.chunks(per_thread).next().unwrap_or(&[]))];
        let rest = format(system::SystemCtx::new(sys).emit());
        for (worker, slice) in workers.into_iter().zip(types.chunks(per_thread).skip(1)) {
            // A thread that cannot start leaves its slice to this one.
            texts.push(match worker {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(_) => emit_types(slice),
            });
        }
        (texts, rest)
    });
    let head = format(quote! {
        #![doc = #module_doc]
        #![allow(clippy::all, deprecated)]
    });
    let mut out = String::with_capacity(
        head.len() + rest.len() + texts.iter().map(String::len).sum::<usize>(),
    );
    out.push_str(&head);
    texts.iter().for_each(|t| out.push_str(t));
    out.push_str(&rest);
    out
}
