//! What each `throng::tower` adapter costs per request: `oneshot` on a cloned service
//! over a ready `service_fn`, on one thread, against the bare `service_fn`.
//!
//! Run with `cargo run --release -p throng --example tower_cost --features tower`. Prints
//! nanoseconds per request (best of five runs of 200 000 requests each).

use std::convert::Infallible;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Instant;

use throng::breaker::Breaker;
use throng::pool::Pool;
use throng::ratelimit::{KeyedRateLimiter, Quota};
use throng::tower::{BreakerLayer, PoolService, RateLimitLayer};
use tower::{service_fn, Layer, Service, ServiceExt};

const N: u32 = 200_000;

/// Best of five: nanoseconds per `oneshot` of `svc`.
async fn measure<S>(name: &str, svc: S, n: u32)
where
    S: Service<u32> + Clone,
    S::Error: std::fmt::Debug,
{
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for i in 0..n {
            let _ = std::hint::black_box(svc.clone().oneshot(i).await);
        }
        best = best.min(start.elapsed().as_nanos() as f64 / f64::from(n));
    }
    println!("{name:<40} {best:>8.0} ns/request");
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bare = service_fn(|n: u32| async move { Ok::<_, Infallible>(n) });
    measure("bare service_fn", bare, N).await;

    let limiter = Arc::new(KeyedRateLimiter::<u32>::new(
        Quota::per_second(100_000_000).burst(10_000_000).build()?,
        NonZeroUsize::new(1024).unwrap(),
    ));
    let limited = RateLimitLayer::new(limiter, |_: &u32| 7u32).layer(bare);
    measure("RateLimitLayer, one hot key", limited, N).await;

    let breaker = Breaker::builder().build()?;
    // For reference: the breaker's own entry points, without tower.
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for i in 0..N {
            let _ =
                std::hint::black_box(breaker.call(|| async move { Ok::<_, Infallible>(i) }).await);
        }
        best = best.min(start.elapsed().as_nanos() as f64 / f64::from(N));
    }
    println!("{:<40} {best:>8.0} ns/request", "Breaker::call (no tower)");
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..N {
            std::hint::black_box(breaker.try_acquire_owned().map(|p| p.success()).is_ok());
        }
        best = best.min(start.elapsed().as_nanos() as f64 / f64::from(N));
    }
    println!(
        "{:<40} {best:>8.0} ns/request",
        "try_acquire_owned + success (no tower)"
    );
    let guarded = BreakerLayer::new(breaker).layer(bare);
    measure("BreakerLayer, closed", guarded, N).await;

    let pool = Pool::builder()
        .workers(1)
        .queue_capacity(64)
        .spawn(|n: u32, _| async move { n })?;
    measure(
        "PoolService, 1 worker, job awaited",
        PoolService::new(pool.clone()),
        N / 4,
    )
    .await;
    pool.shutdown(std::time::Duration::from_secs(1)).await;
    Ok(())
}
