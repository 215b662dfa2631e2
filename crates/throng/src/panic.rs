//! Panic containment shared by every pattern that runs user code: turning a caught panic
//! into the message an error carries, and a future that catches the panics of another.

#![allow(dead_code)] // each feature uses a different part

use std::any::Any;
use std::future::{poll_fn, Future};
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::task::Poll;

/// What [`panic_message`] says for a payload that is neither `&str` nor `String`.
pub(crate) const NON_STRING_PAYLOAD: &str = "non-string panic payload";

/// The text of a panic payload if it is a `&str` or a `String` (what `panic!` makes).
pub(crate) fn payload_str(payload: &(dyn Any + Send)) -> Option<&str> {
    if let Some(s) = payload.downcast_ref::<&str>() {
        Some(s)
    } else {
        payload.downcast_ref::<String>().map(String::as_str)
    }
}

/// The message of a panic payload (`&str` or `String`), or [`NON_STRING_PAYLOAD`].
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload_str(payload)
        .unwrap_or(NON_STRING_PAYLOAD)
        .to_owned()
}

/// Runs `make` (which creates the future) and polls the future to completion, catching a
/// panic in either step and handing back its payload (turn it into text with
/// [`panic_message`]).
///
/// `make` runs on the first poll. The future is pinned inside this one, so this costs no
/// allocation. After a panic the inner future is dropped at once (as `JoinHandle` would),
/// and the payload is returned.
pub(crate) async fn catch_unwind<Fut: Future>(
    make: impl FnOnce() -> Fut,
) -> Result<Fut::Output, Box<dyn Any + Send>> {
    let fut = std::panic::catch_unwind(AssertUnwindSafe(make))?;
    let mut fut = pin!(fut);
    poll_fn(
        move |cx| match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(payload)),
        },
    )
    .await
}
