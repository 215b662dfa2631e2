//! When batches flush: on size, on bytes, on delay since the first item, and at shutdown;
//! each item gets its own result, errors reach the whole batch.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use throng::batch::{BatchError, Batcher, InvalidBatcher, SubmitError, TrySubmitError};
use tokio::time::Instant;

type Log = Arc<Mutex<Vec<Vec<u32>>>>;

/// A batcher that records each batch and doubles each item.
fn recording(b: throng::batch::BatcherBuilder<u32>) -> (Batcher<u32, u32, String>, Log) {
    let log: Log = Arc::default();
    let l = log.clone();
    let batcher = b
        .spawn(move |items: Vec<u32>| {
            let l = l.clone();
            async move {
                l.lock().unwrap().push(items.clone());
                if items.contains(&13) {
                    return Err(format!("unlucky batch of {}", items.len()));
                }
                Ok(items.into_iter().map(|n| n * 2).collect())
            }
        })
        .unwrap();
    (batcher, log)
}

#[tokio::test(start_paused = true)]
async fn a_full_batch_flushes_at_once_and_each_item_gets_its_own_result() {
    let (b, log) = recording(
        Batcher::builder()
            .max_items(4)
            .max_delay(Duration::from_secs(60)),
    );
    let start = Instant::now();
    let mut handles = Vec::new();
    for n in 1..=8 {
        handles.push(b.submit(n).await.unwrap());
    }
    for (n, h) in (1..=8).zip(handles) {
        assert_eq!(h.await, Ok(n * 2));
    }
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "size flushes do not wait for the delay"
    );
    assert_eq!(
        *log.lock().unwrap(),
        vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]]
    );
    let m = b.metrics();
    assert_eq!((m.batches, m.flushed_for_items, m.succeeded), (2, 2, 8));
}

#[tokio::test(start_paused = true)]
async fn a_partial_batch_flushes_max_delay_after_its_first_item() {
    let (b, log) = recording(
        Batcher::builder()
            .max_items(100)
            .max_delay(Duration::from_millis(20)),
    );
    let start = Instant::now();
    let first = b.submit(1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(15)).await;
    let second = b.submit(2).await.unwrap();
    assert_eq!(first.await, Ok(2));
    assert_eq!(second.await, Ok(4));
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(20),
        "counted from the first item"
    );
    assert_eq!(*log.lock().unwrap(), vec![vec![1, 2]]);
    assert_eq!(b.metrics().flushed_for_delay, 1);
}

#[tokio::test(start_paused = true)]
async fn max_bytes_closes_a_batch_before_it_overflows() {
    let (b, log) = recording(
        Batcher::builder()
            .max_items(100)
            .max_bytes(10, |n: &u32| *n as usize)
            .max_delay(Duration::from_millis(5)),
    );
    let handles: Vec<_> = [4, 4, 4, 11, 1]
        .into_iter()
        .map(|n| b.try_submit(n).unwrap())
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    // 4+4 fits, +4 would pass 10; 11 is too heavy alone and goes alone; 1 follows.
    assert_eq!(
        *log.lock().unwrap(),
        vec![vec![4, 4], vec![4], vec![11], vec![1]]
    );
    assert!(b.metrics().flushed_for_bytes >= 2);
}

#[tokio::test(start_paused = true)]
async fn a_flush_error_reaches_every_item_of_that_batch_only() {
    let (b, _log) = recording(Batcher::builder().max_items(3));
    let h: Vec<_> = [1, 13, 2, 3, 4, 5]
        .into_iter()
        .map(|n| b.try_submit(n).unwrap())
        .collect();
    let mut out = Vec::new();
    for h in h {
        out.push(h.await);
    }
    let err = BatchError::Flush(Arc::new("unlucky batch of 3".to_string()));
    assert_eq!(
        out,
        vec![
            Err(err.clone()),
            Err(err.clone()),
            Err(err),
            Ok(6),
            Ok(8),
            Ok(10)
        ]
    );
    let m = b.metrics();
    assert_eq!((m.failed, m.failed_batches, m.succeeded), (3, 1, 3));
}

#[tokio::test(start_paused = true)]
async fn a_wrong_number_of_results_and_a_panic_are_errors_not_hangs() {
    let b = Batcher::builder()
        .max_items(2)
        .spawn(|items: Vec<u32>| async move {
            if items[0] == 0 {
                panic!("flush blew up");
            }
            Ok::<_, String>(vec![1u32]) // one result for two items
        })
        .unwrap();
    let a = b.try_submit(0).unwrap();
    let a2 = b.try_submit(0).unwrap();
    let c = b.try_submit(1).unwrap();
    let c2 = b.try_submit(1).unwrap();
    assert_eq!(a.await, Err(BatchError::Panicked("flush blew up".into())));
    assert_eq!(a2.await, Err(BatchError::Panicked("flush blew up".into())));
    let mismatch = BatchError::LengthMismatch {
        items: 2,
        results: 1,
    };
    assert_eq!(c.await, Err(mismatch.clone()));
    assert_eq!(c2.await, Err(mismatch));
}

#[tokio::test(start_paused = true)]
async fn shutdown_flushes_what_is_pending_and_reports_it() {
    let (b, log) = recording(
        Batcher::builder()
            .max_items(4)
            .max_delay(Duration::from_secs(60)),
    );
    let handles: Vec<_> = (1..=6).map(|n| b.try_submit(n).unwrap()).collect();
    let report = b.shutdown(Duration::from_secs(1)).await;
    assert_eq!(
        (report.accepted, report.succeeded, report.cancelled),
        (6, 6, 0)
    );
    assert_eq!(
        report.flushed_for_close, 1,
        "the partial batch of 2 flushed at shutdown"
    );
    assert_eq!(*log.lock().unwrap(), vec![vec![1, 2, 3, 4], vec![5, 6]]);
    for (n, h) in (1..=6).zip(handles) {
        assert_eq!(h.await, Ok(n * 2));
    }
    assert!(b.is_closed());
    assert!(matches!(b.try_submit(9), Err(TrySubmitError::Closed(9))));
    assert_eq!(b.submit(10).await.unwrap_err(), SubmitError(10));
    let again = b.shutdown(Duration::from_secs(1)).await;
    assert_eq!(again.succeeded, 6, "idempotent");
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_deadline_cancels_a_stuck_flush_and_accounts_for_every_item() {
    let b = Batcher::builder()
        .max_items(2)
        .spawn(|items: Vec<u32>| async move {
            if items.contains(&0) {
                std::future::pending::<()>().await;
            }
            Ok::<_, String>(items)
        })
        .unwrap();
    let stuck: Vec<_> = [0, 0]
        .into_iter()
        .map(|n| b.try_submit(n).unwrap())
        .collect();
    let queued: Vec<_> = [1, 2, 3]
        .into_iter()
        .map(|n| b.try_submit(n).unwrap())
        .collect();
    let report = b.shutdown(Duration::from_millis(100)).await;
    assert_eq!(report.accepted, 5);
    assert_eq!(
        report.succeeded + report.failed + report.cancelled,
        5,
        "{report:?}"
    );
    for h in stuck {
        assert_eq!(h.await, Err(BatchError::Cancelled));
    }
    for h in queued {
        // With one flush in flight and it stuck, these never flushed.
        assert_eq!(h.await, Err(BatchError::Cancelled));
    }
}

#[tokio::test(start_paused = true)]
async fn k_flushes_in_flight_then_submitters_wait() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let g = gate.clone();
    let b = Batcher::builder()
        .max_items(1)
        .max_in_flight(2)
        .queue_capacity(1)
        .spawn(move |items: Vec<u32>| {
            let g = g.clone();
            async move {
                g.acquire().await.unwrap().forget();
                Ok::<_, String>(items)
            }
        })
        .unwrap();
    let mut handles = Vec::new();
    for n in 0..3 {
        handles.push(b.submit(n).await.unwrap());
        tokio::task::yield_now().await;
    }
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    // Two flushes run, one item is full-and-waiting in the batch; the queue holds one.
    assert_eq!(b.metrics().in_flight, 2);
    let _queued = b.try_submit(3).unwrap();
    assert!(
        matches!(b.try_submit(4), Err(TrySubmitError::Full(4))),
        "backpressure"
    );
    gate.add_permits(5);
    for (n, h) in (0..3).zip(handles) {
        assert_eq!(h.await, Ok(n));
    }
}

#[tokio::test]
async fn invalid_settings_are_typed_errors() {
    let f = |items: Vec<u8>| async move { Ok::<_, ()>(items) };
    assert_eq!(
        Batcher::builder().max_items(0).spawn(f).unwrap_err(),
        InvalidBatcher::ZeroMaxItems
    );
    assert_eq!(
        Batcher::builder().max_in_flight(0).spawn(f).unwrap_err(),
        InvalidBatcher::ZeroInFlight
    );
    assert_eq!(
        Batcher::builder().queue_capacity(0).spawn(f).unwrap_err(),
        InvalidBatcher::ZeroCapacity
    );
    assert_eq!(
        Batcher::builder()
            .max_delay(Duration::ZERO)
            .spawn(f)
            .unwrap_err(),
        InvalidBatcher::ZeroDelay
    );
    assert_eq!(
        Batcher::builder()
            .max_bytes(0, |_: &u8| 1)
            .spawn(f)
            .unwrap_err(),
        InvalidBatcher::ZeroMaxBytes
    );
}

#[tokio::test(start_paused = true)]
async fn submits_after_shutdown_began_are_closed_and_everything_accepted_before_is_flushed() {
    let (b, log) = recording(
        Batcher::builder()
            .max_items(2)
            .queue_capacity(64)
            .max_delay(Duration::from_secs(60)),
    );
    let accepted: Vec<_> = (1..=5).map(|n| b.try_submit(n).unwrap()).collect();
    let shutdown = b.shutdown(Duration::from_secs(60));
    tokio::pin!(shutdown);
    // Poll it once: shutdown has begun, the batcher task has not run yet.
    tokio::select! {
        biased;
        _ = &mut shutdown => panic!("shutdown cannot be done before the task ran"),
        () = std::future::ready(()) => {}
    }
    assert!(b.is_closed());
    // Submitters keep trying while the task drains the queue: every one is refused.
    for n in 100..120 {
        assert!(matches!(b.try_submit(n), Err(TrySubmitError::Closed(m)) if m == n));
        assert_eq!(b.submit(n).await.unwrap_err(), SubmitError(n));
        tokio::task::yield_now().await;
    }
    let report = shutdown.await;
    assert_eq!(
        (report.accepted, report.succeeded, report.cancelled),
        (5, 5, 0),
        "{report:?}"
    );
    assert_eq!(report.rejected, 40);
    assert_eq!(*log.lock().unwrap(), vec![vec![1, 2], vec![3, 4], vec![5]]);
    for (n, h) in (1..=5).zip(accepted) {
        assert_eq!(h.await, Ok(n * 2));
    }
}

#[tokio::test(start_paused = true)]
async fn a_submitter_waiting_for_room_when_shutdown_begins_gets_its_item_back() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let g = gate.clone();
    let b = Batcher::builder()
        .max_items(1)
        .queue_capacity(1)
        .spawn(move |items: Vec<u32>| {
            let g = g.clone();
            async move {
                g.acquire().await.unwrap().forget();
                Ok::<_, String>(items)
            }
        })
        .unwrap();
    let mut accepted = Vec::new();
    for n in 1..=3 {
        accepted.push(b.submit(n).await.unwrap());
        tokio::task::yield_now().await;
    }
    // 1 is flushing (stuck on the gate), 2 waits for the slot, 3 fills the queue.
    let blocked = tokio::spawn({
        let b = b.clone();
        async move { b.submit(4).await.map(|_| ()) }
    });
    tokio::task::yield_now().await;
    assert!(!blocked.is_finished(), "backpressure");
    let shutdown = tokio::spawn({
        let b = b.clone();
        async move { b.shutdown(Duration::from_secs(60)).await }
    });
    tokio::task::yield_now().await;
    gate.add_permits(100);
    assert_eq!(blocked.await.unwrap(), Err(SubmitError(4)));
    let report = shutdown.await.unwrap();
    assert_eq!((report.accepted, report.succeeded), (3, 3), "{report:?}");
    for (n, h) in (1..=3).zip(accepted) {
        assert_eq!(h.await, Ok(n));
    }
}
