//! The pages, built as strings. Every piece of catalog text goes through [`escape`] on its way
//! in, so a description can hold `<script>` and show it as text. Style and the search script
//! are inline: a page opened from disk makes no request.

use serde_json::Value;

use crate::manifest::{Envelope, Manifest};
use crate::model::{TypeGraph, TypeId, TypeKind};

use super::svg::{channel_label, diagram};
use super::types::{constraints, json_type, reachable, rust_type, Part};
use super::{SiteCatalog, SystemSummary, SystemView};

/// Text made safe for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1f3a5f;color:#fff;padding:10px 24px}header a{color:#cfe0ff}
main{max-width:1150px;margin:0 auto;padding:8px 24px 48px}
h1{font-size:1.6em;margin:.6em 0 .3em}h2{margin-top:1.6em;border-bottom:1px solid #d5dae1;padding-bottom:3px}
h3{margin:1.2em 0 .3em}h3 code{font-size:1.05em}
table{border-collapse:collapse;width:100%;background:#fff;margin:.4em 0}
th,td{border:1px solid #d5dae1;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5}
code,pre{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:13px}
pre{background:#fff;border:1px solid #d5dae1;padding:8px;overflow:auto;max-height:420px}
pre.invalid{border-color:#d9534f}
.desc{white-space:pre-wrap}
.muted{color:#667085}.req{font-weight:600}
.pill{display:inline-block;background:#e4ebf5;border-radius:9px;padding:0 7px;margin:1px 2px;font-size:13px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;background:#fff;border:1px solid #d5dae1;padding:8px 12px}
dl.facts dt{font-weight:600}dl.facts dd{margin:0}
#search{font-size:16px;padding:6px 10px;width:min(520px,100%);border:1px solid #98a2b3;border-radius:5px}
#events{list-style:none;padding:0}#events li{background:#fff;border:1px solid #d5dae1;margin:3px 0;padding:4px 10px}
[hidden]{display:none!important}
svg.flow{background:#fff;border:1px solid #d5dae1;max-width:100%;height:auto}
svg.flow text{font:13px system-ui,sans-serif;text-anchor:middle;fill:#1d2330}
svg.flow text.head{font-weight:700;fill:#475467}
svg.flow rect{stroke-width:1.2}
svg.flow .producer rect{fill:#e6f4ea;stroke:#3c8d50}
svg.flow .channel rect{fill:#e8eefc;stroke:#3b5bb5}
svg.flow .group rect{fill:#fff4e0;stroke:#c98a12}
svg.flow .consumer rect{fill:#fff;stroke:#c98a12;stroke-dasharray:4 3}
svg.flow .edge{stroke:#555;stroke-width:1.1;fill:none}
";

/// Filters `#events` by every word typed: an event stays when its name, system or one of its
/// field names contains each word.
const SEARCH_SCRIPT: &str = "
const box = document.getElementById('search');
const items = Array.from(document.querySelectorAll('#events li'));
const none = document.getElementById('no-match');
const count = document.getElementById('count');
function filter() {
  const words = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
  let shown = 0;
  for (const item of items) {
    const text = item.dataset.search;
    const hit = words.every(w => text.includes(w));
    item.hidden = !hit;
    if (hit) shown++;
  }
  none.hidden = shown !== 0;
  count.textContent = shown + ' of ' + items.length + ' events';
}
// 'input' for typing; 'search' and 'change' for the clear button and programmatic clears.
for (const kind of ['input', 'search', 'change']) box.addEventListener(kind, filter);
filter();
";

fn page(title: &str, root: &str, crumbs: &str, body: &str, script: Option<&str>) -> String {
    let script = script
        .map(|s| format!("<script>{s}</script>\n"))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header><a href=\"{root}index.html\">Event catalog</a>{crumbs}</header>\n<main>\n{body}</main>\n{script}</body>\n</html>\n",
        escape(title)
    )
}

fn pills(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("<span class=\"pill\">{}</span>", escape(n)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn compatibility(mode: crate::manifest::Compatibility) -> String {
    serde_json::to_value(mode)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn json_block(value: &Value, class: &str) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    format!(
        "<pre class=\"{class}\"><code>{}</code></pre>\n",
        escape(&text)
    )
}

/// The index: every catalog's systems, and every event behind one search box.
pub(crate) fn index_page(catalogs: &[(&SiteCatalog<'_>, Vec<SystemSummary>)]) -> String {
    let mut body = String::from(
        "<h1>Event catalog</h1>\n<p>Every event system, what flows where, who produces and who consumes it, \
         and what a message looks like. Generated by <code>cargo xtask docs</code> from the same checked \
         schemas as the Rust crates.</p>\n",
    );
    let mut events = String::new();
    for (cat, systems) in catalogs {
        body.push_str(&format!(
            "<h2>{}</h2>\n<p class=\"muted\">Schemas in <code>{}</code></p>\n<table>\n<tr><th>System</th><th>Title</th><th>Transport</th><th>Events</th></tr>\n",
            escape(&cat.title),
            escape(&cat.schemas_dir)
        ));
        for sys in systems {
            body.push_str(&format!(
                "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                escape(&sys.page),
                escape(&sys.name),
                escape(&sys.title),
                sys.transport,
                sys.events.len()
            ));
            for (name, page, search, description) in &sys.events {
                events.push_str(&format!(
                    "<li data-search=\"{}\"><a href=\"{}\">{}</a> <span class=\"pill\">{}</span> <span class=\"muted\">{}</span></li>\n",
                    escape(search),
                    escape(page),
                    escape(name),
                    escape(&sys.name),
                    escape(description)
                ));
            }
        }
        body.push_str("</table>\n");
    }
    body.push_str(&format!(
        "<h2>Events</h2>\n<p><input id=\"search\" type=\"search\" placeholder=\"Filter by event or field name\" \
         aria-label=\"Filter events by event or field name\" autofocus> <span id=\"count\" class=\"muted\"></span></p>\n\
         <p id=\"no-match\" class=\"muted\" hidden>No event or field matches.</p>\n<ul id=\"events\">\n{events}</ul>\n"
    ));
    page("Event catalog", "", "", &body, Some(SEARCH_SCRIPT))
}

fn crumbs(view: &SystemView<'_>, on_event: bool) -> String {
    let system = &view.sys.source.manifest.system;
    if on_event {
        format!(
            " / {} / <a href=\"index.html\">{}</a>",
            escape(&view.cat.title),
            escape(system)
        )
    } else {
        format!(" / {} / {}", escape(&view.cat.title), escape(system))
    }
}

/// A system: transport, channels, consumer groups, the flow diagram, its events.
pub(crate) fn system_page(view: &SystemView<'_>) -> String {
    let m: &Manifest = &view.sys.source.manifest;
    let mut body = format!(
        "<h1>{} <span class=\"muted\">— {}</span></h1>\n<p class=\"desc\">{}</p>\n<dl class=\"facts\">\
         <dt>Transport</dt><dd>{}</dd><dt>Envelope</dt><dd>{}</dd><dt>Manifest</dt><dd><code>{}/{}</code></dd>\
         <dt>Source document</dt><dd>{}</dd></dl>\n",
        escape(&m.system),
        escape(&m.title),
        escape(&m.description),
        m.transport.as_str(),
        match &m.envelope {
            Envelope::Flat => "none: the event is the whole message".to_owned(),
            Envelope::Wrapped {
                schema,
                type_field,
                payload_field,
                ..
            } => format!(
                "<code>{}</code>: the event name in <code>{}</code>, the event in <code>{}</code> (see below)",
                escape(schema),
                escape(type_field),
                escape(payload_field)
            ),
        },
        escape(&view.cat.schemas_dir),
        escape(&view.sys.source.manifest_file),
        escape(&m.source_document),
    );
    body.push_str("<h2>Flow</h2>\n");
    body.push_str(&diagram(m));
    body.push_str(
        "\n<p class=\"muted\">Arrows follow the manifest: each event's producers to its channel, its channel \
         to its consumers. Solid orange boxes are declared consumer groups; dashed ones are consumers \
         an event names that are not a declared group.</p>\n",
    );
    body.push_str("\n<h2>Channels</h2>\n<table>\n<tr><th>Channel</th><th>Events</th></tr>\n");
    let mut channels: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, ev) in view.events.iter().enumerate() {
        let label = channel_label(&ev.entry.channel);
        match channels.iter_mut().find(|(l, _)| *l == label) {
            Some((_, list)) => list.push(i),
            None => channels.push((label, vec![i])),
        }
    }
    for (label, list) in &channels {
        let links: Vec<String> = list.iter().map(|&i| event_link(view, i)).collect();
        body.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td></tr>\n",
            escape(label),
            links.join(", ")
        ));
    }
    body.push_str("</table>\n<h2>Consumer groups</h2>\n");
    if m.consumer_groups.is_empty() {
        body.push_str("<p class=\"muted\">None declared.</p>\n");
    } else {
        body.push_str("<table>\n<tr><th>Group</th><th>Reads</th><th>Description</th></tr>\n");
        for g in &m.consumer_groups {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"desc\">{}</td></tr>\n",
                escape(&g.name),
                pills(&g.binds),
                escape(&g.description)
            ));
        }
        body.push_str("</table>\n");
    }
    body.push_str(
        "<h2>Events</h2>\n<table>\n<tr><th>Event</th><th>Version</th><th>Compatibility</th><th>Producers</th><th>Consumers</th><th>Description</th></tr>\n",
    );
    for (i, ev) in view.events.iter().enumerate() {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            event_link(view, i),
            ev.entry.version,
            compatibility(ev.entry.compatibility),
            pills(&ev.entry.producers),
            pills(&ev.entry.consumers),
            escape(ev.entry.description.as_deref().unwrap_or_default())
        ));
    }
    body.push_str("</table>\n");
    if let Some(envelope) = view.sys.envelope {
        body.push_str("<h2>Envelope</h2>\n<p>Every message of this system is this wrapper with the event inside.</p>\n");
        body.push_str(&type_sections(&view.sys.graph, envelope));
    }
    page(
        &format!("{} — event catalog", m.system),
        "../../",
        &crumbs(view, false),
        &body,
        None,
    )
}

fn event_link(view: &SystemView<'_>, i: usize) -> String {
    let ev = &view.events[i];
    format!(
        "<a href=\"{}\">{}</a>",
        escape(&ev.page),
        escape(&ev.entry.name)
    )
}

/// An event: what it is, where it travels, its fields and nested types, its examples.
pub(crate) fn event_page(view: &SystemView<'_>, i: usize) -> String {
    let ev = &view.events[i];
    let e = ev.entry;
    let graph = &view.sys.graph;
    let mut body = format!(
        "<h1>{}</h1>\n<p class=\"desc\">{}</p>\n<dl class=\"facts\">\
         <dt>System</dt><dd><a href=\"index.html\">{}</a> ({})</dd>\
         <dt>Channel</dt><dd><code>{}</code></dd>\
         <dt>Version</dt><dd>{}</dd><dt>Compatibility</dt><dd>{}</dd>\
         <dt>Producers</dt><dd>{}</dd><dt>Consumers</dt><dd>{}</dd>\
         <dt>Schema</dt><dd><code>{}</code></dd>",
        escape(&e.name),
        escape(&ev.description),
        escape(&view.sys.source.manifest.system),
        view.sys.source.manifest.transport.as_str(),
        escape(&channel_label(&e.channel)),
        e.version,
        compatibility(e.compatibility),
        pills(&e.producers),
        pills(&e.consumers),
        escape(&ev.schema_path),
    );
    if let Some(id) = ev.type_id {
        body.push_str(&format!(
            "<dt>Rust type</dt><dd><code>{}::{}</code></dd>",
            escape(&view.sys.source.manifest.system),
            escape(&graph[id].name)
        ));
    }
    if let Some(id_field) = &e.message_id {
        body.push_str(&format!(
            "<dt>Message id</dt><dd><code>{}</code></dd>",
            escape(id_field)
        ));
    }
    if !e.idempotency_key.is_empty() {
        body.push_str(&format!(
            "<dt>Idempotency key</dt><dd>{}</dd>",
            pills(&e.idempotency_key)
        ));
    }
    if e.fallback {
        body.push_str("<dt>Fallback</dt><dd>takes every event name this system does not list</dd>");
    }
    body.push_str("</dl>\n<h2>Validate a captured message</h2>\n");
    match &view.cat.validate_command {
        Some(cmd) => body.push_str(&format!(
            "<p>Save the whole message as received (envelope included) and run:</p>\n<pre><code>{} {} captured.json</code></pre>\n",
            escape(cmd),
            escape(&shell_word(&e.name))
        )),
        None => body.push_str(
            "<p class=\"muted\">No command validates this catalog's messages yet: \
             <code>cargo xtask validate</code> reads <code>schemas/</code> only.</p>\n",
        ),
    }
    body.push_str("<h2>Fields</h2>\n");
    match ev.type_id {
        Some(id) => body.push_str(&type_sections(graph, id)),
        None => body.push_str("<p class=\"muted\">No type.</p>\n"),
    }
    body.push_str("<h2>Valid examples</h2>\n");
    if let Envelope::Wrapped { payload_field, .. } = &view.sys.source.manifest.envelope {
        body.push_str(&format!(
            "<p class=\"muted\">The event itself; on the wire it is the envelope's <code>{}</code>.</p>\n",
            escape(payload_field)
        ));
    }
    if ev.examples.is_empty() {
        body.push_str("<p class=\"muted\">None in the schema.</p>\n");
    }
    for ex in &ev.examples {
        body.push_str(&json_block(ex, "valid"));
    }
    body.push_str("<h2>Invalid examples</h2>\n");
    if ev.invalid.is_empty() {
        body.push_str("<p class=\"muted\">None in the schema.</p>\n");
    }
    for ex in &ev.invalid {
        body.push_str(&format!(
            "<h3 class=\"desc\">{}</h3>\n",
            escape(if ex.description.is_empty() {
                "invalid"
            } else {
                &ex.description
            })
        ));
        if let Some(pointer) = &ex.pointer {
            body.push_str(&format!(
                "<p>The validator reports it at <code>{}</code>.</p>\n",
                escape(event_contracts_runtime::display_pointer(pointer))
            ));
        }
        body.push_str(&json_block(&ex.instance, "invalid"));
    }
    page(
        &format!("{} — {}", e.name, view.sys.source.manifest.system),
        "../../",
        &crumbs(view, true),
        &body,
        None,
    )
}

/// A word the shell passes through as it is.
fn shell_word(word: &str) -> String {
    if word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-:/@".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn anchor(graph: &TypeGraph, id: TypeId) -> String {
    format!("t-{}", graph[id].name)
}

fn type_ref(graph: &TypeGraph, ty: &crate::model::Ty) -> String {
    json_type(ty)
        .into_iter()
        .map(|part| match part {
            Part::Text(t) => escape(&t),
            Part::Type(id) => format!(
                "<a href=\"#{}\">{}</a>",
                escape(&anchor(graph, id)),
                escape(&graph[id].name)
            ),
        })
        .collect()
}

/// `root` and every type it leads to, each a section with its anchor.
fn type_sections(graph: &TypeGraph, root: TypeId) -> String {
    let mut out = String::new();
    for id in reachable(graph, root) {
        let def = &graph[id];
        out.push_str(&format!(
            "<section id=\"{}\">\n<h3><code>{}</code></h3>\n",
            escape(&anchor(graph, id)),
            escape(&def.name)
        ));
        if !def.doc.is_empty() && id != root {
            out.push_str(&format!("<p class=\"desc\">{}</p>\n", escape(&def.doc)));
        }
        match &def.kind {
            TypeKind::Struct {
                fields,
                closed,
                additional,
                ..
            } => {
                out.push_str(
                    "<table>\n<tr><th>Field</th><th>Type</th><th>Required</th><th>Constraints</th><th>Description</th></tr>\n",
                );
                for f in fields {
                    let mut notes = constraints(graph, &f.ty);
                    if let Some(default) = &f.default {
                        notes.push(format!("default {default}"));
                    }
                    if f.deprecated {
                        notes.push("deprecated".into());
                    }
                    if let Some(old) = &f.renamed_from {
                        notes.push(format!("formerly {old}"));
                    }
                    let notes: Vec<String> = notes
                        .iter()
                        .map(|n| format!("<code>{}</code>", escape(n)))
                        .collect();
                    out.push_str(&format!(
                        "<tr><td><code>{}</code></td><td>{}<br><span class=\"muted\"><code>{}</code></span></td><td{}>{}</td><td>{}</td><td class=\"desc\">{}</td></tr>\n",
                        escape(&f.wire),
                        type_ref(graph, &f.ty),
                        escape(&rust_type(graph, &f.ty)),
                        if f.required { " class=\"req\"" } else { "" },
                        if f.required { "yes" } else { "no" },
                        notes.join("<br>"),
                        escape(&f.doc)
                    ));
                }
                out.push_str("</table>\n");
                if *closed {
                    out.push_str("<p class=\"muted\">No other properties are allowed.</p>\n");
                } else if *additional {
                    out.push_str("<p class=\"muted\">Other properties are allowed and kept when relayed.</p>\n");
                }
            }
            TypeKind::Newtype(ty) => out.push_str(&format!(
                "<p>The message is {} (<code>{}</code>).</p>\n",
                type_ref(graph, ty),
                escape(&rust_type(graph, ty))
            )),
            TypeKind::StrEnum { values } => {
                out.push_str("<p>One of: ");
                let listed: Vec<String> = values
                    .iter()
                    .map(|v| format!("<code>{}</code>", escape(&format!("{v:?}"))))
                    .collect();
                out.push_str(&listed.join(", "));
                out.push_str("</p>\n");
            }
            TypeKind::Tagged {
                tag,
                variants,
                fallback,
            } => {
                out.push_str(&format!(
                    "<p>Chosen by the string in <code>{}</code>:</p>\n<table>\n<tr><th><code>{}</code></th><th>Shape</th></tr>\n",
                    escape(tag),
                    escape(tag)
                ));
                for (value, variant) in variants {
                    out.push_str(&format!(
                        "<tr><td><code>{}</code></td><td>{}</td></tr>\n",
                        escape(&format!("{value:?}")),
                        type_ref(graph, &crate::model::Ty::Named(*variant))
                    ));
                }
                if let Some(other) = fallback {
                    out.push_str(&format!(
                        "<tr><td class=\"muted\">any other</td><td>{}</td></tr>\n",
                        type_ref(graph, &crate::model::Ty::Named(*other))
                    ));
                }
                out.push_str("</table>\n");
            }
        }
        out.push_str("</section>\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_no_markup() {
        assert_eq!(
            escape("<script>alert(\"x\" & 'y')</script>"),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("capture.alive"), "capture.alive");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
