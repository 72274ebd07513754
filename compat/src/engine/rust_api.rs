//! The Rust-API rules: the generated crate's types, fields and variants compared, old against
//! new. Every name and Rust type reported comes from the generator's own naming
//! (`event_contracts_codegen::naming`), so a finding names what the generated crate holds.

use super::*;
use event_contracts_codegen::model::Field;

use event_contracts_codegen::naming::{
    field_idents, field_rust_type, rust_type, tagged_variant_idents, variant_idents,
};

pub(super) fn named(ty: &Ty) -> Option<TypeId> {
    match ty {
        Ty::Named(id) => Some(*id),
        Ty::Array { item, .. } => named(item),
        Ty::Map { value } => named(value),
        Ty::Nullable(t) => named(t),
        _ => None,
    }
}

pub(super) struct RustFinding {
    pub(super) rule: &'static Rule,
    pub(super) path: String,
    pub(super) message: String,
    /// The names and Rust types involved, for the fingerprint.
    pub(super) what: String,
    pub(super) old: Option<Loc>,
    pub(super) new: Option<Loc>,
}

pub(super) struct RustCmp<'g> {
    pub(super) og: &'g TypeGraph,
    pub(super) ng: &'g TypeGraph,
    pub(super) seen: BTreeSet<(TypeId, TypeId)>,
    pub(super) out: Vec<RustFinding>,
}

impl RustCmp<'_> {
    pub(super) fn cmp(&mut self, oid: TypeId, nid: TypeId, path: &str, root: bool) {
        if !self.seen.insert((oid, nid)) {
            return;
        }
        let (Some(ot), Some(nt)) = (self.og.get(oid), self.ng.get(nid)) else {
            return;
        };
        if ot.name != nt.name {
            self.out.push(RustFinding {
                rule: if root {
                    &rules::EVENT_TYPE_RENAMED
                } else {
                    &rules::TYPE_RENAMED
                },
                path: path.to_owned(),
                message: format!("Rust type `{}` renamed to `{}`", ot.name, nt.name),
                what: format!("{} -> {}", ot.name, nt.name),
                old: Some(ot.loc.clone()),
                new: Some(nt.loc.clone()),
            });
        }
        match (&ot.kind, &nt.kind) {
            (TypeKind::Struct { fields: of, .. }, TypeKind::Struct { fields: nf, .. }) => {
                // The identifiers the generated structs give each field, by wire name.
                let ident_of = |fields: &[Field]| -> HashMap<String, String> {
                    fields
                        .iter()
                        .zip(field_idents(fields))
                        .map(|(f, id)| (f.wire.clone(), id.to_string()))
                        .collect()
                };
                let (oi, ni) = (ident_of(of), ident_of(nf));
                let removed: Vec<_> = of
                    .iter()
                    .filter(|f| {
                        !nf.iter().any(|g| {
                            g.wire == f.wire || g.renamed_from.as_deref() == Some(f.wire.as_str())
                        })
                    })
                    .collect();
                let added: Vec<_> = nf
                    .iter()
                    .filter(|g| {
                        !of.iter().any(|f| {
                            f.wire == g.wire || g.renamed_from.as_deref() == Some(f.wire.as_str())
                        })
                    })
                    .collect();
                for f in of {
                    let fpath = format!("{path}/{}", f.wire);
                    let floc = ot.loc.join("properties").join(&f.wire);
                    let matched = nf.iter().find(|g| g.wire == f.wire).or_else(|| {
                        nf.iter()
                            .find(|g| g.renamed_from.as_deref() == Some(f.wire.as_str()))
                    });
                    let Some(g) = matched else {
                        // A removed field: a rename when one added field has the same Rust type.
                        let fty = self.field_ty(self.og, f);
                        let same: Vec<_> = added
                            .iter()
                            .filter(|g| self.field_ty(self.ng, g) == fty)
                            .collect();
                        if removed.len() == 1 && same.len() == 1 {
                            self.out.push(RustFinding {
                                rule: &rules::RENAMED_WITHOUT_ALIAS,
                                path: format!("{path}/{}", same[0].wire),
                                message: format!(
                                    "field `{}` looks renamed to `{}` ({} in `{}`) without `x-renamed-from`: code using `{}` breaks and old messages lose the value",
                                    oi[&f.wire],
                                    ni[&same[0].wire],
                                    fty,
                                    nt.name,
                                    oi[&f.wire]
                                ),
                                what: format!("{} -> {} {fty}", f.wire, same[0].wire),
                                old: Some(floc),
                                new: Some(nt.loc.join("properties").join(&same[0].wire)),
                            });
                        } else {
                            self.out.push(RustFinding {
                                rule: &rules::FIELD_REMOVED,
                                path: fpath,
                                message: format!(
                                    "field `{}` removed from `{}`",
                                    oi[&f.wire], nt.name
                                ),
                                what: format!("removed {fty}"),
                                old: Some(floc),
                                new: Some(nt.loc.clone()),
                            });
                        }
                        continue;
                    };
                    let gloc = nt.loc.join("properties").join(&g.wire);
                    if g.wire != f.wire && ni[&g.wire] != oi[&f.wire] {
                        self.out.push(RustFinding {
                            rule: &rules::FIELD_RENAMED,
                            path: format!("{path}/{}", g.wire),
                            message: format!(
                                "field `{}` of `{}` renamed to `{}` (x-renamed-from keeps old messages readable; code naming the field breaks)",
                                oi[&f.wire],
                                nt.name,
                                ni[&g.wire]
                            ),
                            what: format!("{} -> {}", f.wire, g.wire),
                            old: Some(floc.clone()),
                            new: Some(gloc.clone()),
                        });
                    }
                    let (a, b) = (self.field_ty(self.og, f), self.field_ty(self.ng, g));
                    let (na, nb) = (named(&f.ty), named(&g.ty));
                    if a != b
                        && !(na.is_some() && nb.is_some() && strip_names(&a) == strip_names(&b))
                    {
                        self.out.push(RustFinding {
                            rule: &rules::FIELD_TYPE_CHANGED,
                            path: format!("{path}/{}", g.wire),
                            message: format!(
                                "field `{}` of `{}` changes Rust type from `{a}` to `{b}`",
                                ni[&g.wire], nt.name
                            ),
                            what: format!("{a} -> {b}"),
                            old: Some(floc),
                            new: Some(gloc),
                        });
                    }
                    if let (Some(x), Some(y)) = (na, nb) {
                        self.cmp(x, y, &format!("{path}/{}", g.wire), false);
                    }
                }
            }
            (TypeKind::StrEnum { values: ov }, TypeKind::StrEnum { values: nv }) => {
                let (oids, nids) = (variant_idents(ov), variant_idents(nv));
                for (v, id) in ov.iter().zip(&oids).filter(|(v, _)| !nv.contains(v)) {
                    self.out.push(RustFinding {
                        rule: &rules::VARIANT_REMOVED,
                        path: path.to_owned(),
                        message: format!("variant `{}::{id}` removed", nt.name),
                        what: format!("variant {v:?}"),
                        old: Some(ot.loc.clone()),
                        new: Some(nt.loc.clone()),
                    });
                }
                for (v, id) in nv.iter().zip(&nids).filter(|(v, _)| !ov.contains(v)) {
                    self.out.push(RustFinding {
                        rule: &rules::VARIANT_ADDED,
                        path: path.to_owned(),
                        message: format!("variant `{}::{id}` added", nt.name),
                        what: format!("variant {v:?}"),
                        old: Some(ot.loc.clone()),
                        new: Some(nt.loc.clone()),
                    });
                }
            }
            (
                TypeKind::Tagged {
                    variants: ov,
                    fallback: of,
                    ..
                },
                TypeKind::Tagged {
                    variants: nv,
                    fallback: nf,
                    ..
                },
            ) => {
                let tags = |v: &[(String, TypeId)]| -> Vec<String> {
                    v.iter().map(|(t, _)| t.clone()).collect()
                };
                let (oids, _) = tagged_variant_idents(&tags(ov), of.is_some());
                let (nids, _) = tagged_variant_idents(&tags(nv), nf.is_some());
                for ((tag, oid), id) in ov.iter().zip(&oids) {
                    match nv.iter().find(|(t, _)| t == tag) {
                        Some((_, nid)) => self.cmp(*oid, *nid, path, false),
                        None => self.out.push(RustFinding {
                            rule: &rules::VARIANT_REMOVED,
                            path: path.to_owned(),
                            message: format!("variant `{}::{id}` removed", nt.name),
                            what: format!("variant {tag:?}"),
                            old: Some(ot.loc.clone()),
                            new: Some(nt.loc.clone()),
                        }),
                    }
                }
                for ((tag, _), id) in nv
                    .iter()
                    .zip(&nids)
                    .filter(|((t, _), _)| !ov.iter().any(|(o, _)| o == t))
                {
                    self.out.push(RustFinding {
                        rule: &rules::VARIANT_ADDED,
                        path: path.to_owned(),
                        message: format!("variant `{}::{id}` added", nt.name),
                        what: format!("variant {tag:?}"),
                        old: Some(ot.loc.clone()),
                        new: Some(nt.loc.clone()),
                    });
                }
                if let (Some(a), Some(b)) = (of, nf) {
                    self.cmp(*a, *b, path, false);
                }
            }
            (TypeKind::Newtype(a), TypeKind::Newtype(b)) => {
                let (x, y) = (rust_type(self.og, a), rust_type(self.ng, b));
                if x != y && strip_names(&x) != strip_names(&y) {
                    self.out.push(RustFinding {
                        rule: &rules::FIELD_TYPE_CHANGED,
                        path: path.to_owned(),
                        message: format!(
                            "`{}` changes its inner Rust type from `{x}` to `{y}`",
                            nt.name
                        ),
                        what: format!("{x} -> {y}"),
                        old: Some(ot.loc.clone()),
                        new: Some(nt.loc.clone()),
                    });
                }
                if let (Some(p), Some(q)) = (named(a), named(b)) {
                    self.cmp(p, q, path, false);
                }
            }
            (a, b) if std::mem::discriminant(a) != std::mem::discriminant(b) => {
                self.out.push(RustFinding {
                    rule: &rules::FIELD_TYPE_CHANGED,
                    path: path.to_owned(),
                    message: format!(
                        "`{}` changes from {} to {}",
                        nt.name,
                        kind_name(a),
                        kind_name(b)
                    ),
                    what: format!("{} -> {}", kind_name(a), kind_name(b)),
                    old: Some(ot.loc.clone()),
                    new: Some(nt.loc.clone()),
                });
            }
            _ => {}
        }
    }

    pub(super) fn field_ty(&self, g: &TypeGraph, f: &Field) -> String {
        field_rust_type(g, f)
    }
}

/// A Rust type with named types blanked, so a renamed type is not also a changed field type.
pub(super) fn strip_names(t: &str) -> String {
    let known = [
        "Vec",
        "Option",
        "Box",
        "BTreeMap",
        "String",
        "u64",
        "i64",
        "f64",
        "bool",
        "DateTime",
        "Uuid",
        "serde_json",
        "Value",
        "Map",
    ];
    t.split(|c: char| !c.is_alphanumeric() && c != '_')
        .map(|w| {
            if w.is_empty() || known.contains(&w) {
                w.to_owned()
            } else {
                "_".to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

pub(super) fn kind_name(k: &TypeKind) -> &'static str {
    match k {
        TypeKind::Struct { .. } => "a struct",
        TypeKind::Newtype(_) => "a newtype",
        TypeKind::StrEnum { .. } => "an enum",
        TypeKind::Tagged { .. } => "a tagged union",
    }
}

/// Type graphs of one side: per system, the envelope type and each event's root type.
/// A system's type graph, its envelope type and each event's root type.
pub(super) type SystemGraph = (TypeGraph, Option<TypeId>, HashMap<String, TypeId>);

pub(super) struct Graphs {
    pub(super) systems: HashMap<String, SystemGraph>,
}

/// Built by the generator's own [`build`](event_contracts_codegen::build), so compat compares
/// the types (and names) the generator makes; its diagnostics are not compat's to report.
pub(super) fn graphs(cat: &Catalog) -> Graphs {
    let (built, _) = event_contracts_codegen::build(cat);
    let systems = built
        .into_iter()
        .map(|sys| {
            let events = sys
                .event_names
                .iter()
                .cloned()
                .zip(sys.events.iter().copied())
                .collect();
            (
                sys.source.manifest.system.clone(),
                (sys.graph, sys.envelope, events),
            )
        })
        .collect();
    Graphs { systems }
}

// ------------------------------------------------------------------------------------------
