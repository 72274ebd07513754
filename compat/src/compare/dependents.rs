//! `dependentSchemas` (and draft-07 schema `dependencies`, once read as `dependentSchemas`):
//! when key `k` is present the object must also satisfy the dependent schema. A consumer's
//! dependent schema for `k` holds for a producer when every object the producer writes with
//! `k` (its own schema, its own dependent schema for `k`, `k` required) satisfies it.

use super::*;

impl Comparer {
    pub(super) fn dependent_schemas(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        let mut keys: Vec<&String> = o.dependent_schemas.keys().collect();
        for k in n.dependent_schemas.keys() {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        for k in keys {
            let (od, nd) = (o.dependent_schemas.get(k), n.dependent_schemas.get(k));
            if let (Some(x), Some(y)) = (od, nd) {
                if shape_key(x) == shape_key(y) {
                    continue;
                }
            }
            let bw = self.dependent_break(o, od, nd, k, &cx.old_segs);
            let fw = self.dependent_break(n, nd, od, k, &cx.new_segs);
            if bw.holds() && fw.holds() {
                continue;
            }
            let what = match (od, nd) {
                (None, _) => "added",
                (_, None) => "removed",
                _ => "changed",
            };
            let loc = |s: &Schema| {
                s.kw_loc("dependentSchemas")
                    .or_else(|| s.kw_loc("dependencies"))
                    .or_else(|| s.loc.clone())
            };
            self.push(
                &rules::DEPENDENT_SCHEMA_CHANGED,
                cx,
                format!(
                    "{}: the schema objects with `{k}` must also satisfy was {what} (dependentSchemas)",
                    cx.here()
                ),
                format!(
                    "{k:?} dependent schema {what}: {} -> {}",
                    od.map(shape_key).unwrap_or_default(),
                    nd.map(shape_key).unwrap_or_default()
                ),
                loc(o),
                loc(n),
                bw,
                fw,
            );
        }
    }

    /// Whether producer `p` (with its dependent schema `pd` for `k`) writes an object with
    /// `k` that the consumer's dependent schema `cd` refuses.
    fn dependent_break(
        &self,
        p: &Schema,
        pd: Option<&Schema>,
        cd: Option<&Schema>,
        k: &str,
        segs: &[Seg],
    ) -> Dec {
        let Some(cd) = cd else {
            return Dec::Holds;
        };
        if !self.writes_key(p, k) {
            return Dec::Holds;
        }
        let mut with_k = p.clone();
        with_k.dependent_schemas.clear();
        with_k.required.insert(k.to_owned());
        if let Some(pd) = pd {
            with_k = schema::merge(&with_k, pd);
        }
        schema::finalize(&mut with_k);
        if with_k.never || self.subset(&with_k, cd) == Some(true) {
            return Dec::Holds;
        }
        // The producer's full schema must accept the instance too.
        let mut full = p.clone();
        full.required.insert(k.to_owned());
        let candidate = synth::probe_values(&with_k)
            .into_iter()
            .filter(|v| v.get(k).is_some())
            .find(|v| eval(&full, v) != Some(false) && eval(cd, v) == Some(false));
        match candidate {
            Some(v) => Dec::Breaks(vec![vec![Mutation {
                segs: segs.to_vec(),
                leaf: Leaf::Set(v),
            }]]),
            None => Dec::Unknown("dependentSchemas".into()),
        }
    }
}
