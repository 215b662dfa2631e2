//! Loom models of the pool's intake/close core: a submit racing a shutdown is either
//! queued (then run or handed back) or refused with its job, exactly once; and a waiting
//! submitter or an idle worker is always claimed for a wake-up (no lost wake-ups).
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use throng::pool::__loom::{Intake, Pop, Push};

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
