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
        c.additional = c.additional.map(|i| Box::new(strip(&i)));
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
        self.opaque(o, n, cx);
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

    /// `not: {enum}` / `not: {const}` exclusions, old vs new (neither side an enumeration).
    fn exclusions(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        let none = Vec::new();
        let oe = o.excluded.as_ref().unwrap_or(&none);
        let ne = n.excluded.as_ref().unwrap_or(&none);
        let only = |a: &[Value], b: &[Value]| -> Vec<Value> {
            a.iter()
                .filter(|v| !b.iter().any(|w| json_eq(v, w)))
                .cloned()
                .collect()
        };
        let (now_excluded, now_allowed) = (only(ne, oe), only(oe, ne));
        if now_excluded.is_empty() && now_allowed.is_empty() {
            return;
        }
        // Values one side accepts (as far as the evaluator tells) among `vs`.
        let accepted = |vs: &[Value], by: &Schema| -> (Option<Value>, bool) {
            let mut unsure = false;
            for v in vs {
                match eval(by, v) {
                    Some(true) => return (Some(v.clone()), false),
                    None => unsure = true,
                    Some(false) => {}
                }
            }
            (None, unsure)
        };
        let bw = match accepted(&now_excluded, o) {
            (Some(v), _) => cx.old_at(Leaf::Set(v)),
            (None, true) => Dec::Unknown("not".into()),
            (None, false) => Dec::Holds,
        };
        let fw = match accepted(&now_allowed, n) {
            (Some(v), _) => cx.new_at(Leaf::Set(v)),
            (None, true) => Dec::Unknown("not".into()),
            (None, false) => Dec::Holds,
        };
        if bw.holds() && fw.holds() {
            return;
        }
        let mut parts = Vec::new();
        if !now_excluded.is_empty() {
            parts.push(format!("now excluded: {}", show_list(&now_excluded)));
        }
        if !now_allowed.is_empty() {
            parts.push(format!("no longer excluded: {}", show_list(&now_allowed)));
        }
        let rule = match (now_excluded.is_empty(), now_allowed.is_empty()) {
            (false, true) => &rules::VALUES_RESTRICTED,
            (true, false) => &rules::VALUES_ADDED,
            _ => &rules::VALUES_CHANGED,
        };
        self.push(
            rule,
            cx,
            format!(
                "{}: values excluded by `not` changed ({})",
                cx.here(),
                parts.join("; ")
            ),
            format!(
                "excluded {} no longer excluded {}",
                canon_set(&now_excluded),
                canon_set(&now_allowed)
            ),
            o.kw_loc("not").or_else(|| o.loc.clone()),
            n.kw_loc("not").or_else(|| n.loc.clone()),
            bw,
            fw,
        );
        self.set_keyword("not");
    }

    /// When one side has a union and the other has none but equals one of its branches (a
    /// union reduced to one branch, or grown from one), compares both as unions with the
    /// common part pushed into the branches: `base ∧ oneOf(Bi)` is `oneOf(base ∧ Bi)`.
    fn lifted(&mut self, o: &Schema, n: &Schema, cx: &Cx) -> bool {
        for one_of in [true, false] {
            let lists = |s: &Schema| {
                if one_of {
                    s.one_of.len()
                } else {
                    s.any_of.len()
                }
            };
            let (lo, ln) = (lists(o), lists(n));
            if !((lo == 1 && ln == 0) || (lo == 0 && ln == 1)) {
                continue;
            }
            let other_lists = |s: &Schema| {
                if one_of {
                    s.any_of.len()
                } else {
                    s.one_of.len()
                }
            };
            if other_lists(o) != other_lists(n) {
                continue;
            }
            let spread = |s: &Schema| -> Schema {
                let list = if one_of { &s.one_of[0] } else { &s.any_of[0] };
                let mut base = s.clone();
                if one_of {
                    base.one_of.clear();
                } else {
                    base.any_of.clear();
                }
                let branches: Vec<Schema> = list.iter().map(|b| schema::merge(&base, b)).collect();
                let mut out = Schema {
                    loc: s.loc.clone(),
                    kw_locs: s.kw_locs.clone(),
                    ..Schema::default()
                };
                if one_of {
                    out.one_of.push(branches);
                } else {
                    out.any_of.push(branches);
                }
                out
            };
            let single = |s: &Schema| -> Schema {
                let mut out = Schema {
                    loc: s.loc.clone(),
                    kw_locs: s.kw_locs.clone(),
                    ..Schema::default()
                };
                if one_of {
                    out.one_of.push(vec![s.clone()]);
                } else {
                    out.any_of.push(vec![s.clone()]);
                }
                out
            };
            let (o2, n2) = if lo == 1 {
                (spread(o), single(n))
            } else {
                (single(o), spread(n))
            };
            let (lb, sb) = if lo == 1 {
                (
                    if one_of { &o2.one_of[0] } else { &o2.any_of[0] },
                    if one_of {
                        &n2.one_of[0][0]
                    } else {
                        &n2.any_of[0][0]
                    },
                )
            } else {
                (
                    if one_of { &n2.one_of[0] } else { &n2.any_of[0] },
                    if one_of {
                        &o2.one_of[0][0]
                    } else {
                        &o2.any_of[0][0]
                    },
                )
            };
            let matches = match union_tag(lb, std::slice::from_ref(sb)) {
                Some(t) => {
                    let v = |b: &Schema| b.prop(&t).and_then(|p| p.schema.enumeration.clone());
                    lb.iter().any(|b| v(b) == v(sb))
                }
                None => {
                    let k = shape_key(sb);
                    lb.iter().any(|b| shape_key(b) == k)
                }
            };
            if !matches {
                continue;
            }
            self.union_list(&o2, &n2, one_of, 0, 0, false, cx);
            return true;
        }
        false
    }

    fn enums(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        let ol = o.kw_loc("enum").or_else(|| o.kw_loc("const"));
        let nl = n.kw_loc("enum").or_else(|| n.kw_loc("const"));
        // Values one side holds that the other rejects.
        let missing = |from: &[Value], other: &Schema| -> (Vec<Value>, bool) {
            let mut out = Vec::new();
            let mut unsure = false;
            for v in from {
                match eval(other, v) {
                    Some(false) => out.push(v.clone()),
                    None => unsure = true,
                    Some(true) => {}
                }
            }
            (out, unsure)
        };
        match (&o.enumeration, &n.enumeration) {
            (Some(ov), Some(nv)) => {
                let (removed, ru) = missing(ov, n);
                let (added, au) = missing(nv, o);
                let bw = match (removed.first(), ru) {
                    (Some(v), _) => cx.old_at(Leaf::Set(v.clone())),
                    (None, true) => Dec::Unknown("enum".into()),
                    (None, false) => Dec::Holds,
                };
                let fw = match (added.first(), au) {
                    (Some(v), _) => cx.new_at(Leaf::Set(v.clone())),
                    (None, true) => Dec::Unknown("enum".into()),
                    (None, false) => Dec::Holds,
                };
                if bw.holds() && fw.holds() {
                    return;
                }
                let (rule, message) = match (removed.is_empty(), added.is_empty()) {
                    (false, false) if ov.len() == 1 && nv.len() == 1 => (
                        &rules::VALUES_CHANGED,
                        format!(
                            "{}: const changed from {} to {}",
                            cx.here(),
                            show(&ov[0]),
                            show(&nv[0])
                        ),
                    ),
                    (false, false) => (
                        &rules::VALUES_CHANGED,
                        format!(
                            "{}: enum values removed ({}) and added ({})",
                            cx.here(),
                            show_list(&removed),
                            show_list(&added)
                        ),
                    ),
                    (false, true) => (
                        &rules::VALUES_RESTRICTED,
                        format!(
                            "{}: enum value(s) removed: {}",
                            cx.here(),
                            show_list(&removed)
                        ),
                    ),
                    (true, false) => (
                        &rules::VALUES_ADDED,
                        format!("{}: enum value(s) added: {}", cx.here(), show_list(&added)),
                    ),
                    (true, true) => (
                        &rules::VALUES_CHANGED,
                        format!(
                            "{}: enum/const changed in a way that could not be decided",
                            cx.here()
                        ),
                    ),
                };
                let what = format!(
                    "removed {} added {}",
                    canon_set(&removed),
                    canon_set(&added)
                );
                self.push(rule, cx, message, what, ol, nl, bw, fw);
            }
            (None, Some(nv)) => {
                let bw = match synth::separating(o, n) {
                    Some(v) => cx.old_at(Leaf::Set(v)),
                    None => Dec::Unknown("enum".into()),
                };
                let (added, au) = missing(nv, o);
                let fw = match (added.first(), au) {
                    (Some(v), _) => cx.new_at(Leaf::Set(v.clone())),
                    (None, true) => Dec::Unknown("enum".into()),
                    (None, false) => Dec::Holds,
                };
                let what = if nv.len() == 1 {
                    format!("now const {}", show(&nv[0]))
                } else {
                    format!("now restricted to {}", show_list(nv))
                };
                self.push(
                    &rules::VALUES_RESTRICTED,
                    cx,
                    format!("{}: {what}", cx.here()),
                    format!("restricted to {}", canon_set(nv)),
                    o.loc.clone(),
                    nl,
                    bw,
                    fw,
                );
            }
            (Some(ov), None) => {
                let fw = match synth::separating(n, o) {
                    Some(v) => cx.new_at(Leaf::Set(v)),
                    None => Dec::Unknown("enum".into()),
                };
                let (removed, ru) = missing(ov, n);
                let bw = match (removed.first(), ru) {
                    (Some(v), _) => cx.old_at(Leaf::Set(v.clone())),
                    (None, true) => Dec::Unknown("enum".into()),
                    (None, false) => Dec::Holds,
                };
                self.push(
                    &rules::VALUES_ADDED,
                    cx,
                    format!("{}: no longer restricted to {}", cx.here(), show_list(ov)),
                    format!("unrestricted from {}", canon_set(ov)),
                    ol,
                    n.loc.clone(),
                    bw,
                    fw,
                );
            }
            (None, None) => {}
        }
    }

    fn types(&mut self, o: &Schema, n: &Schema, to: schema::Types, tn: schema::Types, cx: &Cx) {
        let lost = to & !tn;
        let gained = tn & !to;
        if lost == 0 && gained == 0 {
            return;
        }
        let witness = |s: &Schema, t: schema::Types, side_new: bool| -> Dec {
            let k = lowest_kind(t);
            match synth::synth_kind(s, k) {
                Some(v) if side_new => cx.new_at(Leaf::Set(v)),
                Some(v) => cx.old_at(Leaf::Set(v)),
                None => Dec::Unknown("type".into()),
            }
        };
        let bw = if lost != 0 {
            witness(o, lost, false)
        } else {
            Dec::Holds
        };
        let fw = if gained != 0 {
            witness(n, gained, true)
        } else {
            Dec::Holds
        };
        let rule = match (lost != 0, gained != 0) {
            (true, false) => &rules::TYPE_NARROWED,
            (false, true) => &rules::TYPE_WIDENED,
            _ => &rules::TYPE_CHANGED,
        };
        let verb = if rule == &rules::TYPE_NARROWED {
            "narrowed"
        } else if rule == &rules::TYPE_WIDENED {
            "widened"
        } else {
            "changed"
        };
        let mut message = format!(
            "{}: type {verb} from `{}` to `{}`",
            cx.here(),
            type_names(to),
            type_names(tn)
        );
        if lost == NULL || gained == NULL {
            message.push_str(if lost == NULL {
                " (no longer nullable)"
            } else {
                " (now nullable)"
            });
        }
        self.push(
            rule,
            cx,
            message,
            format!("type {} -> {}", type_names(to), type_names(tn)),
            o.kw_loc("type"),
            n.kw_loc("type"),
            bw,
            fw,
        );
    }

    fn strings(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        let (os, ns) = (str_view(o), str_view(n));
        // Lengths.
        let (omin, nmin) = (o.min_length.unwrap_or(0), n.min_length.unwrap_or(0));
        let (omax, nmax) = (o.max_length, n.max_length);
        let tighter = nmin > omin
            || matches!((omax, nmax), (None, Some(_)))
            || matches!((omax, nmax), (Some(a), Some(b)) if b < a);
        let looser = nmin < omin
            || matches!((omax, nmax), (Some(_), None))
            || matches!((omax, nmax), (Some(a), Some(b)) if b > a);
        if tighter || looser {
            let breaking = |a: &Schema, b: &Schema| -> Option<Value> {
                // Shorter than b's minimum, or longer than its maximum.
                let bmin = b.min_length.unwrap_or(0);
                if bmin > a.min_length.unwrap_or(0) {
                    let mut v = a.clone();
                    v.max_length = Some(bmin - 1);
                    if let Some(x) = synth::synth_string(&v, &|_| true) {
                        return Some(Value::String(x));
                    }
                }
                if let Some(bmax) = b.max_length {
                    if a.max_length.is_none_or(|m| m > bmax) {
                        let mut v = a.clone();
                        v.min_length = Some(bmax + 1);
                        if let Some(x) = synth::synth_string(&v, &|_| true) {
                            return Some(Value::String(x));
                        }
                    }
                }
                None
            };
            let dec = |a: &Schema, b: &Schema, breaks: bool, new_side: bool| -> Dec {
                if !breaks {
                    return Dec::Holds;
                }
                match breaking(a, b) {
                    Some(v) if new_side => cx.new_at(Leaf::Set(v)),
                    Some(v) => cx.old_at(Leaf::Set(v)),
                    None => Dec::Unknown("maxLength".into()),
                }
            };
            let bw = dec(&os, &ns, tighter, false);
            let fw = dec(&ns, &os, looser, true);
            let show_len = |min: u64, max: Option<u64>| match max {
                Some(m) => format!("{min}..={m}"),
                None => format!("{min}.."),
            };
            let kw = if nmin != omin {
                "minLength"
            } else {
                "maxLength"
            };
            self.push(
                if tighter {
                    &rules::LENGTH_TIGHTENED
                } else {
                    &rules::LENGTH_LOOSENED
                },
                cx,
                format!(
                    "{}: string length {} from {} to {}",
                    cx.here(),
                    match (tighter, looser) {
                        (true, true) => "changed",
                        (true, false) => "tightened",
                        _ => "loosened",
                    },
                    show_len(omin, omax),
                    show_len(nmin, nmax)
                ),
                format!(
                    "length {} -> {}",
                    show_len(omin, omax),
                    show_len(nmin, nmax)
                ),
                o.kw_loc(kw),
                n.kw_loc(kw),
                bw,
                fw,
            );
        }
        // Patterns.
        let op: BTreeSet<&String> = o.patterns.iter().collect();
        let np: BTreeSet<&String> = n.patterns.iter().collect();
        if op != np {
            let dir = |a: &Schema, b: &Schema, new_side: bool| -> Dec {
                let bp: BTreeSet<&String> = b.patterns.iter().collect();
                let ap: BTreeSet<&String> = a.patterns.iter().collect();
                if bp.is_subset(&ap) {
                    return Dec::Holds;
                }
                let (Some(la), Some(lb)) = (lang::langs(&a.patterns), lang::langs(&b.patterns))
                else {
                    return Dec::Unknown("pattern".into());
                };
                let fmt = a.format.clone();
                let keep = |x: &str| {
                    fmt.as_deref()
                        .is_none_or(|f| schema::format_ok(f, x) == Some(true))
                };
                match lang::search(&la, &lb, a.min_length.unwrap_or(0), a.max_length, &keep) {
                    Search::None => Dec::Holds,
                    Search::Found(x) if new_side => cx.new_at(Leaf::Set(Value::String(x))),
                    Search::Found(x) => cx.old_at(Leaf::Set(Value::String(x))),
                    Search::Unknown => Dec::Unknown("pattern".into()),
                }
            };
            let bw = dir(&os, &ns, false);
            let fw = dir(&ns, &os, true);
            if !(bw.holds() && fw.holds()) {
                let rule = match (&bw, &fw) {
                    (Dec::Breaks(_), Dec::Holds) => &rules::PATTERN_NARROWED,
                    (Dec::Holds, Dec::Breaks(_)) => &rules::PATTERN_WIDENED,
                    _ if o.patterns.is_empty() => &rules::PATTERN_NARROWED,
                    _ if n.patterns.is_empty() => &rules::PATTERN_WIDENED,
                    _ => &rules::PATTERN_CHANGED,
                };
                let show_p = |p: &[String]| {
                    if p.is_empty() {
                        "none".to_owned()
                    } else {
                        p.iter()
                            .map(|x| format!("`{x}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    }
                };
                let verb = if rule == &rules::PATTERN_NARROWED {
                    "narrowed"
                } else if rule == &rules::PATTERN_WIDENED {
                    "widened"
                } else {
                    "changed"
                };
                self.push(
                    rule,
                    cx,
                    format!(
                        "{}: pattern {verb} from {} to {}",
                        cx.here(),
                        show_p(&o.patterns),
                        show_p(&n.patterns)
                    ),
                    format!("pattern {op:?} -> {np:?}"),
                    o.kw_loc("pattern"),
                    n.kw_loc("pattern"),
                    bw,
                    fw,
                );
            }
        }
        // Format.
        if o.format != n.format {
            let dir = |a: &Schema, b: &Schema, new_side: bool| -> Dec {
                let Some(bf) = &b.format else {
                    return Dec::Holds;
                };
                let keep = |x: &str| schema::format_ok(bf, x) == Some(false);
                match synth::synth_string(a, &keep) {
                    Some(x) if new_side => cx.new_at(Leaf::Set(Value::String(x))),
                    Some(x) => cx.old_at(Leaf::Set(Value::String(x))),
                    None => Dec::Unknown("format".into()),
                }
            };
            let bw = dir(&os, &ns, false);
            let fw = dir(&ns, &os, true);
            let show_f =
                |f: &Option<String>| f.clone().map(|x| format!("`{x}`")).unwrap_or("none".into());
            self.push(
                &rules::FORMAT_CHANGED,
                cx,
                format!(
                    "{}: format changed from {} to {}",
                    cx.here(),
                    show_f(&o.format),
                    show_f(&n.format)
                ),
                format!("format {:?} -> {:?}", o.format, n.format),
                o.kw_loc("format"),
                n.kw_loc("format"),
                bw,
                fw,
            );
        }
    }

    fn numbers(&mut self, o: &Schema, n: &Schema, integral: bool, cx: &Cx) {
        let (ov, nv) = (num_view(o, integral), num_view(n, integral));
        let witness = |a: &Schema, b: &Schema| -> Option<Value> {
            synth::number_candidates(a, true)
                .into_iter()
                .chain(if integral {
                    vec![]
                } else {
                    synth::number_candidates(a, false)
                })
                .chain(synth::number_candidates(b, true))
                .chain(if integral {
                    vec![]
                } else {
                    synth::number_candidates(b, false)
                })
                .map(synth::num_value)
                .find(|v| eval(a, v) == Some(true) && eval(b, v) == Some(false))
        };
        let bounds_changed = o.lower != n.lower || o.upper != n.upper;
        if bounds_changed {
            let tighter = !lower_le(n.lower, o.lower) || !upper_ge(n.upper, o.upper);
            let looser = !lower_le(o.lower, n.lower) || !upper_ge(o.upper, n.upper);
            let mut ol = ov.clone();
            ol.multiple_of = None;
            let mut nl = nv.clone();
            nl.multiple_of = None;
            let bw = if tighter {
                match witness(&ol, &nl) {
                    Some(v) => cx.old_at(Leaf::Set(v)),
                    None => Dec::Unknown("minimum".into()),
                }
            } else {
                Dec::Holds
            };
            let fw = if looser {
                match witness(&nl, &ol) {
                    Some(v) => cx.new_at(Leaf::Set(v)),
                    None => Dec::Unknown("minimum".into()),
                }
            } else {
                Dec::Holds
            };
            if tighter || looser {
                let lower_changed = o.lower != n.lower;
                let (kw, desc) = if lower_changed {
                    (
                        if n.lower.is_some_and(|b| b.exclusive) {
                            "exclusiveMinimum"
                        } else {
                            "minimum"
                        },
                        format!(
                            "lower bound from {} to {}",
                            show_bound(o.lower, true),
                            show_bound(n.lower, true)
                        ),
                    )
                } else {
                    (
                        if n.upper.is_some_and(|b| b.exclusive) {
                            "exclusiveMaximum"
                        } else {
                            "maximum"
                        },
                        format!(
                            "upper bound from {} to {}",
                            show_bound(o.upper, false),
                            show_bound(n.upper, false)
                        ),
                    )
                };
                let okw = if lower_changed {
                    if o.lower.is_some_and(|b| b.exclusive) {
                        "exclusiveMinimum"
                    } else {
                        "minimum"
                    }
                } else if o.upper.is_some_and(|b| b.exclusive) {
                    "exclusiveMaximum"
                } else {
                    "maximum"
                };
                let extra = if lower_changed && o.upper != n.upper {
                    format!(
                        ", upper bound from {} to {}",
                        show_bound(o.upper, false),
                        show_bound(n.upper, false)
                    )
                } else {
                    String::new()
                };
                self.push(
                    if tighter {
                        &rules::RANGE_NARROWED
                    } else {
                        &rules::RANGE_WIDENED
                    },
                    cx,
                    format!(
                        "{}: {} {desc}{extra}",
                        cx.here(),
                        match (tighter, looser) {
                            (true, true) => "range moved:",
                            (true, false) => "range narrowed:",
                            _ => "range widened:",
                        }
                    ),
                    format!(
                        "range {} {} -> {} {}",
                        show_bound(o.lower, true),
                        show_bound(o.upper, false),
                        show_bound(n.lower, true),
                        show_bound(n.upper, false)
                    ),
                    o.kw_loc(okw),
                    n.kw_loc(kw),
                    bw,
                    fw,
                );
            }
        }
        if o.multiple_of != n.multiple_of {
            let holds = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (_, None) => true,
                (Some(x), Some(y)) => schema::is_multiple(x, y),
                (None, Some(y)) => integral && y.fract() == 0.0 && y == 1.0,
            };
            let bw = if holds(o.multiple_of, n.multiple_of) {
                Dec::Holds
            } else {
                match witness(&ov, &nv) {
                    Some(v) => cx.old_at(Leaf::Set(v)),
                    None => Dec::Unknown("multipleOf".into()),
                }
            };
            let fw = if holds(n.multiple_of, o.multiple_of) {
                Dec::Holds
            } else {
                match witness(&nv, &ov) {
                    Some(v) => cx.new_at(Leaf::Set(v)),
                    None => Dec::Unknown("multipleOf".into()),
                }
            };
            let show_m = |m: Option<f64>| {
                m.map(|x| synth::num_value(x).to_string())
                    .unwrap_or("none".into())
            };
            self.push(
                &rules::MULTIPLE_OF_CHANGED,
                cx,
                format!(
                    "{}: multipleOf changed from {} to {}",
                    cx.here(),
                    show_m(o.multiple_of),
                    show_m(n.multiple_of)
                ),
                format!(
                    "multipleOf {} -> {}",
                    show_m(o.multiple_of),
                    show_m(n.multiple_of)
                ),
                o.kw_loc("multipleOf"),
                n.kw_loc("multipleOf"),
                bw,
                fw,
            );
        }
    }

    fn arrays(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        if o.items.is_some() || n.items.is_some() {
            let any = Schema::any();
            let oi = o.items.as_deref().unwrap_or(&any);
            let ni = n.items.as_deref().unwrap_or(&any);
            self.cmp(oi, ni, &cx.child("*", Seg::Items));
        }
        let (omin, nmin) = (o.min_items.unwrap_or(0), n.min_items.unwrap_or(0));
        let (omax, nmax) = (o.max_items, n.max_items);
        let tighter = nmin > omin
            || matches!((omax, nmax), (None, Some(_)))
            || matches!((omax, nmax), (Some(a), Some(b)) if b < a);
        let looser = nmin < omin
            || matches!((omax, nmax), (Some(_), None))
            || matches!((omax, nmax), (Some(a), Some(b)) if b > a);
        if tighter || looser {
            let breaking = |a: &Schema, b: &Schema| -> Option<Value> {
                let mut v = a.clone();
                v.types = Some(ARR);
                let bmin = b.min_items.unwrap_or(0);
                if bmin > a.min_items.unwrap_or(0) {
                    v.max_items = Some(bmin - 1);
                    v.min_items = a.min_items;
                } else if let Some(bmax) = b.max_items {
                    v.min_items = Some(bmax + 1);
                } else {
                    return None;
                }
                synth::synth_kind(&v, ARR)
            };
            let bw = if tighter {
                match breaking(o, n) {
                    Some(v) => cx.old_at(Leaf::Set(v)),
                    None => Dec::Unknown("minItems".into()),
                }
            } else {
                Dec::Holds
            };
            let fw = if looser {
                match breaking(n, o) {
                    Some(v) => cx.new_at(Leaf::Set(v)),
                    None => Dec::Unknown("minItems".into()),
                }
            } else {
                Dec::Holds
            };
            let show_len = |min: u64, max: Option<u64>| match max {
                Some(m) => format!("{min}..={m}"),
                None => format!("{min}.."),
            };
            let kw = if nmin != omin { "minItems" } else { "maxItems" };
            self.push(
                if tighter {
                    &rules::ARRAY_BOUNDS_TIGHTENED
                } else {
                    &rules::ARRAY_BOUNDS_LOOSENED
                },
                cx,
                format!(
                    "{}: number of items {} from {} to {}",
                    cx.here(),
                    match (tighter, looser) {
                        (true, true) => "changed",
                        (true, false) => "tightened",
                        _ => "loosened",
                    },
                    show_len(omin, omax),
                    show_len(nmin, nmax)
                ),
                format!("items {} -> {}", show_len(omin, omax), show_len(nmin, nmax)),
                o.kw_loc(kw),
                n.kw_loc(kw),
                bw,
                fw,
            );
        }
        if o.unique != n.unique {
            let dup = |a: &Schema| -> Option<Value> {
                let items = a.items.as_deref().cloned().unwrap_or_default();
                let x = synth::synth(&items, false)?;
                let n = a.min_items.unwrap_or(2).max(2) as usize;
                if a.max_items.is_some_and(|m| (m as usize) < n) {
                    return None;
                }
                Some(Value::Array(vec![x; n]))
            };
            let (rule, bw, fw, what) = if n.unique {
                let bw = match dup(o) {
                    Some(v) => cx.old_at(Leaf::Set(v)),
                    None => Dec::Unknown("uniqueItems".into()),
                };
                (
                    &rules::UNIQUE_ITEMS_ADDED,
                    bw,
                    Dec::Holds,
                    "items must now be unique",
                )
            } else {
                let fw = match dup(n) {
                    Some(v) => cx.new_at(Leaf::Set(v)),
                    None => Dec::Unknown("uniqueItems".into()),
                };
                (
                    &rules::UNIQUE_ITEMS_REMOVED,
                    Dec::Holds,
                    fw,
                    "items no longer need to be unique",
                )
            };
            self.push(
                rule,
                cx,
                format!("{}: {what}", cx.here()),
                format!("uniqueItems {} -> {}", o.unique, n.unique),
                o.kw_loc("uniqueItems"),
                n.kw_loc("uniqueItems"),
                bw,
                fw,
            );
        }
    }

    fn objects(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        let mut names: Vec<String> = Vec::new();
        for s in [o, n] {
            for (p, _) in &s.props {
                if !names.contains(p) {
                    names.push(p.clone());
                }
            }
            for r in &s.required {
                if !names.contains(r) {
                    names.push(r.clone());
                }
            }
        }
        let declared = |s: &Schema, p: &str| s.prop(p).is_some() || s.required.contains(p);
        // Declared renames: new property `p` was `r`.
        let mut renamed: Vec<(String, String)> = Vec::new();
        if self.semantics == Semantics::Generated {
            for (p, prop) in &n.props {
                if let Some(r) = &prop.renamed_from {
                    if declared(o, r) && !declared(n, r) && !declared(o, p) {
                        renamed.push((r.clone(), p.clone()));
                    }
                }
            }
        }
        for name in &names {
            if renamed.iter().any(|(r, p)| r == name || p == name) {
                continue;
            }
            let (in_o, in_n) = (declared(o, name), declared(n, name));
            let pcx = cx.prop(name);
            let oloc = o.prop(name).and_then(|p| p.loc.clone());
            let nloc = n.prop(name).and_then(|p| p.loc.clone());
            let (oreq, nreq) = (o.required.contains(name), n.required.contains(name));
            match (in_o, in_n) {
                (true, true) => {
                    self.cmp(&o.prop_schema(name), &n.prop_schema(name), &pcx);
                    self.required_change(o, n, name, oreq, nreq, &pcx);
                }
                (true, false) => self.removed(o, n, name, oreq, &pcx, oloc),
                (false, true) => self.added(o, n, name, nreq, &pcx, nloc),
                (false, false) => {}
            }
        }
        for (r, p) in &renamed {
            let rcx = cx.prop2(r, p);
            let oreq = o.required.contains(r);
            let nreq = n.required.contains(p);
            let fw = if oreq {
                Dec::Breaks(vec![vec![Mutation {
                    segs: cx.new_segs.clone(),
                    leaf: Leaf::Keep,
                }]])
            } else {
                Dec::Holds
            };
            self.push(
                &rules::PROPERTY_RENAMED,
                &rcx,
                format!(
                    "{}: property `{r}` renamed to `{p}` (declared with x-renamed-from; generated consumers accept both names)",
                    cx.here()
                ),
                format!("renamed {r:?} -> {p:?} required {oreq}"),
                o.prop(r).and_then(|x| x.loc.clone()),
                n.prop(p).and_then(|x| x.loc.clone()),
                Dec::Holds,
                fw,
            );
            self.cmp(&o.prop_schema(r), &n.prop_schema(p), &rcx);
            if nreq && !oreq {
                self.required_change(o, n, p, false, true, &rcx);
            }
        }
        self.additional(o, n, cx);
        self.dependent(o, n, cx);
    }

    fn required_change(
        &mut self,
        o: &Schema,
        n: &Schema,
        name: &str,
        oreq: bool,
        nreq: bool,
        pcx: &Cx,
    ) {
        let oloc = o.kw_loc("required");
        let nloc = n.kw_loc("required");
        if !oreq && nreq {
            let default = n.prop(name).and_then(|p| p.default.clone());
            let (rule, message) = match &default {
                Some(d) => (
                    &rules::REQUIRED_PROPERTY_ADDED_WITH_DEFAULT,
                    format!(
                        "{}: optional property is now required (its default {} does not make validators accept messages without it)",
                        pcx.here(),
                        show(d)
                    ),
                ),
                None => (&rules::REQUIRED_PROPERTY_ADDED, format!("{}: optional property is now required", pcx.here())),
            };
            self.push(
                rule,
                pcx,
                message,
                "now required".to_owned(),
                oloc,
                nloc,
                pcx.old_at(Leaf::Remove),
                Dec::Holds,
            );
        } else if oreq && !nreq {
            self.push(
                &rules::REQUIRED_MADE_OPTIONAL,
                pcx,
                format!("{}: required property is now optional", pcx.here()),
                "now optional".to_owned(),
                oloc,
                nloc,
                Dec::Holds,
                pcx.new_at(Leaf::Remove),
            );
        }
    }

    fn removed(
        &mut self,
        o: &Schema,
        n: &Schema,
        name: &str,
        oreq: bool,
        pcx: &Cx,
        oloc: Option<Loc>,
    ) {
        // BACKWARD: an old producer writes it; the new consumer sees an undeclared property.
        let bw = match n.additional.as_deref() {
            None => Dec::Holds,
            Some(a) if a.never => pcx.old_at(Leaf::Keep),
            Some(a) => match self.subset(&o.prop_schema(name), a) {
                Some(true) => Dec::Holds,
                _ => match synth::separating(&o.prop_schema(name), a) {
                    Some(v) => pcx.old_at(Leaf::Set(v)),
                    None => Dec::Unknown("additionalProperties".into()),
                },
            },
        };
        // FORWARD: a new producer omits it (or, when it may write anything, writes any value).
        let fw = if oreq {
            pcx.new_at(Leaf::Remove)
        } else if self.producer_open(n) {
            let allowed = n.prop_schema(name);
            match self.subset(&allowed, &o.prop_schema(name)) {
                Some(true) => Dec::Holds,
                _ => match synth::separating(&allowed, &o.prop_schema(name)) {
                    Some(v) => pcx.new_at(Leaf::Set(v)),
                    None => Dec::Unknown("properties".into()),
                },
            }
        } else {
            Dec::Holds
        };
        let what = if oreq {
            "required property"
        } else {
            "optional property"
        };
        self.push(
            &rules::PROPERTY_REMOVED,
            pcx,
            format!("{}: {what} removed", pcx.here()),
            format!("removed {what}"),
            oloc,
            n.kw_loc("properties").or_else(|| n.loc.clone()),
            bw,
            fw,
        );
    }

    fn added(
        &mut self,
        o: &Schema,
        n: &Schema,
        name: &str,
        nreq: bool,
        pcx: &Cx,
        nloc: Option<Loc>,
    ) {
        let np = n.prop_schema(name);
        let bw = if nreq {
            pcx.old_at(Leaf::Remove)
        } else if self.producer_open(o) {
            let allowed = o.prop_schema(name);
            match self.subset(&allowed, &np) {
                Some(true) => Dec::Holds,
                _ => match synth::separating(&allowed, &np) {
                    Some(v) => pcx.old_at(Leaf::Set(v)),
                    None => Dec::Unknown("properties".into()),
                },
            }
        } else {
            Dec::Holds
        };
        let fw = match o.additional.as_deref() {
            None => Dec::Holds,
            Some(a) if a.never => pcx.new_at(Leaf::Keep),
            Some(a) => match self.subset(&np, a) {
                Some(true) => Dec::Holds,
                _ => match synth::separating(&np, a) {
                    Some(v) => pcx.new_at(Leaf::Set(v)),
                    None => Dec::Unknown("additionalProperties".into()),
                },
            },
        };
        let (rule, message) = if nreq {
            match n.prop(name).and_then(|p| p.default.clone()) {
                Some(d) => (
                    &rules::REQUIRED_PROPERTY_ADDED_WITH_DEFAULT,
                    format!(
                        "{}: required property added (its default {} does not make validators accept messages without it)",
                        pcx.here(),
                        show(&d)
                    ),
                ),
                None => (&rules::REQUIRED_PROPERTY_ADDED, format!("{}: required property added", pcx.here())),
            }
        } else {
            let closed = if o.closed() {
                " to a closed object"
            } else {
                ""
            };
            (
                &rules::PROPERTY_ADDED,
                format!("{}: optional property added{closed}", pcx.here()),
            )
        };
        let what = format!(
            "added {} to {} object",
            if nreq { "required" } else { "optional" },
            if o.closed() { "a closed" } else { "an open" }
        );
        self.push(
            rule,
            pcx,
            message,
            what,
            o.kw_loc("properties").or_else(|| o.loc.clone()),
            nloc,
            bw,
            fw,
        );
    }

    fn additional(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        let oa = o.additional.as_deref();
        let na = n.additional.as_deref();
        let ol = o.kw_loc("additionalProperties").or_else(|| o.loc.clone());
        let nl = n.kw_loc("additionalProperties").or_else(|| n.loc.clone());
        match (oa, na) {
            (None, None) => {}
            (Some(x), Some(y)) if !x.never && !y.never => {
                let mut c = cx.child("*", Seg::MapValue);
                c.branch = cx.branch.clone();
                self.cmp(x, y, &c);
            }
            (Some(x), Some(y)) if x.never && y.never => {}
            (_, Some(y)) if y.never => {
                // Closed now.
                let bw = if self.producer_open(o) {
                    if oa.is_some() {
                        let mut c = cx.child("*", Seg::MapValue);
                        c.path = cx.path.clone();
                        c.old_at(Leaf::Synth)
                    } else {
                        cx.old_at(Leaf::AddUndeclared)
                    }
                } else {
                    Dec::Holds
                };
                self.push(
                    &rules::OBJECT_CLOSED,
                    cx,
                    format!("{}: object closed (additionalProperties: false)", cx.here()),
                    "closed".to_owned(),
                    ol,
                    nl,
                    bw,
                    Dec::Holds,
                );
            }
            (Some(x), _) if x.never => {
                let fw = if self.producer_open(n) {
                    match na {
                        Some(_) => {
                            let mut c = cx.child("*", Seg::MapValue);
                            c.path = cx.path.clone();
                            c.new_at(Leaf::Synth)
                        }
                        None => cx.new_at(Leaf::AddUndeclared),
                    }
                } else {
                    Dec::Holds
                };
                self.push(
                    &rules::OBJECT_OPENED,
                    cx,
                    format!(
                        "{}: object opened (additionalProperties: false removed)",
                        cx.here()
                    ),
                    "opened".to_owned(),
                    ol,
                    nl,
                    Dec::Holds,
                    fw,
                );
            }
            (None, Some(y)) => {
                let bw = if self.producer_open(o) {
                    match synth::separating(&Schema::any(), y) {
                        Some(v) => {
                            let c = cx.child("*", Seg::MapValue);
                            c.old_at(Leaf::Set(v))
                        }
                        None => Dec::Unknown("additionalProperties".into()),
                    }
                } else {
                    Dec::Holds
                };
                self.push(
                    &rules::MAP_VALUE_SCHEMA_ADDED,
                    cx,
                    format!(
                        "{}: map values now constrained (additionalProperties schema added)",
                        cx.here()
                    ),
                    format!("map values constrained to {}", shape_key(y)),
                    ol,
                    nl,
                    bw,
                    Dec::Holds,
                );
            }
            (Some(x), None) => {
                let fw = if self.producer_open(n) {
                    match synth::separating(&Schema::any(), x) {
                        Some(v) => {
                            let c = cx.child("*", Seg::MapValue);
                            c.new_at(Leaf::Set(v))
                        }
                        None => Dec::Unknown("additionalProperties".into()),
                    }
                } else {
                    Dec::Holds
                };
                self.push(
                    &rules::MAP_VALUE_SCHEMA_REMOVED,
                    cx,
                    format!("{}: map values no longer constrained (additionalProperties schema removed)", cx.here()),
                    format!("map values unconstrained from {}", shape_key(x)),
                    ol,
                    nl,
                    Dec::Holds,
                    fw,
                );
            }
            _ => {}
        }
    }

    fn dependent(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        let implied = |s: &Schema, k: &str, d: &str| {
            s.required.contains(d) || s.dependent.get(k).is_some_and(|x| x.contains(d))
        };
        let mut keys: BTreeSet<&String> = o.dependent.keys().collect();
        keys.extend(n.dependent.keys());
        for k in keys {
            let added: Vec<&String> = n
                .dependent
                .get(k)
                .into_iter()
                .flatten()
                .filter(|d| !implied(o, k, d))
                .collect();
            let removed: Vec<&String> = o
                .dependent
                .get(k)
                .into_iter()
                .flatten()
                .filter(|d| !implied(n, k, d))
                .collect();
            let recipe = |segs: &Vec<Seg>, deps: &[&String]| -> Vec<Recipe> {
                let mut r = vec![Mutation {
                    segs: [segs.clone(), vec![Seg::Prop(k.clone())]].concat(),
                    leaf: Leaf::Keep,
                }];
                for d in deps {
                    r.push(Mutation {
                        segs: [segs.clone(), vec![Seg::Prop((*d).clone())]].concat(),
                        leaf: Leaf::Remove,
                    });
                }
                vec![r]
            };
            if !added.is_empty() {
                let bw = if o.prop(k).is_some() || self.producer_open(o) {
                    Dec::Breaks(recipe(&cx.old_segs, &added))
                } else {
                    Dec::Holds
                };
                let list = added
                    .iter()
                    .map(|d| format!("`{d}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.push(
                    &rules::DEPENDENT_REQUIRED_ADDED,
                    cx,
                    format!("{}: when `{k}` is present, {list} must now be present too (dependentRequired)", cx.here()),
                    format!("{k:?} now requires {added:?}"),
                    o.kw_loc("dependentRequired").or_else(|| o.loc.clone()),
                    n.kw_loc("dependentRequired"),
                    bw,
                    Dec::Holds,
                );
            }
            if !removed.is_empty() {
                let fw = if n.prop(k).is_some() || self.producer_open(n) {
                    Dec::Breaks(recipe(&cx.new_segs, &removed))
                } else {
                    Dec::Holds
                };
                let list = removed
                    .iter()
                    .map(|d| format!("`{d}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.push(
                    &rules::DEPENDENT_REQUIRED_REMOVED,
                    cx,
                    format!(
                        "{}: `{k}` no longer requires {list} (dependentRequired)",
                        cx.here()
                    ),
                    format!("{k:?} no longer requires {removed:?}"),
                    o.kw_loc("dependentRequired"),
                    n.kw_loc("dependentRequired").or_else(|| n.loc.clone()),
                    Dec::Holds,
                    fw,
                );
            }
        }
    }

    fn unions(&mut self, o: &Schema, n: &Schema, one_of: bool, spread: bool, cx: &Cx) {
        let (ol, nl) = if one_of {
            (&o.one_of, &n.one_of)
        } else {
            (&o.any_of, &n.any_of)
        };
        let kw = if one_of { "oneOf" } else { "anyOf" };
        let paired = ol.len().min(nl.len());
        for li in 0..paired {
            self.union_list(o, n, one_of, li, li, spread, cx);
        }
        // Whole lists added or removed: a new conjunct.
        for _ in paired..nl.len() {
            let bw = Dec::Breaks(vec![vec![Mutation {
                segs: cx.old_segs.clone(),
                leaf: Leaf::Keep,
            }]]);
            self.push(
                if one_of {
                    &rules::ONE_OF_BRANCH_ADDED
                } else {
                    &rules::ANY_OF_BRANCH_ADDED
                },
                cx,
                format!("{}: `{kw}` added", cx.here()),
                format!("{kw} added"),
                o.loc.clone(),
                n.kw_loc(kw),
                bw,
                Dec::Holds,
            );
        }
        for _ in paired..ol.len() {
            let fw = Dec::Breaks(vec![vec![Mutation {
                segs: cx.new_segs.clone(),
                leaf: Leaf::Keep,
            }]]);
            self.push(
                if one_of {
                    &rules::ONE_OF_BRANCH_REMOVED
                } else {
                    &rules::ANY_OF_BRANCH_REMOVED
                },
                cx,
                format!("{}: `{kw}` removed", cx.here()),
                format!("{kw} removed"),
                o.kw_loc(kw),
                n.loc.clone(),
                Dec::Holds,
                fw,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn union_list(
        &mut self,
        o: &Schema,
        n: &Schema,
        one_of: bool,
        oli: usize,
        nli: usize,
        spread: bool,
        cx: &Cx,
    ) {
        let (obs, nbs) = if one_of {
            (&o.one_of[oli], &n.one_of[nli])
        } else {
            (&o.any_of[oli], &n.any_of[nli])
        };
        // Each branch together with the surrounding object's properties, as validators
        // evaluate them.
        let (obs_spread, nbs_spread);
        let (obs, nbs) = if spread {
            let (bo, bn) = (object_parts(o), object_parts(n));
            obs_spread = obs
                .iter()
                .map(|b| schema::merge(&bo, b))
                .collect::<Vec<_>>();
            nbs_spread = nbs
                .iter()
                .map(|b| schema::merge(&bn, b))
                .collect::<Vec<_>>();
            (&obs_spread, &nbs_spread)
        } else {
            (obs, nbs)
        };
        let kw = if one_of { "oneOf" } else { "anyOf" };
        // Pair branches: by tag value, then by unchanged shape, then by position.
        let tag = union_tag(obs, nbs);
        let key = |b: &Schema| -> Option<String> {
            let t = tag.as_ref()?;
            b.prop(t)?
                .schema
                .enumeration
                .as_ref()?
                .first()
                .map(|v| v.to_string())
        };
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        let mut used_n: Vec<bool> = vec![false; nbs.len()];
        let mut used_o: Vec<bool> = vec![false; obs.len()];
        if tag.is_some() {
            for (i, ob) in obs.iter().enumerate() {
                if let Some(j) = (0..nbs.len()).find(|&j| !used_n[j] && key(&nbs[j]) == key(ob)) {
                    pairs.push((i, j));
                    used_n[j] = true;
                    used_o[i] = true;
                }
            }
        } else {
            for (i, ob) in obs.iter().enumerate() {
                let k = shape_key(ob);
                if let Some(j) = (0..nbs.len()).find(|&j| !used_n[j] && shape_key(&nbs[j]) == k) {
                    pairs.push((i, j));
                    used_n[j] = true;
                    used_o[i] = true;
                }
            }
            if obs.len() == nbs.len() {
                for (i, used) in used_o.iter_mut().enumerate() {
                    if !*used {
                        if let Some(j) = (0..nbs.len()).find(|&j| !used_n[j]) {
                            pairs.push((i, j));
                            used_n[j] = true;
                            *used = true;
                        }
                    }
                }
            }
        }
        let branch_name = |b: &Schema, i: usize| -> String {
            match (key(b), &b.title) {
                (Some(k), _) => format!("{kw} branch {}={k}", tag.clone().unwrap_or_default()),
                (None, Some(t)) => format!("{kw} branch `{t}`"),
                (None, None) => format!("{kw} branch {i}"),
            }
        };
        // The branch in fingerprints: its tag value, else its title, else its position.
        let list_kw = if nli == 0 {
            kw.to_owned()
        } else {
            format!("{kw}{nli}")
        };
        let token = |b: &Schema, i: usize| -> String {
            match (key(b), &b.title) {
                (Some(k), _) => format!("{list_kw}[{}={k}]", tag.clone().unwrap_or_default()),
                (None, Some(t)) => format!("{list_kw}[{t}]"),
                (None, None) => format!("{list_kw}[{i}]"),
            }
        };
        for &(i, j) in &pairs {
            let mut c = cx.clone();
            c.fp = format!("{}/{}", cx.fp, token(&nbs[j], j));
            c.mark = Some(BranchMark {
                depth: cx.mark.as_ref().map_or(0, |m| m.depth) + 1,
                desc: branch_name(&nbs[j], j),
                outer_fp: cx.fp.clone(),
                inner_fp: c.fp.clone(),
            });
            c.old_segs.push(Seg::Branch {
                one_of,
                list: oli,
                index: i,
            });
            c.new_segs.push(Seg::Branch {
                one_of,
                list: nli,
                index: j,
            });
            c.branch = Some(branch_name(&nbs[j], j));
            self.cmp(&obs[i], &nbs[j], &c);
        }
        if one_of {
            // A changed branch that now overlaps another one (a value dropped from a fallback
            // branch's exclusion, a tag widened): messages matching both fail `oneOf`.
            let old_of = |j: usize| pairs.iter().find(|p| p.1 == j).map(|p| p.0);
            let mut seen: Vec<(usize, usize)> = Vec::new();
            for &(i, j) in &pairs {
                if shape_key(&obs[i]) == shape_key(&nbs[j]) {
                    continue;
                }
                for k in 0..nbs.len() {
                    let Some(ok) = old_of(k) else { continue };
                    if k == j || seen.contains(&(k.min(j), k.max(j))) {
                        continue;
                    }
                    seen.push((k.min(j), k.max(j)));
                    let both = schema::merge(&nbs[j], &nbs[k]);
                    if both.never {
                        continue;
                    }
                    let witness = |a: &Schema, b: &Schema, m: &Schema| {
                        synth::synth(m, false)
                            .filter(|v| eval(a, v) == Some(true) && eval(b, v) == Some(true))
                    };
                    // Only overlaps the old branches did not already have.
                    let before = schema::merge(&obs[i], &obs[ok]);
                    if !before.never && witness(&obs[i], &obs[ok], &before).is_some() {
                        continue;
                    }
                    let bw = match witness(&nbs[j], &nbs[k], &both) {
                        Some(v) => cx.old_at(Leaf::Set(v)),
                        None if before.never => {
                            Dec::Unknown(first_opaque(&both, 0).unwrap_or_else(|| "oneOf".into()))
                        }
                        None => continue,
                    };
                    self.push(
                        &rules::ONE_OF_BRANCHES_OVERLAP,
                        cx,
                        format!(
                            "{}: changed {} now overlaps {}: a message matching both fails `oneOf`",
                            cx.here(),
                            branch_name(&nbs[j], j),
                            branch_name(&nbs[k], k)
                        ),
                        "changed branch overlaps".to_owned(),
                        obs[i].loc.clone(),
                        nbs[j].loc.clone().or_else(|| n.kw_loc(kw)),
                        bw,
                        Dec::Holds,
                    );
                    self.set_fp(format!(
                        "{}/{}&{}",
                        cx.fp,
                        token(&nbs[j], j),
                        token(&nbs[k], k)
                    ));
                }
            }
        }
        for (j, nb) in nbs.iter().enumerate() {
            if used_n[j] {
                continue;
            }
            // FORWARD: a new producer writes this branch; does some old branch accept it?
            let covered = obs.iter().any(|ob| self.subset(nb, ob) == Some(true));
            let fw = if covered {
                Dec::Holds
            } else {
                let mut segs = cx.new_segs.clone();
                segs.push(Seg::Branch {
                    one_of,
                    list: nli,
                    index: j,
                });
                Dec::Breaks(vec![vec![Mutation {
                    segs,
                    leaf: Leaf::Keep,
                }]])
            };
            self.push(
                if one_of {
                    &rules::ONE_OF_BRANCH_ADDED
                } else {
                    &rules::ANY_OF_BRANCH_ADDED
                },
                cx,
                format!("{}: {} added", cx.here(), branch_name(nb, j)),
                "branch added".to_owned(),
                o.kw_loc(kw),
                nb.loc.clone().or_else(|| n.kw_loc(kw)),
                Dec::Holds,
                fw,
            );
            self.set_fp(format!("{}/{}", cx.fp, token(nb, j)));
            if one_of {
                for (k, other) in nbs.iter().enumerate() {
                    if k == j {
                        continue;
                    }
                    let both = schema::merge(nb, other);
                    if both.never {
                        continue;
                    }
                    let bw = match synth::synth(&both, false) {
                        Some(v) if eval(nb, &v) == Some(true) && eval(other, &v) == Some(true) => {
                            cx.old_at(Leaf::Set(v))
                        }
                        _ => Dec::Unknown(first_opaque(&both, 0).unwrap_or_else(|| "oneOf".into())),
                    };
                    self.push(
                        &rules::ONE_OF_BRANCHES_OVERLAP,
                        cx,
                        format!(
                            "{}: new {} overlaps {}: a message matching both fails `oneOf`",
                            cx.here(),
                            branch_name(nb, j),
                            branch_name(other, k)
                        ),
                        "new branch overlaps".to_owned(),
                        other.loc.clone(),
                        nb.loc.clone().or_else(|| n.kw_loc(kw)),
                        bw,
                        Dec::Holds,
                    );
                    self.set_fp(format!("{}/{}&{}", cx.fp, token(nb, j), token(other, k)));
                }
            }
        }
        for (i, ob) in obs.iter().enumerate() {
            if used_o[i] {
                continue;
            }
            let covered = nbs.iter().any(|nb| self.subset(ob, nb) == Some(true));
            let bw = if covered {
                Dec::Holds
            } else {
                let mut segs = cx.old_segs.clone();
                segs.push(Seg::Branch {
                    one_of,
                    list: oli,
                    index: i,
                });
                Dec::Breaks(vec![vec![Mutation {
                    segs,
                    leaf: Leaf::Keep,
                }]])
            };
            self.push(
                if one_of {
                    &rules::ONE_OF_BRANCH_REMOVED
                } else {
                    &rules::ANY_OF_BRANCH_REMOVED
                },
                cx,
                format!("{}: {} removed", cx.here(), branch_name(ob, i)),
                "branch removed".to_owned(),
                ob.loc.clone().or_else(|| o.kw_loc(kw)),
                n.kw_loc(kw),
                bw,
                Dec::Holds,
            );
            self.set_fp(format!("{}/{}", cx.fp, token(ob, i)));
        }
    }

    fn opaque(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        let same = |a: &schema::Opaque, b: &schema::Opaque| {
            a.keyword == b.keyword && json_eq(&a.value, &b.value)
        };
        for no in &n.opaque {
            if o.opaque.iter().any(|oo| same(oo, no)) {
                continue;
            }
            let bw = Dec::Breaks(conditional_recipes(no, &cx.old_segs));
            self.push(
                opaque_rule(&no.keyword),
                cx,
                format!(
                    "{}: `{}` constraint added or changed",
                    cx.here(),
                    no.keyword
                ),
                format!("{} now {}", no.keyword, canon(&no.value)),
                o.kw_loc(&no.keyword).or_else(|| o.loc.clone()),
                Some(no.loc.clone()),
                bw,
                Dec::Holds,
            );
            self.set_keyword(&no.keyword);
        }
        for oo in &o.opaque {
            if n.opaque.iter().any(|no| same(oo, no)) {
                continue;
            }
            let fw = Dec::Breaks(conditional_recipes(oo, &cx.new_segs));
            self.push(
                opaque_rule(&oo.keyword),
                cx,
                format!(
                    "{}: `{}` constraint removed or changed",
                    cx.here(),
                    oo.keyword
                ),
                format!("{} was {}", oo.keyword, canon(&oo.value)),
                Some(oo.loc.clone()),
                n.kw_loc(&oo.keyword).or_else(|| n.loc.clone()),
                Dec::Holds,
                fw,
            );
            self.set_keyword(&oo.keyword);
        }
    }
}

fn opaque_rule(keyword: &str) -> &'static Rule {
    match keyword {
        "if" => &rules::CONDITIONAL_CHANGED,
        "not" => &rules::NOT_CHANGED,
        _ => &rules::UNCOMPARED_CONSTRAINT_CHANGED,
    }
}

/// Mutations that may make an instance violate a conditional or negated constraint.
fn conditional_recipes(op: &schema::Opaque, segs: &[Seg]) -> Vec<Recipe> {
    let mut out: Vec<Recipe> = vec![vec![Mutation {
        segs: segs.to_vec(),
        leaf: Leaf::Keep,
    }]];
    let at = |p: &str| [segs.to_vec(), vec![Seg::Prop(p.to_owned())]].concat();
    let required = |v: Option<&Value>| -> Vec<String> {
        v.and_then(|x| x.get("required"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    match op.keyword.as_str() {
        "if" => {
            let cond = op.value.get("if");
            let mut set_if: Vec<Mutation> = Vec::new();
            if let Some(Value::Object(props)) = cond.and_then(|c| c.get("properties")) {
                for (p, s) in props {
                    if let Some(c) = s
                        .get("const")
                        .or_else(|| s.get("enum").and_then(|e| e.get(0)))
                    {
                        set_if.push(Mutation {
                            segs: at(p),
                            leaf: Leaf::Set(c.clone()),
                        });
                    }
                }
            }
            for r in required(cond) {
                set_if.push(Mutation {
                    segs: at(&r),
                    leaf: Leaf::Keep,
                });
            }
            let then = required(op.value.get("then"));
            for t in &then {
                let mut r = set_if.clone();
                r.push(Mutation {
                    segs: at(t),
                    leaf: Leaf::Remove,
                });
                out.push(r);
            }
            let otherwise = required(op.value.get("else"));
            for t in &otherwise {
                out.push(vec![Mutation {
                    segs: at(t),
                    leaf: Leaf::Remove,
                }]);
            }
        }
        "not" => {
            for r in required(Some(&op.value)) {
                out.push(vec![Mutation {
                    segs: at(&r),
                    leaf: Leaf::Keep,
                }]);
            }
            if let Some(c) = op.value.get("const") {
                out.push(vec![Mutation {
                    segs: segs.to_vec(),
                    leaf: Leaf::Set(c.clone()),
                }]);
            }
            if let Some(Value::Array(e)) = op.value.get("enum") {
                for c in e {
                    out.push(vec![Mutation {
                        segs: segs.to_vec(),
                        leaf: Leaf::Set(c.clone()),
                    }]);
                }
            }
        }
        _ => {}
    }
    out
}

/// The property every branch of both lists requires with a one-value enum, except fallback
/// branches, whose tag is any value but some listed ones (`not: {enum: [...]}`).
fn union_tag(a: &[Schema], b: &[Schema]) -> Option<String> {
    let tagged = |br: &Schema, n: &str| {
        br.prop(n)
            .and_then(|p| p.schema.enumeration.as_ref())
            .is_some_and(|e| e.len() == 1)
    };
    let fallback = |br: &Schema, n: &str| {
        br.prop(n).is_some_and(|p| {
            p.schema.enumeration.is_none() && !p.schema.never && p.schema.excluded.is_some()
        })
    };
    let first = a.iter().chain(b).find(|br| !br.props.is_empty())?;
    first.props.iter().map(|(n, _)| n.clone()).find(|n| {
        a.iter().chain(b).any(|br| tagged(br, n))
            && a.iter()
                .chain(b)
                .all(|br| br.required.contains(n) && (tagged(br, n) || fallback(br, n)))
    })
}

/// Whether the two sides' unions pair list for list and the surrounding schema declares
/// object members that apply inside every branch.
fn spread_mode(o: &Schema, n: &Schema) -> bool {
    let has_unions = |s: &Schema| !s.one_of.is_empty() || !s.any_of.is_empty();
    let object_members = |s: &Schema| {
        !s.props.is_empty()
            || !s.required.is_empty()
            || s.additional.is_some()
            || s.keep_unknown
            || !s.dependent.is_empty()
    };
    has_unions(o)
        && has_unions(n)
        && o.one_of.len() == n.one_of.len()
        && o.any_of.len() == n.any_of.len()
        && (object_members(o) || object_members(n))
}

/// The object members of a schema (properties, required, additionalProperties,
/// dependentRequired), to merge into each union branch.
fn object_parts(s: &Schema) -> Schema {
    let mut out = Schema {
        props: s.props.clone(),
        required: s.required.clone(),
        additional: s.additional.clone(),
        keep_unknown: s.keep_unknown,
        dependent: s.dependent.clone(),
        ..Schema::default()
    };
    for kw in [
        "properties",
        "required",
        "additionalProperties",
        "dependentRequired",
    ] {
        if let Some(l) = s.kw_locs.get(kw) {
            out.kw_locs.insert(kw.to_owned(), l.clone());
        }
    }
    out
}

/// The first keyword kept opaque in `s` or its members, naming why it cannot be evaluated.
fn first_opaque(s: &Schema, depth: usize) -> Option<String> {
    if depth > 16 {
        return None;
    }
    if let Some(o) = s.opaque.first() {
        return Some(o.keyword.clone());
    }
    s.props
        .iter()
        .map(|(_, p)| &p.schema)
        .chain(s.items.as_deref())
        .chain(s.additional.as_deref())
        .chain(s.one_of.iter().chain(&s.any_of).flatten())
        .find_map(|x| first_opaque(x, depth + 1))
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
