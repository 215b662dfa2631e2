//! Stress: many submitters, random batch settings, a concurrent shutdown; every item is
//! flushed exactly once or handed back, and every result reaches its own submitter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use throng::batch::Batcher;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_item_is_flushed_once_or_handed_back_under_a_racing_shutdown() {
    for seed in 0..40u64 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let flushed = Arc::new(AtomicU64::new(0));
        let f = flushed.clone();
        let b = Batcher::builder()
            .max_items(rng.usize(1..64))
            .max_in_flight(rng.usize(1..4))
            .queue_capacity(rng.usize(1..128))
            .max_delay(Duration::from_micros(rng.u64(50..2_000)))
            .spawn(move |items: Vec<u64>| {
                let f = f.clone();
                async move {
                    f.fetch_add(items.len() as u64, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    Ok::<_, String>(items.into_iter().map(|n| n + 1).collect())
                }
            })
            .unwrap();
        let mut tasks = Vec::new();
        for s in 0..4u64 {
            let b = b.clone();
            tasks.push(tokio::spawn(async move {
                let (mut ok, mut refused) = (0u64, 0u64);
                let mut handles = Vec::new();
                for i in 0..2_000u64 {
                    let n = s * 1_000_000 + i;
                    match b.submit(n).await {
                        Ok(h) => handles.push((n, h)),
                        Err(closed) => {
                            assert_eq!(closed.into_inner(), n);
                            refused += 1;
                        }
                    }
                }
                for (n, h) in handles {
                    assert_eq!(h.await, Ok(n + 1), "each item gets its own result");
                    ok += 1;
                }
                (ok, refused)
            }));
        }
        tokio::time::sleep(Duration::from_micros(rng.u64(0..3_000))).await;
        let report = b.shutdown(Duration::from_secs(10)).await;
        let (mut ok, mut refused) = (0, 0);
        for t in tasks {
            let (o, r) = t.await.unwrap();
            ok += o;
            refused += r;
        }
        assert_eq!(ok + refused, 8_000, "seed {seed}");
        assert_eq!(report.accepted, ok, "seed {seed}");
        assert_eq!(report.succeeded, ok, "seed {seed}");
        assert_eq!(
            flushed.load(Ordering::SeqCst),
            ok,
            "flushed exactly once, seed {seed}"
        );
        assert_eq!(report.cancelled + report.failed, 0);
    }
}
