//! The backoff policy, its builder and the pure delay maths.

use std::fmt;
use std::time::Duration;

use super::error::InvalidBackoff;

/// How a computed (exponential) delay is randomised before it is slept.
///
/// The variants follow the AWS Architecture Blog analysis "Exponential Backoff And
/// Jitter" (Marc Brooker, 2015). Write `base = min(max_delay, initial_delay *
/// multiplier^n)` for the `n`-th retry (`n` from 0) and `rand(a, b)` for a uniform draw
/// from the closed range `[a, b]`:
///
/// | variant | delay | range |
/// |---|---|---|
/// | [`None`](Jitter::None) | `base` | exactly `base` |
/// | [`Full`](Jitter::Full) | `rand(0, base)` | `[0, base]` |
/// | [`Equal`](Jitter::Equal) | `base/2 + rand(0, base/2)` | `[base/2, base]` |
/// | [`Decorrelated`](Jitter::Decorrelated) | `min(max_delay, rand(initial_delay, prev * 3))` | `[initial_delay, max_delay]` |
///
/// `Decorrelated` ignores the multiplier: each delay depends on the previous *delay*
/// (`prev`, which starts at `initial_delay`), not on the retry number.
///
/// Without jitter, clients that failed together retry together (the seed's
/// `SubmitWithRetry`, S15-7a); `Full` spreads them the most and is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Jitter {
    /// No randomness: the delay is the capped exponential base. Deterministic; for tests
    /// and for single clients only.
    None,
    /// `rand(0, base)`: the fewest total calls in the AWS analysis.
    #[default]
    Full,
    /// `base/2 + rand(0, base/2)`: never shorter than half the base.
    Equal,
    /// `min(max_delay, rand(initial_delay, prev * 3))`: a random walk that is not tied
    /// to the retry number.
    Decorrelated,
}

/// A source of uniform random numbers for jitter.
///
/// Implemented for [`fastrand::Rng`] (seed it with [`fastrand::Rng::with_seed`] for
/// reproducible delays) and for `&mut R`. Implement it yourself to script the draws in
/// a test (always the lowest value, always the highest, a recorded sequence).
///
/// Throng never derives randomness from the wall clock (the seed's `UnixNano() % 10`,
/// S15-6): the default generator of [`retry`](super::retry()) is seeded from the
/// operating system's entropy through [`std::hash::RandomState`].
pub trait RandomSource {
    /// A uniform draw from the closed range `[low, high]`; `low <= high` is guaranteed
    /// by the caller.
    fn between(&mut self, low: u64, high: u64) -> u64;
}

impl RandomSource for fastrand::Rng {
    fn between(&mut self, low: u64, high: u64) -> u64 {
        self.u64(low..=high)
    }
}

impl<R: RandomSource + ?Sized> RandomSource for &mut R {
    fn between(&mut self, low: u64, high: u64) -> u64 {
        (**self).between(low, high)
    }
}

/// A fresh generator seeded from OS entropy (via `RandomState`), never from a clock.
pub(crate) fn entropy_rng() -> fastrand::Rng {
    use std::hash::BuildHasher;
    fastrand::Rng::with_seed(std::hash::RandomState::new().hash_one(0x7468_726f_6e67_u64))
}

/// A validated retry policy: how long to wait between attempts and when to give up.
///
/// Built with [`Backoff::builder`]; every value in it has passed the rules listed on
/// [`InvalidBackoff`]. It is a small `Copy` value: share it freely, and start a fresh
/// [`BackoffState`] (or call [`retry`](super::retry())) for each operation.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use throng::retry::{Backoff, Jitter};
///
/// let policy = Backoff::builder()
///     .initial_delay(Duration::from_millis(10))
///     .multiplier(2.0)
///     .max_delay(Duration::from_millis(50))
///     .jitter(Jitter::None)
///     .max_attempts(5)
///     .build()?;
///
/// // Four waits between five attempts: 10, 20, 40, then capped at 50 ms.
/// let delays: Vec<_> = policy.delays(fastrand::Rng::with_seed(1)).collect();
/// assert_eq!(delays, [10, 20, 40, 50].map(Duration::from_millis));
/// # Ok::<(), throng::retry::InvalidBackoff>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    initial_delay: Duration,
    multiplier: f64,
    max_delay: Duration,
    jitter: Jitter,
    max_attempts: u32,
    max_elapsed: Option<Duration>,
}

/// The builder's defaults (see [`BackoffBuilder`]): 3 attempts (the first and two
/// retries), waits starting at 100 ms and doubling, capped at 10 s, full jitter, no time
/// budget. Sensible for a call to another service on the same network; a caller facing
/// users should set [`max_elapsed`](BackoffBuilder::max_elapsed) too.
///
/// ```
/// use std::time::Duration;
/// use throng::retry::{Backoff, Jitter};
///
/// let policy = Backoff::default();
/// assert_eq!(policy.max_attempts(), 3);
/// assert_eq!(policy.initial_delay(), Duration::from_millis(100));
/// assert_eq!(policy.max_delay(), Duration::from_secs(10));
/// assert_eq!(policy.jitter(), Jitter::Full);
/// assert_eq!(policy.max_elapsed(), None);
/// ```
impl Default for Backoff {
    fn default() -> Self {
        let b = BackoffBuilder::default();
        Self {
            initial_delay: b.initial_delay,
            multiplier: b.multiplier,
            max_delay: b.max_delay,
            jitter: b.jitter,
            max_attempts: b.max_attempts,
            max_elapsed: b.max_elapsed,
        }
    }
}

impl Backoff {
    /// A builder with the documented defaults (see [`BackoffBuilder`]).
    pub fn builder() -> BackoffBuilder {
        BackoffBuilder::default()
    }

    /// The delay before the first retry, before jitter.
    pub fn initial_delay(&self) -> Duration {
        self.initial_delay
    }

    /// The factor by which the base delay grows after each retry (`>= 1.0`).
    pub fn multiplier(&self) -> f64 {
        self.multiplier
    }

    /// The cap on every computed delay (`>= initial_delay`).
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The jitter applied to each delay.
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// The total number of attempts, the first one included (`>= 1`).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The time budget measured from the start of the first attempt, if any.
    ///
    /// A retry is started only if it would start no later than this after the first
    /// attempt began; otherwise retrying stops at once with
    /// [`StopReason::ElapsedExceeded`](super::StopReason::ElapsedExceeded) instead of
    /// sleeping past the budget. `None` (the default) means no time budget: only
    /// [`max_attempts`](Self::max_attempts) bounds the retries.
    pub fn max_elapsed(&self) -> Option<Duration> {
        self.max_elapsed
    }

    /// A fresh delay state for one operation.
    pub fn state(&self) -> BackoffState {
        BackoffState::new(*self)
    }

    /// The waits between attempts, ignoring the time budget: `max_attempts - 1` delays
    /// drawn with `rng`.
    ///
    /// With a seeded generator the sequence is reproducible.
    pub fn delays<R: RandomSource>(&self, rng: R) -> Delays<R> {
        Delays {
            state: self.state(),
            rng,
        }
    }
}

/// Builder for [`Backoff`]; [`build`](Self::build) checks every rule.
///
/// Defaults (all of them; there is no hidden one):
///
/// | setting | default |
/// |---|---|
/// | [`initial_delay`](Self::initial_delay) | 100 ms |
/// | [`multiplier`](Self::multiplier) | 2.0 |
/// | [`max_delay`](Self::max_delay) | 10 s |
/// | [`jitter`](Self::jitter) | [`Jitter::Full`] |
/// | [`max_attempts`](Self::max_attempts) | 3 (the first attempt and two retries) |
/// | [`max_elapsed`](Self::max_elapsed) | none: no time budget unless you set one |
#[must_use = "a builder does nothing until `build` is called"]
#[derive(Debug, Clone, Copy)]
pub struct BackoffBuilder {
    initial_delay: Duration,
    multiplier: f64,
    max_delay: Duration,
    jitter: Jitter,
    max_attempts: u32,
    max_elapsed: Option<Duration>,
}

impl Default for BackoffBuilder {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_millis(100),
            multiplier: 2.0,
            max_delay: Duration::from_secs(10),
            jitter: Jitter::Full,
            max_attempts: 3,
            max_elapsed: None,
        }
    }
}

impl BackoffBuilder {
    /// The delay before the first retry, before jitter. Must be non-zero.
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The growth factor of the base delay. Must be finite and at least 1.0 (1.0 gives a
    /// constant delay).
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// The cap on every computed delay. Must be at least the initial delay.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The jitter applied to each delay.
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The total number of attempts, counting the first one (so `1` means "never
    /// retry"). Must be at least 1: `0` would mean never trying, which the seed did
    /// silently (S15-7d).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// A time budget from the start of the first attempt (see [`Backoff::max_elapsed`]).
    /// Must be non-zero. Not set by default.
    pub fn max_elapsed(mut self, budget: Duration) -> Self {
        self.max_elapsed = Some(budget);
        self
    }

    /// Checks every rule and returns the policy.
    ///
    /// # Errors
    ///
    /// The first broken rule, as an [`InvalidBackoff`] variant (its docs list them all).
    pub fn build(self) -> Result<Backoff, InvalidBackoff> {
        if self.initial_delay.is_zero() {
            return Err(InvalidBackoff::ZeroInitialDelay);
        }
        if !self.multiplier.is_finite() || self.multiplier < 1.0 {
            return Err(InvalidBackoff::Multiplier(self.multiplier));
        }
        if self.max_delay < self.initial_delay {
            return Err(InvalidBackoff::MaxDelayBelowInitial {
                initial_delay: self.initial_delay,
                max_delay: self.max_delay,
            });
        }
        if self.max_attempts == 0 {
            return Err(InvalidBackoff::ZeroAttempts);
        }
        if self.max_elapsed == Some(Duration::ZERO) {
            return Err(InvalidBackoff::ZeroMaxElapsed);
        }
        Ok(Backoff {
            initial_delay: self.initial_delay,
            multiplier: self.multiplier,
            max_delay: self.max_delay,
            jitter: self.jitter,
            max_attempts: self.max_attempts,
            max_elapsed: self.max_elapsed,
        })
    }
}

/// The delay state of one operation: which retry comes next and what it waits.
///
/// Pure and clock-free: [`next_delay`](Self::next_delay) only does arithmetic and draws
/// from the generator you pass, so the maths can be stepped and inspected in tests.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use throng::retry::{Backoff, Jitter};
///
/// let policy = Backoff::builder()
///     .initial_delay(Duration::from_millis(100))
///     .jitter(Jitter::Equal)
///     .max_attempts(3)
///     .build()?;
/// let mut rng = fastrand::Rng::with_seed(42);
/// let mut state = policy.state();
/// assert_eq!(state.base(), Duration::from_millis(100));
/// let first = state.next_delay(&mut rng).unwrap();
/// assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
/// assert_eq!(state.base(), Duration::from_millis(200));
/// assert!(state.next_delay(&mut rng).is_some());
/// assert_eq!(state.next_delay(&mut rng), None); // three attempts, two waits
/// # Ok::<(), throng::retry::InvalidBackoff>(())
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct BackoffState {
    policy: Backoff,
    /// Delays handed out so far (= retries granted).
    retries: u32,
    /// The capped exponential base of the next delay, before jitter.
    base: Duration,
    /// The previous decorrelated delay (starts at `initial_delay`).
    prev: Duration,
}

impl fmt::Debug for BackoffState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackoffState")
            .field("retries", &self.retries)
            .field("base", &self.base)
            .field("prev", &self.prev)
            .finish_non_exhaustive()
    }
}

impl BackoffState {
    fn new(policy: Backoff) -> Self {
        Self {
            policy,
            retries: 0,
            base: policy.initial_delay,
            prev: policy.initial_delay,
        }
    }

    /// The policy this state follows.
    pub fn policy(&self) -> &Backoff {
        &self.policy
    }

    /// How many delays have been handed out (the number of retries granted so far).
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The capped exponential base of the next delay, before jitter. Never decreases.
    pub fn base(&self) -> Duration {
        self.base
    }

    /// The delay before the next attempt, or `None` once `max_attempts - 1` delays have
    /// been handed out (there is no wait after the last attempt, S15-7c).
    ///
    /// Ignores the time budget; [`retry`](super::retry()) checks that against its clock.
    pub fn next_delay<R: RandomSource + ?Sized>(&mut self, rng: &mut R) -> Option<Duration> {
        if self.retries >= self.policy.max_attempts.saturating_sub(1) {
            return None;
        }
        self.retries += 1;
        let base = self.base;
        let delay = match self.policy.jitter {
            Jitter::None => base,
            Jitter::Full => nanos(rng.between(0, as_nanos(base))),
            Jitter::Equal => {
                let b = as_nanos(base);
                let half = b / 2;
                nanos(half + rng.between(0, b - half))
            }
            Jitter::Decorrelated => {
                let low = as_nanos(self.policy.initial_delay);
                let high = as_nanos(self.prev).saturating_mul(3).max(low);
                let d = nanos(rng.between(low, high)).min(self.policy.max_delay);
                self.prev = d;
                d
            }
        };
        if base < self.policy.max_delay {
            self.base = exponential(&self.policy, self.retries).max(base);
        }
        Some(delay)
    }
}

/// `min(max_delay, initial_delay * multiplier^n)`, computed from `n` directly so rounding
/// does not compound; overflow saturates at the cap.
fn exponential(policy: &Backoff, n: u32) -> Duration {
    let factor = policy.multiplier.powi(i32::try_from(n).unwrap_or(i32::MAX));
    match Duration::try_from_secs_f64(policy.initial_delay.as_secs_f64() * factor) {
        Ok(d) => d.min(policy.max_delay),
        Err(_) => policy.max_delay,
    }
}

/// Durations beyond `u64::MAX` nanoseconds (about 584 years) saturate.
fn as_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn nanos(n: u64) -> Duration {
    Duration::from_nanos(n)
}

/// Iterator over the waits between attempts of one policy; see [`Backoff::delays`].
pub struct Delays<R> {
    state: BackoffState,
    rng: R,
}

impl<R> fmt::Debug for Delays<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delays")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<R> Delays<R> {
    /// The underlying state (for inspecting the next base).
    pub fn state(&self) -> &BackoffState {
        &self.state
    }
}

impl<R: RandomSource> Iterator for Delays<R> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.state.next_delay(&mut self.rng)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self
            .state
            .policy
            .max_attempts
            .saturating_sub(1)
            .saturating_sub(self.state.retries) as usize;
        (left, Some(left))
    }
}

impl<R: RandomSource> ExactSizeIterator for Delays<R> {}
