//! Object keywords: `properties`, `required`, `additionalProperties`, `dependentRequired`.

use super::*;

impl Comparer {
    pub(super) fn objects(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        let mut names: Vec<String> = Vec::new();
        for s in [o, n] {
            for (p, _) in &s.props {
                if !names.contains(p) {
                    names.push(p.clone());
                }
            }
            for r in &s.required {
                if !names.contains(r) {
                    names.push(r.clone());
                }
            }
        }
        let declared = |s: &Schema, p: &str| s.prop(p).is_some() || s.required.contains(p);
        // Declared renames: new property `p` was `r`.
        let mut renamed: Vec<(String, String)> = Vec::new();
        if self.semantics == Semantics::Generated {
            for (p, prop) in &n.props {
                if let Some(r) = &prop.renamed_from {
                    if declared(o, r) && !declared(n, r) && !declared(o, p) {
                        renamed.push((r.clone(), p.clone()));
                    }
                }
            }
        }
        for name in &names {
            if renamed.iter().any(|(r, p)| r == name || p == name) {
                continue;
            }
            let (in_o, in_n) = (declared(o, name), declared(n, name));
            let pcx = cx.prop(name);
            let oloc = o.prop(name).and_then(|p| p.loc.clone());
            let nloc = n.prop(name).and_then(|p| p.loc.clone());
            let (oreq, nreq) = (o.required.contains(name), n.required.contains(name));
            match (in_o, in_n) {
                (true, true) => {
                    self.cmp(&o.prop_schema(name), &n.prop_schema(name), &pcx);
                    self.required_change(o, n, name, oreq, nreq, &pcx);
                }
                (true, false) => self.removed(o, n, name, oreq, &pcx, oloc),
                (false, true) => self.added(o, n, name, nreq, &pcx, nloc),
                (false, false) => {}
            }
        }
        for (r, p) in &renamed {
            let rcx = cx.prop2(r, p);
            let oreq = o.required.contains(r);
            let nreq = n.required.contains(p);
            let fw = if oreq {
                Dec::Breaks(vec![vec![Mutation {
                    segs: cx.new_segs.clone(),
                    leaf: Leaf::Keep,
                }]])
            } else {
                Dec::Holds
            };
            self.push(
                &rules::PROPERTY_RENAMED,
                &rcx,
                format!(
                    "{}: property `{r}` renamed to `{p}` (declared with x-renamed-from; generated consumers accept both names)",
                    cx.here()
                ),
                format!("renamed {r:?} -> {p:?} required {oreq}"),
                o.prop(r).and_then(|x| x.loc.clone()),
                n.prop(p).and_then(|x| x.loc.clone()),
                Dec::Holds,
                fw,
            );
            self.cmp(&o.prop_schema(r), &n.prop_schema(p), &rcx);
            if nreq && !oreq {
                self.required_change(o, n, p, false, true, &rcx);
            }
        }
        self.additional(o, n, cx);
        self.dependent(o, n, cx);
        self.dependent_schemas(o, n, cx);
        self.property_counts(o, n, cx);
        self.patterns(o, n, cx);
    }

    pub(super) fn required_change(
        &mut self,
        o: &Schema,
        n: &Schema,
        name: &str,
        oreq: bool,
        nreq: bool,
        pcx: &Cx,
    ) {
        let oloc = o.kw_loc("required");
        let nloc = n.kw_loc("required");
        if !oreq && nreq {
            let default = n.prop(name).and_then(|p| p.default.clone());
            let (rule, message) = match &default {
                Some(d) => (
                    &rules::REQUIRED_PROPERTY_ADDED_WITH_DEFAULT,
                    format!(
                        "{}: optional property is now required (its default {} does not make validators accept messages without it)",
                        pcx.here(),
                        show(d)
                    ),
                ),
                None => (&rules::REQUIRED_PROPERTY_ADDED, format!("{}: optional property is now required", pcx.here())),
            };
            self.push(
                rule,
                pcx,
                message,
                "now required".to_owned(),
                oloc,
                nloc,
                pcx.old_at(Leaf::Remove),
                Dec::Holds,
            );
        } else if oreq && !nreq {
            self.push(
                &rules::REQUIRED_MADE_OPTIONAL,
                pcx,
                format!("{}: required property is now optional", pcx.here()),
                "now optional".to_owned(),
                oloc,
                nloc,
                Dec::Holds,
                pcx.new_at(Leaf::Remove),
            );
        }
    }

    pub(super) fn removed(
        &mut self,
        o: &Schema,
        n: &Schema,
        name: &str,
        oreq: bool,
        pcx: &Cx,
        oloc: Option<Loc>,
    ) {
        // BACKWARD: an old producer writes it; the new consumer sees an undeclared property.
        // A property whose old schema accepts nothing (`false`) was never written.
        let undeclared = n.undeclared_schema(name);
        let bw = match undeclared.as_ref() {
            _ if o.prop_schema(name).never => Dec::Holds,
            None => Dec::Holds,
            Some(a) if a.never => pcx.old_at(Leaf::Keep),
            Some(a) => match self.subset(&o.prop_schema(name), a) {
                Some(true) => Dec::Holds,
                _ => match synth::separating(&o.prop_schema(name), a) {
                    Some(v) => pcx.old_at(Leaf::Set(v)),
                    None => Dec::Unknown("additionalProperties".into()),
                },
            },
        };
        // FORWARD: a new producer omits it (or, when it may write anything, writes any value).
        let fw = if oreq {
            pcx.new_at(Leaf::Remove)
        } else if self.writes_key(n, name) {
            let allowed = n.prop_schema(name);
            match self.subset(&allowed, &o.prop_schema(name)) {
                Some(true) => Dec::Holds,
                _ => match synth::separating(&allowed, &o.prop_schema(name)) {
                    Some(v) => pcx.new_at(Leaf::Set(v)),
                    None => Dec::Unknown("properties".into()),
                },
            }
        } else {
            Dec::Holds
        };
        let what = if oreq {
            "required property"
        } else {
            "optional property"
        };
        self.push(
            &rules::PROPERTY_REMOVED,
            pcx,
            format!("{}: {what} removed", pcx.here()),
            format!("removed {what}"),
            oloc,
            n.kw_loc("properties").or_else(|| n.loc.clone()),
            bw,
            fw,
        );
    }

    pub(super) fn added(
        &mut self,
        o: &Schema,
        n: &Schema,
        name: &str,
        nreq: bool,
        pcx: &Cx,
        nloc: Option<Loc>,
    ) {
        let np = n.prop_schema(name);
        let bw = if nreq {
            pcx.old_at(Leaf::Remove)
        } else if self.writes_key(o, name) {
            let allowed = o.prop_schema(name);
            match self.subset(&allowed, &np) {
                Some(true) => Dec::Holds,
                _ => match synth::separating(&allowed, &np) {
                    Some(v) => pcx.old_at(Leaf::Set(v)),
                    None => Dec::Unknown("properties".into()),
                },
            }
        } else {
            Dec::Holds
        };
        let undeclared = o.undeclared_schema(name);
        let fw = match undeclared.as_ref() {
            None => Dec::Holds,
            Some(a) if a.never => pcx.new_at(Leaf::Keep),
            Some(a) => match self.subset(&np, a) {
                Some(true) => Dec::Holds,
                _ => match synth::separating(&np, a) {
                    Some(v) => pcx.new_at(Leaf::Set(v)),
                    None => Dec::Unknown("additionalProperties".into()),
                },
            },
        };
        let (rule, message) = if nreq {
            match n.prop(name).and_then(|p| p.default.clone()) {
                Some(d) => (
                    &rules::REQUIRED_PROPERTY_ADDED_WITH_DEFAULT,
                    format!(
                        "{}: required property added (its default {} does not make validators accept messages without it)",
                        pcx.here(),
                        show(&d)
                    ),
                ),
                None => (&rules::REQUIRED_PROPERTY_ADDED, format!("{}: required property added", pcx.here())),
            }
        } else {
            let closed = if o.closed() {
                " to a closed object"
            } else {
                ""
            };
            (
                &rules::PROPERTY_ADDED,
                format!("{}: optional property added{closed}", pcx.here()),
            )
        };
        let what = format!(
            "added {} to {} object",
            if nreq { "required" } else { "optional" },
            if o.closed() { "a closed" } else { "an open" }
        );
        self.push(
            rule,
            pcx,
            message,
            what,
            o.kw_loc("properties").or_else(|| o.loc.clone()),
            nloc,
            bw,
            fw,
        );
    }

    pub(super) fn additional(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        let oa = o.additional.as_deref();
        let na = n.additional.as_deref();
        let ol = o.kw_loc("additionalProperties").or_else(|| o.loc.clone());
        let nl = n.kw_loc("additionalProperties").or_else(|| n.loc.clone());
        match (oa, na) {
            (None, None) => {}
            (Some(x), Some(y)) if !x.never && !y.never => {
                let mut c = cx.child("*", Seg::MapValue);
                c.branch = cx.branch.clone();
                self.cmp(x, y, &c);
            }
            (Some(x), Some(y)) if x.never && y.never => {}
            (_, Some(y)) if y.never => {
                // Closed now.
                let bw = if self.producer_open(o) {
                    if oa.is_some() {
                        let mut c = cx.child("*", Seg::MapValue);
                        c.path = cx.path.clone();
                        c.old_at(Leaf::Synth)
                    } else {
                        cx.old_at(Leaf::AddUndeclared)
                    }
                } else {
                    Dec::Holds
                };
                self.push(
                    &rules::OBJECT_CLOSED,
                    cx,
                    format!("{}: object closed (additionalProperties: false)", cx.here()),
                    "closed".to_owned(),
                    ol,
                    nl,
                    bw,
                    Dec::Holds,
                );
            }
            (Some(x), _) if x.never => {
                let fw = if self.producer_open(n) {
                    match na {
                        Some(_) => {
                            let mut c = cx.child("*", Seg::MapValue);
                            c.path = cx.path.clone();
                            c.new_at(Leaf::Synth)
                        }
                        None => cx.new_at(Leaf::AddUndeclared),
                    }
                } else {
                    Dec::Holds
                };
                self.push(
                    &rules::OBJECT_OPENED,
                    cx,
                    format!(
                        "{}: object opened (additionalProperties: false removed)",
                        cx.here()
                    ),
                    "opened".to_owned(),
                    ol,
                    nl,
                    Dec::Holds,
                    fw,
                );
            }
            (None, Some(y)) => {
                let bw = if self.producer_open(o) {
                    match synth::separating(&Schema::any(), y) {
                        Some(v) => {
                            let c = cx.child("*", Seg::MapValue);
                            c.old_at(Leaf::Set(v))
                        }
                        None => Dec::Unknown("additionalProperties".into()),
                    }
                } else {
                    Dec::Holds
                };
                self.push(
                    &rules::MAP_VALUE_SCHEMA_ADDED,
                    cx,
                    format!(
                        "{}: map values now constrained (additionalProperties schema added)",
                        cx.here()
                    ),
                    format!("map values constrained to {}", shape_key(y)),
                    ol,
                    nl,
                    bw,
                    Dec::Holds,
                );
            }
            (Some(x), None) => {
                let fw = if self.producer_open(n) {
                    match synth::separating(&Schema::any(), x) {
                        Some(v) => {
                            let c = cx.child("*", Seg::MapValue);
                            c.new_at(Leaf::Set(v))
                        }
                        None => Dec::Unknown("additionalProperties".into()),
                    }
                } else {
                    Dec::Holds
                };
                self.push(
                    &rules::MAP_VALUE_SCHEMA_REMOVED,
                    cx,
                    format!("{}: map values no longer constrained (additionalProperties schema removed)", cx.here()),
                    format!("map values unconstrained from {}", shape_key(x)),
                    ol,
                    nl,
                    Dec::Holds,
                    fw,
                );
            }
            _ => {}
        }
    }

    pub(super) fn dependent(&mut self, o: &Schema, n: &Schema, cx: &Cx) {
        // `k` requiring itself, a required name, or a name it required already: no change.
        let implied = |s: &Schema, k: &str, d: &str| {
            k == d || s.required.contains(d) || s.dependent.get(k).is_some_and(|x| x.contains(d))
        };
        let mut keys: BTreeSet<&String> = o.dependent.keys().collect();
        keys.extend(n.dependent.keys());
        for k in keys {
            let added: Vec<&String> = n
                .dependent
                .get(k)
                .into_iter()
                .flatten()
                .filter(|d| !implied(o, k, d))
                .collect();
            let removed: Vec<&String> = o
                .dependent
                .get(k)
                .into_iter()
                .flatten()
                .filter(|d| !implied(n, k, d))
                .collect();
            let recipe = |segs: &Vec<Seg>, deps: &[&String]| -> Vec<Recipe> {
                let mut r = vec![Mutation {
                    segs: [segs.clone(), vec![Seg::Prop(k.clone())]].concat(),
                    leaf: Leaf::Keep,
                }];
                for d in deps {
                    r.push(Mutation {
                        segs: [segs.clone(), vec![Seg::Prop((*d).clone())]].concat(),
                        leaf: Leaf::Remove,
                    });
                }
                vec![r]
            };
            if !added.is_empty() {
                let bw = if o.prop(k).is_some() || self.producer_open(o) {
                    Dec::Breaks(recipe(&cx.old_segs, &added))
                } else {
                    Dec::Holds
                };
                let list = added
                    .iter()
                    .map(|d| format!("`{d}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.push(
                    &rules::DEPENDENT_REQUIRED_ADDED,
                    cx,
                    format!("{}: when `{k}` is present, {list} must now be present too (dependentRequired)", cx.here()),
                    format!("{k:?} now requires {added:?}"),
                    o.kw_loc("dependentRequired").or_else(|| o.loc.clone()),
                    n.kw_loc("dependentRequired"),
                    bw,
                    Dec::Holds,
                );
            }
            if !removed.is_empty() {
                let fw = if n.prop(k).is_some() || self.producer_open(n) {
                    Dec::Breaks(recipe(&cx.new_segs, &removed))
                } else {
                    Dec::Holds
                };
                let list = removed
                    .iter()
                    .map(|d| format!("`{d}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.push(
                    &rules::DEPENDENT_REQUIRED_REMOVED,
                    cx,
                    format!(
                        "{}: `{k}` no longer requires {list} (dependentRequired)",
                        cx.here()
                    ),
                    format!("{k:?} no longer requires {removed:?}"),
                    o.kw_loc("dependentRequired"),
                    n.kw_loc("dependentRequired").or_else(|| n.loc.clone()),
                    Dec::Holds,
                    fw,
                );
            }
        }
    }
}
