//! The request dispatcher under property tests: a real server, three connections, and a
//! random sequence of frames among them (hello, join, leave, post, history, ping with
//! random names, rooms, ids and texts; structure-aware requests from the protocol fuzzer;
//! garbage text; binary frames; abrupt disconnects), in random order with random
//! points where every reply is awaited.
//!
//! Checked: no panic on any server thread; every frame the server sends is a JSON
//! object with a known `type`, and every `error` has a documented code; each member sees
//! a room's messages with `seq` rising by one (from the `joined` history on), and every
//! connection agrees on what each `(room, seq)` holds; every `ack` names a post of the
//! connection and the `seq` of its message; afterwards a fresh client still gets a
//! hello/join/post round trip, `delivery_gaps` is 0, and the server shuts down.
//!
//! Size: `THRONG_FUZZ_SEQUENCES` sequences (default 300); e.g.
//! `THRONG_FUZZ_SEQUENCES=2000` for a longer run.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures::stream::{SplitSink, StreamExt};
use futures::SinkExt;
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, FileFailurePersistence};
use serde_json::{json, Value};
use support::fuzz::{any_request, any_text, documented_error_codes, env_cases};
use support::fuzz::{server_panics, server_runtime};
use support::{config, start, unlimited, Client, WAIT};
use throng_chat::budget::{BudgetArg, Kind};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const CI_SEQUENCES: u32 = 300;

/// Connections per sequence.
const CONNS: usize = 3;

/// What the server may send.
const SERVER_TYPES: [&str; 10] = [
    "welcome", "joined", "left", "presence", "ack", "history", "pong", "error", "bye", "message",
];

#[derive(Debug, Clone)]
enum Op {
    Hello(String),
    Join(String),
    Leave(String),
    Post {
        room: String,
        text: String,
        id: bool,
    },
    History {
        room: String,
        before: Option<u64>,
        limit: Option<u32>,
    },
    Ping,
    /// A structure-aware request (valid or not) from the protocol fuzzer.
    Request(String),
    Garbage(String),
    Binary(Vec<u8>),
    /// Await every reply so far on every connection.
    Sync,
    /// Close the TCP connection without a close frame.
    Drop,
}

fn room() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec!["lobby", "dev", "r.1"]).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["", "bad room", "LOBBY", "émile"]).prop_map(str::to_owned),
        1 => Just("x".repeat(33)),
    ]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec!["ann", "bob", "cy"]).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["", "bad name", "ANN", "a/b"]).prop_map(str::to_owned),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => name().prop_map(Op::Hello),
        5 => room().prop_map(Op::Join),
        2 => room().prop_map(Op::Leave),
        8 => (room(), any_text(), any::<bool>()).prop_map(|(room, text, id)| Op::Post { room, text, id }),
        2 => (room(), prop::option::of(0u64..20), prop::option::of(prop_oneof![0u32..5, any::<u32>()]))
            .prop_map(|(room, before, limit)| Op::History { room, before, limit }),
        1 => Just(Op::Ping),
        3 => any_request().prop_map(|r| Op::Request(r.text())),
        1 => "\\PC{0,40}".prop_map(Op::Garbage),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Op::Binary),
        2 => Just(Op::Sync),
        1 => Just(Op::Drop),
    ]
}

/// What a connection's reader saw.
#[derive(Debug)]
enum Seen {
    Json(Value),
    /// Not JSON, or a binary frame: a failure.
    Bad(String),
    Closed,
}

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;

struct Conn {
    sink: Option<Sink>,
    reader: tokio::task::JoinHandle<()>,
    rx: mpsc::UnboundedReceiver<Seen>,
    frames: Vec<Value>,
    closed: bool,
    /// Post ids sent, with their texts.
    posts: HashMap<String, String>,
}

impl Conn {
    async fn open(server: &throng_chat::Server) -> Conn {
        let url = format!("ws://{}/ws", server.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connects");
        let (sink, mut stream) = ws.split();
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            while let Some(m) = stream.next().await {
                let seen = match m {
                    Ok(Message::Text(t)) => match serde_json::from_str(t.as_str()) {
                        Ok(v) => Seen::Json(v),
                        Err(e) => Seen::Bad(format!("not JSON ({e}): {t}")),
                    },
                    Ok(Message::Binary(b)) => Seen::Bad(format!("a binary frame: {b:?}")),
                    Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
                    Ok(Message::Close(_)) | Err(_) => break,
                };
                if tx.send(seen).is_err() {
                    return;
                }
            }
            let _ = tx.send(Seen::Closed);
        });
        Conn {
            sink: Some(sink),
            reader,
            rx,
            frames: Vec::new(),
            closed: false,
            posts: HashMap::new(),
        }
    }

    async fn send(&mut self, m: Message) {
        if let Some(sink) = &mut self.sink {
            if sink.send(m).await.is_err() {
                self.sink = None;
            }
        }
    }

    /// Records what the reader saw until `stop` holds for a frame or the connection is
    /// closed; a hang (nothing within `WAIT`) fails.
    async fn read_until(&mut self, stop: impl Fn(&Value) -> bool) {
        while !self.closed {
            let seen = tokio::time::timeout(WAIT, self.rx.recv())
                .await
                .expect("the server answers in time (no hang)");
            match seen {
                Some(Seen::Json(v)) => {
                    let done = stop(&v);
                    self.frames.push(v);
                    if done {
                        return;
                    }
                }
                Some(Seen::Bad(why)) => panic!("the server sent {why}"),
                Some(Seen::Closed) | None => self.closed = true,
            }
        }
    }

    /// Awaits every reply to what was sent so far: an unknown-type marker is answered
    /// after them (a connection's requests are answered in order).
    async fn sync(&mut self, n: usize) {
        if self.sink.is_none() {
            // Dropped or failed: read what is left, up to the close.
            self.sink = None;
            return self.read_until(|_| false).await;
        }
        let marker = format!("sync-{n}");
        self.send(Message::Text(json!({ "type": marker }).to_string().into()))
            .await;
        let needle = format!("`{marker}`");
        self.read_until(|v| {
            v["type"] == "error" && v["message"].as_str().is_some_and(|m| m.contains(&needle))
        })
        .await;
    }
}

/// Checks every frame a connection saw, and records each `(room, seq)`'s message in
/// `agreed` (all connections must agree).
fn check_frames(
    c: &Conn,
    agreed: &mut BTreeMap<(String, u64), (String, String)>,
) -> Result<(), TestCaseError> {
    let mut me: Option<String> = None;
    // Last seq seen per joined room.
    let mut last: HashMap<String, Option<u64>> = HashMap::new();
    let mut own: HashMap<u64, Vec<(String, String)>> = HashMap::new();
    let mut agree = |room: &str, m: &Value| -> Result<u64, TestCaseError> {
        let seq = m["seq"].as_u64().ok_or_else(|| fail(m, "a seq"))?;
        prop_assert_eq!(m["room"].as_str(), Some(room), "{}", m);
        let from = m["from"].as_str().ok_or_else(|| fail(m, "a from"))?;
        let text = m["text"].as_str().ok_or_else(|| fail(m, "a text"))?;
        let entry = agreed
            .entry((room.to_owned(), seq))
            .or_insert_with(|| (from.to_owned(), text.to_owned()));
        prop_assert_eq!(
            (entry.0.as_str(), entry.1.as_str()),
            (from, text),
            "connections disagree on {} #{}",
            room,
            seq
        );
        Ok(seq)
    };
    let mut acks = Vec::new();
    for v in &c.frames {
        let kind = v["type"].as_str().ok_or_else(|| fail(v, "a string type"))?;
        prop_assert!(SERVER_TYPES.contains(&kind), "unknown type: {}", v);
        match kind {
            "error" => {
                let code = v["code"].as_str().ok_or_else(|| fail(v, "a code"))?;
                prop_assert!(
                    documented_error_codes().contains(code),
                    "undocumented: {}",
                    v
                );
                prop_assert!(v["message"].is_string(), "{}", v);
                prop_assert!(v.get("ref").is_none_or(Value::is_string), "{}", v);
                prop_assert!(v.get("retry_after_ms").is_none_or(Value::is_u64), "{}", v);
            }
            "welcome" => {
                prop_assert!(me.is_none(), "a second welcome: {}", v);
                me = v["name"].as_str().map(str::to_owned);
            }
            "joined" => {
                let room = v["room"].as_str().ok_or_else(|| fail(v, "a room"))?;
                let history = v["history"].as_array().ok_or_else(|| fail(v, "history"))?;
                let mut prev = None;
                for m in history {
                    let seq = agree(room, m)?;
                    if let Some(p) = prev {
                        prop_assert_eq!(seq, p + 1, "joined history is consecutive: {}", v);
                    }
                    prev = Some(seq);
                }
                let entry = last.entry(room.to_owned()).or_insert(None);
                if prev.is_some() {
                    prop_assert!(entry.is_none(), "history resent on a repeated join: {}", v);
                    *entry = prev;
                }
            }
            "left" => {
                let room = v["room"].as_str().ok_or_else(|| fail(v, "a room"))?;
                prop_assert!(last.remove(room).is_some(), "left a room not joined: {}", v);
            }
            "message" => {
                let room = v["room"].as_str().ok_or_else(|| fail(v, "a room"))?;
                let seq = agree(room, v)?;
                let Some(l) = last.get_mut(room) else {
                    return Err(fail(v, "membership of the message's room"));
                };
                if let Some(prev) = *l {
                    prop_assert_eq!(seq, prev + 1, "seq rises by one in {}", room);
                }
                *l = Some(seq);
                if me.as_deref() == v["from"].as_str() {
                    own.entry(seq).or_default().push((
                        room.to_owned(),
                        v["text"].as_str().unwrap_or_default().to_owned(),
                    ));
                }
            }
            "history" => {
                let room = v["room"].as_str().ok_or_else(|| fail(v, "a room"))?;
                let msgs = v["messages"]
                    .as_array()
                    .ok_or_else(|| fail(v, "messages"))?;
                let mut prev = None;
                for m in msgs {
                    let seq = agree(room, m)?;
                    prop_assert!(prev < Some(seq), "history ascends: {}", v);
                    prev = Some(seq);
                }
            }
            "ack" => acks.push(v),
            _ => {}
        }
    }
    for a in acks {
        let id = a["id"].as_str().ok_or_else(|| fail(a, "an id"))?;
        let seq = a["seq"].as_u64().ok_or_else(|| fail(a, "a seq"))?;
        let text = c
            .posts
            .get(id)
            .ok_or_else(|| fail(a, "an id this client sent"))?;
        let mine = own.get(&seq).into_iter().flatten();
        prop_assert!(
            mine.into_iter().any(|(_, t)| t == text),
            "the ack's seq is the post's message: {}",
            a
        );
    }
    Ok(())
}

fn fail(v: &Value, what: &str) -> TestCaseError {
    TestCaseError::fail(format!("expected {what}: {v}"))
}

/// A fresh data directory per sequence: durable history (the default), where a room's
/// `seq` is never reused, so every `(room, seq)` names one message for the whole run.
/// (With `--memory` a room that empties starts again at 1.)
fn data_dir() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("throng-fuzz-dispatch-{}-{n}", std::process::id()))
}

fn server_config(tight: bool, dir: &std::path::Path) -> throng_chat::Config {
    let mut cfg = unlimited(config());
    cfg.memory = false;
    cfg.data_dir = dir.to_path_buf();
    cfg.sync = throng_chat::room::SyncMode::Normal;
    if tight {
        // Small budgets and caps, but not for the markers `sync` sends (ping, bytes).
        cfg.budgets.extend(
            [Kind::Post, Kind::Member, Kind::Create, Kind::History].map(|kind| BudgetArg {
                kind,
                rate: 1,
                burst: 3,
            }),
        );
        cfg.budgets.extend(
            [Kind::Ping, Kind::Control, Kind::Bytes].map(|kind| BudgetArg {
                kind,
                rate: 1_000_000,
                burst: 1_000_000,
            }),
        );
        // Per client: all connections come from 127.0.0.1, whose budget (100 clients'
        // worth) a sequence of under 40 requests cannot exhaust, so the fresh client's
        // round trip at the end is not refused.
        cfg.address_budget_factor = 100;
        cfg.max_rooms_per_user = 2;
        // lobby, dev, r.1, LOBBY: the fresh client's join of lobby still fits.
        cfg.max_rooms = 4;
        cfg.history = 4;
        cfg.join_history = 2;
    }
    cfg
}

async fn run(ops: Vec<(usize, Op)>, tight: bool) -> Result<(), TestCaseError> {
    let (panics_before, _) = server_panics();
    let dir = data_dir();
    let server = start(server_config(tight, &dir)).await;
    let mut conns = Vec::new();
    for _ in 0..CONNS {
        conns.push(Conn::open(&server).await);
    }
    let mut syncs = 0;
    for (i, (who, op)) in ops.into_iter().enumerate() {
        let c = &mut conns[who];
        let frame = match op {
            Op::Hello(name) => json!({"type": "hello", "name": name}),
            Op::Join(room) => json!({"type": "join", "room": room}),
            Op::Leave(room) => json!({"type": "leave", "room": room}),
            Op::Post { room, text, id } => {
                if id {
                    let id = format!("p{i}");
                    c.posts.insert(id.clone(), text.clone());
                    json!({"type": "post", "room": room, "text": text, "id": id})
                } else {
                    json!({"type": "post", "room": room, "text": text})
                }
            }
            Op::History {
                room,
                before,
                limit,
            } => json!({"type": "history", "room": room, "before": before, "limit": limit}),
            Op::Ping => json!({"type": "ping"}),
            Op::Request(text) | Op::Garbage(text) => {
                // A generated request can be a valid post with an id: its ack is this
                // client's too (the same id twice is one post: the first text stands).
                if let Ok(throng_chat::protocol::ClientMsg::Post {
                    text: t,
                    id: Some(id),
                    ..
                }) = throng_chat::protocol::parse(&text)
                {
                    c.posts.entry(id).or_insert(t);
                }
                c.send(Message::Text(text.into())).await;
                continue;
            }
            Op::Binary(b) => {
                c.send(Message::Binary(b.into())).await;
                continue;
            }
            Op::Sync => {
                for c in &mut conns {
                    syncs += 1;
                    c.sync(syncs).await;
                }
                continue;
            }
            Op::Drop => {
                c.sink = None;
                c.reader.abort(); // drops the other half: the TCP connection closes
                c.closed = true;
                continue;
            }
        };
        c.send(Message::Text(frame.to_string().into())).await;
    }
    for c in &mut conns {
        syncs += 1;
        c.sync(syncs).await;
    }
    let mut agreed = BTreeMap::new();
    for c in &conns {
        check_frames(c, &mut agreed)?;
    }
    for c in conns {
        c.reader.abort();
    }

    // The server still serves a fresh client.
    let mut fresh = Client::login(&server, "fresh-check").await;
    fresh.join("lobby").await;
    fresh
        .send(json!({"type": "post", "room": "lobby", "text": "still here", "id": "f1"}))
        .await;
    let (mut got_message, mut got_ack) = (false, false);
    while !(got_message && got_ack) {
        let v = fresh.recv().await;
        got_message |= v["type"] == "message" && v["text"] == "still here";
        got_ack |= v["type"] == "ack" && v["id"] == "f1";
        prop_assert!(v["type"] != "error", "{}", v);
    }
    drop(fresh);
    prop_assert_eq!(server.app.metrics.delivery_gaps.get(), 0);
    let (panics, notes) = server_panics();
    prop_assert_eq!(
        panics,
        panics_before,
        "server threads panicked: {:?}",
        notes
    );
    tokio::time::timeout(Duration::from_secs(30), server.shutdown())
        .await
        .expect("the server shuts down in time")
        .expect("a clean shutdown");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

proptest! {
    #![proptest_config(PropConfig {
        cases: env_cases("THRONG_FUZZ_SEQUENCES", CI_SEQUENCES),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        max_shrink_iters: 200,
        ..PropConfig::default()
    })]
    #[test]
    fn random_request_sequences_from_three_clients_keep_the_server_consistent(
        greet in prop::collection::vec(prop::bool::weighted(0.9), CONNS),
        ops in prop::collection::vec((0..CONNS, op()), 1..40),
        tight in prop::bool::weighted(0.25),
    ) {
        // Most connections start with a good hello, so most requests get past it.
        let names = ["ann", "bob", "cy"];
        let hellos = (0..CONNS).filter(|&i| greet[i]).map(|i| (i, Op::Hello(names[i].into())));
        let ops = hellos.chain(ops).collect();
        server_runtime().block_on(run(ops, tight))?;
    }
}
