//! The blocking `throng::retry::retry_blocking` loop on real (short) time.

mod support;

use std::io;
use std::time::{Duration, Instant};

use support::ms;
use throng::retry::{retry_blocking, Backoff, Jitter, StopReason};
use tokio_util::sync::CancellationToken;

fn fixed(initial: Duration, attempts: u32) -> Backoff {
    Backoff::builder()
        .initial_delay(initial)
        .max_delay(initial * 100)
        .multiplier(2.0)
        .jitter(Jitter::None)
        .max_attempts(attempts)
        .build()
        .unwrap()
}

#[test]
fn smoke_succeeds_after_failures() {
    let mut seen = Vec::new();
    let got = retry_blocking(&fixed(ms(1), 5), |n| {
        seen.push(n);
        if n < 3 {
            Err(io::Error::from(io::ErrorKind::WouldBlock))
        } else {
            Ok(n)
        }
    })
    .run()
    .unwrap();
    assert_eq!(got, 3);
    assert_eq!(seen, [1, 2, 3]);
}

/// Blocking twin of the S15-7c test: 3 failing attempts wait 5 + 10 ms, not a third time.
#[test]
fn s15_7c_blocking_no_sleep_after_the_last_attempt() {
    let start = Instant::now();
    let err = retry_blocking(&fixed(ms(5), 3), |_| Err::<(), _>("down"))
        .run()
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!((err.attempts(), err.reason()), (3, StopReason::Exhausted));
    assert!(took >= ms(15), "waited {took:?}");
    // A trailing 20 ms sleep would push this to >= 35 ms.
    assert!(took < ms(35), "slept after the last attempt: {took:?}");
}

/// Blocking twin of S15-7b: a long wait wakes as soon as the token is cancelled.
#[test]
fn s15_7b_blocking_cancel_wakes_the_wait() {
    let token = CancellationToken::new();
    let canceller = token.clone();
    let start = Instant::now();
    let t = std::thread::spawn(move || {
        std::thread::sleep(ms(20));
        canceller.cancel();
    });
    let err = retry_blocking(&fixed(Duration::from_secs(30), 3), |_| Err::<(), _>("down"))
        .cancel_on(&token)
        .run()
        .unwrap_err();
    t.join().unwrap();
    assert_eq!((err.attempts(), err.reason()), (1, StopReason::Cancelled));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the 30 s wait was not interrupted"
    );
}

#[test]
fn blocking_classification_hint_and_budget() {
    let err = retry_blocking(&fixed(ms(1), 5), |_| {
        Err::<(), _>(io::Error::from(io::ErrorKind::NotFound))
    })
    .retry_if(|e| e.kind() != io::ErrorKind::NotFound)
    .run()
    .unwrap_err();
    assert_eq!(
        (err.attempts(), err.reason()),
        (1, StopReason::NotRetryable)
    );

    let budget = Backoff::builder()
        .initial_delay(ms(1))
        .jitter(Jitter::None)
        .max_attempts(5)
        .max_elapsed(ms(50))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = retry_blocking(&budget, |_| Err::<(), _>(ms(10_000)))
        .retry_after(|hint| Some(*hint))
        .rng(fastrand::Rng::with_seed(1))
        .run()
        .unwrap_err();
    assert_eq!(
        (err.attempts(), err.reason()),
        (1, StopReason::ElapsedExceeded)
    );
    assert!(start.elapsed() < ms(1_000), "slept past the budget");
}
