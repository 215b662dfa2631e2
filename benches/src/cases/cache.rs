//! Scoreboard cases for `throng::cache`, against `moka::sync::Cache` and
//! `quick_cache::sync::Cache` in the same run.
//!
//! The trace: `u64` keys drawn from a Zipf distribution over 100 000 keys with exponent
//! 0.99 (seeded, so every cache sees the same sequence).
//!
//! - `cache.get`: every key resident (inserted beforehand; capacity twice the key count,
//!   so that no cache evicts any: a sharded cache splits its capacity per shard and a
//!   full one would evict from its fullest shards, making this a miss benchmark); 2
//!   threads call `get` along their own Zipf trace. Unit: hits per second (both threads).
//!   Hot keys concentrate on a few shards, so this is the contended read path.
//! - `cache.hitratio.1pct` / `cache.hitratio.10pct`: one thread replays a 2 000 000-request
//!   trace; a miss inserts the key. Capacity 1 % (1 000) and 10 % (10 000) of the keys.
//!   Unit: hit% (hits / requests × 100).

use std::time::Duration;

use throng::cache::Cache;

use super::counter::{interleaved_best, parallel_rate};
use crate::report::{Case, CaseResult};

/// This pattern's cases.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "cache.get",
            run: get,
        },
        Case {
            name: "cache.hitratio.1pct",
            run: hitratio_1pct,
        },
        Case {
            name: "cache.hitratio.10pct",
            run: hitratio_10pct,
        },
    ]
}

/// Number of distinct keys.
pub const KEYS: usize = 100_000;
/// Zipf exponent.
pub const EXPONENT: f64 = 0.99;

/// A seeded Zipf sampler over `0..n`: a precomputed CDF and a binary search.
#[derive(Debug, Clone)]
pub struct Zipf {
    cdf: Vec<f64>,
    rng: fastrand::Rng,
}

impl Zipf {
    /// Keys `0..n`, key `k` drawn with probability proportional to `1 / (k + 1)^s`.
    pub fn new(n: usize, s: f64, seed: u64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for k in 0..n {
            sum += 1.0 / ((k + 1) as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Self {
            cdf,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// The next key.
    pub fn sample(&mut self) -> u64 {
        let u = self.rng.f64();
        let i = self.cdf.partition_point(|&c| c < u);
        // Scatter ranks over the key space so hot keys are not neighbours.
        (i.min(self.cdf.len() - 1) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// `len` keys.
    pub fn trace(&mut self, len: usize) -> Vec<u64> {
        (0..len).map(|_| self.sample()).collect()
    }
}

const THREADS: usize = 2;
const DUR: Duration = Duration::from_millis(300);
const ROUNDS: usize = 5;
const CHUNK: usize = 1024;

fn get() -> CaseResult {
    let keys = KEYS;
    let traces: Vec<Vec<u64>> = (0..THREADS)
        .map(|t| Zipf::new(keys, EXPONENT, 42 + t as u64).trace(1 << 20))
        .collect();
    let all: Vec<u64> = (0..keys as u64)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .collect();

    let throng_c: Cache<u64, u64> = Cache::new(2 * keys as u64).expect("capacity > 0");
    let quick: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(2 * keys);
    let moka_c: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(2 * keys as u64);
    for &k in &all {
        throng_c.insert(k, k);
        quick.insert(k, k);
        moka_c.insert(k, k);
    }
    moka_c.run_pending_tasks();

    let gets: [&(dyn Fn(u64) -> bool + Sync); 3] = [
        &|k| throng_c.get(&k).is_some(),
        &|k| quick.get(&k).is_some(),
        &|k| moka_c.get(&k).is_some(),
    ];
    let traces = &traces;
    let mut rounds: Vec<Box<dyn FnMut() -> f64 + '_>> = gets
        .iter()
        .map(|&get| {
            Box::new(move || {
                parallel_rate(THREADS, DUR, |t| {
                    let tr = &traces[t];
                    // Each call resumes where the last one stopped, wrapping around.
                    thread_local! { static POS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) }; }
                    let start = POS.with(|p| p.get());
                    let mut hits = 0;
                    for &k in &tr[start..start + CHUNK] {
                        hits += u64::from(get(k));
                    }
                    POS.with(|p| p.set((start + CHUNK) % (tr.len() - CHUNK)));
                    hits
                })
            }) as Box<dyn FnMut() -> f64>
        })
        .collect();
    let mut refs: Vec<&mut dyn FnMut() -> f64> = rounds
        .iter_mut()
        .map(|r| &mut **r as &mut dyn FnMut() -> f64)
        .collect();
    let best = interleaved_best(ROUNDS, &mut refs);
    CaseResult {
        name: "cache.get".into(),
        unit: "hits/s",
        throng: best[0],
        peers: vec![("quick_cache".into(), best[1]), ("moka".into(), best[2])],
    }
}

/// Replays `trace` through get-then-insert-on-miss; returns hit% .
pub fn replay(trace: &[u64], get: impl Fn(u64) -> bool, insert: impl Fn(u64)) -> f64 {
    let mut hits = 0usize;
    for &k in trace {
        if get(k) {
            hits += 1;
        } else {
            insert(k);
        }
    }
    hits as f64 * 100.0 / trace.len() as f64
}

/// Hit% of throng, quick_cache and moka at `capacity` on the same trace.
pub fn hit_ratios(capacity: usize, trace: &[u64]) -> [f64; 3] {
    let t: Cache<u64, u64> = Cache::new(capacity as u64).expect("capacity > 0");
    let q: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(capacity);
    let m: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(capacity as u64);
    [
        replay(
            trace,
            |k| t.get(&k).is_some(),
            |k| {
                t.insert(k, k);
            },
        ),
        replay(trace, |k| q.get(&k).is_some(), |k| q.insert(k, k)),
        replay(trace, |k| m.get(&k).is_some(), |k| m.insert(k, k)),
    ]
}

fn hitratio(name: &str, capacity: usize) -> CaseResult {
    let trace = Zipf::new(KEYS, EXPONENT, 7).trace(2_000_000);
    let r = hit_ratios(capacity, &trace);
    CaseResult {
        name: name.into(),
        unit: "hit%",
        throng: r[0],
        peers: vec![("moka".into(), r[2]), ("quick_cache".into(), r[1])],
    }
}

fn hitratio_1pct() -> CaseResult {
    hitratio("cache.hitratio.1pct", KEYS / 100)
}

fn hitratio_10pct() -> CaseResult {
    hitratio("cache.hitratio.10pct", KEYS / 10)
}
