//! Decoding a whole wrapped message in one pass over its bytes. The envelope's own derived
//! `Deserialize` reads its fields as ever; the entries it reads pass through [`Entries`], which
//! notes the event's name as the type field goes by and, when the payload field comes after
//! it, decodes the event right there, from the same parser, into the event chosen by that
//! name. A payload that comes first is kept as raw text and decoded once the name is known.
//!
//! This is only a fast path for messages that are valid: any refusal along the way (bad
//! syntax, a failed generated check, an event that needs the schema validator, an unknown
//! name) yields `None`, and the generated `decode_message` then takes its reporting path over
//! the same bytes, so every error is the one that path gives.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{
    BorrowedStrDeserializer, StrDeserializer, StringDeserializer, UnitDeserializer,
};
use serde::de::{DeserializeSeed, Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::de::{FromMap, TextOf};
use crate::{Event, Validate};

/// A system's event enum, decoded by the name its envelope gives from wherever the payload
/// sits in the message. Generated for every wrapped system's event enum.
pub trait NamedEvents: Sized {
    /// The event named `name`, typed and past its generated checks; an error for anything
    /// else, including an event whose schema needs the validator.
    fn deserialize_named<'de, D: Deserializer<'de>>(name: &str, d: D) -> Result<Self, D::Error>;
}

/// Decodes event `T` from `d` when the generated checks alone decide it: refused when they
/// fail or when `T`'s schema needs the validator (the caller's reporting path decides those).
pub fn checked_event<'de, T: Event, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    if T::NEEDS_SCHEMA {
        return Err(D::Error::custom("decided by the schema validator"));
    }
    let event = T::deserialize(d)?;
    if event.is_valid() {
        Ok(event)
    } else {
        Err(D::Error::custom("fails a generated check"))
    }
}

/// The envelope's payload while its own fields decode: the payload itself went to the event
/// decoder. Only [`decode_in_one_pass`] hands it a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadSlot;

impl<'de> Deserialize<'de> for PayloadSlot {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <()>::deserialize(d).map(|()| PayloadSlot)
    }
}

/// The names of the envelope's type and payload properties, as written on the wire.
#[derive(Clone, Copy, Debug)]
pub struct EnvelopeKeys {
    pub type_key: &'static str,
    pub payload_key: &'static str,
}

/// A valid whole message decoded in one pass: `message` builds it from the envelope (its
/// payload a [`PayloadSlot`]) and the event. `None` for anything the generated checks alone do
/// not accept.
///
/// The message is built here, not returned in parts, because an event enum can be a kilobyte
/// (the size of its largest event) and every move of it is a copy.
pub fn decode_in_one_pass<'de, Env, E, M>(
    bytes: &'de [u8],
    keys: EnvelopeKeys,
    message: impl FnOnce(Env, E) -> M,
) -> Option<M>
where
    Env: FromMap<'de> + Validate,
    E: NamedEvents,
{
    let mut found = Found {
        name: None,
        event: None,
        raw: None,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let envelope: Env = de
        .deserialize_map(EnvelopeVisitor {
            keys,
            found: &mut found,
            envelope: PhantomData,
        })
        .ok()?;
    de.end().ok()?;
    if !envelope.is_valid() {
        return None;
    }
    let event = match (found.event, found.raw, found.name) {
        (Some(event), _, _) => event,
        (None, Some(raw), Some(name)) => {
            E::deserialize_named(&name, &mut serde_json::Deserializer::from_str(raw.get())).ok()?
        }
        _ => return None,
    };
    Some(message(envelope, event))
}

/// What the entries held beside the envelope's own fields.
struct Found<'de, E> {
    /// The type field's string, once read.
    name: Option<Cow<'de, str>>,
    /// The event, when the payload came after the type field.
    event: Option<E>,
    /// The payload's text, when it came first.
    raw: Option<&'de RawValue>,
}

struct EnvelopeVisitor<'f, 'de, Env, E> {
    keys: EnvelopeKeys,
    found: &'f mut Found<'de, E>,
    envelope: PhantomData<Env>,
}

impl<'de, Env: FromMap<'de>, E: NamedEvents> Visitor<'de> for EnvelopeVisitor<'_, 'de, Env, E> {
    type Value = Env;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Env, A::Error> {
        Env::from_map(Entries {
            inner: map,
            keys: self.keys,
            next: Entry::Other,
            found: self.found,
        })
    }
}

/// Which property the value about to be read belongs to.
#[derive(Clone, Copy)]
enum Entry {
    Type,
    Payload,
    Other,
}

/// The message's entries as the envelope's derived `Deserialize` reads them.
struct Entries<'f, 'de, A, E> {
    inner: A,
    keys: EnvelopeKeys,
    next: Entry,
    found: &'f mut Found<'de, E>,
}

impl<'de, A: MapAccess<'de>, E: NamedEvents> MapAccess<'de> for Entries<'_, 'de, A, E> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner.next_key_seed(KeySeed {
            seed,
            keys: self.keys,
            next: &mut self.next,
        })
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        match self.next {
            Entry::Other => self.inner.next_value_seed(seed),
            Entry::Type => {
                let TextOf(name) = self.inner.next_value()?;
                let value = match &name {
                    Cow::Borrowed(text) => seed.deserialize(BorrowedStrDeserializer::new(text)),
                    Cow::Owned(text) => seed.deserialize(StrDeserializer::new(text)),
                };
                self.found.name = Some(name);
                value
            }
            Entry::Payload => {
                match &self.found.name {
                    Some(name) => {
                        let event = self.inner.next_value_seed(NamedSeed::<E> {
                            name,
                            events: PhantomData,
                        })?;
                        self.found.event = Some(event);
                    }
                    None => self.found.raw = Some(self.inner.next_value()?),
                }
                seed.deserialize(UnitDeserializer::new())
            }
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// The envelope's key seed, noting which property the key names as it goes by: the key is
/// read once and handed to the envelope's own field visitor (as `de::NotTheTag` does for a
/// tagged union's keys).
struct KeySeed<'n, K> {
    seed: K,
    keys: EnvelopeKeys,
    next: &'n mut Entry,
}

impl<K> KeySeed<'_, K> {
    fn note(&mut self, key: &str) {
        *self.next = if key == self.keys.type_key {
            Entry::Type
        } else if key == self.keys.payload_key {
            Entry::Payload
        } else {
            Entry::Other
        };
    }
}

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for KeySeed<'_, K> {
    type Value = K::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<K::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, K: DeserializeSeed<'de>> Visitor<'de> for KeySeed<'_, K> {
    type Value = K::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a property name")
    }

    fn visit_borrowed_str<Er: serde::de::Error>(mut self, key: &'de str) -> Result<K::Value, Er> {
        self.note(key);
        self.seed.deserialize(BorrowedStrDeserializer::new(key))
    }

    fn visit_str<Er: serde::de::Error>(mut self, key: &str) -> Result<K::Value, Er> {
        self.note(key);
        self.seed.deserialize(StrDeserializer::new(key))
    }

    fn visit_string<Er: serde::de::Error>(mut self, key: String) -> Result<K::Value, Er> {
        self.note(&key);
        self.seed.deserialize(StringDeserializer::new(key))
    }
}

/// The event named `name`, decoded where the parser stands.
struct NamedSeed<'n, E> {
    name: &'n str,
    events: PhantomData<E>,
}

impl<'de, E: NamedEvents> DeserializeSeed<'de> for NamedSeed<'_, E> {
    type Value = E;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<E, D::Error> {
        E::deserialize_named(self.name, d)
    }
}
