//! One worker task of a [`ParMap`](super::ParMap) call: up to `max_slots` items in flight at
//! once, each polled only when its own waker fires (a small `FuturesUnordered` with a
//! bounded number of slots, created on demand and reused for every item).

use std::future::Future;
use std::mem;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::PoisonError;
use std::task::{Context, Poll, Wake, Waker};

use super::error::ItemError;
use super::workers::{Exit, ItemFn, Mode};
use crate::panic::panic_message;
use crate::sync::atomic::Ordering;
use crate::sync::{Arc, Mutex, MutexGuard};

/// Item polls per poll of the worker before it yields its thread (as tokio's coop budget
/// does for its own resources), on top of two per slot (so one round of completions and
/// restarts over every slot always fits): items that never `.await` cannot keep the thread
/// until the input runs out.
const BUDGET: usize = 128;

/// The worker future. Ends when the input is exhausted and its slots are empty, or (in
/// fail-fast mode) at the first error. Dropping it drops the items in its slots.
pub(super) struct Worker<I, F, M, R, E>
where
    I: Iterator,
    F: ItemFn<I::Item, R, E>,
    M: Mode<R, E>,
{
    /// Created on demand, up to `max_slots`, so a huge limit costs nothing unless used.
    slots: Vec<Slot<F::Fut>>,
    max_slots: usize,
    /// Empty slots.
    free: Vec<usize>,
    /// Slots to poll now (started or woken); kept to reuse its capacity.
    ready: Vec<usize>,
    local: Arc<Local>,
    out: Vec<(usize, M::Slot)>,
    exhausted: bool,
    /// Last field, so it is dropped last: the worker is counted out only after its items
    /// have been dropped.
    exit: Exit<I, F, M, R, E>,
}

// The item futures are pinned in their own boxes; nothing in the worker itself is
// structurally pinned.
impl<I, F, M, R, E> Unpin for Worker<I, F, M, R, E>
where
    I: Iterator,
    F: ItemFn<I::Item, R, E>,
    M: Mode<R, E>,
{
}

/// One in-flight item: its future (pinned once, replaced in place), its input index, and
/// the waker that queues this slot.
struct Slot<Fut> {
    fut: Pin<Box<Option<Fut>>>,
    index: usize,
    waker: Waker,
}

/// What the slot wakers share with the worker: which slots were woken, and the worker
/// task's waker.
struct Local {
    inner: Mutex<LocalInner>,
}

struct LocalInner {
    woken: Vec<usize>,
    queued: Vec<bool>,
    /// Taken by the first slot wake after each poll, so a burst of wakes wakes the task
    /// once.
    task: Option<Waker>,
}

struct SlotWaker {
    local: Arc<Local>,
    k: usize,
}

impl Wake for SlotWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        let task = {
            let mut local = self.local.lock();
            if local.queued[self.k] {
                return;
            }
            local.queued[self.k] = true;
            local.woken.push(self.k);
            local.task.take()
        };
        if let Some(task) = task {
            task.wake();
        }
    }
}

impl Local {
    fn lock(&self) -> MutexGuard<'_, LocalInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<I, F, M, R, E> Worker<I, F, M, R, E>
where
    I: Iterator,
    F: ItemFn<I::Item, R, E>,
    M: Mode<R, E>,
{
    pub(super) fn new(exit: Exit<I, F, M, R, E>, max_slots: usize) -> Self {
        Self {
            slots: Vec::new(),
            max_slots,
            free: Vec::new(),
            ready: Vec::new(),
            local: Arc::new(Local {
                inner: Mutex::new(LocalInner {
                    woken: Vec::new(),
                    queued: Vec::new(),
                    task: None,
                }),
            }),
            out: Vec::new(),
            exhausted: false,
            exit,
        }
    }

    /// A free slot: a reused one, or a new one while fewer than `max_slots` exist.
    fn free_slot(&mut self) -> Option<usize> {
        if let Some(&k) = self.free.last() {
            return Some(k);
        }
        if self.slots.len() == self.max_slots {
            return None;
        }
        let k = self.slots.len();
        self.local.lock().queued.push(false);
        self.slots.push(Slot {
            fut: Box::pin(None),
            index: 0,
            waker: Waker::from(std::sync::Arc::new(SlotWaker {
                local: self.local.clone(),
                k,
            })),
        });
        self.free.push(k);
        Some(k)
    }
}

impl<I, F, M, R, E> Future for Worker<I, F, M, R, E>
where
    I: Iterator,
    F: ItemFn<I::Item, R, E>,
    M: Mode<R, E>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let shared = this.exit.shared.clone();
        {
            let mut local = this.local.lock();
            match &local.task {
                Some(task) if task.will_wake(cx.waker()) => {}
                _ => local.task = Some(cx.waker().clone()),
            }
        }
        let mut budget = BUDGET.saturating_add(2 * this.slots.len());
        let mut ready = mem::take(&mut this.ready);
        loop {
            // Start items in the free slots.
            while !this.exhausted && !shared.stop.load(Ordering::Acquire) {
                let Some(k) = this.free_slot() else {
                    break;
                };
                let Some((index, item)) = shared.pull() else {
                    this.exhausted = true;
                    break;
                };
                let made = match item {
                    Ok(item) => {
                        catch_unwind(AssertUnwindSafe(|| shared.f.call(item, &shared.token)))
                            .map_err(|p| panic_message(&*p))
                    }
                    Err(message) => Err(message),
                };
                match made {
                    Ok(fut) => {
                        this.free.pop();
                        let slot = &mut this.slots[k];
                        slot.fut.set(Some(fut));
                        slot.index = index;
                        ready.push(k);
                    }
                    Err(message) => {
                        if this.record(index, Err(ItemError::Panicked { index, message })) {
                            return Poll::Ready(());
                        }
                    }
                }
            }
            // Poll the started and the woken slots.
            {
                let mut local = this.local.lock();
                for &k in &local.woken {
                    ready.push(k);
                }
                let LocalInner { woken, queued, .. } = &mut *local;
                for k in woken.drain(..) {
                    queued[k] = false;
                }
            }
            if ready.is_empty() {
                break;
            }
            for k in ready.drain(..) {
                let slot = &mut this.slots[k];
                let Some(fut) = slot.fut.as_mut().as_pin_mut() else {
                    continue; // a wake for an item that has already finished
                };
                let mut slot_cx = Context::from_waker(&slot.waker);
                let polled = catch_unwind(AssertUnwindSafe(|| fut.poll(&mut slot_cx)));
                budget = budget.saturating_sub(1);
                let index = slot.index;
                let result = match polled {
                    Ok(Poll::Pending) => continue,
                    Ok(Poll::Ready(Ok(value))) => Ok(value),
                    Ok(Poll::Ready(Err(error))) => Err(ItemError::Failed { index, error }),
                    Err(payload) => Err(ItemError::Panicked {
                        index,
                        message: panic_message(&*payload),
                    }),
                };
                // Drop the finished (or panicked) future now; a panic in its drop is
                // contained too.
                let _ = catch_unwind(AssertUnwindSafe(|| slot.fut.set(None)));
                this.free.push(k);
                if this.record(index, result) {
                    return Poll::Ready(());
                }
            }
            if budget == 0 {
                this.ready = ready;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
        this.ready = ready;
        let idle = this.free.len() == this.slots.len();
        if idle && (this.exhausted || shared.stop.load(Ordering::Acquire)) {
            let out = mem::take(&mut this.out);
            shared.finish(out);
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl<I, F, M, R, E> Worker<I, F, M, R, E>
where
    I: Iterator,
    F: ItemFn<I::Item, R, E>,
    M: Mode<R, E>,
{
    /// Keeps an item's outcome; `true` if it stops the call (fail-fast mode), in which
    /// case the error has been handed over and the worker must end.
    fn record(&mut self, index: usize, result: Result<R, ItemError<E>>) -> bool {
        match M::slot(result) {
            Ok(slot) => {
                self.out.push((index, slot));
                false
            }
            Err(error) => {
                self.exit.shared.fail(error);
                true
            }
        }
    }
}
