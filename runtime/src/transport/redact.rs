//! The one way a binding shows where it connects: every URL, URI or broker list in a `Debug`,
//! a `Display` or an error goes through [`url`], and every message that may quote a client
//! library's words about it through [`scrub`], so a password or token in a configuration never
//! reaches a log.

use std::fmt;

/// What replaces a secret.
pub const MASK: &str = "***";

/// Query parameters whose value is a credential (matched case-insensitively, as a substring of
/// the parameter name).
const SECRET_PARAMS: &[&str] = &["pass", "secret", "token", "key", "auth", "credential"];

/// `url` with its credentials masked: the password of `scheme://user:password@host` (the user
/// is kept, it says which account failed), a lone token of `scheme://token@host`, and the value
/// of any query parameter naming a credential (`?password=…`, `?auth_token=…`). A comma-separated
/// list (Kafka's `bootstrap.servers`) is masked item by item. Anything else is unchanged.
pub fn url(url: &str) -> String {
    url.split(',').map(one).collect::<Vec<_>>().join(",")
}

/// Settings keys whose value is a credential (Kafka's `sasl.password`, `ssl.key.password`).
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|s| key.contains(s))
}

/// `text` with every credential of `url` replaced by [`MASK`]: for messages that quote a
/// client library's error, which may repeat the URL or a part of it.
pub fn scrub(text: &str, url: &str) -> String {
    let mut text = text.to_owned();
    for secret in secrets(url) {
        text = text.replace(&secret, MASK);
    }
    text
}

/// A value whose `Debug` and `Display` show [`url`] of it, for `Debug` impls of configurations.
pub struct Redacted<'a>(pub &'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&url(self.0), f)
    }
}

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&url(self.0))
    }
}

/// Byte range of the authority (`user:password@host:port`) of one URL.
fn authority(item: &str) -> (usize, usize) {
    let start = item.find("://").map_or(0, |i| i + 3);
    let end = item[start..]
        .find(['/', '?', '#'])
        .map_or(item.len(), |i| start + i);
    (start, end)
}

fn one(item: &str) -> String {
    let (start, end) = authority(item);
    let mut out = String::with_capacity(item.len());
    out.push_str(&item[..start]);
    match item[start..end].rfind('@') {
        Some(at) => {
            let userinfo = &item[start..start + at];
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(MASK);
                }
                None => out.push_str(MASK),
            }
            out.push_str(&item[start + at..end]);
        }
        None => out.push_str(&item[start..end]),
    }
    let rest = &item[end..];
    match rest.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((name, value)) if is_secret_key(name) && !value.is_empty() => {
                        format!("{name}={MASK}")
                    }
                    _ => param.to_owned(),
                })
                .collect();
            out.push_str(&params.join("&"));
            if let Some(fragment) = fragment {
                out.push('#');
                out.push_str(fragment);
            }
        }
        None => out.push_str(rest),
    }
    out
}

/// The credentials in `url`, longest first (so a secret containing another is masked whole).
fn secrets(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    for item in url.split(',') {
        let (start, end) = authority(item);
        if let Some(at) = item[start..end].rfind('@') {
            let userinfo = &item[start..start + at];
            let secret = userinfo.split_once(':').map_or(userinfo, |(_, p)| p);
            found.push(secret.to_owned());
        }
        if let Some((_, query)) = item[end..].split_once('?') {
            let query = query.split('#').next().unwrap_or_default();
            for param in query.split('&') {
                if let Some((name, value)) = param.split_once('=') {
                    if is_secret_key(name) {
                        found.push(value.to_owned());
                    }
                }
            }
        }
    }
    found.retain(|s| !s.is_empty());
    found.sort_by_key(|s| std::cmp::Reverse(s.len()));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords_tokens_and_secret_parameters() {
        assert_eq!(
            url("amqp://guest:secret@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(url("redis://:pw@h:1/0"), "redis://:***@h:1/0");
        assert_eq!(url("nats://s3cr3t-token@h:4222"), "nats://***@h:4222");
        assert_eq!(
            url("https://api.example/x?auth_token=abc&page=2#top"),
            "https://api.example/x?auth_token=***&page=2#top"
        );
        assert_eq!(
            url("u:p@k1:9092,k2:9092"),
            "u:***@k1:9092,k2:9092",
            "a broker list, item by item"
        );
        assert_eq!(url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(url("amqp://host"), "amqp://host");
        // An `@` after the authority is a path, not credentials.
        assert_eq!(url("http://h/a@b"), "http://h/a@b");
    }

    #[test]
    fn scrubs_a_url_s_secrets_from_any_text() {
        let text = "failed to reach nats://alice:hunter2@h:1 (user alice, password hunter2)";
        assert_eq!(
            scrub(text, "nats://alice:hunter2@h:1"),
            "failed to reach nats://alice:***@h:1 (user alice, password ***)"
        );
        assert_eq!(scrub("nothing here", "nats://h:1"), "nothing here");
        assert_eq!(
            format!("{:?}", Redacted("redis://:pw@h")),
            "\"redis://:***@h\""
        );
    }
}
