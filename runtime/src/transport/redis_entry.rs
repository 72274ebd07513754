//! How messages and dead letters sit in Redis stream entries (features `redis` and `http`),
//! one layout for both: the Redis Streams binding's dead-letter streams
//! (`{stream}:dead-letter`) and the HTTP binding's Redis dead-letter store
//! (`{prefix}:dead-letter`) write the same fields, and [`read_dead_letters`] reads either.
//!
//! # A message
//!
//! | field | value |
//! |---|---|
//! | the layout's payload field (`envelope`) | the encoded message (JSON bytes, unchanged) |
//! | header prefix + name (`h:traceparent`, `h:content-type`) | one per transport header |
//! | anything else | carried along untouched (a foreign producer's own fields) |
//!
//! The layout is the system's [`StreamEntryLayout`] (manifest `redis`; default `envelope`,
//! `h:`).
//!
//! # A dead letter
//!
//! The original entry's fields unchanged (so an operator replays it by adding the same fields
//! back to the stream), then the dead-letter facts as headers of the same layout:
//!
//! | field | value |
//! |---|---|
//! | `envelope` | the original bytes (absent when the original entry had no payload field) |
//! | `h:<name>` | each original header, unchanged |
//! | other fields | the original entry's other fields, unchanged |
//! | `h:x-dead-letter-reason` | `malformed`, `schema-violation`, `unknown-event`, `unrepresentable`, `rejected`, `retries-exhausted` |
//! | `h:x-dead-letter-error` | the error in words (JSON pointers of schema violations) |
//! | `h:x-dead-letter-attempts` | deliveries so far (1-based) |
//! | `h:x-dead-letter-origin` | where it was read (`redis:stream:audio-ingest/1718000000000-0`, `http:/api/ingest/event`) |
//! | `h:x-dead-letter-channel` | the stream or path it arrived on |
//! | `h:x-dead-letter-group` | the consumer group that gave up on it |
//! | `h:x-dead-letter-time` | when, RFC 3339 UTC with milliseconds |
//!
//! For the HTTP binding the original bytes are the request body (or the event's own bytes
//! inside a batch) and the original headers the request's headers.

use redis::Value;

use super::{Headers, StoredDeadLetter, StreamEntryLayout, TransportError};

/// One raw stream entry: its id and its fields in order.
pub(crate) struct Entry {
    pub id: String,
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

pub(crate) fn bytes(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        Value::VerbatimString { text, .. } => Some(text.clone().into_bytes()),
        Value::Int(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

pub(crate) fn string(value: &Value) -> Option<String> {
    bytes(value).and_then(|b| String::from_utf8(b).ok())
}

pub(crate) fn items(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) | Value::Set(items) => items,
        Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        _ => Vec::new(),
    }
}

/// `[id, [field, value, …]]`; `None` for an entry deleted meanwhile (`[id, nil]`).
pub(crate) fn parse_entry(value: Value) -> Option<Entry> {
    let mut parts = items(value).into_iter();
    let id = string(&parts.next()?)?;
    let fields = items(parts.next()?);
    if fields.is_empty() {
        return None;
    }
    let fields = fields
        .chunks(2)
        .filter_map(|pair| Some((bytes(pair.first()?)?, bytes(pair.get(1)?)?)))
        .collect();
    Some(Entry { id, fields })
}

/// The entries of an `XRANGE` / `XREADGROUP` / `XCLAIM` reply.
pub(crate) fn parse_entries(value: Value) -> Vec<Entry> {
    items(value).into_iter().filter_map(parse_entry).collect()
}

/// An entry's fields split by `layout`: the payload (the first payload field), the headers
/// (prefix removed, order kept) and every other field as received.
pub(crate) struct Split {
    pub payload: Option<Vec<u8>>,
    pub headers: Headers,
    pub other: Vec<(Vec<u8>, Vec<u8>)>,
}

pub(crate) fn split(layout: &StreamEntryLayout, fields: Vec<(Vec<u8>, Vec<u8>)>) -> Split {
    let mut split = Split {
        payload: None,
        headers: Headers::new(),
        other: Vec::new(),
    };
    for (name, value) in fields {
        if split.payload.is_none() && name == layout.payload_field.as_bytes() {
            split.payload = Some(value);
            continue;
        }
        match layout.header_of(&name) {
            Some(header) => split.headers.append(header, value),
            None => split.other.push((name, value)),
        }
    }
    split
}

/// The fields of an entry: the payload (when there is one), the other fields, then one field
/// per header.
pub(crate) fn fields<'a>(
    layout: &StreamEntryLayout,
    payload: Option<&'a [u8]>,
    other: &'a [(Vec<u8>, Vec<u8>)],
    headers: &'a Headers,
) -> Vec<(Vec<u8>, &'a [u8])> {
    payload
        .map(|p| (layout.payload_field.as_bytes().to_vec(), p))
        .into_iter()
        .chain(other.iter().map(|(n, v)| (n.clone(), v.as_slice())))
        .chain(headers.iter().map(|(n, v)| (layout.header_field(n), v)))
        .collect()
}

/// A dead-letter entry read back.
pub(crate) fn dead_letter(layout: &StreamEntryLayout, entry: Entry) -> StoredDeadLetter {
    let split = split(layout, entry.fields);
    let mut letter =
        StoredDeadLetter::from_headers(entry.id, split.payload.unwrap_or_default(), split.headers);
    letter.fields = split.other;
    letter
}

/// The `XRANGE - +` command of a whole stream.
pub(crate) fn xrange(key: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("XRANGE");
    cmd.arg(key).arg("-").arg("+");
    cmd
}

/// Every dead letter of the dead-letter stream `key`, oldest first, in either binding's
/// layout: a Redis Streams dead-letter stream (`RedisConfig::dead_letter_key`, with the
/// system's layout) or the HTTP binding's store (`RedisStore::dead_letter_stream`, with
/// [`StreamEntryLayout::DEFAULT`]). For operators and tests; an absent stream has none.
pub async fn read_dead_letters(
    url: &str,
    key: &str,
    layout: StreamEntryLayout,
) -> Result<Vec<StoredDeadLetter>, TransportError> {
    let failed = |what: String, e: redis::RedisError| TransportError::with_source("redis", what, e);
    let client = redis::Client::open(url).map_err(|e| failed("invalid Redis URL".into(), e))?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| failed("cannot connect to Redis".into(), e))?;
    let reply: Value = xrange(key)
        .query_async(&mut conn)
        .await
        .map_err(|e| failed(format!("XRANGE `{key}`"), e))?;
    Ok(parse_entries(reply)
        .into_iter()
        .map(|entry| dead_letter(&layout, entry))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_and_skips_deleted_ones() {
        let entry = Value::Array(vec![
            Value::BulkString(b"1-2".to_vec()),
            Value::Array(vec![
                Value::BulkString(b"envelope".to_vec()),
                Value::BulkString(b"{}".to_vec()),
            ]),
        ]);
        let deleted = Value::Array(vec![Value::BulkString(b"1-3".to_vec()), Value::Nil]);
        let parsed = parse_entries(Value::Array(vec![entry, deleted]));
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].id, "1-2");
        assert_eq!(
            parsed[0].fields,
            vec![(b"envelope".to_vec(), b"{}".to_vec())]
        );
    }

    #[test]
    fn a_dead_letter_round_trips_through_its_fields() {
        let layout = StreamEntryLayout {
            payload_field: "data",
            header_prefix: "hdr.",
        };
        let mut headers = Headers::new();
        headers.insert("traceparent", "00-1-2-01");
        headers.insert("x-dead-letter-reason", "rejected");
        headers.insert("x-dead-letter-attempts", "3");
        let other = vec![(b"source".to_vec(), b"py".to_vec())];
        let written: Vec<(Vec<u8>, Vec<u8>)> = fields(&layout, Some(b"{}"), &other, &headers)
            .into_iter()
            .map(|(n, v)| (n, v.to_vec()))
            .collect();
        assert_eq!(written[0], (b"data".to_vec(), b"{}".to_vec()));
        assert_eq!(written[2].0, b"hdr.traceparent".to_vec());
        let letter = dead_letter(
            &layout,
            Entry {
                id: "5-0".into(),
                fields: written,
            },
        );
        assert_eq!(letter.payload, b"{}");
        assert_eq!(letter.fields, other);
        assert_eq!(letter.headers, headers);
        assert_eq!((letter.reason.as_str(), letter.attempts), ("rejected", 3));
    }
}
