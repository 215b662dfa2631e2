//! Pool as a tower Service: poll_ready holds a queue slot (backpressure), call fills
//! it, no call without ready, the slot is given back on drop, closed is an error.
#![cfg(all(feature = "tower", feature = "pool"))]

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use support::settle;
use throng::pool::{JobError, Pool, TrySubmitError};
use throng::tower::{PoolService, PoolServiceError};
use tokio::sync::Semaphore;
use tower::{Service, ServiceExt};

/// One worker; each job waits for a permit from `gate`. Job 99 panics.
fn gated(capacity: usize) -> (Pool<u32, u32>, Arc<Semaphore>) {
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    let pool = Pool::builder()
        .workers(1)
        .queue_capacity(capacity)
        .spawn(move |n: u32, _| {
            let g = g.clone();
            async move {
                assert_ne!(n, 99, "job 99 panics");
                g.acquire().await.expect("gate open").forget();
                n * 10
            }
        })
        .unwrap();
    (pool, gate)
}

#[tokio::test]
async fn smoke() {
    let (pool, gate) = gated(4);
    gate.add_permits(10);
    let svc = PoolService::new(pool.clone());
    assert_eq!(svc.clone().oneshot(4).await, Ok(40));
    let mut svc = svc;
    assert_eq!(svc.ready().await.unwrap().call(5).await, Ok(50));
}

#[tokio::test]
async fn poll_ready_waits_while_the_queue_is_full_and_wakes_when_a_worker_takes_a_job() {
    let (pool, gate) = gated(1);
    let mut svc = PoolService::new(pool.clone());

    let first = svc.ready().await.unwrap().call(1); // the worker takes it and waits
    settle().await;
    let second = svc.ready().await.unwrap().call(2); // fills the queue
    settle().await;
    assert_eq!(pool.metrics().queued, 1);

    // Full: not ready, and nothing is buffered in the service.
    let mut ready = Box::pin(svc.ready());
    assert!((&mut ready).now_or_never().is_none());

    gate.add_permits(1); // job 1 finishes; the worker takes job 2; room for one
    assert_eq!(first.await, Ok(10));
    let ready = ready.await.unwrap();
    assert!(ready.is_ready());
    let third = ready.call(3);
    gate.add_permits(2);
    assert_eq!((second.await, third.await), (Ok(20), Ok(30)));
}

#[tokio::test]
async fn a_held_slot_counts_against_capacity_for_every_submitter() {
    let (pool, gate) = gated(1);
    let mut svc = PoolService::new(pool.clone());
    let running = pool.try_submit(1).unwrap();
    settle().await; // the worker is busy with job 1; the queue is empty
    svc.ready().await.unwrap();
    match pool.try_submit(2) {
        Err(TrySubmitError::Full(2)) => {}
        other => panic!("the held slot must count, got {:?}", other.map(|_| ())),
    }
    assert_eq!(pool.metrics().queued, 0, "held, not queued");
    drop(svc); // gives the slot back
    let queued = pool.try_submit(3).expect("room again");
    gate.add_permits(2);
    assert_eq!((running.await, queued.await), (Ok(10), Ok(30)));
}

#[tokio::test]
async fn dropping_a_service_with_a_held_slot_wakes_a_waiting_one() {
    let (pool, gate) = gated(1);
    let _running = pool.try_submit(1).unwrap();
    settle().await;
    let mut holder = PoolService::new(pool.clone());
    holder.ready().await.unwrap();
    let mut waiter = PoolService::new(pool.clone());
    let waiting = tokio::spawn(async move {
        waiter.ready().await.unwrap();
        waiter.call(5).await
    });
    settle().await;
    assert!(!waiting.is_finished());
    drop(holder);
    gate.add_permits(2);
    assert_eq!(waiting.await.unwrap(), Ok(50));
}

#[tokio::test]
async fn call_without_poll_ready_is_an_error_not_a_panic_or_an_overfull_queue() {
    let (pool, _gate) = gated(1);
    let mut svc = PoolService::new(pool.clone());
    assert_eq!(svc.call(1).await, Err(PoolServiceError::NotReady));
    assert_eq!(pool.metrics().accepted, 0);
    assert_eq!(pool.metrics().rejected, 1);
    // Clones hold nothing, even if the original does.
    svc.ready().await.unwrap();
    assert_eq!(svc.clone().call(2).await, Err(PoolServiceError::NotReady));
}

#[tokio::test]
async fn a_closed_pool_fails_poll_ready_and_a_call_after_close() {
    let (pool, gate) = gated(2);
    gate.add_permits(10);
    let mut held = PoolService::new(pool.clone());
    held.ready().await.unwrap();
    let report = pool.shutdown(Duration::from_secs(1)).await;
    assert_eq!(report.accepted, 0);
    // The slot was held before the close: the call gets Closed, the job is not run.
    assert_eq!(held.call(1).await, Err(PoolServiceError::Closed));
    let mut svc = PoolService::new(pool.clone());
    assert_eq!(svc.ready().await.err(), Some(PoolServiceError::Closed));
}

#[tokio::test]
async fn a_waiting_poll_ready_ends_with_closed_at_shutdown() {
    let (pool, gate) = gated(1);
    let _running = pool.try_submit(1).unwrap();
    settle().await;
    let _queued = pool.try_submit(2).unwrap();
    let mut svc = PoolService::new(pool.clone());
    let waiting = tokio::spawn(async move { svc.ready().await.map(|_| ()) });
    settle().await;
    gate.add_permits(2);
    pool.shutdown(Duration::from_secs(1)).await;
    assert_eq!(waiting.await.unwrap(), Err(PoolServiceError::Closed));
}

#[tokio::test]
async fn a_panicking_job_is_a_job_error() {
    let (pool, _gate) = gated(1);
    match PoolService::new(pool).oneshot(99).await {
        Err(PoolServiceError::Job(JobError::Panicked(msg))) => assert!(msg.contains("job 99")),
        other => panic!("{other:?}"),
    }
}
