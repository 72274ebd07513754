//! Regular languages of `pattern`s: each ECMA pattern (translated to the Rust dialect, no
//! look-around or back-references) becomes a DFA of the strings it is found in; inclusion is
//! decided on the product automaton, which also yields the shortest string in the difference.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use regex_automata::dfa::{dense, Automaton, StartKind};
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};

/// The DFA of the strings a pattern is found in.
pub struct Lang {
    dfa: dense::DFA<Vec<u32>>,
    start: StateID,
}

fn cache() -> &'static Mutex<HashMap<String, Option<Arc<Lang>>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Arc<Lang>>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The language of an ECMA pattern, or `None` when it is not regular here (look-around,
/// back-references, a pattern the translation refuses, a DFA over the size limit).
pub fn lang(pattern: &str) -> Option<Arc<Lang>> {
    if let Ok(c) = cache().lock() {
        if let Some(l) = c.get(pattern) {
            return l.clone();
        }
    }
    let built = build(pattern).map(Arc::new);
    if let Ok(mut c) = cache().lock() {
        c.insert(pattern.to_owned(), built.clone());
    }
    built
}

fn build(pattern: &str) -> Option<Lang> {
    let rust = jsonschema_regex::to_rust_regex(pattern).ok()?;
    // Unanchored search semantics as a full-match language.
    let wrapped = format!("(?s:.)*(?:{rust})(?s:.)*");
    let dfa = dense::Builder::new()
        .configure(
            dense::Config::new()
                .match_kind(MatchKind::All)
                .start_kind(StartKind::Anchored)
                .dfa_size_limit(Some(16 << 20))
                .determinize_size_limit(Some(16 << 20)),
        )
        .build(&wrapped)
        .ok()?;
    let start = dfa
        .start_state(&start::Config::new().anchored(Anchored::Yes))
        .ok()?;
    if dfa.is_quit_state(start) {
        return None;
    }
    Some(Lang { dfa, start })
}

impl Lang {
    fn step(&self, s: StateID, b: u8) -> StateID {
        self.dfa.next_state(s, b)
    }

    fn accepts_at_end(&self, s: StateID) -> bool {
        let e = self.dfa.next_eoi_state(s);
        self.dfa.is_match_state(e)
    }

    fn dead(&self, s: StateID) -> bool {
        self.dfa.is_dead_state(s) || self.dfa.is_quit_state(s)
    }

    pub fn matches(&self, text: &str) -> bool {
        let mut s = self.start;
        for b in text.bytes() {
            s = self.step(s, b);
            if self.dead(s) {
                return false;
            }
        }
        self.accepts_at_end(s)
    }
}

/// What a language search found.
#[derive(Debug, Clone, PartialEq)]
pub enum Search {
    /// No string qualifies (the search was exhaustive).
    None,
    /// The shortest qualifying string.
    Found(String),
    /// The search gave up (state limit) or a string was refused by `keep`.
    Unknown,
}

const STATE_LIMIT: usize = 200_000;

/// A string matching every pattern of `a` and, when `b` is not empty, failing some pattern of
/// `b`, with a character count in `[min, max]`, that `keep` accepts.
pub fn search(
    a: &[Arc<Lang>],
    b: &[Arc<Lang>],
    min: u64,
    max: Option<u64>,
    keep: &dyn Fn(&str) -> bool,
) -> Search {
    search_in(a, b, false, min, max, keep)
}

/// A string matching every pattern of `a` and none of `b` (a key in exactly the patterns of
/// `a`, among those of `a` and `b`), that `keep` accepts.
pub fn search_exactly(a: &[Arc<Lang>], b: &[Arc<Lang>], keep: &dyn Fn(&str) -> bool) -> Search {
    search_in(a, b, true, 0, None, keep)
}

/// `none_of_b`: the string must fail every pattern of `b` (else some).
fn search_in(
    a: &[Arc<Lang>],
    b: &[Arc<Lang>],
    none_of_b: bool,
    min: u64,
    max: Option<u64>,
    keep: &dyn Fn(&str) -> bool,
) -> Search {
    let all: Vec<&Lang> = a.iter().chain(b.iter()).map(|l| l.as_ref()).collect();
    let na = a.len();
    // Bytes that every DFA treats alike are one letter of the product alphabet.
    let mut reps: Vec<u8> = Vec::new();
    let mut seen_keys: HashSet<Vec<u8>> = HashSet::new();
    for byte in 0..=255u8 {
        let key: Vec<u8> = all.iter().map(|l| l.dfa.byte_classes().get(byte)).collect();
        if seen_keys.insert(key) {
            reps.push(byte);
        }
    }
    let cap = match max {
        Some(m) if m <= 64 => m.max(min),
        _ => min.min(64),
    };
    type Key = (Vec<StateID>, u64);
    let start: Vec<StateID> = all.iter().map(|l| l.start).collect();
    let mut parent: HashMap<Key, Option<(Key, u8)>> = HashMap::new();
    let mut queue: VecDeque<(Key, u64)> = VecDeque::new();
    let k0: Key = (start, 0);
    parent.insert(k0.clone(), None);
    queue.push_back((k0, 0));
    let mut refused = false;
    while let Some((key, chars)) = queue.pop_front() {
        let (states, _) = &key;
        let a_ok = states[..na]
            .iter()
            .zip(&all[..na])
            .all(|(s, l)| l.accepts_at_end(*s));
        let mut b_accepting = states[na..]
            .iter()
            .zip(&all[na..])
            .map(|(s, l)| l.accepts_at_end(*s));
        let b_ok = if none_of_b {
            !b_accepting.any(|x| x)
        } else {
            b.is_empty() || !b_accepting.all(|x| x)
        };
        if a_ok && b_ok && chars >= min && max.is_none_or(|m| chars <= m) {
            let bytes = path(&parent, &key);
            if let Ok(text) = String::from_utf8(bytes) {
                if keep(&text) {
                    return Search::Found(text);
                }
                refused = true;
            }
        }
        if parent.len() > STATE_LIMIT {
            return Search::Unknown;
        }
        for &byte in &reps {
            let next: Vec<StateID> = states
                .iter()
                .zip(&all)
                .map(|(s, l)| l.step(*s, byte))
                .collect();
            if next[..na].iter().zip(&all[..na]).any(|(s, l)| l.dead(*s)) {
                continue;
            }
            // A byte that starts a character counts one.
            let nchars = if byte & 0xC0 == 0x80 {
                chars
            } else {
                chars + 1
            };
            if max.is_some_and(|m| nchars > m) {
                continue;
            }
            let nk: Key = (next, nchars.min(cap));
            if parent.contains_key(&nk) {
                continue;
            }
            parent.insert(nk.clone(), Some((key.clone(), byte)));
            queue.push_back((nk, nchars));
        }
    }
    if refused {
        Search::Unknown
    } else {
        Search::None
    }
}

type PKey = (Vec<StateID>, u64);

fn path(parent: &HashMap<PKey, Option<(PKey, u8)>>, key: &PKey) -> Vec<u8> {
    let mut out = Vec::new();
    let mut k = key.clone();
    while let Some(Some((p, b))) = parent.get(&k) {
        out.push(*b);
        k = p.clone();
    }
    out.reverse();
    out
}

/// Every pattern's language, or `None` when one is not regular here.
pub fn langs(patterns: &[String]) -> Option<Vec<Arc<Lang>>> {
    patterns.iter().map(|p| lang(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(p: &str) -> Arc<Lang> {
        lang(p).expect("regular")
    }

    #[test]
    fn a_key_in_exactly_some_patterns() {
        let (a, ab) = (l("^a"), l("^ab"));
        let any = |_: &str| true;
        assert_eq!(
            search_exactly(std::slice::from_ref(&a), std::slice::from_ref(&ab), &any),
            Search::Found("a".into())
        );
        assert_eq!(
            search_exactly(std::slice::from_ref(&ab), std::slice::from_ref(&a), &any),
            Search::None
        );
        assert_eq!(
            search_exactly(&[a, ab], &[], &any),
            Search::Found("ab".into())
        );
    }

    #[test]
    fn matches_like_a_search() {
        assert!(l("^[a-z]+$").matches("abc"));
        assert!(!l("^[a-z]+$").matches("abc1"));
        assert!(l("b").matches("abc"));
        assert!(!l("^b").matches("abc"));
        assert!(l("^\\d{2}$").matches("12"));
        assert!(!l("^\\d{2}$").matches("123"));
    }

    #[test]
    fn inclusion_and_witness() {
        let narrow = l("^[a-c]+$");
        let wide = l("^[a-z]+$");
        assert_eq!(
            search(
                std::slice::from_ref(&narrow),
                std::slice::from_ref(&wide),
                0,
                None,
                &|_| true
            ),
            Search::None
        );
        match search(&[wide], &[narrow], 0, None, &|_| true) {
            Search::Found(s) => assert_eq!(s, "d"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn look_around_is_not_regular_here() {
        assert!(lang("^(?=a)a$").is_none());
        assert!(lang("^(a)\\1$").is_none());
    }

    #[test]
    fn lengths_bound_the_search() {
        let any = l("^[a-z]*$");
        match search(&[any], &[], 3, Some(5), &|_| true) {
            Search::Found(s) => assert_eq!(s.len(), 3),
            other => panic!("{other:?}"),
        }
    }
}
