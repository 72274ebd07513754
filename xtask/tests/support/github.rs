//! The GitHub REST endpoints `pr-comment` calls, served on 127.0.0.1 for the tests: issue
//! comments listed page by page with `Link` headers (next pages under `/repositories/{id}/…`,
//! as GitHub does, so a client that builds its own page URLs fails), created, updated and
//! deleted, with GitHub's checks: the bearer token, the media type and API version headers,
//! a JSON body with a string `body` of at most 65,536 characters. Every request is recorded;
//! chosen requests can be answered with an error status instead.

#![allow(dead_code)] // each test uses its own part

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use serde_json::{json, Value};

/// The repository id GitHub's page links use.
pub const REPO_ID: u64 = 4242;

#[derive(Clone, Debug)]
pub struct StoredComment {
    pub id: u64,
    pub body: String,
    pub login: String,
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub url: String,
    pub authorization: Option<String>,
    pub accept: Option<String>,
    pub api_version: Option<String>,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

/// An error to answer instead of serving a request.
#[derive(Clone, Debug)]
pub struct Fault {
    /// Only requests with this method (any when `None`).
    pub method: Option<&'static str>,
    pub status: u16,
    /// Serve the request first, then answer the error (an answer lost on the way back).
    pub after_serving: bool,
}

pub struct State {
    pub token: String,
    /// `owner/name`.
    pub repo: String,
    /// The one pull request that exists.
    pub number: u64,
    pub comments: Vec<StoredComment>,
    next_id: u64,
    pub requests: Vec<Recorded>,
    pub faults: VecDeque<Fault>,
    /// The largest page served, whatever `per_page` asks for (GitHub's is 100).
    pub max_per_page: u64,
    /// Where page links point instead of this server (a server linking elsewhere).
    pub link_base: Option<String>,
}

impl State {
    pub fn add_comment(&mut self, body: &str, login: &str) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.comments.push(StoredComment {
            id,
            body: body.to_owned(),
            login: login.to_owned(),
        });
        id
    }

    pub fn marked(&self, marker: &str) -> Vec<StoredComment> {
        self.comments
            .iter()
            .filter(|c| c.body.starts_with(marker))
            .cloned()
            .collect()
    }

    pub fn count(&self, method: &str) -> usize {
        self.requests.iter().filter(|r| r.method == method).count()
    }
}

pub struct FakeGithub {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    state: Arc<Mutex<State>>,
    /// `http://127.0.0.1:PORT`: what GITHUB_API_URL is set to.
    pub url: String,
}

impl FakeGithub {
    /// Serves repository `repo` with pull request `number`, accepting `token`.
    pub fn start(token: &str, repo: &str, number: u64) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let url = format!("http://127.0.0.1:{port}");
        let state = Arc::new(Mutex::new(State {
            token: token.to_owned(),
            repo: repo.to_owned(),
            number,
            comments: Vec::new(),
            next_id: 1000,
            requests: Vec::new(),
            faults: VecDeque::new(),
            max_per_page: 100,
            link_base: None,
        }));
        let thread = {
            let (server, state, url) = (Arc::clone(&server), Arc::clone(&state), url.clone());
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    serve(request, &state, &url);
                }
            })
        };
        Self {
            server,
            thread: Some(thread),
            state,
            url,
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("the fake's state")
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn header(request: &tiny_http::Request, name: &'static str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str().to_owned())
}

fn error_body(status: u16) -> Value {
    match status {
        401 => json!({ "message": "Bad credentials", "status": "401" }),
        403 => json!({ "message": "Resource not accessible by integration", "status": "403" }),
        404 => json!({ "message": "Not Found", "status": "404" }),
        422 => json!({
            "message": "Validation Failed",
            "errors": [{ "resource": "IssueComment", "code": "custom", "field": "body",
                         "message": "body is too long (maximum is 65536 characters)" }],
            "status": "422"
        }),
        _ => json!({ "message": "Server Error" }),
    }
}

struct Answer {
    status: u16,
    body: Option<Value>,
    link: Option<String>,
}

impl Answer {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            link: None,
        }
    }

    fn error(status: u16) -> Self {
        Self::json(status, error_body(status))
    }
}

fn serve(mut request: tiny_http::Request, state: &Mutex<State>, base: &str) {
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let recorded = Recorded {
        method: request.method().as_str().to_owned(),
        url: request.url().to_owned(),
        authorization: header(&request, "Authorization"),
        accept: header(&request, "Accept"),
        api_version: header(&request, "X-GitHub-Api-Version"),
        user_agent: header(&request, "User-Agent"),
        content_type: header(&request, "Content-Type"),
        body,
    };
    let answer = {
        let mut state = state.lock().expect("the fake's state");
        state.requests.push(recorded.clone());
        let fault = match state.faults.front() {
            Some(f) if f.method.is_none_or(|m| m == recorded.method) => state.faults.pop_front(),
            _ => None,
        };
        match fault {
            Some(f) if f.after_serving => {
                route(&mut state, &recorded, base);
                Answer::error(f.status)
            }
            Some(f) => Answer::error(f.status),
            None => route(&mut state, &recorded, base),
        }
    };
    let mut response =
        tiny_http::Response::from_string(answer.body.map(|b| b.to_string()).unwrap_or_default())
            .with_status_code(answer.status)
            .with_header(
                tiny_http::Header::from_bytes("Content-Type", "application/json; charset=utf-8")
                    .expect("a header"),
            );
    if let Some(link) = answer.link {
        response =
            response.with_header(tiny_http::Header::from_bytes("Link", link).expect("a header"));
    }
    let _ = request.respond(response);
}

fn comment_json(c: &StoredComment, state: &State) -> Value {
    json!({
        "id": c.id,
        "body": c.body,
        "user": { "login": c.login, "type": if c.login.ends_with("[bot]") { "Bot" } else { "User" } },
        "html_url": format!("https://github.example/{}/pull/{}#issuecomment-{}", state.repo, state.number, c.id),
    })
}

/// `{"body": "<string>"}` and nothing else, within GitHub's length limit.
fn comment_body(recorded: &Recorded) -> Result<String, Answer> {
    let parsed: Value = serde_json::from_str(&recorded.body)
        .map_err(|_| Answer::json(400, json!({ "message": "Problems parsing JSON" })))?;
    let body = parsed
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("body"))
        .and_then(|b| b.as_str())
        .ok_or_else(|| Answer::error(422))?;
    if body.chars().count() > 65_536 {
        return Err(Answer::error(422));
    }
    Ok(body.to_owned())
}

fn query(url: &str, name: &str) -> Option<u64> {
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
}

fn route(state: &mut State, r: &Recorded, base: &str) -> Answer {
    if r.authorization.as_deref() != Some(format!("Bearer {}", state.token).as_str()) {
        return Answer::error(401);
    }
    if r.accept.as_deref() != Some("application/vnd.github+json")
        || r.api_version.as_deref() != Some("2022-11-28")
        || r.user_agent.as_deref().is_none_or(str::is_empty)
    {
        return Answer::json(400, json!({ "message": "missing GitHub API headers" }));
    }
    let path = r.url.split('?').next().unwrap_or_default();
    let repo_prefix = format!("/repos/{}/", state.repo);
    let id_prefix = format!("/repositories/{REPO_ID}/");
    let rest = match path
        .strip_prefix(&repo_prefix)
        .or_else(|| path.strip_prefix(&id_prefix))
    {
        Some(rest) => rest,
        None => return Answer::error(404),
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match (r.method.as_str(), parts.as_slice()) {
        ("GET", ["issues", n, "comments"]) => {
            if n.parse::<u64>().ok() != Some(state.number) {
                return Answer::error(404);
            }
            let per_page = query(&r.url, "per_page")
                .unwrap_or(30)
                .clamp(1, state.max_per_page) as usize;
            let page = query(&r.url, "page").unwrap_or(1).max(1) as usize;
            let pages = state.comments.len().div_ceil(per_page).max(1);
            let items: Vec<Value> = state
                .comments
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|c| comment_json(c, state))
                .collect();
            let base = state.link_base.as_deref().unwrap_or(base);
            let link_to = |p: usize| {
                format!(
                    "{base}/repositories/{REPO_ID}/issues/{}/comments?page={p}&per_page={per_page}",
                    state.number
                )
            };
            let mut links = Vec::new();
            if page > 1 {
                links.push(format!("<{}>; rel=\"prev\"", link_to(page - 1)));
            }
            if page < pages {
                links.push(format!("<{}>; rel=\"next\"", link_to(page + 1)));
                links.push(format!("<{}>; rel=\"last\"", link_to(pages)));
            }
            if page > 1 {
                links.push(format!("<{}>; rel=\"first\"", link_to(1)));
            }
            Answer {
                status: 200,
                body: Some(Value::Array(items)),
                link: (!links.is_empty()).then(|| links.join(", ")),
            }
        }
        ("POST", ["issues", n, "comments"]) => {
            if n.parse::<u64>().ok() != Some(state.number) {
                return Answer::error(404);
            }
            match comment_body(r) {
                Ok(body) => {
                    let id = state.add_comment(&body, "github-actions[bot]");
                    let c = state.comments.last().expect("just added").clone();
                    debug_assert_eq!(c.id, id);
                    Answer::json(201, comment_json(&c, state))
                }
                Err(a) => a,
            }
        }
        ("PATCH", ["issues", "comments", id]) => {
            let body = match comment_body(r) {
                Ok(b) => b,
                Err(a) => return a,
            };
            let id: Option<u64> = id.parse().ok();
            match state.comments.iter().position(|c| Some(c.id) == id) {
                Some(i) => {
                    state.comments[i].body = body;
                    let c = state.comments[i].clone();
                    Answer::json(200, comment_json(&c, state))
                }
                None => Answer::error(404),
            }
        }
        ("DELETE", ["issues", "comments", id]) => {
            let id: Option<u64> = id.parse().ok();
            match state.comments.iter().position(|c| Some(c.id) == id) {
                Some(i) => {
                    state.comments.remove(i);
                    Answer {
                        status: 204,
                        body: None,
                        link: None,
                    }
                }
                None => Answer::error(404),
            }
        }
        _ => Answer::error(404),
    }
}
