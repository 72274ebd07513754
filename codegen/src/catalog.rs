//! The catalog as read from `schemas/`: every JSON file, parsed and located, the manifests,
//! and `$ref` resolution that never leaves the catalog.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::manifest::Manifest;
use crate::source::SourceFile;

/// The `$id` prefix of every schema; the rest of an `$id` is the file's path under `schemas/`.
pub const ID_BASE: &str = "https://event-contracts.local/schemas/";

/// A place in the catalog: a file and a JSON pointer inside it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Loc {
    pub file: String,
    pub pointer: String,
}

impl Loc {
    pub fn new(file: impl Into<String>, pointer: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            pointer: pointer.into(),
        }
    }

    pub fn join(&self, token: &str) -> Self {
        Self::new(
            self.file.clone(),
            format!("{}/{}", self.pointer, crate::source::escape_token(token)),
        )
    }
}

/// One system: its manifest and where it lives.
#[derive(Clone, Debug)]
pub struct SystemSource {
    /// Folder under `schemas/` (`livepeer`).
    pub dir: String,
    pub manifest_file: String,
    pub manifest: Manifest,
}

/// Every file of the catalog.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub files: BTreeMap<String, SourceFile>,
    pub systems: Vec<SystemSource>,
}

impl Catalog {
    /// Reads every `*.json` under `root` (sorted, so output never depends on directory order).
    pub fn read_dir(root: &Path) -> Result<Self, Diagnostics> {
        let mut inputs = Vec::new();
        let mut diags = Diagnostics::default();
        collect(root, root, &mut inputs, &mut diags);
        if !diags.is_empty() {
            return Err(diags.sorted());
        }
        Self::from_texts(inputs)
    }

    /// Builds a catalog from `(path under schemas/, text)` pairs.
    pub fn from_texts(inputs: Vec<(String, String)>) -> Result<Self, Diagnostics> {
        let mut diags = Diagnostics::default();
        let mut catalog = Catalog::default();
        for (path, text) in inputs {
            if path == "manifest.schema.json" {
                continue;
            }
            match SourceFile::parse(path.clone(), text) {
                Ok(file) => {
                    catalog.files.insert(path, file);
                }
                Err(e) => diags.push(Diagnostic {
                    code: Code::JsonSyntax,
                    file: format!("schemas/{path}"),
                    position: e.position,
                    pointer: String::new(),
                    message: e.message,
                    hint: "fix the JSON syntax at that position".into(),
                    snippet: Some(Box::new(e.snippet)),
                }),
            }
        }
        let manifests: Vec<String> = catalog
            .files
            .keys()
            .filter(|p| p.ends_with("/manifest.json"))
            .cloned()
            .collect();
        for path in manifests {
            let file = &catalog.files[&path];
            // From the text, not the parsed value: serde then says where it stopped.
            match serde_json::from_str::<Manifest>(&file.text) {
                Ok(manifest) => catalog.systems.push(SystemSource {
                    dir: path.trim_end_matches("/manifest.json").to_owned(),
                    manifest_file: path.clone(),
                    manifest,
                }),
                Err(e) => {
                    let pointer = file.pointer_at(crate::source::Position {
                        line: e.line(),
                        column: e.column(),
                    });
                    diags.push(Diagnostic {
                        code: Code::Manifest,
                        file: format!("schemas/{path}"),
                        position: file.position(&pointer),
                        snippet: Some(Box::new(file.snippet(&pointer))),
                        pointer,
                        message: format!("manifest does not match manifest.schema.json: {e}"),
                        hint: "see schemas/CONVENTIONS.md for the manifest format".into(),
                    })
                }
            }
        }
        if catalog.systems.is_empty() && diags.is_empty() {
            diags.push(Diagnostic {
                code: Code::NoSystem,
                file: "schemas".into(),
                position: crate::source::Position::START,
                pointer: String::new(),
                message: "no schemas/<system>/manifest.json found".into(),
                hint: "run from the workspace root, or add a system manifest".into(),
                snippet: None,
            });
        }
        if diags.is_empty() {
            Ok(catalog)
        } else {
            Err(diags.sorted())
        }
    }

    pub fn value(&self, loc: &Loc) -> Option<&Value> {
        self.files.get(&loc.file)?.value.pointer(&loc.pointer)
    }

    /// A diagnostic located at `loc` (line and column from the file's text).
    pub fn diag(
        &self,
        code: Code,
        loc: &Loc,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Diagnostic {
        let file = self.files.get(&loc.file);
        Diagnostic {
            code,
            file: format!("schemas/{}", loc.file),
            position: file.map_or(crate::source::Position::START, |f| f.position(&loc.pointer)),
            pointer: loc.pointer.clone(),
            message: message.into(),
            hint: hint.into(),
            snippet: file.map(|f| Box::new(f.snippet(&loc.pointer))),
        }
    }

    /// Resolves `reference` written at `from`: a relative file path, an `$id` under
    /// [`ID_BASE`], and/or a `#/json/pointer` fragment. Never leaves the catalog.
    // A `Diagnostic` (128 bytes with its boxed snippet) is returned only for a bad reference,
    // once per `$ref`; boxing it would change every caller for no measurable gain.
    #[allow(clippy::result_large_err)]
    pub fn resolve_ref(&self, from: &Loc, reference: &str) -> Result<Loc, Diagnostic> {
        let (path_part, fragment) = match reference.split_once('#') {
            Some((p, f)) => (p, f),
            None => (reference, ""),
        };
        let file = if path_part.is_empty() {
            from.file.clone()
        } else if let Some(rest) = path_part.strip_prefix(ID_BASE) {
            rest.to_owned()
        } else if path_part.contains("://") || path_part.starts_with('/') {
            return Err(self.diag(
                Code::ForbiddenRef,
                from,
                format!("`$ref` `{reference}` points outside the catalog"),
                "references resolve only inside schemas/: use a relative path such as ../defs/x.json",
            ));
        } else {
            let mut parts: Vec<&str> = from.file.split('/').collect();
            parts.pop();
            for seg in path_part.split('/') {
                match seg {
                    "." | "" => {}
                    ".." => {
                        if parts.pop().is_none() {
                            return Err(self.diag(
                                Code::ForbiddenRef,
                                from,
                                format!("`$ref` `{reference}` escapes schemas/"),
                                "keep references inside schemas/",
                            ));
                        }
                    }
                    s => parts.push(s),
                }
            }
            parts.join("/")
        };
        if !self.files.contains_key(&file) {
            return Err(self.diag(
                Code::UnresolvedRef,
                from,
                format!("`$ref` `{reference}`: no file schemas/{file}"),
                "check the relative path from this file",
            ));
        }
        let target = Loc::new(file, fragment);
        if self.value(&target).is_none() {
            return Err(self.diag(
                Code::UnresolvedRef,
                from,
                format!(
                    "`$ref` `{reference}`: no value at `#{fragment}` in schemas/{}",
                    target.file
                ),
                "check the JSON pointer after `#`",
            ));
        }
        Ok(target)
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>, diags: &mut Diagnostics) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(Diagnostic {
                code: Code::Io,
                file: dir.display().to_string(),
                position: crate::source::Position::START,
                pointer: String::new(),
                message: format!("cannot read directory: {e}"),
                hint: "run from the workspace root (where schemas/ is)".into(),
                snippet: None,
            });
            return;
        }
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect(root, &path, out, diags);
        } else if path.extension().is_some_and(|e| e == "json") {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            match std::fs::read_to_string(&path) {
                Ok(text) => out.push((rel, text)),
                Err(e) => diags.push(Diagnostic {
                    code: Code::Io,
                    file: path.display().to_string(),
                    position: crate::source::Position::START,
                    pointer: String::new(),
                    message: format!("cannot read: {e}"),
                    hint: "check the file's permissions and encoding (UTF-8)".into(),
                    snippet: None,
                }),
            }
        }
    }
}
