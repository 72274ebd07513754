//! `enum`/`const` values and `not enum` exclusions.

use super::*;

impl Comparer {
    /// `not: {enum}` / `not: {const}` exclusions, old vs new (neither side an enumeration).
    pub(super) fn exclusions(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
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
    pub(super) fn lifted(&mut self, o: &Schema, n: &Schema, cx: &Cx) -> bool {
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

    pub(super) fn enums(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
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
}
