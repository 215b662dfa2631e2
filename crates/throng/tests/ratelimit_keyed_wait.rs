//! The keyed limiter's async wait on paused tokio time.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use throng::clock::TokioClock;
use throng::ratelimit::{InsufficientCapacity, KeyedRateLimiter, Quota, UntilReadyError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn keyed(max_keys: usize) -> KeyedRateLimiter<String, TokioClock> {
    KeyedRateLimiter::with_clock(
        Quota::per_second(10).burst(1).build().unwrap(),
        NonZeroUsize::new(max_keys).unwrap(),
        TokioClock::new(),
    )
}

#[tokio::test(start_paused = true)]
async fn until_key_ready_sleeps_exactly_until_the_keys_next_cell() {
    let l = keyed(10);
    let start = Instant::now();
    l.until_key_ready("a", 1, None, None).await.unwrap();
    l.until_key_ready("b", 1, None, None).await.unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "separate keys, separate quotas"
    );
    l.until_key_ready("a", 1, None, None).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn until_key_ready_fails_fast_past_the_deadline() {
    let l = keyed(10);
    l.check("a").unwrap();
    let start = Instant::now();
    assert_eq!(
        l.until_key_ready("a", 1, Some(Duration::from_millis(10)), None)
            .await,
        Err(UntilReadyError::WouldPassDeadline {
            wait: Duration::from_millis(100),
            left: Duration::from_millis(10)
        })
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn until_key_ready_fails_at_once_above_the_burst_or_at_the_cap() {
    let l = keyed(1);
    assert_eq!(
        l.until_key_ready("a", 2, None, None).await,
        Err(UntilReadyError::InsufficientCapacity(
            InsufficientCapacity { n: 2, burst: 1 }
        ))
    );
    l.check("a").unwrap();
    let start = Instant::now();
    assert_eq!(
        l.until_key_ready("b", 1, None, None).await,
        Err(UntilReadyError::TooManyKeys { max_keys: 1 })
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn until_key_ready_stops_on_cancel() {
    let l = Arc::new(keyed(10));
    l.check("a").unwrap();
    let token = CancellationToken::new();
    let waiter = {
        let (l, token) = (Arc::clone(&l), token.clone());
        tokio::spawn(async move { l.until_key_ready("a", 1, None, Some(&token)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    token.cancel();
    assert_eq!(waiter.await.unwrap(), Err(UntilReadyError::Cancelled));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(l.check("a").is_ok(), "the cancelled wait took nothing");
}
