//! Loom models of the pool.
//!
//! The first three check the intake/close core alone: a submit racing a shutdown is
//! queued (then run or handed back) or refused with its job, exactly once; a pop that
//! makes room claims a waiting submitter and a push that brings work claims an idle
//! worker. Those claims are only flags; the last three models check the wake-ups
//! themselves, on the real pool: `Pool::submit`, the real worker loop (`work`, handed
//! back by `__loom::unspawned` instead of spawned) and `Pool::shutdown`, each on its own
//! loom thread and polled by `loom::future::block_on`. A lost wake-up leaves a thread
//! blocked forever, which loom reports as a deadlock.
//!
//! Under loom the `Notify`s are the `sync` shim's model of tokio's `Notify` (same
//! semantics, built on loom's `Mutex`), so loom can preempt a thread between its look at
//! the queue and its registration for a wake-up, which is where wake-ups get lost. Each
//! model was seen failing (deadlock) with a notify removed or a registration moved after
//! the check it guards.
//!
//! `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" cargo test --release -p throng --test loom_pool`
#![cfg(loom)]

use std::collections::BTreeSet;
use std::time::Duration;

use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;
use throng::pool::__loom::{unspawned, Intake, Pop, Push, UnspawnedWorker};
use throng::pool::{CancellationToken, Pool, SubmitError};

/// A pool of one worker that returns `job * 10`, with its worker loop on a loom thread.
fn one_worker(capacity: usize) -> (Pool<u32, u32>, thread::JoinHandle<()>) {
    let builder = Pool::builder().workers(1).queue_capacity(capacity);
    let (pool, workers) = unspawned(
        builder,
        |job: u32, _: CancellationToken| async move { job * 10 },
    )
    .unwrap();
    let [worker]: [UnspawnedWorker; 1] = workers.try_into().ok().unwrap();
    (pool, thread::spawn(move || block_on(worker)))
}

#[test]
fn submit_racing_close_and_halt_accounts_for_every_job_once() {
    loom::model(|| {
        let intake = Arc::new(Intake::new(4));
        let submitter = {
            let intake = intake.clone();
            thread::spawn(move || {
                let mut refused = Vec::new();
                for job in [1u32, 2] {
                    match intake.push(job, false) {
                        Push::Accepted { .. } => {}
                        Push::Closed(j) | Push::Full(j) => refused.push(j),
                    }
                }
                refused
            })
        };
        let worker = {
            let intake = intake.clone();
            thread::spawn(move || {
                let mut ran = Vec::new();
                for _ in 0..2 {
                    if let Pop::Item { item, .. } = intake.pop(false) {
                        ran.push(item);
                    }
                }
                ran
            })
        };
        intake.close();
        let handed_back = intake.halt();
        let mut all = submitter.join().unwrap();
        all.extend(worker.join().unwrap());
        all.extend(handed_back);
        all.sort_unstable();
        assert_eq!(all, vec![1, 2], "every job exactly once");
        let (queued, accepted) = intake.counts();
        assert_eq!(queued, 0);
        assert!(accepted <= 2);
        assert!(matches!(intake.push(3, false), Push::Closed(3)));
        assert!(matches!(intake.pop(false), Pop::Finished));
    });
}

#[test]
fn a_waiting_submitter_is_always_claimed_by_the_pop_that_makes_room() {
    loom::model(|| {
        let intake = Arc::new(Intake::new(1));
        assert!(matches!(intake.push(1u32, false), Push::Accepted { .. }));
        let submitter = {
            let intake = intake.clone();
            thread::spawn(move || match intake.push(2, true) {
                Push::Accepted { .. } => true,
                Push::Full(_) => false,
                Push::Closed(_) => unreachable!("never closed here"),
            })
        };
        let woke = match intake.pop(false) {
            Pop::Item { wake_submitter, .. } => wake_submitter,
            other => panic!("queue held a job, got {other:?}"),
        };
        let accepted = submitter.join().unwrap();
        // Either the submit saw the room, or it registered as waiting before the pop and
        // the pop claimed it for a wake-up. Never both, never neither.
        assert!(accepted ^ woke, "accepted={accepted} woke={woke}");
    });
}

#[test]
fn an_idle_worker_is_always_claimed_by_the_push_that_brings_work() {
    loom::model(|| {
        let intake = Arc::new(Intake::new(2));
        let worker = {
            let intake = intake.clone();
            thread::spawn(move || match intake.pop(true) {
                Pop::Item { item, .. } => Some(item),
                Pop::Empty => None,
                Pop::Finished => unreachable!("never closed here"),
            })
        };
        let claimed = match intake.push(7u32, false) {
            Push::Accepted { wake_worker } => wake_worker,
            other => panic!("room and open, got {other:?}"),
        };
        let got = worker.join().unwrap();
        match got {
            Some(7) => assert!(!claimed, "a busy worker must not be woken"),
            None => assert!(claimed, "the idle worker must be woken"),
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn an_idle_worker_is_woken_by_the_submit_that_brings_work() {
    // The worker may be anywhere in its wait (before its first look at the queue,
    // between registering and sleeping, asleep) when the job arrives; the handle must
    // resolve, and shutdown must then let the worker exit.
    loom::model(|| {
        let (pool, worker) = one_worker(1);
        let handle = block_on(pool.submit(1)).unwrap();
        assert_eq!(block_on(handle), Ok(10));
        let report = block_on(pool.shutdown(Duration::from_secs(1)));
        worker.join().unwrap();
        assert_eq!((report.accepted, report.completed), (1, 1));
        assert!(report.unstarted.is_empty() && !report.deadline_passed);
    });
}

#[test]
fn a_submitter_waiting_for_room_is_woken_by_the_worker_that_makes_room() {
    // Capacity 1: the second submit waits for room unless the worker already took the
    // first job; the worker's pop must wake it.
    loom::model(|| {
        let (pool, worker) = one_worker(1);
        let first = block_on(pool.submit(1)).unwrap();
        let second = block_on(pool.submit(2)).unwrap();
        assert_eq!(block_on(first), Ok(10));
        assert_eq!(block_on(second), Ok(20));
        drop(pool); // the last handle: closes intake, the worker drains and exits
        worker.join().unwrap();
    });
}

#[test]
fn shutdown_racing_submits_wakes_everyone_and_accounts_for_every_job() {
    // A submitter pushes two jobs into a queue of one while shutdown closes the pool. A
    // waiting submitter must get its job back, an idle worker must wake to drain and
    // exit, and every job is refused with the job or run, exactly once.
    loom::model(|| {
        let (pool, worker) = one_worker(1);
        let submitter = {
            let pool = pool.clone();
            thread::spawn(move || {
                let mut accepted = Vec::new();
                let mut refused = Vec::new();
                for job in [1u32, 2] {
                    match block_on(pool.submit(job)) {
                        Ok(handle) => accepted.push((job, handle)),
                        Err(SubmitError(job)) => refused.push(job),
                    }
                }
                (accepted, refused)
            })
        };
        let report = block_on(pool.shutdown(Duration::from_secs(1)));
        let (accepted, refused) = submitter.join().unwrap();
        worker.join().unwrap();
        let mut seen = BTreeSet::new();
        for (job, handle) in &accepted {
            assert!(
                handle.is_finished(),
                "the worker exited with job {job} unrun"
            );
            assert!(seen.insert(*job));
        }
        for job in &refused {
            assert!(seen.insert(*job));
        }
        assert_eq!(seen, BTreeSet::from([1, 2]), "every job exactly once");
        assert_eq!(report.accepted, accepted.len() as u64);
        assert!(report.unstarted.is_empty());
        for (job, handle) in accepted {
            assert_eq!(block_on(handle), Ok(job * 10));
        }
        assert!(matches!(
            pool.try_submit(3),
            Err(throng::pool::TrySubmitError::Closed(3))
        ));
    });
}
