//! Regressions for the seed's cancellation defects (S4-1, S4-2, S4-3, S5-2, S5-5, S6-1,
//! S6-2, S7-1, S7-2 in docs/seed-defects.md), each written the Rust way and
//! checked for leaks and latency on paused time. S5-1 (the snippet does not compile) has
//! nothing to regress.
#![cfg(feature = "cancel")]

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use support::{idle_for, MS};
use throng::cancel::{Scope, Stopped};
use tokio::sync::mpsc;
use tokio::time::{sleep, Instant};

/// The seed's `selectExample`, fixed: two producers and a 50 ms timeout, but the producers
/// are spawned into a scope that cancels and joins them before the call returns.
async fn select_example(
    scope: &Scope,
    timeout: Duration,
    live: &Arc<()>,
) -> Result<&'static str, Stopped> {
    let step = scope.child_with_timeout(timeout);
    let (tx1, mut rx1) = mpsc::channel(1);
    let (tx2, mut rx2) = mpsc::channel(1);
    for (tx, after, msg) in [(tx1, 100 * MS, "from ch1"), (tx2, 200 * MS, "from ch2")] {
        let alive = live.clone();
        step.spawn(move |token| async move {
            let _alive = alive;
            tokio::select! {
                _ = token.cancelled() => {}
                _ = sleep(after) => {
                    // Even the send watches the token: no wait ignores cancellation.
                    tokio::select! {
                        _ = token.cancelled() => {}
                        _ = tx.send(msg) => {}
                    }
                }
            }
        });
    }
    let got = step
        .run(async {
            tokio::select! {
                Some(m) = rx1.recv() => m,
                Some(m) = rx2.recv() => m,
            }
        })
        .await;
    let report = step.shutdown(Duration::from_secs(1)).await;
    assert!(report.is_clean());
    got
}

#[tokio::test(start_paused = true)]
async fn s4_1_select_with_timeout_leaks_no_task() {
    // Seed: both senders write to unbuffered channels nobody reads after the 50 ms timeout,
    // so 2 goroutines leak per call (19 still alive 300 ms after 10 calls).
    let scope = Scope::new();
    let live = Arc::new(());
    for _ in 0..10 {
        let start = Instant::now();
        let res = select_example(&scope, 50 * MS, &live).await;
        assert_eq!(res, Err(Stopped::DeadlineExceeded));
        assert_eq!(
            start.elapsed(),
            50 * MS,
            "the timeout is not delayed by the producers"
        );
        assert_eq!(scope.tasks(), 0, "no producer outlives the call");
        assert_eq!(Arc::strong_count(&live), 1, "every producer was dropped");
    }
}

#[tokio::test(start_paused = true)]
async fn s4_1_the_slower_producer_is_stopped_when_the_faster_one_wins() {
    let scope = Scope::new();
    let live = Arc::new(());
    let start = Instant::now();
    let res = select_example(&scope, 150 * MS, &live).await;
    assert_eq!(res, Ok("from ch1"));
    assert_eq!(start.elapsed(), 100 * MS);
    assert_eq!(scope.tasks(), 0);
    assert_eq!(Arc::strong_count(&live), 1);
}

#[tokio::test(start_paused = true)]
async fn s5_2_stop_twice_and_stop_before_start_do_not_panic() {
    // Seed: a second `Stop()` panics with "close of closed channel", and `Stop()` before
    // `Start()` panics with "close of nil channel".
    let scope = Scope::new();
    let report = scope.shutdown(MS).await; // before anything was started
    assert_eq!(report.running, 0);
    scope.cancel();
    scope.cancel();
    let again = scope.shutdown(MS).await;
    assert_eq!(again.running, 0);
}

/// Counts the wake-ups of a future polled by hand, so a test can see a wake-up for
/// nothing (a polling loop's timer) that would otherwise leave no trace.
#[derive(Default)]
struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Wakes {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// The seed's signal-channel `Worker`, written with throng: every wait for work goes
/// through [`Scope::run`], which blocks on "stop or work" (the seed polled with
/// `select { case <-stop: default: … Sleep(100ms) }`).
async fn signal_worker(scope: Scope, mut work: mpsc::Receiver<u32>) -> (u32, Stopped) {
    let mut done = 0;
    loop {
        match scope.run(work.recv()).await {
            Ok(Some(_)) => done += 1,
            Ok(None) => unreachable!("the sender outlives the worker"),
            Err(stopped) => return (done, stopped),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn s5_5_signal_worker_stops_at_once_and_never_wakes_for_nothing() {
    // Seed: the loop wakes every 100 ms even with no work, and notices the stop up to
    // 100 ms late. The worker is polled by hand so every wake-up is counted.
    let scope = Scope::new();
    let (work_tx, work_rx) = mpsc::channel::<u32>(8);
    let wakes = Arc::new(Wakes::default());
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    let mut worker = pin!(signal_worker(scope.clone(), work_rx));
    assert!(worker.as_mut().poll(&mut cx).is_pending());

    idle_for(Duration::from_secs(1)).await;
    assert_eq!(wakes.count(), 0, "woke with no work and no stop");

    work_tx.send(1).await.unwrap();
    work_tx.send(2).await.unwrap();
    assert!(wakes.count() >= 1, "work wakes the worker");
    assert!(worker.as_mut().poll(&mut cx).is_pending());
    let after_work = wakes.count();
    idle_for(Duration::from_secs(1)).await;
    assert_eq!(wakes.count(), after_work, "woke with no work and no stop");

    let stop_at = Instant::now();
    scope.cancel();
    assert!(
        wakes.count() > after_work,
        "the stop wakes the worker at once"
    );
    match worker.as_mut().poll(&mut cx) {
        Poll::Ready((done, stopped)) => {
            assert_eq!(done, 2);
            assert_eq!(stopped, Stopped::Cancelled);
        }
        Poll::Pending => panic!("woken by the stop but still running"),
    }
    assert_eq!(
        Instant::now(),
        stop_at,
        "stop latency is zero, not up to 100 ms"
    );
}

#[tokio::test(start_paused = true)]
async fn s6_1_after_a_timeout_the_abandoned_worker_has_exited() {
    // Seed: `timeoutWork` stops waiting after 1 s, but the worker then blocks forever on
    // `done <- true` (10 of 10 goroutines stuck).
    let live = Arc::new(());
    for _ in 0..10 {
        let scope = Scope::with_timeout(Duration::from_secs(1));
        let alive = live.clone();
        let worker = scope.spawn(move |token| async move {
            let _alive = alive;
            tokio::select! {
                _ = token.cancelled() => Err(Instant::now()),
                _ = sleep(Duration::from_secs(2)) => Ok(()), // the simulated work
            }
        });
        let start = Instant::now();
        let waited = scope.run(worker).await;
        assert_eq!(waited, Err(Stopped::DeadlineExceeded));
        // The worker was told to stop at the deadline, not merely abandoned.
        scope.close_and_wait().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(1),
            "it exited at the deadline"
        );
        assert_eq!(scope.tasks(), 0);
    }
    assert_eq!(Arc::strong_count(&live), 1, "no worker is left");
}

#[tokio::test(start_paused = true)]
async fn s6_1_run_with_timeout_stops_the_thread_it_started() {
    // The same with the work on a plain OS thread that polls the token: the timeout
    // cancels it, and the thread exits.
    let scope = Scope::with_timeout(Duration::from_secs(1));
    let (joined_tx, joined_rx) = std::sync::mpsc::channel();
    let res = scope
        .run_with(|token| async move {
            std::thread::spawn(move || {
                while !token.is_cancelled() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                joined_tx.send(()).unwrap();
            });
            std::future::pending::<()>().await
        })
        .await;
    assert_eq!(res, Err(Stopped::DeadlineExceeded));
    joined_rx
        .recv_timeout(Duration::from_secs(2))
        .expect("the worker thread exited after the timeout");
}

/// The seed's `ContextWorker.DoWork`, written with throng: every step's wait goes
/// through [`Scope::run`], so it watches the scope's token and deadline, and the
/// outcome (completed, cancelled, deadline exceeded) is the one `Scope::run` decides.
async fn do_work(scope: &Scope, steps: u32, step: Duration) -> Result<u32, Stopped> {
    for _ in 0..steps {
        scope.run(sleep(step)).await?;
    }
    Ok(steps)
}

#[tokio::test(start_paused = true)]
async fn s7_1_cancellation_latency_is_zero_not_a_step() {
    // Seed: each step is `default: Sleep(100ms)` that does not watch ctx, so cancelling
    // takes up to 100 ms (longer for longer steps).
    for step in [100 * MS, Duration::from_secs(10)] {
        let scope = Scope::new();
        let s = scope.clone();
        let worker = tokio::spawn(async move {
            let res = do_work(&s, 1000, step).await;
            (res, Instant::now())
        });
        sleep(250 * MS).await;
        let cancelled_at = Instant::now();
        scope.cancel();
        let (res, exited_at) = worker.await.unwrap();
        assert_eq!(res, Err(Stopped::Cancelled), "step {step:?}");
        assert_eq!(exited_at, cancelled_at, "step {step:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn s7_2_completed_cancelled_and_deadline_exceeded_are_distinct() {
    // Seed: `DoWork` has no completion path; it can only return `ctx.Err()`, teaching that
    // timing out is the normal way to finish.
    let start = Instant::now();
    let done = Scope::with_timeout(Duration::from_secs(1));
    assert_eq!(do_work(&done, 3, 100 * MS).await, Ok(3));
    assert_eq!(done.stop_reason(), None, "completing is not stopping");

    // The last step ends in the instant the deadline passes: still a completion.
    let tight = Scope::with_timeout(300 * MS);
    assert_eq!(do_work(&tight, 3, 100 * MS).await, Ok(3));
    assert_eq!(Instant::now() - start, 600 * MS);
    // The next step starts at the deadline: it never runs.
    assert_eq!(
        do_work(&tight, 1, 100 * MS).await,
        Err(Stopped::DeadlineExceeded)
    );
    assert_eq!(Instant::now() - start, 600 * MS);

    let late = Scope::with_timeout(250 * MS);
    assert_eq!(
        do_work(&late, 3, 100 * MS).await,
        Err(Stopped::DeadlineExceeded)
    );
    assert_eq!(Instant::now() - start, 850 * MS, "stopped at the deadline");
    assert_eq!(late.stop_reason(), Some(Stopped::DeadlineExceeded));

    let cancelled = Scope::with_timeout(Duration::from_secs(1));
    let c = cancelled.clone();
    tokio::spawn(async move {
        sleep(150 * MS).await;
        c.cancel();
    });
    assert_eq!(
        do_work(&cancelled, 3, 100 * MS).await,
        Err(Stopped::Cancelled)
    );
    assert_eq!(Instant::now() - start, 1000 * MS, "stopped at the cancel");
    assert_eq!(cancelled.stop_reason(), Some(Stopped::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn s4_2_which_outcome_wins_a_tie_is_documented_and_deterministic() {
    // Seed: "select prevents starvation", but Go's select picks a ready case at random.
    // `run_until` checks in a documented order instead: work that finishes as the deadline
    // passes keeps its value, and work that finishes because of the cancellation does not
    // mask the cancellation.
    for _ in 0..100 {
        let scope = Scope::with_timeout(10 * MS);
        let res = scope.run(async {
            sleep(10 * MS).await;
            "done"
        });
        assert_eq!(res.await, Ok("done"));
    }
    for _ in 0..100 {
        let scope = Scope::new();
        let c = scope.clone();
        tokio::spawn(async move {
            sleep(10 * MS).await;
            c.cancel();
        });
        let res = scope.run_with(|t| async move {
            t.cancelled().await;
            "finished because it was cancelled"
        });
        assert_eq!(res.await, Err(Stopped::Cancelled));
    }
}

#[tokio::test(start_paused = true)]
async fn s4_3_s6_2_one_deadline_covers_a_whole_loop() {
    // Seed: a `time.After` per loop step (one timer allocated per call, collected late
    // before Go 1.23). Here one scope deadline bounds every step of the loop; each call's
    // timer exists only while its step is pending and is dropped with the call, and the
    // loop ends exactly at the shared deadline, not a step later.
    let start = Instant::now();
    let scope = Scope::with_timeout(100 * MS);
    let mut steps = 0;
    let stopped = loop {
        match scope.run(sleep(10 * MS)).await {
            Ok(()) => steps += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(stopped, Stopped::DeadlineExceeded);
    // The step that ends at 100 ms keeps its value (work before deadline); the next call
    // sees the deadline passed and never starts.
    assert_eq!(steps, 10);
    assert_eq!(Instant::now() - start, 100 * MS);
    // Work that is ready at once never creates a timer, and nothing is left behind to
    // fire later: the calls all finish within the instant.
    let quick = Scope::with_timeout(MS);
    for _ in 0..10_000 {
        assert_eq!(quick.run(async { 1 }).await, Ok(1));
    }
    assert_eq!(Instant::now() - start, 100 * MS);
}
