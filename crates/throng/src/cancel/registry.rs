//! The abort registry of a scope: abort handles of its live tasks, so a shutdown can abort
//! stragglers without every task watching a shared signal on every poll.

use std::collections::HashMap;

use tokio::task::AbortHandle;

use crate::sync::{Arc, Mutex, MutexGuard};

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
pub(crate) struct Registry {
    inner: Mutex<Inner>,
}

struct Inner {
    killed: bool,
    next: u64,
    tasks: HashMap<u64, Option<AbortHandle>>,
}

impl Registry {
    pub(crate) fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                killed: false,
                next: 0,
                tasks: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
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
    pub(crate) fn fill(&self, key: u64, handle: &AbortHandle) {
        let mut inner = self.lock();
        if inner.killed {
            inner.tasks.remove(&key);
            drop(inner);
            handle.abort();
        } else if let Some(slot) = inner.tasks.get_mut(&key) {
            *slot = Some(handle.clone());
        }
    }

    fn remove(&self, key: u64) {
        self.lock().tasks.remove(&key);
    }

    /// Marks the registry killed and aborts every registered task. Idempotent.
    pub(crate) fn kill(&self) {
        let handles: Vec<AbortHandle> = {
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
pub(crate) struct Deregister {
    pub(crate) slots: Vec<(Arc<Registry>, u64)>,
}

impl Drop for Deregister {
    fn drop(&mut self) {
        for (reg, key) in &self.slots {
            reg.remove(*key);
        }
    }
}
