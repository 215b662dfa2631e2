//! The scoreboard's output format and timing helpers.

use std::time::{Duration, Instant};

/// One measured case: throng's rate and each peer's rate, higher is better.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// Case name, e.g. `counter.contended`.
    pub name: String,
    /// Unit of the values, e.g. `ops/s`.
    pub unit: &'static str,
    /// Throng's value.
    pub throng: f64,
    /// `(peer name, value)` pairs measured in the same run.
    pub peers: Vec<(String, f64)>,
}

impl CaseResult {
    /// The stable lines this case prints, one per peer:
    /// `case=<name> throng=<value> peer=<peer>:<value> unit=<unit> ratio=<throng/peer>`.
    pub fn lines(&self) -> Vec<String> {
        self.peers
            .iter()
            .map(|(peer, value)| {
                format!(
                    "case={} throng={} peer={}:{} unit={} ratio={:.2}",
                    self.name,
                    fmt_value(self.throng),
                    peer,
                    fmt_value(*value),
                    self.unit,
                    self.throng / value
                )
            })
            .collect()
    }
}

/// A value as printed: whole numbers for rates, two decimals below 1000 (percentages).
fn fmt_value(v: f64) -> String {
    if v.abs() < 1000.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

/// A scoreboard case: its name and the function that measures it.
pub struct Case {
    /// Name printed in the `case=` field; the command-line prefix filter matches it.
    pub name: &'static str,
    /// Runs the measurement (at most about 10 s) and returns the result.
    pub run: fn() -> CaseResult,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case").field("name", &self.name).finish()
    }
}

/// Runs `op` repeatedly for about `dur` after a short warm-up and returns operations per
/// second. `op` returns how many operations it performed in one call.
pub fn rate(dur: Duration, mut op: impl FnMut() -> u64) -> f64 {
    let warm = Instant::now();
    while warm.elapsed() < dur / 10 {
        op();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < dur {
        n += op();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Best of `rounds` calls of `measure` (each returning a rate): the least disturbed run
/// on a shared machine.
pub fn best_of(rounds: usize, mut measure: impl FnMut() -> f64) -> f64 {
    (0..rounds).map(|_| measure()).fold(0.0, f64::max)
}
