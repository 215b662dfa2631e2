//! The tower rate-limit layer: refusals carry the retry-after, keys are independent, the
//! limit is shared by every clone, the HTTP form answers 429/503.
#![cfg(all(feature = "tower", feature = "ratelimit"))]

use std::convert::Infallible;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use throng::clock::ManualClock;
use throng::ratelimit::{KeyedCheckError, KeyedRateLimiter, Quota};
use throng::tower::{RateLimitError, RateLimitLayer};
use tower::{service_fn, Layer, Service, ServiceExt};

fn limiter(
    per_second: u32,
    burst: u32,
    max_keys: usize,
) -> Arc<KeyedRateLimiter<String, ManualClock>> {
    Arc::new(KeyedRateLimiter::with_clock(
        Quota::per_second(per_second).burst(burst).build().unwrap(),
        NonZeroUsize::new(max_keys).unwrap(),
        ManualClock::new(),
    ))
}

/// Requests are `(key, value)`; the service echoes the value and counts its calls.
fn echo(
    calls: Arc<AtomicU32>,
) -> impl Service<
    (String, u32),
    Response = u32,
    Error = Infallible,
    Future = impl std::future::Future<Output = Result<u32, Infallible>> + Send,
> + Clone {
    service_fn(move |(_, v): (String, u32)| {
        calls.fetch_add(1, Ordering::Relaxed);
        async move { Ok::<_, Infallible>(v) }
    })
}

fn by_key(req: &(String, u32)) -> String {
    req.0.clone()
}

#[tokio::test]
async fn over_quota_is_refused_with_the_wait_and_the_inner_service_is_not_called() {
    let calls = Arc::new(AtomicU32::new(0));
    let lim = limiter(10, 2, 100);
    let svc = RateLimitLayer::new(lim.clone(), by_key).layer(echo(calls.clone()));

    assert_eq!(svc.clone().oneshot(("a".into(), 1)).await, Ok(1));
    assert_eq!(svc.clone().oneshot(("a".into(), 2)).await, Ok(2));
    let err = svc.clone().oneshot(("a".into(), 3)).await.unwrap_err();
    let refused = *err.limited().expect("refused by the limit");
    assert_eq!(refused.retry_after(), Some(Duration::from_millis(100)));
    assert_eq!(refused.retry_after_secs(), Some(1));
    assert!(!refused.is_too_many_keys());
    assert_eq!(
        calls.load(Ordering::Relaxed),
        2,
        "a refused request never reaches the service"
    );

    // After the wait it passes again.
    lim.clock().advance(Duration::from_millis(100));
    assert_eq!(svc.oneshot(("a".into(), 4)).await, Ok(4));
}

#[tokio::test]
async fn each_key_has_its_own_quota() {
    let svc = RateLimitLayer::new(limiter(1, 1, 100), by_key).layer(echo(Default::default()));
    assert_eq!(svc.clone().oneshot(("alice".into(), 1)).await, Ok(1));
    assert!(svc.clone().oneshot(("alice".into(), 1)).await.is_err());
    assert_eq!(svc.oneshot(("bob".into(), 2)).await, Ok(2));
}

#[tokio::test]
async fn clones_of_the_layer_and_the_service_share_one_limit() {
    let layer = RateLimitLayer::new(limiter(1, 3, 100), by_key);
    let a = layer.clone().layer(echo(Default::default()));
    let b = layer.layer(echo(Default::default()));
    let mut passed = 0;
    for i in 0..6 {
        let svc = if i % 2 == 0 { a.clone() } else { b.clone() };
        if svc.oneshot(("k".into(), i)).await.is_ok() {
            passed += 1;
        }
    }
    assert_eq!(passed, 3, "the burst of 3 is shared, not per clone");
}

#[tokio::test]
async fn a_full_limiter_refuses_new_keys_without_a_retry_time() {
    let svc = RateLimitLayer::new(limiter(1, 1, 1), by_key).layer(echo(Default::default()));
    assert!(svc.clone().oneshot(("first".into(), 1)).await.is_ok());
    let err = svc.oneshot(("second".into(), 1)).await.unwrap_err();
    let refused = err.limited().unwrap();
    assert!(refused.is_too_many_keys());
    assert_eq!(refused.retry_after(), None);
    assert!(matches!(
        refused.cause(),
        KeyedCheckError::TooManyKeys { max_keys: 1 }
    ));
}

#[tokio::test]
async fn inner_errors_and_readiness_pass_through() {
    let svc = RateLimitLayer::new(limiter(100, 100, 100), by_key).layer(service_fn(
        |(_, v): (String, u32)| async move {
            if v == 0 {
                Err("zero")
            } else {
                Ok(v)
            }
        },
    ));
    assert_eq!(
        svc.clone().oneshot(("k".into(), 0)).await,
        Err(RateLimitError::Inner("zero"))
    );
    let mut svc = svc;
    let ready = svc.ready().await.expect("inner is always ready");
    assert_eq!(ready.call(("k".into(), 5)).await, Ok(5));
}

#[tokio::test]
async fn the_refusal_displays_and_exposes_its_source() {
    let svc =
        RateLimitLayer::with_name(limiter(1, 1, 10), by_key, "api").layer(echo(Default::default()));
    let _ = svc.clone().oneshot(("k".into(), 1)).await;
    let err = svc.oneshot(("k".into(), 1)).await.unwrap_err();
    assert!(
        err.to_string().starts_with("rate limited, retry in"),
        "{err}"
    );
    let refused = err.limited().unwrap();
    assert!(std::error::Error::source(refused).is_some());
}

#[cfg(feature = "http")]
mod http_form {
    use super::*;
    use http::{Request, Response, StatusCode};

    fn client(req: &Request<String>) -> String {
        req.headers()
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("anonymous")
            .to_owned()
    }

    fn request(key: &str) -> Request<String> {
        Request::builder()
            .header("x-api-key", key)
            .body(String::new())
            .unwrap()
    }

    fn ok_service() -> impl Service<
        Request<String>,
        Response = Response<String>,
        Error = Infallible,
        Future = impl std::future::Future<Output = Result<Response<String>, Infallible>> + Send,
    > + Clone {
        service_fn(|_req: Request<String>| async {
            Ok::<_, Infallible>(Response::new("ok".to_string()))
        })
    }

    #[tokio::test]
    async fn over_quota_is_a_429_with_retry_after_in_whole_seconds_rounded_up() {
        let lim = limiter(1, 1, 10);
        let svc = RateLimitLayer::new(lim.clone(), client)
            .http()
            .layer(ok_service());
        assert_eq!(
            svc.clone().oneshot(request("k1")).await.unwrap().status(),
            StatusCode::OK
        );
        lim.clock().advance(Duration::from_millis(200));
        let refused = svc.clone().oneshot(request("k1")).await.unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        // 800 ms left: rounded up to 1 s.
        assert_eq!(refused.headers()["retry-after"], "1");
        assert_eq!(refused.body(), "");
        // Another key is served.
        assert_eq!(
            svc.oneshot(request("k2")).await.unwrap().status(),
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn a_slow_quota_asks_for_more_seconds() {
        let lim = limiter(1, 1, 10);
        let lim = Arc::new(KeyedRateLimiter::with_clock(
            Quota::per(1, Duration::from_secs(90)).build().unwrap(),
            NonZeroUsize::new(10).unwrap(),
            lim.clock().clone(),
        ));
        let svc = RateLimitLayer::new(lim, client).http().layer(ok_service());
        let _ = svc.clone().oneshot(request("k")).await;
        let refused = svc.oneshot(request("k")).await.unwrap();
        assert_eq!(refused.headers()["retry-after"], "90");
    }

    #[tokio::test]
    async fn a_full_limiter_is_a_503_without_retry_after() {
        let svc = RateLimitLayer::new(limiter(1, 1, 1), client)
            .http()
            .layer(ok_service());
        let _ = svc.clone().oneshot(request("first")).await;
        let refused = svc.oneshot(request("second")).await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(refused.headers().get("retry-after").is_none());
    }
}
