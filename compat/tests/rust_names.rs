//! The Rust-API findings name what the generator emits (its `naming`), not a re-derivation:
//! a field called `type` is `r#type` in the generated struct, an enum value `1st` is the
//! variant `V1st`.

use event_contracts_compat::{check_files, Mode, Options};

fn messages(old: &str, new: &str) -> Vec<String> {
    check_files(
        ("a.json", old),
        ("a.json", new),
        Mode::Backward,
        &Options::default(),
    )
    .expect("compares")
    .findings
    .into_iter()
    .map(|f| f.message)
    .collect()
}

#[test]
fn a_removed_field_is_named_by_its_generated_identifier() {
    let old = r#"{"title":"E","type":"object","properties":{"type":{"type":"string"},"n":{"type":"integer"}},"required":["n"]}"#;
    let new =
        r#"{"title":"E","type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}"#;
    let found = messages(old, new);
    assert!(
        found.iter().any(|m| m == "field `r#type` removed from `E`"),
        "{found:#?}"
    );
}

#[test]
fn a_removed_enum_value_is_named_by_its_generated_variant() {
    let old = r#"{"title":"E","type":"object","properties":{"kind":{"title":"Kind","type":"string","enum":["1st","b"]}},"required":["kind"]}"#;
    let new = r#"{"title":"E","type":"object","properties":{"kind":{"title":"Kind","type":"string","enum":["b"]}},"required":["kind"]}"#;
    let found = messages(old, new);
    assert!(
        found.iter().any(|m| m == "variant `Kind::V1st` removed"),
        "{found:#?}"
    );
}
