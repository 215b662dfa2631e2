//! History retention: `--history-max-rows` keeps the newest messages of each room,
//! `--history-retention` deletes old ones, both applied every `--retention-every`; a
//! room's newest message always stays, so `seq` continues after a restart.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{config, start, unlimited, Client};

fn durable(tag: &str) -> (throng_chat::Config, PathBuf) {
    let dir = std::env::temp_dir().join(format!("throng-retention-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = unlimited(config());
    cfg.memory = false;
    cfg.data_dir = dir.clone();
    cfg.history = 2; // history beyond the cache is read from disk
    cfg.join_history = 2;
    cfg.retention_every = Duration::from_millis(100);
    (cfg, dir)
}

async fn seqs(c: &mut Client, room: &str) -> Vec<u64> {
    c.send(json!({"type": "history", "room": room, "limit": 100}))
        .await;
    c.recv_type("history").await["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect()
}

async fn post(c: &mut Client, room: &str, n: usize) {
    for i in 0..n {
        c.send(json!({"type": "post", "room": room, "text": format!("m{i}"), "id": format!("{room}{i}")}))
            .await;
        c.recv_type("ack").await;
    }
}

/// Polls `history` until `want` (bounded).
async fn until(c: &mut Client, room: &str, want: &[u64]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = seqs(c, room).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "history {got:?}, waiting for {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn max_rows_keeps_the_newest_of_each_room_and_seq_continues() {
    let (mut cfg, dir) = durable("rows");
    cfg.history_max_rows = Some(3);
    let server = start(cfg.clone()).await;
    let mut alice = Client::login(&server, "alice").await;
    alice.join("a").await;
    alice.join("b").await;
    post(&mut alice, "a", 10).await;
    post(&mut alice, "b", 2).await;
    until(&mut alice, "a", &[8, 9, 10]).await;
    assert_eq!(
        seqs(&mut alice, "b").await,
        vec![1, 2],
        "under the cap: untouched"
    );
    server.shutdown().await.unwrap();

    let server = start(cfg).await;
    let mut bob = Client::login(&server, "bob").await;
    bob.join("a").await;
    post(&mut bob, "a", 1).await;
    until(&mut bob, "a", &[9, 10, 11]).await;
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn retention_deletes_old_messages_but_never_a_rooms_newest() {
    let (mut cfg, dir) = durable("age");
    cfg.history_retention = Some(Duration::from_millis(300));
    let server = start(cfg.clone()).await;
    let mut alice = Client::login(&server, "alice").await;
    alice.join("a").await;
    post(&mut alice, "a", 5).await;
    until(&mut alice, "a", &[5]).await;
    server.shutdown().await.unwrap();

    // The newest stayed, so seq continues after a restart.
    let server = start(cfg).await;
    let mut bob = Client::login(&server, "bob").await;
    bob.join("a").await;
    bob.send(json!({"type": "post", "room": "a", "text": "next", "id": "n"}))
        .await;
    assert_eq!(bob.recv_type("ack").await["seq"], 6);
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
