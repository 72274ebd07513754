//! Orchestration: load both sides, match events, compare messages, verify counterexamples with
//! the real validators, compare the generated Rust API and the manifests, and assemble the
//! report.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use event_contracts_codegen::catalog::{Catalog, Loc, ID_BASE};
use event_contracts_codegen::manifest::{AlsoRead, Compatibility, Envelope, EventEntry};
use event_contracts_codegen::model::{Builder, Ty, TypeGraph, TypeKind};
use event_contracts_codegen::source::SourceFile;
use event_contracts_runtime::display_pointer;
use heck::{ToSnakeCase, ToUpperCamelCase};
use serde_json::{json, Value};

use crate::compare::{shape_key, Change, Comparer, Dec};
use crate::finding::*;
use crate::schema::{self, merge, Normalizer, Schema};
use crate::synth;
use crate::{fingerprint, rules, CompatError, Options};

/// One side of the comparison, parsed.
pub struct Loaded {
    pub side: Side,
    pub cat: Catalog,
    docs: Arc<HashMap<String, Value>>,
}

impl Loaded {
    pub fn catalog(side: Side, files: &[(String, String)]) -> Result<Self, CompatError> {
        let cat = Catalog::from_texts(files.to_vec()).map_err(|d| CompatError::Parse {
            side,
            message: d
                .0
                .first()
                .map(|x| x.to_string())
                .unwrap_or_else(|| "the catalog does not parse".into()),
        })?;
        let docs = Arc::new(
            cat.files
                .iter()
                .filter(|(p, _)| !p.ends_with("manifest.json"))
                .map(|(p, f)| (format!("{ID_BASE}{p}"), f.value.clone()))
                .collect(),
        );
        Ok(Self { side, cat, docs })
    }

    pub fn file(side: Side, name: &str, text: &str) -> Result<Self, CompatError> {
        let f = SourceFile::parse(name, text).map_err(|e| CompatError::Parse {
            side,
            message: format!(
                "{name}:{}:{}: {}",
                e.position.line, e.position.column, e.message
            ),
        })?;
        let mut docs = HashMap::new();
        if let Some(id) = f.value.get("$id").and_then(Value::as_str) {
            docs.insert(id.to_owned(), f.value.clone());
        }
        let mut cat = Catalog::default();
        cat.files.insert(name.to_owned(), f);
        Ok(Self {
            side,
            cat,
            docs: Arc::new(docs),
        })
    }

    fn location(&self, loc: &Loc, prefix: &str) -> Location {
        let pos = self
            .cat
            .files
            .get(&loc.file)
            .map(|f| f.position(&loc.pointer))
            .unwrap_or_default();
        Location {
            side: self.side,
            file: format!("{prefix}{}", loc.file),
            line: pos.line.max(1),
            column: pos.column.max(1),
            pointer: loc.pointer.clone(),
        }
    }
}

struct Retriever(Arc<HashMap<String, Value>>);

impl jsonschema::Retrieve for Retriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let key = uri.as_str();
        let key = key.split('#').next().unwrap_or(key);
        self.0
            .get(key)
            .cloned()
            .ok_or_else(|| format!("`{key}` is not in this side's schemas").into())
    }
}

fn compile(
    docs: &Arc<HashMap<String, Value>>,
    schema: &Value,
) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .with_retriever(Retriever(Arc::clone(docs)))
        .build(schema)
        .map_err(|e| e.to_string())
}

/// An event on one side.
#[derive(Clone)]
struct Ev<'a> {
    entry: &'a EventEntry,
    index: usize,
    manifest_file: String,
    schema_file: String,
    envelope: &'a Envelope,
    dir: String,
}

impl Ev<'_> {
    fn envelope_file(&self) -> Option<(String, &str, &str)> {
        match self.envelope {
            Envelope::Flat => None,
            Envelope::Wrapped {
                schema,
                type_field,
                payload_field,
                ..
            } => Some((
                format!("{}/{}", self.dir, schema),
                type_field.as_str(),
                payload_field.as_str(),
            )),
        }
    }

    fn payload_prefix(&self) -> String {
        match self.envelope_file() {
            Some((_, _, p)) => format!("/{p}"),
            None => String::new(),
        }
    }

    fn manifest_loc(&self) -> Loc {
        Loc::new(
            self.manifest_file.clone(),
            format!("/events/{}", self.index),
        )
    }
}

fn events(cat: &Catalog) -> BTreeMap<(String, String), Ev<'_>> {
    let mut out = BTreeMap::new();
    for sys in &cat.systems {
        for (i, e) in sys.manifest.events.iter().enumerate() {
            out.insert(
                (sys.manifest.system.clone(), e.name.clone()),
                Ev {
                    entry: e,
                    index: i,
                    manifest_file: sys.manifest_file.clone(),
                    schema_file: format!("{}/{}", sys.dir, e.schema),
                    envelope: &sys.manifest.envelope,
                    dir: sys.dir.clone(),
                },
            );
        }
    }
    out
}

fn mode_of(c: Compatibility) -> Mode {
    match c {
        Compatibility::Backward => Mode::Backward,
        Compatibility::BackwardTransitive => Mode::BackwardTransitive,
        Compatibility::Forward => Mode::Forward,
        Compatibility::ForwardTransitive => Mode::ForwardTransitive,
        Compatibility::Full => Mode::Full,
        Compatibility::FullTransitive => Mode::FullTransitive,
        Compatibility::None => Mode::None,
    }
}

fn is_transitive(m: Mode) -> bool {
    matches!(
        m,
        Mode::BackwardTransitive | Mode::ForwardTransitive | Mode::FullTransitive
    )
}

/// The message an event travels in, as one canonical schema, plus everything needed to
/// verify counterexamples against it.
struct Message {
    schema: Schema,
    validator_schema: Value,
    examples: Vec<Value>,
}

fn message(norm: &mut Normalizer, l: &Loaded, ev: &Ev) -> Message {
    let payload = norm.node(&Loc::new(ev.schema_file.clone(), ""));
    let payload_examples: Vec<Value> = l
        .cat
        .files
        .get(&ev.schema_file)
        .and_then(|f| f.value.get("examples"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let event_id = format!("{ID_BASE}{}", ev.schema_file);
    match ev.envelope_file() {
        None => Message {
            schema: payload,
            validator_schema: json!({ "$ref": event_id }),
            examples: payload_examples,
        },
        Some((file, type_field, payload_field)) => {
            let mut env = norm.node(&Loc::new(file.clone(), ""));
            let mut p = merge(&env.prop_schema(payload_field), &payload);
            p.loc = payload.loc.clone();
            p.title = payload.title.clone();
            set_prop(&mut env, payload_field, p);
            let mut props = serde_json::Map::new();
            props.insert(payload_field.to_owned(), json!({ "$ref": event_id }));
            if !ev.entry.fallback {
                let mut t = env.prop_schema(type_field);
                t = merge(
                    &t,
                    &Schema {
                        enumeration: Some(vec![Value::String(ev.entry.name.clone())]),
                        ..Schema::default()
                    },
                );
                set_prop(&mut env, type_field, t);
                props.insert(type_field.to_owned(), json!({ "const": ev.entry.name }));
            }
            let env_id = format!("{ID_BASE}{file}");
            let env_examples: Vec<Value> = l
                .cat
                .files
                .get(&file)
                .and_then(|f| f.value.get("examples"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut examples = Vec::new();
            if let Some(base) = env_examples
                .iter()
                .find(|e| e.get(type_field).and_then(Value::as_str) == Some(ev.entry.name.as_str()))
                .or(env_examples.first())
            {
                for p in &payload_examples {
                    let mut m = base.clone();
                    if let Value::Object(o) = &mut m {
                        o.insert(payload_field.to_owned(), p.clone());
                        if !ev.entry.fallback {
                            o.insert(type_field.to_owned(), Value::String(ev.entry.name.clone()));
                        }
                    }
                    examples.push(m);
                }
            }
            Message {
                schema: env,
                validator_schema: json!({
                    "allOf": [{ "$ref": env_id }],
                    "properties": props,
                }),
                examples,
            }
        }
    }
}

fn set_prop(s: &mut Schema, name: &str, schema: Schema) {
    match s.props.iter_mut().find(|(n, _)| n == name) {
        Some((_, p)) => p.schema = schema,
        None => s.props.push((
            name.to_owned(),
            schema::Prop {
                schema,
                ..Default::default()
            },
        )),
    }
}

/// Verifies counterexamples for one pair of messages.
struct Verifier<'a> {
    sides: [&'a Loaded; 2],
    schemas: [&'a Schema; 2],
    validator_schemas: [Value; 2],
    validators: [Option<Result<jsonschema::Validator, String>>; 2],
    semantics: Semantics,
    examples: [Vec<Value>; 2],
    bases: [Option<Vec<Value>>; 2],
}

fn idx(side: Side) -> usize {
    match side {
        Side::Old => 0,
        Side::New => 1,
    }
}

impl<'a> Verifier<'a> {
    fn new(sides: [&'a Loaded; 2], msgs: [&'a Message; 2], semantics: Semantics) -> Self {
        let examples = [msgs[0].examples.clone(), msgs[1].examples.clone()];
        Self {
            semantics,
            examples,
            sides,
            schemas: [&msgs[0].schema, &msgs[1].schema],
            validator_schemas: [
                msgs[0].validator_schema.clone(),
                msgs[1].validator_schema.clone(),
            ],
            validators: [None, None],
            bases: [None, None],
        }
    }

    fn validator(&mut self, i: usize) -> Option<&jsonschema::Validator> {
        if self.validators[i].is_none() {
            self.validators[i] = Some(compile(&self.sides[i].docs, &self.validator_schemas[i]));
        }
        self.validators[i].as_ref().and_then(|r| r.as_ref().ok())
    }

    /// A verified counterexample for a break in the direction whose accepting side is `side`.
    fn verify(&mut self, side: Side, recipes: &[synth::Recipe]) -> Option<Counterexample> {
        let (a, r) = (idx(side), 1 - idx(side));
        let schema = self.schemas[a];
        if self.bases[a].is_none() {
            // The accepting side's examples first, then the other side's: an example the
            // new version's author wrote usually already has what the new schema added, so a
            // mutation of it is refused only for the change being explained.
            let mut out: Vec<Value> = self.examples[a].iter().take(4).cloned().collect();
            out.extend(self.examples[r].iter().take(2).cloned());
            if self.semantics == Semantics::Generated {
                for v in out.iter_mut() {
                    synth::strip_undeclared(schema, v);
                }
            }
            out.extend(synth::synth(schema, false));
            out.extend(synth::synth(schema, true));
            self.bases[a] = Some(out);
        }
        let mut candidates: Vec<Value> = Vec::new();
        for recipe in recipes {
            for base in self.bases[a].iter().flatten() {
                for c in synth::apply_recipe(schema, base, recipe) {
                    if !candidates.contains(&c) {
                        candidates.push(c);
                    }
                }
            }
        }
        self.validator(a)?;
        self.validator(r)?;
        let targets: Vec<Vec<Option<String>>> = recipes
            .iter()
            .flatten()
            .map(|m| synth::instance_path(&m.segs))
            .collect();
        // The first candidate the rejecting side refuses only at the changed place wins; the
        // first one refused at all is the fallback (a base that misses something else the
        // other side requires is still a counterexample, but a confusing one to read).
        let mut fallback: Option<Counterexample> = None;
        for c in candidates.into_iter().take(48) {
            let ok_a = self.validator(a).is_some_and(|v| v.is_valid(&c));
            if !ok_a {
                continue;
            }
            let Some(vr) = self.validator(r) else {
                continue;
            };
            // Each error with the place it is about: a missing required property is about
            // that property, not the object reporting it, so a candidate that also lacks an
            // unrelated new required property is not taken as refused only at the change.
            let errors: Vec<(String, String, String)> = vr
                .iter_errors(&c)
                .map(|err| {
                    let pointer = err.instance_path().as_str().to_owned();
                    let about = match err.kind() {
                        jsonschema::error::ValidationErrorKind::Required {
                            property: Value::String(name),
                        } => format!("{pointer}/{}", name.replace('~', "~0").replace('/', "~1")),
                        _ => pointer.clone(),
                    };
                    (pointer, about, err.to_string())
                })
                .collect();
            if errors.is_empty() {
                continue;
            }
            let at_change = |pointer: &str| targets.iter().any(|t| related(pointer, t));
            let all_at_change = errors.iter().all(|(_, about, _)| at_change(about));
            // The deepest error at the change says most; the first error otherwise.
            let (pointer, _, message) = errors
                .iter()
                .filter(|(_, about, _)| at_change(about))
                .max_by_key(|(_, about, _)| about.matches('/').count())
                .unwrap_or(&errors[0]);
            let found = Counterexample {
                message: c,
                accepted_by: side,
                rejected_because: format!("{}: {message}", display_pointer(pointer)),
            };
            if all_at_change {
                return Some(found);
            }
            fallback.get_or_insert(found);
        }
        fallback
    }
}

/// Whether a validator error at `pointer` concerns the instance path `target` (`None` segments
/// match any token): one is a prefix of the other, so a `required` error on the parent object
/// and a type error inside the changed value both count.
fn related(pointer: &str, target: &[Option<String>]) -> bool {
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    tokens
        .iter()
        .zip(target)
        .all(|(token, want)| want.as_ref().is_none_or(|w| w == token))
}

/// One direction, resolved.
#[derive(Clone, Debug)]
struct Resolved {
    verdict: Verdict,
    counterexample: Option<Counterexample>,
    keyword: Option<String>,
}

fn resolve(dec: &Dec, side: Side, keyword: &str, v: &mut Verifier) -> Resolved {
    match dec {
        Dec::Holds => Resolved {
            verdict: Verdict::Compatible,
            counterexample: None,
            keyword: None,
        },
        Dec::Unknown(k) => Resolved {
            verdict: Verdict::Unknown,
            counterexample: None,
            keyword: Some(k.clone()),
        },
        Dec::Breaks(recipes) => match v.verify(side, recipes) {
            Some(c) => Resolved {
                verdict: Verdict::Incompatible,
                counterexample: Some(c),
                keyword: None,
            },
            None => Resolved {
                verdict: Verdict::Unknown,
                counterexample: None,
                keyword: Some(keyword.to_owned()),
            },
        },
    }
}

fn combine(mode: Mode, bw: &Resolved, fw: &Resolved) -> Resolved {
    let compatible = Resolved {
        verdict: Verdict::Compatible,
        counterexample: None,
        keyword: None,
    };
    match mode {
        Mode::None => compatible,
        Mode::Backward | Mode::BackwardTransitive => bw.clone(),
        Mode::Forward | Mode::ForwardTransitive => fw.clone(),
        Mode::Full | Mode::FullTransitive => {
            for r in [bw, fw] {
                if r.verdict == Verdict::Incompatible {
                    return r.clone();
                }
            }
            for r in [bw, fw] {
                if r.verdict == Verdict::Unknown {
                    return r.clone();
                }
            }
            compatible
        }
    }
}

/// Both directions of one change, plus the finding under the mode.
struct Decided {
    finding: Finding,
    bw: Verdict,
    fw: Verdict,
}

#[allow(clippy::too_many_arguments)]
fn finding(
    rule_id: &str,
    verdict: &Resolved,
    system: Option<&str>,
    event: Option<&str>,
    mode: Mode,
    path: &str,
    message: String,
    what: &str,
    old: Option<Location>,
    new: Option<Location>,
) -> Finding {
    let rule = rules::get(rule_id).unwrap_or(&rules::all()[0]);
    let severity = match (verdict.verdict, rule.category) {
        (Verdict::Compatible, Category::Data | Category::Transport) => Severity::Info,
        _ => rule.severity,
    };
    Finding {
        rule: rule.id,
        category: rule.category,
        severity,
        verdict: verdict.verdict,
        system: system.map(str::to_owned),
        event: event.map(str::to_owned),
        mode,
        against_version: None,
        path: path.to_owned(),
        message,
        hint: rule.hint,
        old,
        new,
        counterexample: verdict.counterexample.clone(),
        undecided_keyword: verdict.keyword.clone(),
        fingerprint: fingerprint(rule.id, system, event, path, what),
        allowed: None,
    }
}

fn decide_changes(
    changes: &[Change],
    ver: &mut Verifier,
    sides: [&Loaded; 2],
    options: &Options,
    mode: Mode,
    system: Option<&str>,
    event: Option<&str>,
) -> Vec<Decided> {
    let mut out = Vec::new();
    for c in changes {
        let bw = resolve(&c.backward, Side::Old, &c.keyword, ver);
        let fw = resolve(&c.forward, Side::New, &c.keyword, ver);
        let r = combine(mode, &bw, &fw);
        let old = c
            .old
            .as_ref()
            .map(|l| sides[0].location(l, &options.path_prefix));
        let new = c
            .new
            .as_ref()
            .map(|l| sides[1].location(l, &options.path_prefix));
        let mut f = finding(
            c.rule,
            &r,
            system,
            event,
            mode,
            &c.path,
            c.message.clone(),
            &c.what,
            old,
            new,
        );
        // Names the union branch(es), so one change in two branches is two fingerprints.
        f.fingerprint = fingerprint(f.rule, system, event, &c.fp, &c.what);
        out.push(Decided {
            finding: f,
            bw: bw.verdict,
            fw: fw.verdict,
        });
    }
    out
}

fn worst(a: Verdict, b: Verdict) -> Verdict {
    match (a, b) {
        (Verdict::Incompatible, _) | (_, Verdict::Incompatible) => Verdict::Incompatible,
        (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
        _ => Verdict::Compatible,
    }
}

pub fn rollout(bw: Verdict, fw: Verdict) -> Rollout {
    match (bw, fw) {
        (Verdict::Unknown, _) | (_, Verdict::Unknown) => Rollout::Undecided,
        (Verdict::Compatible, Verdict::Compatible) => Rollout::AnyOrder,
        (Verdict::Compatible, Verdict::Incompatible) => Rollout::ConsumersFirst,
        (Verdict::Incompatible, Verdict::Compatible) => Rollout::ProducersFirst,
        _ => Rollout::NewEventVersion,
    }
}

// ------------------------------------------------------------------------------------------
// The generated Rust API.

fn rust_ty(g: &TypeGraph, ty: &Ty) -> String {
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
        Ty::Named(id) => g.types.get(*id).map(|t| t.name.clone()).unwrap_or_default(),
        Ty::Array { item, .. } => format!("Vec<{}>", rust_ty(g, item)),
        Ty::Map { value } => format!("BTreeMap<String, {}>", rust_ty(g, value)),
        Ty::Nullable(t) => format!("Option<{}>", rust_ty(g, t)),
    }
}

fn named(ty: &Ty) -> Option<usize> {
    match ty {
        Ty::Named(id) => Some(*id),
        Ty::Array { item, .. } => named(item),
        Ty::Map { value } => named(value),
        Ty::Nullable(t) => named(t),
        _ => None,
    }
}

struct RustFinding {
    rule: &'static str,
    path: String,
    message: String,
    /// The names and Rust types involved, for the fingerprint.
    what: String,
    old: Option<Loc>,
    new: Option<Loc>,
}

struct RustCmp<'g> {
    og: &'g TypeGraph,
    ng: &'g TypeGraph,
    seen: BTreeSet<(usize, usize)>,
    out: Vec<RustFinding>,
}

impl RustCmp<'_> {
    fn cmp(&mut self, oid: usize, nid: usize, path: &str, root: bool) {
        if !self.seen.insert((oid, nid)) {
            return;
        }
        let (Some(ot), Some(nt)) = (self.og.types.get(oid), self.ng.types.get(nid)) else {
            return;
        };
        if ot.name != nt.name {
            self.out.push(RustFinding {
                rule: if root { "EC-S001" } else { "EC-S002" },
                path: path.to_owned(),
                message: format!("Rust type `{}` renamed to `{}`", ot.name, nt.name),
                what: format!("{} -> {}", ot.name, nt.name),
                old: Some(ot.loc.clone()),
                new: Some(nt.loc.clone()),
            });
        }
        match (&ot.kind, &nt.kind) {
            (TypeKind::Struct { fields: of, .. }, TypeKind::Struct { fields: nf, .. }) => {
                let removed: Vec<_> = of
                    .iter()
                    .filter(|f| {
                        !nf.iter().any(|g| {
                            g.wire == f.wire || g.renamed_from.as_deref() == Some(f.wire.as_str())
                        })
                    })
                    .collect();
                let added: Vec<_> = nf
                    .iter()
                    .filter(|g| {
                        !of.iter().any(|f| {
                            f.wire == g.wire || g.renamed_from.as_deref() == Some(f.wire.as_str())
                        })
                    })
                    .collect();
                for f in of {
                    let fpath = format!("{path}/{}", f.wire);
                    let floc = ot.loc.join("properties").join(&f.wire);
                    let matched = nf.iter().find(|g| g.wire == f.wire).or_else(|| {
                        nf.iter()
                            .find(|g| g.renamed_from.as_deref() == Some(f.wire.as_str()))
                    });
                    let Some(g) = matched else {
                        // A removed field: a rename when one added field has the same Rust type.
                        let fty = self.field_ty(self.og, f);
                        let same: Vec<_> = added
                            .iter()
                            .filter(|g| self.field_ty(self.ng, g) == fty)
                            .collect();
                        if removed.len() == 1 && same.len() == 1 {
                            self.out.push(RustFinding {
                                rule: "EC-S005",
                                path: format!("{path}/{}", same[0].wire),
                                message: format!(
                                    "field `{}` looks renamed to `{}` ({} in `{}`) without `x-renamed-from`: code using `{}` breaks and old messages lose the value",
                                    f.wire.to_snake_case(),
                                    same[0].wire.to_snake_case(),
                                    fty,
                                    nt.name,
                                    f.wire.to_snake_case()
                                ),
                                what: format!("{} -> {} {fty}", f.wire, same[0].wire),
                                old: Some(floc),
                                new: Some(nt.loc.join("properties").join(&same[0].wire)),
                            });
                        } else {
                            self.out.push(RustFinding {
                                rule: "EC-S008",
                                path: fpath,
                                message: format!(
                                    "field `{}` removed from `{}`",
                                    f.wire.to_snake_case(),
                                    nt.name
                                ),
                                what: format!("removed {fty}"),
                                old: Some(floc),
                                new: Some(nt.loc.clone()),
                            });
                        }
                        continue;
                    };
                    let gloc = nt.loc.join("properties").join(&g.wire);
                    if g.wire != f.wire && g.wire.to_snake_case() != f.wire.to_snake_case() {
                        self.out.push(RustFinding {
                            rule: "EC-S003",
                            path: format!("{path}/{}", g.wire),
                            message: format!(
                                "field `{}` of `{}` renamed to `{}` (x-renamed-from keeps old messages readable; code naming the field breaks)",
                                f.wire.to_snake_case(),
                                nt.name,
                                g.wire.to_snake_case()
                            ),
                            what: format!("{} -> {}", f.wire, g.wire),
                            old: Some(floc.clone()),
                            new: Some(gloc.clone()),
                        });
                    }
                    let (a, b) = (self.field_ty(self.og, f), self.field_ty(self.ng, g));
                    let (na, nb) = (named(&f.ty), named(&g.ty));
                    if a != b
                        && !(na.is_some() && nb.is_some() && strip_names(&a) == strip_names(&b))
                    {
                        self.out.push(RustFinding {
                            rule: "EC-S004",
                            path: format!("{path}/{}", g.wire),
                            message: format!(
                                "field `{}` of `{}` changes Rust type from `{a}` to `{b}`",
                                g.wire.to_snake_case(),
                                nt.name
                            ),
                            what: format!("{a} -> {b}"),
                            old: Some(floc),
                            new: Some(gloc),
                        });
                    }
                    if let (Some(x), Some(y)) = (na, nb) {
                        self.cmp(x, y, &format!("{path}/{}", g.wire), false);
                    }
                }
            }
            (TypeKind::StrEnum { values: ov }, TypeKind::StrEnum { values: nv }) => {
                for v in ov.iter().filter(|v| !nv.contains(v)) {
                    self.out.push(RustFinding {
                        rule: "EC-S006",
                        path: path.to_owned(),
                        message: format!(
                            "variant `{}::{}` removed",
                            nt.name,
                            v.to_upper_camel_case()
                        ),
                        what: format!("variant {v:?}"),
                        old: Some(ot.loc.clone()),
                        new: Some(nt.loc.clone()),
                    });
                }
                for v in nv.iter().filter(|v| !ov.contains(v)) {
                    self.out.push(RustFinding {
                        rule: "EC-S007",
                        path: path.to_owned(),
                        message: format!(
                            "variant `{}::{}` added",
                            nt.name,
                            v.to_upper_camel_case()
                        ),
                        what: format!("variant {v:?}"),
                        old: Some(ot.loc.clone()),
                        new: Some(nt.loc.clone()),
                    });
                }
            }
            (
                TypeKind::Tagged {
                    variants: ov,
                    fallback: of,
                    ..
                },
                TypeKind::Tagged {
                    variants: nv,
                    fallback: nf,
                    ..
                },
            ) => {
                for (tag, oid) in ov {
                    match nv.iter().find(|(t, _)| t == tag) {
                        Some((_, nid)) => self.cmp(*oid, *nid, path, false),
                        None => self.out.push(RustFinding {
                            rule: "EC-S006",
                            path: path.to_owned(),
                            message: format!(
                                "variant `{}::{}` removed",
                                nt.name,
                                tag.to_upper_camel_case()
                            ),
                            what: format!("variant {tag:?}"),
                            old: Some(ot.loc.clone()),
                            new: Some(nt.loc.clone()),
                        }),
                    }
                }
                for (tag, _) in nv.iter().filter(|(t, _)| !ov.iter().any(|(o, _)| o == t)) {
                    self.out.push(RustFinding {
                        rule: "EC-S007",
                        path: path.to_owned(),
                        message: format!(
                            "variant `{}::{}` added",
                            nt.name,
                            tag.to_upper_camel_case()
                        ),
                        what: format!("variant {tag:?}"),
                        old: Some(ot.loc.clone()),
                        new: Some(nt.loc.clone()),
                    });
                }
                if let (Some(a), Some(b)) = (of, nf) {
                    self.cmp(*a, *b, path, false);
                }
            }
            (TypeKind::Newtype(a), TypeKind::Newtype(b)) => {
                let (x, y) = (rust_ty(self.og, a), rust_ty(self.ng, b));
                if x != y && strip_names(&x) != strip_names(&y) {
                    self.out.push(RustFinding {
                        rule: "EC-S004",
                        path: path.to_owned(),
                        message: format!(
                            "`{}` changes its inner Rust type from `{x}` to `{y}`",
                            nt.name
                        ),
                        what: format!("{x} -> {y}"),
                        old: Some(ot.loc.clone()),
                        new: Some(nt.loc.clone()),
                    });
                }
                if let (Some(p), Some(q)) = (named(a), named(b)) {
                    self.cmp(p, q, path, false);
                }
            }
            (a, b) if std::mem::discriminant(a) != std::mem::discriminant(b) => {
                self.out.push(RustFinding {
                    rule: "EC-S004",
                    path: path.to_owned(),
                    message: format!(
                        "`{}` changes from {} to {}",
                        nt.name,
                        kind_name(a),
                        kind_name(b)
                    ),
                    what: format!("{} -> {}", kind_name(a), kind_name(b)),
                    old: Some(ot.loc.clone()),
                    new: Some(nt.loc.clone()),
                });
            }
            _ => {}
        }
    }

    fn field_ty(&self, g: &TypeGraph, f: &event_contracts_codegen::model::Field) -> String {
        let t = rust_ty(g, &f.ty);
        if f.required {
            t
        } else {
            format!("Option<{t}>")
        }
    }
}

/// A Rust type with named types blanked, so a renamed type is not also a changed field type.
fn strip_names(t: &str) -> String {
    let known = [
        "Vec",
        "Option",
        "BTreeMap",
        "String",
        "u64",
        "i64",
        "f64",
        "bool",
        "DateTime",
        "Uuid",
        "serde_json",
        "Value",
        "Map",
    ];
    t.split(|c: char| !c.is_alphanumeric() && c != '_')
        .map(|w| {
            if w.is_empty() || known.contains(&w) {
                w.to_owned()
            } else {
                "_".to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn kind_name(k: &TypeKind) -> &'static str {
    match k {
        TypeKind::Struct { .. } => "a struct",
        TypeKind::Newtype(_) => "a newtype",
        TypeKind::StrEnum { .. } => "an enum",
        TypeKind::Tagged { .. } => "a tagged union",
    }
}

/// Type graphs of one side: per system, the envelope type and each event's root type.
/// A system's type graph, its envelope type and each event's root type.
type SystemGraph = (TypeGraph, Option<usize>, HashMap<String, usize>);

struct Graphs {
    systems: HashMap<String, SystemGraph>,
}

fn graphs(cat: &Catalog) -> Graphs {
    let mut systems = HashMap::new();
    for sys in &cat.systems {
        let mut b = Builder::new(cat);
        let title = |file: &str| -> Option<String> {
            cat.files
                .get(file)?
                .value
                .get("title")?
                .as_str()
                .map(str::to_owned)
        };
        let envelope = match &sys.manifest.envelope {
            Envelope::Wrapped {
                schema,
                payload_field,
                ..
            } => {
                let file = format!("{}/{}", sys.dir, schema);
                cat.files.contains_key(&file).then(|| {
                    let name = title(&file).unwrap_or_else(|| {
                        format!("{}Envelope", sys.manifest.system.to_upper_camel_case())
                    });
                    b.envelope(&Loc::new(file, ""), &name, payload_field)
                })
            }
            Envelope::Flat => None,
        };
        let mut evs = HashMap::new();
        for e in &sys.manifest.events {
            let file = format!("{}/{}", sys.dir, e.schema);
            if !cat.files.contains_key(&file) {
                continue;
            }
            let name = title(&file).unwrap_or_else(|| e.name.to_upper_camel_case());
            evs.insert(e.name.clone(), b.root(&Loc::new(file, ""), &name));
        }
        systems.insert(sys.manifest.system.clone(), (b.graph, envelope, evs));
    }
    Graphs { systems }
}

// ------------------------------------------------------------------------------------------

fn channel_text(e: &EventEntry) -> String {
    serde_json::to_string(&e.channel).unwrap_or_default()
}

/// The envelope declaration as it shapes messages. `also_read` only tells consumers where else
/// to look for a role's value, so adding or removing a location changes no message.
fn envelope_text(e: &Envelope) -> String {
    let mut shaping = e.clone();
    if let Envelope::Wrapped { also_read, .. } = &mut shaping {
        *also_read = AlsoRead::default();
    }
    serde_json::to_string(&shaping).unwrap_or_default()
}

struct EventRun<'x> {
    findings: Vec<Finding>,
    bw: Verdict,
    fw: Verdict,
    _p: std::marker::PhantomData<&'x ()>,
}

/// Compares one event's messages between two sides.
#[allow(clippy::too_many_arguments)]
fn compare_event(
    sides: [&Loaded; 2],
    norms: [&mut Normalizer; 2],
    evs: [&Ev; 2],
    options: &Options,
    mode: Mode,
    system: &str,
    event: &str,
) -> Result<EventRun<'static>, CompatError> {
    let [no, nn] = norms;
    let mo = message(no, sides[0], evs[0]);
    let mn = message(nn, sides[1], evs[1]);
    for (n, side) in [(&*no, Side::Old), (&*nn, Side::New)] {
        if let Some(e) = n.errors.first() {
            return Err(CompatError::Parse {
                side,
                message: e.clone(),
            });
        }
    }
    let mut c = Comparer::new(options.semantics);
    c.compare(&mo.schema, &mn.schema);
    let mut ver = Verifier::new(sides, [&mo, &mn], options.semantics);
    let decided = decide_changes(
        &c.changes,
        &mut ver,
        sides,
        options,
        mode,
        Some(system),
        Some(event),
    );
    let mut bw = Verdict::Compatible;
    let mut fw = Verdict::Compatible;
    let mut findings = Vec::new();
    for d in decided {
        bw = worst(bw, d.bw);
        fw = worst(fw, d.fw);
        findings.push(d.finding);
    }
    Ok(EventRun {
        findings,
        bw,
        fw,
        _p: std::marker::PhantomData,
    })
}

pub fn check_catalogs(
    old: &[(String, String)],
    new: &[(String, String)],
    history: &[(String, Vec<(String, String)>)],
    options: &Options,
) -> Result<Report, CompatError> {
    let lo = Loaded::catalog(Side::Old, old)?;
    let ln = Loaded::catalog(Side::New, new)?;
    let hist: Vec<(String, Loaded)> = history
        .iter()
        .map(|(label, files)| Ok((label.clone(), Loaded::catalog(Side::Old, files)?)))
        .collect::<Result<_, CompatError>>()?;
    let eo = events(&lo.cat);
    let en = events(&ln.cat);
    let mut norm_o = Normalizer::new(&lo.cat, &options.path_prefix);
    let mut norm_n = Normalizer::new(&ln.cat, &options.path_prefix);
    let mut report = Report {
        format_version: crate::FORMAT_VERSION,
        ..Report::default()
    };
    // Codegen's type builder has no `$ref` cycle guard: find cycles first.
    for (l, norm) in [(&lo, &mut norm_o), (&ln, &mut norm_n)] {
        let files: Vec<String> = l
            .cat
            .files
            .keys()
            .filter(|p| !p.ends_with("manifest.json"))
            .cloned()
            .collect();
        for f in files {
            norm.node(&Loc::new(f, ""));
        }
    }
    let needs_graphs =
        eo.iter().any(|(k, _)| en.contains_key(k)) && !norm_o.recursive && !norm_n.recursive;
    let (go, gn) = if needs_graphs {
        (Some(graphs(&lo.cat)), Some(graphs(&ln.cat)))
    } else {
        (None, None)
    };
    let renamed_to = renames(&eo, &en, &mut norm_o, &mut norm_n);
    let renamed_from: HashMap<(&str, &str), &str> = renamed_to
        .iter()
        .map(|((system, old), new)| ((system.as_str(), new.as_str()), old.as_str()))
        .collect();
    let mut keys: BTreeSet<&(String, String)> = eo.keys().collect();
    keys.extend(en.keys());
    let loc_of = |l: &Loaded, loc: &Loc| Some(l.location(loc, &options.path_prefix));
    for key in keys {
        let (system, name) = (key.0.as_str(), key.1.as_str());
        let (o, n) = (eo.get(key), en.get(key));
        let declared = n
            .or(o)
            .map(|e| mode_of(e.entry.compatibility))
            .unwrap_or(Mode::Backward);
        let mode = options.mode.unwrap_or(declared);
        let (producers, consumers) = n
            .or(o)
            .map(|e| (e.entry.producers.clone(), e.entry.consumers.clone()))
            .unwrap_or_default();
        let mut summary = EventSummary {
            system: system.to_owned(),
            event: name.to_owned(),
            change: "unchanged",
            declared_mode: declared,
            backward: Verdict::Compatible,
            forward: Verdict::Compatible,
            rollout: Rollout::AnyOrder,
            producers,
            consumers,
            renamed: None,
        };
        let simple = |verdict: Verdict| Resolved {
            verdict,
            counterexample: None,
            keyword: None,
        };
        match (o, n) {
            (Some(o), None) => {
                summary.change = "removed";
                // An old producer still writes it; the new catalog has no schema for it.
                let mo = message(&mut norm_o, &lo, o);
                let mut counterexample = None;
                if let Ok(v) = compile(&lo.docs, &mo.validator_schema) {
                    let base = mo
                        .examples
                        .iter()
                        .find(|e| v.is_valid(e))
                        .cloned()
                        .or_else(|| synth::synth(&mo.schema, false).filter(|e| v.is_valid(e)));
                    counterexample = base.map(|m| Counterexample {
                        message: m,
                        accepted_by: Side::Old,
                        rejected_because: format!(
                            "{}: no event `{name}` in system `{system}` of the new catalog",
                            display_pointer("")
                        ),
                    });
                }
                let bw = Resolved {
                    verdict: if counterexample.is_some() {
                        Verdict::Incompatible
                    } else {
                        Verdict::Unknown
                    },
                    keyword: counterexample.is_none().then(|| "event".to_owned()),
                    counterexample,
                };
                let fw = simple(Verdict::Compatible);
                let r = combine(mode, &bw, &fw);
                let renamed = renamed_to.get(key).and_then(|new_name| {
                    Some((new_name, en.get(&(key.0.clone(), new_name.clone()))?))
                });
                report.findings.push(match renamed {
                    Some((new_name, added)) => {
                        summary.renamed = Some(new_name.clone());
                        finding(
                            "EC-T006",
                            &r,
                            Some(system),
                            Some(name),
                            mode,
                            "",
                            format!(
                                "event `{name}` removed and `{new_name}` added: looks like a rename of `{name}` (same schema)"
                            ),
                            &format!("renamed to {new_name:?}"),
                            loc_of(&lo, &o.manifest_loc()),
                            loc_of(&ln, &added.manifest_loc()),
                        )
                    }
                    None => finding(
                        "EC-T001",
                        &r,
                        Some(system),
                        Some(name),
                        mode,
                        "",
                        format!("event `{name}` removed from system `{system}`"),
                        "removed",
                        loc_of(&lo, &o.manifest_loc()),
                        None,
                    ),
                });
                summary.backward = bw.verdict;
                summary.forward = fw.verdict;
            }
            (None, Some(n)) => {
                summary.change = "added";
                if let Some(old_name) = renamed_from.get(&(system, name)) {
                    // The removed event's EC-T006 finding says it all.
                    summary.renamed = Some((*old_name).to_owned());
                    summary.rollout = rollout(summary.backward, summary.forward);
                    report.events.push(summary);
                    continue;
                }
                report.findings.push(finding(
                    "EC-T004",
                    &simple(Verdict::Compatible),
                    Some(system),
                    Some(name),
                    mode,
                    "",
                    format!("event `{name}` added to system `{system}`"),
                    "added",
                    None,
                    loc_of(&ln, &n.manifest_loc()),
                ));
            }
            (Some(o), Some(n)) => {
                let mut findings = Vec::new();
                let mut bw = Verdict::Compatible;
                let mut fw = Verdict::Compatible;
                let incompatible = simple(Verdict::Incompatible);
                let transport = |rule: &str,
                                 message: String,
                                 what: String,
                                 findings: &mut Vec<Finding>,
                                 old_ptr: &str,
                                 new_ptr: &str| {
                    let r = combine(mode, &incompatible, &incompatible);
                    findings.push(finding(
                        rule,
                        &r,
                        Some(system),
                        Some(name),
                        mode,
                        "",
                        message,
                        &what,
                        loc_of(&lo, &o.manifest_loc().join(old_ptr)),
                        loc_of(&ln, &n.manifest_loc().join(new_ptr)),
                    ));
                };
                if o.entry.channel != n.entry.channel {
                    transport(
                        "EC-T002",
                        format!(
                            "channel changed from {} to {}: producers and consumers on different sides of the deploy stop meeting",
                            channel_text(o.entry),
                            channel_text(n.entry)
                        ),
                        format!("{} -> {}", channel_text(o.entry), channel_text(n.entry)),
                        &mut findings,
                        "channel",
                        "channel",
                    );
                    bw = Verdict::Incompatible;
                    fw = Verdict::Incompatible;
                }
                if envelope_text(o.envelope) != envelope_text(n.envelope) {
                    transport(
                        "EC-T003",
                        format!(
                            "envelope changed from {} to {}",
                            envelope_text(o.envelope),
                            envelope_text(n.envelope)
                        ),
                        format!(
                            "{} -> {}",
                            envelope_text(o.envelope),
                            envelope_text(n.envelope)
                        ),
                        &mut findings,
                        "",
                        "",
                    );
                    bw = Verdict::Incompatible;
                    fw = Verdict::Incompatible;
                }
                if o.schema_file != n.schema_file {
                    findings.push(finding(
                        "EC-T005",
                        &simple(Verdict::Compatible),
                        Some(system),
                        Some(name),
                        mode,
                        "",
                        format!(
                            "schema file moved from `{}` to `{}` (same event)",
                            o.schema_file, n.schema_file
                        ),
                        &format!("{} -> {}", o.schema_file, n.schema_file),
                        loc_of(&lo, &o.manifest_loc().join("schema")),
                        loc_of(&ln, &n.manifest_loc().join("schema")),
                    ));
                }
                let run = compare_event(
                    [&lo, &ln],
                    [&mut norm_o, &mut norm_n],
                    [o, n],
                    options,
                    mode,
                    system,
                    name,
                )?;
                bw = worst(bw, run.bw);
                fw = worst(fw, run.fw);
                findings.extend(run.findings);
                // Earlier releases, for transitive modes.
                if is_transitive(mode) {
                    for (label, h) in &hist {
                        let eh = events(&h.cat);
                        let Some(hev) = eh.get(key) else { continue };
                        let mut norm_h = Normalizer::new(&h.cat, &options.path_prefix);
                        let hrun = compare_event(
                            [h, &ln],
                            [&mut norm_h, &mut norm_n],
                            [hev, n],
                            options,
                            mode,
                            system,
                            name,
                        )?;
                        for mut f in hrun.findings {
                            if f.verdict != Verdict::Compatible {
                                f.against_version = Some(label.clone());
                                findings.push(f);
                            }
                        }
                        bw = worst(bw, hrun.bw);
                        fw = worst(fw, hrun.fw);
                    }
                }
                // The generated Rust API.
                if let (Some(go), Some(gn)) = (&go, &gn) {
                    if let (Some((og, _, oe)), Some((ng, _, ne))) =
                        (go.systems.get(system), gn.systems.get(system))
                    {
                        if let (Some(&oid), Some(&nid)) = (oe.get(name), ne.get(name)) {
                            let mut rc = RustCmp {
                                og,
                                ng,
                                seen: BTreeSet::new(),
                                out: Vec::new(),
                            };
                            rc.cmp(oid, nid, &n.payload_prefix(), true);
                            for rf in rc.out {
                                let r = combine(mode, &incompatible, &incompatible);
                                findings.push(finding(
                                    rf.rule,
                                    &r,
                                    Some(system),
                                    Some(name),
                                    mode,
                                    &rf.path,
                                    rf.message,
                                    &rf.what,
                                    rf.old.and_then(|l| loc_of(&lo, &l)),
                                    rf.new.and_then(|l| loc_of(&ln, &l)),
                                ));
                            }
                        }
                    }
                }
                // Policy.
                if o.entry.compatibility != n.entry.compatibility {
                    findings.push(finding(
                        "EC-P001",
                        &simple(Verdict::Compatible),
                        Some(system),
                        Some(name),
                        mode,
                        "",
                        format!(
                            "compatibility mode changed from {:?} to {:?}",
                            mode_of(o.entry.compatibility),
                            mode_of(n.entry.compatibility)
                        ),
                        &format!("{:?} -> {:?}", o.entry.compatibility, n.entry.compatibility),
                        loc_of(&lo, &o.manifest_loc()),
                        loc_of(&ln, &n.manifest_loc()),
                    ));
                }
                let breaking = findings.iter().any(|f| {
                    f.verdict == Verdict::Incompatible
                        && matches!(f.category, Category::Data | Category::Transport)
                });
                if o.entry.version != n.entry.version {
                    findings.push(finding(
                        "EC-P004",
                        &simple(Verdict::Compatible),
                        Some(system),
                        Some(name),
                        mode,
                        "",
                        format!(
                            "event version changed from {} to {}",
                            o.entry.version, n.entry.version
                        ),
                        &format!("{} -> {}", o.entry.version, n.entry.version),
                        loc_of(&lo, &o.manifest_loc().join("version")),
                        loc_of(&ln, &n.manifest_loc().join("version")),
                    ));
                } else if breaking {
                    findings.push(finding(
                        "EC-P002",
                        &simple(Verdict::Incompatible),
                        Some(system),
                        Some(name),
                        mode,
                        "",
                        format!("breaking change to `{name}` under {mode:?} without a version bump (still {})", n.entry.version),
                        &format!("version {}", n.entry.version),
                        loc_of(&lo, &o.manifest_loc().join("version")),
                        loc_of(&ln, &n.manifest_loc().join("version")),
                    ));
                }
                if o.entry.producers != n.entry.producers || o.entry.consumers != n.entry.consumers
                {
                    findings.push(finding(
                        "EC-P003",
                        &simple(Verdict::Compatible),
                        Some(system),
                        Some(name),
                        mode,
                        "",
                        format!(
                            "producers {:?} → {:?}, consumers {:?} → {:?}",
                            o.entry.producers,
                            n.entry.producers,
                            o.entry.consumers,
                            n.entry.consumers
                        ),
                        "producers or consumers",
                        loc_of(&lo, &o.manifest_loc()),
                        loc_of(&ln, &n.manifest_loc()),
                    ));
                }
                if !findings.is_empty() {
                    summary.change = "changed";
                }
                summary.backward = bw;
                summary.forward = fw;
                report.findings.extend(findings);
            }
            (None, None) => {}
        }
        summary.rollout = rollout(summary.backward, summary.forward);
        report.events.push(summary);
    }
    // Envelope Rust types, once per system.
    if let (Some(go), Some(gn)) = (&go, &gn) {
        let mut systems: Vec<&String> = go.systems.keys().collect();
        systems.sort();
        for system in systems {
            let (Some((og, Some(oid), _)), Some((ng, Some(nid), _))) =
                (go.systems.get(system), gn.systems.get(system))
            else {
                continue;
            };
            let mut rc = RustCmp {
                og,
                ng,
                seen: BTreeSet::new(),
                out: Vec::new(),
            };
            rc.cmp(*oid, *nid, "", false);
            for rf in rc.out {
                let r = Resolved {
                    verdict: Verdict::Incompatible,
                    counterexample: None,
                    keyword: None,
                };
                report.findings.push(finding(
                    rf.rule,
                    &r,
                    Some(system),
                    None,
                    Mode::Backward,
                    &rf.path,
                    rf.message,
                    &rf.what,
                    rf.old.and_then(|l| loc_of(&lo, &l)),
                    rf.new.and_then(|l| loc_of(&ln, &l)),
                ));
            }
        }
    }
    sort_report(&mut report);
    Ok(report)
}

/// Events removed from a system and events added to it whose payload schemas are equal once
/// normalised (the normal form keeps no `$id`, `title`, `description` or examples), paired
/// one to one: (system, old name) → new name. An event matching several others is left
/// unpaired: which one it became is a guess.
fn renames(
    eo: &BTreeMap<(String, String), Ev>,
    en: &BTreeMap<(String, String), Ev>,
    norm_o: &mut Normalizer,
    norm_n: &mut Normalizer,
) -> BTreeMap<(String, String), String> {
    /// ((system, event), payload shape) of the events in `evs` that `others` lacks.
    fn only_in(
        evs: &BTreeMap<(String, String), Ev>,
        others: &BTreeMap<(String, String), Ev>,
        norm: &mut Normalizer,
    ) -> Vec<((String, String), String)> {
        evs.iter()
            .filter(|(k, _)| !others.contains_key(*k))
            .map(|(k, ev)| {
                let payload = norm.node(&Loc::new(ev.schema_file.clone(), ""));
                (k.clone(), shape_key(&payload))
            })
            .collect()
    }
    fn same_shape<'l>(
        list: &'l [((String, String), String)],
        system: &str,
        shape: &str,
    ) -> Vec<&'l str> {
        list.iter()
            .filter(|(k, s)| k.0 == system && s == shape)
            .map(|(k, _)| k.1.as_str())
            .collect()
    }
    let removed = only_in(eo, en, norm_o);
    if removed.is_empty() {
        return BTreeMap::new();
    }
    let added = only_in(en, eo, norm_n);
    let mut out = BTreeMap::new();
    for (old_key, shape) in &removed {
        if let [new_name] = same_shape(&added, &old_key.0, shape).as_slice() {
            if same_shape(&removed, &old_key.0, shape).len() == 1 {
                out.insert(old_key.clone(), (*new_name).to_owned());
            }
        }
    }
    out
}

pub fn check_files(
    old: (&str, &str),
    new: (&str, &str),
    mode: Mode,
    options: &Options,
) -> Result<Report, CompatError> {
    let lo = Loaded::file(Side::Old, old.0, old.1)?;
    let ln = Loaded::file(Side::New, new.0, new.1)?;
    let mode = options.mode.unwrap_or(mode);
    let mut norm_o = Normalizer::new(&lo.cat, &options.path_prefix);
    let mut norm_n = Normalizer::new(&ln.cat, &options.path_prefix);
    let so = norm_o.node(&Loc::new(old.0, ""));
    let sn = norm_n.node(&Loc::new(new.0, ""));
    for (n, side) in [(&norm_o, Side::Old), (&norm_n, Side::New)] {
        if let Some(e) = n.errors.first() {
            return Err(CompatError::Parse {
                side,
                message: e.clone(),
            });
        }
    }
    let msg = |l: &Loaded, s: Schema, name: &str| Message {
        validator_schema: l
            .cat
            .files
            .get(name)
            .map(|f| f.value.clone())
            .unwrap_or(Value::Bool(true)),
        examples: l
            .cat
            .files
            .get(name)
            .and_then(|f| f.value.get("examples"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        schema: s,
    };
    let mo = msg(&lo, so, old.0);
    let mn = msg(&ln, sn, new.0);
    for (m, l, side) in [(&mo, &lo, Side::Old), (&mn, &ln, Side::New)] {
        compile(&l.docs, &m.validator_schema).map_err(|e| CompatError::Parse {
            side,
            message: format!(
                "{}: the schema does not compile: {e}",
                if side == Side::Old { old.0 } else { new.0 }
            ),
        })?;
    }
    let mut c = Comparer::new(options.semantics);
    c.compare(&mo.schema, &mn.schema);
    let mut ver = Verifier::new([&lo, &ln], [&mo, &mn], options.semantics);
    let decided = decide_changes(&c.changes, &mut ver, [&lo, &ln], options, mode, None, None);
    let mut report = Report {
        format_version: crate::FORMAT_VERSION,
        ..Report::default()
    };
    let (mut bw, mut fw) = (Verdict::Compatible, Verdict::Compatible);
    for d in decided {
        bw = worst(bw, d.bw);
        fw = worst(fw, d.fw);
        report.findings.push(d.finding);
    }
    // The generated Rust API of the one type.
    let title = |l: &Loaded, name: &str| -> String {
        l.cat
            .files
            .get(name)
            .and_then(|f| f.value.get("title"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                name.rsplit('/')
                    .next()
                    .unwrap_or(name)
                    .trim_end_matches(".json")
                    .to_upper_camel_case()
            })
    };
    // Codegen's type builder follows `$ref` chains without a cycle guard: skip the Rust API
    // of recursive schemas.
    let rust_findings = if norm_o.recursive || norm_n.recursive {
        Vec::new()
    } else {
        let mut bo = Builder::new(&lo.cat);
        let oid = bo.root(&Loc::new(old.0, ""), &title(&lo, old.0));
        let mut bn = Builder::new(&ln.cat);
        let nid = bn.root(&Loc::new(new.0, ""), &title(&ln, new.0));
        let mut rc = RustCmp {
            og: &bo.graph,
            ng: &bn.graph,
            seen: BTreeSet::new(),
            out: Vec::new(),
        };
        rc.cmp(oid, nid, "", true);
        rc.out
    };
    for rf in rust_findings {
        let r = combine(
            mode,
            &Resolved {
                verdict: Verdict::Incompatible,
                counterexample: None,
                keyword: None,
            },
            &Resolved {
                verdict: Verdict::Incompatible,
                counterexample: None,
                keyword: None,
            },
        );
        report.findings.push(finding(
            rf.rule,
            &r,
            None,
            None,
            mode,
            &rf.path,
            rf.message,
            &rf.what,
            rf.old.map(|l| lo.location(&l, &options.path_prefix)),
            rf.new.map(|l| ln.location(&l, &options.path_prefix)),
        ));
    }
    let name = title(&ln, new.0);
    report.events.push(EventSummary {
        system: String::new(),
        event: name,
        change: if report.findings.is_empty() {
            "unchanged"
        } else {
            "changed"
        },
        declared_mode: mode,
        backward: bw,
        forward: fw,
        rollout: rollout(bw, fw),
        producers: vec![],
        consumers: vec![],
        renamed: None,
    });
    sort_report(&mut report);
    Ok(report)
}

fn verdict_rank(v: Verdict) -> u8 {
    match v {
        Verdict::Incompatible => 0,
        Verdict::Unknown => 1,
        Verdict::Compatible => 2,
    }
}

pub fn sort_report(r: &mut Report) {
    r.findings.sort_by(|a, b| {
        (
            &a.system,
            &a.event,
            verdict_rank(a.verdict),
            &a.path,
            a.rule,
            &a.against_version,
        )
            .cmp(&(
                &b.system,
                &b.event,
                verdict_rank(b.verdict),
                &b.path,
                b.rule,
                &b.against_version,
            ))
    });
    r.findings.dedup_by(|a, b| {
        a.rule == b.rule
            && a.path == b.path
            && a.system == b.system
            && a.event == b.event
            && a.message == b.message
            && a.against_version == b.against_version
    });
    r.events
        .sort_by(|a, b| (&a.system, &a.event).cmp(&(&b.system, &b.event)));
}
