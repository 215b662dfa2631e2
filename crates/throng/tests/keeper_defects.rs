//! Regressions for the Go seed's resource-keeper defects (S10-2 .. S10-6).

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::nz;
use throng::keeper::{CallError, CastError, Keeper, StopError, TryCastError};

// S10-2: ops were strings with no `default` case, so an unknown op never got a reply and
// the caller blocked forever. Here a request is a typed closure, and every accepted call
// is answered even when the owner dies with it queued: the runtime that ran the keeper is
// dropped, and the queued call resolves to `Stopped` instead of hanging.
#[test]
fn s10_2_a_queued_call_is_answered_even_if_the_keeper_task_dies() {
    let keeper_rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let keeper = {
        let _enter = keeper_rt.enter();
        Keeper::spawn(0u64, nz(4)).unwrap()
    };
    // The keeper runtime is never driven, so this call stays queued.
    let reply = keeper.try_call(|n| *n + 1).unwrap();
    drop(keeper_rt); // cancels the owner task: its mailbox is dropped
    let caller_rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    caller_rt.block_on(async {
        let got = tokio::time::timeout(Duration::from_secs(5), reply)
            .await
            .expect("answered, not hung");
        assert_eq!(got, Err(CallError::Stopped));
        assert!(matches!(keeper.stop().await, Err(StopError::Lost)));
        assert_eq!(keeper.call(|n| *n).await, Err(CallError::Stopped));
    });
}

// S10-3: after Stop(), every Inc waited the full 100 ms and was silently dropped; a
// second Stop() panicked; Stop() did not join. Here calls after stop fail at once (no
// virtual time passes), stop is idempotent, and it returns the joined task's state.
#[tokio::test(start_paused = true)]
async fn s10_3_after_stop_calls_fail_at_once_and_stop_twice_is_fine() {
    let keeper = Keeper::spawn(HashMap::<String, i64>::new(), nz(16)).unwrap();
    keeper
        .call(|m| *m.entry("ann".to_owned()).or_default() += 1)
        .await
        .unwrap();
    let state = keeper.stop().await.unwrap();
    assert_eq!(
        state.get("ann"),
        Some(&1),
        "stop joined the task and returned its state"
    );

    let start = tokio::time::Instant::now();
    let got = keeper
        .call(|m| *m.entry("bob".to_owned()).or_default() += 1)
        .await;
    assert_eq!(
        got,
        Err(CallError::Stopped),
        "reported, not silently dropped"
    );
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "fails fast, no timeout cliff"
    );
    assert!(matches!(
        keeper.stop().await,
        Err(StopError::AlreadyStopped)
    ));
}

// S10-5: `Inc` returned nothing ("non-blocking" yet it blocked up to 100 ms), so callers
// could not detect loss. Here `cast` returns a Result, and `try_cast` never waits: it
// reports `Full` or `Stopped` and hands the closure back.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn s10_5_cast_reports_a_stopped_keeper_and_try_cast_never_blocks() {
    let keeper = Keeper::spawn(0u64, nz(1)).unwrap();
    keeper.try_cast(|n| *n += 1).unwrap();
    let start = tokio::time::Instant::now();
    let full = keeper.try_cast(|n| *n += 10).unwrap_err();
    assert!(matches!(full, TryCastError::Full(_)));
    assert_eq!(start.elapsed(), Duration::ZERO);
    let retry = full.into_inner();
    keeper.cast(retry).await.unwrap(); // waits for room instead
    assert_eq!(keeper.stop().await.unwrap(), 11);
    assert!(matches!(
        keeper.cast(|n| *n += 1).await,
        Err(CastError::Stopped(_))
    ));
    assert!(matches!(
        keeper.try_cast(|n| *n += 1),
        Err(TryCastError::Stopped(_))
    ));
}

// S10-6: replies were `interface{}`, get/getall had no API, and the request channel was
// unbuffered with no batching. Here replies are typed (a snapshot comes back as a
// `HashMap`), and the mailbox holds exactly its capacity (order of a drained burst is
// checked in keeper_basic.rs).
#[tokio::test(flavor = "current_thread")]
async fn s10_6_replies_are_typed_and_the_mailbox_is_bounded() {
    let keeper = Keeper::spawn(HashMap::<&'static str, i64>::new(), nz(100)).unwrap();
    let mut accepted = 0;
    while keeper
        .try_cast(|m| *m.entry("hits").or_default() += 1)
        .is_ok()
    {
        accepted += 1;
    }
    assert_eq!(accepted, 100, "bounded: exactly `capacity` queued closures");
    let snapshot: HashMap<&str, i64> = keeper.call(|m| m.clone()).await.unwrap();
    assert_eq!(snapshot.get("hits"), Some(&100));
    let one: Option<i64> = keeper.call(|m| m.get("hits").copied()).await.unwrap();
    assert_eq!(one, Some(100));
}
