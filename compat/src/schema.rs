//! The canonical form two schema versions are compared in: `$ref` resolved, `allOf` merged,
//! `type` arrays and type-disjoint `anyOf`/`oneOf` folded into one type set, `const` as a
//! one-value `enum`, integer bounds made inclusive, annotations dropped, `not: {enum}` /
//! `not: {const}` as a set of excluded values. Keywords that cannot be folded (any other `not`,
//! `if`/`then`/`else`, `patternProperties`, …) are kept as opaque conjuncts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

use event_contracts_codegen::catalog::{Catalog, Loc};
use event_contracts_codegen::cycles;
use event_contracts_codegen::keywords::{self, Compat};
use serde_json::{Map, Value};

use crate::dialect::Dialect;

/// Bit set of JSON types. `NUM` (any number) always includes `INT`.
pub type Types = u8;
pub const NULL: Types = 1;
pub const BOOL: Types = 2;
pub const OBJ: Types = 4;
pub const ARR: Types = 8;
pub const STR: Types = 16;
pub const INT: Types = 32;
pub const NUM: Types = 64;
pub const ALL: Types = 127;

pub fn type_names(t: Types) -> String {
    let mut out = Vec::new();
    for (bit, name) in [
        (NULL, "null"),
        (BOOL, "boolean"),
        (OBJ, "object"),
        (ARR, "array"),
        (STR, "string"),
    ] {
        if t & bit != 0 {
            out.push(name);
        }
    }
    if t & NUM != 0 {
        out.push("number");
    } else if t & INT != 0 {
        out.push("integer");
    }
    if out.is_empty() {
        "nothing".into()
    } else {
        out.join(" | ")
    }
}

fn type_bit(name: &str) -> Option<Types> {
    Some(match name {
        "null" => NULL,
        "boolean" => BOOL,
        "object" => OBJ,
        "array" => ARR,
        "string" => STR,
        "integer" => INT,
        "number" => NUM | INT,
        _ => return None,
    })
}

/// The types a JSON value has (an integral number is both `INT` and `NUM`).
pub fn types_of(v: &Value) -> Types {
    match v {
        Value::Null => NULL,
        Value::Bool(_) => BOOL,
        Value::Object(_) => OBJ,
        Value::Array(_) => ARR,
        Value::String(_) => STR,
        Value::Number(n) => {
            if is_integral(n) {
                INT | NUM
            } else {
                NUM
            }
        }
    }
}

fn is_integral(n: &serde_json::Number) -> bool {
    n.is_i64()
        || n.is_u64()
        || n.as_f64()
            .is_some_and(|f| f.fract() == 0.0 && f.is_finite())
}

/// A numeric bound.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bound {
    pub value: f64,
    pub exclusive: bool,
}

/// A keyword kept as written because it is not folded into the canonical form.
#[derive(Clone, Debug, PartialEq)]
pub struct Opaque {
    /// `not`, `if`, `patternProperties`, …
    pub keyword: String,
    /// The keyword's value(s), annotations dropped, keys sorted (`if` holds `{if, then, else}`).
    pub value: Value,
    pub loc: Loc,
}

/// `contains` with its `minContains`/`maxContains`: between `min` and `max` items match `schema`.
#[derive(Clone, Debug, PartialEq)]
pub struct Contains {
    pub schema: Schema,
    pub min: u64,
    pub max: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prop {
    pub schema: Schema,
    /// The property's schema in the source.
    pub loc: Option<Loc>,
    /// `x-renamed-from`: the property's earlier wire name.
    pub renamed_from: Option<String>,
    pub default: Option<Value>,
}

/// One schema in canonical form: a conjunction of constraints.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schema {
    /// Where this schema is written (the first part, for a merged schema).
    pub loc: Option<Loc>,
    pub title: Option<String>,
    /// Accepts nothing (`false`, or contradictory constraints).
    pub never: bool,
    /// `None`: any type.
    pub types: Option<Types>,
    pub enumeration: Option<Vec<Value>>,
    /// Values excluded by `not: {enum: [...]}` / `not: {const: x}` (a value-set complement);
    /// only values of the schema's types, and never together with `enumeration` (which is
    /// filtered instead).
    pub excluded: Option<Vec<Value>>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    /// ECMA patterns, all of which must match.
    pub patterns: Vec<String>,
    pub format: Option<String>,
    pub lower: Option<Bound>,
    pub upper: Option<Bound>,
    pub multiple_of: Option<f64>,
    /// `prefixItems` (a tuple `items` in drafts up to 2019-09): item `i` matches `prefix[i]`.
    pub prefix: Vec<Schema>,
    /// The items after the prefix (every item without one): `items` (2020-12),
    /// `additionalItems` after a tuple, or an `unevaluatedItems` nothing beside composes.
    pub items: Option<Box<Schema>>,
    /// Each a conjunct (a merged schema may hold several).
    pub contains: Vec<Contains>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub unique: bool,
    pub props: Vec<(String, Prop)>,
    pub required: BTreeSet<String>,
    /// `additionalProperties` as a schema (`false` is a `never` schema); `None` when absent or `true`.
    pub additional: Option<Box<Schema>>,
    /// `additionalProperties: true` written out: the generated struct keeps (and a relay
    /// writes) undeclared properties.
    pub keep_unknown: bool,
    pub dependent: BTreeMap<String, BTreeSet<String>>,
    /// `dependentSchemas` (and draft-07 schema `dependencies`) other than a plain required
    /// list, which is folded into `dependent`: when the key is present the object must also
    /// satisfy the schema.
    pub dependent_schemas: BTreeMap<String, Schema>,
    /// `minProperties` / `maxProperties`.
    pub min_props: Option<u64>,
    pub max_props: Option<u64>,
    /// `patternProperties`: (ECMA pattern, schema) for every key the pattern is found in,
    /// declared or not; `additional` applies only to keys no pattern matches.
    pub pattern_props: Vec<(String, Schema)>,
    pub one_of: Vec<Vec<Schema>>,
    pub any_of: Vec<Vec<Schema>>,
    pub opaque: Vec<Opaque>,
    /// The normalised schemas of the `not`s kept in `opaque` (a `not` that is no value set
    /// and no plain type list): the evaluator applies them, and `compare::negation` decides
    /// a change to them.
    pub negated: Vec<Schema>,
    /// Where each keyword was written.
    pub kw_locs: BTreeMap<String, Loc>,
}

impl Schema {
    pub fn any() -> Self {
        Self::default()
    }

    pub fn never() -> Self {
        Self {
            never: true,
            ..Self::default()
        }
    }

    pub fn is_any(&self) -> bool {
        !self.never
            && self.types.is_none()
            && self.enumeration.is_none()
            && self.excluded.is_none()
            && self.min_length.is_none()
            && self.max_length.is_none()
            && self.patterns.is_empty()
            && self.format.is_none()
            && self.lower.is_none()
            && self.upper.is_none()
            && self.multiple_of.is_none()
            && self.items.is_none()
            && self.prefix.is_empty()
            && self.contains.is_empty()
            && self.min_items.is_none()
            && self.max_items.is_none()
            && !self.unique
            && self.props.is_empty()
            && self.required.is_empty()
            && self.additional.is_none()
            && self.dependent.is_empty()
            && self.dependent_schemas.is_empty()
            && self.min_props.is_none()
            && self.max_props.is_none()
            && self.pattern_props.is_empty()
            && self.one_of.is_empty()
            && self.any_of.is_empty()
            && self.opaque.is_empty()
            && self.negated.is_empty()
    }

    /// The types this schema can hold.
    pub fn type_set(&self) -> Types {
        if self.never {
            return 0;
        }
        let mut t = self.types.unwrap_or(ALL);
        if let Some(e) = &self.enumeration {
            t &= e.iter().fold(0, |acc, v| acc | types_of(v));
        }
        t
    }

    /// The schema item `i` of an array instance must satisfy.
    pub fn item_schema(&self, i: usize) -> Schema {
        match self.prefix.get(i) {
            Some(p) => p.clone(),
            None => self.items.as_deref().cloned().unwrap_or_default(),
        }
    }

    pub fn prop(&self, name: &str) -> Option<&Prop> {
        self.props.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }

    /// The schema an instance's property `name` must satisfy: its declaration and every
    /// pattern found in the name, or else `additionalProperties`.
    pub fn prop_schema(&self, name: &str) -> Schema {
        let mut out = self.prop(name).map(|p| p.schema.clone());
        for (pattern, ps) in &self.pattern_props {
            if pattern_matches(pattern, name) != Some(false) {
                out = Some(match out {
                    Some(o) => merge(&o, ps),
                    None => ps.clone(),
                });
            }
        }
        match out {
            Some(o) => o,
            None => self
                .additional
                .as_deref()
                .cloned()
                .unwrap_or_else(Schema::any),
        }
    }

    /// The schema a property the schema does not declare must satisfy, `None` when any value
    /// will do (no pattern found in the name and no `additionalProperties`).
    pub fn undeclared_schema(&self, name: &str) -> Option<Schema> {
        if self.pattern_props.is_empty() && self.additional.is_none() {
            return None;
        }
        let mut plain = self.clone();
        plain.props.clear();
        let s = plain.prop_schema(name);
        (!s.is_any()).then_some(s)
    }

    pub fn kw_loc(&self, kw: &str) -> Option<Loc> {
        self.kw_locs
            .get(kw)
            .cloned()
            .or_else(|| self.loc.as_ref().map(|l| l.join(kw)))
    }

    /// Whether the schema is closed (`additionalProperties: false`).
    pub fn closed(&self) -> bool {
        self.additional.as_ref().is_some_and(|a| a.never)
    }
}

/// Conjunction of two schemas (`allOf`), exact for every folded keyword.
pub fn merge(a: &Schema, b: &Schema) -> Schema {
    if a.never || b.never {
        let mut n = Schema::never();
        n.loc = a.loc.clone().or(b.loc.clone());
        return n;
    }
    let mut out = a.clone();
    out.loc = a.loc.clone().or_else(|| b.loc.clone());
    out.title = a.title.clone().or_else(|| b.title.clone());
    out.types = match (a.types, b.types) {
        (Some(x), Some(y)) => Some(x & y),
        (x, y) => x.or(y),
    };
    out.enumeration = match (&a.enumeration, &b.enumeration) {
        (Some(x), Some(y)) => Some(
            x.iter()
                .filter(|v| y.iter().any(|w| json_eq(v, w)))
                .cloned()
                .collect(),
        ),
        (x, y) => x.clone().or_else(|| y.clone()),
    };
    out.excluded = match (&a.excluded, &b.excluded) {
        (Some(x), Some(y)) => {
            let mut all = x.clone();
            for v in y {
                if !all.iter().any(|w| json_eq(v, w)) {
                    all.push(v.clone());
                }
            }
            Some(all)
        }
        (x, y) => x.clone().or_else(|| y.clone()),
    };
    out.min_length = max_opt(a.min_length, b.min_length);
    out.max_length = min_opt(a.max_length, b.max_length);
    for p in &b.patterns {
        if !out.patterns.contains(p) {
            out.patterns.push(p.clone());
        }
    }
    match (&a.format, &b.format) {
        (Some(x), Some(y)) if x != y => out.opaque.push(Opaque {
            keyword: "format".into(),
            value: Value::String(y.clone()),
            loc: b.kw_loc("format").unwrap_or_else(|| Loc::new("", "")),
        }),
        (None, Some(y)) => out.format = Some(y.clone()),
        _ => {}
    }
    out.lower = tighter(a.lower, b.lower, true);
    out.upper = tighter(a.upper, b.upper, false);
    out.multiple_of = match (a.multiple_of, b.multiple_of) {
        (Some(x), Some(y)) => {
            if is_multiple(x, y) {
                Some(x)
            } else if is_multiple(y, x) {
                Some(y)
            } else if x.fract() == 0.0 && y.fract() == 0.0 {
                Some(lcm(x as u64, y as u64) as f64)
            } else {
                out.opaque.push(Opaque {
                    keyword: "multipleOf".into(),
                    value: serde_json::json!(y),
                    loc: b.kw_loc("multipleOf").unwrap_or_else(|| Loc::new("", "")),
                });
                Some(x)
            }
        }
        (x, y) => x.or(y),
    };
    out.items = match (&a.items, &b.items) {
        (Some(x), Some(y)) => Some(Box::new(merge(x, y))),
        (x, y) => x.clone().or_else(|| y.clone()),
    };
    let positions = a.prefix.len().max(b.prefix.len());
    out.prefix = (0..positions)
        .map(|i| merge(&a.item_schema(i), &b.item_schema(i)))
        .collect();
    for c in &b.contains {
        if !out.contains.contains(c) {
            out.contains.push(c.clone());
        }
    }
    out.min_items = max_opt(a.min_items, b.min_items);
    out.max_items = min_opt(a.max_items, b.max_items);
    out.unique = a.unique || b.unique;
    // Each property must satisfy both parts: the declared schema, or the other part's
    // additionalProperties.
    let mut names: Vec<String> = a.props.iter().map(|(n, _)| n.clone()).collect();
    for (n, _) in &b.props {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    out.props = names
        .into_iter()
        .map(|n| {
            let pa = a.prop(&n);
            let pb = b.prop(&n);
            let schema = merge(&a.prop_schema(&n), &b.prop_schema(&n));
            let prop = Prop {
                schema,
                loc: pb
                    .and_then(|p| p.loc.clone())
                    .or(pa.and_then(|p| p.loc.clone())),
                renamed_from: pb
                    .and_then(|p| p.renamed_from.clone())
                    .or(pa.and_then(|p| p.renamed_from.clone())),
                default: pb
                    .and_then(|p| p.default.clone())
                    .or(pa.and_then(|p| p.default.clone())),
            };
            (n, prop)
        })
        .collect();
    out.required = a.required.union(&b.required).cloned().collect();
    out.additional = match (&a.additional, &b.additional) {
        (Some(x), Some(y)) => Some(Box::new(merge(x, y))),
        (x, y) => x.clone().or_else(|| y.clone()),
    };
    out.keep_unknown = (a.keep_unknown || b.keep_unknown) && out.additional.is_none();
    for (k, v) in &b.dependent {
        out.dependent
            .entry(k.clone())
            .or_default()
            .extend(v.iter().cloned());
    }
    for (k, v) in &b.dependent_schemas {
        let merged = match out.dependent_schemas.get(k) {
            Some(x) => merge(x, v),
            None => v.clone(),
        };
        out.dependent_schemas.insert(k.clone(), merged);
    }
    out.min_props = max_opt(a.min_props, b.min_props);
    out.max_props = min_opt(a.max_props, b.max_props);
    // Patterns of one part do not exempt a key from the other part's `additionalProperties`:
    // one `additional` cannot say that, so such a conjunction stays opaque.
    let patterns_differ = |x: &Schema, y: &Schema| {
        y.pattern_props
            .iter()
            .any(|(p, _)| !x.pattern_props.iter().any(|(q, _)| q == p))
    };
    if (a.additional.is_some() && patterns_differ(a, b))
        || (b.additional.is_some() && patterns_differ(b, a))
    {
        out.opaque.push(Opaque {
            keyword: "patternProperties".into(),
            value: Value::Array(
                b.pattern_props
                    .iter()
                    .map(|(p, _)| Value::String(p.clone()))
                    .collect(),
            ),
            loc: b
                .kw_loc("patternProperties")
                .unwrap_or_else(|| Loc::new("", "")),
        });
    }
    for (p, v) in &b.pattern_props {
        match out.pattern_props.iter_mut().find(|(q, _)| q == p) {
            Some((_, x)) => *x = merge(x, v),
            None => out.pattern_props.push((p.clone(), v.clone())),
        }
    }
    out.one_of.extend(b.one_of.iter().cloned());
    out.any_of.extend(b.any_of.iter().cloned());
    for o in &b.opaque {
        if !out
            .opaque
            .iter()
            .any(|x| x.keyword == o.keyword && x.value == o.value)
        {
            out.opaque.push(o.clone());
        }
    }
    for x in &b.negated {
        if !out.negated.contains(x) {
            out.negated.push(x.clone());
        }
    }
    for (k, l) in &b.kw_locs {
        out.kw_locs.insert(k.clone(), l.clone());
    }
    finalize(&mut out);
    out
}

fn max_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn lcm(a: u64, b: u64) -> u64 {
    if a == 0 || b == 0 {
        0
    } else {
        a / gcd(a, b) * b
    }
}

/// Whether `x` is an integral multiple of `d`.
pub fn is_multiple(x: f64, d: f64) -> bool {
    if d == 0.0 {
        return false;
    }
    let q = x / d;
    q.is_finite() && (q - q.round()).abs() < 1e-9
}

/// The tighter of two lower (`lower`) or upper bounds.
fn tighter(a: Option<Bound>, b: Option<Bound>, lower: bool) -> Option<Bound> {
    match (a, b) {
        (Some(x), Some(y)) => {
            if x.value == y.value {
                Some(Bound {
                    value: x.value,
                    exclusive: x.exclusive || y.exclusive,
                })
            } else if (x.value > y.value) == lower {
                Some(x)
            } else {
                Some(y)
            }
        }
        (x, y) => x.or(y),
    }
}

/// Normal form after building or merging: `number` includes `integer`, integer bounds are
/// inclusive integers, enum values filtered by the type, contradictions become `never`.
pub fn finalize(s: &mut Schema) {
    if s.never {
        return;
    }
    if let Some(t) = s.types.as_mut() {
        if *t & NUM != 0 {
            *t |= INT;
        }
    }
    let t = s.types.unwrap_or(ALL);
    if t & NUM == 0 && t & INT != 0 {
        // Integers only among numbers: bounds become inclusive integers.
        if let Some(b) = s.lower {
            let v = if b.exclusive {
                b.value.floor() + 1.0
            } else {
                b.value.ceil()
            };
            s.lower = Some(Bound {
                value: v,
                exclusive: false,
            });
        }
        if let Some(b) = s.upper {
            let v = if b.exclusive {
                b.value.ceil() - 1.0
            } else {
                b.value.floor()
            };
            s.upper = Some(Bound {
                value: v,
                exclusive: false,
            });
        }
        if s.multiple_of.is_some_and(|m| m == 1.0) {
            s.multiple_of = None;
        }
    }
    if let Some(x) = s.excluded.take() {
        let mut kept: Vec<Value> = Vec::new();
        for v in x {
            if types_of(&v) & t != 0 && !kept.iter().any(|k| json_eq(k, &v)) {
                kept.push(v);
            }
        }
        match &mut s.enumeration {
            // An enumeration minus the excluded values is an enumeration.
            Some(e) => e.retain(|v| !kept.iter().any(|k| json_eq(k, v))),
            None if !kept.is_empty() => s.excluded = Some(kept),
            None => {}
        }
    }
    if let Some(e) = &s.enumeration {
        let mut kept: Vec<Value> = Vec::new();
        for v in e {
            if types_of(v) & t != 0 && !kept.iter().any(|k| json_eq(k, v)) {
                kept.push(v.clone());
            }
        }
        if kept.is_empty() {
            s.never = true;
        }
        s.enumeration = Some(kept);
    }
    if s.types == Some(0) {
        s.never = true;
    }
    normalize_items(s);
    // A required property that accepts nothing makes the object unsatisfiable.
    if t == OBJ {
        for r in &s.required {
            if s.prop_schema(r).never {
                s.never = true;
            }
        }
    }
}

/// Array normal form: a prefix item or tail accepting nothing is a length bound (`items:
/// false` after a prefix is `maxItems`), prefix items past `maxItems` or equal to the tail
/// are dropped, so equivalent spellings compare equal.
fn normalize_items(s: &mut Schema) {
    if let Some(i) = s.prefix.iter().position(|p| p.never) {
        s.max_items = min_opt(s.max_items, Some(i as u64));
    }
    if s.items.as_deref().is_some_and(|t| t.never) {
        s.max_items = min_opt(s.max_items, Some(s.prefix.len() as u64));
        s.items = None;
    }
    if let Some(m) = s.max_items {
        s.prefix.truncate(m as usize);
    }
    if s.prefix.is_empty() {
        return;
    }
    let tail = s.items.as_deref().cloned().unwrap_or_default();
    let tail_key = loc_free(&tail);
    while s.prefix.last().is_some_and(|p| loc_free(p) == tail_key) {
        s.prefix.pop();
    }
}

/// A schema's constraints, where it is written aside.
fn loc_free(s: &Schema) -> String {
    crate::compare::shape_key(s)
}

/// JSON equality with numbers compared by value (`1 == 1.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Whether compat drops keyword `k` before comparing (the shared keyword table's compat column).
pub fn is_annotation(k: &str) -> bool {
    keywords::is_compat_annotation(k)
}

/// A value with annotations dropped and keys sorted, for comparing opaque keywords.
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().filter(|k| !is_annotation(k)).collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), canonical(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The values a `not` excludes when it is a plain value set: `{"enum": [...]}` or
/// `{"const": x}` (annotations aside). Any other `not` is opaque.
pub fn excluded_values(not: &Value) -> Option<Vec<Value>> {
    let Value::Object(m) = canonical(not) else {
        return None;
    };
    if m.len() != 1 {
        return None;
    }
    match (m.get("enum"), m.get("const")) {
        (Some(Value::Array(e)), None) => Some(e.clone()),
        (None, Some(c)) => Some(vec![c.clone()]),
        _ => None,
    }
}

/// The types a `not: {type: ...}` (annotations aside) excludes, when the type set is one the
/// bit set can complement: `integer` without `number` cannot (its complement holds the
/// numbers that are not integers), so such a `not` is compared as a negation instead.
pub fn excluded_types(not: &Value) -> Option<Types> {
    let Value::Object(m) = canonical(not) else {
        return None;
    };
    if m.len() != 1 {
        return None;
    }
    let names: Vec<&str> = match m.get("type")? {
        Value::String(t) => vec![t.as_str()],
        Value::Array(a) => a.iter().map(Value::as_str).collect::<Option<Vec<_>>>()?,
        _ => return None,
    };
    let mut bits = 0;
    for n in names {
        bits |= type_bit(n)?;
    }
    (bits & INT == 0 || bits & NUM != 0).then_some(bits)
}

/// Whether a `not` is `{not: X}` alone (annotations aside), which is `X`.
fn double_negation(not: &Value) -> bool {
    matches!(canonical(not), Value::Object(m) if m.len() == 1 && m.contains_key("not"))
}

/// The names of a schema that is nothing but `required` (and annotations).
fn required_only(s: &Schema) -> Option<BTreeSet<String>> {
    let mut rest = s.clone();
    rest.loc = None;
    rest.title = None;
    rest.kw_locs.clear();
    let required = std::mem::take(&mut rest.required);
    (rest == Schema::default() && !s.never).then_some(required)
}

/// Turns schema files into canonical [`Schema`]s, resolving `$ref` inside the catalog.
pub struct Normalizer<'c> {
    cat: &'c Catalog,
    stack: Vec<Loc>,
    memo: HashMap<Loc, Schema>,
    /// Problems that make the side unusable (an unresolved `$ref`), as `file:line:col: message`.
    pub errors: Vec<String>,
    pub path_prefix: String,
}

impl<'c> Normalizer<'c> {
    pub fn new(cat: &'c Catalog, path_prefix: &str) -> Self {
        Self {
            cat,
            stack: Vec::new(),
            memo: HashMap::new(),
            errors: Vec::new(),
            path_prefix: path_prefix.to_owned(),
        }
    }

    fn error(&mut self, loc: &Loc, message: String) {
        let pos = self
            .cat
            .files
            .get(&loc.file)
            .map(|f| f.position(&loc.pointer))
            .unwrap_or_default();
        self.errors.push(format!(
            "{}{}:{}:{}: {message}",
            self.path_prefix, loc.file, pos.line, pos.column
        ));
    }

    /// Records every schema of the catalog defined as itself (the generator's guard,
    /// [`cycles::find`]) as an error: no verdict about such a schema means anything.
    pub fn refuse_cycles(&mut self) {
        for cycle in cycles::find(self.cat) {
            self.error(&cycle.via, cycle.message());
        }
    }

    /// The canonical schema at `loc`.
    pub fn node(&mut self, loc: &Loc) -> Schema {
        if let Some(s) = self.memo.get(loc) {
            return s.clone();
        }
        if self.stack.contains(loc) || self.stack.len() > 64 {
            // A recursive schema: compared opaquely from here on.
            let mut s = Schema::any();
            s.loc = Some(loc.clone());
            s.opaque.push(Opaque {
                keyword: "$ref".into(),
                value: Value::String(format!("{}#{}", loc.file, loc.pointer)),
                loc: loc.clone(),
            });
            return s;
        }
        self.stack.push(loc.clone());
        let s = self.build(loc);
        self.stack.pop();
        self.memo.insert(loc.clone(), s.clone());
        s
    }

    fn build(&mut self, loc: &Loc) -> Schema {
        let Some(v) = self.cat.value(loc) else {
            self.error(loc, "no schema here".into());
            return Schema::any();
        };
        let m = match v {
            Value::Bool(true) => {
                let mut s = Schema::any();
                s.loc = Some(loc.clone());
                return s;
            }
            Value::Bool(false) => {
                let mut s = Schema::never();
                s.loc = Some(loc.clone());
                return s;
            }
            Value::Object(m) => m.clone(),
            _ => {
                self.error(loc, "expected a schema (object or boolean)".into());
                return Schema::any();
            }
        };
        let dialect = self.dialect(&loc.file);
        // Drafts 04 to 07: `$ref` hides every keyword beside it.
        let m: Map<String, Value> = if dialect.ref_hides_siblings() && m.contains_key("$ref") {
            m.into_iter()
                .filter(|(k, _)| k == "$ref" || k == "title")
                .collect()
        } else {
            m
        };
        let tuple = dialect < Dialect::Draft202012 && m.get("items").is_some_and(Value::is_array);
        let mut exclusive_bounds = (false, false);
        let mut contains: Option<Schema> = None;
        let (mut min_contains, mut max_contains) = (1u64, None);
        let mut s = Schema {
            loc: Some(loc.clone()),
            title: m.get("title").and_then(Value::as_str).map(str::to_owned),
            ..Schema::default()
        };
        // `not: {type: ...}`: the types removed from this schema's.
        let mut excluded_type_bits: Option<Types> = None;
        let at = |k: &str| loc.join(k);
        for (k, val) in &m {
            // A keyword of another dialect than the document's is ignored by its validators.
            if !dialect.applies(k) || (dialect == Dialect::Draft4 && k == "id") {
                continue;
            }
            let compat = keywords::lookup(k).compat;
            if compat == Compat::Annotation {
                continue;
            }
            s.kw_locs.insert(k.clone(), at(k));
            match (dialect, k.as_str(), val) {
                // Draft-04: a boolean beside `maximum`/`minimum` makes it exclusive.
                (Dialect::Draft4, "exclusiveMaximum", Value::Bool(b)) => {
                    exclusive_bounds.1 = *b;
                    continue;
                }
                (Dialect::Draft4, "exclusiveMinimum", Value::Bool(b)) => {
                    exclusive_bounds.0 = *b;
                    continue;
                }
                // Up to 2019-09 an array `items` is a tuple, `additionalItems` its tail.
                (_, "items", Value::Array(list)) if tuple => {
                    s.prefix = (0..list.len())
                        .map(|i| self.node(&at(k).join(&i.to_string())))
                        .collect();
                    continue;
                }
                (_, "additionalItems", _) if dialect < Dialect::Draft202012 => {
                    if tuple {
                        s.items = Some(Box::new(self.node(&at(k))));
                    }
                    continue;
                }
                (_, "prefixItems", Value::Array(list)) => {
                    s.prefix = (0..list.len())
                        .map(|i| self.node(&at(k).join(&i.to_string())))
                        .collect();
                    continue;
                }
                (_, "contains", _) => {
                    contains = Some(self.node(&at(k)));
                    continue;
                }
                (_, "minContains", v) if v.as_u64().is_some() => {
                    min_contains = v.as_u64().unwrap_or(1);
                    continue;
                }
                (_, "maxContains", v) if v.as_u64().is_some() => {
                    max_contains = v.as_u64();
                    continue;
                }
                // Read after the loop, knowing what is beside it.
                (_, "unevaluatedItems", _) => continue,
                // Draft-07 and earlier: `dependencies` is `dependentRequired` (a list) and
                // `dependentSchemas` (a schema), read as those are.
                (d, "dependencies", Value::Object(deps)) if d <= Dialect::Draft7 => {
                    let mut schemas = Map::new();
                    for (key, dep) in deps {
                        match dep {
                            Value::Array(list) => {
                                let set = list.iter().filter_map(Value::as_str).map(str::to_owned);
                                s.dependent.entry(key.clone()).or_default().extend(set);
                            }
                            other => {
                                schemas.insert(key.clone(), other.clone());
                            }
                        }
                    }
                    if !schemas.is_empty() {
                        self.dependent_schemas(&mut s, &at(k), &schemas);
                    }
                    continue;
                }
                _ => {}
            }
            if compat == Compat::Opaque {
                s.opaque.push(Opaque {
                    keyword: k.clone(),
                    value: canonical(val),
                    loc: at(k),
                });
                continue;
            }
            match k.as_str() {
                "type" => {
                    let names: Vec<&str> = match val {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                        _ => vec![],
                    };
                    let mut t = 0;
                    for n in names {
                        match type_bit(n) {
                            Some(b) => t |= b,
                            None => self.error(&at(k), format!("unknown type `{n}`")),
                        }
                    }
                    s.types = Some(t);
                }
                "enum" => match val {
                    Value::Array(a) => s.enumeration = Some(a.clone()),
                    _ => self.error(&at(k), "`enum` must be an array".into()),
                },
                "const" => s.enumeration = Some(vec![val.clone()]),
                "minLength" => s.min_length = val.as_u64(),
                "maxLength" => s.max_length = val.as_u64(),
                "pattern" => match val.as_str() {
                    Some(p) => s.patterns.push(p.to_owned()),
                    None => self.error(&at(k), "`pattern` must be a string".into()),
                },
                "format" => s.format = val.as_str().map(str::to_owned),
                "minimum" | "exclusiveMinimum" | "maximum" | "exclusiveMaximum" => {
                    let Some(x) = val.as_f64() else {
                        s.opaque.push(Opaque {
                            keyword: k.clone(),
                            value: val.clone(),
                            loc: at(k),
                        });
                        continue;
                    };
                    let b = Some(Bound {
                        value: x,
                        exclusive: k.starts_with("exclusive"),
                    });
                    if k.ends_with("inimum") {
                        s.lower = tighter(s.lower, b, true);
                    } else {
                        s.upper = tighter(s.upper, b, false);
                    }
                }
                "multipleOf" => match val.as_f64() {
                    Some(x) if x > 0.0 => s.multiple_of = Some(x),
                    _ => self.error(&at(k), "`multipleOf` must be a number above 0".into()),
                },
                "items" if val.is_object() || val.is_boolean() => {
                    s.items = Some(Box::new(self.node(&at(k))));
                }
                "minItems" => s.min_items = val.as_u64(),
                "maxItems" => s.max_items = val.as_u64(),
                "uniqueItems" => s.unique = val.as_bool().unwrap_or(false),
                "properties" => {
                    if let Value::Object(props) = val {
                        for (name, pv) in props {
                            let ploc = at(k).join(name);
                            let schema = self.node(&ploc);
                            let renamed_from = pv
                                .get("x-renamed-from")
                                .and_then(Value::as_str)
                                .map(str::to_owned);
                            let default = pv.get("default").cloned();
                            s.props.push((
                                name.clone(),
                                Prop {
                                    schema,
                                    loc: Some(ploc),
                                    renamed_from,
                                    default,
                                },
                            ));
                        }
                    }
                }
                "required" => {
                    for r in val
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        s.required.insert(r.to_owned());
                    }
                }
                "additionalProperties" => match val {
                    Value::Bool(true) => s.keep_unknown = true,
                    _ => s.additional = Some(Box::new(self.node(&at(k)))),
                },
                "dependentRequired" => {
                    if let Value::Object(d) = val {
                        for (key, list) in d {
                            let set: BTreeSet<String> = list
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect();
                            s.dependent.entry(key.clone()).or_default().extend(set);
                        }
                    }
                }
                "$ref" | "allOf" | "anyOf" | "oneOf" => {}
                "if" | "then" | "else" => {}
                "unevaluatedProperties" => {}
                "not" if excluded_values(val).is_some() => {
                    s.excluded = excluded_values(val);
                }
                "not" if excluded_types(val).is_some() => {
                    excluded_type_bits = excluded_types(val);
                }
                "not" if double_negation(val) => {}
                "not" => {
                    s.negated.push(self.node(&at(k)));
                    s.opaque.push(Opaque {
                        keyword: k.clone(),
                        value: canonical(val),
                        loc: at(k),
                    });
                }
                "minProperties" => s.min_props = val.as_u64(),
                "maxProperties" => s.max_props = val.as_u64(),
                "patternProperties" => {
                    let Value::Object(pats) = val else {
                        self.error(&at(k), "`patternProperties` must be an object".into());
                        continue;
                    };
                    if pats.keys().any(|p| pattern_matches(p, "").is_none()) {
                        // A pattern this crate cannot evaluate: kept as written.
                        s.opaque.push(Opaque {
                            keyword: k.clone(),
                            value: canonical(val),
                            loc: at(k),
                        });
                        continue;
                    }
                    for p in pats.keys() {
                        let ps = self.node(&at(k).join(p));
                        s.pattern_props.push((p.clone(), ps));
                    }
                }
                "dependentSchemas" => {
                    if let Value::Object(d) = val {
                        self.dependent_schemas(&mut s, &at(k), d);
                    }
                }
                // A keyword the table folds, written in a form that is not (`items` as an
                // array, any other `not`): kept as written.
                _ => s.opaque.push(Opaque {
                    keyword: k.clone(),
                    value: canonical(val),
                    loc: at(k),
                }),
            }
        }
        if m.contains_key("if") {
            let mut cond = Map::new();
            for k in ["if", "then", "else"] {
                if let Some(v) = m.get(k) {
                    cond.insert(
                        k.to_owned(),
                        canonical(&self.inline_refs(&loc.join(k), v, 0)),
                    );
                }
            }
            s.opaque.push(Opaque {
                keyword: "if".into(),
                value: Value::Object(cond),
                loc: at("if"),
            });
        }
        if exclusive_bounds.0 {
            if let Some(b) = s.lower.as_mut() {
                b.exclusive = true;
            }
        }
        if exclusive_bounds.1 {
            if let Some(b) = s.upper.as_mut() {
                b.exclusive = true;
            }
        }
        // `minContains: 0` without `maxContains` accepts every array.
        if let Some(schema) = contains.filter(|_| min_contains > 0 || max_contains.is_some()) {
            s.contains.push(Contains {
                schema,
                min: min_contains,
                max: max_contains,
            });
        }
        let mut unevaluated_items_after_all_of = false;
        if let Some(u) = m.get("unevaluatedItems") {
            if dialect.applies("unevaluatedItems") {
                unevaluated_items_after_all_of =
                    self.unevaluated_items(&mut s, &m, &at("unevaluatedItems"), u);
            }
        }
        if let Some(o) = s.opaque.iter_mut().find(|o| o.keyword == "not") {
            o.value = canonical(&self.inline_refs(&loc.join("not"), &o.value.clone(), 0));
        }
        if let Some(bits) = excluded_type_bits {
            s.types = Some(s.types.unwrap_or(ALL) & !bits);
        }
        finalize(&mut s);
        let mut out = s;
        if let Some(r) = m.get("$ref") {
            match r.as_str() {
                Some(r) => match self.cat.resolve_ref(loc, r) {
                    Ok(target) => {
                        let t = self.node(&target);
                        out = merge(&out, &t);
                    }
                    Err(d) => self.error(loc, d.message),
                },
                None => self.error(&at("$ref"), "`$ref` must be a string".into()),
            }
        }
        if double_negation(m.get("not").unwrap_or(&Value::Null)) {
            // `not: {not: X}` is X.
            let inner = self.node(&at("not").join("not"));
            out = merge(&out, &inner);
        }
        if let Some(Value::Array(parts)) = m.get("allOf") {
            for i in 0..parts.len() {
                let part = self.node(&at("allOf").join(&i.to_string()));
                out = merge(&out, &part);
            }
        }
        // The items after every part's prefix, when no part writes a tail.
        if unevaluated_items_after_all_of && out.items.is_none() && !out.never {
            out.items = Some(Box::new(self.node(&at("unevaluatedItems"))));
            finalize(&mut out);
        }
        for kw in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = m.get(kw) {
                let list: Vec<Schema> = (0..branches.len())
                    .map(|i| self.node(&at(kw).join(&i.to_string())))
                    .collect();
                out = merge(&out, &combine(list, kw == "oneOf"));
            }
        }
        if let Some(u) = m
            .get("unevaluatedProperties")
            .filter(|_| dialect.applies("unevaluatedProperties"))
        {
            self.unevaluated_properties(&mut out, &at("unevaluatedProperties"), u);
        }
        out.loc = Some(loc.clone());
        if out.title.is_none() {
            out.title = m.get("title").and_then(Value::as_str).map(str::to_owned);
        }
        out
    }

    /// The dialect of `file`, from its root `$schema`.
    pub fn dialect(&self, file: &str) -> Dialect {
        self.cat
            .files
            .get(file)
            .map_or(Dialect::Draft202012, |f| Dialect::of(&f.value))
    }

    /// `dependentSchemas`, or the schema entries of a draft-07 `dependencies`, at
    /// `container`: each entry is read as a schema (`container/key`), so both spellings are
    /// decided by the same comparison; an entry that is only `required` is `dependentRequired`.
    fn dependent_schemas(&mut self, s: &mut Schema, container: &Loc, entries: &Map<String, Value>) {
        for key in entries.keys() {
            let ds = self.node(&container.join(key));
            match required_only(&ds) {
                // `{required: [...]}` is `dependentRequired`.
                Some(req) => s.dependent.entry(key.clone()).or_default().extend(req),
                None => {
                    s.dependent_schemas.insert(key.clone(), ds);
                }
            }
        }
    }

    /// `unevaluatedItems`: the items no keyword beside it evaluated. Where nothing composes
    /// (no `allOf`/`anyOf`/`oneOf`/`not`/`if`/`$ref`/dynamic reference beside it, and no
    /// `contains`, which marks the items it matches as evaluated in 2020-12) those are the
    /// items after the prefix: it is read as their schema, or dropped when an `items` tail
    /// already evaluates them all. Anywhere else it is kept opaque: which items it covers
    /// depends on every composed branch's annotations, which compat does not model. The one
    /// composition it reads is an `allOf` of parts that compose nothing themselves: what they
    /// evaluate is the longest prefix, or every item when one writes a tail, so it is the
    /// schema of the items after the merged prefix; `true` is returned to have it set after
    /// the `allOf` merge.
    fn unevaluated_items(
        &mut self,
        s: &mut Schema,
        m: &Map<String, Value>,
        loc: &Loc,
        u: &Value,
    ) -> bool {
        const COMPOSING: [&str; 9] = [
            "allOf",
            "anyOf",
            "oneOf",
            "not",
            "if",
            "$ref",
            "$dynamicRef",
            "$recursiveRef",
            "contains",
        ];
        let composes = |x: &Map<String, Value>| {
            COMPOSING.iter().any(|k| x.contains_key(*k)) || x.contains_key("unevaluatedItems")
        };
        let simple_all_of = match m.get("allOf") {
            Some(Value::Array(parts)) => parts.iter().all(|p| match p {
                Value::Object(part) => !composes(part),
                Value::Bool(_) => true,
                _ => false,
            }),
            _ => false,
        };
        let mut beside = m.clone();
        beside.remove("allOf");
        beside.remove("unevaluatedItems");
        if simple_all_of && !composes(&beside) {
            // Whether a tail is written is known once the parts are merged in.
            return true;
        }
        if COMPOSING.iter().any(|k| m.contains_key(*k)) {
            s.opaque.push(Opaque {
                keyword: "unevaluatedItems".into(),
                value: canonical(u),
                loc: loc.clone(),
            });
            return false;
        }
        let tail_written = match m.get("items") {
            Some(Value::Array(_)) => m.contains_key("additionalItems"),
            Some(_) => true,
            None => false,
        };
        if !tail_written {
            s.items = Some(Box::new(self.node(loc)));
        }
        false
    }

    /// `unevaluatedProperties` once `$ref` and `allOf` are merged in: every property those
    /// declare or match is evaluated, so what is left is what `additionalProperties` of the
    /// merged schema would see. Where evaluation depends on which branch or condition holds
    /// (`anyOf`, `oneOf`, `if`, `dependentSchemas`) it stays opaque.
    fn unevaluated_properties(&mut self, out: &mut Schema, at: &Loc, value: &Value) {
        let depends = !out.one_of.is_empty()
            || !out.any_of.is_empty()
            || !out.dependent_schemas.is_empty()
            || out.opaque.iter().any(|o| o.keyword == "if");
        if depends {
            // What it refuses depends on every property declared beside it, in any branch:
            // kept with their names, so adding or removing one is a change to it too.
            let mut evaluated: BTreeSet<String> = BTreeSet::new();
            let mut patterns: BTreeSet<String> = BTreeSet::new();
            let mut collect = |x: &Schema| {
                evaluated.extend(x.props.iter().map(|(n, _)| n.clone()));
                patterns.extend(x.pattern_props.iter().map(|(p, _)| p.clone()));
            };
            collect(out);
            for b in out.one_of.iter().chain(&out.any_of).flatten() {
                collect(b);
            }
            for x in out.dependent_schemas.values() {
                collect(x);
            }
            out.opaque.push(Opaque {
                keyword: "unevaluatedProperties".into(),
                value: serde_json::json!({
                    "unevaluatedProperties": canonical(value),
                    "beside": {"properties": evaluated, "patternProperties": patterns},
                }),
                loc: at.clone(),
            });
            return;
        }
        out.kw_locs
            .insert("unevaluatedProperties".into(), at.clone());
        if out.additional.is_some() || out.keep_unknown {
            // `additionalProperties` evaluates every other property already.
            return;
        }
        match value {
            Value::Bool(true) => out.keep_unknown = true,
            _ => {
                out.additional = Some(Box::new(self.node(at)));
                out.kw_locs
                    .insert("additionalProperties".into(), at.clone());
            }
        }
        finalize(out);
    }

    /// A subschema with its `$ref`s replaced by their targets, for comparing opaque keywords
    /// whose referenced files may have moved.
    fn inline_refs(&mut self, loc: &Loc, v: &Value, depth: usize) -> Value {
        if depth > 16 {
            return v.clone();
        }
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    if let Ok(target) = self.cat.resolve_ref(loc, r) {
                        if let Some(tv) = self.cat.value(&target).cloned() {
                            let mut merged = self.inline_refs(&target, &tv, depth + 1);
                            if let Value::Object(mm) = &mut merged {
                                for (k, x) in m {
                                    if k != "$ref" {
                                        let inner = self.inline_refs(&loc.join(k), x, depth + 1);
                                        mm.insert(k.clone(), inner);
                                    }
                                }
                            }
                            return merged;
                        }
                    }
                }
                let mut out = Map::new();
                for (k, x) in m {
                    out.insert(k.clone(), self.inline_refs(&loc.join(k), x, depth + 1));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| self.inline_refs(&loc.join(&i.to_string()), x, depth + 1))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// The kind of values a folded branch holds.
fn kind_of(s: &Schema) -> Option<Types> {
    let t = s.type_set();
    [NULL, BOOL, OBJ, ARR, STR, INT | NUM, INT]
        .into_iter()
        .find(|&k| t == k)
}

/// `anyOf`/`oneOf` branches: one schema when the branches are of disjoint types (a `type`
/// array in other words) or plain value lists; otherwise kept as a union.
fn combine(list: Vec<Schema>, one_of: bool) -> Schema {
    let live: Vec<Schema> = list.iter().filter(|b| !b.never).cloned().collect();
    let mut out = Schema::any();
    if live.is_empty() {
        return Schema::never();
    }
    if live.len() == 1 && (one_of || list.len() == 1) {
        let mut s = live[0].clone();
        s.loc = None;
        s.title = None;
        return s;
    }
    // Plain value lists: `oneOf` of consts is an enum (oneOf needs the values distinct).
    let simple = |b: &Schema| b.one_of.is_empty() && b.any_of.is_empty() && b.opaque.is_empty();
    if live
        .iter()
        .all(|b| simple(b) && b.enumeration.is_some() && is_pure_enum(b))
    {
        let mut values: Vec<Value> = Vec::new();
        for b in &live {
            for v in b.enumeration.iter().flatten() {
                if !values.iter().any(|w| json_eq(v, w)) {
                    values.push(v.clone());
                }
            }
        }
        out.enumeration = Some(values);
        finalize(&mut out);
        return out;
    }
    // Disjoint types: each branch's type-specific constraints apply to its own type only.
    let kinds: Vec<Option<Types>> = live.iter().map(kind_of).collect();
    let disjoint = kinds.iter().all(Option::is_some)
        && live.iter().all(|b| simple(b) && b.enumeration.is_none())
        && {
            let mut seen: Types = 0;
            kinds.iter().flatten().all(|k| {
                let ok = seen & k == 0;
                seen |= k;
                ok
            })
        };
    if disjoint {
        let mut t: Types = 0;
        for (b, k) in live.iter().zip(kinds.iter().flatten()) {
            t |= k;
            match *k {
                OBJ => {
                    out.props = b.props.clone();
                    out.required = b.required.clone();
                    out.additional = b.additional.clone();
                    out.keep_unknown = b.keep_unknown;
                    out.dependent = b.dependent.clone();
                    out.title = b.title.clone();
                }
                ARR => {
                    out.items = b.items.clone();
                    out.prefix = b.prefix.clone();
                    out.contains = b.contains.clone();
                    out.min_items = b.min_items;
                    out.max_items = b.max_items;
                    out.unique = b.unique;
                }
                STR => {
                    out.min_length = b.min_length;
                    out.max_length = b.max_length;
                    out.patterns = b.patterns.clone();
                    out.format = b.format.clone();
                }
                k if k & INT != 0 => {
                    out.lower = b.lower;
                    out.upper = b.upper;
                    out.multiple_of = b.multiple_of;
                }
                _ => {}
            }
            if let Some(x) = &b.excluded {
                out.excluded
                    .get_or_insert_with(Vec::new)
                    .extend(x.iter().cloned());
            }
            for (kw, l) in &b.kw_locs {
                out.kw_locs.entry(kw.clone()).or_insert_with(|| l.clone());
            }
        }
        out.types = Some(t);
        finalize(&mut out);
        return out;
    }
    if one_of {
        out.one_of.push(list);
    } else {
        out.any_of.push(list);
    }
    out
}

fn is_pure_enum(b: &Schema) -> bool {
    let mut s = b.clone();
    s.loc = None;
    s.title = None;
    s.kw_locs.clear();
    s.types = None;
    s.enumeration = None;
    s == Schema::default()
}

// ---------------------------------------------------------------------------------------
// A small evaluator over the canonical form, used to pick witnesses before the real
// validators confirm them. `None` means it cannot tell.

fn regex_cache() -> &'static Mutex<HashMap<String, Option<regex::Regex>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<regex::Regex>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Whether the ECMA pattern matches `s` (`None` when it cannot be compiled here).
pub fn pattern_matches(pattern: &str, s: &str) -> Option<bool> {
    let mut cache = regex_cache().lock().ok()?;
    let re = cache.entry(pattern.to_owned()).or_insert_with(|| {
        jsonschema_regex::to_rust_regex(pattern)
            .ok()
            .and_then(|p| regex::Regex::new(&p).ok())
    });
    re.as_ref().map(|r| r.is_match(s))
}

pub fn format_ok(format: &str, s: &str) -> Option<bool> {
    match format {
        "uuid" => {
            let b = s.as_bytes();
            Some(
                b.len() == 36
                    && b.iter().enumerate().all(|(i, c)| match i {
                        8 | 13 | 18 | 23 => *c == b'-',
                        _ => c.is_ascii_hexdigit(),
                    }),
            )
        }
        "date-time" => pattern_matches(
            r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$",
            s,
        ),
        _ => None,
    }
}

fn and(a: Option<bool>, b: impl FnOnce() -> Option<bool>) -> Option<bool> {
    match a {
        Some(false) => Some(false),
        Some(true) => b(),
        None => match b() {
            Some(false) => Some(false),
            _ => None,
        },
    }
}

/// Whether `s` accepts `v`.
pub fn eval(s: &Schema, v: &Value) -> Option<bool> {
    if s.never {
        return Some(false);
    }
    let t = types_of(v);
    if s.types.is_some_and(|ty| ty & t == 0) {
        return Some(false);
    }
    if let Some(e) = &s.enumeration {
        if !e.iter().any(|x| json_eq(x, v)) {
            return Some(false);
        }
    }
    if let Some(x) = &s.excluded {
        if x.iter().any(|w| json_eq(w, v)) {
            return Some(false);
        }
    }
    let mut ok = Some(true);
    match v {
        Value::String(x) => {
            let n = x.chars().count() as u64;
            if s.min_length.is_some_and(|m| n < m) || s.max_length.is_some_and(|m| n > m) {
                return Some(false);
            }
            for p in &s.patterns {
                ok = and(ok, || pattern_matches(p, x));
            }
            if let Some(f) = &s.format {
                ok = and(ok, || format_ok(f, x));
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if let Some(b) = s.lower {
                if x < b.value || (b.exclusive && x == b.value) {
                    return Some(false);
                }
            }
            if let Some(b) = s.upper {
                if x > b.value || (b.exclusive && x == b.value) {
                    return Some(false);
                }
            }
            if let Some(m) = s.multiple_of {
                if !is_multiple(x, m) {
                    return Some(false);
                }
            }
        }
        Value::Array(a) => {
            let n = a.len() as u64;
            if s.min_items.is_some_and(|m| n < m) || s.max_items.is_some_and(|m| n > m) {
                return Some(false);
            }
            if s.unique {
                for i in 0..a.len() {
                    for j in 0..i {
                        if json_eq(&a[i], &a[j]) {
                            return Some(false);
                        }
                    }
                }
            }
            if s.items.is_some() || !s.prefix.is_empty() {
                for (i, x) in a.iter().enumerate() {
                    ok = and(ok, || eval(&s.item_schema(i), x));
                }
            }
            for c in &s.contains {
                let mut count = 0u64;
                let mut unsure = false;
                for x in a {
                    match eval(&c.schema, x) {
                        Some(true) => count += 1,
                        Some(false) => {}
                        None => unsure = true,
                    }
                }
                let fits = count >= c.min && c.max.is_none_or(|m| count <= m);
                ok = and(ok, || if unsure { None } else { Some(fits) });
            }
        }
        Value::Object(o) => {
            for r in &s.required {
                if !o.contains_key(r) {
                    return Some(false);
                }
            }
            for (k, deps) in &s.dependent {
                if o.contains_key(k) && deps.iter().any(|d| !o.contains_key(d)) {
                    return Some(false);
                }
            }
            let n = o.len() as u64;
            if s.min_props.is_some_and(|m| n < m) || s.max_props.is_some_and(|m| n > m) {
                return Some(false);
            }
            for (k, x) in o {
                let patterned = s
                    .pattern_props
                    .iter()
                    .any(|(p, _)| pattern_matches(p, k) != Some(false));
                match s.prop(k) {
                    Some(p) if !patterned => ok = and(ok, || eval(&p.schema, x)),
                    _ if patterned => ok = and(ok, || eval(&s.prop_schema(k), x)),
                    _ => {
                        if let Some(a) = &s.additional {
                            ok = and(ok, || eval(a, x));
                        }
                    }
                }
            }
            for (k, ds) in &s.dependent_schemas {
                if o.contains_key(k) {
                    ok = and(ok, || eval(ds, v));
                }
            }
        }
        _ => {}
    }
    for list in &s.one_of {
        let mut count = 0;
        let mut unsure = false;
        for b in list {
            match eval(b, v) {
                Some(true) => count += 1,
                Some(false) => {}
                None => unsure = true,
            }
        }
        ok = and(ok, || match (count, unsure) {
            (c, _) if c > 1 => Some(false),
            (1, false) => Some(true),
            (0, false) => Some(false),
            _ => None,
        });
    }
    for list in &s.any_of {
        let mut any = Some(false);
        for b in list {
            match eval(b, v) {
                Some(true) => {
                    any = Some(true);
                    break;
                }
                None => any = None,
                Some(false) => {}
            }
        }
        ok = and(ok, || any);
    }
    for x in &s.negated {
        ok = and(ok, || eval(x, v).map(|b| !b));
    }
    // A `not` is understood through `negated`; any other opaque keyword is not.
    let unevaluated = s
        .opaque
        .iter()
        .any(|o| o.keyword != "not" || s.negated.is_empty());
    if unevaluated && ok == Some(true) {
        ok = None;
    }
    ok
}
