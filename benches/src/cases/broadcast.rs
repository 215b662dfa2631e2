//! Scoreboard cases for `throng::broadcast`: lossless fan-out from one publisher to many
//! subscriber tasks, against `tokio::sync::broadcast` and `async-broadcast`.
//!
//! Each round: N subscribers (each its own tokio task receiving every message), one
//! publisher task publishing M `Arc<u64>` messages then closing; timed from the first
//! publish to the last receive. Every peer is lossless: throng subscribers use
//! `DropOldest` with capacity ≥ M and assert nothing was dropped, tokio's capacity is ≥ M
//! and a `Lagged` panics, async-broadcast runs in its default await-when-full mode.
//! The runtime is multi-threaded with 2 workers.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use throng::broadcast::{Broadcaster, Overflow, RecvError, SubscribeOptions};
use tokio::runtime::Runtime;

use super::counter::interleaved_best;
use crate::report::Case;
use crate::report::CaseResult;

/// The runtime the fan-out measurements use: multi-threaded, 2 workers.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Time for one throng round: `subs` subscriber tasks each receive all `msgs` messages.
pub fn throng_round(rt: &Runtime, subs: usize, msgs: usize) -> Duration {
    rt.block_on(async {
        let b: Broadcaster<Arc<u64>> = Broadcaster::new();
        let cap = NonZeroUsize::new(msgs.max(1)).expect("non-zero");
        let mut tasks = Vec::with_capacity(subs);
        for _ in 0..subs {
            let mut sub = b
                .subscribe(SubscribeOptions::new(cap, Overflow::DropOldest))
                .expect("open");
            tasks.push(tokio::spawn(async move {
                let mut n = 0usize;
                loop {
                    match sub.recv().await {
                        Ok(_) => n += 1,
                        Err(RecvError::Closed) => break,
                        Err(e) => panic!("lossy run: {e}"),
                    }
                }
                assert_eq!(sub.stats().dropped, 0);
                n
            }));
        }
        let start = Instant::now();
        let publisher = tokio::spawn(async move {
            let payload = Arc::new(7u64);
            for _ in 0..msgs {
                b.publish(Arc::clone(&payload)).await.expect("open");
            }
            // Dropping the only handle closes the broadcaster.
        });
        publisher.await.expect("publisher");
        for t in tasks {
            assert_eq!(t.await.expect("subscriber"), msgs);
        }
        start.elapsed()
    })
}

/// Time for one `tokio::sync::broadcast` round (capacity ≥ `msgs`, so lossless).
pub fn tokio_round(rt: &Runtime, subs: usize, msgs: usize) -> Duration {
    rt.block_on(async {
        let (tx, _) = tokio::sync::broadcast::channel::<Arc<u64>>(msgs.max(1));
        let mut tasks = Vec::with_capacity(subs);
        for _ in 0..subs {
            let mut rx = tx.subscribe();
            tasks.push(tokio::spawn(async move {
                let mut n = 0usize;
                loop {
                    match rx.recv().await {
                        Ok(_) => n += 1,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                        Err(e) => panic!("lossy run: {e}"),
                    }
                }
                n
            }));
        }
        let start = Instant::now();
        let publisher = tokio::spawn(async move {
            let payload = Arc::new(7u64);
            for _ in 0..msgs {
                tx.send(Arc::clone(&payload)).expect("receivers");
            }
        });
        publisher.await.expect("publisher");
        for t in tasks {
            assert_eq!(t.await.expect("subscriber"), msgs);
        }
        start.elapsed()
    })
}

/// Time for one `async-broadcast` round (default await-when-full mode).
pub fn async_broadcast_round(rt: &Runtime, subs: usize, msgs: usize, capacity: usize) -> Duration {
    rt.block_on(async {
        let (tx, rx) = async_broadcast::broadcast::<Arc<u64>>(capacity.max(1));
        let mut tasks = Vec::with_capacity(subs);
        for _ in 0..subs {
            let mut rx = rx.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = 0usize;
                loop {
                    match rx.recv().await {
                        Ok(_) => n += 1,
                        Err(async_broadcast::RecvError::Closed) => break,
                        Err(e) => panic!("lossy run: {e}"),
                    }
                }
                n
            }));
        }
        drop(rx);
        let start = Instant::now();
        let publisher = tokio::spawn(async move {
            let payload = Arc::new(7u64);
            for _ in 0..msgs {
                tx.broadcast(Arc::clone(&payload)).await.expect("receivers");
            }
        });
        publisher.await.expect("publisher");
        for t in tasks {
            assert_eq!(t.await.expect("subscriber"), msgs);
        }
        start.elapsed()
    })
}

/// Deliveries per second over rounds lasting about `dur` in total.
fn deliveries_per_sec(
    dur: Duration,
    subs: usize,
    msgs: usize,
    mut round: impl FnMut() -> Duration,
) -> f64 {
    round(); // warm-up
    let wall = Instant::now();
    let mut busy = Duration::ZERO;
    let mut n = 0u64;
    while wall.elapsed() < dur {
        busy += round();
        n += (subs * msgs) as u64;
    }
    n as f64 / busy.as_secs_f64()
}

fn fanout1000() -> CaseResult {
    const SUBS: usize = 1000;
    const MSGS: usize = 1000;
    let rt = runtime();
    let per = Duration::from_millis(700);
    // Interleaved (throng, tokio, async-broadcast, then again), best of 5 each, so
    // load from other processes hits all three alike.
    let best = interleaved_best(
        5,
        &mut [
            &mut || deliveries_per_sec(per, SUBS, MSGS, || throng_round(&rt, SUBS, MSGS)),
            &mut || deliveries_per_sec(per, SUBS, MSGS, || tokio_round(&rt, SUBS, MSGS)),
            &mut || {
                deliveries_per_sec(per, SUBS, MSGS, || {
                    async_broadcast_round(&rt, SUBS, MSGS, MSGS)
                })
            },
        ],
    );
    let (throng, tokio, ab) = (best[0], best[1], best[2]);
    CaseResult {
        name: "broadcast.fanout1000".into(),
        unit: "deliveries/s",
        throng,
        peers: vec![
            ("tokio-broadcast".into(), tokio),
            ("async-broadcast".into(), ab),
        ],
    }
}

/// This pattern's cases.
pub fn cases() -> Vec<Case> {
    vec![Case {
        name: "broadcast.fanout1000",
        run: fanout1000,
    }]
}
