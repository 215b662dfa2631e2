//! `--auth token`: `hello` carries a JWT whose `sub` is the name; bad, expired, missing and
//! wrongly signed tokens get `unauthorized` and close 1008; the `rooms` claim limits
//! joins (`forbidden`, the connection stays open); a second connection with the same
//! identity takes over (the older one is closed 4001 `replaced`). `--auth off` is
//! unchanged. Tokens are made with jsonwebtoken itself, from the keys in
//! `tests/fixtures/`.

mod support;

use std::path::PathBuf;

use jsonwebtoken::{encode, get_current_timestamp, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use support::{config, start, Client};
use throng_chat::auth::{AuthMode, EXP_LEEWAY_SECS};
use throng_chat::{Config, Server};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The test secret, as the server reads it (trailing newline dropped).
fn secret() -> Vec<u8> {
    let mut s = std::fs::read(fixture("hs256.secret")).unwrap();
    while s.last() == Some(&b'\n') {
        s.pop();
    }
    s
}

fn hs256_config() -> Config {
    let mut c = config();
    c.auth.mode = AuthMode::Token;
    c.auth.auth_hs256_secret_file = Some(fixture("hs256.secret"));
    c
}

fn eddsa_config() -> Config {
    let mut c = config();
    c.auth.mode = AuthMode::Token;
    c.auth.auth_public_key = Some(fixture("ed25519-public.pem"));
    c
}

/// Claims for `sub` expiring `exp_in` seconds from now (negative: in the past).
fn claims(sub: &str, exp_in: i64) -> Value {
    let exp = get_current_timestamp() as i64 + exp_in;
    json!({"sub": sub, "exp": exp})
}

fn hs256(claims: &Value) -> String {
    let key = EncodingKey::from_secret(&secret()).unwrap();
    encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
}

fn eddsa(claims: &Value) -> String {
    let pem = std::fs::read(fixture("ed25519-private.pem")).unwrap();
    let key = EncodingKey::from_ed_pem(&pem).unwrap();
    encode(&Header::new(Algorithm::EdDSA), claims, &key).unwrap()
}

/// Connects and sends `hello` with `token`, returning the first reply.
async fn hello(server: &Server, token: &str) -> (Client, Value) {
    let mut c = Client::connect(server).await;
    c.send(json!({"type": "hello", "token": token})).await;
    let reply = c.recv().await;
    (c, reply)
}

/// Expects `unauthorized` then close 1008, returning the error message.
async fn refused(server: &Server, hello_frame: Value) -> String {
    let mut c = Client::connect(server).await;
    c.send(hello_frame).await;
    let (texts, close) = c.closed().await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert_eq!(texts[0]["type"], "error");
    assert_eq!(texts[0]["code"], "unauthorized", "{texts:?}");
    assert_eq!(close, Some((1008, "unauthorized".into())));
    texts[0]["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_valid_token_is_welcomed_with_its_sub_as_the_name() {
    let server = start(hs256_config()).await;
    // A `name` beside the token is ignored: the token says who this is.
    let mut c = Client::connect(&server).await;
    let token = hs256(&claims("alice", 300));
    c.send(json!({"type": "hello", "name": "mallory", "token": token}))
        .await;
    assert_eq!(c.recv().await, json!({"type": "welcome", "name": "alice"}));
    let joined = c.join("lobby").await;
    assert_eq!(joined["members"], json!(["alice"]));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn eddsa_tokens_are_verified_with_the_public_key() {
    let server = start(eddsa_config()).await;
    let (_c, reply) = hello(&server, &eddsa(&claims("bob", 300))).await;
    assert_eq!(reply, json!({"type": "welcome", "name": "bob"}));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_expired_token_is_unauthorized_and_closed_1008() {
    let server = start(hs256_config()).await;
    let past_leeway = -(EXP_LEEWAY_SECS as i64) - 60;
    let why = refused(
        &server,
        json!({"type": "hello", "token": hs256(&claims("alice", past_leeway))}),
    )
    .await;
    assert!(why.contains("expired"), "{why}");
    // Within the leeway (clock skew) it is still accepted.
    let (_c, reply) = hello(&server, &hs256(&claims("alice", -5))).await;
    assert_eq!(reply["type"], "welcome");
    // No `exp` at all: refused.
    let why = refused(
        &server,
        json!({"type": "hello", "token": hs256(&json!({"sub": "carol"}))}),
    )
    .await;
    assert!(why.contains("exp"), "{why}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_token_with_a_bad_signature_is_refused() {
    let server = start(hs256_config()).await;
    let other = EncodingKey::from_secret(&[7u8; 32]).unwrap();
    let forged = encode(
        &Header::new(Algorithm::HS256),
        &claims("alice", 300),
        &other,
    )
    .unwrap();
    let why = refused(&server, json!({"type": "hello", "token": forged})).await;
    assert!(why.contains("signature"), "{why}");
    // A valid token whose payload was swapped for another user's.
    let real = hs256(&claims("alice", 300));
    let admin = hs256(&claims("admin", 300));
    let parts: Vec<&str> = real.split('.').collect();
    let admin_payload = admin.split('.').nth(1).unwrap();
    let spliced = format!("{}.{}.{}", parts[0], admin_payload, parts[2]);
    refused(&server, json!({"type": "hello", "token": spliced})).await;
    // Not a JWT at all.
    refused(&server, json!({"type": "hello", "token": "not-a-jwt"})).await;
    server.shutdown().await.unwrap();

    // EdDSA: a server with another public key refuses the fixture key's tokens.
    let mut cfg = eddsa_config();
    cfg.auth.auth_public_key = Some(fixture("other-ed25519-public.pem"));
    let server = start(cfg).await;
    let why = refused(
        &server,
        json!({"type": "hello", "token": eddsa(&claims("bob", 300))}),
    )
    .await;
    assert!(why.contains("signature"), "{why}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_token_signed_with_another_algorithm_is_refused() {
    // An HS256 server refuses a (validly signed) EdDSA token.
    let server = start(hs256_config()).await;
    let why = refused(
        &server,
        json!({"type": "hello", "token": eddsa(&claims("alice", 300))}),
    )
    .await;
    assert!(why.contains("algorithm"), "{why}");
    server.shutdown().await.unwrap();

    // An EdDSA server refuses HS256 "signed" with its public key (algorithm confusion),
    // and a token claiming `alg: none`.
    let server = start(eddsa_config()).await;
    let public = std::fs::read(fixture("ed25519-public.pem")).unwrap();
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &claims("alice", 300),
        &EncodingKey::from_secret(&public).unwrap(),
    )
    .unwrap();
    let why = refused(&server, json!({"type": "hello", "token": confused})).await;
    assert!(why.contains("algorithm"), "{why}");
    let good = eddsa(&claims("alice", 300));
    let payload = good.split('.').nth(1).unwrap();
    // base64url of {"alg":"none","typ":"JWT"}
    let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    refused(&server, json!({"type": "hello", "token": none})).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn hello_without_a_token_in_token_mode_is_refused() {
    let server = start(hs256_config()).await;
    let why = refused(&server, json!({"type": "hello", "name": "alice"})).await;
    assert!(why.contains("token"), "{why}");
    // A token whose sub breaks the name rules.
    let why = refused(
        &server,
        json!({"type": "hello", "token": hs256(&claims("al ice", 300))}),
    )
    .await;
    assert!(why.contains("sub"), "{why}");
    // Requests before hello are still not_authenticated, and the connection stays open.
    let mut c = Client::connect(&server).await;
    c.send(json!({"type": "join", "room": "lobby"})).await;
    assert_eq!(c.recv().await["code"], "not_authenticated");
    c.send(json!({"type": "hello", "token": hs256(&claims("alice", 300))}))
        .await;
    assert_eq!(c.recv().await["type"], "welcome");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_rooms_claim_limits_which_rooms_a_user_may_join() {
    let server = start(hs256_config()).await;
    let mut limited = claims("alice", 300);
    limited["rooms"] = json!(["lobby", "team-a"]);
    let (mut c, reply) = hello(&server, &hs256(&limited)).await;
    assert_eq!(reply["type"], "welcome");
    assert_eq!(c.join("lobby").await["room"], "lobby");
    c.send(json!({"type": "join", "room": "team-b"})).await;
    let e = c.recv().await;
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("forbidden"))
    );
    // Room names are exact: `Lobby` is another room.
    c.send(json!({"type": "join", "room": "Lobby"})).await;
    assert_eq!(c.recv().await["code"], "forbidden");
    // Still open, and still in the allowed rooms.
    c.send(json!({"type": "ping"})).await;
    assert_eq!(c.recv().await, json!({"type": "pong"}));
    assert_eq!(c.join("team-a").await["room"], "team-a");
    // Without the claim: any room. An empty list: none.
    let (mut free, _) = hello(&server, &hs256(&claims("bob", 300))).await;
    assert_eq!(free.join("team-b").await["room"], "team-b");
    let mut none = claims("carol", 300);
    none["rooms"] = json!([]);
    let (mut locked, _) = hello(&server, &hs256(&none)).await;
    locked.send(json!({"type": "join", "room": "lobby"})).await;
    assert_eq!(locked.recv().await["code"], "forbidden");
    // A claim that is not a list of room names: the token is refused.
    let mut bad = claims("dave", 300);
    bad["rooms"] = json!(["lobby", "no/slash"]);
    refused(&server, json!({"type": "hello", "token": hs256(&bad)})).await;
    bad["rooms"] = json!("lobby");
    refused(&server, json!({"type": "hello", "token": hs256(&bad)})).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_second_connection_with_the_same_identity_takes_over() {
    let server = start(hs256_config()).await;
    let (mut old, _) = hello(&server, &hs256(&claims("alice", 300))).await;
    old.join("lobby").await;
    let (mut bob, _) = hello(&server, &hs256(&claims("bob", 300))).await;
    bob.join("lobby").await;
    old.recv_type("presence").await; // bob joined

    // Same identity (names compare case-insensitively), a new connection: it wins.
    let (mut new, reply) = hello(&server, &hs256(&claims("Alice", 300))).await;
    assert_eq!(reply, json!({"type": "welcome", "name": "Alice"}));
    let (_, close) = old.closed().await;
    assert_eq!(close, Some((4001, "replaced".into())));
    // The old connection left the room as it went; the new one joins and posts.
    let left = bob.recv_type("presence").await;
    assert_eq!(
        (left["user"].as_str(), left["event"].as_str()),
        (Some("alice"), Some("leave"))
    );
    let joined = new.join("lobby").await;
    assert_eq!(joined["members"], json!(["Alice", "bob"]));
    new.send(json!({"type": "post", "room": "lobby", "text": "back", "id": "p1"}))
        .await;
    let m = bob.recv_type("message").await;
    assert_eq!(
        (m["from"].as_str(), m["text"].as_str()),
        (Some("Alice"), Some("back"))
    );
    assert_eq!(new.recv_type("ack").await["id"], "p1");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_takeover_mid_room_leaves_the_user_in_the_room_once() {
    let server = start(hs256_config()).await;
    let token = hs256(&claims("alice", 300));
    let (mut old, _) = hello(&server, &token).await;
    old.join("lobby").await;
    // The same token again, joining at once: the old connection may still be leaving.
    let (mut new, reply) = hello(&server, &token).await;
    assert_eq!(reply["name"], "alice");
    new.join("lobby").await;
    let (_, close) = old.closed().await;
    assert_eq!(close.map(|c| c.0), Some(4001));
    // Once the old connection is gone, alice is in the room once, and reachable.
    let deadline = std::time::Instant::now() + support::WAIT;
    let (mut carol, _) = hello(&server, &hs256(&claims("carol", 300))).await;
    loop {
        let members = carol.join("lobby").await["members"].clone();
        if members == json!(["alice", "carol"]) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{members}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    carol
        .send(json!({"type": "post", "room": "lobby", "text": "hi"}))
        .await;
    assert_eq!(new.recv_type("message").await["text"], "hi");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn off_mode_is_unchanged_and_a_taken_name_is_still_refused() {
    let server = start(config()).await;
    let mut a = Client::login(&server, "alice").await;
    // A token is ignored when auth is off; the name is the client's choice.
    let mut b = Client::connect(&server).await;
    b.send(json!({"type": "hello", "name": "bob", "token": "whatever"}))
        .await;
    assert_eq!(b.recv().await, json!({"type": "welcome", "name": "bob"}));
    // Nobody can push alice out by claiming her name.
    let mut c = Client::connect(&server).await;
    c.send(json!({"type": "hello", "name": "ALICE"})).await;
    let (texts, close) = c.closed().await;
    assert_eq!(texts[0]["code"], "name_taken");
    assert_eq!(close, Some((1008, "name taken".into())));
    a.send(json!({"type": "ping"})).await;
    assert_eq!(a.recv().await, json!({"type": "pong"}));
    // hello without a name is a bad request, and the connection stays open.
    let mut d = Client::connect(&server).await;
    d.send(json!({"type": "hello"})).await;
    assert_eq!(d.recv().await["code"], "bad_request");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_auth_configuration_stops_the_start_with_a_clear_error() {
    let cases: [(Config, &str); 4] = [
        (
            {
                let mut c = config();
                c.auth.mode = AuthMode::Token;
                c
            },
            "needs a key",
        ),
        (
            {
                let mut c = hs256_config();
                c.auth.auth_public_key = Some(fixture("ed25519-public.pem"));
                c
            },
            "only one",
        ),
        (
            {
                let mut c = hs256_config();
                c.auth.auth_hs256_secret_file = Some(fixture("no-such-file"));
                c
            },
            "cannot read",
        ),
        (
            {
                let mut c = eddsa_config();
                c.auth.auth_public_key = Some(fixture("ed25519-private.pem"));
                c
            },
            "private key",
        ),
    ];
    for (cfg, expected) in cases {
        let err = Server::start(cfg).await.unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }
}

#[test]
fn the_binary_refuses_token_mode_without_a_key_and_exits_1() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_throng-chat"))
        .args([
            "--memory",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--auth",
            "token",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--auth-hs256-secret-file"), "{err}");
    // An unknown mode is a usage error (exit 2).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_throng-chat"))
        .args(["--auth", "password"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
