//! Graceful shutdown: drain, deadline, cancel, hand back, idempotence, accounting.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use throng::pool::{JobError, Pool, ShutdownReport};

fn balanced<J>(r: &ShutdownReport<J>) -> bool {
    r.accepted == r.completed + r.failed() + r.cancelled + r.not_started
}

/// Jobs sleep `n` ms, then return `n`.
fn sleeper(workers: usize, capacity: usize) -> Pool<u64, u64> {
    Pool::builder()
        .workers(workers)
        .queue_capacity(capacity)
        .spawn(|ms: u64, _| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            ms
        })
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn shutdown_before_the_deadline_completes_every_queued_job() {
    let pool = sleeper(2, 10);
    let handles: Vec<_> = (1..=6).map(|_| pool.try_submit(100).unwrap()).collect();
    let start = tokio::time::Instant::now();
    let report = pool.shutdown(Duration::from_secs(10)).await;
    // 6 jobs of 100 ms on 2 workers: 300 ms, well inside the deadline.
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert!(report.is_clean() && !report.deadline_passed, "{report:?}");
    assert_eq!((report.accepted, report.completed), (6, 6));
    assert!(report.unstarted.is_empty());
    for h in handles {
        assert_eq!(h.await, Ok(100));
    }
}

#[tokio::test(start_paused = true)]
async fn the_deadline_hands_back_unstarted_jobs_and_cancels_running_ones() {
    let pool = Pool::builder()
        .workers(2)
        .queue_capacity(10)
        .cancel_grace(Duration::from_millis(50))
        .spawn(|ms: u64, token| async move {
            if ms == 0 {
                // Ignores its token: it must be dropped after the grace.
                std::future::pending::<()>().await;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(ms)) => ms,
                _ = token.cancelled() => ms + 1_000_000, // cooperates: returns early
            }
        })
        .unwrap();
    let stubborn = pool.try_submit(0).unwrap();
    let polite = pool.try_submit(10_000).unwrap();
    let queued: Vec<_> = (1..=3).map(|n| pool.try_submit(n).unwrap()).collect();
    tokio::task::yield_now().await;
    let start = tokio::time::Instant::now();
    let report = pool.shutdown(Duration::from_millis(200)).await;
    assert!(report.deadline_passed);
    assert_eq!(report.unstarted, vec![1, 2, 3], "handed back, oldest first");
    assert_eq!(report.not_started, 3);
    assert_eq!(
        report.completed, 1,
        "the polite job returned within the grace"
    );
    assert_eq!(report.cancelled, 1, "the stubborn job was dropped");
    assert!(balanced(&report), "{report:?}");
    // Deadline plus grace, no more.
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    assert_eq!(polite.await, Ok(1_010_000));
    assert_eq!(stubborn.await, Err(JobError::Cancelled));
    for h in queued {
        assert_eq!(h.await, Err(JobError::NotStarted));
    }
}

#[tokio::test(start_paused = true)]
async fn shutdown_is_idempotent_and_concurrent_calls_agree() {
    let pool = sleeper(1, 10);
    for _ in 0..5 {
        pool.try_submit(100).unwrap().detach();
    }
    let (a, b) = tokio::join!(
        pool.shutdown(Duration::from_millis(150)),
        pool.shutdown(Duration::from_millis(150))
    );
    // Job 1 completes; job 2 is running at the deadline (150 ms) and finishes inside the
    // default 100 ms grace; jobs 3 to 5 never start.
    for r in [&a, &b] {
        assert_eq!((r.accepted, r.completed, r.not_started), (5, 2, 3));
        assert_eq!(r.cancelled, 0);
        assert!(balanced(r));
    }
    // The unstarted jobs went to exactly one caller.
    assert_eq!(a.unstarted.len() + b.unstarted.len(), 3);
    let c = pool.shutdown(Duration::from_secs(1)).await;
    assert_eq!((c.accepted, c.completed, c.not_started), (5, 2, 3));
    assert!(c.unstarted.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_shutdown_leaves_its_progress_to_the_next_call() {
    let pool = sleeper(1, 10);
    for _ in 0..4 {
        pool.try_submit(1_000).unwrap().detach();
    }
    // Give up on the first shutdown while it is draining.
    let first = tokio::time::timeout(
        Duration::from_millis(500),
        pool.shutdown(Duration::from_secs(3)),
    )
    .await;
    assert!(first.is_err());
    assert!(pool.is_closed(), "intake stays closed");
    let report = pool.shutdown(Duration::from_secs(3)).await;
    // The deadline is counted from the first call: 3 s = 3 jobs done, 1 running.
    assert_eq!(report.accepted, 4);
    assert!(balanced(&report), "{report:?}");
    assert_eq!(report.completed + report.not_started + report.cancelled, 4);
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_closes_the_pool_and_still_runs_queued_jobs() {
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let pool = Pool::builder()
        .workers(1)
        .spawn(move |(), _| {
            let r = r.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                r.fetch_add(1, Ordering::SeqCst);
            }
        })
        .unwrap();
    let handles: Vec<_> = (0..3).map(|_| pool.try_submit(()).unwrap()).collect();
    drop(pool);
    for h in handles {
        assert_eq!(h.await, Ok(()));
    }
    assert_eq!(ran.load(Ordering::SeqCst), 3);
}

// Real time: tokio does not auto-advance paused time while a blocking task runs.
#[tokio::test]
async fn a_blocking_job_that_ignores_cancellation_is_reported_cancelled() {
    let release = Arc::new(std::sync::Barrier::new(2));
    let r = release.clone();
    let pool = Pool::builder()
        .workers(1)
        .cancel_grace(Duration::ZERO)
        .spawn_blocking(move |wait: bool, _token| {
            if wait {
                r.wait();
            }
            1u8
        })
        .unwrap();
    let h = pool.try_submit(true).unwrap();
    // Let the blocking thread start.
    while pool.metrics().running == 0 {
        tokio::task::yield_now().await;
    }
    let report = pool.shutdown(Duration::from_millis(10)).await;
    assert_eq!(report.cancelled, 1);
    assert!(balanced(&report));
    assert_eq!(h.await, Err(JobError::Cancelled));
    release.wait(); // let the detached thread finish
}

#[tokio::test(start_paused = true)]
async fn panicking_timed_out_and_stubborn_jobs_are_all_in_one_report() {
    // Two workers, a 50 ms job timeout, a shutdown deadline at 60 ms, a 10 ms grace.
    // Worker A: slow (0-50, times out), then panic, ok and long (50-, ignores its token).
    // Worker B: wait40 (0-40), then stubborn (40-85, ignores its token).
    // At 60 ms the two never-* jobs are still queued; at 70 ms stubborn and long go.
    let pool = Pool::builder()
        .workers(2)
        .queue_capacity(8)
        .job_timeout(Duration::from_millis(50))
        .cancel_grace(Duration::from_millis(10))
        .spawn(|kind: &'static str, _token| async move {
            let ms = match kind {
                "panic" => panic!("bad input"),
                "slow" => 500,
                "wait40" => 40,
                "stubborn" => 45,
                "long" => 100,
                _ => 0,
            };
            tokio::time::sleep(Duration::from_millis(ms)).await;
            kind
        })
        .unwrap();
    let kinds = [
        "slow", "wait40", "stubborn", "panic", "ok", "long", "never-1", "never-2",
    ];
    let handles: Vec<_> = kinds.iter().map(|k| pool.try_submit(k).unwrap()).collect();
    let report = pool.shutdown(Duration::from_millis(60)).await;
    let mut outcomes = Vec::new();
    for h in handles {
        outcomes.push(h.await);
    }
    assert_eq!(
        outcomes,
        vec![
            Err(JobError::TimedOut),
            Ok("wait40"),
            Err(JobError::Cancelled),
            Err(JobError::Panicked("bad input".into())),
            Ok("ok"),
            Err(JobError::Cancelled),
            Err(JobError::NotStarted),
            Err(JobError::NotStarted),
        ]
    );
    assert_eq!(report.accepted, 8);
    assert_eq!(
        (
            report.completed,
            report.panicked,
            report.timed_out,
            report.cancelled,
            report.not_started
        ),
        (2, 1, 1, 2, 2)
    );
    assert_eq!(report.unstarted, vec!["never-1", "never-2"]);
    assert!(balanced(&report));
}
