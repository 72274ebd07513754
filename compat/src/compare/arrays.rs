//! Array keywords: `prefixItems` (and the tuple `items` + `additionalItems` of older
//! dialects, read as prefix and tail), `items`, `minItems`, `maxItems`, `uniqueItems`,
//! `contains` with `minContains`/`maxContains`.

use super::*;

impl Comparer {
    pub(super) fn arrays(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        self.positions(o, n, cx);
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
        self.contains(o, n, cx);
    }

    /// Item by item: each prefix position either side declares (while both sides allow an
    /// array that long), then the tail after the longer prefix. An item's schema is the same
    /// wherever it comes from (a prefix entry, the tail, nothing), so a prefix entry turned
    /// into the tail, or a tuple into `prefixItems`, is no change.
    fn positions(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        let reaches = |s: &Schema, i: usize| s.max_items.is_none_or(|m| (i as u64) < m);
        let k = o.prefix.len().max(n.prefix.len());
        for i in 0..k {
            if !(reaches(o, i) && reaches(n, i)) {
                return;
            }
            self.cmp(
                &o.item_schema(i),
                &n.item_schema(i),
                &cx.child(&i.to_string(), Seg::Item(i)),
            );
        }
        if (o.items.is_some() || n.items.is_some()) && reaches(o, k) && reaches(n, k) {
            let seg = if k == 0 { Seg::Items } else { Seg::Item(k) };
            self.cmp(&o.item_schema(k), &n.item_schema(k), &cx.child("*", seg));
        }
    }

    /// `contains` with its counts. A side's constraint holds for every array of the other
    /// when one of that side's constraints implies it (a subschema matched at least as often,
    /// or an upper count the other side's length or count already keeps); otherwise an array
    /// of the accepting side that misses it is searched for.
    fn contains(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        let keys = |s: &Schema| -> Vec<String> {
            s.contains
                .iter()
                .map(|c| format!("{} {} {:?}", shape_key(&c.schema), c.min, c.max))
                .collect()
        };
        if keys(o) == keys(n) {
            return;
        }
        let bw = self.contains_holds(o, n, &cx.old_segs);
        let fw = self.contains_holds(n, o, &cx.new_segs);
        let show = |s: &Schema| -> String {
            if s.contains.is_empty() {
                return "none".into();
            }
            s.contains
                .iter()
                .map(|c| {
                    let count = match c.max {
                        Some(m) => format!("{}..={m}", c.min),
                        None => format!("{}..", c.min),
                    };
                    format!("{count} item(s) matching {}", shape_key_short(&c.schema))
                })
                .collect::<Vec<_>>()
                .join(" and ")
        };
        let rule = match (o.contains.is_empty(), n.contains.is_empty()) {
            (true, false) => &rules::CONTAINS_ADDED,
            (false, true) => &rules::CONTAINS_REMOVED,
            _ => &rules::CONTAINS_CHANGED,
        };
        let loc = |s: &Schema| {
            ["contains", "minContains", "maxContains"]
                .iter()
                .find_map(|k| s.kw_locs.get(*k).cloned())
                .or_else(|| s.loc.clone())
        };
        self.push(
            rule,
            cx,
            format!(
                "{}: contains changed from {} to {}",
                cx.here(),
                show(o),
                show(n)
            ),
            format!(
                "contains {} -> {}",
                keys(o).join(" & "),
                keys(n).join(" & ")
            ),
            loc(o),
            loc(n),
            bw,
            fw,
        );
    }

    /// Whether every array `a` accepts meets `b`'s `contains` constraints; else an array of
    /// `a` that misses one, as a recipe.
    fn contains_holds(&self, a: &Schema, b: &Schema, segs: &[Seg]) -> Dec {
        // Every item of `a` matches: the count is the length.
        let all_match = |schema: &Schema| {
            (0..=a.prefix.len()).all(|i| self.subset(&a.item_schema(i), schema) == Some(true))
        };
        let implied = |cb: &schema::Contains| {
            let enough = cb.min == 0
                || a.contains.iter().any(|ca| {
                    ca.min >= cb.min && self.subset(&ca.schema, &cb.schema) == Some(true)
                })
                || (a.min_items.unwrap_or(0) >= cb.min && all_match(&cb.schema));
            let few = match cb.max {
                None => true,
                Some(m) => {
                    a.max_items.is_some_and(|x| x <= m)
                        || a.contains.iter().any(|ca| {
                            ca.max.is_some_and(|x| x <= m)
                                && self.subset(&cb.schema, &ca.schema) == Some(true)
                        })
                }
            };
            enough && few
        };
        if b.contains.iter().all(implied) {
            return Dec::Holds;
        }
        match synth::array_missing_contains(a, b) {
            Some(v) => Dec::Breaks(vec![vec![Mutation {
                segs: segs.to_vec(),
                leaf: Leaf::Set(v),
            }]]),
            None => Dec::Unknown("contains".into()),
        }
    }
}

/// A schema in a few words, for messages: its type and enum, else its shape.
fn shape_key_short(s: &Schema) -> String {
    if let Some(e) = &s.enumeration {
        return format!("one of [{}]", show_list(e));
    }
    if s.never {
        return "nothing".into();
    }
    match s.types {
        Some(t) => format!("type {}", type_names(t)),
        None => "a schema".into(),
    }
}
