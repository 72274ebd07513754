//! The one table of JSON Schema keywords the toolchain knows, and how each consumer treats
//! them: the generator ([`model`](crate::model)) and the compatibility engine's normaliser
//! (`event_contracts_compat::schema`). Both look keywords up here, so a keyword added to the
//! subset is added once, and where the two treat a keyword differently the table says so.
//!
//! A keyword not listed (and not `x-` prefixed) is [`UNKNOWN`]: the generator refuses it
//! (E006), compat keeps it as an opaque conjunct (a change to it is "unknown").

/// How the generator treats a keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codegen {
    /// Shapes the Rust type (its kind, fields, variants, nullability).
    Typed,
    /// Checked by the generated `is_valid` (bounds, patterns, presence rules).
    Checked,
    /// Only the schema validator enforces it: a type using it is `needs_schema` (the
    /// generated code still checks the shapes it can: an `if` on one `const`, a fallback
    /// branch's `not`).
    ValidatorOnly,
    /// Documentation or bookkeeping; no effect on types or checks.
    Annotation,
    /// Refused with a located E006 (`UnsupportedKeyword`) diagnostic.
    Unsupported,
}

/// How the compatibility engine's normaliser treats a keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compat {
    /// Folded into the canonical form and compared exactly.
    Folded,
    /// `$ref`, `allOf`, `anyOf`, `oneOf`: resolved, merged or combined into the canonical form.
    Composed,
    /// `if`/`then`/`else`: kept together as one opaque `if` conjunct. Without an `if`, a
    /// `then` or `else` means nothing and is dropped (the generator, more cautious, still
    /// leaves such a type to the validator).
    Conditional,
    /// `not`: a plain value set (`{enum}`/`{const}`) is folded as excluded values, any other
    /// `not` is opaque.
    Negation,
    /// Dropped before comparing.
    Annotation,
    /// Kept as written; a change to it cannot be decided ("unknown").
    Opaque,
}

/// One keyword and how each consumer treats it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keyword {
    pub name: &'static str,
    pub codegen: Codegen,
    pub compat: Compat,
    /// A schema with this keyword at its root that the generator accepts when it supports
    /// the keyword (the consistency tests of both consumers build it).
    pub sample: &'static str,
}

impl Keyword {
    /// Whether the generator reads it (typed, checked or validator-only).
    pub fn is_shape(&self) -> bool {
        matches!(
            self.codegen,
            Codegen::Typed | Codegen::Checked | Codegen::ValidatorOnly
        )
    }
}

const fn kw(name: &'static str, codegen: Codegen, compat: Compat, sample: &'static str) -> Keyword {
    Keyword {
        name,
        codegen,
        compat,
        sample,
    }
}

use Codegen as G;
use Compat as C;

/// Every keyword the toolchain knows. Rows where the two columns disagree in kind are the
/// documented differences:
/// - `definitions`, `$anchor`: compat drops them as annotations (they only hold or name
///   subschemas); the generator refuses them (use `$defs`, and `$ref` by pointer).
/// - the generator's `Unsupported` keywords are `Opaque` in compat unless compat folds them:
///   an old catalog may hold what the generator would refuse today, and compat must still
///   compare it. Compat folds the object keywords it decides exactly (`patternProperties`,
///   `minProperties`, `maxProperties`, `dependentSchemas`, and `unevaluatedProperties` where
///   no `anyOf`, `oneOf`, `if` or `dependentSchemas` decides what is evaluated), and the
///   array applicators `prefixItems`, `contains`, `minContains`, `maxContains`, and
///   `unevaluatedItems` where no applicator beside it composes but an `allOf` of plain parts
///   (there it is the items after the merged prefix); each stays opaque where it is not folded.
/// - `additionalItems` is opaque in the default dialect (2020-12, where the two validators
///   compat confirms with disagree on it); in drafts up to 2019-09 compat reads it as the
///   schema of the items after a tuple `items`, as it reads each document in its `$schema`
///   dialect (`event_contracts_compat::dialect`).
#[rustfmt::skip]
pub const KEYWORDS: &[Keyword] = &[
    // Annotations.
    kw("$schema", G::Annotation, C::Annotation, r#"{"type":"string","$schema":"https://json-schema.org/draft/2020-12/schema"}"#),
    kw("$id", G::Annotation, C::Annotation, r#"{"type":"string","$id":"https://example.com/a.json"}"#),
    kw("$comment", G::Annotation, C::Annotation, r#"{"type":"string","$comment":"why"}"#),
    kw("$defs", G::Annotation, C::Annotation, r#"{"type":"string","$defs":{"A":{"type":"integer"}}}"#),
    kw("title", G::Annotation, C::Annotation, r#"{"type":"string","title":"Name"}"#),
    kw("description", G::Annotation, C::Annotation, r#"{"type":"string","description":"what"}"#),
    kw("examples", G::Annotation, C::Annotation, r#"{"type":"string","examples":["a"]}"#),
    kw("default", G::Annotation, C::Annotation, r#"{"type":"string","default":"a"}"#),
    kw("deprecated", G::Annotation, C::Annotation, r#"{"type":"string","deprecated":true}"#),
    kw("readOnly", G::Annotation, C::Annotation, r#"{"type":"string","readOnly":true}"#),
    kw("writeOnly", G::Annotation, C::Annotation, r#"{"type":"string","writeOnly":true}"#),
    kw("contentEncoding", G::Annotation, C::Annotation, r#"{"type":"string","contentEncoding":"base64"}"#),
    kw("contentMediaType", G::Annotation, C::Annotation, r#"{"type":"string","contentMediaType":"text/plain"}"#),
    // The generator refuses these; compat drops them.
    kw("definitions", G::Unsupported, C::Annotation, r#"{"type":"string","definitions":{"A":{"type":"integer"}}}"#),
    kw("$anchor", G::Unsupported, C::Annotation, r#"{"type":"string","$anchor":"here"}"#),
    // Types.
    kw("type", G::Typed, C::Folded, r#"{"type":"string"}"#),
    kw("properties", G::Typed, C::Folded, r#"{"type":"object","properties":{"a":{"type":"string"}}}"#),
    kw("required", G::Typed, C::Folded, r#"{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}"#),
    kw("additionalProperties", G::Typed, C::Folded, r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#),
    kw("items", G::Typed, C::Folded, r#"{"type":"array","items":{"type":"string"}}"#),
    kw("format", G::Typed, C::Folded, r#"{"type":"string","format":"uuid"}"#),
    kw("enum", G::Typed, C::Folded, r#"{"type":"string","enum":["a","b"]}"#),
    kw("const", G::Typed, C::Folded, r#"{"type":"string","const":"a"}"#),
    kw("$ref", G::Typed, C::Composed, r##"{"$ref":"#/$defs/A","$defs":{"A":{"type":"object","properties":{"a":{"type":"string"}}}}}"##),
    kw("allOf", G::Typed, C::Composed, r#"{"type":"object","allOf":[{"type":"object","properties":{"a":{"type":"string"}}}]}"#),
    kw("oneOf", G::Typed, C::Composed, r#"{"oneOf":[{"type":"object","properties":{"k":{"const":"a"}},"required":["k"]},{"type":"object","properties":{"k":{"const":"b"}},"required":["k"]}]}"#),
    // Checks.
    kw("minItems", G::Checked, C::Folded, r#"{"type":"array","items":{"type":"string"},"minItems":1}"#),
    kw("maxItems", G::Checked, C::Folded, r#"{"type":"array","items":{"type":"string"},"maxItems":3}"#),
    kw("uniqueItems", G::Checked, C::Folded, r#"{"type":"array","items":{"type":"string"},"uniqueItems":true}"#),
    kw("minLength", G::Checked, C::Folded, r#"{"type":"string","minLength":1}"#),
    kw("maxLength", G::Checked, C::Folded, r#"{"type":"string","maxLength":8}"#),
    kw("pattern", G::Checked, C::Folded, r#"{"type":"string","pattern":"^[a-z]+$"}"#),
    kw("minimum", G::Checked, C::Folded, r#"{"type":"number","minimum":0}"#),
    kw("maximum", G::Checked, C::Folded, r#"{"type":"number","maximum":10}"#),
    kw("exclusiveMinimum", G::Checked, C::Folded, r#"{"type":"number","exclusiveMinimum":0}"#),
    kw("exclusiveMaximum", G::Checked, C::Folded, r#"{"type":"number","exclusiveMaximum":10}"#),
    kw("multipleOf", G::Checked, C::Folded, r#"{"type":"number","multipleOf":0.5}"#),
    kw("anyOf", G::Checked, C::Composed, r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"anyOf":[{"required":["a"]},{"required":["b"]}]}"#),
    kw("dependentRequired", G::Checked, C::Folded, r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"dependentRequired":{"a":["b"]}}"#),
    // Validator-only.
    kw("if", G::ValidatorOnly, C::Conditional, r#"{"type":"object","properties":{"a":{"type":"string"}},"if":{"properties":{"a":{"minLength":2}}},"then":{"required":["a"]}}"#),
    kw("then", G::ValidatorOnly, C::Conditional, r#"{"type":"object","properties":{"a":{"type":"string"}},"if":{"properties":{"a":{"minLength":2}}},"then":{"required":["a"]}}"#),
    kw("else", G::ValidatorOnly, C::Conditional, r#"{"type":"object","properties":{"a":{"type":"string"}},"if":{"properties":{"a":{"minLength":2}}},"else":{"required":["a"]}}"#),
    kw("not", G::ValidatorOnly, C::Negation, r#"{"type":"object","properties":{"a":{"type":"string"}},"not":{"required":["a"]}}"#),
    // Unsupported by the generator; compat folds the object and array ones it decides.
    kw("patternProperties", G::Unsupported, C::Folded, r#"{"type":"object","patternProperties":{"^x":{"type":"string"}}}"#),
    kw("propertyNames", G::Unsupported, C::Opaque, r#"{"type":"object","propertyNames":{"maxLength":3}}"#),
    kw("minProperties", G::Unsupported, C::Folded, r#"{"type":"object","minProperties":1}"#),
    kw("maxProperties", G::Unsupported, C::Folded, r#"{"type":"object","maxProperties":3}"#),
    kw("dependentSchemas", G::Unsupported, C::Folded, r#"{"type":"object","dependentSchemas":{"a":{"required":["b"]}}}"#),
    kw("dependencies", G::Unsupported, C::Opaque, r#"{"type":"object","dependencies":{"a":["b"]}}"#),
    kw("unevaluatedProperties", G::Unsupported, C::Folded, r#"{"type":"object","unevaluatedProperties":false}"#),
    kw("prefixItems", G::Unsupported, C::Folded, r#"{"type":"array","prefixItems":[{"type":"string"}]}"#),
    kw("contains", G::Unsupported, C::Folded, r#"{"type":"array","contains":{"type":"string"}}"#),
    kw("minContains", G::Unsupported, C::Folded, r#"{"type":"array","contains":{"type":"string"},"minContains":2}"#),
    kw("maxContains", G::Unsupported, C::Folded, r#"{"type":"array","contains":{"type":"string"},"maxContains":2}"#),
    kw("additionalItems", G::Unsupported, C::Opaque, r#"{"type":"array","additionalItems":false}"#),
    kw("unevaluatedItems", G::Unsupported, C::Folded, r#"{"type":"array","unevaluatedItems":false}"#),
    kw("contentSchema", G::Unsupported, C::Opaque, r#"{"type":"string","contentSchema":{"type":"object"}}"#),
    kw("$dynamicRef", G::Unsupported, C::Opaque, r##"{"type":"string","$dynamicRef":"#meta"}"##),
    kw("$dynamicAnchor", G::Unsupported, C::Opaque, r#"{"type":"string","$dynamicAnchor":"meta"}"#),
    kw("$vocabulary", G::Unsupported, C::Opaque, r#"{"type":"string","$vocabulary":{}}"#),
];

/// `x-` keywords: the toolchain's own annotations (`x-renamed-from`, …) and anyone else's.
pub const EXTENSION: Keyword = kw(
    "x-*",
    G::Annotation,
    C::Annotation,
    r#"{"type":"string","x-anything":1}"#,
);

/// What neither consumer knows.
pub const UNKNOWN: Keyword = kw(
    "*",
    G::Unsupported,
    C::Opaque,
    r#"{"type":"string","someKeyword":1}"#,
);

/// How `name` is treated: its row, [`EXTENSION`] for `x-…`, [`UNKNOWN`] otherwise.
pub fn lookup(name: &str) -> &'static Keyword {
    if name.starts_with("x-") {
        return &EXTENSION;
    }
    KEYWORDS.iter().find(|k| k.name == name).unwrap_or(&UNKNOWN)
}

/// Whether the generator ignores `name` (documentation, bookkeeping, `x-` extensions).
pub fn is_codegen_annotation(name: &str) -> bool {
    lookup(name).codegen == Codegen::Annotation
}

/// Whether compat drops `name` before comparing.
pub fn is_compat_annotation(name: &str) -> bool {
    lookup(name).compat == Compat::Annotation
}

/// Whether only the schema validator enforces `name` in the generated code.
pub fn is_validator_only(name: &str) -> bool {
    lookup(name).codegen == Codegen::ValidatorOnly
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::catalog::{Catalog, Loc};
    use crate::diag::Code;
    use crate::model::{Builder, Ty};
    use crate::source::SourceFile;

    #[test]
    fn every_keyword_is_listed_once_with_a_sample_that_uses_it() {
        let mut seen = HashSet::new();
        for k in KEYWORDS.iter().chain([&EXTENSION, &UNKNOWN]) {
            assert!(seen.insert(k.name), "{} listed twice", k.name);
            let v: serde_json::Value = serde_json::from_str(k.sample)
                .unwrap_or_else(|e| panic!("{}: sample is no JSON: {e}", k.name));
            let key = match k.name {
                "x-*" => "x-anything",
                "*" => "someKeyword",
                n => n,
            };
            assert!(
                v.get(key).is_some(),
                "{}: the sample does not use it",
                k.name
            );
            assert_eq!(lookup(key), k, "{key}");
        }
    }

    /// The `$ref` cycle guard walks subschemas by keyword (which apply in place, which to a
    /// part of the value): every keyword it walks is one this table treats.
    #[test]
    fn every_keyword_the_cycle_guard_walks_is_in_the_table() {
        use crate::cycles::{
            DESCENDING_LISTS, DESCENDING_MAPS, DESCENDING_ONE, IN_PLACE_LISTS, IN_PLACE_MAPS,
            IN_PLACE_ONE,
        };
        for list in [
            IN_PLACE_LISTS,
            IN_PLACE_ONE,
            IN_PLACE_MAPS,
            DESCENDING_ONE,
            DESCENDING_MAPS,
            DESCENDING_LISTS,
        ] {
            for k in list {
                assert!(KEYWORDS.iter().any(|row| row.name == *k), "{k}");
            }
        }
    }

    /// The generator's treatment of every keyword, checked on its sample: an annotation
    /// changes nothing, a typed or checked keyword is accepted, a validator-only one makes
    /// the type need the schema validator, an unsupported one is refused where it is written.
    #[test]
    fn the_generator_treats_every_keyword_as_the_table_says() {
        for k in KEYWORDS.iter().chain([&EXTENSION, &UNKNOWN]) {
            let mut cat = Catalog::default();
            let file = SourceFile::parse("t.json", k.sample).expect("sample parses");
            cat.files.insert("t.json".into(), file);
            let mut b = Builder::new(&cat);
            let id = b.root(&Loc::new("t.json", ""), "T");
            let key = match k.name {
                "x-*" => "x-anything",
                "*" => "someKeyword",
                n => n,
            };
            let diags = std::mem::take(&mut b.diags).sorted();
            let at_keyword: Vec<_> = diags
                .0
                .iter()
                .filter(|d| d.code == Code::UnsupportedKeyword && d.pointer == format!("/{key}"))
                .collect();
            match k.codegen {
                Codegen::Unsupported => {
                    assert_eq!(at_keyword.len(), 1, "{}: {:?}", k.name, diags.0)
                }
                _ => assert!(diags.is_empty(), "{}: {:?}", k.name, diags.0),
            }
            let needs_schema = b.graph.needs_schema(&Ty::Named(id));
            assert_eq!(
                needs_schema,
                k.codegen == Codegen::ValidatorOnly,
                "{}: needs_schema",
                k.name
            );
        }
    }
}
