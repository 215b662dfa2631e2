//! Regressions for the seed's `MessageBroadcaster` defects (S12-*) and the missing
//! unsubscribe (S11-3), plus stress tests that count every item.

mod support;

use std::sync::Arc;

use support::opts;
use throng::broadcast::{Broadcaster, Overflow, RecvError, Status};

/// The seed's `Broadcast` did `select { case ch <- msg: default: }` on a 10-slot channel:
/// 15 sent, 10 buffered, 5 silently lost, nothing reported. Here the same run reports
/// every drop (per publish, per subscriber, per broadcaster) and the gap is visible.
#[tokio::test]
async fn s12_1_full_subscriber_drops_are_counted_and_visible() {
    let b = Broadcaster::new();
    let mut newest = b.subscribe(opts(10, Overflow::DropNewest)).unwrap();
    let mut oldest = b.subscribe(opts(10, Overflow::DropOldest)).unwrap();
    let mut strict = b.subscribe(opts(10, Overflow::Disconnect)).unwrap();
    let mut dropped_reported = 0;
    for i in 0..15 {
        let r = b.try_publish(i).unwrap();
        dropped_reported += r.dropped + r.evicted;
    }
    // newest: 5 dropped; oldest: 5 evicted; strict: 1 dropped then disconnected.
    assert_eq!(dropped_reported, 5 + 5 + 1);
    assert_eq!(newest.stats().dropped, 5);
    assert_eq!(oldest.stats().dropped, 5);
    assert_eq!(strict.stats().dropped, 1);
    assert_eq!(b.metrics().dropped, 11);
    assert_eq!(b.metrics().disconnected, 1);
    // The lag is told to the DropOldest subscriber in place of the gap.
    assert_eq!(oldest.recv().await, Err(RecvError::Lagged(5)));
    assert_eq!(oldest.recv().await.unwrap().seq, 5);
    // The DropNewest subscriber's seqs stop at 9: the gap is detectable.
    let mut last = 0;
    while let Ok(d) = newest.try_recv() {
        last = d.seq;
    }
    assert_eq!(last, 9);
    // The Disconnect subscriber is told explicitly after its queue.
    for _ in 0..10 {
        strict.recv().await.unwrap();
    }
    assert_eq!(strict.recv().await, Err(RecvError::Disconnected));
}

/// The seed fanned out under an RLock, so 2 concurrent publishers interleaved and 8
/// subscribers saw different orders (5 of 300 trials). Here 2 publishers × 200 messages
/// × 8 subscribers, repeated: every subscriber sees the identical sequence, with
/// consecutive seqs.
#[test]
fn s12_2_concurrent_publishers_give_every_subscriber_the_same_order() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    for _trial in 0..20 {
        rt.block_on(async {
            let b: Broadcaster<(u8, u32)> = Broadcaster::new();
            let subs: Vec<_> = (0..8)
                .map(|_| b.subscribe(opts(1024, Overflow::DropNewest)).unwrap())
                .collect();
            let pubs: Vec<_> = (0..2u8)
                .map(|p| {
                    let b = b.clone();
                    tokio::spawn(async move {
                        for i in 0..200 {
                            b.publish((p, i)).await.unwrap();
                            if i % 16 == 0 {
                                tokio::task::yield_now().await;
                            }
                        }
                    })
                })
                .collect();
            for p in pubs {
                p.await.unwrap();
            }
            b.close();
            let mut seen = Vec::new();
            for mut s in subs {
                let mut got = Vec::new();
                while let Ok(d) = s.recv().await {
                    got.push((d.seq, d.msg));
                }
                assert_eq!(got.len(), 400);
                assert!(got.iter().enumerate().all(|(i, (seq, _))| *seq == i as u64));
                seen.push(got);
            }
            assert!(
                seen.windows(2).all(|w| w[0] == w[1]),
                "all subscribers agree on the order"
            );
        });
    }
}

/// The seed had no `Close`: subscribers ranging over their channel never ended when the
/// broadcaster was discarded. Here dropping the broadcaster ends each of them after
/// their queued messages.
#[tokio::test]
async fn s12_3_dropping_the_broadcaster_ends_every_subscriber() {
    let b = Broadcaster::new();
    let mut subs: Vec<_> = (0..3)
        .map(|_| b.subscribe(opts(4, Overflow::DropOldest)).unwrap())
        .collect();
    let ranging: Vec<_> = subs
        .drain(..)
        .map(|mut s| {
            tokio::spawn(async move {
                let mut n = 0;
                while s.recv().await.is_ok() {
                    n += 1;
                }
                n
            })
        })
        .collect();
    b.publish(1).await.unwrap();
    b.publish(2).await.unwrap();
    drop(b);
    for r in ranging {
        assert_eq!(r.await.unwrap(), 2);
    }
}

/// The seed hard-coded a 10-slot `chan string` for everyone. Here capacity and policy are
/// chosen per subscriber and the payload is generic (an `Arc`, cloned cheaply: the
/// payload is shared, not copied).
#[tokio::test]
async fn s12_4_capacity_is_per_subscriber_and_payload_is_generic() {
    let b: Broadcaster<Arc<Vec<u8>>> = Broadcaster::new();
    let mut small = b.subscribe(opts(1, Overflow::DropNewest)).unwrap();
    let mut big = b.subscribe(opts(100, Overflow::DropNewest)).unwrap();
    let payload = Arc::new(vec![0u8; 1 << 20]);
    for _ in 0..50 {
        b.try_publish(Arc::clone(&payload)).unwrap();
    }
    assert_eq!(small.len(), 1);
    assert_eq!(big.len(), 50);
    assert_eq!(small.stats().dropped, 49);
    assert_eq!(
        Arc::strong_count(&payload),
        1 + 1 + 50,
        "shared, never deep-copied"
    );
    assert!(Arc::ptr_eq(&big.recv().await.unwrap().msg, &payload));
    small.recv().await.unwrap();
}

/// The seed's signal broadcaster had no unsubscribe, so abandoned listeners piled up.
/// Here dropping a subscriber removes it at once, and publishes stop cloning for it.
#[tokio::test]
async fn s11_3_dropped_subscribers_are_removed_at_once() {
    let b = Broadcaster::new();
    let payload = Arc::new(());
    for _ in 0..100 {
        let s = b.subscribe(opts(4, Overflow::DropOldest)).unwrap();
        drop(s);
    }
    assert_eq!(b.subscriber_count(), 0);
    let r = b.publish(Arc::clone(&payload)).await.unwrap();
    assert_eq!(r.delivered, 0);
    assert_eq!(Arc::strong_count(&payload), 1);
    let mut s = b.subscribe(opts(4, Overflow::DropOldest)).unwrap();
    s.unsubscribe();
    s.unsubscribe();
    assert_eq!(b.subscriber_count(), 0);
    assert_eq!(b.metrics().subscribed, 101);
}

/// Every message offered to every subscriber is received or counted as dropped, with
/// publishers, slow receivers, and subscribers joining and leaving concurrently.
#[test]
fn stress_every_item_is_received_or_counted() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let b: Broadcaster<u32> = Broadcaster::new();
        let policies = [
            Overflow::DropNewest,
            Overflow::DropOldest,
            Overflow::Disconnect,
        ];
        let mut receivers = Vec::new();
        for i in 0..12 {
            let mut s = b.subscribe(opts(8 + i, policies[i % 3])).unwrap();
            receivers.push(tokio::spawn(async move {
                let (mut got, mut lagged, mut last) = (0u64, 0u64, None::<u64>);
                loop {
                    match s.recv().await {
                        Ok(d) => {
                            assert!(last.is_none_or(|l| d.seq > l), "seqs increase");
                            last = Some(d.seq);
                            got += 1;
                            if got % 7 == 0 {
                                tokio::task::yield_now().await;
                            }
                        }
                        Err(RecvError::Lagged(n)) => lagged += n,
                        Err(_) => break,
                    }
                }
                let st = s.stats();
                assert_eq!(st.received, got);
                assert_eq!(st.dropped_oldest, lagged);
                assert_eq!(
                    st.enqueued,
                    st.received + st.dropped_oldest + st.queued as u64
                );
                (
                    s.overflow(),
                    s.status(),
                    st.enqueued + st.dropped - st.dropped_oldest,
                    st.dropped,
                )
            }));
        }
        let pubs: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                tokio::spawn(async move {
                    for i in 0..2000 {
                        b.publish(i).await.unwrap();
                        if i % 50 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        let churn = {
            let b = b.clone();
            tokio::spawn(async move {
                for _ in 0..200 {
                    let s = b.subscribe(opts(2, Overflow::DropNewest)).unwrap();
                    tokio::task::yield_now().await;
                    drop(s);
                }
            })
        };
        for p in pubs {
            p.await.unwrap();
        }
        churn.await.unwrap();
        b.close();
        for r in receivers {
            let (overflow, status, offered, dropped) = r.await.unwrap();
            if status == Status::Disconnected {
                // Offered everything up to the message that found it full.
                assert_eq!(overflow, Overflow::Disconnect);
                assert_eq!(dropped, 1);
                assert!(offered <= 4000);
            } else {
                assert_eq!(
                    offered, 4000,
                    "{overflow:?}: every message queued or counted"
                );
            }
        }
        let m = b.metrics();
        assert_eq!(m.published, 4000);
        assert_eq!(m.subscribers, 0);
    });
}
