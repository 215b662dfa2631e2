//! Loom model for `throng::parallel`: the worker registry that lets a `ParMap` call abort
//! its workers (first error, or the call dropped) while they are being spawned and while
//! they end on their own. The registry is private, so its source is included here (with
//! the crate's `sync` shim) and its in-file models run in this test crate.
//!
//! Run: `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" cargo test --release -p throng
//! --target-dir target/loom --test loom_parallel`.
#![cfg(loom)]

#[allow(dead_code, unreachable_pub)]
#[path = "../src/sync.rs"]
mod sync;

#[allow(dead_code, unreachable_pub)]
#[path = "../src/parallel/registry.rs"]
mod registry;
