//! The async waits on paused tokio time: exact sleeps, fail-fast deadlines, cancellation.

use std::sync::Arc;
use std::time::Duration;

use throng::clock::{Clock, TokioClock};
use throng::ratelimit::{InsufficientCapacity, Quota, RateLimiter, UntilReadyError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn limiter(per_sec: u32, burst: u32) -> RateLimiter<TokioClock> {
    let q = Quota::per_second(per_sec).burst(burst).build().unwrap();
    RateLimiter::with_clock(q, TokioClock::new())
}

#[tokio::test(start_paused = true)]
async fn until_ready_returns_at_once_while_the_burst_lasts() {
    let l = limiter(10, 3);
    let start = Instant::now();
    for _ in 0..3 {
        l.until_ready().await;
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn until_ready_sleeps_exactly_until_the_next_cell() {
    let l = limiter(10, 1);
    let start = Instant::now();
    l.until_ready().await;
    l.until_ready().await;
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    l.until_ready().await;
    assert_eq!(start.elapsed(), Duration::from_millis(200));
}

#[tokio::test(start_paused = true)]
async fn until_n_ready_above_the_burst_fails_at_once() {
    let l = limiter(10, 2);
    let start = Instant::now();
    assert_eq!(
        l.until_n_ready(3).await,
        Err(InsufficientCapacity { n: 3, burst: 2 })
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
    l.until_n_ready(2).await.unwrap();
    l.until_n_ready(2).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(200));
}

#[tokio::test(start_paused = true)]
async fn a_wait_that_would_pass_the_deadline_fails_fast_without_sleeping() {
    let l = limiter(10, 1);
    l.check().unwrap();
    let start = Instant::now();
    let err = l
        .until_n_ready_within(1, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        UntilReadyError::WouldPassDeadline {
            wait: Duration::from_millis(100),
            left: Duration::from_millis(50),
        }
    );
    assert_eq!(start.elapsed(), Duration::ZERO, "no sleep before failing");
    assert_eq!(l.remaining(), 0, "and nothing consumed");
}

#[tokio::test(start_paused = true)]
async fn a_wait_that_fits_the_deadline_sleeps_and_passes() {
    let l = limiter(10, 1);
    l.check().unwrap();
    let start = Instant::now();
    l.until_n_ready_within(1, Duration::from_millis(100))
        .await
        .unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn a_rival_taking_the_slot_makes_the_waiter_fail_at_the_recheck() {
    let l = Arc::new(limiter(10, 1));
    l.check().unwrap();
    let waiter = {
        let l = Arc::clone(&l);
        tokio::spawn(async move { l.until_n_ready_within(1, Duration::from_millis(150)).await })
    };
    tokio::task::yield_now().await; // the waiter sleeps until 100 ms
    tokio::time::sleep(Duration::from_millis(100)).await;
    l.check().unwrap(); // the rival takes the 100 ms cell first
    let err = waiter.await.unwrap().unwrap_err();
    assert!(
        matches!(err, UntilReadyError::WouldPassDeadline { wait, .. } if wait == Duration::from_millis(100)),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_token_stops_the_wait_and_consumes_nothing() {
    let l = Arc::new(limiter(1, 1));
    l.check().unwrap();
    let token = CancellationToken::new();
    let waiter = {
        let (l, token) = (Arc::clone(&l), token.clone());
        tokio::spawn(async move { l.until_ready_or_cancelled(1, None, &token).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    token.cancel();
    assert_eq!(waiter.await.unwrap(), Err(UntilReadyError::Cancelled));
    assert_eq!(l.clock().elapsed(), Duration::from_millis(300));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(l.check().is_ok(), "the cancelled wait took no cell");
}

#[tokio::test(start_paused = true)]
async fn an_already_cancelled_token_fails_before_checking() {
    let l = limiter(1, 1);
    let token = CancellationToken::new();
    token.cancel();
    assert_eq!(
        l.until_ready_or_cancelled(1, Some(Duration::from_secs(1)), &token)
            .await,
        Err(UntilReadyError::Cancelled)
    );
    assert_eq!(l.remaining(), 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_pending_wait_consumes_nothing() {
    let l = limiter(10, 1);
    l.check().unwrap();
    let r = tokio::time::timeout(Duration::from_millis(50), l.until_ready()).await;
    assert!(r.is_err(), "timed out");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(l.check().is_ok(), "the 100 ms cell is still there");
}

#[tokio::test(start_paused = true)]
async fn many_waiters_are_spread_one_interval_apart() {
    let l = Arc::new(limiter(10, 1));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let l = Arc::clone(&l);
        tasks.push(tokio::spawn(async move {
            l.until_ready().await;
            Instant::now()
        }));
    }
    let mut done: Vec<Duration> = Vec::new();
    for t in tasks {
        done.push(t.await.unwrap() - start);
    }
    done.sort();
    let expected: Vec<Duration> = (0..5).map(|i| Duration::from_millis(100 * i)).collect();
    assert_eq!(done, expected);
}
