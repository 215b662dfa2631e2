//! The async `throng::retry::retry` loop on paused tokio time: exact waits, no trailing
//! sleep, cancellation, the time budget, classification and retry-after hints.

mod support;

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::ms;
use throng::retry::{retry, Backoff, Jitter, RetryError, StopReason};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// 100, 200, 400, ... ms, no jitter, `attempts` attempts.
fn fixed(attempts: u32) -> Backoff {
    Backoff::builder()
        .initial_delay(ms(100))
        .multiplier(2.0)
        .max_delay(ms(10_000))
        .jitter(Jitter::None)
        .max_attempts(attempts)
        .build()
        .unwrap()
}

/// An op that fails `fails` times with `kind`, then returns the attempt number; it
/// records the (paused) instant of each attempt.
fn flaky(
    fails: u32,
    kind: io::ErrorKind,
    log: Arc<Mutex<Vec<(u32, Instant)>>>,
) -> impl FnMut(u32) -> std::future::Ready<Result<u32, io::Error>> {
    move |attempt| {
        log.lock().unwrap().push((attempt, Instant::now()));
        std::future::ready(if attempt <= fails {
            Err(io::Error::from(kind))
        } else {
            Ok(attempt)
        })
    }
}

fn offsets(log: &Mutex<Vec<(u32, Instant)>>, start: Instant) -> Vec<(u32, Duration)> {
    log.lock()
        .unwrap()
        .iter()
        .map(|&(n, at)| (n, at - start))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn succeeds_after_transient_failures_with_exact_waits() {
    let log = Arc::default();
    let start = Instant::now();
    let token = CancellationToken::new();
    let got = retry(
        &fixed(5),
        &token,
        flaky(2, io::ErrorKind::WouldBlock, Arc::clone(&log)),
    )
    .await;
    assert_eq!(got.unwrap(), 3);
    assert_eq!(
        offsets(&log, start),
        [(1, ms(0)), (2, ms(100)), (3, ms(300))]
    );
}

/// The seed slept after the final attempt too (71 ms for 3 attempts, 40 ms of it
/// useless). Here N failing attempts take exactly the sum of the N - 1 waits between them.
#[tokio::test(start_paused = true)]
async fn s15_7c_no_sleep_after_the_last_attempt() {
    let log = Arc::default();
    let start = Instant::now();
    let token = CancellationToken::new();
    let err = retry(
        &fixed(4),
        &token,
        flaky(u32::MAX, io::ErrorKind::WouldBlock, Arc::clone(&log)),
    )
    .await
    .unwrap_err();
    assert_eq!((err.attempts(), err.reason()), (4, StopReason::Exhausted));
    assert_eq!(start.elapsed(), ms(100 + 200 + 400), "no trailing sleep");
    let at: Vec<_> = offsets(&log, start).into_iter().map(|(_, d)| d).collect();
    assert_eq!(at, [0, 100, 300, 700].map(ms));
}

/// The seed's `maxRetries <= 0` path never tried at all. Here every attempt up to
/// `max_attempts` runs, numbered 1..=N with none skipped, and a single attempt never waits.
#[tokio::test(start_paused = true)]
async fn s15_7d_every_attempt_runs_and_none_is_skipped() {
    let log = Arc::default();
    let token = CancellationToken::new();
    let err = retry(
        &fixed(6),
        &token,
        flaky(u32::MAX, io::ErrorKind::WouldBlock, Arc::clone(&log)),
    )
    .await
    .unwrap_err();
    let numbers: Vec<_> = log.lock().unwrap().iter().map(|&(n, _)| n).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6]);
    assert_eq!(err.attempts(), 6);

    let start = Instant::now();
    let calls = AtomicU32::new(0);
    let err = retry(&fixed(1), &token, |_| {
        calls.fetch_add(1, Ordering::Relaxed);
        async { Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock)) }
    })
    .await
    .unwrap_err();
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!((err.attempts(), err.reason()), (1, StopReason::Exhausted));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

/// The seed's `time.Sleep` ignored shutdown. Here cancelling the token during a wait ends
/// the retry at that instant with `Cancelled` and the last error.
#[tokio::test(start_paused = true)]
async fn s15_7b_cancel_during_a_wait_returns_at_once() {
    let token = CancellationToken::new();
    let canceller = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(ms(150)).await; // mid-way through the 200 ms second wait
        canceller.cancel();
    });
    let start = Instant::now();
    let log = Arc::default();
    let err = retry(
        &fixed(10),
        &token,
        flaky(u32::MAX, io::ErrorKind::WouldBlock, Arc::clone(&log)),
    )
    .await
    .unwrap_err();
    assert_eq!(err.reason(), StopReason::Cancelled);
    assert!(err.is_cancelled());
    assert_eq!(err.attempts(), 2);
    assert_eq!(err.inner().kind(), io::ErrorKind::WouldBlock);
    assert_eq!(
        start.elapsed(),
        ms(150),
        "returned the instant the token fired"
    );
    assert_eq!(
        log.lock().unwrap().len(),
        2,
        "no attempt after cancellation"
    );
}

#[tokio::test(start_paused = true)]
async fn pre_cancelled_token_allows_one_attempt_and_no_wait() {
    let token = CancellationToken::new();
    token.cancel();
    let start = Instant::now();
    let log = Arc::default();
    let err = retry(
        &fixed(5),
        &token,
        flaky(u32::MAX, io::ErrorKind::WouldBlock, Arc::clone(&log)),
    )
    .await
    .unwrap_err();
    assert_eq!((err.attempts(), err.reason()), (1, StopReason::Cancelled));
    assert_eq!(start.elapsed(), Duration::ZERO);
    // And a first-attempt success is still returned.
    assert_eq!(
        retry(&fixed(5), &token, |_| async { Ok::<_, ()>(9) })
            .await
            .unwrap(),
        9
    );
}

/// The seed had no total deadline. Here a retry that would start after `max_elapsed` is
/// not slept for: the loop stops at once with `ElapsedExceeded`.
#[tokio::test(start_paused = true)]
async fn s15_7g_max_elapsed_stops_early_without_sleeping_past_it() {
    let policy = Backoff::builder()
        .initial_delay(ms(100))
        .multiplier(2.0)
        .jitter(Jitter::None)
        .max_attempts(100)
        .max_elapsed(ms(500))
        .build()
        .unwrap();
    let token = CancellationToken::new();
    let start = Instant::now();
    let log = Arc::default();
    let err = retry(
        &policy,
        &token,
        flaky(u32::MAX, io::ErrorKind::WouldBlock, Arc::clone(&log)),
    )
    .await
    .unwrap_err();
    // Attempts at 0, 100, 300; the next would start at 700 > 500, so stop at 300.
    assert_eq!(
        (err.attempts(), err.reason()),
        (3, StopReason::ElapsedExceeded)
    );
    assert_eq!(start.elapsed(), ms(300));
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_counts_time_spent_inside_attempts() {
    let policy = Backoff::builder()
        .initial_delay(ms(100))
        .jitter(Jitter::None)
        .max_attempts(100)
        .max_elapsed(ms(1_000))
        .build()
        .unwrap();
    let token = CancellationToken::new();
    let start = Instant::now();
    let err = retry(&policy, &token, |_| async {
        tokio::time::sleep(ms(400)).await; // a slow attempt
        Err::<(), _>("slow")
    })
    .await
    .unwrap_err();
    // 0..400 attempt, wait 100, 500..900 attempt, next would start at 900 + 200 > 1000.
    assert_eq!(
        (err.attempts(), err.reason()),
        (2, StopReason::ElapsedExceeded)
    );
    assert_eq!(start.elapsed(), ms(900));
}

/// The seed compared errors with `err == ErrQueueFull`. Here classification is a
/// predicate on the error's kind, and the final error exposes the cause via `source()`.
#[tokio::test(start_paused = true)]
async fn s15_7f_errors_are_classified_by_predicate_not_equality() {
    let token = CancellationToken::new();
    let transient = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        )
    };

    // Two different io::Error values of a transient kind are both retried.
    let err = retry(&fixed(3), &token, |n| async move {
        Err::<(), _>(if n == 1 {
            io::Error::from(io::ErrorKind::TimedOut)
        } else {
            io::Error::new(io::ErrorKind::WouldBlock, format!("busy #{n}"))
        })
    })
    .retry_if(transient)
    .await
    .unwrap_err();
    assert_eq!((err.attempts(), err.reason()), (3, StopReason::Exhausted));

    // A permanent kind stops after one attempt, with no wait.
    let start = Instant::now();
    let err: RetryError<io::Error> = retry(&fixed(3), &token, |_| async {
        Err::<(), _>(io::Error::new(io::ErrorKind::PermissionDenied, "no"))
    })
    .retry_if(transient)
    .await
    .unwrap_err();
    assert_eq!(
        (err.attempts(), err.reason()),
        (1, StopReason::NotRetryable)
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
    let source = std::error::Error::source(&err).unwrap();
    assert_eq!(
        source.downcast_ref::<io::Error>().unwrap().kind(),
        io::ErrorKind::PermissionDenied
    );
    assert_eq!(
        err.to_string(),
        "gave up after 1 attempt: error not retryable"
    );
    assert_eq!(err.into_inner().kind(), io::ErrorKind::PermissionDenied);
}

#[derive(Debug)]
struct Throttled(Option<Duration>);

#[tokio::test(start_paused = true)]
async fn retry_after_hint_lengthens_but_never_shortens_the_wait() {
    let token = CancellationToken::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let hints = [Some(ms(1_000)), Some(ms(1)), None];
    let l = Arc::clone(&log);
    let got = retry(&fixed(4), &token, move |n| {
        l.lock().unwrap().push(Instant::now());
        let hint = hints.get(n as usize - 1).copied().flatten();
        async move {
            if n <= 3 {
                Err(Throttled(hint))
            } else {
                Ok(n)
            }
        }
    })
    .retry_after(|e| e.0)
    .await
    .unwrap();
    assert_eq!(got, 4);
    let at: Vec<_> = log.lock().unwrap().iter().map(|&t| t - start).collect();
    // waits: max(100, 1000) = 1000; max(200, 1) = 200; 400 (no hint)
    assert_eq!(at, [0, 1_000, 1_200, 1_600].map(ms));
}

#[tokio::test(start_paused = true)]
async fn retry_after_hint_beyond_the_budget_stops_at_once() {
    let policy = Backoff::builder()
        .initial_delay(ms(100))
        .jitter(Jitter::None)
        .max_attempts(5)
        .max_elapsed(ms(5_000))
        .build()
        .unwrap();
    let token = CancellationToken::new();
    let start = Instant::now();
    let err = retry(&policy, &token, |_| async {
        Err::<(), _>(Throttled(Some(ms(60_000))))
    })
    .retry_after(|e| e.0)
    .await
    .unwrap_err();
    assert_eq!(
        (err.attempts(), err.reason()),
        (1, StopReason::ElapsedExceeded)
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
}

/// S15-6 on the async path: a seeded generator replays the exact same schedule.
#[tokio::test(start_paused = true)]
async fn s15_6_seeded_rng_replays_the_same_schedule() {
    let policy = Backoff::builder()
        .initial_delay(ms(100))
        .jitter(Jitter::Decorrelated)
        .max_delay(ms(5_000))
        .max_attempts(6)
        .build()
        .unwrap();
    let token = CancellationToken::new();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let start = Instant::now();
        let _ = retry(&policy, &token, |_| async { Err::<(), _>(()) })
            .rng(fastrand::Rng::with_seed(99))
            .await;
        runs.push(start.elapsed());
    }
    assert_eq!(runs[0], runs[1], "same seed, same schedule");
    // tokio's timer rounds each of the 5 waits up to its 1 ms tick.
    let expected: Duration = policy.delays(fastrand::Rng::with_seed(99)).sum();
    assert!(
        runs[0] >= expected && runs[0] <= expected + ms(5),
        "{runs:?} vs {expected:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_stops_further_attempts() {
    let token = CancellationToken::new();
    let calls = Arc::new(AtomicU32::new(0));
    let c = Arc::clone(&calls);
    let fut = retry(&fixed(10), &token, move |_| {
        c.fetch_add(1, Ordering::Relaxed);
        async { Err::<(), _>(()) }
    });
    let out = tokio::time::timeout(ms(150), fut).await;
    assert!(out.is_err(), "timed out mid-wait");
    tokio::time::sleep(ms(10_000)).await;
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

#[test]
fn retry_future_is_send_when_its_parts_are() {
    fn assert_send<T: Send>(_: &T) {}
    let policy = fixed(2);
    let token = CancellationToken::new();
    let fut = std::future::IntoFuture::into_future(
        retry(&policy, &token, |_| async { Ok::<_, io::Error>(1) }).retry_if(|_| true),
    );
    assert_send(&fut);
}
