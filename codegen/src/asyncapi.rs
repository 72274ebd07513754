//! The checked catalog as one AsyncAPI 3.1.0 document per system, for the services written in
//! other languages and their tools (AsyncAPI generators, Modelina, Microcks, EventCatalog).
//!
//! Everything here is derived from the manifest and the schemas after [`crate::check`]
//! accepted them, so the documents cannot drift from the generated crate. Writing the files is
//! `xtask`'s business; this module only builds `serde_json::Value`s.
//!
//! Schemas are bundled into `components/schemas` (one entry per schema file or `$defs` entry
//! a message reaches) with local `$ref`s only, so a document is complete offline. The pinned
//! `@asyncapi/parser` checks JSON Schema only in draft-07 (a payload declared
//! `application/schema+json;version=draft-2020-12` is accepted without any check), and
//! Modelina drops `title` and `required` from multi-format schema objects, so payloads are
//! plain AsyncAPI Schema Objects (the default format, a draft-07 superset) holding the 2020-12
//! schemas in the draft-07 form that means the same: `$schema`/`$id` dropped, `$defs` hoisted
//! into components, and a `$ref` with sibling keywords (which 2020-12 applies and draft-07
//! ignores) becomes `allOf: [{$ref}]` beside them. A 2020-12 keyword with no draft-07
//! equivalent is a located diagnostic.

use std::collections::{BTreeMap, HashMap};

use event_contracts_runtime::transport::{dead_letter_headers, ATTEMPT_HEADER, TRACEPARENT_HEADER};
use heck::ToUpperCamelCase;
use serde_json::{json, Map, Value};

use crate::catalog::{Catalog, Loc, ID_BASE};
use crate::diag::{Code, Diagnostics};
use crate::manifest::{Channel, Envelope, EventEntry, Manifest, Transport};
use crate::CheckedSystem;

/// The AsyncAPI version written: the newest the pinned `@asyncapi/parser` knows.
pub const ASYNCAPI_VERSION: &str = "3.1.0";

/// One system's AsyncAPI document.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The manifest's `system`, the document's file stem.
    pub system: String,
    pub value: Value,
}

/// 2020-12 keywords that draft-07 does not have and this exporter does not rewrite.
const NO_DRAFT_07_FORM: &[&str] = &[
    "prefixItems",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependentRequired",
    "dependentSchemas",
    "minContains",
    "maxContains",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
    "$recursiveAnchor",
];

/// Keywords whose value is one schema.
const ONE_SCHEMA: &[&str] = &[
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "additionalItems",
];

/// Keywords whose value is a list of schemas.
const SCHEMA_LISTS: &[&str] = &["allOf", "anyOf", "oneOf"];

/// Keywords whose value maps names to schemas.
const SCHEMA_MAPS: &[&str] = &["properties", "patternProperties"];

/// Every system of a checked catalog as an AsyncAPI document, or every reason one cannot be
/// written (nothing is returned then, so no half document is ever written).
pub fn export(
    catalog: &Catalog,
    systems: &[CheckedSystem<'_>],
    version: &str,
) -> Result<Vec<Document>, Diagnostics> {
    let mut diags = Diagnostics::default();
    let docs: Vec<Document> = systems
        .iter()
        .map(|sys| Document {
            system: sys.source.manifest.system.clone(),
            value: SystemExport::new(catalog, sys, &mut diags).document(version),
        })
        .collect();
    if diags.is_empty() {
        Ok(docs)
    } else {
        Err(diags.sorted())
    }
}

struct SystemExport<'a, 'd> {
    catalog: &'a Catalog,
    sys: &'a CheckedSystem<'a>,
    m: &'a Manifest,
    diags: &'d mut Diagnostics,
    /// Component name of each bundled schema location.
    names: HashMap<Loc, String>,
    /// Names taken, so two schemas never share one.
    taken: HashMap<String, Loc>,
    schemas: BTreeMap<String, Value>,
    /// The component being translated, and the enum titles given so far (see `translate`).
    current: String,
    enum_titles: std::collections::HashSet<String>,
}

impl<'a, 'd> SystemExport<'a, 'd> {
    fn new(catalog: &'a Catalog, sys: &'a CheckedSystem<'a>, diags: &'d mut Diagnostics) -> Self {
        Self {
            catalog,
            sys,
            m: &sys.source.manifest,
            diags,
            names: HashMap::new(),
            taken: HashMap::new(),
            schemas: BTreeMap::new(),
            current: String::new(),
            enum_titles: std::collections::HashSet::new(),
        }
    }

    fn manifest_loc(&self) -> Loc {
        Loc::new(self.sys.source.manifest_file.clone(), "")
    }

    fn file(&self, rel: &str) -> String {
        format!("{}/{rel}", self.sys.source.dir)
    }

    fn document(mut self, version: &str) -> Value {
        let m = self.m;
        let mut info = Map::new();
        info.insert("title".into(), json!(m.title));
        info.insert("version".into(), json!(version));
        info.insert(
            "description".into(),
            json!(format!(
                "{}\n\nSource document: `shared/docs/{}`. Transport: {}. Written by `cargo xtask \
                 codegen` from `schemas/{}` (do not edit); the Rust crate `event-contracts` is \
                 generated from the same catalog.",
                m.description,
                m.source_document,
                m.transport.as_str(),
                self.sys.source.dir
            )),
        );
        info.insert("x-source-document".into(), json!(m.source_document));
        info.insert("x-system".into(), json!(m.system));

        let channels = self.channels();
        let mut messages = Map::new();
        let mut channel_docs = Map::new();
        let mut operations = Map::new();
        for channel in &channels {
            let mut channel_messages = Map::new();
            for &i in &channel.events {
                let ev = &m.events[i];
                let id = message_id(ev);
                channel_messages.insert(
                    id.clone(),
                    json!({ "$ref": format!("#/components/messages/{id}") }),
                );
                let message = self.message(i);
                messages.insert(id, message);
            }
            channel_docs.insert(
                channel.id.clone(),
                self.channel_doc(channel, channel_messages),
            );
            self.send_operations(channel, &mut operations);
        }
        self.receive_operations(&channels, &mut operations);

        let mut components = Map::new();
        components.insert(
            "schemas".into(),
            Value::Object(std::mem::take(&mut self.schemas).into_iter().collect()),
        );
        components.insert("messages".into(), Value::Object(messages));

        let mut doc = Map::new();
        doc.insert("asyncapi".into(), json!(ASYNCAPI_VERSION));
        doc.insert(
            "id".into(),
            json!(format!("urn:event-contracts:{}", m.system)),
        );
        doc.insert("info".into(), Value::Object(info));
        doc.insert(
            "defaultContentType".into(),
            json!(content_type(m.transport)),
        );
        doc.insert("servers".into(), json!({ "local": server(m.transport) }));
        doc.insert("channels".into(), Value::Object(channel_docs));
        doc.insert("operations".into(), Value::Object(operations));
        doc.insert("components".into(), Value::Object(components));
        Value::Object(doc)
    }

    /// The distinct channel addresses in manifest order, each with its events.
    fn channels(&mut self) -> Vec<ChannelGroup> {
        let mut out: Vec<ChannelGroup> = Vec::new();
        let mut ids: HashMap<String, String> = HashMap::new();
        for (i, ev) in self.m.events.iter().enumerate() {
            let address = ev.channel.address();
            if address.trim().is_empty() {
                let at = self
                    .manifest_loc()
                    .join("events")
                    .join(&i.to_string())
                    .join("channel");
                self.diags.push(self.catalog.diag(
                    Code::Manifest,
                    &at,
                    format!("event `{}` has a channel with no address", ev.name),
                    "name the topic, stream, routing key, subject or path: the AsyncAPI channel \
                     address and every consumer need it",
                ));
                continue;
            }
            if let Some(group) = out.iter_mut().find(|g| g.channel.address() == address) {
                group.events.push(i);
                continue;
            }
            let mut id = safe_key(address);
            // Addresses that differ only in characters a key cannot hold stay apart.
            while ids.get(&id).is_some_and(|a| a != address) {
                id.push('_');
            }
            ids.insert(id.clone(), address.to_owned());
            out.push(ChannelGroup {
                id,
                channel: ev.channel.clone(),
                events: vec![i],
            });
        }
        out
    }

    fn channel_doc(&self, group: &ChannelGroup, messages: Map<String, Value>) -> Value {
        let names: Vec<&str> = group
            .events
            .iter()
            .map(|&i| self.m.events[i].name.as_str())
            .collect();
        let mut doc = Map::new();
        doc.insert("address".into(), json!(group.channel.address()));
        doc.insert(
            "title".into(),
            json!(format!(
                "{} {}",
                channel_kind(&group.channel),
                group.channel.address()
            )),
        );
        doc.insert(
            "description".into(),
            json!(format!("Carries {}.", quoted_list(&names))),
        );
        doc.insert("servers".into(), json!([{ "$ref": "#/servers/local" }]));
        doc.insert("messages".into(), Value::Object(messages));
        match &group.channel {
            Channel::Kafka { topic } => {
                doc.insert(
                    "bindings".into(),
                    json!({ "kafka": { "topic": topic, "bindingVersion": "0.5.0" } }),
                );
                doc.insert(
                    "x-dead-letter".into(),
                    json!({
                        "topic": format!("{topic}.dead-letter"),
                        "description": "Every consumer group dead-letters what it cannot handle here: the original key, value and headers plus the x-dead-letter-* headers (the group is in x-dead-letter-group).",
                        "headers": dead_letter_header_names(""),
                    }),
                );
            }
            Channel::Redis { stream } => {
                let layout = crate::transport::redis_layout(self.m).unwrap_or_default();
                doc.insert(
                    "x-redis-stream".into(),
                    json!({
                        "key": stream,
                        "entry": {
                            "payload_field": layout.payload_field,
                            "header_prefix": layout.header_prefix,
                            "description": format!(
                                "One XADD per message: the whole message as UTF-8 JSON in the entry field `{p}`, each transport header in a field `{h}<name>` (`{h}{TRACEPARENT_HEADER}`). Other fields are carried along and ignored. An entry without `{p}` is dead-lettered as `malformed`.",
                                p = layout.payload_field, h = layout.header_prefix),
                        },
                        "dead_letter_stream": format!("{stream}:dead-letter"),
                        "dead_letter_fields": dead_letter_header_names(&layout.header_prefix),
                        "dead_letter_description": "The original entry's fields unchanged, plus the dead-letter facts as header fields of the same layout.",
                    }),
                );
            }
            Channel::Amqp {
                exchange,
                routing_key,
            } => {
                doc.insert(
                    "bindings".into(),
                    json!({ "amqp": {
                        "is": "routingKey",
                        "exchange": { "name": exchange, "type": "topic", "durable": true, "autoDelete": false, "vhost": "/" },
                        "bindingVersion": "0.3.0",
                    }}),
                );
                doc.insert("x-routing-key".into(), json!(routing_key));
            }
            Channel::Nats { stream, subject } => {
                doc.insert(
                    "x-jetstream".into(),
                    json!({
                        "stream": stream,
                        "subject": subject,
                        "stream_subjects": match subject.split_once('.') {
                            Some((first, _)) => format!("{first}.>"),
                            None => subject.clone(),
                        },
                        "description": "The stream captures `<first token>.>` of its subjects, with a duplicate window: a resend with the same Nats-Msg-Id is stored once.",
                    }),
                );
            }
            Channel::Http { method, path } => {
                doc.insert(
                    "x-http".into(),
                    json!({
                        "method": method,
                        "path": path,
                        "content_modes": {
                            "structured": "Content-Type: application/cloudevents+json; the body is the whole CloudEvent (this message's payload).",
                            "binary": "every attribute but data and datacontenttype as a ce-<name> header (percent-encoded), datacontenttype as Content-Type, the body is data.",
                            "batch": "Content-Type: application/cloudevents-batch+json; the body is a JSON array of structured events.",
                        },
                        "resend_header": ATTEMPT_HEADER,
                        "dead_letter_stream": "orchestrator:dead-letter",
                        "dead_letter_description": "Redis stream `{prefix}:dead-letter` (default prefix `orchestrator`) in the Redis stream-entry layout (`envelope`, `h:<header>`), plus the x-dead-letter-* header fields.",
                    }),
                );
            }
        }
        Value::Object(doc)
    }

    /// One `send` per producer of the channel's events.
    fn send_operations(&self, group: &ChannelGroup, operations: &mut Map<String, Value>) {
        let mut producers: Vec<&str> = Vec::new();
        for &i in &group.events {
            for p in &self.m.events[i].producers {
                if !producers.contains(&p.as_str()) {
                    producers.push(p);
                }
            }
        }
        for producer in producers {
            let events: Vec<&EventEntry> = group
                .events
                .iter()
                .map(|&i| &self.m.events[i])
                .filter(|ev| ev.producers.iter().any(|p| p == producer))
                .collect();
            let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
            let mut op = Map::new();
            op.insert("action".into(), json!("send"));
            op.insert(
                "channel".into(),
                json!({ "$ref": format!("#/channels/{}", group.id) }),
            );
            op.insert(
                "title".into(),
                json!(format!(
                    "{producer} publishes to {}",
                    group.channel.address()
                )),
            );
            op.insert(
                "summary".into(),
                json!(format!("`{producer}` sends {}.", quoted_list(&names))),
            );
            op.insert(
                "messages".into(),
                Value::Array(
                    events
                        .iter()
                        .map(|ev| {
                            json!({ "$ref": format!("#/channels/{}/messages/{}", group.id, message_id(ev)) })
                        })
                        .collect(),
                ),
            );
            op.insert("x-producer".into(), json!(producer));
            match &group.channel {
                Channel::Amqp { .. } => {
                    op.insert(
                        "bindings".into(),
                        json!({ "amqp": { "deliveryMode": 2, "mandatory": true, "bindingVersion": "0.3.0" } }),
                    );
                }
                Channel::Http { method, .. } => {
                    op.insert(
                        "bindings".into(),
                        json!({ "http": { "method": method.to_uppercase(), "bindingVersion": "0.3.0" } }),
                    );
                }
                _ => {}
            }
            operations.insert(
                format!("send_{}_{}", safe_key(producer), group.id),
                Value::Object(op),
            );
        }
    }

    /// One `receive` per consumer group and channel it binds.
    fn receive_operations(&self, channels: &[ChannelGroup], operations: &mut Map<String, Value>) {
        for group in &self.m.consumer_groups {
            for ch in channels {
                let address = ch.channel.address();
                if !group
                    .binds
                    .iter()
                    .any(|b| binds(self.m.transport, b, address))
                {
                    continue;
                }
                let mut op = Map::new();
                op.insert("action".into(), json!("receive"));
                op.insert(
                    "channel".into(),
                    json!({ "$ref": format!("#/channels/{}", ch.id) }),
                );
                op.insert(
                    "title".into(),
                    json!(format!("consumer group {} reads {address}", group.name)),
                );
                op.insert("description".into(), json!(group.description));
                op.insert(
                    "messages".into(),
                    Value::Array(
                        ch.events
                            .iter()
                            .map(|&i| {
                                json!({ "$ref": format!("#/channels/{}/messages/{}", ch.id, message_id(&self.m.events[i])) })
                            })
                            .collect(),
                    ),
                );
                let mut x_group = Map::new();
                x_group.insert("name".into(), json!(group.name));
                x_group.insert("binds".into(), json!(group.binds));
                match &ch.channel {
                    Channel::Kafka { topic } => {
                        op.insert(
                            "bindings".into(),
                            json!({ "kafka": { "groupId": { "type": "string", "enum": [group.name] }, "bindingVersion": "0.5.0" } }),
                        );
                        x_group.insert(
                            "retry_topic".into(),
                            json!(format!("{topic}.retry.{}", group.name)),
                        );
                        x_group.insert(
                            "dead_letter_topic".into(),
                            json!(format!("{topic}.dead-letter")),
                        );
                        x_group.insert("attempt_header".into(), json!(ATTEMPT_HEADER));
                    }
                    Channel::Redis { stream } => {
                        x_group.insert(
                            "description".into(),
                            json!("A Redis consumer group of this name on the stream (XREADGROUP, XACK after handling; retries through the pending list, attempt = Redis's delivery count)."),
                        );
                        x_group.insert(
                            "dead_letter_stream".into(),
                            json!(format!("{stream}:dead-letter")),
                        );
                    }
                    Channel::Amqp { exchange, .. } => {
                        op.insert(
                            "bindings".into(),
                            json!({ "amqp": { "ack": true, "bindingVersion": "0.3.0" } }),
                        );
                        x_group.insert("queue".into(), json!(format!("{exchange}.{}", group.name)));
                        x_group.insert(
                            "queue_bindings".into(),
                            json!({ "exchange": exchange, "binding_keys": group.binds }),
                        );
                        x_group.insert(
                            "dead_letter_queue".into(),
                            json!(format!("{exchange}.{}.dead-letter", group.name)),
                        );
                        x_group.insert(
                            "retry_queues".into(),
                            json!(format!("{exchange}.{}.retry.<ms>ms", group.name)),
                        );
                    }
                    Channel::Nats { stream, subject } => {
                        let upper = group.name.to_uppercase().replace('-', "_");
                        x_group.insert("durable".into(), json!(group.name));
                        x_group.insert("stream".into(), json!(stream));
                        x_group.insert(
                            "description".into(),
                            json!("A durable pull consumer named after the group on the stream, explicit ack; attempt = JetStream's delivery count."),
                        );
                        x_group.insert(
                            "dead_letter_stream".into(),
                            json!(format!("DEAD_LETTER_{upper}")),
                        );
                        x_group.insert(
                            "dead_letter_subject".into(),
                            json!(format!("dead-letter.{}.{subject}", group.name)),
                        );
                    }
                    Channel::Http { .. } => {
                        x_group.insert(
                            "description".into(),
                            json!("The ingest server: 2xx once handled or a duplicate, problem+json otherwise; a resend carries x-attempt."),
                        );
                    }
                }
                op.insert("x-consumer-group".into(), Value::Object(x_group));
                operations.insert(
                    format!("receive_{}_{}", safe_key(&group.name), ch.id),
                    Value::Object(op),
                );
            }
        }
    }

    fn message(&mut self, i: usize) -> Value {
        let m = self.m;
        let ev = &m.events[i];
        let event_loc = Loc::new(self.file(&ev.schema), "");
        let event_ref = self.component_ref(&event_loc);
        let event_schema = self.catalog.value(&event_loc).cloned().unwrap_or_default();
        let title = event_schema
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| ev.name.to_upper_camel_case());
        let description = event_schema
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let event_examples: Vec<Value> = event_schema
            .get("examples")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();

        let (payload, examples) = match &m.envelope {
            Envelope::Flat => (
                event_ref,
                event_examples
                    .into_iter()
                    .enumerate()
                    .map(|(n, e)| (format!("{}-{}", message_id(ev), n + 1), e))
                    .collect::<Vec<_>>(),
            ),
            Envelope::Wrapped {
                schema,
                type_field,
                payload_field,
                ..
            } => {
                let env_loc = Loc::new(self.file(schema), "");
                // Bundled on its own too, so its examples and invalid examples are checked.
                self.component(&env_loc);
                let env_value = self.catalog.value(&env_loc).cloned().unwrap_or_default();
                let mut whole = match self.translate(&env_value, &env_loc, false) {
                    Value::Object(obj) => obj,
                    other => Map::from_iter([("allOf".to_owned(), json!([other]))]),
                };
                whole.remove("examples");
                // The envelope written out with its type and payload properties narrowed to
                // this event: one flat object schema, which generators type property by
                // property (Modelina ignores a later `allOf` branch's narrowing).
                let props = whole.entry("properties").or_insert_with(|| json!({}));
                if let Value::Object(props) = props {
                    if !ev.fallback {
                        let narrowed = match props.remove(type_field) {
                            Some(Value::Object(mut p)) if !p.contains_key("allOf") => {
                                p.remove("examples");
                                p.insert("const".into(), json!(ev.name));
                                Value::Object(p)
                            }
                            Some(other) => json!({ "allOf": [other, { "const": ev.name }] }),
                            None => json!({ "const": ev.name }),
                        };
                        props.insert(type_field.clone(), narrowed);
                    }
                    let event_schema = match props.remove(payload_field) {
                        Some(Value::Object(p)) if is_plain_object(&p) => event_ref,
                        Some(other) => json!({ "allOf": [event_ref, other] }),
                        None => event_ref,
                    };
                    props.insert(payload_field.clone(), event_schema);
                }
                // Titled, so generators name the whole-message type after the event.
                let mut wire_title = format!("{title}Message");
                while self.taken.contains_key(&wire_title) {
                    wire_title.push('_');
                }
                whole.insert("title".into(), json!(wire_title));
                whole.insert("description".into(), json!(format!(
                    "A whole `{}` message: the envelope with `{type_field}` = `{}` and the event in `{payload_field}`.",
                    ev.name, ev.name
                )));
                // Each of the event's examples inside the envelope's first example.
                let base = env_value
                    .get("examples")
                    .and_then(Value::as_array)
                    .and_then(|e| e.first())
                    .and_then(Value::as_object);
                let mut examples: Vec<(String, Value)> = Vec::new();
                if let Some(base) = base {
                    let name = if ev.fallback {
                        base.get(type_field).cloned().unwrap_or_default()
                    } else {
                        json!(ev.name)
                    };
                    for (n, e) in event_examples.into_iter().enumerate() {
                        let mut message = base.clone();
                        message.insert(type_field.clone(), name.clone());
                        message.insert(payload_field.clone(), e);
                        examples.push((
                            format!("{}-{}", message_id(ev), n + 1),
                            Value::Object(message),
                        ));
                    }
                }
                let payload = Value::Object(whole);
                (payload, examples)
            }
        };

        let mut msg = Map::new();
        msg.insert("name".into(), json!(ev.name));
        msg.insert("title".into(), json!(title));
        msg.insert(
            "summary".into(),
            json!(ev
                .description
                .clone()
                .unwrap_or_else(|| format!("The `{}` event.", ev.name))),
        );
        if !description.is_empty() {
            msg.insert("description".into(), json!(description));
        }
        msg.insert("contentType".into(), json!(content_type(m.transport)));
        msg.insert("headers".into(), self.headers_schema(ev));
        msg.insert("payload".into(), payload);
        msg.insert("correlationId".into(), self.correlation_id());
        if let Some(b) = self.message_bindings(ev) {
            msg.insert("bindings".into(), b);
        }
        if !examples.is_empty() {
            msg.insert(
                "examples".into(),
                Value::Array(
                    examples
                        .into_iter()
                        .map(|(name, payload)| json!({ "name": name, "payload": payload }))
                        .collect(),
                ),
            );
        }
        msg.insert("x-event-version".into(), json!(ev.version));
        msg.insert("x-producers".into(), json!(ev.producers));
        msg.insert("x-consumers".into(), json!(ev.consumers));
        msg.insert(
            "x-schema-id".into(),
            json!(format!("{ID_BASE}{}/{}", self.sys.source.dir, ev.schema)),
        );
        if !ev.idempotency_key.is_empty() {
            msg.insert("x-idempotency-key".into(), json!(ev.idempotency_key));
        }
        if let Some(id) = &ev.message_id {
            msg.insert("x-message-id-property".into(), json!(id));
        }
        if ev.fallback {
            msg.insert(
                "x-fallback".into(),
                json!("This message stands for every event name the catalog does not list; the name is kept."),
            );
        }
        Value::Object(msg)
    }

    fn headers_schema(&self, ev: &EventEntry) -> Value {
        let mut props = Map::new();
        props.insert(
            TRACEPARENT_HEADER.into(),
            json!({
                "type": "string",
                "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                "description": "W3C Trace Context of the publishing operation; the Rust publisher always sends it.",
            }),
        );
        props.insert(
            ATTEMPT_HEADER.into(),
            json!({ "type": "string", "pattern": "^[1-9][0-9]*$", "description": "The delivery attempt of a retried copy (1 when absent)." }),
        );
        match self.m.transport {
            Transport::Nats => {
                let id = ev
                    .message_id
                    .clone()
                    .or_else(|| self.envelope_role_message_id());
                props.insert(
                    "Nats-Msg-Id".into(),
                    json!({
                        "type": "string",
                        "description": match id {
                            Some(p) => format!("Recommended: the message's `{p}`; JetStream drops a resend with the same id within the stream's duplicate window."),
                            None => "Recommended: the message's unique id; JetStream drops a resend with the same id within the stream's duplicate window.".into(),
                        },
                    }),
                );
            }
            Transport::Redis => {
                let layout = crate::transport::redis_layout(self.m).unwrap_or_default();
                props.insert(
                    "content-type".into(),
                    json!({ "type": "string", "description": format!("Stored as the entry field `{}content-type`, like every header.", layout.header_prefix) }),
                );
            }
            _ => {}
        }
        json!({ "type": "object", "properties": props })
    }

    fn envelope_role_message_id(&self) -> Option<String> {
        match &self.m.envelope {
            Envelope::Wrapped { roles, .. } => roles.message_id.clone(),
            Envelope::Flat => None,
        }
    }

    fn correlation_id(&self) -> Value {
        if let Envelope::Wrapped { roles, .. } = &self.m.envelope {
            if let Some(p) = &roles.traceparent {
                return json!({ "description": "The W3C traceparent of the publishing operation, in the envelope.", "location": format!("$message.payload#/{p}") });
            }
            if let Some(p) = &roles.trace_id {
                return json!({ "description": "The trace id the envelope carries.", "location": format!("$message.payload#/{p}") });
            }
        }
        json!({ "description": "The W3C traceparent transport header.", "location": format!("$message.header#/{TRACEPARENT_HEADER}") })
    }

    fn message_bindings(&self, ev: &EventEntry) -> Option<Value> {
        match &ev.channel {
            Channel::Kafka { .. } => {
                let key = self
                    .envelope_role_message_id()
                    .map(|p| {
                        format!("The envelope's `{p}`, so one event's copies share a partition.")
                    })
                    .unwrap_or_else(|| "The message id.".into());
                Some(
                    json!({ "kafka": { "key": { "type": "string", "description": key }, "bindingVersion": "0.5.0" } }),
                )
            }
            Channel::Amqp { .. } => Some(json!({ "amqp": {
                "contentEncoding": "utf-8",
                "messageType": ev.name,
                "bindingVersion": "0.3.0",
            }})),
            Channel::Http { .. } => Some(json!({ "http": {
                "headers": { "type": "object", "properties": { "content-type": { "type": "string", "enum": ["application/cloudevents+json", "application/json"] } } },
                "bindingVersion": "0.3.0",
            }})),
            _ => None,
        }
    }

    /// `{"$ref": "#/components/schemas/<name>"}` for the schema at `loc`, bundling it (and
    /// everything it refers to) on first use.
    fn component_ref(&mut self, loc: &Loc) -> Value {
        json!({ "$ref": format!("#/components/schemas/{}", self.component(loc)) })
    }

    fn component(&mut self, loc: &Loc) -> String {
        if let Some(name) = self.names.get(loc) {
            return name.clone();
        }
        let value = self.catalog.value(loc).cloned().unwrap_or_default();
        let base = value
            .get("title")
            .and_then(Value::as_str)
            .map(safe_key)
            .unwrap_or_else(|| {
                let last = loc
                    .pointer
                    .rsplit('/')
                    .next()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| {
                        let stem = loc.file.rsplit('/').next().unwrap_or(&loc.file);
                        stem.trim_end_matches(".json")
                    });
                safe_key(&last.to_upper_camel_case())
            });
        let mut name = base.clone();
        let mut n = 1;
        while self.taken.contains_key(&name) {
            n += 1;
            name = format!("{base}{n}");
        }
        self.taken.insert(name.clone(), loc.clone());
        self.names.insert(loc.clone(), name.clone());
        let outer = std::mem::replace(&mut self.current, name.clone());
        let translated = self.translate(&value, loc, true);
        self.current = outer;
        self.schemas.insert(name.clone(), translated);
        name
    }

    /// `value` (the schema at `loc`) in its draft-07 form, its `$ref`s bundled.
    fn translate(&mut self, value: &Value, loc: &Loc, root: bool) -> Value {
        let Value::Object(obj) = value else {
            return value.clone();
        };
        let mut out = Map::new();
        let mut reference = None;
        for (key, v) in obj {
            let at = loc.join(key);
            match key.as_str() {
                "$schema" | "$id" | "$defs" | "definitions" | "$comment" => {}
                "x-invalid-examples" if !root => {}
                "$ref" => {
                    if let Some(r) = v.as_str() {
                        match self.catalog.resolve_ref(loc, r) {
                            Ok(target) => reference = Some(self.component_ref(&target)),
                            Err(d) => self.diags.push(d),
                        }
                    }
                }
                k if NO_DRAFT_07_FORM.contains(&k) => self.diags.push(self.catalog.diag(
                    Code::UnsupportedKeyword,
                    &at,
                    format!("the AsyncAPI export cannot write `{k}`: draft-07, the only JSON Schema the AsyncAPI parser checks, has no such keyword"),
                    "express the constraint with draft-07 keywords (allOf, if/then, items, additionalProperties)",
                )),
                k if ONE_SCHEMA.contains(&k) => {
                    let t = self.translate(v, &at, false);
                    out.insert(key.clone(), t);
                }
                k if SCHEMA_LISTS.contains(&k) => {
                    let items = v
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .enumerate()
                                .map(|(i, s)| self.translate(s, &at.join(&i.to_string()), false))
                                .collect()
                        })
                        .unwrap_or_default();
                    out.insert(key.clone(), Value::Array(items));
                }
                k if SCHEMA_MAPS.contains(&k) => {
                    let map = v
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(name, s)| {
                                    let mut t = self.translate(s, &at.join(name), false);
                                    self.title_enum(&mut t, name);
                                    (name.clone(), t)
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    out.insert(key.clone(), Value::Object(map));
                }
                _ => {
                    out.insert(key.clone(), v.clone());
                }
            }
        }
        let Some(reference) = reference else {
            return Value::Object(out);
        };
        if out.is_empty() {
            return reference;
        }
        // draft-07 ignores a `$ref`'s siblings; 2020-12 applies them: `allOf` keeps both.
        let mut all_of = vec![reference];
        if let Some(Value::Array(existing)) = out.remove("allOf") {
            all_of.extend(existing);
        }
        out.insert("allOf".into(), Value::Array(all_of));
        Value::Object(out)
    }
}

impl SystemExport<'_, '_> {
    /// Titles an untitled enum property `<Component><Property>`. Code generators name an
    /// untitled enum by a counter, and Modelina 5 gives two different ones the same name, so
    /// a `const` narrowing one of them refers to a member the other lacks.
    fn title_enum(&mut self, schema: &mut Value, property: &str) {
        let Value::Object(obj) = schema else { return };
        if !obj.contains_key("enum") || obj.contains_key("title") {
            return;
        }
        let base = format!("{}{}", self.current, property.to_upper_camel_case());
        let mut title = base.clone();
        let mut n = 1;
        while self.enum_titles.contains(&title) || self.taken.contains_key(&title) {
            n += 1;
            title = format!("{base}{n}");
        }
        self.enum_titles.insert(title.clone());
        obj.insert("title".into(), json!(title));
    }
}

struct ChannelGroup {
    /// The key under `channels` (the address with only the characters a key may hold).
    id: String,
    channel: Channel,
    /// Manifest indices of the events it carries.
    events: Vec<usize>,
}

/// A property schema that says only "an object" (and annotations): the event schema in its
/// place says all of that and more.
fn is_plain_object(p: &Map<String, Value>) -> bool {
    p.iter().all(|(k, v)| match k.as_str() {
        "type" => v == "object",
        "description" | "title" | "examples" | "$comment" => true,
        _ => false,
    })
}

/// A component or channel key: AsyncAPI allows `[A-Za-z0-9._-]`.
fn safe_key(s: &str) -> String {
    let key: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if key.is_empty() {
        "_".into()
    } else {
        key
    }
}

fn message_id(ev: &EventEntry) -> String {
    if ev.fallback {
        format!("{}_fallback", safe_key(&ev.name.to_upper_camel_case()))
    } else {
        safe_key(&ev.name)
    }
}

fn content_type(t: Transport) -> &'static str {
    match t {
        Transport::Http => "application/cloudevents+json",
        _ => "application/json",
    }
}

fn server(t: Transport) -> Value {
    let (host, protocol, description) = match t {
        Transport::Kafka => (
            "localhost:9092",
            "kafka",
            "A local Kafka broker (`.ci/services.sh`).",
        ),
        Transport::Redis => (
            "localhost:6379",
            "redis",
            "A local Redis server (`.ci/services.sh`).",
        ),
        Transport::Amqp => (
            "localhost:5672",
            "amqp",
            "A local RabbitMQ broker (`.ci/services.sh`), vhost `/`.",
        ),
        Transport::Nats => (
            "localhost:4222",
            "nats",
            "A local NATS server with JetStream (`.ci/services.sh`).",
        ),
        Transport::Http => (
            "localhost:3000",
            "http",
            "A local ingest server (the runtime's HTTP binding).",
        ),
    };
    json!({ "host": host, "protocol": protocol, "description": description })
}

fn channel_kind(c: &Channel) -> &'static str {
    match c {
        Channel::Kafka { .. } => "Kafka topic",
        Channel::Redis { .. } => "Redis stream",
        Channel::Amqp { .. } => "AMQP routing key",
        Channel::Nats { .. } => "NATS subject",
        Channel::Http { .. } => "HTTP path",
    }
}

fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn dead_letter_header_names(prefix: &str) -> Vec<String> {
    use dead_letter_headers as h;
    [
        h::REASON,
        h::ERROR,
        h::ATTEMPTS,
        h::ORIGIN,
        h::CHANNEL,
        h::CONSUMER_GROUP,
        h::TIME,
    ]
    .iter()
    .map(|n| format!("{prefix}{n}"))
    .collect()
}

/// Whether consumer-group pattern `bind` takes messages of `address` on `transport`: AMQP
/// topic patterns (`*` one word, `#` any number), NATS subject filters (`*` one token, `>`
/// the rest), and equality elsewhere.
fn binds(transport: Transport, bind: &str, address: &str) -> bool {
    match transport {
        Transport::Amqp => amqp_matches(
            &bind.split('.').collect::<Vec<_>>(),
            &address.split('.').collect::<Vec<_>>(),
        ),
        Transport::Nats => {
            let (b, a): (Vec<&str>, Vec<&str>) =
                (bind.split('.').collect(), address.split('.').collect());
            for (i, t) in b.iter().enumerate() {
                match *t {
                    ">" => return a.len() > i,
                    "*" if i < a.len() => {}
                    t if a.get(i) == Some(&t) => {}
                    _ => return false,
                }
            }
            a.len() == b.len()
        }
        _ => bind == address,
    }
}

fn amqp_matches(pattern: &[&str], words: &[&str]) -> bool {
    match pattern.split_first() {
        None => words.is_empty(),
        Some((&"#", rest)) => (0..=words.len()).any(|skip| amqp_matches(rest, &words[skip..])),
        Some((&"*", rest)) => !words.is_empty() && amqp_matches(rest, &words[1..]),
        Some((w, rest)) => words.first() == Some(w) && amqp_matches(rest, &words[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The telemetry example catalog, with `edit` applied to its manifest text.
    fn telemetry(edit: impl Fn(String) -> String) -> Catalog {
        fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(String, String)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else if path.extension().is_some_and(|e| e == "json") {
                    let rel = path
                        .strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/");
                    out.push((rel, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/telemetry/schemas");
        let mut files = Vec::new();
        walk(&root, &root, &mut files);
        for (path, text) in &mut files {
            if path.ends_with("/manifest.json") {
                *text = edit(std::mem::take(text));
            }
        }
        Catalog::from_texts(files).expect("the telemetry catalog reads")
    }

    #[test]
    fn a_channel_with_no_address_is_a_located_diagnostic_and_no_document() {
        let catalog = telemetry(|t| {
            t.replacen(
                "\"subject\": \"telemetry.sensor.reading\"",
                "\"subject\": \"\"",
                1,
            )
        });
        let diags = crate::generate_catalog_and_asyncapi(&catalog, "test")
            .expect_err("no document for a channel without address");
        let text = diags.to_string();
        assert!(text.contains("no address"), "{text}");
        assert!(text.contains("manifest.json:"), "located: {text}");
        assert!(text.contains("/events/0/channel"), "pointer: {text}");
    }

    #[test]
    fn the_telemetry_catalog_exports_its_channels_and_groups() {
        let catalog = telemetry(|t| t);
        let (_, docs) = crate::generate_catalog_and_asyncapi(&catalog, "test").unwrap();
        let doc = &docs[0].value;
        assert_eq!(doc["asyncapi"], ASYNCAPI_VERSION);
        assert_eq!(
            doc["channels"]["telemetry.sensor.reading"]["address"],
            "telemetry.sensor.reading"
        );
        let receive = &doc["operations"]["receive_dashboard_telemetry.sensor.reading"];
        assert_eq!(receive["action"], "receive");
        assert_eq!(receive["x-consumer-group"]["durable"], "dashboard");
        assert_eq!(
            receive["x-consumer-group"]["dead_letter_stream"],
            "DEAD_LETTER_DASHBOARD"
        );
        let text = doc.to_string();
        assert!(!text.contains("\"$ref\":\"../"), "every $ref is local");
        assert!(!text.contains("$schema"), "no 2020-12 meta-schema is left");
    }

    #[test]
    fn amqp_patterns_match_like_a_topic_exchange() {
        assert!(binds(Transport::Amqp, "#", "capture.alive"));
        assert!(binds(Transport::Amqp, "capture.*", "capture.alive"));
        assert!(!binds(Transport::Amqp, "capture.*", "capture.alive.x"));
        assert!(binds(Transport::Amqp, "tenant.#", "tenant.created"));
        assert!(binds(Transport::Amqp, "*.error", "video.error"));
        assert!(!binds(Transport::Amqp, "*.error", "capture.alive"));
    }

    #[test]
    fn nats_filters_match_like_jetstream() {
        assert!(binds(
            Transport::Nats,
            "ingest.>",
            "ingest.document.processed"
        ));
        assert!(!binds(Transport::Nats, "ingest.>", "ingest"));
        assert!(binds(Transport::Nats, "alerts.*", "alerts.raised"));
        assert!(!binds(Transport::Nats, "alerts.*", "alerts.raised.x"));
        assert!(!binds(Transport::Nats, "usage.metered.>", "ingest.x"));
    }
}
