//! What the pages say about a type: its JSON and Rust shape, its constraints, and the named
//! types it leads to (each shown once per page, under an anchor the field tables link to).

use std::collections::BTreeSet;

use crate::model::{NumChecks, StrChecks, Ty, TypeDef, TypeGraph, TypeId, TypeKind};

/// `id` and every named type reachable from it, `id` first, each once, in the order met.
pub(crate) fn reachable(graph: &TypeGraph, id: TypeId) -> Vec<TypeId> {
    let mut order = vec![id];
    let mut seen = BTreeSet::from([id]);
    let mut next = 0;
    while next < order.len() {
        let mut found = Vec::new();
        match &graph[order[next]].kind {
            TypeKind::Struct { fields, .. } => {
                for f in fields {
                    named_in(&f.ty, &mut found);
                }
            }
            TypeKind::Newtype(ty) => named_in(ty, &mut found),
            TypeKind::StrEnum { .. } => {}
            TypeKind::Tagged {
                variants, fallback, ..
            } => {
                found.extend(variants.iter().map(|(_, v)| *v));
                found.extend(*fallback);
            }
        }
        for t in found {
            if seen.insert(t) {
                order.push(t);
            }
        }
        next += 1;
    }
    order
}

fn named_in(ty: &Ty, out: &mut Vec<TypeId>) {
    match ty {
        Ty::Named(id) => out.push(*id),
        Ty::Array { item, .. } => named_in(item, out),
        Ty::Map { value } => named_in(value, out),
        Ty::Nullable(inner) => named_in(inner, out),
        _ => {}
    }
}

/// Wire names of a type's own fields (and a union's tag).
pub(crate) fn field_names(def: &TypeDef) -> Vec<String> {
    match &def.kind {
        TypeKind::Struct { fields, .. } => fields.iter().map(|f| f.wire.clone()).collect(),
        TypeKind::Tagged { tag, .. } => vec![tag.clone()],
        TypeKind::Newtype(_) | TypeKind::StrEnum { .. } => Vec::new(),
    }
}

/// A piece of a type description: plain text, or a link to a named type's anchor.
#[derive(Debug, PartialEq)]
pub(crate) enum Part {
    Text(String),
    Type(TypeId),
}

/// The JSON shape of `ty`, with named types as links.
pub(crate) fn json_type(ty: &Ty) -> Vec<Part> {
    let text = |s: &str| vec![Part::Text(s.into())];
    match ty {
        Ty::Any => text("any JSON value"),
        Ty::AnyObject => text("object (free keys)"),
        Ty::Bool => text("boolean"),
        Ty::Int { .. } => text("integer"),
        Ty::Num { .. } => text("number"),
        Ty::Str { .. } => text("string"),
        Ty::DateTime { .. } => text("string (date-time)"),
        Ty::Uuid { .. } => text("string (uuid)"),
        Ty::Named(id) => vec![Part::Type(*id)],
        Ty::Array { item, .. } => {
            let mut out = text("array of ");
            out.extend(json_type(item));
            out
        }
        Ty::Map { value } => {
            let mut out = text("map of string to ");
            out.extend(json_type(value));
            out
        }
        Ty::Nullable(inner) => {
            let mut out = json_type(inner);
            out.push(Part::Text(" or null".into()));
            out
        }
    }
}

/// The Rust type the generated crate uses for `ty` (named types by their Rust name).
pub(crate) fn rust_type(graph: &TypeGraph, ty: &Ty) -> String {
    match ty {
        Ty::Any => "serde_json::Value".into(),
        Ty::AnyObject => "serde_json::Map<String, Value>".into(),
        Ty::Bool => "bool".into(),
        Ty::Int { unsigned: true, .. } => "u64".into(),
        Ty::Int {
            unsigned: false, ..
        } => "i64".into(),
        Ty::Num { .. } => "f64".into(),
        Ty::Str { .. } => "String".into(),
        Ty::DateTime { .. } => "DateTime".into(),
        Ty::Uuid { .. } => "Uuid".into(),
        Ty::Named(id) => graph[*id].name.clone(),
        Ty::Array { item, .. } => format!("Vec<{}>", rust_type(graph, item)),
        Ty::Map { value } => format!("BTreeMap<String, {}>", rust_type(graph, value)),
        Ty::Nullable(inner) => format!("Option<{}>", rust_type(graph, inner)),
    }
}

/// Every constraint on a value of `ty`, as short phrases (`min 0`, `pattern ^a$`, …).
pub(crate) fn constraints(graph: &TypeGraph, ty: &Ty) -> Vec<String> {
    let mut out = Vec::new();
    match ty {
        Ty::Int { checks, .. } | Ty::Num { checks } => num(checks, &mut out),
        Ty::Str { checks } => string(checks, &mut out),
        Ty::DateTime { checks } => {
            out.push("format date-time".into());
            string(checks, &mut out);
        }
        Ty::Uuid { checks } => {
            out.push("format uuid".into());
            string(checks, &mut out);
        }
        Ty::Named(id) => {
            if let TypeKind::StrEnum { values } = &graph[*id].kind {
                if let [only] = values.as_slice() {
                    out.push(format!("const {only:?}"));
                } else {
                    let listed: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
                    out.push(format!("one of {}", listed.join(", ")));
                }
            }
        }
        Ty::Array {
            item,
            min_items,
            max_items,
            unique,
        } => {
            if let Some(n) = min_items {
                out.push(format!("at least {n} items"));
            }
            if let Some(n) = max_items {
                out.push(format!("at most {n} items"));
            }
            if *unique {
                out.push("items unique".into());
            }
            out.extend(
                constraints(graph, item)
                    .into_iter()
                    .map(|c| format!("each item: {c}")),
            );
        }
        Ty::Map { value } => out.extend(
            constraints(graph, value)
                .into_iter()
                .map(|c| format!("each value: {c}")),
        ),
        Ty::Nullable(inner) => out.extend(constraints(graph, inner)),
        Ty::Any | Ty::AnyObject | Ty::Bool => {}
    }
    out
}

fn num(c: &NumChecks, out: &mut Vec<String>) {
    let pairs = [
        ("min", c.minimum),
        ("max", c.maximum),
        ("greater than", c.exclusive_minimum),
        ("less than", c.exclusive_maximum),
        ("multiple of", c.multiple_of),
    ];
    for (what, v) in pairs {
        if let Some(v) = v {
            out.push(format!("{what} {v}"));
        }
    }
}

fn string(c: &StrChecks, out: &mut Vec<String>) {
    if let Some(n) = c.min_length {
        out.push(format!("min length {n}"));
    }
    if let Some(n) = c.max_length {
        out.push(format!("max length {n}"));
    }
    for p in &c.patterns {
        out.push(format!("pattern {p}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_read_like_the_schema() {
        let graph = TypeGraph::default();
        let ty = Ty::Array {
            item: Box::new(Ty::Int {
                unsigned: true,
                checks: NumChecks {
                    minimum: Some(0.0),
                    maximum: Some(10.0),
                    ..NumChecks::default()
                },
            }),
            min_items: Some(1),
            max_items: None,
            unique: true,
        };
        assert_eq!(
            constraints(&graph, &ty),
            [
                "at least 1 items",
                "items unique",
                "each item: min 0",
                "each item: max 10"
            ]
        );
        assert_eq!(
            rust_type(&graph, &Ty::Nullable(Box::new(ty))),
            "Option<Vec<u64>>"
        );
    }
}
