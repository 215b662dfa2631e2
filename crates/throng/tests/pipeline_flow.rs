//! Pipelines: typed stages, ordered and unordered output, backpressure, the first error
//! and cancellation stopping every stage, per-stage metrics.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use throng::pipeline::{InvalidPipeline, Pipeline, PipelineError};

#[tokio::test(start_paused = true)]
async fn three_typed_stages_preserve_input_order_when_ordered() {
    let (input, mut output, handle) = Pipeline::builder::<u64, String>(4)
        .stage("parse", 3, |n: u64, _| async move {
            // Later items finish first: order must be restored at the end.
            tokio::time::sleep(Duration::from_millis(10 * (5 - n % 5))).await;
            Ok(n as i64)
        })
        .stage("enrich", 2, |n: i64, _| async move { Ok((n, n * n)) })
        .stage("format", 1, |(n, sq): (i64, i64), _| async move {
            Ok(format!("{n}^2={sq}"))
        })
        .ordered()
        .spawn()
        .unwrap();
    let feeder = tokio::spawn(async move {
        for n in 0..20 {
            input.send(n).await.unwrap();
        }
    });
    let mut got = Vec::new();
    while let Some(s) = output.recv().await {
        got.push(s);
    }
    feeder.await.unwrap();
    let want: Vec<String> = (0..20).map(|n: i64| format!("{n}^2={}", n * n)).collect();
    assert_eq!(got, want);
    let metrics = handle.join().await.unwrap();
    assert_eq!(metrics.len(), 3);
    for m in &metrics {
        assert_eq!((m.taken, m.emitted, m.queued), (20, 20, 0), "{m:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn unordered_output_delivers_every_item() {
    let (input, mut output, handle) = Pipeline::builder::<u32, ()>(2)
        .stage("double", 4, |n: u32, _| async move {
            tokio::time::sleep(Duration::from_millis(u64::from(n % 7))).await;
            Ok(n * 2)
        })
        .spawn()
        .unwrap();
    tokio::spawn(async move {
        for n in 0..500 {
            input.send(n).await.unwrap();
        }
    });
    let mut got = Vec::new();
    while let Some(n) = output.recv().await {
        got.push(n);
    }
    got.sort_unstable();
    assert_eq!(got, (0..500).map(|n| n * 2).collect::<Vec<_>>());
    assert!(handle.join().await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn the_first_error_stops_every_stage_and_is_returned() {
    let seen_after = Arc::new(AtomicUsize::new(0));
    let s = seen_after.clone();
    let (input, mut output, handle) = Pipeline::builder::<u32, String>(2)
        .stage("parse", 2, |n: u32, _| async move {
            if n == 10 {
                Err(format!("bad record {n}"))
            } else {
                Ok(n)
            }
        })
        .stage("write", 1, move |n: u32, _| {
            let s = s.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                if n > 10 {
                    s.fetch_add(1, Ordering::SeqCst);
                }
                Ok(n)
            }
        })
        .spawn()
        .unwrap();
    let feeder = tokio::spawn(async move {
        let mut refused = 0;
        for n in 0..1000 {
            if input.send(n).await.is_err() {
                refused += 1;
            }
        }
        refused
    });
    while output.recv().await.is_some() {}
    let err = handle.join().await.unwrap_err();
    assert_eq!(
        err,
        PipelineError::Stage {
            stage: "parse",
            error: "bad record 10".into()
        }
    );
    assert!(
        feeder.await.unwrap() > 900,
        "the input refuses items once stopped"
    );
    assert!(
        seen_after.load(Ordering::SeqCst) < 10,
        "stages stopped promptly"
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_stage_is_an_error_not_a_crash() {
    let (input, mut output, handle) = Pipeline::builder::<u32, ()>(2)
        .stage("boom", 1, |n: u32, _| async move {
            assert!(n != 3, "item {n} is cursed");
            Ok(n)
        })
        .spawn()
        .unwrap();
    tokio::spawn(async move {
        for n in 0..10 {
            let _ = input.send(n).await;
        }
    });
    while output.recv().await.is_some() {}
    assert_eq!(
        handle.join().await.unwrap_err(),
        PipelineError::Panicked {
            stage: "boom",
            message: "item 3 is cursed".into()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_long_items_through_their_token() {
    let (input, mut output, handle) = Pipeline::builder::<u32, ()>(2)
        .stage("slow", 2, |n: u32, token| async move {
            token.cancelled().await;
            Ok(n)
        })
        .spawn()
        .unwrap();
    input.send(1).await.unwrap();
    input.send(2).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    handle.cancel();
    assert_eq!(output.recv().await, None);
    assert_eq!(handle.join().await.unwrap_err(), PipelineError::Cancelled);
    assert!(input.send(3).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_slow_stage_fills_its_queue_and_shows_as_the_bottleneck() {
    let (input, mut output, handle) = Pipeline::builder::<u32, ()>(8)
        .stage("parse", 2, |n: u32, _| async move { Ok(n) })
        .stage("enrich", 1, |n: u32, _| async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(n)
        })
        .stage("write", 1, |n: u32, _| async move { Ok(n) })
        .spawn()
        .unwrap();
    let feeder = tokio::spawn(async move {
        for n in 0..100 {
            input.send(n).await.unwrap();
        }
    });
    // Read slowly for a while so the queues settle, then look.
    for _ in 0..5 {
        output.recv().await.unwrap();
    }
    let m = handle.metrics();
    assert_eq!(m[1].name, "enrich");
    assert_eq!(
        m[1].queued, 8,
        "the slow stage's input queue is full: {m:?}"
    );
    assert!(m[0].queued >= 7, "backpressure reaches the input: {m:?}");
    assert_eq!(handle.bottleneck(), Some("enrich"));
    while output.recv().await.is_some() {}
    feeder.await.unwrap();
    handle.join().await.unwrap();
}

#[tokio::test]
async fn invalid_settings_are_typed_errors() {
    let zero_cap = Pipeline::builder::<u8, ()>(0)
        .stage("a", 1, |n: u8, _| async move { Ok(n) })
        .spawn();
    assert_eq!(zero_cap.unwrap_err(), InvalidPipeline::ZeroCapacity);
    let zero_workers = Pipeline::builder::<u8, ()>(1)
        .stage("a", 0, |n: u8, _| async move { Ok(n) })
        .spawn();
    assert_eq!(
        zero_workers.unwrap_err(),
        InvalidPipeline::ZeroWorkers { stage: "a" }
    );
}
