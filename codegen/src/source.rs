//! Schema files as parsed JSON plus where every value stands in the text, so a diagnostic can
//! name `file:line:col` for any JSON pointer.

use std::collections::HashMap;

use serde_json::Value;

/// 1-based line and column (columns count characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The first character: where a problem with a whole file is reported.
    pub const START: Position = Position { line: 1, column: 1 };
}

/// One parsed JSON document.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Path relative to the schema root, with `/` separators (`dam/events/capture.alive.json`).
    pub path: String,
    pub text: String,
    pub value: Value,
    positions: HashMap<String, Position>,
    /// Where each object and array closes, by pointer.
    ends: Vec<(Position, String)>,
}

/// A JSON syntax error, already located.
#[derive(Clone, Debug)]
pub struct SyntaxError {
    pub position: Position,
    pub message: String,
}

impl SourceFile {
    pub fn parse(path: impl Into<String>, text: impl Into<String>) -> Result<Self, SyntaxError> {
        let text = text.into();
        let value: Value = serde_json::from_str(&text).map_err(|e| SyntaxError {
            position: Position {
                line: e.line(),
                column: e.column(),
            },
            message: e.to_string(),
        })?;
        let mut positions = HashMap::new();
        let mut ends = Vec::new();
        Locator::new(&text).value(&mut String::new(), &mut positions, &mut ends);
        Ok(Self {
            path: path.into(),
            text,
            value,
            positions,
            ends,
        })
    }

    /// The JSON pointer of what stands at `at` (a position serde reports for a value it
    /// refuses: the last character it read): an object or array closing there (a missing
    /// field), else the value or key starting last at or before it.
    pub fn pointer_at(&self, at: Position) -> String {
        if let Some((_, pointer)) = self.ends.iter().find(|(end, _)| *end == at) {
            return pointer.clone();
        }
        self.positions
            .iter()
            .filter(|(_, start)| **start <= at)
            .max_by(|(pa, a), (pb, b)| a.cmp(b).then(pa.len().cmp(&pb.len())))
            .map(|(p, _)| p.trim_end_matches("#key").to_owned())
            .unwrap_or_default()
    }

    /// Where the value at `pointer` starts; the nearest located ancestor when the pointer is
    /// not in the text (a pointer into a merged or defaulted value).
    pub fn position(&self, pointer: &str) -> Position {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Position { line: 1, column: 1 },
            }
        }
    }
}

/// Escapes one reference token per RFC 6901.
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Walks text that serde_json already accepted, recording the start of every value.
struct Locator<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    column: usize,
}

impl<'a> Locator<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            chars: text.chars().peekable(),
            line: 1,
            column: 1,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn here(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.chars.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.bump();
        }
    }

    fn value(
        &mut self,
        pointer: &mut String,
        out: &mut HashMap<String, Position>,
        ends: &mut Vec<(Position, String)>,
    ) {
        self.skip_ws();
        out.insert(
            pointer.clone(),
            Position {
                line: self.line,
                column: self.column,
            },
        );
        match self.chars.peek() {
            Some('{') => {
                self.bump();
                loop {
                    self.skip_ws();
                    match self.chars.peek() {
                        Some('}') => {
                            ends.push((self.here(), pointer.clone()));
                            self.bump();
                            return;
                        }
                        Some(',') => {
                            self.bump();
                            continue;
                        }
                        Some('"') => {}
                        _ => return,
                    }
                    let key_pos = Position {
                        line: self.line,
                        column: self.column,
                    };
                    let key = self.string();
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&escape_token(&key));
                    // The key's own position answers for a pointer that names a missing value.
                    out.insert(format!("{pointer}#key"), key_pos);
                    self.skip_ws();
                    if self.chars.peek() == Some(&':') {
                        self.bump();
                    }
                    self.value(pointer, out, ends);
                    pointer.truncate(len);
                }
            }
            Some('[') => {
                self.bump();
                let mut index = 0usize;
                loop {
                    self.skip_ws();
                    match self.chars.peek() {
                        Some(']') => {
                            ends.push((self.here(), pointer.clone()));
                            self.bump();
                            return;
                        }
                        Some(',') => {
                            self.bump();
                            continue;
                        }
                        None => return,
                        _ => {}
                    }
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&index.to_string());
                    self.value(pointer, out, ends);
                    pointer.truncate(len);
                    index += 1;
                }
            }
            Some('"') => {
                self.string();
            }
            _ => {
                while matches!(self.chars.peek(), Some(c) if !matches!(c, ',' | '}' | ']' | ' ' | '\t' | '\n' | '\r'))
                {
                    self.bump();
                }
            }
        }
    }

    fn string(&mut self) -> String {
        let mut raw = String::from("\"");
        self.bump();
        while let Some(c) = self.bump() {
            raw.push(c);
            match c {
                '\\' => {
                    if let Some(e) = self.bump() {
                        raw.push(e);
                    }
                }
                '"' => break,
                _ => {}
            }
        }
        serde_json::from_str(&raw).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_nested_values_and_escaped_keys() {
        let text = "{\n  \"a\": [1, {\"b/c\": true}],\n  \"d\": \"x\"\n}";
        let f = SourceFile::parse("t.json", text).unwrap();
        assert_eq!(f.position(""), Position { line: 1, column: 1 });
        assert_eq!(f.position("/a"), Position { line: 2, column: 8 });
        assert_eq!(
            f.position("/a/1/b~1c"),
            Position {
                line: 2,
                column: 20
            }
        );
        assert_eq!(f.position("/d"), Position { line: 3, column: 8 });
        assert_eq!(
            f.position("/a/1/missing"),
            Position {
                line: 2,
                column: 12
            }
        );
    }

    #[test]
    fn pointer_at_names_what_serde_refused() {
        let text = "{\n  \"a\": 1,\n  \"b\": [{\"c\": 1}, {}],\n  \"x\": 2\n}";
        let f = SourceFile::parse("t.json", text).unwrap();
        // An unknown key (serde stops on its last character), a wrong value, a missing field.
        assert_eq!(f.pointer_at(Position { line: 4, column: 5 }), "/x");
        assert_eq!(
            f.pointer_at(Position {
                line: 3,
                column: 15
            }),
            "/b/0/c"
        );
        assert_eq!(
            f.pointer_at(Position {
                line: 3,
                column: 20
            }),
            "/b/1"
        );
        assert_eq!(f.pointer_at(Position { line: 5, column: 1 }), "");
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = SourceFile::parse("t.json", "{\n  \"a\": ,\n}").unwrap_err();
        assert_eq!(err.position.line, 2);
    }
}
