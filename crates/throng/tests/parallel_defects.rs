//! Regressions for the seed's `ParallelProcessor` defects (S14-1..S14-3 in
//! docs/seed-defects.md). S14-4 (loop variables captured by goroutines) is
//! moot in Rust: `move` closures own their values.
#![cfg(feature = "parallel")]

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use support::MS;
use throng::parallel::{Group, InvalidLimit, ItemError, ParMap};
use tokio::time::sleep;

#[test]
fn s14_1_zero_workers_is_a_config_error() {
    // Seed: workers=0 returned ["", ""] with no error; workers=-1 panicked.
    assert_eq!(ParMap::new(0), Err(InvalidLimit::ZeroLimit));
    assert!(Group::<(), Infallible>::with_limit(0).is_err());
    assert_eq!(ParMap::new(1).unwrap().limit().get(), 1);
}

#[tokio::test(start_paused = true)]
async fn s14_2_a_failing_item_is_reported_and_cancels_the_rest() {
    // Seed: no error path at all.
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let res = ParMap::new(2)
        .unwrap()
        .try_map(vec!["a", "bad", "c", "d", "e"], move |item| {
            s.fetch_add(1, Ordering::SeqCst);
            async move {
                sleep(if item == "bad" { 5 * MS } else { 10 * MS }).await;
                if item == "bad" {
                    Err(format!("cannot process {item}"))
                } else {
                    Ok(format!("processed: {item}"))
                }
            }
        })
        .await;
    assert_eq!(
        res,
        Err(ItemError::Failed {
            index: 1,
            error: "cannot process bad".to_owned()
        })
    );
    // The two in flight when "bad" failed; nothing after it started.
    assert_eq!(started.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s14_2_a_panicking_item_is_contained_and_the_others_still_delivered() {
    // Seed: one panicking item crashes the process.
    let out = ParMap::new(3)
        .unwrap()
        .map_all(0..9u32, |i| async move {
            if i == 4 {
                panic!("item {i} exploded");
            }
            Ok::<_, Infallible>(format!("processed: {i}"))
        })
        .await;
    assert_eq!(out.len(), 9);
    for (i, r) in out.iter().enumerate() {
        if i == 4 {
            assert_eq!(
                r.as_ref().unwrap_err().panic_message(),
                Some("item 4 exploded")
            );
        } else {
            assert_eq!(r.as_deref(), Ok(format!("processed: {i}").as_str()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s14_3_fan_out_is_bounded_by_the_limit_not_the_item_count() {
    // Seed: `ProcessWithChannels` spawned one goroutine per item.
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let peak_tasks = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak_in_flight = Arc::new(AtomicUsize::new(0));
    let (pt, inf, pif) = (
        peak_tasks.clone(),
        in_flight.clone(),
        peak_in_flight.clone(),
    );
    let out = ParMap::new(4)
        .unwrap()
        .try_map(0..10_000u32, move |i| {
            let (pt, inf, pif) = (pt.clone(), inf.clone(), pif.clone());
            async move {
                let now = inf.fetch_add(1, Ordering::SeqCst) + 1;
                pif.fetch_max(now, Ordering::SeqCst);
                let tasks = tokio::runtime::Handle::current()
                    .metrics()
                    .num_alive_tasks();
                pt.fetch_max(tasks, Ordering::SeqCst);
                tokio::task::yield_now().await;
                inf.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, Infallible>(i)
            }
        })
        .await
        .unwrap();
    assert_eq!(out.len(), 10_000);
    assert!(peak_in_flight.load(Ordering::SeqCst) <= 4);
    assert!(peak_tasks.load(Ordering::SeqCst) <= before + 4);
}
