//! [`Breaker`]: the shared state, admission, verdicts and transitions.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::clock::{Clock, MonotonicClock};
use crate::retry::BackoffState;
use crate::sync::atomic::{
    AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::sync::{Arc, Mutex, MutexGuard};

use super::config::{BreakerBuilder, CoolDown, Listener, Settings};
use super::error::{CallError, Rejected};
use super::hooks::Hooks;
use super::permit::{Outcome, OwnedPermit, Permit};
use super::state::{next_word, state_of, Reason, State, StateChange, CLOSED};
use super::stats::{BreakerMetrics, Counted, Padded, Stats};
use super::window::Tally;

/// A circuit breaker. Cheap to clone: clones share one breaker.
///
/// See the [module docs](super) for the states and when to use one.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use throng::breaker::{Breaker, CallError, State};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let breaker = Breaker::builder()
///     .consecutive_failures(2)
///     .cool_down(Duration::from_secs(30))
///     .build()
///     .unwrap();
/// for _ in 0..2 {
///     let _ = breaker.call(|| async { Err::<(), _>("timed out") }).await;
/// }
/// assert_eq!(breaker.state(), State::Open);
/// // While open, calls are rejected without running.
/// let r = breaker.call(|| async { Ok::<_, &str>("never runs") }).await;
/// assert!(matches!(r, Err(CallError::Rejected(_))));
/// # }
/// ```
pub struct Breaker<C = MonotonicClock> {
    inner: Arc<Inner<C>>,
}

impl<C> Clone for Breaker<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

pub(crate) struct Inner<C> {
    /// State and epoch (see `state.rs`). Read by every call, written on transitions.
    word: AtomicU64,
    settings: Settings,
    clock: C,
    /// Failures in a row in the current closed epoch. Written only on failures.
    consecutive: Padded<AtomicU64>,
    /// When open: the clock time at which the cool-down ends. Written before `word`.
    open_until: AtomicU64,
    window: Option<Tally>,
    stats: Stats,
    core: Mutex<Core>,
    listener: Option<Listener>,
    name: Cow<'static, str>,
    hooks: Hooks,
}

/// What transitions need, under the lock.
struct Core {
    probes_in_flight: u32,
    probe_successes: u32,
    trips: u64,
    backoff: Option<BackoffState>,
    rng: fastrand::Rng,
}

fn entropy_rng() -> fastrand::Rng {
    use std::hash::BuildHasher;
    fastrand::Rng::with_seed(std::hash::RandomState::new().hash_one(0x0062_7265_616b_6572_u64))
}

impl Breaker<MonotonicClock> {
    /// A builder with the documented defaults (see [`BreakerBuilder`]).
    pub fn builder() -> BreakerBuilder<MonotonicClock> {
        BreakerBuilder::default()
    }
}

impl<C: Clock> Breaker<C> {
    pub(crate) fn from_parts(
        settings: Settings,
        clock: C,
        listener: Option<Listener>,
        name: Cow<'static, str>,
    ) -> Self {
        let backoff = match settings.cool_down {
            CoolDown::Growing(b) => Some(b.state()),
            CoolDown::Fixed(_) => None,
        };
        Self {
            inner: Arc::new(Inner {
                word: AtomicU64::new(CLOSED),
                settings,
                clock,
                consecutive: Padded(AtomicU64::new(0)),
                open_until: AtomicU64::new(0),
                window: settings.rate.map(|r| Tally::new(r.window)),
                stats: Stats::new(),
                core: Mutex::new(Core {
                    probes_in_flight: 0,
                    probe_successes: 0,
                    trips: 0,
                    backoff,
                    rng: entropy_rng(),
                }),
                listener,
                hooks: Hooks::new(&name),
                name,
            }),
        }
    }

    /// Asks to make one call.
    ///
    /// Closed: always granted (a couple of atomic loads, no lock). Open: refused with the
    /// time left in the cool-down, or, once it has ended, the breaker turns half-open and
    /// this call becomes a probe. Half-open: granted while a probe slot is free.
    ///
    /// Report the call's outcome on the [`Permit`]; a permit dropped without a verdict
    /// counts as [ignored](Outcome::Ignore) (a cancelled call) and frees its probe slot.
    ///
    /// # Errors
    ///
    /// [`Rejected`] when open, or half-open with every probe slot taken.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_, C>, Rejected> {
        let word = self.inner.word.load(Acquire);
        if word & 0b11 == CLOSED {
            let start = if self.inner.settings.slow_call.is_some() {
                self.inner.clock.now_nanos()
            } else {
                0
            };
            return Ok(Permit::new(&self.inner, word, start));
        }
        self.inner.acquire_slow(word)
    }

    /// As [`try_acquire`](Self::try_acquire), with a permit that holds a handle to the
    /// breaker instead of borrowing it (tokio's `_owned` convention): for a call that
    /// runs in a spawned task or a future that must be `'static`.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use throng::breaker::Breaker;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let breaker = Breaker::builder().build().expect("valid settings");
    /// let permit = breaker.try_acquire_owned().expect("closed");
    /// tokio::spawn(async move {
    ///     // ... the call ...
    ///     permit.success();
    /// })
    /// .await
    /// .unwrap();
    /// assert_eq!(breaker.metrics().successes, 1);
    /// # }
    /// ```
    #[inline]
    pub fn try_acquire_owned(&self) -> Result<OwnedPermit<C>, Rejected> {
        self.try_acquire()
            .map(|permit| permit.into_owned(self.inner.clone()))
    }

    /// Runs `f` through the breaker, counting an `Err` as a failure and an `Ok` as a
    /// success. See [`call_classified`](Self::call_classified) to decide per error.
    ///
    /// # Errors
    ///
    /// [`CallError::Rejected`] without calling `f` when the breaker refuses;
    /// [`CallError::Inner`] with `f`'s error.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future before it completes drops the permit: the call is
    /// counted as ignored (not as a failure) and a half-open probe slot is freed.
    #[inline]
    pub async fn call<T, E, F, Fut>(&self, f: F) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire().map_err(CallError::Rejected)?;
        let result = f().await;
        permit.record(Outcome::of(&result));
        result.map_err(CallError::Inner)
    }

    /// Runs `f` through the breaker; `classify` decides whether its result was a success,
    /// a failure, or not to be counted (a cancellation, a client error such as "not
    /// found" that says nothing about the downstream's health).
    ///
    /// A panic in `f` counts as a failure and keeps unwinding.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    ///
    /// # Cancel safety
    ///
    /// As [`call`](Self::call): a dropped call is ignored.
    #[inline]
    pub async fn call_classified<T, E, F, Fut, K>(
        &self,
        f: F,
        classify: K,
    ) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        K: FnOnce(&Result<T, E>) -> Outcome,
    {
        let permit = self.try_acquire().map_err(CallError::Rejected)?;
        let result = f().await;
        permit.record(classify(&result));
        result.map_err(CallError::Inner)
    }

    /// The state now. If the cool-down has ended, this turns the breaker half-open (and
    /// emits the event), as the next call would.
    pub fn state(&self) -> State {
        let word = self.inner.word.load(Acquire);
        match state_of(word) {
            State::Open => self.inner.refresh_open(),
            s => s,
        }
    }

    /// Opens the breaker now (for a cool-down), whatever its state: an operator's kill
    /// switch, or a signal from elsewhere that the downstream is down. If it is already
    /// open, the cool-down starts over (and an open → open event is emitted).
    pub fn trip(&self) {
        let now = self.inner.clock.now_nanos();
        let mut core = self.inner.lock();
        let word = self.inner.word.load(Acquire);
        let event = self
            .inner
            .transition(&mut core, word, State::Open, Reason::Tripped, now);
        drop(core);
        self.inner.emit(event);
    }

    /// Closes the breaker now and forgets every count (the consecutive run, the window,
    /// the growing cool-down). Probes in flight become late. Does nothing if closed.
    pub fn reset(&self) {
        let now = self.inner.clock.now_nanos();
        let mut core = self.inner.lock();
        let word = self.inner.word.load(Acquire);
        if state_of(word) == State::Closed {
            return;
        }
        let event = self
            .inner
            .transition(&mut core, word, State::Closed, Reason::Reset, now);
        drop(core);
        self.inner.emit(event);
    }

    /// A snapshot of the counters (see [`BreakerMetrics`]). Like [`state`](Self::state),
    /// notices an ended cool-down.
    pub fn metrics(&self) -> BreakerMetrics {
        let state = self.state();
        let now = self.inner.clock.now_nanos();
        let mut m = BreakerMetrics::new(state);
        self.inner.stats.fill(&mut m);
        m.consecutive_failures = self.inner.consecutive.0.load(Relaxed);
        if let Some(w) = &self.inner.window {
            (m.window_calls, m.window_failures) = w.read(now);
        }
        let core = self.inner.lock();
        m.trips = core.trips;
        m.probes_in_flight = core.probes_in_flight;
        drop(core);
        if state == State::Open {
            let until = self.inner.open_until.load(Acquire);
            m.open_for = Some(Duration::from_nanos(until.saturating_sub(now)));
        }
        m
    }

    /// The clock this breaker reads.
    pub fn clock(&self) -> &C {
        &self.inner.clock
    }

    /// The name given to the builder (`"breaker"` by default).
    pub fn name(&self) -> &str {
        &self.inner.name
    }
}

impl<C: Clock> Inner<C> {
    fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, event: Option<StateChange>) {
        let Some(event) = event else { return };
        self.hooks.state_change(&self.name, &event);
        if let Some(listener) = &self.listener {
            listener(&event);
        }
    }

    fn reject(&self, state: State, retry_after: Option<Duration>) -> Rejected {
        self.stats.count(Counted::Rejected);
        self.hooks.rejected();
        Rejected {
            state,
            retry_after_ns: retry_after
                .map_or(u64::MAX, |d| crate::clock::nanos(d).min(u64::MAX - 1)),
        }
    }

    /// Admission when the word said open or half-open.
    #[cold]
    fn acquire_slow(&self, word: u64) -> Result<Permit<'_, C>, Rejected> {
        let now = self.clock.now_nanos();
        if state_of(word) == State::Open {
            let until = self.open_until.load(Acquire);
            if now < until && self.word.load(Acquire) == word {
                return Err(self.reject(State::Open, Some(Duration::from_nanos(until - now))));
            }
        }
        let mut core = self.lock();
        let mut word = self.word.load(Acquire);
        let mut event = None;
        match state_of(word) {
            State::Closed => {
                drop(core);
                return Ok(Permit::new(self, word, now));
            }
            State::Open => {
                let until = self.open_until.load(Acquire);
                if now < until {
                    drop(core);
                    return Err(self.reject(State::Open, Some(Duration::from_nanos(until - now))));
                }
                event = self.transition(
                    &mut core,
                    word,
                    State::HalfOpen,
                    Reason::CoolDownElapsed,
                    now,
                );
                word = self.word.load(Acquire);
            }
            State::HalfOpen => {}
        }
        let admitted = core.probes_in_flight + core.probe_successes < self.settings.probes;
        if admitted {
            core.probes_in_flight += 1;
        }
        drop(core);
        self.emit(event);
        if admitted {
            Ok(Permit::new(self, word, now))
        } else {
            Err(self.reject(State::HalfOpen, None))
        }
    }

    /// The state when the word said open: half-open once the cool-down has ended.
    fn refresh_open(&self) -> State {
        let now = self.clock.now_nanos();
        if now < self.open_until.load(Acquire) {
            return State::Open;
        }
        let mut core = self.lock();
        let word = self.word.load(Acquire);
        let mut event = None;
        if state_of(word) == State::Open && now >= self.open_until.load(Acquire) {
            event = self.transition(
                &mut core,
                word,
                State::HalfOpen,
                Reason::CoolDownElapsed,
                now,
            );
        }
        let state = state_of(self.word.load(Acquire));
        drop(core);
        self.emit(event);
        state
    }

    /// Records the verdict of a permit admitted under `word`, started at `start`.
    #[inline]
    pub(crate) fn finish(&self, word: u64, start: u64, outcome: Outcome) {
        if outcome == Outcome::Ignore {
            if word & 0b11 == CLOSED {
                self.stats.count(Counted::Ignored);
            } else {
                self.finish_probe(word, Counted::Ignored);
            }
            return;
        }
        let needs_now = self.settings.slow_call.is_some()
            || self.window.as_ref().is_some_and(Tally::needs_clock);
        let now = if needs_now { self.clock.now_nanos() } else { 0 };
        let counted = match (outcome, self.settings.slow_call) {
            (Outcome::Success, Some(slow)) if now.saturating_sub(start) >= slow => Counted::Slow,
            (Outcome::Success, _) => Counted::Success,
            _ => Counted::Failure,
        };
        if word & 0b11 != CLOSED {
            self.finish_probe(word, counted);
            return;
        }
        if self.word.load(Relaxed) != word {
            self.stats.count(Counted::Late);
            return;
        }
        self.stats.count(counted);
        let failed = counted != Counted::Success;
        if let Some(w) = &self.window {
            w.record(failed, now);
        }
        if !failed {
            // Only write the shared line when there is a run to break.
            if self.consecutive.0.load(Relaxed) != 0 {
                self.consecutive.0.store(0, Relaxed);
            }
            return;
        }
        self.judge_failure(word, now);
    }

    /// After a failure in the closed state: trip if a policy says so.
    fn judge_failure(&self, word: u64, now: u64) {
        let run = self.consecutive.0.fetch_add(1, Relaxed) + 1;
        let mut reason = None;
        if self.settings.consecutive.is_some_and(|n| run >= n) {
            reason = Some(Reason::ConsecutiveFailures { count: run });
        } else if let (Some(rate), Some(w)) = (&self.settings.rate, &self.window) {
            let (calls, failures) = w.read(now);
            if calls >= rate.minimum_calls && failures as f64 >= rate.threshold * calls as f64 {
                reason = Some(Reason::FailureRate { failures, calls });
            }
        }
        if let Some(reason) = reason {
            // `now` is only read on the hot path when a window or slow calls need it.
            let now = self.clock.now_nanos();
            let mut core = self.lock();
            let event = if self.word.load(Acquire) == word {
                self.transition(&mut core, word, State::Open, reason, now)
            } else {
                None
            };
            drop(core);
            self.emit(event);
        }
    }

    /// The verdict of a half-open probe.
    #[cold]
    fn finish_probe(&self, word: u64, counted: Counted) {
        let now = self.clock.now_nanos();
        let mut core = self.lock();
        let current = self.word.load(Acquire);
        if current != word {
            drop(core);
            // Ignored stays ignored; a counted verdict arrived after the state moved on.
            self.stats.count(if counted == Counted::Ignored {
                Counted::Ignored
            } else {
                Counted::Late
            });
            return;
        }
        self.stats.count(counted);
        core.probes_in_flight -= 1;
        let event = match counted {
            Counted::Ignored => None,
            Counted::Success => {
                core.probe_successes += 1;
                if core.probe_successes >= self.settings.probes {
                    let probes = core.probe_successes;
                    let now = if now == 0 {
                        self.clock.now_nanos()
                    } else {
                        now
                    };
                    self.transition(
                        &mut core,
                        word,
                        State::Closed,
                        Reason::ProbesSucceeded { probes },
                        now,
                    )
                } else {
                    None
                }
            }
            _ => {
                let now = if now == 0 {
                    self.clock.now_nanos()
                } else {
                    now
                };
                self.transition(&mut core, word, State::Open, Reason::ProbeFailed, now)
            }
        };
        drop(core);
        self.emit(event);
    }

    /// Moves from the state in `word` to `to`, under the lock; returns the event.
    fn transition(
        &self,
        core: &mut Core,
        word: u64,
        to: State,
        reason: Reason,
        now: u64,
    ) -> Option<StateChange> {
        let from = state_of(word);
        let next = next_word(word, to);
        let mut open_for = None;
        core.probes_in_flight = 0;
        core.probe_successes = 0;
        self.consecutive.0.store(0, Relaxed);
        match to {
            State::Open => {
                core.trips += 1;
                let d = match self.settings.cool_down {
                    CoolDown::Fixed(d) => d,
                    CoolDown::Growing(b) => {
                        let Core { backoff, rng, .. } = core;
                        backoff
                            .get_or_insert_with(|| b.state())
                            .next_delay(rng)
                            .unwrap_or(b.max_delay())
                    }
                };
                open_for = Some(d);
                self.open_until
                    .store(now.saturating_add(crate::clock::nanos(d)), Release);
            }
            State::Closed => {
                if let Some(w) = &self.window {
                    w.clear();
                }
                if let CoolDown::Growing(b) = self.settings.cool_down {
                    core.backoff = Some(b.state());
                }
            }
            State::HalfOpen => {}
        }
        self.word.store(next, Release);
        Some(StateChange {
            from,
            to,
            reason,
            at: Duration::from_nanos(now),
            seq: super::state::epoch_of(next),
            open_for,
        })
    }
}

impl<C: fmt::Debug> fmt::Debug for Breaker<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Breaker")
            .field("name", &self.inner.name)
            .field("state", &state_of(self.inner.word.load(Relaxed)))
            .field("settings", &self.inner.settings)
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}
