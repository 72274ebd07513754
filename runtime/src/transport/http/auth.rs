//! Who may post to the ingest endpoint: bearer tokens and Standard Webhooks signatures
//! (<https://www.standardwebhooks.com>: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`).
//!
//! Every comparison of a secret against what a request carries runs in constant time: tokens
//! are compared as SHA-256 digests with `subtle` (so neither their content nor their length
//! shows in the timing), signatures through `hmac`'s `verify_slice`. Secrets never appear in
//! `Debug` output.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap, StatusCode};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `webhook-id`: the message id the signature covers.
pub const WEBHOOK_ID_HEADER: &str = "webhook-id";
/// `webhook-timestamp`: seconds since the Unix epoch, when the sender signed.
pub const WEBHOOK_TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// `webhook-signature`: space-separated `v1,<base64>` signatures (several during a key
/// rotation).
pub const WEBHOOK_SIGNATURE_HEADER: &str = "webhook-signature";
/// How far a `webhook-timestamp` may be from the server's clock, either way, by default.
pub const DEFAULT_TIMESTAMP_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The prefix Standard Webhooks puts before a base64 secret.
const SECRET_PREFIX: &str = "whsec_";

type HmacSha256 = Hmac<Sha256>;

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error(
        "a webhook secret must be `whsec_` followed by base64 (as Standard Webhooks issues \
         them): {0}"
    )]
    WebhookSecret(String),
    #[error("a bearer token must be non-empty visible ASCII (it travels in a header)")]
    BearerToken,
}

/// A Standard Webhooks signing key (`whsec_<base64>`), decoded. Both sides use it: the
/// server verifies with [`IngestAuth::with_webhook_secret`], the client signs with
/// [`HttpConfig::webhook_secret`](super::HttpConfig::webhook_secret).
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// Reads `whsec_<base64>` (the prefix may be left out, as the reference libraries allow).
    pub fn parse(secret: &str) -> Result<Self, AuthConfigError> {
        let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
        let key = BASE64
            .decode(encoded.trim())
            .map_err(|e| AuthConfigError::WebhookSecret(e.to_string()))?;
        if key.is_empty() {
            return Err(AuthConfigError::WebhookSecret("the key is empty".into()));
        }
        Ok(Self(key))
    }

    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` value (`v1,<base64>`) of `body` sent as message `id` at
    /// `timestamp` (seconds since the Unix epoch).
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let tag = self
            .mac(id, &timestamp.to_string(), body)
            .finalize()
            .into_bytes();
        format!("v1,{}", BASE64.encode(tag))
    }

    fn verifies(&self, id: &str, timestamp: &str, body: &[u8], signature: &[u8]) -> bool {
        self.mac(id, timestamp, body)
            .verify_slice(signature)
            .is_ok()
    }
}

/// A bearer token as the server keeps it: only its digest, compared in constant time.
#[derive(Clone)]
struct TokenDigest([u8; 32]);

impl TokenDigest {
    fn of(token: &[u8]) -> Self {
        Self(Sha256::digest(token).into())
    }
}

/// What the ingest endpoint requires of a request before it reads it as events. The default
/// requires nothing. With bearer tokens, `Authorization: Bearer <one of them>` is required;
/// with webhook secrets, a valid Standard Webhooks signature by one of them, with a timestamp
/// within the tolerance; with both, both.
#[derive(Clone, Default)]
pub struct IngestAuth {
    tokens: Vec<TokenDigest>,
    webhook: Vec<WebhookSecret>,
    tolerance: Option<Duration>,
}

impl std::fmt::Debug for IngestAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestAuth")
            .field("bearer_tokens", &self.tokens.len())
            .field("webhook_secrets", &self.webhook.len())
            .field("tolerance", &self.tolerance())
            .finish()
    }
}

/// Why a request was refused before it was read as events.
#[derive(Debug)]
pub(crate) struct Denied {
    pub status: StatusCode,
    /// The problem type suffix (`unauthenticated`, `invalid-token`, ...).
    pub reason: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// The `WWW-Authenticate` challenge of a `401`.
    pub challenge: Option<String>,
}

impl IngestAuth {
    /// Accepts `Authorization: Bearer <token>` (call again for more tokens, e.g. during a
    /// rotation).
    pub fn with_bearer(mut self, token: impl AsRef<str>) -> Result<Self, AuthConfigError> {
        let token = token.as_ref();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AuthConfigError::BearerToken);
        }
        self.tokens.push(TokenDigest::of(token.as_bytes()));
        Ok(self)
    }

    /// Requires a Standard Webhooks signature by `secret` (`whsec_<base64>`; call again to
    /// accept several during a rotation).
    pub fn with_webhook_secret(mut self, secret: &str) -> Result<Self, AuthConfigError> {
        self.webhook.push(WebhookSecret::parse(secret)?);
        Ok(self)
    }

    /// How far `webhook-timestamp` may be from the server's clock, either way (default
    /// 5 minutes): an older request is a replay and refused.
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = Some(tolerance);
        self
    }

    pub fn tolerance(&self) -> Duration {
        self.tolerance.unwrap_or(DEFAULT_TIMESTAMP_TOLERANCE)
    }

    /// Whether any request is let in.
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty() && self.webhook.is_empty()
    }

    /// Everything that can be decided from the headers alone: the bearer token, the presence
    /// and shape of the signature headers and the timestamp's age. Runs before the body is
    /// read, so a refused client costs no body read.
    pub(crate) fn check_headers(&self, headers: &HeaderMap) -> Result<(), Denied> {
        if !self.tokens.is_empty() {
            self.check_bearer(headers)?;
        }
        if !self.webhook.is_empty() {
            let signed = Signed::read(headers)?;
            self.check_timestamp(signed.timestamp)?;
        }
        Ok(())
    }

    /// The signature over the body; after [`check_headers`](Self::check_headers) passed.
    pub(crate) fn check_body(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Denied> {
        if self.webhook.is_empty() {
            return Ok(());
        }
        let signed = Signed::read(headers)?;
        let mut any = false;
        for candidate in signed.signatures.split(' ').filter(|s| !s.is_empty()) {
            // Only `v1` (HMAC-SHA256) is defined; other versions are skipped, as the
            // standard asks, so a sender may add newer ones.
            let Some(encoded) = candidate.strip_prefix("v1,") else {
                continue;
            };
            let Ok(signature) = BASE64.decode(encoded) else {
                continue;
            };
            for secret in &self.webhook {
                // No early exit: every candidate is checked against every secret, so the
                // time taken does not tell which one matched.
                any |= secret.verifies(signed.id, signed.timestamp_text, body, &signature);
            }
        }
        if any {
            Ok(())
        } else {
            Err(Denied {
                status: StatusCode::FORBIDDEN,
                reason: "invalid-signature",
                title: "The webhook signature does not match",
                detail: format!(
                    "no `v1` signature in `{WEBHOOK_SIGNATURE_HEADER}` is the HMAC-SHA256 of \
                     `{{webhook-id}}.{{webhook-timestamp}}.{{body}}` under a secret this \
                     endpoint accepts: sign the exact body bytes sent"
                ),
                challenge: None,
            })
        }
    }

    fn check_bearer(&self, headers: &HeaderMap) -> Result<(), Denied> {
        let challenge = |error: Option<&str>| match error {
            Some(e) => format!("Bearer realm=\"ingest\", error=\"{e}\""),
            None => "Bearer realm=\"ingest\"".to_owned(),
        };
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(Denied {
                status: StatusCode::UNAUTHORIZED,
                reason: "unauthenticated",
                title: "Authentication required",
                detail: "send `Authorization: Bearer <token>`".into(),
                challenge: Some(challenge(None)),
            });
        };
        let bytes = value.as_bytes();
        let token = bytes
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
            .map(|_| bytes[7..].trim_ascii());
        let Some(token) = token else {
            return Err(Denied {
                status: StatusCode::UNAUTHORIZED,
                reason: "unauthenticated",
                title: "Authentication required",
                detail: "the `Authorization` header is not `Bearer <token>`".into(),
                challenge: Some(challenge(Some("invalid_request"))),
            });
        };
        let given = TokenDigest::of(token);
        let mut matched = subtle::Choice::from(0);
        for known in &self.tokens {
            matched |= known.0.ct_eq(&given.0);
        }
        if bool::from(matched) {
            Ok(())
        } else {
            Err(Denied {
                status: StatusCode::UNAUTHORIZED,
                reason: "invalid-token",
                title: "The bearer token is not accepted",
                detail: "the token is unknown or was revoked".into(),
                challenge: Some(challenge(Some("invalid_token"))),
            })
        }
    }

    fn check_timestamp(&self, timestamp: u64) -> Result<(), Denied> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let tolerance = self.tolerance().as_secs();
        if now.abs_diff(timestamp) <= tolerance {
            return Ok(());
        }
        let (when, fix) = if timestamp < now {
            (
                "too old",
                "sign each send (and each resend) at the time it is sent",
            )
        } else {
            ("in the future", "check the sender's clock")
        };
        Err(Denied {
            status: StatusCode::UNAUTHORIZED,
            reason: "stale-timestamp",
            title: "The webhook timestamp is outside the tolerance",
            detail: format!(
                "`{WEBHOOK_TIMESTAMP_HEADER}: {timestamp}` is {when}: the server's clock reads \
                 {now} and accepts ±{tolerance} s ({fix}); a replayed request is refused"
            ),
            challenge: Some(webhook_challenge()),
        })
    }
}

fn webhook_challenge() -> String {
    "Webhook realm=\"ingest\", headers=\"webhook-id webhook-timestamp webhook-signature\"".into()
}

/// The three Standard Webhooks headers of a request.
struct Signed<'a> {
    id: &'a str,
    timestamp_text: &'a str,
    timestamp: u64,
    signatures: &'a str,
}

impl<'a> Signed<'a> {
    fn read(headers: &'a HeaderMap) -> Result<Self, Denied> {
        let get = |name: &'static str| -> Result<&'a str, Denied> {
            let value = headers.get(name).ok_or_else(|| Denied {
                status: StatusCode::UNAUTHORIZED,
                reason: "unauthenticated",
                title: "A webhook signature is required",
                detail: format!(
                    "the `{name}` header is missing: send `{WEBHOOK_ID_HEADER}`, \
                     `{WEBHOOK_TIMESTAMP_HEADER}` and `{WEBHOOK_SIGNATURE_HEADER}` (Standard \
                     Webhooks)"
                ),
                challenge: Some(webhook_challenge()),
            })?;
            value.to_str().map(str::trim).map_err(|_| Denied {
                status: StatusCode::UNAUTHORIZED,
                reason: "unauthenticated",
                title: "A webhook header is not readable",
                detail: format!("the `{name}` header is not visible ASCII"),
                challenge: Some(webhook_challenge()),
            })
        };
        let id = get(WEBHOOK_ID_HEADER)?;
        let timestamp_text = get(WEBHOOK_TIMESTAMP_HEADER)?;
        let signatures = get(WEBHOOK_SIGNATURE_HEADER)?;
        let timestamp = timestamp_text.parse::<u64>().map_err(|_| Denied {
            status: StatusCode::UNAUTHORIZED,
            reason: "unauthenticated",
            title: "The webhook timestamp is not a number",
            detail: format!(
                "`{WEBHOOK_TIMESTAMP_HEADER}: {timestamp_text}` must be whole seconds since the \
                 Unix epoch"
            ),
            challenge: Some(webhook_challenge()),
        })?;
        Ok(Self {
            id,
            timestamp_text,
            timestamp,
            signatures,
        })
    }
}

/// Seconds since the Unix epoch now: the `webhook-timestamp` of a send.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of the Standard Webhooks reference libraries.
    #[test]
    fn signs_like_the_reference_implementation() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let auth = IngestAuth::default()
            .with_bearer("tok-very-secret")
            .unwrap()
            .with_webhook_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        let shown = format!("{auth:?}");
        assert!(!shown.contains("tok-very-secret"), "{shown}");
        assert!(!shown.contains("MfKQ9r8G"), "{shown}");
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(format!("{secret:?}"), "WebhookSecret(<redacted>)");
    }

    #[test]
    fn a_secret_that_is_not_base64_is_refused() {
        let e = WebhookSecret::parse("whsec_not base64!").unwrap_err();
        assert!(e.to_string().contains("whsec_"), "{e}");
    }
}
