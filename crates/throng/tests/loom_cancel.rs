//! Loom models for `throng::cancel`: the abort registry that lets `Scope::shutdown` abort
//! stragglers while spawns race with it. The registry (`src/abort.rs`, shared with
//! `parallel`) is private, so its source is included here (with the crate's `sync` shim)
//! and modelled as a scope uses it: a task reserves a slot in its scope's registry, a
//! `Deregister` releases it when the task ends, and the shutdown closes the registry.
//!
//! Run: `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" cargo test --release -p throng
//! --target-dir target/loom --test loom_cancel`.
#![cfg(loom)]

#[allow(dead_code, unreachable_pub)]
#[path = "../src/sync.rs"]
mod sync;

#[allow(dead_code, unreachable_pub)]
#[path = "../src/abort.rs"]
mod abort;

use abort::{Abort, Deregister, Registry};
use sync::atomic::{AtomicBool, Ordering};
use sync::Arc;

#[derive(Clone)]
struct Flag(Arc<AtomicBool>);

impl Abort for Flag {
    fn abort(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A task spawned while the scope shuts down: it either never runs (reserve refused)
/// or ends up aborted. It can never be left running unaborted.
#[test]
fn spawn_racing_kill_leaves_no_unaborted_task() {
    loom::model(|| {
        let reg = Arc::new(Registry::<Flag>::new());
        let aborted = Arc::new(AtomicBool::new(false));
        let r = reg.clone();
        let flag = Flag(aborted.clone());
        let spawner = loom::thread::spawn(move || match r.reserve() {
            None => false,
            Some(key) => {
                r.fill(key, flag.clone());
                true
            }
        });
        reg.close();
        let ran = spawner.join().unwrap();
        if ran {
            assert!(
                aborted.load(Ordering::SeqCst),
                "a live task escaped the kill"
            );
        }
        assert!(reg.reserve().is_none());
        assert!(reg.is_empty());
    });
}

/// A task that finishes (deregisters) while the scope shuts down: no stale entry, and
/// the registry is empty at the end whatever the order.
#[test]
fn finishing_task_racing_kill_leaves_no_entry() {
    loom::model(|| {
        let reg = Arc::new(Registry::<Flag>::new());
        let flag = Flag(Arc::new(AtomicBool::new(false)));
        let key = reg.reserve().unwrap();
        let dereg = Deregister {
            slots: vec![(reg.clone(), key)],
        };
        // The task finishes on another thread, possibly before its handle is filled in
        // or after the kill.
        let task = loom::thread::spawn(move || drop(dereg));
        reg.fill(key, flag.clone());
        reg.close();
        task.join().unwrap();
        assert!(reg.is_empty());
    });
}
