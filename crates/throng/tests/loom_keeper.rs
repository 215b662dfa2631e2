//! Loom models of the keeper's call slot: the keeper thread runs (or abandons) the call
//! while the caller polls for the reply or cancels. Exact outcomes, no lost wake-ups.
#![cfg(loom)]

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicUsize};
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
fn a_waker_replaced_while_the_reply_is_delivered_is_the_one_woken() {
    // The caller polls once with one waker, then awaits with another (a task moved to
    // another executor): poll_reply must take its old waker back and register the new
    // one without racing the keeper's read of it. A lost wake-up leaves `block_on`
    // blocked forever, which loom reports as a deadlock.
    loom::model(|| {
        let call = Call::new(|n: &mut u64| *n + 1);
        let job: Arc<dyn Job<u64>> = call.clone();
        let keeper = thread::spawn(move || {
            let mut state = 1u64;
            job.run(&mut state).unwrap();
        });
        let slot = call as Arc<dyn ReplySlot<u64>>;
        let first = slot.poll_reply(&mut Context::from_waker(std::task::Waker::noop()));
        let got = match first {
            Poll::Ready(got) => got,
            // Pending: the noop waker is registered; `block_on`'s waker replaces it.
            Poll::Pending => block_on(Poller(slot)),
        };
        assert_eq!(got, Ok(2));
        keeper.join().unwrap();
    });
}

/// Whether the model reached: cancel seen before `run` (closure skipped), and not.
static CANCEL_SEEN: [AtomicBool; 2] = [const { AtomicBool::new(false) }; 2];

#[test]
fn a_cancel_that_happens_before_run_keeps_the_closure_from_running() {
    loom::model(|| {
        let payload = Arc::new(());
        let p = payload.clone();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let call = Call::new(move |_: &mut u64| {
            let _keep = &p;
            r.fetch_add(1, Relaxed);
        });
        let job: Arc<dyn Job<u64>> = call.clone();
        // Set by the caller after it cancelled: a keeper that sees it knows the cancel
        // happened before its `run`.
        let cancelled = Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let c = cancelled.clone();
        let keeper = thread::spawn(move || {
            let saw_cancel = c.load(Acquire);
            job.run(&mut 0).unwrap();
            saw_cancel
        });
        (call.clone() as Arc<dyn ReplySlot<()>>).cancel();
        cancelled.store(true, Release);
        drop(call);
        let saw_cancel = keeper.join().unwrap();
        let ran = runs.load(Relaxed);
        if saw_cancel {
            assert_eq!(
                ran, 0,
                "the closure ran after a cancel that happened before run"
            );
        } else {
            assert!(ran <= 1);
        }
        CANCEL_SEEN[usize::from(saw_cancel)].store(true, Relaxed);
        // Every reference to the closure (and its captured payload) is gone.
        assert_eq!(Arc::strong_count(&payload), 1);
    });
    for (i, seen) in CANCEL_SEEN.iter().enumerate() {
        assert!(seen.load(Relaxed), "outcome {i} never explored");
    }
}
