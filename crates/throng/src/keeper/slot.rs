//! One call's shared slot: the closure, its outcome and the caller's waker in a single
//! allocation (the keeper's counterpart of an `mpsc` command plus a `oneshot` reply).

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::error::CallError;
use crate::panic::panic_message;
use crate::sync::atomic::{AtomicUsize, Ordering};
// std's `Arc` even under loom: the slot is shared as `Arc<dyn Job<S>>` and
// `Arc<dyn ReplySlot<R>>` (unsized coercion, which loom's `Arc` lacks); the protocol
// loom checks is the one on `state` below.
use std::sync::Arc;

/// The keeper's side of a queued call. `run` or `abandon` is called at most once.
pub trait Job<S>: Send + Sync {
    /// Runs the closure on `state`, unless the caller gave up first, and delivers the
    /// outcome. Returns the panic message if the closure panicked.
    fn run(&self, state: &mut S) -> Result<(), String>;
    /// Delivers `err` without running the closure (the keeper stopped or is poisoned).
    fn abandon(&self, err: CallError);
}

/// The caller's side of a queued call.
pub trait ReplySlot<R>: Send + Sync {
    /// Takes the outcome if it is there, else registers `cx`'s waker.
    fn poll_reply(&self, cx: &mut Context<'_>) -> Poll<Result<R, CallError>>;
    /// The caller gave up: the closure will not start if it has not yet.
    fn cancel(&self);
}

/// `outcome` is written and will not be touched by the keeper again.
const COMPLETE: usize = 0b001;
/// `waker` holds the caller's waker; the keeper may read it (by reference).
const WAKER_SET: usize = 0b010;
/// The caller is gone: do not start the closure, do not wake.
const CANCELLED: usize = 0b100;

/// A call in flight, shared by the keeper (as `dyn Job`) and the caller (as `dyn
/// ReplySlot`): closure, outcome and waker in one allocation.
///
/// The protocol (tokio's `oneshot`, plus a closure and a cancel bit):
/// - `func` is touched only by the keeper's single `run` (or by `Drop`);
/// - `outcome` is written by the keeper before it sets `COMPLETE` (release) and read
///   by the caller only after it saw `COMPLETE` (acquire);
/// - `waker` is written by the caller only while `WAKER_SET` is clear, and read (never
///   written) by the keeper only if its `COMPLETE` update saw `WAKER_SET`.
#[cfg_attr(loom, allow(missing_debug_implementations))]
pub struct Call<F, R> {
    state: AtomicUsize,
    func: Cell<Option<F>>,
    outcome: Cell<Option<Result<R, CallError>>>,
    waker: Cell<Option<Waker>>,
}

// SAFETY: the cells are accessed per the protocol above, so no two threads touch one
// cell at the same time unless both only read. `F` and `R` move between threads, hence
// the `Send` bounds; nothing is shared by reference across threads except the waker,
// and `Waker` is `Sync`.
unsafe impl<F: Send, R: Send> Send for Call<F, R> {}
// SAFETY: as above.
unsafe impl<F: Send, R: Send> Sync for Call<F, R> {}

impl<F, R> Call<F, R> {
    /// A new call holding `func`.
    pub fn new(func: F) -> Arc<Self> {
        Arc::new(Call {
            state: AtomicUsize::new(0),
            func: Cell::new(Some(func)),
            outcome: Cell::new(None),
            waker: Cell::new(None),
        })
    }

    /// Stores the outcome and wakes the caller. Called once, by the keeper.
    fn deliver(&self, result: Result<R, CallError>) {
        // SAFETY: only the keeper writes `outcome`, once, before setting COMPLETE; the
        // caller reads it only after seeing COMPLETE.
        self.outcome.with_mut(|p| unsafe { *p = Some(result) });
        let prev = self.state.fetch_or(COMPLETE, Ordering::AcqRel);
        if prev & (WAKER_SET | CANCELLED) == WAKER_SET {
            // SAFETY: WAKER_SET was set when COMPLETE was, so the caller will not write
            // `waker` again (it clears WAKER_SET first and would then see COMPLETE).
            self.waker.with(|p| unsafe {
                if let Some(waker) = &*p {
                    waker.wake_by_ref();
                }
            });
        }
    }

    /// Takes the outcome. Only after COMPLETE was observed (acquire).
    fn take_outcome(&self) -> Result<R, CallError> {
        // SAFETY: COMPLETE is set, so the keeper is done with `outcome`; only the
        // caller (one `Reply`) takes it.
        self.outcome
            .with_mut(|p| unsafe { (*p).take() })
            .unwrap_or(Err(CallError::Stopped))
    }
}

impl<S, F, R> Job<S> for Call<F, R>
where
    F: FnOnce(&mut S) -> R + Send,
    R: Send,
{
    fn run(&self, state: &mut S) -> Result<(), String> {
        if self.state.load(Ordering::Acquire) & CANCELLED != 0 {
            return Ok(()); // the caller gave up before the keeper got to it
        }
        // SAFETY: only the keeper's single `run` touches `func`.
        let Some(func) = self.func.with_mut(|p| unsafe { (*p).take() }) else {
            return Ok(());
        };
        match catch_unwind(AssertUnwindSafe(|| func(state))) {
            Ok(value) => {
                self.deliver(Ok(value));
                Ok(())
            }
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                self.deliver(Err(CallError::Panicked(message.clone())));
                Err(message)
            }
        }
    }

    fn abandon(&self, err: CallError) {
        self.deliver(Err(err)); // `func` is dropped with the slot
    }
}

impl<F, R> ReplySlot<R> for Call<F, R>
where
    F: Send,
    R: Send,
{
    fn poll_reply(&self, cx: &mut Context<'_>) -> Poll<Result<R, CallError>> {
        let state = self.state.load(Ordering::Acquire);
        if state & COMPLETE != 0 {
            return Poll::Ready(self.take_outcome());
        }
        if state & WAKER_SET != 0 {
            // SAFETY: shared read; the keeper only ever reads `waker` too.
            let same = self
                .waker
                .with(|p| unsafe { (*p).as_ref().is_some_and(|w| w.will_wake(cx.waker())) });
            if same {
                return Poll::Pending;
            }
            // Take the waker back before replacing it.
            let prev = self.state.fetch_and(!WAKER_SET, Ordering::AcqRel);
            if prev & COMPLETE != 0 {
                return Poll::Ready(self.take_outcome());
            }
        }
        // SAFETY: WAKER_SET is clear and COMPLETE was not set when we cleared it, so the
        // keeper will not read `waker` until we set WAKER_SET again.
        self.waker
            .with_mut(|p| unsafe { *p = Some(cx.waker().clone()) });
        let prev = self.state.fetch_or(WAKER_SET, Ordering::AcqRel);
        if prev & COMPLETE != 0 {
            return Poll::Ready(self.take_outcome());
        }
        Poll::Pending
    }

    fn cancel(&self) {
        self.state.fetch_or(CANCELLED, Ordering::Release);
    }
}

/// `UnsafeCell` with loom's closure API, so loom can check every access.
#[cfg(not(loom))]
struct Cell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> Cell<T> {
    fn new(value: T) -> Self {
        Cell(std::cell::UnsafeCell::new(value))
    }

    fn with<U>(&self, f: impl FnOnce(*const T) -> U) -> U {
        f(self.0.get())
    }

    fn with_mut<U>(&self, f: impl FnOnce(*mut T) -> U) -> U {
        f(self.0.get())
    }
}

#[cfg(loom)]
use loom::cell::UnsafeCell as Cell;

/// The reply to a call that was accepted into a keeper's mailbox.
///
/// Resolves to the closure's return value, or to the [`CallError`] that explains why
/// there is none. Dropping it before the keeper starts the closure cancels the call:
/// the closure is dropped without running.
///
/// # Cancel safety
///
/// Dropping a `Reply` is always safe: if the keeper has not started the closure it never
/// will; if the closure is running or done, its result is dropped.
#[must_use = "dropping a Reply cancels the call unless the keeper has started it"]
pub struct Reply<R> {
    slot: Option<Arc<dyn ReplySlot<R>>>,
}

impl<R> Reply<R> {
    pub(crate) fn new(slot: Arc<dyn ReplySlot<R>>) -> Self {
        Reply { slot: Some(slot) }
    }
}

impl<R> Future for Reply<R> {
    type Output = Result<R, CallError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(slot) = &self.slot else {
            return Poll::Ready(Err(CallError::Stopped)); // polled after completion
        };
        let poll = slot.poll_reply(cx);
        if poll.is_ready() {
            self.slot = None; // done: nothing left to cancel on drop
        }
        poll
    }
}

impl<R> Drop for Reply<R> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.cancel();
        }
    }
}

impl<R> std::fmt::Debug for Reply<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("done", &self.slot.is_none())
            .finish()
    }
}
