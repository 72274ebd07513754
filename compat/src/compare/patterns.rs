//! `patternProperties`: the keys each pattern is found in, compared as regular languages.
//! Patterns of either side with the same language form one group; when the groups' languages
//! are disjoint, every key of a group is governed on each side by that side's patterns of the
//! group (or, where it has none, by its `additionalProperties`), so comparing those two
//! schemas decides the whole group, with a key of the group as the counterexample's. Declared
//! properties the patterns also match are compared with the properties (`prop_schema` merges
//! the patterns in); keys no pattern matches, with `additionalProperties`.

use std::sync::Arc;

use super::*;
use crate::lang::Lang;

impl Comparer {
    pub(super) fn patterns(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        if o.pattern_props.is_empty() && n.pattern_props.is_empty() {
            return;
        }
        let mut all: Vec<String> = Vec::new();
        for (p, _) in o.pattern_props.iter().chain(&n.pattern_props) {
            if !all.contains(p) {
                all.push(p.clone());
            }
        }
        let Some(groups) = language_groups(&all) else {
            let loc = |s: &Schema| s.kw_loc("patternProperties").or_else(|| s.loc.clone());
            self.push(
                &rules::PATTERN_PROPERTIES_CHANGED,
                cx,
                format!(
                    "{}: patternProperties changed, with patterns whose keys overlap",
                    cx.here()
                ),
                format!("patterns {}", canon(&serde_json::json!(all))),
                loc(o),
                loc(n),
                Dec::Unknown("patternProperties".into()),
                Dec::Unknown("patternProperties".into()),
            );
            return;
        };
        for (patterns, langs) in groups {
            let group_schema = |s: &Schema| -> Option<Schema> {
                let mut out: Option<Schema> = None;
                for (p, ps) in &s.pattern_props {
                    if patterns.contains(p) {
                        out = Some(match out {
                            Some(x) => schema::merge(&x, ps),
                            None => ps.clone(),
                        });
                    }
                }
                out
            };
            let (og, ng) = (group_schema(o), group_schema(n));
            let same = match (&og, &ng) {
                (Some(x), Some(y)) => shape_key(x) == shape_key(y),
                _ => false,
            };
            if same {
                continue;
            }
            let declared = |k: &str| o.prop(k).is_some() || n.prop(k).is_some();
            let key = match lang::search(&langs[..1], &[], 0, None, &|k| !declared(k)) {
                Search::Found(k) => Some(k),
                _ => None,
            };
            let governing = |s: &Schema, g: &Option<Schema>| -> Option<Schema> {
                g.clone().or_else(|| s.additional.as_deref().cloned())
            };
            let writes = |s: &Schema, g: &Option<Schema>| {
                g.is_some()
                    || self.producer_open(s)
                    || s.additional.as_deref().is_some_and(|a| !a.never)
            };
            let decide = |p: &Schema,
                          pg: &Option<Schema>,
                          c: &Schema,
                          cg: &Option<Schema>,
                          segs: &[Seg]|
             -> Dec {
                if !writes(p, pg) {
                    return Dec::Holds;
                }
                let Some(consumer) = governing(c, cg) else {
                    return Dec::Holds;
                };
                let producer = governing(p, pg).unwrap_or_else(Schema::any);
                if self.subset(&producer, &consumer) == Some(true) {
                    return Dec::Holds;
                }
                match (&key, synth::separating(&producer, &consumer)) {
                    (Some(k), Some(v)) => Dec::Breaks(vec![vec![Mutation {
                        segs: [segs.to_vec(), vec![Seg::Prop(k.clone())]].concat(),
                        leaf: Leaf::Set(v),
                    }]]),
                    _ => Dec::Unknown("patternProperties".into()),
                }
            };
            let bw = decide(o, &og, n, &ng, &cx.old_segs);
            let fw = decide(n, &ng, o, &og, &cx.new_segs);
            if bw.holds() && fw.holds() {
                continue;
            }
            let what = match (&og, &ng) {
                (Some(_), Some(_)) => "values changed",
                (None, Some(_)) => "added",
                _ => "removed",
            };
            let shown = patterns.join("`, `");
            let loc = |s: &Schema| s.kw_loc("patternProperties").or_else(|| s.loc.clone());
            self.push(
                &rules::PATTERN_PROPERTIES_CHANGED,
                cx,
                format!("{}: pattern property `{shown}` {what}", cx.here()),
                format!(
                    "pattern {} {what}: {} -> {}",
                    canon(&serde_json::json!(patterns)),
                    og.as_ref().map(shape_key).unwrap_or_default(),
                    ng.as_ref().map(shape_key).unwrap_or_default()
                ),
                loc(o),
                loc(n),
                bw,
                fw,
            );
        }
    }
}

/// Patterns with one language, and their languages.
type Group = (Vec<String>, Vec<Arc<Lang>>);

/// The patterns grouped by language (equal languages in one group), each group with its
/// patterns' languages; `None` when a pattern is not regular here or two groups share a key.
fn language_groups(patterns: &[String]) -> Option<Vec<Group>> {
    let mut groups: Vec<Group> = Vec::new();
    for p in patterns {
        let l = lang::lang(p)?;
        let mut placed = false;
        for (names, langs) in groups.iter_mut() {
            let equal = lang::search(std::slice::from_ref(&l), &langs[..1], 0, None, &|_| true)
                == Search::None
                && lang::search(&langs[..1], std::slice::from_ref(&l), 0, None, &|_| true)
                    == Search::None;
            if equal {
                names.push(p.clone());
                langs.push(l.clone());
                placed = true;
                break;
            }
        }
        if !placed {
            groups.push((vec![p.clone()], vec![l]));
        }
    }
    for i in 0..groups.len() {
        for j in 0..i {
            let both = [groups[i].1[0].clone(), groups[j].1[0].clone()];
            if lang::search(&both, &[], 0, None, &|_| true) != Search::None {
                return None;
            }
        }
    }
    Some(groups)
}
