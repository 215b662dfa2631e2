//! End-to-end chat over real WebSockets: hello, join, post, presence, history, ordering,
//! leave and disconnect, name reuse.

mod support;

use serde_json::json;
use support::{config, start, Client};

#[tokio::test]
async fn two_users_chat_with_presence_ack_and_one_sequence() {
    let server = start(config()).await;
    let mut alice = Client::login(&server, "alice").await;
    let joined = alice.join("lobby").await;
    assert_eq!(joined["members"], json!(["alice"]));
    assert_eq!(joined["history"], json!([]));

    let mut bob = Client::login(&server, "bob").await;
    let joined = bob.join("lobby").await;
    assert_eq!(joined["members"], json!(["alice", "bob"]));
    assert_eq!(
        alice.recv().await,
        json!({"type": "presence", "room": "lobby", "user": "bob", "event": "join"})
    );

    alice
        .send(json!({"type": "post", "room": "lobby", "text": "hi bob", "id": "c1"}))
        .await;
    let m = alice.recv().await;
    assert_eq!(
        (
            m["type"].as_str(),
            m["from"].as_str(),
            m["text"].as_str(),
            m["seq"].as_u64()
        ),
        (Some("message"), Some("alice"), Some("hi bob"), Some(1))
    );
    assert!(m["ts"].as_u64().unwrap() > 1_600_000_000_000);
    assert_eq!(
        alice.recv().await,
        json!({"type": "ack", "id": "c1", "seq": 1})
    );
    assert_eq!(bob.recv().await, m, "bob sees the same message");

    bob.send(json!({"type": "post", "room": "lobby", "text": "hey"}))
        .await;
    let m2 = bob.recv().await;
    assert_eq!(m2["seq"], 2);
    assert_eq!(alice.recv().await, m2);

    bob.send(json!({"type": "ping"})).await;
    assert_eq!(bob.recv().await, json!({"type": "pong"}));

    bob.send(json!({"type": "leave", "room": "lobby"})).await;
    assert_eq!(bob.recv().await, json!({"type": "left", "room": "lobby"}));
    assert_eq!(
        alice.recv().await,
        json!({"type": "presence", "room": "lobby", "user": "bob", "event": "leave"})
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_joiner_gets_recent_history_and_can_page_back() {
    let server = start(config()).await;
    let mut alice = Client::login(&server, "alice").await;
    alice.join("lobby").await;
    for i in 1..=5 {
        alice
            .send(json!({"type": "post", "room": "lobby", "text": format!("m{i}")}))
            .await;
        alice.recv_type("message").await;
    }
    let mut bob = Client::login(&server, "bob").await;
    let joined = bob.join("lobby").await;
    let texts: Vec<&str> = joined["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["m1", "m2", "m3", "m4", "m5"]);

    bob.send(json!({"type": "history", "room": "lobby", "before": 4, "limit": 2}))
        .await;
    let h = bob.recv_type("history").await;
    let seqs: Vec<u64> = h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [2, 3], "oldest first, before is exclusive");
    assert_eq!(h["room"], "lobby");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn concurrent_posters_are_seen_in_one_identical_order_by_every_member() {
    let mut cfg = config();
    cfg.post_burst = 1_000; // this test is about ordering, not the rate limit
    let server = start(cfg).await;
    let mut watchers = Vec::new();
    for name in ["w1", "w2", "w3"] {
        let mut c = Client::login(&server, name).await;
        c.join("race").await;
        watchers.push(c);
    }
    let mut posters = Vec::new();
    for p in 0..4 {
        let mut c = Client::login(&server, &format!("p{p}")).await;
        c.join("race").await;
        posters.push(c);
    }
    // Drain presence noise: each watcher saw the later joins.
    let mut tasks = Vec::new();
    for (p, mut c) in posters.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                c.send(json!({"type": "post", "room": "race", "text": format!("{p}-{i}")}))
                    .await;
            }
            c
        }));
    }
    let mut sequences = Vec::new();
    for w in &mut watchers {
        let mut seen = Vec::new();
        while seen.len() < 200 {
            let v = w.recv().await;
            if v["type"] == "message" {
                seen.push((
                    v["seq"].as_u64().unwrap(),
                    v["text"].as_str().unwrap().to_owned(),
                ));
            }
        }
        sequences.push(seen);
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(sequences[0], sequences[1]);
    assert_eq!(sequences[1], sequences[2]);
    let seqs: Vec<u64> = sequences[0].iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs,
        (1..=200).collect::<Vec<_>>(),
        "seq rises by one per message"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_disconnect_leaves_every_room_and_frees_the_name() {
    let server = start(config()).await;
    let mut alice = Client::login(&server, "alice").await;
    alice.join("a").await;
    alice.join("b").await;
    let mut bob = Client::login(&server, "bob").await;
    bob.join("a").await;
    bob.join("b").await;
    drop(alice);
    let mut left = Vec::new();
    for _ in 0..2 {
        let v = bob.recv_type("presence").await;
        if v["event"] == "leave" {
            left.push(v["room"].as_str().unwrap().to_owned());
        }
    }
    left.sort();
    assert_eq!(left, ["a", "b"]);
    // The name is free again.
    let _alice_again = Client::login(&server, "alice").await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn history_keeps_only_the_configured_number_of_messages() {
    let mut cfg = config();
    cfg.history = 3;
    let server = start(cfg).await;
    let mut alice = Client::login(&server, "alice").await;
    alice.join("lobby").await;
    for i in 1..=5 {
        alice
            .send(json!({"type": "post", "room": "lobby", "text": format!("m{i}")}))
            .await;
        alice.recv_type("message").await;
    }
    alice
        .send(json!({"type": "history", "room": "lobby"}))
        .await;
    let h = alice.recv_type("history").await;
    let seqs: Vec<u64> = h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 4, 5]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_post_reaches_exactly_the_members_present_when_it_is_sequenced() {
    let server = start(config()).await;
    let mut alice = Client::login(&server, "alice").await;
    alice.join("lobby").await;
    alice
        .send(json!({"type": "post", "room": "lobby", "text": "before bob"}))
        .await;
    alice.recv_type("message").await;
    let mut bob = Client::login(&server, "bob").await;
    let joined = bob.join("lobby").await;
    // Bob sees the earlier post only as history, never as a live message.
    assert_eq!(joined["history"][0]["text"], "before bob");
    alice
        .send(json!({"type": "post", "room": "lobby", "text": "after bob"}))
        .await;
    let live = bob.recv_type("message").await;
    assert_eq!(
        (live["text"].as_str(), live["seq"].as_u64()),
        (Some("after bob"), Some(2))
    );
    bob.send(json!({"type": "leave", "room": "lobby"})).await;
    bob.recv_type("left").await;
    alice
        .send(json!({"type": "post", "room": "lobby", "text": "bob is gone"}))
        .await;
    // Alice's own copies of "after bob", then of this one.
    assert_eq!(alice.recv_type("message").await["text"], "after bob");
    assert_eq!(alice.recv_type("message").await["text"], "bob is gone");
    bob.send(json!({"type": "ping"})).await;
    assert_eq!(
        bob.recv().await,
        json!({"type": "pong"}),
        "nothing after leaving"
    );
    let metrics = server.app.metrics.render();
    assert!(
        metrics.contains("throng_chat_messages_total 3"),
        "{metrics}"
    );
    assert!(metrics.contains("throng_chat_sent_bytes_total"));
    assert!(metrics.contains("throng_chat_build_info{"));
    assert!(metrics.contains("throng_chat_post_ack_seconds_bucket"));
    assert!(metrics.contains("throng_chat_outbound_wait_seconds_count"));
    server.shutdown().await.unwrap();
}
