//! Per-key counters (requests per user) with a key cap, idle eviction and race-free
//! per-interval takes.
//!
//! TODO docs
#[cfg(not(loom))]
mod cache;
mod map;
mod slot;
mod snapshot;

pub use map::{Builder, KeyedCounters};
pub use snapshot::Snapshot;
