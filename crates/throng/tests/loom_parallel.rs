//! Loom models for `throng::parallel`: the abort registry that lets a `ParMap` call abort
//! its workers (first error, or the call dropped) while they are being spawned and while
//! they end on their own. The registry (`src/abort.rs`, shared with `cancel`) is private,
//! so its source is included here (with the crate's `sync` shim) and modelled as a call
//! uses it.
//!
//! Run: `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" cargo test --release -p throng
//! --target-dir target/loom --test loom_parallel`.
#![cfg(loom)]

#[allow(dead_code, unreachable_pub)]
#[path = "../src/sync.rs"]
mod sync;

#[allow(dead_code, unreachable_pub)]
#[path = "../src/abort.rs"]
mod abort;

use abort::{Abort, Registry};
use sync::atomic::{AtomicBool, Ordering};
use sync::Arc;

/// A fake task handle: a shared "aborted" flag.
struct Flag(Arc<AtomicBool>);

impl Abort for Flag {
    fn abort(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A worker spawned while the call closes the registry (first error, or the call
/// dropped): it is either refused or aborted, never left running unaborted, and no
/// handle is kept.
#[test]
fn spawn_racing_close_leaves_no_unaborted_worker() {
    loom::model(|| {
        let reg = Arc::new(Registry::<Flag>::with_capacity(1));
        let aborted = Arc::new(AtomicBool::new(false));
        let r = reg.clone();
        let a = aborted.clone();
        let spawner = loom::thread::spawn(move || match r.reserve() {
            None => false,
            Some(k) => {
                r.fill(k, Flag(a));
                true
            }
        });
        reg.close();
        let spawned = spawner.join().unwrap();
        if spawned {
            assert!(aborted.load(Ordering::SeqCst), "a worker escaped the close");
        }
        assert!(reg.reserve().is_none());
        assert!(reg.holds_no_handle());
        assert_eq!(Arc::strong_count(&aborted), 1, "a handle was kept");
    });
}

/// A worker that ends on its own while its handle is being filled in and the call
/// closes the registry: whatever the order, no handle is kept (the task can be freed)
/// and nothing is aborted twice into a stale slot.
#[test]
fn worker_ending_racing_fill_and_close_keeps_no_handle() {
    loom::model(|| {
        let reg = Arc::new(Registry::<Flag>::with_capacity(1));
        let aborted = Arc::new(AtomicBool::new(false));
        let k = reg.reserve().unwrap();
        let r = reg.clone();
        let worker = loom::thread::spawn(move || r.release(k));
        reg.fill(k, Flag(aborted.clone()));
        reg.close();
        worker.join().unwrap();
        assert!(reg.holds_no_handle());
        assert_eq!(Arc::strong_count(&aborted), 1, "a handle was kept");
    });
}
