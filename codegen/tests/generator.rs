//! The generator on a small corpus: one snapshot of the emitted module, and one test per known
//! failure of other generators (typify: panics on cross-file `$ref` and `if`/`then`/`else`,
//! drops `const`, numeric and array bounds, duplicates shared types, sorts fields).

use event_contracts_codegen::catalog::Catalog;
use event_contracts_codegen::diag::Code;
use event_contracts_codegen::{generate_catalog, GeneratedFile};

const BASE: &str = "https://event-contracts.local/schemas/";

fn schema(path: &str, body: &str) -> (String, String) {
    let text = format!(
        "{{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"{BASE}{path}\",{body}}}"
    );
    (path.to_owned(), text)
}

fn manifest(events: &[(&str, &str)]) -> (String, String) {
    let events: Vec<String> = events
        .iter()
        .map(|(name, file)| {
            format!(
                r#"{{"name":"{name}","schema":"{file}","channel":{{"transport":"nats","stream":"S","subject":"{name}"}},"version":1,"producers":["p"],"consumers":["c"]}}"#
            )
        })
        .collect();
    (
        "corpus/manifest.json".into(),
        format!(
            r#"{{"system":"corpus","title":"Corpus","description":"Generator corpus.","source_document":"none","transport":"nats","envelope":{{"kind":"flat"}},"events":[{}]}}"#,
            events.join(",")
        ),
    )
}

/// The corpus: every keyword the generator supports, in small schemas.
fn corpus() -> Vec<(String, String)> {
    vec![
        manifest(&[
            ("a.ordered", "events/ordered.json"),
            ("a.shared_one", "events/shared_one.json"),
            ("a.shared_two", "events/shared_two.json"),
            ("a.bounds", "events/bounds.json"),
            ("a.conditional", "events/conditional.json"),
            ("a.union", "events/union.json"),
            ("a.list", "events/list.json"),
            ("a.negated", "events/negated.json"),
            ("a.excluded", "events/excluded.json"),
            ("a.holder", "events/holder.json"),
        ]),
        schema(
            "corpus/events/holder.json",
            r#""title":"Holder","type":"object","properties":{"inner":{"$ref":"conditional.json"}}"#,
        ),
        schema(
            "corpus/events/excluded.json",
            r#""title":"Excluded","type":"object","properties":{"code":{"type":"string","not":{"enum":["reserved"]}},"flag":{"type":"boolean"},"why":{"type":"string"}},"if":{"properties":{"flag":{"const":true}},"required":["flag"]},"then":{"required":["why"]}"#,
        ),
        schema(
            "corpus/events/negated.json",
            r#""title":"Negated","type":"object","properties":{"n":{"type":"integer"}},"not":{"required":["forbidden"]},"if":{"properties":{"n":{"minimum":10}}},"then":{"required":["big"]}"#,
        ),
        schema(
            "corpus/defs/shared.json",
            r#""title":"Shared","type":"object","properties":{"id":{"type":"string","format":"uuid"},"at":{"type":"string","format":"date-time"}},"required":["id"]"#,
        ),
        schema(
            "corpus/events/ordered.json",
            r#""title":"Ordered","description":"Fields stay in schema order.","type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"},"mid":{"type":"boolean"},"version":{"const":"v1"},"kind":{"enum":["one","two-words","3d"]},"maybe":{"type":["string","null"]},"type":{"type":"string"}},"required":["zeta","version","maybe"],"additionalProperties":false"#,
        ),
        schema(
            "corpus/events/shared_one.json",
            r#""title":"SharedOne","type":"object","properties":{"owner":{"$ref":"../defs/shared.json"}},"required":["owner"]"#,
        ),
        schema(
            "corpus/events/shared_two.json",
            r#""title":"SharedTwo","allOf":[{"$ref":"../defs/shared.json"},{"properties":{"extra":{"type":"string","minLength":1,"maxLength":8,"pattern":"^\\d+$"}}}]"#,
        ),
        schema(
            "corpus/events/bounds.json",
            r#""title":"Bounds","type":"object","properties":{"ratio":{"type":"number","minimum":0,"maximum":1},"count":{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":100,"multipleOf":5},"tags":{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":3,"uniqueItems":true},"labels":{"type":"object","additionalProperties":{"type":"string"}}},"required":["ratio"]"#,
        ),
        schema(
            "corpus/events/conditional.json",
            r#""title":"Conditional","type":"object","properties":{"mode":{"enum":["a","b"]},"a_value":{"type":"string"},"b_value":{"type":"string"}},"if":{"properties":{"mode":{"const":"a"}}},"then":{"required":["a_value"]},"else":{"required":["b_value"]},"oneOf":[{"required":["a_value"]},{"required":["b_value"]}]"#,
        ),
        schema(
            "corpus/events/union.json",
            r#""title":"Union","oneOf":[{"title":"UnionStart","type":"object","properties":{"type":{"const":"start"},"at":{"type":"integer"}},"required":["type","at"]},{"$ref":"../defs/stop.json"}]"#,
        ),
        schema(
            "corpus/defs/stop.json",
            r#""title":"UnionStop","type":"object","properties":{"type":{"const":"stop"},"reason":{"type":"string"}},"required":["type"]"#,
        ),
        schema(
            "corpus/events/list.json",
            r#""title":"List","type":["array","null"],"items":{"$ref":"../defs/shared.json"}"#,
        ),
    ]
}

fn module(files: &[GeneratedFile]) -> &str {
    &files
        .iter()
        .find(|f| f.path == "src/corpus.rs")
        .expect("the system module")
        .contents
}

fn generated() -> Vec<GeneratedFile> {
    let catalog = Catalog::from_texts(corpus()).expect("corpus parses");
    generate_catalog(&catalog, "cargo xtask codegen").unwrap_or_else(|d| panic!("{d}"))
}

#[test]
fn snapshot_of_the_corpus_module() {
    insta::assert_snapshot!(module(&generated()));
}

#[test]
fn every_file_has_the_generated_header() {
    for f in generated() {
        assert!(
            f.contents
                .starts_with("// @generated by `cargo xtask codegen`"),
            "{}",
            f.path
        );
    }
}

#[test]
fn cross_file_refs_resolve_and_shared_types_are_emitted_once() {
    let out = generated();
    let m = module(&out);
    assert_eq!(m.matches("pub struct Shared {").count(), 1, "{m}");
    assert!(m.contains("pub owner: Shared,"));
    // allOf merges the shared fields into the event, in order, then the event's own.
    let two = &m[m.find("pub struct SharedTwo {").unwrap()..];
    let (id, at, extra) = (
        two.find("pub id:").unwrap(),
        two.find("pub at:").unwrap(),
        two.find("pub extra:").unwrap(),
    );
    assert!(id < at && at < extra);
}

#[test]
fn fields_keep_schema_order_and_keywords_are_escaped() {
    let m = generated();
    let m = module(&m);
    let s = &m[m.find("pub struct Ordered {").unwrap()..];
    let order: Vec<usize> = [
        "pub zeta:",
        "pub alpha:",
        "pub mid:",
        "pub version:",
        "pub kind:",
        "pub maybe:",
        "pub r#type:",
    ]
    .iter()
    .map(|f| s.find(f).unwrap_or_else(|| panic!("{f} missing")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(m.contains("#[serde(deny_unknown_fields)]"));
}

#[test]
fn const_and_enum_become_rust_enums() {
    let m = generated();
    let m = module(&m);
    assert!(m.contains("pub enum OrderedVersion {"), "{m}");
    assert!(m.contains("#[serde(rename = \"v1\")]\n    V1,"));
    assert!(m.contains("#[serde(rename = \"3d\")]\n    V3d,"));
    assert!(m.contains("TwoWords"));
}

#[test]
fn numeric_and_array_bounds_are_enforced() {
    let m = generated();
    let m = module(&m);
    for needle in [
        "v >= 0.0",
        "v <= 1.0",
        "v > 0.0",
        "v < 100.0",
        "is_multiple_of(v, 5.0)",
        ".len() >= 1usize",
        ".len() <= 3usize",
        "all_unique(",
        "v.is_finite()",
    ] {
        assert!(m.contains(needle), "missing `{needle}`");
    }
    // `\d` is translated to the ASCII class JSON Schema means.
    assert!(m.contains("^[0-9]+$"), "{m}");
}

#[test]
fn if_then_else_is_validated_not_panicked_on() {
    let m = generated();
    let m = module(&m);
    // The common "a string const decides what is required" form is checked by generated code...
    let conditional = &m[m
        .find("impl ::event_contracts_runtime::Event for Conditional")
        .unwrap()..];
    assert!(conditional.contains("const NEEDS_SCHEMA: bool = false;"));
    assert!(
        m.contains("if self.mode.as_ref().is_none_or(|v| v.as_str() == \"a\")"),
        "{m}"
    );
    // ...every other `if`/`not` sends decoding through the schema validator.
    let negated = &m[m
        .find("impl ::event_contracts_runtime::Event for Negated")
        .unwrap()..];
    assert!(negated.contains("const NEEDS_SCHEMA: bool = true;"));
    // A boolean const decides too; a `not` on a property still needs the validator.
    assert!(
        m.contains("self.flag.as_ref().is_some_and(|v| *v == true)"),
        "{m}"
    );
    // An object holding a checked conditional does not need the validator either.
    let holder = &m[m
        .find("impl ::event_contracts_runtime::Event for Holder")
        .unwrap()..];
    assert!(holder.contains("const NEEDS_SCHEMA: bool = false;"));
    let excluded = &m[m
        .find("impl ::event_contracts_runtime::Event for Excluded")
        .unwrap()..];
    assert!(excluded.contains("const NEEDS_SCHEMA: bool = true;"));
    // The presence-only oneOf is checked by generated code.
    assert!(m.contains(".filter(|held| **held)") && m.contains(".count() == 1"));
}

#[test]
fn tagged_unions_and_nullable_roots() {
    let m = generated();
    let m = module(&m);
    assert!(m.contains("#[serde(tag = \"type\")]"));
    assert!(m.contains("Start(UnionStart)") && m.contains("Stop(UnionStop)"));
    assert!(m.contains("pub struct List(pub ::std::option::Option<::std::vec::Vec<Shared>>);"));
    assert!(
        !m.contains("untagged"),
        "no untagged enums unless a fallback branch asks for one"
    );
}

/// A fallback branch's tag `not` is checked by the generated code, so it does not send the event
/// to the validator, even when the branch holds another union with a fallback before its tag.
#[test]
fn a_fallback_tag_after_a_nested_fallback_union_stays_on_the_fast_path() {
    let branch = |tag: &str, extra: &str| {
        format!(r#"{{"type":"object","properties":{{{extra}"kind":{tag}}},"required":["kind"]}}"#)
    };
    let inner = r#""inner":{"oneOf":[{"type":"object","properties":{"t":{"type":"string","const":"x"}},"required":["t"]},{"type":"object","properties":{"t":{"type":"string","not":{"enum":["x"]}}},"required":["t"]}]},"#;
    let body = format!(
        r#""title":"Nest","type":"object","properties":{{"body":{{"oneOf":[{},{}]}}}},"required":["body"]"#,
        branch(r#"{"type":"string","const":"a"}"#, ""),
        branch(r#"{"type":"string","not":{"enum":["a"]}}"#, inner),
    );
    let files = vec![
        manifest(&[("a.nest", "events/nest.json")]),
        schema("corpus/events/nest.json", &body),
    ];
    let catalog = Catalog::from_texts(files).expect("catalog parses");
    let files = generate_catalog(&catalog, "x").unwrap_or_else(|d| panic!("{d}"));
    let m = module(&files);
    let event_impl = &m[m
        .find("impl ::event_contracts_runtime::Event for Nest")
        .expect("Nest is an event")..];
    assert!(
        event_impl.contains("const NEEDS_SCHEMA: bool = false;"),
        "{}",
        &event_impl[..400.min(event_impl.len())]
    );
}

fn diagnose(files: Vec<(String, String)>) -> Vec<event_contracts_codegen::diag::Diagnostic> {
    let result = Catalog::from_texts(files).and_then(|c| generate_catalog(&c, "x").map(|_| ()));
    result.expect_err("bad input must be diagnosed").0
}

#[test]
fn bad_input_gets_located_diagnostics_never_a_panic() {
    type Case = (&'static str, Code, Vec<(String, String)>);
    let cases: Vec<Case> = vec![
        (
            "syntax",
            Code::JsonSyntax,
            vec![
                manifest(&[("e", "events/e.json")]),
                (
                    "corpus/events/e.json".into(),
                    "{\n  \"title\": \"E\",\n  \"type\": \n}".into(),
                ),
            ],
        ),
        (
            "remote ref",
            Code::ForbiddenRef,
            vec![
                manifest(&[("e", "events/e.json")]),
                schema(
                    "corpus/events/e.json",
                    r#""title":"E","type":"object","properties":{"x":{"$ref":"https://example.com/x.json"}}"#,
                ),
            ],
        ),
        (
            "escaping ref",
            Code::ForbiddenRef,
            vec![
                manifest(&[("e", "events/e.json")]),
                schema(
                    "corpus/events/e.json",
                    r#""title":"E","type":"object","properties":{"x":{"$ref":"../../../etc/passwd"}}"#,
                ),
            ],
        ),
        (
            "missing ref",
            Code::UnresolvedRef,
            vec![
                manifest(&[("e", "events/e.json")]),
                schema(
                    "corpus/events/e.json",
                    r#""title":"E","type":"object","properties":{"x":{"$ref":"../defs/nope.json"}}"#,
                ),
            ],
        ),
        (
            "unsupported keyword",
            Code::UnsupportedKeyword,
            vec![
                manifest(&[("e", "events/e.json")]),
                schema(
                    "corpus/events/e.json",
                    r#""title":"E","type":"object","patternProperties":{"^x":{}}"#,
                ),
            ],
        ),
        (
            "untagged union",
            Code::UnsupportedShape,
            vec![
                manifest(&[("e", "events/e.json")]),
                schema(
                    "corpus/events/e.json",
                    r#""title":"E","oneOf":[{"type":"string"},{"type":"integer"}]"#,
                ),
            ],
        ),
        (
            "bad id",
            Code::SchemaId,
            vec![
                manifest(&[("e", "events/e.json")]),
                (
                    "corpus/events/e.json".into(),
                    r#"{"$id":"https://elsewhere/e.json","title":"E","type":"object"}"#.into(),
                ),
            ],
        ),
        (
            "name clash",
            Code::NameCollision,
            vec![
                manifest(&[("e", "events/e.json"), ("f", "events/f.json")]),
                schema(
                    "corpus/events/e.json",
                    r#""title":"E","type":"object","properties":{"a":{"type":"string"}}"#,
                ),
                schema(
                    "corpus/events/f.json",
                    r#""title":"E","type":"object","properties":{"b":{"type":"string"}}"#,
                ),
            ],
        ),
        (
            "message id names no required property",
            Code::KeyProperty,
            vec![
                {
                    let (path, text) = manifest(&[("e", "events/e.json")]);
                    (
                        path,
                        text.replace(
                            r#""consumers":["c"]"#,
                            r#""consumers":["c"],"message_id":"nope""#,
                        ),
                    )
                },
                schema(
                    "corpus/events/e.json",
                    r#""title":"E","type":"object","properties":{"id":{"type":"string"}}"#,
                ),
            ],
        ),
    ];
    for (label, code, files) in cases {
        let diags = diagnose(files);
        let d = diags
            .iter()
            .find(|d| d.code == code)
            .unwrap_or_else(|| panic!("{label}: no {code:?} in {diags:?}"));
        assert!(
            d.position.line >= 1 && !d.hint.is_empty() && !d.message.is_empty(),
            "{label}: {d}"
        );
        assert!(d.to_string().starts_with("schemas/corpus/"), "{label}: {d}");
    }
}

#[test]
fn syntax_errors_point_at_line_and_column() {
    let diags = diagnose(vec![
        manifest(&[("e", "events/e.json")]),
        (
            "corpus/events/e.json".into(),
            "{\n  \"title\": \"E\",\n  \"type\": \n}".into(),
        ),
    ]);
    let d = &diags[0];
    assert_eq!((d.code, d.position.line), (Code::JsonSyntax, 4), "{d}");
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(generated(), generated());
}

#[test]
fn renamed_property_gets_a_serde_alias_in_struct_and_shadow() {
    let files = vec![
        manifest(&[("a.renamed", "events/renamed.json")]),
        schema(
            "corpus/events/renamed.json",
            r#""title":"Renamed","type":"object","properties":{"login":{"type":"string","x-renamed-from":"user_name"},"plain":{"type":"string"}},"required":["login"]"#,
        ),
    ];
    let catalog = Catalog::from_texts(files).expect("parses");
    let out = generate_catalog(&catalog, "cargo xtask codegen").expect("generates");
    let m = module(&out);
    // Once on the public struct, once on its decoding shadow; never on the plain field.
    assert_eq!(
        m.matches("#[serde(alias = \"user_name\")]").count(),
        2,
        "{m}"
    );
    assert_eq!(m.matches("alias =").count(), 2, "{m}");
}
