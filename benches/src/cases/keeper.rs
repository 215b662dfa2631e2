//! Scoreboard cases for `throng::keeper`: the round trip of a trivial closure (increment
//! a `u64` and return it) through a [`Keeper`], against the hand-rolled loop it replaces
//! (`mpsc-oneshot`: a bounded tokio `mpsc` of an enum command, each carrying a tokio
//! `oneshot` reply sender, drained by `recv()`).

use std::num::NonZeroUsize;
use std::time::Duration;

use throng::keeper::Keeper;
use tokio::runtime::{Builder, Runtime};
use tokio::sync::{mpsc, oneshot};

use crate::report::{best_of, rate, Case, CaseResult};

/// Mailbox capacity used by both sides.
pub const CAPACITY: usize = 1024;
/// Round trips per measured batch, per caller.
const CALLS: u64 = 2_000;
const DUR: Duration = Duration::from_millis(400);
const ROUNDS: usize = 3;

/// The peer's command type: what a hand-rolled actor matches on.
#[derive(Debug)]
pub enum Cmd {
    /// Increment and reply with the new value.
    Inc(oneshot::Sender<u64>),
}

/// The peer: a hand-rolled owner loop.
pub fn spawn_peer() -> mpsc::Sender<Cmd> {
    let (tx, mut rx) = mpsc::channel::<Cmd>(CAPACITY);
    tokio::spawn(async move {
        let mut n = 0u64;
        while let Some(cmd) = rx.recv().await {
            match cmd {
                Cmd::Inc(reply) => {
                    n += 1;
                    let _ = reply.send(n);
                }
            }
        }
    });
    tx
}

/// One peer round trip.
pub async fn peer_inc(tx: &mpsc::Sender<Cmd>) -> u64 {
    let (reply, rx) = oneshot::channel();
    tx.send(Cmd::Inc(reply)).await.expect("peer alive");
    rx.await.expect("peer replies")
}

/// One keeper round trip.
pub async fn keeper_inc(keeper: &Keeper<u64>) -> u64 {
    keeper
        .call(|n| {
            *n += 1;
            *n
        })
        .await
        .expect("keeper alive")
}

fn current_thread() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Calls per second from `callers` concurrent tasks.
fn measure(rt: &Runtime, callers: usize, use_keeper: bool) -> f64 {
    let _guard = rt.enter();
    let keeper = Keeper::spawn(0u64, NonZeroUsize::new(CAPACITY).unwrap()).unwrap();
    let peer = spawn_peer();
    let value = best_of(ROUNDS, || {
        rate(DUR, || {
            rt.block_on(async {
                let mut tasks = Vec::with_capacity(callers);
                for _ in 0..callers {
                    let keeper = keeper.clone();
                    let peer = peer.clone();
                    tasks.push(tokio::spawn(async move {
                        for _ in 0..CALLS {
                            if use_keeper {
                                std::hint::black_box(keeper_inc(&keeper).await);
                            } else {
                                std::hint::black_box(peer_inc(&peer).await);
                            }
                        }
                    }));
                }
                for t in tasks {
                    t.await.unwrap();
                }
            });
            CALLS * callers as u64
        })
    });
    rt.block_on(keeper.stop()).expect("clean stop");
    value
}

fn case(name: &'static str, rt: fn() -> Runtime, callers: usize) -> CaseResult {
    let rt = rt();
    // Interleave so both sides see the same machine noise.
    let mut throng = 0f64;
    let mut peer = 0f64;
    for _ in 0..2 {
        throng = throng.max(measure(&rt, callers, true));
        peer = peer.max(measure(&rt, callers, false));
    }
    CaseResult {
        name: name.to_owned(),
        unit: "calls/s",
        throng,
        peers: vec![("mpsc-oneshot".to_owned(), peer)],
    }
}

/// This pattern's cases.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "keeper.call",
            run: || case("keeper.call", current_thread, 1),
        },
        Case {
            name: "keeper.call.mt",
            run: || case("keeper.call.mt", multi_thread, 1),
        },
        Case {
            name: "keeper.call.contended",
            run: || case("keeper.call.contended", multi_thread, 8),
        },
    ]
}
