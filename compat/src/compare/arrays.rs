//! Array keywords: `items`, `minItems`, `maxItems`, `uniqueItems`.

use super::*;

impl Comparer {
    pub(super) fn arrays(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
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
}
