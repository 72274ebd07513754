//! Instances from canonical schemas: a valid value for a schema, and a base message mutated at
//! one path. Nothing here is trusted: every counterexample goes through the real validators.

use serde_json::{json, Map, Value};

use crate::lang::{self, Search};
use crate::schema::{self, eval, merge, Schema, ARR, BOOL, INT, NULL, NUM, OBJ, STR};

/// One step from a schema into a part of its instance.
#[derive(Clone, Debug, PartialEq)]
pub enum Seg {
    Prop(String),
    /// The first item of an array.
    Items,
    /// The item at this index (the array filled up to it with valid items).
    Item(usize),
    /// A value of a map (`additionalProperties` schema).
    MapValue,
    /// The instance matches branch `index` of the schema's `list`-th `oneOf` (or `anyOf`).
    Branch {
        one_of: bool,
        list: usize,
        index: usize,
    },
}

/// What to do at the end of a path.
#[derive(Clone, Debug, PartialEq)]
pub enum Leaf {
    /// Remove the property the path ends in.
    Remove,
    Set(Value),
    /// A valid value of the schema there.
    Synth,
    /// Keep what is there (the path itself chose a branch).
    Keep,
    /// Add a property the schema does not declare.
    AddUndeclared,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mutation {
    pub segs: Vec<Seg>,
    pub leaf: Leaf,
}

pub type Recipe = Vec<Mutation>;

pub const UNDECLARED: &str = "x_undeclared_property";

/// The most properties a counterexample object is built with (`minProperties` and
/// `maxProperties` bounds beyond it are decided, but not shown by an instance).
pub const MAX_BUILT_PROPERTIES: u64 = 256;

/// The instance location a mutation path reaches, one token per step into the instance:
/// a property name, or `None` for an array item or map value (any index or key).
pub fn instance_path(segs: &[Seg]) -> Vec<Option<String>> {
    segs.iter()
        .filter_map(|seg| match seg {
            Seg::Prop(name) => Some(Some(name.clone())),
            Seg::Items | Seg::MapValue => Some(None),
            Seg::Item(i) => Some(Some(i.to_string())),
            Seg::Branch { .. } => None,
        })
        .collect()
}

/// A valid instance of `s`: only required properties (`full = false`) or every declared one.
pub fn synth(s: &Schema, full: bool) -> Option<Value> {
    synth_in(s, None, full, 0)
}

/// A valid value of `s` of the given kind (`NUM` alone: a non-integral number).
pub fn synth_kind(s: &Schema, kind: schema::Types) -> Option<Value> {
    synth_in(s, Some(kind), false, 0)
}

fn without_list(s: &Schema, one_of: bool, list: usize) -> Schema {
    let mut out = s.clone();
    if one_of {
        out.one_of.remove(list);
    } else {
        out.any_of.remove(list);
    }
    out
}

/// The schema an instance matching branch `index` satisfies.
pub fn branch_schema(s: &Schema, one_of: bool, list: usize, index: usize) -> Option<Schema> {
    let lists = if one_of { &s.one_of } else { &s.any_of };
    let b = lists.get(list)?.get(index)?;
    Some(merge(&without_list(s, one_of, list), b))
}

fn synth_in(s: &Schema, kind: Option<schema::Types>, full: bool, depth: usize) -> Option<Value> {
    if s.never || depth > 24 {
        return None;
    }
    for (one_of, lists) in [(true, &s.one_of), (false, &s.any_of)] {
        if !lists.is_empty() {
            for i in 0..lists[0].len() {
                let Some(m) = branch_schema(s, one_of, 0, i) else {
                    continue;
                };
                if let Some(v) = synth_in(&m, kind, full, depth + 1) {
                    if eval(s, &v) != Some(false) {
                        return Some(v);
                    }
                }
            }
            return None;
        }
    }
    if let Some(e) = &s.enumeration {
        return e
            .iter()
            .filter(|v| kind.is_none_or(|k| schema::types_of(v) & k != 0))
            .find(|v| eval(s, v) != Some(false))
            .cloned();
    }
    let t = s.type_set() & kind.unwrap_or(schema::ALL);
    let object_first = !s.props.is_empty() || !s.required.is_empty();
    let mut order = vec![STR, INT, NUM, BOOL, OBJ, ARR, NULL];
    if object_first {
        order.insert(0, OBJ);
    }
    for k in order {
        if t & k == 0 {
            continue;
        }
        // `NUM` here means a number that is not an integer.
        if k == NUM && (t & NUM == 0 || kind.is_some_and(|x| x & INT != 0)) {
            continue;
        }
        let v = match k {
            NULL => Some(Value::Null),
            BOOL => [true, false]
                .into_iter()
                .map(Value::Bool)
                .find(|v| eval(s, v) != Some(false)),
            STR => synth_string(s, &|_| true).map(Value::String),
            INT => synth_number(s, true),
            NUM => synth_number(s, false),
            ARR => synth_array(s, full, depth),
            OBJ => synth_object(s, full, depth),
            _ => None,
        };
        if let Some(v) = v {
            if eval(s, &v) != Some(false) {
                return Some(v);
            }
        }
    }
    None
}

/// A string `s` accepts that `keep` also accepts.
pub fn synth_string(s: &Schema, keep: &dyn Fn(&str) -> bool) -> Option<String> {
    let min = s.min_length.unwrap_or(0);
    let max = s.max_length;
    let ok = |x: &str| {
        let n = x.chars().count() as u64;
        n >= min
            && max.is_none_or(|m| n <= m)
            && keep(x)
            && eval(s, &Value::String(x.to_owned())) != Some(false)
    };
    let mut fixed: Vec<String> = match s.format.as_deref() {
        Some("uuid") => vec!["3f1c9a52-7d4e-4b8a-9e21-0c6f5d2ab871".into()],
        Some("date-time") => vec!["2024-10-19T12:34:56Z".into()],
        _ => vec![],
    };
    if s.patterns.is_empty() {
        let n = min.max(1);
        if max.is_none_or(|m| n <= m) {
            fixed.push("x".repeat(n as usize));
        }
        fixed.push(String::new());
        fixed.push("not-a-valid-value".into());
    }
    if let Some(f) = fixed.into_iter().find(|x| ok(x)) {
        return Some(f);
    }
    let langs = lang::langs(&s.patterns)?;
    let format = s.format.clone();
    let keep_all = |x: &str| {
        keep(x)
            && !s.excluded.iter().flatten().any(|v| v.as_str() == Some(x))
            && format
                .as_deref()
                .is_none_or(|f| schema::format_ok(f, x) != Some(false))
    };
    match lang::search(&langs, &[], min, max, &keep_all) {
        Search::Found(x) => Some(x),
        _ => None,
    }
}

/// Numbers to try for a numeric schema.
pub fn number_candidates(s: &Schema, integral: bool) -> Vec<f64> {
    let mut c = vec![0.0, 1.0, -1.0, 2.0, 10.0, 100.0];
    for b in [s.lower, s.upper].into_iter().flatten() {
        for d in [0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5] {
            c.push(b.value + d);
        }
        c.push(b.value.floor());
        c.push(b.value.ceil());
    }
    if let Some(m) = s.multiple_of {
        let base = s.lower.map(|b| (b.value / m).ceil() * m).unwrap_or(0.0);
        for i in 0..4 {
            c.push(base + m * i as f64);
        }
    }
    if integral {
        c.retain(|x| x.fract() == 0.0);
    } else {
        let extra: Vec<f64> = c
            .iter()
            .flat_map(|x| [x + 0.5, x + 0.25, x + 0.1, x + 0.3])
            .collect();
        c = extra;
    }
    c
}

pub fn num_value(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

fn synth_number(s: &Schema, integral: bool) -> Option<Value> {
    number_candidates(s, integral)
        .into_iter()
        .map(num_value)
        .find(|v| eval(s, v) != Some(false))
}

fn synth_array(s: &Schema, full: bool, depth: usize) -> Option<Value> {
    if !s.prefix.is_empty() || !s.contains.is_empty() {
        return synth_positional(s, full, depth);
    }
    let n = s.min_items.unwrap_or(0) as usize;
    let items = s.items.as_deref().cloned().unwrap_or_default();
    if n == 0 {
        if full && s.max_items != Some(0) {
            if let Some(v) = synth_in(&items, None, full, depth + 1) {
                return Some(Value::Array(vec![v]));
            }
        }
        return Some(Value::Array(vec![]));
    }
    if s.unique && n > 1 {
        return distinct(&items, n).map(Value::Array);
    }
    let v = synth_in(&items, None, full, depth + 1)?;
    Some(Value::Array(vec![v; n]))
}

/// An array item by item (a prefix, `contains`): `minItems` items (the whole prefix when
/// `full`), then items matching each `contains` added or substituted until it counts enough.
fn synth_positional(s: &Schema, full: bool, depth: usize) -> Option<Value> {
    let max = s
        .max_items
        .map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
    let mut n = usize::try_from(s.min_items.unwrap_or(0)).unwrap_or(usize::MAX);
    if full {
        n = n.max(s.prefix.len()).min(max);
    }
    // An instance this long is no message anyone reads: leave it to the other candidates.
    const LONGEST: usize = 4096;
    if n > LONGEST || s.contains.iter().any(|c| c.min > LONGEST as u64) {
        return None;
    }
    let mut out: Vec<Value> = Vec::with_capacity(n);
    for i in 0..n {
        out.push(synth_in(&s.item_schema(i), None, false, depth + 1)?);
    }
    for c in &s.contains {
        let matching = |out: &[Value]| {
            out.iter()
                .filter(|x| eval(&c.schema, x) == Some(true))
                .count() as u64
        };
        let mut i = 0;
        while matching(&out) < c.min {
            if i > max.min(out.len() + c.min as usize + 1) || i > LONGEST {
                return None;
            }
            let want = merge(&s.item_schema(i), &c.schema);
            if i < out.len() {
                if eval(&c.schema, &out[i]) != Some(true) {
                    if let Some(x) = synth_in(&want, None, false, depth + 1) {
                        out[i] = x;
                    }
                }
            } else if i < max {
                out.push(synth_in(&want, None, false, depth + 1)?);
            }
            i += 1;
        }
    }
    Some(Value::Array(out))
}

/// `n` distinct valid values of `s`.
pub fn distinct(s: &Schema, n: usize) -> Option<Vec<Value>> {
    let mut out: Vec<Value> = Vec::new();
    let mut pool: Vec<Value> = Vec::new();
    if let Some(e) = &s.enumeration {
        pool.extend(e.iter().cloned());
    }
    let t = s.type_set();
    if t & INT != 0 {
        pool.extend(number_candidates(s, true).into_iter().map(num_value));
    }
    if t & STR != 0 && s.enumeration.is_none() {
        for _ in 0..n {
            let taken = out.clone();
            let keep = move |x: &str| !taken.iter().any(|v| v.as_str() == Some(x));
            if let Some(x) = synth_string(s, &keep) {
                out.push(Value::String(x));
            }
        }
    }
    if t & BOOL != 0 {
        pool.extend([Value::Bool(true), Value::Bool(false)]);
    }
    for v in pool {
        if out.len() >= n {
            break;
        }
        if eval(s, &v) != Some(false) && !out.iter().any(|w| schema::json_eq(w, &v)) {
            out.push(v);
        }
    }
    (out.len() >= n).then(|| out.into_iter().take(n).collect())
}

fn synth_object(s: &Schema, full: bool, depth: usize) -> Option<Value> {
    let mut obj = Map::new();
    let mut names: Vec<String> = s.required.iter().cloned().collect();
    if full {
        for (n, _) in &s.props {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    for n in &names {
        let ps = s.prop_schema(n);
        match synth_in(&ps, None, full && depth < 6, depth + 1) {
            Some(v) => {
                obj.insert(n.clone(), v);
            }
            None if s.required.contains(n) => return None,
            None => {}
        }
    }
    for _ in 0..4 {
        let mut added = false;
        for (k, deps) in &s.dependent {
            if obj.contains_key(k) {
                for d in deps {
                    if !obj.contains_key(d) {
                        let v = synth_in(&s.prop_schema(d), None, false, depth + 1)?;
                        obj.insert(d.clone(), v);
                        added = true;
                    }
                }
            }
        }
        if !added {
            break;
        }
    }
    // Enough properties for `minProperties`: the declared ones first, then undeclared ones
    // (up to a size worth building; a larger minimum leaves the object short, so no value).
    let min = s.min_props.unwrap_or(0).min(MAX_BUILT_PROPERTIES) as usize;
    let declared: Vec<String> = s.props.iter().map(|(n, _)| n.clone()).collect();
    let undeclared = (0..min).map(|i| format!("x{i}"));
    for n in declared.into_iter().chain(undeclared) {
        if obj.len() >= min {
            break;
        }
        if obj.contains_key(&n) {
            continue;
        }
        if let Some(v) = synth_in(&s.prop_schema(&n), None, false, depth + 1) {
            obj.insert(n, v);
        }
    }
    Some(Value::Object(obj))
}

/// An instance of the object schema `s` with exactly `count` properties: its required ones,
/// then declared optional ones, then (when `undeclared`) names it does not declare.
pub fn object_with(s: &Schema, count: usize, undeclared: bool) -> Option<Value> {
    if count as u64 > MAX_BUILT_PROPERTIES {
        return None;
    }
    let mut obj = match synth_kind(s, OBJ)? {
        Value::Object(o) => o,
        _ => return None,
    };
    if obj.len() > count {
        // Drop what is not required.
        let optional: Vec<String> = obj
            .keys()
            .filter(|k| !s.required.contains(*k))
            .cloned()
            .collect();
        for k in optional {
            if obj.len() <= count {
                break;
            }
            obj.remove(&k);
        }
    }
    let declared: Vec<String> = s.props.iter().map(|(n, _)| n.clone()).collect();
    let extra = (0..count).map(|i| format!("x{i}")).filter(|_| undeclared);
    for n in declared.into_iter().chain(extra) {
        if obj.len() >= count {
            break;
        }
        if obj.contains_key(&n) {
            continue;
        }
        if let Some(v) = synth(&s.prop_schema(&n), false) {
            obj.insert(n, v);
        }
    }
    let v = Value::Object(obj);
    (v.as_object().map(Map::len) == Some(count) && eval(s, &v) != Some(false)).then_some(v)
}

/// Values of many shapes, for "something `a` accepts and `b` does not".
pub fn probe_values(a: &Schema) -> Vec<Value> {
    let mut out = vec![
        Value::Null,
        Value::Bool(true),
        json!(0),
        json!(-1),
        json!(0.5),
        json!(""),
        json!("x"),
        json!("not-a-valid-value"),
        json!([]),
        json!({}),
    ];
    if let Some(v) = synth(a, false) {
        out.push(v);
    }
    if let Some(v) = synth(a, true) {
        out.push(v);
    }
    // Strings at `a`'s length bounds: what a narrowed bound on the other side refuses
    // (bounded, so a huge bound cannot make a huge probe).
    for len in [a.min_length, a.max_length].into_iter().flatten() {
        if len <= 4096 {
            out.push(Value::String("x".repeat(len as usize)));
        }
    }
    for k in [STR, INT, NUM, BOOL, OBJ, ARR, NULL] {
        if let Some(v) = synth_kind(a, k) {
            out.push(v);
        }
    }
    out
}

/// An array `a` accepts that misses one of `b`'s `contains` constraints (too few items
/// matching, or too many), as far as the evaluator can tell: items valid for `a`, some
/// matching each side's `contains` schemas and some not, in counts around `b`'s bounds.
pub fn array_missing_contains(a: &Schema, b: &Schema) -> Option<Value> {
    let view = |s: &Schema, whole: bool| -> Schema {
        let mut v = Schema {
            types: Some(ARR),
            contains: s.contains.clone(),
            ..Schema::default()
        };
        if whole {
            v.prefix = s.prefix.clone();
            v.items = s.items.clone();
            v.min_items = s.min_items;
            v.max_items = s.max_items;
            v.unique = s.unique;
        }
        v
    };
    let (accepting, refusing) = (view(a, true), view(b, false));
    let item = a.item_schema(0);
    let mut pool: Vec<Value> = Vec::new();
    let add = |v: Option<Value>, pool: &mut Vec<Value>| {
        if let Some(v) = v {
            if !pool.contains(&v) && pool.len() < 10 {
                pool.push(v);
            }
        }
    };
    for c in a.contains.iter().chain(&b.contains) {
        add(synth(&merge(&item, &c.schema), false), &mut pool);
        add(separating(&item, &c.schema), &mut pool);
    }
    for v in probe_values(&item) {
        if eval(&item, &v) == Some(true) {
            add(Some(v), &mut pool);
        }
    }
    let most = b
        .contains
        .iter()
        .map(|c| c.max.map_or(c.min, |m| m + 1))
        .chain(a.contains.iter().map(|c| c.min))
        .chain(a.min_items)
        .max()
        .unwrap_or(1)
        .clamp(1, 16) as usize;
    let fits = |v: &Value| eval(&accepting, v) == Some(true) && eval(&refusing, v) == Some(false);
    let empty = Value::Array(vec![]);
    if fits(&empty) {
        return Some(empty);
    }
    for x in &pool {
        for y in &pool {
            for count in 0..=most {
                let mut items = vec![x.clone(); count];
                while items.len() < (a.min_items.unwrap_or(0) as usize).max(1) {
                    items.push(y.clone());
                }
                let v = Value::Array(items);
                if fits(&v) {
                    return Some(v);
                }
            }
        }
    }
    None
}

/// A value `a` accepts and `b` rejects, as far as the evaluator can tell.
pub fn separating(a: &Schema, b: &Schema) -> Option<Value> {
    probe_values(a)
        .into_iter()
        .find(|v| eval(a, v) == Some(true) && eval(b, v) == Some(false))
}

/// Applies a recipe to `base` (an instance of `root`), building missing parts from `root`.
///
/// Where the evaluator cannot tell whether the instance already matches a union branch the
/// recipe goes through (an `if`/`then` or `not` inside it), there are two candidates: the
/// instance kept as it is (its example values intact, so a conditional it satisfies stays
/// satisfied) and the instance rebuilt from the branch. Both are returned, kept first; the
/// real validators decide which one, if any, is a counterexample.
pub fn apply_recipe(root: &Schema, base: &Value, recipe: &Recipe) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(2);
    for keep_undecided in [true, false] {
        let mut v = base.clone();
        if recipe
            .iter()
            .all(|m| apply(root, &mut v, &m.segs, &m.leaf, keep_undecided))
            && !out.contains(&v)
        {
            out.push(v);
        }
    }
    out
}

fn apply(s: &Schema, v: &mut Value, segs: &[Seg], leaf: &Leaf, keep_undecided: bool) -> bool {
    let Some(first) = segs.first() else {
        return match leaf {
            Leaf::Keep => true,
            Leaf::Remove => false,
            Leaf::Set(x) => {
                *v = x.clone();
                true
            }
            Leaf::Synth => match synth(s, false) {
                Some(x) => {
                    *v = x;
                    true
                }
                None => false,
            },
            Leaf::AddUndeclared => {
                // A schema without `type` closes objects only: the base must be one.
                if !v.is_object() {
                    *v = synth_kind(s, OBJ).unwrap_or_else(|| Value::Object(Map::new()));
                }
                match v {
                    Value::Object(o) => {
                        o.insert(UNDECLARED.into(), json!("x"));
                        true
                    }
                    _ => false,
                }
            }
        };
    };
    let rest = &segs[1..];
    match first {
        Seg::Prop(name) => {
            if !v.is_object() {
                match synth_kind(s, OBJ) {
                    Some(x) => *v = x,
                    None => *v = Value::Object(Map::new()),
                }
            }
            let Value::Object(o) = v else { return false };
            if rest.is_empty() && *leaf == Leaf::Remove {
                o.remove(name);
                return true;
            }
            let child = s.prop_schema(name);
            if !o.contains_key(name) {
                let Some(x) = synth(&child, false) else {
                    return false;
                };
                o.insert(name.clone(), x);
            }
            match o.get_mut(name) {
                Some(c) => apply(&child, c, rest, leaf, keep_undecided),
                None => false,
            }
        }
        Seg::Item(index) => {
            if !v.is_array() {
                *v = Value::Array(vec![]);
            }
            let Value::Array(a) = v else { return false };
            while a.len() <= *index {
                let Some(x) = synth(&s.item_schema(a.len()), false) else {
                    return false;
                };
                a.push(x);
            }
            apply(
                &s.item_schema(*index),
                &mut a[*index],
                rest,
                leaf,
                keep_undecided,
            )
        }
        Seg::Items => {
            let items = s.item_schema(0);
            if !v.is_array() {
                *v = Value::Array(vec![]);
            }
            let Value::Array(a) = v else { return false };
            if a.is_empty() {
                let Some(x) = synth(&items, false) else {
                    return false;
                };
                a.push(x);
            }
            apply(&items, &mut a[0], rest, leaf, keep_undecided)
        }
        Seg::MapValue => {
            let child = s.additional.as_deref().cloned().unwrap_or_default();
            if !v.is_object() {
                *v = Value::Object(Map::new());
            }
            let Value::Object(o) = v else { return false };
            let key = o
                .keys()
                .find(|k| s.prop(k).is_none())
                .cloned()
                .unwrap_or_else(|| "key".to_owned());
            if !o.contains_key(&key) {
                let Some(x) = synth(&child, false) else {
                    return false;
                };
                o.insert(key.clone(), x);
            }
            match o.get_mut(&key) {
                Some(c) => apply(&child, c, rest, leaf, keep_undecided),
                None => false,
            }
        }
        Seg::Branch {
            one_of,
            list,
            index,
        } => {
            let Some(target) = branch_schema(s, *one_of, *list, *index) else {
                return false;
            };
            let rebuild = match eval(&target, v) {
                Some(matches) => !matches,
                None => !keep_undecided,
            };
            if rebuild {
                // Keep what the instance has where the branch allows it.
                let mut candidate = synth(&target, false);
                if let (Some(Value::Object(c)), Value::Object(old)) = (&mut candidate, &*v) {
                    for (k, x) in old {
                        if !c.contains_key(k) && target.prop(k).is_some() {
                            c.insert(k.clone(), x.clone());
                        }
                    }
                    // Keeping them must not make the instance match another branch.
                    let kept = Value::Object(c.clone());
                    let lists = if *one_of { &s.one_of } else { &s.any_of };
                    let others = lists.get(*list).map_or(0, |l| {
                        (0..l.len())
                            .filter(|j| j != index)
                            .filter(|&j| {
                                branch_schema(s, *one_of, *list, j)
                                    .is_some_and(|b| eval(&b, &kept) != Some(false))
                            })
                            .count()
                    });
                    if others > 0 || eval(&target, &kept) == Some(false) {
                        candidate = synth(&target, false);
                    }
                }
                match candidate {
                    Some(x) => *v = x,
                    None => return false,
                }
            }
            apply(&target, v, rest, leaf, keep_undecided)
        }
    }
}

/// Drops properties a generated producer could not write (undeclared in a struct).
pub fn strip_undeclared(s: &Schema, v: &mut Value) {
    match v {
        Value::Object(o) => {
            let mut declared: Vec<String> = s.props.iter().map(|(n, _)| n.clone()).collect();
            let mut branches: Vec<&Schema> = Vec::new();
            for list in s.one_of.iter().chain(&s.any_of) {
                for b in list {
                    branches.push(b);
                    declared.extend(b.props.iter().map(|(n, _)| n.clone()));
                }
            }
            let is_struct = !declared.is_empty()
                && s.additional.is_none()
                && !s.keep_unknown
                && s.pattern_props.is_empty();
            if is_struct {
                o.retain(|k, _| declared.contains(k));
            }
            for (k, x) in o.iter_mut() {
                if let Some(p) = s.prop(k) {
                    strip_undeclared(&p.schema, x);
                } else if let Some(a) = &s.additional {
                    strip_undeclared(a, x);
                }
            }
        }
        Value::Array(a) if s.items.is_some() || !s.prefix.is_empty() => {
            for (i, x) in a.iter_mut().enumerate() {
                strip_undeclared(&s.item_schema(i), x);
            }
        }
        _ => {}
    }
}
