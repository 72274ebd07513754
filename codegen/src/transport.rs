//! The transport-facing half of a system module: the `System` marker implementing
//! `runtime::transport::Contract` (decode, encode, ids, trace context), typed publishing
//! (`Publishes<E>` per event, which builds the system's envelope), the consumer groups, and
//! the `Handler` trait with one method per event plus its `Dispatch` adapter.

use heck::ToSnakeCase;
use proc_macro2::TokenStream;
use quote::quote;

use crate::catalog::{Catalog, Loc};
use crate::diag::{Code, Diagnostics};
use crate::emit::{field_idents, ident, variant_idents};
use crate::manifest::{Envelope, EventEntry};
use crate::model::{Field, Ty, TypeDef, TypeGraph, TypeKind};
use crate::CheckedSystem;

fn rt() -> TokenStream {
    quote!(::event_contracts_runtime)
}

/// Checks what the transport code relies on: the manifest's `message_id` /
/// `idempotency_key` name required top-level string, UUID or integer properties, and every
/// required envelope property has a publishing rule.
pub(crate) fn check(catalog: &Catalog, sys: &CheckedSystem<'_>, diags: &mut Diagnostics) {
    let manifest = &sys.source.manifest;
    for (i, (ev, &ty)) in manifest.events.iter().zip(&sys.events).enumerate() {
        let names = ev
            .message_id
            .iter()
            .map(|n| ("message_id".to_owned(), n))
            .chain(
                ev.idempotency_key
                    .iter()
                    .enumerate()
                    .map(|(k, n)| (format!("idempotency_key/{k}"), n)),
            );
        for (key, name) in names {
            let ok = match &sys.graph.types[ty].kind {
                TypeKind::Struct { fields, .. } => fields.iter().any(|f| {
                    &f.wire == name
                        && f.required
                        && matches!(f.ty, Ty::Str { .. } | Ty::Uuid { .. } | Ty::Int { .. })
                }),
                _ => false,
            };
            if !ok {
                let at = Loc::new(
                    sys.source.manifest_file.clone(),
                    format!("/events/{i}/{key}"),
                );
                diags.push(catalog.diag(
                    Code::Manifest,
                    &at,
                    format!(
                        "`{name}` is not a required string, UUID or integer property of `{}`",
                        ev.name
                    ),
                    "name a required top-level property of the event's schema",
                ));
            }
        }
    }
    if let (
        Some(env_id),
        Envelope::Wrapped {
            type_field,
            payload_field,
            ..
        },
    ) = (sys.envelope, &manifest.envelope)
    {
        let env = &sys.graph.types[env_id];
        if let TypeKind::Struct { fields, .. } = &env.kind {
            for (f, id) in fields.iter().zip(field_idents(fields)) {
                if envelope_init(f, &id, &sys.graph, type_field, payload_field).is_none() {
                    diags.push(catalog.diag(
                        Code::UnsupportedShape,
                        &env.loc.join("properties").join(&f.wire),
                        format!("required envelope property `{}` has no publishing rule", f.wire),
                        "make it optional, or teach codegen/src/transport.rs (`envelope_init`) how publishing fills it",
                    ));
                }
            }
        }
    }
}

/// One event as the transport code needs it.
pub(crate) struct EventItem<'a> {
    pub entry: &'a EventEntry,
    pub def: &'a TypeDef,
}

fn field_expr(def: &TypeDef, wire: &str, var: &TokenStream) -> Option<TokenStream> {
    let TypeKind::Struct { fields, .. } = &def.kind else {
        return None;
    };
    let idents = field_idents(fields);
    let i = fields.iter().position(|f| f.wire == wire)?;
    let id = &idents[i];
    Some(quote!(#var.#id.to_string()))
}

/// Emits the transport half of a system module. `enum_name` is the system's event enum;
/// `envelope` the wrapped system's envelope type.
pub(crate) fn emit(
    sys: &CheckedSystem<'_>,
    enum_name: &proc_macro2::Ident,
    items: &[EventItem<'_>],
) -> TokenStream {
    let rt = rt();
    let m = &sys.source.manifest;
    let system = &m.system;
    let tr = quote!(#rt::transport);

    let groups = m.consumer_groups.iter().map(|g| {
        let (name, binds, doc) = (&g.name, &g.binds, &g.description);
        quote!(#tr::ConsumerGroup { name: #name, binds: &[#(#binds),*], description: #doc })
    });
    let n_groups = m.consumer_groups.len();

    let variant = |item: &EventItem<'_>, bind: TokenStream| {
        let ty = ident(&item.def.name);
        if item.entry.fallback {
            quote!(#enum_name::#ty(_, #bind))
        } else {
            quote!(#enum_name::#ty(#bind))
        }
    };
    let ev = quote!(e);
    let key_arms: Vec<TokenStream> = items
        .iter()
        .map(|item| {
            let pat = variant(item, quote!(e));
            let parts: Vec<TokenStream> = item
                .entry
                .idempotency_key
                .iter()
                .filter_map(|k| field_expr(item.def, k, &ev))
                .collect();
            if parts.is_empty() {
                let pat = variant(item, quote!(_));
                quote!(#pat => None,)
            } else {
                let name = &item.entry.name;
                quote!(#pat => Some([#name.to_owned(), #(#parts),*].join(":")),)
            }
        })
        .collect();
    let handler_methods: Vec<TokenStream>;
    let dispatch_arms: Vec<TokenStream>;
    let contract: TokenStream;
    let publishes: Vec<TokenStream>;
    let handled_ty: Box<dyn Fn(&TokenStream) -> TokenStream>;

    if let Some(env_id) = sys.envelope {
        let env = &sys.graph.types[env_id];
        let env_ty = ident(&env.name);
        let TypeKind::Struct { fields, .. } = &env.kind else {
            unreachable!("envelopes are structs")
        };
        let crate::manifest::Envelope::Wrapped {
            type_field,
            payload_field,
            ..
        } = &m.envelope
        else {
            unreachable!("only wrapped systems have an envelope")
        };
        let idents = field_idents(fields);
        let find = |wire: &str| fields.iter().position(|f| f.wire == wire);
        let payload_id = find(payload_field)
            .map(|i| idents[i].clone())
            .unwrap_or_else(|| ident(payload_field));
        let type_id = find(type_field)
            .map(|i| idents[i].clone())
            .unwrap_or_else(|| ident(type_field));
        let id_field = ["id", "event_id"]
            .into_iter()
            .find_map(|w| find(w).map(|i| idents[i].clone()));
        let message_id = match &id_field {
            Some(id) => quote!(Some(message.#id.to_string())),
            None => quote!(None),
        };
        let traceparent = if let Some(i) = find("traceparent") {
            let id = &idents[i];
            quote!(message.#id.clone())
        } else if let (Some(t), Some(s)) = (find("trace_id"), find("span_id")) {
            let (t, s) = (&idents[t], &idents[s]);
            quote! {
                message.#s.as_deref().and_then(|span| {
                    #tr::trace::TraceParent::parse(&format!("00-{}-{span}-01", message.#t)).map(|t| t.to_string())
                })
            }
        } else {
            quote! { let _ = message; None }
        };
        // `check` reported every field without a rule, so none is missing here.
        let inits: Vec<TokenStream> = fields
            .iter()
            .zip(&idents)
            .filter_map(|(f, id)| envelope_init(f, id, &sys.graph, type_field, payload_field))
            .collect();
        contract = quote! {
            impl #tr::Contract for System {
                type Message = Message;
                const SYSTEM: &'static str = #system;
                fn events() -> &'static [#rt::EventInfo] { &EVENTS }
                fn consumer_groups() -> &'static [#tr::ConsumerGroup] { &CONSUMER_GROUPS }
                fn decode(_channel: &str, bytes: &[u8]) -> ::std::result::Result<Message, #rt::DecodeError> {
                    decode_message(bytes)
                }
                fn outgoing(message: &Message) -> ::std::result::Result<#tr::Outgoing, #rt::EncodeError> {
                    let payload = encode_message(message)?;
                    let message_id: ::std::option::Option<::std::string::String> = #message_id;
                    let message_id = message_id.unwrap_or_default();
                    let mut headers = #tr::Headers::new();
                    headers.insert("content-type", "application/json");
                    Ok(#tr::Outgoing {
                        channel: message.#payload_id.info().channel.address().to_owned(),
                        key: Some(message_id.clone()),
                        message_id,
                        payload,
                        headers,
                    })
                }
                fn event_name(message: &Message) -> &str { message.#payload_id.name() }
                fn message_id(message: &Message) -> ::std::option::Option<::std::string::String> { #message_id }
                fn idempotency_key(message: &Message) -> ::std::option::Option<::std::string::String> {
                    let key: ::std::option::Option<::std::string::String> = match &message.#payload_id { #(#key_arms)* };
                    key.or_else(|| Self::message_id(message))
                }
                fn traceparent(message: &Message) -> ::std::option::Option<::std::string::String> { #traceparent }
            }
        };
        let type_ptr = format!("/{type_field}");
        publishes = items
            .iter()
            .map(|item| {
                let ty = ident(&item.def.name);
                let (event_name, payload) = if item.entry.fallback {
                    (
                        quote!(#tr::Meta::require(&meta.event_type, #type_ptr, "the event's wire name (`Meta::event_type`)")?.to_owned()),
                        quote!(#enum_name::#ty(#type_id.clone(), event)),
                    )
                } else {
                    let wire = &item.entry.name;
                    (quote!(#wire.to_owned()), quote!(#enum_name::#ty(event)))
                };
                quote! {
                    impl #tr::Publishes<#ty> for System {
                        fn wrap(event: #ty, meta: &#tr::Meta) -> ::std::result::Result<Message, #rt::EncodeError> {
                            let #type_id: ::std::string::String = #event_name;
                            let #payload_id = #payload;
                            Ok(#env_ty { #(#inits,)* })
                        }
                    }
                }
            })
            .collect();
        handled_ty = Box::new(move |ty: &TokenStream| quote!(#env_ty<#ty>));
        handler_methods = items
            .iter()
            .map(|item| handler_method(item, &handled_ty))
            .collect();
        dispatch_arms = items
            .iter()
            .map(|item| {
                let method = method_ident(item);
                let pat = variant(item, quote!(event));
                quote!(#pat => self.0.#method(envelope.map_payload(|()| event), context).await,)
            })
            .collect();
        let dispatch = dispatch_impl(
            quote!(let (envelope, event) = message.into_parts(); match event { #(#dispatch_arms)* }),
        );
        return finish(
            system,
            groups.collect(),
            n_groups,
            contract,
            publishes,
            handler_methods,
            dispatch,
        );
    }

    // Flat: the event is the message and its channel names it.
    let id_arms: Vec<TokenStream> = items
        .iter()
        .map(|item| {
            let pat = variant(item, quote!(e));
            match item
                .entry
                .message_id
                .as_deref()
                .and_then(|w| field_expr(item.def, w, &ev))
            {
                Some(expr) => quote!(#pat => Some(#expr),),
                None => {
                    let pat = variant(item, quote!(_));
                    quote!(#pat => None,)
                }
            }
        })
        .collect();
    contract = quote! {
        impl #tr::Contract for System {
            type Message = #enum_name;
            const SYSTEM: &'static str = #system;
            fn events() -> &'static [#rt::EventInfo] { &EVENTS }
            fn consumer_groups() -> &'static [#tr::ConsumerGroup] { &CONSUMER_GROUPS }
            fn decode(channel: &str, bytes: &[u8]) -> ::std::result::Result<#enum_name, #rt::DecodeError> {
                decode_message(channel, bytes)
            }
            fn outgoing(message: &#enum_name) -> ::std::result::Result<#tr::Outgoing, #rt::EncodeError> {
                let payload = encode_message(message)?;
                let message_id = Self::message_id(message).unwrap_or_else(|| #tr::Meta::default().id_or_new());
                let mut headers = #tr::Headers::new();
                headers.insert("content-type", "application/json");
                Ok(#tr::Outgoing {
                    channel: message.info().channel.address().to_owned(),
                    key: Some(message_id.clone()),
                    message_id,
                    payload,
                    headers,
                })
            }
            fn event_name(message: &#enum_name) -> &str { message.name() }
            fn message_id(message: &#enum_name) -> ::std::option::Option<::std::string::String> {
                match message { #(#id_arms)* }
            }
            fn idempotency_key(message: &#enum_name) -> ::std::option::Option<::std::string::String> {
                let key: ::std::option::Option<::std::string::String> = match message { #(#key_arms)* };
                key.or_else(|| Self::message_id(message))
            }
            fn traceparent(_message: &#enum_name) -> ::std::option::Option<::std::string::String> { None }
        }
    };
    publishes = items
        .iter()
        .filter(|item| !item.entry.fallback)
        .map(|item| {
            let ty = ident(&item.def.name);
            quote! {
                impl #tr::Publishes<#ty> for System {
                    fn wrap(event: #ty, _meta: &#tr::Meta) -> ::std::result::Result<#enum_name, #rt::EncodeError> {
                        Ok(#enum_name::#ty(event))
                    }
                }
            }
        })
        .collect();
    handled_ty = Box::new(|ty: &TokenStream| ty.clone());
    handler_methods = items
        .iter()
        .map(|item| handler_method(item, &handled_ty))
        .collect();
    dispatch_arms = items
        .iter()
        .map(|item| {
            let method = method_ident(item);
            let pat = variant(item, quote!(event));
            quote!(#pat => self.0.#method(event, context).await,)
        })
        .collect();
    let dispatch = dispatch_impl(quote!(match message { #(#dispatch_arms)* }));
    finish(
        system,
        groups.collect(),
        n_groups,
        contract,
        publishes,
        handler_methods,
        dispatch,
    )
}

fn method_ident(item: &EventItem<'_>) -> proc_macro2::Ident {
    ident(&item.def.name.to_snake_case())
}

fn handler_method(
    item: &EventItem<'_>,
    handled_ty: &dyn Fn(&TokenStream) -> TokenStream,
) -> TokenStream {
    let rt = rt();
    let ty = ident(&item.def.name);
    let arg = handled_ty(&quote!(#ty));
    let method = method_ident(item);
    let doc = if item.entry.fallback {
        " Any event the catalog does not list (its name is in the envelope). Default: acknowledge it unread.".to_owned()
    } else {
        format!(
            " `{}` on `{}`. Default: acknowledge it unread.",
            item.entry.name,
            item.entry.channel.address()
        )
    };
    quote! {
        #[doc = #doc]
        fn #method(&self, message: #arg, context: &#rt::transport::Context) -> impl ::std::future::Future<Output = #rt::transport::HandlerResult> + Send {
            let _ = (message, context);
            ::std::future::ready(Ok(()))
        }
    }
}

fn dispatch_impl(body: TokenStream) -> TokenStream {
    let rt = rt();
    quote! {
        impl<H: Handler> #rt::transport::Handle<System> for Dispatch<H> {
            async fn handle(&self, message: <System as #rt::transport::Contract>::Message, context: &#rt::transport::Context) -> #rt::transport::HandlerResult {
                #body
            }
        }
    }
}

fn finish(
    system: &str,
    groups: Vec<TokenStream>,
    n_groups: usize,
    contract: TokenStream,
    publishes: Vec<TokenStream>,
    handler_methods: Vec<TokenStream>,
    dispatch: TokenStream,
) -> TokenStream {
    let rt = rt();
    let system_doc = format!(" The `{system}` system as the transport bindings see it: decode and encode whole messages, ids, trace context, typed publishing (`Publisher::<System, _>::publish`).");
    quote! {
        #[doc = #system_doc]
        #[derive(Clone, Copy, Debug, Default)]
        pub struct System;

        /// The consumer groups of the catalog, with the channels each reads.
        pub static CONSUMER_GROUPS: [#rt::transport::ConsumerGroup; #n_groups] = [#(#groups),*];

        #contract
        #(#publishes)*

        /// Typed handlers of this system's events: implement the methods of the events your
        /// consumer group reads. A method returns `HandlerError::Retry` for a transient
        /// failure (retried with backoff, then dead-lettered) or `HandlerError::Reject` for a
        /// message that can never succeed (dead-lettered at once).
        pub trait Handler: Send + Sync + 'static {
            #(#handler_methods)*
        }

        /// Adapts a [`Handler`] to the consumer engine (`runtime::transport::run`).
        #[derive(Clone, Debug, Default)]
        pub struct Dispatch<H>(pub H);

        #dispatch
    }
}

/// How `wrap` fills one envelope field from the event and the publish's `Meta`.
fn envelope_init(
    f: &Field,
    id: &proc_macro2::Ident,
    graph: &TypeGraph,
    type_field: &str,
    payload_field: &str,
) -> Option<TokenStream> {
    let rt = rt();
    let tr = quote!(#rt::transport);
    let ptr = format!("/{}", f.wire);
    let wire = f.wire.as_str();
    if wire == type_field || wire == payload_field {
        return Some(quote!(#id));
    }
    let value = match (wire, &f.ty) {
        ("id" | "event_id", Ty::Uuid { .. }) => quote! {
            match &meta.id {
                Some(id) => ::uuid::Uuid::parse_str(id).map_err(|e| #rt::EncodeError::Invalid(#rt::Violations(vec![#rt::Violation { pointer: #ptr.into(), keyword: "format".into(), message: format!("`{id}` is not a UUID: {e}") }])))?,
                None => ::uuid::Uuid::new_v4(),
            }
        },
        ("id" | "event_id", Ty::Str { .. }) => quote!(meta.id_or_new()),
        ("timestamp" | "time" | "ts", Ty::DateTime { .. }) => quote!(#rt::DateTime::now_utc()),
        // Unix milliseconds as a decimal string (the livepeer gateway's `timestamp`).
        ("timestamp", Ty::Str { .. }) => quote! {
            ::std::time::SystemTime::now().duration_since(::std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default().to_string()
        },
        ("gateway", Ty::Str { .. }) => quote!(meta.source.clone().unwrap_or_default()),
        ("source", Ty::Str { .. }) => {
            quote!(#tr::Meta::require(&meta.source, #ptr, "the publishing service (`source`)")?.to_owned())
        }
        ("subject", Ty::Str { .. }) => {
            quote!(#tr::Meta::require(&meta.subject, #ptr, "a `subject` (e.g. `run/{runId}`)")?.to_owned())
        }
        ("trace_id", Ty::Str { .. }) => quote! {
            meta.traceparent.as_deref().and_then(#tr::trace::TraceParent::parse).map(|t| t.trace_id).unwrap_or_else(|| #tr::trace::TraceParent::new_root().trace_id)
        },
        ("span_id", Ty::Str { .. }) if !f.required => quote! {
            meta.traceparent.as_deref().and_then(#tr::trace::TraceParent::parse).map(|t| t.parent_id)
        },
        ("traceparent", Ty::Str { .. }) if !f.required => quote!(meta.traceparent.clone()),
        ("seq", Ty::Int { .. }) if !f.required => quote!(meta.seq),
        (_, Ty::Named(t)) if f.required => match &graph.types[*t].kind {
            // A single-valued enum (`schema_version: "v1"`, `specversion: "1.0"`).
            TypeKind::StrEnum { values } if values.len() == 1 => {
                let ty = ident(&graph.types[*t].name);
                let v = &variant_idents(values)[0];
                quote!(#ty::#v)
            }
            _ => return None,
        },
        (_, _) if !f.required => quote!(None),
        _ => return None,
    };
    Some(quote!(#id: #value))
}
