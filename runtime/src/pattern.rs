//! The `pattern` checks of generated code. A pattern codegen found simple (anchored at the
//! start, ASCII sets, runs of `\S` and the like, groups where one byte of lookahead decides
//! every choice) is checked by code generated for it alone: a chain of [`Cursor`] steps whose
//! byte sets are written out as comparisons the compiler can unroll and vectorize. Any other
//! pattern compiles once with the `regex` crate ([`Pattern`]). Either way the schema validator
//! decides every message such a check fails.

use std::sync::OnceLock;

/// A regular expression of a schema's `pattern`, compiled once; generated code holds one in a
/// `static` per pattern that is not simple.
pub struct Pattern {
    source: &'static str,
    compiled: OnceLock<regex::Regex>,
}

impl Pattern {
    /// `source` is already translated to the `regex` crate's dialect and checked by codegen.
    pub const fn new(source: &'static str) -> Self {
        Self {
            source,
            compiled: OnceLock::new(),
        }
    }

    /// The pattern as the `regex` crate reads it.
    pub fn source(&self) -> &'static str {
        self.source
    }

    pub fn is_match(&self, s: &str) -> bool {
        self.compiled
            .get_or_init(|| regex::Regex::new(self.source).expect("codegen compiled this pattern"))
            .is_match(s)
    }
}

/// Where the generated check of a simple pattern stands in the string: each step takes what
/// its piece of the pattern matches from here, greedily (codegen made sure greedy is the only
/// way to match), or says the string does not match.
#[derive(Clone, Copy, Debug)]
pub struct Cursor<'t> {
    /// The pattern this cursor checks, as the `regex` crate reads it: what the check is of,
    /// in generated code and in `Debug` output.
    pattern: &'static str,
    text: &'t str,
    /// Always on a character boundary: every step takes whole characters.
    at: usize,
}

impl<'t> Cursor<'t> {
    #[inline(always)]
    pub fn new(pattern: &'static str, text: &'t str) -> Self {
        Self {
            pattern,
            text,
            at: 0,
        }
    }

    /// The pattern this cursor checks.
    pub fn pattern(&self) -> &'static str {
        self.pattern
    }

    /// The next byte, which picks a group's alternative.
    #[inline(always)]
    pub fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// Whether the whole string is taken (a pattern anchored at the end).
    #[inline(always)]
    pub fn at_end(&self) -> bool {
        self.at == self.text.len()
    }

    /// These bytes, in this order (a run of literal characters: `0x`, ` wei/pixel`).
    #[inline(always)]
    pub fn literal(&mut self, bytes: &[u8]) -> bool {
        let taken = self.rest().starts_with(bytes);
        if taken {
            self.at += bytes.len();
        }
        taken
    }

    /// `min..=max` bytes each in the ASCII set `set` (`max` `u32::MAX`: unbounded).
    #[inline(always)]
    pub fn bytes(&mut self, min: u32, max: u32, set: impl Fn(u8) -> bool) -> bool {
        let rest = self.rest();
        let n = if min == max {
            match rest.get(..min as usize) {
                Some(run) if all_in(run, &set) => run.len(),
                _ => return false,
            }
        } else {
            let n = leading_in(&rest[..rest.len().min(max as usize)], &set);
            if n < min as usize {
                return false;
            }
            n
        };
        self.at += n;
        true
    }

    /// `min..=max` characters, each an ASCII byte of `ascii` or a character beyond ASCII
    /// outside the few ranges of `except` (`\S`, `[^\n\r]`).
    #[inline(always)]
    pub fn chars(
        &mut self,
        min: u32,
        max: u32,
        ascii: impl Fn(u8) -> bool,
        except: &[(u32, u32)],
    ) -> bool {
        let rest = &self.text[self.at..];
        let bytes = rest.as_bytes();
        let ascii = |b: u8| (b < 0x80) & ascii(b);
        // Characters taken, and their bytes.
        let (max, mut n, mut len) = (max as usize, 0usize, 0usize);
        loop {
            // A run of ASCII characters, tested many at a time.
            let room = (bytes.len() - len).min(max - n);
            let run = leading_in(&bytes[len..len + room], &ascii);
            (n, len) = (n + run, len + run);
            if n == max {
                break;
            }
            // What ended the run: a character beyond ASCII, or the end of this piece.
            match bytes.get(len) {
                Some(&b) if b >= 0x80 => match rest.get(len..).and_then(|r| r.chars().next()) {
                    Some(c) if !except.iter().any(|r| (r.0..=r.1).contains(&(c as u32))) => {
                        (n, len) = (n + 1, len + c.len_utf8());
                    }
                    _ => break,
                },
                _ => break,
            }
        }
        if n < min as usize {
            return false;
        }
        self.at += len;
        true
    }

    /// A group taken `min..=max` times: `round` takes one round, `None` when the next byte
    /// starts none of the group's alternatives (the rounds end), `Some(false)` when the
    /// alternative it started fails.
    #[inline(always)]
    pub fn group(
        &mut self,
        min: u32,
        max: u32,
        mut round: impl FnMut(&mut Self) -> Option<bool>,
    ) -> bool {
        let mut n = 0;
        while n < max {
            match round(self) {
                None => break,
                Some(false) => return false,
                Some(true) => n += 1,
            }
        }
        n >= min
    }

    #[inline(always)]
    fn rest(&self) -> &'t [u8] {
        &self.text.as_bytes()[self.at..]
    }
}

/// Whether byte `b` is in `set` (bit `b` for ASCII byte `b`): generated predicates use this
/// for sets of many ranges, where comparisons per range would cost more.
#[inline(always)]
pub fn in_set(set: u128, b: u8) -> bool {
    // Tested on the half of the set that can hold it: a shift of the whole `u128` costs
    // several instructions more.
    let (low, high) = (set as u64, (set >> 64) as u64);
    match b {
        0..=63 => low >> b & 1 != 0,
        64..=127 => high >> (b - 64) & 1 != 0,
        _ => false,
    }
}

/// Whether every byte of `run` is in the set, without a branch per byte, so the compiler can
/// test many bytes at once.
#[inline(always)]
fn all_in(run: &[u8], set: &impl Fn(u8) -> bool) -> bool {
    run.iter().fold(true, |all, &b| all & set(b))
}

/// How many bytes at the start of `rest` are in the set: sixteen at a time while whole
/// blocks are, then byte by byte.
#[inline(always)]
fn leading_in(rest: &[u8], set: &impl Fn(u8) -> bool) -> usize {
    const BLOCK: usize = 16;
    let mut n = 0;
    while let Some(block) = rest.get(n..n + BLOCK) {
        if !all_in(block, set) {
            break;
        }
        n += BLOCK;
    }
    n + rest[n..]
        .iter()
        .position(|&b| !set(b))
        .unwrap_or(rest.len() - n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What these cursors check is written out in each test, not lowered from a pattern.
    const HAND_WRITTEN: &str = "(hand-written steps)";

    #[test]
    fn a_cursor_takes_what_each_step_matches() {
        let hex = |b: u8| b.is_ascii_hexdigit();
        let mut c = Cursor::new(HAND_WRITTEN, "0x00ff");
        assert!(c.literal(b"0x") && c.bytes(4, 4, hex) && c.at_end());
        let mut c = Cursor::new(HAND_WRITTEN, "0x00f");
        assert!(c.literal(b"0x") && !c.bytes(4, 4, hex));
        // Runs longer than a block, stopping at the first byte outside the set.
        let long = "a".repeat(40) + "-b";
        let mut c = Cursor::new(HAND_WRITTEN, &long);
        assert!(c.bytes(1, u32::MAX, |b| b == b'a') && c.peek() == Some(b'-'));
        let mut c = Cursor::new(HAND_WRITTEN, &long);
        assert!(c.bytes(0, 3, |b| b == b'a') && c.peek() == Some(b'a'));
        assert!(!Cursor::new(HAND_WRITTEN, "ab").bytes(3, u32::MAX, |b| b.is_ascii_lowercase()));
        // Characters beyond ASCII, one of them left out.
        let mut c = Cursor::new(HAND_WRITTEN, "é€\u{2028}x");
        assert!(c.chars(2, u32::MAX, |b| b != b'\n', &[(0x2028, 0x2029)]));
        assert_eq!(c.peek(), Some(0xe2));
        // A group of `(-[a-z]+)*` over `-ab-c`, then a failing round.
        let round = |c: &mut Cursor| match c.peek() {
            Some(b'-') => Some(c.literal(b"-") && c.bytes(1, u32::MAX, |b| b.is_ascii_lowercase())),
            _ => None,
        };
        let mut c = Cursor::new(HAND_WRITTEN, "-ab-c");
        assert!(c.group(0, u32::MAX, round) && c.at_end());
        assert!(!Cursor::new(HAND_WRITTEN, "-ab-").group(0, u32::MAX, round));
        assert!(!Cursor::new(HAND_WRITTEN, "x").group(1, 1, round));
        assert!(in_set(1 << b'z', b'z') && !in_set(1 << b'z', b'y') && !in_set(u128::MAX, 0x80));
    }
}
