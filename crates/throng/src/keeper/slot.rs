//! One call's shared slot: the closure, its outcome and the caller's waker in a single
//! allocation (the keeper's counterpart of an `mpsc` command plus a `oneshot` reply).

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::error::CallError;
use crate::sync::{Mutex, MutexGuard};
// std's `Arc` even under loom: the slot is shared as `Arc<dyn Job<S>>` and
// `Arc<dyn ReplySlot<R>>` (unsized coercion, which loom's `Arc` lacks); the protocol
// loom checks is the one behind the mutex.
use std::sync::Arc;

/// The keeper's side of a queued call.
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

/// A call in flight, shared by the keeper (as `dyn Job`) and the caller (as `dyn ReplySlot`).
pub struct Call<F, R> {
    inner: Mutex<Inner<F, R>>,
}

struct Inner<F, R> {
    /// `None` once the keeper took it, or once the caller cancelled.
    func: Option<F>,
    outcome: Outcome<R>,
    waker: Option<Waker>,
}

enum Outcome<R> {
    Pending,
    Ready(Result<R, CallError>),
    Taken,
}

impl<F, R> Call<F, R> {
    /// A new call holding `func`.
    pub fn new(func: F) -> Arc<Self> {
        Arc::new(Call {
            inner: Mutex::new(Inner {
                func: Some(func),
                outcome: Outcome::Pending,
                waker: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner<F, R>> {
        // Nothing panics while the lock is held (closures run and wakers fire outside
        // it), so a poisoned lock still holds consistent data.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn deliver(&self, result: Result<R, CallError>) {
        let waker = {
            let mut inner = self.lock();
            if !matches!(inner.outcome, Outcome::Pending) {
                return;
            }
            inner.outcome = Outcome::Ready(result);
            inner.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<S, F, R> Job<S> for Call<F, R>
where
    F: FnOnce(&mut S) -> R + Send,
    R: Send,
{
    fn run(&self, state: &mut S) -> Result<(), String> {
        let Some(func) = self.lock().func.take() else {
            return Ok(()); // the caller gave up before the keeper got to it
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
        let func = self.lock().func.take();
        drop(func); // outside the lock: the closure's captures may run arbitrary drops
        self.deliver(Err(err));
    }
}

impl<F, R> ReplySlot<R> for Call<F, R>
where
    F: Send,
    R: Send,
{
    fn poll_reply(&self, cx: &mut Context<'_>) -> Poll<Result<R, CallError>> {
        let mut inner = self.lock();
        match std::mem::replace(&mut inner.outcome, Outcome::Taken) {
            Outcome::Ready(result) => Poll::Ready(result),
            Outcome::Pending => {
                inner.outcome = Outcome::Pending;
                match &inner.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => inner.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            // Polled again after completion: a caller bug the `Reply` type rules out.
            Outcome::Taken => Poll::Ready(Err(CallError::Stopped)),
        }
    }

    fn cancel(&self) {
        let (func, waker) = {
            let mut inner = self.lock();
            (inner.func.take(), inner.waker.take())
        };
        drop((func, waker));
    }
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

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
