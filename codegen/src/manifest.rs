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
    /// Redis Streams systems only: where a message sits in a stream entry, which every
    /// producer and consumer of the system's streams (in any language) must follow. Absent:
    /// the default layout, `{"payload_field": "envelope", "header_prefix": "h:"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisEntryLayout>,
    /// Key convention the document sets for payloads; `snake_case` is enforced by `cargo xtask lint`.
    #[serde(default)]
    pub payload_keys: KeyStyle,
    /// The one shape of the times producers write inside events (DAM's `ts`, agents'
    /// `timestamp`, livepeer's `data.timestamp`), taken from the document's examples. The
    /// generated module's `now()` writes the current time in it. Distinct from the envelope's
    /// `time` role, which covers only the publish time the envelope carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_format: Option<TimeFormat>,
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
// A manifest is read once per run; boxing the roles would only make patterns noisier.
#[allow(clippy::large_enum_variant)]
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
        /// Which envelope property plays which part: what publishing writes into it and
        /// what consumers read from it. Every required envelope property must be the type
        /// field, the payload field, a role, a single-valued `const`, or a string with a
        /// `default` its schema accepts.
        #[serde(default)]
        roles: EnvelopeRoles,
        /// More places consumers read a role's value from, tried in order when the role's own
        /// property is absent: JSON pointers into the envelope through nested object
        /// properties. The orchestrator's CloudEvents carry `traceparent` at the top level
        /// (the JSON event format) or, in the document's form, under an `extensions` object:
        /// `{"traceparent": ["/extensions/traceparent"]}`. Publishing writes only the role's
        /// own property.
        #[serde(default, skip_serializing_if = "AlsoRead::is_empty")]
        also_read: AlsoRead,
    },
}

/// Per role that consumers read, the further locations of its value (JSON pointers into the
/// envelope, e.g. `/extensions/traceparent`). Each must name a property reached through
/// object properties only, of the kind the role needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlsoRead {
    /// Further locations of the message id (string or `format: uuid` properties).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub message_id: Vec<String>,
    /// Further locations of the W3C `traceparent` (string properties).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traceparent: Vec<String>,
    /// Further locations of the trace id (string properties).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace_id: Vec<String>,
    /// Further locations of the span id (string properties).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub span_id: Vec<String>,
}

impl AlsoRead {
    pub fn is_empty(&self) -> bool {
        self.declared().is_empty()
    }

    /// Every declared location as (role name, pointers).
    pub fn declared(&self) -> Vec<(&'static str, &[String])> {
        [
            ("message_id", self.message_id.as_slice()),
            ("traceparent", self.traceparent.as_slice()),
            ("trace_id", self.trace_id.as_slice()),
            ("span_id", self.span_id.as_slice()),
        ]
        .into_iter()
        .filter(|(_, pointers)| !pointers.is_empty())
        .collect()
    }

    /// The locations of `role`.
    pub fn of(&self, role: &str) -> &[String] {
        self.declared()
            .into_iter()
            .find(|(r, _)| *r == role)
            .map_or(&[], |(_, pointers)| pointers)
    }
}

/// The parts an envelope property can play, each naming a property of the envelope schema.
/// Publishing fills a role's property from the publish's `Meta` (or generates it), and the
/// transport bindings read the message id and trace context from it. A role left out is
/// simply not filled: its property must then be optional or a `const`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeRoles {
    /// The message's unique id (a string or `format: uuid` property): `Meta::id`, else a new
    /// UUID v4. It is the Kafka record key, `Nats-Msg-Id`, the AMQP `message-id`, and the
    /// idempotency key of events that declare none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// When the message was published: the current time, written in the declared format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeRole>,
    /// The publishing service (a string property): `Meta::source`. Publishing without one
    /// is refused unless the property accepts the empty string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// What the message is about (CloudEvents `subject`, a string property): `Meta::subject`,
    /// required as `source` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The W3C `traceparent` of the publishing operation (a string property).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The trace id alone (32 hex digits, a string property) for envelopes that carry the
    /// trace as separate ids; with `span_id` it is read back as a `traceparent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The publishing span's id (16 hex digits, a string property), beside `trace_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// An ordering sequence number (an integer property): `Meta::seq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<String>,
}

impl EnvelopeRoles {
    /// Every declared role as (role name, property), in declaration order of the struct.
    pub fn declared(&self) -> Vec<(&'static str, &str)> {
        [
            ("message_id", self.message_id.as_deref()),
            ("time", self.time.as_ref().map(|t| t.property.as_str())),
            ("source", self.source.as_deref()),
            ("subject", self.subject.as_deref()),
            ("traceparent", self.traceparent.as_deref()),
            ("trace_id", self.trace_id.as_deref()),
            ("span_id", self.span_id.as_deref()),
            ("seq", self.seq.as_deref()),
        ]
        .into_iter()
        .filter_map(|(role, property)| property.map(|p| (role, p)))
        .collect()
    }
}

/// The publish-time property and the one format every message of the system writes it in,
/// so every reader's parser (Python's `strptime`, Go's `time.Parse` with a layout) sees the
/// same shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeRole {
    pub property: String,
    pub format: TimeFormat,
}

/// How a publish time is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TimeFormat {
    /// RFC 3339 in UTC, whole seconds: `2025-08-04T14:33:09Z` (a `format: date-time` property).
    Rfc3339Seconds,
    /// RFC 3339 in UTC, three fractional digits: `2024-10-19T12:34:56.789Z` (`format: date-time`).
    Rfc3339Millis,
    /// RFC 3339 in UTC, six fractional digits: `2024-10-19T12:34:56.789012Z` (`format: date-time`).
    Rfc3339Micros,
    /// Unix time in milliseconds as a decimal string: `"1729341296789"` (a string property).
    UnixMillisString,
    /// Unix time in milliseconds (an integer property).
    UnixMillis,
    /// Unix time in seconds (an integer property).
    UnixSeconds,
}

impl TimeFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeFormat::Rfc3339Seconds => "rfc3339-seconds",
            TimeFormat::Rfc3339Millis => "rfc3339-millis",
            TimeFormat::Rfc3339Micros => "rfc3339-micros",
            TimeFormat::UnixMillisString => "unix-millis-string",
            TimeFormat::UnixMillis => "unix-millis",
            TimeFormat::UnixSeconds => "unix-seconds",
        }
    }
}

/// The fields of one Redis stream entry: the encoded message under `payload_field`, each
/// transport header under `header_prefix` + its name; any other field is carried along and
/// ignored. An entry without `payload_field` is dead-lettered as malformed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisEntryLayout {
    /// The entry field holding the whole message as JSON (the envelope of a wrapped system).
    #[serde(default = "RedisEntryLayout::default_payload_field")]
    pub payload_field: String,
    /// Prefix of the entry fields holding transport headers (`h:` makes `h:traceparent`).
    #[serde(default = "RedisEntryLayout::default_header_prefix")]
    pub header_prefix: String,
}

impl RedisEntryLayout {
    fn default_payload_field() -> String {
        "envelope".into()
    }
    fn default_header_prefix() -> String {
        "h:".into()
    }
}

impl Default for RedisEntryLayout {
    fn default() -> Self {
        Self {
            payload_field: Self::default_payload_field(),
            header_prefix: Self::default_header_prefix(),
        }
    }
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
