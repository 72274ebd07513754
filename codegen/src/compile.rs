//! Every schema compiled by the validator the generated crate embeds, once each.
//!
//! Compiling a schema also compiles what it refers to, so compiling each schema against the
//! whole catalog compiles a shared definition once per schema that uses it: quadratic when
//! many events share a large one. Here each schema is compiled against stand-ins of the other
//! files that hold only the locations some `$ref` points at (each an empty schema): references
//! are still resolved, each file's own content is compiled once, as its own root.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use event_contracts_runtime::{Documents, Validator};
use serde_json::{Map, Value};

use crate::catalog::{Catalog, Loc, ID_BASE};
use crate::diag::{Code, Diagnostics};

pub fn compile_all(catalog: &Catalog, diags: &mut Diagnostics) {
    let (referenced, unresolvable) = referenced_locations(catalog);
    let stand_ins: Documents = Arc::new(
        referenced
            .into_iter()
            .map(|(file, pointers)| {
                let id = format!("{ID_BASE}{file}");
                let stand_in = stand_in(catalog, &file, &id, &pointers);
                (id, stand_in)
            })
            .collect(),
    );
    for (path, file) in &catalog.files {
        if path.ends_with("manifest.json") {
            continue;
        }
        if let Err(e) = Validator::compile_root(&file.value, &stand_ins) {
            // A reference our own resolver refuses explains the failure (typically one in
            // `not` or `if`, which only the validator reads); the validator's wording is not
            // parsed for it.
            let code = if unresolvable.contains(path) {
                Code::UnresolvedRef
            } else {
                Code::SchemaCompile
            };
            diags.push(catalog.diag(
                code,
                &Loc::new(path.clone(), ""),
                format!("the schema does not compile: {e}"),
                "fix the reference or keyword named above",
            ));
        }
    }
}

/// Per file, every JSON pointer into it that a `$ref` anywhere in the catalog resolves to.
/// Every file is listed, so a reference to one is never "not in the catalog". Also the files
/// holding a `$ref` that does not resolve.
fn referenced_locations(
    catalog: &Catalog,
) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let mut unresolvable = BTreeSet::new();
    let mut out: BTreeMap<String, BTreeSet<String>> = catalog
        .files
        .keys()
        .filter(|p| !p.ends_with("manifest.json"))
        .map(|p| (p.clone(), BTreeSet::new()))
        .collect();
    for (path, file) in &catalog.files {
        if path.ends_with("manifest.json") {
            continue;
        }
        let mut stack = vec![(Loc::new(path.clone(), ""), &file.value)];
        while let Some((loc, v)) = stack.pop() {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        // An unresolvable reference stays unresolvable: the validator says so.
                        match catalog.resolve_ref(&loc, r) {
                            Ok(target) => {
                                if let Some(pointers) = out.get_mut(&target.file) {
                                    pointers.insert(target.pointer);
                                }
                            }
                            Err(_) => {
                                unresolvable.insert(path.clone());
                            }
                        }
                    }
                    stack.extend(m.iter().map(|(k, x)| (loc.join(k), x)));
                }
                Value::Array(items) => stack.extend(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (loc.join(&i.to_string()), x)),
                ),
                _ => {}
            }
        }
    }
    (out, unresolvable)
}

/// A document with the `$id` of `file` that holds an empty schema at each of `pointers`, in
/// containers shaped like the file's own.
fn stand_in(catalog: &Catalog, file: &str, id: &str, pointers: &BTreeSet<String>) -> Value {
    let mut root = Value::Object(Map::from_iter([("$id".to_owned(), Value::from(id))]));
    let Some(source) = catalog.files.get(file) else {
        return root;
    };
    for pointer in pointers.iter().filter(|p| !p.is_empty()) {
        let mut real = &source.value;
        let mut here = &mut root;
        for token in pointer.split('/').skip(1) {
            let token = token.replace("~1", "/").replace("~0", "~");
            let next_real = match real {
                Value::Object(m) => m.get(&token),
                Value::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            };
            let Some(next_real) = next_real else { break };
            here = match (real, here) {
                (Value::Array(_), here) => {
                    if !here.is_array() {
                        *here = Value::Array(Vec::new());
                    }
                    let Value::Array(items) = here else { break };
                    let i: usize = token.parse().unwrap_or_default();
                    if items.len() <= i {
                        items.resize(i + 1, Value::Object(Map::new()));
                    }
                    &mut items[i]
                }
                (_, here) => {
                    if !here.is_object() {
                        *here = Value::Object(Map::new());
                    }
                    let Value::Object(m) = here else { break };
                    m.entry(token).or_insert_with(|| Value::Object(Map::new()))
                }
            };
            real = next_real;
        }
    }
    root
}
