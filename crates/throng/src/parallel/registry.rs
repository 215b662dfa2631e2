//! Abort handles of a [`ParMap`](super::ParMap) call's workers, so the call can abort the
//! workers still running (on the first error, or when it is dropped) while they are being
//! spawned and while they end on their own.

use std::mem;
use std::sync::PoisonError;

use tokio::task::AbortHandle;

use crate::sync::{Mutex, MutexGuard};

/// What the registry needs from a task handle: abort it. Generic so the loom model can use
/// a plain flag instead of a tokio task.
pub(crate) trait Abort {
    /// Asks the task to stop; idempotent.
    fn abort(&self);
}

impl Abort for AbortHandle {
    fn abort(&self) {
        AbortHandle::abort(self);
    }
}

/// One slot per worker, numbered in spawn order.
///
/// Protocol for a worker:
/// 1. [`reserve`](Registry::reserve) a slot (refused once the registry is closed);
/// 2. spawn the task; when its future is dropped (it ended, or was aborted) it calls
///    [`end`](Registry::end), which releases its handle;
/// 3. [`fill`](Registry::fill) the slot with the task's abort handle. If the worker has
///    already ended, the handle is dropped; if the registry was closed meanwhile, the task
///    is aborted at once.
///
/// [`close`](Registry::close) refuses further workers and aborts every filled slot. No
/// handle is aborted or dropped under the lock.
pub(crate) struct Registry<H = AbortHandle> {
    inner: Mutex<Inner<H>>,
}

struct Inner<H> {
    closed: bool,
    slots: Vec<Slot<H>>,
}

enum Slot<H> {
    /// Reserved; the task is being spawned and its handle is not in yet.
    Spawning,
    Running(H),
    /// Ended, or aborted by [`Registry::close`]: no handle held.
    Released,
}

impl<H: Abort> Registry<H> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                closed: false,
                slots: Vec::with_capacity(capacity),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<H>> {
        // Every critical section is a single step: a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves the next slot; `None` if the registry is closed.
    pub(crate) fn reserve(&self) -> Option<usize> {
        let mut inner = self.lock();
        if inner.closed {
            return None;
        }
        inner.slots.push(Slot::Spawning);
        Some(inner.slots.len() - 1)
    }

    /// Stores the handle of the worker in slot `k`, aborts it if the registry was closed
    /// since [`reserve`](Registry::reserve), or drops it if the worker already ended.
    pub(crate) fn fill(&self, k: usize, handle: H) {
        let mut inner = self.lock();
        let closed = inner.closed;
        let abort = match inner.slots.get_mut(k) {
            Some(slot @ Slot::Spawning) => {
                if closed {
                    *slot = Slot::Released;
                    Some(handle)
                } else {
                    *slot = Slot::Running(handle);
                    None
                }
            }
            // Already ended: the handle is dropped below, outside the lock.
            _ => {
                drop(inner);
                drop(handle);
                return;
            }
        };
        drop(inner);
        if let Some(handle) = abort {
            handle.abort();
        }
    }

    /// The worker in slot `k` has ended (or was dropped): release its handle.
    pub(crate) fn end(&self, k: usize) {
        let released = self
            .lock()
            .slots
            .get_mut(k)
            .map(|slot| mem::replace(slot, Slot::Released));
        drop(released);
    }

    /// Refuses further workers and aborts every running one. Idempotent.
    pub(crate) fn close(&self) {
        let running: Vec<H> = {
            let mut inner = self.lock();
            inner.closed = true;
            inner
                .slots
                .iter_mut()
                .filter_map(|slot| match mem::replace(slot, Slot::Released) {
                    Slot::Running(handle) => Some(handle),
                    // A worker being spawned keeps its slot: `fill` aborts it.
                    Slot::Spawning => {
                        *slot = Slot::Spawning;
                        None
                    }
                    Slot::Released => None,
                })
                .collect()
        };
        for handle in running {
            handle.abort();
        }
    }

    #[cfg(all(test, loom))]
    fn holds_no_handle(&self) -> bool {
        self.lock()
            .slots
            .iter()
            .all(|slot| !matches!(slot, Slot::Running(_)))
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Models of the spawn / end / close races, run from `tests/loom_parallel.rs` (which
    //! includes this file): `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" cargo test
    //! --release -p throng --target-dir target/loom --test loom_parallel`.
    use super::{Abort, Registry};
    use crate::sync::atomic::{AtomicBool, Ordering};
    use crate::sync::Arc;

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
            let reg = Arc::new(Registry::<Flag>::new(1));
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
            let reg = Arc::new(Registry::<Flag>::new(1));
            let aborted = Arc::new(AtomicBool::new(false));
            let k = reg.reserve().unwrap();
            let r = reg.clone();
            let worker = loom::thread::spawn(move || r.end(k));
            reg.fill(k, Flag(aborted.clone()));
            reg.close();
            worker.join().unwrap();
            assert!(reg.holds_no_handle());
            assert_eq!(Arc::strong_count(&aborted), 1, "a handle was kept");
        });
    }
}
