//! The delay maths of `throng::retry::Backoff`: builder rules, jitter bounds, the cap,
//! the monotone base, and reproducibility with a seeded generator.

mod support;

use std::time::Duration;

use proptest::prelude::*;
use support::ms;
use throng::retry::{Backoff, InvalidBackoff, Jitter, RandomSource};

/// Always draws the lowest (`false`) or highest (`true`) value of the range.
struct Extreme(bool);

impl RandomSource for Extreme {
    fn between(&mut self, low: u64, high: u64) -> u64 {
        if self.0 {
            high
        } else {
            low
        }
    }
}

fn policy(jitter: Jitter, attempts: u32) -> Backoff {
    Backoff::builder()
        .initial_delay(ms(100))
        .multiplier(2.0)
        .max_delay(ms(1_000))
        .jitter(jitter)
        .max_attempts(attempts)
        .build()
        .unwrap()
}

#[test]
fn builder_defaults_are_the_documented_ones() {
    let p = Backoff::builder().build().unwrap();
    assert_eq!(p.initial_delay(), ms(100));
    assert_eq!(p.multiplier(), 2.0);
    assert_eq!(p.max_delay(), Duration::from_secs(10));
    assert_eq!(p.jitter(), Jitter::Full);
    assert_eq!(p.max_attempts(), 3);
    assert_eq!(p.max_elapsed(), None, "no hidden time budget");
}

#[test]
fn builder_rejects_each_broken_rule() {
    let b = Backoff::builder;
    assert_eq!(
        b().initial_delay(Duration::ZERO).build(),
        Err(InvalidBackoff::ZeroInitialDelay)
    );
    for m in [0.5, -1.0, f64::INFINITY] {
        assert_eq!(
            b().multiplier(m).build(),
            Err(InvalidBackoff::Multiplier(m))
        );
    }
    assert!(matches!(
        b().multiplier(f64::NAN).build(),
        Err(InvalidBackoff::Multiplier(m)) if m.is_nan()
    ));
    assert_eq!(
        b().initial_delay(ms(500)).max_delay(ms(499)).build(),
        Err(InvalidBackoff::MaxDelayBelowInitial {
            initial_delay: ms(500),
            max_delay: ms(499)
        })
    );
    assert_eq!(
        b().max_elapsed(Duration::ZERO).build(),
        Err(InvalidBackoff::ZeroMaxElapsed)
    );
    // Boundaries that are allowed.
    assert!(b().multiplier(1.0).build().is_ok());
    assert!(b().initial_delay(ms(7)).max_delay(ms(7)).build().is_ok());
    assert!(b().max_attempts(1).build().is_ok());
    // Display is short and lowercase.
    assert_eq!(
        InvalidBackoff::ZeroAttempts.to_string(),
        "max attempts must be at least 1"
    );
}

/// The seed's `SubmitWithRetry(job, maxRetries)` with `maxRetries <= 0` returned
/// `ErrQueueFull` without ever trying. Here 0 attempts is a configuration error.
#[test]
fn s15_7d_zero_attempts_is_a_configuration_error() {
    assert_eq!(
        Backoff::builder().max_attempts(0).build(),
        Err(InvalidBackoff::ZeroAttempts)
    );
}

/// The seed's `maxRetries` counted attempts. Here the name says attempts: `max_attempts(3)`
/// means the first try plus two retries, so two waits.
#[test]
fn s15_7e_max_attempts_counts_the_first_attempt() {
    let p = policy(Jitter::None, 3);
    assert_eq!(p.delays(Extreme(false)).count(), 2);
    assert_eq!(policy(Jitter::None, 1).delays(Extreme(false)).count(), 0);
}

#[test]
fn no_jitter_doubles_then_caps() {
    let delays: Vec<_> = policy(Jitter::None, 7).delays(Extreme(true)).collect();
    assert_eq!(delays, [100, 200, 400, 800, 1_000, 1_000].map(ms));
}

#[test]
fn extreme_draws_reach_each_documented_bound() {
    let lo = |j| policy(j, 3).delays(Extreme(false)).collect::<Vec<_>>();
    let hi = |j| policy(j, 3).delays(Extreme(true)).collect::<Vec<_>>();
    assert_eq!(lo(Jitter::Full), [ms(0), ms(0)]);
    assert_eq!(hi(Jitter::Full), [ms(100), ms(200)]);
    assert_eq!(lo(Jitter::Equal), [ms(50), ms(100)]);
    assert_eq!(hi(Jitter::Equal), [ms(100), ms(200)]);
    // Decorrelated: rand(initial, prev * 3), prev starting at initial, capped.
    assert_eq!(lo(Jitter::Decorrelated), [ms(100), ms(100)]);
    let hi4: Vec<_> = policy(Jitter::Decorrelated, 4)
        .delays(Extreme(true))
        .collect();
    assert_eq!(hi4, [ms(300), ms(900), ms(1_000)]);
}

/// The seed drew its "random" failures from `time.Now().UnixNano() % 10`, which is 100%
/// on a microsecond clock and cannot be replayed. Here jitter comes from an injectable
/// generator: the same seed gives the same delays, and different seeds differ.
#[test]
fn s15_6_seeded_generator_gives_reproducible_delays() {
    let p = policy(Jitter::Full, 20);
    let run = |seed| p.delays(fastrand::Rng::with_seed(seed)).collect::<Vec<_>>();
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

/// The seed slept a fixed `time.Duration(attempt) * 10ms`, so clients that failed together
/// retried together. Full jitter spreads the same retry of many clients over [0, base].
#[test]
fn s15_7a_jitter_spreads_simultaneous_clients() {
    let p = policy(Jitter::Full, 2);
    let firsts: std::collections::HashSet<_> = (0..100)
        .map(|seed| p.delays(fastrand::Rng::with_seed(seed)).next().unwrap())
        .collect();
    assert!(firsts.len() > 90, "only {} distinct delays", firsts.len());
    let none = policy(Jitter::None, 2);
    let fixed: std::collections::HashSet<_> = (0..100)
        .map(|seed| none.delays(fastrand::Rng::with_seed(seed)).next().unwrap())
        .collect();
    assert_eq!(fixed.len(), 1, "without jitter every client waits the same");
}

#[test]
fn state_exposes_base_and_retry_count() {
    let p = policy(Jitter::Equal, 3);
    let mut s = p.state();
    let mut rng = fastrand::Rng::with_seed(1);
    assert_eq!((s.base(), s.retries()), (ms(100), 0));
    s.next_delay(&mut rng).unwrap();
    assert_eq!((s.base(), s.retries()), (ms(200), 1));
    s.next_delay(&mut rng).unwrap();
    assert_eq!(s.next_delay(&mut rng), None);
    assert_eq!(s.retries(), 2);
    let d = p.delays(Extreme(false));
    assert_eq!(d.len(), 2);
}

#[test]
fn huge_values_saturate_instead_of_overflowing() {
    for jitter in [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
    ] {
        let p = Backoff::builder()
            .initial_delay(Duration::from_secs(u64::MAX / 4))
            .multiplier(1e300)
            .max_delay(Duration::MAX)
            .jitter(jitter)
            .max_attempts(5)
            .build()
            .unwrap();
        for high in [false, true] {
            let d: Vec<_> = p.delays(Extreme(high)).collect();
            assert_eq!(d.len(), 4);
            assert!(d.windows(2).all(|w| jitter != Jitter::None || w[0] <= w[1]));
        }
    }
}

fn any_jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated)
    ]
}

prop_compose! {
    fn any_policy()(
        initial in 1u64..=10_000_000_000,
        extra in 0u64..=100_000_000_000,
        multiplier in 1.0f64..16.0,
        jitter in any_jitter(),
        attempts in 1u32..=40,
    ) -> Backoff {
        Backoff::builder()
            .initial_delay(Duration::from_nanos(initial))
            .max_delay(Duration::from_nanos(initial + extra))
            .multiplier(multiplier)
            .jitter(jitter)
            .max_attempts(attempts)
            .build()
            .unwrap()
    }
}

proptest! {
    #[test]
    fn delays_respect_the_bounds_of_their_jitter(p in any_policy(), seed: u64) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut state = p.state();
        let mut prev = p.initial_delay();
        let mut n = 0;
        loop {
            let base = state.base();
            let Some(d) = state.next_delay(&mut rng) else { break };
            n += 1;
            prop_assert!(d <= p.max_delay(), "delay {d:?} above cap");
            match p.jitter() {
                Jitter::None => prop_assert_eq!(d, base),
                Jitter::Full => prop_assert!(d <= base),
                Jitter::Equal => prop_assert!(d >= base / 2 && d <= base),
                Jitter::Decorrelated => {
                    prop_assert!(d >= p.initial_delay() && d <= p.max_delay());
                    prop_assert!(d <= (prev * 3).max(p.initial_delay()));
                    prev = d;
                }
            }
        }
        prop_assert_eq!(n, p.max_attempts() - 1);
    }

    #[test]
    fn base_starts_at_initial_never_decreases_and_stays_capped(p in any_policy(), seed: u64) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut state = p.state();
        prop_assert_eq!(state.base(), p.initial_delay());
        let mut last = state.base();
        while state.next_delay(&mut rng).is_some() {
            prop_assert!(state.base() >= last, "base shrank");
            prop_assert!(state.base() <= p.max_delay(), "base above cap");
            last = state.base();
        }
    }

    #[test]
    fn unjittered_delays_follow_the_capped_exponential(p in any_policy()) {
        let p = Backoff::builder()
            .initial_delay(p.initial_delay())
            .max_delay(p.max_delay())
            .multiplier(p.multiplier())
            .jitter(Jitter::None)
            .max_attempts(p.max_attempts())
            .build()
            .unwrap();
        for (n, d) in p.delays(Extreme(false)).enumerate() {
            let ideal = (p.initial_delay().as_secs_f64() * p.multiplier().powi(n as i32))
                .min(p.max_delay().as_secs_f64());
            let got = d.as_secs_f64();
            prop_assert!((got - ideal).abs() <= ideal * 1e-9 + 1e-9, "n={n} got {got} want {ideal}");
        }
    }

    #[test]
    fn same_seed_same_delays(p in any_policy(), seed: u64) {
        let a: Vec<_> = p.delays(fastrand::Rng::with_seed(seed)).collect();
        let b: Vec<_> = p.delays(fastrand::Rng::with_seed(seed)).collect();
        prop_assert_eq!(a, b);
    }
}
