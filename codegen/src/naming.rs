//! The one naming authority: every Rust name the generator emits for a schema (type names,
//! field and variant identifiers, the Rust type a [`Ty`] is written as). `emit` writes these
//! names and compat's Rust-API rules report them, so a finding names exactly what the
//! generated crate holds.

use std::collections::{HashMap, HashSet};

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};
use quote::format_ident;

use crate::model::{Field, Ty, TypeGraph};

/// A Rust identifier for a name already in the right case: snake_case fields, UpperCamelCase
/// types and variants, raw identifiers for keywords. Never fails: a character no identifier
/// may hold becomes `_`.
pub fn ident(name: &str) -> Ident {
    let mut clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if clean.is_empty() || clean.starts_with(|c: char| c.is_ascii_digit()) {
        clean.insert(0, '_');
    }
    if clean == "_" {
        clean.push('_');
    }
    match clean.as_str() {
        "self" | "Self" | "super" | "crate" => format_ident!("{}_", clean),
        s if RUST_KEYWORDS.contains(&s) => Ident::new_raw(s, Span::call_site()),
        s => Ident::new(s, Span::call_site()),
    }
}

/// Words that are no identifier unless written raw: the ones `syn` refuses (Rust's strict
/// and reserved keywords), plus `gen`, reserved since the 2024 edition. Looked up rather than
/// parsed: an enum of 220,000 values asks 220,000 times.
const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "Self", "self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Identifiers from base names, made unique by a numbered suffix (`sep` before the number).
/// Uniqueness is decided on the final identifiers (`self` and `self_` both become `self_`);
/// `taken` are identifiers the caller uses beside these. Linear in the number of names.
pub(crate) fn unique_idents(
    bases: impl Iterator<Item = String>,
    sep: &str,
    taken: &[&str],
) -> Vec<Ident> {
    let mut used: HashSet<String> = taken.iter().map(|t| (*t).to_owned()).collect();
    // The next number to try per base: lower ones are already taken.
    let mut next: HashMap<String, usize> = HashMap::new();
    bases
        .map(|base| {
            let mut id = ident(&base);
            if used.insert(id.to_string()) {
                return id;
            }
            // `self_` + `_2` would be `self__2`, which is not snake_case.
            let stem = if sep == "_" {
                base.trim_end_matches('_')
            } else {
                &base
            };
            let n = next.entry(base.clone()).or_insert(2);
            loop {
                id = ident(&format!("{stem}{sep}{n}"));
                *n += 1;
                if used.insert(id.to_string()) {
                    return id;
                }
            }
        })
        .collect()
}

/// `name` in ASCII: every other letter or digit spelled as its code point (`größe` becomes
/// `gr_uf6_udf_e` in snake_case, `GrUF6UDFe` in UpperCamelCase), so distinct names stay
/// distinct and no identifier trips the confusable-character lints.
fn ascii_name(name: &str, snake: bool) -> String {
    if name.is_ascii() {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        if c.is_ascii() {
            out.push(c);
        } else if c.is_alphanumeric() && snake {
            out.push_str(&format!("_u{:x}_", c as u32));
        } else if c.is_alphanumeric() {
            out.push_str(&format!("U{:X}", c as u32));
        }
    }
    if snake {
        // Keep one underscore between words, none at the ends (snake_case lint).
        let mut collapsed = String::with_capacity(out.len());
        for c in out.chars() {
            if !(c == '_' && (collapsed.is_empty() || collapsed.ends_with('_'))) {
                collapsed.push(c);
            }
        }
        collapsed.trim_end_matches('_').to_owned()
    } else {
        out
    }
}

fn field_bases(fields: &[Field]) -> impl Iterator<Item = String> + '_ {
    fields
        .iter()
        .map(|f| match ascii_name(&f.wire.to_snake_case(), true) {
            s if s.is_empty() => "field".to_owned(),
            s => s,
        })
}

/// Field identifiers, unique within the struct (a second `ID` beside `id` becomes `id_2`).
pub fn field_idents(fields: &[Field]) -> Vec<Ident> {
    unique_idents(field_bases(fields), "_", &[])
}

/// The field identifiers and, after them, the one of the map that keeps undeclared
/// properties (`additional_properties`, unless a declared property took that name).
pub(crate) fn field_idents_with_additional(fields: &[Field]) -> (Vec<Ident>, Ident) {
    let mut idents = unique_idents(
        field_bases(fields).chain(["additional_properties".to_owned()]),
        "_",
        &[],
    );
    let additional = idents
        .pop()
        .unwrap_or_else(|| format_ident!("additional_properties"));
    (idents, additional)
}

fn variant_bases(values: &[String]) -> impl Iterator<Item = String> + '_ {
    values
        .iter()
        .map(|v| match ascii_name(&v.to_upper_camel_case(), false) {
            s if s.is_empty() => "Empty".to_owned(),
            s if s.starts_with(|c: char| c.is_ascii_digit()) => format!("V{s}"),
            // `Self_` would not be UpperCamelCase.
            s if s == "Self" => "SelfValue".to_owned(),
            s => s,
        })
}

/// Variant identifiers for enum values, unique within the enum.
pub fn variant_idents(values: &[String]) -> Vec<Ident> {
    unique_idents(variant_bases(values), "", &[])
}

/// A tagged union's variant identifiers (one per listed tag value) and, when it has a
/// fallback branch, the fallback's: `Other`, unless a listed tag took that name.
pub fn tagged_variant_idents(values: &[String], fallback: bool) -> (Vec<Ident>, Option<Ident>) {
    let mut idents = unique_idents(
        variant_bases(values).chain(fallback.then(|| "Other".to_owned())),
        "",
        &[],
    );
    let other = if fallback { idents.pop() } else { None };
    (idents, other)
}

/// Whether an author's title can name a Rust type as written: PascalCase ASCII, which
/// `non_camel_case_types` (denied in generated code) accepts, and not a keyword.
pub fn is_type_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
        && s != "Self"
}

/// A made-up name as a Rust type name: ASCII letters and digits (any other letter or digit
/// spelled as its code point, so distinct names stay distinct), starting with an uppercase
/// letter.
pub fn type_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if c.is_alphanumeric() {
            out.push_str(&format!("U{:X}", c as u32));
        }
    }
    match out.chars().next() {
        Some(c) if c.is_ascii_uppercase() => out,
        Some(c) if c.is_ascii_lowercase() => {
            out.replace_range(..1, &c.to_ascii_uppercase().to_string());
            out
        }
        _ => format!("T{out}"),
    }
}

/// The Rust type a value of `ty` has in the generated crate, written as a reader would
/// (`Vec<Chunk>`, `Option<i64>`; standard paths unqualified): the emitted tokens say the
/// same with every path spelled out.
pub fn rust_type(graph: &TypeGraph, ty: &Ty) -> String {
    match ty {
        Ty::Any => "serde_json::Value".into(),
        Ty::AnyObject => "serde_json::Map<String, Value>".into(),
        Ty::Bool => "bool".into(),
        Ty::Int { unsigned: true, .. } => "u64".into(),
        Ty::Int { .. } => "i64".into(),
        Ty::Num { .. } => "f64".into(),
        Ty::Str { .. } => "String".into(),
        Ty::DateTime { .. } => "DateTime".into(),
        Ty::Uuid { .. } => "Uuid".into(),
        Ty::Named(id) => graph
            .get(*id)
            .map(|t| ident(&t.name).to_string())
            .unwrap_or_default(),
        Ty::Array { item, .. } => format!("Vec<{}>", rust_type(graph, item)),
        Ty::Map { value } => format!("BTreeMap<String, {}>", rust_type(graph, value)),
        Ty::Nullable(t) => format!("Option<{}>", rust_type(graph, t)),
    }
}

/// The Rust type of a struct field: an optional field is an `Option`, a field that closes a
/// by-value cycle is boxed (inside the `Option` of a nullable value).
pub fn field_rust_type(graph: &TypeGraph, f: &Field) -> String {
    let value = match (&f.ty, f.boxed) {
        (Ty::Nullable(inner), true) => format!("Option<Box<{}>>", rust_type(graph, inner)),
        (ty, true) => format!("Box<{}>", rust_type(graph, ty)),
        (ty, false) => rust_type(graph, ty),
    };
    if f.required {
        value
    } else {
        format!("Option<{value}>")
    }
}
