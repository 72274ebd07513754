//! String keywords: `minLength`, `maxLength`, `pattern`, `format`.

use super::*;

impl Comparer {
    pub(super) fn strings(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
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
}
