//! Summaries of interleaved bench rounds: the median and the interquartile spread of the
//! per-round values, so a reader sees how much one run's figure moves on this machine.

// Each bench includes this file as its own module and uses part of it.
#![allow(dead_code)]

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

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// One line for a binding-vs-raw throughput comparison (events/s per round, the binding
/// first in even rounds): each side's median, the binding/raw ratio of each round as its
/// median [min–max], and its median over the rounds each side went first, which shows an
/// order effect instead of hiding it in the spread.
pub fn report_binding_raw(what: &str, binding: &[f64], raw: &[f64]) {
    let ratios: Vec<f64> = binding.iter().zip(raw).map(|(b, r)| b / r).collect();
    let by_order = |first: usize| {
        let rounds: Vec<f64> = ratios.iter().copied().skip(first).step_by(2).collect();
        median(&rounds)
    };
    let (min, max) = ratios
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &r| {
            (lo.min(r), hi.max(r))
        });
    println!(
        "{what:<8} binding {:>9.0} events/s   raw {:>9.0} events/s   binding/raw per round \
         {:.3} [{min:.3}–{max:.3}]; binding first {:.3}, raw first {:.3}",
        median(binding),
        median(raw),
        median(&ratios),
        by_order(0),
        by_order(1),
    );
}
