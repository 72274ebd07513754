//! The transport-facing half of a system module: the `System` marker implementing
//! `runtime::transport::Contract` (decode, encode, ids, trace context), typed publishing
//! (`Publishes<E>` per event, which builds the system's envelope), the consumer groups, and
//! the `Handler` trait with one method per event plus its `Dispatch` adapter.

use heck::ToSnakeCase;
use proc_macro2::{Ident, TokenStream};
use quote::quote;

use crate::catalog::{Catalog, Loc, SystemSource};
use crate::diag::{Code, Diagnostics};
use crate::emit::{field_idents, ident};
use crate::envelope::Envelope;
use crate::manifest::{Manifest, RedisEntryLayout, Transport};
use crate::model::{Ty, TypeDef, TypeKind};
use crate::system::{EventItem, SystemCtx};
use crate::CheckedSystem;

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
            let ok = match &sys.graph[ty].kind {
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
        let envelope_loc = sys.envelope.map(|id| sys.graph[id].loc.clone());
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

fn field_expr(def: &TypeDef, wire: &str, var: &TokenStream) -> Option<TokenStream> {
    let TypeKind::Struct { fields, .. } = &def.kind else {
        return None;
    };
    let idents = field_idents(fields);
    let i = fields.iter().position(|f| f.wire == wire)?;
    let id = &idents[i];
    Some(quote!(#var.#id.to_string()))
}

/// How a system's messages look to the `Contract` impl: one shape for flat and wrapped
/// systems, which differ only in these expressions over `message` (and `channel`, `bytes`
/// in `decode`).
struct MessageShape {
    ty: TokenStream,
    /// The name `decode`'s channel parameter takes: `_channel` where `decode` ignores it.
    channel: TokenStream,
    decode: TokenStream,
    info: TokenStream,
    event_name: TokenStream,
    /// `None`: the system carries no message id, and the message is left unread.
    message_id: Option<TokenStream>,
    /// What the idempotency key arms match on: the event.
    event: TokenStream,
    traceparent: Option<TokenStream>,
}

impl SystemCtx<'_> {
    /// The transport half of the system module.
    pub(crate) fn transport(&self, events: &[EventItem<'_>]) -> TokenStream {
        let rt = &self.rt;
        let tr = quote!(#rt::transport);
        let mut system_doc = format!(" The `{}` system as the transport bindings see it: decode and encode whole messages, ids, trace context, typed publishing (`Publisher::<System, _>::publish`).", self.manifest.system);
        if let Some(layout) = stream_entry_doc(self.manifest) {
            system_doc.push_str(&format!("\n\n {layout}"));
        }
        let groups = self.manifest.consumer_groups.iter().map(|g| {
            let (name, binds, doc) = (&g.name, &g.binds, &g.description);
            quote!(#tr::ConsumerGroup { name: #name, binds: &[#(#binds),*], description: #doc })
        });
        let n_groups = self.manifest.consumer_groups.len();
        let contract = self.contract_impl(events);
        let publishes = events.iter().filter_map(EventItem::publishes_impl);
        let handler_methods = events.iter().map(EventItem::handler_method);
        let dispatch_arms = events
            .iter()
            .enumerate()
            .map(|(i, e)| e.dispatch_arm(i, events.len()));
        let dispatch = match self.wrapped {
            Some(_) => {
                quote!(let (envelope, event) = message.into_parts(); match event { #(#dispatch_arms)* })
            }
            None => quote!(match message { #(#dispatch_arms)* }),
        };
        // No arm, no future to return: the match has no type to infer it from.
        let dispatch = if events.is_empty() {
            quote!(async move { #dispatch })
        } else {
            dispatch
        };
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

            impl<H: Handler> #rt::transport::Handle<System> for Dispatch<H> {
                fn handle(&self, message: <System as #rt::transport::Contract>::Message, context: &#rt::transport::Context) -> impl ::std::future::Future<Output = #rt::transport::HandlerResult> + Send {
                    #dispatch
                }
            }
        }
    }

    /// The one place flat and wrapped systems' messages differ for the `Contract` impl.
    fn message_shape(&self, events: &[EventItem<'_>]) -> MessageShape {
        let enum_name = &self.enum_name;
        match &self.wrapped {
            Some(w) => {
                let payload_id = &w.payload_id;
                MessageShape {
                    ty: quote!(Message),
                    channel: quote!(_channel),
                    decode: quote!(decode_message(bytes)),
                    info: quote!(message.#payload_id.info()),
                    event_name: quote!(message.#payload_id.name()),
                    message_id: w.envelope.read_message_id(),
                    event: quote!(&message.#payload_id),
                    traceparent: w.envelope.read_traceparent(),
                }
            }
            // Flat: the event is the message and its channel names it.
            None => {
                let id_arms = events.iter().map(EventItem::message_id_arm);
                MessageShape {
                    ty: quote!(#enum_name),
                    channel: quote!(channel),
                    decode: quote!(decode_message(channel, bytes)),
                    info: quote!(message.info()),
                    event_name: quote!(message.name()),
                    message_id: Some(quote!(match message { #(#id_arms)* })),
                    event: quote!(message),
                    traceparent: None,
                }
            }
        }
    }

    /// The `Contract` impl of the `System` marker.
    fn contract_impl(&self, events: &[EventItem<'_>]) -> TokenStream {
        let rt = &self.rt;
        let tr = quote!(#rt::transport);
        let system = &self.manifest.system;
        let MessageShape {
            ty: message_ty,
            channel,
            decode,
            info,
            event_name,
            message_id,
            event,
            traceparent,
        } = self.message_shape(events);
        let key_arms = events.iter().map(EventItem::idempotency_key_arm);
        let idempotency_key = quote! {
            let key: ::std::option::Option<::std::string::String> = match #event { #(#key_arms)* };
            key.or_else(|| Self::message_id(message))
        };
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
        let stream_entry = redis_layout(self.manifest).map(|layout| {
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
}

impl EventItem<'_> {
    /// The event's variant of the event enum bound to `bind`.
    fn variant_pat(&self, bind: TokenStream) -> TokenStream {
        self.pattern(&self.cx.enum_name, bind)
    }

    /// `idempotency_key`'s arm: the event's name and its key properties joined, or `None`.
    fn idempotency_key_arm(&self) -> TokenStream {
        let ev = quote!(e);
        let parts: Vec<TokenStream> = self
            .entry
            .idempotency_key
            .iter()
            .filter_map(|k| field_expr(self.def, k, &ev))
            .collect();
        if parts.is_empty() {
            let pat = self.variant_pat(quote!(_));
            quote!(#pat => None,)
        } else {
            let pat = self.variant_pat(quote!(e));
            let name = &self.entry.name;
            quote!(#pat => Some([#name.to_owned(), #(#parts),*].join(":")),)
        }
    }

    /// A flat system's `message_id` arm: the event's declared id property, or `None`.
    fn message_id_arm(&self) -> TokenStream {
        match self
            .entry
            .message_id
            .as_deref()
            .and_then(|w| field_expr(self.def, w, &quote!(e)))
        {
            Some(expr) => {
                let pat = self.variant_pat(quote!(e));
                quote!(#pat => Some(#expr),)
            }
            None => {
                let pat = self.variant_pat(quote!(_));
                quote!(#pat => None,)
            }
        }
    }

    /// `impl Publishes<event> for System`: the message publishing the event builds. A flat
    /// system's fallback has none: its name on the wire is unknown.
    fn publishes_impl(&self) -> Option<TokenStream> {
        let rt = &self.cx.rt;
        let tr = quote!(#rt::transport);
        let (ty, enum_name) = (&self.ty, &self.cx.enum_name);
        let Some(w) = &self.cx.wrapped else {
            if self.entry.fallback {
                return None;
            }
            return Some(quote! {
                impl #tr::Publishes<#ty> for System {
                    fn wrap(event: #ty, _meta: &#tr::Meta) -> ::std::result::Result<#enum_name, #rt::EncodeError> {
                        Ok(#enum_name::#ty(event))
                    }
                }
            });
        };
        let (env_ty, type_id, payload_id, type_ptr) =
            (&w.ty, &w.type_id, &w.payload_id, &w.type_ptr);
        let (event_name, payload) = if self.entry.fallback {
            (
                quote!(#tr::Meta::require(&meta.event_type, #type_ptr, "the event's wire name (`Meta::event_type`)")?.to_owned()),
                quote!(#enum_name::#ty(#type_id.clone(), event)),
            )
        } else {
            let wire = &self.entry.name;
            (quote!(#wire.to_owned()), quote!(#enum_name::#ty(event)))
        };
        let meta = if w.envelope.publishing_reads_meta() || self.entry.fallback {
            quote!(meta)
        } else {
            quote!(_meta)
        };
        // `check` reported every field without a rule, so none is missing here.
        let inits = w
            .envelope
            .fields
            .iter()
            .zip(&w.envelope.idents)
            .filter_map(|(f, id)| w.envelope.init(f, id));
        Some(quote! {
            impl #tr::Publishes<#ty> for System {
                fn wrap(event: #ty, #meta: &#tr::Meta) -> ::std::result::Result<Message, #rt::EncodeError> {
                    let #type_id: ::std::string::String = #event_name;
                    let #payload_id = #payload;
                    Ok(#env_ty { #(#inits,)* })
                }
            }
        })
    }

    fn method_ident(&self) -> Ident {
        ident(&self.def.name.to_snake_case())
    }

    /// The event's `Handler` method, with a default that acknowledges the message unread.
    fn handler_method(&self) -> TokenStream {
        let rt = &self.cx.rt;
        let ty = &self.ty;
        let arg = match &self.cx.wrapped {
            Some(w) => {
                let env_ty = &w.ty;
                quote!(#env_ty<#ty>)
            }
            None => quote!(#ty),
        };
        let method = self.method_ident();
        let doc = if self.entry.fallback {
            " Any event the catalog does not list (its name is in the envelope). Default: acknowledge it unread.".to_owned()
        } else {
            format!(
                " `{}` on `{}`. Default: acknowledge it unread.",
                self.entry.name,
                self.entry.channel.address()
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

    /// `Dispatch`'s arm: the event to its `Handler` method (in its envelope, if wrapped), the
    /// method's future as leaf `index` of `count` in a tree of `transport::Either`.
    fn dispatch_arm(&self, index: usize, count: usize) -> TokenStream {
        let method = self.method_ident();
        let pat = self.variant_pat(quote!(event));
        let call = match self.cx.wrapped {
            Some(_) => quote!(self.0.#method(envelope.map_payload(|()| event), context)),
            None => quote!(self.0.#method(event, context)),
        };
        let future = either_leaf(&self.cx.rt, index, count, call);
        quote!(#pat => #future,)
    }
}

/// `future` as leaf `index` of a balanced tree of `count` leaves built of `transport::Either`:
/// every arm of a match is then one type, and a poll descends about log2(count) branches.
fn either_leaf(rt: &TokenStream, index: usize, count: usize, future: TokenStream) -> TokenStream {
    if count <= 1 {
        return future;
    }
    let left = count.div_ceil(2);
    if index < left {
        let inner = either_leaf(rt, index, left, future);
        quote!(#rt::transport::Either::Left { future: #inner })
    } else {
        let inner = either_leaf(rt, index - left, count - left, future);
        quote!(#rt::transport::Either::Right { future: #inner })
    }
}
