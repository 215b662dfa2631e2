//! Graceful shutdown: every client gets `bye` and close 1001 after its queue, and the
//! per-user counters are flushed one last time.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{config, start, Client};

#[tokio::test]
async fn shutdown_says_bye_closes_1001_and_writes_the_final_dump() {
    let dir = std::env::temp_dir().join(format!("throng-chat-test-{}", std::process::id()));
    let file = dir.join("dump.jsonl");
    let _ = std::fs::remove_file(&file);
    let mut cfg = config();
    cfg.dump_file = Some(file.clone());
    cfg.dump_interval = Duration::from_secs(3600); // only the final dump
    let server = start(cfg).await;
    let mut alice = Client::login(&server, "alice").await; // 1 request
    alice.join("lobby").await; // 2
    alice
        .send(json!({"type": "post", "room": "lobby", "text": "last words"}))
        .await; // 3
    alice.recv_type("message").await;
    let mut bob = Client::login(&server, "bob").await; // 1
    let summary = tokio::spawn(server.shutdown());
    for c in [&mut alice, &mut bob] {
        let (texts, close) = c.closed().await;
        assert_eq!(
            texts.last(),
            Some(&json!({"type": "bye", "reason": "shutdown"})),
            "{texts:?}"
        );
        assert_eq!(close, Some((1001, "shutdown".to_string())));
    }
    let summary = summary.await.unwrap().unwrap();
    assert_eq!(summary.dump.counted, 4);
    let lines: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let counts: Vec<(String, u64)> = lines
        .iter()
        .map(|l| {
            (
                l["key"].as_str().unwrap().to_owned(),
                l["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [("alice".to_string(), 3), ("bob".to_string(), 1)]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_dumper_writes_each_interval() {
    let dir = std::env::temp_dir().join(format!("throng-chat-interval-{}", std::process::id()));
    let file = dir.join("dump.jsonl");
    let _ = std::fs::remove_file(&file);
    let mut cfg = config();
    cfg.dump_file = Some(file.clone());
    cfg.dump_interval = Duration::from_millis(200);
    let server = start(cfg).await;
    let mut alice = Client::login(&server, "alice").await;
    alice.send(json!({"type": "ping"})).await;
    alice.recv().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        text.contains("\"key\":\"alice\""),
        "a periodic dump was written: {text:?}"
    );
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
