//! Property tests of the GCRA maths through the public API on a manual clock.

use std::time::Duration;

use proptest::prelude::*;
use throng::clock::{Clock, ManualClock};
use throng::ratelimit::{CheckNError, Quota, RateLimiter};

#[derive(Debug, Clone)]
enum Op {
    Advance(u64), // microseconds
    Check,
    CheckN(u32),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            3 => (0u64..200_000).prop_map(Op::Advance),
            4 => Just(Op::Check),
            2 => (0u32..12).prop_map(Op::CheckN),
        ],
        1..300,
    )
}

fn quota() -> impl Strategy<Value = Quota> {
    (1u32..1000, 1u32..10, 1u32..20).prop_map(|(count, period_ms, burst)| {
        Quota::per(count, Duration::from_millis(u64::from(period_ms)))
            .burst(burst)
            .build()
            .unwrap()
    })
}

/// Reference model: a token bucket in exact rational arithmetic (tokens scaled by the
/// interval), which GCRA is equivalent to. Capacity `b·T`, refill 1 per ns.
struct Bucket {
    level: u64, // in ns of credit, 0..=b·T
    at: u64,
    t: u64,
    cap: u64,
}

impl Bucket {
    fn take(&mut self, now: u64, n: u32) -> bool {
        self.level = (self.level + (now - self.at)).min(self.cap);
        self.at = now;
        let need = self.t * u64::from(n);
        if need <= self.level {
            self.level -= need;
            true
        } else {
            false
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every decision matches a token bucket of capacity burst·T refilled 1 ns per ns.
    #[test]
    fn gcra_agrees_with_a_token_bucket(q in quota(), ops in ops()) {
        let clock = ManualClock::new();
        let l = RateLimiter::with_clock(q, clock.clone());
        let mut model = Bucket { level: q.tolerance_for_test(), at: 0, t: q.interval_nanos(), cap: q.tolerance_for_test() };
        for op in ops {
            let now = clock.now_nanos();
            match op {
                Op::Advance(us) => clock.advance(Duration::from_micros(us)),
                Op::Check => prop_assert_eq!(l.check().is_ok(), model.take(now, 1)),
                Op::CheckN(n) => {
                    let got = l.check_n(n);
                    if n > q.burst_size() {
                        prop_assert!(matches!(got, Err(CheckNError::InsufficientCapacity(_))));
                    } else {
                        prop_assert_eq!(got.is_ok(), model.take(now, n));
                    }
                }
            }
        }
    }

    /// A refusal names the exact earliest time: a nanosecond earlier is still refused,
    /// at that time it passes (no other checks in between).
    #[test]
    fn refusal_names_the_exact_earliest_time(q in quota(), ops in ops(), n in 1u32..20) {
        let clock = ManualClock::new();
        let l = RateLimiter::with_clock(q, clock.clone());
        for op in ops {
            match op {
                Op::Advance(us) => clock.advance(Duration::from_micros(us)),
                Op::Check => { let _ = l.check(); }
                Op::CheckN(k) => { let _ = l.check_n(k); }
            }
        }
        let n = n.min(q.burst_size());
        if let Err(CheckNError::NotUntil(no)) = l.check_n(n) {
            prop_assert!(no.wait_time() > Duration::ZERO);
            clock.set(no.earliest() - Duration::from_nanos(1));
            prop_assert!(l.check_n(n).is_err());
            clock.set(no.earliest());
            prop_assert!(l.check_n(n).is_ok());
        }
    }

    /// In any window of length L, at most burst + L/T cells pass (GCRA's conformance bound),
    /// however the checks are spread.
    #[test]
    fn no_window_passes_more_than_burst_plus_rate(q in quota(), ops in ops()) {
        let clock = ManualClock::new();
        let l = RateLimiter::with_clock(q, clock.clone());
        let mut passed: Vec<u64> = Vec::new(); // times of passed cells
        for op in ops {
            match op {
                Op::Advance(us) => clock.advance(Duration::from_micros(us)),
                Op::Check => if l.check().is_ok() { passed.push(clock.now_nanos()) },
                Op::CheckN(n) => if n > 0 && l.check_n(n).is_ok() {
                    passed.extend(std::iter::repeat_n(clock.now_nanos(), n as usize));
                },
            }
        }
        let t = q.interval_nanos();
        for i in 0..passed.len() {
            for j in i..passed.len() {
                let cells = (j - i + 1) as u64;
                let window = passed[j] - passed[i];
                prop_assert!(cells <= u64::from(q.burst_size()) + window / t,
                    "{} cells in {} ns", cells, window);
            }
        }
    }

    /// `remaining()` is exact: that many cells pass at once, one more does not.
    #[test]
    fn remaining_is_exact(q in quota(), ops in ops()) {
        let clock = ManualClock::new();
        let l = RateLimiter::with_clock(q, clock.clone());
        for op in ops {
            match op {
                Op::Advance(us) => clock.advance(Duration::from_micros(us)),
                Op::Check => { let _ = l.check(); }
                Op::CheckN(k) => { let _ = l.check_n(k); }
            }
        }
        let r = l.remaining();
        prop_assert!(r <= q.burst_size());
        if r < q.burst_size() {
            prop_assert!(l.check_n(r + 1).is_err());
        }
        prop_assert!(l.check_n(r).is_ok());
        prop_assert_eq!(l.remaining(), 0);
    }

    /// After `replenish_all` of idleness the full burst is back, whatever happened before.
    #[test]
    fn idle_for_replenish_all_restores_the_burst(q in quota(), ops in ops()) {
        let clock = ManualClock::new();
        let l = RateLimiter::with_clock(q, clock.clone());
        for op in ops {
            match op {
                Op::Advance(us) => clock.advance(Duration::from_micros(us)),
                Op::Check => { let _ = l.check(); }
                Op::CheckN(k) => { let _ = l.check_n(k); }
            }
        }
        clock.advance(q.replenish_all());
        prop_assert_eq!(l.remaining(), q.burst_size());
    }
}

/// `Quota` keeps its tolerance private; recompute it here.
trait ToleranceForTest {
    fn tolerance_for_test(&self) -> u64;
}

impl ToleranceForTest for Quota {
    fn tolerance_for_test(&self) -> u64 {
        self.interval_nanos() * u64::from(self.burst_size())
    }
}
