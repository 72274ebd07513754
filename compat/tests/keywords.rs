//! The normaliser treats every keyword as the shared keyword table's compat column says,
//! checked on each keyword's sample schema against the same schema without the keyword.

use event_contracts_codegen::catalog::{Catalog, Loc};
use event_contracts_codegen::keywords::{Compat, Keyword, EXTENSION, KEYWORDS, UNKNOWN};
use event_contracts_codegen::source::SourceFile;
use event_contracts_compat::schema::{Normalizer, Schema};
use serde_json::Value;

fn normalise(text: &str) -> Schema {
    let mut cat = Catalog::default();
    let file = SourceFile::parse("t.json", text).expect("sample parses");
    cat.files.insert("t.json".into(), file);
    let mut n = Normalizer::new(&cat, "");
    let mut s = n.node(&Loc::new("t.json", ""));
    assert!(n.errors.is_empty(), "{text}: {:?}", n.errors);
    // Where things are written and what they are called is no constraint.
    s.loc = None;
    s.title = None;
    s.kw_locs.clear();
    s
}

fn key(k: &Keyword) -> &'static str {
    match k.name {
        "x-*" => "x-anything",
        "*" => "someKeyword",
        n => n,
    }
}

#[test]
fn the_normaliser_treats_every_keyword_as_the_table_says() {
    for k in KEYWORDS.iter().chain([&EXTENSION, &UNKNOWN]) {
        let with = normalise(k.sample);
        let mut without: Value = serde_json::from_str(k.sample).expect("sample parses");
        if let Value::Object(m) = &mut without {
            m.remove(key(k));
        }
        let without = normalise(&without.to_string());
        let opaque: Vec<&str> = with.opaque.iter().map(|o| o.keyword.as_str()).collect();
        match k.compat {
            Compat::Annotation => assert_eq!(with, without, "{}", k.name),
            Compat::Opaque => assert_eq!(opaque, [key(k)], "{}", k.name),
            Compat::Conditional => {
                assert_eq!(opaque, ["if"], "{}", k.name);
                assert_ne!(with, without, "{}: not part of the conditional", k.name);
            }
            // The sample's `not` is no value set (see the test below for one that is).
            Compat::Negation => assert_eq!(opaque, ["not"], "{}", k.name),
            Compat::Folded | Compat::Composed => {
                assert!(opaque.is_empty(), "{}: kept opaque {opaque:?}", k.name);
                assert_ne!(with, without, "{}: folded to nothing", k.name);
            }
        }
    }
}

#[test]
fn a_not_of_a_value_set_is_folded_and_any_other_not_is_opaque() {
    let folded = normalise(r#"{"type":"string","not":{"enum":["a","b"]}}"#);
    assert!(folded.opaque.is_empty(), "{:?}", folded.opaque);
    assert_eq!(
        folded.excluded,
        Some(vec![Value::from("a"), Value::from("b")])
    );
    let opaque = normalise(r#"{"type":"string","not":{"minLength":3}}"#);
    assert_eq!(opaque.opaque.len(), 1);
    assert_eq!(opaque.opaque[0].keyword, "not");
}
