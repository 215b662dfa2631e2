//! Panic containment for items and tasks: a panic becomes a message, not a crash.

use std::any::Any;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::task::Poll;

/// Runs `make` (which creates the future) and polls the future to completion, catching a
/// panic in either step. The future is pinned on the caller's stack, so this costs no
/// allocation.
pub(crate) async fn catch<Fut: Future>(make: impl FnOnce() -> Fut) -> Result<Fut::Output, String> {
    let fut = catch_unwind(AssertUnwindSafe(make)).map_err(|p| message(&*p))?;
    let mut fut = pin!(fut);
    poll_fn(
        move |cx| match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(message(&*payload))),
        },
    )
    .await
}

/// The message of a panic payload (`&str` or `String`), as `JoinError` shows it.
pub(crate) fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
