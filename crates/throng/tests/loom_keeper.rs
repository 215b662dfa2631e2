//! Loom models of the keeper's call slot: the keeper thread runs (or abandons) the call
//! while the caller polls for the reply or cancels. Exact outcomes, no lost wake-ups.
#![cfg(loom)]

use std::sync::Arc;
use std::task::{Context, Poll};

use loom::future::block_on;
use loom::thread;
use throng::keeper::__loom::{Call, Job, ReplySlot};
use throng::keeper::CallError;

struct Poller<R>(Arc<dyn ReplySlot<R>>);

impl<R> std::future::Future for Poller<R> {
    type Output = Result<R, CallError>;
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.poll_reply(cx)
    }
}

#[test]
fn reply_arrives_exactly_once_without_lost_wakeup() {
    loom::model(|| {
        let call = Call::new(|n: &mut u64| {
            *n += 1;
            *n
        });
        let job: Arc<dyn Job<u64>> = call.clone();
        let keeper = thread::spawn(move || {
            let mut state = 41u64;
            assert_eq!(job.run(&mut state), Ok(()));
            state
        });
        let got = block_on(Poller(call as Arc<dyn ReplySlot<u64>>));
        assert_eq!(got, Ok(42));
        assert_eq!(keeper.join().unwrap(), 42);
    });
}

#[test]
fn abandon_wakes_the_caller_with_the_error() {
    loom::model(|| {
        let call = Call::new(|n: &mut u64| *n);
        let job: Arc<dyn Job<u64>> = call.clone();
        let keeper = thread::spawn(move || job.abandon(CallError::Poisoned));
        let got = block_on(Poller(call as Arc<dyn ReplySlot<u64>>));
        assert_eq!(got, Err(CallError::Poisoned));
        keeper.join().unwrap();
    });
}

#[test]
fn cancel_races_run_and_the_closure_runs_at_most_once() {
    loom::model(|| {
        let payload = Arc::new(());
        let p = payload.clone();
        let call = Call::new(move |n: &mut u64| {
            let _keep = &p;
            *n += 1;
        });
        let job: Arc<dyn Job<u64>> = call.clone();
        let keeper = thread::spawn(move || {
            let mut state = 0u64;
            job.run(&mut state).unwrap();
            state
        });
        (call.clone() as Arc<dyn ReplySlot<()>>).cancel();
        drop(call);
        let ran = keeper.join().unwrap();
        assert!(ran <= 1);
        // Every reference to the closure (and its captured payload) is gone.
        assert_eq!(Arc::strong_count(&payload), 1);
    });
}
