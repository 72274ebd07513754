//! A throwaway git repository holding a small catalog (one flat AMQP system, `shop`), for
//! running `compat` and `diff` against real history without touching this repository's.

#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::compat::Outcome;

pub struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    /// An empty repository on branch `main`.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let repo = Self { dir };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo
    }

    /// The initial catalog, committed on `main`.
    pub fn with_catalog() -> Self {
        let repo = Self::new();
        repo.write("schemas/shop/manifest.json", &manifest(&[]));
        repo.write(
            "schemas/shop/events/order.placed.json",
            &order_placed(&OrderPlaced::default()),
        );
        repo.write("schemas/shop/events/order.shipped.json", ORDER_SHIPPED);
        // Generated, never compared: a change here must not show.
        repo.write("schemas/manifest.schema.json", "{}");
        repo.commit("initial catalog");
        repo
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn root_arg(&self) -> String {
        self.root().display().to_string()
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(self.root())
            .args(args)
            // Deterministic commits, whoever runs the tests, with whatever global config.
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    pub fn write(&self, path: &str, text: &str) {
        let p = self.root().join(path);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    pub fn remove(&self, path: &str) {
        std::fs::remove_file(self.root().join(path)).expect("remove");
    }

    pub fn rename(&self, from: &str, to: &str) {
        std::fs::rename(self.root().join(from), self.root().join(to)).expect("rename");
    }

    pub fn commit(&self, message: &str) {
        self.git(&["add", "--all"]);
        self.git(&["commit", "--quiet", "--no-gpg-sign", "-m", message]);
    }

    pub fn tag(&self, name: &str) {
        self.git(&["tag", name]);
    }

    /// `cargo xtask compat --repo <this> ARGS…`
    pub fn compat(&self, args: &[&str]) -> Outcome {
        let mut argv: Vec<String> = vec!["--repo".into(), self.root_arg()];
        argv.extend(args.iter().map(|s| s.to_string()));
        xtask::compat::run_cli(argv)
    }

    /// `cargo xtask diff --repo <this> ARGS…`
    pub fn diff(&self, args: &[&str]) -> Outcome {
        let mut argv: Vec<String> = vec!["--repo".into(), self.root_arg()];
        argv.extend(args.iter().map(|s| s.to_string()));
        xtask::diff::run_cli(argv)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }
}

/// The manifest, with extra event entries (JSON objects) after the two standard ones; each
/// standard entry's `compatibility` can be set through `placed_mode`.
pub fn manifest(extra: &[&str]) -> String {
    manifest_with("order.placed.json", None, extra)
}

pub fn manifest_with(placed_file: &str, placed_mode: Option<&str>, extra: &[&str]) -> String {
    let mode = placed_mode
        .map(|m| format!(",\n      \"compatibility\": \"{m}\""))
        .unwrap_or_default();
    let mut events = vec![
        format!(
            r#"    {{
      "name": "order.placed",
      "schema": "events/{placed_file}",
      "channel": {{ "transport": "amqp", "exchange": "events", "routing_key": "order.placed" }},
      "version": 1,
      "producers": ["checkout"],
      "consumers": ["billing", "mailer"]{mode}
    }}"#
        ),
        r#"    {
      "name": "order.shipped",
      "schema": "events/order.shipped.json",
      "channel": { "transport": "amqp", "exchange": "events", "routing_key": "order.shipped" },
      "version": 1,
      "producers": ["warehouse"],
      "consumers": ["mailer"]
    }"#
        .to_owned(),
    ];
    events.extend(extra.iter().map(|e| e.to_string()));
    format!(
        r#"{{
  "system": "shop",
  "title": "Shop events",
  "description": "A small catalog for the compat tests.",
  "source_document": "test.txt",
  "transport": "amqp",
  "envelope": {{ "kind": "flat" }},
  "payload_keys": "snake_case",
  "events": [
{}
  ]
}}
"#,
        events.join(",\n")
    )
}

/// Knobs of the `order.placed` schema.
#[derive(Clone)]
pub struct OrderPlaced {
    pub file: &'static str,
    /// Extra required properties.
    pub required: Vec<&'static str>,
    /// Extra properties (name, schema).
    pub properties: Vec<(&'static str, &'static str)>,
    pub note_max: u32,
    /// Extra keywords of `note` (`, "not": {…}`).
    pub note_extra: &'static str,
    pub amount_type: &'static str,
    pub sku_pattern: &'static str,
}

impl Default for OrderPlaced {
    fn default() -> Self {
        Self {
            file: "order.placed.json",
            required: vec![],
            properties: vec![],
            note_max: 200,
            note_extra: "",
            amount_type: "integer",
            sku_pattern: "^[A-Z]{3}-[0-9]{4}$",
        }
    }
}

pub fn order_placed(o: &OrderPlaced) -> String {
    let mut required = vec!["order_id", "amount"];
    required.extend(o.required.iter().copied());
    let required: Vec<String> = required.iter().map(|r| format!("\"{r}\"")).collect();
    let extra: String = o
        .properties
        .iter()
        .map(|(name, schema)| format!(",\n    \"{name}\": {schema}"))
        .collect();
    format!(
        r#"{{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://event-contracts.local/schemas/shop/events/{file}",
  "title": "OrderPlaced",
  "description": "An order was placed.",
  "type": "object",
  "required": [{required}],
  "properties": {{
    "order_id": {{ "type": "string", "minLength": 1 }},
    "amount": {{ "type": "{amount}", "minimum": 0 }},
    "sku": {{ "type": "string", "pattern": "{sku}" }},
    "note": {{ "type": "string", "maxLength": {note}{note_extra} }}{extra}
  }},
  "examples": [{{ "order_id": "o-1", "amount": 1200, "sku": "ABC-1234" }}]
}}
"#,
        file = o.file,
        required = required.join(", "),
        amount = o.amount_type,
        sku = o.sku_pattern.replace('\\', "\\\\"),
        note = o.note_max,
        note_extra = o.note_extra,
    )
}

pub const ORDER_SHIPPED: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://event-contracts.local/schemas/shop/events/order.shipped.json",
  "title": "OrderShipped",
  "description": "An order left the warehouse.",
  "type": "object",
  "required": ["order_id", "carrier"],
  "properties": {
    "order_id": { "type": "string", "minLength": 1 },
    "carrier": { "type": "string", "enum": ["dhl", "ups"] }
  },
  "examples": [{ "order_id": "o-1", "carrier": "dhl" }]
}
"#;

pub const ORDER_CANCELED_ENTRY: &str = r#"    {
      "name": "order.canceled",
      "schema": "events/order.canceled.json",
      "channel": { "transport": "amqp", "exchange": "events", "routing_key": "order.canceled" },
      "version": 1,
      "producers": ["checkout"],
      "consumers": ["billing"]
    }"#;

pub const ORDER_CANCELED: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://event-contracts.local/schemas/shop/events/order.canceled.json",
  "title": "OrderCanceled",
  "description": "An order was canceled.",
  "type": "object",
  "required": ["order_id"],
  "properties": {
    "order_id": { "type": "string", "minLength": 1 }
  },
  "examples": [{ "order_id": "o-1" }]
}
"#;

/// Findings of an outcome as `(rule, event, verdict, allowed, against_version)` lines, for
/// assertions that do not depend on wording.
pub fn summary(o: &Outcome) -> Vec<String> {
    o.report
        .as_ref()
        .map(|r| {
            r.findings
                .iter()
                .map(|f| {
                    format!(
                        "{} {}/{} {:?} {:?} allowed={} against={}",
                        f.rule.0,
                        f.system.as_deref().unwrap_or("-"),
                        f.event.as_deref().unwrap_or("-"),
                        f.severity,
                        f.verdict,
                        f.allowed.is_some(),
                        f.against_version.as_deref().unwrap_or("-"),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Replaces the temporary repository's commit ids (they depend on nothing random, but keep the
/// snapshots readable across git versions).
pub fn redact_commits(repo: &Repo, text: &str) -> String {
    let head = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    text.replace(&head, "<commit>")
        .replace(&head[..10], "<commit>")
        .replace(&repo.root_arg(), "<repo>")
}
