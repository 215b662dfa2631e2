//! An axum app using throng's tower adapters: a per-client rate limit on every route
//! (keyed by the `x-api-key` header, or the client's IP without one), and a client for a
//! flaky upstream behind a retry policy and a circuit breaker.
//!
//! Run with `cargo run -p throng --example axum_service --features tower,http`, then:
//!
//! ```text
//! curl -i localhost:3000/items/7                    # 200, from the upstream
//! curl -i -X POST localhost:3000/upstream/flaky     # every other upstream call fails:
//! curl -i localhost:3000/items/7                    #   still 200, the retry absorbs it
//! curl -i -X POST localhost:3000/upstream/down      # every upstream call fails:
//! curl -i localhost:3000/items/7                    #   502 after 3 attempts
//! curl -i localhost:3000/items/7                    #   5 failures in a row: the breaker
//! curl -i localhost:3000/items/7                    #   opens; 503 + Retry-After, upstream untouched
//! curl -i localhost:3000/health                     # breaker state and counts
//! for i in $(seq 30); do curl -s -o /dev/null -w '%{http_code} ' localhost:3000/health; done
//!                                                   # 429 + Retry-After past the burst of 20
//! ```
//!
//! `cargo test -p throng --example axum_service --features tower,http` drives the same
//! router with `oneshot`, on paused time.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use throng::breaker::{Breaker, CallError, Outcome};
use throng::clock::TokioClock;
use throng::ratelimit::{KeyedRateLimiter, Quota};
use throng::retry::{Backoff, Jitter};
use throng::tower::{http::rejected_response, BackoffPolicy, BreakerLayer, RateLimitLayer};
use tower::retry::RetryLayer;
use tower::util::BoxCloneSyncService;
use tower::{service_fn, Layer, ServiceExt};

/// How the simulated upstream behaves.
const UP: u8 = 0;
const FLAKY: u8 = 1;
const DOWN: u8 = 2;

/// The upstream's errors.
#[derive(Debug, Clone, PartialEq)]
enum UpstreamError {
    /// Temporarily unavailable: worth a retry, counts against the breaker.
    Unavailable,
    /// No such item: an answer, not a sign of ill health.
    NotFound,
}

/// What the upstream returns for an item id.
#[derive(Debug, Clone)]
struct Item {
    id: u32,
    name: String,
}

/// The client for the upstream: retry (outermost), breaker, the upstream call.
type UpstreamClient = BoxCloneSyncService<u32, Item, CallError<UpstreamError>>;

#[derive(Clone)]
struct AppState {
    client: UpstreamClient,
    breaker: Breaker<TokioClock>,
    mode: Arc<AtomicU8>,
    upstream_calls: Arc<AtomicU64>,
}

/// A stand-in for a remote inventory service: items 1..=100 exist; `mode` makes it
/// flaky or down.
fn upstream(
    mode: Arc<AtomicU8>,
    calls: Arc<AtomicU64>,
) -> impl tower::Service<
    u32,
    Response = Item,
    Error = UpstreamError,
    Future = impl Future<Output = Result<Item, UpstreamError>> + Send,
> + Clone
       + Send
       + Sync {
    service_fn(move |id: u32| {
        let n = calls.fetch_add(1, Ordering::Relaxed);
        let mode = mode.load(Ordering::Relaxed);
        async move {
            // A real client would await the network here.
            tokio::time::sleep(Duration::from_millis(5)).await;
            match mode {
                DOWN => Err(UpstreamError::Unavailable),
                FLAKY if n % 2 == 0 => Err(UpstreamError::Unavailable),
                _ if !(1..=100).contains(&id) => Err(UpstreamError::NotFound),
                _ => Ok(Item {
                    id,
                    name: format!("item {id}"),
                }),
            }
        }
    })
}

/// The breaker counts `Unavailable` only: a `NotFound` is a healthy answer.
fn classify(result: &Result<Item, UpstreamError>) -> Outcome {
    match result {
        Err(UpstreamError::Unavailable) => Outcome::Failure,
        _ => Outcome::Success,
    }
}

/// Retry what the upstream said was temporary; never a breaker refusal (retrying an
/// open breaker only spins) or a `NotFound`.
fn retryable(result: &Result<Item, CallError<UpstreamError>>) -> bool {
    matches!(result, Err(CallError::Inner(UpstreamError::Unavailable)))
}

/// The rate-limit key: the `x-api-key` header, or else the client's IP address.
fn client_key(req: &Request<Body>) -> String {
    if let Some(key) = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()) {
        return format!("key:{key}");
    }
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    format!("ip:{ip}")
}

/// Builds the app. Every timed part follows tokio's clock, so tests can pause it.
fn app() -> Result<(Router, AppState), Box<dyn std::error::Error>> {
    let mode = Arc::new(AtomicU8::new(UP));
    let upstream_calls = Arc::new(AtomicU64::new(0));

    let breaker = Breaker::builder()
        .name("inventory")
        .consecutive_failures(5)
        .cool_down(Duration::from_secs(10))
        .clock(TokioClock::new())
        .on_state_change(|e| println!("breaker: {e}"))
        .build()?;
    let backoff = Backoff::builder()
        .initial_delay(Duration::from_millis(50))
        .max_delay(Duration::from_millis(500))
        .jitter(Jitter::Full)
        .max_attempts(3)
        .max_elapsed(Duration::from_secs(2))
        .build()?;
    let client = BoxCloneSyncService::new(
        RetryLayer::new(BackoffPolicy::new(backoff).retry_if(retryable)).layer(
            BreakerLayer::new(breaker.clone())
                .classify(classify)
                .layer(upstream(mode.clone(), upstream_calls.clone())),
        ),
    );

    // 10 requests a second per client, bursts of 20; at most 100 000 clients tracked.
    let limiter = Arc::new(KeyedRateLimiter::<String>::new(
        Quota::per_second(10).burst(20).build()?,
        NonZeroUsize::new(100_000).expect("non-zero"),
    ));

    let state = AppState {
        client,
        breaker,
        mode,
        upstream_calls,
    };
    let router = Router::new()
        .route("/items/{id}", get(get_item))
        .route("/upstream/{mode}", post(set_mode))
        .route("/health", get(health))
        .with_state(state.clone())
        .layer(RateLimitLayer::with_name(limiter, client_key, "api").http());
    Ok((router, state))
}

async fn get_item(State(state): State<AppState>, Path(id): Path<u32>) -> Response {
    match state.client.oneshot(id).await {
        Ok(item) => Json(serde_json::json!({ "id": item.id, "name": item.name })).into_response(),
        Err(CallError::Inner(UpstreamError::NotFound)) => StatusCode::NOT_FOUND.into_response(),
        Err(CallError::Inner(UpstreamError::Unavailable)) => {
            (StatusCode::BAD_GATEWAY, "upstream unavailable").into_response()
        }
        // Open breaker: 503 with the cool-down left as Retry-After.
        Err(CallError::Rejected(rejected)) => rejected_response::<Body>(&rejected),
    }
}

async fn set_mode(State(state): State<AppState>, Path(mode): Path<String>) -> StatusCode {
    let m = match mode.as_str() {
        "up" => UP,
        "flaky" => FLAKY,
        "down" => DOWN,
        _ => return StatusCode::BAD_REQUEST,
    };
    state.mode.store(m, Ordering::Relaxed);
    StatusCode::NO_CONTENT
}

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let m = state.breaker.metrics();
    Json(serde_json::json!({
        "breaker": state.breaker.state().to_string(),
        "breaker_trips": m.trips,
        "breaker_rejected": m.rejected,
        "upstream_calls": state.upstream_calls.load(Ordering::Relaxed),
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (router, state) = app()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    println!("breaker at exit: {}", state.breaker.state());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use throng::breaker::State as BreakerState;

    fn get_req(path: &str, key: &str) -> Request<Body> {
        Request::get(path)
            .header("x-api-key", key)
            .body(Body::empty())
            .unwrap()
    }

    async fn set(router: &Router, mode: &str) {
        let req = Request::post(format!("/upstream/{mode}"))
            .header("x-api-key", "admin")
            .body(Body::empty())
            .unwrap();
        let status = router.clone().oneshot(req).await.unwrap().status();
        assert_eq!(status, StatusCode::NO_CONTENT);
    }

    #[tokio::test(start_paused = true)]
    async fn items_come_from_the_upstream_and_missing_ones_are_404() {
        let (router, _) = app().unwrap();
        let ok = router
            .clone()
            .oneshot(get_req("/items/7", "a"))
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let missing = router.oneshot(get_req("/items/500", "a")).await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test(start_paused = true)]
    async fn the_retry_policy_hides_a_flaky_upstream() {
        let (router, state) = app().unwrap();
        set(&router, "flaky").await;
        for _ in 0..5 {
            let r = router
                .clone()
                .oneshot(get_req("/items/7", "a"))
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        }
        // Each request failed once and was retried once.
        assert_eq!(state.upstream_calls.load(Ordering::Relaxed), 10);
        assert_eq!(state.breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_down_upstream_opens_the_breaker_and_then_is_not_called() {
        let (router, state) = app().unwrap();
        set(&router, "down").await;
        // 3 attempts per request: the first request fails 3 times (502); the second
        // request's second attempt is the 5th failure in a row and trips the breaker, so
        // its third attempt is refused by the breaker (503), not sent upstream.
        let first = router
            .clone()
            .oneshot(get_req("/items/7", "a"))
            .await
            .unwrap();
        assert_eq!(first.status(), StatusCode::BAD_GATEWAY);
        let second = router
            .clone()
            .oneshot(get_req("/items/7", "a"))
            .await
            .unwrap();
        assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(state.breaker.state(), BreakerState::Open);
        let calls = state.upstream_calls.load(Ordering::Relaxed);
        assert_eq!(calls, 5);

        let refused = router
            .clone()
            .oneshot(get_req("/items/7", "a"))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()["retry-after"], "10");
        assert_eq!(
            state.upstream_calls.load(Ordering::Relaxed),
            calls,
            "not called while open"
        );

        // Back up; after the cool-down a probe closes the breaker.
        set(&router, "up").await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let ok = router.oneshot(get_req("/items/7", "a")).await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(state.breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn each_client_is_rate_limited_with_429_and_retry_after() {
        let (router, _) = app().unwrap();
        for _ in 0..20 {
            let r = router
                .clone()
                .oneshot(get_req("/health", "greedy"))
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        }
        let refused = router
            .clone()
            .oneshot(get_req("/health", "greedy"))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.headers()["retry-after"], "1");
        // Another key, and a client identified by its address, have their own quota.
        let other = router
            .clone()
            .oneshot(get_req("/health", "polite"))
            .await
            .unwrap();
        assert_eq!(other.status(), StatusCode::OK);
        let mut by_ip = Request::get("/health").body(Body::empty()).unwrap();
        by_ip
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 5000))));
        assert_eq!(
            router.oneshot(by_ip).await.unwrap().status(),
            StatusCode::OK
        );
    }
}
