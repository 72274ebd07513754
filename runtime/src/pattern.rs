//! The `pattern` checks of generated code. A pattern codegen found simple (anchored at the
//! start, ASCII sets, runs of `\S` and the like, groups where one byte of lookahead decides
//! every choice) is checked by walking its pieces over the bytes, with no regex engine; any
//! other compiles once with the `regex` crate. Either way the schema validator decides every
//! message this check fails.

use std::sync::OnceLock;

/// One piece of a simple pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// These bytes, in this order (a run of literal characters: `0x`, ` wei/pixel`).
    Literal(&'static [u8]),
    /// A byte of `set` (bit `b` for ASCII byte `b`), `min..=max` times (`u32::MAX`: unbounded).
    Bytes { set: u128, min: u32, max: u32 },
    /// A character, `min..=max` times: an ASCII byte of `ascii`, or a character beyond ASCII
    /// outside the few ranges of `except` (`\S`, `[^\n\r]`).
    Chars {
        ascii: u128,
        except: &'static [(u32, u32)],
        min: u32,
        max: u32,
    },
    /// One of `alternatives`, `min..=max` times; the next byte picks the alternative.
    Group {
        alternatives: &'static [&'static [Piece]],
        min: u32,
        max: u32,
    },
}

/// A regular expression of a schema's `pattern`, compiled once; generated code holds one in a
/// `static` per pattern.
pub struct Pattern {
    source: &'static str,
    simple: Option<(&'static [Piece], bool)>,
    compiled: OnceLock<regex::Regex>,
}

impl Pattern {
    /// `source` is already translated to the `regex` crate's dialect and checked by codegen.
    pub const fn new(source: &'static str) -> Self {
        Self {
            source,
            simple: None,
            compiled: OnceLock::new(),
        }
    }

    /// A pattern codegen lowered to `pieces` (matching to the end of the string when
    /// `to_end`, a prefix otherwise); `source` is what it was lowered from.
    pub const fn simple(source: &'static str, pieces: &'static [Piece], to_end: bool) -> Self {
        Self {
            source,
            simple: Some((pieces, to_end)),
            compiled: OnceLock::new(),
        }
    }

    /// The pattern as the `regex` crate reads it.
    pub fn source(&self) -> &'static str {
        self.source
    }

    pub fn is_match(&self, s: &str) -> bool {
        match self.simple {
            Some((pieces, to_end)) => match sequence(pieces, s, 0) {
                Some(end) => !to_end || end == s.len(),
                None => false,
            },
            None => self
                .compiled
                .get_or_init(|| {
                    regex::Regex::new(self.source).expect("codegen compiled this pattern")
                })
                .is_match(s),
        }
    }
}

fn holds(set: u128, byte: Option<&u8>) -> bool {
    byte.is_some_and(|&b| holds_byte(set, b))
}

/// Whether `set` holds byte `b`, tested on the half of the set that can hold it: a shift of
/// the whole `u128` costs several instructions more per byte, and most of a pattern's bytes
/// go through here.
#[inline(always)]
fn holds_byte(set: u128, b: u8) -> bool {
    let (low, high) = (set as u64, (set >> 64) as u64);
    match b {
        0..=63 => low >> b & 1 != 0,
        64..=127 => high >> (b - 64) & 1 != 0,
        _ => false,
    }
}

fn starts(pieces: &[Piece], byte: Option<&u8>) -> bool {
    for p in pieces {
        let (nullable, starts) = match *p {
            Piece::Literal(bytes) => (false, byte.is_some() && byte == bytes.first()),
            Piece::Bytes { set, min, .. } => (min == 0, holds(set, byte)),
            // Codegen keeps these out of groups, the one place this is asked.
            Piece::Chars { ascii, min, .. } => {
                (min == 0, holds(ascii, byte) || byte >= Some(&0x80))
            }
            Piece::Group {
                alternatives, min, ..
            } => (min == 0, alternatives.iter().any(|a| starts(a, byte))),
        };
        if starts {
            return true;
        }
        if !nullable {
            return false;
        }
    }
    false
}

/// Where `pieces` matching from `at` ends, greedily (codegen made sure greedy is the only
/// way to match).
fn sequence(pieces: &[Piece], text: &str, mut at: usize) -> Option<usize> {
    let s = text.as_bytes();
    for p in pieces {
        match *p {
            Piece::Literal(bytes) => {
                // One comparison of the run rather than a set test per byte.
                if !s.get(at..).is_some_and(|rest| rest.starts_with(bytes)) {
                    return None;
                }
                at += bytes.len();
            }
            Piece::Bytes { set, min, max } => {
                // A run over a slice: no bounds check or count per byte.
                let rest = s.get(at..).unwrap_or_default();
                let rest = &rest[..rest.len().min(max as usize)];
                let n = rest
                    .iter()
                    .position(|&b| !holds_byte(set, b))
                    .unwrap_or(rest.len());
                if n < min as usize {
                    return None;
                }
                at += n;
            }
            Piece::Chars {
                ascii,
                except,
                min,
                max,
            } => {
                // Every piece before ends on a character boundary: `at` is one.
                let rest = text.get(at..)?;
                let bytes = rest.as_bytes();
                let (mut n, mut len) = (0, 0);
                while n < max {
                    match bytes.get(len) {
                        Some(&b) if b < 0x80 && holds_byte(ascii, b) => len += 1,
                        Some(&b) if b >= 0x80 => match rest.get(len..)?.chars().next() {
                            Some(c)
                                if !except.iter().any(|r| (r.0..=r.1).contains(&(c as u32))) =>
                            {
                                len += c.len_utf8()
                            }
                            _ => break,
                        },
                        _ => break,
                    }
                    n += 1;
                }
                if n < min {
                    return None;
                }
                at += len;
            }
            Piece::Group {
                alternatives,
                min,
                max,
            } => {
                let mut n = 0;
                while n < max {
                    let Some(alt) = alternatives.iter().find(|a| starts(a, s.get(at))) else {
                        break;
                    };
                    at = sequence(alt, text, at)?;
                    n += 1;
                }
                if n < min {
                    return None;
                }
            }
        }
    }
    Some(at)
}
