//! Hand-written runtime of the `event-contracts` crate. Generated code calls into this crate;
//! nothing here is generated. It owns:
//! - the [`Event`] and [`Validate`] traits every generated event implements,
//! - [`decode`] / [`encode`]: validated decoding on a fast typed path with a full
//!   JSON Schema report on failure, and [`one_pass`] for whole wrapped messages,
//! - [`SchemaSet`]: the embedded schemas, compiled once, offline,
//! - the typed formats ([`DateTime`]) and the serde helpers generated fields use.

mod datetime;
pub mod pattern;
mod schema_set;
#[cfg(all(test, feature = "sonic"))]
mod sonic_agrees;

pub mod de;
pub mod one_pass;
pub mod transport;

use std::fmt;

pub use datetime::DateTime;
pub use pattern::Pattern;
pub use schema_set::{Documents, SchemaSet, Validator};
use serde::{de::DeserializeOwned, Serialize};

/// Where an event travels on its transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    Kafka {
        topic: &'static str,
    },
    Redis {
        stream: &'static str,
    },
    Amqp {
        exchange: &'static str,
        routing_key: &'static str,
    },
    Nats {
        stream: &'static str,
        subject: &'static str,
    },
    Http {
        method: &'static str,
        path: &'static str,
    },
}

impl Channel {
    /// The one string that names the channel: topic, stream, routing key, subject or path.
    pub fn address(&self) -> &'static str {
        match *self {
            Channel::Kafka { topic } => topic,
            Channel::Redis { stream } => stream,
            Channel::Amqp { routing_key, .. } => routing_key,
            Channel::Nats { subject, .. } => subject,
            Channel::Http { path, .. } => path,
        }
    }
}

/// The catalog's facts about one event, for registries, bindings and the compatibility checker.
#[derive(Clone, Copy, Debug)]
pub struct EventInfo {
    /// Name on the wire (envelope type, routing key, subject, CloudEvents type); `*` for the
    /// fallback event that takes every unlisted name.
    pub name: &'static str,
    pub system: &'static str,
    pub rust_type: &'static str,
    pub schema_id: &'static str,
    pub channel: Channel,
    pub version: u32,
    pub producers: &'static [&'static str],
    pub consumers: &'static [&'static str],
}

/// One catalogued system, type-erased: what tools and test suites need to work over any
/// catalog without naming its Rust types (every generated crate lists its systems in
/// `SYSTEMS`).
#[derive(Clone, Copy, Debug)]
pub struct SystemInfo {
    /// The system's module name (`livepeer`, `audio`, …).
    pub name: &'static str,
    pub events: &'static [EventInfo],
    /// `$id` of the envelope schema, for a wrapped system.
    pub envelope_schema_id: Option<&'static str>,
    /// Validates and decodes the event named `name` (its wire name) from its payload bytes,
    /// then encodes the typed event again.
    pub reencode_event: ReencodeEvent,
    /// For a wrapped system: validates and decodes a whole message (envelope and event),
    /// then encodes it again.
    pub reencode_message: Option<ReencodeMessage>,
}

/// Decodes the event named by the first argument from its bytes and encodes it again.
pub type ReencodeEvent = fn(&str, &[u8]) -> Result<Vec<u8>, RoundTripError>;
/// Decodes a whole message (envelope and event) and encodes it again.
pub type ReencodeMessage = fn(&[u8]) -> Result<Vec<u8>, RoundTripError>;

/// Why a type-erased round trip failed.
#[derive(Debug, thiserror::Error)]
pub enum RoundTripError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A decoded value that does not encode again: a generator defect, never bad input.
    #[error("a decoded message does not encode again: {0}")]
    Encode(#[from] EncodeError),
}

/// Constraint checks generated from the schema that serde's typing does not already enforce
/// (patterns, lengths, ranges, array bounds, uniqueness, presence rules).
pub trait Validate {
    /// True when every constraint holds. Allocation-free: the detailed report comes from the
    /// schema validator, only on failure.
    fn is_valid(&self) -> bool;
}

impl<T: Validate> Validate for Option<T> {
    fn is_valid(&self) -> bool {
        self.as_ref().is_none_or(Validate::is_valid)
    }
}

impl<T: Validate> Validate for Vec<T> {
    fn is_valid(&self) -> bool {
        self.iter().all(Validate::is_valid)
    }
}

impl<T: Validate> Validate for Box<T> {
    fn is_valid(&self) -> bool {
        (**self).is_valid()
    }
}

/// A catalogued event type.
pub trait Event: Validate + Serialize + DeserializeOwned {
    /// Name on the wire; `*` for a fallback event.
    const NAME: &'static str;
    const SCHEMA_ID: &'static str;
    /// Set when the schema uses keywords only the schema validator enforces (`if`/`then`/`else`,
    /// `not`): decoding then always runs the validator.
    const NEEDS_SCHEMA: bool;
    /// The schema's `examples`, as JSON text, in document order (none when it has none).
    const EXAMPLES: &'static [&'static str] = &[];
    fn info() -> &'static EventInfo;
    /// The compiled validator of this event's schema (compiled on first use, offline).
    fn validator() -> &'static Validator;

    /// The schema's examples as typed values, each validated and decoded like a payload on the
    /// wire: an example its own schema rejects is this error, never a panic.
    fn examples() -> Result<Vec<Self>, DecodeError> {
        Self::EXAMPLES
            .iter()
            .map(|json| Self::decode(json.as_bytes()))
            .collect()
    }

    /// Validates then decodes one payload.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes)
    }

    /// Encodes, refusing an event that breaks its schema.
    fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        encode(self)
    }

    /// Every schema violation of this value, each with its JSON pointer.
    fn validate(&self) -> Result<(), Violations> {
        if !Self::NEEDS_SCHEMA && self.is_valid() {
            return Ok(());
        }
        let value = serde_json::to_value(self).map_err(|e| {
            Violations(vec![Violation {
                pointer: String::new(),
                keyword: "serialize".into(),
                message: e.to_string(),
            }])
        })?;
        Self::validator().check(&value)
    }
}

/// A JSON pointer as messages for people show it: RFC 6901 writes the whole document as the
/// empty pointer, which a message would show as nothing at all, so it is written `""`; any
/// other pointer is itself (`/payload/chunk_id`).
pub fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() {
        "\"\""
    } else {
        pointer
    }
}

/// One schema violation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// JSON pointer of the offending value in the message (`""` is the root).
    pub pointer: String,
    /// The schema keyword that failed (`required`, `pattern`, …).
    pub keyword: String,
    pub message: String,
}

/// Every violation of one message, in document order of the validator.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Violations(pub Vec<Violation>);

impl Violations {
    /// Re-roots every pointer under `prefix` (a payload's violations inside its envelope).
    pub fn within(mut self, prefix: &str) -> Self {
        for v in &mut self.0 {
            v.pointer.insert_str(0, prefix);
        }
        self
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "{}: {} ({})",
                display_pointer(&v.pointer),
                v.message,
                v.keyword
            )?;
        }
        Ok(())
    }
}

/// Why bytes could not become a typed event.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not JSON at line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("schema violations: {0}")]
    Invalid(Violations),
    #[error("unknown event `{name}` in system `{system}`; known: {known}")]
    UnknownEvent {
        system: &'static str,
        name: String,
        known: String,
    },
    /// Valid per the schema but not representable in the Rust type: an integer beyond the
    /// 64 bits of its field (`1e300` is an integer to JSON Schema), at `pointer`. An integer
    /// written as a float within range (`16000.0`) is no such case: it decodes.
    #[error("valid JSON that the typed model cannot hold at {}: {message}", display_pointer(.pointer))]
    Unrepresentable { pointer: String, message: String },
}

impl DecodeError {
    /// Re-roots the error's pointers under `prefix`.
    pub fn within(self, prefix: &str) -> Self {
        match self {
            DecodeError::Invalid(v) => DecodeError::Invalid(v.within(prefix)),
            DecodeError::Unrepresentable { pointer, message } => DecodeError::Unrepresentable {
                pointer: format!("{prefix}{pointer}"),
                message,
            },
            other => other,
        }
    }

    /// The violations, when the error is a schema failure.
    pub fn violations(&self) -> Option<&Violations> {
        match self {
            DecodeError::Invalid(v) => Some(v),
            _ => None,
        }
    }
}

/// Why an event was refused on the way out.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("refusing to encode an invalid event: {0}")]
    Invalid(Violations),
    #[error("cannot serialize: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// Validates then decodes one payload.
///
/// Valid input takes the fast path: typed serde decoding plus the generated constraint checks.
/// Anything else is re-read as a `Value` and run through the schema validator, so the error
/// lists every violation with its pointer. The validator has the last word: the fast path only
/// ever saves time.
///
/// With the `sonic` feature the fast path parses with sonic-rs. A message sonic-rs refuses
/// still goes to the reporting path, which parses with serde_json, so errors (line and column
/// included) are the same either way.
pub fn decode<T: Event>(bytes: &[u8]) -> Result<T, DecodeError> {
    if let Some(typed) = fast_typed::<T>(bytes) {
        if !T::NEEDS_SCHEMA && typed.is_valid() {
            return Ok(typed);
        }
    }
    decode_checked(bytes, T::validator())
}

/// The typed fast path's parser: serde_json, or sonic-rs with the `sonic` feature.
fn fast_typed<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    #[cfg(feature = "sonic")]
    if !could_nest_past_serde_json(bytes) {
        return sonic_rs::from_slice::<T>(bytes).ok();
    }
    serde_json::from_slice::<T>(bytes).ok()
}

/// serde_json refuses a document nested 128 levels deep; sonic-rs nests up to 255. A document
/// with more than 127 brackets at all could nest that deep, so it takes serde_json's fast path
/// and both builds refuse it alike. The count is made in byte-wide blocks, which the compiler
/// vectorizes: it must stay cheap next to the parse it guards.
#[cfg(feature = "sonic")]
fn could_nest_past_serde_json(bytes: &[u8]) -> bool {
    const LIMIT: usize = 127;
    // Nesting deeper than the limit takes an opening and a closing bracket per level.
    if bytes.len() <= 2 * LIMIT {
        return false;
    }
    let mut opening = 0;
    for block in bytes.chunks(128) {
        let in_block = block
            .iter()
            .fold(0u8, |n, &b| n + u8::from((b == b'[') | (b == b'{')));
        opening += usize::from(in_block);
        if opening > LIMIT {
            return true;
        }
    }
    false
}

/// The slow path of [`decode`]: full validation, then typing.
pub fn decode_checked<T: DeserializeOwned>(
    bytes: &[u8],
    validator: &Validator,
) -> Result<T, DecodeError> {
    let value = parse_value(bytes)?;
    validator.check(&value).map_err(DecodeError::Invalid)?;
    typed(value)
}

/// Types a value the schema accepted; a value the Rust type cannot hold (an integer beyond 64
/// bits) is `Unrepresentable` at its JSON pointer.
fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let outer = de::pointer(e.path());
        let message = e.inner().to_string();
        let (inner, message) = de::split_located(&message);
        DecodeError::Unrepresentable {
            pointer: format!("{outer}{inner}"),
            message: message.to_owned(),
        }
    })
}

/// Parses bytes to a `Value`, locating a syntax error.
pub fn parse_value(bytes: &[u8]) -> Result<serde_json::Value, DecodeError> {
    serde_json::from_slice(bytes).map_err(|e| DecodeError::Syntax {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

/// Serializes an event after checking it against its schema.
pub fn encode<T: Event>(event: &T) -> Result<Vec<u8>, EncodeError> {
    if !T::NEEDS_SCHEMA && event.is_valid() {
        return Ok(serde_json::to_vec(event)?);
    }
    let value = serde_json::to_value(event)?;
    T::validator().check(&value).map_err(EncodeError::Invalid)?;
    Ok(serde_json::to_vec(&value)?)
}

/// Counts characters the way JSON Schema measures string length (code points).
#[inline]
pub fn str_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// `multipleOf` as the schema validator decides it.
#[inline]
pub fn is_multiple_of(value: f64, divisor: f64) -> bool {
    if value.fract() == 0.0 && divisor.fract() == 0.0 {
        return value % divisor == 0.0;
    }
    let quotient = value / divisor;
    quotient.is_finite() && quotient.fract() == 0.0
}

/// `uniqueItems`, with JSON equality (which for our typed values is `PartialEq`).
pub fn all_unique<T: PartialEq>(items: &[T]) -> bool {
    items
        .iter()
        .enumerate()
        .all(|(i, a)| items[i + 1..].iter().all(|b| a != b))
}

/// The slow path of a wrapped message that failed the fast path: every violation of the
/// envelope and, when the envelope names a known event, of the payload (pointers re-rooted
/// under `payload_pointer`).
/// `E` is the envelope type (its payload a `Value`): when every part is valid, the typed
/// envelope is decoded again to locate the value it cannot hold.
pub fn wrapped_error<E: DeserializeOwned>(
    bytes: &[u8],
    envelope: &Validator,
    type_pointer: &str,
    payload_pointer: &str,
    payload_validator: impl Fn(&str) -> Option<&'static Validator>,
) -> DecodeError {
    let value = match parse_value(bytes) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let mut violations = envelope.check(&value).err().unwrap_or_default().0;
    let name = value
        .pointer(type_pointer)
        .and_then(serde_json::Value::as_str);
    if let (Some(name), Some(payload)) = (name, value.pointer(payload_pointer)) {
        if let Some(validator) = payload_validator(name) {
            if let Err(v) = validator.check(payload) {
                violations.extend(v.within(payload_pointer).0);
            }
        }
    }
    if violations.is_empty() {
        match typed::<E>(value) {
            Err(e) => e,
            Ok(_) => DecodeError::Unrepresentable {
                pointer: String::new(),
                message: "the message is valid but its envelope does not fit the typed model"
                    .into(),
            },
        }
    } else {
        DecodeError::Invalid(Violations(violations))
    }
}

#[cfg(test)]
mod tests {
    use super::{DecodeError, Violation, Violations};

    fn violation(pointer: &str) -> Violation {
        Violation {
            pointer: pointer.into(),
            keyword: "type".into(),
            message: "[] is not of type \"object\"".into(),
        }
    }

    #[test]
    fn the_root_pointer_is_shown_as_rfc_6901_writes_it() {
        let at_root = Violations(vec![violation(""), violation("/payload/chunk_id")]);
        assert_eq!(
            at_root.to_string(),
            "\"\": [] is not of type \"object\" (type); \
             /payload/chunk_id: [] is not of type \"object\" (type)"
        );
        let unrepresentable = DecodeError::Unrepresentable {
            pointer: String::new(),
            message: "too big".into(),
        };
        assert_eq!(
            unrepresentable.to_string(),
            "valid JSON that the typed model cannot hold at \"\": too big"
        );
        // A payload's root inside its envelope is no longer the root.
        assert_eq!(
            DecodeError::Invalid(Violations(vec![violation("")]))
                .within("/payload")
                .to_string(),
            "schema violations: /payload: [] is not of type \"object\" (type)"
        );
    }
}
