//! What one node does to a connection, a room or a count holds on every node: a proven
//! identity signing in on another node closes its old connection there (4001); an
//! operator's disconnect, room close and reopen on one node act on all of them, and a
//! node that starts later knows which rooms are closed; per-user counts are readable
//! from any node. Real nodes on one `redis-server` of the test's own; skipped when it is
//! not installed (unless `THRONG_REQUIRE_REDIS=1`).

#[path = "support/redis.rs"]
mod redis_server;
mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use jsonwebtoken::{encode, get_current_timestamp, Algorithm, EncodingKey, Header};
use redis_server::RedisServer;
use serde_json::{json, Value};
use support::{config, request, unlimited, Client};
use throng_chat::auth::AuthMode;
use throng_chat::{Config, Server};

fn node_config(redis: &RedisServer) -> Config {
    let mut cfg = unlimited(config());
    cfg.redis = Some(redis.url());
    cfg
}

async fn node(cfg: Config) -> Server {
    Server::start(cfg).await.expect("node starts")
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn token(sub: &str) -> String {
    let mut secret = std::fs::read(fixture("hs256.secret")).unwrap();
    while secret.last() == Some(&b'\n') {
        secret.pop();
    }
    let claims = json!({"sub": sub, "exp": get_current_timestamp() + 600});
    let key = EncodingKey::from_secret(&secret).unwrap();
    encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
}

async fn signed_in(server: &Server, sub: &str) -> Client {
    let mut c = Client::connect(server).await;
    c.send(json!({"type": "hello", "token": token(sub)})).await;
    assert_eq!(c.recv().await["type"], "welcome");
    c
}

/// Joins `room`, retrying (bounded) while the node has not yet applied a reopen made
/// on another node; returns the last reply.
async fn join_eventually(c: &mut Client, room: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        c.send(json!({"type": "join", "room": room})).await;
        let v = c.recv().await;
        if v["type"] == "joined" || Instant::now() > deadline {
            return v;
        }
        assert_eq!(v["code"], "forbidden", "{v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The review's gap: taking a name over on another node left the old connection open
/// there. Now the registry tells that node, which closes it with 4001.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_on_another_node_closes_the_old_connection_there() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut cfg = node_config(&redis);
    cfg.auth.mode = AuthMode::Token;
    cfg.auth.auth_hs256_secret_file = Some(fixture("hs256.secret"));
    let a = node(cfg.clone()).await;
    let b = node(cfg).await;
    let mut old = signed_in(&a, "alice").await;
    old.join("lobby").await;
    let mut watcher = signed_in(&b, "bob").await;
    watcher.join("lobby").await;

    let mut new = signed_in(&b, "alice").await;
    let (_, close) = old.closed().await;
    assert_eq!(close, Some((4001, "replaced".into())));
    let p = watcher.recv_type("presence").await;
    assert_eq!(
        (p["user"].clone(), p["event"].clone()),
        (json!("alice"), json!("leave"))
    );
    // The new connection is the one that holds the name and can act under it.
    let joined = new.join("lobby").await;
    assert_eq!(joined["members"], json!(["alice", "bob"]));
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_act_on_every_node() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = node(node_config(&redis)).await;
    let b = node(node_config(&redis)).await;
    let mut alice = Client::login(&a, "alice").await;
    alice.join("lobby").await;
    let mut bob = Client::login(&b, "bob").await;
    bob.join("lobby").await;
    let mut carol = Client::login(&b, "carol").await;
    carol.join("lobby").await;

    // A disconnect asked of node a closes bob on node b.
    let (status, body) = request(a.admin_addr, "POST", "/api/users/bob/disconnect", None, "").await;
    assert_eq!(status, 200, "{body}");
    let (_, close) = bob.closed().await;
    assert_eq!(close, Some((4003, "disconnected by an operator".into())));

    // Closing the room on node a takes carol (node b) out of it, and node b refuses
    // joins.
    let (status, body) = request(a.admin_addr, "POST", "/api/rooms/lobby/close", None, "").await;
    assert_eq!((status, body.as_str()), (200, r#"{"removed":1}"#));
    assert_eq!(alice.recv_type("left").await["room"], "lobby");
    assert_eq!(carol.recv_type("left").await["room"], "lobby");
    carol.send(json!({"type": "join", "room": "lobby"})).await;
    assert_eq!(carol.recv_type("error").await["code"], "forbidden");

    // A node started after the close knows it.
    let c = node(node_config(&redis)).await;
    let mut dave = Client::login(&c, "dave").await;
    dave.send(json!({"type": "join", "room": "lobby"})).await;
    assert_eq!(dave.recv_type("error").await["code"], "forbidden");

    // Reopened on node b: joins work on every node.
    let (status, _) = request(b.admin_addr, "POST", "/api/rooms/lobby/open", None, "").await;
    assert_eq!(status, 200);
    assert_eq!(join_eventually(&mut dave, "lobby").await["type"], "joined");
    assert_eq!(join_eventually(&mut alice, "lobby").await["type"], "joined");
    for n in [a, b, c] {
        n.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_user_counts_are_readable_from_any_node() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut cfg = node_config(&redis);
    cfg.dump_interval = Duration::from_millis(200);
    let a = node(cfg.clone()).await;
    let b = node(cfg).await;
    // alice: hello, join, 3 pings = 5 requests on node a; bob: hello, join on node b.
    let mut alice = Client::login(&a, "alice").await;
    alice.join("lobby").await;
    for _ in 0..3 {
        alice.send(json!({"type": "ping"})).await;
        alice.recv_type("pong").await;
    }
    let mut bob = Client::login(&b, "bob").await;
    bob.join("lobby").await;

    let deadline = Instant::now() + Duration::from_secs(5);
    let cluster = loop {
        let (status, body) = request(b.admin_addr, "GET", "/api/users", None, "").await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let c = v["cluster"].clone();
        if c["users"]["alice"] == 5 && c["users"]["bob"] == 2 {
            break c;
        }
        assert!(Instant::now() < deadline, "counts shared within 5 s: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(cluster["nodes"], 2);
    assert_eq!(cluster["overflow"], 0);
    // A quiet interval drops out by itself (the key expires): nothing is counted twice.
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
