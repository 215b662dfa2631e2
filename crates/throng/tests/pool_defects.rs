//! Regression tests for the seed's worker pool defects (S15 in docs/seed-defects.md). S15-6
//! and S15-7 (failure simulation from the clock, the retry loop) live in the retry tests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use throng::pool::{results, InvalidPool, JobError, Pool, TrySubmitError};

fn sleeper(workers: usize, capacity: usize) -> Pool<u64, u64> {
    Pool::builder()
        .workers(workers)
        .queue_capacity(capacity)
        .cancel_grace(Duration::ZERO)
        .spawn(|ms: u64, _| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            ms
        })
        .unwrap()
}

/// S15-1: the seed checked `isShutdown`, released the lock, then sent on a channel that
/// `Shutdown` could close in between: "send on closed channel". Here 8 submitters race a
/// shutdown 300 times; every job is accepted or handed back, and nothing panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s15_1_submit_racing_shutdown_never_panics_and_hands_back_the_job() {
    for _ in 0..300 {
        let pool = sleeper(2, 4);
        let mut submitters = Vec::new();
        for _ in 0..8 {
            let pool = pool.clone();
            submitters.push(tokio::spawn(async move {
                let (mut accepted, mut refused) = (0u64, 0u64);
                for _ in 0..20 {
                    match pool.try_submit(0) {
                        Ok(h) => {
                            h.detach();
                            accepted += 1;
                        }
                        Err(TrySubmitError::Full(0) | TrySubmitError::Closed(0)) => refused += 1,
                        Err(_) => unreachable!("the job handed back is the job sent"),
                    }
                    tokio::task::yield_now().await;
                }
                (accepted, refused)
            }));
        }
        let report = pool.shutdown(Duration::from_secs(1)).await;
        let mut accepted = 0;
        for s in submitters {
            let (a, r) = s.await.expect("a submitter panicked");
            accepted += a;
            assert_eq!(a + r, 20);
        }
        assert_eq!(report.accepted, accepted);
        assert_eq!(report.completed, accepted);
    }
}

/// S15-2: a second `Shutdown` panicked with "close of closed channel".
#[tokio::test(start_paused = true)]
async fn s15_2_a_second_shutdown_returns_the_same_report() {
    let pool = sleeper(1, 4);
    pool.try_submit(10).unwrap().detach();
    let first = pool.shutdown(Duration::from_secs(1)).await;
    let second = pool.shutdown(Duration::from_secs(1)).await;
    assert_eq!((first.accepted, first.completed), (1, 1));
    assert_eq!((second.accepted, second.completed), (1, 1));
}

/// S15-3: on the timeout path the seed never closed `results`, so `for range Results()`
/// blocked forever. Here the stream ends once the last job is accounted for, even when
/// the deadline passed.
#[tokio::test(start_paused = true)]
async fn s15_3_the_results_stream_ends_after_a_shutdown_that_timed_out() {
    let pool = sleeper(1, 8);
    let (tx, mut rx) = results();
    for ms in [10, 1_000, 1_000, 1_000] {
        pool.try_submit(ms).unwrap().forward(&tx);
    }
    drop(tx);
    let report = pool.shutdown(Duration::from_millis(50)).await;
    assert!(report.deadline_passed);
    let mut outcomes = Vec::new();
    let drained = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(f) = rx.recv().await {
            outcomes.push(f.result);
        }
    })
    .await;
    assert!(drained.is_ok(), "the stream must end, not hang");
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(
        outcomes,
        vec![
            Err(JobError::Cancelled),
            Err(JobError::NotStarted),
            Err(JobError::NotStarted),
            Ok(10)
        ]
    );
}

/// S15-4: on timeout the seed's queued jobs vanished and running ones kept going after
/// `Shutdown` returned. Here: 5 jobs, a 50 ms deadline, every job reported, the queued
/// ones handed back, and the running one told to stop through its token.
#[tokio::test(start_paused = true)]
async fn s15_4_a_timed_out_shutdown_accounts_for_every_job() {
    let stopped = Arc::new(AtomicUsize::new(0));
    let s = stopped.clone();
    let pool = Pool::builder()
        .workers(1)
        .queue_capacity(8)
        .spawn(move |n: u32, token| {
            let s = s.clone();
            async move {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(40)) => Ok(n),
                    _ = token.cancelled() => {
                        s.fetch_add(1, Ordering::SeqCst);
                        Err("stopped")
                    }
                }
            }
        })
        .unwrap();
    for n in 0..5 {
        pool.try_submit(n).unwrap().detach();
    }
    let report = pool.shutdown(Duration::from_millis(50)).await;
    assert_eq!(report.accepted, 5);
    // Job 0 done at 40 ms; job 1 running at 50 ms stops on its token; 2..4 handed back.
    assert_eq!(
        report.completed, 2,
        "job 1 returned its own Err after cancellation"
    );
    assert_eq!(report.unstarted, vec![2, 3, 4]);
    assert_eq!(stopped.load(Ordering::SeqCst), 1);
    assert_eq!(
        report.completed + report.failed() + report.cancelled + report.not_started,
        report.accepted
    );
}

/// S15-5: after `cancel()`, the seed's workers picked between `ctx.Done()` and the queue
/// at random, so they could start new jobs after a forced shutdown. Here a worker that
/// frees up after the deadline starts nothing.
#[tokio::test(start_paused = true)]
async fn s15_5_no_job_starts_after_the_deadline() {
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let pool = Pool::builder()
        .workers(1)
        .queue_capacity(8)
        .cancel_grace(Duration::from_millis(100))
        .spawn(move |(), token| {
            s.fetch_add(1, Ordering::SeqCst);
            async move {
                // Finishes soon after cancellation, inside the grace.
                token.cancelled().await;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .unwrap();
    let handles: Vec<_> = (0..4).map(|_| pool.try_submit(()).unwrap()).collect();
    let report = pool.shutdown(Duration::from_millis(10)).await;
    assert_eq!(
        started.load(Ordering::SeqCst),
        1,
        "only the job running at the deadline"
    );
    assert_eq!((report.completed, report.not_started), (1, 3));
    let mut outcomes = Vec::new();
    for h in handles {
        outcomes.push(h.await);
    }
    assert_eq!(
        outcomes[1..],
        [
            Err(JobError::NotStarted),
            Err(JobError::NotStarted),
            Err(JobError::NotStarted)
        ]
    );
}

/// S15-8: one panicking job killed the seed's whole process.
#[tokio::test(start_paused = true)]
async fn s15_8_a_panicking_job_is_contained() {
    let pool = Pool::builder()
        .workers(1)
        .spawn(|n: u32, _| async move {
            if n == 0 {
                panic!("bad job");
            }
            n
        })
        .unwrap();
    let bad = pool.try_submit(0).unwrap();
    let good = pool.try_submit(1).unwrap();
    assert_eq!(bad.await, Err(JobError::Panicked("bad job".into())));
    assert_eq!(good.await, Ok(1));
    let report = pool.shutdown(Duration::from_secs(1)).await;
    assert_eq!((report.completed, report.panicked), (1, 1));
}

/// S15-9: the seed's only output was a shared results channel; if nobody drained it,
/// workers blocked, the queue filled and `Shutdown` timed out. Here nobody reads
/// anything and 10 000 jobs still flow through a queue of 4.
#[tokio::test(start_paused = true)]
async fn s15_9_results_nobody_reads_never_stall_the_workers() {
    let pool = Pool::builder()
        .workers(2)
        .queue_capacity(4)
        .spawn(|n: u64, _| async move { n })
        .unwrap();
    for n in 0..10_000 {
        pool.submit(n).await.unwrap().detach();
    }
    let report = pool.shutdown(Duration::from_secs(1)).await;
    assert!(report.is_clean());
    assert_eq!(report.completed, 10_000);
}

/// S15-10: `NewWorkerPool(0, 4)` accepted jobs and lost them; `queueSize = 0` gave
/// spurious `ErrQueueFull`.
#[tokio::test]
async fn s15_10_zero_workers_and_zero_capacity_are_config_errors() {
    let zero_workers = Pool::builder().workers(0).spawn(|(), _| async {});
    assert_eq!(zero_workers.unwrap_err(), InvalidPool::ZeroWorkers);
    let zero_queue = Pool::builder().queue_capacity(0).spawn(|(), _| async {});
    assert_eq!(zero_queue.unwrap_err(), InvalidPool::ZeroCapacity);
}

/// S15-11: the seed's example returned before its results consumer finished. Here the
/// consumer is joined after shutdown and has seen every result.
#[tokio::test(start_paused = true)]
async fn s15_11_a_joined_results_consumer_sees_every_result() {
    let pool = sleeper(2, 16);
    let (tx, mut rx) = results();
    let consumer = tokio::spawn(async move {
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
        }
        n
    });
    for ms in 1..=10 {
        pool.submit(ms).await.unwrap().forward(&tx);
    }
    drop(tx);
    let report = pool.shutdown(Duration::from_secs(1)).await;
    assert_eq!(consumer.await.unwrap(), 10);
    assert!(report.is_clean());
}

/// S15-12: `interface{}` payloads, no metrics, no per-job timeout. Here jobs and results
/// are typed, the metrics count every state, and a per-job timeout applies.
#[tokio::test(start_paused = true)]
async fn s15_12_typed_jobs_metrics_and_a_per_job_timeout() {
    #[derive(Debug)]
    struct Resize {
        width: u32,
    }
    let pool: Pool<Resize, u32> = Pool::builder()
        .workers(1)
        .job_timeout(Duration::from_millis(100))
        .spawn(|job: Resize, _| async move {
            tokio::time::sleep(Duration::from_millis(u64::from(job.width))).await;
            job.width / 2
        })
        .unwrap();
    let ok = pool.try_submit(Resize { width: 64 }).unwrap();
    let slow = pool.try_submit(Resize { width: 640 }).unwrap();
    assert_eq!(ok.await, Ok(32));
    assert_eq!(slow.await, Err(JobError::TimedOut));
    let m = pool.metrics();
    assert_eq!(
        (m.accepted, m.completed, m.timed_out, m.failed()),
        (2, 1, 1, 1)
    );
    assert_eq!(m.queue_wait_max, Duration::from_millis(64));
}
