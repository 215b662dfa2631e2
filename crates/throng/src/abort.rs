//! The abort registry shared by [`cancel::Scope`](crate::cancel::Scope) and
//! [`parallel::ParMap`](crate::parallel::ParMap): the abort handles of live tasks, so an
//! owner can abort the stragglers (a scope's shutdown, a call's first error or drop) while
//! tasks are still being spawned and while others end on their own, without every task
//! watching a shared signal on every poll.
//!
//! Its spawn / end / close races are model-checked with loom, once for each way it is used:
//! `tests/loom_cancel.rs` and `tests/loom_parallel.rs` include this file.

use std::collections::HashMap;
use std::mem;
use std::sync::PoisonError;

use tokio::task::AbortHandle;

use crate::sync::{Arc, Mutex, MutexGuard};

/// What the registry needs from a task handle: abort it. Generic so the loom models can use
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

/// Live tasks, one slot each, keyed by a per-registry number.
///
/// Protocol for a task:
/// 1. [`reserve`](Registry::reserve) a slot (refused once the registry is closed);
/// 2. spawn the task; when its future is dropped (it ended, panicked or was aborted) it
///    calls [`release`](Registry::release), which removes its slot and handle;
/// 3. [`fill`](Registry::fill) the slot with the task's abort handle. If the task has
///    already ended, the handle is dropped; if the registry was closed meanwhile, the task
///    is aborted at once.
///
/// [`close`](Registry::close) refuses further tasks and aborts every filled slot. No
/// handle is aborted or dropped under the lock.
pub(crate) struct Registry<H = AbortHandle> {
    inner: Mutex<Inner<H>>,
}

struct Inner<H> {
    closed: bool,
    next: u64,
    /// `None` while the task is being spawned and its handle is not in yet.
    slots: HashMap<u64, Option<H>>,
}

impl<H: Abort> Registry<H> {
    /// An open registry with no slot.
    #[cfg_attr(not(feature = "cancel"), allow(dead_code))] // `parallel` sizes its own
    pub(crate) fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An open registry with room for `capacity` slots before it allocates.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                closed: false,
                next: 0,
                slots: HashMap::with_capacity(capacity),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<H>> {
        // Every critical section is a single step (one insert, remove or drain), so a
        // poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves a slot; `None` if the registry is closed.
    pub(crate) fn reserve(&self) -> Option<u64> {
        let mut inner = self.lock();
        if inner.closed {
            return None;
        }
        let key = inner.next;
        inner.next += 1;
        inner.slots.insert(key, None);
        Some(key)
    }

    /// Stores the task's abort handle in slot `key`, aborts the task if the registry was
    /// closed since [`reserve`](Registry::reserve), or drops the handle if the task has
    /// already ended.
    pub(crate) fn fill(&self, key: u64, handle: H) {
        let mut inner = self.lock();
        if inner.closed {
            inner.slots.remove(&key);
            drop(inner);
            handle.abort();
            return;
        }
        match inner.slots.get_mut(&key) {
            Some(slot) => *slot = Some(handle),
            // Already ended: the handle is dropped below, outside the lock.
            None => {
                drop(inner);
                drop(handle);
            }
        }
    }

    /// The task in slot `key` has ended (or was dropped): remove its slot and handle.
    pub(crate) fn release(&self, key: u64) {
        let released = self.lock().slots.remove(&key);
        drop(released);
    }

    /// Refuses further tasks and aborts every filled slot. Idempotent.
    ///
    /// A task being spawned (reserved, not yet filled) loses its slot too: its
    /// [`fill`](Registry::fill) finds the registry closed and aborts it.
    pub(crate) fn close(&self) {
        let running: Vec<H> = {
            let mut inner = self.lock();
            inner.closed = true;
            mem::take(&mut inner.slots)
                .into_values()
                .flatten()
                .collect()
        };
        for handle in running {
            handle.abort();
        }
    }

    /// Whether the registry holds no slot at all (for the loom models).
    #[cfg(loom)]
    #[allow(dead_code)] // used by tests/loom_cancel.rs, which includes this file
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().slots.is_empty()
    }

    /// Whether the registry holds no abort handle (for the loom models).
    #[cfg(loom)]
    #[allow(dead_code)] // used by tests/loom_parallel.rs, which includes this file
    pub(crate) fn holds_no_handle(&self) -> bool {
        self.lock().slots.values().all(Option::is_none)
    }
}

/// Owned by a spawned task: releases its slots in every registry when the task's future is
/// dropped. (`parallel`'s workers release their one slot themselves.)
#[cfg_attr(not(feature = "cancel"), allow(dead_code))]
pub(crate) struct Deregister<H: Abort = AbortHandle> {
    pub(crate) slots: Vec<(Arc<Registry<H>>, u64)>,
}

impl<H: Abort> Drop for Deregister<H> {
    fn drop(&mut self) {
        for (reg, key) in &self.slots {
            reg.release(*key);
        }
    }
}
