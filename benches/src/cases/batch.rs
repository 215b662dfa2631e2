//! Scoreboard cases for `throng::batch`: items per second through a downstream whose
//! every call costs a fixed 50 µs and serves one call at a time (a database connection,
//! a remote API), batched at 1, 16 and 256 items per call, against one call per item.
//!
//! 1024 caller tasks each submit an item and await its own result, in a loop. The
//! downstream is a `tokio::sync::Mutex` held for 50 µs of spinning per call, so calls
//! serialize: one call per item tops out near 20 000 items/s whatever the concurrency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use throng::batch::Batcher;
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Mutex;

use crate::report::{best_of, rate, Case, CaseResult};

/// The fixed cost of one downstream call.
pub const CALL_COST: Duration = Duration::from_micros(50);
/// Concurrent callers.
pub const CALLERS: usize = 1024;
const DUR: Duration = Duration::from_millis(600);
const ROUNDS: usize = 2;

/// A downstream that serves one call at a time, each taking `CALL_COST`.
#[derive(Debug, Clone, Default)]
pub struct Downstream(Arc<Mutex<u64>>);

impl Downstream {
    /// One call carrying `items` items; returns one result per item.
    pub async fn call(&self, items: &[u64]) -> Vec<u64> {
        let mut calls = self.0.lock().await;
        let start = Instant::now();
        while start.elapsed() < CALL_COST {
            std::hint::spin_loop();
        }
        *calls += 1;
        items.iter().map(|n| n + 1).collect()
    }
}

/// A batcher in front of `downstream` with `max_items` per call.
pub fn batcher(downstream: &Downstream, max_items: usize) -> Batcher<u64, u64, ()> {
    let d = downstream.clone();
    Batcher::builder()
        .max_items(max_items)
        .max_delay(Duration::from_millis(1))
        .max_in_flight(2)
        .queue_capacity(CALLERS * 64)
        .spawn(move |items: Vec<u64>| {
            let d = d.clone();
            async move { Ok(d.call(&items).await) }
        })
        .expect("valid batcher")
}

fn runtime() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Items per second: `CALLERS` tasks doing `per_caller` items each.
fn measure(rt: &Runtime, max_items: Option<usize>, per_caller: u64) -> f64 {
    let _guard = rt.enter();
    let downstream = Downstream::default();
    let b = max_items.map(|n| batcher(&downstream, n));
    let value = best_of(ROUNDS, || {
        rate(DUR, || {
            rt.block_on(async {
                let mut tasks = Vec::with_capacity(CALLERS);
                for c in 0..CALLERS as u64 {
                    let b = b.clone();
                    let d = downstream.clone();
                    tasks.push(tokio::spawn(async move {
                        match &b {
                            // Each caller submits its items, then awaits each one's result.
                            Some(b) => {
                                let mut handles = Vec::with_capacity(per_caller as usize);
                                for i in 0..per_caller {
                                    let n = c * per_caller + i;
                                    handles.push((n, b.submit(n).await.expect("open")));
                                }
                                for (n, h) in handles {
                                    assert_eq!(h.await.expect("flushed"), n + 1);
                                }
                            }
                            None => {
                                for i in 0..per_caller {
                                    let n = c * per_caller + i;
                                    assert_eq!(d.call(&[n]).await[0], n + 1);
                                }
                            }
                        }
                    }));
                }
                for t in tasks {
                    t.await.unwrap();
                }
            });
            CALLERS as u64 * per_caller
        })
    });
    if let Some(b) = b {
        rt.block_on(b.shutdown(Duration::from_secs(5)));
    }
    value
}

fn case(name: &'static str, max_items: usize, per_caller: u64) -> CaseResult {
    let rt = runtime();
    let batched = measure(&rt, Some(max_items), per_caller);
    let single = measure(&rt, None, 1);
    CaseResult {
        name: name.to_owned(),
        unit: "items/s",
        throng: batched,
        peers: vec![("call-per-item".to_owned(), single)],
    }
}

/// This pattern's cases.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "batch.1",
            run: || case("batch.1", 1, 1),
        },
        Case {
            name: "batch.16",
            run: || case("batch.16", 16, 8),
        },
        Case {
            name: "batch.256",
            run: || case("batch.256", 256, 64),
        },
    ]
}
