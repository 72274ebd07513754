//! With the `sonic` feature an event's fast path parses with sonic-rs, while every refusal is
//! decided and reported by serde_json and the schema validator. That is sound only if the two
//! parsers agree on JSON itself: whatever sonic-rs accepts, serde_json accepts too, as the same
//! value. (The other way round costs only time: the reporting path then decides.) The schema
//! side (types, ranges, patterns) is the catalog's mutation sweep, which `cargo xtask test`
//! also runs with this feature.

use serde_json::Value;

/// Holds one input to the rule; tells whether the fast path accepted it. Goes through
/// `decode`'s own fast path, its guard included.
fn check(input: &[u8]) -> bool {
    let shown = || format!("{:?}", String::from_utf8_lossy(input));
    let Some(fast) = crate::fast_typed::<Value>(input) else {
        return false;
    };
    match serde_json::from_slice::<Value>(input) {
        Ok(reporting) => assert_eq!(fast, reporting, "the parsers read {} apart", shown()),
        Err(e) => panic!(
            "sonic-rs accepts {} and serde_json refuses it: {e}",
            shown()
        ),
    }
    true
}

/// Inputs where JSON parsers are known to part ways.
const EDGES: &[&[u8]] = &[
    b"1e400",
    b"-1e400",
    b"1e-400",
    b"4.9e-324",
    b"2.4703282292062328e-324",
    b"1.7976931348623157e308",
    b"1.7976931348623159e308",
    b"-0",
    b"-0.0",
    b"0.1",
    b"18446744073709551615",
    b"18446744073709551616",
    b"-9223372036854775808",
    b"-9223372036854775809",
    b"100000000000000000000000000000000000000000000",
    b"1E5",
    b"1e+5",
    b"1e",
    b"1e+",
    b"01",
    b"-01",
    b"1.",
    b".5",
    b"+1",
    b"-",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"0x10",
    br#""\ud800""#,
    br#""\udc00""#,
    br#""\ud800\udc00""#,
    br#""\ud800\u0041""#,
    br#""\ud800x""#,
    br#""\uDBFF\uDFFF""#,
    br#""\u00e9\u2028""#,
    br#""\u12""#,
    br#""\x""#,
    br#""\'""#,
    br#""\/""#,
    br#""a\u0000b""#,
    b"\"a\tb\"",
    b"\"a\nb\"",
    b"\"a\x7fb\"",
    b"\"\xff\"",
    b"\"\xc3\"",
    b"\"\xc0\xaf\"",
    b"\"\xed\xa0\x80\"",
    b"\"\xf4\x90\x80\x80\"",
    b"\"\xe2\x80\xa8\"",
    b"{\"\xff\": 1}",
    b"[\"ok\"] \xff",
    b"\xef\xbb\xbf[1]",
    b"{} x",
    b"{}}",
    b"[1,]",
    b"{\"a\":1,}",
    b"{\"a\" 1}",
    b"{\"a\":}",
    b"{a:1}",
    b"{'a':1}",
    b"[1 2]",
    b" [1] ",
    b"\t\r\n[1]\n",
    b"[1]\x00",
    b"[1]\x0c",
    b"",
    b"   ",
    b"nul",
    b"tru",
    b"truee",
    b"nulll",
    b"[true false]",
    b"{\"a\":1,\"a\":2}",
    b"{\"a\":1,\"b\":{\"a\":[1,2,{\"c\":null}]}}",
    b"[[[]]]",
    b"[[[]]",
    b"\"unterminated",
    b"[\"a\\\"]",
];

#[test]
fn sonic_rs_accepts_nothing_serde_json_refuses_at_the_edges() {
    let accepted = EDGES.iter().filter(|e| check(e)).count();
    // Most edges are refusals; a rule that is never exercised on an accept proves nothing.
    assert!(accepted >= 15, "only {accepted} edges accepted");
}

#[test]
fn sonic_rs_and_serde_json_agree_on_deep_nesting() {
    for depth in [64, 100, 126, 127, 128, 129, 200, 1_000, 10_000] {
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            let input = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            check(input.as_bytes());
            // Unclosed, and closed one time too many.
            check(format!("{}1{}", open.repeat(depth), close.repeat(depth - 1)).as_bytes());
            check(format!("{input}{close}").as_bytes());
        }
    }
}

#[test]
fn sonic_rs_and_serde_json_read_numbers_alike() {
    let mut rng = fastrand::Rng::with_seed(0x50_17c);
    let mut accepted = 0;
    for _ in 0..30_000 {
        let text = match rng.u8(..4) {
            // Any double, in Rust's shortest and exponent forms.
            0 => format!("{:?}", f64::from_bits(rng.u64(..))),
            1 => format!("{:e}", f64::from_bits(rng.u64(..))),
            // Long digit strings: more digits than a double holds, any exponent.
            2 => {
                let digits: String = (0..rng.usize(1..40))
                    .map(|_| char::from(b'0' + rng.u8(..10)))
                    .collect();
                let sign = if rng.bool() { "-" } else { "" };
                match rng.u8(..3) {
                    0 => format!("{sign}{digits}"),
                    1 => format!("{sign}0.{digits}e{}", rng.i32(-360..360)),
                    _ => format!("{sign}{digits}E{}", rng.i32(-30..330)),
                }
            }
            // Integers near the edges of i64 and u64.
            _ => {
                let edge = [0, i64::MAX as i128, i64::MIN as i128, u64::MAX as i128];
                (edge[rng.usize(..4)] + i128::from(rng.i8(..))).to_string()
            }
        };
        // Bare, and as the value of a property.
        accepted += usize::from(check(text.as_bytes()));
        check(format!("{{\"n\": [{text}]}}").as_bytes());
    }
    assert!(accepted > 20_000, "only {accepted} numbers accepted");
}

#[test]
fn sonic_rs_and_serde_json_read_strings_alike() {
    const PIECES: &[&str] = &[
        "a",
        "é",
        "\u{2028}",
        "😀",
        " ",
        "\\n",
        "\\t",
        "\\\"",
        "\\\\",
        "\\/",
        "\\b",
        "\\f",
        "\\r",
        "\\u0041",
        "\\u00e9",
        "\\u2028",
        "\\ud83d\\ude00",
        "\\ud800",
        "\\udc00",
        "\\uD834\\uDD1E",
        "\\u0000",
        "\\u001f",
        "\\x",
        "\\u12G4",
        "\"",
        "\\",
        "\t",
        "\n",
        "\u{7f}",
        "\u{10ffff}",
    ];
    let mut rng = fastrand::Rng::with_seed(0x57_41e);
    let mut accepted = 0;
    for _ in 0..30_000 {
        let body: String = (0..rng.usize(0..12))
            .map(|_| PIECES[rng.usize(..PIECES.len())])
            .collect();
        let mut bytes = format!("{{\"{body}\": \"{body}\"}}").into_bytes();
        // Now and then a byte that is not UTF-8 where it is.
        if rng.u8(..5) == 0 {
            let at = rng.usize(..bytes.len());
            bytes.insert(at, [0x80, 0xc3, 0xed, 0xf8, 0xff][rng.usize(..5)]);
        }
        accepted += usize::from(check(&bytes));
    }
    assert!(accepted > 5_000, "only {accepted} strings accepted");
}

/// Bytes that change what JSON means.
const MANGLES: &[u8] = b"{}[]\":,\\ -.eE0\x00\xff";

#[test]
fn sonic_rs_and_serde_json_agree_on_mangled_documents() {
    let seeds: [&[u8]; 3] = [
        br#"{"id": "evt_1", "type": "stream_trace", "data": {"n": -1.5e3, "ok": true, "tags": ["a", "\u00e9"], "none": null}}"#,
        br#"[{"a": {"b": [1, 2, {"c": "d"}]}}, 0, -0.0, 1e10, "x\ny"]"#,
        "{\"k\u{e9}\": \"v\u{1f600}\", \"e\": {}, \"l\": []}".as_bytes(),
    ];
    let mut rng = fastrand::Rng::with_seed(0xd0c);
    let mut accepted = 0;
    for _ in 0..30_000 {
        let mut bytes = seeds[rng.usize(..seeds.len())].to_vec();
        for _ in 0..rng.usize(1..4) {
            let at = rng.usize(..bytes.len());
            match rng.u8(..4) {
                0 => bytes[at] ^= 1 << rng.u8(..8),
                1 => bytes[at] = MANGLES[rng.usize(..MANGLES.len())],
                2 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, MANGLES[rng.usize(..MANGLES.len())]),
            }
            if bytes.is_empty() {
                break;
            }
        }
        accepted += usize::from(check(&bytes));
    }
    assert!(accepted > 1_000, "only {accepted} documents accepted");
}
