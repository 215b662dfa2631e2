//! Smoke, capacity, try_*, cast, blocking and drop behaviour of `throng::keeper::Keeper`.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use support::nz;
use throng::keeper::{CallError, Keeper, TryCallError, TryCastError};
use tokio::sync::oneshot;

#[tokio::test]
async fn smoke_call_returns_the_closures_result() {
    let keeper = Keeper::spawn(0u64, nz(4)).unwrap();
    for i in 1..=10 {
        let got = keeper
            .call(|n| {
                *n += 1;
                *n
            })
            .await;
        assert_eq!(got, Ok(i));
    }
    assert_eq!(keeper.stop().await.unwrap(), 10);
}

#[tokio::test]
async fn calls_and_casts_run_in_mailbox_order() {
    let keeper = Keeper::spawn(Vec::new(), nz(16)).unwrap();
    for i in 0..5 {
        keeper
            .cast(move |v: &mut Vec<i32>| v.push(i))
            .await
            .unwrap();
    }
    let seen = keeper.call(|v| v.clone()).await.unwrap();
    assert_eq!(seen, vec![0, 1, 2, 3, 4]);
}

#[tokio::test(flavor = "current_thread")]
async fn capacity_try_call_fails_fast_when_the_mailbox_is_full() {
    let keeper = Keeper::spawn(0u64, nz(2)).unwrap();
    assert_eq!(keeper.capacity(), 2);
    // On a current-thread runtime the owner task cannot run until we yield.
    let a = keeper.try_call(|n| *n + 1).unwrap();
    let b = keeper.try_call(|n| *n + 2).unwrap();
    assert_eq!(keeper.queued(), 2);
    let refused = keeper.try_call(|n| *n + 3).unwrap_err();
    assert!(matches!(refused, TryCallError::Full(_)));
    let f = refused.into_inner(); // the closure comes back intact
    assert!(matches!(
        keeper.try_cast(|n| *n += 1),
        Err(TryCastError::Full(_))
    ));
    assert_eq!(a.await, Ok(1));
    assert_eq!(b.await, Ok(2));
    assert_eq!(keeper.call(f).await, Ok(3));
}

#[tokio::test(flavor = "current_thread")]
async fn call_waits_for_room_instead_of_failing() {
    let keeper = Keeper::spawn(0u64, nz(1)).unwrap();
    keeper.try_cast(|n| *n += 1).unwrap(); // mailbox now full
                                           // `call` must wait for the owner to make room, then complete.
    assert_eq!(keeper.call(|n| *n).await, Ok(1));
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_a_reply_before_it_starts_cancels_the_call() {
    let keeper = Keeper::spawn(0u64, nz(8)).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    // Current-thread runtime: the owner cannot start the call before we yield.
    let reply = keeper
        .try_call(move |n| {
            r.fetch_add(1, Ordering::SeqCst);
            *n += 1;
        })
        .unwrap();
    drop(reply);
    assert_eq!(keeper.call(|n| *n).await, Ok(0));
    assert_eq!(ran.load(Ordering::SeqCst), 0, "a cancelled call never runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_call_works_from_a_plain_thread() {
    let keeper = Keeper::spawn(41u64, nz(4)).unwrap();
    let k = keeper.clone();
    let got = tokio::task::spawn_blocking(move || {
        k.blocking_call(|n| {
            *n += 1;
            *n
        })
    })
    .await
    .unwrap();
    assert_eq!(got, Ok(42));
    keeper.stop().await.unwrap();
    let k = keeper.clone();
    let after = tokio::task::spawn_blocking(move || k.blocking_call(|n| *n))
        .await
        .unwrap();
    assert_eq!(after, Err(CallError::Stopped));
}

struct DropSignal(Option<oneshot::Sender<u64>>, u64);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(self.1);
        }
    }
}

#[tokio::test]
async fn drops_dropping_every_handle_ends_the_task_and_drops_the_state() {
    let (tx, dropped) = oneshot::channel();
    let keeper = Keeper::spawn(DropSignal(Some(tx), 0), nz(4)).unwrap();
    let clone = keeper.clone();
    clone.cast(|s| s.1 = 7).await.unwrap();
    drop(keeper);
    drop(clone);
    // The task ran the accepted cast, then ended and dropped its state.
    let last = tokio::time::timeout(std::time::Duration::from_secs(5), dropped)
        .await
        .expect("state dropped once every handle is gone")
        .unwrap();
    assert_eq!(last, 7);
}

#[test]
fn keeper_and_reply_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Keeper<Vec<u8>>>();
    assert_send_sync::<throng::keeper::Reply<u64>>();
    fn assert_send<T: Send>(_: &T) {}
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let _g = rt.enter();
    let keeper = Keeper::spawn(0u64, nz(1)).unwrap();
    assert_send(&keeper.call(|n| *n));
    assert_send(&keeper.stop());
}
