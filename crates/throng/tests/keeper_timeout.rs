//! `call_timeout` bounds the whole round trip: waiting for room, waiting in the mailbox
//! and running (S10-4). The caller runs on a paused-clock runtime; the keeper on its own
//! runtime thread, so its closures can block for real while virtual time advances.

use std::num::NonZeroUsize;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use throng::keeper::{CallTimeoutError, Keeper};
use tokio::runtime::{Builder, Runtime};

fn keeper_on_its_own_runtime(capacity: usize) -> (Runtime, Keeper<u64>) {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let keeper = {
        let _enter = rt.enter();
        Keeper::spawn(0u64, NonZeroUsize::new(capacity).unwrap()).unwrap()
    };
    (rt, keeper)
}

const DEADLINE: Duration = Duration::from_millis(50);

// S10-4: the seed's 100 ms timeout covered only the enqueue; once accepted, a slow
// keeper blocked the caller without limit. Here the deadline covers the reply too.
#[tokio::test(start_paused = true)]
async fn s10_4_call_timeout_bounds_the_reply_not_just_the_enqueue() {
    let (rt, keeper) = keeper_on_its_own_runtime(4);
    let (release, gate) = std_mpsc::channel::<()>();
    let (started_tx, started) = std_mpsc::channel::<()>();
    let call = keeper.call_timeout(
        move |n| {
            started_tx.send(()).unwrap();
            gate.recv().unwrap(); // slow: holds the owner until the test releases it
            *n += 1;
            *n
        },
        DEADLINE,
    );
    let mut call = std::pin::pin!(call);
    // Poll once (enqueues and arms the deadline), then wait, blocking this thread so
    // virtual time stands still, until the owner has started the closure.
    tokio::select! {
        biased;
        _ = &mut call => panic!("cannot finish while the closure is blocked"),
        _ = std::future::ready(()) => {}
    }
    started.recv().unwrap();
    let got = call.await;
    assert_eq!(got, Err(CallTimeoutError::TimedOut));
    release.send(()).unwrap();
    // The started closure ran to completion; the keeper answers the next call.
    assert_eq!(keeper.call(|n| *n).await, Ok(1));
    rt.shutdown_background();
}

#[tokio::test(start_paused = true)]
async fn call_timeout_covers_the_wait_in_the_mailbox_and_skips_the_abandoned_call() {
    let (rt, keeper) = keeper_on_its_own_runtime(4);
    let (release, gate) = std_mpsc::channel::<()>();
    keeper.cast(move |_| gate.recv().unwrap()).await.unwrap();
    let got = keeper.call_timeout(|n| *n += 10, DEADLINE).await;
    assert_eq!(got, Err(CallTimeoutError::TimedOut));
    release.send(()).unwrap();
    // The timed-out call had not started, so it never runs.
    assert_eq!(keeper.call(|n| *n).await, Ok(0));
    rt.shutdown_background();
}

#[tokio::test(start_paused = true)]
async fn call_timeout_covers_the_wait_for_mailbox_room() {
    let (rt, keeper) = keeper_on_its_own_runtime(1);
    let (release, gate) = std_mpsc::channel::<()>();
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    keeper
        .cast(move |_| {
            started_tx.send(()).unwrap();
            gate.recv().unwrap();
        })
        .await
        .unwrap();
    started.await.unwrap(); // the owner is busy; the one slot is free again
    keeper.cast(|n| *n += 1).await.unwrap(); // now the mailbox is full
    let start = tokio::time::Instant::now();
    let got = keeper.call_timeout(|n| *n, DEADLINE).await;
    assert_eq!(got, Err(CallTimeoutError::TimedOut));
    assert_eq!(
        start.elapsed(),
        DEADLINE,
        "fails at the deadline, not later"
    );
    release.send(()).unwrap();
    assert_eq!(keeper.call(|n| *n).await, Ok(1));
    rt.shutdown_background();
}
