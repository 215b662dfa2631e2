//! Synchronization primitives used by the lock-free and lock-based cores of this crate.
//!
//! Under `--cfg loom` these are loom's model-checked versions, so the cores can be
//! explored by `tests/loom_*.rs` without any code change (the shim tokio uses).
#![allow(unused_imports, dead_code)]

#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard, RwLock};

#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard, RwLock};

pub(crate) mod atomic {
    #[cfg(not(loom))]
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

    #[cfg(loom)]
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
}

/// Index of the current thread's shard among `n` (a power of two).
///
/// Each thread draws a stable pseudo-random index once; under loom it is derived from
/// loom's thread id so models stay deterministic.
pub(crate) fn thread_shard(n: usize) -> usize {
    debug_assert!(n.is_power_of_two());
    #[cfg(not(loom))]
    {
        use std::cell::Cell;
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
        }
        SLOT.with(|s| {
            let mut v = s.get();
            if v == usize::MAX {
                // Round-robin assignment: consecutive threads land on distinct shards.
                v = NEXT.fetch_add(1, Ordering::Relaxed);
                s.set(v);
            }
            v & (n - 1)
        })
    }
    #[cfg(loom)]
    {
        let id = format!("{:?}", loom::thread::current().id());
        let digits: usize = id
            .chars()
            .filter(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse()
            .unwrap_or(0);
        digits & (n - 1)
    }
}
