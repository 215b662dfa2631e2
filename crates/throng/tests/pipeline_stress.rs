//! Pipelines under real threads: every item is counted through random per-item delays in
//! both output modes, and a cancel reaches workers wherever they wait (on an empty input,
//! on a full queue, inside an item).
#![cfg(feature = "pipeline")]

use std::time::Duration;

use throng::pipeline::{Pipeline, PipelineError};

const ITEMS: u64 = 20_000;

async fn run_once(ordered: bool, seed: u64) {
    let b = Pipeline::builder::<u64, ()>(8)
        .stage("a", 3, move |n: u64, _| async move {
            // A pseudo-random mix of ready items and items that yield a few times.
            for _ in 0..(n.wrapping_mul(seed | 1) >> 7) % 3 {
                tokio::task::yield_now().await;
            }
            Ok(n)
        })
        .stage("b", 2, |n: u64, _| async move { Ok(n * 3) })
        .stage("c", 1, |n: u64, _| async move { Ok(n + 1) });
    let b = if ordered { b.ordered() } else { b };
    let (input, mut output, handle) = b.spawn().unwrap();
    let feeder = tokio::spawn(async move {
        for n in 0..ITEMS {
            input.send(n).await.unwrap();
        }
    });
    let mut got = Vec::with_capacity(ITEMS as usize);
    while let Some(v) = output.recv().await {
        got.push(v);
    }
    feeder.await.unwrap();
    if !ordered {
        got.sort_unstable();
    }
    let want: Vec<u64> = (0..ITEMS).map(|n| n * 3 + 1).collect();
    assert_eq!(got.len(), want.len(), "ordered={ordered} seed={seed}");
    assert!(
        got == want,
        "ordered={ordered} seed={seed}: items lost, doubled or out of order"
    );
    let metrics = handle.join().await.unwrap();
    for m in &metrics {
        assert_eq!((m.taken, m.emitted, m.queued), (ITEMS, ITEMS, 0), "{m:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_item_arrives_exactly_once_on_two_threads() {
    for seed in 0..4 {
        run_once(false, seed).await;
        run_once(true, seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_reaches_workers_wherever_they_wait() {
    // Stage "idle" waits on an empty input, "blocked" on a full queue (nobody reads the
    // output), "busy" inside an item that only its token ends.
    for case in 0..3 {
        let (input, output, handle) = Pipeline::builder::<u32, ()>(1)
            .stage("first", 2, move |n: u32, token| async move {
                if case == 2 {
                    token.cancelled().await;
                }
                Ok(n)
            })
            .stage("second", 2, |n: u32, _| async move { Ok(n) })
            .spawn()
            .unwrap();
        if case >= 1 {
            for n in 0..8 {
                if input.try_send(n).is_err() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        handle.cancel();
        let joined = tokio::time::timeout(Duration::from_secs(5), handle.join())
            .await
            .unwrap_or_else(|_| panic!("case {case}: a worker did not see the cancel"));
        assert_eq!(joined.unwrap_err(), PipelineError::Cancelled, "case {case}");
        drop((input, output));
    }
}
