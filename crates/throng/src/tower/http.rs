//! HTTP conveniences (feature `http`): refusals as `429`/`503` responses with
//! `Retry-After`, and a breaker classifier on status codes.

use std::time::Duration;

use http::{header, HeaderValue, Response, StatusCode};

#[cfg(feature = "breaker")]
pub use self::breaker::{rejected_response, ServerErrors};
#[cfg(feature = "ratelimit")]
pub use self::ratelimit::{HttpRateLimit, HttpRateLimitFuture, HttpRateLimitLayer};

/// Whole seconds, rounded up, at least 1 (a `Retry-After: 0` invites an instant retry).
pub(crate) fn ceil_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

/// An empty response with `status` and, if given, `Retry-After` in whole seconds
/// (rounded up, at least 1).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use http::StatusCode;
/// use throng::tower::http::refusal;
///
/// let response = refusal::<String>(StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_millis(1500)));
/// assert_eq!(response.status(), 429);
/// assert_eq!(response.headers()["retry-after"], "2");
/// ```
pub fn refusal<B: Default>(status: StatusCode, retry_after: Option<Duration>) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = status;
    if let Some(d) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(ceil_secs(d)));
    }
    response
}

#[cfg(feature = "breaker")]
mod breaker {
    use http::{Response, StatusCode};

    use super::refusal;
    use crate::breaker::{Outcome, Rejected};
    use crate::tower::Classify;

    /// The HTTP answer to a breaker's [`Rejected`]: `503 Service Unavailable`, with
    /// `Retry-After` when the breaker is open (the cool-down left).
    pub fn rejected_response<B: Default>(rejected: &Rejected) -> Response<B> {
        refusal(StatusCode::SERVICE_UNAVAILABLE, rejected.retry_after())
    }

    /// A breaker classifier for HTTP clients: an error or a `5xx` response is a failure,
    /// anything else a success (a `4xx` is the caller's fault, not the downstream's health).
    #[derive(Debug, Clone, Copy, Default)]
    pub struct ServerErrors;

    impl<B, E> Classify<Response<B>, E> for ServerErrors {
        fn classify(&self, result: &Result<Response<B>, E>) -> Outcome {
            match result {
                Ok(r) if r.status().is_server_error() => Outcome::Failure,
                Ok(_) => Outcome::Success,
                Err(_) => Outcome::Failure,
            }
        }
    }
}

#[cfg(feature = "ratelimit")]
mod ratelimit {
    use std::fmt;
    use std::future::Future;
    use std::hash::Hash;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use http::{Request, Response, StatusCode};
    use pin_project_lite::pin_project;
    use tower::{Layer, Service};

    use super::refusal;
    use crate::clock::{Clock, QuantaClock};
    use crate::tower::ratelimit::Shared;
    use crate::tower::RateLimited;

    impl RateLimited {
        /// The HTTP answer to this refusal: `429 Too Many Requests` with `Retry-After` when
        /// the key was over its quota; `503 Service Unavailable` (no `Retry-After`) when the
        /// limiter was full of active keys. The body is `B::default()` (empty).
        #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
        pub fn to_response<B: Default>(&self) -> Response<B> {
            if self.is_too_many_keys() {
                refusal(StatusCode::SERVICE_UNAVAILABLE, None)
            } else {
                refusal(StatusCode::TOO_MANY_REQUESTS, self.retry_after())
            }
        }
    }

    /// [`RateLimitLayer`](crate::tower::RateLimitLayer) for HTTP services, from
    /// [`RateLimitLayer::http`](crate::tower::RateLimitLayer::http): refusals are answered with
    /// [`RateLimited::to_response`] instead of an error, so the service keeps its inner
    /// error type (axum routes need `Infallible`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use std::net::{IpAddr, SocketAddr};
    /// use std::num::NonZeroUsize;
    /// use std::sync::Arc;
    /// use http::{Request, Response};
    /// use throng::ratelimit::{KeyedRateLimiter, Quota};
    /// use throng::tower::RateLimitLayer;
    /// use tower::{service_fn, Layer, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let limiter = Arc::new(KeyedRateLimiter::<IpAddr>::new(
    ///     Quota::per_second(1).build()?,
    ///     NonZeroUsize::new(10_000).unwrap(),
    /// ));
    /// // The client's address, put there by the server (axum: `ConnectInfo`).
    /// let by_ip = |req: &Request<String>| {
    ///     req.extensions().get::<SocketAddr>().map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip())
    /// };
    /// let svc = RateLimitLayer::new(limiter, by_ip).http().layer(service_fn(
    ///     |_req: Request<String>| async { Ok::<_, Infallible>(Response::new("hello".to_string())) },
    /// ));
    ///
    /// let request = || {
    ///     let mut req = Request::new(String::new());
    ///     req.extensions_mut().insert(SocketAddr::from(([192, 0, 2, 1], 4711)));
    ///     req
    /// };
    /// assert_eq!(svc.clone().oneshot(request()).await?.status(), 200);
    /// let refused = svc.oneshot(request()).await?;
    /// assert_eq!(refused.status(), 429);
    /// assert_eq!(refused.headers()["retry-after"], "1");
    /// # Ok(())
    /// # }
    /// ```
    pub struct HttpRateLimitLayer<K, F, C: Clock = QuantaClock> {
        shared: Arc<Shared<K, F, C>>,
    }

    impl<K, F, C: Clock> HttpRateLimitLayer<K, F, C> {
        pub(crate) fn from_shared(shared: Arc<Shared<K, F, C>>) -> Self {
            Self { shared }
        }
    }

    impl<K, F, C: Clock> Clone for HttpRateLimitLayer<K, F, C> {
        fn clone(&self) -> Self {
            Self {
                shared: self.shared.clone(),
            }
        }
    }

    impl<K, F, C: Clock> fmt::Debug for HttpRateLimitLayer<K, F, C> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_tuple("HttpRateLimitLayer")
                .field(&self.shared)
                .finish()
        }
    }

    impl<S, K, F, C: Clock> Layer<S> for HttpRateLimitLayer<K, F, C> {
        type Service = HttpRateLimit<S, K, F, C>;

        fn layer(&self, inner: S) -> Self::Service {
            HttpRateLimit {
                inner,
                shared: self.shared.clone(),
            }
        }
    }

    /// The service of an [`HttpRateLimitLayer`].
    pub struct HttpRateLimit<S, K, F, C: Clock = QuantaClock> {
        inner: S,
        shared: Arc<Shared<K, F, C>>,
    }

    impl<S: Clone, K, F, C: Clock> Clone for HttpRateLimit<S, K, F, C> {
        fn clone(&self) -> Self {
            Self {
                inner: self.inner.clone(),
                shared: self.shared.clone(),
            }
        }
    }

    impl<S: fmt::Debug, K, F, C: Clock> fmt::Debug for HttpRateLimit<S, K, F, C> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("HttpRateLimit")
                .field("inner", &self.inner)
                .field("limit", &self.shared)
                .finish()
        }
    }

    impl<S, ReqB, ResB, K, F, C> Service<Request<ReqB>> for HttpRateLimit<S, K, F, C>
    where
        S: Service<Request<ReqB>, Response = Response<ResB>>,
        ResB: Default,
        F: Fn(&Request<ReqB>) -> K,
        K: Hash + Eq + Clone,
        C: Clock,
    {
        type Response = Response<ResB>;
        type Error = S::Error;
        type Future = HttpRateLimitFuture<S::Future, ResB>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, req: Request<ReqB>) -> Self::Future {
            let kind = match self.shared.check(&req) {
                Ok(()) => Kind::Called {
                    fut: self.inner.call(req),
                },
                Err(refused) => Kind::Refused {
                    response: Some(refused.to_response()),
                },
            };
            HttpRateLimitFuture { kind }
        }
    }

    pin_project! {
        /// The response future of [`HttpRateLimit`].
        #[must_use = "futures do nothing unless polled"]
        pub struct HttpRateLimitFuture<F, B> {
            #[pin]
            kind: Kind<F, B>,
        }
    }

    pin_project! {
        #[project = KindProj]
        enum Kind<F, B> {
            Called { #[pin] fut: F },
            Refused { response: Option<Response<B>> },
        }
    }

    impl<F, B> fmt::Debug for HttpRateLimitFuture<F, B> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("HttpRateLimitFuture")
                .finish_non_exhaustive()
        }
    }

    impl<F, B, E> Future for HttpRateLimitFuture<F, B>
    where
        F: Future<Output = Result<Response<B>, E>>,
        B: Default,
    {
        type Output = Result<Response<B>, E>;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            match self.project().kind.project() {
                KindProj::Called { fut } => fut.poll(cx),
                // Polled after completion (a caller's bug): answer 429 again rather than panic.
                KindProj::Refused { response } => Poll::Ready(Ok(response
                    .take()
                    .unwrap_or_else(|| refusal(StatusCode::TOO_MANY_REQUESTS, None)))),
            }
        }
    }
}
