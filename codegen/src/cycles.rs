//! Schemas defined as themselves: a `$ref` (or an `allOf`/`anyOf`/`oneOf`/`not`/`if` part) that
//! leads back to the schema it starts from while staying on the same instance value. Such a
//! schema has no meaning (validating it never ends) and no Rust type, so the whole catalog is
//! refused. Recursion through a property, an array item or a map value is a real recursive
//! type and is not reported here.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;

use crate::catalog::{Catalog, Loc};
use crate::diag::{Code, Diagnostics};

/// Keywords whose subschemas apply to the same instance as the schema that holds them.
pub(crate) const IN_PLACE_LISTS: &[&str] = &["allOf", "anyOf", "oneOf"];
pub(crate) const IN_PLACE_ONE: &[&str] = &["not", "if", "then", "else"];
pub(crate) const IN_PLACE_MAPS: &[&str] = &["dependentSchemas"];
/// Keywords whose subschemas apply to a part of the instance (or to nothing: `$defs`).
pub(crate) const DESCENDING_ONE: &[&str] = &[
    "items",
    "additionalProperties",
    "contains",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contentSchema",
];
pub(crate) const DESCENDING_MAPS: &[&str] =
    &["properties", "patternProperties", "$defs", "definitions"];
pub(crate) const DESCENDING_LISTS: &[&str] = &["prefixItems", "items"];

/// One step that stays on the same instance: to `target`, written at `via`.
struct Edge {
    target: Loc,
    via: Loc,
}

/// A schema defined as itself: the schemas of the cycle in order, starting at the first (in
/// path order), and the keyword that leaves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefCycle {
    pub schemas: Vec<Loc>,
    /// Where the cycle leaves its first schema (a `$ref`, an `allOf` part, …).
    pub via: Loc,
}

impl RefCycle {
    /// What is wrong, naming the cycle as `file#pointer → … → file#pointer`.
    pub fn message(&self) -> String {
        let names: Vec<String> = self
            .schemas
            .iter()
            .chain(self.schemas.first())
            .map(|l| format!("{}#{}", l.file, l.pointer))
            .collect();
        format!(
            "this schema is defined as itself: {} (no property, item or map value in between)",
            names.join(" → ")
        )
    }
}

/// Reports every cycle of in-place references in the catalog's schema files, each once,
/// located at the keyword that leaves the cycle's first schema (in path order).
pub fn check(catalog: &Catalog, diags: &mut Diagnostics) {
    for cycle in find(catalog) {
        diags.push(catalog.diag(
            Code::RefCycle,
            &cycle.via,
            cycle.message(),
            "remove one of these references, or put the recursion under a property or `items` to make a recursive type",
        ));
    }
}

/// Every cycle of in-place references in the catalog's schema files, each once. The guard
/// every consumer of the catalog runs before following `$ref`s: the generator refuses the
/// catalog (E013), compat refuses the side.
pub fn find(catalog: &Catalog) -> Vec<RefCycle> {
    let mut graph = Graph {
        catalog,
        edges: HashMap::new(),
    };
    let mut done: HashSet<Loc> = HashSet::new();
    let mut reported: BTreeSet<Vec<Loc>> = BTreeSet::new();
    let mut found = Vec::new();
    for loc in schema_nodes(catalog) {
        if done.contains(&loc) {
            continue;
        }
        // Iterative depth-first search: a long chain of references must not exhaust the stack.
        let mut path: Vec<(Loc, usize)> = vec![(loc.clone(), 0)];
        let mut on_path: HashSet<Loc> = HashSet::from([loc]);
        while let Some((at, next)) = path.last().cloned() {
            let edges = graph.edges_of(&at);
            let Some(edge) = edges.get(next) else {
                on_path.remove(&at);
                done.insert(at);
                path.pop();
                continue;
            };
            let target = edge.target.clone();
            if let Some(top) = path.last_mut() {
                top.1 += 1;
            }
            if on_path.contains(&target) {
                let start = path
                    .iter()
                    .position(|(l, _)| *l == target)
                    .unwrap_or_default();
                let cycle: Vec<Loc> = path[start..].iter().map(|(l, _)| l.clone()).collect();
                found.extend(report(&mut graph, cycle, &mut reported));
            } else if !done.contains(&target) {
                on_path.insert(target.clone());
                path.push((target, 0));
            }
        }
    }
    found
}

fn report(
    graph: &mut Graph<'_>,
    mut cycle: Vec<Loc>,
    reported: &mut BTreeSet<Vec<Loc>>,
) -> Option<RefCycle> {
    // The same cycle is met from each of its schemas: start it at its first one.
    let first = (0..cycle.len())
        .min_by_key(|&i| &cycle[i])
        .unwrap_or_default();
    cycle.rotate_left(first);
    if !reported.insert(cycle.clone()) {
        return None;
    }
    let next = cycle.get(1).unwrap_or(&cycle[0]).clone();
    let via = graph
        .edges_of(&cycle[0])
        .iter()
        .find(|e| e.target == next)
        .map(|e| e.via.clone())
        .unwrap_or_else(|| cycle[0].clone());
    Some(RefCycle {
        schemas: cycle,
        via,
    })
}

struct Graph<'c> {
    catalog: &'c Catalog,
    edges: HashMap<Loc, Vec<Edge>>,
}

impl Graph<'_> {
    fn edges_of(&mut self, loc: &Loc) -> &[Edge] {
        if !self.edges.contains_key(loc) {
            let edges = in_place_edges(self.catalog, loc);
            self.edges.insert(loc.clone(), edges);
        }
        &self.edges[loc]
    }
}

fn in_place_edges(catalog: &Catalog, loc: &Loc) -> Vec<Edge> {
    let Some(Value::Object(m)) = catalog.value(loc) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(Value::String(r)) = m.get("$ref") {
        // An unresolved reference is reported where references are resolved.
        if let Ok(target) = catalog.resolve_ref(loc, r) {
            out.push(Edge {
                target,
                via: loc.join("$ref"),
            });
        }
    }
    for kw in IN_PLACE_LISTS {
        if let Some(Value::Array(parts)) = m.get(*kw) {
            for i in 0..parts.len() {
                let at = loc.join(kw).join(&i.to_string());
                out.push(Edge {
                    target: at.clone(),
                    via: at,
                });
            }
        }
    }
    for kw in IN_PLACE_ONE {
        if m.contains_key(*kw) {
            let at = loc.join(kw);
            out.push(Edge {
                target: at.clone(),
                via: at,
            });
        }
    }
    for kw in IN_PLACE_MAPS {
        if let Some(Value::Object(parts)) = m.get(*kw) {
            for k in parts.keys() {
                let at = loc.join(kw).join(k);
                out.push(Edge {
                    target: at.clone(),
                    via: at,
                });
            }
        }
    }
    out
}

/// Every schema location in the catalog's schema files (not the manifests), found by the
/// keywords that hold subschemas; `examples`, `enum`, `const` and annotations are not entered.
fn schema_nodes(catalog: &Catalog) -> Vec<Loc> {
    let mut out = Vec::new();
    for (path, file) in &catalog.files {
        if path.ends_with("manifest.json") {
            continue;
        }
        let mut stack = vec![(Loc::new(path.clone(), ""), &file.value)];
        while let Some((loc, v)) = stack.pop() {
            let Value::Object(m) = v else { continue };
            for (k, sub) in m {
                let k = k.as_str();
                if DESCENDING_ONE.contains(&k) || IN_PLACE_ONE.contains(&k) {
                    stack.push((loc.join(k), sub));
                }
                if DESCENDING_MAPS.contains(&k) || IN_PLACE_MAPS.contains(&k) {
                    if let Value::Object(parts) = sub {
                        stack.extend(parts.iter().map(|(n, s)| (loc.join(k).join(n), s)));
                    }
                }
                if DESCENDING_LISTS.contains(&k) || IN_PLACE_LISTS.contains(&k) {
                    if let Value::Array(parts) = sub {
                        stack.extend(
                            parts
                                .iter()
                                .enumerate()
                                .map(|(i, s)| (loc.join(k).join(&i.to_string()), s)),
                        );
                    }
                }
            }
            out.push(loc);
        }
    }
    out
}
