//! `not` over anything but a value set or a plain type list (those the normaliser folds):
//! the negated schemas compared through the schemas around them. A consumer's `not B` holds
//! for a producer `P ∧ not A` when no instance of `P ∧ B` escapes `A`, that is when
//! `P ∧ B ⊆ A` (or `P ∧ B` is empty without an `A`); an instance of `P ∧ B` outside `A` is the
//! counterexample.

use super::*;
use crate::finding::Side;

impl Comparer {
    /// Compares the `not`s of both sides; false when there are more than one per side (left
    /// to the opaque comparison, which names `not` as undecided).
    pub(super) fn negations(&mut self, o: &Schema, n: &Schema, cx: &Cx) -> bool {
        let nots = |s: &Schema| s.opaque.iter().filter(|x| x.keyword == "not").count();
        let (on, nn) = (nots(o), nots(n));
        if on + nn == 0 {
            return true;
        }
        if on > 1 || nn > 1 || o.negated.len() != on || n.negated.len() != nn {
            return false;
        }
        let (oa, na) = (o.negated.first(), n.negated.first());
        if let (Some(x), Some(y)) = (oa, na) {
            if shape_key(x) == shape_key(y) {
                return true;
            }
        }
        let base = |s: &Schema| {
            let mut b = s.clone();
            b.opaque.retain(|x| x.keyword != "not");
            b.negated.clear();
            b
        };
        let (ob, nb) = (base(o), base(n));
        let bw = self.negation_break(&ob, oa, na, cx, Side::Old);
        let fw = self.negation_break(&nb, na, oa, cx, Side::New);
        if bw.holds() && fw.holds() {
            return true;
        }
        let shown = |x: Option<&Schema>| x.map(shape_key).unwrap_or_default();
        let loc = |s: &Schema| {
            s.opaque
                .iter()
                .find(|x| x.keyword == "not")
                .map(|x| x.loc.clone())
                .or_else(|| s.loc.clone())
        };
        let value = |s: &Schema| {
            s.opaque
                .iter()
                .find(|x| x.keyword == "not")
                .map(|x| canon(&x.value))
                .unwrap_or_else(|| "none".into())
        };
        self.push(
            &rules::NOT_CHANGED,
            cx,
            format!(
                "{}: `not` changed from {} to {}",
                cx.here(),
                value(o),
                value(n)
            ),
            format!("not {} -> {}", shown(oa), shown(na)),
            loc(o),
            loc(n),
            bw,
            fw,
        );
        true
    }

    /// Whether producer `base ∧ not pa` writes an instance consumer `not ca` refuses, one in
    /// `base ∧ ca` outside `pa`.
    fn negation_break(
        &self,
        base: &Schema,
        pa: Option<&Schema>,
        ca: Option<&Schema>,
        cx: &Cx,
        side: Side,
    ) -> Dec {
        let Some(ca) = ca else {
            return Dec::Holds;
        };
        let caught = schema::merge(base, ca);
        if caught.never {
            return Dec::Holds;
        }
        if let Some(pa) = pa {
            if self.subset(&caught, pa) == Some(true) {
                return Dec::Holds;
            }
        }
        let never = Schema::never();
        let escape = pa.unwrap_or(&never);
        let found = synth::probe_values(&caught)
            .into_iter()
            .find(|v| eval(&caught, v) == Some(true) && eval(escape, v) == Some(false));
        match (found, side) {
            (Some(v), Side::Old) => cx.old_at(Leaf::Set(v)),
            (Some(v), Side::New) => cx.new_at(Leaf::Set(v)),
            (None, _) => Dec::Unknown("not".into()),
        }
    }
}
