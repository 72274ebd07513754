//! The catalog's schemas embedded in the binary, compiled by `jsonschema` on first use. `$ref`s
//! resolve only against this set: no network, no file system.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::{Violation, Violations};

/// Schema documents by `$id`, shared by every validator compiled from them (each `$ref`
/// retrieval reads from here instead of a copy of the catalog).
pub type Documents = Arc<HashMap<String, Value>>;

/// Every schema document of a catalog, by `$id`.
pub struct SchemaSet {
    documents: &'static [(&'static str, &'static str)],
    parsed: OnceLock<Documents>,
}

impl SchemaSet {
    /// `documents` pairs each `$id` with the schema's JSON text.
    pub const fn new(documents: &'static [(&'static str, &'static str)]) -> Self {
        Self {
            documents,
            parsed: OnceLock::new(),
        }
    }

    /// Every document, parsed.
    pub fn documents(&self) -> &Documents {
        self.parsed.get_or_init(|| {
            Arc::new(
                self.documents
                    .iter()
                    .map(|(id, text)| {
                        (
                            (*id).to_owned(),
                            serde_json::from_str(text).expect("codegen embeds valid JSON"),
                        )
                    })
                    .collect(),
            )
        })
    }

    /// The schema with this `$id`.
    pub fn get(&self, id: &str) -> Option<&Value> {
        self.documents().get(id)
    }

    /// Compiles the schema `id`. Generated code calls this once per event and keeps the
    /// result; codegen has already compiled every schema, so failure here means the embedded
    /// catalog was edited by hand.
    pub fn compile(&'static self, id: &str) -> Validator {
        Validator::compile(self.documents(), id)
            .unwrap_or_else(|e| panic!("embedded schema {id} does not compile: {e}"))
    }
}

/// A compiled JSON Schema validator that reports every violation with its pointer.
pub struct Validator {
    inner: jsonschema::Validator,
}

struct SetRetriever(Documents);

impl jsonschema::Retrieve for SetRetriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let key = uri.as_str();
        let key = key.split('#').next().unwrap_or(key);
        self.0.get(key).cloned().ok_or_else(|| {
            format!("`{key}` is not in the catalog (references resolve only inside schemas/)")
                .into()
        })
    }
}

impl Validator {
    /// Compiles `id` from `documents` with format assertions on and no network.
    pub fn compile(documents: &Documents, id: &str) -> Result<Self, String> {
        let root = documents
            .get(id)
            .ok_or_else(|| format!("no schema with $id `{id}`"))?;
        Self::compile_root(root, documents)
    }

    /// Compiles the schema `root`, whose `$ref`s resolve against `documents`, with the same
    /// options as [`Validator::compile`].
    pub fn compile_root(root: &Value, documents: &Documents) -> Result<Self, String> {
        let inner = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .with_retriever(SetRetriever(Arc::clone(documents)))
            .build(root)
            .map_err(|e| e.to_string())?;
        Ok(Self { inner })
    }

    pub fn is_valid(&self, value: &Value) -> bool {
        self.inner.is_valid(value)
    }

    /// Every violation, or `Ok` for a valid value.
    pub fn check(&self, value: &Value) -> Result<(), Violations> {
        let mut violations = Vec::new();
        for e in self.inner.iter_errors(value) {
            push_violation(&e, &mut violations);
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Violations(violations))
        }
    }
}

/// Records one error. A failed tagged `oneOf` is reported by the errors of the one branch
/// whose tag matched, so `/data/timestamp: "x" is not of type "integer"` is said instead of
/// "not valid under any of the schemas listed in the 'oneOf' keyword".
fn push_violation(e: &jsonschema::ValidationError<'_>, out: &mut Vec<Violation>) {
    if let jsonschema::error::ValidationErrorKind::OneOfNotValid { context } = e.kind() {
        let is_tag_miss =
            |b: &jsonschema::ValidationError<'_>| matches!(b.kind().keyword(), "const" | "enum");
        let matched: Vec<_> = context
            .iter()
            .filter(|branch| !branch.iter().any(is_tag_miss))
            .collect();
        if let [branch] = matched.as_slice() {
            if !branch.is_empty() {
                for b in branch.iter() {
                    push_violation(b, out);
                }
                return;
            }
        }
    }
    out.push(Violation {
        pointer: e.instance_path().as_str().to_owned(),
        keyword: e.kind().keyword().to_owned(),
        message: e.to_string(),
    });
}
