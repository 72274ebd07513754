//! The generator on tricky catalogs: every case either gets located diagnostics (each with a
//! stable code, `file:line:col`, a JSON pointer into that file and a hint) or generates a crate
//! that compiles under `#![deny(warnings)]` and round-trips every example of every event.
//!
//! Each case states its outcome; the test fails when the outcome differs. The accepted cases
//! are compiled together, as modules of one temporary crate under `target/robustness/`, in
//! one nested `cargo test` with its own target directory (the outer one is locked by the cargo
//! running this test).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use event_contracts_codegen::catalog::Catalog;
use event_contracts_codegen::diag::{Code, Diagnostic};
use event_contracts_codegen::{check, generate_catalog, ident, GeneratedFile};
use heck::ToUpperCamelCase;
use serde_json::{json, Map, Value};

const BASE: &str = "https://event-contracts.local/schemas/";

/// What a case must give.
#[derive(Debug)]
enum Expect {
    /// A crate that compiles and round-trips the examples.
    Accepted,
    /// Diagnostics with exactly these codes (each at least once).
    Refused(&'static [Code]),
}

struct Case {
    name: &'static str,
    expect: Expect,
    files: Vec<(String, String)>,
}

fn case(name: &'static str, expect: Expect, files: Vec<(String, String)>) -> Case {
    Case {
        name,
        expect,
        files,
    }
}

/// A schema file: `$schema` and `$id` first, then `body`'s keywords, pretty-printed so
/// diagnostics land on distinct lines.
fn schema(path: &str, body: Value) -> (String, String) {
    let mut m = Map::new();
    m.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    m.insert("$id".into(), json!(format!("{BASE}{path}")));
    match body {
        Value::Object(b) => m.extend(b),
        other => panic!("a schema body is an object, not {other}"),
    }
    (
        path.to_owned(),
        serde_json::to_string_pretty(&Value::Object(m)).expect("serializes"),
    )
}

/// A flat NATS manifest for `system` in the folder of the same name.
fn manifest(system: &str, events: &[(&str, &str)]) -> (String, String) {
    let events: Vec<Value> = events.iter().map(|(n, f)| event_entry(n, f)).collect();
    manifest_with(system, system, events)
}

fn event_entry(name: &str, file: &str) -> Value {
    json!({
        "name": name,
        "schema": file,
        "channel": {"transport": "nats", "stream": "S", "subject": name},
        "version": 1,
        "producers": ["p"],
        "consumers": ["c"]
    })
}

fn manifest_with(dir: &str, system: &str, events: Vec<Value>) -> (String, String) {
    let m = json!({
        "system": system,
        "title": format!("The {system} system"),
        "description": "A robustness case.",
        "source_document": "none",
        "transport": "nats",
        "envelope": {"kind": "flat"},
        "events": events
    });
    (
        format!("{dir}/manifest.json"),
        serde_json::to_string_pretty(&m).expect("serializes"),
    )
}

/// An event schema in `corpus/events/<file>` with `body`, valid `examples` and invalid ones
/// (`(instance, pointer)`).
fn event(file: &str, mut body: Value, examples: Value, invalid: Value) -> (String, String) {
    let m = body.as_object_mut().expect("an object body");
    m.insert("examples".into(), examples);
    let invalid: Vec<Value> = invalid
        .as_array()
        .expect("an array of [instance, pointer]")
        .iter()
        .map(|pair| json!({"description": "invalid", "instance": pair[0], "pointer": pair[1]}))
        .collect();
    if !invalid.is_empty() {
        m.insert("x-invalid-examples".into(), Value::Array(invalid));
    }
    schema(&format!("corpus/events/{file}"), body)
}

/// The usual one-event corpus.
fn one_event(body: Value, examples: Value, invalid: Value) -> Vec<(String, String)> {
    vec![
        manifest("corpus", &[("e", "events/e.json")]),
        event("e.json", body, examples, invalid),
    ]
}

/// A wrapped NATS system `wrapped` whose envelope `{kind, body, at, id?, src?, trace?, span?,
/// seq?}` requires `kind`, `body`, `at` and the properties in `required`; `roles` is the
/// manifest's `envelope.roles` (`at` written as the time role's key is renamed to `time`).
fn wrapped_catalog(roles: Value, required: &[&str]) -> Vec<(String, String)> {
    let mut roles = roles.as_object().expect("roles object").clone();
    if let Some(at) = roles.remove("at") {
        roles.insert("time".into(), at);
    }
    let time_is_int = roles["time"]["format"] == "unix-millis";
    let mut required_props = vec!["kind", "body", "at"];
    required_props.extend_from_slice(required);
    let m = json!({
        "system": "wrapped",
        "title": "The wrapped system",
        "description": "A robustness case.",
        "source_document": "none",
        "transport": "nats",
        "envelope": {"kind": "wrapped", "schema": "envelope.json", "type_field": "kind", "payload_field": "body", "roles": roles},
        "events": [{
            "name": "thing.done",
            "schema": "events/thing.done.json",
            "channel": {"transport": "nats", "stream": "W", "subject": "thing.done"},
            "version": 1,
            "producers": ["p"],
            "consumers": ["c"]
        }]
    });
    let at = if time_is_int {
        json!({"type": "integer", "minimum": 0})
    } else {
        json!({"type": "string", "format": "date-time"})
    };
    let envelope = schema(
        "wrapped/envelope.json",
        json!({
            "title": "WrappedEnvelope",
            "type": "object",
            "properties": {
                "kind": {"type": "string"},
                "at": at,
                "id": {"type": "string", "format": "uuid"},
                "src": {"type": "string", "minLength": 1},
                "trace": {"type": "string"},
                "span": {"type": "string"},
                "seq": {"type": "integer", "minimum": 0},
                "note": {"type": "string"},
                "body": {"type": "object"}
            },
            "required": required_props
        }),
    );
    let event = schema(
        "wrapped/events/thing.done.json",
        json!({
            "title": "ThingDone",
            "type": "object",
            "properties": {"thing": {"type": "string"}},
            "required": ["thing"],
            "examples": [{"thing": "x"}],
            "x-invalid-examples": [{"description": "invalid", "instance": {"thing": 1}, "pointer": "/thing"}]
        }),
    );
    vec![
        (
            "wrapped/manifest.json".into(),
            serde_json::to_string_pretty(&m).expect("serializes"),
        ),
        envelope,
        event,
    ]
}

fn cases() -> Vec<Case> {
    use Expect::{Accepted, Refused};
    let mut cases = vec![
        // ---- `$ref` cycles with no type in between: a schema defined as itself.
        case(
            "ref_cycle_between_files",
            Refused(&[Code::RefCycle]),
            vec![
                manifest("corpus", &[("e", "events/e.json")]),
                event(
                    "e.json",
                    json!({"title": "E", "type": "object", "properties": {"a": {"$ref": "../defs/a.json"}}}),
                    json!([{}]),
                    json!([]),
                ),
                schema("corpus/defs/a.json", json!({"$ref": "b.json"})),
                schema("corpus/defs/b.json", json!({"$ref": "a.json"})),
            ],
        ),
        case(
            "ref_cycle_local_definition",
            Refused(&[Code::RefCycle]),
            one_event(
                json!({"title": "E", "type": "object", "properties": {"x": {"$ref": "#/$defs/Loop"}}, "$defs": {"Loop": {"$ref": "#/$defs/Loop"}}}),
                json!([{}]),
                json!([]),
            ),
        ),
        case(
            "ref_cycle_through_all_of",
            Refused(&[Code::RefCycle]),
            one_event(
                json!({"title": "E", "allOf": [{"$ref": "#/$defs/A"}], "$defs": {
                    "A": {"allOf": [{"$ref": "#/$defs/B"}]},
                    "B": {"allOf": [{"$ref": "#/$defs/A"}], "properties": {"x": {"type": "string"}}}
                }}),
                json!([{}]),
                json!([]),
            ),
        ),
        case(
            "ref_cycle_through_one_of_branch",
            Refused(&[Code::RefCycle]),
            one_event(
                json!({"title": "E", "oneOf": [
                    {"$ref": "#"},
                    {"type": "object", "properties": {"kind": {"const": "a"}}, "required": ["kind"]}
                ]}),
                json!([{"kind": "a"}]),
                json!([]),
            ),
        ),
        case(
            "ref_cycle_through_not",
            Refused(&[Code::RefCycle]),
            one_event(
                json!({"title": "E", "type": "object", "properties": {"x": {"$ref": "#/$defs/N"}}, "$defs": {"N": {"not": {"$ref": "#/$defs/N"}}}}),
                json!([{}]),
                json!([]),
            ),
        ),
        case(
            "ref_cycle_in_unused_definition",
            Refused(&[Code::RefCycle]),
            vec![
                manifest("corpus", &[("e", "events/e.json")]),
                event(
                    "e.json",
                    json!({"title": "E", "type": "object", "properties": {"a": {"type": "string"}}}),
                    json!([{"a": "x"}]),
                    json!([]),
                ),
                schema("corpus/defs/loop.json", json!({"title": "Loop", "$ref": "#"})),
            ],
        ),
        // ---- Real recursive types: boxed, or behind a Vec/map, and validated all the way down.
        case(
            "recursive_struct_through_optional_field",
            Accepted,
            vec![
                manifest("corpus", &[("e", "events/e.json")]),
                schema(
                    "corpus/defs/node.json",
                    json!({"title": "Node", "type": "object", "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "parent": {"$ref": "node.json"}
                    }, "required": ["name"]}),
                ),
                event(
                    "e.json",
                    json!({"title": "E", "type": "object", "properties": {"node": {"$ref": "../defs/node.json"}}, "required": ["node"]}),
                    json!([{"node": {"name": "a", "parent": {"name": "b", "parent": {"name": "c"}}}}]),
                    json!([[{"node": {"name": "a", "parent": {"name": "b", "parent": {"name": ""}}}}, "/node/parent/parent/name"]]),
                ),
            ],
        ),
        case(
            "recursive_struct_through_required_nullable_field",
            Accepted,
            one_event(
                json!({"title": "E", "type": "object", "properties": {"list": {"$ref": "#/$defs/List"}}, "required": ["list"], "$defs": {
                    "List": {"type": ["object", "null"], "properties": {
                        "v": {"type": "integer", "minimum": 0},
                        "next": {"$ref": "#/$defs/List"}
                    }, "required": ["v", "next"]}
                }}),
                json!([{"list": {"v": 1, "next": {"v": 2, "next": null}}}, {"list": null}]),
                json!([
                    [{"list": {"v": 1, "next": {"v": -1, "next": null}}}, "/list/next/v"],
                    [{"list": {"v": 1, "next": {"v": 2}}}, "/list/next"]
                ]),
            ),
        ),
        case(
            "recursive_event_root",
            Accepted,
            one_event(
                json!({"title": "E", "type": "object", "properties": {
                    "n": {"type": "integer", "maximum": 9},
                    "parent": {"$ref": "#"}
                }}),
                json!([{"n": 1, "parent": {"n": 2, "parent": {}}}]),
                json!([[{"n": 1, "parent": {"parent": {"n": 10}}}, "/parent/parent/n"]]),
            ),
        ),
        case(
            "recursive_tree_through_array",
            Accepted,
            one_event(
                json!({"title": "E", "type": "object", "properties": {
                    "label": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#"}, "maxItems": 2}
                }, "required": ["label"]}),
                json!([{"label": "root", "children": [{"label": "a"}, {"label": "b", "children": []}]}]),
                json!([[{"label": "root", "children": [{"label": "a", "children": [{"label": "x"}, {"label": "y"}, {"label": "z"}]}]}, "/children/0/children"]]),
            ),
        ),
        case(
            "recursive_through_map",
            Accepted,
            one_event(
                json!({"title": "E", "type": "object", "properties": {
                    "value": {"type": "integer", "minimum": 0},
                    "children": {"type": "object", "additionalProperties": {"$ref": "#"}}
                }}),
                json!([{"value": 1, "children": {"a": {"value": 2, "children": {}}, "b": {}}}]),
                json!([[{"children": {"a": {"children": {"b": {"value": -1}}}}}, "/children/a/children/b/value"]]),
            ),
        ),
        case(
            "mutual_recursion_across_files",
            Accepted,
            vec![
                manifest("corpus", &[("e", "events/e.json")]),
                schema(
                    "corpus/defs/a.json",
                    json!({"title": "A", "type": "object", "properties": {"b": {"$ref": "b.json"}, "n": {"type": "integer", "maximum": 10}}}),
                ),
                schema(
                    "corpus/defs/b.json",
                    json!({"title": "B", "type": "object", "properties": {"a": {"$ref": "a.json"}}}),
                ),
                event(
                    "e.json",
                    json!({"title": "E", "type": "object", "properties": {"a": {"$ref": "../defs/a.json"}}}),
                    json!([{"a": {"n": 1, "b": {"a": {"n": 2, "b": {}}}}}]),
                    json!([[{"a": {"b": {"a": {"n": 11}}}}, "/a/b/a/n"]]),
                ),
            ],
        ),
        case(
            "recursive_tagged_union",
            Accepted,
            vec![
                manifest("corpus", &[("e", "events/e.json")]),
                schema(
                    "corpus/defs/expr.json",
                    json!({"title": "Expr", "oneOf": [
                        {"title": "Lit", "type": "object", "properties": {"op": {"const": "lit"}, "value": {"type": "number"}}, "required": ["op", "value"]},
                        {"title": "Neg", "type": "object", "properties": {"op": {"const": "neg"}, "operand": {"$ref": "#"}}, "required": ["op", "operand"]},
                        {"title": "Add", "type": "object", "properties": {"op": {"const": "add"}, "left": {"$ref": "#"}, "right": {"$ref": "#"}}, "required": ["op", "left", "right"]}
                    ]}),
                ),
                event(
                    "e.json",
                    json!({"title": "E", "type": "object", "properties": {"expr": {"$ref": "../defs/expr.json"}}, "required": ["expr"]}),
                    json!([{"expr": {"op": "add", "left": {"op": "lit", "value": 1.5}, "right": {"op": "neg", "operand": {"op": "lit", "value": 2.0}}}}]),
                    json!([
                        [{"expr": {"op": "neg", "operand": {"op": "lit", "value": "x"}}}, "/expr/operand/value"],
                        [{"expr": {"op": "neg", "operand": {"op": "add", "left": {"op": "lit", "value": 1.0}}}}, "/expr/operand"]
                    ]),
                ),
            ],
        ),
        case(
            "recursive_array_without_an_object",
            Accepted,
            one_event(
                json!({"title": "E", "type": "object", "properties": {"nested": {"$ref": "#/$defs/Nested"}}, "$defs": {
                    "Nested": {"type": "array", "items": {"$ref": "#/$defs/Nested"}, "maxItems": 2}
                }}),
                json!([{"nested": [[], [[]]]}]),
                json!([[{"nested": [[[], [], []]]}, "/nested/0"]]),
            ),
        ),
        case(
            "recursive_map_without_an_object",
            Accepted,
            one_event(
                json!({"title": "E", "type": "object", "properties": {"dict": {"$ref": "#/$defs/Dict"}}, "$defs": {
                    "Dict": {"type": "object", "additionalProperties": {"$ref": "#/$defs/Dict"}}
                }}),
                json!([{"dict": {"a": {}, "b": {"c": {}}}}]),
                json!([]),
            ),
        ),
        case(
            "recursive_through_all_of",
            Accepted,
            vec![
                manifest("corpus", &[("e", "events/e.json")]),
                schema(
                    "corpus/defs/base.json",
                    json!({"title": "Base", "type": "object", "properties": {"id": {"type": "string", "pattern": "^[a-z]+$"}}, "required": ["id"]}),
                ),
                event(
                    "e.json",
                    json!({"title": "E", "allOf": [{"$ref": "../defs/base.json"}, {"properties": {"child": {"$ref": "#"}}}]}),
                    json!([{"id": "a", "child": {"id": "b", "child": {"id": "c"}}}]),
                    json!([[{"id": "a", "child": {"id": "B"}}, "/child/id"]]),
                ),
            ],
        ),
        // ---- Names.
        case(
            "property_names_colliding_after_case_conversion",
            Accepted,
            one_event(
                json!({"title": "E", "type": "object", "properties": {
                    "userId": {"type": "string"}, "user_id": {"type": "string"}, "UserID": {"type": "string"},
                    "user-id": {"type": "string"}, "USER ID": {"type": "string"}, "user_id_2": {"type": "string"}
                }, "required": ["userId", "user_id", "UserID", "user-id", "USER ID", "user_id_2"]}),
                json!([{"userId": "a", "user_id": "b", "UserID": "c", "user-id": "d", "USER ID": "e", "user_id_2": "f"}]),
                json!([[{"userId": "a", "user_id": "b", "UserID": "c", "user-id": "d", "USER ID": "e"}, ""]]),
            ),
        ),
        case(
            "reserved_word_property_names",
            Accepted,
            one_event(
                json!({"title": "E", "type": "object", "properties": {
                    "type": {"type": "string"}, "self": {"type": "string"}, "Self": {"type": "string"},
                    "self_": {"type": "string"}, "super": {"type": "string"}, "crate": {"type": "string"},
                    "fn": {"type": "string"}, "async": {"type": "string"}, "await": {"type": "string"},
                    "dyn": {"type": "string"}, "match": {"type": "string"}, "r#type": {"type": "string"},
                    "_": {"type": "string"}, "": {"type": "string"}, "gen": {"type": "string"},
                    "try": {"type": "string"}, "abstract": {"type": "string"}, "union": {"type": "string"}
                }, "required": ["type", "self", "Self", "self_", "", "_"]}),
                json!([{"type": "t", "self": "s", "Self": "S", "self_": "s_", "": "empty", "_": "u", "crate": "c", "fn": "f", "r#type": "r"}]),
                json!([[{"type": "t", "self": "s", "Self": "S", "self_": "s_", "_": "u"}, ""]]),
            ),
        ),
        case(
            "unicode_property_names",
            Accepted,
            one_event(
                json!({"title": "E", "type": "object", "properties": {
                    "größe": {"type": "integer"}, "名前": {"type": "string"}, "naïve": {"type": "string"},
                    "naive": {"type": "string"}, "🎉": {"type": "boolean"}, "a😀b": {"type": "string"},
                    "Ω": {"type": "object", "properties": {"ß": {"type": "string", "maxLength": 1}}}
                }}),
                json!([{"größe": 3, "名前": "n", "naïve": "x", "naive": "y", "🎉": true, "a😀b": "z", "Ω": {"ß": "é"}}]),
                json!([[{"Ω": {"ß": "éé"}}, "/Ω/ß"]]),
            ),
        ),
        case(
            "numeric_leading_property_names",
            Accepted,
            one_event(
                json!({"title": "E", "type": "object", "properties": {
                    "1st": {"type": "string"}, "_1st": {"type": "string"}, "2": {"type": "integer"},
                    "3d": {"type": "object", "properties": {"4d": {"type": "string"}}}, "-1": {"type": "string"}, "0": {"type": "string"}
                }}),
                json!([{"1st": "a", "_1st": "b", "2": 2, "3d": {"4d": "x"}, "-1": "m", "0": "z"}]),
                json!([[{"2": "two"}, "/2"]]),
            ),
        ),
        case(
            "enum_values_colliding_after_case_conversion",
            Accepted,
            one_event(
                json!({"title": "E", "type": "object", "properties": {
                    "v": {"enum": ["a", "A", "a-", "A2", "", "3d", "V3d", "self", "Self", "Self_", "other", "über", "🎉", "1", "-1", "a", "_"]}
                }, "required": ["v"]}),
                json!([{"v": "a"}, {"v": "A"}, {"v": ""}, {"v": "🎉"}, {"v": "V3d"}, {"v": "3d"}, {"v": "Self_"}, {"v": "_"}]),
                json!([[{"v": "b"}, "/v"]]),
            ),
        ),
        case(
            "union_tag_named_other_beside_a_fallback",
            Accepted,
            one_event(
                json!({"title": "E", "oneOf": [
                    {"type": "object", "properties": {"kind": {"const": "other"}, "x": {"type": "integer"}}, "required": ["kind", "x"]},
                    {"type": "object", "properties": {"kind": {"const": "Other"}}, "required": ["kind"]},
                    {"type": "object", "properties": {"kind": {"type": "string", "not": {"enum": ["other", "Other"]}}}, "required": ["kind"]}
                ]}),
                json!([{"kind": "other", "x": 1}, {"kind": "Other"}, {"kind": "anything"}]),
                json!([[{"kind": "other"}, ""]]),
            ),
        ),
        case(
            "union_tags_colliding_after_case_conversion",
            Accepted,
            one_event(
                json!({"title": "E", "oneOf": [
                    {"type": "object", "properties": {"t": {"const": "a-b"}, "x": {"type": "object", "properties": {"y": {"type": "string"}}}}, "required": ["t"]},
                    {"type": "object", "properties": {"t": {"const": "a_b"}, "x": {"type": "object", "properties": {"z": {"type": "string"}}}}, "required": ["t"]}
                ]}),
                json!([{"t": "a-b", "x": {"y": "1"}}, {"t": "a_b", "x": {"z": "2"}}]),
                json!([[{"t": "a b"}, "/t"]]),
            ),
        ),
        case(
            "inline_names_colliding_after_case_conversion",
            Accepted,
            one_event(
                json!({"title": "E", "type": "object", "properties": {
                    "a-b": {"type": "object", "properties": {"x": {"type": "string"}}},
                    "a_b": {"type": "object", "properties": {"y": {"type": "integer"}}},
                    "kind": {"enum": ["x"]}, "Kind": {"enum": ["y"]}
                }}),
                json!([{"a-b": {"x": "1"}, "a_b": {"y": 2}, "kind": "x", "Kind": "y"}]),
                json!([[{"a_b": {"y": "2"}}, "/a_b/y"]]),
            ),
        ),
        case(
            "titles_like_std_and_runtime_names",
            Accepted,
            vec![
                manifest(
                    "corpus",
                    &[("a", "events/a.json"), ("b", "events/b.json"), ("c", "events/c.json")],
                ),
                event(
                    "a.json",
                    json!({"title": "Result", "type": "object", "properties": {
                        "b": {"title": "Box", "type": "object", "properties": {"v": {"title": "Vec", "enum": ["x"]}}},
                        "s": {"title": "String", "type": "object", "properties": {"m": {"title": "Map", "type": "object", "properties": {"k": {"type": "string"}}}}},
                        "e": {"title": "Event", "type": "object", "properties": {"d": {"title": "DateTime", "type": "object", "properties": {"k": {"type": "string"}}}}},
                        "v": {"title": "Value", "type": "object", "properties": {"k": {"title": "Validate", "enum": ["y"]}}}
                    }}),
                    json!([{"b": {"v": "x"}, "s": {"m": {"k": "1"}}, "e": {"d": {"k": "2"}}, "v": {"k": "y"}}]),
                    json!([[{"b": {"v": "z"}}, "/b/v"]]),
                ),
                event(
                    "b.json",
                    json!({"title": "Type", "type": "array", "items": {"title": "Default", "type": "object", "properties": {"x": {"title": "Clone", "enum": ["c"]}}}}),
                    json!([[{"x": "c"}], []]),
                    json!([[[{"x": "d"}], "/0/x"]]),
                ),
                event(
                    "c.json",
                    json!({"title": "Vec2", "type": "object", "properties": {"debug": {"title": "Debug", "type": "object", "properties": {"send": {"title": "Sized", "type": "object", "properties": {"k": {"type": "string"}}}}}}}),
                    json!([{"debug": {"send": {"k": "v"}}}]),
                    json!([[{"debug": {"send": {"k": 1}}}, "/debug/send/k"]]),
                ),
            ],
        ),
        case(
            "title_clashes_with_the_event_enum",
            Refused(&[Code::ReservedName]),
            one_event(
                json!({"title": "CorpusEvent", "type": "object", "properties": {"a": {"type": "string"}}}),
                json!([{"a": "x"}]),
                json!([]),
            ),
        ),
        case(
            "title_clashes_with_a_decoding_shadow",
            Refused(&[Code::NameCollision]),
            one_event(
                json!({"title": "E", "type": "object", "properties": {
                    "a": {"title": "Foo", "type": "object", "properties": {"x": {"type": "string"}}},
                    "b": {"title": "FooShadow", "type": "object", "properties": {"y": {"type": "string"}}}
                }}),
                json!([{}]),
                json!([]),
            ),
        ),
        case(
            "titles_clash_with_module_items",
            Refused(&[Code::ReservedName]),
            vec![
                manifest("corpus", &[("a", "events/a.json"), ("b", "events/b.json")]),
                event(
                    "a.json",
                    json!({"title": "System", "type": "object", "properties": {"h": {"title": "Handler", "type": "object", "properties": {"x": {"type": "string"}}}}}),
                    json!([{}]),
                    json!([]),
                ),
                event(
                    "b.json",
                    json!({"title": "Dispatch", "type": "object", "properties": {"g": {"title": "EVENTS", "type": "object", "properties": {"x": {"type": "string"}}}}}),
                    json!([{}]),
                    json!([]),
                ),
            ],
        ),
        case(
            "titles_shadowing_prelude_names",
            Refused(&[Code::ReservedName]),
            vec![
                manifest("corpus", &[("a", "events/a.json"), ("b", "events/b.json")]),
                event(
                    "a.json",
                    json!({"title": "Some", "type": "array", "items": {"type": "string"}}),
                    json!([["x"]]),
                    json!([]),
                ),
                event(
                    "b.json",
                    json!({"title": "Option", "type": "object", "properties": {"x": {"title": "Send", "type": "object", "properties": {"y": {"type": "string"}}}}}),
                    json!([{}]),
                    json!([]),
                ),
            ],
        ),
        case(
            "title_is_not_a_rust_name",
            Refused(&[Code::InvalidName]),
            one_event(
                json!({"title": "My Event", "type": "object", "properties": {"inner": {"title": "Ünïcode-Thing", "type": "object", "properties": {"x": {"type": "string"}}}}}),
                json!([{}]),
                json!([]),
            ),
        ),
        case(
            "handler_methods_colliding_after_case_conversion",
            Refused(&[Code::HandlerCollision]),
            vec![
                manifest("corpus", &[("a", "events/a.json"), ("b", "events/b.json")]),
                event(
                    "a.json",
                    json!({"title": "HTTPServer", "type": "object", "properties": {"x": {"type": "string"}}}),
                    json!([{}]),
                    json!([]),
                ),
                event(
                    "b.json",
                    json!({"title": "HttpServer", "type": "object", "properties": {"y": {"type": "string"}}}),
                    json!([{}]),
                    json!([]),
                ),
            ],
        ),
        case(
            "property_named_like_the_kept_unknown_properties",
            Accepted,
            one_event(
                json!({"title": "E", "type": "object", "additionalProperties": true, "properties": {
                    "additional_properties": {"type": "string"}, "additionalProperties": {"type": "integer"}
                }}),
                json!([{"additional_properties": "a", "additionalProperties": 1, "extra": [1, 2]}]),
                json!([[{"additional_properties": 1}, "/additional_properties"]]),
            ),
        ),
        // ---- The manifest.
        case(
            "two_events_name_one_schema_file",
            Refused(&[Code::SharedSchemaFile]),
            vec![
                manifest("corpus", &[("a", "events/e.json"), ("b", "events/e.json")]),
                event(
                    "e.json",
                    json!({"title": "E", "type": "object", "properties": {"x": {"type": "string"}}}),
                    json!([{}]),
                    json!([]),
                ),
            ],
        ),
        case(
            "two_events_share_a_name",
            Refused(&[Code::DuplicateEventName]),
            vec![
                manifest("corpus", &[("a", "events/a.json"), ("a", "events/b.json")]),
                event(
                    "a.json",
                    json!({"title": "A", "type": "object", "properties": {"x": {"type": "string"}}}),
                    json!([{}]),
                    json!([]),
                ),
                event(
                    "b.json",
                    json!({"title": "B", "type": "object", "properties": {"y": {"type": "string"}}}),
                    json!([{}]),
                    json!([]),
                ),
            ],
        ),
        case(
            "system_names_that_are_no_module_names",
            Refused(&[Code::InvalidName]),
            vec![
                manifest_with("one", "my-system", vec![event_entry("a", "a.json")]),
                schema(
                    "one/a.json",
                    json!({"title": "A", "type": "object", "examples": [{}]}),
                ),
                manifest_with("two", "schemas", vec![event_entry("b", "b.json")]),
                schema(
                    "two/b.json",
                    json!({"title": "B", "type": "object", "examples": [{}]}),
                ),
            ],
        ),
        case(
            "two_systems_share_a_name",
            Refused(&[Code::DuplicateSystem]),
            vec![
                manifest_with("one", "corpus", vec![event_entry("a", "a.json")]),
                schema("one/a.json", json!({"title": "A", "type": "object"})),
                manifest_with("two", "corpus", vec![event_entry("b", "b.json")]),
                schema("two/b.json", json!({"title": "B", "type": "object"})),
            ],
        ),
        // ---- Shapes.
        case(
            "empty_objects",
            Accepted,
            vec![
                manifest(
                    "corpus",
                    &[
                        ("a", "events/a.json"),
                        ("b", "events/b.json"),
                        ("c", "events/c.json"),
                        ("d", "events/d.json"),
                    ],
                ),
                event(
                    "a.json",
                    json!({"title": "A", "type": "object"}),
                    json!([{}, {"x": [1]}]),
                    json!([[[], ""]]),
                ),
                event(
                    "b.json",
                    json!({"title": "B", "type": "object", "properties": {}}),
                    json!([{}]),
                    json!([["x", ""]]),
                ),
                event(
                    "c.json",
                    json!({"title": "C", "type": "object", "additionalProperties": false, "properties": {"e": {"type": "object", "additionalProperties": false}}}),
                    json!([{}, {"e": {}}]),
                    json!([[{"x": 1}, ""], [{"e": {"y": 1}}, "/e"]]),
                ),
                event(
                    "d.json",
                    json!({"title": "D"}),
                    json!([{}, 1, null, "s"]),
                    json!([]),
                ),
            ],
        ),
        case(
            "deep_inline_nesting",
            Accepted,
            one_event(
                nested_schema(50),
                json!([nested_instance(50, json!("leaf"))]),
                json!([[nested_instance(50, json!(1)), "/a"]]),
            ),
        ),
        case(
            // The deepest nesting that needs no `recursion_limit`: objects in arrays in
            // options, each a step for rustc's trait solver.
            "nesting_within_the_default_recursion_limit",
            Accepted,
            one_event(
                nested_arrays_schema(14),
                json!([nested_arrays_instance(14)]),
                json!([]),
            ),
        ),
        case(
            "long_ref_chain",
            Accepted,
            one_event(
                ref_chain(300),
                json!([{"next": {"next": {"next": {}}}}]),
                json!([[{"next": {"next": 1}}, "/next/next"]]),
            ),
        ),
        case(
            "ref_chain_too_deep",
            Refused(&[Code::TooDeep]),
            one_event(ref_chain(3000), json!([{}]), json!([])),
        ),
        case(
            "large_enum",
            Accepted,
            one_event(
                json!({"title": "E", "type": "object", "properties": {"v": {"enum": (0..3000).map(|i| format!("value-{i}")).collect::<Vec<_>>()}}, "required": ["v"]}),
                json!([{"v": "value-0"}, {"v": "value-2999"}]),
                json!([[{"v": "value-3000"}, "/v"]]),
            ),
        ),
        case(
            "extreme_numbers_and_lengths",
            Accepted,
            one_event(
                json!({"title": "E", "type": "object", "properties": {
                    "big": {"type": "number", "minimum": -1e300, "maximum": 1e300},
                    "fine": {"type": "number", "multipleOf": 0.001},
                    "i": {"type": "integer", "minimum": -9223372036854775808i64, "maximum": 9223372036854775807i64},
                    "u": {"type": "integer", "minimum": 0, "maximum": 18446744073709551615u64},
                    "s": {"type": "string", "maxLength": 18446744073709551615u64, "minLength": 0},
                    "l": {"type": "array", "maxItems": 18446744073709551615u64}
                }}),
                json!([{"big": 1.5e299, "fine": 0.25, "i": -9223372036854775807i64, "u": 18446744073709551615u64, "s": "", "l": []}]),
                json!([[{"fine": 0.0005}, "/fine"]]),
            ),
        ),
        case(
            "hostile_text_in_names_docs_and_patterns",
            Accepted,
            one_event(
                json!({"title": "E", "description": "Ends a comment */ and opens one /* then \"#] a raw-string ender\"#\n\n    indented like code\n\n```\nfn main() { not rust }\n```\n\n```rust,ignore\nlet x = ;\n```", "type": "object", "properties": {
                    "a/b": {"type": "string", "pattern": "^\"[\\\\]*\"$", "description": "quote\" backslash\\ \u{0}nul"},
                    "c~d": {"type": "string"}, "#": {"type": "string"}, "new\nline": {"type": "string"},
                    "%20": {"type": "string"}, "tab\there": {"type": "string"}
                }}),
                json!([{"a/b": "\"\\\\\"", "c~d": "x", "#": "y", "new\nline": "z", "%20": "p", "tab\there": "t"}]),
                json!([[{"a/b": "x"}, "/a~1b"]]),
            ),
        ),
        case(
            "nullable_object_event",
            Accepted,
            one_event(
                json!({"title": "E", "type": ["object", "null"], "properties": {"a": {"type": "string", "minLength": 2}}}),
                json!([{"a": "xy"}, null]),
                json!([[{"a": "x"}, "/a"], [1, ""]]),
            ),
        ),
        case(
            "shared_definitions_across_systems",
            Accepted,
            vec![
                manifest_with("one", "one", vec![event_entry("a", "events/a.json")]),
                manifest_with("two", "two", vec![event_entry("b", "events/b.json")]),
                schema(
                    "common/money.json",
                    json!({"title": "Money", "type": "object", "properties": {"amount": {"type": "integer", "minimum": 0}, "currency": {"enum": ["EUR", "USD"]}}, "required": ["amount", "currency"]}),
                ),
                schema(
                    "one/events/a.json",
                    json!({"title": "A", "type": "object", "properties": {
                        "price": {"$ref": "../../common/money.json"},
                        "same": {"$ref": "https://event-contracts.local/schemas/common/money.json"}
                    }, "required": ["price"], "examples": [{"price": {"amount": 1, "currency": "EUR"}, "same": {"amount": 2, "currency": "USD"}}],
                    "x-invalid-examples": [{"description": "negative", "instance": {"price": {"amount": -1, "currency": "EUR"}}, "pointer": "/price/amount"}]}),
                ),
                schema(
                    "two/events/b.json",
                    json!({"title": "B", "type": "object", "properties": {"cost": {"$ref": "../../common/money.json"}}, "required": ["cost"],
                    "examples": [{"cost": {"amount": 3, "currency": "USD"}}]}),
                ),
            ],
        ),
        case(
            "every_supported_keyword",
            Accepted,
            vec![
                manifest("corpus", &[("e", "events/e.json"), ("u", "events/u.json")]),
                schema(
                    "corpus/defs/common.json",
                    json!({"title": "Common", "type": "object", "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "at": {"type": "string", "format": "date-time"},
                        "mode": {"enum": ["a", "b", "c"]}
                    }, "required": ["id", "at"]}),
                ),
                event(
                    "e.json",
                    json!({"title": "E", "description": "Everything at once.", "allOf": [
                        {"$ref": "../defs/common.json"},
                        {"properties": {"mode": {"enum": ["a", "b"]}}},
                        {"type": "object", "properties": {
                            "ratio": {"type": "number", "minimum": 0, "maximum": 1, "exclusiveMaximum": 2},
                            "count": {"type": "integer", "exclusiveMinimum": 0, "multipleOf": 5},
                            "name": {"type": ["string", "null"], "minLength": 1, "maxLength": 8, "pattern": "^\\w+$", "x-renamed-from": "label"},
                            "tags": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "maxItems": 3, "uniqueItems": true},
                            "labels": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
                            "free": {}, "blob": {"type": "object"},
                            "flag": {"type": "boolean", "default": false, "deprecated": true},
                            "why": {"type": "string", "$comment": "required when flag", "contentMediaType": "text/plain"},
                            "a_value": {"type": "string"}, "b_value": {"type": "string"},
                            "code": {"type": "string", "not": {"enum": ["reserved"]}},
                            "when": {"type": ["string", "null"], "format": "date-time"},
                            "uids": {"type": ["array", "null"], "items": {"type": "string", "format": "uuid"}}
                        }, "required": ["ratio", "when"],
                        "dependentRequired": {"a_value": ["b_value"]},
                        "anyOf": [{"required": ["count"]}, {"required": ["tags"]}],
                        "if": {"properties": {"flag": {"const": true}}, "required": ["flag"]}, "then": {"required": ["why"]}}
                    ]}),
                    json!([
                        {"id": "6f1c4a4e-8f8e-4a71-9a0b-2f1d3c4b5a69", "at": "2024-01-02T03:04:05Z", "mode": "a", "ratio": 0.5, "count": 10, "name": "ab_1",
                         "tags": ["x", "y"], "labels": {"k": 1}, "free": [null, {"a": 1}], "blob": {"z": true}, "flag": true, "why": "because",
                         "a_value": "a", "b_value": "b", "code": "ok", "when": null, "uids": null},
                        {"id": "6f1c4a4e-8f8e-4a71-9a0b-2f1d3c4b5a69", "at": "2024-01-02T03:04:05.123+02:00", "ratio": 1, "tags": ["t"], "when": "2024-01-02T03:04:05Z", "name": null, "uids": ["6f1c4a4e-8f8e-4a71-9a0b-2f1d3c4b5a69"]}
                    ]),
                    json!([
                        [{"id": "x", "at": "2024-01-02T03:04:05Z", "ratio": 0.5, "count": 5, "when": null}, "/id"],
                        [{"id": "6f1c4a4e-8f8e-4a71-9a0b-2f1d3c4b5a69", "at": "2024-01-02T03:04:05Z", "ratio": 0.5, "count": 5, "when": null, "mode": "c"}, "/mode"],
                        [{"id": "6f1c4a4e-8f8e-4a71-9a0b-2f1d3c4b5a69", "at": "2024-01-02T03:04:05Z", "ratio": 0.5, "when": null}, ""],
                        [{"id": "6f1c4a4e-8f8e-4a71-9a0b-2f1d3c4b5a69", "at": "2024-01-02T03:04:05Z", "ratio": 0.5, "count": 5, "when": null, "a_value": "a"}, ""],
                        [{"id": "6f1c4a4e-8f8e-4a71-9a0b-2f1d3c4b5a69", "at": "2024-01-02T03:04:05Z", "ratio": 0.5, "count": 5, "when": null, "flag": true}, ""],
                        [{"id": "6f1c4a4e-8f8e-4a71-9a0b-2f1d3c4b5a69", "at": "2024-01-02T03:04:05Z", "ratio": 0.5, "count": 5, "when": null, "code": "reserved"}, "/code"],
                        [{"id": "6f1c4a4e-8f8e-4a71-9a0b-2f1d3c4b5a69", "at": "2024-01-02T03:04:05Z", "ratio": 0.5, "count": 5, "when": null, "tags": ["a", "a"]}, "/tags"],
                        [{"id": "6f1c4a4e-8f8e-4a71-9a0b-2f1d3c4b5a69", "at": "2024-01-02T03:04:05Z", "ratio": 0.5, "count": 5, "when": null, "name": "a b"}, "/name"]
                    ]),
                ),
                event(
                    "u.json",
                    json!({"title": "U", "oneOf": [
                        {"title": "UStart", "type": "object", "properties": {"type": {"const": "start"}, "at": {"type": "integer", "minimum": 0}}, "required": ["type", "at"], "additionalProperties": false},
                        {"title": "UStop", "type": "object", "properties": {"type": {"enum": ["stop"]}, "reason": {"type": ["string", "null"]}}, "required": ["type"]},
                        {"title": "UOther", "type": "object", "additionalProperties": true, "properties": {"type": {"type": "string", "not": {"enum": ["start", "stop"]}}}, "required": ["type"]}
                    ]}),
                    json!([{"type": "start", "at": 1}, {"type": "stop", "reason": null}, {"type": "relayed", "extra": {"k": [1]}}]),
                    json!([[{"type": "start", "at": -1}, "/at"], [{"type": "start", "at": 1, "x": 1}, ""], [{"type": 1}, "/type"]]),
                ),
            ],
        ),
        case(
            "duplicate_enum_values",
            Accepted,
            one_event(
                json!({"title": "E", "type": "object", "properties": {"v": {"enum": ["a", "b", "a"]}}}),
                json!([{"v": "a"}, {"v": "b"}]),
                json!([[{"v": "c"}, "/v"]]),
            ),
        ),
        // ---- Refused shapes keep their located diagnostics.
        case(
            "numeric_enum",
            Refused(&[Code::NonStringEnum]),
            one_event(
                json!({"title": "E", "type": "object", "properties": {"v": {"enum": [1, 2]}}}),
                json!([{"v": 1}]),
                json!([]),
            ),
        ),
        case(
            "all_of_parts_that_cannot_merge",
            Refused(&[Code::AllOfConflict]),
            one_event(
                json!({"title": "E", "allOf": [
                    {"type": "object", "properties": {"x": {"type": "string"}}},
                    {"type": "object", "properties": {"x": {"type": "integer"}}}
                ]}),
                json!([]),
                json!([]),
            ),
        ),
        case(
            // Only the validator reads `not` and `if`: their references are checked by
            // compiling the schema.
            "unresolved_references_the_validator_alone_reads",
            Refused(&[Code::UnresolvedRef]),
            vec![
                manifest("corpus", &[("e", "events/e.json")]),
                event(
                    "e.json",
                    json!({"title": "E", "type": "object", "properties": {"a": {"type": "string", "not": {"$ref": "../defs/gone.json"}}},
                           "if": {"$ref": "../defs/shared.json#/$defs/missing"}, "then": {"required": ["a"]}}),
                    json!([{}]),
                    json!([]),
                ),
                schema("corpus/defs/shared.json", json!({"title": "Shared", "$defs": {"there": {"type": "string"}}})),
            ],
        ),
        case(
            // Keywords with values of the wrong kind: each located, each with a hint (the
            // validator refuses them too: E050). `type: 5` also leaves `t` with no type.
            "keyword_values_of_the_wrong_kind",
            Refused(&[
                Code::InvalidKeywordValue,
                Code::MissingType,
                Code::UnsupportedShape,
                Code::SchemaCompile,
            ]),
            one_event(
                json!({"title": "E", "type": "object", "properties": {
                    "r": {"$ref": 5}, "t": {"type": 5}, "p": {"type": "string", "pattern": 5},
                    "m": {"type": "number", "multipleOf": 0},
                    "u": {"oneOf": [{"type": "object", "properties": {"k": {"const": "a"}}, "required": ["k"]}, {"const": "b"}]}
                }}),
                json!([{}]),
                json!([]),
            ),
        ),
        case(
            "event_file_that_is_no_schema",
            // The validator cannot compile it either (E050).
            Refused(&[Code::SchemaId, Code::NotASchema, Code::SchemaCompile]),
            vec![
                manifest("corpus", &[("e", "events/e.json")]),
                ("corpus/events/e.json".into(), "[\n  1,\n  2\n]".into()),
            ],
        ),
        case(
            "manifest_with_an_unknown_field",
            Refused(&[Code::Manifest]),
            vec![
                (
                    "corpus/manifest.json".into(),
                    "{\n  \"system\": \"corpus\",\n  \"title\": \"t\",\n  \"description\": \"d\",\n  \"source_document\": \"s\",\n  \"transport\": \"nats\",\n  \"envelope\": {\"kind\": \"flat\"},\n  \"events\": [],\n  \"bogus\": 1\n}".into(),
                ),
            ],
        ),
    ];
    // ---- Wrapped envelopes: only declared roles are filled. An optional property nothing
    // fills and a system with no id or trace role must still compile (no unused `meta` or
    // `message`); a required one nothing fills is refused at the property.
    cases.push(case(
        "wrapped_envelope_with_optional_unfilled_properties",
        Accepted,
        wrapped_catalog(
            json!({"at": {"property": "at", "format": "rfc3339-millis"}}),
            &[],
        ),
    ));
    cases.push(case(
        "wrapped_envelope_with_every_role",
        Accepted,
        wrapped_catalog(
            json!({"message_id": "id", "at": {"property": "at", "format": "unix-millis"}, "source": "src", "trace_id": "trace", "span_id": "span", "seq": "seq"}),
            &["id", "src", "trace", "span", "seq"],
        ),
    ));
    cases.push(case(
        "wrapped_envelope_required_property_without_role",
        Refused(&[Code::UnfilledEnvelopeProperty]),
        wrapped_catalog(
            json!({"at": {"property": "at", "format": "rfc3339-millis"}}),
            &["id"],
        ),
    ));
    cases.sort_by_key(|c| c.name);
    cases
}

/// `depth` objects, each holding the next in property `a`; the innermost `a` is a string.
fn nested_schema(depth: usize) -> Value {
    let mut s = json!({"type": "string"});
    for _ in 0..depth {
        s = json!({"type": "object", "properties": {"a": s}});
    }
    let m = s.as_object_mut().expect("an object");
    m.insert("title".into(), json!("E"));
    s
}

/// `depth` definitions, each an object holding the next in an optional array and in a map;
/// the innermost holds a string.
fn nested_arrays_schema(depth: usize) -> Value {
    let mut defs = Map::new();
    for i in 0..depth {
        let next = json!({"$ref": format!("#/$defs/d{}", i + 1)});
        defs.insert(
            format!("d{i}"),
            json!({"type": "object", "properties": {"a": {"type": ["array", "null"], "items": next}, "m": {"type": "object", "additionalProperties": next}}}),
        );
    }
    defs.insert(
        format!("d{depth}"),
        json!({"type": "object", "properties": {"leaf": {"type": "string"}}}),
    );
    json!({"title": "E", "$ref": "#/$defs/d0", "$defs": defs})
}

fn nested_arrays_instance(depth: usize) -> Value {
    (0..depth).fold(
        json!({"leaf": "x"}),
        |inner, _| json!({"a": [inner], "m": {}}),
    )
}

fn nested_instance(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(leaf, |inner, _| json!({"a": inner}))
}

/// An event whose `next` goes through `n` definitions, each an object holding the next.
fn ref_chain(n: usize) -> Value {
    let mut defs = Map::new();
    for i in 0..n {
        let next = if i + 1 < n {
            json!({"$ref": format!("#/$defs/d{}", i + 1)})
        } else {
            json!({"type": "string"})
        };
        defs.insert(
            format!("d{i}"),
            json!({"type": "object", "properties": {"next": next}}),
        );
    }
    json!({"title": "E", "type": "object", "properties": {"next": {"$ref": "#/$defs/d0"}}, "$defs": defs})
}

/// Runs codegen on one case in its own thread, so a hang is reported as one rather than
/// stalling the suite (a stack overflow still aborts: the test then fails too).
fn run(case: &Case) -> Result<Vec<GeneratedFile>, Vec<Diagnostic>> {
    let files = case.files.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(case.name.into())
        .spawn(move || {
            let result = Catalog::from_texts(files)
                .and_then(|c| generate_catalog(&c, "cargo xtask codegen"))
                .map_err(|d| d.0);
            let _ = tx.send(result);
        })
        .expect("a thread");
    rx.recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("{}: no answer in 120 s ({e}): a hang", case.name))
}

/// Every diagnostic names a file of the case, a line and column inside it, a JSON pointer
/// that locates there, a message and a hint.
fn located(case: &Case, d: &Diagnostic) -> Result<(), String> {
    let fail = |why: &str| Err(format!("{}: {why}: {d}", case.name));
    if d.message.is_empty() || d.hint.is_empty() {
        return fail("no message or no hint");
    }
    let Some(path) = d.file.strip_prefix("schemas/") else {
        return fail("not under schemas/");
    };
    let Some((_, text)) = case.files.iter().find(|(p, _)| p == path) else {
        return fail("no such file in the case");
    };
    let lines: Vec<&str> = text.split('\n').collect();
    if d.position.line < 1 || d.position.line > lines.len() {
        return fail("line out of range");
    }
    if d.position.column < 1 || d.position.column > lines[d.position.line - 1].chars().count() + 1 {
        return fail("column out of range");
    }
    if !(d.pointer.is_empty() || d.pointer.starts_with('/')) {
        return fail("not a JSON pointer");
    }
    if let Ok(source) = event_contracts_codegen::source::SourceFile::parse(path, text.clone()) {
        if source.position(&d.pointer) != d.position {
            return fail("the position is not where the pointer leads");
        }
    }
    Ok(())
}

#[test]
fn every_case_is_diagnosed_or_compiles_and_round_trips() {
    let mut cases = cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    // `ROBUSTNESS_CASES=a,b` runs only those cases (to debug one without the others).
    if let Ok(only) = std::env::var("ROBUSTNESS_CASES") {
        let only: Vec<&str> = only.split(',').collect();
        cases.retain(|c| only.contains(&c.name));
    }
    let mut accepted = Vec::new();
    let mut failures = Vec::new();
    for case in &cases {
        let outcome = run(case);
        // The table of outcomes, for `--nocapture`.
        match &outcome {
            Ok(_) => println!("{:<55} compiles + round-trips", case.name),
            Err(diags) => {
                let codes: BTreeSet<&str> = diags.iter().map(|d| d.code.as_str()).collect();
                println!("{:<55} {}", case.name, Vec::from_iter(codes).join(" "));
            }
        }
        match (outcome, &case.expect) {
            (Ok(files), Expect::Accepted) => accepted.push((case, files)),
            (Err(diags), Expect::Refused(codes)) => {
                failures.extend(diags.iter().filter_map(|d| located(case, d).err()));
                let got: BTreeSet<Code> = diags.iter().map(|d| d.code).collect();
                let want: BTreeSet<Code> = codes.iter().copied().collect();
                if got != want {
                    failures.push(format!(
                        "{}: expected {want:?}, got:\n{}",
                        case.name,
                        diags
                            .iter()
                            .map(|d| format!("  {d}"))
                            .collect::<Vec<_>>()
                            .join("\n")
                    ));
                }
            }
            (Ok(_), Expect::Refused(codes)) => failures.push(format!(
                "{}: expected {codes:?}, but it generated",
                case.name
            )),
            (Err(diags), Expect::Accepted) => failures.push(format!(
                "{}: expected to generate, got:\n{}",
                case.name,
                diags
                    .iter()
                    .map(|d| format!("  {d}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for (case, files) in &accepted {
        let lib = &files
            .iter()
            .find(|f| f.path == "src/lib.rs")
            .expect("a lib.rs")
            .contents;
        assert!(
            lib.contains("#![deny(warnings)]") && lib.contains("#![forbid(unsafe_code)]"),
            "{}: the crate root must deny warnings and forbid unsafe code",
            case.name
        );
        for f in files {
            assert!(
                !f.contents.contains("unsafe "),
                "{}: {} has `unsafe`",
                case.name,
                f.path
            );
        }
    }
    if !accepted.is_empty() {
        compile_and_round_trip(&accepted);
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("codegen sits in the workspace")
        .to_path_buf()
}

/// Writes every accepted case as a module of one crate and runs its tests: each decodes and
/// re-encodes every example of every event, and checks every invalid example is refused by
/// `decode` and by the generated fast-path checks.
fn compile_and_round_trip(accepted: &[(&Case, Vec<GeneratedFile>)]) {
    let root = workspace_root();
    let dir = root.join("target/robustness/crate");
    let _ = std::fs::remove_dir_all(dir.join("src"));
    std::fs::create_dir_all(dir.join("src")).expect("creates the crate folder");
    let runtime = root.join("runtime");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            r#"[package]
name = "robustness-cases"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
event-contracts-runtime = {{ path = {runtime:?} }}
serde = {{ version = "1", features = ["derive"] }}
serde_json = {{ version = "1", features = ["preserve_order"] }}
uuid = {{ version = "1", features = ["serde", "v4"] }}
regex = "1"

[features]
kafka = []
redis = []
amqp = []
nats = []
http = []
"#
        ),
    )
    .expect("writes Cargo.toml");
    // The workspace's lock file: the same dependency versions, and no network.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).expect("copies Cargo.lock");
    let mut lib = String::from(
        "//! Every accepted robustness case, one module each.\n#![deny(warnings)]\n#![forbid(unsafe_code)]\n\n",
    );
    let mut tests = String::from(ROUND_TRIP_HELPERS);
    // A crate-level attribute: the generated crate root's is lifted to this crate's root.
    let mut recursion_limit: Option<usize> = None;
    for (case, files) in accepted {
        let module = format!("case_{}", case.name);
        lib.push_str(&format!("pub mod {module};\n"));
        let case_dir = dir.join("src").join(&module);
        std::fs::create_dir_all(&case_dir).expect("creates a case folder");
        for f in files {
            let name = match f.path.as_str() {
                "src/lib.rs" => "mod.rs".to_owned(),
                other => other.trim_start_matches("src/").to_owned(),
            };
            // The generated crate's root is this module here.
            let mut text = f.contents.replace("crate::", &format!("crate::{module}::"));
            if let Some(at) = text.find("#![recursion_limit = \"") {
                let end = at + text[at..].find('\n').expect("one line");
                let limit: String = text[at..end].chars().filter(char::is_ascii_digit).collect();
                let limit: usize = limit.parse().expect("a number");
                recursion_limit = recursion_limit.max(Some(limit));
                text.replace_range(at..end, "");
            }
            std::fs::write(case_dir.join(name), text).expect("writes a generated file");
        }
        tests.push_str(&round_trip_test(case, &module));
    }
    lib.push_str("\n#[cfg(test)]\nmod round_trip;\n#[cfg(test)]\nmod patterns;\n");
    std::fs::write(dir.join("src/patterns.rs"), patterns_module()).expect("writes patterns.rs");
    if let Some(limit) = recursion_limit {
        lib = lib.replacen(
            "#![deny(warnings)]",
            &format!("#![deny(warnings)]\n#![recursion_limit = \"{limit}\"]"),
            1,
        );
    }
    std::fs::write(dir.join("src/lib.rs"), lib).expect("writes lib.rs");
    std::fs::write(dir.join("src/round_trip.rs"), tests).expect("writes round_trip.rs");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["test", "--lib", "--offline", "--quiet"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", root.join("target/robustness/target"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("runs cargo");
    assert!(
        output.status.success(),
        "the accepted cases do not compile or round-trip (crate in {}):\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Patterns whose generated checks are compared with the regex engine, beside every simple
/// pattern of the catalog in `schemas/`: the kinds the catalog has, shortened where a long
/// count would leave the probes nothing to find, and the corners of the lowering (bounded and
/// unbounded repeats, nested groups, characters beyond ASCII, prefixes not anchored at the end).
const PATTERNS: &[&str] = &[
    "^0x[0-9a-fA-F]{4}$",
    "^[0-9]+$",
    "^-?[0-9]+$",
    "^[a-z][a-z0-9_]*$",
    "^sha:[0-9a-f]{2}$",
    "^[0-9]+(\\.[0-9]+)?$",
    "^-?[0-9]+(\\.[0-9]+)? w/p$",
    "^[A-Za-z0-9+/]*={0,2}$",
    "^/",
    "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
    "^a\\.[a-z][a-z0-9_]*\\.[a-z][a-z0-9_]*$",
    "^(WEI|ETH)$",
    "^[0-9][0-9.eE+-]* (WEI|ETH)$",
    "^[1-9][0-9]*x[1-9][0-9]*$",
    "^[A-Z]{3}$",
    "^(ab|c)*d?$",
    "^a{2,}b",
    "^[a-f]{0,3}",
    "^[a-z][a-z0-9+.-]*://\\S+$",
    "^h://\\S{2,3}$",
    "^r/[^\\n\\r]+$",
    "^h://[^\\x{9}-\\x{d}\\x{20}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}-\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}]+$",
    "^[^\\x{e000}-\\x{10ffff}]{1,4}$",
    "^\\S",
    // A set of more ranges than a comparison each: a bit test.
    "^[!#$%&'*+.^_`|~0-9A-Za-z-]+(=[!#-]{1,2})?$",
    "^(a(b|c)*d|e)+$",
    // Characters beyond ASCII inside groups: a quoted string, and media type parameters.
    "^(a\\S)+$",
    "^\"([^\"\\\\]|\\\\[^\\n\\r])*\"$",
    "^[Aa]/[Jj](;([a-c-]+=([a-c-]+|\"([^\"\\\\]|\\\\[^\\n\\r\\x{2028}])*\"))?)*$",
];

/// Every pattern of the catalog in `schemas/`, in the `regex` crate's dialect as codegen
/// translates it.
fn catalog_patterns() -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("pattern", Value::String(p)) => out.push(
                            jsonschema_regex::to_rust_regex(p)
                                .expect("the catalog's patterns translate")
                                .into_owned(),
                        ),
                        // Examples are instances, not schemas.
                        ("examples" | "x-invalid-examples", _) => {}
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("reads the catalog") {
            let path = entry.expect("a catalog entry").path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    files(&workspace_root().join("schemas"), &mut paths);
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("reads a schema");
        walk(
            &serde_json::from_str(&text).expect("a schema parses"),
            &mut out,
        );
    }
    out.sort();
    out.dedup();
    out
}

/// The generated check of every simple pattern of [`PATTERNS`] and the catalog, beside its
/// source, and a test that each matches exactly what the regex engine matches on strings near
/// what the pattern accepts.
fn patterns_module() -> String {
    for p in PATTERNS {
        assert!(
            event_contracts_codegen::simple_pattern::matcher(p).is_some(),
            "{p} is not simple"
        );
    }
    let sources: Vec<String> = PATTERNS
        .iter()
        .map(|p| p.to_string())
        .chain(catalog_patterns())
        .collect();
    let checks: Vec<String> = sources
        .iter()
        .filter_map(|source| {
            let check = event_contracts_codegen::simple_pattern::matcher(source)?;
            Some(format!(
                "    ({source:?}, (|s: &str| -> bool {check}) as fn(&str) -> bool),\n"
            ))
        })
        .collect();
    assert!(
        checks.len() > 25,
        "{} of {} patterns are simple",
        checks.len(),
        sources.len()
    );
    format!(
        "{PATTERN_TEST}\nconst CHECKS: &[(&str, fn(&str) -> bool)] = &[\n{}];\n",
        checks.concat()
    )
}

const PATTERN_TEST: &str = r#"//! The generated check of each simple pattern against the regex engine.

/// Strings near what `source` accepts: built from its own characters and a few others,
/// every string up to 3 characters, plus random ones up to 70.
fn probes(source: &str) -> Vec<String> {
    let mut alphabet: Vec<char> = source.chars().filter(|c| c.is_ascii_graphic()).collect();
    alphabet.extend([
        '0', '9', 'a', 'f', 'A', 'F', 'G', 'z', ' ', '\n', 'é', '.', '-',
        // Control characters at the ends of ASCII, and a white space one.
        '\u{0}', '\t', '\u{7f}',
        // White space beyond ASCII, and characters of two to four UTF-8 bytes.
        '\u{85}', '\u{a0}', '\u{2028}', '\u{3000}', '\u{feff}', '€', '𝄞',
    ]);
    alphabet.sort_unstable();
    alphabet.dedup();
    let mut out = vec![String::new()];
    let mut layer = vec![String::new()];
    for _ in 0..3 {
        layer = layer
            .iter()
            .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
            .collect();
        out.extend(layer.iter().cloned());
    }
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..20_000 {
        let len = (rng % 70) as usize;
        let mut s = String::new();
        for _ in 0..len {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            s.push(alphabet[(rng % alphabet.len() as u64) as usize]);
        }
        out.push(s);
    }
    out
}

#[test]
fn simple_patterns_match_exactly_what_the_regex_engine_matches() {
    for (source, check) in CHECKS {
        let regex = regex::Regex::new(source).unwrap();
        for probe in probes(source) {
            assert_eq!(check(&probe), regex.is_match(&probe), "{source} on {probe:?}");
        }
    }
}
"#;

const ROUND_TRIP_HELPERS: &str = r#"//! Every example decodes and re-encodes to the same JSON; every invalid example is refused.

use event_contracts_runtime::{decode, encode, Event};
use serde_json::Value;

/// JSON equality as JSON Schema sees it: `1` and `1.0` are the same number, member order
/// does not matter.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || (x.as_f64().is_some() && x.as_f64() == y.as_f64())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

fn round_trip<T: Event + std::fmt::Debug>(
    dispatch: impl Fn(&[u8]) -> Result<Vec<u8>, String>,
    valid: &[&str],
    invalid: &[&str],
) {
    for text in valid {
        let want: Value = serde_json::from_str(text).unwrap();
        let event: T = decode(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"));
        let out = encode(&event).unwrap_or_else(|e| panic!("{text}: {e}"));
        let got: Value = serde_json::from_slice(&out).unwrap();
        assert!(same_json(&got, &want), "{text}\nre-encoded as {got}");
        // Through the system's event enum, by name, too.
        let out = dispatch(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"));
        let got: Value = serde_json::from_slice(&out).unwrap();
        assert!(same_json(&got, &want), "{text}\nre-encoded by name as {got}");
        // The fast path alone agrees with the validator.
        let typed: T = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(T::NEEDS_SCHEMA || typed.is_valid(), "{text}: fast path refuses it");
    }
    for text in invalid {
        assert!(decode::<T>(text.as_bytes()).is_err(), "{text}: decoded");
        assert!(dispatch(text.as_bytes()).is_err(), "{text}: decoded by name");
        if let Ok(typed) = serde_json::from_str::<T>(text) {
            assert!(T::NEEDS_SCHEMA || !typed.is_valid(), "{text}: fast path accepts it");
        }
    }
}
"#;

/// One `#[test]` per accepted case: every event's examples through `round_trip`.
fn round_trip_test(case: &Case, module: &str) -> String {
    let catalog = Catalog::from_texts(case.files.clone()).expect("an accepted case parses");
    let systems = check(&catalog).expect("an accepted case checks");
    let mut body = String::new();
    for sys in &systems {
        let m = &sys.source.manifest;
        let sys_mod = ident(&m.system);
        let enum_name = format!("{}Event", m.system.to_upper_camel_case());
        for (entry, &ty) in m.events.iter().zip(&sys.events) {
            let file = &catalog.files[&format!("{}/{}", sys.source.dir, entry.schema)];
            let texts = |v: Option<&Value>, key: Option<&str>| -> Vec<String> {
                v.and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|x| match key {
                        Some(k) => x.get(k),
                        None => Some(x),
                    })
                    .map(|x| format!("{:?}", x.to_string()))
                    .collect()
            };
            let valid = texts(file.value.get("examples"), None);
            let invalid = texts(file.value.get("x-invalid-examples"), Some("instance"));
            let ty = ident(&sys.graph[ty].name);
            let name = &entry.name;
            body.push_str(&format!(
                "    round_trip::<crate::{module}::{sys_mod}::{ty}>(|b| crate::{module}::{sys_mod}::{enum_name}::decode({name:?}, b).map_err(|e| e.to_string()).and_then(|e| e.encode().map_err(|e| e.to_string())), &[{}], &[{}]);\n",
                valid.join(", "),
                invalid.join(", ")
            ));
        }
    }
    format!("\n#[test]\nfn {module}() {{\n{body}}}\n")
}

fn diagnostics_of(name: &str) -> Vec<Diagnostic> {
    let case = cases()
        .into_iter()
        .find(|c| c.name == name)
        .expect("a case of that name");
    run(&case).expect_err("diagnostics")
}

#[test]
fn a_schema_file_named_twice_is_reported_at_the_second_event_naming_the_first() {
    let diags = diagnostics_of("two_events_name_one_schema_file");
    let [d] = diags.as_slice() else {
        panic!("{diags:?}")
    };
    assert_eq!(d.pointer, "/events/1/schema", "{d}");
    assert!(
        d.message.contains("event `b`") && d.message.contains("of event `a`"),
        "{d}"
    );
}

#[test]
fn a_ref_cycle_is_reported_once_naming_every_schema_in_it() {
    let diags = diagnostics_of("ref_cycle_between_files");
    let [d] = diags.as_slice() else {
        panic!("{diags:?}")
    };
    assert_eq!(
        (d.file.as_str(), d.pointer.as_str()),
        ("schemas/corpus/defs/a.json", "/$ref")
    );
    assert!(
        d.message
            .contains("corpus/defs/a.json# → corpus/defs/b.json# → corpus/defs/a.json#"),
        "{d}"
    );
}
