//! `throng::keyed::KeyedCounters<String>` against the seed's design and the usual
//! concurrent maps, incrementing existing keys through `&str`.
//!
//! - `keyed/inc-1-thread`, `keyed/inc-2-threads`: 10 000 user ids, all inserted first;
//!   each thread increments every id once per iteration in its own shuffled order
//!   (2 threads: scoped threads spawned per iteration, equally for every contestant).
//!   Peers: `seed-rwlock-hashmap` (`RwLock<HashMap<String, AtomicU64>>`, std hasher),
//!   `dashmap` (default hasher), `dashmap-foldhash`, `papaya` (`pin().get`).
//! - `keyed/take_snapshot-100k`: one `take_snapshot` over 100 000 keys that all have a
//!   delta (the increments are done in untimed setup).
//!
//! Run: `cargo bench -p throng-benches --bench keyed`.

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use dashmap::DashMap;
use throng::keyed::KeyedCounters;
use throng_benches::cases::keyed::{dashmap_inc, papaya_inc, shuffled, user_ids, SeedCounters};

const KEYS: usize = 10_000;

/// A contestant's name and its increment function.
type Contestant<'a> = (&'static str, &'a (dyn Fn(&str) + Sync));

fn bench(c: &mut Criterion) {
    let ids = user_ids(KEYS);
    let orders: Vec<_> = (0..2).map(|t| shuffled(KEYS, t + 1)).collect();

    let throng_map = KeyedCounters::<String>::new(NonZeroUsize::new(2 * KEYS).unwrap());
    let seed = SeedCounters::default();
    let dash: DashMap<String, AtomicU64> = DashMap::new();
    let dash_fold: DashMap<String, AtomicU64, foldhash::fast::RandomState> =
        DashMap::with_hasher(foldhash::fast::RandomState::default());
    let pap: papaya::HashMap<String, AtomicU64> = papaya::HashMap::new();
    let contestants: [Contestant<'_>; 5] = [
        ("throng-keyed", &|k| throng_map.inc(k)),
        ("seed-rwlock-hashmap", &|k| seed.inc(k)),
        ("dashmap", &|k| dashmap_inc(&dash, k)),
        ("dashmap-foldhash", &|k| dashmap_inc(&dash_fold, k)),
        ("papaya", &|k| papaya_inc(&pap, k)),
    ];
    for (_, inc) in contestants {
        for id in &ids {
            inc(id);
        }
    }

    let mut g = c.benchmark_group("keyed/inc-1-thread");
    g.throughput(Throughput::Elements(KEYS as u64));
    for (name, inc) in contestants {
        g.bench_function(name, |b| {
            b.iter(|| {
                for &i in &orders[0] {
                    inc(&ids[i]);
                }
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("keyed/inc-2-threads");
    g.throughput(Throughput::Elements(2 * KEYS as u64));
    for (name, inc) in contestants {
        g.bench_function(name, |b| {
            b.iter(|| {
                std::thread::scope(|s| {
                    for order in &orders {
                        let ids = &ids;
                        s.spawn(move || {
                            for &i in order {
                                inc(&ids[i]);
                            }
                        });
                    }
                })
            })
        });
    }
    g.finish();

    let big_ids = user_ids(100_000);
    let big = KeyedCounters::<String>::new(NonZeroUsize::new(100_000).unwrap());
    let mut g = c.benchmark_group("keyed/take_snapshot-100k");
    g.throughput(Throughput::Elements(big_ids.len() as u64));
    g.bench_function("throng-keyed", |b| {
        b.iter_batched(
            || {
                for id in &big_ids {
                    big.inc(id);
                }
            },
            |()| black_box(big.take_snapshot()),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
