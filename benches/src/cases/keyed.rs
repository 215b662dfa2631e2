//! Scoreboard cases for `throng::keyed`.
//!
//! `keyed.inc`: 10 000 `String` user ids, all inserted beforehand; 2 threads increment
//! them through `&str` keys in a shuffled order (each thread its own order), for
//! `throng::keyed::KeyedCounters<String>` and, in the same run:
//! - `seed-rwlock-hashmap`: the seed's design, `RwLock<HashMap<String, AtomicU64>>` with
//!   std's hasher (read lock, look up, `fetch_add`; write lock to insert);
//! - `dashmap`: `DashMap<String, AtomicU64>` with its default hasher, `get` then
//!   `fetch_add` (the idiom in its docs), `entry().or_default()` on a miss;
//! - `dashmap-foldhash`: the same with foldhash, the hasher throng uses;
//! - `papaya`: `papaya::HashMap<String, AtomicU64>`, `pin().get` then `fetch_add`,
//!   `get_or_insert_with` on a miss.
//!
//! Unit: increments per second (both threads).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use dashmap::DashMap;
use throng::keyed::KeyedCounters;

use super::counter::{interleaved_best, parallel_rate};
use crate::report::{Case, CaseResult};

/// This pattern's cases.
pub fn cases() -> Vec<Case> {
    vec![Case {
        name: "keyed.inc",
        run: inc,
    }]
}

/// `n` distinct user ids.
pub fn user_ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("user-{i:06}")).collect()
}

/// A deterministic pseudo-random permutation of `0..n` for thread `seed`.
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}

/// The seed's design: one `RwLock` around a std `HashMap` of atomics.
#[derive(Debug, Default)]
pub struct SeedCounters {
    map: RwLock<HashMap<String, AtomicU64>>,
}

impl SeedCounters {
    /// The seed's `Inc`: read lock and `fetch_add`; on a miss, write lock and insert.
    pub fn inc(&self, key: &str) {
        if let Some(c) = self.map.read().unwrap().get(key) {
            c.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.map
            .write()
            .unwrap()
            .entry(key.to_owned())
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }
}

/// dashmap's idiom: `get` and `fetch_add`, `entry().or_default()` on a miss.
pub fn dashmap_inc<S: BuildHasher + Clone>(map: &DashMap<String, AtomicU64, S>, key: &str) {
    if let Some(c) = map.get(key) {
        c.fetch_add(1, Ordering::Relaxed);
        return;
    }
    map.entry(key.to_owned())
        .or_default()
        .fetch_add(1, Ordering::Relaxed);
}

/// papaya's idiom: `pin().get` and `fetch_add`, `get_or_insert_with` on a miss.
pub fn papaya_inc(map: &papaya::HashMap<String, AtomicU64>, key: &str) {
    let m = map.pin();
    match m.get(key) {
        Some(c) => c.fetch_add(1, Ordering::Relaxed),
        None => m
            .get_or_insert_with(key.to_owned(), || AtomicU64::new(0))
            .fetch_add(1, Ordering::Relaxed),
    };
}

const KEYS: usize = 10_000;
const THREADS: usize = 2;
const DUR: Duration = Duration::from_millis(250);
const ROUNDS: usize = 5;

/// One round of `inc` over every key, each thread in its own shuffled order.
fn round(ids: &[String], orders: &[Vec<usize>], inc: &(dyn Fn(&str) + Sync)) -> f64 {
    parallel_rate(THREADS, DUR, |t| {
        for &i in &orders[t] {
            inc(&ids[i]);
        }
        orders[t].len() as u64
    })
}

fn inc() -> CaseResult {
    let ids = user_ids(KEYS);
    let orders: Vec<_> = (0..THREADS).map(|t| shuffled(KEYS, t as u64 + 1)).collect();

    let throng_map = KeyedCounters::<String>::new(NonZeroUsize::new(2 * KEYS).unwrap());
    let seed = SeedCounters::default();
    let dash: DashMap<String, AtomicU64> = DashMap::new();
    let dash_fold: DashMap<String, AtomicU64, foldhash::fast::RandomState> =
        DashMap::with_hasher(foldhash::fast::RandomState::default());
    let pap: papaya::HashMap<String, AtomicU64> = papaya::HashMap::new();

    let incs: [&(dyn Fn(&str) + Sync); 5] = [
        &|k| throng_map.inc(k),
        &|k| seed.inc(k),
        &|k| dashmap_inc(&dash, k),
        &|k| dashmap_inc(&dash_fold, k),
        &|k| papaya_inc(&pap, k),
    ];
    for inc in incs {
        for id in &ids {
            inc(id); // insert every key first: the case measures existing keys
        }
    }
    let (ids, orders) = (&ids, &orders);
    let mut rounds: Vec<Box<dyn FnMut() -> f64 + '_>> = incs
        .iter()
        .map(|&inc| Box::new(move || round(ids, orders, inc)) as Box<dyn FnMut() -> f64>)
        .collect();
    let mut refs: Vec<&mut dyn FnMut() -> f64> = rounds
        .iter_mut()
        .map(|r| &mut **r as &mut dyn FnMut() -> f64)
        .collect();
    let best = interleaved_best(ROUNDS, &mut refs);

    CaseResult {
        name: "keyed.inc".into(),
        unit: "ops/s",
        throng: best[0],
        peers: vec![
            ("seed-rwlock-hashmap".into(), best[1]),
            ("dashmap".into(), best[2]),
            ("dashmap-foldhash".into(), best[3]),
            ("papaya".into(), best[4]),
        ],
    }
}
