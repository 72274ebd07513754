//! The gateway's forwarding rules (document `000_…`, "Notes on Status/Event Forwarding", and
//! go-livepeer's `startEventsSubscribe` in `server/ai_live_video.go` / `byoc/trickle.go`):
//! what a gateway publishes for an event it receives from the AI runner or orchestrator.
//!
//! 1. The body is `{"queue_event_type": "...", "event": {...}}`; when it has no `event` (or
//!    `event` is `null`), the whole body is the event and the type is `ai_stream_events`. A
//!    body that is not a JSON object (or whose `queue_event_type` is not a string, or whose
//!    `event` is not an object) is refused, as Go's `json.Unmarshal` refuses it. A wrapper
//!    with an `event` but no `queue_event_type` gets the type `""`, as in go-livepeer (the
//!    catalog reads it with the `*` fallback schema).
//! 2. The gateway overwrites `stream_id`, `request_id` and `pipeline_id` with its own values
//!    and sets `orchestrator_info` when it knows the orchestrator ([`StreamInfo`]).
//! 3. An event whose `type` is `"status"` is published as `ai_stream_status`, whatever
//!    `queue_event_type` said.
//! 4. A status snapshot whose `inference_status` lacks `last_restart_logs` or `last_params`
//!    (or has them `null`) takes them from the previous status of the same stream; when that
//!    previous status's `inference_status` lacks them too they become an explicit `null`.
//!    With no previous status they stay as sent. The (completed) status is remembered per
//!    stream id; at most [`Forwarder::capacity`] streams are remembered (the oldest stream
//!    is forgotten first), and [`Forwarder::forget`] drops a stream that ended.
//!
//! The result is the gateway envelope `{id, type, timestamp, gateway, data}` (a new UUID v4,
//! Unix milliseconds as a decimal string, the configured gateway address), decoded and
//! validated by the system's [`Contract`] so it can be published with
//! `Publisher::publish_message`.

use std::collections::{HashMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::transport::Contract;
use crate::DecodeError;

/// Envelope type of a direct event (no `queue_event_type` wrapper).
pub const DEFAULT_EVENT_TYPE: &str = "ai_stream_events";
/// Envelope type of an event whose `type` is `"status"`.
pub const STATUS_EVENT_TYPE: &str = "ai_stream_status";
/// The keys a status snapshot takes from the previous one when it omits them.
pub const COALESCED_KEYS: [&str; 2] = ["last_restart_logs", "last_params"];

/// What the gateway knows about the stream an event belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamInfo {
    pub stream_id: String,
    pub request_id: String,
    pub pipeline_id: String,
    /// The orchestrator serving the stream, when there is a session: `(address, url)`.
    pub orchestrator: Option<(String, String)>,
}

/// Why a relayed body cannot be forwarded.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// Not something go-livepeer would parse (it drops such bodies).
    #[error("relayed body refused: {0}")]
    Body(String),
    /// The forwarded message breaks its schema.
    #[error("forwarded message is invalid: {0}")]
    Decode(#[from] DecodeError),
}

/// Applies the forwarding rules; keeps the last status of each stream.
#[derive(Clone, Debug)]
pub struct Forwarder {
    gateway: String,
    capacity: usize,
    statuses: HashMap<String, Map<String, Value>>,
    order: VecDeque<String>,
}

impl Forwarder {
    /// Envelopes name `gateway`; the last statuses of up to 10 000 streams are kept.
    pub fn new(gateway: impl Into<String>) -> Self {
        Self::with_capacity(gateway, 10_000)
    }

    /// At most `capacity` (at least 1) streams' last statuses are kept.
    pub fn with_capacity(gateway: impl Into<String>, capacity: usize) -> Self {
        Self {
            gateway: gateway.into(),
            capacity: capacity.max(1),
            statuses: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Streams whose last status is remembered.
    pub fn remembered(&self) -> usize {
        self.statuses.len()
    }

    /// Forgets the last status of a stream that ended.
    pub fn forget(&mut self, stream_id: &str) {
        if self.statuses.remove(stream_id).is_some() {
            self.order.retain(|s| s != stream_id);
        }
    }

    /// The envelope type and event a relayed body becomes (rules 1 to 4).
    pub fn route(
        &mut self,
        stream: &StreamInfo,
        body: &[u8],
    ) -> Result<(String, Map<String, Value>), ForwardError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ForwardError::Body(format!("not JSON: {e}")))?;
        let Value::Object(mut wrapper) = value else {
            return Err(ForwardError::Body("not a JSON object".into()));
        };
        let queue_event_type = match wrapper.get("queue_event_type") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(ForwardError::Body(format!(
                    "`queue_event_type` is not a string: {other}"
                )))
            }
        };
        let (mut event_type, mut event) = match wrapper.remove("event") {
            None | Some(Value::Null) => (DEFAULT_EVENT_TYPE.to_owned(), wrapper),
            Some(Value::Object(event)) => (queue_event_type, event),
            Some(other) => {
                return Err(ForwardError::Body(format!(
                    "`event` is not an object: {other}"
                )))
            }
        };
        event.insert("stream_id".into(), stream.stream_id.clone().into());
        event.insert("request_id".into(), stream.request_id.clone().into());
        event.insert("pipeline_id".into(), stream.pipeline_id.clone().into());
        if let Some((address, url)) = &stream.orchestrator {
            let mut info = Map::new();
            info.insert("address".into(), address.clone().into());
            info.insert("url".into(), url.clone().into());
            event.insert("orchestrator_info".into(), Value::Object(info));
        }
        if event.get("type").and_then(Value::as_str) == Some("status") {
            event_type = STATUS_EVENT_TYPE.to_owned();
            self.coalesce(&stream.stream_id, &mut event);
            self.remember(&stream.stream_id, event.clone());
        }
        Ok((event_type, event))
    }

    /// The whole gateway message for a relayed body, decoded and validated by `C`.
    pub fn forward<C: Contract>(
        &mut self,
        stream: &StreamInfo,
        body: &[u8],
    ) -> Result<C::Message, ForwardError> {
        let bytes = self.envelope(stream, body)?;
        Ok(C::decode("", &bytes)?)
    }

    /// The encoded gateway envelope for a relayed body (not validated).
    pub fn envelope(&mut self, stream: &StreamInfo, body: &[u8]) -> Result<Vec<u8>, ForwardError> {
        let (event_type, event) = self.route(stream, body)?;
        let mut envelope = Map::new();
        envelope.insert("id".into(), uuid::Uuid::new_v4().to_string().into());
        envelope.insert("type".into(), event_type.into());
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        envelope.insert("timestamp".into(), ms.to_string().into());
        envelope.insert("gateway".into(), self.gateway.clone().into());
        envelope.insert("data".into(), Value::Object(event));
        serde_json::to_vec(&Value::Object(envelope))
            .map_err(|e| ForwardError::Body(format!("cannot encode the envelope: {e}")))
    }

    fn coalesce(&self, stream_id: &str, event: &mut Map<String, Value>) {
        let Some(previous) = self.statuses.get(stream_id) else {
            return;
        };
        let Some(Value::Object(status)) = event.get_mut("inference_status") else {
            return;
        };
        let before = previous.get("inference_status").and_then(Value::as_object);
        for key in COALESCED_KEYS {
            if status.get(key).is_none_or(Value::is_null) {
                if let Some(before) = before {
                    let value = before.get(key).cloned().unwrap_or(Value::Null);
                    status.insert(key.to_owned(), value);
                }
            }
        }
    }

    fn remember(&mut self, stream_id: &str, event: Map<String, Value>) {
        if self.statuses.insert(stream_id.to_owned(), event).is_none() {
            self.order.push_back(stream_id.to_owned());
            while self.order.len() > self.capacity {
                if let Some(oldest) = self.order.pop_front() {
                    self.statuses.remove(&oldest);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stream() -> StreamInfo {
        StreamInfo {
            stream_id: "stream-1".into(),
            request_id: "req-1".into(),
            pipeline_id: "pip-1".into(),
            orchestrator: Some(("0xabc".into(), "https://orch:8935".into())),
        }
    }

    fn route(f: &mut Forwarder, body: Value) -> (String, Value) {
        let (t, e) = f
            .route(&stream(), body.to_string().as_bytes())
            .expect("routes");
        (t, Value::Object(e))
    }

    #[test]
    fn wrapper_and_direct_event() {
        let mut f = Forwarder::new("gw");
        let (t, e) = route(
            &mut f,
            json!({"queue_event_type": "stream_heartbeat", "event": {"type": "heartbeat", "stream_id": "theirs"}}),
        );
        assert_eq!(t, "stream_heartbeat");
        assert_eq!(e["stream_id"], "stream-1", "the gateway overwrites ids");
        assert_eq!(e["request_id"], "req-1");
        assert_eq!(e["pipeline_id"], "pip-1");
        assert_eq!(
            e["orchestrator_info"],
            json!({"address": "0xabc", "url": "https://orch:8935"})
        );

        let (t, e) = route(&mut f, json!({"type": "params_update", "params": {"a": 1}}));
        assert_eq!(t, DEFAULT_EVENT_TYPE, "a direct event is ai_stream_events");
        assert_eq!(e["params"], json!({"a": 1}));

        let (t, _) = route(&mut f, json!({"event": {"type": "custom"}}));
        assert_eq!(
            t, "",
            "an event without queue_event_type keeps Go's empty type"
        );

        let (t, _) = route(
            &mut f,
            json!({"queue_event_type": "x", "event": null, "type": "y"}),
        );
        assert_eq!(t, DEFAULT_EVENT_TYPE, "event null: the body is the event");
    }

    #[test]
    fn no_orchestrator_means_no_orchestrator_info() {
        let mut f = Forwarder::new("gw");
        let s = StreamInfo {
            orchestrator: None,
            ..stream()
        };
        let (_, e) = f.route(&s, br#"{"type":"x"}"#).expect("routes");
        assert!(!e.contains_key("orchestrator_info"));
    }

    #[test]
    fn status_is_routed_and_coalesced_from_the_previous_status() {
        let mut f = Forwarder::new("gw");
        // The first status has nothing to take from: it stays as sent.
        let (t, e) = route(
            &mut f,
            json!({"queue_event_type": "ai_stream_events", "event": {"type": "status",
                "inference_status": {"last_params": {"prompt": "a"}, "last_restart_logs": ["boot"], "fps": 1}}}),
        );
        assert_eq!(t, STATUS_EVENT_TYPE, "status wins over queue_event_type");
        assert_eq!(e["inference_status"]["last_params"], json!({"prompt": "a"}));

        // An incremental snapshot without them takes both from the previous status.
        let (_, e) = route(
            &mut f,
            json!({"type": "status", "inference_status": {"fps": 2, "last_params": null}}),
        );
        assert_eq!(e["inference_status"]["last_params"], json!({"prompt": "a"}));
        assert_eq!(e["inference_status"]["last_restart_logs"], json!(["boot"]));
        assert_eq!(e["inference_status"]["fps"], 2);

        // A value it does carry wins.
        let (_, e) = route(
            &mut f,
            json!({"type": "status", "inference_status": {"last_params": {"prompt": "b"}}}),
        );
        assert_eq!(e["inference_status"]["last_params"], json!({"prompt": "b"}));
        assert_eq!(e["inference_status"]["last_restart_logs"], json!(["boot"]));

        // Another stream does not see this one's status.
        let other = StreamInfo {
            stream_id: "stream-2".into(),
            ..stream()
        };
        let (_, e) = f
            .route(&other, br#"{"type":"status","inference_status":{}}"#)
            .expect("routes");
        assert!(e["inference_status"].get("last_params").is_none());
    }

    #[test]
    fn previous_status_without_the_keys_gives_explicit_null() {
        let mut f = Forwarder::new("gw");
        route(
            &mut f,
            json!({"type": "status", "inference_status": {"fps": 1}}),
        );
        let (_, e) = route(
            &mut f,
            json!({"type": "status", "inference_status": {"fps": 2}}),
        );
        assert_eq!(e["inference_status"]["last_params"], Value::Null);
        assert!(e["inference_status"]
            .as_object()
            .is_some_and(|s| s.contains_key("last_restart_logs")));
    }

    #[test]
    fn memory_is_bounded_and_forgettable() {
        let mut f = Forwarder::with_capacity("gw", 2);
        for id in ["a", "b", "c"] {
            let s = StreamInfo {
                stream_id: id.into(),
                ..stream()
            };
            f.route(
                &s,
                br#"{"type":"status","inference_status":{"last_params":{"p":1}}}"#,
            )
            .expect("routes");
        }
        assert_eq!(f.remembered(), 2, "the oldest stream was forgotten");
        let a = StreamInfo {
            stream_id: "a".into(),
            ..stream()
        };
        let (_, e) = f
            .route(&a, br#"{"type":"status","inference_status":{}}"#)
            .expect("routes");
        assert!(
            e["inference_status"].get("last_params").is_none(),
            "a was evicted"
        );
        // Remembering a again evicted b, the oldest; forgetting c leaves only a.
        f.forget("c");
        assert_eq!(f.remembered(), 1);
        let (_, e) = f
            .route(&a, br#"{"type":"status","inference_status":{}}"#)
            .expect("routes");
        assert_eq!(
            e["inference_status"]["last_params"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn bodies_go_would_refuse_are_refused() {
        let mut f = Forwarder::new("gw");
        for bad in [
            &b"not json"[..],
            b"[1,2]",
            b"\"status\"",
            br#"{"queue_event_type": 3, "event": {}}"#,
            br#"{"queue_event_type": "x", "event": [1]}"#,
        ] {
            assert!(
                matches!(f.route(&stream(), bad), Err(ForwardError::Body(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn envelope_shape() {
        let mut f = Forwarder::new("gw-1");
        let bytes = f
            .envelope(&stream(), br#"{"type":"status","inference_status":{}}"#)
            .expect("envelope");
        let v: Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(v["type"], STATUS_EVENT_TYPE);
        assert_eq!(v["gateway"], "gw-1");
        assert!(uuid::Uuid::parse_str(v["id"].as_str().expect("id")).is_ok());
        let ts = v["timestamp"].as_str().expect("timestamp is a string");
        assert!(!ts.is_empty() && ts.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(v["data"]["stream_id"], "stream-1");
    }
}
