//! Retry with backoff: a flaky call, a permanent error, a throttling hint, a time
//! budget, a shutdown during a wait, the blocking form, and the four jitters side by side.
//!
//! Run with `cargo run -p throng --example retry`. Finishes in about half a second.

use std::fmt;
use std::time::Duration;

use throng::retry::{retry, retry_blocking, Backoff, Jitter};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The error of a pretend remote service.
#[derive(Debug)]
enum CallError {
    /// Try again later.
    Unavailable,
    /// Try again after this long (an HTTP 429 with `Retry-After`).
    Throttled(Duration),
    /// Never going to work.
    BadRequest,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable => f.write_str("service unavailable"),
            Self::Throttled(d) => write!(f, "throttled, retry after {d:?}"),
            Self::BadRequest => f.write_str("bad request"),
        }
    }
}

impl std::error::Error for CallError {}

fn transient(e: &CallError) -> bool {
    !matches!(e, CallError::BadRequest)
}

fn hint(e: &CallError) -> Option<Duration> {
    match e {
        CallError::Throttled(d) => Some(*d),
        _ => None,
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy = Backoff::builder()
        .initial_delay(ms(10))
        .multiplier(2.0)
        .max_delay(ms(80))
        .jitter(Jitter::Equal)
        .max_attempts(5)
        .build()?;
    println!("policy: {policy:?}");
    let token = CancellationToken::new();

    // 1. Flaky: fails twice, then answers.
    let t0 = Instant::now();
    let answer = retry(&policy, &token, |attempt| async move {
        println!("  flaky: attempt {attempt} at {:?}", t0.elapsed());
        if attempt < 3 {
            Err(CallError::Unavailable)
        } else {
            Ok(42)
        }
    })
    .retry_if(transient)
    .await?;
    println!("1. flaky call answered {answer} after {:?}\n", t0.elapsed());

    // 2. A permanent error: one attempt, no wait.
    let err = retry(&policy, &token, |_| async {
        Err::<(), _>(CallError::BadRequest)
    })
    .retry_if(transient)
    .await
    .unwrap_err();
    println!(
        "2. {err} (cause: {}, reason {:?})\n",
        err.inner(),
        err.reason()
    );

    // 3. The server says "retry after 60 ms": the wait is max(computed, 60 ms).
    let t0 = Instant::now();
    let answer = retry(&policy, &token, |attempt| async move {
        println!("  throttled: attempt {attempt} at {:?}", t0.elapsed());
        if attempt == 1 {
            Err(CallError::Throttled(ms(60)))
        } else {
            Ok("ok")
        }
    })
    .retry_if(transient)
    .retry_after(hint)
    .await?;
    println!(
        "3. throttled call answered {answer:?} after {:?}\n",
        t0.elapsed()
    );

    // 4. A 50 ms budget: retrying stops as soon as the next wait would overrun it.
    let budget = Backoff::builder()
        .initial_delay(ms(10))
        .max_delay(ms(80))
        .jitter(Jitter::None)
        .max_attempts(100)
        .max_elapsed(ms(50))
        .build()?;
    let t0 = Instant::now();
    let err = retry(&budget, &token, |_| async {
        Err::<(), _>(CallError::Unavailable)
    })
    .await
    .unwrap_err();
    println!(
        "4. {err}; stopped at {:?} without sleeping past the 50 ms budget\n",
        t0.elapsed()
    );

    // 5. Shutdown during a long wait ends the retry at once.
    let slow = Backoff::builder()
        .initial_delay(Duration::from_secs(30))
        .max_delay(Duration::from_secs(30))
        .max_attempts(3)
        .build()?;
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(ms(20)).await;
        println!("  shutdown requested");
        trigger.cancel();
    });
    let t0 = Instant::now();
    let err = retry(&slow, &shutdown, |_| async {
        Err::<(), _>(CallError::Unavailable)
    })
    .await
    .unwrap_err();
    println!(
        "5. {err} after {:?} instead of waiting 30 s (cancelled: {})\n",
        t0.elapsed(),
        err.is_cancelled()
    );

    // 6. The blocking form, for synchronous code.
    let t0 = std::time::Instant::now();
    let value = tokio::task::spawn_blocking(move || {
        retry_blocking(&policy, |attempt| {
            if attempt < 2 {
                Err(CallError::Unavailable)
            } else {
                Ok(attempt)
            }
        })
        .run()
    })
    .await??;
    println!(
        "6. blocking retry succeeded on attempt {value} after {:?}\n",
        t0.elapsed()
    );

    // 7. The delays each jitter would use (seeded, so this output is reproducible).
    println!("7. the waits between 6 attempts, initial 100 ms, x2, cap 1 s, seed 7:");
    for jitter in [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
    ] {
        let p = Backoff::builder()
            .initial_delay(ms(100))
            .max_delay(Duration::from_secs(1))
            .jitter(jitter)
            .max_attempts(6)
            .build()?;
        let delays: Vec<_> = p
            .delays(fastrand::Rng::with_seed(7))
            .map(|d| d.as_millis())
            .collect();
        println!("  {:<12} {delays:?} ms", format!("{jitter:?}"));
    }
    Ok(())
}
