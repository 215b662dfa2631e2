//! `stop` semantics and panic containment of `throng::keeper::Keeper`.

mod support;

use support::nz;
use throng::keeper::{CallError, CastError, Keeper, StopError, TryCallError};

#[tokio::test(flavor = "current_thread")]
async fn stop_runs_everything_accepted_and_returns_the_final_state() {
    let keeper = Keeper::spawn(Vec::new(), nz(64)).unwrap();
    let mut replies = Vec::new();
    for i in 0..10u32 {
        keeper.try_cast(move |v: &mut Vec<u32>| v.push(i)).unwrap();
        replies.push(keeper.try_call(move |v| v.len() as u32 + i).unwrap());
    }
    // Nothing has run yet (current-thread runtime, no yield). Stop now.
    let state = keeper.stop().await.unwrap();
    assert_eq!(state, (0..10).collect::<Vec<_>>());
    for (i, reply) in replies.into_iter().enumerate() {
        let i = i as u32;
        assert_eq!(
            reply.await,
            Ok(i + 1 + i),
            "accepted call {i} ran before stop returned"
        );
    }
}

#[tokio::test]
async fn stop_is_idempotent_and_only_the_first_call_gets_the_state() {
    let keeper = Keeper::spawn(5u64, nz(4)).unwrap();
    let other = keeper.clone();
    let (a, b) = tokio::join!(keeper.stop(), other.stop());
    let (won, lost) = if a.is_ok() { (a, b) } else { (b, a) };
    assert_eq!(won.unwrap(), 5);
    assert!(matches!(lost, Err(StopError::AlreadyStopped)));
    assert!(matches!(
        keeper.stop().await,
        Err(StopError::AlreadyStopped)
    ));
    assert!(keeper.is_stopped());
}

#[tokio::test]
async fn calls_after_stop_fail_fast_with_stopped() {
    let keeper = Keeper::spawn(0u64, nz(4)).unwrap();
    keeper.stop().await.unwrap();
    assert_eq!(keeper.call(|n| *n).await, Err(CallError::Stopped));
    assert!(matches!(
        keeper.cast(|n| *n += 1).await,
        Err(CastError::Stopped(_))
    ));
    assert!(matches!(
        keeper.try_call(|n| *n),
        Err(TryCallError::Stopped(_))
    ));
    assert!(keeper.try_cast(|n| *n += 1).is_err());
}

#[tokio::test(flavor = "current_thread")]
async fn stop_wakes_callers_waiting_for_room_with_stopped() {
    let keeper = Keeper::spawn(0u64, nz(1)).unwrap();
    keeper.try_cast(|n| *n += 1).unwrap(); // full
    let waiting = {
        let k = keeper.clone();
        tokio::spawn(async move { k.call(|n| *n).await })
    };
    tokio::task::yield_now().await; // let `waiting` block on the full mailbox
                                    // `waiting` was not accepted before stop began, or was accepted and runs: either
                                    // way it gets an answer, never a hang.
    assert_eq!(keeper.stop().await.unwrap(), 1);
    let got = waiting.await.unwrap();
    assert!(
        got == Err(CallError::Stopped) || got == Ok(1),
        "got {got:?}"
    );
}

#[tokio::test]
async fn panic_in_a_call_is_reported_and_poisons_the_keeper() {
    let keeper = Keeper::spawn(1u64, nz(8)).unwrap();
    let got = keeper
        .call(|n| -> u64 {
            *n = 99;
            panic!("boom {}", 7)
        })
        .await;
    assert_eq!(got, Err(CallError::Panicked("boom 7".to_owned())));
    assert!(keeper.is_poisoned());
    assert_eq!(keeper.call(|n| *n).await, Err(CallError::Poisoned));
    assert!(matches!(
        keeper.try_call(|n| *n),
        Err(TryCallError::Poisoned(_))
    ));
    match keeper.stop().await {
        Err(StopError::Poisoned { state, message }) => {
            assert_eq!(state, 99, "the state is handed back as the panic left it");
            assert_eq!(message, "boom 7");
        }
        other => panic!("expected Poisoned, got {other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn panic_in_a_cast_answers_queued_calls_with_poisoned() {
    let keeper = Keeper::spawn(0u64, nz(8)).unwrap();
    keeper.try_cast(|_| panic!("cast failed")).unwrap();
    let queued = keeper.try_call(|n| *n).unwrap();
    assert_eq!(queued.await, Err(CallError::Poisoned));
    assert!(matches!(
        keeper.stop().await,
        Err(StopError::Poisoned { message, .. }) if message == "cast failed"
    ));
}
