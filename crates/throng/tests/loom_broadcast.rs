//! Loom models of the broadcast core: publish / recv (waker registration) / unsubscribe /
//! close, and the `Block` slow-subscriber path (a publisher waiting for room, freed by a
//! receive or by close); 2 threads each, exact final assertions, `Arc` payloads to catch
//! leaks.
//!
//! Run: `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" cargo test --release -p throng
//! --target-dir target/loom --test loom_broadcast`
#![cfg(loom)]

mod support;

use loom::sync::Arc;
use loom::thread;
use support::opts;
use throng::broadcast::{Broadcaster, Overflow, RecvError, SubscribeOptions, TryPublishError};

/// A parked receiver is always woken: 2 messages then close, received by a
/// `recv().await` on another thread; exactly 2 deliveries in order, then Closed once.
#[test]
fn publish_close_wakes_parked_receiver() {
    loom::model(|| {
        let b: Broadcaster<Arc<u8>> = Broadcaster::new();
        let payload = Arc::new(7u8);
        let mut sub = b.subscribe(opts(2, Overflow::DropNewest)).unwrap();
        let p = payload.clone();
        let publisher = thread::spawn(move || {
            b.try_publish(p.clone()).unwrap();
            b.try_publish(p).unwrap();
            assert!(b.close());
        });
        let seqs = loom::future::block_on(async {
            let mut seqs = Vec::new();
            loop {
                match sub.recv().await {
                    Ok(d) => seqs.push(d.seq),
                    Err(RecvError::Closed) => break,
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
            seqs
        });
        publisher.join().unwrap();
        assert_eq!(seqs, vec![0, 1]);
        assert!(matches!(
            sub.try_recv(),
            Err(throng::broadcast::TryRecvError::Closed)
        ));
        drop(sub);
        assert_eq!(Arc::strong_count(&payload), 1);
    });
}

/// Dropping the subscriber while 2 messages are published: each publish delivered to it
/// or found it gone, nothing leaks, and it is unsubscribed at the end.
#[test]
fn unsubscribe_races_publish() {
    loom::model(|| {
        let b: Broadcaster<Arc<u8>> = Broadcaster::new();
        let payload = Arc::new(1u8);
        let sub = b.subscribe(opts(1, Overflow::DropOldest)).unwrap();
        let b2 = b.clone();
        let p = payload.clone();
        let publisher = thread::spawn(move || {
            let r1 = b2.try_publish(p.clone()).unwrap();
            let r2 = b2.try_publish(p).unwrap();
            (r1.delivered, r1.evicted, r2.delivered, r2.evicted)
        });
        drop(sub);
        let (d1, e1, d2, e2) = publisher.join().unwrap();
        // Delivered to at most the one subscriber; an eviction only after a delivery.
        assert!(d1 <= 1 && d2 <= 1 && e1 == 0 && e2 <= d1);
        assert_eq!(b.subscriber_count(), 0);
        let m = b.metrics();
        assert_eq!(m.published, 2);
        assert_eq!(m.delivered, (d1 + d2) as u64);
        assert_eq!(m.dropped, e2 as u64);
        assert_eq!(Arc::strong_count(&payload), 1);
    });
}

/// `close` races with 2 publishes: each message is received or handed back, never both,
/// never neither; the subscriber ends with Closed after what it was given.
#[test]
fn close_races_publish_every_message_delivered_or_handed_back() {
    loom::model(|| {
        let b: Broadcaster<Arc<u8>> = Broadcaster::new();
        let payload = Arc::new(2u8);
        let mut sub = b.subscribe(opts(2, Overflow::Disconnect)).unwrap();
        let b2 = b.clone();
        let p = payload.clone();
        let publisher = thread::spawn(move || {
            let mut handed_back = 0;
            for _ in 0..2 {
                match b2.try_publish(p.clone()) {
                    Ok(r) => assert_eq!(r.delivered, 1),
                    Err(TryPublishError::Closed(_)) => handed_back += 1,
                    Err(TryPublishError::Full(_)) => panic!("no Block subscriber"),
                }
            }
            handed_back
        });
        assert!(b.close());
        let handed_back = publisher.join().unwrap();
        let mut received = 0;
        loop {
            match sub.try_recv() {
                Ok(d) => {
                    assert_eq!(d.seq, received);
                    received += 1;
                }
                Err(e) => {
                    assert_eq!(e, throng::broadcast::TryRecvError::Closed);
                    break;
                }
            }
        }
        assert_eq!(received + handed_back, 2);
        drop(sub);
        assert_eq!(Arc::strong_count(&payload), 1);
    });
}

/// A `Block` subscriber that never times out (`Duration::MAX`: no timer, so no runtime
/// is needed): a publish into its full queue waits for room.
fn blocking(cap: usize) -> SubscribeOptions {
    opts(
        cap,
        Overflow::Block {
            timeout: std::time::Duration::MAX,
        },
    )
}

/// A publisher blocked on a full `Block` subscriber is freed by the subscriber's receive:
/// no lost wake-up (loom reports a publisher that sleeps forever as a deadlock), and the
/// subscriber gets every message once, in order.
#[test]
fn block_publisher_is_woken_by_the_receive_that_makes_room() {
    loom::model(|| {
        let b: Broadcaster<Arc<u8>> = Broadcaster::new();
        let payload = Arc::new(3u8);
        let mut sub = b.subscribe(blocking(1)).unwrap();
        let p = payload.clone();
        let publisher = thread::spawn(move || {
            let reports = loom::future::block_on(async {
                let first = b.publish(p.clone()).await.unwrap();
                // Full until the subscriber takes the first message.
                let second = b.publish(p).await.unwrap();
                [first, second]
            });
            drop(b); // the last handle: closes
            reports
        });
        let seqs = loom::future::block_on(async {
            let mut seqs = Vec::new();
            loop {
                match sub.recv().await {
                    Ok(d) => seqs.push(d.seq),
                    Err(RecvError::Closed) => break,
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
            seqs
        });
        let reports = publisher.join().unwrap();
        assert_eq!(seqs, vec![0, 1], "each message once, in order");
        for (seq, r) in reports.iter().enumerate() {
            assert_eq!((r.seq, r.delivered, r.dropped), (seq as u64, 1, 0));
        }
        let stats = sub.stats();
        assert_eq!((stats.enqueued, stats.received, stats.dropped), (2, 2, 0));
        drop(sub);
        assert_eq!(Arc::strong_count(&payload), 1);
    });
}

/// `close` wakes a publisher blocked on a full `Block` subscriber: the publish returns
/// (its message counted as dropped for that subscriber, or handed back if the close came
/// first), and the subscriber gets what was queued, then `Closed`.
#[test]
fn close_wakes_a_publisher_blocked_on_a_full_subscriber() {
    loom::model(|| {
        let b: Broadcaster<Arc<u8>> = Broadcaster::new();
        let payload = Arc::new(4u8);
        let mut sub = b.subscribe(blocking(1)).unwrap();
        let b2 = b.clone();
        let p = payload.clone();
        let publisher = thread::spawn(move || {
            loom::future::block_on(async {
                let mut outcomes = Vec::new();
                for _ in 0..2 {
                    outcomes.push(b2.publish(p.clone()).await.map_err(|_| ()));
                }
                outcomes
            })
        });
        assert!(b.close());
        let outcomes = publisher.join().unwrap();
        let mut received = 0;
        loop {
            match sub.try_recv() {
                Ok(d) => {
                    assert_eq!(d.seq, received);
                    received += 1;
                }
                Err(e) => {
                    assert_eq!(e, throng::broadcast::TryRecvError::Closed);
                    break;
                }
            }
        }
        // Each message: received, or refused by the closed broadcaster, or abandoned by
        // the close while the publish waited (reported dropped). Never two of these.
        let handed_back = outcomes.iter().filter(|o| o.is_err()).count() as u64;
        let dropped: usize = outcomes.iter().flatten().map(|r| r.dropped).sum();
        let delivered: usize = outcomes.iter().flatten().map(|r| r.delivered).sum();
        assert_eq!(delivered as u64, received);
        assert_eq!(received + dropped as u64 + handed_back, 2);
        assert!(received <= 1, "a queue of one, never read before the close");
        drop(sub);
        assert_eq!(Arc::strong_count(&payload), 1);
    });
}

/// A second publisher that finds a `Block` publish in progress waits for it (order is
/// never broken) and is woken when it finishes: three threads, every message received
/// once, in sequence order.
#[test]
fn a_publisher_stalled_behind_a_blocked_one_is_woken_when_it_finishes() {
    // Three threads: two preemptions keep it to a few seconds, and are enough to catch a
    // missing `notify_waiters` in unstall or a registration moved after its check.
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(2);
    model.check(|| {
        let b: Broadcaster<Arc<u8>> = Broadcaster::new();
        let payload = Arc::new(5u8);
        let mut sub = b.subscribe(blocking(1)).unwrap();
        b.try_publish(payload.clone()).unwrap(); // the queue is full from here on
        let publishers: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                let p = payload.clone();
                thread::spawn(move || loom::future::block_on(b.publish(p)).unwrap())
            })
            .collect();
        let seqs = loom::future::block_on(async {
            let mut seqs = Vec::new();
            for _ in 0..3 {
                seqs.push(sub.recv().await.unwrap().seq);
            }
            seqs
        });
        let mut reports: Vec<_> = publishers.into_iter().map(|p| p.join().unwrap()).collect();
        reports.sort_by_key(|r| r.seq);
        assert_eq!(seqs, vec![0, 1, 2]);
        for (r, seq) in reports.iter().zip([1, 2]) {
            assert_eq!((r.seq, r.delivered, r.dropped), (seq, 1, 0));
        }
        drop(b);
        assert!(matches!(
            sub.try_recv(),
            Err(throng::broadcast::TryRecvError::Closed)
        ));
        drop(sub);
        assert_eq!(Arc::strong_count(&payload), 1);
    });
}
