//! The mutation sweep's variants of a valid document, in one place for its two users:
//! `tests/catalog.rs` checks that typed decoding agrees with the schema validator on every
//! variant, and `examples/decode_decisions.rs` prints the decision on every variant so two
//! revisions can be compared byte for byte. (Each once kept its own copy of this walker, and
//! the copies had drifted: the printed decisions missed `-1.0`, `2^63`, `2^64` and the
//! integers rewritten as floats.)

use serde_json::Value;

/// One variant: what changed (`/a/b = null`, `/a -b`, `/a reversed`, ...), the JSON pointer of
/// the value that changed, and the document.
pub struct Variant {
    pub case: String,
    pub pointer: String,
    pub doc: Value,
}

/// Every variant of `doc` (not `doc` itself): each value replaced by values of other JSON
/// types, by boundary strings and numbers, by integers written as floats (`2.0`; JSON
/// Schema's integers include them), some beyond 64 bits (`1e19` fits `u64` only, 2^64
/// neither), and each integer by the same float; each string by near misses of a pattern
/// (one character more, one less, one changed); each object's properties reversed in order,
/// each dropped, and one added beside each; each array grown by one.
pub fn variants(doc: &Value) -> Vec<Variant> {
    let mut out = Vec::new();
    walk(doc, String::new(), doc, &mut out);
    out
}

fn walk(root: &Value, pointer: String, node: &Value, out: &mut Vec<Variant>) {
    let mut push = |case: String, f: &dyn Fn(&mut Value)| {
        let mut doc = root.clone();
        f(doc.pointer_mut(&pointer).expect("pointer of a walked node"));
        out.push(Variant {
            case,
            pointer: pointer.clone(),
            doc,
        });
    };
    let mut replacements = vec![
        Value::Null,
        Value::Bool(true),
        serde_json::json!(0),
        serde_json::json!(-1),
        serde_json::json!(1.5),
        serde_json::json!(1e300),
        serde_json::json!(2.0),
        serde_json::json!(-1.0),
        serde_json::json!(1e19),
        serde_json::json!(2f64.powi(63)),
        serde_json::json!(2f64.powi(64)),
        serde_json::json!(""),
        serde_json::json!("x"),
        serde_json::json!("0x00"),
        serde_json::json!("2024-13-01T00:00:00Z"),
        serde_json::json!([]),
        serde_json::json!({}),
    ];
    if let Some(n) = node
        .as_i64()
        .map(|n| n as f64)
        .or(node.as_u64().map(|n| n as f64))
    {
        replacements.push(serde_json::json!(n));
    }
    for r in replacements {
        push(format!("{pointer} = {r}"), &|v| *v = r.clone());
    }
    if let Some(s) = node.as_str() {
        let longer = format!("{s}0");
        push(format!("{pointer} + 0"), &|v| *v = longer.clone().into());
        let mut chars: Vec<char> = s.chars().collect();
        if chars.pop().is_some() {
            let shorter: String = chars.iter().collect();
            push(format!("{pointer} - 1"), &|v| *v = shorter.clone().into());
        }
        for (i, swap) in [(0, 'G'), (1, 'z'), (2, '.')] {
            let mut chars: Vec<char> = s.chars().collect();
            if i < chars.len() {
                chars[i] = swap;
                let changed: String = chars.into_iter().collect();
                push(format!("{pointer} [{i}]={swap}"), &|v| {
                    *v = changed.clone().into()
                });
            }
        }
    }
    match node {
        Value::Object(map) => {
            let reversed: serde_json::Map<String, Value> = map
                .iter()
                .rev()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            push(format!("{pointer} reversed"), &|v| {
                *v = Value::Object(reversed.clone())
            });
            for k in map.keys() {
                push(format!("{pointer} -{k}"), &|v| {
                    v.as_object_mut().unwrap().shift_remove(k);
                });
                push(format!("{pointer} +{k}_extra"), &|v| {
                    v.as_object_mut()
                        .unwrap()
                        .insert(format!("{k}_extra"), Value::Null);
                });
            }
            for (k, v) in map {
                let key = k.replace('~', "~0").replace('/', "~1");
                walk(root, format!("{pointer}/{key}"), v, out);
            }
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                push(format!("{pointer} push"), &|v| {
                    v.as_array_mut().unwrap().push(first.clone())
                });
            }
            for (i, v) in items.iter().enumerate() {
                walk(root, format!("{pointer}/{i}"), v, out);
            }
        }
        _ => {}
    }
}
