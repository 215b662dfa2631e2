//! Stopping the periodic runner: idempotent cancel, join, final run, deadlines, panics,
//! abort, drop. All on paused tokio time.

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use support::{idle_for, ms};
use throng::periodic::{FinalRun, FirstRun, Periodic, PeriodicHandle, Stopped};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const P: Duration = Duration::from_millis(10);

fn counting(periodic: &Periodic, token: CancellationToken) -> (PeriodicHandle, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let c = Arc::clone(&count);
    let handle = periodic
        .spawn(token, move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            async {}
        })
        .unwrap();
    (handle, count)
}

#[test]
fn handles_and_contexts_are_send_and_sync() {
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<PeriodicHandle>();
    is_send_sync::<throng::periodic::RunContext>();
    is_send_sync::<throng::periodic::PeriodicReport>();
    is_send_sync::<Periodic>();
}

#[tokio::test(start_paused = true)]
async fn s5_2_stop_before_the_first_run_and_stop_twice_do_not_panic() {
    // The seed's Stop panicked with "close of nil channel" before Start and with "close
    // of closed channel" on a second call (S5-2).
    let periodic = Periodic::new(P).unwrap().first_run(FirstRun::AfterPeriod);
    let (mut handle, count) = counting(&periodic, CancellationToken::new());
    handle.cancel();
    handle.cancel();
    let first = handle.stop().await;
    let second = handle.stop().await;
    handle.cancel();
    let third = handle.join().await;
    assert_eq!(first.runs, 0);
    assert_eq!(first.stopped, Stopped::Cancelled);
    assert_eq!(first, second);
    assert_eq!(first, third);
    assert_eq!(count.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn s5_2_a_token_cancelled_before_spawn_gives_zero_runs_and_still_flushes() {
    let token = CancellationToken::new();
    token.cancel();
    let flushed = Arc::new(AtomicBool::new(false));
    let f = Arc::clone(&flushed);
    let mut handle = Periodic::new(P)
        .unwrap()
        .final_run(true)
        .spawn(token, move |ctx| {
            assert!(ctx.is_final(), "no regular run after cancellation");
            f.store(true, Ordering::SeqCst);
            async {}
        })
        .unwrap();
    let report = handle.join().await;
    assert_eq!(report.runs, 0);
    assert_eq!(report.final_run, FinalRun::Completed);
    assert!(flushed.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn s5_3_each_spawn_returns_its_own_handle_and_neither_is_orphaned() {
    // The seed's second Start overwrote the stop channel, so the first worker could
    // never be stopped (S5-3). Here a second spawn is a second, independent runner.
    let periodic = Periodic::new(P).unwrap();
    let parent = CancellationToken::new();
    let (mut first, first_count) = counting(&periodic, parent.clone());
    let (mut second, second_count) = counting(&periodic, parent.clone());
    tokio::time::sleep(ms(15)).await;
    let r1 = first.stop().await;
    assert_eq!(r1.runs, 2);
    assert!(first.is_finished());
    assert!(
        !second.is_finished(),
        "stopping one handle leaves the other running"
    );
    assert!(
        !parent.is_cancelled(),
        "the handle cancels a child token only"
    );
    tokio::time::sleep(ms(20)).await;
    let r2 = second.stop().await;
    assert_eq!(r2.runs, 4);
    assert_eq!(first_count.load(Ordering::SeqCst), 2);
    assert_eq!(second_count.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn s5_4_join_waits_until_the_runner_has_released_its_resources() {
    // The seed's Stop returned while the worker was still running (S5-4).
    let released = Arc::new(AtomicBool::new(false));
    let r = Arc::clone(&released);
    let mut handle = Periodic::new(P)
        .unwrap()
        .final_run(true)
        .spawn(CancellationToken::new(), move |ctx| {
            let r = Arc::clone(&r);
            async move {
                if ctx.is_final() {
                    tokio::time::sleep(ms(30)).await; // a slow flush
                    r.store(true, Ordering::SeqCst);
                }
            }
        })
        .unwrap();
    tokio::time::sleep(ms(5)).await;
    handle.cancel();
    tokio::task::yield_now().await;
    assert!(!released.load(Ordering::SeqCst), "cancel does not wait");
    let start = Instant::now();
    let report = handle.join().await;
    assert!(
        released.load(Ordering::SeqCst),
        "join waited for the final run"
    );
    assert_eq!(Instant::now() - start, ms(30));
    assert_eq!(report.final_run, FinalRun::Completed);
}

/// Counts the wake-ups of a future polled by hand.
#[derive(Default)]
struct Wakes(AtomicU64);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn s5_5_the_runner_wakes_only_for_ticks_and_cancel_interrupts_the_wait_at_once() {
    // The seed polled with `select { default: … Sleep(100ms) }`: a wake-up every 100 ms
    // with nothing to do, and the stop noticed up to 100 ms late. The runner is polled by
    // hand so that every wake-up is counted.
    let token = CancellationToken::new();
    let runs = AtomicU64::new(0);
    let wakes = Arc::new(Wakes::default());
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    let periodic = Periodic::new(Duration::from_secs(1)).unwrap();
    let mut runner = pin!(periodic.run(token.clone(), |_| {
        runs.fetch_add(1, Ordering::SeqCst);
        async {}
    }));
    assert!(runner.as_mut().poll(&mut cx).is_pending());
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the first run is immediate");

    idle_for(ms(990)).await;
    assert_eq!(wakes.0.load(Ordering::SeqCst), 0, "woke between ticks");
    idle_for(ms(10)).await;
    assert_eq!(
        wakes.0.load(Ordering::SeqCst),
        1,
        "one wake-up for the tick"
    );
    assert!(runner.as_mut().poll(&mut cx).is_pending());
    assert_eq!(runs.load(Ordering::SeqCst), 2);

    idle_for(ms(500)).await;
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "woke between ticks");
    let start = Instant::now();
    token.cancel();
    assert_eq!(
        wakes.0.load(Ordering::SeqCst),
        2,
        "the cancel wakes the runner"
    );
    let Poll::Ready(report) = runner.as_mut().poll(&mut cx) else {
        panic!("woken by the cancel but still waiting for the next tick");
    };
    assert_eq!(
        Instant::now(),
        start,
        "no time passed between cancel and exit"
    );
    assert_eq!(report.runs, 2);
    assert_eq!(report.stopped, Stopped::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn final_run_flushes_the_last_interval_after_cancel() {
    let token = CancellationToken::new();
    let runs = Arc::new(std::sync::Mutex::new(Vec::new()));
    let r = Arc::clone(&runs);
    let mut handle = Periodic::new(P)
        .unwrap()
        .final_run(true)
        .spawn(token.clone(), move |ctx| {
            r.lock().unwrap().push((ctx.index(), ctx.is_final()));
            async {}
        })
        .unwrap();
    tokio::time::sleep(ms(25)).await;
    token.cancel();
    let report = handle.join().await;
    assert_eq!(report.runs, 3);
    assert_eq!(report.final_run, FinalRun::Completed);
    assert_eq!(
        *runs.lock().unwrap(),
        [(0, false), (1, false), (2, false), (3, true)]
    );
}

#[tokio::test(start_paused = true)]
async fn without_final_run_nothing_runs_after_cancel() {
    let (mut handle, count) = counting(&Periodic::new(P).unwrap(), CancellationToken::new());
    tokio::time::sleep(ms(25)).await;
    let report = handle.stop().await;
    assert_eq!(report.final_run, FinalRun::Disabled);
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn final_run_deadline_bounds_a_stuck_flush() {
    let mut handle = Periodic::new(P)
        .unwrap()
        .first_run(FirstRun::AfterPeriod)
        .final_run(true)
        .final_run_deadline(ms(50))
        .spawn(CancellationToken::new(), |ctx| async move {
            if ctx.is_final() {
                std::future::pending::<()>().await;
            }
        })
        .unwrap();
    let start = Instant::now();
    let report = handle.stop().await;
    assert_eq!(Instant::now() - start, ms(50));
    assert_eq!(report.final_run, FinalRun::TimedOut);
    assert_eq!(report.stopped, Stopped::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn a_run_in_progress_finishes_before_the_final_run() {
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let o = Arc::clone(&order);
    let mut handle = Periodic::new(P)
        .unwrap()
        .final_run(true)
        .spawn(CancellationToken::new(), move |ctx| {
            let o = Arc::clone(&o);
            async move {
                o.lock().unwrap().push(format!("start {}", ctx.index()));
                if !ctx.is_final() {
                    tokio::time::sleep(ms(100)).await;
                }
                o.lock().unwrap().push(format!("end {}", ctx.index()));
            }
        })
        .unwrap();
    tokio::time::sleep(ms(5)).await;
    let report = handle.stop().await;
    assert_eq!(report.runs, 1);
    assert_eq!(
        *order.lock().unwrap(),
        ["start 0", "end 0", "start 1", "end 1"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_run_is_reported_not_propagated() {
    let mut handle = Periodic::new(P)
        .unwrap()
        .final_run(true)
        .spawn(CancellationToken::new(), |ctx| async move {
            if ctx.index() == 2 {
                panic!("boom at {}", ctx.index());
            }
        })
        .unwrap();
    let report = handle.join().await; // ends on its own: the panic stops the runner
    assert_eq!(report.runs, 3);
    assert_eq!(report.final_run, FinalRun::Skipped);
    let panic = report.panic().expect("panic reported");
    assert_eq!(panic.index(), 2);
    assert!(!panic.is_final());
    assert_eq!(panic.message(), "boom at 2");
    assert_eq!(panic.to_string(), "periodic run 2 panicked: boom at 2");
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_the_closure_itself_is_caught_too() {
    let token = CancellationToken::new();
    let report = Periodic::new(P)
        .unwrap()
        .run(token, |ctx| {
            if ctx.index() == 1 {
                panic!("closure");
            }
            async {}
        })
        .await;
    assert_eq!(report.runs, 2);
    assert_eq!(report.final_run, FinalRun::Disabled);
    assert_eq!(report.panic().unwrap().message(), "closure");
}

#[tokio::test(start_paused = true)]
async fn a_panicking_final_run_is_reported() {
    let mut handle = Periodic::new(P)
        .unwrap()
        .final_run(true)
        .spawn(CancellationToken::new(), |ctx| async move {
            if ctx.is_final() {
                panic!("flush failed");
            }
        })
        .unwrap();
    tokio::time::sleep(ms(15)).await;
    let report = handle.stop().await;
    assert_eq!(report.runs, 2);
    assert_eq!(report.final_run, FinalRun::Panicked);
    let panic = report.panic().unwrap();
    assert!(panic.is_final());
    assert_eq!(panic.index(), 2);
}

#[tokio::test(start_paused = true)]
async fn abort_drops_a_stuck_run_and_reports_aborted() {
    let mut handle = Periodic::new(P)
        .unwrap()
        .final_run(true)
        .spawn(CancellationToken::new(), |_| std::future::pending::<()>())
        .unwrap();
    tokio::task::yield_now().await;
    assert_eq!(handle.runs(), 1);
    // A bounded join of a stuck run times out but leaves the handle usable.
    assert!(tokio::time::timeout(ms(50), handle.stop()).await.is_err());
    handle.abort();
    handle.abort();
    let report = handle.join().await;
    assert_eq!(report.stopped, Stopped::Aborted);
    assert_eq!(report.runs, 1);
    assert_eq!(report.final_run, FinalRun::Skipped);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_handle_cancels_the_runner_but_detach_does_not() {
    let periodic = Periodic::new(P).unwrap();
    let (handle, dropped_count) = counting(&periodic, CancellationToken::new());
    let parent = CancellationToken::new();
    let (detached, detached_count) = counting(&periodic, parent.clone());
    tokio::task::yield_now().await;
    drop(handle);
    detached.detach();
    tokio::time::sleep(ms(35)).await;
    assert_eq!(dropped_count.load(Ordering::SeqCst), 1);
    assert_eq!(detached_count.load(Ordering::SeqCst), 4);
    parent.cancel();
    tokio::time::sleep(ms(35)).await;
    assert_eq!(detached_count.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_parent_token_stops_every_runner() {
    let parent = CancellationToken::new();
    let periodic = Periodic::new(P).unwrap().final_run(true);
    let mut handles: Vec<_> = (0..3)
        .map(|_| periodic.spawn(parent.clone(), |_| async {}).unwrap())
        .collect();
    tokio::time::sleep(ms(25)).await;
    parent.cancel();
    for h in &mut handles {
        let report = h.join().await;
        assert!(h.is_cancelled());
        assert_eq!(report.runs, 3);
        assert_eq!(report.final_run, FinalRun::Completed);
    }
}

#[test]
fn spawn_on_an_explicit_runtime_works_from_outside_it() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let mut handle =
        Periodic::new(P)
            .unwrap()
            .spawn_on(rt.handle(), CancellationToken::new(), |_| async {});
    let report = rt.block_on(async {
        tokio::time::sleep(ms(15)).await;
        handle.stop().await
    });
    assert_eq!(report.runs, 2);
}

#[tokio::test(start_paused = true)]
async fn abort_without_a_configured_final_run_reports_it_disabled() {
    let mut handle = Periodic::new(P)
        .unwrap()
        .spawn(CancellationToken::new(), |_| std::future::pending::<()>())
        .unwrap();
    tokio::task::yield_now().await;
    handle.abort();
    let report = handle.join().await;
    assert_eq!(report.stopped, Stopped::Aborted);
    assert_eq!(report.final_run, FinalRun::Disabled);
}
