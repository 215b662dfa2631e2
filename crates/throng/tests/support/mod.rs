//! Helpers shared by the test files, so none keeps its own copy: `mod support;` at the
//! top of a test file, then `use support::{ms, nz};`.
//!
//! Each test file is its own crate and uses only some of these, hence the `dead_code`
//! allowance.
#![allow(dead_code)]

use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// One millisecond, for durations written as `25 * MS`.
pub const MS: Duration = Duration::from_millis(1);

/// `n` as a `NonZeroUsize`, for capacities and limits; panics on 0.
pub fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

/// `n` milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Polls `fut` once with a waker that does nothing, outside any runtime.
pub fn poll_once<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// Lets `d` of paused tokio time pass in 10 ms steps, so that whatever wakes up on the way
/// runs at its own time (and a polling loop would show as one wake-up per step).
#[cfg(not(loom))]
pub async fn idle_for(d: Duration) {
    for _ in 0..d.as_millis() / 10 {
        tokio::time::advance(ms(10)).await;
    }
}

/// Lets every task that is ready run a few times over (ten `yield_now`s), so what a test
/// just triggered has happened before it looks; no time passes.
#[cfg(not(loom))]
pub async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// Subscription options with capacity `cap` and the given overflow policy.
#[cfg(feature = "broadcast")]
pub fn opts(
    cap: usize,
    overflow: throng::broadcast::Overflow,
) -> throng::broadcast::SubscribeOptions {
    throng::broadcast::SubscribeOptions::new(nz(cap), overflow)
}
