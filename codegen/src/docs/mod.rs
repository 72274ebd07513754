//! The browsable HTML catalog (`cargo xtask docs`): the CHECKED catalog turned into static pages
//! that open from disk with no server and no network. Built from the same [`check`] result the
//! Rust crate is generated from, so the pages cannot describe types the crate does not have.
//! Returns files; writing them (all or nothing) is the caller's business.

mod html;
mod svg;
mod types;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::catalog::{Catalog, Loc};
use crate::diag::{Code, Diagnostics};
use crate::model::TypeId;
use crate::{check, CheckedSystem};

pub use html::escape;

/// One catalog to publish.
pub struct SiteCatalog<'c> {
    /// Folder of the catalog's pages under the site root (`main`, `telemetry`).
    pub slug: String,
    /// Heading of the catalog on the index page.
    pub title: String,
    /// Where the catalog's schemas live, relative to the workspace root (`schemas`): names
    /// files in diagnostics and on the pages.
    pub schemas_dir: String,
    pub catalog: &'c Catalog,
    /// The command that checks a captured message of this catalog, followed on the pages by
    /// the event name and `captured.json`; `None` when no command reads this catalog.
    pub validate_command: Option<String>,
}

/// One file of the site, relative to its root (`/` separators).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteFile {
    pub path: String,
    pub contents: String,
}

/// Name of the file that marks a folder as a generated catalog (so a writer may replace it).
pub const MARKER_FILE: &str = ".event-catalog";

/// The whole site, or every diagnostic of every catalog (files named from the workspace root).
pub fn site(catalogs: &[SiteCatalog<'_>]) -> Result<Vec<SiteFile>, Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut checked = Vec::new();
    for cat in catalogs {
        let relocate = |mut d: crate::diag::Diagnostic| {
            if let Some(rest) = d.file.strip_prefix("schemas/") {
                d.file = format!("{}/{rest}", cat.schemas_dir);
            }
            d
        };
        match check(cat.catalog) {
            Ok(systems) => {
                let mut local = Diagnostics::default();
                let pages = plan(cat, &systems, &mut local);
                diags.0.extend(local.0.into_iter().map(relocate));
                checked.push((cat, systems, pages));
            }
            Err(d) => diags.0.extend(d.0.into_iter().map(relocate)),
        }
    }
    if !diags.is_empty() {
        return Err(diags.sorted());
    }
    let mut files = vec![SiteFile {
        path: MARKER_FILE.into(),
        contents: "Written by `cargo xtask docs`; the whole folder is replaced on every run.\n"
            .into(),
    }];
    let mut index = Vec::new();
    for (cat, systems, pages) in &checked {
        let mut listed = Vec::new();
        for (sys, sys_pages) in systems.iter().zip(pages) {
            let view = SystemView::new(cat, sys, sys_pages);
            files.push(SiteFile {
                path: view.page_path(),
                contents: html::system_page(&view),
            });
            for i in 0..view.events.len() {
                files.push(SiteFile {
                    path: view.event_path(i),
                    contents: html::event_page(&view, i),
                });
            }
            listed.push(view.summary());
        }
        index.push((*cat, listed));
    }
    files.push(SiteFile {
        path: "index.html".into(),
        contents: html::index_page(&index),
    });
    Ok(files)
}

/// Page file names of one system's events (in manifest order).
type EventPages = Vec<String>;

/// The page file names of every system, checking that no two collide on a case-insensitive
/// file system (macOS, Windows): that would silently show one event's page for another.
fn plan(
    cat: &SiteCatalog<'_>,
    systems: &[CheckedSystem<'_>],
    diags: &mut Diagnostics,
) -> Vec<EventPages> {
    let mut dirs: BTreeMap<String, &str> = BTreeMap::new();
    let mut out = Vec::new();
    for sys in systems {
        let manifest = &sys.source.manifest;
        let manifest_loc = Loc::new(sys.source.manifest_file.clone(), "");
        let dir = slug(&manifest.system);
        if let Some(other) = dirs.insert(dir.to_lowercase(), &sys.source.manifest_file) {
            diags.push(cat.catalog.diag(
                Code::DocSite,
                &manifest_loc.join("system"),
                format!(
                    "system `{}` gets the same page folder as the system of schemas/{other} on a case-insensitive file system",
                    manifest.system
                ),
                "rename one of the systems so the names differ in more than letter case",
            ));
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut pages = Vec::new();
        for (i, ev) in manifest.events.iter().enumerate() {
            let page = format!("{}.html", slug(&ev.name));
            if let Some(first) = seen.insert(page.to_lowercase(), i) {
                diags.push(cat.catalog.diag(
                    Code::DocSite,
                    &manifest_loc.join("events").join(&i.to_string()).join("name"),
                    format!(
                        "event `{}` gets the same page as event `{}` (/events/{first}) on a case-insensitive file system",
                        ev.name, manifest.events[first].name
                    ),
                    "rename one of the events so the names differ in more than letter case",
                ));
            }
            let file = format!("{}/{}", sys.source.dir, ev.schema);
            if let Some(source) = cat.catalog.files.get(&file) {
                invalid_examples(cat.catalog, &file, &source.value, diags);
            }
            pages.push(page);
        }
        out.push(pages);
    }
    out
}

/// A file name for any string: ASCII letters, digits, `.`, `_`, `-` are kept, every other byte
/// is `~` and two hex digits, so two names never share a file and none leaves its folder.
fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' => out.push(b as char),
            // A leading dot would hide the file; `..` would name the parent.
            b'.' if !out.is_empty() => out.push('.'),
            _ => out.push_str(&format!("~{b:02X}")),
        }
    }
    out
}

/// One `x-invalid-examples` entry as the pages show it.
pub(crate) struct InvalidExample {
    pub description: String,
    pub instance: Value,
    pub pointer: Option<String>,
}

/// The event file's `x-invalid-examples`, each an object with an `instance` (see
/// schemas/CONVENTIONS.md); anything else is a diagnostic at the entry.
fn invalid_examples(
    catalog: &Catalog,
    file: &str,
    schema: &Value,
    diags: &mut Diagnostics,
) -> Vec<InvalidExample> {
    let loc = Loc::new(file, "/x-invalid-examples");
    let Some(list) = schema.get("x-invalid-examples") else {
        return Vec::new();
    };
    let Some(list) = list.as_array() else {
        diags.push(catalog.diag(
            Code::DocSite,
            &loc,
            "`x-invalid-examples` is not an array",
            "write a list of {\"description\", \"instance\", \"pointer\"} objects",
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        match entry.get("instance") {
            Some(instance) if entry.is_object() => out.push(InvalidExample {
                description: entry
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                instance: instance.clone(),
                pointer: entry
                    .get("pointer")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }),
            _ => diags.push(catalog.diag(
                Code::DocSite,
                &loc.join(&i.to_string()),
                "an invalid example without an `instance` to show",
                "write {\"description\": \"why\", \"instance\": {...}, \"pointer\": \"/field\"}",
            )),
        }
    }
    out
}

/// One event of a system, with everything its page shows.
pub(crate) struct EventView<'a> {
    pub entry: &'a crate::manifest::EventEntry,
    pub page: String,
    /// The schema file, relative to the workspace root.
    pub schema_path: String,
    pub type_id: Option<TypeId>,
    pub description: String,
    pub examples: Vec<Value>,
    pub invalid: Vec<InvalidExample>,
    /// Every wire name of every field the event holds (nested types too), for the search box.
    pub field_names: BTreeSet<String>,
}

/// One system as its pages need it.
pub(crate) struct SystemView<'a> {
    pub cat: &'a SiteCatalog<'a>,
    pub sys: &'a CheckedSystem<'a>,
    pub dir: String,
    pub events: Vec<EventView<'a>>,
}

/// What the index shows of a system.
pub(crate) struct SystemSummary {
    pub name: String,
    pub title: String,
    pub transport: &'static str,
    pub page: String,
    /// (event name, event page, system-relative search text, one-line description).
    pub events: Vec<(String, String, String, String)>,
}

impl<'a> SystemView<'a> {
    fn new(cat: &'a SiteCatalog<'a>, sys: &'a CheckedSystem<'a>, pages: &[String]) -> Self {
        let manifest = &sys.source.manifest;
        let mut ignored = Diagnostics::default();
        // Manifest events whose schema file is missing never get here: `check` refused them.
        let events = manifest
            .events
            .iter()
            .zip(pages)
            .enumerate()
            .map(|(i, (entry, page))| {
                let file = format!("{}/{}", sys.source.dir, entry.schema);
                let value = cat.catalog.files.get(&file).map(|f| &f.value);
                let type_id = sys.events.get(i).copied();
                let field_names = type_id
                    .map(|id| types::reachable(&sys.graph, id))
                    .unwrap_or_default()
                    .into_iter()
                    .flat_map(|id| types::field_names(&sys.graph[id]))
                    .collect();
                EventView {
                    entry,
                    page: page.clone(),
                    schema_path: format!("{}/{file}", cat.schemas_dir),
                    type_id,
                    description: value
                        .and_then(|v| v.get("description"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .or_else(|| entry.description.clone())
                        .unwrap_or_default(),
                    examples: value
                        .and_then(|v| v.get("examples"))
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                    invalid: value
                        .map(|v| invalid_examples(cat.catalog, &file, v, &mut ignored))
                        .unwrap_or_default(),
                    field_names,
                }
            })
            .collect();
        Self {
            cat,
            sys,
            dir: format!("{}/{}", cat.slug, slug(&manifest.system)),
            events,
        }
    }

    pub fn page_path(&self) -> String {
        format!("{}/index.html", self.dir)
    }

    pub fn event_path(&self, i: usize) -> String {
        format!("{}/{}", self.dir, self.events[i].page)
    }

    fn summary(&self) -> SystemSummary {
        let manifest = &self.sys.source.manifest;
        SystemSummary {
            name: manifest.system.clone(),
            title: manifest.title.clone(),
            transport: manifest.transport.as_str(),
            page: self.page_path(),
            events: self
                .events
                .iter()
                .enumerate()
                .map(|(i, ev)| {
                    let mut search = format!("{} {}", ev.entry.name, manifest.system);
                    for f in &ev.field_names {
                        search.push(' ');
                        search.push_str(f);
                    }
                    (
                        ev.entry.name.clone(),
                        self.event_path(i),
                        search.to_lowercase(),
                        ev.entry.description.clone().unwrap_or_default(),
                    )
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_keep_plain_names_and_encode_the_rest_reversibly() {
        assert_eq!(slug("capture.alive"), "capture.alive");
        assert_eq!(slug("stream:audio-ingest"), "stream~3Aaudio-ingest");
        assert_eq!(slug("../x"), "~2E.~2Fx");
        assert_eq!(slug(".hidden"), "~2Ehidden");
        assert_ne!(slug("a/b"), slug("a~2Fb"));
    }
}
