//! The transport-facing half of a system module: the `System` marker implementing
//! `runtime::transport::Contract` (decode, encode, ids, trace context), typed publishing
//! (`Publishes<E>` per event, which builds the system's envelope), the consumer groups, and
//! the `Handler` trait with one method per event plus its `Dispatch` adapter.

use heck::ToSnakeCase;
use proc_macro2::TokenStream;
use quote::quote;

use crate::catalog::{Catalog, Loc, SystemSource};
use crate::diag::{Code, Diagnostics};
use crate::emit::{field_idents, ident};
use crate::envelope::Envelope;
use crate::manifest::{EventEntry, Manifest, RedisEntryLayout, Transport};
use crate::model::{Ty, TypeDef, TypeKind};
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
                    Code::KeyProperty,
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
    if let Some(envelope) = Envelope::of(sys) {
        let manifest_loc = Loc::new(sys.source.manifest_file.clone(), "");
        let envelope_loc = sys.envelope.map(|id| sys.graph.types[id].loc.clone());
        for p in envelope.problems(
            &manifest_loc,
            envelope_loc.as_ref().unwrap_or(&manifest_loc),
        ) {
            diags.push(catalog.diag(p.code, &p.at, p.message, p.hint));
        }
    }
}

/// Checks the manifest's Redis stream entry layout: only on a Redis system, with a payload
/// field and a header prefix that cannot be mistaken for each other.
pub(crate) fn check_redis_layout(
    catalog: &Catalog,
    sys: &SystemSource,
    manifest_loc: &Loc,
    diags: &mut Diagnostics,
) {
    let Some(layout) = &sys.manifest.redis else {
        return;
    };
    let at = manifest_loc.join("redis");
    if sys.manifest.transport != Transport::Redis {
        diags.push(catalog.diag(
            Code::RedisLayout,
            &at,
            format!(
                "a Redis stream entry layout in a {} system",
                sys.manifest.transport.as_str()
            ),
            "remove `redis`: only systems on `transport: redis` write stream entries",
        ));
        return;
    }
    if layout.payload_field.is_empty() {
        diags.push(catalog.diag(
            Code::RedisLayout,
            &at.join("payload_field"),
            "the payload field is empty",
            "name the entry field that holds the JSON message (the default is `envelope`)",
        ));
    }
    if layout.header_prefix.is_empty() {
        diags.push(catalog.diag(
            Code::RedisLayout,
            &at.join("header_prefix"),
            "the header prefix is empty: every field would be read as a header",
            "use a prefix such as `h:` (the default)",
        ));
    } else if layout.payload_field.starts_with(&layout.header_prefix) {
        diags.push(catalog.diag(
            Code::RedisLayout,
            &at.join("payload_field"),
            format!(
                "payload field `{}` starts with the header prefix `{}`",
                layout.payload_field, layout.header_prefix
            ),
            "choose a payload field outside the header prefix",
        ));
    }
}

/// A Redis system's entry layout (declared, else the default); `None` for other transports.
pub(crate) fn redis_layout(m: &Manifest) -> Option<RedisEntryLayout> {
    (m.transport == Transport::Redis).then(|| m.redis.clone().unwrap_or_default())
}

/// One paragraph of rustdoc on a Redis system's stream entries, for the module and `System`.
pub(crate) fn stream_entry_doc(m: &Manifest) -> Option<String> {
    let layout = redis_layout(m)?;
    Some(format!(
        "Redis stream entries (manifest `redis`): one entry per message, the whole message as \
         JSON in the field `{p}`, each transport header in a field `{h}<name>` \
         (`{h}traceparent`, `{h}content-type`); other fields are carried along and ignored. An \
         entry without `{p}` is dead-lettered as `malformed`, naming the fields it had. \
         Dead letters go to `<stream>:dead-letter` with the original fields unchanged plus \
         `{h}x-dead-letter-reason`, `-error`, `-attempts`, `-origin`, `-channel`, `-group` \
         and `-time`.",
        p = layout.payload_field,
        h = layout.header_prefix,
    ))
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

    if let (Some(env_id), Some(envelope)) = (sys.envelope, Envelope::of(sys)) {
        let env_ty = ident(&sys.graph.types[env_id].name);
        let payload_id = envelope.ident_of(envelope.payload_field);
        let type_id = envelope.ident_of(envelope.type_field);
        let message_id = envelope.read_message_id();
        let traceparent = envelope.read_traceparent();
        // `check` reported every field without a rule, so none is missing here.
        let inits: Vec<TokenStream> = envelope
            .fields
            .iter()
            .zip(&envelope.idents)
            .filter_map(|(f, id)| envelope.init(f, id))
            .collect();
        contract = contract_impl(
            quote!(Message),
            system,
            quote!(_channel),
            quote!(decode_message(bytes)),
            quote!(message.#payload_id.info()),
            quote!(message.#payload_id.name()),
            message_id,
            quote! {
                let key: ::std::option::Option<::std::string::String> = match &message.#payload_id { #(#key_arms)* };
                key.or_else(|| Self::message_id(message))
            },
            traceparent,
            redis_layout(m).as_ref(),
        );
        let type_ptr = format!("/{}", envelope.type_field);
        let reads_meta = envelope.publishing_reads_meta();
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
                let meta = if reads_meta || item.entry.fallback {
                    quote!(meta)
                } else {
                    quote!(_meta)
                };
                quote! {
                    impl #tr::Publishes<#ty> for System {
                        fn wrap(event: #ty, #meta: &#tr::Meta) -> ::std::result::Result<Message, #rt::EncodeError> {
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
            stream_entry_doc(m),
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
    contract = contract_impl(
        quote!(#enum_name),
        system,
        quote!(channel),
        quote!(decode_message(channel, bytes)),
        quote!(message.info()),
        quote!(message.name()),
        Some(quote!(match message { #(#id_arms)* })),
        quote! {
            let key: ::std::option::Option<::std::string::String> = match message { #(#key_arms)* };
            key.or_else(|| Self::message_id(message))
        },
        None,
        redis_layout(m).as_ref(),
    );
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
        stream_entry_doc(m),
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

#[allow(clippy::too_many_arguments)]
fn finish(
    system: &str,
    stream_entry_doc: Option<String>,
    groups: Vec<TokenStream>,
    n_groups: usize,
    contract: TokenStream,
    publishes: Vec<TokenStream>,
    handler_methods: Vec<TokenStream>,
    dispatch: TokenStream,
) -> TokenStream {
    let rt = rt();
    let mut system_doc = format!(" The `{system}` system as the transport bindings see it: decode and encode whole messages, ids, trace context, typed publishing (`Publisher::<System, _>::publish`).");
    if let Some(layout) = stream_entry_doc {
        system_doc.push_str(&format!("\n\n {layout}"));
    }
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

/// The `Contract` impl: one shape for flat and wrapped systems, which differ only in these
/// expressions over `message` (and `channel`, `bytes` in `decode`; `channel` is the name its
/// parameter takes, `_channel` where `decode` ignores it).
#[allow(clippy::too_many_arguments)]
fn contract_impl(
    message_ty: TokenStream,
    system: &str,
    channel: TokenStream,
    decode: TokenStream,
    info: TokenStream,
    event_name: TokenStream,
    message_id: Option<TokenStream>,
    idempotency_key: TokenStream,
    traceparent: Option<TokenStream>,
    stream_entry: Option<&RedisEntryLayout>,
) -> TokenStream {
    let rt = rt();
    let tr = quote!(#rt::transport);
    // An id or trace the system does not carry: `None`, with the message unread.
    let reader = |name: TokenStream, body: Option<TokenStream>| match body {
        Some(body) => quote! {
            fn #name(message: &#message_ty) -> ::std::option::Option<::std::string::String> { #body }
        },
        None => quote! {
            fn #name(_message: &#message_ty) -> ::std::option::Option<::std::string::String> { None }
        },
    };
    let message_id = reader(quote!(message_id), message_id);
    let traceparent = reader(quote!(traceparent), traceparent);
    let stream_entry = stream_entry.map(|layout| {
        let (payload_field, header_prefix) = (&layout.payload_field, &layout.header_prefix);
        quote! {
            const STREAM_ENTRY: #tr::StreamEntryLayout = #tr::StreamEntryLayout {
                payload_field: #payload_field,
                header_prefix: #header_prefix,
            };
        }
    });
    quote! {
        impl #tr::Contract for System {
            type Message = #message_ty;
            const SYSTEM: &'static str = #system;
            #stream_entry
            fn events() -> &'static [#rt::EventInfo] { &EVENTS }
            fn consumer_groups() -> &'static [#tr::ConsumerGroup] { &CONSUMER_GROUPS }
            fn decode(#channel: &str, bytes: &[u8]) -> ::std::result::Result<#message_ty, #rt::DecodeError> {
                #decode
            }
            fn outgoing(message: &#message_ty) -> ::std::result::Result<#tr::Outgoing, #rt::EncodeError> {
                let payload = encode_message(message)?;
                let message_id = Self::message_id(message).unwrap_or_else(|| #tr::Meta::default().id_or_new());
                let mut headers = #tr::Headers::new();
                headers.insert("content-type", "application/json");
                Ok(#tr::Outgoing {
                    channel: #info.channel.address().to_owned(),
                    key: Some(message_id.clone()),
                    message_id,
                    payload,
                    headers,
                })
            }
            fn event_name(message: &#message_ty) -> &str { #event_name }
            #message_id
            fn idempotency_key(message: &#message_ty) -> ::std::option::Option<::std::string::String> { #idempotency_key }
            #traceparent
        }
    }
}
