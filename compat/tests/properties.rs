//! Property tests: semantics-preserving rewrites of random schemas give no data finding, and
//! every counterexample of every finding between a random schema and a random mutation of it
//! is accepted by the side it names and rejected by the other (checked with jsonschema).

use event_contracts_compat::{check_files, Category, Mode, Options, Side, Verdict};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const PATTERNS: &[&str] = &[
    "^[a-z]+$",
    "^[a-z0-9]+$",
    "^[0-9]{2,4}$",
    "^x",
    "abc",
    "^[A-Z][a-z]*$",
];

fn string_schema() -> impl Strategy<Value = Value> {
    (
        prop::option::of(0u64..3),
        prop::option::of(3u64..8),
        prop::option::of(0..PATTERNS.len()),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(min, max, pat, uuid)| {
            let mut m = Map::new();
            m.insert("type".into(), json!("string"));
            if uuid {
                m.insert("format".into(), json!("uuid"));
                return Value::Object(m);
            }
            if let Some(x) = min {
                m.insert("minLength".into(), json!(x));
            }
            if let Some(x) = max {
                m.insert("maxLength".into(), json!(x));
            }
            if let Some(p) = pat {
                m.insert("pattern".into(), json!(PATTERNS[p]));
            }
            Value::Object(m)
        })
}

fn integer_schema() -> impl Strategy<Value = Value> {
    (
        prop::option::of(-5i64..5),
        prop::option::of(5i64..50),
        prop::option::of(prop::sample::select(vec![2i64, 3, 5])),
    )
        .prop_map(|(min, max, mult)| {
            let mut m = Map::new();
            m.insert("type".into(), json!("integer"));
            if let Some(x) = min {
                m.insert("minimum".into(), json!(x));
            }
            if let Some(x) = max {
                m.insert("maximum".into(), json!(x));
            }
            if let Some(x) = mult {
                m.insert("multipleOf".into(), json!(x));
            }
            Value::Object(m)
        })
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        string_schema(),
        integer_schema(),
        Just(json!({"type": "number", "minimum": 0.5})),
        Just(json!({"type": "boolean"})),
        prop::sample::subsequence(vec!["a", "b", "c", "d"], 1..4)
            .prop_map(|v| json!({"type": "string", "enum": v})),
        Just(json!({"const": "fixed"})),
        (string_schema(), prop::option::of(1u64..3), any::<bool>()).prop_map(
            |(items, min, unique)| {
                let mut m = json!({"type": "array", "items": items});
                if let Some(n) = min {
                    m["minItems"] = json!(n);
                }
                if unique {
                    m["uniqueItems"] = json!(true);
                }
                m
            }
        ),
        string_schema().prop_map(|mut s| {
            s["type"] = json!(["string", "null"]);
            s
        }),
    ]
}

fn object(depth: u32) -> BoxedStrategy<Value> {
    let prop_schema = if depth == 0 {
        leaf().boxed()
    } else {
        prop_oneof![4 => leaf(), 1 => object(depth - 1)].boxed()
    };
    (
        prop::collection::vec(prop_schema, 1..5),
        prop::collection::vec(any::<bool>(), 5),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(props, req, closed)| {
            let names = ["alpha", "beta", "gamma", "delta", "eps"];
            let mut properties = Map::new();
            let mut required = Vec::new();
            for (i, p) in props.into_iter().enumerate() {
                properties.insert(names[i].into(), p);
                if req[i] {
                    required.push(json!(names[i]));
                }
            }
            let mut m = json!({"type": "object", "properties": properties, "required": required});
            if closed {
                m["additionalProperties"] = json!(false);
            }
            m
        })
        .boxed()
}

fn with_schema(mut v: Value) -> Value {
    v["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    v
}

/// Rewrites that accept exactly the same documents.
fn rewrite(schema: &Value, kind: usize, pick: usize) -> Value {
    let mut s = schema.clone();
    let names: Vec<String> = s["properties"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    if names.is_empty() {
        return s;
    }
    let name = names[pick % names.len()].clone();
    match kind % 6 {
        // Inline to $ref.
        0 => {
            let inner = s["properties"][&name].take();
            let def = format!("D{pick}");
            if !s["$defs"].is_object() {
                s["$defs"] = json!({});
            }
            s["$defs"][&def] = inner;
            s["properties"][&name] = json!({ "$ref": format!("#/$defs/{def}") });
        }
        // allOf split: the picked property (and its required entry) into a second part.
        1 => {
            let inner = s["properties"]
                .as_object_mut()
                .and_then(|m| m.remove(&name))
                .unwrap_or(json!({}));
            let mut part = json!({"type": "object", "properties": {name.clone(): inner}});
            if let Some(req) = s["required"].as_array_mut() {
                if let Some(i) = req.iter().position(|r| r == &json!(name)) {
                    req.remove(i);
                    part["required"] = json!([name]);
                }
            }
            if s.get("additionalProperties").is_some() {
                // A closed object cannot be split (additionalProperties sees only its siblings).
                return schema.clone();
            }
            let defs = s.as_object_mut().and_then(|m| m.remove("$defs"));
            s = json!({"allOf": [s, part]});
            if let Some(d) = defs {
                s["$defs"] = d;
            }
        }
        // Type array to anyOf of single types.
        2 => {
            let p = &mut s["properties"][&name];
            if p["type"] == json!(["string", "null"]) {
                let mut string = p.clone();
                string["type"] = json!("string");
                *p = json!({"anyOf": [string, {"type": "null"}]});
            }
        }
        // const to enum of one and back.
        3 => {
            let p = &mut s["properties"][&name];
            if let Some(c) = p.get("const").cloned() {
                p.as_object_mut().map(|m| m.remove("const"));
                p["enum"] = json!([c]);
            } else if p
                .get("enum")
                .and_then(Value::as_array)
                .is_some_and(|e| e.len() == 1)
            {
                let c = p["enum"][0].clone();
                p.as_object_mut().map(|m| m.remove("enum"));
                p["const"] = c;
            }
        }
        // Reorder properties.
        4 => {
            let props = s["properties"].as_object().cloned().unwrap_or_default();
            let mut items: Vec<(String, Value)> = props.into_iter().collect();
            items.reverse();
            s["properties"] = Value::Object(items.into_iter().collect());
        }
        // Integer minimum n as exclusiveMinimum n-1.
        _ => {
            let p = &mut s["properties"][&name];
            if p["type"] == json!("integer") {
                if let Some(n) = p.get("minimum").and_then(Value::as_i64) {
                    p.as_object_mut().map(|m| m.remove("minimum"));
                    p["exclusiveMinimum"] = json!(n - 1);
                }
            }
        }
    }
    s
}

/// A random edit of one property (usually not semantics-preserving).
fn mutate(schema: &Value, kind: usize, pick: usize, with: &Value) -> Value {
    let mut s = schema.clone();
    let names: Vec<String> = s["properties"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let name = names[pick % names.len()].clone();
    match kind % 8 {
        0 => s["properties"][&name] = with.clone(),
        1 => {
            if let Some(r) = s["required"].as_array_mut() {
                if r.contains(&json!(name)) {
                    r.retain(|x| x != &json!(name));
                } else {
                    r.push(json!(name));
                }
            }
        }
        2 => {
            s["properties"]["zeta"] = with.clone();
        }
        3 => {
            s["properties"].as_object_mut().map(|m| m.remove(&name));
        }
        4 => {
            if s.get("additionalProperties").is_some() {
                s.as_object_mut().map(|m| m.remove("additionalProperties"));
            } else {
                s["additionalProperties"] = json!(false);
            }
        }
        5 => {
            let p = &mut s["properties"][&name];
            if let Some(n) = p.get("maxLength").and_then(Value::as_u64) {
                p["maxLength"] = json!(n.saturating_sub(2));
            } else if let Some(n) = p.get("minimum").and_then(Value::as_i64) {
                p["minimum"] = json!(n + 3);
            } else {
                p["minLength"] = json!(2);
            }
        }
        6 => {
            let p = &mut s["properties"][&name];
            if p.get("pattern").is_some() {
                p["pattern"] = json!(PATTERNS[pick % PATTERNS.len()]);
            } else if p.get("enum").is_some() {
                p["enum"] = json!(["a", "z"]);
            } else {
                p["type"] = json!("integer");
            }
        }
        _ => {
            s["properties"][&name]["uniqueItems"] = json!(true);
        }
    }
    s
}

fn compile(s: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(s)
        .expect("compiles")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn semantics_preserving_rewrites_give_no_finding(schema in object(1), kind in 0usize..6, pick in 0usize..5, kind2 in 0usize..6) {
        let old = with_schema(schema.clone());
        let new = with_schema(rewrite(&rewrite(&schema, kind, pick), kind2, pick + 1));
        let report = check_files(("old.json", &old.to_string()), ("new.json", &new.to_string()), Mode::Full, &Options::default())
            .expect("checks");
        let data: Vec<_> = report.findings.iter().filter(|f| f.category == Category::Data).collect();
        prop_assert!(data.is_empty(), "old {old}\nnew {new}\n{}", event_contracts_compat::render::text(&report));
    }

    #[test]
    fn every_counterexample_separates_the_sides(schema in object(1), kind in 0usize..8, pick in 0usize..5, with in leaf()) {
        let old = with_schema(schema.clone());
        let new = with_schema(mutate(&schema, kind, pick, &with));
        let report = check_files(("old.json", &old.to_string()), ("new.json", &new.to_string()), Mode::Full, &Options::default())
            .expect("checks");
        let (vo, vn) = (compile(&old), compile(&new));
        for f in &report.findings {
            if let Some(cx) = &f.counterexample {
                let (acc, rej) = match cx.accepted_by { Side::Old => (&vo, &vn), Side::New => (&vn, &vo) };
                prop_assert!(acc.is_valid(&cx.message), "{} {}: accepting side rejects {}\nold {old}\nnew {new}", f.rule.0, f.path, cx.message);
                prop_assert!(!rej.is_valid(&cx.message), "{} {}: rejecting side accepts {}\nold {old}\nnew {new}", f.rule.0, f.path, cx.message);
            }
            if f.verdict == Verdict::Incompatible && f.category == Category::Data {
                prop_assert!(f.counterexample.is_some(), "{} has no counterexample", f.rule.0);
            }
        }
    }
}
