//! Signals: what a wait costs once the signal has fired, and what a fire costs with 100
//! registered waiters, for `throng::signal::Latch` / `Event` against
//! `tokio_util::sync::CancellationToken`, `tokio::sync::Notify` (with a flag, the
//! hand-rolled latch), and the raw primitives they wrap: a closed `Semaphore` (under
//! `Latch`) and `tokio::sync::watch` (under `Event`).
//!
//! Futures are polled by hand with a no-op waker, so no runtime or scheduler is
//! measured: `fire_100_waiters` creates 100 waits, polls each once (registering it),
//! fires, and polls each again to completion.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use throng::signal::{Event, Generation, Latch};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

const WAITERS: usize = 100;

fn poll_ready<F: Future>(fut: Pin<&mut F>) -> F::Output {
    match fut.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("expected ready"),
    }
}

fn poll_pending<F: Future>(fut: Pin<&mut F>) {
    assert!(fut
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_pending());
}

/// The hand-rolled latch: a flag plus `Notify::notify_waiters`.
struct NotifyLatch {
    fired: AtomicBool,
    notify: Notify,
}

impl NotifyLatch {
    fn new() -> Self {
        Self {
            fired: AtomicBool::new(false),
            notify: Notify::new(),
        }
    }
    fn fire(&self) {
        self.fired.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
    async fn wait(&self) {
        if self.fired.load(Ordering::SeqCst) {
            return;
        }
        let mut notified = pin!(self.notify.notified());
        notified.as_mut().enable();
        if self.fired.load(Ordering::SeqCst) {
            return;
        }
        notified.await;
    }
}

fn wait_after_fire(c: &mut Criterion) {
    let mut g = c.benchmark_group("signal/wait_after_fire");
    let latch = Latch::new();
    latch.fire();
    g.bench_function("throng::Latch", |b| {
        b.iter(|| poll_ready(pin!(latch.wait())))
    });
    let token = CancellationToken::new();
    token.cancel();
    g.bench_function("CancellationToken", |b| {
        b.iter(|| poll_ready(pin!(token.cancelled())))
    });
    let nl = NotifyLatch::new();
    nl.fire();
    g.bench_function("Notify+flag", |b| b.iter(|| poll_ready(pin!(nl.wait()))));
    let sem = tokio::sync::Semaphore::new(0);
    sem.close();
    g.bench_function("Semaphore-close", |b| {
        b.iter(|| {
            let _ = poll_ready(pin!(sem.acquire()));
        })
    });
    let tx = watch::Sender::new(true);
    g.bench_function("watch<bool>", |b| {
        b.iter(|| {
            let mut rx = tx.subscribe();
            let _ = poll_ready(pin!(rx.wait_for(|v| *v)));
        })
    });
    g.finish();
}

fn fire_100_waiters(c: &mut Criterion) {
    let mut g = c.benchmark_group("signal/fire_100_waiters");
    g.bench_function(BenchmarkId::new("throng::Latch", WAITERS), |b| {
        b.iter(|| {
            let latch = Latch::new();
            let mut waits: Vec<_> = (0..WAITERS).map(|_| Box::pin(latch.wait())).collect();
            waits.iter_mut().for_each(|w| poll_pending(w.as_mut()));
            latch.fire();
            waits.iter_mut().for_each(|w| poll_ready(w.as_mut()));
        })
    });
    g.bench_function(BenchmarkId::new("CancellationToken", WAITERS), |b| {
        b.iter(|| {
            let token = CancellationToken::new();
            let mut waits: Vec<_> = (0..WAITERS).map(|_| Box::pin(token.cancelled())).collect();
            waits.iter_mut().for_each(|w| poll_pending(w.as_mut()));
            token.cancel();
            waits.iter_mut().for_each(|w| poll_ready(w.as_mut()));
        })
    });
    g.bench_function(BenchmarkId::new("Semaphore-close", WAITERS), |b| {
        b.iter(|| {
            let sem = tokio::sync::Semaphore::new(0);
            let mut waits: Vec<_> = (0..WAITERS).map(|_| Box::pin(sem.acquire())).collect();
            waits.iter_mut().for_each(|w| poll_pending(w.as_mut()));
            sem.close();
            waits.iter_mut().for_each(|w| {
                let _ = poll_ready(w.as_mut());
            });
        })
    });
    g.bench_function(BenchmarkId::new("Notify+flag", WAITERS), |b| {
        b.iter(|| {
            let nl = NotifyLatch::new();
            let mut waits: Vec<_> = (0..WAITERS).map(|_| Box::pin(nl.wait())).collect();
            waits.iter_mut().for_each(|w| poll_pending(w.as_mut()));
            nl.fire();
            waits.iter_mut().for_each(|w| poll_ready(w.as_mut()));
        })
    });
    g.finish();
}

fn event_notify_100_waiters(c: &mut Criterion) {
    let mut g = c.benchmark_group("signal/event_notify_100_waiters");
    // One long-lived event, re-armed every iteration: the steady state of a reload signal.
    let event = Event::new();
    g.bench_function(BenchmarkId::new("throng::Event", WAITERS), |b| {
        b.iter(|| {
            let seen = event.generation();
            let mut waits: Vec<_> = (0..WAITERS)
                .map(|_| Box::pin(event.wait_after(seen)))
                .collect();
            waits.iter_mut().for_each(|w| poll_pending(w.as_mut()));
            let next = event.notify().unwrap();
            waits.iter_mut().for_each(|w| {
                assert_eq!(poll_ready(w.as_mut()).unwrap(), next);
            });
            assert!(next > Generation::ZERO);
        })
    });
    let notify = Notify::new();
    g.bench_function(BenchmarkId::new("Notify::notify_waiters", WAITERS), |b| {
        b.iter(|| {
            let mut waits: Vec<_> = (0..WAITERS).map(|_| Box::pin(notify.notified())).collect();
            waits.iter_mut().for_each(|w| poll_pending(w.as_mut()));
            notify.notify_waiters();
            waits.iter_mut().for_each(|w| poll_ready(w.as_mut()));
        })
    });
    let tx = watch::Sender::new(0u64);
    g.bench_function(BenchmarkId::new("watch<u64>", WAITERS), |b| {
        b.iter(|| {
            let mut rxs: Vec<_> = (0..WAITERS).map(|_| tx.subscribe()).collect();
            {
                let mut waits: Vec<_> = rxs.iter_mut().map(|rx| Box::pin(rx.changed())).collect();
                waits.iter_mut().for_each(|w| poll_pending(w.as_mut()));
                tx.send_modify(|v| *v += 1);
                waits
                    .iter_mut()
                    .for_each(|w| poll_ready(w.as_mut()).unwrap());
            }
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = wait_after_fire, fire_100_waiters, event_notify_100_waiters
}
criterion_main!(benches);
