//! `patternProperties`: the keys of an object split into cells, each the keys found in exactly
//! one set of the two sides' patterns (regular languages, `lang`). Every key of a cell is
//! governed on each side by the conjunction of that side's patterns in the set (or, where it
//! has none there, by its `additionalProperties`), so comparing those two schemas decides the
//! whole cell, with a key of the cell (one neither side declares) as the counterexample's.
//! Declared properties the patterns also match are compared with the properties
//! (`prop_schema` merges the patterns in); keys no pattern matches, with
//! `additionalProperties`.

use super::*;

/// The most distinct patterns split into cells (2^n candidate sets); more is "unknown".
const MAX_CELL_PATTERNS: usize = 6;

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
        let loc = |s: &Schema| s.kw_loc("patternProperties").or_else(|| s.loc.clone());
        let langs = lang::langs(&all).filter(|_| all.len() <= MAX_CELL_PATTERNS);
        let Some(langs) = langs else {
            if unchanged(o, n) {
                return;
            }
            self.push(
                &rules::PATTERN_PROPERTIES_CHANGED,
                cx,
                format!(
                    "{}: patternProperties changed, with more than {MAX_CELL_PATTERNS} patterns or one that is not a regular language",
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
        let declared = |k: &str| o.prop(k).is_some() || n.prop(k).is_some();
        for mask in 1u32..(1 << all.len()) {
            let inside = |i: usize| mask & (1 << i) != 0;
            let cell_schema = |s: &Schema| -> Option<Schema> {
                let mut out: Option<Schema> = None;
                for (p, ps) in &s.pattern_props {
                    let i = all.iter().position(|q| q == p).unwrap_or(usize::MAX);
                    if i < all.len() && inside(i) {
                        out = Some(match out {
                            Some(x) => schema::merge(&x, ps),
                            None => ps.clone(),
                        });
                    }
                }
                out
            };
            let (og, ng) = (cell_schema(o), cell_schema(n));
            let governing = |s: &Schema, g: &Option<Schema>| -> Option<Schema> {
                g.clone().or_else(|| s.additional.as_deref().cloned())
            };
            let (ogov, ngov) = (governing(o, &og), governing(n, &ng));
            let same = match (&ogov, &ngov) {
                (Some(x), Some(y)) => shape_key(x) == shape_key(y),
                (None, None) => true,
                _ => false,
            };
            if same && og.is_some() == ng.is_some() {
                continue;
            }
            let (ins, outs): (Vec<_>, Vec<_>) = (0..all.len()).partition(|&i| inside(i));
            let pick = |ix: &[usize]| ix.iter().map(|&i| langs[i].clone()).collect::<Vec<_>>();
            let key = match lang::search_exactly(&pick(&ins), &pick(&outs), &|k| !declared(k)) {
                Search::Found(k) => Some(k),
                Search::None => continue,
                Search::Unknown => None,
            };
            let writes = |s: &Schema, g: &Option<Schema>| {
                g.is_some()
                    || self.producer_open(s)
                    || s.additional.as_deref().is_some_and(|a| !a.never)
            };
            let decide = |p: &Schema,
                          pg: &Option<Schema>,
                          pgov: &Option<Schema>,
                          cgov: &Option<Schema>,
                          segs: &[Seg]|
             -> Dec {
                if !writes(p, pg) {
                    return Dec::Holds;
                }
                let Some(consumer) = cgov else {
                    return Dec::Holds;
                };
                let producer = pgov.clone().unwrap_or_else(Schema::any);
                if self.subset(&producer, consumer) == Some(true) {
                    return Dec::Holds;
                }
                match (&key, synth::separating(&producer, consumer)) {
                    (Some(k), Some(v)) => Dec::Breaks(vec![vec![Mutation {
                        segs: [segs.to_vec(), vec![Seg::Prop(k.clone())]].concat(),
                        leaf: Leaf::Set(v),
                    }]]),
                    _ => Dec::Unknown("patternProperties".into()),
                }
            };
            let bw = decide(o, &og, &ogov, &ngov, &cx.old_segs);
            let fw = decide(n, &ng, &ngov, &ogov, &cx.new_segs);
            if bw.holds() && fw.holds() {
                continue;
            }
            let patterns: Vec<&String> = ins.iter().map(|&i| &all[i]).collect();
            let what = match (&og, &ng) {
                (Some(_), Some(_)) => "values changed",
                (None, Some(_)) => "added",
                _ => "removed",
            };
            let shown = patterns
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(" and ");
            self.push(
                &rules::PATTERN_PROPERTIES_CHANGED,
                cx,
                format!(
                    "{}: keys matching {shown}: pattern property {what}",
                    cx.here()
                ),
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

/// The same patterns with the same schemas on both sides.
fn unchanged(o: &Schema, n: &Schema) -> bool {
    o.pattern_props.len() == n.pattern_props.len()
        && o.pattern_props.iter().all(|(p, s)| {
            n.pattern_props
                .iter()
                .any(|(q, t)| p == q && shape_key(s) == shape_key(t))
        })
}
