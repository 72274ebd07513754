//! Serde helpers named by generated `#[serde(deserialize_with = …)]` attributes. They make
//! serde's typing agree with JSON Schema on `null`, on missing properties and on integers.

use std::collections::BTreeMap;
use std::fmt;

use std::marker::PhantomData;

use serde::de::value::{StrDeserializer, StringDeserializer};
use serde::de::{DeserializeOwned, DeserializeSeed, Error as _, MapAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;

mod kept;
use kept::Kept;

/// An optional property: absent is `None`; present must be a valid `T` (so `null` is refused
/// unless `T` itself accepts it, as the schema does).
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// A required property whose schema allows `null`: must be there, may be `null`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d)
}

/// An optional property whose schema allows `null`: absent is `None`, `null` is `Some(None)`.
pub fn present_nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Decoding from a JSON object only. serde's derived structs also accept a JSON array of
/// positional values, which JSON Schema never does; generated structs decode through this.
pub trait FromMap<'de>: Sized {
    fn from_map<A: serde::de::MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// Deserializes `T` from a JSON object, refusing arrays and everything else.
pub fn object<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromMap<'de>,
{
    struct ObjectVisitor<T>(std::marker::PhantomData<T>);
    impl<'de, T: FromMap<'de>> serde::de::Visitor<'de> for ObjectVisitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::from_map(map)
        }
    }
    d.deserialize_map(ObjectVisitor(std::marker::PhantomData))
}

/// A JSON Schema integer as a 64-bit Rust integer. JSON Schema's `integer` is any number with
/// a zero fractional part, so `16000.0` and `1.6e4` are the integer 16000 (Python writes them
/// whenever a value went through float arithmetic). serde's `i64`/`u64` take only numbers
/// written without a fraction or exponent; this takes both, and refuses an integer beyond the
/// Rust type's range (`1e300`) with an error naming the value and the range. A number written
/// as an integer takes serde's own path (no `Value`, no float conversion).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct Integer<T>(pub T);

/// 2^63 and 2^64 as `f64` (both exact): the first float beyond `i64` and `u64`.
const I64_END: f64 = 9_223_372_036_854_775_808.0;
const U64_END: f64 = 18_446_744_073_709_551_616.0;

struct IntegerVisitor<T>(std::marker::PhantomData<T>);

impl<'de> Visitor<'de> for IntegerVisitor<i64> {
    type Value = Integer<i64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer within the 64-bit signed range (i64)")
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Integer(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .map(Integer)
            .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.fract() == 0.0 && (-I64_END..I64_END).contains(&v) {
            // Exact: `v` is a whole number inside the range.
            Ok(Integer(v as i64))
        } else {
            Err(E::invalid_value(Unexpected::Float(v), &self))
        }
    }
}

impl<'de> Visitor<'de> for IntegerVisitor<u64> {
    type Value = Integer<u64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer within the 64-bit unsigned range (u64)")
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        u64::try_from(v)
            .map(Integer)
            .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Integer(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.fract() == 0.0 && (0.0..U64_END).contains(&v) {
            // Exact: `v` is a whole number inside the range (`-0.0` is 0).
            Ok(Integer(v as u64))
        } else {
            Err(E::invalid_value(Unexpected::Float(v), &self))
        }
    }
}

impl<'de> Deserialize<'de> for Integer<i64> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_i64(IntegerVisitor::<i64>(std::marker::PhantomData))
    }
}

impl<'de> Deserialize<'de> for Integer<u64> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_u64(IntegerVisitor::<u64>(std::marker::PhantomData))
    }
}

/// A field type that holds JSON Schema integers (`i64`, `u64`, and arrays, maps and nullable
/// values of them), decoded through [`Integer`] and converted to the plain Rust type.
pub trait HoldsIntegers: Sized {
    /// The same shape with [`Integer`] in place of each integer.
    type Wire: DeserializeOwned;
    fn from_wire(wire: Self::Wire) -> Self;
}

impl HoldsIntegers for i64 {
    type Wire = Integer<i64>;
    fn from_wire(wire: Self::Wire) -> Self {
        wire.0
    }
}

impl HoldsIntegers for u64 {
    type Wire = Integer<u64>;
    fn from_wire(wire: Self::Wire) -> Self {
        wire.0
    }
}

impl<T: HoldsIntegers> HoldsIntegers for Option<T> {
    type Wire = Option<T::Wire>;
    fn from_wire(wire: Self::Wire) -> Self {
        wire.map(T::from_wire)
    }
}

impl<T: HoldsIntegers> HoldsIntegers for Vec<T> {
    type Wire = Vec<T::Wire>;
    fn from_wire(wire: Self::Wire) -> Self {
        // `Integer<T>` is `repr(transparent)`: this collects in place.
        wire.into_iter().map(T::from_wire).collect()
    }
}

impl<T: HoldsIntegers> HoldsIntegers for BTreeMap<String, T> {
    type Wire = BTreeMap<String, T::Wire>;
    fn from_wire(wire: Self::Wire) -> Self {
        wire.into_iter()
            .map(|(k, v)| (k, T::from_wire(v)))
            .collect()
    }
}

/// A required property holding integers (see [`Integer`]). Its `null` is refused unless the
/// type is an `Option` (a nullable property).
pub fn integers<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: HoldsIntegers,
{
    T::Wire::deserialize(d).map(T::from_wire)
}

/// An optional property holding integers: absent is `None` (with `#[serde(default)]`), present
/// as [`integers`] reads it.
pub fn present_integers<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: HoldsIntegers,
{
    integers(d).map(Some)
}

/// A tagged union (`oneOf` whose branches a string property names): the property, and how
/// the branch a tag value names decodes. Generated unions implement it and decode through
/// [`tagged`].
pub trait TaggedUnion<'de>: Sized {
    /// The tag property's name.
    const TAG: &'static str;
    /// Decodes the branch `tag` names from the rest of the object.
    fn branch<M: MapAccess<'de>>(tag: &str, branch: Branch<'de, M>) -> Result<Self, M::Error>;
}

/// Decodes a tagged union from a JSON object without building the object first: the entries
/// before the tag are kept, each decoded once (`de::kept`), the tag picks the branch, and the
/// branch reads those entries and then the rest of the object straight from the input. When
/// the tag comes first nothing is kept at all. The tag alone picks the branch: serde's own
/// internally tagged enums also take a variant *index* (`"type": 0`) and a JSON array, which
/// the schema does not, and would try the fallback when a listed branch fails to decode.
/// From text the kept strings borrow the input.
pub fn tagged<'de, D, U>(d: D) -> Result<U, D::Error>
where
    D: Deserializer<'de>,
    U: TaggedUnion<'de>,
{
    struct UnionVisitor<U>(PhantomData<U>);
    impl<'de, U: TaggedUnion<'de>> Visitor<'de> for UnionVisitor<U> {
        type Value = U;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a JSON object tagged by `{}`", U::TAG)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<U, A::Error> {
            let not_a_tag = || A::Error::custom(format_args!("`{}` must be a string tag", U::TAG));
            let mut before = Vec::new();
            loop {
                match map.next_key_seed(KeyOrTag(U::TAG))? {
                    None => return Err(not_a_tag()),
                    Some(None) => {
                        let tag = map.next_value::<TextOf>().map_err(|_| not_a_tag())?;
                        let branch = Branch {
                            before,
                            tag_name: U::TAG,
                            live: map,
                        };
                        return U::branch(&tag.0, branch);
                    }
                    Some(Some(key)) => {
                        if before.is_empty() {
                            // A tag-last object (Go writes a map's keys in order) keeps most
                            // of its entries: one allocation rather than a doubling from 4.
                            before.reserve(8);
                        }
                        let value: Kept = map.next_value()?;
                        before.push((key, value));
                    }
                }
            }
        }
    }
    d.deserialize_map(UnionVisitor(PhantomData))
}

/// Text borrowed from the input when the deserializer lends it, owned otherwise.
type Text<'de> = Cow<'de, str>;

/// Reads a key, telling the tag (`None`) from any other key (`Some`, kept: it precedes the tag).
struct KeyOrTag(&'static str);

impl<'de> DeserializeSeed<'de> for KeyOrTag {
    type Value = Option<Text<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyOrTag {
    type Value = Option<Text<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a property name")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok((key != self.0).then_some(Cow::Borrowed(key)))
    }
    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok((key != self.0).then(|| Cow::Owned(key.to_owned())))
    }
}

/// A string, borrowed when the deserializer lends it.
pub(crate) struct TextOf<'de>(pub(crate) Text<'de>);

impl<'de> Deserialize<'de> for TextOf<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = TextOf<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<TextOf<'de>, E> {
                Ok(TextOf(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TextOf<'de>, E> {
                Ok(TextOf(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<TextOf<'de>, E> {
                Ok(TextOf(Cow::Owned(v)))
            }
        }
        d.deserialize_str(TextVisitor)
    }
}

/// The rest of a tagged union's object once its tag is read: the entries that came before
/// the tag (each decoded once) and the live map positioned after it.
pub struct Branch<'de, M> {
    before: Vec<(Text<'de>, Kept<'de>)>,
    tag_name: &'static str,
    live: M,
}

impl<'de, M: MapAccess<'de>> Branch<'de, M> {
    /// Decodes a listed branch, which does not declare the tag: it never sees it.
    pub fn decode<T: FromMap<'de>>(self) -> Result<T, M::Error> {
        T::from_map(self.entries(None))
    }

    /// Decodes the fallback branch, which keeps the tag as one of its properties.
    pub fn decode_with_tag<T: FromMap<'de>>(self, tag: &str) -> Result<T, M::Error> {
        T::from_map(self.entries(Some(tag.to_owned())))
    }

    fn entries(self, tag: Option<String>) -> BranchEntries<'de, M> {
        BranchEntries {
            before: self.before.into_iter(),
            tag,
            tag_name: self.tag_name,
            live: Some(self.live),
            next: Next::Live,
        }
    }
}

/// What the next value of [`BranchEntries`] is read from.
enum Next<'de> {
    Kept(Text<'de>, Kept<'de>),
    Tag(String),
    Live,
}

/// The branch's object as one map: the entries before the tag, the tag itself when the
/// branch keeps it, then what follows in the input.
struct BranchEntries<'de, M> {
    before: std::vec::IntoIter<(Text<'de>, Kept<'de>)>,
    tag: Option<String>,
    tag_name: &'static str,
    /// `None` once the input's object has ended.
    live: Option<M>,
    next: Next<'de>,
}

impl<'de, M: MapAccess<'de>> MapAccess<'de> for BranchEntries<'de, M> {
    type Error = M::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, M::Error> {
        if let Some((key, value)) = self.before.next() {
            let k = seed.deserialize(StrDeserializer::<M::Error>::new(&key))?;
            self.next = Next::Kept(key, value);
            return Ok(Some(k));
        }
        if let Some(tag) = self.tag.take() {
            let k = seed.deserialize(StrDeserializer::<M::Error>::new(self.tag_name))?;
            self.next = Next::Tag(tag);
            return Ok(Some(k));
        }
        self.next = Next::Live;
        let Some(live) = self.live.as_mut() else {
            return Ok(None);
        };
        let key = live.next_key_seed(NotTheTag {
            tag_name: self.tag_name,
            seed,
        })?;
        if key.is_none() {
            self.live = None;
        }
        Ok(key)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, M::Error> {
        match std::mem::replace(&mut self.next, Next::Live) {
            Next::Kept(key, value) => kept::replay_entry(&key, value, seed),
            Next::Tag(tag) => seed.deserialize(StringDeserializer::<M::Error>::new(tag)),
            Next::Live => match self.live.as_mut() {
                Some(live) => live.next_value_seed(seed),
                None => Err(M::Error::custom("a value read past the end of its object")),
            },
        }
    }
}

/// A key seed that refuses the tag appearing again: the schema validator reads the last of
/// duplicate keys, so a second tag could name another branch.
struct NotTheTag<K> {
    tag_name: &'static str,
    seed: K,
}

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for NotTheTag<K> {
    type Value = K::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<K::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, K: DeserializeSeed<'de>> Visitor<'de> for NotTheTag<K> {
    type Value = K::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a property name")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, key: &'de str) -> Result<K::Value, E> {
        self.check(key)?;
        self.seed
            .deserialize(serde::de::value::BorrowedStrDeserializer::new(key))
    }
    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<K::Value, E> {
        self.check(key)?;
        self.seed.deserialize(StrDeserializer::new(key))
    }
    fn visit_string<E: serde::de::Error>(self, key: String) -> Result<K::Value, E> {
        self.check(&key)?;
        self.seed.deserialize(StringDeserializer::new(key))
    }
}

impl<K> NotTheTag<K> {
    fn check<E: serde::de::Error>(&self, key: &str) -> Result<(), E> {
        if key == self.tag_name {
            Err(E::duplicate_field(self.tag_name))
        } else {
            Ok(())
        }
    }
}

/// The JSON pointer of a path serde recorded (array indexes and object keys; enum variants are
/// no location in the document).
pub fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => {
                out.push('/');
                out.push_str(&index.to_string());
            }
            Segment::Map { key } => {
                out.push('/');
                out.push_str(&pointer_token(key));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

/// An object key as one JSON pointer step (RFC 6901: `~` is `~0`, `/` is `~1`).
pub(crate) fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A decoding error message that names where, relative to the value being decoded, it
/// happened: `at "/timestamp": invalid value …` (the pointer as a JSON string, so any key
/// reads back whole).
pub fn located(pointer: &str, message: &str) -> String {
    let quoted = serde_json::to_string(pointer).unwrap_or_default();
    format!("at {quoted}: {message}")
}

/// The pointer and message of a [`located`] message; `("", message)` for any other.
pub fn split_located(message: &str) -> (String, &str) {
    let parsed = message.strip_prefix("at ").and_then(|rest| {
        let mut strings = serde_json::Deserializer::from_str(rest).into_iter::<String>();
        let pointer = strings.next()?.ok()?;
        let after = rest.get(strings.byte_offset()..)?.strip_prefix(": ")?;
        Some((pointer, after))
    });
    parsed.unwrap_or_else(|| (String::new(), message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Sample {
        #[serde(deserialize_with = "integers")]
        rate: u64,
        #[serde(default, deserialize_with = "present_integers")]
        offset: Option<i64>,
        #[serde(deserialize_with = "integers")]
        fps: Vec<Option<u64>>,
        #[serde(default, deserialize_with = "present_integers")]
        counts: Option<BTreeMap<String, i64>>,
    }

    fn sample(json: &str) -> Result<Sample, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn integers_written_as_floats_decode_in_every_shape() {
        let s = sample(
            r#"{"rate": 16000.0, "offset": -3.0, "fps": [30.0, null, 1e1], "counts": {"a": 2.0}}"#,
        )
        .unwrap();
        assert_eq!(
            s,
            Sample {
                rate: 16000,
                offset: Some(-3),
                fps: vec![Some(30), None, Some(10)],
                counts: Some([("a".to_owned(), 2)].into()),
            }
        );
        // The same from a `Value` (tagged unions and the slow path decode from one).
        let v: Value = serde_json::from_str(r#"{"rate": 1.6e4, "fps": []}"#).unwrap();
        assert_eq!(serde_json::from_value::<Sample>(v).unwrap().rate, 16000);
        assert_eq!(sample(r#"{"rate": -0.0, "fps": []}"#).unwrap().rate, 0);
    }

    #[test]
    fn integers_beyond_the_rust_type_or_with_a_fraction_are_refused() {
        for bad in [
            r#"{"rate": 1e300, "fps": []}"#,
            r#"{"rate": -1, "fps": []}"#,
            r#"{"rate": 1.5, "fps": []}"#,
            r#"{"rate": 18446744073709551616.0, "fps": []}"#,
            r#"{"rate": 1, "offset": 9223372036854775808, "fps": []}"#,
            r#"{"rate": 1, "offset": 9.223372036854775808e18, "fps": []}"#,
            r#"{"rate": null, "fps": []}"#,
            r#"{"rate": 1, "offset": null, "fps": []}"#,
        ] {
            assert!(sample(bad).is_err(), "{bad}");
        }
        let e = sample(r#"{"rate": 1e300, "fps": []}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("expected an integer within the 64-bit unsigned range (u64)"),
            "{e}"
        );
        // The edges of the ranges.
        let s = sample(
            r#"{"rate": 18446744073709549568.0, "offset": -9.223372036854775808e18, "fps": []}"#,
        )
        .unwrap();
        assert_eq!((s.rate, s.offset), (18446744073709549568, Some(i64::MIN)));
    }

    /// A union as codegen writes one: `kind` picks `Reading` (closed, no `kind` of its own)
    /// or the fallback `Other` (keeps `kind`).
    #[derive(Debug, PartialEq)]
    enum Union {
        Reading(Reading),
        Other(Other),
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Reading {
        #[serde(deserialize_with = "integers")]
        at: u64,
        name: String,
        inner: Option<Box<Union>>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Other {
        kind: String,
    }

    impl<'de> FromMap<'de> for Reading {
        fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
            Reading::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }

    impl<'de> FromMap<'de> for Other {
        fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
            Other::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }

    impl<'de> TaggedUnion<'de> for Union {
        const TAG: &'static str = "kind";
        fn branch<M: MapAccess<'de>>(tag: &str, branch: Branch<'de, M>) -> Result<Self, M::Error> {
            match tag {
                "reading" => branch.decode().map(Union::Reading),
                other => branch.decode_with_tag(other).map(Union::Other),
            }
        }
    }

    impl<'de> Deserialize<'de> for Union {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            tagged(d)
        }
    }

    fn reading(at: u64, inner: Option<Union>) -> Union {
        Union::Reading(Reading {
            at,
            name: "a\"b".into(),
            inner: inner.map(Box::new),
        })
    }

    #[test]
    fn a_tagged_union_decodes_wherever_its_tag_is() {
        let want = reading(3, Some(Union::Other(Other { kind: "x".into() })));
        for json in [
            r#"{"kind": "reading", "at": 3, "name": "a\"b", "inner": {"kind": "x"}}"#,
            r#"{"at": 3.0, "kind": "reading", "inner": {"kind": "x"}, "name": "a\"b"}"#,
            r#"{"name": "a\"b", "inner": {"kind": "x"}, "at": 3, "kind": "reading"}"#,
            r#"{"n\u0061me": "a\"b", "inner": {"kind": "x"}, "at": 3, "kind": "reading"}"#,
        ] {
            assert_eq!(serde_json::from_str::<Union>(json).unwrap(), want, "{json}");
            let value: Value = serde_json::from_str(json).unwrap();
            assert_eq!(
                serde_json::from_value::<Union>(value).unwrap(),
                want,
                "{json}"
            );
        }
    }

    #[test]
    fn a_tagged_union_refuses_what_its_schema_would() {
        for json in [
            r#"{"at": 3, "name": "n", "inner": null}"#,
            r#"{"kind": 1, "at": 3, "name": "n", "inner": null}"#,
            // A second tag: the schema validator reads the last one.
            r#"{"kind": "reading", "at": 3, "name": "n", "inner": null, "kind": "x"}"#,
            r#"{"at": 3, "kind": "reading", "name": "n", "inner": null, "more": 1}"#,
            r#"["reading", 3, "n", null]"#,
        ] {
            assert!(serde_json::from_str::<Union>(json).is_err(), "{json}");
        }
    }

    #[test]
    fn an_error_before_the_tag_names_where_it_happened() {
        let json = r#"{"inner": {"at": 1e300, "kind": "reading", "name": "n", "inner": null}, "at": 1, "name": "n", "kind": "reading"}"#;
        let value: Value = serde_json::from_str(json).unwrap();
        let e = serde_json::from_value::<Union>(value)
            .unwrap_err()
            .to_string();
        let (pointer, message) = split_located(&e);
        assert_eq!(pointer, "/inner/at", "{e}");
        assert!(
            message.starts_with("invalid value: floating point `1e+300`"),
            "{e}"
        );
        assert!(!message.contains("line"), "{e}");
    }

    #[test]
    fn located_messages_read_back_whole() {
        let m = located("/a: b/~0", "invalid value");
        assert_eq!(m, r#"at "/a: b/~0": invalid value"#);
        assert_eq!(split_located(&m), ("/a: b/~0".to_owned(), "invalid value"));
        assert_eq!(split_located("at the end"), (String::new(), "at the end"));
    }
}
