//! `Hub`: topics created on first subscribe, removed with their last subscriber, and the
//! subscribe-vs-last-unsubscribe race.

use std::num::NonZeroUsize;

use throng::broadcast::{Hub, HubPublishError, Overflow, RecvError, SubscribeOptions};

fn opts() -> SubscribeOptions {
    SubscribeOptions::new(NonZeroUsize::new(16).unwrap(), Overflow::Disconnect)
}

#[tokio::test]
async fn smoke() {
    let hub: Hub<String, u32> = Hub::new();
    let mut a = hub.subscribe("a".into(), opts()).unwrap();
    let mut b = hub.subscribe("b".into(), opts()).unwrap();
    assert_eq!(hub.publish("a", 1).await.unwrap().delivered, 1);
    assert_eq!(
        hub.try_publish("b", 2).unwrap().seq,
        0,
        "each topic has its own sequence"
    );
    assert_eq!(a.recv().await.unwrap().msg, 1);
    assert_eq!(b.recv().await.unwrap().msg, 2);
    assert_eq!(a.topic(), "a");
    let mut topics = hub.topics();
    topics.sort();
    assert_eq!(topics, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(hub.subscriber_count("a"), 1);
    assert_eq!(hub.metrics("a").unwrap().published, 1);
}

#[tokio::test]
async fn topic_removed_with_last_subscriber_and_recreated_fresh() {
    let hub: Hub<String, u32> = Hub::new();
    let a1 = hub.subscribe("room".into(), opts()).unwrap();
    let mut a2 = hub.subscribe("room".into(), opts()).unwrap();
    hub.publish("room", 1).await.unwrap();
    drop(a1);
    assert_eq!(hub.subscriber_count("room"), 1);
    a2.unsubscribe();
    a2.unsubscribe();
    assert_eq!(hub.topic_count(), 0);
    assert_eq!(
        a2.recv().await.unwrap().msg,
        1,
        "queued messages survive leaving"
    );
    assert_eq!(a2.recv().await, Err(RecvError::Closed));
    assert!(matches!(
        hub.publish("room", 2).await,
        Err(HubPublishError::NoTopic(2))
    ));
    let again = hub.subscribe("room".into(), opts()).unwrap();
    assert_eq!(again.start_seq(), 0, "a new topic starts a new sequence");
    drop(a2);
    assert_eq!(
        hub.topic_count(),
        1,
        "dropping an already-left subscriber changes nothing"
    );
}

#[tokio::test]
async fn subscribe_and_get_seq_with_join_event_in_order() {
    let hub: Hub<&'static str, String> = Hub::new();
    let mut alice = hub.subscribe("r", opts()).unwrap();
    hub.publish("r", "hi".into()).await.unwrap();
    let mut bob = hub.subscribe("r", opts()).unwrap();
    assert_eq!(bob.start_seq(), 1);
    hub.publish_with("r", |seq| format!("bob joined at {seq}"))
        .await
        .unwrap();
    assert_eq!(alice.recv().await.unwrap().msg, "hi");
    assert_eq!(alice.recv().await.unwrap().msg, "bob joined at 1");
    let d = bob.recv().await.unwrap();
    assert_eq!((d.seq, d.msg.as_str()), (1, "bob joined at 1"));
}

#[tokio::test]
async fn close_ends_all_topics_and_refuses_new_work() {
    let hub: Hub<u8, u8> = Hub::new();
    let mut s = hub.subscribe(1, opts()).unwrap();
    hub.publish(&1, 9).await.unwrap();
    assert!(hub.close());
    assert!(!hub.close());
    assert_eq!(s.recv().await.unwrap().msg, 9);
    assert_eq!(s.recv().await, Err(RecvError::Closed));
    assert!(hub.subscribe(1, opts()).is_err());
    assert!(matches!(
        hub.try_publish(&1, 1),
        Err(HubPublishError::Closed(1))
    ));
    drop(s);
}

#[test]
fn topic_removal_race_never_leaves_a_subscriber_on_a_removed_topic() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let hub: Hub<u8, u32> = Hub::new();
        for round in 0..300u32 {
            let first = hub.subscribe(0, opts()).unwrap();
            let h = hub.clone();
            let joiner = tokio::spawn(async move { h.subscribe(0, opts()).unwrap() });
            drop(first); // races with the joiner's subscribe
            let mut joined = joiner.await.unwrap();
            // Whoever won, the joiner is on the live topic: a publish reaches it.
            let r = hub.publish(&0, round).await.unwrap();
            assert_eq!(r.delivered, 1);
            assert_eq!(joined.recv().await.unwrap().msg, round);
            assert_eq!(hub.subscriber_count(&0), 1);
            drop(joined);
            assert_eq!(hub.topic_count(), 0);
        }
    });
}

#[test]
fn stress_many_members_join_and_leave_concurrently() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let hub: Hub<u8, u32> = Hub::new();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let h = hub.clone();
                tokio::spawn(async move {
                    for j in 0..200 {
                        let mut s = h.subscribe((i + j) as u8 % 3, opts()).unwrap();
                        let _ = h.try_publish(s.topic(), j);
                        tokio::task::yield_now().await;
                        let _ = s.try_recv();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            hub.topic_count(),
            0,
            "every topic left with its last member"
        );
    });
}
