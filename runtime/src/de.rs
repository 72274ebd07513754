//! Serde helpers named by generated `#[serde(deserialize_with = …)]` attributes. They make
//! serde's typing agree with JSON Schema on `null` and on missing properties.

use serde::{Deserialize, Deserializer};

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
