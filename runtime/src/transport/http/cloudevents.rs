//! The CloudEvents 1.0 HTTP protocol binding: content modes, `ce-` headers and their
//! percent-encoding, and the conversion between binary and structured mode.
//!
//! - Structured mode: `Content-Type: application/cloudevents+json`, the body is one event in
//!   the JSON event format.
//! - Binary mode: every attribute but `data` and `datacontenttype` is a `ce-{name}` header,
//!   `datacontenttype` is the `Content-Type` header and the body is `data` as-is. Header values
//!   are UTF-8, then percent-encoded where the spec requires it: space, `"`, `%` and every
//!   byte outside printable ASCII (U+0021..U+007E).
//! - Batched mode: `Content-Type: application/cloudevents-batch+json`, the body is a JSON array
//!   of events in the JSON event format.

use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{Map, Value};

use crate::transport::{Headers, TRACEPARENT_HEADER};

/// Structured content mode media type.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";
/// Batched content mode media type.
pub const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";
/// Plain JSON: accepted as a structured event (the document's own `curl` example sends it),
/// and the `datacontenttype` of every orchestrator event.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// Prefix of CloudEvents attribute headers in binary mode.
pub const HEADER_PREFIX: &str = "ce-";

/// Attributes whose binary-mode header value is an integer in the JSON event format.
const INTEGER_ATTRIBUTES: &[&str] = &["seq"];

/// What the spec says must be percent-encoded in a header value (besides non-ASCII bytes,
/// which `utf8_percent_encode` always encodes).
const HEADER_VALUE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%');

/// A `ce-` header value as the HTTP binding writes it.
pub fn encode_header_value(value: &str) -> String {
    utf8_percent_encode(value, HEADER_VALUE).to_string()
}

/// A `ce-` header value as the HTTP binding reads it: percent-decoded, then UTF-8.
pub fn decode_header_value(value: &[u8]) -> Result<String, String> {
    percent_decode(value)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|e| format!("not UTF-8 after percent-decoding: {e}"))
}

/// The media type of a `Content-Type` value, lowercased, without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn is_json_media_type(media: &str) -> bool {
    media == JSON_CONTENT_TYPE || (media.starts_with("application/") && media.ends_with("+json"))
}

/// How a request carries its event(s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentMode {
    /// One event in the JSON event format (`application/cloudevents+json`, or plain
    /// `application/json` holding a whole event).
    Structured,
    /// Attributes in `ce-` headers, `data` in the body.
    Binary,
    /// A JSON array of events (`application/cloudevents-batch+json`).
    Batch,
}

/// The content mode of a request, or `None` when the server does not understand it (415).
#[doc(hidden)]
pub fn detect_mode(headers: &Headers) -> Option<ContentMode> {
    let media = headers.get_str("content-type").map(media_type);
    match media.as_deref() {
        Some(STRUCTURED_CONTENT_TYPE) => Some(ContentMode::Structured),
        Some(BATCH_CONTENT_TYPE) => Some(ContentMode::Batch),
        _ if headers.get("ce-specversion").is_some() => Some(ContentMode::Binary),
        Some(JSON_CONTENT_TYPE) => Some(ContentMode::Structured),
        _ => None,
    }
}

/// Why a binary-mode request could not be turned into a structured event.
#[derive(Debug, Clone, PartialEq)]
#[doc(hidden)]
pub enum BinaryError {
    /// A `ce-` header that does not decode.
    Header { name: String, message: String },
    /// The body is not JSON although its content type says so.
    Data {
        line: usize,
        column: usize,
        message: String,
    },
    /// The body's content type is not JSON: the orchestrator's events carry JSON data only.
    UnsupportedData { content_type: String },
}

/// An integer attribute's header value as the JSON event format holds it: the number it reads
/// as (`3`, or `3.0` from a producer whose value went through float arithmetic, so the schema
/// gives the same answer as for the same event in structured mode), else the text, which the
/// schema then refuses.
fn integer_attribute(text: String) -> Value {
    if let Ok(n) = text.parse::<i64>() {
        return Value::from(n);
    }
    if let Ok(n) = text.parse::<u64>() {
        return Value::from(n);
    }
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() => Value::from(x),
        _ => Value::String(text),
    }
}

/// Rebuilds the JSON event format of a binary-mode request: each `ce-{name}` header becomes
/// attribute `name` (percent-decoded; `seq` as a number when it reads as one),
/// `Content-Type` becomes `datacontenttype` as it is (parameters included, as the binding
/// maps it, so the schema judges `application/json; charset=utf-8` the same in both modes)
/// and the body,
/// parsed as JSON, becomes `data`. A `traceparent` header (the Distributed Tracing extension's
/// binary-mode form) becomes the `traceparent` attribute when no `ce-traceparent` is given and
/// it is a valid W3C value.
#[doc(hidden)]
pub fn binary_to_structured(headers: &Headers, body: &[u8]) -> Result<Vec<u8>, BinaryError> {
    let mut event = Map::new();
    for (name, value) in headers.iter() {
        let Some(attribute) = name
            .get(..HEADER_PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(HEADER_PREFIX))
            .map(|_| name[HEADER_PREFIX.len()..].to_ascii_lowercase())
        else {
            continue;
        };
        if attribute.is_empty() || event.contains_key(&attribute) {
            continue;
        }
        let text = decode_header_value(value).map_err(|message| BinaryError::Header {
            name: name.to_owned(),
            message,
        })?;
        let value = if INTEGER_ATTRIBUTES.contains(&attribute.as_str()) {
            integer_attribute(text)
        } else {
            Value::String(text)
        };
        event.insert(attribute, value);
    }
    if !event.contains_key("traceparent") {
        if let Some(tp) = headers.get_str(TRACEPARENT_HEADER) {
            if crate::transport::trace::TraceParent::parse(tp).is_some() {
                event.insert("traceparent".into(), Value::String(tp.trim().to_owned()));
            }
        }
    }
    let content_type = headers.get_str("content-type").map(str::trim);
    if let Some(ct) = content_type {
        event.insert("datacontenttype".into(), Value::String(ct.to_owned()));
    }
    if !body.is_empty() {
        match content_type {
            Some(ct) if !is_json_media_type(&media_type(ct)) => {
                return Err(BinaryError::UnsupportedData {
                    content_type: ct.to_owned(),
                })
            }
            _ => {}
        }
        let data: Value = serde_json::from_slice(body).map_err(|e| BinaryError::Data {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if let Some((line, column)) = too_deep(body) {
            return Err(BinaryError::Data {
                line,
                column,
                message: format!(
                    "data nests deeper than {MAX_DATA_DEPTH} arrays/objects here; the JSON event \
                     format wraps data in the event once more and a JSON reader takes 127 levels"
                ),
            });
        }
        event.insert("data".into(), data);
    }
    serde_json::to_vec(&Value::Object(event)).map_err(|e| BinaryError::Header {
        name: "(event)".into(),
        message: e.to_string(),
    })
}

/// How deep binary-mode data may nest: the rebuilt event adds one level, and the engine's
/// JSON reader (serde_json) stops at 128, so deeper data would make an event the server
/// itself cannot read back (found by the fuzzer: `tests/fixtures/fuzz/`).
const MAX_DATA_DEPTH: usize = 126;

/// Where (line, column, 1-based) `json` first opens its array/object number
/// `MAX_DATA_DEPTH + 1`, if it does.
fn too_deep(json: &[u8]) -> Option<(usize, usize)> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if b == b'\n' {
            line += 1;
            column = 0;
        } else if b & 0xC0 != 0x80 {
            column += 1;
        }
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DATA_DEPTH {
                    return Some((line, column));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Binary mode of one event: `ce-*` headers, `Content-Type`, body.
#[doc(hidden)]
pub type BinaryParts = (Vec<(String, String)>, String, Vec<u8>);

/// Splits a structured event into binary mode: `ce-` headers (percent-encoded), the
/// `Content-Type` (from `datacontenttype`, default `application/json`) and the `data` body.
/// The document's `extensions: {seq, traceparent}` object form is flattened into `ce-seq` /
/// `ce-traceparent` where the top-level attribute is absent.
#[doc(hidden)]
pub fn structured_to_binary(payload: &[u8]) -> Result<BinaryParts, String> {
    let Value::Object(mut event) =
        serde_json::from_slice::<Value>(payload).map_err(|e| format!("not JSON: {e}"))?
    else {
        return Err("a structured event must be a JSON object".into());
    };
    let data = event.remove("data");
    let content_type = match event.remove("datacontenttype") {
        Some(Value::String(ct)) => ct,
        Some(other) => return Err(format!("datacontenttype is not a string: {other}")),
        None => JSON_CONTENT_TYPE.to_owned(),
    };
    if let Some(Value::Object(extensions)) = event.remove("extensions") {
        for (name, value) in extensions {
            event.entry(name).or_insert(value);
        }
    }
    let mut headers = Vec::with_capacity(event.len());
    for (name, value) in event {
        let text = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            other => return Err(format!("attribute `{name}` is not a scalar: {other}")),
        };
        headers.push((format!("{HEADER_PREFIX}{name}"), encode_header_value(&text)));
    }
    let body = match data {
        Some(data) => serde_json::to_vec(&data).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    Ok((headers, content_type, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_as_deep_as_the_reader_allows_is_refused_where_it_gets_too_deep() {
        let headers: Headers = [
            ("ce-specversion".to_owned(), b"1.0".to_vec()),
            ("content-type".to_owned(), b"application/json".to_vec()),
        ]
        .into_iter()
        .collect();
        let ok = format!(
            "{}1{}",
            "[".repeat(MAX_DATA_DEPTH),
            "]".repeat(MAX_DATA_DEPTH)
        );
        let event = binary_to_structured(&headers, ok.as_bytes()).unwrap();
        serde_json::from_slice::<Value>(&event).expect("the rebuilt event reads back");
        let deep = format!(
            "{}1{}",
            "[".repeat(MAX_DATA_DEPTH + 1),
            "]".repeat(MAX_DATA_DEPTH + 1)
        );
        match binary_to_structured(&headers, deep.as_bytes()) {
            Err(BinaryError::Data {
                line: 1, column, ..
            }) => {
                assert_eq!(column, MAX_DATA_DEPTH + 1)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn header_values_are_percent_encoded_as_the_spec_says() {
        assert_eq!(encode_header_value("run/abc-1"), "run/abc-1");
        assert_eq!(encode_header_value("a b\"c%d"), "a%20b%22c%25d");
        assert_eq!(encode_header_value("Euro €"), "Euro%20%E2%82%AC");
        assert_eq!(
            decode_header_value(b"Euro%20%E2%82%AC").as_deref(),
            Ok("Euro €")
        );
        assert!(decode_header_value(b"%FF").is_err());
    }

    #[test]
    fn binary_round_trips_to_structured() {
        let structured = br#"{"specversion":"1.0","id":"a b","source":"w/\u00e9","type":"ai.run.started","subject":"run/1","time":"2024-01-01T00:00:00Z","datacontenttype":"application/json","data":{"x":1},"seq":7}"#;
        let (pairs, ct, body) = structured_to_binary(structured).unwrap();
        assert_eq!(ct, "application/json");
        assert!(pairs.contains(&("ce-source".into(), "w/%C3%A9".into())));
        assert!(pairs.contains(&("ce-id".into(), "a%20b".into())));
        let mut headers: Headers = pairs.into_iter().collect();
        headers.insert("Content-Type", ct);
        let rebuilt: Value =
            serde_json::from_slice(&binary_to_structured(&headers, &body).unwrap()).unwrap();
        let original: Value = serde_json::from_slice(structured).unwrap();
        assert_eq!(rebuilt, original);
        // `Content-Type` is `datacontenttype`, parameters and all.
        headers.insert("Content-Type", "Application/JSON; charset=utf-8");
        let rebuilt: Value =
            serde_json::from_slice(&binary_to_structured(&headers, &body).unwrap()).unwrap();
        assert_eq!(
            rebuilt["datacontenttype"],
            "Application/JSON; charset=utf-8"
        );
    }

    #[test]
    fn integer_attributes_read_as_the_numbers_they_spell() {
        let rebuilt = |seq: &str| -> Value {
            let headers: Headers = [("ce-seq", seq), ("content-type", "application/json")]
                .into_iter()
                .collect();
            serde_json::from_slice::<Value>(&binary_to_structured(&headers, b"{}").unwrap())
                .unwrap()["seq"]
                .clone()
        };
        assert_eq!(rebuilt("3"), serde_json::json!(3));
        assert_eq!(rebuilt("18446744073709551615"), serde_json::json!(u64::MAX));
        // A float spelling is the same number; the schema decides whether it is an integer.
        assert_eq!(rebuilt("3.0"), serde_json::json!(3.0));
        assert_eq!(rebuilt("3.5"), serde_json::json!(3.5));
        assert_eq!(rebuilt("three"), serde_json::json!("three"));
        assert_eq!(rebuilt("NaN"), serde_json::json!("NaN"));
    }

    #[test]
    fn modes_are_detected_from_the_content_type_and_ce_headers() {
        let h = |pairs: &[(&str, &str)]| -> Headers { pairs.iter().copied().collect() };
        let ct = |v: &str| h(&[("content-type", v)]);
        assert_eq!(
            detect_mode(&ct("application/cloudevents+json; charset=utf-8")),
            Some(ContentMode::Structured)
        );
        assert_eq!(
            detect_mode(&ct("application/cloudevents-batch+json")),
            Some(ContentMode::Batch)
        );
        assert_eq!(
            detect_mode(&ct("application/json")),
            Some(ContentMode::Structured)
        );
        assert_eq!(
            detect_mode(&h(&[
                ("content-type", "application/json"),
                ("ce-specversion", "1.0")
            ])),
            Some(ContentMode::Binary)
        );
        assert_eq!(detect_mode(&ct("text/plain")), None);
        assert_eq!(detect_mode(&Headers::new()), None);
    }
}
