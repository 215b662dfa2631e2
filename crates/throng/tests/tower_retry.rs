//! The tower retry policy from a Backoff: attempt limit, predicate, the backoff's waits
//! on paused time, the time budget, the retry-after hint, a fresh schedule per request.
#![cfg(all(feature = "tower", feature = "retry"))]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use throng::retry::{Backoff, Jitter};
use throng::tower::BackoffPolicy;
use tokio::time::Instant;
use tower::retry::RetryLayer;
use tower::{service_fn, Layer, ServiceExt};

/// 100 ms, 200 ms, 400 ms ... exactly (no jitter).
fn backoff(attempts: u32) -> Backoff {
    Backoff::builder()
        .initial_delay(Duration::from_millis(100))
        .multiplier(2.0)
        .max_delay(Duration::from_secs(10))
        .jitter(Jitter::None)
        .max_attempts(attempts)
        .build()
        .unwrap()
}

/// Fails the first `fail` calls of each request with "busy" (then answers the request),
/// and records when each call started.
#[derive(Clone, Default)]
struct Upstream {
    calls: Arc<AtomicU32>,
    at: Arc<std::sync::Mutex<Vec<Instant>>>,
}

impl Upstream {
    fn service(
        &self,
        fail: u32,
    ) -> impl tower::Service<
        u32,
        Response = u32,
        Error = &'static str,
        Future = impl std::future::Future<Output = Result<u32, &'static str>> + Send,
    > + Clone {
        let me = self.clone();
        service_fn(move |req: u32| {
            let n = me.calls.fetch_add(1, Ordering::Relaxed) + 1;
            me.at.lock().unwrap().push(Instant::now());
            async move {
                if n <= fail {
                    Err("busy")
                } else {
                    Ok(req)
                }
            }
        })
    }

    fn waits(&self) -> Vec<Duration> {
        let at = self.at.lock().unwrap();
        at.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

#[tokio::test(start_paused = true)]
async fn retries_with_the_backoffs_waits_until_success() {
    let up = Upstream::default();
    let svc = RetryLayer::new(BackoffPolicy::new(backoff(5))).layer(up.service(3));
    assert_eq!(svc.oneshot(9).await, Ok(9));
    assert_eq!(up.calls.load(Ordering::Relaxed), 4);
    assert_eq!(up.waits(), [100, 200, 400].map(Duration::from_millis));
}

#[tokio::test(start_paused = true)]
async fn stops_at_the_attempt_limit_with_the_last_error() {
    let up = Upstream::default();
    let svc = RetryLayer::new(BackoffPolicy::new(backoff(3))).layer(up.service(10));
    let start = Instant::now();
    assert_eq!(svc.oneshot(1).await, Err("busy"));
    assert_eq!(
        up.calls.load(Ordering::Relaxed),
        3,
        "max_attempts counts the first try"
    );
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(300),
        "no wait after the last attempt"
    );
}

#[tokio::test(start_paused = true)]
async fn the_predicate_stops_at_once_on_a_permanent_error() {
    let up = Upstream::default();
    let policy = BackoffPolicy::new(backoff(5)).retry_if(|_: &Result<u32, &str>| false);
    let svc = RetryLayer::new(policy).layer(up.service(10));
    assert_eq!(svc.oneshot(1).await, Err("busy"));
    assert_eq!(up.calls.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn the_predicate_can_retry_an_ok_response() {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    // Answers 503 twice, then 200.
    let svc = service_fn(move |_: ()| {
        let n = c.fetch_add(1, Ordering::Relaxed);
        async move { Ok::<u16, ()>(if n < 2 { 503 } else { 200 }) }
    });
    let policy =
        BackoffPolicy::new(backoff(5)).retry_if(|r: &Result<u16, ()>| matches!(r, Ok(503)));
    assert_eq!(
        RetryLayer::new(policy).layer(svc).oneshot(()).await,
        Ok(200)
    );
    assert_eq!(calls.load(Ordering::Relaxed), 3);
}

#[tokio::test(start_paused = true)]
async fn the_time_budget_stops_before_a_wait_that_would_overrun_it() {
    let budget = Backoff::builder()
        .initial_delay(Duration::from_millis(100))
        .jitter(Jitter::None)
        .max_attempts(10)
        .max_elapsed(Duration::from_millis(350))
        .build()
        .unwrap();
    let up = Upstream::default();
    let svc = RetryLayer::new(BackoffPolicy::new(budget)).layer(up.service(10));
    let start = Instant::now();
    assert_eq!(svc.oneshot(1).await, Err("busy"));
    // Waits of 100 and 200 fit in 350 ms; the next (400) would not, so no sleep.
    assert_eq!(up.calls.load(Ordering::Relaxed), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_hint_lengthens_the_wait() {
    let up = Upstream::default();
    let policy = BackoffPolicy::new(backoff(3))
        .retry_after(|r: &Result<u32, &str>| r.is_err().then_some(Duration::from_secs(2)));
    let svc = RetryLayer::new(policy).layer(up.service(1));
    assert_eq!(svc.oneshot(5).await, Ok(5));
    assert_eq!(up.waits(), [Duration::from_secs(2)]);
}

#[tokio::test(start_paused = true)]
async fn every_request_gets_a_fresh_schedule() {
    let up = Upstream::default();
    let svc = RetryLayer::new(BackoffPolicy::new(backoff(2))).layer(up.service(1));
    assert_eq!(svc.clone().oneshot(1).await, Ok(1)); // one retry used
    up.calls.store(0, Ordering::Relaxed);
    assert_eq!(
        svc.oneshot(2).await,
        Ok(2),
        "the second request has its own two attempts"
    );
}

#[test]
fn the_policy_reports_its_backoff() {
    let policy = BackoffPolicy::new(Backoff::default());
    assert_eq!(policy.backoff().max_attempts(), 3);
    assert_eq!(policy.retries(), 0);
    assert!(format!("{policy:?}").contains("BackoffPolicy"));
}
