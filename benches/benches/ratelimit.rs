//! `throng::ratelimit` against governor 0.10, per check (allowed and denied together).
//!
//! - `ratelimit/direct-1-thread`, `ratelimit/direct-2-threads`: `check()` calls on one
//!   shared limiter, 1 000 per iteration on 1 thread, 50 000 per thread per iteration on 2
//!   (scoped threads spawned per iteration, equally for every contestant; the larger batch
//!   keeps the spawn under a few percent). Quota 10 M/s, burst 1 000.
//! - `ratelimit/keyed-1-thread`, `ratelimit/keyed-2-threads`: each thread checks all 10 000
//!   `String` user ids (seen beforehand) once per iteration in its own shuffled order.
//!   Quota per user 1 000/s, burst 5.
//!
//! Contestants: `throng` (default `MonotonicClock`), `throng-coarse` (`CoarseClock`, 1 ms),
//! `governor` (default quanta clock; keyed: DashMap with std's hasher), `governor-upkeep`
//! (`QuantaUpkeepClock`, 1 ms), and for direct a `Mutex` token bucket.
//!
//! Run: `cargo bench -p throng-benches --bench ratelimit`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use throng::clock::MonotonicClock;
use throng_benches::cases::keyed::{shuffled, user_ids};
use throng_benches::cases::ratelimit::{
    coarse_clock, governor_direct, governor_direct_upkeep, governor_keyed, governor_keyed_upkeep,
    throng_direct, throng_keyed, MutexTokenBucket, DIRECT_BURST, DIRECT_RATE, KEYS,
};

const BATCH: u64 = 1_000;
const BATCH_2T: u64 = 50_000;

type Direct<'a> = (&'static str, &'a (dyn Fn() -> bool + Sync));
type Keyed<'a> = (&'static str, &'a (dyn Fn(&String) -> bool + Sync));

fn direct(c: &mut Criterion) {
    let precise = throng_direct(MonotonicClock::new());
    let clock = coarse_clock();
    let coarse = throng_direct(clock.clone());
    let gov = governor_direct();
    let gov_upkeep = governor_direct_upkeep();
    let mutex = MutexTokenBucket::new(DIRECT_RATE, DIRECT_BURST);
    let contestants: [Direct<'_>; 5] = [
        ("throng", &|| precise.check().is_ok()),
        ("throng-coarse", &|| coarse.check().is_ok()),
        ("governor", &|| gov.check().is_ok()),
        ("governor-upkeep", &|| gov_upkeep.check().is_ok()),
        ("mutex-token-bucket", &|| mutex.check()),
    ];
    for threads in [1u64, 2] {
        let mut g = c.benchmark_group(if threads == 1 {
            "ratelimit/direct-1-thread"
        } else {
            "ratelimit/direct-2-threads"
        });
        let batch = if threads == 1 { BATCH } else { BATCH_2T };
        g.throughput(Throughput::Elements(threads * batch));
        for (name, check) in contestants {
            g.bench_function(name, |b| {
                b.iter(|| {
                    if threads == 1 {
                        for _ in 0..BATCH {
                            black_box(check());
                        }
                    } else {
                        std::thread::scope(|s| {
                            for _ in 0..threads {
                                s.spawn(|| {
                                    for _ in 0..batch {
                                        black_box(check());
                                    }
                                });
                            }
                        });
                    }
                })
            });
        }
        g.finish();
    }
    clock.stop();
}

fn keyed(c: &mut Criterion) {
    let ids = user_ids(KEYS);
    let orders: Vec<_> = (0..2).map(|t| shuffled(KEYS, t + 1)).collect();
    let precise = throng_keyed(MonotonicClock::new());
    let clock = coarse_clock();
    let coarse = throng_keyed(clock.clone());
    let gov = governor_keyed();
    let gov_upkeep = governor_keyed_upkeep();
    let contestants: [Keyed<'_>; 4] = [
        ("throng", &|k| precise.check(k.as_str()).is_ok()),
        ("throng-coarse", &|k| coarse.check(k.as_str()).is_ok()),
        ("governor", &|k| gov.check_key(k).is_ok()),
        ("governor-upkeep", &|k| gov_upkeep.check_key(k).is_ok()),
    ];
    for (_, check) in contestants {
        for id in &ids {
            check(id);
        }
    }
    for threads in [1usize, 2] {
        let mut g = c.benchmark_group(if threads == 1 {
            "ratelimit/keyed-1-thread"
        } else {
            "ratelimit/keyed-2-threads"
        });
        g.throughput(Throughput::Elements((threads * KEYS) as u64));
        for (name, check) in contestants {
            g.bench_function(name, |b| {
                b.iter(|| {
                    std::thread::scope(|s| {
                        for order in &orders[..threads] {
                            let ids = &ids;
                            s.spawn(move || {
                                for &i in order {
                                    black_box(check(&ids[i]));
                                }
                            });
                        }
                    })
                })
            });
        }
        g.finish();
    }
    clock.stop();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = direct, keyed
}
criterion_main!(benches);
