//! A schema defined as itself (a `$ref` cycle with no property or item in between) has no
//! meaning to compare: the check is an error, never "compatible". A recursive type (a `$ref`
//! back to the schema from under a property) is compared as usual.

use event_contracts_compat::{check_files, CompatError, Mode, Options};

fn check(schema: &str) -> Result<u8, CompatError> {
    check_files(
        ("a.json", schema),
        ("a.json", schema),
        Mode::Backward,
        &Options::default(),
    )
    .map(|report| report.exit_code())
}

#[test]
fn a_ref_cycle_is_an_error_naming_the_cycle() {
    for schema in [
        r##"{"type":"object","properties":{"x":{"$ref":"#/$defs/Loop"}},"$defs":{"Loop":{"$ref":"#/$defs/Loop"}}}"##,
        r##"{"type":"object","properties":{"x":{"$ref":"#/$defs/A"}},"$defs":{"A":{"allOf":[{"$ref":"#/$defs/B"}]},"B":{"$ref":"#/$defs/A"}}}"##,
    ] {
        match check(schema) {
            Err(CompatError::Parse { message, .. }) => {
                assert!(message.contains("defined as itself"), "{message}");
                assert!(message.contains("a.json#/$defs/"), "{message}");
            }
            other => panic!("{schema}: {other:?}"),
        }
    }
}

#[test]
fn a_recursive_type_is_compared() {
    let tree = r##"{"type":"object","properties":{"name":{"type":"string"},"parent":{"$ref":"#"},"children":{"type":"array","items":{"$ref":"#"}}}}"##;
    assert_eq!(check(tree).expect("compares"), 0);
}

/// The generator guards its own `$ref` following, so the Rust API of a recursive type is
/// compared like any other: a field of the tree changing type is reported as such.
#[test]
fn a_recursive_types_rust_api_is_compared() {
    let old = r##"{"title":"Tree","type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#"}}}}"##;
    let new = r##"{"title":"Tree","type":"object","properties":{"name":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#"}}}}"##;
    let report = check_files(
        ("a.json", old),
        ("a.json", new),
        Mode::Backward,
        &Options::default(),
    )
    .expect("compares");
    let messages: Vec<&str> = report.findings.iter().map(|f| f.message.as_str()).collect();
    assert!(
        messages.iter().any(|m| m.contains(
            "field `name` of `Tree` changes Rust type from `Option<String>` to `Option<i64>`"
        )),
        "{messages:#?}"
    );
}
