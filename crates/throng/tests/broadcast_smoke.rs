//! Behaviour of `Broadcaster` / `Subscriber`: smoke, capacity per policy, try_*,
//! *_timeout (paused time), drops counted, close and unsubscribe semantics.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::opts;
use throng::broadcast::{
    Broadcaster, Delivery, Overflow, RecvError, RecvTimeoutError, Status, SubscribeOptions,
    TryPublishError, TryRecvError,
};

fn block(cap: usize, ms: u64) -> SubscribeOptions {
    opts(
        cap,
        Overflow::Block {
            timeout: Duration::from_millis(ms),
        },
    )
}

#[tokio::test]
async fn smoke() {
    let b = Broadcaster::new();
    let mut s = b.subscribe(opts(4, Overflow::DropOldest)).unwrap();
    assert_eq!(s.start_seq(), 0);
    let r = b.publish(10).await.unwrap();
    assert_eq!((r.seq, r.delivered, r.dropped), (0, 1, 0));
    assert_eq!(s.recv().await.unwrap(), Delivery { seq: 0, msg: 10 });
    assert_eq!(s.try_recv(), Err(TryRecvError::Empty));
}

#[tokio::test]
async fn publish_without_subscribers_uses_a_seq_and_delivers_to_none() {
    let b = Broadcaster::new();
    let r = b.publish(1).await.unwrap();
    assert_eq!((r.seq, r.delivered), (0, 0));
    let s = b.subscribe(opts(1, Overflow::DropNewest)).unwrap();
    assert_eq!(s.start_seq(), 1);
}

#[test]
fn zero_capacity_is_a_typed_error() {
    assert!(SubscribeOptions::with_capacity(0, Overflow::DropNewest).is_err());
    assert_eq!(
        SubscribeOptions::with_capacity(3, Overflow::DropNewest)
            .unwrap()
            .capacity()
            .get(),
        3
    );
}

#[tokio::test]
async fn capacity_drop_newest_keeps_oldest_and_counts() {
    let b = Broadcaster::new();
    let mut s = b.subscribe(opts(2, Overflow::DropNewest)).unwrap();
    for i in 0..5 {
        b.try_publish(i).unwrap();
    }
    assert_eq!(s.stats().dropped, 3);
    assert_eq!(s.recv().await.unwrap().seq, 0);
    assert_eq!(s.recv().await.unwrap().seq, 1);
    assert_eq!(s.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(b.metrics().dropped, 3);
}

#[tokio::test]
async fn capacity_drop_oldest_reports_lagged_once() {
    let b = Broadcaster::new();
    let mut s = b.subscribe(opts(2, Overflow::DropOldest)).unwrap();
    for i in 0..5 {
        let r = b.try_publish(i).unwrap();
        assert_eq!(r.evicted, usize::from(i >= 2));
    }
    assert_eq!(s.recv().await, Err(RecvError::Lagged(3)));
    assert_eq!(s.recv().await.unwrap().seq, 3);
    assert_eq!(s.recv().await.unwrap().seq, 4);
    assert_eq!(s.try_recv(), Err(TryRecvError::Empty));
    let st = s.stats();
    assert_eq!(
        (st.enqueued, st.received, st.dropped, st.dropped_oldest),
        (5, 2, 3, 3)
    );
}

#[tokio::test]
async fn capacity_disconnect_delivers_queued_then_disconnected() {
    let b = Broadcaster::new();
    let mut s = b.subscribe(opts(2, Overflow::Disconnect)).unwrap();
    let mut other = b.subscribe(opts(8, Overflow::DropNewest)).unwrap();
    b.try_publish(0).unwrap();
    b.try_publish(1).unwrap();
    let r = b.try_publish(2).unwrap();
    assert_eq!((r.delivered, r.dropped, r.disconnected), (1, 1, 1));
    assert_eq!(s.status(), Status::Disconnected);
    assert_eq!(b.subscriber_count(), 1);
    b.try_publish(3).unwrap();
    assert_eq!(s.recv().await.unwrap().seq, 0);
    assert_eq!(s.recv().await.unwrap().seq, 1);
    assert_eq!(s.recv().await, Err(RecvError::Disconnected));
    assert_eq!(
        s.recv().await,
        Err(RecvError::Disconnected),
        "terminal error is sticky"
    );
    for i in 0..4 {
        assert_eq!(other.recv().await.unwrap().seq, i);
    }
    assert_eq!(b.metrics().disconnected, 1);
}

#[tokio::test(start_paused = true)]
async fn capacity_block_waits_for_room() {
    let b = Broadcaster::new();
    let mut s = b.subscribe(block(1, 1000)).unwrap();
    b.publish(0).await.unwrap();
    let b2 = b.clone();
    let publisher = tokio::spawn(async move { b2.publish(1).await.unwrap() });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(
        !publisher.is_finished(),
        "publish waits while the Block queue is full"
    );
    assert_eq!(s.recv().await.unwrap().seq, 0);
    let r = publisher.await.unwrap();
    assert_eq!((r.seq, r.delivered, r.dropped), (1, 1, 0));
    assert_eq!(s.recv().await.unwrap().seq, 1);
}

#[tokio::test(start_paused = true)]
async fn block_timeout_disconnects_the_subscriber() {
    let b = Broadcaster::new();
    let mut s = b.subscribe(block(1, 50)).unwrap();
    b.publish(0).await.unwrap();
    let start = tokio::time::Instant::now();
    let r = b.publish(1).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(50));
    assert_eq!((r.delivered, r.dropped, r.disconnected), (0, 1, 1));
    assert_eq!(s.recv().await.unwrap().seq, 0);
    assert_eq!(s.recv().await, Err(RecvError::Disconnected));
    assert_eq!(b.subscriber_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn later_publishes_wait_behind_a_blocked_one_and_keep_order() {
    let b = Broadcaster::new();
    let mut slow = b.subscribe(block(1, 1000)).unwrap();
    let mut fast = b.subscribe(opts(16, Overflow::DropNewest)).unwrap();
    b.publish(0).await.unwrap();
    let (b1, b2) = (b.clone(), b.clone());
    let p1 = tokio::spawn(async move { b1.publish(1).await.unwrap().seq });
    tokio::task::yield_now().await;
    // p1 is now stalled on `slow`; try_publish refuses, publish waits.
    assert!(matches!(b.try_publish(9), Err(TryPublishError::Full(9))));
    let p2 = tokio::spawn(async move { b2.publish(2).await.unwrap().seq });
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(!p2.is_finished());
    assert_eq!(fast.try_recv().unwrap().seq, 0);
    assert_eq!(fast.try_recv().unwrap().seq, 1);
    assert_eq!(
        fast.try_recv(),
        Err(TryRecvError::Empty),
        "seq 2 is not published yet"
    );
    for want in 0..3 {
        assert_eq!(slow.recv().await.unwrap().seq, want);
    }
    assert_eq!((p1.await.unwrap(), p2.await.unwrap()), (1, 2));
    assert_eq!(fast.recv().await.unwrap().seq, 2);
}

#[tokio::test(start_paused = true)]
async fn cancelled_block_publish_disconnects_and_unstalls() {
    let b = Broadcaster::new();
    let mut s = b.subscribe(block(1, 10_000)).unwrap();
    b.publish(0).await.unwrap();
    let r = tokio::time::timeout(Duration::from_millis(5), b.publish(1)).await;
    assert!(r.is_err(), "publish was still waiting");
    assert_eq!(s.status(), Status::Disconnected);
    let r = b.try_publish(2).unwrap();
    assert_eq!(r.seq, 2);
    assert_eq!(s.recv().await.unwrap().seq, 0);
    assert_eq!(s.recv().await, Err(RecvError::Disconnected));
    assert_eq!(b.metrics().dropped, 1);
}

#[tokio::test]
async fn try_publish_refuses_whole_message_when_a_block_subscriber_is_full() {
    let b = Broadcaster::new();
    let mut blk = b.subscribe(block(1, 10)).unwrap();
    let mut other = b.subscribe(opts(8, Overflow::DropOldest)).unwrap();
    b.try_publish(0).unwrap();
    let e = b.try_publish(1).unwrap_err();
    assert!(e.is_full());
    assert_eq!(e.into_inner(), 1);
    assert_eq!(b.next_seq(), 1, "no sequence number used");
    assert_eq!(other.try_recv().unwrap().seq, 0);
    assert_eq!(other.try_recv(), Err(TryRecvError::Empty));
    blk.try_recv().unwrap();
    assert_eq!(b.try_publish(1).unwrap().seq, 1);
}

#[tokio::test(start_paused = true)]
async fn recv_timeout_times_out_then_receives() {
    let b = Broadcaster::new();
    let mut s = b.subscribe(opts(4, Overflow::DropOldest)).unwrap();
    let start = tokio::time::Instant::now();
    assert_eq!(
        s.recv_timeout(Duration::from_millis(30)).await,
        Err(RecvTimeoutError::Timeout)
    );
    assert_eq!(start.elapsed(), Duration::from_millis(30));
    let b2 = b.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        b2.publish(5).await.unwrap();
    });
    assert_eq!(
        s.recv_timeout(Duration::from_millis(30)).await.unwrap().msg,
        5
    );
    b.close();
    assert_eq!(
        s.recv_timeout(Duration::from_millis(30)).await,
        Err(RecvTimeoutError::Closed)
    );
}

#[tokio::test]
async fn recv_many_drains_in_order_up_to_limit() {
    let b = Broadcaster::new();
    let mut s = b.subscribe(opts(16, Overflow::DropOldest)).unwrap();
    for i in 0..5 {
        b.try_publish(i).unwrap();
    }
    let mut out = Vec::new();
    assert_eq!(s.recv_many(&mut out, 3).await, Ok(3));
    assert_eq!(s.recv_many(&mut out, 10).await, Ok(2));
    assert_eq!(
        out.iter().map(|d| d.seq).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    assert_eq!(s.recv_many(&mut out, 0).await, Ok(0));
    b.close();
    assert_eq!(s.recv_many(&mut out, 10).await, Err(RecvError::Closed));
}

#[tokio::test]
async fn close_delivers_queued_then_ends_each_subscription_once() {
    let b = Broadcaster::new();
    let mut s1 = b.subscribe(opts(4, Overflow::DropOldest)).unwrap();
    let mut s2 = b.subscribe(opts(4, Overflow::Disconnect)).unwrap();
    b.publish(1).await.unwrap();
    b.publish(2).await.unwrap();
    assert!(b.close());
    assert!(!b.close(), "second close is a no-op");
    assert!(b.is_closed());
    for s in [&mut s1, &mut s2] {
        assert_eq!(s.status(), Status::Closed);
        assert_eq!(s.recv().await.unwrap().msg, 1);
        assert_eq!(s.recv().await.unwrap().msg, 2);
        assert_eq!(s.recv().await, Err(RecvError::Closed));
        assert_eq!(s.try_recv(), Err(TryRecvError::Closed));
    }
    assert_eq!(b.publish(3).await.unwrap_err().into_inner(), 3);
    assert!(matches!(b.try_publish(4), Err(TryPublishError::Closed(4))));
    assert!(b.subscribe(opts(1, Overflow::DropNewest)).is_err());
}

#[tokio::test]
async fn disconnect_wakes_a_parked_receiver() {
    let b: Broadcaster<u8> = Broadcaster::new();
    let mut s = b.subscribe(opts(1, Overflow::DropOldest)).unwrap();
    let waiter = tokio::spawn(async move { s.recv().await });
    tokio::task::yield_now().await;
    b.close();
    assert_eq!(waiter.await.unwrap(), Err(RecvError::Closed));
}

#[tokio::test]
async fn unsubscribe_twice_is_a_no_op_and_keeps_queued() {
    let b = Broadcaster::new();
    let mut s = b.subscribe(opts(4, Overflow::DropOldest)).unwrap();
    b.publish(1).await.unwrap();
    s.unsubscribe();
    s.unsubscribe();
    assert_eq!(b.subscriber_count(), 0);
    assert_eq!(s.status(), Status::Unsubscribed);
    assert_eq!(b.publish(2).await.unwrap().delivered, 0);
    assert_eq!(s.recv().await.unwrap().msg, 1);
    assert_eq!(s.recv().await, Err(RecvError::Closed));
    drop(s);
    assert_eq!(b.subscriber_count(), 0);
}

#[tokio::test]
async fn drops_release_payloads() {
    let payload = Arc::new(());
    let b = Broadcaster::new();
    let s1 = b.subscribe(opts(2, Overflow::DropOldest)).unwrap();
    let mut s2 = b.subscribe(opts(2, Overflow::DropNewest)).unwrap();
    for _ in 0..5 {
        b.try_publish(Arc::clone(&payload)).unwrap();
    }
    assert_eq!(Arc::strong_count(&payload), 5, "2 + 2 queued, plus ours");
    drop(s1);
    let _ = s2.recv().await.unwrap();
    drop(s2);
    drop(b);
    assert_eq!(Arc::strong_count(&payload), 1);
}

#[tokio::test]
async fn dropping_the_last_handle_closes() {
    let b = Broadcaster::new();
    let b2 = b.clone();
    let mut s = b.subscribe(opts(2, Overflow::DropOldest)).unwrap();
    b.publish(1).await.unwrap();
    drop(b);
    assert_eq!(s.status(), Status::Open, "a clone is still alive");
    drop(b2);
    assert_eq!(s.recv().await.unwrap().msg, 1);
    assert_eq!(s.recv().await, Err(RecvError::Closed));
}

#[tokio::test]
async fn publish_with_builds_the_message_from_its_seq() {
    let b = Broadcaster::new();
    let mut s = b.subscribe(opts(4, Overflow::DropOldest)).unwrap();
    b.publish(String::from("x")).await.unwrap();
    b.publish_with(|seq| format!("joined at {seq}"))
        .await
        .unwrap();
    b.try_publish_with(|seq| format!("left at {seq}")).unwrap();
    s.recv().await.unwrap();
    assert_eq!(s.recv().await.unwrap().msg, "joined at 1");
    assert_eq!(s.recv().await.unwrap().msg, "left at 2");
    b.close();
    let e = b.publish_with(|seq| format!("{seq}")).await.unwrap_err();
    assert_eq!((e.into_inner())(7), "7", "the closure comes back uncalled");
}

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Broadcaster<Arc<str>>>();
    send_sync::<throng::broadcast::Subscriber<Arc<str>>>();
    send_sync::<throng::broadcast::Hub<String, Arc<str>>>();
    send_sync::<throng::broadcast::HubSubscriber<String, Arc<str>>>();
    fn send_future<F: std::future::Future + Send>(_: F) {}
    let b: Broadcaster<Arc<str>> = Broadcaster::new();
    send_future(b.publish(Arc::from("x")));
    let mut s = b.subscribe(opts(1, Overflow::DropNewest)).unwrap();
    send_future(s.recv());
}

#[tokio::test(start_paused = true)]
async fn block_publish_waits_for_a_slow_reader_within_its_timeout() {
    let b = Broadcaster::new();
    let mut s = b.subscribe(block(4, 100)).unwrap();
    let reader = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while let Ok(d) = s.recv().await {
            seqs.push(d.seq);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (seqs, s.stats())
    });
    let mut max_wait = Duration::ZERO;
    for i in 0..20u64 {
        let start = tokio::time::Instant::now();
        let r = b.publish(i).await.unwrap();
        max_wait = max_wait.max(start.elapsed());
        assert_eq!(
            (r.delivered, r.disconnected),
            (1, 0),
            "seq {i} after {:?}",
            start.elapsed()
        );
    }
    b.close();
    let (seqs, stats) = reader.await.unwrap();
    assert_eq!(seqs, (0..20).collect::<Vec<_>>());
    assert_eq!(stats.dropped, 0);
    assert!(max_wait > Duration::ZERO && max_wait <= Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn close_releases_a_blocked_publish_and_the_ones_behind_it() {
    let b = Broadcaster::new();
    let mut s = b.subscribe(block(1, 60_000)).unwrap();
    b.publish(0).await.unwrap();
    let (b1, b2) = (b.clone(), b.clone());
    let blocked = tokio::spawn(async move { b1.publish(1).await.unwrap() });
    tokio::task::yield_now().await;
    let behind = tokio::spawn(async move { b2.publish(2).await });
    tokio::task::yield_now().await;
    assert!(b.close());
    let r = blocked.await.unwrap();
    assert_eq!(
        (r.seq, r.delivered, r.dropped),
        (1, 0, 1),
        "abandoned by close, counted"
    );
    assert_eq!(behind.await.unwrap().unwrap_err().into_inner(), 2);
    assert_eq!(s.recv().await.unwrap().seq, 0);
    assert_eq!(s.recv().await, Err(RecvError::Closed));
}

#[tokio::test]
async fn a_panicking_publish_with_closure_leaves_the_broadcaster_usable() {
    let b = Broadcaster::new();
    let mut s = b.subscribe(opts(4, Overflow::DropOldest)).unwrap();
    let b2 = b.clone();
    let r = std::panic::catch_unwind(move || b2.try_publish_with(|_| -> u8 { panic!("boom") }));
    assert!(r.is_err());
    assert_eq!(b.try_publish(5).unwrap().seq, 1, "seq 0 was skipped");
    assert_eq!(s.recv().await.unwrap(), Delivery { seq: 1, msg: 5 });
}
