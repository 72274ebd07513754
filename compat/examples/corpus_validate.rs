//! The Rust half of the file corpus's counterexample search (`compat/tests/corpus/derive.py`):
//! reads `[{"schema": S, "instances": [I, ...]}, ...]` on stdin and prints, for each job, the
//! `jsonschema` crate's verdict on every instance (`[true, false, ...]`), or
//! `{"error": "..."}` when the schema does not compile. The draft is the one the schema's
//! `$schema` names (2020-12 without one), as `jsonschema::validator_for` detects it; formats
//! are annotations, as in Python's `jsonschema` by default.
//!
//! Run: `cargo run -q -p event-contracts-compat --example corpus_validate < jobs.json`

use std::io::Read;

use serde_json::{json, Value};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let jobs: Vec<Value> = serde_json::from_str(&input)?;
    let mut out = Vec::with_capacity(jobs.len());
    for job in &jobs {
        let schema = job.get("schema").ok_or("a job without `schema`")?;
        let instances = job
            .get("instances")
            .and_then(Value::as_array)
            .ok_or("a job without an `instances` array")?;
        out.push(match jsonschema::validator_for(schema) {
            Ok(v) => Value::Array(
                instances
                    .iter()
                    .map(|i| Value::Bool(v.is_valid(i)))
                    .collect(),
            ),
            Err(e) => json!({ "error": e.to_string() }),
        });
    }
    println!("{}", Value::Array(out));
    Ok(())
}
