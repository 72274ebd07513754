//! Message headers as the transports carry them: ordered, names as given, values as bytes
//! (Kafka header values need not be UTF-8), so a dead-letter copy keeps them unchanged.

/// Ordered name/value pairs. Names compare ASCII-case-insensitively, as HTTP and NATS do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, Vec<u8>)>);

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    /// The first value of `name`, as bytes.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            // Names are usually written as looked up: one comparison of the bytes first.
            .find(|(n, _)| n == name || n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of `name`, when it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Sets `name` to `value`, replacing every earlier value of it.
    pub fn insert(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.0.push((name.to_owned(), value.as_ref().to_vec()));
    }

    /// Adds a value without removing earlier ones (as received).
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.0.push((name.into(), value.into()));
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The attempt number recorded in [`super::ATTEMPT_HEADER`]; 1 when absent or unreadable.
    pub fn attempt(&self) -> u32 {
        self.get_str(super::ATTEMPT_HEADER)
            .and_then(|v| v.trim().parse().ok())
            .filter(|n| *n >= 1)
            .unwrap_or(1)
    }
}

impl<N: Into<String>, V: Into<Vec<u8>>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        )
    }
}
