//! Keywords compared only as opaque constraints: `if`/`then`/`else`, `not`, and the rest.

use super::*;

impl Comparer {
    /// `negations_decided`: `negation` compared the `not`s already.
    pub(super) fn opaque(&mut self, o: &Schema, n: &Schema, negations_decided: bool, cx: &Cx) {
        let same = |a: &schema::Opaque, b: &schema::Opaque| {
            (negations_decided && a.keyword == "not")
                || (a.keyword == b.keyword && json_eq(&a.value, &b.value))
        };
        for no in &n.opaque {
            if (negations_decided && no.keyword == "not") || o.opaque.iter().any(|oo| same(oo, no))
            {
                continue;
            }
            let bw = Dec::Breaks(conditional_recipes(no, &cx.old_segs));
            self.push(
                opaque_rule(&no.keyword),
                cx,
                format!(
                    "{}: `{}` constraint added or changed{}",
                    cx.here(),
                    no.keyword,
                    why_opaque(&no.keyword)
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
            if (negations_decided && oo.keyword == "not") || n.opaque.iter().any(|no| same(oo, no))
            {
                continue;
            }
            let fw = Dec::Breaks(conditional_recipes(oo, &cx.new_segs));
            self.push(
                opaque_rule(&oo.keyword),
                cx,
                format!(
                    "{}: `{}` constraint removed or changed{}",
                    cx.here(),
                    oo.keyword,
                    why_opaque(&oo.keyword)
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

/// Why a keyword compat folds elsewhere was kept opaque here, for the finding's message.
fn why_opaque(keyword: &str) -> &'static str {
    match keyword {
        "unevaluatedItems" | "unevaluatedProperties" => {
            " (kept opaque beside a composing keyword: which items or properties it covers \
             depends on every branch's annotations, which compat does not model, too costly \
             to decide here)"
        }
        "additionalItems" => {
            " (kept opaque in 2020-12, where validators disagree on it: write `prefixItems` \
             and `items`, or declare the draft that has it)"
        }
        _ => "",
    }
}

pub(super) fn opaque_rule(keyword: &str) -> &'static Rule {
    match keyword {
        "if" => &rules::CONDITIONAL_CHANGED,
        "not" => &rules::NOT_CHANGED,
        _ => &rules::UNCOMPARED_CONSTRAINT_CHANGED,
    }
}

/// Mutations that may make an instance violate a conditional or negated constraint.
pub(super) fn conditional_recipes(op: &schema::Opaque, segs: &[Seg]) -> Vec<Recipe> {
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

/// The first keyword kept opaque in `s` or its members, naming why it cannot be evaluated.
pub(super) fn first_opaque(s: &Schema, depth: usize) -> Option<String> {
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
        .chain(&s.prefix)
        .chain(s.contains.iter().map(|c| &c.schema))
        .chain(s.additional.as_deref())
        .chain(s.one_of.iter().chain(&s.any_of).flatten())
        .find_map(|x| first_opaque(x, depth + 1))
}
