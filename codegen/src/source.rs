//! Schema files as parsed JSON plus where every value stands in the text, so a diagnostic can
//! name `file:line:col` for any JSON pointer.

use std::collections::HashMap;

use serde_json::Value;

use crate::diag::Snippet;

/// 1-based line and column (columns count characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    /// Byte offset of each line's start, so a diagnostic's snippet costs no scan of the text;
    /// made on the first snippet, since most files never need one (building it with every
    /// parse made parsing the catalog 6% slower).
    line_starts: std::sync::OnceLock<Vec<usize>>,
}

/// A JSON syntax error, already located.
#[derive(Clone, Debug)]
pub struct SyntaxError {
    pub position: Position,
    pub message: String,
    /// The line serde stopped on, the caret at the position.
    pub snippet: Snippet,
}

impl SourceFile {
    pub fn parse(path: impl Into<String>, text: impl Into<String>) -> Result<Self, SyntaxError> {
        let text = text.into();
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            let position = Position {
                line: e.line(),
                column: e.column(),
            };
            SyntaxError {
                position,
                message: e.to_string(),
                snippet: syntax_snippet(&text, position),
            }
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
            line_starts: std::sync::OnceLock::new(),
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
        self.locate(pointer).map_or(Position::START, |(_, pos)| pos)
    }

    /// The pointer `position` answers for (`pointer` or its nearest located ancestor) and
    /// where its value starts.
    fn locate<'p>(&self, pointer: &'p str) -> Option<(&'p str, Position)> {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return Some((p, *pos));
            }
            p = &p[..p.rfind('/')?];
        }
    }

    /// The text of 1-based `line`, without its line break; empty past the end.
    pub fn line(&self, line: usize) -> &str {
        let line_starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        let Some(&start) = line_starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = line_starts
            .get(line)
            .map_or(self.text.len(), |next| next - 1);
        self.text[start..end].trim_end_matches('\r')
    }

    /// The source line of the value at `pointer` with the span a caret should mark. An object
    /// or array member is marked from its key to its opening bracket (the bracket alone says
    /// little, and the span still covers the reported column); any other value by its token.
    pub fn snippet(&self, pointer: &str) -> Snippet {
        let (located, value_at) = self.locate(pointer).unwrap_or(("", Position::START));
        let value_line = self.line(value_at.line);
        let composite = matches!(
            value_line.chars().nth(value_at.column.saturating_sub(1)),
            Some('{' | '[')
        );
        match self.positions.get(&format!("{located}#key")) {
            Some(key) if composite && key.line == value_at.line => Snippet::new(
                key.line,
                value_line,
                key.column,
                value_at.column + 1 - key.column,
            ),
            Some(key) if composite => {
                let text = self.line(key.line);
                Snippet::new(key.line, text, key.column, token_len(text, key.column))
            }
            _ => Snippet::new(
                value_at.line,
                value_line,
                value_at.column,
                token_len(value_line, value_at.column),
            ),
        }
    }
}

/// The snippet of a JSON syntax error: one character at `at` in `text` (serde reports column
/// 0 for the start of a line, which is shown as column 1).
fn syntax_snippet(text: &str, at: Position) -> Snippet {
    let line = text.lines().nth(at.line.saturating_sub(1)).unwrap_or("");
    Snippet::new(at.line, line, at.column.max(1), 1)
}

/// Characters of the JSON token starting at 1-based character `column` of `line`: a whole
/// string (up to the line's end if it continues), one bracket, or a bare scalar.
fn token_len(line: &str, column: usize) -> usize {
    let mut chars = line.chars().skip(column.saturating_sub(1)).peekable();
    match chars.peek() {
        Some('"') => {
            let mut len = 1;
            let mut escaped = false;
            for c in chars.skip(1) {
                len += 1;
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => break,
                    _ => escaped = false,
                }
            }
            len
        }
        Some('{' | '[') | None => 1,
        Some(_) => chars
            .take_while(|c| !matches!(c, ',' | '}' | ']' | ' ' | '\t' | '\r'))
            .count()
            .max(1),
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
    fn a_snippet_marks_the_key_of_an_object_member_and_the_token_of_a_scalar() {
        let text =
            "{\n  \"properties\": {\n    \"x\": {\"format\": \"em\\\"ail\", \"n\": 12}\n  }\n}";
        let f = SourceFile::parse("t.json", text).unwrap();
        let marked = |pointer: &str| {
            let s = f.snippet(pointer);
            (
                s.line,
                s.text
                    .chars()
                    .skip(s.offset)
                    .take(s.len)
                    .collect::<String>(),
            )
        };
        assert_eq!(marked("/properties"), (2, "\"properties\": {".into()));
        assert_eq!(marked("/properties/x/format"), (3, "\"em\\\"ail\"".into()));
        assert_eq!(marked("/properties/x/n"), (3, "12".into()));
        assert_eq!(marked(""), (1, "{".into()));
        // A pointer into nothing marks its nearest located ancestor.
        assert_eq!(marked("/properties/x/missing"), (3, "\"x\": {".into()));
        assert_eq!(f.line(6), "");
        let split = SourceFile::parse("t.json", "{\"y\":\n  [1]}").unwrap();
        let s = split.snippet("/y");
        assert_eq!((s.line, s.offset, s.len), (1, 1, 3));
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = SourceFile::parse("t.json", "{\n  \"a\": ,\n}").unwrap_err();
        assert_eq!(err.position.line, 2);
    }
}
