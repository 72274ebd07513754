//! Serde helpers named by generated `#[serde(deserialize_with = …)]` attributes. They make
//! serde's typing agree with JSON Schema on `null`, on missing properties and on integers.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeOwned, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

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

/// The deserializer a tagged union's branch is read from: its object, buffered to read the
/// tag first, under a tracker that records where an error happened.
pub type TrackedBranch<'a, 'b> = serde_path_to_error::Deserializer<'a, 'b, Value>;

/// Decodes a tagged union's branch from its buffered object. The buffering hides where inside
/// the branch an error happened from the deserializer that reads the whole message, so the
/// error carries that location in its message ([`located`]); [`split_located`] reads it back.
pub fn tagged_branch<T, E: serde::de::Error>(
    object: Map<String, Value>,
    decode: impl FnOnce(TrackedBranch<'_, '_>) -> Result<T, serde_json::Error>,
) -> Result<T, E> {
    let mut track = serde_path_to_error::Track::new();
    match decode(serde_path_to_error::Deserializer::new(
        Value::Object(object),
        &mut track,
    )) {
        Ok(value) => Ok(value),
        Err(e) => {
            let text = e.to_string();
            let (inner, message) = split_located(&text);
            Err(E::custom(located(
                &format!("{}{inner}", pointer(&track.path())),
                message,
            )))
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
                out.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
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

    #[test]
    fn located_messages_read_back_whole() {
        let m = located("/a: b/~0", "invalid value");
        assert_eq!(m, r#"at "/a: b/~0": invalid value"#);
        assert_eq!(split_located(&m), ("/a: b/~0".to_owned(), "invalid value"));
        assert_eq!(split_located("at the end"), (String::new(), "at the end"));
    }
}
