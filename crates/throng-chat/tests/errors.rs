//! Bad input gets a typed `error` frame and the connection stays usable; abusive input
//! (too large) is closed with 1009. Every error code is exercised.

mod support;

use serde_json::json;
use support::{config, start, Client};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn anything_before_hello_is_not_authenticated() {
    let server = start(config()).await;
    let mut c = Client::connect(&server).await;
    c.send(json!({"type": "join", "room": "lobby"})).await;
    let e = c.recv().await;
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("not_authenticated"))
    );
    // Still usable: hello works afterwards.
    c.send(json!({"type": "hello", "name": "late"})).await;
    assert_eq!(c.recv().await["type"], "welcome");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn invalid_and_taken_names_get_an_error_then_a_close() {
    let server = start(config()).await;
    let mut bad = Client::connect(&server).await;
    bad.send(json!({"type": "hello", "name": "no spaces please"}))
        .await;
    let (texts, close) = bad.closed().await;
    assert_eq!(texts[0]["code"], "invalid_name");
    assert_eq!(close.map(|c| c.0), Some(1008));

    let _alice = Client::login(&server, "alice").await;
    let mut dup = Client::connect(&server).await;
    dup.send(json!({"type": "hello", "name": "alice"})).await;
    let (texts, close) = dup.closed().await;
    assert_eq!(texts[0]["code"], "name_taken");
    assert_eq!(close.map(|c| c.0), Some(1008));

    // Another case is the same name: nobody passes for alice as "Alice".
    let mut case = Client::connect(&server).await;
    case.send(json!({"type": "hello", "name": "ALICE"})).await;
    let (texts, close) = case.closed().await;
    assert_eq!(texts[0]["code"], "name_taken");
    assert_eq!(close.map(|c| c.0), Some(1008));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_repeated_join_answers_without_resending_history() {
    let server = start(config()).await;
    let mut alice = Client::login(&server, "alice").await;
    alice.join("lobby").await;
    for i in 0..3 {
        alice
            .send(json!({"type": "post", "room": "lobby", "text": format!("m{i}")}))
            .await;
        alice.recv_type("message").await;
    }
    let again = alice.join("lobby").await;
    assert_eq!(again["members"], json!(["alice"]));
    assert_eq!(again["history"], json!([]), "the client already has it");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn malformed_unknown_and_mistyped_frames_are_errors_and_the_connection_survives() {
    let server = start(config()).await;
    let mut c = Client::login(&server, "alice").await;
    let cases = [
        ("{not json", "bad_request"),
        (r#"{"room":"lobby"}"#, "bad_request"),
        (r#"{"type":"dance"}"#, "unknown_type"),
        (r#"{"type":"join"}"#, "bad_request"),
        (r#"{"type":"join","room":42}"#, "bad_request"),
        (
            r#"{"type":"post","room":"lobby","text":"hi","id":"c9"}"#,
            "not_in_room",
        ),
        (r#"{"type":"leave","room":"lobby"}"#, "not_in_room"),
        (r#"{"type":"join","room":"bad room"}"#, "invalid_name"),
        (r#"{"type":"hello","name":"again"}"#, "bad_request"),
    ];
    for (frame, code) in cases {
        c.send_raw(Message::Text(frame.into())).await;
        let e = c.recv().await;
        assert_eq!(e["type"], "error", "{frame}");
        assert_eq!(e["code"], code, "{frame}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // The not_in_room post carried an id: the error refers to it.
    c.send_raw(Message::Text(
        r#"{"type":"post","room":"x","text":"hi","id":"c7"}"#.into(),
    ))
    .await;
    assert_eq!(c.recv().await["ref"], "c7");
    c.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    assert_eq!(c.recv().await["code"], "bad_request");
    // Still usable.
    c.send(json!({"type": "ping"})).await;
    assert_eq!(c.recv().await, json!({"type": "pong"}));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_frame_over_the_limit_gets_too_large_and_close_1009() {
    let mut cfg = config();
    cfg.max_frame = 1024;
    let server = start(cfg).await;
    let mut c = Client::login(&server, "alice").await;
    let text = "x".repeat(1500);
    c.send(json!({"type": "post", "room": "lobby", "text": text}))
        .await;
    let (texts, close) = c.closed().await;
    assert_eq!(texts.last().unwrap()["code"], "too_large");
    assert_eq!(close.map(|c| c.0), Some(1009));

    // Far over the limit (past the transport's hard cap): still a 1009 close, no panic.
    let mut c = Client::login(&server, "bob").await;
    let huge = "y".repeat(10_000);
    let _ = futures::SinkExt::send(&mut c.ws, Message::Text(huge.into())).await;
    let (_, close) = c.closed().await;
    assert!(close.is_none() || close.map(|c| c.0) == Some(1009));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn joining_too_many_rooms_is_refused() {
    let mut cfg = config();
    cfg.max_rooms_per_user = 2;
    let server = start(cfg).await;
    let mut c = Client::login(&server, "alice").await;
    c.join("r1").await;
    c.join("r2").await;
    c.send(json!({"type": "join", "room": "r3"})).await;
    assert_eq!(c.recv().await["code"], "bad_request");
    // Re-joining a room it is in is fine.
    assert_eq!(c.join("r1").await["room"], "r1");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn posts_over_the_rate_are_refused_with_retry_after_and_not_delivered() {
    let mut cfg = config();
    cfg.post_rate = 2;
    cfg.post_burst = 3;
    let server = start(cfg).await;
    let mut alice = Client::login(&server, "alice").await;
    alice.join("lobby").await;
    let mut bob = Client::login(&server, "bob").await;
    bob.join("lobby").await;
    alice.recv_type("presence").await;
    for i in 0..5 {
        alice.send(json!({"type": "post", "room": "lobby", "text": format!("m{i}"), "id": format!("c{i}")})).await;
    }
    let mut delivered = 0;
    let mut limited = Vec::new();
    while delivered + limited.len() < 5 {
        let v = alice.recv().await;
        match v["type"].as_str() {
            Some("message") => delivered += 1,
            Some("error") => {
                assert_eq!(v["code"], "rate_limited");
                let wait = v["retry_after_ms"].as_u64().unwrap();
                assert!(wait > 0 && wait <= 500, "one post every 500 ms: {wait}");
                limited.push(v["ref"].as_str().unwrap().to_owned());
            }
            _ => {}
        }
    }
    assert_eq!(delivered, 3, "the burst");
    assert_eq!(limited, ["c3", "c4"]);
    // Bob saw exactly the three delivered posts, then Alice's ping-pong proves the order.
    for i in 0..3 {
        assert_eq!(bob.recv_type("message").await["text"], format!("m{i}"));
    }
    bob.send(json!({"type": "ping"})).await;
    assert_eq!(
        bob.recv().await,
        json!({"type": "pong"}),
        "no fourth message was delivered"
    );
    assert!(server
        .app
        .metrics
        .render()
        .contains("throng_chat_rate_limited_posts_total 2"));
    server.shutdown().await.unwrap();
}
