//! What `throng::cancel` costs on the fast path: awaiting an already-ready future through
//! `Scope::run` (no deadline, and with a deadline), through `run_until` on a bare token,
//! through `tokio::time::timeout`, and bare `.await`, all in one group on a current-thread
//! runtime, plus the cost of spawning a task into a scope vs `tokio::spawn` and
//! `TaskTracker::spawn` (spawn + join), and the per-poll cost of a scope's supervision with
//! 64 tasks yielding on 2 worker threads. Each ready-future and spawn sample runs its iterations inside one
//! `block_on`, so the runtime's entry cost is not counted.
//!
//! Run: `cargo bench -p throng-benches --bench cancel`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use throng::cancel::{run_until, CancellationToken, Scope, TaskTracker};
use tokio::runtime::Builder;

/// Times `iters` sequential runs of `op` inside one `block_on`.
macro_rules! timed_loop {
    ($rt:expr, $iters:expr, $op:expr) => {
        $rt.block_on(async {
            let start = Instant::now();
            for _ in 0..$iters {
                let _ = black_box($op);
            }
            start.elapsed()
        })
    };
}

fn ready_future(c: &mut Criterion) {
    let rt = Builder::new_current_thread().enable_time().build().unwrap();
    let mut g = c.benchmark_group("cancel/ready_future");
    let _enter = rt.enter();
    let scope = Scope::new();
    let timed = Scope::with_timeout(Duration::from_secs(3600));
    let token = CancellationToken::new();

    g.bench_function("bare_await", |b| {
        b.iter_custom(|n| timed_loop!(rt, n, async { 1u64 }.await))
    });
    g.bench_function("tokio_timeout", |b| {
        b.iter_custom(|n| {
            timed_loop!(
                rt,
                n,
                tokio::time::timeout(Duration::from_secs(3600), async { 1u64 }).await
            )
        })
    });
    g.bench_function("scope_run", |b| {
        b.iter_custom(|n| timed_loop!(rt, n, scope.run(async { 1u64 }).await))
    });
    g.bench_function("scope_run_deadline", |b| {
        b.iter_custom(|n| timed_loop!(rt, n, timed.run(async { 1u64 }).await))
    });
    g.bench_function("run_until_token", |b| {
        b.iter_custom(|n| timed_loop!(rt, n, run_until(&token, None, async { 1u64 }).await))
    });
    g.bench_function("scope_run_with", |b| {
        b.iter_custom(|n| timed_loop!(rt, n, timed.run_with(|_t| async { 1u64 }).await))
    });
    g.finish();
}

fn spawn_join(c: &mut Criterion) {
    let rt = Builder::new_current_thread().enable_time().build().unwrap();
    let mut g = c.benchmark_group("cancel/spawn_join");
    let _enter = rt.enter();
    let scope = Scope::new();
    let tracker = TaskTracker::new();

    g.bench_function("tokio_spawn", |b| {
        b.iter_custom(|n| timed_loop!(rt, n, tokio::spawn(async { 1u64 }).await.unwrap()))
    });
    g.bench_function("task_tracker_spawn", |b| {
        b.iter_custom(|n| timed_loop!(rt, n, tracker.spawn(async { 1u64 }).await.unwrap()))
    });
    g.bench_function("scope_spawn", |b| {
        b.iter_custom(|n| timed_loop!(rt, n, scope.spawn(|_t| async { 1u64 }).await.unwrap()))
    });
    g.finish();
}

/// Per-poll overhead under contention: 64 tasks on a 2-worker runtime, each yielding 200
/// times, spawned into one scope vs into a bare `TaskTracker`.
fn many_polls(c: &mut Criterion) {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("cancel/many_polls");
    g.sample_size(20);
    async fn yielder() {
        for _ in 0..200 {
            tokio::task::yield_now().await;
        }
    }
    g.bench_function("task_tracker_spawn", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tracker = TaskTracker::new();
                for _ in 0..64 {
                    tracker.spawn(yielder());
                }
                tracker.close();
                tracker.wait().await;
            })
        })
    });
    g.bench_function("scope_spawn", |b| {
        b.iter(|| {
            rt.block_on(async {
                let scope = Scope::new();
                for _ in 0..64 {
                    scope.spawn(|_t| yielder());
                }
                scope.close_and_wait().await;
            })
        })
    });
    g.finish();
}

criterion_group!(benches, ready_future, spawn_join, many_polls);
criterion_main!(benches);
