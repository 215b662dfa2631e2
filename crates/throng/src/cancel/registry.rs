//! The abort registry of a scope: abort handles of its live tasks, so a shutdown can abort
//! stragglers without every task watching a shared signal on every poll.

use std::collections::HashMap;

use tokio::task::AbortHandle;

use crate::sync::{Arc, Mutex, MutexGuard};

/// What the registry needs from a task handle: abort it. Generic so the loom model can use
/// a plain flag instead of a tokio task.
pub(crate) trait Abort: Clone {
    /// Asks the task to stop; idempotent.
    fn abort(&self);
}

impl Abort for AbortHandle {
    fn abort(&self) {
        AbortHandle::abort(self);
    }
}

/// Live tasks of one scope (and of its child scopes), keyed by a per-registry number.
///
/// Protocol, for a task spawned into a scope whose chain of registries is `regs`:
/// 1. [`reserve`](Registry::reserve) in each registry: a key with an empty slot (or "already
///    killed").
/// 2. spawn the task; it owns a [`Deregister`] that removes its keys when the task's future
///    is dropped (on completion, panic or abort).
/// 3. [`fill`](Registry::fill) each slot with the task's abort handle. If the task already
///    finished (slot gone), nothing is stored; if the registry was killed meanwhile, the task
///    is aborted at once.
///
/// [`kill`](Registry::kill) marks the registry killed and aborts every filled handle. No
/// abort happens under the lock.
pub(crate) struct Registry<H = AbortHandle> {
    inner: Mutex<Inner<H>>,
}

struct Inner<H> {
    killed: bool,
    next: u64,
    tasks: HashMap<u64, Option<H>>,
}

impl<H: Abort> Registry<H> {
    pub(crate) fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                killed: false,
                next: 0,
                tasks: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<H>> {
        // A panic while holding this lock cannot leave `Inner` inconsistent (single
        // insert/remove steps), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a slot; `None` if the registry has already been killed.
    pub(crate) fn reserve(&self) -> Option<u64> {
        let mut inner = self.lock();
        if inner.killed {
            return None;
        }
        let key = inner.next;
        inner.next += 1;
        inner.tasks.insert(key, None);
        Some(key)
    }

    /// Stores the task's abort handle in its slot, or aborts the task if the registry was
    /// killed since [`reserve`](Registry::reserve).
    pub(crate) fn fill(&self, key: u64, handle: &H) {
        let mut inner = self.lock();
        if inner.killed {
            inner.tasks.remove(&key);
            drop(inner);
            handle.abort();
        } else if let Some(slot) = inner.tasks.get_mut(&key) {
            *slot = Some(handle.clone());
        }
    }

    pub(crate) fn remove(&self, key: u64) {
        self.lock().tasks.remove(&key);
    }

    /// Marks the registry killed and aborts every registered task. Idempotent.
    pub(crate) fn kill(&self) {
        let handles: Vec<H> = {
            let mut inner = self.lock();
            inner.killed = true;
            inner.tasks.drain().filter_map(|(_, h)| h).collect()
        };
        for h in handles {
            h.abort();
        }
    }
}

/// Owned by a spawned task: removes its slots from every registry when the task's future is
/// dropped.
pub(crate) struct Deregister<H: Abort = AbortHandle> {
    pub(crate) slots: Vec<(Arc<Registry<H>>, u64)>,
}

impl<H: Abort> Drop for Deregister<H> {
    fn drop(&mut self) {
        for (reg, key) in &self.slots {
            reg.remove(*key);
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Model of the spawn/shutdown race on the registry, run from `tests/loom_cancel.rs`
    //! (which includes this file): `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" cargo test
    //! --release -p throng --target-dir target/loom --test loom_cancel`.
    use super::{Abort, Deregister, Registry};
    use crate::sync::atomic::{AtomicBool, Ordering};
    use crate::sync::Arc;

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
                    r.fill(key, &flag);
                    true
                }
            });
            reg.kill();
            let ran = spawner.join().unwrap();
            if ran {
                assert!(
                    aborted.load(Ordering::SeqCst),
                    "a live task escaped the kill"
                );
            }
            assert!(reg.reserve().is_none());
            assert_eq!(reg.lock().tasks.len(), 0);
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
            reg.fill(key, &flag);
            reg.kill();
            task.join().unwrap();
            assert_eq!(reg.lock().tasks.len(), 0);
        });
    }
}
