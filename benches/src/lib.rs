//! Internal support for throng's benches: the scoreboard's cases and shared harness code.
//!
//! Criterion benches live in `benches/` (one file per pattern). The scoreboard binary
//! (`cargo run --release -p throng-benches --bin scoreboard -- [case-prefix]`) runs short
//! side-by-side comparisons and prints one stable line per case and peer.

pub mod cases;
pub mod report;
