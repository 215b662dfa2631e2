//! A circuit breaker: closed, open and half-open, on consecutive failures or a failure rate.
//!
//! A [`Breaker`] sits in front of a downstream (a service, a database, a disk) and stops
//! calling it while it is failing, so callers fail fast instead of piling up on timeouts,
//! and the downstream gets room to recover:
//!
//! - **Closed**: every call passes; outcomes are counted. It trips open on a run of
//!   [`consecutive_failures`](BreakerBuilder::consecutive_failures) (default 5), or, if
//!   set, when the [`failure_rate`](BreakerBuilder::failure_rate) over a sliding
//!   [`Window`] (the last N calls, or the last T seconds in buckets) reaches a threshold
//!   once the window holds [`minimum_calls`](BreakerBuilder::minimum_calls).
//!   [Slow calls](BreakerBuilder::slow_call) can count as failures.
//! - **Open**: every call is [`Rejected`] at once, with the time left
//!   ([`Rejected::retry_after`]). It stays open for the
//!   [`cool_down`](BreakerBuilder::cool_down), fixed or
//!   [growing by a backoff](BreakerBuilder::cool_down_backoff) while probes keep failing.
//! - **Half-open**: after the cool-down, up to
//!   [`half_open_probes`](BreakerBuilder::half_open_probes) probe calls pass at once; the
//!   rest are rejected. The first probe failure re-opens it; when that many probes have
//!   succeeded it closes, with clean counts.
//!
//! The open → half-open move is lazy: the first call (or [`Breaker::state`] /
//! [`Breaker::metrics`]) after the cool-down makes it. There is no timer and no task.
//!
//! Two ways in:
//!
//! - [`Breaker::call`] / [`Breaker::call_classified`]: run an async closure through the
//!   breaker; `call` counts `Err` as a failure, `call_classified` lets you say per result
//!   whether it was a [`Success`](Outcome::Success), a [`Failure`](Outcome::Failure) or to
//!   be [`Ignore`](Outcome::Ignore)d (a "not found" that says nothing about the
//!   downstream's health, a cancellation).
//! - [`Breaker::try_acquire`] → [`Permit`] → [`success`](Permit::success) /
//!   [`failure`](Permit::failure) / [`ignore`](Permit::ignore): for sync code, for calls
//!   that span several steps, or to classify by something other than a `Result`.
//!
//! **Cancellation is excluded by default**: a permit dropped without a verdict (a dropped
//! `call` future, a timeout, an early return) counts as ignored, never as a failure, and
//! gives its half-open probe slot back. A permit dropped while its thread panics counts as
//! a failure (as gobreaker does with a panic in `Execute`).
//!
//! Every state change is passed to the [`on_state_change`](BreakerBuilder::on_state_change)
//! listener as a [`StateChange`] (from, to, [`Reason`], time on the breaker's clock,
//! sequence number, how long it will stay open); [`Breaker::metrics`] returns a
//! [`BreakerMetrics`] snapshot. [`Breaker::trip`] and [`Breaker::reset`] force a state.
//! With the `tracing` feature each state change is also an event on the
//! `throng::breaker` target (`warn` when it opens); with the `metrics` feature the
//! breaker reports `throng_breaker_state` (0 closed, 1 half-open, 2 open),
//! `throng_breaker_transitions_total{to}` and `throng_breaker_rejected_total`, labelled
//! `breaker` with its [name](BreakerBuilder::name). [`Breaker::try_acquire_owned`] gives
//! a `'static` [`OwnedPermit`] for spawned calls; `throng::tower::BreakerLayer` (feature
//! `tower`) is the tower form.
//! All time comes from an injectable [`Clock`](crate::clock::Clock)
//! ([`BreakerBuilder::clock`]): [`ManualClock`](crate::clock::ManualClock) or paused tokio
//! time in tests.
//!
//! # When to use
//!
//! Use a breaker when a downstream can be down for seconds or minutes and calling it
//! while it is down is worse than not calling it: each call waits for a timeout (threads,
//! connections and memory pile up), or the load keeps it from recovering. Put one breaker
//! per downstream (per host, per dependency), shared by every caller (`Breaker` is a cheap
//! `Clone`).
//!
//! When not: for a single flaky call, [`retry`](crate::retry::retry) with backoff is the
//! tool (and retries *inside* a breaker should be few, or every retry counts as a
//! failure). To cap how much load you send, use a rate limiter or a concurrency limit
//! (tokio's `Semaphore`): a breaker only reacts to failures. To bound one call's time use a
//! timeout; combine it with the breaker by making the timeout a failure (or, if the caller
//! chose it, [`Outcome::Ignore`]).
//!
//! # Breaker vs retry, timeouts and concurrency limits
//!
//! | Tool | Reacts to | While failing | Cost per call |
//! |---|---|---|---|
//! | [`retry`](crate::retry::retry) | one call's error | tries again, with backoff | only on errors |
//! | timeout | one slow call | every call still waits its full timeout | a timer |
//! | `Semaphore` / concurrency limit | too many calls in flight | callers queue, then time out | one atomic pair |
//! | [`Breaker`] | many calls failing | callers get [`Rejected`] in nanoseconds; probes test recovery | ≈ 6.5 ns (permit), ≈ 22 ns (`call`), see below |
//!
//! - *Consecutive failures vs failure rate.* A run of N failures is the simplest signal
//!   and reacts fastest to a hard outage, but a service that fails every other call never
//!   makes a run. The rate catches that, but needs enough calls to judge
//!   (`minimum_calls`). Both can be on; either trips (tests:
//!   `consecutive_failures_trip_before_the_rate_minimum_is_reached`,
//!   `the_rate_trips_on_interleaved_failures_that_never_make_a_run`).
//! - *Count window vs time window.* A count window (last N calls) judges the same
//!   number of calls at any traffic level, but at low traffic its calls can be minutes
//!   old. A time window (last T, in buckets) forgets old calls, but at low traffic holds
//!   few calls (hence `minimum_calls`). gobreaker's original fixed `Interval` reset all
//!   counts at once ("counts expired → error rate jumps from 9 % to 90 %",
//!   sony/gobreaker#21); both windows here slide.
//! - *`call` vs permits.* `call` is shorter and cannot forget a verdict; a permit works
//!   in sync code and across steps, and costs a third as much.
//!
//! # Comparison with resilience4j and gobreaker
//!
//! | Feature | throng | resilience4j (Java) | gobreaker v2 (Go) |
//! |---|---|---|---|
//! | States | closed, open, half-open | + disabled, forced-open, metrics-only | closed, open, half-open |
//! | Trip on consecutive failures | yes | no (rates only) | yes (the default `ReadyToTrip`) |
//! | Trip on failure rate | yes, with a minimum number of calls | yes, with `minimumNumberOfCalls` | write your own `ReadyToTrip(Counts)` |
//! | Count-based sliding window | yes | yes | no |
//! | Time-based sliding window | yes, N buckets | yes, 1-second buckets | yes, `BucketPeriod` (v2.2) |
//! | Slow calls | count as failures past a threshold | own slow-call *rate* threshold | no |
//! | Open period | fixed, or growing by a [`Backoff`](crate::retry::Backoff) with jitter | fixed, or an interval function (exponential, random) | fixed `Timeout` |
//! | Open → half-open | lazy, on the next call | lazy, or a timer (`automaticTransition…`) | lazy |
//! | Half-open | k probes at once; 1 failure re-opens, k successes close | k calls, then judged by the failure rate | `MaxRequests` probes; 1 failure re-opens, k successes close |
//! | Stuck probe | holds its slot until dropped: give probes a timeout | `maxWaitDurationInHalfOpenState` | holds its slot |
//! | Outcome classification | per call: success, failure, ignore | record/ignore exception lists, result predicate | `IsSuccessful`, `IsExcluded` (v2.4) |
//! | Cancellation | ignored by default (dropped permit) | an exception like any other | a failure unless `IsExcluded` says so |
//! | Verdicts from an earlier state | not counted ([`late`](BreakerMetrics::late)) | no documented rule | not counted (generations) |
//! | Panics | a failure, then unwinds | an exception | a failure, then re-panics |
//! | Two-step API | [`Permit`] (dropped = ignored) | `acquirePermission` + `onSuccess`/`onError` | `TwoStepCircuitBreaker` (`done` callback) |
//! | Events | one listener, with reason and sequence number | event publisher per call and per transition | `OnStateChange` |
//! | Metrics | counters and window snapshot | failure and slow-call rates, Micrometer | `Counts` |
//! | Manual control | [`trip`](Breaker::trip), [`reset`](Breaker::reset) | `transitionTo…`, `reset` | none |
//! | Injectable clock | yes | not a documented setting | no (`time.Now`) |
//! | Shared state across processes | no | no | `DistributedCircuitBreaker` (Redis) |
//! | Registry, fallbacks, decorators | no | yes | no |
//! | tower `Layer` | `throng::tower::BreakerLayer` (feature `tower`) | n/a | n/a |
//!
//! What we lack, in order of likely need: a forced-open / disabled state that ignores the
//! policies (use [`trip`](Breaker::trip) with a long cool-down), a half-open time limit
//! (give probes a timeout instead), a separate slow-call rate, per-call events, and
//! distributed state.
//!
//! # Pitfalls avoided
//!
//! - **S16-5** (the seed claims circuit breakers are essential and has none): this module.
//! - Cancelling clients tripping a healthy downstream (gobreaker before `IsExcluded`,
//!   cockroachdb/cockroach#35433): a dropped call is ignored by default; test
//!   `a_cancelled_call_is_excluded_and_frees_the_probe_slot`.
//! - A cancelled probe keeping its slot, so half-open never admits another call and the
//!   breaker is stuck (resilience4j#903): a dropped probe gives its slot back; tests
//!   `a_dropped_probe_permit_frees_its_slot_and_counts_as_ignored`,
//!   `racing_probes_never_exceed_the_limit_and_never_leak_a_slot`, and a loom model
//!   (`tests/loom_breaker.rs`).
//! - More probes than allowed when several callers race into half-open: admission is
//!   decided under the lock (loom-checked).
//! - A fixed counting interval that resets all at once (sony/gobreaker#21): the windows
//!   slide.
//! - A verdict from before a trip leaking into the next closed period or counting as a
//!   probe: every permit carries the state word (state + epoch) it was admitted under.
//! - Bad settings: zero probes, zero cool-down, a rate outside `(0, 1]`, a minimum above
//!   the count window: [`InvalidBreaker`] from [`build`](BreakerBuilder::build), never a
//!   panic.
//!
//! # Cost
//!
//! Measured on the 2-core build machine while other builds ran (best of a few runs;
//! treat as ±20 %), one thread, per call:
//!
//! | Call | Time | Overhead vs bare |
//! |---|---|---|
//! | bare synchronous call | 0.4 ns | |
//! | [`try_acquire`](Breaker::try_acquire) + [`success`](Permit::success), default policy | 6.8 ns | **≈ 6.5 ns** |
//! | the same with a 100-call count window | 22 ns | ≈ 21 ns |
//! | bare ready future, polled once | 1.4 ns | |
//! | [`call`](Breaker::call) on a ready future, default policy | 23 ns | **≈ 22 ns** |
//!
//! Two threads sharing one closed breaker: 155 M calls/s together (6.5 ns a call), since
//! the closed path only reads the shared state word and counts into per-thread counters;
//! a count window adds one shared `fetch_add` per call. A time window or a slow-call
//! threshold adds one or two clock reads per call (about 20 ns each with
//! [`MonotonicClock`](crate::clock::MonotonicClock)); a rejected call while open costs one
//! clock read. Scoreboard lines of that run:
//!
//! ```text
//! case=breaker.closed throng=43099185 peer=bare:700159486 unit=calls/s ratio=0.06
//! case=breaker.closed.permit throng=147091569 peer=bare:2702812107 unit=calls/s ratio=0.05
//! case=breaker.closed.window throng=45779410 peer=bare:2795194750 unit=calls/s ratio=0.02
//! case=breaker.closed.contended throng=154673749 peer=bare:5315155458 unit=calls/s ratio=0.03
//! ```
//!
//! A later scoreboard run on a quiet machine (2026-11-29) measured `breaker.closed` at
//! 33.2 M calls/s against 411 M/s bare (30.1 ns vs 2.4 ns: **≈ 28 ns** overhead, inside
//! the 30 ns target but with little margin) and `breaker.closed.permit` at 114 M/s
//! (≈ 8 ns overhead).
//!
//! The criterion bench on the same machine under heavier load measured every entry 2 to
//! 4 times slower (the bare calls too); the ratios are what to compare.
//!
//! Reproduce: `cargo run --release -p throng-benches --bin scoreboard -- breaker` and
//! `cargo bench -p throng-benches --bench breaker`.
//!
//! # Examples
//!
//! Trip on three failures, reject while open, probe after the cool-down, close again (on
//! paused tokio time):
//!
//! ```
//! use std::time::Duration;
//! use throng::breaker::{Breaker, CallError, State};
//! use throng::clock::TokioClock;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let breaker = Breaker::builder()
//!     .consecutive_failures(3)
//!     .cool_down(Duration::from_secs(5))
//!     .clock(TokioClock::new())
//!     .on_state_change(|e| println!("{e}"))
//!     .build()
//!     .expect("valid settings");
//!
//! for _ in 0..3 {
//!     let r = breaker.call(|| async { Err::<(), _>("connection refused") }).await;
//!     assert_eq!(r, Err(CallError::Inner("connection refused")));
//! }
//! assert_eq!(breaker.state(), State::Open);
//!
//! // Rejected at once: the closure does not run.
//! match breaker.call(|| async { Ok::<_, &str>(()) }).await {
//!     Err(CallError::Rejected(r)) => assert_eq!(r.retry_after(), Some(Duration::from_secs(5))),
//!     other => panic!("{other:?}"),
//! }
//!
//! tokio::time::sleep(Duration::from_secs(5)).await;
//! // The next call is a probe; its success closes the breaker.
//! let permit = breaker.try_acquire().expect("probe admitted");
//! assert!(permit.is_probe());
//! permit.success();
//! assert_eq!(breaker.state(), State::Closed);
//! # }
//! ```
//!
//! A failure rate over the last 10 seconds, with "not found" not counted:
//!
//! ```
//! use std::time::Duration;
//! use throng::breaker::{Breaker, Outcome, Window};
//!
//! #[derive(Debug)]
//! enum DbError { NotFound, Unavailable }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let breaker = Breaker::builder()
//!     .failure_rate(0.5, Window::time(Duration::from_secs(10)))
//!     .minimum_calls(20)
//!     .build()
//!     .expect("valid settings");
//!
//! let classify = |r: &Result<u32, DbError>| match r {
//!     Ok(_) | Err(DbError::NotFound) => Outcome::Success,
//!     Err(DbError::Unavailable) => Outcome::Failure,
//! };
//! let row = breaker
//!     .call_classified(|| async { Err(DbError::NotFound) }, classify)
//!     .await;
//! assert!(row.is_err());
//! assert_eq!(breaker.metrics().successes, 1);
//! # }
//! ```

#[allow(clippy::module_inception)]
mod breaker;
mod config;
mod error;
mod hooks;
mod permit;
mod state;
mod stats;
mod window;

pub use breaker::Breaker;
pub use config::BreakerBuilder;
pub use error::{CallError, InvalidBreaker, Rejected};
pub use permit::{Outcome, OwnedPermit, Permit};
pub use state::{Reason, State, StateChange};
pub use stats::BreakerMetrics;
pub use window::Window;
