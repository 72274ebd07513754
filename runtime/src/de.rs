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
