//! Patterns simple enough to check without a regex engine: anchored at the start, made of
//! ASCII character sets repeated a number of times, runs of characters beyond ASCII but a
//! few ranges (`\S`, `[^\n\r]`), optional or repeated groups and alternations, where one
//! byte of lookahead always decides (no backtracking). Digits, hex, fixed prefixes and
//! anchored character classes are all of this kind.
//!
//! Each such pattern gets code of its own: its pieces become a chain of the runtime's
//! `pattern::Cursor` steps, each byte set a test the compiler sees whole (comparisons per
//! range, which it can vectorize over a run, or one bit test for sets of many ranges), so a
//! check costs a few instructions a byte rather than a walk over a table of pieces. Every
//! other pattern keeps the `regex` crate. The schema validator still decides every message
//! the fast path does not accept.

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

/// The check of a pattern (in the `regex` crate's dialect, as the model keeps it) over the
/// `&str` named `s`, as an expression of the runtime's `pattern::Cursor` steps; `None` when
/// it needs the regex engine.
pub fn matcher(source: &str) -> Option<TokenStream> {
    let (pieces, to_end) = pieces(source)?;
    let steps = steps(&pieces);
    let end = to_end.then(|| quote!(&&c.at_end()));
    Some(quote!({
        let mut c = ::event_contracts_runtime::pattern::Cursor::new(#source, s);
        #steps #end
    }))
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
    deterministic(&pieces, Starts::default()).then_some((pieces, anchored_end))
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

/// What a sequence can start with: ASCII bytes, and whether a character beyond ASCII.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Starts {
    ascii: Set,
    wide: bool,
}

impl Starts {
    fn union(self, other: Starts) -> Starts {
        Starts {
            ascii: self.ascii | other.ascii,
            wide: self.wide || other.wide,
        }
    }

    fn overlaps(self, other: Starts) -> bool {
        self.ascii & other.ascii != 0 || (self.wide && other.wide)
    }
}

/// What a sequence can start with.
fn first(pieces: &[Piece]) -> Starts {
    let mut starts = Starts::default();
    for p in pieces {
        starts = starts.union(match p {
            Piece::Literal(bytes) => Starts {
                ascii: 1 << bytes[0],
                wide: false,
            },
            Piece::Bytes { set, .. } => Starts {
                ascii: *set,
                wide: false,
            },
            Piece::Chars { ascii, .. } => Starts {
                ascii: *ascii,
                wide: true,
            },
            Piece::Group { alternatives, .. } => alternatives
                .iter()
                .fold(Starts::default(), |acc, a| acc.union(first(a))),
        });
        if !nullable(std::slice::from_ref(p)) {
            break;
        }
    }
    starts
}

/// Whether one byte of lookahead decides every choice of `pieces`, followed by what `follow`
/// starts with: a repeat stops at the first byte outside its set, a group is entered (again)
/// only on a byte one of its alternatives starts with, and that byte never could continue
/// the match otherwise. A byte beyond ASCII starts at most one of the choices at hand (the
/// alternative or run taking characters beyond ASCII). Greedy matching is then the only way
/// to match.
fn deterministic(pieces: &[Piece], follow: Starts) -> bool {
    pieces.iter().enumerate().all(|(i, p)| {
        let rest = &pieces[i + 1..];
        let after = if nullable(rest) {
            first(rest).union(follow)
        } else {
            first(rest)
        };
        match p {
            Piece::Literal(_) => true,
            Piece::Bytes { set, min, max } => Some(*min) == *max || set & after.ascii == 0,
            Piece::Chars {
                ascii, min, max, ..
            } => Some(*min) == *max || (ascii & after.ascii == 0 && !after.wide),
            Piece::Group {
                alternatives,
                min,
                max,
            } => {
                let starts: Vec<Starts> = alternatives.iter().map(|a| first(a)).collect();
                let all = starts
                    .iter()
                    .fold(Starts::default(), |acc, s| acc.union(*s));
                let disjoint = starts.iter().map(|s| s.ascii.count_ones()).sum::<u32>()
                    == all.ascii.count_ones()
                    && starts.iter().filter(|s| s.wide).count() <= 1;
                let inside = if max.is_none() {
                    all.union(after)
                } else {
                    after
                };
                disjoint
                    && alternatives.iter().all(|a| !a.is_empty() && !nullable(a))
                    && (Some(*min) == *max || !all.overlaps(after))
                    && alternatives.iter().all(|a| deterministic(a, inside))
            }
        }
    })
}

/// The steps of a sequence, joined by `&&`, on the cursor `c`.
fn steps(pieces: &[Piece]) -> TokenStream {
    let steps = pieces.iter().map(step);
    quote!(#(#steps)&&*)
}

fn step(piece: &Piece) -> TokenStream {
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
            quote!(c.literal(#bytes))
        }
        Piece::Bytes { set, min, max: m } => {
            let (min, m, test) = (count(*min), max(m), predicate(*set));
            quote!(c.bytes(#min, #m, |b: u8| #test))
        }
        Piece::Chars {
            ascii,
            except,
            min,
            max: m,
        } => {
            let hex = |n: u32| syn::LitInt::new(&format!("{n:#x}"), proc_macro2::Span::call_site());
            let except = except.iter().map(|&(start, end)| {
                let (start, end) = (hex(start), hex(end));
                quote!((#start, #end))
            });
            let (min, m, test) = (count(*min), max(m), predicate(*ascii));
            quote!(c.chars(#min, #m, |b: u8| #test, &[#(#except),*]))
        }
        Piece::Group {
            alternatives,
            min,
            max: m,
        } => {
            let (min, m) = (count(*min), max(m));
            // `deterministic` made the alternatives' first bytes disjoint.
            let arms = alternatives.iter().map(|a| {
                let (starts, steps) = (byte_pattern(first(a)), steps(a));
                quote!(Some(#starts) => Some(#steps),)
            });
            quote!(c.group(#min, #m, |c| match c.peek() { #(#arms)* _ => None }))
        }
    }
}

/// The most ranges a set's test compares against; a set of more is a bit test.
const MAX_RANGES: usize = 4;

/// A test of the byte `b` for membership of `set`: a comparison per range of the set, joined
/// with `|` so that a run of tests has no branch and can be vectorized, or for sets of many
/// ranges one bit test.
fn predicate(set: Set) -> TokenStream {
    let ranges = ranges(set);
    if ranges.is_empty() {
        return quote!(false);
    }
    if ranges.len() > MAX_RANGES {
        // Bit `b` for byte `b`: hex shows which bytes.
        let set = syn::LitInt::new(&format!("{set:#x}"), proc_macro2::Span::call_site());
        return quote!(::event_contracts_runtime::pattern::in_set(#set, b));
    }
    let tests: Vec<TokenStream> = ranges
        .iter()
        .map(|&(start, end)| {
            let first = byte(start);
            if start == end {
                quote!(b == #first)
            } else if start == 0 {
                let last = byte(end);
                quote!(b <= #last)
            } else {
                let span = proc_macro2::Literal::u8_unsuffixed(end - start);
                quote!(b.wrapping_sub(#first) <= #span)
            }
        })
        .collect();
    match tests.as_slice() {
        [one] => one.clone(),
        many => quote!(#((#many))|*),
    }
}

/// A match pattern of the bytes a sequence starts with: `b'W'`, `b'0'..=b'9' | b'-'`, and
/// every byte beyond ASCII for a sequence that can start with such a character.
fn byte_pattern(starts: Starts) -> TokenStream {
    let mut ranges: Vec<TokenStream> = ranges(starts.ascii)
        .into_iter()
        .map(|(start, end)| {
            let first = byte(start);
            if start == end {
                quote!(#first)
            } else {
                let last = byte(end);
                quote!(#first..=#last)
            }
        })
        .collect();
    if starts.wide {
        ranges.push(quote!(0x80..=0xff));
    }
    quote!(#(#ranges)|*)
}

/// An ASCII byte as a literal: a byte character where it is printable.
fn byte(b: u8) -> proc_macro2::Literal {
    if b.is_ascii_graphic() || b == b' ' {
        proc_macro2::Literal::byte_character(b)
    } else {
        proc_macro2::Literal::u8_suffixed(b)
    }
}

/// The runs of consecutive bytes of `set`, in order.
fn ranges(set: Set) -> Vec<(u8, u8)> {
    let mut out: Vec<(u8, u8)> = Vec::new();
    for b in 0..128u8 {
        if set & 1 << b == 0 {
            continue;
        }
        match out.last_mut() {
            Some((_, end)) if *end + 1 == b => *end = b,
            _ => out.push((b, b)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simple(source: &str) -> bool {
        matcher(source).is_some()
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
            // Characters beyond ASCII inside groups.
            "^(a\\S)+$",
            "^\"([^\"\\\\]|\\\\[^\\n\\r])*\"$",
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
            // CloudEvents' `datacontenttype`: after `;`, a space could be the optional
            // parameter's (absent, then the next round's `[ \t]*`) or this round's.
            "^[Aa][Pp][Pp][Ll][Ii][Cc][Aa][Tt][Ii][Oo][Nn]/[Jj][Ss][Oo][Nn]([ \\t]*;[ \\t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+=([!#$%&'*+.^_`|~0-9A-Za-z-]+|\"([^\"\\\\]|\\\\[^\\n\\r\\x{2028}\\x{2029}])*\"))?)*$",
            // A byte beyond ASCII could start another round or what follows.
            "^([^\\x00-\\x7f]b)*[^\\x00-\\x7f]$",
            // ... or either of two alternatives.
            "^(\\S|[^\\x00-\\x7f]b)*$",
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
}
