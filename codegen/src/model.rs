//! Schemas to a typed model: the check step. Every schema node becomes a [`Ty`]; objects,
//! enums and tagged unions become named [`TypeDef`]s, one per schema location, so a shared
//! definition referenced from many files is one Rust type. Problems are collected, never
//! panicked on.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::{Index, IndexMut};

use heck::ToUpperCamelCase;
use serde_json::{Map, Value};

use crate::catalog::{Catalog, Loc};
use crate::diag::{Code, Diagnostics};
use crate::keywords::{self, is_codegen_annotation as is_annotation};
use crate::naming::{is_type_name, type_name};

/// Numeric constraints, kept as written; emitted as comparisons.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NumChecks {
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub exclusive_minimum: Option<f64>,
    pub exclusive_maximum: Option<f64>,
    pub multiple_of: Option<f64>,
}

impl NumChecks {
    pub fn is_empty(&self) -> bool {
        *self == NumChecks::default()
    }

    fn merge(&mut self, o: &NumChecks) {
        fn pick(a: &mut Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64) {
            *a = match (*a, b) {
                (Some(x), Some(y)) => Some(f(x, y)),
                (x, y) => x.or(y),
            };
        }
        pick(&mut self.minimum, o.minimum, f64::max);
        pick(&mut self.exclusive_minimum, o.exclusive_minimum, f64::max);
        pick(&mut self.maximum, o.maximum, f64::min);
        pick(&mut self.exclusive_maximum, o.exclusive_maximum, f64::min);
        if o.multiple_of.is_some() {
            self.multiple_of = o.multiple_of;
        }
    }
}

/// String constraints; patterns are already in the `regex` crate's dialect.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StrChecks {
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub patterns: Vec<String>,
}

impl StrChecks {
    pub fn is_empty(&self) -> bool {
        *self == StrChecks::default()
    }

    fn merge(&mut self, o: &StrChecks) {
        self.min_length = self.min_length.max(o.min_length);
        self.max_length = match (self.max_length, o.max_length) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for p in &o.patterns {
            if !self.patterns.contains(p) {
                self.patterns.push(p.clone());
            }
        }
    }

    /// A test of whether a literal satisfies these checks (used on enum values merged with a
    /// string); the patterns are compiled once, not per value.
    fn acceptor(&self) -> impl Fn(&str) -> bool + '_ {
        let patterns: Vec<Option<regex::Regex>> = self
            .patterns
            .iter()
            .map(|p| regex::Regex::new(p).ok())
            .collect();
        move |s: &str| {
            let n = s.chars().count() as u64;
            self.min_length.is_none_or(|m| n >= m)
                && self.max_length.is_none_or(|m| n <= m)
                && patterns
                    .iter()
                    .all(|r| r.as_ref().is_some_and(|r| r.is_match(s)))
        }
    }
}

/// A type of a system's [`TypeGraph`]: the graph indexes by it, and no other number does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypeId(usize);

impl TypeId {
    /// The type's position in [`TypeGraph::types`], for tables kept beside the graph.
    pub fn index(self) -> usize {
        self.0
    }
}

/// The Rust shape of one schema node.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    /// Any JSON value: `serde_json::Value`.
    Any,
    /// Any JSON object: `serde_json::Map<String, Value>`.
    AnyObject,
    Bool,
    Int {
        unsigned: bool,
        checks: NumChecks,
    },
    Num {
        checks: NumChecks,
    },
    Str {
        checks: StrChecks,
    },
    DateTime {
        checks: StrChecks,
    },
    Uuid {
        checks: StrChecks,
    },
    Named(TypeId),
    Array {
        item: Box<Ty>,
        min_items: Option<u64>,
        max_items: Option<u64>,
        unique: bool,
    },
    Map {
        value: Box<Ty>,
    },
    Nullable(Box<Ty>),
}

impl Ty {
    fn rank(&self) -> u8 {
        match self {
            Ty::Any => 0,
            Ty::AnyObject => 1,
            Ty::Nullable(t) => t.rank(),
            Ty::Named(_) => 3,
            _ => 2,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Field {
    /// Name on the wire.
    pub wire: String,
    pub ty: Ty,
    pub required: bool,
    pub doc: String,
    pub deprecated: bool,
    /// `x-renamed-from`: the property's earlier wire name, accepted as a serde alias.
    pub renamed_from: Option<String>,
    /// The field holds a type that holds this struct again with no `Vec` or map in between:
    /// it is boxed, or the struct would have infinite size.
    pub boxed: bool,
    /// The schema's `default` annotation (publishing fills a required envelope property that
    /// plays no role with it).
    pub default: Option<Value>,
}

/// Presence constraints the validator-only keywords impose on optional fields (by field index).
#[derive(Clone, Debug)]
pub enum Presence {
    /// `anyOf` of `required` sets: at least one set fully present.
    AnyOf(Vec<Vec<usize>>),
    /// `oneOf` of `required` sets: exactly one set fully present.
    OneOf(Vec<Vec<usize>>),
    /// `dependentRequired`: when the first is present, all of the rest are.
    Dependent(usize, Vec<usize>),
    /// `if: {properties: {f: {const: v}}, required?: [f]}` with `then`/`else` of only
    /// `required`: the field's string or boolean value decides which set must be present.
    When {
        field: usize,
        value: Value,
        if_requires_field: bool,
        then: Vec<usize>,
        otherwise: Vec<usize>,
    },
}

#[derive(Clone, Debug)]
pub enum TypeKind {
    Struct {
        fields: Vec<Field>,
        closed: bool,
        presence: Vec<Presence>,
        /// Wire name of the field that becomes the generic payload `D` (envelopes only).
        payload: Option<String>,
        /// `additionalProperties: true` written out: undeclared properties are kept.
        additional: bool,
    },
    /// A non-object root (an array event, a nullable array) wrapped so it can be an event.
    Newtype(Ty),
    StrEnum {
        values: Vec<String>,
    },
    Tagged {
        tag: String,
        variants: Vec<(String, TypeId)>,
        /// The branch that takes every unlisted tag value (its tag is `not` the listed ones).
        fallback: Option<TypeId>,
    },
}

#[derive(Clone, Debug)]
pub struct TypeDef {
    pub name: String,
    pub doc: String,
    pub loc: Loc,
    pub kind: TypeKind,
    /// Uses keywords only the schema validator enforces.
    pub needs_schema: bool,
}

/// All types of one system.
#[derive(Debug, Default)]
pub struct TypeGraph {
    pub types: Vec<TypeDef>,
}

impl Index<TypeId> for TypeGraph {
    type Output = TypeDef;

    fn index(&self, id: TypeId) -> &TypeDef {
        &self.types[id.0]
    }
}

impl IndexMut<TypeId> for TypeGraph {
    fn index_mut(&mut self, id: TypeId) -> &mut TypeDef {
        &mut self.types[id.0]
    }
}

impl TypeGraph {
    /// The type `id`, if this graph has it (an id from another system's graph may not).
    pub fn get(&self, id: TypeId) -> Option<&TypeDef> {
        self.types.get(id.0)
    }

    /// Every type with its id, in definition order.
    pub fn iter(&self) -> impl Iterator<Item = (TypeId, &TypeDef)> {
        self.types
            .iter()
            .enumerate()
            .map(|(i, def)| (TypeId(i), def))
    }

    fn push(&mut self, def: TypeDef) -> TypeId {
        self.types.push(def);
        TypeId(self.types.len() - 1)
    }

    /// The properties every instance of type `id` must have (for a union: every branch).
    pub fn required_properties(&self, id: TypeId) -> BTreeSet<String> {
        match &self[id].kind {
            TypeKind::Struct { fields, .. } => fields
                .iter()
                .filter(|f| f.required)
                .map(|f| f.wire.clone())
                .collect(),
            TypeKind::Tagged {
                tag,
                variants,
                fallback,
            } => {
                let mut branches = variants
                    .iter()
                    .map(|(_, v)| *v)
                    .chain(*fallback)
                    .map(|v| self.required_properties(v));
                let first = branches.next().unwrap_or_default();
                let mut common: BTreeSet<String> =
                    branches.fold(first, |acc, b| acc.intersection(&b).cloned().collect());
                common.insert(tag.clone());
                common
            }
            TypeKind::Newtype(_) | TypeKind::StrEnum { .. } => BTreeSet::new(),
        }
    }

    /// Boxes every struct field through which the struct contains itself by value (directly,
    /// through an `Option` or through other structs and unions), so every type has a finite
    /// size. Recursion through a `Vec` or a map needs no box.
    pub fn box_recursive_fields(&mut self) {
        let edges: Vec<Vec<usize>> = (0..self.types.len())
            .map(|i| self.by_value_edges(TypeId(i)))
            .collect();
        let (component, _) = components(&edges);
        for (id, def) in self.types.iter_mut().enumerate() {
            if let TypeKind::Struct { fields, .. } = &mut def.kind {
                for f in fields {
                    if by_value(&f.ty).is_some_and(|t| component[t.0] == component[id]) {
                        f.boxed = true;
                    }
                }
            }
        }
    }

    /// The types each type holds by value (not behind a `Vec` or a map).
    fn by_value_edges(&self, id: TypeId) -> Vec<usize> {
        match &self[id].kind {
            TypeKind::Struct { fields, .. } => fields
                .iter()
                .filter_map(|f| by_value(&f.ty))
                .map(TypeId::index)
                .collect(),
            TypeKind::Newtype(t) => by_value(t).map(TypeId::index).into_iter().collect(),
            TypeKind::Tagged {
                variants, fallback, ..
            } => variants
                .iter()
                .map(|(_, v)| *v)
                .chain(*fallback)
                .map(TypeId::index)
                .collect(),
            TypeKind::StrEnum { .. } => Vec::new(),
        }
    }

    /// The types each type mentions anywhere in its fields, items, values or variants.
    fn contained_edges(&self, id: TypeId) -> Vec<usize> {
        fn named(ty: &Ty, out: &mut Vec<usize>) {
            match ty {
                Ty::Named(id) => out.push(id.0),
                Ty::Array { item, .. } => named(item, out),
                Ty::Map { value } => named(value, out),
                Ty::Nullable(inner) => named(inner, out),
                _ => {}
            }
        }
        let mut out = Vec::new();
        match &self[id].kind {
            TypeKind::Struct { fields, .. } => fields.iter().for_each(|f| named(&f.ty, &mut out)),
            TypeKind::Newtype(t) => named(t, &mut out),
            TypeKind::Tagged {
                variants, fallback, ..
            } => out.extend(
                variants
                    .iter()
                    .map(|(_, v)| *v)
                    .chain(*fallback)
                    .map(TypeId::index),
            ),
            TypeKind::StrEnum { .. } => {}
        }
        out
    }

    /// How many types deep the longest chain of types inside types goes (a recursive group
    /// counts once per member): what rustc's trait solver walks to prove `Send` or drop order.
    pub fn nesting_depth(&self) -> usize {
        let edges: Vec<Vec<usize>> = (0..self.types.len())
            .map(|i| self.contained_edges(TypeId(i)))
            .collect();
        let (component, count) = components(&edges);
        let mut size = vec![0; count];
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); count];
        for (id, &c) in component.iter().enumerate() {
            size[c] += 1;
            members[c].push(id);
        }
        // Tarjan numbers a component after every component it reaches: lower numbers first.
        let mut depth = vec![0; count];
        for c in 0..count {
            let below = members[c]
                .iter()
                .flat_map(|&id| &edges[id])
                .map(|&t| component[t])
                .filter(|&d| d != c)
                .map(|d| depth[d])
                .max()
                .unwrap_or(0);
            depth[c] = size[c] + below;
        }
        depth.into_iter().max().unwrap_or(0)
    }

    /// Whether `ty` (or anything it contains) needs the schema validator.
    /// Whether `ty` (or anything it contains) needs the schema validator.
    pub fn needs_schema(&self, ty: &Ty) -> bool {
        let mut seen = BTreeSet::new();
        self.needs_schema_inner(ty, &mut seen)
    }

    fn needs_schema_inner(&self, ty: &Ty, seen: &mut BTreeSet<TypeId>) -> bool {
        match ty {
            Ty::Named(id) => {
                if !seen.insert(*id) {
                    return false;
                }
                let def = &self[*id];
                def.needs_schema
                    || match &def.kind {
                        TypeKind::Struct { fields, .. } => {
                            fields.iter().any(|f| self.needs_schema_inner(&f.ty, seen))
                        }
                        TypeKind::Newtype(t) => self.needs_schema_inner(t, seen),
                        TypeKind::StrEnum { .. } => false,
                        TypeKind::Tagged {
                            variants, fallback, ..
                        } => variants
                            .iter()
                            .map(|(_, v)| v)
                            .chain(fallback)
                            .any(|v| self.needs_schema_inner(&Ty::Named(*v), seen)),
                    }
            }
            Ty::Array { item, .. } => self.needs_schema_inner(item, seen),
            Ty::Map { value } => self.needs_schema_inner(value, seen),
            Ty::Nullable(t) => self.needs_schema_inner(t, seen),
            _ => false,
        }
    }
}

struct Conditional {
    field: String,
    value: Value,
    if_requires_field: bool,
    then: Vec<String>,
    otherwise: Vec<String>,
}

/// Reads the one `if`/`then`/`else` shape generated code can check: a string or boolean
/// `const` on one property deciding which properties are required.
fn conditional(m: &Map<String, Value>) -> Option<Conditional> {
    if m.contains_key("not") {
        return None;
    }
    let cond_schema = m.get("if")?;
    let cond = cond_schema.as_object()?;
    if cond
        .keys()
        .any(|k| k != "properties" && k != "required" && !is_annotation(k))
    {
        return None;
    }
    let props = cond.get("properties")?.as_object()?;
    let [(field, schema)] = props.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    let schema = schema.as_object()?;
    if schema.keys().any(|k| k != "const" && !is_annotation(k)) {
        return None;
    }
    let value = schema
        .get("const")
        .filter(|v| v.is_string() || v.is_boolean())?
        .clone();
    let if_required = required_of(cond_schema);
    if if_required.iter().any(|r| r != field) {
        return None;
    }
    let branch = |k: &str| -> Option<Vec<String>> {
        match m.get(k) {
            None => Some(vec![]),
            Some(branch @ Value::Object(b))
                if b.keys().all(|k| k == "required" || is_annotation(k)) =>
            {
                Some(required_of(branch))
            }
            Some(_) => None,
        }
    };
    Some(Conditional {
        field: field.clone(),
        value,
        if_requires_field: !if_required.is_empty(),
        then: branch("then")?,
        otherwise: branch("else")?,
    })
}

#[derive(Default)]
struct ObjSpec {
    props: Vec<(String, Vec<Loc>)>,
    /// Index of each property in `props`: objects may declare tens of thousands.
    prop_index: HashMap<String, usize>,
    required: Vec<String>,
    required_set: HashSet<String>,
    closed: Option<Loc>,
    additional: Option<Loc>,
    keep_unknown: bool,
    any_of: Vec<Vec<String>>,
    one_of: Vec<Vec<String>>,
    dependent: Vec<(String, Vec<String>)>,
    conditionals: Vec<Conditional>,
    needs_schema: bool,
    title: Option<(String, Loc)>,
    doc: Option<String>,
}

/// How deep schemas may nest (types within types, `$ref` hops included) before the generator
/// refuses them rather than exhausting its stack.
pub const MAX_NESTING: usize = 1000;

/// Where a type's name comes from.
#[derive(Clone, Debug)]
enum Naming {
    /// The author's `title` (written at this location): a clash is the author's to resolve.
    Titled(Loc),
    /// Made up by the generator from the parent's name and a property or tag value: a clash
    /// gets a number.
    Derived,
}

/// What else a name in the system module may stand for.
#[derive(Clone, Copy, Debug)]
enum Taken {
    Type(TypeId),
    /// An item the generator emits itself (`what` says which).
    Reserved(&'static str),
}

/// What the schema being built is part of, which changes how it is built. Passed down every
/// call that builds a type (never kept in the builder), so it holds for that call's schemas
/// and no others.
#[derive(Clone, Copy, Default)]
struct Ctx<'a> {
    /// Building an envelope: the object at this location takes this property as its generic
    /// payload.
    envelope: Option<(&'a Loc, &'a str)>,
    /// The one `not` the generated code enforces itself: a fallback branch's tag.
    exempt: Option<&'a Loc>,
    /// How many types (and `$ref`s) deep this schema is.
    nesting: usize,
    /// Consecutive `$ref` targets followed from one schema that holds only a `$ref`, last
    /// first: they all describe the same value, so meeting one again is a cycle with no type
    /// in between.
    ref_chain: Option<&'a RefLink<'a>>,
}

/// One `$ref` target of a [`Ctx::ref_chain`] and the targets followed before it.
struct RefLink<'a> {
    target: &'a Loc,
    before: Option<&'a RefLink<'a>>,
}

impl Ctx<'_> {
    fn ref_chain_has(&self, loc: &Loc) -> bool {
        let mut link = self.ref_chain;
        while let Some(l) = link {
            if l.target == loc {
                return true;
            }
            link = l.before;
        }
        false
    }
}

/// Builds the type graph of one system.
pub struct Builder<'c> {
    cat: &'c Catalog,
    pub diags: Diagnostics,
    pub graph: TypeGraph,
    memo: HashMap<(Loc, Option<String>), TypeId>,
    names: HashMap<String, Taken>,
    /// Schemas whose type is being built, with the name first asked for them and how many
    /// times each is being built (a struct holding itself is built again inside).
    active: HashMap<Loc, (String, usize)>,
    /// Newtypes named for schemas that contain themselves with no struct, enum or union in
    /// between (an array of itself), by the schema's location.
    placeholders: HashMap<Loc, TypeId>,
    /// `$ref`/`allOf` parts being gathered into one object, outermost first.
    gathering: Vec<Loc>,
    too_deep: bool,
    /// The next number to try for each made-up name that clashed.
    next_suffix: HashMap<String, usize>,
    /// Validator-only keywords met on non-object schemas so far; a struct whose fields raise
    /// this count needs the schema validator.
    validator_only_hits: usize,
}

impl<'c> Builder<'c> {
    pub fn new(cat: &'c Catalog) -> Self {
        let mut b = Self {
            cat,
            diags: Diagnostics::default(),
            graph: TypeGraph::default(),
            memo: HashMap::new(),
            names: HashMap::new(),
            active: HashMap::new(),
            placeholders: HashMap::new(),
            gathering: Vec::new(),
            too_deep: false,
            next_suffix: HashMap::new(),
            validator_only_hits: 0,
        };
        b.reserve("Self", "the `Self` keyword");
        b
    }

    /// Keeps `name` for an item the generator emits beside the types (`what` names it in a
    /// diagnostic): a type titled so is refused, a made-up one gets a number.
    pub fn reserve(&mut self, name: &str, what: &'static str) {
        self.names
            .entry(name.to_owned())
            .or_insert(Taken::Reserved(what));
    }

    fn err(&mut self, code: Code, loc: &Loc, message: impl Into<String>, hint: impl Into<String>) {
        let d = self.cat.diag(code, loc, message, hint);
        self.diags.push(d);
    }

    /// The schema object at `loc`, borrowed from the catalog (not from the builder, so the
    /// builder stays free to change while it reads).
    fn obj(&self, loc: &Loc) -> Option<&'c Map<String, Value>> {
        let cat: &'c Catalog = self.cat;
        cat.value(loc).and_then(Value::as_object)
    }

    /// The event's own type: a named type defined at `loc`, wrapping non-object roots.
    pub fn root(&mut self, loc: &Loc, name: &str) -> TypeId {
        self.root_in(loc, name, Ctx::default())
    }

    fn root_in(&mut self, loc: &Loc, name: &str, cx: Ctx<'_>) -> TypeId {
        let ty = self.ty_in(loc, name, cx);
        match &ty {
            Ty::Named(id) if self.graph[*id].loc == *loc => return *id,
            // The event's schema is a `$ref` to an untitled type, which was named after the
            // event: the event's newtype keeps the name.
            Ty::Named(id)
                if self.graph[*id].name == name
                    && matches!(self.naming_of(&self.graph[*id].loc, name), Naming::Derived) =>
            {
                self.rename(*id, &format!("{name}Inner"));
            }
            // A nullable object: the event is the `Option`, so the struct takes another name.
            Ty::Nullable(inner) => {
                if let Ty::Named(id) = **inner {
                    if self.graph[id].loc == *loc && self.graph[id].name == name {
                        self.rename(id, &format!("{name}Object"));
                    }
                }
            }
            _ => {}
        }
        let doc = self.doc_of(loc);
        let naming = match self.title_at(loc) {
            Some((title, at)) if title == name => Naming::Titled(at),
            _ => Naming::Derived,
        };
        self.define(
            loc,
            name.to_owned(),
            naming,
            doc,
            TypeKind::Newtype(ty),
            false,
        )
    }

    /// How a type at `loc` asked to be called `name` is named: by its title, or made up.
    fn naming_of(&self, loc: &Loc, name: &str) -> Naming {
        match self.title_at(loc) {
            Some((title, at)) if title == name => Naming::Titled(at),
            _ => Naming::Derived,
        }
    }

    /// The `title` written at `loc`, with its location.
    fn title_at(&self, loc: &Loc) -> Option<(String, Loc)> {
        let title = self.cat.value(loc)?.get("title")?.as_str()?;
        Some((title.to_owned(), loc.join("title")))
    }

    /// Gives type `id` a made-up name instead of its own.
    fn rename(&mut self, id: TypeId, name: &str) {
        let old = std::mem::take(&mut self.graph[id].name);
        if matches!(self.names.get(&old), Some(Taken::Type(t)) if *t == id) {
            self.names.remove(&old);
            self.names.remove(&format!("{old}Shadow"));
        }
        let loc = self.graph[id].loc.clone();
        let kind_has_shadow = has_shadow(&self.graph[id].kind);
        self.graph[id].name = self.claim_name(id, name, &Naming::Derived, &loc, kind_has_shadow);
    }

    /// The envelope: a struct whose `payload_field` becomes the generic payload.
    pub fn envelope(&mut self, loc: &Loc, name: &str, payload_field: &str) -> TypeId {
        let cx = Ctx {
            envelope: Some((loc, payload_field)),
            ..Ctx::default()
        };
        let id = self.root_in(loc, name, cx);
        let has_payload = matches!(&self.graph[id].kind, TypeKind::Struct { fields, .. } if fields.iter().any(|f| f.wire == payload_field));
        if !has_payload {
            self.err(
                Code::EnvelopeField,
                loc,
                format!(
                    "the envelope has no property `{payload_field}` (the manifest's payload_field)"
                ),
                "declare the payload property in the envelope schema",
            );
        }
        id
    }

    fn doc_of(&self, loc: &Loc) -> String {
        let Some(m) = self.obj(loc) else {
            return String::new();
        };
        m.get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    fn define(
        &mut self,
        loc: &Loc,
        name: String,
        naming: Naming,
        doc: String,
        kind: TypeKind,
        needs_schema: bool,
    ) -> TypeId {
        let shadow = has_shadow(&kind);
        let id = self.graph.push(TypeDef {
            name: String::new(),
            doc,
            loc: loc.clone(),
            kind,
            needs_schema,
        });
        self.graph[id].name = self.claim_name(id, &name, &naming, loc, shadow);
        id
    }

    /// The name type `id` gets: a title as written (diagnosed when it cannot be a Rust type
    /// name or is taken), a made-up name made valid and unique. Structs and unions also take
    /// `<name>Shadow`, their decoding shadow.
    fn claim_name(
        &mut self,
        id: TypeId,
        name: &str,
        naming: &Naming,
        loc: &Loc,
        shadow: bool,
    ) -> String {
        let name = match naming {
            Naming::Titled(at) => {
                if !is_type_name(name) {
                    self.err(
                        Code::InvalidName,
                        at,
                        format!("title `{name}` is not a Rust type name"),
                        "a title names the generated type: write it in PascalCase, ASCII letters and digits (e.g. `CaptureAlive`)",
                    );
                    return self.unique_name(&type_name(name), id, shadow);
                }
                name.to_owned()
            }
            Naming::Derived => return self.unique_name(&type_name(name), id, shadow),
        };
        let shadow_name = format!("{name}Shadow");
        for (taken, what) in [(&name, "type"), (&shadow_name, "decoding shadow")] {
            if what == "decoding shadow" && !shadow {
                continue;
            }
            match self.names.get(taken.as_str()).copied() {
                None => {}
                Some(Taken::Type(other)) if other == id => {}
                Some(Taken::Type(other)) => {
                    let first = self.graph[other].loc.clone();
                    let at = match naming {
                        Naming::Titled(at) => at.clone(),
                        Naming::Derived => loc.clone(),
                    };
                    self.err(
                        Code::NameCollision,
                        &at,
                        format!(
                            "the {what} `{taken}` of this type clashes with the type defined at schemas/{}#{}",
                            first.file, first.pointer
                        ),
                        "give one of them a distinct `title`",
                    );
                }
                Some(Taken::Reserved(item)) => {
                    let at = match naming {
                        Naming::Titled(at) => at.clone(),
                        Naming::Derived => loc.clone(),
                    };
                    self.err(
                        Code::ReservedName,
                        &at,
                        format!("the {what} `{taken}` of this type is the name of {item}"),
                        "choose another `title`",
                    );
                }
            }
        }
        self.names.entry(name.clone()).or_insert(Taken::Type(id));
        if shadow {
            self.names.entry(shadow_name).or_insert(Taken::Type(id));
        }
        name
    }

    /// `base`, or `base2`, `base3`, … : the first that neither it nor its shadow is taken.
    fn unique_name(&mut self, base: &str, id: TypeId, shadow: bool) -> String {
        let free = |names: &HashMap<String, Taken>, n: &str| {
            !(names.contains_key(n) || shadow && names.contains_key(&format!("{n}Shadow")))
        };
        let mut name = base.to_owned();
        // Numbers below the last one given for this base are taken already: start there, so
        // many clashing names cost linear time.
        let next = self.next_suffix.entry(base.to_owned()).or_insert(2);
        let mut n = *next;
        while !free(&self.names, &name) {
            name = format!("{base}{n}");
            n += 1;
        }
        if let Some(next) = self.next_suffix.get_mut(base) {
            *next = n;
        }
        self.names.insert(name.clone(), Taken::Type(id));
        if shadow {
            self.names.insert(format!("{name}Shadow"), Taken::Type(id));
        }
        name
    }

    fn check_keywords(&mut self, loc: &Loc, m: &Map<String, Value>) {
        for k in m.keys() {
            if keywords::lookup(k).codegen == keywords::Codegen::Unsupported {
                self.err(
                    Code::UnsupportedKeyword,
                    &loc.join(k),
                    format!("keyword `{k}` is not supported by the generator"),
                    "see schemas/CONVENTIONS.md for the supported keywords; annotations may use an `x-` prefix",
                );
            }
        }
    }

    /// The type of the schema at `loc`; `hint` names it when it has no `title`.
    pub fn ty(&mut self, loc: &Loc, hint: &str) -> Ty {
        self.ty_in(loc, hint, Ctx::default())
    }

    fn ty_in(&mut self, loc: &Loc, hint: &str, cx: Ctx<'_>) -> Ty {
        if let Some(&id) = self.placeholders.get(loc) {
            return Ty::Named(id);
        }
        let value = self.cat.value(loc);
        let lone_ref = value.and_then(Value::as_object).is_some_and(|m| {
            m.contains_key("$ref") && m.keys().filter(|k| !is_annotation(k)).count() == 1
        });
        let recursive = self.active.contains_key(loc);
        if recursive && !lone_ref && !self.memo.contains_key(&(loc.clone(), None)) {
            // The schema contains itself with no struct, enum or union in between (an array
            // of itself): a newtype names it, so the recursion goes through that name.
            let name = match self.title_at(loc) {
                Some((title, _)) => title,
                None => self
                    .active
                    .get(loc)
                    .map(|(h, _)| h.clone())
                    .unwrap_or_else(|| hint.to_owned()),
            };
            let naming = match self.title_at(loc) {
                Some((_, at)) => Naming::Titled(at),
                None => Naming::Derived,
            };
            let doc = self.doc_of(loc);
            let id = self.define(loc, name, naming, doc, TypeKind::Newtype(Ty::Any), false);
            self.placeholders.insert(loc.clone(), id);
            return Ty::Named(id);
        }
        if cx.nesting >= MAX_NESTING {
            if !self.too_deep {
                self.too_deep = true;
                self.err(
                    Code::TooDeep,
                    loc,
                    format!("schemas nest more than {MAX_NESTING} levels deep here (types within types, `$ref`s included)"),
                    "flatten the schema: share definitions instead of nesting them this deep",
                );
            }
            return Ty::Any;
        }
        // A `$ref` alone continues the chain of schemas describing one value; anything else
        // describes a new value (a property, an item), where the chain starts afresh.
        let inner = Ctx {
            nesting: cx.nesting + 1,
            ref_chain: if lone_ref { cx.ref_chain } else { None },
            ..cx
        };
        self.active
            .entry(loc.clone())
            .or_insert_with(|| (hint.to_owned(), 0))
            .1 += 1;
        let ty = self.ty_here(loc, hint, inner);
        if let Some(entry) = self.active.get_mut(loc) {
            entry.1 -= 1;
            if entry.1 == 0 {
                self.active.remove(loc);
            }
        }
        match self.placeholders.get(loc) {
            Some(&id) => {
                self.graph[id].kind = TypeKind::Newtype(ty);
                Ty::Named(id)
            }
            None => ty,
        }
    }

    fn ty_here(&mut self, loc: &Loc, hint: &str, cx: Ctx<'_>) -> Ty {
        let cat: &'c Catalog = self.cat;
        let Some(v) = cat.value(loc) else {
            self.err(
                Code::UnresolvedRef,
                loc,
                "no schema here",
                "check the reference",
            );
            return Ty::Any;
        };
        let m = match v {
            Value::Bool(true) => return Ty::Any,
            Value::Object(m) => m,
            _ => {
                self.err(
                    Code::NotASchema,
                    loc,
                    "expected a schema object (or `true`)",
                    "write a schema such as {\"type\": \"string\"}",
                );
                return Ty::Any;
            }
        };
        self.check_keywords(loc, m);
        let title = m.get("title").and_then(Value::as_str).map(str::to_owned);
        let hint = title.as_deref().unwrap_or(hint).to_owned();
        let shape: Vec<&String> = m.keys().filter(|k| !is_annotation(k)).collect();

        if let Some(r) = m.get("$ref") {
            if shape.len() == 1 {
                let Some(r) = r.as_str() else {
                    self.err(
                        Code::InvalidKeywordValue,
                        &loc.join("$ref"),
                        "`$ref` must be a string",
                        "write the reference as a string, e.g. \"../defs/x.json\" or \"#/$defs/X\"",
                    );
                    return Ty::Any;
                };
                return match self.cat.resolve_ref(loc, r) {
                    // A cycle of `$ref`s alone: reported by `cycles`, typed as anything here.
                    Ok(target) if cx.ref_chain_has(&target) => Ty::Any,
                    Ok(target) => {
                        let link = RefLink {
                            target: &target,
                            before: cx.ref_chain,
                        };
                        let cx = Ctx {
                            ref_chain: Some(&link),
                            ..cx
                        };
                        self.ty_in(&target, &hint, cx)
                    }
                    Err(d) => {
                        self.diags.push(d);
                        Ty::Any
                    }
                };
            }
        }

        let (types, nullable) = self.types_of(loc, m);
        if let Some(one_of) = m.get("oneOf") {
            if !is_presence_only(one_of) {
                let t = self.tagged(loc, &hint, m, cx);
                return wrap_nullable(t, nullable);
            }
        }
        let objectish = types.iter().any(|t| t == "object")
            || m.contains_key("properties")
            || m.contains_key("allOf")
            || m.contains_key("$ref")
            || m.contains_key("additionalProperties");
        if objectish {
            let t = self.object(loc, &hint, None, cx);
            return wrap_nullable(t, nullable);
        }
        // Objects answer for their own validator-only keywords (see `gather`); a primitive's
        // are counted for the struct that holds it.
        if m.keys().any(|k| keywords::is_validator_only(k)) && cx.exempt != Some(loc) {
            self.validator_only_hits += 1;
        }
        if let Some(e) = m.get("enum").or(m.get("const")) {
            let t = self.str_enum(loc, &hint, m, e);
            return wrap_nullable(t, nullable);
        }
        let base = match types.first().map(String::as_str) {
            None => {
                if shape
                    .iter()
                    .any(|k| !matches!(k.as_str(), "if" | "then" | "else" | "not"))
                {
                    self.err(
                        Code::MissingType,
                        loc,
                        "a schema with constraints but no `type`",
                        "add a `type`, or use {} for any JSON value",
                    );
                }
                return Ty::Any;
            }
            Some("string") => self.string(loc, m),
            Some("integer") => {
                let checks = self.num_checks(loc, m);
                let unsigned = checks.minimum.is_some_and(|x| x >= 0.0)
                    || checks.exclusive_minimum.is_some_and(|x| x >= -1.0);
                Ty::Int { unsigned, checks }
            }
            Some("number") => Ty::Num {
                checks: self.num_checks(loc, m),
            },
            Some("boolean") => Ty::Bool,
            Some("array") => self.array(loc, &hint, m, cx),
            Some(other) => {
                self.err(
                    Code::UnknownType,
                    &loc.join("type"),
                    format!("type `{other}` cannot be typed on its own"),
                    "use one of object, array, string, integer, number, boolean, optionally with \"null\"",
                );
                Ty::Any
            }
        };
        wrap_nullable(base, nullable)
    }

    fn types_of(&mut self, loc: &Loc, m: &Map<String, Value>) -> (Vec<String>, bool) {
        let mut types: Vec<String> = match m.get("type") {
            None => vec![],
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
            Some(_) => {
                self.err(
                    Code::InvalidKeywordValue,
                    &loc.join("type"),
                    "`type` must be a string or an array of strings",
                    "write e.g. \"string\" or [\"string\", \"null\"]",
                );
                vec![]
            }
        };
        let nullable = types.iter().any(|t| t == "null");
        types.retain(|t| t != "null");
        if types.len() > 1 {
            self.err(
                Code::MultipleTypes,
                &loc.join("type"),
                format!(
                    "a value of several types ({}) has no tagged Rust form",
                    types.join(", ")
                ),
                "use one type (plus \"null\"), or {} for any JSON value",
            );
        }
        if nullable && types.is_empty() {
            self.err(
                Code::NullOnly,
                &loc.join("type"),
                "a value that can only be null",
                "drop the property or give it a type",
            );
        }
        (types, nullable)
    }

    fn string(&mut self, loc: &Loc, m: &Map<String, Value>) -> Ty {
        let checks = self.str_checks(loc, m);
        match m.get("format").and_then(Value::as_str) {
            None => Ty::Str { checks },
            Some("date-time") => Ty::DateTime { checks },
            Some("uuid") => Ty::Uuid { checks },
            Some(f) => {
                self.err(
                    Code::UnsupportedFormat,
                    &loc.join("format"),
                    format!("format `{f}` is not supported (only date-time and uuid are typed)"),
                    "use a `pattern` instead, or drop the format",
                );
                Ty::Str { checks }
            }
        }
    }

    fn str_checks(&mut self, loc: &Loc, m: &Map<String, Value>) -> StrChecks {
        let mut c = StrChecks {
            min_length: m.get("minLength").and_then(Value::as_u64),
            max_length: m.get("maxLength").and_then(Value::as_u64),
            patterns: vec![],
        };
        if let Some(p) = m.get("pattern") {
            let Some(p) = p.as_str() else {
                self.err(
                    Code::InvalidKeywordValue,
                    &loc.join("pattern"),
                    "`pattern` must be a string",
                    "write the regular expression as a string, e.g. \"^[a-z]+$\"",
                );
                return c;
            };
            match jsonschema_regex::to_rust_regex(p) {
                Ok(rust) if regex::Regex::new(&rust).is_ok() => c.patterns.push(rust.into_owned()),
                _ => self.err(
                    Code::UnsupportedPattern,
                    &loc.join("pattern"),
                    format!("pattern `{p}` is not a regular expression the generator can check (look-around or back-references?)"),
                    "write the pattern without look-around or back-references",
                ),
            }
        }
        c
    }

    fn num_checks(&mut self, loc: &Loc, m: &Map<String, Value>) -> NumChecks {
        let get = |k: &str| m.get(k).and_then(Value::as_f64);
        for k in ["exclusiveMinimum", "exclusiveMaximum"] {
            if m.get(k).is_some_and(Value::is_boolean) {
                self.err(
                    Code::InvalidKeywordValue,
                    &loc.join(k),
                    format!("`{k}` as a boolean is draft-04; 2020-12 takes the bound itself"),
                    format!("write \"{k}\": <number> and drop the matching minimum/maximum"),
                );
            }
        }
        let c = NumChecks {
            minimum: get("minimum"),
            maximum: get("maximum"),
            exclusive_minimum: get("exclusiveMinimum"),
            exclusive_maximum: get("exclusiveMaximum"),
            multiple_of: get("multipleOf"),
        };
        if c.multiple_of.is_some_and(|d| d <= 0.0) {
            self.err(
                Code::InvalidKeywordValue,
                &loc.join("multipleOf"),
                "`multipleOf` must be greater than 0",
                "use a positive step such as 1 or 0.01, or drop the keyword",
            );
        }
        c
    }

    fn array(&mut self, loc: &Loc, hint: &str, m: &Map<String, Value>, cx: Ctx<'_>) -> Ty {
        let item = match m.get("items") {
            Some(_) => self.ty_in(&loc.join("items"), &format!("{hint}Item"), cx),
            None => Ty::Any,
        };
        Ty::Array {
            item: Box::new(item),
            min_items: m.get("minItems").and_then(Value::as_u64),
            max_items: m.get("maxItems").and_then(Value::as_u64),
            unique: m
                .get("uniqueItems")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    fn str_enum(&mut self, loc: &Loc, hint: &str, m: &Map<String, Value>, e: &Value) -> Ty {
        let key = (loc.clone(), None);
        if let Some(&id) = self.memo.get(&key) {
            return Ty::Named(id);
        }
        let values: Option<Vec<String>> = match e {
            Value::Array(a) => a.iter().map(|v| v.as_str().map(str::to_owned)).collect(),
            Value::String(s) => Some(vec![s.clone()]),
            _ => None,
        };
        // A value listed twice means the same; one variant stands for it.
        let values = values.map(|v| {
            let mut seen = std::collections::HashSet::new();
            v.into_iter()
                .filter(|x| seen.insert(x.clone()))
                .collect::<Vec<_>>()
        });
        let Some(values) = values.filter(|v| !v.is_empty()) else {
            self.err(
                Code::NonStringEnum,
                loc,
                "`enum`/`const` must hold strings to be typed",
                "use string values, or a `type` with bounds for numbers",
            );
            return Ty::Any;
        };
        let checks = self.str_checks(loc, m);
        let accepts = checks.acceptor();
        for v in &values {
            if !accepts(v) {
                self.err(
                    Code::EnumBreaksConstraints,
                    loc,
                    format!("enum value `{v}` breaks this schema's own string constraints"),
                    "fix the value or the constraint",
                );
            }
        }
        let doc = self.doc_of(loc);
        let naming = self.naming_of(loc, hint);
        let id = self.define(
            loc,
            hint.to_owned(),
            naming,
            doc,
            TypeKind::StrEnum { values },
            false,
        );
        self.memo.insert(key, id);
        Ty::Named(id)
    }

    /// Collects the object keywords at `loc`, following `$ref` and `allOf`.
    fn gather(&mut self, loc: &Loc, spec: &mut ObjSpec, depth: usize) {
        // A part met again is a cycle of `$ref`/`allOf`, reported by `cycles`.
        if self.gathering.contains(loc) {
            return;
        }
        if depth > MAX_NESTING {
            if !self.too_deep {
                self.too_deep = true;
                self.err(
                    Code::TooDeep,
                    loc,
                    format!("`$ref`/`allOf` parts nest more than {MAX_NESTING} levels deep here"),
                    "flatten the schema: merge parts instead of nesting them this deep",
                );
            }
            return;
        }
        self.gathering.push(loc.clone());
        self.gather_here(loc, spec, depth);
        self.gathering.pop();
    }

    fn gather_here(&mut self, loc: &Loc, spec: &mut ObjSpec, depth: usize) {
        let Some(m) = self.obj(loc) else {
            if self.cat.value(loc) != Some(&Value::Bool(true)) {
                self.err(
                    Code::MergeNotObject,
                    loc,
                    "expected an object schema",
                    "`$ref`s and `allOf` parts merged into an object must be object schemas",
                );
            }
            return;
        };
        self.check_keywords(loc, m);
        if depth > 0 {
            let (types, _) = self.types_of(loc, m);
            if types.iter().any(|t| t != "object") {
                self.err(
                    Code::MergeNotObject,
                    loc,
                    "an `allOf` part must describe an object",
                    "merge only object schemas",
                );
            }
        }
        if spec.title.is_none() {
            spec.title = m
                .get("title")
                .and_then(Value::as_str)
                .map(|t| (t.to_owned(), loc.join("title")));
        }
        if spec.doc.is_none() {
            spec.doc = m
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        if let Some(r) = m.get("$ref").and_then(Value::as_str) {
            match self.cat.resolve_ref(loc, r) {
                Ok(target) => self.gather(&target, spec, depth + 1),
                Err(d) => self.diags.push(d),
            }
        }
        if let Some(Value::Array(parts)) = m.get("allOf") {
            for i in 0..parts.len() {
                self.gather(&loc.join("allOf").join(&i.to_string()), spec, depth + 1);
            }
        }
        if let Some(Value::Object(props)) = m.get("properties") {
            for name in props.keys() {
                let at = loc.join("properties").join(name);
                spec.add_prop(name, at);
            }
        }
        if let Some(Value::Array(req)) = m.get("required") {
            for r in req.iter().filter_map(Value::as_str) {
                spec.add_required(r);
            }
        }
        match m.get("additionalProperties") {
            Some(Value::Bool(false)) => spec.closed = Some(loc.join("additionalProperties")),
            Some(Value::Bool(true)) => spec.keep_unknown = true,
            None => {}
            Some(_) => spec.additional = Some(loc.join("additionalProperties")),
        }
        for (kw, out) in [("anyOf", &mut spec.any_of), ("oneOf", &mut spec.one_of)] {
            if let Some(v) = m.get(kw) {
                if is_presence_only(v) {
                    out.extend(v.as_array().into_iter().flatten().map(required_of));
                } else if kw == "anyOf" || depth > 0 {
                    let d = self.cat.diag(
                        Code::UnsupportedShape,
                        &loc.join(kw),
                        format!("`{kw}` here is neither a tagged union nor a presence rule"),
                        "use a tagged `oneOf` (each branch a distinct `const` on one property) or branches of only `required`",
                    );
                    self.diags.push(d);
                }
            }
        }
        if let Some(Value::Object(dep)) = m.get("dependentRequired") {
            for (k, v) in dep {
                let then: Vec<String> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect();
                spec.dependent.push((k.clone(), then));
            }
        }
        if m.keys().any(|k| keywords::is_validator_only(k)) {
            match conditional(m) {
                Some(c) => spec.conditionals.push(c),
                None => spec.needs_schema = true,
            }
        }
    }

    /// A struct (or map) for the object schema at `loc`; `strip_tag` drops a union's tag property.
    fn object(&mut self, loc: &Loc, hint: &str, strip_tag: Option<&str>, cx: Ctx<'_>) -> Ty {
        let key = (loc.clone(), strip_tag.map(str::to_owned));
        if let Some(&id) = self.memo.get(&key) {
            return Ty::Named(id);
        }
        let mut spec = ObjSpec::default();
        self.gather(loc, &mut spec, 0);
        if spec.props.is_empty()
            && spec.closed.is_none()
            && spec.any_of.is_empty()
            && spec.one_of.is_empty()
            && spec.dependent.is_empty()
            && !spec.needs_schema
        {
            return match &spec.additional {
                Some(at) => {
                    let at = at.clone();
                    Ty::Map {
                        value: Box::new(self.ty_in(&at, &format!("{hint}Value"), cx)),
                    }
                }
                None => Ty::AnyObject,
            };
        }
        let (name, naming) = match &spec.title {
            Some((title, at)) => (title.clone(), Naming::Titled(at.clone())),
            None => (hint.to_owned(), Naming::Derived),
        };
        let doc = spec.doc.clone().unwrap_or_default();
        // Reserve the id first so a recursive reference finds it.
        let id = self.define(
            loc,
            name,
            naming,
            doc,
            TypeKind::Struct {
                fields: vec![],
                closed: false,
                presence: vec![],
                payload: None,
                additional: false,
            },
            spec.needs_schema,
        );
        self.memo.insert(key, id);
        // Inline types inside are named after the name this struct got.
        let name = self.graph[id].name.clone();
        if let Some(at) = &spec.additional {
            if !spec.props.is_empty() {
                let at = at.clone();
                self.err(
                    Code::MixedMap,
                    &at,
                    "`additionalProperties` with a schema beside declared `properties`",
                    "use either declared properties or a map, not both",
                );
            }
        }
        let payload = match cx.envelope {
            Some((envelope, field)) if envelope == loc => Some(field.to_owned()),
            _ => None,
        };
        let hits_before = self.validator_only_hits;
        let mut fields = Vec::new();
        for (wire, locs) in &spec.props {
            if Some(wire.as_str()) == strip_tag {
                continue;
            }
            let field_hint = format!("{name}{}", wire.to_upper_camel_case());
            let ty = if payload.as_deref() == Some(wire.as_str()) {
                Ty::Any
            } else {
                self.merged(locs, &name, &field_hint, cx)
            };
            let last = locs.last().expect("a property has a location");
            let no_keywords = Map::new();
            let pm = self.obj(last).unwrap_or(&no_keywords);
            let doc = locs
                .iter()
                .rev()
                .find_map(|l| {
                    self.obj(l).and_then(|m| {
                        m.get("description")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                })
                .unwrap_or_default();
            fields.push(Field {
                wire: wire.clone(),
                ty,
                required: spec.is_required(wire),
                doc,
                deprecated: pm
                    .get("deprecated")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                renamed_from: locs.iter().rev().find_map(|l| {
                    self.obj(l).and_then(|m| {
                        m.get("x-renamed-from")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                }),
                boxed: false,
                default: locs
                    .iter()
                    .rev()
                    .find_map(|l| self.obj(l).and_then(|m| m.get("default").cloned())),
            });
        }
        let mut needs_schema = spec.needs_schema || self.validator_only_hits > hits_before;
        let field_index: HashMap<&str, usize> = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.wire.as_str(), i))
            .collect();
        let index = |n: &String| field_index.get(n.as_str()).copied();
        for r in &spec.required {
            if index(r).is_none() && Some(r.as_str()) != strip_tag {
                // A required property with no declared schema: serde cannot see it.
                needs_schema = true;
            }
        }
        let mut presence = Vec::new();
        let sets = |sets: &Vec<Vec<String>>, needs: &mut bool| -> Vec<Vec<usize>> {
            sets.iter()
                .map(|s| {
                    s.iter()
                        .filter_map(|n| {
                            let i = index(n);
                            *needs |= i.is_none();
                            i
                        })
                        .collect()
                })
                .collect()
        };
        if !spec.any_of.is_empty() {
            presence.push(Presence::AnyOf(sets(&spec.any_of, &mut needs_schema)));
        }
        if !spec.one_of.is_empty() {
            presence.push(Presence::OneOf(sets(&spec.one_of, &mut needs_schema)));
        }
        for (k, then) in &spec.dependent {
            match (index(k), sets(&vec![then.clone()], &mut needs_schema).pop()) {
                (Some(i), Some(t)) => presence.push(Presence::Dependent(i, t)),
                _ => needs_schema = true,
            }
        }
        for c in &spec.conditionals {
            // The generated comparison needs the field typed like the const.
            let comparable = index(&c.field).is_some_and(|i| match (&fields[i].ty, &c.value) {
                (Ty::Str { .. }, Value::String(_)) | (Ty::Bool, Value::Bool(_)) => true,
                (Ty::Named(t), Value::String(_)) => {
                    matches!(self.graph[*t].kind, TypeKind::StrEnum { .. })
                }
                _ => false,
            });
            let sets = sets(
                &vec![c.then.clone(), c.otherwise.clone()],
                &mut needs_schema,
            );
            match (index(&c.field), comparable) {
                (Some(field), true) => presence.push(Presence::When {
                    field,
                    value: c.value.clone(),
                    if_requires_field: c.if_requires_field,
                    then: sets[0].clone(),
                    otherwise: sets[1].clone(),
                }),
                _ => needs_schema = true,
            }
        }
        let def = &mut self.graph[id];
        def.kind = TypeKind::Struct {
            fields,
            closed: spec.closed.is_some(),
            presence,
            payload,
            additional: spec.keep_unknown,
        };
        def.needs_schema = needs_schema;
        Ty::Named(id)
    }

    /// The type of a property declared in several `allOf` parts: the most specific wins, the
    /// others' constraints are kept or proven implied.
    fn merged(&mut self, locs: &[Loc], struct_name: &str, hint: &str, cx: Ctx<'_>) -> Ty {
        // An inline type is named after the object that declares it, so a base definition's
        // enum keeps its own name when an event narrows it.
        let tys: Vec<Ty> = locs
            .iter()
            .map(|l| {
                let owner = l.pointer.rsplitn(3, '/').nth(2).unwrap_or_default();
                let owner_title = self
                    .cat
                    .value(&Loc::new(l.file.clone(), owner))
                    .and_then(|v| v.get("title"))
                    .and_then(Value::as_str);
                let hint = match owner_title {
                    Some(t) if t != struct_name => format!("{t}{}", &hint[struct_name.len()..]),
                    _ => hint.to_owned(),
                };
                self.ty_in(l, &hint, cx)
            })
            .collect();
        let best = (0..tys.len())
            .max_by_key(|&i| (tys[i].rank(), i))
            .unwrap_or(0);
        let mut out = tys[best].clone();
        for (i, t) in tys.iter().enumerate() {
            if i == best {
                continue;
            }
            let ok = match (&mut out, t) {
                (_, Ty::Any) => true,
                (Ty::Named(id), Ty::AnyObject) => {
                    matches!(self.graph[*id].kind, TypeKind::Struct { .. })
                }
                (Ty::Named(id), Ty::Str { checks }) => match &self.graph[*id].kind {
                    TypeKind::StrEnum { values } => {
                        let accepts = checks.acceptor();
                        values.iter().all(|v| accepts(v))
                    }
                    _ => false,
                },
                (Ty::Named(a), Ty::Named(b)) => {
                    let (a, b) = (*a, *b);
                    a == b || self.narrows(a, b)
                }
                (Ty::Str { checks: a }, Ty::Str { checks: b })
                | (
                    Ty::DateTime { checks: a },
                    Ty::Str { checks: b } | Ty::DateTime { checks: b },
                )
                | (Ty::Uuid { checks: a }, Ty::Str { checks: b } | Ty::Uuid { checks: b }) => {
                    a.merge(b);
                    true
                }
                (
                    Ty::Int {
                        checks: a,
                        unsigned,
                    },
                    Ty::Int { checks: b, .. } | Ty::Num { checks: b },
                ) => {
                    a.merge(b);
                    *unsigned |= b.minimum.is_some_and(|x| x >= 0.0);
                    true
                }
                (Ty::Num { checks: a }, Ty::Num { checks: b }) => {
                    a.merge(b);
                    true
                }
                (a, b) => a == b,
            };
            if !ok {
                let at = locs[i].clone();
                self.err(
                    Code::AllOfConflict,
                    &at,
                    "this property's schemas in `allOf` cannot be merged into one Rust type",
                    "narrow with `const`/`enum` or a `$ref` to a more specific object, or keep one declaration",
                );
            }
        }
        out
    }

    /// Whether enum `a` only holds values of enum `b`.
    fn narrows(&self, a: TypeId, b: TypeId) -> bool {
        match (&self.graph[a].kind, &self.graph[b].kind) {
            (TypeKind::StrEnum { values: va }, TypeKind::StrEnum { values: vb }) => {
                let vb: HashSet<&String> = vb.iter().collect();
                va.iter().all(|v| vb.contains(v))
            }
            _ => false,
        }
    }

    fn tagged(&mut self, loc: &Loc, hint: &str, m: &Map<String, Value>, cx: Ctx<'_>) -> Ty {
        let key = (loc.clone(), None);
        if let Some(&id) = self.memo.get(&key) {
            return Ty::Named(id);
        }
        for k in m.keys() {
            if !is_annotation(k) && !matches!(k.as_str(), "oneOf" | "type") {
                self.err(
                    Code::UnionSiblings,
                    &loc.join(k),
                    format!("`{k}` beside a tagged `oneOf`"),
                    "move shared properties into each branch (an `allOf` with a shared $ref works)",
                );
            }
        }
        let branches = m.get("oneOf").and_then(Value::as_array).map_or(0, Vec::len);
        let mut specs = Vec::new();
        for i in 0..branches {
            let at = self.through_refs(&loc.join("oneOf").join(&i.to_string()));
            let mut spec = ObjSpec::default();
            self.gather(&at, &mut spec, 0);
            specs.push((at, spec));
        }
        let tag = specs.first().and_then(|(_, first)| {
            first.props.iter().map(|(n, _)| n.clone()).find(|n| {
                let listed = specs
                    .iter()
                    .filter(|(_, s)| s.is_required(n) && self.const_of(s, n).is_some())
                    .count();
                let fallbacks = specs
                    .iter()
                    .filter(|(_, s)| s.is_required(n) && self.excluded_of(s, n).is_some())
                    .count();
                listed >= 1 && fallbacks <= 1 && listed + fallbacks == specs.len()
            })
        });
        let Some(tag) = tag else {
            self.err(
                Code::UnsupportedShape,
                &loc.join("oneOf"),
                "`oneOf` is not a tagged union: no property is required with a distinct string `const` in every branch",
                "add a discriminator property (e.g. `type`) with a `const` to each branch; untagged unions are not generated (slow and ambiguous)",
            );
            return Ty::Any;
        };
        let doc = self.doc_of(loc);
        let naming = self.naming_of(loc, hint);
        let id = self.define(
            loc,
            hint.to_owned(),
            naming,
            doc,
            TypeKind::Tagged {
                tag: tag.clone(),
                variants: vec![],
                fallback: None,
            },
            false,
        );
        self.memo.insert(key, id);
        let mut variants: Vec<(String, TypeId)> = Vec::new();
        let mut fallback = None;
        for (at, spec) in &specs {
            if let Some((tag_loc, excluded)) = self.excluded_of(spec, &tag) {
                let listed: BTreeSet<String> = specs
                    .iter()
                    .filter_map(|(_, s)| self.const_of(s, &tag))
                    .collect();
                if excluded.iter().cloned().collect::<BTreeSet<_>>() != listed {
                    self.err(
                        Code::FallbackTags,
                        &tag_loc,
                        "the fallback branch must exclude exactly the listed tag values",
                        format!("write \"not\": {{\"enum\": {listed:?}}}"),
                    );
                }
                let vhint = format!("{hint}Other");
                let branch = Ctx {
                    exempt: Some(&tag_loc),
                    ..cx
                };
                match self.object(at, &vhint, None, branch) {
                    Ty::Named(vid) => fallback = Some(vid),
                    _ => self.err(
                        Code::UnionBranch,
                        at,
                        "the fallback branch must be an object with properties",
                        "give the branch \"type\": \"object\" and its tag property",
                    ),
                }
                continue;
            }
            let value = self.const_of(spec, &tag).unwrap_or_default();
            if variants.iter().any(|(v, _)| *v == value) {
                self.err(
                    Code::DuplicateTag,
                    at,
                    format!("two branches share the tag value `{value}`"),
                    "make each branch's const distinct",
                );
                continue;
            }
            let vhint = format!("{hint}{}", value.to_upper_camel_case());
            match self.object(at, &vhint, Some(&tag), cx) {
                Ty::Named(vid) => variants.push((value, vid)),
                _ => self.err(
                    Code::UnionBranch,
                    at,
                    "a union branch must be an object with properties",
                    "give the branch \"type\": \"object\" and its tag property",
                ),
            }
        }
        if let TypeKind::Tagged {
            variants: v,
            fallback: f,
            ..
        } = &mut self.graph[id].kind
        {
            *v = variants;
            *f = fallback;
        }
        Ty::Named(id)
    }

    /// Follows `$ref`s that stand alone, so a branch written as a `$ref` is built at its target.
    fn through_refs(&self, loc: &Loc) -> Loc {
        let mut at = loc.clone();
        for _ in 0..32 {
            let Some(m) = self.obj(&at) else { break };
            let only_ref = m.keys().filter(|k| !is_annotation(k)).count() == 1;
            match m.get("$ref").and_then(Value::as_str) {
                Some(r) if only_ref => match self.cat.resolve_ref(&at, r) {
                    Ok(t) => at = t,
                    Err(_) => break,
                },
                _ => break,
            }
        }
        at
    }

    /// Whether a type was already built at `loc` (in any form).
    pub fn has_type_at(&self, loc: &Loc) -> bool {
        self.memo.keys().any(|(l, _)| l == loc)
    }

    /// For a fallback branch: the tag property's location and the values its `not` excludes.
    fn excluded_of(&self, spec: &ObjSpec, prop: &str) -> Option<(Loc, Vec<String>)> {
        let at = spec.prop(prop)?.last()?.clone();
        let not = self.obj(&at)?.get("not")?.clone();
        let values = match (not.get("enum"), not.get("const")) {
            (Some(Value::Array(a)), _) => a
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()?,
            (_, Some(Value::String(s))) => vec![s.clone()],
            _ => return None,
        };
        Some((at, values))
    }

    fn const_of(&self, spec: &ObjSpec, prop: &str) -> Option<String> {
        spec.prop(prop)?.iter().rev().find_map(|l| {
            let m = self.obj(l)?;
            match m.get("const") {
                Some(Value::String(s)) => Some(s.clone()),
                _ => match m.get("enum").and_then(Value::as_array).map(Vec::as_slice) {
                    Some([Value::String(s)]) => Some(s.clone()),
                    _ => None,
                },
            }
        })
    }
}

fn wrap_nullable(t: Ty, nullable: bool) -> Ty {
    if nullable && !matches!(t, Ty::Any) {
        Ty::Nullable(Box::new(t))
    } else {
        t
    }
}

/// `oneOf`/`anyOf` whose branches only say which properties are required.
fn is_presence_only(v: &Value) -> bool {
    v.as_array().is_some_and(|a| {
        !a.is_empty()
            && a.iter().all(|b| {
                b.as_object().is_some_and(|o| {
                    o.contains_key("required")
                        && o.keys().all(|k| k == "required" || is_annotation(k))
                })
            })
    })
}

impl ObjSpec {
    fn add_prop(&mut self, name: &str, at: Loc) {
        match self.prop_index.get(name) {
            Some(&i) => self.props[i].1.push(at),
            None => {
                self.prop_index.insert(name.to_owned(), self.props.len());
                self.props.push((name.to_owned(), vec![at]));
            }
        }
    }

    fn prop(&self, name: &str) -> Option<&[Loc]> {
        self.prop_index
            .get(name)
            .map(|&i| self.props[i].1.as_slice())
    }

    fn add_required(&mut self, name: &str) {
        if self.required_set.insert(name.to_owned()) {
            self.required.push(name.to_owned());
        }
    }

    fn is_required(&self, name: &str) -> bool {
        self.required_set.contains(name)
    }
}

fn required_of(v: &Value) -> Vec<String> {
    v.get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn has_shadow(kind: &TypeKind) -> bool {
    matches!(kind, TypeKind::Struct { .. } | TypeKind::Tagged { .. })
}

/// The named type a value of `ty` holds inline (itself or inside an `Option`).
fn by_value(ty: &Ty) -> Option<TypeId> {
    match ty {
        Ty::Named(id) => Some(*id),
        Ty::Nullable(inner) => by_value(inner),
        _ => None,
    }
}

/// The strongly connected component of every node of a graph given as adjacency lists, and
/// the number of components; a component is numbered after every component it reaches
/// (Tarjan's algorithm, iterative so a long chain of types cannot exhaust the stack).
fn components(edges: &[Vec<usize>]) -> (Vec<usize>, usize) {
    const UNSEEN: usize = usize::MAX;
    let n = edges.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut component = vec![UNSEEN; n];
    let mut next_index = 0;
    let mut components = 0;
    for start in 0..n {
        if index[start] != UNSEEN {
            continue;
        }
        let mut calls: Vec<(usize, usize)> = vec![(start, 0)];
        index[start] = next_index;
        low[start] = next_index;
        next_index += 1;
        stack.push(start);
        on_stack[start] = true;
        while let Some(&mut (v, ref mut i)) = calls.last_mut() {
            if let Some(&w) = edges[v].get(*i) {
                *i += 1;
                if index[w] == UNSEEN {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    calls.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component[w] = components;
                    if w == v {
                        break;
                    }
                }
                components += 1;
            }
        }
    }
    (component, components)
}
