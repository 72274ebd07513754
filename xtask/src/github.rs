//! The few GitHub REST endpoints `pr-comment` needs, over a blocking HTTP client:
//!
//! - `GET    /repos/{owner}/{repo}/issues/{number}/comments?per_page=100`, every page, by
//!   following the `Link: <…>; rel="next"` header as given (GitHub's next-page URLs need not
//!   have the path we asked for);
//! - `POST   /repos/{owner}/{repo}/issues/{number}/comments` `{"body": …}` → 201;
//! - `PATCH  /repos/{owner}/{repo}/issues/comments/{id}` `{"body": …}` → 200;
//! - `DELETE /repos/{owner}/{repo}/issues/comments/{id}` → 204.
//!
//! Every request carries `Authorization: Bearer <token>`, `Accept: application/vnd.github+json`
//! and `X-GitHub-Api-Version: 2022-11-28`. 500, 502, 503, 504 and transport failures are retried
//! with exponential backoff a bounded number of times, except a create (POST), which is not
//! idempotent: [`crate::pr_comment`] retries it only after listing again, so a create that
//! reached GitHub before its answer was lost is never repeated.

use std::time::Duration;

use serde::Deserialize;

/// The REST API version this client is written against.
pub const API_VERSION: &str = "2022-11-28";
/// GitHub's largest page of issue comments.
pub const PER_PAGE: u32 = 100;

/// A failed call, with what the CLI should tell the user and which exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    /// GitHub answered with an error status that retrying does not fix.
    #[error("GitHub answered {status} to {method} {path}: {message}{}", hint_for(*.status, .rate_limited))]
    Status {
        status: u16,
        method: &'static str,
        path: String,
        /// GitHub's `message` (and the first validation error, for 422), or the reason phrase.
        message: String,
        /// `x-ratelimit-remaining: 0`: a 403 or 429 caused by the rate limit, not permissions.
        rate_limited: bool,
    },
    /// Still failing after every retry: a 5xx or a transport error.
    #[error("GitHub is unavailable: {method} {path} failed {attempts} times, last: {last}")]
    Unavailable {
        method: &'static str,
        path: String,
        attempts: u32,
        last: String,
    },
    /// A response that is not what the endpoint documents.
    #[error("unexpected answer to {method} {path}: {message}")]
    Protocol {
        method: &'static str,
        path: String,
        message: String,
    },
}

fn hint_for(status: u16, rate_limited: &bool) -> &'static str {
    if *rate_limited {
        return " (the API rate limit is used up: run again after it resets)";
    }
    match status {
        401 => " (the token is missing, expired or wrong: check GITHUB_TOKEN)",
        403 => {
            " (the token may not write here: give the job `permissions: pull-requests: write`; \
             a pull request from a fork only ever gets a read-only token)"
        }
        404 => {
            " (no such repository or pull request, or the token cannot see it: check \
             GITHUB_REPOSITORY and the pull request number)"
        }
        422 => " (GitHub rejected the comment's content)",
        _ => "",
    }
}

impl GithubError {
    /// Exit codes: 4 for 401, 5 for 403, 6 for 404, 7 for 422, 8 for anything else (other
    /// statuses, unavailable after retries, protocol errors). 3 is the CLI's own usage error.
    pub fn exit_code(&self) -> u8 {
        match self {
            GithubError::Status { status: 401, .. } => 4,
            GithubError::Status { status: 403, .. } => 5,
            GithubError::Status { status: 404, .. } => 6,
            GithubError::Status { status: 422, .. } => 7,
            _ => 8,
        }
    }

    /// Whether the same call may succeed later (5xx or transport failure).
    pub fn is_transient(&self) -> bool {
        matches!(self, GithubError::Unavailable { .. })
    }
}

/// How often and how long to retry a transient failure.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Tries in all (1 = no retry).
    pub attempts: u32,
    /// Wait before the first retry; doubled before each further one.
    pub base: Duration,
}

impl Retry {
    /// The wait after failed try number `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.base.saturating_mul(1u32 << attempt.min(16))
    }
}

/// One issue comment, as far as `pr-comment` reads it.
#[derive(Clone, Debug, Deserialize)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

impl Comment {
    pub fn body(&self) -> &str {
        self.body.as_deref().unwrap_or("")
    }
}

pub struct Client {
    agent: ureq::Agent,
    /// `https://api.github.com`, without a trailing slash.
    api: String,
    token: String,
    retry: Retry,
}

enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    fn name(&self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

struct Answer {
    status: u16,
    link: Option<String>,
    rate_limited: bool,
    body: String,
}

impl Client {
    pub fn new(api: &str, token: &str, retry: Retry) -> Self {
        let config = ureq::Agent::config_builder()
            // Error statuses are answers to read (GitHub's message), not transport errors.
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .user_agent(concat!("event-contracts-xtask/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            agent: config.into(),
            api: api.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            retry,
        }
    }

    pub fn retry(&self) -> Retry {
        self.retry
    }

    /// Every comment of issue (pull request) `number` in `repo` (`owner/name`), oldest first.
    pub fn list_comments(&self, repo: &str, number: u64) -> Result<Vec<Comment>, GithubError> {
        let mut url = format!(
            "{}/repos/{repo}/issues/{number}/comments?per_page={PER_PAGE}",
            self.api
        );
        let mut all = Vec::new();
        // GitHub caps a listing at far fewer pages; the bound only stops a server that links
        // pages in a circle.
        for _ in 0..1000 {
            let answer = self.call(Method::Get, &url, None, true)?;
            let path = self.path_of(&url);
            let page: Vec<Comment> = expect_json(answer.status, 200, &answer, "GET", &path)?;
            all.extend(page);
            match answer.link.as_deref().and_then(next_link) {
                Some(next) => {
                    // The token goes only where the API is: a next page elsewhere is refused.
                    if !next.starts_with(&format!("{}/", self.api)) {
                        return Err(GithubError::Protocol {
                            method: "GET",
                            path,
                            message: format!(
                                "the next page is outside the API ({next}); not following it"
                            ),
                        });
                    }
                    url = next;
                }
                None => return Ok(all),
            }
        }
        Err(GithubError::Protocol {
            method: "GET",
            path: self.path_of(&url),
            message: "more than 1000 pages of comments".into(),
        })
    }

    /// Creates a comment; tried once (see the module documentation).
    pub fn create_comment(
        &self,
        repo: &str,
        number: u64,
        body: &str,
    ) -> Result<Comment, GithubError> {
        let url = format!("{}/repos/{repo}/issues/{number}/comments", self.api);
        let answer = self.call(Method::Post, &url, Some(body), false)?;
        expect_json(answer.status, 201, &answer, "POST", &self.path_of(&url))
    }

    pub fn update_comment(&self, repo: &str, id: u64, body: &str) -> Result<Comment, GithubError> {
        let url = format!("{}/repos/{repo}/issues/comments/{id}", self.api);
        let answer = self.call(Method::Patch, &url, Some(body), true)?;
        expect_json(answer.status, 200, &answer, "PATCH", &self.path_of(&url))
    }

    pub fn delete_comment(&self, repo: &str, id: u64) -> Result<(), GithubError> {
        let url = format!("{}/repos/{repo}/issues/comments/{id}", self.api);
        let answer = self.call(Method::Delete, &url, None, true)?;
        if answer.status == 204 {
            Ok(())
        } else {
            Err(status_error(&answer, "DELETE", &self.path_of(&url)))
        }
    }

    /// The URL without the API base, for messages.
    fn path_of(&self, url: &str) -> String {
        url.strip_prefix(&self.api).unwrap_or(url).to_owned()
    }

    /// One request, retried on 5xx and transport failures when `idempotent`. Returns the
    /// last answer of any other status for the caller to judge.
    fn call(
        &self,
        method: Method,
        url: &str,
        comment_body: Option<&str>,
        idempotent: bool,
    ) -> Result<Answer, GithubError> {
        let attempts = if idempotent {
            self.retry.attempts.max(1)
        } else {
            1
        };
        let mut last = String::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                std::thread::sleep(self.retry.delay(attempt - 1));
            }
            match self.send_once(&method, url, comment_body) {
                Ok(answer) if matches!(answer.status, 500 | 502 | 503 | 504) => {
                    last = format!("HTTP {}", answer.status);
                }
                Ok(answer) => return Ok(answer),
                Err(e) => last = e.to_string(),
            }
        }
        Err(GithubError::Unavailable {
            method: method.name(),
            path: self.path_of(url),
            attempts,
            last,
        })
    }

    fn send_once(
        &self,
        method: &Method,
        url: &str,
        comment_body: Option<&str>,
    ) -> Result<Answer, ureq::Error> {
        let auth = format!("Bearer {}", self.token);
        let json = comment_body.map(|b| serde_json::json!({ "body": b }).to_string());
        let json = json.as_deref().unwrap_or("{}");
        let mut response = match method {
            Method::Get => with_api_headers(self.agent.get(url), &auth).call()?,
            Method::Delete => with_api_headers(self.agent.delete(url), &auth).call()?,
            Method::Post => with_api_headers(self.agent.post(url), &auth)
                .content_type("application/json")
                .send(json)?,
            Method::Patch => with_api_headers(self.agent.patch(url), &auth)
                .content_type("application/json")
                .send(json)?,
        };
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let link = header("link");
        let rate_limited = header("x-ratelimit-remaining").as_deref() == Some("0");
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string()?;
        Ok(Answer {
            status,
            link,
            rate_limited,
            body,
        })
    }
}

/// The headers GitHub's REST API expects on every request.
fn with_api_headers<B>(request: ureq::RequestBuilder<B>, auth: &str) -> ureq::RequestBuilder<B> {
    request
        .header("Authorization", auth)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", API_VERSION)
}

fn expect_json<T: serde::de::DeserializeOwned>(
    status: u16,
    expected: u16,
    answer: &Answer,
    method: &'static str,
    path: &str,
) -> Result<T, GithubError> {
    if status != expected {
        return Err(status_error(answer, method, path));
    }
    serde_json::from_str(&answer.body).map_err(|e| GithubError::Protocol {
        method,
        path: path.to_owned(),
        message: format!("HTTP {status} with a body that is not the documented JSON: {e}"),
    })
}

/// GitHub's error body: `{"message": "...", "errors": [{"message"|"code"|"field": ...}]}`.
fn status_error(answer: &Answer, method: &'static str, path: &str) -> GithubError {
    let parsed: Option<serde_json::Value> = serde_json::from_str(&answer.body).ok();
    let mut message = parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(|m| m.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| reason(answer.status).to_owned());
    let first_error = parsed
        .as_ref()
        .and_then(|v| v.get("errors"))
        .and_then(|e| e.get(0))
        .and_then(|e| {
            e.get("message")
                .or_else(|| e.get("code"))
                .and_then(|m| m.as_str())
        });
    if let Some(detail) = first_error {
        message = format!("{message}: {detail}");
    }
    GithubError::Status {
        status: answer.status,
        method,
        path: path.to_owned(),
        // One line, whatever the server sent.
        message: message.split_whitespace().collect::<Vec<_>>().join(" "),
        rate_limited: answer.rate_limited,
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        _ => "error",
    }
}

/// The `rel="next"` URL of a `Link` header
/// (`<https://…?page=2>; rel="next", <https://…?page=5>; rel="last"`).
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        is_next.then(|| target.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_is_found_among_the_others() {
        let h = r#"<https://api.github.com/repositories/1/issues/7/comments?page=1>; rel="prev", <https://api.github.com/repositories/1/issues/7/comments?page=3>; rel="next", <https://api.github.com/repositories/1/issues/7/comments?page=5>; rel="last""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://api.github.com/repositories/1/issues/7/comments?page=3")
        );
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="first""#), None);
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn backoff_doubles() {
        let r = Retry {
            attempts: 4,
            base: Duration::from_millis(10),
        };
        assert_eq!(r.delay(0), Duration::from_millis(10));
        assert_eq!(r.delay(2), Duration::from_millis(40));
    }
}
