//! The handle of a task spawned into a [`Scope`](super::Scope).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::{JoinError, JoinHandle};

use super::TaskError;
use crate::panic::panic_message;

/// An owned permission to join a task spawned with [`Scope::spawn`](super::Scope::spawn).
///
/// Awaiting it yields the task's value, or [`TaskError`] if the task was aborted or
/// panicked. Dropping it detaches the task, which stays owned by its scope: the scope's
/// [`shutdown`](super::Scope::shutdown) still cancels, waits for and if need be aborts it.
///
/// # Cancel safety
///
/// Awaiting is cancel-safe: if the `.await` is dropped, the task keeps running and the
/// handle can be awaited again.
pub struct ScopedJoinHandle<T> {
    inner: JoinHandle<Option<T>>,
}

impl<T> ScopedJoinHandle<T> {
    pub(crate) fn new(inner: JoinHandle<Option<T>>) -> Self {
        Self { inner }
    }

    /// Aborts the task: it is dropped at its next `.await` and this handle then yields
    /// [`TaskError::Aborted`]. Aborting a finished task is a no-op.
    pub fn abort(&self) {
        self.inner.abort();
    }

    /// `true` once the task has finished (with a value, an abort or a panic).
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("id", &self.inner.id())
            .field("finished", &self.inner.is_finished())
            .finish()
    }
}

impl<T> Future for ScopedJoinHandle<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner).poll(cx).map(|res| match res {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(TaskError::Aborted),
            Err(e) => Err(join_error(e)),
        })
    }
}

fn join_error(e: JoinError) -> TaskError {
    match e.try_into_panic() {
        Ok(payload) => TaskError::Panicked(panic_message(&*payload)),
        Err(_) => TaskError::Aborted,
    }
}
