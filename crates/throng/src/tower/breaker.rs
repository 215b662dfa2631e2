//! [`BreakerLayer`]: a [`Breaker`] in front of a service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::breaker::{Breaker, CallError, Outcome, OwnedPermit, Rejected};
use crate::clock::{Clock, MonotonicClock};

/// Decides how a call's result counts for the breaker; see [`BreakerLayer::classify`].
///
/// Implemented for every `Fn(&Result<T, E>) -> Outcome + Clone`, for [`AnyErr`] (the
/// default) and, with the `http` feature, for `http::ServerErrors`.
pub trait Classify<T, E> {
    /// How `result` counts: [`Outcome::Success`], [`Outcome::Failure`] or
    /// [`Outcome::Ignore`].
    fn classify(&self, result: &Result<T, E>) -> Outcome;
}

impl<T, E, F: Fn(&Result<T, E>) -> Outcome> Classify<T, E> for F {
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        self(result)
    }
}

/// The default classification: `Err` is a failure, `Ok` a success ([`Outcome::of`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyErr;

impl<T, E> Classify<T, E> for AnyErr {
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        Outcome::of(result)
    }
}

/// A [`Layer`] that puts a shared [`Breaker`] in front of a service.
///
/// - **`poll_ready`** asks the breaker first. Open (or half-open with every probe slot
///   taken): it returns ready at once without waiting on the inner service, and the
///   following `call` fails fast with [`CallError::Rejected`] (carrying the cool-down
///   left) without calling the inner service. Admitted: it holds the permit (a half-open
///   probe slot is reserved here) and waits for the inner service to be ready.
/// - **`call`** runs the inner call under that permit; when the response future
///   completes, the [classifier](Self::classify) turns the result into the breaker's
///   verdict. A dropped response future (a cancelled request, a timeout outside this
///   layer) counts as ignored and frees its probe slot, as with
///   [`Breaker::call`]; a panic counts as a failure.
/// - An error from the inner `poll_ready` counts as a failure (the service is then
///   dead, as tower's contract says).
/// - `call` without `poll_ready` does not panic: the breaker is asked then.
///
/// The breaker is shared by every clone of the layer and of its services (clone one
/// `Breaker` per downstream). Services cloned while holding a permit do not copy it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use throng::breaker::{Breaker, CallError, State};
/// use throng::clock::TokioClock;
/// use throng::tower::BreakerLayer;
/// use tower::{service_fn, Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let breaker = Breaker::builder()
///     .consecutive_failures(2)
///     .cool_down(Duration::from_secs(10))
///     .clock(TokioClock::new())
///     .build()
///     .expect("valid settings");
/// let upstream = BreakerLayer::new(breaker.clone()).layer(service_fn(|fail: bool| async move {
///     if fail { Err("connection refused") } else { Ok("pong") }
/// }));
///
/// for _ in 0..2 {
///     assert_eq!(upstream.clone().oneshot(true).await, Err(CallError::Inner("connection refused")));
/// }
/// assert_eq!(breaker.state(), State::Open);
/// // Open: refused at once, with the cool-down left; the upstream is not called.
/// match upstream.clone().oneshot(false).await {
///     Err(CallError::Rejected(r)) => assert_eq!(r.retry_after(), Some(Duration::from_secs(10))),
///     other => panic!("{other:?}"),
/// }
/// tokio::time::sleep(Duration::from_secs(10)).await;
/// // The next call is a probe; its success closes the breaker.
/// assert_eq!(upstream.oneshot(false).await, Ok("pong"));
/// assert_eq!(breaker.state(), State::Closed);
/// # }
/// ```
#[derive(Clone)]
pub struct BreakerLayer<C = MonotonicClock, K = AnyErr> {
    breaker: Breaker<C>,
    classify: K,
}

impl<C: Clock> BreakerLayer<C, AnyErr> {
    /// A layer over `breaker`, counting `Err` as a failure and `Ok` as a success.
    pub fn new(breaker: Breaker<C>) -> Self {
        Self {
            breaker,
            classify: AnyErr,
        }
    }
}

impl<C: Clock, K> BreakerLayer<C, K> {
    /// Classifies each result with `classify` instead: for instance count a `404` or a
    /// validation error as [`Outcome::Success`] (the downstream answered), a timeout you
    /// chose as [`Outcome::Ignore`], a `503` response as [`Outcome::Failure`]. With the
    /// `http` feature, `http::ServerErrors` counts errors and `5xx` responses.
    pub fn classify<K2: Clone>(self, classify: K2) -> BreakerLayer<C, K2> {
        BreakerLayer {
            breaker: self.breaker,
            classify,
        }
    }

    /// The breaker this layer consults.
    pub fn breaker(&self) -> &Breaker<C> {
        &self.breaker
    }
}

impl<C: fmt::Debug, K> fmt::Debug for BreakerLayer<C, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerLayer")
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

impl<S, C: Clock, K: Clone> Layer<S> for BreakerLayer<C, K> {
    type Service = BreakerService<S, C, K>;

    fn layer(&self, inner: S) -> Self::Service {
        BreakerService {
            inner,
            breaker: self.breaker.clone(),
            classify: self.classify.clone(),
            admission: None,
        }
    }
}

/// The service of a [`BreakerLayer`].
pub struct BreakerService<S, C: Clock = MonotonicClock, K = AnyErr> {
    inner: S,
    breaker: Breaker<C>,
    classify: K,
    /// The breaker's answer, asked in `poll_ready` and used by the next `call`.
    admission: Option<Result<OwnedPermit<C>, Rejected>>,
}

impl<S: Clone, C: Clock, K: Clone> Clone for BreakerService<S, C, K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            breaker: self.breaker.clone(),
            classify: self.classify.clone(),
            admission: None,
        }
    }
}

impl<S: fmt::Debug, C: Clock + fmt::Debug, K> fmt::Debug for BreakerService<S, C, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerService")
            .field("inner", &self.inner)
            .field("breaker", &self.breaker)
            .field("admission", &self.admission)
            .finish_non_exhaustive()
    }
}

impl<S, Req, C, K> Service<Req> for BreakerService<S, C, K>
where
    S: Service<Req>,
    C: Clock,
    K: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = CallError<S::Error>;
    type Future = BreakerFuture<S::Future, C, K>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let admission = self
            .admission
            .get_or_insert_with(|| self.breaker.try_acquire_owned());
        if admission.is_err() {
            // Refused: `call` fails fast; do not wait for the inner service.
            return Poll::Ready(Ok(()));
        }
        match ready!(self.inner.poll_ready(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => {
                if let Some(Ok(permit)) = self.admission.take() {
                    permit.failure();
                }
                Poll::Ready(Err(CallError::Inner(e)))
            }
        }
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let admission = match self.admission.take() {
            Some(admission) => admission,
            // Called without `poll_ready`: ask now (the inner service's own contract
            // about readiness still applies to it).
            None => self.breaker.try_acquire_owned(),
        };
        let kind = match admission {
            Ok(permit) => Kind::Called {
                fut: self.inner.call(req),
                permit: Some(permit),
                classify: self.classify.clone(),
            },
            Err(rejected) => Kind::Rejected { rejected },
        };
        BreakerFuture { kind }
    }
}

pin_project! {
    /// The response future of [`BreakerService`]: records the verdict when it
    /// completes; dropped before that, the call counts as ignored.
    #[must_use = "futures do nothing unless polled; dropping it counts the call as ignored"]
    pub struct BreakerFuture<F, C: Clock, K> {
        #[pin]
        kind: Kind<F, C, K>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, C: Clock, K> {
        Called { #[pin] fut: F, permit: Option<OwnedPermit<C>>, classify: K },
        Rejected { rejected: Rejected },
    }
}

impl<F, C: Clock, K> fmt::Debug for BreakerFuture<F, C, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerFuture").finish_non_exhaustive()
    }
}

impl<F, C, K, T, E> Future for BreakerFuture<F, C, K>
where
    F: Future<Output = Result<T, E>>,
    C: Clock,
    K: Classify<T, E>,
{
    type Output = Result<T, CallError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Called {
                fut,
                permit,
                classify,
            } => {
                let result = ready!(fut.poll(cx));
                if let Some(permit) = permit.take() {
                    permit.record(classify.classify(&result));
                }
                Poll::Ready(result.map_err(CallError::Inner))
            }
            KindProj::Rejected { rejected } => Poll::Ready(Err(CallError::Rejected(*rejected))),
        }
    }
}
