//! The comparison: old and new canonical schemas walked together. Every difference becomes a
//! [`Change`] with a rule and two decisions: BACKWARD (every message an old producer writes is
//! accepted by a new consumer) and FORWARD (the converse), each holding, breaking with recipes
//! for a counterexample, or unknown with the keyword that could not be decided.

use std::collections::BTreeSet;

use event_contracts_codegen::catalog::Loc;
use event_contracts_codegen::source::escape_token;
use serde_json::Value;

use crate::finding::Semantics;
use crate::lang::{self, Search};
use crate::rules::{self, Rule};
use crate::schema::{
    self, eval, json_eq, type_names, Bound, Schema, ARR, BOOL, INT, NULL, NUM, OBJ, STR,
};
use crate::synth::{self, Leaf, Mutation, Recipe, Seg};

mod arrays;
mod counts;
mod dependents;
mod enums;
mod negation;
mod numbers;
mod objects;
mod opaque;
mod patterns;
mod strings;
mod types;
mod unions;

use opaque::first_opaque;
use unions::{spread_mode, union_tag};

/// One direction's decision.
#[derive(Clone, Debug, PartialEq)]
pub enum Dec {
    Holds,
    /// Ways to build a counterexample from an instance of the accepting side (old for
    /// BACKWARD, new for FORWARD).
    Breaks(Vec<Recipe>),
    Unknown(String),
}

impl Dec {
    pub fn holds(&self) -> bool {
        matches!(self, Dec::Holds)
    }
}

#[derive(Clone, Debug)]
pub struct Change {
    pub rule: &'static Rule,
    /// Pointer into the message.
    pub path: String,
    pub message: String,
    pub old: Option<Loc>,
    pub new: Option<Loc>,
    pub backward: Dec,
    pub forward: Dec,
    /// The keyword an unverified break is undecided on.
    pub keyword: String,
    /// What broke, canonically: the values, bounds, names or constraint involved (sorted
    /// where they are sets), never line numbers or message wording. It enters the
    /// fingerprint, so a larger break at the same place needs its own allow-list entry.
    pub what: String,
    /// What the finding's fingerprint is computed from: `path` with every union branch the
    /// change lies in named (`/data/oneOf[type="a"]/x`), so that the same change in two
    /// branches gets two fingerprints. Equal to `path` outside unions.
    pub fp: String,
    /// The innermost union branch the change lies in, for merging the copies of one change
    /// to the surrounding schema that every branch reports.
    mark: Option<BranchMark>,
}

/// A union branch a change lies in.
#[derive(Clone, Debug, PartialEq)]
struct BranchMark {
    /// How many branches deep (1: a branch of an outermost union).
    depth: usize,
    /// The branch's description in messages.
    desc: String,
    /// The fingerprint path of the union, and of the branch.
    outer_fp: String,
    inner_fp: String,
}

#[derive(Clone, Debug, Default)]
struct Cx {
    path: String,
    old_segs: Vec<Seg>,
    new_segs: Vec<Seg>,
    /// Inside a union branch: a description for messages.
    branch: Option<String>,
    /// The fingerprint path: `path` with the union branches named.
    fp: String,
    /// The innermost union branch.
    mark: Option<BranchMark>,
}

impl Cx {
    fn prop(&self, name: &str) -> Cx {
        self.prop2(name, name)
    }

    fn prop2(&self, old: &str, new: &str) -> Cx {
        let mut c = self.clone();
        c.path = format!("{}/{}", self.path, escape_token(new));
        c.fp = format!("{}/{}", self.fp, escape_token(new));
        c.old_segs.push(Seg::Prop(old.to_owned()));
        c.new_segs.push(Seg::Prop(new.to_owned()));
        c
    }

    fn child(&self, token: &str, seg: Seg) -> Cx {
        let mut c = self.clone();
        c.path = format!("{}/{}", self.path, token);
        c.fp = format!("{}/{}", self.fp, token);
        c.old_segs.push(seg.clone());
        c.new_segs.push(seg);
        c
    }

    fn old_at(&self, leaf: Leaf) -> Dec {
        Dec::Breaks(vec![vec![Mutation {
            segs: self.old_segs.clone(),
            leaf,
        }]])
    }

    fn new_at(&self, leaf: Leaf) -> Dec {
        Dec::Breaks(vec![vec![Mutation {
            segs: self.new_segs.clone(),
            leaf,
        }]])
    }

    fn here(&self) -> String {
        let at = if self.path.is_empty() {
            "the message root".to_owned()
        } else {
            format!("`{}`", self.path)
        };
        match &self.branch {
            Some(b) => format!("{at} ({b})"),
            None => at,
        }
    }
}

fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(57).map(|(i, _)| i).unwrap_or(s.len())]
        )
    } else {
        s
    }
}

fn show_list(vs: &[Value]) -> String {
    vs.iter().map(show).collect::<Vec<_>>().join(", ")
}

/// A value as JSON with object keys sorted at every level, so equal values print equally
/// whatever order their source wrote the keys in.
pub(crate) fn canon(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canon(&m[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(canon).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// A set of values in canonical, sorted form (whatever order the schema listed them in).
fn canon_set(vs: &[Value]) -> String {
    let set: BTreeSet<String> = vs.iter().map(canon).collect();
    format!("[{}]", set.into_iter().collect::<Vec<_>>().join(","))
}

/// Types a schema restricted to one aspect holds, ignoring the other aspects.
fn str_view(s: &Schema) -> Schema {
    Schema {
        types: Some(STR),
        min_length: s.min_length,
        max_length: s.max_length,
        patterns: s.patterns.clone(),
        format: s.format.clone(),
        ..Schema::default()
    }
}

fn num_view(s: &Schema, integral: bool) -> Schema {
    Schema {
        types: Some(if integral { INT } else { INT | NUM }),
        lower: s.lower,
        upper: s.upper,
        multiple_of: s.multiple_of,
        ..Schema::default()
    }
}

fn lower_le(x: Option<Bound>, y: Option<Bound>) -> bool {
    match (x, y) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => {
            a.value < b.value || (a.value == b.value && (!a.exclusive || b.exclusive))
        }
    }
}

fn upper_ge(x: Option<Bound>, y: Option<Bound>) -> bool {
    match (x, y) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => {
            a.value > b.value || (a.value == b.value && (!a.exclusive || b.exclusive))
        }
    }
}

fn show_bound(b: Option<Bound>, lower: bool) -> String {
    match b {
        None => "none".into(),
        Some(b) => {
            let op = match (lower, b.exclusive) {
                (true, false) => ">=",
                (true, true) => ">",
                (false, false) => "<=",
                (false, true) => "<",
            };
            format!("{op} {}", synth::num_value(b.value))
        }
    }
}

fn lowest_kind(t: schema::Types) -> schema::Types {
    for k in [NULL, BOOL, OBJ, ARR, STR, INT, NUM] {
        if t & k != 0 {
            return k;
        }
    }
    0
}

/// A loc-free rendering of a schema, for pairing union branches that did not change (and
/// events that were renamed).
pub(crate) fn shape_key(s: &Schema) -> String {
    fn strip(s: &Schema) -> Schema {
        let mut c = s.clone();
        c.loc = None;
        c.title = None;
        c.kw_locs.clear();
        c.items = c.items.map(|i| Box::new(strip(&i)));
        for p in c.prefix.iter_mut() {
            *p = strip(p);
        }
        for k in c.contains.iter_mut() {
            k.schema = strip(&k.schema);
        }
        c.additional = c.additional.map(|i| Box::new(strip(&i)));
        for (_, p) in c.pattern_props.iter_mut() {
            *p = strip(p);
        }
        for p in c.dependent_schemas.values_mut() {
            *p = strip(p);
        }
        for p in c.negated.iter_mut() {
            *p = strip(p);
        }
        for (_, p) in c.props.iter_mut() {
            p.loc = None;
            p.schema = strip(&p.schema);
        }
        for l in c.one_of.iter_mut().chain(c.any_of.iter_mut()) {
            for b in l.iter_mut() {
                *b = strip(b);
            }
        }
        for o in c.opaque.iter_mut() {
            o.loc = Loc::new("", "");
        }
        c
    }
    format!("{:?}", strip(s))
}

/// The comparison of two schemas.
pub struct Comparer {
    pub semantics: Semantics,
    pub changes: Vec<Change>,
    depth: usize,
}

impl Comparer {
    pub fn new(semantics: Semantics) -> Self {
        Self {
            semantics,
            changes: Vec::new(),
            depth: 0,
        }
    }

    /// Compares two whole messages.
    pub fn compare(&mut self, old: &Schema, new: &Schema) {
        self.cmp(old, new, &Cx::default());
    }

    /// Whether every instance of `a` (as a producer writes it) is accepted by `b`.
    fn subset(&self, a: &Schema, b: &Schema) -> Option<bool> {
        if self.depth > 8 {
            return None;
        }
        let mut c = Comparer {
            semantics: self.semantics,
            changes: Vec::new(),
            depth: self.depth + 1,
        };
        c.cmp(a, b, &Cx::default());
        let mut unknown = false;
        for ch in &c.changes {
            match ch.backward {
                Dec::Breaks(_) => return Some(false),
                Dec::Unknown(_) => unknown = true,
                Dec::Holds => {}
            }
        }
        (!unknown).then_some(true)
    }

    /// Whether a producer of `s` may write property `name` although it does not declare it:
    /// it may write undeclared properties at all, `name` matches one of its
    /// `patternProperties`, or `s` has an `additionalProperties` schema (both generated as a
    /// map beside the struct's fields, so any key they admit can carry any value they accept).
    fn writes_key(&self, s: &Schema, name: &str) -> bool {
        s.prop(name).is_some()
            || self.producer_open(s)
            || s.additional.as_deref().is_some_and(|a| !a.never)
            || s.pattern_props
                .iter()
                .any(|(p, _)| schema::pattern_matches(p, name) != Some(false))
    }

    /// Whether a producer of `s` may write properties it does not declare.
    fn producer_open(&self, s: &Schema) -> bool {
        self.semantics == Semantics::Set
            || s.keep_unknown
            || (s.props.is_empty()
                && s.one_of
                    .iter()
                    .chain(&s.any_of)
                    .flatten()
                    .all(|b| b.props.is_empty()))
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        rule: &'static Rule,
        cx: &Cx,
        message: String,
        what: String,
        old: Option<Loc>,
        new: Option<Loc>,
        backward: Dec,
        forward: Dec,
    ) {
        self.changes.push(Change {
            rule,
            path: cx.path.clone(),
            message,
            what,
            old,
            new,
            backward,
            forward,
            keyword: rule.keyword.to_owned(),
            fp: cx.fp.clone(),
            mark: cx.mark.clone(),
        });
    }

    /// Names the branch(es) a union-level finding is about in its fingerprint.
    fn set_fp(&mut self, fp: String) {
        if let Some(c) = self.changes.last_mut() {
            c.fp = fp;
        }
    }

    fn set_keyword(&mut self, keyword: &str) {
        if let Some(c) = self.changes.last_mut() {
            c.keyword = keyword.to_owned();
        }
    }

    fn cmp(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        if (o.never && n.never) || (o.is_any() && n.is_any()) {
            return;
        }
        if o.never || n.never {
            let (bw, fw) = if n.never {
                (cx.old_at(Leaf::Keep), Dec::Holds)
            } else {
                (Dec::Holds, cx.new_at(Leaf::Keep))
            };
            let what = if n.never {
                "now accepts no value"
            } else {
                "accepted no value and now accepts some"
            };
            self.push(
                if n.never {
                    &rules::TYPE_NARROWED
                } else {
                    &rules::TYPE_WIDENED
                },
                cx,
                format!("{} {what}", cx.here()),
                what.to_owned(),
                o.loc.clone(),
                n.loc.clone(),
                bw,
                fw,
            );
            return;
        }
        if self.lifted(o, n, cx) {
            return;
        }
        let start = self.changes.len();
        // Properties next to a union (or merged in through allOf) are evaluated together with
        // each branch: compare them inside the branches, where a generated producer writes them.
        let spread = spread_mode(o, n);
        if o.enumeration.is_some() || n.enumeration.is_some() {
            self.enums(o, n, cx);
        } else {
            self.exclusions(o, n, cx);
            let (to, tn) = (o.type_set(), n.type_set());
            self.types(o, n, to, tn, cx);
            if to & tn & STR != 0 {
                self.strings(o, n, cx);
            }
            if to & tn & INT != 0 {
                self.numbers(o, n, (to & tn) & NUM == 0, cx);
            }
            if to & tn & ARR != 0 {
                self.arrays(o, n, cx);
            }
            if to & tn & OBJ != 0 && !spread {
                self.objects(o, n, cx);
            }
        }
        let mark = self.changes.len();
        self.unions(o, n, true, spread, cx);
        self.unions(o, n, false, spread, cx);
        if spread {
            self.collapse(mark, cx);
        }
        // A break at this schema that cannot be confirmed is most likely hidden by a keyword
        // kept opaque beside it (`$recursiveRef`, …): name that one rather than the rule's.
        // A `not` the negation family decided hides nothing.
        let negations_decided = self.negations(o, n, cx);
        let hiding = |s: &Schema| {
            s.opaque
                .iter()
                .find(|x| !(negations_decided && x.keyword == "not"))
                .map(|x| x.keyword.clone())
        };
        if let Some(kw) = hiding(o).or_else(|| hiding(n)) {
            for c in &mut self.changes[start..] {
                if c.path == cx.path && c.keyword == c.rule.keyword {
                    c.keyword = kw.clone();
                }
            }
        }
        // An `unevaluatedItems`/`unevaluatedProperties` kept opaque (beside a composing
        // keyword) constrains whatever the rest of this schema leaves unevaluated: the same
        // keyword on both sides is not the same constraint once anything beside it changed,
        // so no change here is known to hold.
        let unevaluated = |s: &Schema| {
            s.opaque
                .iter()
                .find(|x| x.keyword.starts_with("unevaluated"))
                .map(|x| x.keyword.clone())
        };
        if let Some(kw) = unevaluated(o).or_else(|| unevaluated(n)) {
            for c in &mut self.changes[start..] {
                // It covers the items and properties below too, so a break there that cannot
                // be confirmed is most likely one it hides (an item it refuses, say).
                if c.keyword == c.rule.keyword {
                    c.keyword = kw.clone();
                }
                for d in [&mut c.backward, &mut c.forward] {
                    if d.holds() {
                        *d = Dec::Unknown(kw.clone());
                    }
                }
            }
        }
        self.opaque(o, n, negations_decided, cx);
    }

    /// Merges the copies of one change that several branches of the unions at `cx` report (a
    /// change to the surrounding schema, spread into every branch): same rule, path, message
    /// and locations. The merged change breaks when any copy breaks.
    fn collapse(&mut self, from: usize, cx: &Cx) {
        let depth = cx.mark.as_ref().map_or(0, |m| m.depth) + 1;
        let rest: Vec<Change> = self.changes.drain(from..).collect();
        // Groups of copies: (message without the branch, copies).
        let mut groups: Vec<(Option<String>, Vec<Change>)> = Vec::new();
        for c in rest {
            let Some(m) = c.mark.clone().filter(|m| m.depth == depth) else {
                groups.push((None, vec![c]));
                continue;
            };
            let message = c.message.replace(&format!(" ({})", m.desc), "");
            let same = groups.iter().position(|(k, g)| {
                k.as_deref() == Some(message.as_str())
                    && g[0].rule == c.rule
                    && g[0].path == c.path
                    && g[0].old == c.old
                    && g[0].new == c.new
            });
            match same {
                Some(i) => groups[i].1.push(c),
                None => groups.push((Some(message), vec![c])),
            }
        }
        for (message, mut copies) in groups {
            if copies.len() == 1 {
                self.changes.append(&mut copies);
                continue;
            }
            let mut d = copies[0].clone();
            for c in &copies[1..] {
                d.backward = join(&d.backward, &c.backward);
                d.forward = join(&d.forward, &c.forward);
            }
            if let (Some(msg), Some(m)) = (message, &d.mark) {
                d.message = format!("{msg} (in {} union branches)", copies.len());
                d.fp = format!(
                    "{}{}",
                    m.outer_fp,
                    d.fp.get(m.inner_fp.len()..).unwrap_or_default()
                );
            }
            d.mark = cx.mark.clone();
            self.changes.push(d);
        }
    }
}

/// Two decisions on copies of one change: breaks when either breaks.
fn join(a: &Dec, b: &Dec) -> Dec {
    match (a, b) {
        (Dec::Breaks(x), Dec::Breaks(y)) => Dec::Breaks([x.clone(), y.clone()].concat()),
        (Dec::Breaks(_), _) => a.clone(),
        (_, Dec::Breaks(_)) => b.clone(),
        (Dec::Unknown(_), _) => a.clone(),
        (_, Dec::Unknown(_)) => b.clone(),
        _ => Dec::Holds,
    }
}
