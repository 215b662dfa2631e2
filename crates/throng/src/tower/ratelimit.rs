//! [`RateLimitLayer`]: a [`KeyedRateLimiter`] in front of a service, keyed by a function
//! of the request.

use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::clock::{Clock, QuantaClock};
use crate::ratelimit::{KeyedCheckError, KeyedRateLimiter};

/// A request the rate limit refused: the key was over its quota (with the time until it
/// would pass) or the limiter was full of active keys.
///
/// Nothing was consumed and the inner service was not called.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    cause: KeyedCheckError,
}

impl RateLimited {
    /// How long until a request with the same key would pass, measured when it was
    /// refused; `None` when the limiter was full of active keys (no time can be
    /// promised: a key leaves once idle).
    pub fn retry_after(&self) -> Option<Duration> {
        match self.cause {
            KeyedCheckError::NotUntil(n) => Some(n.wait_time()),
            _ => None,
        }
    }

    /// `true` if the key was new and the limiter already tracked its maximum of active
    /// keys ([`KeyedCheckError::TooManyKeys`]): the server is overloaded with clients,
    /// not this client with requests.
    pub fn is_too_many_keys(&self) -> bool {
        matches!(self.cause, KeyedCheckError::TooManyKeys { .. })
    }

    /// The limiter's decision.
    pub fn cause(&self) -> &KeyedCheckError {
        &self.cause
    }

    /// [`retry_after`](Self::retry_after) in whole seconds, rounded up (at least 1): the
    /// value of an HTTP `Retry-After` header.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after().map(ceil_secs)
    }
}

/// Whole seconds, rounded up, at least 1 (a `Retry-After: 0` invites an instant retry).
fn ceil_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

impl fmt::Debug for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimited")
            .field("cause", &self.cause)
            .finish()
    }
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.cause.fmt(f)
    }
}

impl Error for RateLimited {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.cause)
    }
}

/// The error of a [`RateLimit`] service: refused by the limit, or the inner service's
/// own error.
#[derive(Clone, PartialEq, Eq)]
pub enum RateLimitError<E> {
    /// The rate limit refused the request; the inner service was not called.
    Limited(RateLimited),
    /// The inner service failed.
    Inner(E),
}

impl<E> RateLimitError<E> {
    /// The refusal, if the limit refused.
    pub fn limited(&self) -> Option<&RateLimited> {
        match self {
            Self::Limited(r) => Some(r),
            Self::Inner(_) => None,
        }
    }

    /// The inner service's error, if it failed.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Self::Inner(e) => Some(e),
            Self::Limited(_) => None,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for RateLimitError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Limited(r) => f.debug_tuple("Limited").field(r).finish(),
            Self::Inner(e) => f.debug_tuple("Inner").field(e).finish(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for RateLimitError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Limited(r) => r.fmt(f),
            Self::Inner(e) => e.fmt(f),
        }
    }
}

impl<E: Error + 'static> Error for RateLimitError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Limited(r) => Some(r),
            Self::Inner(e) => Some(e),
        }
    }
}

/// The limiter, the key function and the refusal counters, shared by every clone.
pub(crate) struct Shared<K, F, C: Clock> {
    limiter: Arc<KeyedRateLimiter<K, C>>,
    key: F,
    name: Cow<'static, str>,
    #[cfg(feature = "metrics")]
    refused_quota: metrics::Counter,
    #[cfg(feature = "metrics")]
    refused_keys: metrics::Counter,
}

impl<K, F, C: Clock> Shared<K, F, C> {
    fn new(limiter: Arc<KeyedRateLimiter<K, C>>, key: F, name: Cow<'static, str>) -> Self {
        Self {
            #[cfg(feature = "metrics")]
            refused_quota: metrics::counter!(
                "throng_ratelimit_refused_total",
                "limiter" => name.to_string(), "reason" => "quota"
            ),
            #[cfg(feature = "metrics")]
            refused_keys: metrics::counter!(
                "throng_ratelimit_refused_total",
                "limiter" => name.to_string(), "reason" => "keys"
            ),
            limiter,
            key,
            name,
        }
    }

    /// One cell for the request's key, or the refusal (counted and traced).
    pub(crate) fn check<Req>(&self, req: &Req) -> Result<(), RateLimited>
    where
        F: Fn(&Req) -> K,
        K: Hash + Eq + Clone,
    {
        let key = (self.key)(req);
        let cause = match self.limiter.check(&key) {
            Ok(()) => return Ok(()),
            Err(cause) => cause,
        };
        let refused = RateLimited { cause };
        #[cfg(feature = "metrics")]
        if refused.is_too_many_keys() {
            self.refused_keys.increment(1);
        } else {
            self.refused_quota.increment(1);
        }
        #[cfg(feature = "tracing")]
        tracing::debug!(
            target: "throng::ratelimit",
            limiter = &*self.name,
            retry_after = ?refused.retry_after(),
            too_many_keys = refused.is_too_many_keys(),
            "request refused by rate limit"
        );
        Err(refused)
    }
}

impl<K, F, C: Clock> fmt::Debug for Shared<K, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A [`Layer`] that rate-limits requests per key with a shared [`KeyedRateLimiter`].
///
/// `key` maps a request to its key (a client IP, an API key header, a user id); each
/// key has its own GCRA quota, and the limiter's key cap bounds memory (see
/// [`KeyedRateLimiter`]). A request over its key's quota is refused at once with
/// [`RateLimitError::Limited`], carrying the time until it would pass; the inner
/// service is not called. Nothing waits and nothing is queued.
///
/// The layer and its services are `Clone` and share one limiter, so the limit holds
/// across clones (unlike `tower::limit::RateLimit`, which counts per clone and so does
/// not limit under axum, which clones the service per request).
///
/// `poll_ready` is the inner service's; the check happens in `call`, where the request
/// (and so its key) is known. For HTTP, [`http`](Self::http) answers refusals with
/// `429 Too Many Requests` and `Retry-After` instead of an error.
///
/// Requests with no natural key (no header, no address) should map to a shared key
/// (one quota for all of them), never be let through unlimited by the key function.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use std::sync::Arc;
/// use throng::ratelimit::{KeyedRateLimiter, Quota};
/// use throng::tower::{RateLimitError, RateLimitLayer};
/// use tower::{service_fn, Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Requests are (user, payload); 2 per second per user, bursts of 2.
/// let limiter = Arc::new(KeyedRateLimiter::<String>::new(
///     Quota::per_second(2).burst(2).build()?,
///     NonZeroUsize::new(10_000).unwrap(),
/// ));
/// let layer = RateLimitLayer::new(limiter, |req: &(String, u32)| req.0.clone());
/// let svc = layer.layer(service_fn(|(_, n): (String, u32)| async move {
///     Ok::<_, std::convert::Infallible>(n * 2)
/// }));
///
/// assert_eq!(svc.clone().oneshot(("alice".into(), 1)).await?, 2);
/// assert_eq!(svc.clone().oneshot(("alice".into(), 2)).await?, 4);
/// match svc.clone().oneshot(("alice".into(), 3)).await {
///     Err(RateLimitError::Limited(refused)) => {
///         assert!(refused.retry_after().unwrap().as_millis() <= 500);
///     }
///     other => panic!("expected a refusal, got {other:?}"),
/// }
/// // Other keys have their own quota.
/// assert_eq!(svc.oneshot(("bob".into(), 4)).await?, 8);
/// # Ok(())
/// # }
/// ```
pub struct RateLimitLayer<K, F, C: Clock = QuantaClock> {
    shared: Arc<Shared<K, F, C>>,
}

impl<K, F, C: Clock> Clone for RateLimitLayer<K, F, C> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<K, F, C: Clock> fmt::Debug for RateLimitLayer<K, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.fmt(f)
    }
}

impl<K, F, C: Clock> RateLimitLayer<K, F, C> {
    /// A layer checking `limiter` with the key `key(&request)` for each request.
    ///
    /// With the `metrics` feature it counts refusals in
    /// `throng_ratelimit_refused_total{limiter, reason}` (`reason` is `quota` or `keys`),
    /// registered now: install the recorder first.
    pub fn new(limiter: Arc<KeyedRateLimiter<K, C>>, key: F) -> Self {
        Self {
            shared: Arc::new(Shared::new(limiter, key, Cow::Borrowed("ratelimit"))),
        }
    }

    /// As [`new`](Self::new), named `name` for `Debug`, the `limiter` label of the
    /// metrics and the `limiter` field of the `tracing` events (default `"ratelimit"`).
    pub fn with_name(
        limiter: Arc<KeyedRateLimiter<K, C>>,
        key: F,
        name: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared::new(limiter, key, name.into())),
        }
    }

    /// The limiter this layer checks.
    pub fn limiter(&self) -> &Arc<KeyedRateLimiter<K, C>> {
        &self.shared.limiter
    }

    /// The HTTP form of this layer: refusals become `429 Too Many Requests` responses
    /// with a `Retry-After` header (whole seconds, rounded up), or `503 Service
    /// Unavailable` when the limiter is full of active keys, instead of errors; the
    /// service's error type stays the inner one (axum needs `Infallible`).
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn http(self) -> super::http::HttpRateLimitLayer<K, F, C> {
        super::http::HttpRateLimitLayer::from_shared(self.shared)
    }
}

impl<S, K, F, C: Clock> Layer<S> for RateLimitLayer<K, F, C> {
    type Service = RateLimit<S, K, F, C>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service of a [`RateLimitLayer`].
pub struct RateLimit<S, K, F, C: Clock = QuantaClock> {
    inner: S,
    shared: Arc<Shared<K, F, C>>,
}

impl<S: Clone, K, F, C: Clock> Clone for RateLimit<S, K, F, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: fmt::Debug, K, F, C: Clock> fmt::Debug for RateLimit<S, K, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("limit", &self.shared)
            .finish()
    }
}

impl<S, Req, K, F, C> Service<Req> for RateLimit<S, K, F, C>
where
    S: Service<Req>,
    F: Fn(&Req) -> K,
    K: Hash + Eq + Clone,
    C: Clock,
{
    type Response = S::Response;
    type Error = RateLimitError<S::Error>;
    type Future = RateLimitFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(RateLimitError::Inner)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let kind = match self.shared.check(&req) {
            Ok(()) => Kind::Called {
                fut: self.inner.call(req),
            },
            Err(refused) => Kind::Refused { refused },
        };
        RateLimitFuture { kind }
    }
}

pin_project! {
    /// The response future of [`RateLimit`].
    #[must_use = "futures do nothing unless polled"]
    pub struct RateLimitFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Called { #[pin] fut: F },
        Refused { refused: RateLimited },
    }
}

impl<F> fmt::Debug for RateLimitFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitFuture").finish_non_exhaustive()
    }
}

impl<F, T, E> Future for RateLimitFuture<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, RateLimitError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Called { fut } => fut.poll(cx).map_err(RateLimitError::Inner),
            KindProj::Refused { refused } => Poll::Ready(Err(RateLimitError::Limited(*refused))),
        }
    }
}
