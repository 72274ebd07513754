//! Patterns simple enough to check without a regex engine: anchored at the start, made of
//! ASCII character sets repeated a number of times, runs of characters beyond ASCII but a
//! few ranges (`\S`, `[^\n\r]`) outside groups, optional or repeated groups and
//! alternations, where one byte of lookahead always decides (no backtracking). Digits, hex,
//! fixed prefixes and anchored character classes are all of this kind. The generated check
//! runs the runtime's `Piece` matcher over these; every other pattern keeps the `regex`
//! crate. The schema validator still decides every message the fast path does not accept.

use proc_macro2::TokenStream;
use quote::quote;
use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// A set of ASCII bytes, bit `b` for byte `b`.
type Set = u128;

#[derive(Clone, Debug, PartialEq)]
enum Piece {
    /// These bytes in this order: literal characters, merged from single-byte pieces.
    Literal(Vec<u8>),
    /// A byte of `set`, `min..=max` times (`max` `None`: unbounded).
    Bytes {
        set: Set,
        min: u32,
        max: Option<u32>,
    },
    /// A character of `ascii` or one beyond ASCII outside `except`, `min..=max` times.
    Chars {
        ascii: Set,
        except: Vec<(u32, u32)>,
        min: u32,
        max: Option<u32>,
    },
    /// One of `alternatives`, `min..=max` times.
    Group {
        alternatives: Vec<Vec<Piece>>,
        min: u32,
        max: Option<u32>,
    },
}

/// The runtime pieces of a pattern (in the `regex` crate's dialect, as the model keeps it)
/// and whether it must match to the end, or `None` when it needs the regex engine.
pub fn lower(source: &str) -> Option<(TokenStream, bool)> {
    let (pieces, to_end) = pieces(source)?;
    let pieces = pieces.iter().map(tokens);
    Some((quote!(&[#(#pieces),*]), to_end))
}

fn pieces(source: &str) -> Option<(Vec<Piece>, bool)> {
    let hir = regex_syntax::Parser::new().parse(source).ok()?;
    let mut items: Vec<Hir> = match hir.kind() {
        HirKind::Concat(items) => items.clone(),
        _ => vec![hir.clone()],
    };
    if items.first().map(Hir::kind) != Some(&HirKind::Look(Look::Start)) {
        return None;
    }
    items.remove(0);
    let anchored_end = items.last().map(Hir::kind) == Some(&HirKind::Look(Look::End));
    if anchored_end {
        items.pop();
    }
    let pieces = sequence(&items)?;
    deterministic(&pieces, 0).then_some((pieces, anchored_end))
}

fn sequence(items: &[Hir]) -> Option<Vec<Piece>> {
    let mut out = Vec::new();
    for item in items {
        lower_into(item, &mut out)?;
    }
    Some(merge_literals(out))
}

/// Runs of pieces that each take one given byte once, as one [`Piece::Literal`].
fn merge_literals(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        let byte = match piece {
            Piece::Bytes {
                set,
                min: 1,
                max: Some(1),
            } if set.count_ones() == 1 => set.trailing_zeros() as u8,
            other => {
                out.push(other);
                continue;
            }
        };
        match out.last_mut() {
            Some(Piece::Literal(run)) => run.push(byte),
            _ => out.push(Piece::Literal(vec![byte])),
        }
    }
    out
}

fn lower_into(hir: &Hir, out: &mut Vec<Piece>) -> Option<()> {
    match hir.kind() {
        HirKind::Empty => {}
        HirKind::Literal(lit) => {
            for &b in lit.0.iter() {
                if !b.is_ascii() {
                    return None;
                }
                out.push(Piece::Bytes {
                    set: 1 << b,
                    min: 1,
                    max: Some(1),
                });
            }
        }
        HirKind::Class(class) => out.push(class_piece(class, 1, Some(1))?),
        HirKind::Concat(items) => {
            for item in items {
                lower_into(item, out)?;
            }
        }
        HirKind::Capture(capture) => out.push(Piece::Group {
            alternatives: alternatives(&capture.sub)?,
            min: 1,
            max: Some(1),
        }),
        HirKind::Alternation(_) => out.push(Piece::Group {
            alternatives: alternatives(hir)?,
            min: 1,
            max: Some(1),
        }),
        HirKind::Repetition(rep) => {
            let single = match rep.sub.kind() {
                HirKind::Class(class) => Some(class_piece(class, rep.min, rep.max)?),
                HirKind::Literal(lit) if lit.0.len() == 1 && lit.0[0].is_ascii() => {
                    Some(Piece::Bytes {
                        set: 1 << lit.0[0],
                        min: rep.min,
                        max: rep.max,
                    })
                }
                _ => None,
            };
            out.push(match single {
                Some(piece) => piece,
                None => {
                    // A repeated group: only `?` and `*`/`+` (one lookahead byte decides
                    // whether another round starts; a counted group would need counting).
                    if !matches!((rep.min, rep.max), (0 | 1, Some(1)) | (0 | 1, None)) {
                        return None;
                    }
                    let sub = match rep.sub.kind() {
                        HirKind::Capture(c) => &*c.sub,
                        _ => &*rep.sub,
                    };
                    Piece::Group {
                        alternatives: alternatives(sub)?,
                        min: rep.min,
                        max: rep.max,
                    }
                }
            });
        }
        HirKind::Look(_) => return None,
    }
    Some(())
}

fn alternatives(hir: &Hir) -> Option<Vec<Vec<Piece>>> {
    match hir.kind() {
        HirKind::Alternation(alts) => alts
            .iter()
            .map(|a| sequence(std::slice::from_ref(a)))
            .collect(),
        _ => Some(vec![sequence(std::slice::from_ref(hir))?]),
    }
}

/// The most ranges beyond ASCII a [`Piece::Chars`] leaves out: each costs a comparison per
/// character beyond ASCII. `\S` leaves out 8 (ECMA-262's white space).
const MAX_EXCEPT: usize = 16;

/// A class as a piece: its ASCII bytes, and its characters beyond ASCII when they are all of
/// them but a few ranges; `None` for any other class.
fn class_piece(class: &Class, min: u32, max: Option<u32>) -> Option<Piece> {
    if let Some(set) = class_set(class) {
        return Some(Piece::Bytes { set, min, max });
    }
    let Class::Unicode(unicode) = class else {
        return None;
    };
    let ranges: Vec<(u32, u32)> = unicode
        .ranges()
        .iter()
        .map(|r| (r.start() as u32, r.end() as u32))
        .collect();
    let (ascii, beyond) = split_ascii(&ranges);
    let except = gaps(&beyond);
    (except.len() <= MAX_EXCEPT).then_some(Piece::Chars {
        ascii,
        except,
        min,
        max,
    })
}

/// The characters beyond ASCII that `ranges` (sorted, apart, all beyond ASCII) leave out.
/// The surrogates, which no `char` is, count as taken.
fn gaps(ranges: &[(u32, u32)]) -> Vec<(u32, u32)> {
    const SURROGATES: (u32, u32) = (0xd800, 0xdfff);
    let mut out = Vec::new();
    let mut next = 0x80;
    for &(start, end) in ranges {
        if start > next {
            out.push((next, start - 1));
        }
        next = end + 1;
    }
    if next <= 0x10ffff {
        out.push((next, 0x10ffff));
    }
    out.retain(|&gap| gap != SURROGATES);
    out
}

/// The ASCII bytes of `ranges` and their ranges beyond ASCII.
fn split_ascii(ranges: &[(u32, u32)]) -> (Set, Vec<(u32, u32)>) {
    let mut ascii: Set = 0;
    let mut beyond = Vec::new();
    for &(start, end) in ranges {
        for b in start..=end.min(0x7f) {
            ascii |= 1 << b;
        }
        if end > 0x7f {
            beyond.push((start.max(0x80), end));
        }
    }
    (ascii, beyond)
}

/// The ASCII bytes of a class; `None` when it holds anything beyond ASCII.
fn class_set(class: &Class) -> Option<Set> {
    let ranges: Vec<(u32, u32)> = match class {
        Class::Unicode(c) => c
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect(),
        Class::Bytes(c) => c
            .ranges()
            .iter()
            .map(|r| (u32::from(r.start()), u32::from(r.end())))
            .collect(),
    };
    let mut set: Set = 0;
    for (start, end) in ranges {
        if end > 0x7f {
            return None;
        }
        for b in start..=end {
            set |= 1 << b;
        }
    }
    (set != 0).then_some(set)
}

/// Whether a sequence can match nothing.
fn nullable(pieces: &[Piece]) -> bool {
    pieces.iter().all(|p| match p {
        Piece::Literal(_) => false,
        Piece::Bytes { min, .. } | Piece::Chars { min, .. } => *min == 0,
        Piece::Group {
            alternatives, min, ..
        } => *min == 0 || alternatives.iter().any(|a| nullable(a)),
    })
}

/// The bytes a sequence can start with.
fn first(pieces: &[Piece]) -> Set {
    let mut set = 0;
    for p in pieces {
        set |= match p {
            Piece::Literal(bytes) => 1 << bytes[0],
            Piece::Bytes { set, .. } => *set,
            Piece::Chars { ascii, .. } => *ascii,
            Piece::Group { alternatives, .. } => {
                alternatives.iter().fold(0, |acc, a| acc | first(a))
            }
        };
        if !nullable(std::slice::from_ref(p)) {
            break;
        }
    }
    set
}

/// Whether a sequence can start with a character beyond ASCII.
fn starts_wide(pieces: &[Piece]) -> bool {
    for p in pieces {
        if matches!(p, Piece::Chars { .. }) {
            return true;
        }
        if !nullable(std::slice::from_ref(p)) {
            break;
        }
    }
    false
}

/// Whether a sequence holds characters beyond ASCII anywhere.
fn holds_wide(pieces: &[Piece]) -> bool {
    pieces.iter().any(|p| match p {
        Piece::Literal(_) | Piece::Bytes { .. } => false,
        Piece::Chars { .. } => true,
        Piece::Group { alternatives, .. } => alternatives.iter().any(|a| holds_wide(a)),
    })
}

/// Whether one byte of lookahead decides every choice of `pieces`, followed by bytes of
/// `follow`: a repeat stops at the first byte outside its set, a group is entered (again)
/// only on a byte one of its alternatives starts with, and that byte never could continue
/// the match otherwise. Greedy matching is then the only way to match. Characters beyond
/// ASCII stay out of groups, where `follow` would have to carry them too.
fn deterministic(pieces: &[Piece], follow: Set) -> bool {
    pieces.iter().enumerate().all(|(i, p)| {
        let rest = &pieces[i + 1..];
        let after = first(rest) | if nullable(rest) { follow } else { 0 };
        match p {
            Piece::Literal(_) => true,
            Piece::Bytes { set, min, max } => Some(*min) == *max || set & after == 0,
            Piece::Chars {
                ascii, min, max, ..
            } => Some(*min) == *max || (ascii & after == 0 && !starts_wide(rest)),
            Piece::Group {
                alternatives,
                min,
                max,
            } => {
                let starts: Vec<Set> = alternatives.iter().map(|a| first(a)).collect();
                let all = starts.iter().fold(0, |acc, s| acc | s);
                let disjoint =
                    starts.iter().map(|s| s.count_ones()).sum::<u32>() == all.count_ones();
                let inside = if max.is_none() { all | after } else { after };
                disjoint
                    && alternatives
                        .iter()
                        .all(|a| !a.is_empty() && !nullable(a) && !holds_wide(a))
                    && (Some(*min) == *max || all & after == 0)
                    && alternatives.iter().all(|a| deterministic(a, inside))
            }
        }
    })
}

fn tokens(piece: &Piece) -> TokenStream {
    let count = |n: u32| proc_macro2::Literal::u32_unsuffixed(n);
    let max = |m: &Option<u32>| match m {
        Some(n) => {
            let n = count(*n);
            quote!(#n)
        }
        None => quote!(u32::MAX),
    };
    match piece {
        Piece::Literal(bytes) => {
            let bytes = proc_macro2::Literal::byte_string(bytes);
            quote!(::event_contracts_runtime::Piece::Literal(#bytes))
        }
        Piece::Bytes { set, min, max: m } => {
            // Bit `b` for byte `b`: hex shows which bytes.
            let set = syn::LitInt::new(&format!("{set:#x}"), proc_macro2::Span::call_site());
            let (min, m) = (count(*min), max(m));
            quote!(::event_contracts_runtime::Piece::Bytes { set: #set, min: #min, max: #m })
        }
        Piece::Chars {
            ascii,
            except,
            min,
            max: m,
        } => {
            let hex =
                |n: u128| syn::LitInt::new(&format!("{n:#x}"), proc_macro2::Span::call_site());
            let ascii = hex(*ascii);
            let except = except.iter().map(|&(start, end)| {
                let (start, end) = (hex(start.into()), hex(end.into()));
                quote!((#start, #end))
            });
            let (min, m) = (count(*min), max(m));
            quote!(::event_contracts_runtime::Piece::Chars { ascii: #ascii, except: &[#(#except),*], min: #min, max: #m })
        }
        Piece::Group {
            alternatives,
            min,
            max: m,
        } => {
            let (min, m) = (count(*min), max(m));
            let alts = alternatives.iter().map(|a| {
                let a = a.iter().map(tokens);
                quote!(&[#(#a),*])
            });
            quote!(::event_contracts_runtime::Piece::Group { alternatives: &[#(#alts),*], min: #min, max: #m })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simple(source: &str) -> bool {
        lower(source).is_some()
    }

    /// The runtime's check of a simple pattern (its pieces leaked to `'static`, as generated
    /// code holds them in statics).
    fn runtime_pattern(source: &'static str) -> event_contracts_runtime::Pattern {
        use event_contracts_runtime::Piece as Rt;
        fn convert(p: &Piece) -> Rt {
            let max = |m: &Option<u32>| m.unwrap_or(u32::MAX);
            match p {
                Piece::Literal(bytes) => Rt::Literal(Box::leak(bytes.clone().into_boxed_slice())),
                Piece::Bytes { set, min, max: m } => Rt::Bytes {
                    set: *set,
                    min: *min,
                    max: max(m),
                },
                Piece::Chars {
                    ascii,
                    except,
                    min,
                    max: m,
                } => Rt::Chars {
                    ascii: *ascii,
                    except: Box::leak(except.clone().into_boxed_slice()),
                    min: *min,
                    max: max(m),
                },
                Piece::Group {
                    alternatives,
                    min,
                    max: m,
                } => Rt::Group {
                    alternatives: Box::leak(
                        alternatives
                            .iter()
                            .map(|a| &*Box::leak(a.iter().map(convert).collect::<Box<[Rt]>>()))
                            .collect::<Box<[&'static [Rt]]>>(),
                    ),
                    min: *min,
                    max: max(m),
                },
            }
        }
        let (pieces, to_end) = pieces(source).expect("simple");
        let pieces: &'static [Rt] = Box::leak(pieces.iter().map(convert).collect());
        event_contracts_runtime::Pattern::simple(source, pieces, to_end)
    }

    /// Strings near what `source` accepts: built from its own characters and a few others,
    /// every string up to 3 characters, plus random ones up to 70.
    fn probes(source: &str) -> Vec<String> {
        let mut alphabet: Vec<char> = source.chars().filter(|c| c.is_ascii_graphic()).collect();
        alphabet.extend([
            '0', '9', 'a', 'f', 'A', 'F', 'G', 'z', ' ', '\n', 'é', '.', '-',
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
    fn the_catalog_kinds_of_simple_pattern_are_simple() {
        for p in [
            "^0x[0-9a-fA-F]{40}$",
            "^[0-9]+$",
            "^-?[0-9]+$",
            "^[a-z][a-z0-9_]*$",
            "^sha256:[0-9a-f]{64}$",
            "^[0-9]+(\\.[0-9]+)?$",
            "^-?[0-9]+(\\.[0-9]+)? wei/pixel$",
            "^[A-Za-z0-9+/]*={0,2}$",
            "^/",
            "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
            "^ai\\.[a-z][a-z0-9_]*\\.[a-z][a-z0-9_]*$",
            "^(WEI|ETH)$",
            "^[0-9][0-9.eE+-]* (WEI|ETH)$",
            "^[a-z][a-z0-9+.-]*://\\S+$",
            "^https://\\S+$",
            "^run/[^\\n\\r]+$",
        ] {
            assert!(simple(p), "{p}");
        }
    }

    #[test]
    fn patterns_needing_backtracking_or_beyond_ascii_keep_the_regex_engine() {
        for p in [
            // `[a-z]*` could also take the letter the next piece wants: no lookahead decides.
            "^[a-z]*[a-z]$",
            // `\S+` could also take the `é` the next piece wants.
            "^\\S+é$",
            "^\\S*[^\\n]$",
            // Beyond ASCII inside a group.
            "^(a\\S)+$",
            // Beyond ASCII with more than a few ranges left out.
            "^[^\\n\\pL]+$",
            "^é+$",
            "[0-9]+",
            "^(ab|ac)$",
            "^(a{2}){3}$",
            "^a\\b",
        ] {
            assert!(!simple(p), "{p}");
        }
    }

    #[test]
    fn simple_patterns_match_exactly_what_the_regex_engine_matches() {
        let mut sources: Vec<&'static str> = vec![
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
        ];
        // Every simple pattern of the catalogs, too.
        let catalog = include_str!("../../generated/src/livepeer.rs").to_owned()
            + include_str!("../../generated/src/audio.rs")
            + include_str!("../../generated/src/agents.rs")
            + include_str!("../../generated/src/dam.rs")
            + include_str!("../../generated/src/orchestrator.rs");
        let simple_source =
            regex::Regex::new(r#"Pattern::simple\(\s*("(?:[^"\\]|\\.)*")"#).unwrap();
        for quoted in simple_source.captures_iter(&catalog) {
            let source: String = syn::parse_str::<syn::LitStr>(&quoted[1]).unwrap().value();
            sources.push(Box::leak(source.into_boxed_str()));
        }
        assert!(sources.len() > 25, "{} patterns", sources.len());
        for source in sources {
            let regex = regex::Regex::new(source).unwrap();
            let simple = runtime_pattern(source);
            for probe in probes(source) {
                assert_eq!(
                    simple.is_match(&probe),
                    regex.is_match(&probe),
                    "{source} on {probe:?}"
                );
            }
        }
    }
}
