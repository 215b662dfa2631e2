//! The tower breaker layer: poll_ready asks the breaker, an open breaker fails fast
//! without calling the inner service, outcomes go through the classifier, a dropped
//! response future is ignored and frees its probe slot.
#![cfg(all(feature = "tower", feature = "breaker"))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use throng::breaker::{Breaker, CallError, Outcome, State};
use throng::clock::ManualClock;
use throng::tower::BreakerLayer;
use tower::{service_fn, Layer, Service, ServiceExt};

fn breaker(failures: u32, probes: u32) -> Breaker<ManualClock> {
    Breaker::builder()
        .consecutive_failures(failures)
        .cool_down(Duration::from_secs(10))
        .half_open_probes(probes)
        .clock(ManualClock::new())
        .build()
        .unwrap()
}

/// `Ok(n)` for n > 0, `Err` for 0; counts calls.
fn upstream(
    calls: Arc<AtomicU32>,
) -> impl Service<
    u32,
    Response = u32,
    Error = &'static str,
    Future = impl Future<Output = Result<u32, &'static str>> + Send,
> + Clone {
    service_fn(move |n: u32| {
        calls.fetch_add(1, Ordering::Relaxed);
        async move {
            if n == 0 {
                Err("down")
            } else {
                Ok(n)
            }
        }
    })
}

#[tokio::test]
async fn failures_trip_it_and_an_open_breaker_rejects_fast_without_calling_inner() {
    let calls = Arc::new(AtomicU32::new(0));
    let b = breaker(2, 1);
    let svc = BreakerLayer::new(b.clone()).layer(upstream(calls.clone()));
    assert_eq!(svc.clone().oneshot(0).await, Err(CallError::Inner("down")));
    assert_eq!(svc.clone().oneshot(0).await, Err(CallError::Inner("down")));
    assert_eq!(b.state(), State::Open);

    let mut open = svc.clone();
    // Ready at once (no waiting on the inner service), then a typed rejection.
    assert!(open.ready().now_or_never().is_some());
    match open.call(5).await {
        Err(CallError::Rejected(r)) => {
            assert_eq!(r.state(), State::Open);
            assert_eq!(r.retry_after(), Some(Duration::from_secs(10)));
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(
        calls.load(Ordering::Relaxed),
        2,
        "the open breaker never called upstream"
    );

    // After the cool-down a probe passes and closes it.
    b.clock().advance(Duration::from_secs(10));
    assert_eq!(svc.oneshot(7).await, Ok(7));
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test]
async fn poll_ready_reserves_the_probe_slot() {
    let b = breaker(1, 1);
    let svc = BreakerLayer::new(b.clone()).layer(upstream(Default::default()));
    let _ = svc.clone().oneshot(0).await;
    b.clock().advance(Duration::from_secs(10));

    let mut probe = svc.clone();
    probe.ready().await.unwrap();
    assert_eq!(
        b.metrics().probes_in_flight,
        1,
        "the slot is held from poll_ready"
    );

    // A second caller is refused while the probe slot is taken.
    let mut other = svc.clone();
    other.ready().await.unwrap();
    match other.call(1).await {
        Err(CallError::Rejected(r)) => {
            assert_eq!(r.state(), State::HalfOpen);
            assert_eq!(r.retry_after(), None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(probe.call(3).await, Ok(3));
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test]
async fn a_service_dropped_after_poll_ready_gives_the_probe_slot_back() {
    let b = breaker(1, 1);
    let svc = BreakerLayer::new(b.clone()).layer(upstream(Default::default()));
    let _ = svc.clone().oneshot(0).await;
    b.clock().advance(Duration::from_secs(10));
    let mut probe = svc.clone();
    probe.ready().await.unwrap();
    drop(probe);
    assert_eq!(b.metrics().probes_in_flight, 0);
    assert_eq!(svc.oneshot(1).await, Ok(1));
}

/// Never completes.
#[derive(Clone)]
struct Hang;

impl Service<u32> for Hang {
    type Response = u32;
    type Error = &'static str;
    type Future = Pin<Box<dyn Future<Output = Result<u32, &'static str>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: u32) -> Self::Future {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn a_dropped_response_future_is_ignored_and_frees_the_probe_slot() {
    let b = breaker(1, 1);
    let _ = BreakerLayer::new(b.clone())
        .layer(upstream(Default::default()))
        .oneshot(0)
        .await;
    b.clock().advance(Duration::from_secs(10));

    let mut hang = BreakerLayer::new(b.clone()).layer(Hang);
    let fut = hang.ready().await.unwrap().call(1);
    assert_eq!(b.state(), State::HalfOpen);
    drop(fut); // a cancelled request, a timeout outside the layer
    let m = b.metrics();
    assert_eq!((m.probes_in_flight, m.ignored, m.failures), (0, 1, 1));
    assert_eq!(b.state(), State::HalfOpen, "cancellation is not a failure");
}

#[tokio::test]
async fn the_classifier_decides_what_counts() {
    let b = breaker(1, 1);
    // Odd numbers are "not found": an answer, so a success for the breaker.
    let svc = BreakerLayer::new(b.clone())
        .classify(|r: &Result<u32, &str>| match r {
            Err(_) => Outcome::Failure,
            Ok(n) if n % 2 == 1 => Outcome::Ignore,
            Ok(_) => Outcome::Success,
        })
        .layer(upstream(Default::default()));
    assert_eq!(svc.clone().oneshot(3).await, Ok(3));
    assert_eq!(svc.clone().oneshot(2).await, Ok(2));
    let m = b.metrics();
    assert_eq!((m.successes, m.ignored), (1, 1));
    let _ = svc.oneshot(0).await;
    assert_eq!(b.state(), State::Open);
}

#[tokio::test]
async fn call_without_poll_ready_asks_the_breaker_then() {
    let b = breaker(1, 1);
    let mut svc = BreakerLayer::new(b.clone()).layer(upstream(Default::default()));
    assert_eq!(svc.call(4).await, Ok(4));
    assert_eq!(svc.call(0).await, Err(CallError::Inner("down")));
    assert!(matches!(svc.call(4).await, Err(CallError::Rejected(_))));
}

/// Its `poll_ready` fails.
#[derive(Clone)]
struct Broken;

impl Service<u32> for Broken {
    type Response = u32;
    type Error = &'static str;
    type Future = std::future::Ready<Result<u32, &'static str>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Err("cannot connect"))
    }

    fn call(&mut self, n: u32) -> Self::Future {
        std::future::ready(Ok(n))
    }
}

#[tokio::test]
async fn an_inner_poll_ready_error_counts_as_a_failure() {
    let b = breaker(1, 1);
    let mut svc = BreakerLayer::new(b.clone()).layer(Broken);
    assert_eq!(
        svc.ready().await.err(),
        Some(CallError::Inner("cannot connect"))
    );
    assert_eq!(b.state(), State::Open);
}

#[cfg(feature = "http")]
#[tokio::test]
async fn server_errors_counts_5xx_responses_and_not_4xx() {
    use http::{Response, StatusCode};
    use throng::tower::http::ServerErrors;

    let b = breaker(2, 1);
    let svc = BreakerLayer::new(b.clone())
        .classify(ServerErrors)
        .layer(service_fn(|code: u16| async move {
            let mut r = Response::new(());
            *r.status_mut() = StatusCode::from_u16(code).unwrap();
            Ok::<_, std::convert::Infallible>(r)
        }));
    for code in [404, 200, 503] {
        let _ = svc.clone().oneshot(code).await;
    }
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (2, 1));
    let _ = svc.clone().oneshot(500).await;
    assert_eq!(b.state(), State::Open);
    let rejected = match svc.oneshot(200).await {
        Err(CallError::Rejected(r)) => r,
        other => panic!("{other:?}"),
    };
    let response = throng::tower::http::rejected_response::<String>(&rejected);
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "10");
}
