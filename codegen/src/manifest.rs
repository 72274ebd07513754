//! The per-system manifest (`schemas/<system>/manifest.json`): transport, envelope, channels,
//! producers and consumers of each event. Its JSON Schema is generated from these types with
//! schemars so editors can check a manifest as it is typed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One event system: every event it carries and how they travel.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Editor hint, ignored.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Module name of the system in the generated crate (`livepeer`, `audio`, …).
    pub system: String,
    pub title: String,
    pub description: String,
    /// The document in `shared/docs/` this catalog is taken from.
    pub source_document: String,
    pub transport: Transport,
    pub envelope: Envelope,
    /// Key convention the document sets for payloads; `snake_case` is enforced by `cargo xtask lint`.
    #[serde(default)]
    pub payload_keys: KeyStyle,
    /// Properties every event payload must require (the DAM document's `tenant_id` and
    /// `principal_id`); enforced by `cargo xtask lint`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_properties: Vec<String>,
    /// A pattern every event name must match (CloudEvents' `ai.{domain}.{action}`); enforced by
    /// `cargo xtask lint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_name_pattern: Option<String>,
    #[serde(default)]
    pub consumer_groups: Vec<ConsumerGroup>,
    pub events: Vec<EventEntry>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Kafka,
    Redis,
    Amqp,
    Nats,
    Http,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Kafka => "kafka",
            Transport::Redis => "redis",
            Transport::Amqp => "amqp",
            Transport::Nats => "nats",
            Transport::Http => "http",
        }
    }
}

/// How an event sits in a message.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Envelope {
    /// The event is the whole message; the channel names the event.
    Flat,
    /// The event is one field of a wrapper whose other field names it.
    Wrapped {
        /// The envelope's schema file, relative to the system folder.
        schema: String,
        /// Envelope property holding the event name.
        type_field: String,
        /// Envelope property holding the event.
        payload_field: String,
    },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum KeyStyle {
    #[default]
    #[serde(rename = "any")]
    Any,
    #[serde(rename = "snake_case")]
    SnakeCase,
}

/// A group of consumers that shares the work of one service.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumerGroup {
    pub name: String,
    pub description: String,
    /// Channels or patterns it reads: Kafka topics, Redis streams, AMQP binding keys, NATS
    /// subject filters, HTTP paths.
    pub binds: Vec<String>,
}

/// One event of the system.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventEntry {
    /// The event's name on the wire: envelope type, routing key, subject or CloudEvents type.
    pub name: String,
    /// The event's schema, relative to the system folder.
    pub schema: String,
    pub channel: Channel,
    /// Version of the event contract; a breaking change needs a new version.
    pub version: u32,
    pub producers: Vec<String>,
    pub consumers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Compatibility mode checked on schema changes.
    #[serde(default)]
    pub compatibility: Compatibility,
    /// Takes every name not listed (relayed events of dynamic type).
    #[serde(default)]
    pub fallback: bool,
    /// Payload property holding the event's unique id, for systems whose events travel
    /// without an envelope: it becomes the transport's message id (`Nats-Msg-Id`, AMQP
    /// `message-id`), so the broker or consumer drops a duplicate publish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Payload properties identifying the unit of work (the audio document's `chunk_id` /
    /// `bot_id`): a consumer group that finished a message with the same values skips a
    /// redelivered or re-published one. Empty: the message id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub idempotency_key: Vec<String>,
}

/// Where an event travels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "transport", rename_all = "lowercase", deny_unknown_fields)]
pub enum Channel {
    Kafka {
        topic: String,
    },
    Redis {
        stream: String,
    },
    Amqp {
        exchange: String,
        routing_key: String,
    },
    Nats {
        stream: String,
        subject: String,
    },
    Http {
        method: String,
        path: String,
    },
}

impl Channel {
    pub fn transport(&self) -> Transport {
        match self {
            Channel::Kafka { .. } => Transport::Kafka,
            Channel::Redis { .. } => Transport::Redis,
            Channel::Amqp { .. } => Transport::Amqp,
            Channel::Nats { .. } => Transport::Nats,
            Channel::Http { .. } => Transport::Http,
        }
    }

    /// The one string that names the channel: topic, stream, routing key, subject or path.
    pub fn address(&self) -> &str {
        match self {
            Channel::Kafka { topic } => topic,
            Channel::Redis { stream } => stream,
            Channel::Amqp { routing_key, .. } => routing_key,
            Channel::Nats { subject, .. } => subject,
            Channel::Http { path, .. } => path,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Compatibility {
    #[default]
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
    None,
}

/// The manifest's JSON Schema, pretty-printed, as written to `schemas/manifest.schema.json`.
pub fn manifest_json_schema() -> String {
    let schema = schemars::schema_for!(Manifest);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}
