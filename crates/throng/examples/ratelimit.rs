//! Rate limiting with `throng::ratelimit`: a per-user post limit for a chat server, a
//! shared limit on an upstream API with a bounded wait, and what the key cap does.
//!
//! Run with `cargo run -p throng --example ratelimit`. Finishes in about half a second.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use throng::ratelimit::{
    CoarseClock, KeyedCheckError, KeyedRateLimiter, Quota, RateLimiter, UntilReadyError,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Per-user post rate, 20/s with bursts of 40, as the chat server uses it. A flood from
/// one user is refused with the time to retry; other users are unaffected.
fn chat_posts() -> Result<(), Box<dyn std::error::Error>> {
    println!("-- 1. per-user post limit (20/s, burst 40)");
    // A 1 ms coarse clock: checks cost an atomic load instead of a clock read; 1 ms is
    // nothing next to the 50 ms interval.
    let clock = CoarseClock::start(Duration::from_millis(1))?;
    let posts = KeyedRateLimiter::<String, _>::with_clock(
        Quota::per_second(20).burst(40).build()?,
        NonZeroUsize::new(100_000).unwrap(),
        clock.clone(),
    );
    let (mut ok, mut refused) = (0, 0);
    let mut retry_in = Duration::ZERO;
    for _ in 0..100 {
        match posts.check("mallory") {
            Ok(()) => ok += 1,
            Err(KeyedCheckError::NotUntil(n)) => {
                refused += 1;
                retry_in = n.wait_time();
            }
            Err(e) => return Err(e.into()),
        }
    }
    println!("   mallory: {ok} posts accepted, {refused} refused (retry in ~{retry_in:?})");
    println!("   alice:   {:?}", posts.check("alice"));
    clock.stop();
    Ok(())
}

/// A shared limit on an upstream API, 10 calls/s: callers wait their turn, but give up
/// at once if their turn is past their deadline, and stop on cancellation.
async fn upstream_api() -> Result<(), Box<dyn std::error::Error>> {
    println!("-- 2. shared upstream limit (10/s, burst 2) with bounded waits");
    let api = Arc::new(RateLimiter::new(Quota::per_second(10).burst(2).build()?));
    let start = Instant::now();
    for i in 0..4 {
        api.until_ready().await;
        println!("   call {i} at {:?}", round(start.elapsed()));
    }
    let asked = Instant::now();
    match api.until_n_ready_within(1, Duration::from_millis(20)).await {
        Err(UntilReadyError::WouldPassDeadline { wait, left }) => println!(
            "   a caller with 20 ms left fails fast: needs {:?}, has {:?} (waited {:?})",
            round(wait),
            round(left),
            round(asked.elapsed()),
        ),
        other => println!("   unexpected: {other:?}"),
    }
    let token = CancellationToken::new();
    let waiter = {
        let (api, token) = (Arc::clone(&api), token.clone());
        tokio::spawn(async move { api.until_ready_or_cancelled(2, None, &token).await })
    };
    token.cancel();
    println!("   a cancelled waiter: {:?}", waiter.await?);
    Ok(())
}

/// The key cap: new keys are refused while every tracked key is active; idle keys make
/// room (pruning them changes no decision).
fn key_cap() -> Result<(), Box<dyn std::error::Error>> {
    println!("-- 3. key cap (3 keys)");
    let by_ip = KeyedRateLimiter::<std::net::IpAddr>::new(
        Quota::per_second(50).build()?,
        NonZeroUsize::new(3).unwrap(),
    );
    for last in 1..=4u8 {
        let ip = std::net::IpAddr::from([10, 0, 0, last]);
        println!("   {ip}: {:?}", by_ip.check(&ip));
    }
    std::thread::sleep(Duration::from_millis(25)); // every key idle after 20 ms
    let ip = std::net::IpAddr::from([10, 0, 0, 4]);
    println!("   {ip} after the others went idle: {:?}", by_ip.check(&ip));
    println!(
        "   tracked {} of {}, {} refused",
        by_ip.len(),
        by_ip.max_keys(),
        by_ip.refused_keys()
    );
    Ok(())
}

fn round(d: Duration) -> Duration {
    Duration::from_millis((d.as_secs_f64() * 1000.0).round() as u64)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    chat_posts()?;
    upstream_api().await?;
    key_cap()?;
    Ok(())
}
