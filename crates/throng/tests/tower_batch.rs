//! Batcher as a tower Service: one result per item from a shared flush, poll_ready holds
//! an intake slot, no call without ready, shutdown is Closed.
#![cfg(all(feature = "tower", feature = "batch"))]

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use support::settle;
use throng::batch::{BatchError, Batcher};
use throng::tower::{BatchService, BatchServiceError};
use tokio::sync::Semaphore;
use tower::{Service, ServiceExt};

/// Flushes double each item; each flush waits for a permit from `gate`. A batch holding
/// 0 fails.
fn gated(max_items: usize, queue: usize) -> (Batcher<u32, u32, String>, Arc<Semaphore>) {
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    let batcher = Batcher::builder()
        .max_items(max_items)
        .max_delay(Duration::from_millis(5))
        .queue_capacity(queue)
        .spawn(move |batch: Vec<u32>| {
            let g = g.clone();
            async move {
                g.acquire().await.expect("gate open").forget();
                if batch.contains(&0) {
                    return Err("zero".to_string());
                }
                Ok(batch.into_iter().map(|n| n * 2).collect())
            }
        })
        .unwrap();
    (batcher, gate)
}

#[tokio::test(start_paused = true)]
async fn items_from_several_callers_share_one_flush() {
    let (batcher, gate) = gated(8, 16);
    gate.add_permits(10);
    let svc = BatchService::new(batcher.clone());
    let (a, b, c) = tokio::join!(
        svc.clone().oneshot(1),
        svc.clone().oneshot(2),
        svc.oneshot(3)
    );
    assert_eq!((a, b, c), (Ok(2), Ok(4), Ok(6)));
    assert_eq!(batcher.metrics().batches, 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_flush_reaches_every_item_as_a_batch_error() {
    let (batcher, gate) = gated(8, 16);
    gate.add_permits(10);
    let svc = BatchService::new(batcher);
    let (a, b) = tokio::join!(svc.clone().oneshot(0), svc.oneshot(5));
    let expected = Err(BatchServiceError::Batch(BatchError::Flush(Arc::new(
        "zero".to_string(),
    ))));
    assert_eq!(a, expected);
    assert_eq!(b, expected);
}

#[tokio::test(start_paused = true)]
async fn poll_ready_waits_while_intake_is_full() {
    // One item per batch, one flush at a time, an intake queue of 1.
    let (batcher, gate) = gated(1, 1);
    let mut svc = BatchService::new(batcher.clone());
    let first = svc.ready().await.unwrap().call(1); // flushing, blocked on the gate
    settle().await;
    let second = svc.ready().await.unwrap().call(2); // taken as the next batch, waits for a slot
    settle().await;
    let third = svc.ready().await.unwrap().call(3); // fills the intake queue
    settle().await;
    let mut ready = Box::pin(svc.ready());
    assert!((&mut ready).now_or_never().is_none(), "intake is full");
    gate.add_permits(1);
    assert_eq!(first.await, Ok(2));
    let fourth = ready.await.unwrap().call(4);
    gate.add_permits(3);
    assert_eq!(
        (second.await, third.await, fourth.await),
        (Ok(4), Ok(6), Ok(8))
    );
}

#[tokio::test(start_paused = true)]
async fn call_without_poll_ready_is_an_error_not_a_panic() {
    let (batcher, _gate) = gated(4, 4);
    let mut svc = BatchService::new(batcher.clone());
    assert_eq!(svc.call(1).await, Err(BatchServiceError::NotReady));
    assert_eq!(batcher.metrics().rejected, 1);
    assert_eq!(batcher.metrics().accepted, 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_makes_poll_ready_and_a_held_call_closed() {
    let (batcher, gate) = gated(4, 4);
    gate.add_permits(10);
    let mut held = BatchService::new(batcher.clone());
    held.ready().await.unwrap();
    batcher.shutdown(Duration::from_secs(1)).await;
    assert_eq!(held.call(1).await, Err(BatchServiceError::Closed));
    let mut svc = BatchService::new(batcher.clone());
    assert_eq!(svc.ready().await.err(), Some(BatchServiceError::Closed));
    assert_eq!(batcher.metrics().accepted, 0);
}

#[tokio::test(start_paused = true)]
async fn a_poll_ready_waiting_for_room_ends_with_closed_when_shutdown_begins() {
    let (batcher, gate) = gated(1, 1);
    let mut svc = BatchService::new(batcher.clone());
    let _a = svc.ready().await.unwrap().call(1);
    settle().await;
    let _b = svc.ready().await.unwrap().call(2);
    settle().await;
    let _c = svc.ready().await.unwrap().call(3);
    settle().await;
    let waiting = tokio::spawn(async move { svc.ready().await.map(|_| ()) });
    settle().await;
    assert!(!waiting.is_finished());
    let b2 = batcher.clone();
    let shutdown = tokio::spawn(async move { b2.shutdown(Duration::from_secs(1)).await });
    assert_eq!(waiting.await.unwrap(), Err(BatchServiceError::Closed));
    gate.add_permits(10);
    shutdown.await.unwrap();
}
