//! Loom models for `throng::cancel`: the abort registry that lets `Scope::shutdown` abort
//! stragglers while spawns race with it. The registry is private, so its source is included
//! here (with the crate's `sync` shim) and its in-file models run in this test crate.
//!
//! Run: `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" cargo test --release -p throng
//! --target-dir target/loom --test loom_cancel`.
#![cfg(loom)]

#[allow(dead_code, unreachable_pub)]
#[path = "../src/sync.rs"]
mod sync;

#[allow(dead_code, unreachable_pub)]
#[path = "../src/cancel/registry.rs"]
mod registry;
