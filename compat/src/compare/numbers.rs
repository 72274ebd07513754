//! Numeric keywords: `minimum`, `maximum`, the exclusive bounds, `multipleOf`.

use super::*;

impl Comparer {
    pub(super) fn numbers(&mut self, o: &Schema, n: &Schema, integral: bool, cx: &Cx) {
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
}
