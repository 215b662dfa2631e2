#![cfg(loom)]
//! Loom models of `Latch`'s own atomics: the `fire` election (exactly one winner) and
//! the waiter counter (back to zero however a wait ends). The semaphore underneath is
//! tokio's and is not model-checked here; waits are polled with a no-op waker so no loom
//! operation runs while tokio holds its internal lock.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use loom::thread;
use throng::signal::Latch;

fn poll_noop<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn racing_fires_elect_exactly_one_winner() {
    loom::model(|| {
        let latch = Latch::new();
        let other = latch.clone();
        let t = thread::spawn(move || {
            let won = other.fire();
            assert!(other.is_fired(), "fired once any fire returned");
            won
        });
        let mine = latch.fire();
        assert!(latch.is_fired());
        let theirs = t.join().unwrap();
        assert!(mine ^ theirs, "exactly one winner: {mine} {theirs}");
    });
}

#[test]
fn a_wait_racing_with_fire_completes_and_unregisters() {
    loom::model(|| {
        let latch = Latch::new();
        let firer = latch.clone();
        let t = thread::spawn(move || assert!(firer.fire()));
        {
            let mut wait = Box::pin(latch.wait());
            let first = poll_noop(wait.as_mut());
            t.join().unwrap();
            if first.is_pending() {
                assert_eq!(poll_noop(wait.as_mut()), Poll::Ready(()), "no lost wake-up");
            }
        }
        assert_eq!(latch.waiter_count(), 0);
        assert!(latch.is_fired());
        assert!(!latch.fire());
    });
}

#[test]
fn a_dropped_wait_racing_with_fire_leaves_no_waiter_behind() {
    loom::model(|| {
        let latch = Latch::new();
        let waiter = latch.clone();
        let t = thread::spawn(move || {
            let mut wait = Box::pin(waiter.wait());
            let _ = poll_noop(wait.as_mut());
            drop(wait);
        });
        latch.fire();
        t.join().unwrap();
        assert_eq!(latch.waiter_count(), 0);
    });
}
