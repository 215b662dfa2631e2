//! The simple case: Backoff::default() and a retry without a cancellation token.
#![cfg(feature = "retry")]

use std::time::Duration;

use throng::retry::{Backoff, Jitter, StopReason};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[test]
fn the_default_backoff_is_the_builders_documented_defaults() {
    let d = Backoff::default();
    assert_eq!(d, Backoff::builder().build().unwrap());
    assert_eq!(d.max_attempts(), 3);
    assert_eq!(d.initial_delay(), Duration::from_millis(100));
    assert_eq!(d.multiplier(), 2.0);
    assert_eq!(d.max_delay(), Duration::from_secs(10));
    assert_eq!(d.jitter(), Jitter::Full);
    assert_eq!(d.max_elapsed(), None);
}

#[tokio::test(start_paused = true)]
async fn retry_without_a_token_succeeds_after_transient_failures() {
    let value = Backoff::default()
        .retry(|attempt| async move {
            if attempt < 3 {
                Err("busy")
            } else {
                Ok(attempt)
            }
        })
        .await
        .unwrap();
    assert_eq!(value, 3);
}

#[tokio::test(start_paused = true)]
async fn retry_without_a_token_gives_up_with_the_last_error_and_waits_within_the_caps() {
    let start = Instant::now();
    let err = Backoff::default()
        .retry(|attempt| async move { Err::<(), _>(attempt) })
        .await
        .unwrap_err();
    assert_eq!(
        (err.attempts(), err.reason(), *err.inner()),
        (3, StopReason::Exhausted, 3)
    );
    // Full jitter: each wait is at most 100 ms then 200 ms.
    assert!(start.elapsed() <= Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn cancel_on_attaches_a_token_that_ends_the_wait() {
    let token = CancellationToken::new();
    let policy = Backoff::builder()
        .initial_delay(Duration::from_secs(60))
        .max_delay(Duration::from_secs(60))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let canceller = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        canceller.cancel();
    });
    let start = Instant::now();
    let err = policy
        .retry(|_| async { Err::<(), _>("busy") })
        .cancel_on(&token)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::Cancelled);
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}
