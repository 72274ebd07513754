//! The JSON Schema dialect a document is written in, from its root `$schema`: which keywords
//! its validators apply and how (draft-04's boolean `exclusiveMaximum`, the tuple `items` of
//! drafts up to 2019-09, `$ref` hiding its siblings up to draft-07, …). Each side is read in
//! its own dialect, by the normaliser and by the validators that confirm counterexamples.

use serde::Serialize;
use serde_json::Value;

/// A JSON Schema dialect, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Dialect {
    #[serde(rename = "draft-04")]
    Draft4,
    #[serde(rename = "draft-06")]
    Draft6,
    #[serde(rename = "draft-07")]
    Draft7,
    #[serde(rename = "2019-09")]
    Draft201909,
    #[serde(rename = "2020-12")]
    Draft202012,
}

/// How a side's dialect was chosen: declared by `$schema`, or the default (no `$schema`, or
/// one naming no dialect known here).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReadAs {
    pub dialect: Dialect,
    /// The `$schema` written, when there is one.
    pub declared: Option<String>,
}

impl ReadAs {
    /// `draft-07 ($schema)`, `2020-12 (no $schema: the default)`, or `2020-12 (unknown
    /// $schema `…`: the default)`.
    pub fn describe(&self) -> String {
        let name = self.dialect.name();
        match &self.declared {
            Some(uri) if Dialect::from_uri(uri).is_some() => format!("{name} ($schema)"),
            Some(uri) => format!("{name} (unknown $schema `{uri}`: the default)"),
            None => format!("{name} (no $schema: the default)"),
        }
    }
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Draft4 => "draft-04",
            Dialect::Draft6 => "draft-06",
            Dialect::Draft7 => "draft-07",
            Dialect::Draft201909 => "2019-09",
            Dialect::Draft202012 => "2020-12",
        }
    }

    /// The dialect a meta-schema URI names (`http://json-schema.org/draft-07/schema#`,
    /// `https://json-schema.org/draft/2020-12/schema`, with or without `#` and `s`).
    pub fn from_uri(uri: &str) -> Option<Dialect> {
        let u = uri.trim().trim_end_matches('#');
        let u = u
            .strip_prefix("https://")
            .or_else(|| u.strip_prefix("http://"))?;
        Some(match u {
            "json-schema.org/draft-04/schema" => Dialect::Draft4,
            "json-schema.org/draft-06/schema" => Dialect::Draft6,
            "json-schema.org/draft-07/schema" => Dialect::Draft7,
            "json-schema.org/draft/2019-09/schema" => Dialect::Draft201909,
            "json-schema.org/draft/2020-12/schema" => Dialect::Draft202012,
            _ => return None,
        })
    }

    /// How a document is read: its root `$schema`, else 2020-12.
    pub fn read_as(doc: &Value) -> ReadAs {
        let declared = doc
            .get("$schema")
            .and_then(Value::as_str)
            .map(str::to_owned);
        ReadAs {
            dialect: declared
                .as_deref()
                .and_then(Dialect::from_uri)
                .unwrap_or(Dialect::Draft202012),
            declared,
        }
    }

    pub fn of(doc: &Value) -> Dialect {
        Dialect::read_as(doc).dialect
    }

    /// The validator draft of the same dialect.
    pub fn draft(self) -> jsonschema::Draft {
        match self {
            Dialect::Draft4 => jsonschema::Draft::Draft4,
            Dialect::Draft6 => jsonschema::Draft::Draft6,
            Dialect::Draft7 => jsonschema::Draft::Draft7,
            Dialect::Draft201909 => jsonschema::Draft::Draft201909,
            Dialect::Draft202012 => jsonschema::Draft::Draft202012,
        }
    }

    /// Whether `$ref` hides every sibling keyword (drafts 04 to 07).
    pub fn ref_hides_siblings(self) -> bool {
        self <= Dialect::Draft7
    }

    /// Whether the dialect's validators apply `keyword` at all (both validators the
    /// counterexamples are checked with agree on these): a keyword from a later dialect, or
    /// one a later dialect dropped, is ignored, i.e. an annotation. Keywords whose meaning
    /// changes between dialects (`items`, `exclusiveMaximum`, `additionalItems`,
    /// `dependencies`, `id`) are read by the normaliser itself.
    pub fn applies(self, keyword: &str) -> bool {
        let since = match keyword {
            "const" | "contains" | "propertyNames" => Dialect::Draft6,
            "if" | "then" | "else" => Dialect::Draft7,
            "dependentRequired"
            | "dependentSchemas"
            | "minContains"
            | "maxContains"
            | "unevaluatedItems"
            | "unevaluatedProperties"
            | "$recursiveRef" => Dialect::Draft201909,
            "prefixItems" | "$dynamicRef" => Dialect::Draft202012,
            _ => Dialect::Draft4,
        };
        self >= since && !(keyword == "$recursiveRef" && self == Dialect::Draft202012)
    }
}
