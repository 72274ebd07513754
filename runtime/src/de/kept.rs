//! A tagged union's entries that come before its tag, decoded once and handed to the branch
//! the tag picks.
//!
//! Go writes a map's keys in order, so livepeer's `type` tag usually comes last: nearly every
//! entry of such an object arrives before the branch is known. Keeping each entry as raw JSON
//! text meant scanning it, checking its UTF-8, then parsing it again with a fresh reader per
//! entry. A [`Kept`] value is read once, as the input's own deserializer presents it (strings
//! borrowed where the input lends them), and replayed to the branch through [`KeptDeserializer`],
//! which presents it the way serde_json presents text: the branch decides exactly as it would
//! have on the input itself.
//!
//! An error met while replaying names where, relative to the union's object, it happened
//! ([`located`]): the reader of the whole message cannot see inside a replayed value.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Unexpected};
use serde::{Deserialize, Deserializer};

use super::{located, pointer_token, split_located, TextOf};

/// One JSON value, as a deserializer presented it.
#[derive(Debug)]
pub(crate) enum Kept<'de> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Cow<'de, str>),
    Seq(Vec<Kept<'de>>),
    Map(Vec<(Cow<'de, str>, Kept<'de>)>),
}

impl<'de> Deserialize<'de> for Kept<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KeptVisitor)
    }
}

struct KeptVisitor;

impl<'de> de::Visitor<'de> for KeptVisitor {
    type Value = Kept<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kept<'de>, E> {
        Ok(Kept::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Kept<'de>, E> {
        Ok(Kept::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kept<'de>, D::Error> {
        Kept::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kept<'de>, E> {
        Ok(Kept::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kept<'de>, E> {
        Ok(Kept::U64(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kept<'de>, E> {
        Ok(Kept::I64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kept<'de>, E> {
        Ok(Kept::F64(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Kept<'de>, E> {
        Ok(Kept::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kept<'de>, E> {
        Ok(Kept::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Kept<'de>, E> {
        Ok(Kept::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kept<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Kept::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kept<'de>, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(TextOf(key)) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Kept::Map(entries))
    }
}

impl Kept<'_> {
    fn unexpected(&self) -> Unexpected<'_> {
        match self {
            Kept::Null => Unexpected::Unit,
            Kept::Bool(v) => Unexpected::Bool(*v),
            Kept::U64(v) => Unexpected::Unsigned(*v),
            Kept::I64(v) => Unexpected::Signed(*v),
            Kept::F64(v) => Unexpected::Float(*v),
            Kept::Str(v) => Unexpected::Str(v),
            Kept::Seq(_) => Unexpected::Seq,
            Kept::Map(_) => Unexpected::Map,
        }
    }
}

/// Reads the kept value of property `key` into `seed`; an error is located under `/key`.
pub(crate) fn replay_entry<'de, V: DeserializeSeed<'de>, E: de::Error>(
    key: &str,
    kept: Kept<'de>,
    seed: V,
) -> Result<V::Value, E> {
    seed.deserialize(KeptDeserializer::new(kept))
        .map_err(|e| under(&pointer_token(key), e))
}

/// `error` located one step further out, under the step `step` (an escaped pointer token).
fn under<E: de::Error>(step: &str, error: E) -> E {
    let text = error.to_string();
    let (inner, message) = split_located(&text);
    E::custom(located(&format!("/{step}{inner}"), message))
}

/// Presents a [`Kept`] value to a visitor as serde_json presents the same JSON text.
pub(crate) struct KeptDeserializer<'de, E> {
    kept: Kept<'de>,
    error: PhantomData<E>,
}

impl<'de, E> KeptDeserializer<'de, E> {
    fn new(kept: Kept<'de>) -> Self {
        KeptDeserializer {
            kept,
            error: PhantomData,
        }
    }
}

impl<'de, E: de::Error> Deserializer<'de> for KeptDeserializer<'de, E> {
    type Error = E;

    fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.kept {
            Kept::Null => visitor.visit_unit(),
            Kept::Bool(v) => visitor.visit_bool(v),
            Kept::U64(v) => visitor.visit_u64(v),
            Kept::I64(v) => visitor.visit_i64(v),
            Kept::F64(v) => visitor.visit_f64(v),
            Kept::Str(Cow::Borrowed(v)) => visitor.visit_borrowed_str(v),
            Kept::Str(Cow::Owned(v)) => visitor.visit_string(v),
            Kept::Seq(items) => {
                let len = items.len();
                let mut seq = KeptSeq {
                    items: items.into_iter(),
                    index: 0,
                    error: PhantomData,
                };
                let value = visitor.visit_seq(&mut seq)?;
                match seq.items.len() {
                    0 => Ok(value),
                    _ => Err(E::invalid_length(len, &"fewer elements in array")),
                }
            }
            Kept::Map(entries) => visitor.visit_map(KeptMap::new(entries)),
        }
    }

    fn deserialize_option<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.kept {
            Kept::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        match self.kept {
            Kept::Str(Cow::Borrowed(v)) => visitor.visit_enum(BorrowedStrDeserializer::<E>::new(v)),
            Kept::Str(Cow::Owned(v)) => visitor.visit_enum(v.into_deserializer()),
            Kept::Map(entries) if entries.len() == 1 => {
                visitor.visit_enum(MapAccessDeserializer::new(KeptMap::new(entries)))
            }
            other => Err(E::invalid_type(
                other.unexpected(),
                &"a string or an object",
            )),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct KeptSeq<'de, E> {
    items: std::vec::IntoIter<Kept<'de>>,
    index: usize,
    error: PhantomData<E>,
}

impl<'de, E: de::Error> SeqAccess<'de> for KeptSeq<'de, E> {
    type Error = E;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, E> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(KeptDeserializer::new(item))
            .map(Some)
            .map_err(|e| under(&index.to_string(), e))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct KeptMap<'de, E> {
    entries: std::vec::IntoIter<(Cow<'de, str>, Kept<'de>)>,
    /// The value of the key just read, and that key.
    value: Option<(Cow<'de, str>, Kept<'de>)>,
    error: PhantomData<E>,
}

impl<'de, E> KeptMap<'de, E> {
    fn new(entries: Vec<(Cow<'de, str>, Kept<'de>)>) -> Self {
        KeptMap {
            entries: entries.into_iter(),
            value: None,
            error: PhantomData,
        }
    }
}

impl<'de, E: de::Error> MapAccess<'de> for KeptMap<'de, E> {
    type Error = E;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, E> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let read = match &key {
            Cow::Borrowed(k) => seed.deserialize(BorrowedStrDeserializer::<E>::new(k)),
            Cow::Owned(k) => seed.deserialize(k.as_str().into_deserializer()),
        }?;
        self.value = Some((key, value));
        Ok(Some(read))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, E> {
        match self.value.take() {
            Some((key, kept)) => replay_entry(&key, kept, seed),
            None => Err(E::custom("a value read before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_json::Value;

    use super::{split_located, Kept, KeptDeserializer};

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Level {
        Low,
        High,
    }

    /// Every shape a generated field takes.
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Shapes {
        text: String,
        #[serde(default, deserialize_with = "crate::de::present")]
        note: Option<String>,
        #[serde(deserialize_with = "crate::de::nullable")]
        gone: Option<String>,
        level: Level,
        #[serde(deserialize_with = "crate::de::integers")]
        counts: Vec<Option<u64>>,
        #[serde(deserialize_with = "crate::de::integers")]
        offset: i64,
        ratio: f64,
        on: bool,
        extra: BTreeMap<String, Value>,
        pair: (u8, String),
    }

    fn replayed<'de, T: Deserialize<'de>>(json: &'de str) -> Result<T, serde_json::Error> {
        let kept: Kept<'de> = serde_json::from_str(json)?;
        T::deserialize(KeptDeserializer::<serde_json::Error>::new(kept))
    }

    #[test]
    fn a_replayed_value_decides_as_its_text_does() {
        let good = r#"{"text": "a\"é", "note": "n", "gone": null, "level": "high",
            "counts": [1, null, 2.0], "offset": -4, "ratio": 0.1, "on": true,
            "extra": {"x": [1, -1, 1.5, "s", null, {"y": false}]}, "pair": [7, "p"]}"#;
        let direct: Shapes = serde_json::from_str(good).unwrap();
        assert_eq!(replayed::<Shapes>(good).unwrap(), direct);
        // From a `Value` (the reporting path) too.
        let value: Value = serde_json::from_str(good).unwrap();
        let kept = Kept::deserialize(value).unwrap();
        assert_eq!(
            Shapes::deserialize(KeptDeserializer::<serde_json::Error>::new(kept)).unwrap(),
            direct
        );

        let swap = |from: &str, to: &str| {
            assert!(good.contains(from), "{from}");
            good.replacen(from, to, 1)
        };
        for bad in [
            swap(r#""note": "n""#, r#""note": null"#),
            swap(r#""gone": null, "#, ""),
            swap(r#""high""#, r#""middle""#),
            swap(r#""high""#, "1"),
            swap("2.0]", "2.5]"),
            swap("-4", "-4.5"),
            swap("-4", r#""-4""#),
            swap("true", "1"),
            swap(r#"[7, "p"]"#, r#"[7, "p", 8]"#),
            swap(r#"[7, "p"]"#, r#"[700, "p"]"#),
            swap(r#""text""#, r#""txt""#),
            swap(r#""extra": {"#, r#""extra": [{"#).replacen("}]}", "}]}]", 1),
        ] {
            let direct = serde_json::from_str::<Shapes>(&bad);
            let replay = replayed::<Shapes>(&bad);
            assert!(direct.is_err(), "the text should be refused: {bad}");
            assert!(replay.is_err(), "the replay should be refused: {bad}");
        }
    }

    #[test]
    fn a_replay_error_names_where_it_happened() {
        let json = r#"{"a": [1, {"b~/c": [0, 1e300]}]}"#;
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            #[serde(rename = "b~/c", deserialize_with = "crate::de::integers")]
            bc: Vec<u64>,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            a: (u8, Inner),
        }
        let e = replayed::<Outer>(json).unwrap_err().to_string();
        let (pointer, message) = split_located(&e);
        assert_eq!(pointer, "/a/1/b~0~1c/1", "{e}");
        assert!(message.starts_with("invalid value: floating point"), "{e}");
    }
}
