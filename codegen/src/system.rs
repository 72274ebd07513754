//! Everything of a system module after its types, built from one [`EventItem`] per event and
//! the [`SystemCtx`] they share: each generated item or match arm of an event is one method
//! of `EventItem` (here for the event enum and `Event` impls, in `transport` for the
//! transport half), so a new operation is one method and one line of the module's template.

use heck::ToUpperCamelCase;
use proc_macro2::{Ident, TokenStream};
use quote::{quote, ToTokens};

use crate::catalog::ID_BASE;
use crate::emit::ident;
use crate::envelope::Envelope;
use crate::manifest::{self, Channel, EventEntry, Manifest, TimeFormat};
use crate::model::{Ty, TypeDef};
use crate::CheckedSystem;

/// The system-wide pieces every event's items refer to, computed once per system.
pub(crate) struct SystemCtx<'s> {
    pub sys: &'s CheckedSystem<'s>,
    pub manifest: &'s Manifest,
    pub rt: TokenStream,
    /// The system's event enum, `<System>Event`.
    pub enum_name: Ident,
    /// The envelope of a wrapped system; `None` for a flat one, whose event is the message.
    pub wrapped: Option<Wrapped<'s>>,
}

/// A wrapped system's envelope as the emitters use it.
pub(crate) struct Wrapped<'s> {
    pub envelope: Envelope<'s>,
    /// The envelope struct, generic over its payload.
    pub ty: Ident,
    /// The envelope fields holding the event's wire name and the event.
    pub type_id: Ident,
    pub payload_id: Ident,
    /// JSON pointers of those two fields in the whole message.
    pub type_ptr: String,
    pub payload_ptr: String,
    /// The envelope schema's `$id`.
    pub schema_id: String,
}

impl<'s> SystemCtx<'s> {
    pub fn new(sys: &'s CheckedSystem<'s>) -> Self {
        let manifest = &sys.source.manifest;
        let wrapped = sys.envelope.and_then(|env_id| {
            let manifest::Envelope::Wrapped { schema, .. } = &manifest.envelope else {
                return None;
            };
            let envelope = Envelope::of(sys)?;
            Some(Wrapped {
                ty: ident(&sys.graph[env_id].name),
                type_id: envelope.ident_of(envelope.type_field),
                payload_id: envelope.ident_of(envelope.payload_field),
                type_ptr: format!("/{}", envelope.type_field),
                payload_ptr: format!("/{}", envelope.payload_field),
                schema_id: format!("{ID_BASE}{}/{schema}", sys.source.dir),
                envelope,
            })
        });
        Self {
            sys,
            manifest,
            rt: quote!(::event_contracts_runtime),
            enum_name: ident(&format!("{}Event", manifest.system.to_upper_camel_case())),
            wrapped,
        }
    }

    /// One item per manifest event, in manifest order.
    pub fn events(&self) -> Vec<EventItem<'_>> {
        self.manifest
            .events
            .iter()
            .zip(&self.sys.events)
            .enumerate()
            .map(|(index, (entry, &ty_id))| {
                let def = &self.sys.graph[ty_id];
                EventItem {
                    cx: self,
                    index,
                    entry,
                    def,
                    ty: ident(&def.name),
                    wire: if entry.fallback {
                        "*".to_owned()
                    } else {
                        entry.name.clone()
                    },
                    schema_id: format!("{ID_BASE}{}/{}", self.sys.source.dir, entry.schema),
                    needs_schema: self.sys.graph.needs_schema(&Ty::Named(ty_id)),
                    examples: &self.sys.examples[index],
                }
            })
            .collect()
    }

    /// Everything of the system module after its types.
    pub fn emit(&self) -> TokenStream {
        let rt = &self.rt;
        let system = &self.manifest.system;
        let enum_name = &self.enum_name;
        let events = self.events();
        let known = || events.iter().filter(|e| !e.entry.fallback);
        let fallback = events.iter().find(|e| e.entry.fallback);

        let impls = events.iter().map(EventItem::event_impl);
        let infos = events.iter().map(EventItem::info);
        let n = events.len();
        let enum_doc = format!(" Every event of the `{system}` system.");
        let variants = events.iter().map(EventItem::variant);
        let decode_arms = known().map(EventItem::decode_arm);
        // The fallback event, if any, answers for every unlisted name.
        let decode_other = fallback.map_or_else(
            || {
                let known_list = known()
                    .map(|e| e.entry.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                quote!(other => Err(#rt::DecodeError::UnknownEvent { system: #system, name: other.to_owned(), known: #known_list.to_owned() }),)
            },
            EventItem::decode_arm,
        );
        let name_arms = events.iter().map(EventItem::name_arm);
        let encode_arms = events.iter().map(EventItem::encode_arm);
        let validate_arms = events.iter().map(EventItem::validate_arm);
        let info_arms = events.iter().map(EventItem::info_arm);
        let validator_arms = known().map(EventItem::validator_arm);
        let validator_other = fallback.map_or_else(|| quote!(_ => None,), EventItem::validator_arm);
        let ser_arms = events.iter().map(EventItem::serialize_arm);

        let message = self.message_fns();
        let now = self
            .manifest
            .time_format
            .map(|format| time_format_now(format, rt));
        let system_info = self.system_info();
        let transport_items = self.transport(&events);
        quote! {
            #(#impls)*
            /// The catalog's facts about each event, in manifest order.
            pub static EVENTS: [#rt::EventInfo; #n] = [#(#infos),*];

            #[doc = #enum_doc]
            #[derive(Clone, Debug, PartialEq)]
            pub enum #enum_name { #(#variants)* }

            impl #enum_name {
                /// Validates and decodes the event named `name` (its type, routing key or subject).
                pub fn decode(name: &str, bytes: &[u8]) -> ::std::result::Result<Self, #rt::DecodeError> {
                    match name { #(#decode_arms)* #decode_other }
                }
                /// The event's name on the wire.
                pub fn name(&self) -> &str { match self { #(#name_arms)* } }
                /// Encodes the event, refusing one that breaks its schema.
                pub fn encode(&self) -> ::std::result::Result<::std::vec::Vec<u8>, #rt::EncodeError> { match self { #(#encode_arms)* } }
                /// Every schema violation of the event.
                pub fn validate(&self) -> ::std::result::Result<(), #rt::Violations> { match self { #(#validate_arms)* } }
                /// The catalog's facts about the event.
                pub fn info(&self) -> &'static #rt::EventInfo { match self { #(#info_arms)* } }
                /// The validator of the event named `name`, if the catalog knows it.
                pub fn validator_for(name: &str) -> ::std::option::Option<&'static #rt::Validator> {
                    match name { #(#validator_arms)* #validator_other }
                }
            }

            impl ::serde::Serialize for #enum_name {
                fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                    match self { #(#ser_arms)* }
                }
            }

            #message

            #now

            #system_info

            #transport_items
        }
    }

    /// `SYSTEM_INFO`: the system type-erased, for tools that work over any catalog.
    fn system_info(&self) -> TokenStream {
        let rt = &self.rt;
        let system = &self.manifest.system;
        let enum_name = &self.enum_name;
        let envelope_schema = match &self.manifest.envelope {
            manifest::Envelope::Wrapped { schema, .. } => {
                let id = format!("{ID_BASE}{}/{schema}", self.sys.source.dir);
                quote!(Some(#id))
            }
            manifest::Envelope::Flat => quote!(None),
        };
        let reencode_message = if self.sys.envelope.is_some() {
            quote!(Some(|bytes| Ok(encode_message(&decode_message(bytes)?)?)))
        } else {
            quote!(None)
        };
        quote! {
            /// This system, type-erased: its events and round trips for tools that work over any
            /// catalog.
            pub static SYSTEM_INFO: #rt::SystemInfo = #rt::SystemInfo {
                name: #system,
                events: &EVENTS,
                envelope_schema_id: #envelope_schema,
                reencode_event: |name, bytes| Ok(#enum_name::decode(name, bytes)?.encode()?),
                reencode_message: #reencode_message,
            };
        }
    }

    /// `decode_message`/`encode_message` (with `Message` and `envelope_validator` for a
    /// wrapped system): whole messages, envelope and event checked together.
    fn message_fns(&self) -> TokenStream {
        let rt = &self.rt;
        let enum_name = &self.enum_name;
        let Some(w) = &self.wrapped else {
            return quote! {
                /// Validates and decodes a whole message arriving on `channel` (the routing key or subject).
                pub fn decode_message(channel: &str, bytes: &[u8]) -> ::std::result::Result<#enum_name, #rt::DecodeError> {
                    #enum_name::decode(channel, bytes)
                }

                /// Encodes a whole message, refusing an invalid event.
                pub fn encode_message(event: &#enum_name) -> ::std::result::Result<::std::vec::Vec<u8>, #rt::EncodeError> {
                    event.encode()
                }
            };
        };
        let (env_ty, type_id, payload_id) = (&w.ty, &w.type_id, &w.payload_id);
        let (type_ptr, payload_ptr) = (&w.type_ptr, &w.payload_ptr);
        let env_schema = &w.schema_id;
        let (type_field, payload_field) = (w.envelope.type_field, w.envelope.payload_field);
        let events = self.events();
        let known = events.iter().filter(|e| !e.entry.fallback);
        let named_arms = known.map(EventItem::named_arm);
        let named_other = events.iter().find(|e| e.entry.fallback).map_or_else(
            || quote!(_ => ::std::result::Result::Err(<D::Error as ::serde::de::Error>::custom("not an event of the catalog")),),
            EventItem::named_arm,
        );
        // One `#[doc]` per line: prettyplease writes a multi-line one as a block comment.
        let decode_doc = [
            " Validates and decodes a whole message: the envelope, then the event its".to_owned(),
            format!(" `{type_field}` names. Errors carry JSON pointers into the whole message."),
        ];
        let encode_doc = [
            " Encodes a whole message, refusing an invalid envelope or event, or an envelope"
                .to_owned(),
            format!(" whose `{type_field}` does not name its event."),
        ];
        quote! {
            /// A whole message: the envelope around a typed event.
            pub type Message = #env_ty<#enum_name>;

            /// The compiled validator of the envelope schema.
            pub fn envelope_validator() -> &'static #rt::Validator {
                static VALIDATOR: ::std::sync::OnceLock<#rt::Validator> = ::std::sync::OnceLock::new();
                VALIDATOR.get_or_init(|| crate::SCHEMAS.compile(#env_schema))
            }

            impl #rt::one_pass::NamedEvents for #enum_name {
                fn deserialize_named<'de, D: ::serde::Deserializer<'de>>(name: &str, d: D) -> ::std::result::Result<Self, D::Error> {
                    match name { #(#named_arms)* #named_other }
                }
            }

            #(#[doc = #decode_doc])*
            pub fn decode_message(bytes: &[u8]) -> ::std::result::Result<Message, #rt::DecodeError> {
                // A valid message decodes in one pass; anything else takes the reporting path.
                let keys = #rt::one_pass::EnvelopeKeys { type_key: #type_field, payload_key: #payload_field };
                let whole = |env: #env_ty<#rt::one_pass::PayloadSlot>, event| env.map_payload(|_| event);
                if let Some(message) = #rt::one_pass::decode_in_one_pass::<_, #enum_name, _>(bytes, keys, whole) {
                    return Ok(message);
                }
                match ::serde_json::from_slice::<#env_ty<&::serde_json::value::RawValue>>(bytes) {
                    Ok(env) if #rt::Validate::is_valid(&env) => {
                        let event = #enum_name::decode(&env.#type_id, env.#payload_id.get().as_bytes()).map_err(|e| e.within(#payload_ptr))?;
                        Ok(env.map_payload(|_| event))
                    }
                    _ => Err(#rt::wrapped_error::<#env_ty>(bytes, envelope_validator(), #type_ptr, #payload_ptr, #enum_name::validator_for)),
                }
            }

            #(#[doc = #encode_doc])*
            pub fn encode_message(message: &Message) -> ::std::result::Result<::std::vec::Vec<u8>, #rt::EncodeError> {
                let mut violations = ::std::vec::Vec::new();
                if message.#type_id.as_str() != message.#payload_id.name() {
                    violations.push(#rt::Violation { pointer: #type_ptr.into(), keyword: "const".into(), message: format!("`{}` does not name the payload event `{}`", message.#type_id, message.#payload_id.name()) });
                }
                if !#rt::Validate::is_valid(message) {
                    let value = ::serde_json::to_value(message.clone().map_payload(|_| ::serde_json::Value::Object(::serde_json::Map::new())))?;
                    if let Err(v) = envelope_validator().check(&value) { violations.extend(v.0.into_iter().filter(|v| !v.pointer.starts_with(#payload_ptr))); }
                }
                if let Err(v) = message.#payload_id.validate() { violations.extend(v.within(#payload_ptr).0); }
                if !violations.is_empty() { return Err(#rt::EncodeError::Invalid(#rt::Violations(violations))); }
                Ok(::serde_json::to_vec(message)?)
            }
        }
    }
}

/// One event of a system with what every item generated for it needs. Each method yields one
/// generated item or match arm.
pub(crate) struct EventItem<'s> {
    pub cx: &'s SystemCtx<'s>,
    /// Position in the manifest, and so in `EVENTS`.
    pub index: usize,
    pub entry: &'s EventEntry,
    pub def: &'s TypeDef,
    /// The event's type, which is also its variant of the event enum.
    pub ty: Ident,
    /// The event's `Event::NAME`: its name on the wire, `*` for the fallback.
    pub wire: String,
    pub schema_id: String,
    pub needs_schema: bool,
    /// The schema's `examples`, as compact JSON, in document order.
    pub examples: &'s [String],
}

impl EventItem<'_> {
    /// The event's variant of the event enum as a pattern binding the event to `bind`
    /// (`owner` is `Self` or the enum's name); the fallback's unlisted name is ignored.
    pub fn pattern(&self, owner: impl ToTokens, bind: TokenStream) -> TokenStream {
        let ty = &self.ty;
        if self.entry.fallback {
            quote!(#owner::#ty(_, #bind))
        } else {
            quote!(#owner::#ty(#bind))
        }
    }

    /// The event's entry of `EVENTS`.
    fn info(&self) -> TokenStream {
        let rt = &self.cx.rt;
        let (wire, schema_id, rust_type) = (&self.wire, &self.schema_id, &self.def.name);
        let system = &self.cx.manifest.system;
        let channel = channel_tokens(&self.entry.channel);
        let version = self.entry.version;
        let producers = &self.entry.producers;
        let consumers = &self.entry.consumers;
        quote! {
            #rt::EventInfo { name: #wire, system: #system, rust_type: #rust_type, schema_id: #schema_id, channel: #channel, version: #version, producers: &[#(#producers),*], consumers: &[#(#consumers),*] }
        }
    }

    /// `impl Event for <event type>`.
    fn event_impl(&self) -> TokenStream {
        let rt = &self.cx.rt;
        let (ty, wire, schema_id) = (&self.ty, &self.wire, &self.schema_id);
        let needs_schema = self.needs_schema;
        let examples = self.examples;
        let i = self.index;
        quote! {
            impl #rt::Event for #ty {
                const NAME: &'static str = #wire;
                const SCHEMA_ID: &'static str = #schema_id;
                const NEEDS_SCHEMA: bool = #needs_schema;
                const EXAMPLES: &'static [&'static str] = &[#(#examples),*];
                fn info() -> &'static #rt::EventInfo { &EVENTS[#i] }
                fn validator() -> &'static #rt::Validator {
                    static VALIDATOR: ::std::sync::OnceLock<#rt::Validator> = ::std::sync::OnceLock::new();
                    VALIDATOR.get_or_init(|| crate::SCHEMAS.compile(#schema_id))
                }
            }
        }
    }

    /// The event's variant of the event enum; the fallback's also keeps the name it came by.
    fn variant(&self) -> TokenStream {
        let ty = &self.ty;
        let doc = format!(
            " `{}`{}",
            self.entry.name,
            self.entry
                .description
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        );
        if self.entry.fallback {
            quote!(#[doc = #doc] #[doc = " Any name the catalog does not list; the name is kept."] #ty(::std::string::String, #ty),)
        } else {
            quote!(#[doc = #doc] #ty(#ty),)
        }
    }

    /// An arm of a dispatch by name: the event's wire name, or any other name for the
    /// fallback, to its variant holding what `decode` (a `Result` of the event) gives.
    fn by_name_arm(&self, decode: TokenStream) -> TokenStream {
        let (ty, wire) = (&self.ty, &self.wire);
        if self.entry.fallback {
            quote!(other => #decode.map(|e| Self::#ty(other.to_owned(), e)),)
        } else {
            quote!(#wire => #decode.map(Self::#ty),)
        }
    }

    /// `decode`'s arm: from the payload's bytes.
    fn decode_arm(&self) -> TokenStream {
        let (rt, ty) = (&self.cx.rt, &self.ty);
        self.by_name_arm(quote!(<#ty as #rt::Event>::decode(bytes)))
    }

    /// `NamedEvents::deserialize_named`'s arm: from a deserializer standing at the payload.
    fn named_arm(&self) -> TokenStream {
        let (rt, ty) = (&self.cx.rt, &self.ty);
        self.by_name_arm(quote!(#rt::one_pass::checked_event::<#ty, D>(d)))
    }

    /// `name`'s arm: the wire name, or the name the fallback came by.
    fn name_arm(&self) -> TokenStream {
        let (ty, wire) = (&self.ty, &self.wire);
        if self.entry.fallback {
            quote!(Self::#ty(name, _) => name,)
        } else {
            quote!(Self::#ty(_) => #wire,)
        }
    }

    fn encode_arm(&self) -> TokenStream {
        let rt = &self.cx.rt;
        let pat = self.pattern(quote!(Self), quote!(e));
        quote!(#pat => #rt::Event::encode(e),)
    }

    fn validate_arm(&self) -> TokenStream {
        let rt = &self.cx.rt;
        let pat = self.pattern(quote!(Self), quote!(e));
        quote!(#pat => #rt::Event::validate(e),)
    }

    fn info_arm(&self) -> TokenStream {
        let (ty, i) = (&self.ty, self.index);
        if self.entry.fallback {
            quote!(Self::#ty(..) => &EVENTS[#i],)
        } else {
            quote!(Self::#ty(_) => &EVENTS[#i],)
        }
    }

    /// `validator_for`'s arm: the event's wire name, or any other name for the fallback.
    fn validator_arm(&self) -> TokenStream {
        let (rt, ty, wire) = (&self.cx.rt, &self.ty, &self.wire);
        if self.entry.fallback {
            quote!(_ => Some(<#ty as #rt::Event>::validator()),)
        } else {
            quote!(#wire => Some(<#ty as #rt::Event>::validator()),)
        }
    }

    /// `Serialize`'s arm: the event alone (the enum is the payload, never tagged).
    fn serialize_arm(&self) -> TokenStream {
        let pat = self.pattern(quote!(Self), quote!(e));
        quote!(#pat => e.serialize(s),)
    }
}

fn channel_tokens(c: &Channel) -> TokenStream {
    let rt = quote!(::event_contracts_runtime);
    match c {
        Channel::Kafka { topic } => quote!(#rt::Channel::Kafka { topic: #topic }),
        Channel::Redis { stream } => quote!(#rt::Channel::Redis { stream: #stream }),
        Channel::Amqp {
            exchange,
            routing_key,
        } => quote!(#rt::Channel::Amqp { exchange: #exchange, routing_key: #routing_key }),
        Channel::Nats { stream, subject } => {
            quote!(#rt::Channel::Nats { stream: #stream, subject: #subject })
        }
        Channel::Http { method, path } => {
            quote!(#rt::Channel::Http { method: #method, path: #path })
        }
    }
}

/// The system's `now()`: the current time in the manifest's `time_format`, for producers that
/// write times inside their events, so every reader's parser sees the document's one shape.
fn time_format_now(format: TimeFormat, rt: &TokenStream) -> TokenStream {
    let (ty, body, shape) = match format {
        TimeFormat::Rfc3339Seconds => (
            quote!(#rt::DateTime),
            quote!(#rt::DateTime::now_utc_with_fraction(0)),
            "`2025-08-04T14:33:09Z`",
        ),
        TimeFormat::Rfc3339Millis => (
            quote!(#rt::DateTime),
            quote!(#rt::DateTime::now_utc_with_fraction(3)),
            "`2024-10-19T12:34:56.789Z`",
        ),
        TimeFormat::Rfc3339Micros => (
            quote!(#rt::DateTime),
            quote!(#rt::DateTime::now_utc_with_fraction(6)),
            "`2024-10-19T12:34:56.789012Z`",
        ),
        TimeFormat::UnixMillisString => (
            quote!(::std::string::String),
            quote!(#rt::DateTime::unix_millis_now().to_string()),
            "Unix milliseconds as a decimal string, `\"1729341296789\"`",
        ),
        TimeFormat::UnixMillis => (
            quote!(i64),
            quote!(i64::try_from(#rt::DateTime::unix_millis_now()).unwrap_or(i64::MAX)),
            "Unix milliseconds, `1729341296789`",
        ),
        TimeFormat::UnixSeconds => (
            quote!(i64),
            quote!(i64::try_from(#rt::DateTime::unix_seconds_now()).unwrap_or(i64::MAX)),
            "Unix seconds, `1729341296`",
        ),
    };
    let name = format.as_str();
    let doc = format!(
        " The current time as this system's producers write the times inside its events: \
         `{name}` ({shape}), the manifest's `time_format`."
    );
    let const_doc = format!(
        " How this system's producers write the times inside its events (the manifest's \
         `time_format`): {shape}."
    );
    quote! {
        #[doc = #const_doc]
        pub const TIME_FORMAT: &str = #name;

        #[doc = #doc]
        pub fn now() -> #ty { #body }
    }
}
