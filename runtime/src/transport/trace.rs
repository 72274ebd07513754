//! W3C Trace Context (`traceparent: 00-<trace-id>-<parent-id>-<flags>`): parse, start a trace,
//! and derive the header of the next hop (same trace, new span).

/// The parts of a valid `traceparent`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceParent {
    /// 32 lowercase hex digits, not all zero.
    pub trace_id: String,
    /// 16 lowercase hex digits, not all zero.
    pub parent_id: String,
    pub flags: u8,
}

impl TraceParent {
    /// Parses version `00` (and, as the spec asks, the first four fields of a later version).
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let version = parts.next()?;
        let trace_id = parts.next()?;
        let parent_id = parts.next()?;
        let flags = parts.next()?;
        let rest = parts.next();
        let hex = |s: &str, n: usize| {
            s.len() == n
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        if !hex(version, 2) || version == "ff" || (version == "00" && rest.is_some()) {
            return None;
        }
        if !hex(trace_id, 32) || trace_id.bytes().all(|b| b == b'0') {
            return None;
        }
        if !hex(parent_id, 16) || parent_id.bytes().all(|b| b == b'0') || !hex(flags, 2) {
            return None;
        }
        Some(Self {
            trace_id: trace_id.to_owned(),
            parent_id: parent_id.to_owned(),
            flags: u8::from_str_radix(flags, 16).ok()?,
        })
    }

    /// A new sampled trace.
    pub fn new_root() -> Self {
        Self {
            trace_id: random_hex(16),
            parent_id: random_hex(8),
            flags: 1,
        }
    }

    /// The same trace with a new span id: what the next hop sends.
    pub fn child(&self) -> Self {
        Self {
            trace_id: self.trace_id.clone(),
            parent_id: random_hex(8),
            flags: self.flags,
        }
    }

    /// The header value, `00-<trace-id>-<parent-id>-<flags>`. Assembled piece by piece: every
    /// publish writes one, and `format!` made it (with the ids) about half of a publish's cost.
    pub fn header(&self) -> String {
        let mut header = String::with_capacity(55);
        header.push_str("00-");
        header.push_str(&self.trace_id);
        header.push('-');
        header.push_str(&self.parent_id);
        header.push('-');
        push_hex(&mut header, self.flags);
        header
    }
}

impl std::fmt::Display for TraceParent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.header())
    }
}

/// The next hop's `traceparent`: a child of `incoming` when it is valid, else a new trace.
pub fn child_or_new(incoming: Option<&str>) -> String {
    incoming
        .and_then(TraceParent::parse)
        .map(|t| t.child())
        .unwrap_or_else(TraceParent::new_root)
        .header()
}

fn random_hex(bytes: usize) -> String {
    loop {
        let mut s = String::with_capacity(2 * bytes);
        let mut any = 0;
        let mut left = bytes;
        while left > 0 {
            // One draw gives eight bytes; a draw per byte cost as much as the rest of this.
            let word = fastrand::u64(..).to_le_bytes();
            for &b in &word[..left.min(8)] {
                any |= b;
                push_hex(&mut s, b);
            }
            left = left.saturating_sub(8);
        }
        if any != 0 {
            return s;
        }
    }
}

fn push_hex(s: &mut String, b: u8) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    s.push(char::from(DIGITS[usize::from(b >> 4)]));
    s.push(char::from(DIGITS[usize::from(b & 0xf)]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_per_spec() {
        let t = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .expect("valid");
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.flags, 1);
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "request-trace-id",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn child_keeps_the_trace_and_changes_the_span() {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let child = TraceParent::parse(&child_or_new(Some(parent))).expect("valid child");
        assert_eq!(child.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(child.parent_id, "00f067aa0ba902b7");
        assert!(TraceParent::parse(&child_or_new(Some("garbage"))).is_some());
    }

    #[test]
    fn written_headers_are_what_format_writes_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for incoming in [
            None,
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
        ]
        .into_iter()
        .cycle()
        .take(2_000)
        {
            let header = child_or_new(incoming);
            let parsed = TraceParent::parse(&header).expect("a valid traceparent");
            let written = format!(
                "00-{}-{}-{:02x}",
                parsed.trace_id, parsed.parent_id, parsed.flags
            );
            assert_eq!(written, header);
            assert_eq!(parsed.to_string(), header);
            assert_eq!(parsed.flags, if incoming.is_some() { 0 } else { 1 });
            assert!(seen.insert(parsed.parent_id), "span ids repeat: {header}");
        }
    }
}
