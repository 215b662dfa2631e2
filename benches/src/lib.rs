//! Internal support for throng's benches: the scoreboard's cases and shared harness code.
//!
//! Criterion benches live in `benches/` (one file per pattern). The scoreboard binary
//! (`cargo run --release -p throng-benches --bin scoreboard -- [case-prefix]`) runs short
//! side-by-side comparisons and prints one stable line per case and peer.
//!
//! [`load`] is the chat load generator (`--bin chat_load`) and [`baseline`] the
//! common-style chat server it is compared against (`--bin chat_baseline`).

pub mod baseline;
pub mod cases;
pub mod load;
pub mod report;
