//! Durable history: it survives a restart, `seq` continues, an acked post survives
//! `kill -9`, and `--memory` writes nothing.

mod support;

use std::path::PathBuf;

use serde_json::json;
use support::{config, start, Client};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("throng-chat-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn durable(dir: &std::path::Path) -> throng_chat::Config {
    let mut cfg = config();
    cfg.memory = false;
    cfg.data_dir = dir.to_path_buf();
    cfg
}

#[tokio::test]
async fn history_survives_a_restart_and_seq_continues() {
    let dir = temp_dir("restart");
    let server = start(durable(&dir)).await;
    let addr = server.addr;
    let mut alice = Client::login(&server, "alice").await;
    alice.join("lobby").await;
    for i in 1..=3 {
        alice
            .send(json!({"type": "post", "room": "lobby", "text": format!("m{i}")}))
            .await;
        alice.recv_type("message").await;
    }
    drop(alice);
    let summary = server.shutdown().await.unwrap();
    assert_eq!(
        summary.history.unwrap().rows_written,
        3,
        "every row written at shutdown"
    );

    let mut cfg = durable(&dir);
    cfg.listen = addr; // same port, as after a real restart
    let server = start(cfg).await;
    let mut bob = Client::login(&server, "bob").await;
    let joined = bob.join("lobby").await;
    let texts: Vec<&str> = joined["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["m1", "m2", "m3"]);
    bob.send(json!({"type": "post", "room": "lobby", "text": "after restart"}))
        .await;
    assert_eq!(bob.recv_type("message").await["seq"], 4, "seq continues");
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn older_history_is_read_from_disk_beyond_the_memory_window() {
    let dir = temp_dir("window");
    let mut cfg = durable(&dir);
    cfg.history = 2; // only the last 2 in memory
    cfg.join_history = 2;
    let server = start(cfg).await;
    let mut alice = Client::login(&server, "alice").await;
    alice.join("lobby").await;
    for i in 1..=6 {
        alice
            .send(json!({"type": "post", "room": "lobby", "text": format!("m{i}")}))
            .await;
        alice.recv_type("message").await;
    }
    alice
        .send(json!({"type": "history", "room": "lobby", "before": 6, "limit": 4}))
        .await;
    let h = alice.recv_type("history").await;
    let seqs: Vec<u64> = h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        [2, 3, 4, 5],
        "memory (5) plus disk (2..4), oldest first"
    );
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn memory_mode_writes_nothing() {
    let dir = temp_dir("memory");
    let mut cfg = config();
    cfg.data_dir = dir.clone();
    assert!(cfg.memory, "the test config is in-memory");
    let server = start(cfg).await;
    let mut alice = Client::login(&server, "alice").await;
    alice.join("lobby").await;
    alice
        .send(json!({"type": "post", "room": "lobby", "text": "ephemeral"}))
        .await;
    alice.recv_type("message").await;
    let summary = server.shutdown().await.unwrap();
    assert!(summary.history.is_none());
    assert!(!dir.exists(), "no data dir was created");
}

/// `kill -9` right after the last ack loses nothing: an ack means committed.
#[cfg(unix)]
#[tokio::test]
async fn kill_9_right_after_an_ack_loses_nothing() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = temp_dir("kill9");
    let spawn = |listen: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_throng-chat"))
            .args([
                "--listen",
                listen,
                "--admin-listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(&dir)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        let addr = loop {
            let line = lines.next().expect("server output").unwrap();
            if let Some(i) = line.find("ws://") {
                let rest = &line[i + 5..];
                break rest[..rest.find('/').unwrap()].to_string();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        (child, addr)
    };
    let (mut child, addr) = spawn("127.0.0.1:0");
    let url = format!("ws://{addr}/ws");
    let (ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut c = Client { ws };
    c.send(json!({"type": "hello", "name": "alice"})).await;
    c.recv_type("welcome").await;
    c.join("lobby").await;
    for i in 1..=20 {
        c.send(json!({"type": "post", "room": "lobby", "text": format!("m{i}"), "id": format!("c{i}")})).await;
        c.recv_type("ack").await;
    }
    child.kill().unwrap(); // SIGKILL, at once
    child.wait().unwrap();

    let (mut child, addr) = spawn(&addr);
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    let mut c = Client { ws };
    c.send(json!({"type": "hello", "name": "bob"})).await;
    c.recv_type("welcome").await;
    c.join("lobby").await;
    c.send(json!({"type": "history", "room": "lobby", "limit": 100}))
        .await;
    let h = c.recv_type("history").await;
    let seqs: Vec<u64> = h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=20).collect::<Vec<_>>(),
        "every acked post survived"
    );
    c.send(json!({"type": "post", "room": "lobby", "text": "after", "id": "x"}))
        .await;
    assert_eq!(c.recv_type("ack").await["seq"], 21);
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
