//! The submit grid: try_submit, submit (backpressure), submit_timeout, submit_with_retry.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::settle;
use throng::pool::{
    InvalidPool, JobError, Pool, SubmitError, SubmitRetryError, SubmitTimeoutError, TrySubmitError,
};
use throng::retry::{Backoff, Jitter, StopReason};
use tokio::sync::Semaphore;

/// A pool whose jobs wait for a permit from `gate`, so tests decide when they finish.
fn gated(workers: usize, capacity: usize) -> (Pool<u32, u32>, Arc<Semaphore>) {
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    let pool = Pool::builder()
        .workers(workers)
        .queue_capacity(capacity)
        .spawn(move |n: u32, _| {
            let g = g.clone();
            async move {
                g.acquire().await.expect("gate open").forget();
                n * 10
            }
        })
        .expect("valid config");
    (pool, gate)
}

#[tokio::test(start_paused = true)]
async fn try_submit_hands_back_the_job_when_full() {
    let (pool, gate) = gated(1, 2);
    let running = pool.try_submit(1).unwrap();
    settle().await; // the worker takes job 1, freeing its queue slot
    let q1 = pool.try_submit(2).unwrap();
    let q2 = pool.try_submit(3).unwrap();
    match pool.try_submit(4) {
        Err(TrySubmitError::Full(job)) => assert_eq!(job, 4),
        other => panic!("expected Full(4), got {other:?}"),
    }
    assert_eq!(pool.metrics().rejected, 1);
    assert_eq!(pool.metrics().queued, 2);
    assert_eq!(pool.metrics().running, 1);
    gate.add_permits(3);
    assert_eq!(running.await, Ok(10));
    assert_eq!(q1.await, Ok(20));
    assert_eq!(q2.await, Ok(30));
}

#[tokio::test(start_paused = true)]
async fn try_submit_after_shutdown_is_closed_with_the_job() {
    let (pool, _gate) = gated(1, 2);
    let report = pool.shutdown(Duration::from_secs(1)).await;
    assert!(report.is_clean());
    assert!(pool.is_closed());
    assert_eq!(pool.try_submit(7).unwrap_err(), TrySubmitError::Closed(7));
    assert_eq!(pool.submit(8).await.unwrap_err(), SubmitError(8));
}

#[tokio::test(start_paused = true)]
async fn submit_waits_for_room_then_queues() {
    let (pool, gate) = gated(1, 1);
    let a = pool.submit(1).await.unwrap();
    settle().await;
    let b = pool.submit(2).await.unwrap(); // fills the queue
    let p = pool.clone();
    let waiting = tokio::spawn(async move { p.submit(3).await.map(|_| ()) });
    settle().await;
    assert!(
        !waiting.is_finished(),
        "submit must wait while the queue is full"
    );
    gate.add_permits(1); // job 1 ends, job 2 starts, the queue has room
    settle().await;
    assert!(waiting.is_finished());
    waiting.await.unwrap().unwrap();
    gate.add_permits(2);
    assert_eq!(a.await, Ok(10));
    assert_eq!(b.await, Ok(20));
    let report = pool.shutdown(Duration::from_secs(1)).await;
    assert_eq!((report.accepted, report.completed), (3, 3));
}

#[tokio::test(start_paused = true)]
async fn a_waiting_submit_gets_its_job_back_when_the_pool_closes() {
    let (pool, _gate) = gated(1, 1);
    let _a = pool.submit(1).await.unwrap();
    settle().await;
    let _b = pool.submit(2).await.unwrap();
    let p = pool.clone();
    let waiting = tokio::spawn(async move { p.submit(3).await });
    settle().await;
    let shut = tokio::spawn({
        let p = pool.clone();
        async move { p.shutdown(Duration::from_millis(10)).await }
    });
    assert_eq!(waiting.await.unwrap().unwrap_err(), SubmitError(3));
    let report = shut.await.unwrap();
    assert_eq!(report.accepted, 2);
}

#[tokio::test(start_paused = true)]
async fn submit_timeout_hands_back_the_job_after_the_timeout() {
    let (pool, gate) = gated(1, 1);
    let _a = pool.submit(1).await.unwrap();
    settle().await;
    let _b = pool.submit(2).await.unwrap();
    let start = tokio::time::Instant::now();
    let err = pool
        .submit_timeout(3, Duration::from_millis(250))
        .await
        .unwrap_err();
    assert_eq!(err, SubmitTimeoutError::Timeout(3));
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    gate.add_permits(1);
    settle().await;
    let c = pool
        .submit_timeout(4, Duration::from_millis(250))
        .await
        .unwrap();
    gate.add_permits(2);
    assert_eq!(c.await, Ok(40));
}

fn policy(attempts: u32) -> Backoff {
    Backoff::builder()
        .initial_delay(Duration::from_millis(10))
        .max_delay(Duration::from_millis(80))
        .jitter(Jitter::Full)
        .max_attempts(attempts)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn submit_with_retry_gives_up_with_attempts_and_the_job() {
    let (pool, _gate) = gated(1, 1);
    let _a = pool.submit(1).await.unwrap();
    settle().await;
    let _b = pool.submit(2).await.unwrap();
    match pool.submit_with_retry(3, &policy(4)).await {
        Err(SubmitRetryError::Full {
            job,
            attempts,
            reason,
        }) => {
            assert_eq!((job, attempts, reason), (3, 4, StopReason::Exhausted));
        }
        other => panic!("expected Full after 4 attempts, got {other:?}"),
    }
    assert_eq!(pool.metrics().rejected, 1, "one refused call counts once");
}

#[tokio::test(start_paused = true)]
async fn submit_with_retry_succeeds_once_room_appears() {
    let (pool, gate) = gated(1, 1);
    let _a = pool.submit(1).await.unwrap();
    settle().await;
    let _b = pool.submit(2).await.unwrap();
    let g = gate.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        g.add_permits(1);
    });
    let c = pool.submit_with_retry(3, &policy(20)).await.unwrap();
    gate.add_permits(2);
    assert_eq!(c.await, Ok(30));
}

#[tokio::test(start_paused = true)]
async fn submit_with_retry_stops_at_once_when_the_pool_closes_mid_wait() {
    let (pool, _gate) = gated(1, 1);
    let _a = pool.submit(1).await.unwrap();
    settle().await;
    let _b = pool.submit(2).await.unwrap();
    let slow = Backoff::builder()
        .initial_delay(Duration::from_secs(60))
        .max_delay(Duration::from_secs(60))
        .jitter(Jitter::None)
        .max_attempts(10)
        .build()
        .unwrap();
    let p = pool.clone();
    let retrying = tokio::spawn(async move { p.submit_with_retry(3, &slow).await });
    settle().await;
    let start = tokio::time::Instant::now();
    let _report = pool.shutdown(Duration::ZERO).await;
    let err = retrying.await.unwrap().unwrap_err();
    assert_eq!(err, SubmitRetryError::Closed(3));
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "the 60 s sleep was cut short"
    );
}

#[tokio::test]
async fn invalid_settings_are_typed_errors() {
    let spawn = |b: throng::pool::PoolBuilder| b.spawn(|n: u32, _| async move { n }).map(|_| ());
    assert_eq!(
        spawn(Pool::builder().workers(0)),
        Err(InvalidPool::ZeroWorkers)
    );
    assert_eq!(
        spawn(Pool::builder().queue_capacity(0)),
        Err(InvalidPool::ZeroCapacity)
    );
    assert_eq!(
        spawn(Pool::builder().job_timeout(Duration::ZERO)),
        Err(InvalidPool::ZeroTimeout)
    );
    assert!(spawn(Pool::builder()).is_ok());
}

#[test]
fn spawning_outside_a_runtime_is_an_error_not_a_panic() {
    let err = Pool::builder()
        .spawn(|n: u32, _| async move { n })
        .unwrap_err();
    assert_eq!(err, InvalidPool::NoRuntime);
}

#[tokio::test(start_paused = true)]
async fn handle_ids_rise_in_submission_order() {
    let (pool, gate) = gated(2, 8);
    let handles: Vec<_> = (0..5).map(|n| pool.try_submit(n).unwrap()).collect();
    let ids: Vec<u64> = handles.iter().map(|h| h.id()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    gate.add_permits(5);
    for (n, h) in handles.into_iter().enumerate() {
        assert_eq!(h.await, Ok(n as u32 * 10));
    }
    let _ = JobError::Cancelled; // the enum is public and matchable
}
