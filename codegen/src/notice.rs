//! Notices: what is worth telling whoever runs the generator before it starts, without
//! stopping it. Very large inputs generate correctly, but take seconds and make modules of
//! tens of megabytes that rustc then compiles for minutes; a one-line warning says why. The
//! library only finds them; the caller decides whether and how to show them.

use std::fmt;

use serde_json::Value;

use crate::catalog::Catalog;

/// A file larger than this gets a notice.
pub const LARGE_FILE_BYTES: usize = 1_000_000;
/// An enum, an object or a system with more values, properties or events than this does.
pub const MANY_ITEMS: usize = 10_000;

/// One notice, about a file (`schemas/…`) and, where it is about a part, a JSON pointer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub file: String,
    pub pointer: String,
    pub message: String,
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}#{}: {}", self.file, self.pointer, self.message)
        }
    }
}

/// The notices a catalog gives: files over [`LARGE_FILE_BYTES`], and enums, objects and
/// systems with more than [`MANY_ITEMS`] values, properties or events. Cheap: one pass over
/// the parsed files, no type is built.
pub fn notices(catalog: &Catalog) -> Vec<Notice> {
    let mut out = Vec::new();
    for (path, file) in &catalog.files {
        let at = format!("schemas/{path}");
        if file.text.len() > LARGE_FILE_BYTES {
            out.push(Notice {
                file: at.clone(),
                pointer: String::new(),
                message: format!(
                    "{:.1} MB of schema: generating takes seconds, and the module rustc compiles grows accordingly",
                    file.text.len() as f64 / 1e6
                ),
            });
        }
        if path.ends_with("manifest.json") {
            continue;
        }
        let mut stack = vec![(String::new(), &file.value)];
        while let Some((pointer, v)) = stack.pop() {
            let Value::Object(m) = v else {
                if let Value::Array(items) = v {
                    stack.extend(
                        items
                            .iter()
                            .enumerate()
                            .map(|(i, x)| (format!("{pointer}/{i}"), x)),
                    );
                }
                continue;
            };
            for (kw, what) in [("enum", "values"), ("oneOf", "branches")] {
                if let Some(Value::Array(items)) = m.get(kw) {
                    if items.len() > MANY_ITEMS {
                        out.push(Notice {
                            file: at.clone(),
                            pointer: format!("{pointer}/{kw}"),
                            message: format!("{} {what}: one Rust variant each", items.len()),
                        });
                    }
                }
            }
            if let Some(Value::Object(props)) = m.get("properties") {
                if props.len() > MANY_ITEMS {
                    out.push(Notice {
                        file: at.clone(),
                        pointer: format!("{pointer}/properties"),
                        message: format!("{} properties: one struct field each", props.len()),
                    });
                }
            }
            // Only schema-holding keywords: examples and enum values are data.
            for (k, sub) in m {
                if matches!(k.as_str(), "examples" | "enum" | "const" | "default")
                    || k.starts_with("x-")
                {
                    continue;
                }
                if sub.is_object() || sub.is_array() {
                    stack.push((format!("{pointer}/{}", crate::source::escape_token(k)), sub));
                }
            }
        }
    }
    for sys in &catalog.systems {
        if sys.manifest.events.len() > MANY_ITEMS {
            out.push(Notice {
                file: format!("schemas/{}", sys.manifest_file),
                pointer: "/events".into(),
                message: format!(
                    "{} events: one type, impl and enum variant each",
                    sys.manifest.events.len()
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_files_and_enums_are_noticed_and_small_ones_are_not() {
        let values: Vec<String> = (0..=MANY_ITEMS).map(|i| format!("v{i}")).collect();
        let big = serde_json::json!({"properties": {"v": {"enum": values}}}).to_string();
        let small = serde_json::json!({"properties": {"v": {"enum": ["a"]}}}).to_string();
        let manifest = serde_json::json!({
            "system": "s", "title": "t", "description": "d", "source_document": "x",
            "transport": "nats", "envelope": {"kind": "flat"}, "events": []
        })
        .to_string();
        let catalog = Catalog::from_texts(vec![
            ("s/manifest.json".into(), manifest),
            ("s/big.json".into(), big),
            ("s/small.json".into(), small),
        ])
        .expect("parses");
        let notices = notices(&catalog);
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert_eq!(notices[0].file, "schemas/s/big.json");
        assert_eq!(notices[0].pointer, "/properties/v/enum");
    }
}
