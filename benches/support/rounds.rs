//! Summaries of interleaved bench rounds: the median and the interquartile spread of the
//! per-round values, so a reader sees how much one run's figure moves on this machine.

/// The median and the interquartile range of one measured quantity over the rounds.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub median: f64,
    /// 25th percentile.
    pub low: f64,
    /// 75th percentile.
    pub high: f64,
}

impl Summary {
    pub fn of(values: &[f64]) -> Self {
        assert!(!values.is_empty(), "a summary needs at least one round");
        let mut sorted = values.to_vec();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        Self {
            median: at(0.5),
            low: at(0.25),
            high: at(0.75),
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let precision = f.precision().unwrap_or(3);
        write!(
            f,
            "{:.p$} [{:.p$}–{:.p$}]",
            self.median,
            self.low,
            self.high,
            p = precision
        )
    }
}
