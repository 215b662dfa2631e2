//! Several real nodes (in-process servers) on one `redis-server` of the test's own, with
//! real WebSocket clients that record what they see: one order at every member on every
//! node, gap-free `seq` under posters on every node, retries across nodes, one winner for
//! a name, reaping of a hung node, and Redis killed or paused. Skipped, with a message,
//! when `redis-server` is not installed (unless `THRONG_REQUIRE_REDIS=1`).

#[path = "support/redis.rs"]
mod redis_server;
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis_server::RedisServer;
use serde_json::{json, Value};
use support::{config, unlimited, Client};
use throng_chat::room::RedisSequencer;
use throng_chat::{app, Backend, Config, Server};

fn node_config(redis: &RedisServer) -> Config {
    let mut cfg = unlimited(config());
    cfg.redis = Some(redis.url());
    cfg
}

async fn node(redis: &RedisServer) -> Server {
    Server::start(node_config(redis))
        .await
        .expect("node starts")
}

/// A node whose sequencer the test keeps (to stop its heartbeat).
async fn node_with_handle(redis: &RedisServer, lease: Duration) -> (Server, Arc<RedisSequencer>) {
    let mut cfg = node_config(redis);
    cfg.redis_lease = lease;
    let flags = cfg.clone();
    let url = redis.url();
    let slot: Arc<Mutex<Option<Arc<RedisSequencer>>>> = Arc::default();
    let keep = slot.clone();
    let server = Server::start_with(cfg, move |hub, metrics| {
        let seq = Arc::new(RedisSequencer::start(
            app::redis_config(&flags, &url, hub.node()),
            hub,
            metrics,
        )?);
        *keep.lock().unwrap() = Some(seq.clone());
        Ok(Backend {
            names: Arc::new(seq.names()),
            users: Some(seq.users()),
            sequencer: seq,
        })
    })
    .await
    .expect("node starts");
    let seq = slot.lock().unwrap().clone().unwrap();
    (server, seq)
}

/// Logs in as `name`, retrying (bounded) while the name is still held (a release on
/// another node in flight).
async fn login(server: &Server, name: &str) -> Client {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = Client::connect(server).await;
        c.send(json!({"type": "hello", "name": name})).await;
        let w = c.recv().await;
        if w["type"] == "welcome" {
            return c;
        }
        assert_eq!(w["code"], "name_taken", "{w}");
        assert!(Instant::now() < deadline, "{name} free within 5 s");
    }
}

async fn post(c: &mut Client, room: &str, text: &str, id: &str) {
    c.send(json!({"type": "post", "room": room, "text": text, "id": id}))
        .await;
}

/// Frames until the ack or error for post `id`, returning it; messages seen on the way
/// are appended to `seen`.
async fn answer(c: &mut Client, id: &str, seen: &mut Vec<Value>) -> Value {
    loop {
        let v = c.recv().await;
        match v["type"].as_str() {
            Some("ack") if v["id"] == id => return v,
            Some("error") if v["ref"] == id => return v,
            Some("message") => seen.push(v),
            _ => {}
        }
    }
}

/// Frames until `n` messages were seen (acks and presence skipped).
async fn messages(c: &mut Client, n: usize, seen: &mut Vec<Value>) {
    while seen.len() < n {
        let v = c.recv().await;
        if v["type"] == "message" {
            seen.push(v);
        }
    }
}

fn seqs(msgs: &[Value]) -> Vec<u64> {
    msgs.iter().map(|m| m["seq"].as_u64().unwrap()).collect()
}

/// Three nodes, a poster on each, 40 posts each at once: every member on every node
/// sees the same 120 messages in the same order, `seq` 1..=120 with no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posters_on_three_nodes_see_one_gap_free_order_everywhere() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let nodes = [node(&redis).await, node(&redis).await, node(&redis).await];
    let mut clients = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let mut c = login(n, &format!("u{i}")).await;
        c.join("lobby").await;
        clients.push(c);
    }
    const POSTS: usize = 40;
    let total = POSTS * clients.len();
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            tokio::spawn(async move {
                for p in 0..POSTS {
                    post(&mut c, "lobby", &format!("u{i}-{p}"), &format!("c{p}")).await;
                }
                let mut seen = Vec::new();
                let mut acks = 0;
                while seen.len() < total || acks < POSTS {
                    let v = c.recv().await;
                    match v["type"].as_str() {
                        Some("message") => seen.push(v),
                        Some("ack") => acks += 1,
                        Some("error") => panic!("post refused: {v}"),
                        _ => {}
                    }
                }
                seen
            })
        })
        .collect();
    let mut views = Vec::new();
    for t in tasks {
        views.push(t.await.unwrap());
    }
    assert_eq!(
        seqs(&views[0]),
        (1..=total as u64).collect::<Vec<_>>(),
        "gap-free seq in order"
    );
    for v in &views[1..] {
        assert_eq!(
            v, &views[0],
            "the same messages in the same order on every node"
        );
    }
    for n in nodes {
        n.shutdown().await.unwrap();
    }
}

/// A post acked on one node, resent with the same id after reconnecting to another
/// node: the same `seq`, in history once, delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_reconnecting_to_another_node_is_in_history_once() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (n1, n2) = (node(&redis).await, node(&redis).await);
    let mut bob = login(&n2, "bob").await;
    bob.join("lobby").await;
    let mut alice = login(&n1, "alice").await;
    alice.join("lobby").await;
    let mut seen = Vec::new();
    post(&mut alice, "lobby", "hello", "k1").await;
    let first = answer(&mut alice, "k1", &mut seen).await;
    assert_eq!(first["type"], "ack");
    drop(alice);

    let mut alice = login(&n2, "alice").await;
    alice.join("lobby").await;
    post(&mut alice, "lobby", "hello", "k1").await;
    let again = answer(&mut alice, "k1", &mut Vec::new()).await;
    assert_eq!(again["type"], "ack", "{again}");
    assert_eq!(again["seq"], first["seq"], "the original seq");
    post(&mut alice, "lobby", "marker", "k2").await;
    let mut bob_seen = Vec::new();
    messages(&mut bob, 2, &mut bob_seen).await;
    let texts: Vec<&str> = bob_seen
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["hello", "marker"], "delivered once");
    bob.send(json!({"type": "history", "room": "lobby"})).await;
    let h = bob.recv_type("history").await;
    let texts: Vec<&str> = h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["hello", "marker"], "in history once");
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}

/// Three nodes claim one name at the same moment: exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_claiming_one_name_at_once_have_one_winner() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let nodes = [node(&redis).await, node(&redis).await, node(&redis).await];
    for round in 0..5 {
        let name = format!("zed{round}");
        let mut clients = Vec::new();
        for n in &nodes {
            clients.push(Client::connect(n).await);
        }
        let replies = futures::future::join_all(clients.iter_mut().map(|c| {
            let name = name.clone();
            async move {
                c.send(json!({"type": "hello", "name": name})).await;
                c.recv().await
            }
        }))
        .await;
        let winners = replies.iter().filter(|r| r["type"] == "welcome").count();
        assert_eq!(winners, 1, "one winner: {replies:?}");
        assert_eq!(
            replies.iter().filter(|r| r["code"] == "name_taken").count(),
            2
        );
    }
    for n in nodes {
        n.shutdown().await.unwrap();
    }
}

/// A node that stops renewing its lease (hung) is reaped by the others within the
/// lease: its members leave (presence on the other nodes) and its names are free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_heartbeat_stops_is_reaped_within_the_lease() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let lease = Duration::from_secs(2);
    let (n1, seq1) = node_with_handle(&redis, lease).await;
    let (n2, _seq2) = node_with_handle(&redis, lease).await;
    let mut alice = login(&n1, "alice").await;
    alice.join("lobby").await;
    let mut bob = login(&n2, "bob").await;
    bob.join("lobby").await;
    let t = Instant::now();
    seq1.stop_heartbeat();
    let p = bob.recv_type("presence").await;
    assert_eq!(
        (&p["user"], &p["event"]),
        (&json!("alice"), &json!("leave"))
    );
    let took = t.elapsed();
    // The lease, plus one renewal period of the reaper, plus slack for a loaded machine.
    assert!(took < lease * 2, "reaped in {took:?}");
    let mut again = login(&n2, "alice").await;
    let joined = again.join("lobby").await;
    assert_eq!(joined["members"], json!(["alice", "bob"]));
    drop(alice);
    n2.shutdown().await.unwrap();
    drop(n1);
}

/// Redis killed (SIGKILL) and restarted from its AOF: a post meanwhile is refused
/// `unavailable` (never sequenced), /readyz says not ready; afterwards every acked post
/// is in history, `seq` continues without reuse, and delivery on the other node resumed
/// without loss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_loses_no_acked_post_and_reuses_no_seq() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let (n1, n2) = (node(&redis).await, node(&redis).await);
    let mut alice = login(&n1, "alice").await;
    alice.join("lobby").await;
    let mut bob = login(&n2, "bob").await;
    bob.join("lobby").await;
    let mut acked = Vec::new();
    for i in 0..10 {
        post(&mut alice, "lobby", &format!("m{i}"), &format!("c{i}")).await;
        let a = answer(&mut alice, &format!("c{i}"), &mut Vec::new()).await;
        acked.push(a["seq"].as_u64().unwrap());
    }
    redis.kill();
    let t = Instant::now();
    post(&mut alice, "lobby", "during", "d").await;
    let e = answer(&mut alice, "d", &mut Vec::new()).await;
    assert_eq!(e["code"], "unavailable", "{e}");
    assert!(e["retry_after_ms"].as_u64().unwrap() > 0);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "failed fast: {:?}",
        t.elapsed()
    );
    assert!(n1.app.not_ready().is_some(), "/readyz is 503");
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while n1.app.not_ready().is_some() || n2.app.not_ready().is_some() {
        assert!(Instant::now() < deadline, "ready again within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    post(&mut alice, "lobby", "during", "d").await;
    let a = answer(&mut alice, "d", &mut Vec::new()).await;
    assert_eq!(a["type"], "ack", "{a}");
    acked.push(a["seq"].as_u64().unwrap());
    assert_eq!(
        acked,
        (1..=11).collect::<Vec<u64>>(),
        "no seq lost or reused"
    );
    let mut seen = Vec::new();
    messages(&mut bob, 11, &mut seen).await;
    assert_eq!(seqs(&seen), acked, "bob's node resumed without loss");
    bob.send(json!({"type": "history", "room": "lobby"})).await;
    let h = bob.recv_type("history").await;
    assert_eq!(seqs(h["messages"].as_array().unwrap()), acked);
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}

/// Redis paused (`CLIENT PAUSE … WRITE`): posts fail fast with `unavailable`, the
/// refused posts never show up later (their scripts run after the pause and expire),
/// and posting works again once the pause ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_paused_posts_fail_fast_with_unavailable_and_recover() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (n1, n2) = (node(&redis).await, node(&redis).await);
    let mut alice = login(&n1, "alice").await;
    alice.join("lobby").await;
    let mut bob = login(&n2, "bob").await;
    bob.join("lobby").await;
    post(&mut alice, "lobby", "before", "b").await;
    assert_eq!(answer(&mut alice, "b", &mut Vec::new()).await["seq"], 1);
    let _: String = redis.cmd(&["CLIENT", "PAUSE", "4000", "WRITE"]).unwrap();
    let paused = Instant::now();
    let mut refused = 0;
    for i in 0..6 {
        let t = Instant::now();
        post(&mut alice, "lobby", "paused", &format!("p{i}")).await;
        let e = answer(&mut alice, &format!("p{i}"), &mut Vec::new()).await;
        assert_eq!(e["code"], "unavailable", "{e}");
        assert!(
            t.elapsed() < Duration::from_millis(1500),
            "fast: {:?}",
            t.elapsed()
        );
        refused += 1;
    }
    assert!(
        paused.elapsed() < Duration::from_secs(4),
        "all refused during the pause"
    );
    assert_eq!(refused, 6);
    assert!(n1.app.not_ready().is_some(), "/readyz is 503 while paused");
    let deadline = Instant::now() + Duration::from_secs(15);
    let seq = loop {
        post(&mut alice, "lobby", "after", "a").await;
        let r = answer(&mut alice, "a", &mut Vec::new()).await;
        if r["type"] == "ack" {
            break r["seq"].as_u64().unwrap();
        }
        assert!(Instant::now() < deadline, "posting works again within 15 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(seq, 2, "the refused posts used no seq");
    let mut seen = Vec::new();
    messages(&mut bob, 2, &mut seen).await;
    let texts: Vec<&str> = seen.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["before", "after"]);
    bob.send(json!({"type": "history", "room": "lobby"})).await;
    let h = bob.recv_type("history").await;
    assert_eq!(seqs(h["messages"].as_array().unwrap()), [1, 2]);
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}

/// A `--redis` value that is not a Redis URL refuses to start, with the reason.
#[tokio::test]
async fn a_bad_redis_url_refuses_to_start() {
    let mut cfg = unlimited(config());
    cfg.redis = Some("not a url".into());
    let err = Server::start(cfg).await.expect_err("refused");
    assert!(err.to_string().contains("bad redis url"), "{err}");
}

/// The real binary with `--redis`, killed with SIGKILL: another node reaps it within its
/// lease (presence `leave` for its member, its name free again).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_process_is_reaped_within_its_lease() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url();
    let mut proc = support::process::Proc::start(
        "127.0.0.1:0",
        &[
            "--redis",
            &url,
            "--redis-lease",
            "2s",
            support::UNLIMITED_FLAGS,
        ],
    );
    let (ws, _) = tokio_tungstenite::connect_async(proc.url())
        .await
        .expect("connects");
    let mut alice = Client { ws };
    alice.send(json!({"type": "hello", "name": "alice"})).await;
    assert_eq!(alice.recv().await["type"], "welcome");
    alice.join("lobby").await;
    let (n2, _) = node_with_handle(&redis, Duration::from_secs(2)).await;
    let mut bob = login(&n2, "bob").await;
    let joined = bob.join("lobby").await;
    assert_eq!(joined["members"], json!(["alice", "bob"]));
    let t = Instant::now();
    proc.kill9();
    let p = bob.recv_type("presence").await;
    assert_eq!(
        (&p["user"], &p["event"]),
        (&json!("alice"), &json!("leave"))
    );
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "reaped in {:?}",
        t.elapsed()
    );
    login(&n2, "alice").await;
    n2.shutdown().await.unwrap();
}

/// A long outage: Redis gone for longer than the lease. The node fences itself (it can
/// no longer prove its members and names are its own), closes its clients with 1013
/// "try again later" so they reconnect (to another node) and catch up from history, and
/// refuses new ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_outage_longer_than_the_lease_clients_are_told_to_try_again() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let (n1, _seq1) = node_with_handle(&redis, Duration::from_secs(2)).await;
    let mut alice = login(&n1, "alice").await;
    alice.join("lobby").await;
    redis.kill();
    let started = Instant::now();
    // Wait (bounded) for the close frame, skipping whatever comes before it.
    let close = tokio::time::timeout(Duration::from_secs(20), async {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            match alice.ws.next().await {
                Some(Ok(Message::Close(f))) => {
                    return f.map(|f| (u16::from(f.code), f.reason.to_string()));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("closed within the lease and a watch period");
    assert_eq!(
        close,
        Some((1013, "try again later".into())),
        "after {:?}",
        started.elapsed()
    );
    assert!(n1.app.sequencer.fenced());
    redis.restart();
    n1.shutdown().await.unwrap();
}

/// A TCP proxy in front of Redis that can stop forwarding: connections stay open but
/// nothing gets through (no RST, no FIN), as when a network path is cut; when restored,
/// what was held flows again.
struct Cut {
    port: u16,
    open: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Cut {
    async fn start(redis_port: u16) -> Cut {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (open, watch) = tokio::sync::watch::channel(true);
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = tokio::net::TcpStream::connect(("127.0.0.1", redis_port)).await
                else {
                    continue;
                };
                let (ri, wi) = inbound.into_split();
                let (ro, wo) = outbound.into_split();
                tokio::spawn(pump(ri, wo, watch.clone()));
                tokio::spawn(pump(ro, wi, watch.clone()));
            }
        });
        Cut { port, open, task }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn set_open(&self, open: bool) {
        self.open.send_replace(open);
    }
}

impl Drop for Cut {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to`, reading only while the path is open.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut open: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if open.wait_for(|o| *o).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Held here while cut, like bytes in a stalled network.
        if open.wait_for(|o| *o).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// One node reaches Redis through a path that stops forwarding for 3 s (shorter than
/// the lease): its posts fail fast with `unavailable` and `/readyz` turns 503 while the
/// other node carries on; once the path is back the node recovers by itself, delivers
/// what the other node sequenced meanwhile, and no refused post shows up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_redis_fails_fast_and_recovers_without_loss() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let cut = Cut::start(redis.port).await;
    let mut cfg = node_config(&redis);
    cfg.redis = Some(cut.url());
    let n1 = Server::start(cfg).await.expect("node starts");
    let n2 = node(&redis).await;
    let mut alice = login(&n1, "alice").await;
    alice.join("lobby").await;
    let mut bob = login(&n2, "bob").await;
    bob.join("lobby").await;
    post(&mut alice, "lobby", "before", "b").await;
    assert_eq!(answer(&mut alice, "b", &mut Vec::new()).await["seq"], 1);

    cut.set_open(false);
    let t = Instant::now();
    post(&mut alice, "lobby", "cut", "c").await;
    let e = answer(&mut alice, "c", &mut Vec::new()).await;
    assert_eq!(e["code"], "unavailable", "{e}");
    assert!(e["retry_after_ms"].as_u64().is_some());
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "fast: {:?}",
        t.elapsed()
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while n1.app.not_ready().is_none() {
        assert!(Instant::now() < deadline, "/readyz turns 503 while cut off");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The other node is unaffected.
    post(&mut bob, "lobby", "meanwhile", "m").await;
    assert_eq!(answer(&mut bob, "m", &mut Vec::new()).await["seq"], 2);
    tokio::time::sleep(Duration::from_secs(2)).await; // the cut lasts ~3 s in all
    cut.set_open(true);

    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    let seq = loop {
        post(&mut alice, "lobby", "after", "a").await;
        let r = answer(&mut alice, "a", &mut seen).await;
        if r["type"] == "ack" {
            break r["seq"].as_u64().unwrap();
        }
        assert!(Instant::now() < deadline, "posting works again within 15 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(seq, 3, "the refused post used no seq");
    // Alice's node delivered what was sequenced while it was cut off, in order.
    messages(&mut alice, 2, &mut seen).await;
    let texts: Vec<&str> = seen.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["meanwhile", "after"]);
    assert!(n1.app.not_ready().is_none(), "ready again");
    bob.send(json!({"type": "history", "room": "lobby"})).await;
    let h = bob.recv_type("history").await;
    assert_eq!(seqs(h["messages"].as_array().unwrap()), [1, 2, 3]);
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}

/// A node cut off while the other node posts more events than the delivery stream keeps
/// (`--redis-stream-len 100`): when its path is back it cannot show its members a
/// complete view, so it closes them with 1013; a client that reconnects to it finds
/// every message in history and posting works with the next `seq`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_fell_behind_the_stream_closes_its_clients_to_catch_up() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let cut = Cut::start(redis.port).await;
    let mut cfg = node_config(&redis);
    cfg.redis_stream_len = 100;
    let mut cut_cfg = cfg.clone();
    cut_cfg.redis = Some(cut.url());
    let n1 = Server::start(cut_cfg).await.expect("node starts");
    let n2 = Server::start(cfg).await.expect("node starts");
    let mut alice = login(&n1, "alice").await;
    alice.join("lobby").await;
    let mut bob = login(&n2, "bob").await;
    bob.join("lobby").await;

    cut.set_open(false);
    const POSTS: usize = 600;
    for i in 0..POSTS {
        post(&mut bob, "lobby", &format!("m{i}"), &format!("p{i}")).await;
    }
    let mut acks = 0;
    while acks < POSTS {
        let v = bob.recv().await;
        match v["type"].as_str() {
            Some("ack") => acks += 1,
            Some("error") => panic!("post refused: {v}"),
            _ => {}
        }
    }
    cut.set_open(true);

    let (_, close) = alice.closed().await;
    assert_eq!(close.map(|c| c.0), Some(1013), "told to start over");
    let mut again = login(&n1, "alice2").await;
    again.join("lobby").await;
    // Page back through history (a reply is bounded) to the first message.
    let mut all: Vec<u64> = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let mut req = json!({"type": "history", "room": "lobby", "limit": 1000});
        if let Some(b) = before {
            req["before"] = json!(b);
        }
        again.send(req).await;
        let h = again.recv_type("history").await;
        let page = seqs(h["messages"].as_array().unwrap());
        if page.is_empty() {
            break;
        }
        before = page.first().copied();
        all.splice(0..0, page);
    }
    assert_eq!(
        all,
        (1..=POSTS as u64).collect::<Vec<_>>(),
        "every message is in history"
    );
    post(&mut again, "lobby", "after", "a").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let seq = loop {
        let r = answer(&mut again, "a", &mut Vec::new()).await;
        if r["type"] == "ack" {
            break r["seq"].as_u64().unwrap();
        }
        assert!(Instant::now() < deadline, "posting works again: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        post(&mut again, "lobby", "after", "a").await;
    };
    assert_eq!(seq, POSTS as u64 + 1);
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}
