//! Property counts: `minProperties` / `maxProperties`, against the counts a producer can
//! actually write (a closed object never holds more than it declares, a generated struct
//! writes at most its declared fields, required properties are always there).

use super::*;
use crate::finding::Side;

impl Comparer {
    pub(super) fn property_counts(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        if o.min_props == n.min_props && o.max_props == n.max_props {
            return;
        }
        let bw = self.count_break(o, n, cx, Side::Old);
        let fw = self.count_break(n, o, cx, Side::New);
        if bw.holds() && fw.holds() {
            return;
        }
        let show = |s: &Schema| match (s.min_props.unwrap_or(0), s.max_props) {
            (min, Some(max)) => format!("{min}..={max}"),
            (min, None) => format!("{min}.."),
        };
        let (from, to) = (show(o), show(n));
        let tightened = !bw.holds();
        let kw = if o.min_props != n.min_props {
            "minProperties"
        } else {
            "maxProperties"
        };
        self.push(
            if tightened {
                &rules::PROPERTY_COUNT_TIGHTENED
            } else {
                &rules::PROPERTY_COUNT_LOOSENED
            },
            cx,
            format!(
                "{}: number of properties {} from {from} to {to}",
                cx.here(),
                if tightened { "restricted" } else { "widened" }
            ),
            format!("properties {from} -> {to}"),
            o.kw_loc(kw).or_else(|| o.loc.clone()),
            n.kw_loc(kw).or_else(|| n.loc.clone()),
            bw,
            fw,
        );
        self.set_keyword(kw);
    }

    /// Whether a producer of `p` can write an object whose property count consumer `c`
    /// refuses; `side` is the producer's.
    fn count_break(&self, p: &Schema, c: &Schema, cx: &Cx, side: Side) -> Dec {
        let open = self.producer_open(p) || !p.pattern_props.is_empty();
        // The fewest properties a producer writes: the required ones, or minProperties.
        let fewest = (p.min_props.unwrap_or(0) as usize).max(p.required.len());
        // The most: unbounded unless the object is closed or a generated struct.
        // (A generated struct beside an `additionalProperties` schema keeps a map of the rest.)
        let declared_only = p.closed() || (!open && p.additional.is_none());
        let most = match (p.max_props, declared_only && p.additional_free()) {
            (Some(m), true) => Some((m as usize).min(p.props.len())),
            (Some(m), false) => Some(m as usize),
            (None, true) => Some(p.props.len()),
            (None, false) => None,
        };
        let at = |v: Value| match side {
            Side::Old => cx.old_at(Leaf::Set(v)),
            Side::New => cx.new_at(Leaf::Set(v)),
        };
        if let Some(min) = c.min_props.map(|m| m as usize) {
            if fewest < min {
                return match synth::object_with(p, fewest, open) {
                    Some(v) => at(v),
                    None => Dec::Unknown("minProperties".into()),
                };
            }
        }
        if let Some(max) = c.max_props.map(|m| m as usize) {
            if most.is_none_or(|m| m > max) {
                return match synth::object_with(p, max + 1, open) {
                    Some(v) => at(v),
                    None => Dec::Unknown("maxProperties".into()),
                };
            }
        }
        Dec::Holds
    }
}

impl Schema {
    /// Whether no `patternProperties` let the object hold keys beyond its declared ones.
    fn additional_free(&self) -> bool {
        self.pattern_props.is_empty()
    }
}
