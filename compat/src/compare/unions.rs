//! `oneOf` / `anyOf` unions, tagged or not.

use super::*;

impl Comparer {
    pub(super) fn unions(&mut self, o: &Schema, n: &Schema, one_of: bool, spread: bool, cx: &Cx) {
        let (ol, nl) = if one_of {
            (&o.one_of, &n.one_of)
        } else {
            (&o.any_of, &n.any_of)
        };
        let kw = if one_of { "oneOf" } else { "anyOf" };
        let paired = ol.len().min(nl.len());
        for li in 0..paired {
            self.union_list(o, n, one_of, li, li, spread, cx);
        }
        // Whole lists added or removed: a new conjunct.
        for _ in paired..nl.len() {
            let bw = Dec::Breaks(vec![vec![Mutation {
                segs: cx.old_segs.clone(),
                leaf: Leaf::Keep,
            }]]);
            self.push(
                if one_of {
                    &rules::ONE_OF_BRANCH_ADDED
                } else {
                    &rules::ANY_OF_BRANCH_ADDED
                },
                cx,
                format!("{}: `{kw}` added", cx.here()),
                format!("{kw} added"),
                o.loc.clone(),
                n.kw_loc(kw),
                bw,
                Dec::Holds,
            );
        }
        for _ in paired..ol.len() {
            let fw = Dec::Breaks(vec![vec![Mutation {
                segs: cx.new_segs.clone(),
                leaf: Leaf::Keep,
            }]]);
            self.push(
                if one_of {
                    &rules::ONE_OF_BRANCH_REMOVED
                } else {
                    &rules::ANY_OF_BRANCH_REMOVED
                },
                cx,
                format!("{}: `{kw}` removed", cx.here()),
                format!("{kw} removed"),
                o.kw_loc(kw),
                n.loc.clone(),
                Dec::Holds,
                fw,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn union_list(
        &mut self,
        o: &Schema,
        n: &Schema,
        one_of: bool,
        oli: usize,
        nli: usize,
        spread: bool,
        cx: &Cx,
    ) {
        let (obs, nbs) = if one_of {
            (&o.one_of[oli], &n.one_of[nli])
        } else {
            (&o.any_of[oli], &n.any_of[nli])
        };
        // Each branch together with the surrounding object's properties, as validators
        // evaluate them.
        let (obs_spread, nbs_spread);
        let (obs, nbs) = if spread {
            let (bo, bn) = (object_parts(o), object_parts(n));
            obs_spread = obs
                .iter()
                .map(|b| schema::merge(&bo, b))
                .collect::<Vec<_>>();
            nbs_spread = nbs
                .iter()
                .map(|b| schema::merge(&bn, b))
                .collect::<Vec<_>>();
            (&obs_spread, &nbs_spread)
        } else {
            (obs, nbs)
        };
        let kw = if one_of { "oneOf" } else { "anyOf" };
        // Pair branches: by tag value, then by unchanged shape, then by position.
        let tag = union_tag(obs, nbs);
        let key = |b: &Schema| -> Option<String> {
            let t = tag.as_ref()?;
            b.prop(t)?
                .schema
                .enumeration
                .as_ref()?
                .first()
                .map(|v| v.to_string())
        };
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        let mut used_n: Vec<bool> = vec![false; nbs.len()];
        let mut used_o: Vec<bool> = vec![false; obs.len()];
        if tag.is_some() {
            for (i, ob) in obs.iter().enumerate() {
                if let Some(j) = (0..nbs.len()).find(|&j| !used_n[j] && key(&nbs[j]) == key(ob)) {
                    pairs.push((i, j));
                    used_n[j] = true;
                    used_o[i] = true;
                }
            }
        } else {
            for (i, ob) in obs.iter().enumerate() {
                let k = shape_key(ob);
                if let Some(j) = (0..nbs.len()).find(|&j| !used_n[j] && shape_key(&nbs[j]) == k) {
                    pairs.push((i, j));
                    used_n[j] = true;
                    used_o[i] = true;
                }
            }
            if obs.len() == nbs.len() {
                for (i, used) in used_o.iter_mut().enumerate() {
                    if !*used {
                        if let Some(j) = (0..nbs.len()).find(|&j| !used_n[j]) {
                            pairs.push((i, j));
                            used_n[j] = true;
                            *used = true;
                        }
                    }
                }
            }
        }
        let branch_name = |b: &Schema, i: usize| -> String {
            match (key(b), &b.title) {
                (Some(k), _) => format!("{kw} branch {}={k}", tag.clone().unwrap_or_default()),
                (None, Some(t)) => format!("{kw} branch `{t}`"),
                (None, None) => format!("{kw} branch {i}"),
            }
        };
        // The branch in fingerprints: its tag value, else its title, else its position.
        let list_kw = if nli == 0 {
            kw.to_owned()
        } else {
            format!("{kw}{nli}")
        };
        let token = |b: &Schema, i: usize| -> String {
            match (key(b), &b.title) {
                (Some(k), _) => format!("{list_kw}[{}={k}]", tag.clone().unwrap_or_default()),
                (None, Some(t)) => format!("{list_kw}[{t}]"),
                (None, None) => format!("{list_kw}[{i}]"),
            }
        };
        for &(i, j) in &pairs {
            let mut c = cx.clone();
            c.fp = format!("{}/{}", cx.fp, token(&nbs[j], j));
            c.mark = Some(BranchMark {
                depth: cx.mark.as_ref().map_or(0, |m| m.depth) + 1,
                desc: branch_name(&nbs[j], j),
                outer_fp: cx.fp.clone(),
                inner_fp: c.fp.clone(),
            });
            c.old_segs.push(Seg::Branch {
                one_of,
                list: oli,
                index: i,
            });
            c.new_segs.push(Seg::Branch {
                one_of,
                list: nli,
                index: j,
            });
            c.branch = Some(branch_name(&nbs[j], j));
            self.cmp(&obs[i], &nbs[j], &c);
        }
        if one_of {
            // A changed branch that now overlaps another one (a value dropped from a fallback
            // branch's exclusion, a tag widened): messages matching both fail `oneOf`.
            let old_of = |j: usize| pairs.iter().find(|p| p.1 == j).map(|p| p.0);
            let mut seen: Vec<(usize, usize)> = Vec::new();
            for &(i, j) in &pairs {
                if shape_key(&obs[i]) == shape_key(&nbs[j]) {
                    continue;
                }
                for k in 0..nbs.len() {
                    let Some(ok) = old_of(k) else { continue };
                    if k == j || seen.contains(&(k.min(j), k.max(j))) {
                        continue;
                    }
                    seen.push((k.min(j), k.max(j)));
                    let both = schema::merge(&nbs[j], &nbs[k]);
                    if both.never {
                        continue;
                    }
                    let witness = |a: &Schema, b: &Schema, m: &Schema| {
                        synth::synth(m, false)
                            .filter(|v| eval(a, v) == Some(true) && eval(b, v) == Some(true))
                    };
                    // Only overlaps the old branches did not already have.
                    let before = schema::merge(&obs[i], &obs[ok]);
                    if !before.never && witness(&obs[i], &obs[ok], &before).is_some() {
                        continue;
                    }
                    let bw = match witness(&nbs[j], &nbs[k], &both) {
                        Some(v) => cx.old_at(Leaf::Set(v)),
                        None if before.never => {
                            Dec::Unknown(first_opaque(&both, 0).unwrap_or_else(|| "oneOf".into()))
                        }
                        None => continue,
                    };
                    self.push(
                        &rules::ONE_OF_BRANCHES_OVERLAP,
                        cx,
                        format!(
                            "{}: changed {} now overlaps {}: a message matching both fails `oneOf`",
                            cx.here(),
                            branch_name(&nbs[j], j),
                            branch_name(&nbs[k], k)
                        ),
                        "changed branch overlaps".to_owned(),
                        obs[i].loc.clone(),
                        nbs[j].loc.clone().or_else(|| n.kw_loc(kw)),
                        bw,
                        Dec::Holds,
                    );
                    self.set_fp(format!(
                        "{}/{}&{}",
                        cx.fp,
                        token(&nbs[j], j),
                        token(&nbs[k], k)
                    ));
                }
            }
        }
        for (j, nb) in nbs.iter().enumerate() {
            if used_n[j] {
                continue;
            }
            // FORWARD: a new producer writes this branch; does some old branch accept it?
            let covered = obs.iter().any(|ob| self.subset(nb, ob) == Some(true));
            let fw = if covered {
                Dec::Holds
            } else {
                let mut segs = cx.new_segs.clone();
                segs.push(Seg::Branch {
                    one_of,
                    list: nli,
                    index: j,
                });
                Dec::Breaks(vec![vec![Mutation {
                    segs,
                    leaf: Leaf::Keep,
                }]])
            };
            self.push(
                if one_of {
                    &rules::ONE_OF_BRANCH_ADDED
                } else {
                    &rules::ANY_OF_BRANCH_ADDED
                },
                cx,
                format!("{}: {} added", cx.here(), branch_name(nb, j)),
                "branch added".to_owned(),
                o.kw_loc(kw),
                nb.loc.clone().or_else(|| n.kw_loc(kw)),
                Dec::Holds,
                fw,
            );
            self.set_fp(format!("{}/{}", cx.fp, token(nb, j)));
            if one_of {
                for (k, other) in nbs.iter().enumerate() {
                    if k == j {
                        continue;
                    }
                    let both = schema::merge(nb, other);
                    if both.never {
                        continue;
                    }
                    let bw = match synth::synth(&both, false) {
                        Some(v) if eval(nb, &v) == Some(true) && eval(other, &v) == Some(true) => {
                            cx.old_at(Leaf::Set(v))
                        }
                        _ => Dec::Unknown(first_opaque(&both, 0).unwrap_or_else(|| "oneOf".into())),
                    };
                    self.push(
                        &rules::ONE_OF_BRANCHES_OVERLAP,
                        cx,
                        format!(
                            "{}: new {} overlaps {}: a message matching both fails `oneOf`",
                            cx.here(),
                            branch_name(nb, j),
                            branch_name(other, k)
                        ),
                        "new branch overlaps".to_owned(),
                        other.loc.clone(),
                        nb.loc.clone().or_else(|| n.kw_loc(kw)),
                        bw,
                        Dec::Holds,
                    );
                    self.set_fp(format!("{}/{}&{}", cx.fp, token(nb, j), token(other, k)));
                }
            }
        }
        for (i, ob) in obs.iter().enumerate() {
            if used_o[i] {
                continue;
            }
            let covered = nbs.iter().any(|nb| self.subset(ob, nb) == Some(true));
            let bw = if covered {
                Dec::Holds
            } else {
                let mut segs = cx.old_segs.clone();
                segs.push(Seg::Branch {
                    one_of,
                    list: oli,
                    index: i,
                });
                Dec::Breaks(vec![vec![Mutation {
                    segs,
                    leaf: Leaf::Keep,
                }]])
            };
            self.push(
                if one_of {
                    &rules::ONE_OF_BRANCH_REMOVED
                } else {
                    &rules::ANY_OF_BRANCH_REMOVED
                },
                cx,
                format!("{}: {} removed", cx.here(), branch_name(ob, i)),
                "branch removed".to_owned(),
                ob.loc.clone().or_else(|| o.kw_loc(kw)),
                n.kw_loc(kw),
                bw,
                Dec::Holds,
            );
            self.set_fp(format!("{}/{}", cx.fp, token(ob, i)));
        }
    }
}

/// The property every branch of both lists requires with a one-value enum, except fallback
/// branches, whose tag is any value but some listed ones (`not: {enum: [...]}`).
pub(super) fn union_tag(a: &[Schema], b: &[Schema]) -> Option<String> {
    let tagged = |br: &Schema, n: &str| {
        br.prop(n)
            .and_then(|p| p.schema.enumeration.as_ref())
            .is_some_and(|e| e.len() == 1)
    };
    let fallback = |br: &Schema, n: &str| {
        br.prop(n).is_some_and(|p| {
            p.schema.enumeration.is_none() && !p.schema.never && p.schema.excluded.is_some()
        })
    };
    let first = a.iter().chain(b).find(|br| !br.props.is_empty())?;
    first.props.iter().map(|(n, _)| n.clone()).find(|n| {
        a.iter().chain(b).any(|br| tagged(br, n))
            && a.iter()
                .chain(b)
                .all(|br| br.required.contains(n) && (tagged(br, n) || fallback(br, n)))
    })
}

/// Whether the two sides' unions pair list for list and the surrounding schema declares
/// object members that apply inside every branch.
pub(super) fn spread_mode(o: &Schema, n: &Schema) -> bool {
    let has_unions = |s: &Schema| !s.one_of.is_empty() || !s.any_of.is_empty();
    let object_members = |s: &Schema| {
        !s.props.is_empty()
            || !s.required.is_empty()
            || s.additional.is_some()
            || s.keep_unknown
            || !s.dependent.is_empty()
    };
    has_unions(o)
        && has_unions(n)
        && o.one_of.len() == n.one_of.len()
        && o.any_of.len() == n.any_of.len()
        && (object_members(o) || object_members(n))
}

/// The object members of a schema (properties, required, additionalProperties,
/// dependentRequired), to merge into each union branch.
pub(super) fn object_parts(s: &Schema) -> Schema {
    let mut out = Schema {
        props: s.props.clone(),
        required: s.required.clone(),
        additional: s.additional.clone(),
        keep_unknown: s.keep_unknown,
        dependent: s.dependent.clone(),
        ..Schema::default()
    };
    for kw in [
        "properties",
        "required",
        "additionalProperties",
        "dependentRequired",
    ] {
        if let Some(l) = s.kw_locs.get(kw) {
            out.kw_locs.insert(kw.to_owned(), l.clone());
        }
    }
    out
}
