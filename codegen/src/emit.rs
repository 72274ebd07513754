//! The typed model to Rust tokens: the emit step. Nothing here can fail; every decision that
//! could was made (and diagnosed) in `model`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::{
    Field, NumChecks, Presence, StrChecks, Ty, TypeDef, TypeGraph, TypeId, TypeKind,
};
#[cfg(test)]
use crate::naming::unique_idents;
pub use crate::naming::{field_idents, ident, variant_idents};
use crate::naming::{field_idents_with_additional, tagged_variant_idents};

const RT: &str = "::event_contracts_runtime";

/// The runtime crate's path (`RT` as tokens; built, not parsed, as it is needed per field).
fn rt() -> TokenStream {
    quote!(::event_contracts_runtime)
}

/// Doc attributes for a schema's description. rustdoc compiles and runs every Rust code block
/// in docs as a test, and a description quoting a document is no Rust: a fence rustdoc would
/// take for Rust is marked `text`, and a line indented like a code block loses that indent.
fn docs(text: &str) -> TokenStream {
    let mut fence: Option<&str> = None;
    let lines = text.lines().map(|l| {
        let line = l.trim_end();
        let trimmed = line.trim_start();
        let opens = ["```", "~~~"].into_iter().find(|f| trimmed.starts_with(f));
        match (fence, opens) {
            (None, Some(f)) => {
                fence = Some(f);
                let info = &trimmed[f.len()..];
                if is_rust_fence(info) {
                    return format!(" {f}text");
                }
                format!(" {trimmed}")
            }
            (Some(open), Some(f)) if f == open && trimmed.trim_end_matches(f).is_empty() => {
                fence = None;
                format!(" {trimmed}")
            }
            (Some(_), _) => format!(" {line}"),
            (None, None) if line.starts_with("    ") || line.starts_with('\t') => {
                format!(" {trimmed}")
            }
            (None, None) => format!(" {line}"),
        }
    });
    quote! { #(#[doc = #lines])* }
}

/// Whether rustdoc takes a code fence with this info string for Rust (and so as a doctest):
/// no info string, or only `rust` and rustdoc's own attributes.
fn is_rust_fence(info: &str) -> bool {
    info.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .all(|t| {
            matches!(
                t,
                "rust"
                    | "ignore"
                    | "should_panic"
                    | "no_run"
                    | "compile_fail"
                    | "test_harness"
                    | "standalone_crate"
            ) || t.starts_with("edition")
                || t.starts_with("ignore-")
                || (t.len() == 5
                    && t.starts_with('E')
                    && t[1..].chars().all(|c| c.is_ascii_digit()))
        })
}

pub struct Emitter<'g> {
    pub graph: &'g TypeGraph,
    /// Per type: whether its `is_valid` checks anything, itself or in a type it holds.
    checked: Vec<bool>,
}

impl<'g> Emitter<'g> {
    pub fn new(graph: &'g TypeGraph) -> Self {
        Self {
            graph,
            checked: checked_types(graph),
        }
    }

    pub fn rust_ty(&self, ty: &Ty) -> TokenStream {
        let rt = rt();
        match ty {
            Ty::Any => quote!(::serde_json::Value),
            Ty::AnyObject => quote!(::serde_json::Map<::std::string::String, ::serde_json::Value>),
            Ty::Bool => quote!(bool),
            Ty::Int { unsigned: true, .. } => quote!(u64),
            Ty::Int {
                unsigned: false, ..
            } => quote!(i64),
            Ty::Num { .. } => quote!(f64),
            Ty::Str { .. } => quote!(::std::string::String),
            Ty::DateTime { .. } => quote!(#rt::DateTime),
            Ty::Uuid { .. } => quote!(::uuid::Uuid),
            Ty::Named(id) => {
                let name = ident(&self.graph[*id].name);
                quote!(#name)
            }
            Ty::Array { item, .. } => {
                let item = self.rust_ty(item);
                quote!(::std::vec::Vec<#item>)
            }
            Ty::Map { value } => {
                let value = self.rust_ty(value);
                quote!(::std::collections::BTreeMap<::std::string::String, #value>)
            }
            Ty::Nullable(inner) => {
                let inner = self.rust_ty(inner);
                quote!(::std::option::Option<#inner>)
            }
        }
    }

    /// A boolean expression that holds when the value of `expr` meets the constraints serde's
    /// typing does not enforce; `None` when there are none. `by_ref` says `expr` is a `&T`
    /// (a closure argument) rather than a place of type `T`.
    pub fn check(&self, ty: &Ty, expr: TokenStream, by_ref: bool) -> Option<TokenStream> {
        let rt = rt();
        let reference = if by_ref { expr.clone() } else { quote!(&#expr) };
        let value = if by_ref { quote!(*#expr) } else { expr.clone() };
        match ty {
            Ty::Any | Ty::AnyObject | Ty::Bool => None,
            Ty::Int { checks, .. } => num_check(checks, quote!(#value as f64), false),
            Ty::Num { checks } => num_check(checks, value, true),
            Ty::Str { checks } | Ty::DateTime { checks } => {
                str_check(checks, quote!(#expr.as_str()))
            }
            Ty::Uuid { checks } => {
                str_check(checks, quote!(#expr.hyphenated().to_string().as_str()))
            }
            Ty::Named(id) => match &self.graph[*id].kind {
                TypeKind::StrEnum { .. } => None,
                _ if !self.checked[id.index()] => None,
                _ => Some(quote!(#rt::Validate::is_valid(#reference))),
            },
            Ty::Array {
                item,
                min_items,
                max_items,
                unique,
            } => {
                let mut conds = Vec::new();
                // A bound every length meets is no check (and rustc denies the comparison).
                if let Some(n) = min_items.filter(|n| *n > 0) {
                    let n = n as usize;
                    conds.push(quote!(#expr.len() >= #n));
                }
                if let Some(n) = max_items.filter(|n| *n < u64::MAX) {
                    let n = n as usize;
                    conds.push(quote!(#expr.len() <= #n));
                }
                if *unique {
                    conds.push(quote!(#rt::all_unique(#reference)));
                }
                if let Some(c) = self.check(item, quote!(item), true) {
                    conds.push(quote!(#expr.iter().all(|item| #c)));
                }
                and(conds)
            }
            Ty::Map { value } => self
                .check(value, quote!(value), true)
                .map(|c| quote!(#expr.values().all(|value| #c))),
            Ty::Nullable(inner) => self
                .check(inner, quote!(inner), true)
                .map(|c| quote!(#expr.as_ref().is_none_or(|inner| #c))),
        }
    }

    /// The item for one named type, with its `Validate` impl.
    pub fn type_def(&self, def: &TypeDef) -> TokenStream {
        let rt = rt();
        let name = ident(&def.name);
        let doc = docs(&def.doc);
        match &def.kind {
            TypeKind::Struct {
                fields,
                closed,
                presence,
                payload,
                additional,
            } => {
                let additional = *additional;
                let (idents, additional_id) = field_idents_with_additional(fields);
                let deny = closed.then(|| quote!(#[serde(deny_unknown_fields)]));
                let generic = payload.as_ref().map(|_| quote!(<D = ::serde_json::Value>));
                let params = payload.as_ref().map(|_| quote!(<D>));
                // The public struct and its decoding shadow list the same fields; only
                // visibility differs.
                let mut field_items = Vec::new();
                let mut shadow_fields = Vec::new();
                let mut conds = Vec::new();
                for (f, id) in fields.iter().zip(&idents) {
                    let is_payload = payload.as_deref() == Some(f.wire.as_str());
                    let fdoc = docs(&f.doc);
                    let rename = (id.to_string().trim_start_matches("r#") != f.wire).then(|| {
                        let w = &f.wire;
                        quote!(#[serde(rename = #w)])
                    });
                    let deprecated = f.deprecated.then(|| quote!(#[deprecated]));
                    // `x-renamed-from`: messages written with the old name still decode.
                    let alias = f
                        .renamed_from
                        .as_ref()
                        .map(|old| quote!(#[serde(alias = #old)]));
                    let (ty, attr) = if is_payload {
                        (quote!(D), quote!())
                    } else {
                        self.field_ty(f)
                    };
                    field_items
                        .push(quote! { #fdoc #deprecated #rename #alias #attr pub #id: #ty, });
                    shadow_fields.push(quote! { #rename #alias #attr #id: #ty, });
                    if is_payload {
                        continue;
                    }
                    let check_ty = if f.required {
                        f.ty.clone()
                    } else {
                        Ty::Nullable(Box::new(f.ty.clone()))
                    };
                    if let Some(c) = self.check(&check_ty, quote!(self.#id), false) {
                        conds.push(c);
                    }
                }
                let present = |i: &usize| -> TokenStream {
                    let f = &fields[*i];
                    let id = &idents[*i];
                    if f.required {
                        quote!(true)
                    } else {
                        quote!(self.#id.is_some())
                    }
                };
                for rule in presence {
                    let set = |s: &Vec<usize>| {
                        let all: Vec<_> = s.iter().map(present).collect();
                        match all.len() {
                            0 => quote!(true),
                            1 => all[0].clone(),
                            _ => quote!((#(#all)&&*)),
                        }
                    };
                    conds.push(match rule {
                        Presence::AnyOf(sets) => {
                            let sets = sets.iter().map(set);
                            quote!((#(#sets)||*))
                        }
                        Presence::OneOf(sets) => {
                            let sets = sets.iter().map(set);
                            quote!(([#(#sets),*].iter().filter(|held| **held).count() == 1))
                        }
                        Presence::Dependent(i, then) => {
                            let p = present(i);
                            let t = set(then);
                            quote!((!#p || #t))
                        }
                        Presence::When {
                            field,
                            value,
                            if_requires_field,
                            then,
                            otherwise,
                        } => {
                            let id = &idents[*field];
                            // `v` is a place of the field's type, or a reference to one.
                            let equals = |v: TokenStream, by_ref: bool| match value {
                                serde_json::Value::Bool(b) if by_ref => quote!(*#v == #b),
                                serde_json::Value::Bool(b) => quote!(#v == #b),
                                other => {
                                    let s = other.as_str().unwrap_or_default();
                                    quote!(#v.as_str() == #s)
                                }
                            };
                            let matches = if fields[*field].required {
                                equals(quote!(self.#id), false)
                            } else {
                                let test = equals(quote!(v), true);
                                if *if_requires_field {
                                    quote!(self.#id.as_ref().is_some_and(|v| #test))
                                } else {
                                    quote!(self.#id.as_ref().is_none_or(|v| #test))
                                }
                            };
                            let (t, o) = (set(then), set(otherwise));
                            quote!((if #matches { #t } else { #o }))
                        }
                    });
                }
                let body = and(conds).unwrap_or(quote!(true));
                let map_payload = payload.as_ref().map(|p| {
                    let pid = &idents[fields
                        .iter()
                        .position(|f| &f.wire == p)
                        .expect("payload field exists")];
                    let mut others: Vec<_> = idents.iter().filter(|i| *i != pid).cloned().collect();
                    if additional {
                        others.push(additional_id.clone());
                    }
                    quote! {
                        impl<D> #name<D> {
                            /// The same envelope around another payload.
                            pub fn map_payload<E>(self, f: impl FnOnce(D) -> E) -> #name<E> {
                                #name { #(#others: self.#others,)* #pid: f(self.#pid) }
                            }

                            /// The envelope without its payload, and the payload.
                            pub fn into_parts(self) -> (#name<()>, D) {
                                (#name { #(#others: self.#others,)* #pid: () }, self.#pid)
                            }
                        }
                    }
                });
                let shadow = format_ident!("{}Shadow", name);
                let remote = name.to_string();
                let de_bound = payload
                    .as_ref()
                    .map(|_| quote!(<'de, D: ::serde::Deserialize<'de>>))
                    .unwrap_or(quote!(<'de>));
                if additional {
                    let map = quote!(::serde_json::Map<::std::string::String, ::serde_json::Value>);
                    field_items.push(quote! {
                        /// Properties the schema does not declare, kept so a relay loses nothing.
                        #[serde(flatten)]
                        pub #additional_id: #map,
                    });
                    shadow_fields.push(quote!(#[serde(flatten)] #additional_id: #map,));
                }
                quote! {
                    #doc
                    #[derive(Clone, Debug, PartialEq, ::serde::Serialize)]
                    pub struct #name #generic { #(#field_items)* }
                    /// Decodes from JSON objects only (see `runtime::de::object`).
                    #[derive(::serde::Deserialize)]
                    #[serde(remote = #remote)]
                    #deny
                    #[allow(dead_code)]
                    struct #shadow #generic { #(#shadow_fields)* }
                    impl #de_bound #rt::de::FromMap<'de> for #name #params {
                        fn from_map<A: ::serde::de::MapAccess<'de>>(map: A) -> ::std::result::Result<Self, A::Error> {
                            #shadow::deserialize(::serde::de::value::MapAccessDeserializer::new(map))
                        }
                    }
                    impl #de_bound ::serde::Deserialize<'de> for #name #params {
                        fn deserialize<De: ::serde::Deserializer<'de>>(d: De) -> ::std::result::Result<Self, De::Error> {
                            #rt::de::object(d)
                        }
                    }
                    impl #params #rt::Validate for #name #params {
                        #[inline]
                        fn is_valid(&self) -> bool { #body }
                    }
                    #map_payload
                }
            }
            TypeKind::Newtype(ty) => {
                let inner = self.rust_ty(ty);
                let body = self
                    .check(ty, quote!(self.0), false)
                    .unwrap_or(quote!(true));
                let with = holds_integers(ty).then(|| {
                    let with = format!("{RT}::de::integers");
                    quote!(#[serde(deserialize_with = #with)])
                });
                quote! {
                    #doc
                    #[derive(Clone, Debug, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
                    #[serde(transparent)]
                    pub struct #name(#with pub #inner);
                    impl #rt::Validate for #name {
                        #[inline]
                        fn is_valid(&self) -> bool { #body }
                    }
                }
            }
            TypeKind::StrEnum { values } => {
                let idents = variant_idents(values);
                quote! {
                    #doc
                    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
                    pub enum #name { #(#[serde(rename = #values)] #idents,)* }
                    impl #name {
                        /// The value as written on the wire.
                        pub const fn as_str(&self) -> &'static str {
                            match self { #(Self::#idents => #values,)* }
                        }
                    }
                    impl ::std::fmt::Display for #name {
                        fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result { f.write_str(self.as_str()) }
                    }
                    impl #rt::Validate for #name {
                        #[inline]
                        fn is_valid(&self) -> bool { true }
                    }
                }
            }
            TypeKind::Tagged {
                tag,
                variants,
                fallback,
            } => {
                let values: Vec<String> = variants.iter().map(|(v, _)| v.clone()).collect();
                let (idents, other) = tagged_variant_idents(&values, fallback.is_some());
                let tys: Vec<_> = variants
                    .iter()
                    .map(|(_, id)| ident(&self.graph[*id].name))
                    .collect();
                let checks: Vec<_> = variants
                    .iter()
                    .map(|(_, id)| {
                        self.check(&Ty::Named(*id), quote!(v), true)
                            .unwrap_or(quote!(true))
                    })
                    .collect();
                let (other_variant, other_tag, other_check, other_arm) = match fallback {
                    Some(fid) => {
                        let fdef = &self.graph[*fid];
                        let fty = ident(&fdef.name);
                        let other = other.clone().unwrap_or_else(|| format_ident!("Other"));
                        let TypeKind::Struct { fields, .. } = &fdef.kind else {
                            unreachable!("fallback branches are structs")
                        };
                        let tag_id = &field_idents(fields)[fields
                            .iter()
                            .position(|f| &f.wire == tag)
                            .expect("the fallback keeps its tag")];
                        let inner = self
                            .check(&Ty::Named(*fid), quote!(v), true)
                            .map(|c| quote!(&& #c));
                        (
                            Some(quote! {
                                /// A tag value the catalog does not list, kept whole.
                                #[serde(untagged)]
                                #other(#fty),
                            }),
                            Some(quote!(Self::#other(v) => v.#tag_id.as_str(),)),
                            // A listed tag in the fallback (only a hand-built value holds one)
                            // skips the listed branch's schema.
                            Some(
                                quote!(Self::#other(v) => !matches!(v.#tag_id.as_str(), #(#values)|*) #inner,),
                            ),
                            quote!(other => branch.decode_with_tag::<#fty>(other).map(Self::#other),),
                        )
                    }
                    None => (
                        None,
                        None,
                        None,
                        quote!(other => Err(<M::Error as ::serde::de::Error>::unknown_variant(other, &[#(#values),*])),),
                    ),
                };
                let variant_items =
                    quote!(#(#[serde(rename = #values)] #idents(#tys),)* #other_variant);
                quote! {
                    #doc
                    #[derive(Clone, Debug, PartialEq, ::serde::Serialize)]
                    #[serde(tag = #tag)]
                    pub enum #name { #variant_items }
                    impl<'de> ::serde::Deserialize<'de> for #name {
                        fn deserialize<De: ::serde::Deserializer<'de>>(d: De) -> ::std::result::Result<Self, De::Error> {
                            #rt::de::tagged(d)
                        }
                    }
                    impl<'de> #rt::de::TaggedUnion<'de> for #name {
                        const TAG: &'static str = #tag;
                        fn branch<M: ::serde::de::MapAccess<'de>>(tag: &str, branch: #rt::de::Branch<'de, M>) -> ::std::result::Result<Self, M::Error> {
                            match tag {
                                #(#values => branch.decode::<#tys>().map(Self::#idents),)*
                                #other_arm
                            }
                        }
                    }
                    impl #name {
                        /// The tag value on the wire.
                        pub fn tag(&self) -> &str {
                            match self { #(Self::#idents(_) => #values,)* #other_tag }
                        }
                    }
                    impl #rt::Validate for #name {
                        #[inline]
                        #[allow(unused_variables)]
                        fn is_valid(&self) -> bool {
                            match self { #(Self::#idents(v) => #checks,)* #other_check }
                        }
                    }
                }
            }
        }
    }

    /// The Rust type of a field's value, boxed when the field closes a by-value cycle (the
    /// `Box` goes inside the `Option` of a nullable value).
    fn value_ty(&self, ty: &Ty, boxed: bool) -> TokenStream {
        let t = self.rust_ty(ty);
        if boxed {
            quote!(::std::boxed::Box<#t>)
        } else {
            t
        }
    }

    /// The field's Rust type and the serde attribute that makes `null`/absence match the schema.
    fn field_ty(&self, f: &Field) -> (TokenStream, TokenStream) {
        let de = |name: &str| format!("{RT}::de::{name}");
        if holds_integers(&f.ty) {
            // Integers written as floats (`16000.0`) decode; see `runtime::de::Integer`.
            let ty = self.rust_ty(&f.ty);
            return if f.required {
                let with = de("integers");
                (ty, quote!(#[serde(deserialize_with = #with)]))
            } else {
                let with = de("present_integers");
                (
                    quote!(::std::option::Option<#ty>),
                    quote!(#[serde(default, deserialize_with = #with, skip_serializing_if = "Option::is_none")]),
                )
            };
        }
        match (&f.ty, f.required) {
            (Ty::Nullable(inner), true) => {
                let inner = self.value_ty(inner, f.boxed);
                let with = de("nullable");
                (
                    quote!(::std::option::Option<#inner>),
                    quote!(#[serde(deserialize_with = #with)]),
                )
            }
            (ty, true) => (self.value_ty(ty, f.boxed), quote!()),
            (Ty::Nullable(inner), false) => {
                let inner = self.value_ty(inner, f.boxed);
                let with = de("present_nullable");
                (
                    quote!(::std::option::Option<::std::option::Option<#inner>>),
                    quote!(#[serde(default, deserialize_with = #with, skip_serializing_if = "Option::is_none")]),
                )
            }
            (ty, false) => {
                let ty = self.value_ty(ty, f.boxed);
                let with = de("present");
                (
                    quote!(::std::option::Option<#ty>),
                    quote!(#[serde(default, deserialize_with = #with, skip_serializing_if = "Option::is_none")]),
                )
            }
        }
    }
}

/// Which types check something in `is_valid`: those with checks of their own, and every type
/// that holds one of them. Computed once, backwards from the former, in linear time (asking
/// per field walked everything a type holds, again for every field).
fn checked_types(graph: &TypeGraph) -> Vec<bool> {
    let n = graph.types.len();
    let mut checked = vec![false; n];
    let mut holders: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut found = std::collections::VecDeque::new();
    for (id, def) in graph.types.iter().enumerate() {
        let mut held = Vec::new();
        let own = match &def.kind {
            TypeKind::Struct {
                fields, presence, ..
            } => {
                // Every field, not only up to the first with checks: all held types count.
                let mut fields_check = false;
                for f in fields {
                    fields_check |= own_checks(&f.ty, &mut held);
                }
                !presence.is_empty() || fields_check
            }
            TypeKind::Newtype(t) => own_checks(t, &mut held),
            TypeKind::StrEnum { .. } => false,
            TypeKind::Tagged {
                variants, fallback, ..
            } => {
                held.extend(
                    variants
                        .iter()
                        .map(|(_, v)| *v)
                        .chain(*fallback)
                        .map(TypeId::index),
                );
                // The fallback checks that its tag is none of the listed ones.
                fallback.is_some()
            }
        };
        for t in held {
            holders[t].push(id);
        }
        if own {
            checked[id] = true;
            found.push_back(id);
        }
    }
    while let Some(t) = found.pop_front() {
        for &holder in &holders[t] {
            if !checked[holder] {
                checked[holder] = true;
                found.push_back(holder);
            }
        }
    }
    checked
}

/// Whether a value of `ty` has constraints to check besides those of the named types it
/// holds, which it lists in `held`.
fn own_checks(ty: &Ty, held: &mut Vec<usize>) -> bool {
    match ty {
        Ty::Named(id) => {
            held.push(id.index());
            false
        }
        Ty::Array {
            item,
            min_items,
            max_items,
            unique,
        } => {
            let item_checks = own_checks(item, held);
            min_items.is_some_and(|n| n > 0)
                || max_items.is_some_and(|n| n < u64::MAX)
                || *unique
                || item_checks
        }
        Ty::Map { value } => own_checks(value, held),
        Ty::Nullable(inner) => own_checks(inner, held),
        Ty::Any | Ty::AnyObject | Ty::Bool => false,
        Ty::Int { checks, .. } => num_check(checks, quote!(x), false).is_some(),
        // Every number is checked to be finite.
        Ty::Num { .. } => true,
        Ty::Str { checks } | Ty::DateTime { checks } | Ty::Uuid { checks } => {
            str_check(checks, quote!(x)).is_some()
        }
    }
}

/// Whether `ty` is an integer, or arrays, maps or nullable values of integers: the shapes
/// `runtime::de::HoldsIntegers` decodes (a named type decodes its own integers).
fn holds_integers(ty: &Ty) -> bool {
    match ty {
        Ty::Int { .. } => true,
        Ty::Array { item: inner, .. } | Ty::Map { value: inner } | Ty::Nullable(inner) => {
            holds_integers(inner)
        }
        _ => false,
    }
}

fn and(conds: Vec<TokenStream>) -> Option<TokenStream> {
    match conds.len() {
        0 => None,
        1 => conds.into_iter().next(),
        _ => {
            // A block first in a `&&` chain would parse as a statement.
            let conds = conds
                .into_iter()
                .map(|c| match c.clone().into_iter().next() {
                    Some(proc_macro2::TokenTree::Group(g))
                        if g.delimiter() == proc_macro2::Delimiter::Brace =>
                    {
                        quote!((#c))
                    }
                    _ => c,
                });
            Some(quote!(#(#conds)&&*))
        }
    }
}

fn lit_f64(x: f64) -> TokenStream {
    let s = format!("{x:?}");
    s.parse().expect("a float literal")
}

fn num_check(c: &NumChecks, v: TokenStream, finite: bool) -> Option<TokenStream> {
    let rt = rt();
    let mut conds = Vec::new();
    if finite {
        conds.push(quote!(v.is_finite()));
    }
    if let Some(x) = c.minimum {
        let x = lit_f64(x);
        conds.push(quote!(v >= #x));
    }
    if let Some(x) = c.exclusive_minimum {
        let x = lit_f64(x);
        conds.push(quote!(v > #x));
    }
    if let Some(x) = c.maximum {
        let x = lit_f64(x);
        conds.push(quote!(v <= #x));
    }
    if let Some(x) = c.exclusive_maximum {
        let x = lit_f64(x);
        conds.push(quote!(v < #x));
    }
    if let Some(x) = c.multiple_of {
        let x = lit_f64(x);
        conds.push(quote!(#rt::is_multiple_of(v, #x)));
    }
    if conds.is_empty() {
        return None;
    }
    let conds = and(conds);
    Some(quote!({ let v = #v; #conds }))
}

fn str_check(c: &StrChecks, s: TokenStream) -> Option<TokenStream> {
    // A bound every length meets is no check (and rustc denies the comparison).
    let min_length = c.min_length.filter(|n| *n > 0);
    let max_length = c.max_length.filter(|n| *n < u64::MAX);
    if min_length.is_none() && max_length.is_none() && c.patterns.is_empty() {
        return None;
    }
    let rt = rt();
    let mut conds = Vec::new();
    if min_length.is_some() || max_length.is_some() {
        let mut len_conds = Vec::new();
        if let Some(n) = min_length {
            let n = n as usize;
            len_conds.push(quote!(n >= #n));
        }
        if let Some(n) = max_length {
            let n = n as usize;
            len_conds.push(quote!(n <= #n));
        }
        let len_conds = and(len_conds);
        conds.push(quote!({ let n = #rt::str_len(s); #len_conds }));
    }
    for p in &c.patterns {
        // A simple pattern is checked by code of its own, without the regex engine (see
        // `simple_pattern`).
        conds.push(match crate::simple_pattern::matcher(p) {
            Some(check) => check,
            None => quote!({ static PATTERN: #rt::Pattern = #rt::Pattern::new(#p); PATTERN.is_match(s) }),
        });
    }
    let conds = and(conds);
    Some(quote!({ let s: &str = #s; #conds }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_lines(text: &str) -> Vec<String> {
        docs(text)
            .to_string()
            .split("# [doc = ")
            .skip(1)
            .map(|l| {
                let lit: syn::LitStr =
                    syn::parse_str(l.trim().trim_end_matches(']')).expect("a string");
                lit.value()
            })
            .collect()
    }

    #[test]
    fn descriptions_never_become_doctests() {
        let text = "Intro\n\n    let x = 1;\n\n```\nfn f() {}\n```\n\n```rust,ignore\nx\n```\n\n```json\n    {\"a\": 1}\n```";
        assert_eq!(
            doc_lines(text),
            [
                " Intro",
                " ",
                " let x = 1;",
                " ",
                " ```text",
                " fn f() {}",
                " ```",
                " ",
                " ```text",
                " x",
                " ```",
                " ",
                " ```json",
                "     {\"a\": 1}",
                " ```",
            ]
        );
    }

    #[test]
    fn identifiers_are_unique_after_escaping_and_never_panic() {
        let ids = unique_idents(
            ["self", "self_", "type", "_", "1st", "_1st", "é", ""]
                .map(String::from)
                .into_iter(),
            "_",
            &[],
        );
        let names: Vec<String> = ids.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            ["self_", "self_2", "r#type", "__", "_1st", "_1st_2", "__2", "_2"]
        );
    }

    /// What `naming` says a field or newtype's Rust type is, against the tokens emitted for
    /// it (paths spelled out there, unqualified in `naming`).
    fn agreements(graph: &TypeGraph) -> usize {
        fn plain(tokens: TokenStream) -> String {
            let mut s: String = tokens.to_string().split_whitespace().collect();
            for (path, short) in [
                (
                    "::serde_json::Map<::std::string::String,::serde_json::Value>",
                    "serde_json::Map<String,Value>",
                ),
                ("::serde_json::Value", "serde_json::Value"),
                ("::std::vec::Vec", "Vec"),
                ("::std::option::Option", "Option"),
                ("::std::boxed::Box", "Box"),
                ("::std::collections::BTreeMap", "BTreeMap"),
                ("::std::string::String", "String"),
                ("::event_contracts_runtime::DateTime", "DateTime"),
                ("::uuid::Uuid", "Uuid"),
            ] {
                s = s.replace(path, short);
            }
            s
        }
        let compact = |s: String| s.split_whitespace().collect::<String>();
        let emitter = Emitter::new(graph);
        let mut checked = 0;
        for def in &graph.types {
            match &def.kind {
                TypeKind::Struct { fields, .. } => {
                    for f in fields {
                        assert_eq!(
                            compact(crate::naming::field_rust_type(graph, f)),
                            plain(emitter.field_ty(f).0),
                            "{}.{}",
                            def.name,
                            f.wire
                        );
                        checked += 1;
                    }
                }
                TypeKind::Newtype(ty) => {
                    assert_eq!(
                        compact(crate::naming::rust_type(graph, ty)),
                        plain(emitter.rust_ty(ty)),
                        "{}",
                        def.name
                    );
                    checked += 1;
                }
                TypeKind::StrEnum { .. } | TypeKind::Tagged { .. } => {}
            }
        }
        checked
    }

    #[test]
    fn naming_says_the_rust_types_emit_writes_for_every_catalog() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for dir in ["schemas", "examples/telemetry/schemas"] {
            let catalog = crate::catalog::Catalog::read_dir(&root.join(dir)).expect("reads");
            let systems = crate::check(&catalog).expect("checks");
            let checked: usize = systems.iter().map(|s| agreements(&s.graph)).sum();
            assert!(checked > 10, "{dir}: only {checked} types compared");
        }
    }

    #[test]
    fn naming_says_the_rust_types_emit_writes_for_boxed_and_nullable_fields() {
        let text = r##"{"title":"Node","type":"object","properties":{
            "next":{"$ref":"#"},
            "prev":{"oneOf":[{"$ref":"#"}],"type":["object","null"]},
            "kids":{"type":"array","items":{"$ref":"#"}},
            "tags":{"type":"object","additionalProperties":{"type":["integer","null"]}},
            "at":{"type":["string","null"],"format":"date-time"},
            "id":{"type":"string","format":"uuid"},
            "any":{},
            "obj":{"type":"object"}
        },"required":["next","id"]}"##;
        let mut cat = crate::catalog::Catalog::default();
        let file = crate::source::SourceFile::parse("t.json", text).expect("parses");
        cat.files.insert("t.json".into(), file);
        let mut b = crate::model::Builder::new(&cat);
        b.root(&crate::catalog::Loc::new("t.json", ""), "Node");
        b.graph.box_recursive_fields();
        let boxed = b.graph.types.iter().any(|t| {
            matches!(&t.kind, TypeKind::Struct { fields, .. } if fields.iter().any(|f| f.boxed))
        });
        assert!(boxed, "{:?}", b.graph.types);
        assert!(agreements(&b.graph) >= 8);
    }
}
