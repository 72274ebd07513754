//! The HTML catalog in a real browser: `cargo xtask docs` writes the site, headless Chromium
//! (Debian's `chromium`, driven through `chromedriver` over the WebDriver protocol) opens every
//! page from `file://`, and the test checks that no page logs a console error or asks for
//! anything outside the site, that every internal link reaches an existing page and anchor,
//! that the search box filters, and writes screenshots of the index, a system page and an
//! event page to `target/doc-catalog-screenshots/`.
//!
//! `.ci/chromium.sh` installs `chromium` and `chromium-driver` with apt when they are missing.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// The key WebDriver uses for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver, stopped when dropped.
struct Driver {
    child: Child,
    base: String,
    agent: ureq::Agent,
    session: String,
}

impl Driver {
    fn start(chromium: &str, chromedriver: &str) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            agent,
            session: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = driver
                .agent
                .get(format!("{}/status", driver.base))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .and_then(|body| serde_json::from_str::<Value>(&body).ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        let created = driver.post(
            "/session",
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1280,1000"]
                },
                "goog:loggingPrefs": {"browser": "ALL"}
            }}}),
        );
        driver.session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        driver
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self
                .agent
                .post(&url)
                .content_type("application/json")
                .send(body.unwrap_or_else(|| json!({})).to_string().as_str()),
        };
        let text = response
            .and_then(|mut r| r.body_mut().with_config().limit(64 << 20).read_to_string())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let value: Value = serde_json::from_str(&text).expect("WebDriver answers JSON");
        if let Some(error) = value["value"].get("error") {
            panic!("{method} {path}: {error}: {}", value["value"]["message"]);
        }
        value
    }

    fn post(&self, path: &str, body: Value) -> Value {
        self.call("POST", path, Some(body))
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn open(&self, url: &str) {
        self.post(&self.session_path("/url"), json!({ "url": url }));
    }

    fn script(&self, script: &str) -> Value {
        self.post(
            &self.session_path("/execute/sync"),
            json!({"script": script, "args": []}),
        )["value"]
            .clone()
    }

    /// Browser log entries since the last call (chromedriver empties the log when read).
    fn console_errors(&self) -> Vec<String> {
        let logs = self.post(&self.session_path("/se/log"), json!({"type": "browser"}));
        logs["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn element(&self, css: &str) -> String {
        let found = self.post(
            &self.session_path("/element"),
            json!({"using": "css selector", "value": css}),
        );
        found["value"][ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    fn type_into(&self, element: &str, text: &str) {
        self.post(
            &self.session_path(&format!("/element/{element}/clear")),
            json!({}),
        );
        self.post(
            &self.session_path(&format!("/element/{element}/value")),
            json!({ "text": text }),
        );
    }

    fn screenshot(&self, to: &Path) {
        let shot = self.call("GET", &self.session_path("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["value"].as_str().expect("a base64 screenshot"))
            .expect("valid base64");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
        std::fs::write(to, png).expect("screenshot written");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one page holds: its element ids and the links it makes (resolved by the browser).
#[derive(Debug, Default)]
struct Page {
    ids: BTreeSet<String>,
    links: Vec<String>,
}

/// Every link that does not land on a page of the site (or on an anchor the target page has),
/// and every page no link reaches from the index, as readable complaints. `pages` is keyed by
/// the page's `file://` URL.
fn broken_links(index: &str, pages: &BTreeMap<String, Page>) -> Vec<String> {
    let mut problems = Vec::new();
    for (from, page) in pages {
        for link in &page.links {
            let (target, anchor) = link.split_once('#').unwrap_or((link.as_str(), ""));
            if !target.starts_with("file://") {
                problems.push(format!("{from}: link {link} leaves the site"));
                continue;
            }
            match pages.get(target) {
                None => problems.push(format!("{from}: link {link}: no such page")),
                Some(to) if !anchor.is_empty() && !to.ids.contains(anchor) => {
                    problems.push(format!("{from}: link {link}: no element with id {anchor}"))
                }
                Some(_) => {}
            }
        }
    }
    let mut reached = BTreeSet::from([index.to_owned()]);
    let mut todo = vec![index.to_owned()];
    while let Some(url) = todo.pop() {
        for link in pages
            .get(&url)
            .map(|p| p.links.as_slice())
            .unwrap_or_default()
        {
            let target = link.split('#').next().unwrap_or_default().to_owned();
            if pages.contains_key(&target) && reached.insert(target.clone()) {
                todo.push(target);
            }
        }
    }
    for url in pages.keys().filter(|url| !reached.contains(*url)) {
        problems.push(format!("{url}: no link from the index reaches it"));
    }
    problems
}

fn html_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("site folder readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            html_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "html") {
            out.push(path);
        }
    }
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

const PAGE_FACTS: &str = "return {
  ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  resources: performance.getEntriesByType('resource').map(r => r.name),
  title: document.title,
  h1: (document.querySelector('h1') || {}).textContent || ''
};";

const VISIBLE_EVENTS: &str = "return Array.from(document.querySelectorAll('#events li'))
  .filter(li => li.getClientRects().length > 0)
  .map(li => li.querySelector('a').textContent);";

#[test]
fn the_catalog_site_works_in_headless_chromium() {
    let root = root();
    let setup = Command::new("bash")
        .arg(root.join(".ci/chromium.sh"))
        .output()
        .expect(".ci/chromium.sh runs");
    assert!(
        setup.status.success(),
        ".ci/chromium.sh failed: {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let paths = String::from_utf8(setup.stdout).expect("paths are UTF-8");
    let mut lines = paths.lines().rev();
    let chromedriver = lines.next().expect("chromedriver path").to_owned();
    let chromium = lines.next().expect("chromium path").to_owned();

    let work = tempfile::tempdir_in(root.join("target")).expect("a temp folder in target/");
    let site = work.path().join("site");
    let started = Instant::now();
    let docs = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["docs", "--out"])
        .arg(&site)
        .output()
        .expect("xtask docs runs");
    assert!(
        docs.status.success(),
        "cargo xtask docs failed: {}",
        String::from_utf8_lossy(&docs.stderr)
    );
    eprintln!("xtask docs: {} ms", started.elapsed().as_millis());

    let mut files = Vec::new();
    html_files(&site, &mut files);
    files.sort();
    assert!(
        files.len() > 70,
        "every system and event has a page: {files:?}"
    );

    let driver = Driver::start(&chromium, &chromedriver);
    // The console check must be able to fail: an error a page logs is seen.
    driver.open(&file_url(&site.join("index.html")));
    driver.script("console.error('probe from the test'); return null;");
    let probe = driver.console_errors();
    assert!(
        probe.iter().any(|e| e.contains("probe from the test")),
        "the browser log shows console errors: {probe:?}"
    );
    let mut pages = BTreeMap::new();
    let mut errors = Vec::new();
    for file in &files {
        let url = file_url(file);
        driver.open(&url);
        let facts = driver.script(PAGE_FACTS);
        for resource in facts["resources"].as_array().into_iter().flatten() {
            errors.push(format!("{url}: requested {resource}"));
        }
        if facts["h1"].as_str().unwrap_or_default().trim().is_empty() {
            errors.push(format!("{url}: no heading"));
        }
        errors.extend(
            driver
                .console_errors()
                .into_iter()
                .map(|e| format!("{url}: console: {e}")),
        );
        let strings = |key: &str| -> Vec<String> {
            facts[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        pages.insert(
            url,
            Page {
                ids: strings("ids").into_iter().collect(),
                links: strings("links"),
            },
        );
    }
    assert!(
        errors.is_empty(),
        "pages with problems:\n{}",
        errors.join("\n")
    );
    let index = file_url(&site.join("index.html"));
    let broken = broken_links(&index, &pages);
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    let links: usize = pages.values().map(|p| p.links.len()).sum();
    eprintln!("{} pages, {links} links, all resolve", pages.len());

    // The search box, typed into as a person would.
    driver.open(&index);
    let all: Vec<Value> = driver
        .script(VISIBLE_EVENTS)
        .as_array()
        .cloned()
        .unwrap_or_default();
    let search = driver.element("#search");
    driver.type_into(&search, "chunk_id");
    let by_field = driver.script(VISIBLE_EVENTS);
    let by_field: Vec<&str> = by_field
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        by_field.contains(&"AudioChunkReceived") && by_field.len() < all.len(),
        "a field name keeps exactly the events with that field: {by_field:?} of {}",
        all.len()
    );
    assert!(
        !by_field.contains(&"capture.alive"),
        "capture.alive has no chunk_id"
    );
    driver.type_into(&search, "capture.alive");
    assert_eq!(driver.script(VISIBLE_EVENTS), json!(["capture.alive"]));
    driver.type_into(&search, "no-such-event-or-field");
    assert_eq!(driver.script(VISIBLE_EVENTS), json!([]));
    assert_eq!(
        driver.script("return document.getElementById('no-match').getClientRects().length > 0"),
        json!(true),
        "an empty result says so"
    );
    assert!(driver.console_errors().is_empty());

    let shots = root.join("target/doc-catalog-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    driver.type_into(&search, "chunk_id");
    driver.screenshot(&shots.join("index-search.png"));
    driver.open(&index);
    driver.screenshot(&shots.join("index.png"));
    driver.open(&file_url(&site.join("main/dam/index.html")));
    driver.screenshot(&shots.join("system.png"));
    driver.open(&file_url(&site.join("main/audio/AudioChunkReceived.html")));
    driver.screenshot(&shots.join("event.png"));
}

#[test]
fn the_link_checker_flags_a_missing_page_a_missing_anchor_an_outside_link_and_an_orphan() {
    let page = |ids: &[&str], links: &[&str]| Page {
        ids: ids.iter().map(|s| s.to_string()).collect(),
        links: links.iter().map(|s| s.to_string()).collect(),
    };
    let mut pages = BTreeMap::new();
    pages.insert(
        "file:///s/index.html".to_owned(),
        page(
            &[],
            &[
                "file:///s/a.html#t-Good",
                "file:///s/a.html#t-Gone",
                "file:///s/missing.html",
                "https://cdn.example/x.js",
            ],
        ),
    );
    pages.insert(
        "file:///s/a.html".to_owned(),
        page(&["t-Good"], &["file:///s/index.html"]),
    );
    pages.insert("file:///s/orphan.html".to_owned(), page(&[], &[]));
    let problems = broken_links("file:///s/index.html", &pages);
    assert_eq!(
        problems,
        [
            "file:///s/index.html: link file:///s/a.html#t-Gone: no element with id t-Gone",
            "file:///s/index.html: link file:///s/missing.html: no such page",
            "file:///s/index.html: link https://cdn.example/x.js leaves the site",
            "file:///s/orphan.html: no link from the index reaches it",
        ]
    );
    pages.remove("file:///s/orphan.html");
    if let Some(index) = pages.get_mut("file:///s/index.html") {
        index.links.retain(|l| l == "file:///s/a.html#t-Good");
    }
    assert!(broken_links("file:///s/index.html", &pages).is_empty());
}
