//! Periodic runner: the per-run overhead of `throng::periodic::Periodic::run` against
//! the hand-written `interval` + `select!` loop it replaces.
//!
//! Both use a 1 ns period with `Burst`, so every tick is already due and nothing sleeps:
//! what is measured is the loop (timer check, cancellation check, context, panic guard),
//! 1,000 no-op runs per iteration on a current-thread runtime.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use throng::periodic::{MissedTicks, Periodic};
use tokio::time::{interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

const RUNS: u64 = 1_000;

fn tick_overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("periodic/tick_overhead");
    g.throughput(Throughput::Elements(RUNS));
    let periodic = Periodic::new(Duration::from_nanos(1))
        .unwrap()
        .missed_ticks(MissedTicks::Burst);
    g.bench_function("throng::Periodic::run", |b| {
        b.iter(|| {
            rt.block_on(async {
                let token = CancellationToken::new();
                let report = periodic
                    .run(token, |ctx| {
                        if ctx.index() + 1 == RUNS {
                            ctx.token().cancel();
                        }
                        async {}
                    })
                    .await;
                assert_eq!(report.runs, RUNS);
            })
        })
    });
    g.bench_function("interval+select", |b| {
        b.iter(|| {
            rt.block_on(async {
                let token = CancellationToken::new();
                let mut iv = interval(Duration::from_nanos(1));
                iv.set_missed_tick_behavior(MissedTickBehavior::Burst);
                let mut runs = 0u64;
                loop {
                    tokio::select! {
                        biased;
                        () = token.cancelled() => break,
                        _ = iv.tick() => {}
                    }
                    runs += 1;
                    async {}.await;
                    if runs == RUNS {
                        token.cancel();
                    }
                }
                assert_eq!(runs, RUNS);
            })
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = tick_overhead
}
criterion_main!(benches);
