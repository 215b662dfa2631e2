//! Scoreboard cases for `throng::ratelimit`.
//!
//! Each case measures checks per second (allowed and denied together; all threads), for
//! throng with its defaults (the quanta clock) and, in the same run, `governor` 0.10 with
//! its defaults (quanta clock too; keyed:
//! `DefaultKeyedRateLimiter`, a DashMap with std's hasher):
//!
//! - `ratelimit.direct` / `ratelimit.direct.2t`: one shared limiter, 1 / 2 threads calling
//!   `check()` in a loop. Quota 10 M/s, burst 1 000: both limiters refuse part of the time
//!   at these rates. Also a `Mutex` token bucket on `Instant` (`mutex-token-bucket`), the
//!   hand-rolled baseline.
//! - `ratelimit.keyed` / `ratelimit.keyed.2t`: 10 000 `String` user ids (all seen
//!   beforehand), each thread checks every id once per pass in its own shuffled order
//!   (through `&str` for throng, `&String` for governor). Quota per user 1 000/s, burst 5,
//!   so hot users are refused part of the time.
//! - `….coarse` variants of the four: throng on a [`CoarseClock`] (1 ms steps, one atomic
//!   load per read) against governor's default clock *and* governor on its own coarse
//!   clock, `QuantaUpkeepClock` with the same 1 ms interval (`governor-upkeep`).

use std::hint::black_box;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::QuantaUpkeepClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter};
use throng::clock::Clock;
use throng::ratelimit::{CoarseClock, KeyedRateLimiter, Quota, RateLimiter};

use super::counter::{interleaved_best, parallel_rate};
use super::keyed::{shuffled, user_ids};
use crate::report::{Case, CaseResult};

/// This pattern's cases.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "ratelimit.direct",
            run: || direct("ratelimit.direct", 1, false),
        },
        Case {
            name: "ratelimit.direct.2t",
            run: || direct("ratelimit.direct.2t", 2, false),
        },
        Case {
            name: "ratelimit.keyed",
            run: || keyed("ratelimit.keyed", 1, false),
        },
        Case {
            name: "ratelimit.keyed.2t",
            run: || keyed("ratelimit.keyed.2t", 2, false),
        },
        Case {
            name: "ratelimit.direct.coarse",
            run: || direct("ratelimit.direct.coarse", 1, true),
        },
        Case {
            name: "ratelimit.direct.coarse.2t",
            run: || direct("ratelimit.direct.coarse.2t", 2, true),
        },
        Case {
            name: "ratelimit.keyed.coarse",
            run: || keyed("ratelimit.keyed.coarse", 1, true),
        },
        Case {
            name: "ratelimit.keyed.coarse.2t",
            run: || keyed("ratelimit.keyed.coarse.2t", 2, true),
        },
    ]
}

/// Direct quota: cells per second and burst.
pub const DIRECT_RATE: u32 = 10_000_000;
/// Direct burst.
pub const DIRECT_BURST: u32 = 1_000;
/// Keyed quota per user: cells per second.
pub const KEYED_RATE: u32 = 1_000;
/// Keyed burst per user.
pub const KEYED_BURST: u32 = 5;
/// User ids in the keyed cases.
pub const KEYS: usize = 10_000;

/// The coarse clocks' step.
pub const COARSE: Duration = Duration::from_millis(1);

/// governor's direct limiter on its upkeep (coarse) clock.
pub type GovernorDirectUpkeep = governor::RateLimiter<
    NotKeyed,
    InMemoryState,
    QuantaUpkeepClock,
    NoOpMiddleware<governor::clock::QuantaInstant>,
>;
/// governor's keyed limiter on its upkeep (coarse) clock.
pub type GovernorKeyedUpkeep = governor::RateLimiter<
    String,
    DashMapStateStore<String>,
    QuantaUpkeepClock,
    NoOpMiddleware<governor::clock::QuantaInstant>,
>;

fn direct_quota() -> Quota {
    Quota::per_second(DIRECT_RATE)
        .burst(DIRECT_BURST)
        .build()
        .expect("valid quota")
}

fn keyed_quota() -> Quota {
    Quota::per_second(KEYED_RATE)
        .burst(KEYED_BURST)
        .build()
        .expect("valid quota")
}

fn governor_direct_quota() -> governor::Quota {
    governor::Quota::per_second(NonZeroU32::new(DIRECT_RATE).unwrap())
        .allow_burst(NonZeroU32::new(DIRECT_BURST).unwrap())
}

fn governor_keyed_quota() -> governor::Quota {
    governor::Quota::per_second(NonZeroU32::new(KEYED_RATE).unwrap())
        .allow_burst(NonZeroU32::new(KEYED_BURST).unwrap())
}

/// throng's direct limiter with the benchmark quota on `clock`.
pub fn throng_direct<C: Clock>(clock: C) -> RateLimiter<C> {
    RateLimiter::with_clock(direct_quota(), clock)
}

/// governor's direct limiter with the same quota and its default (quanta) clock.
pub fn governor_direct() -> DefaultDirectRateLimiter {
    governor::RateLimiter::direct(governor_direct_quota())
}

/// governor's direct limiter on `QuantaUpkeepClock` with a [`COARSE`] interval.
pub fn governor_direct_upkeep() -> GovernorDirectUpkeep {
    let clock = QuantaUpkeepClock::from_interval(COARSE).expect("quanta upkeep thread");
    governor::RateLimiter::direct_with_clock(governor_direct_quota(), clock)
}

/// throng's keyed limiter with the benchmark quota on `clock`.
pub fn throng_keyed<C: Clock>(clock: C) -> KeyedRateLimiter<String, C> {
    KeyedRateLimiter::with_clock(keyed_quota(), NonZeroUsize::new(4 * KEYS).unwrap(), clock)
}

/// governor's default keyed limiter with the same quota.
pub fn governor_keyed() -> DefaultKeyedRateLimiter<String> {
    governor::RateLimiter::keyed(governor_keyed_quota())
}

/// governor's keyed (DashMap) limiter on `QuantaUpkeepClock` with a [`COARSE`] interval.
pub fn governor_keyed_upkeep() -> GovernorKeyedUpkeep {
    let clock = QuantaUpkeepClock::from_interval(COARSE).expect("quanta upkeep thread");
    governor::RateLimiter::dashmap_with_clock(governor_keyed_quota(), clock)
}

/// A coarse clock with a [`COARSE`] step.
pub fn coarse_clock() -> CoarseClock {
    CoarseClock::start(COARSE).expect("coarse clock thread")
}

/// The hand-rolled baseline: a token bucket behind a `Mutex`, refilled on each check.
#[derive(Debug)]
pub struct MutexTokenBucket {
    state: Mutex<(f64, Instant)>,
    per_nano: f64,
    cap: f64,
}

impl MutexTokenBucket {
    /// A full bucket of `burst` tokens refilled at `rate` per second.
    pub fn new(rate: u32, burst: u32) -> Self {
        Self {
            state: Mutex::new((f64::from(burst), Instant::now())),
            per_nano: f64::from(rate) / 1e9,
            cap: f64::from(burst),
        }
    }

    /// Takes one token if there is one.
    pub fn check(&self) -> bool {
        let now = Instant::now();
        let mut s = self.state.lock().unwrap();
        let refill = now.duration_since(s.1).as_nanos() as f64 * self.per_nano;
        s.0 = (s.0 + refill).min(self.cap);
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

const BATCH: usize = 1_000;
const DUR: Duration = Duration::from_millis(250);
const ROUNDS: usize = 5;

fn direct(name: &'static str, threads: usize, coarse: bool) -> CaseResult {
    let precise = throng_direct(throng::clock::QuantaClock::new());
    // Only the coarse cases run refresher threads (they would disturb the others).
    let clock = if coarse {
        coarse_clock()
    } else {
        CoarseClock::manual(throng::clock::MonotonicClock::new())
    };
    let cheap = throng_direct(clock.clone());
    let gov = governor_direct();
    let gov_upkeep = coarse.then(governor_direct_upkeep);
    let mutex = MutexTokenBucket::new(DIRECT_RATE, DIRECT_BURST);
    let ours: &(dyn Fn() -> bool + Sync) = if coarse {
        &|| cheap.check().is_ok()
    } else {
        &|| precise.check().is_ok()
    };
    let third: &(dyn Fn() -> bool + Sync) = if coarse {
        &|| gov_upkeep.as_ref().is_some_and(|g| g.check().is_ok())
    } else {
        &|| mutex.check()
    };
    let checks: [&(dyn Fn() -> bool + Sync); 3] = [ours, &|| gov.check().is_ok(), third];
    let mut rounds: Vec<Box<dyn FnMut() -> f64 + '_>> = checks
        .iter()
        .map(|&check| {
            Box::new(move || {
                parallel_rate(threads, DUR, |_| {
                    for _ in 0..BATCH {
                        black_box(check());
                    }
                    BATCH as u64
                })
            }) as Box<dyn FnMut() -> f64>
        })
        .collect();
    let mut refs: Vec<&mut dyn FnMut() -> f64> = rounds
        .iter_mut()
        .map(|r| &mut **r as &mut dyn FnMut() -> f64)
        .collect();
    let best = interleaved_best(ROUNDS, &mut refs);
    drop(rounds);
    clock.stop();
    CaseResult {
        name: name.into(),
        unit: "checks/s",
        throng: best[0],
        peers: vec![
            ("governor".into(), best[1]),
            (
                if coarse {
                    "governor-upkeep"
                } else {
                    "mutex-token-bucket"
                }
                .into(),
                best[2],
            ),
        ],
    }
}

fn keyed(name: &'static str, threads: usize, coarse: bool) -> CaseResult {
    let ids = user_ids(KEYS);
    let orders: Vec<_> = (0..threads).map(|t| shuffled(KEYS, t as u64 + 1)).collect();
    let precise = throng_keyed(throng::clock::QuantaClock::new());
    let clock = if coarse {
        coarse_clock()
    } else {
        CoarseClock::manual(throng::clock::MonotonicClock::new())
    };
    let cheap = throng_keyed(clock.clone());
    let gov = governor_keyed();
    let gov_upkeep = coarse.then(governor_keyed_upkeep);
    for id in &ids {
        let _ = precise.check(id.as_str());
        let _ = cheap.check(id.as_str());
        let _ = gov.check_key(id);
        if let Some(g) = &gov_upkeep {
            let _ = g.check_key(id);
        }
    }
    let ours: &(dyn Fn(&String) -> bool + Sync) = if coarse {
        &|k| cheap.check(k.as_str()).is_ok()
    } else {
        &|k| precise.check(k.as_str()).is_ok()
    };
    let gov_check = |k: &String| gov.check_key(k).is_ok();
    let upkeep_check = |k: &String| gov_upkeep.as_ref().is_some_and(|g| g.check_key(k).is_ok());
    let mut checks: Vec<&(dyn Fn(&String) -> bool + Sync)> = vec![ours, &gov_check];
    if coarse {
        checks.push(&upkeep_check);
    }
    let (ids, orders) = (&ids, &orders);
    let mut rounds: Vec<Box<dyn FnMut() -> f64 + '_>> = checks
        .iter()
        .map(|&check| {
            Box::new(move || {
                parallel_rate(threads, DUR, |t| {
                    for &i in &orders[t] {
                        black_box(check(&ids[i]));
                    }
                    orders[t].len() as u64
                })
            }) as Box<dyn FnMut() -> f64>
        })
        .collect();
    let mut refs: Vec<&mut dyn FnMut() -> f64> = rounds
        .iter_mut()
        .map(|r| &mut **r as &mut dyn FnMut() -> f64)
        .collect();
    let best = interleaved_best(ROUNDS, &mut refs);
    drop(rounds);
    clock.stop();
    let mut peers = vec![("governor".into(), best[1])];
    if coarse {
        peers.push(("governor-upkeep".into(), best[2]));
    }
    CaseResult {
        name: name.into(),
        unit: "checks/s",
        throng: best[0],
        peers,
    }
}
