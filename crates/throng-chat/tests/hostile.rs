//! Every request has a budget, per client and per address: the review's findings that
//! 50 names from one address posted 653/s, that joins, leaves, history, pings and control
//! frames had no budget, and that nothing closed a client that kept at it.

mod support;

use std::time::Duration;

use futures::SinkExt;
use serde_json::{json, Value};
use support::{config, start, Client};
use throng_chat::budget::{BudgetArg, Kind};
use tokio_tungstenite::tungstenite::Message;

fn with_budget(
    mut cfg: throng_chat::Config,
    kind: Kind,
    rate: u32,
    burst: u32,
) -> throng_chat::Config {
    cfg.budgets.push(BudgetArg { kind, rate, burst });
    cfg
}

/// Sends `frame` and returns the reply of one of `types` (or an error).
async fn ask(c: &mut Client, frame: Value, types: &[&str]) -> Value {
    c.send(frame).await;
    loop {
        let v = c.recv().await;
        let t = v["type"].as_str().unwrap_or("");
        if t == "error" || types.contains(&t) {
            return v;
        }
    }
}

fn is_rate_limited(v: &Value) -> bool {
    v["type"] == "error" && v["code"] == "rate_limited" && v["retry_after_ms"].as_u64().is_some()
}

/// Many names from one address share the address's budget: `factor` clients' worth.
#[tokio::test]
async fn many_names_from_one_address_share_its_post_budget() {
    let mut cfg = with_budget(config(), Kind::Post, 1, 2);
    cfg.address_budget_factor = 2;
    let server = start(cfg).await;
    let mut accepted = 0;
    let mut refused = 0;
    for n in 0..10 {
        let mut c = Client::login(&server, &format!("sock{n}")).await;
        c.join("lobby").await;
        for i in 0..2 {
            let v = ask(
                &mut c,
                json!({"type": "post", "room": "lobby", "text": "spam", "id": format!("{n}-{i}")}),
                &["ack"],
            )
            .await;
            if v["type"] == "ack" {
                accepted += 1;
            } else {
                assert!(is_rate_limited(&v), "{v}");
                assert_eq!(v["ref"], format!("{n}-{i}"));
                refused += 1;
            }
        }
    }
    // The address's burst is 2 x 2 = 4 (plus what refills meanwhile, at 2/s).
    assert!(
        accepted <= 6,
        "{accepted} posts got through from one address"
    );
    assert!(refused >= 14);
    server.shutdown().await.unwrap();
}

/// Joins and leaves, room creation, history and app pings each have a budget.
#[tokio::test]
async fn joins_creations_history_and_pings_have_budgets() {
    let cfg = [
        (Kind::Member, 1, 4),
        (Kind::Create, 1, 2),
        (Kind::History, 1, 3),
        (Kind::Ping, 1, 3),
    ]
    .into_iter()
    .fold(config(), |c, (k, r, b)| with_budget(c, k, r, b));
    let server = start(cfg).await;
    let mut c = Client::login(&server, "churn").await;

    // Creating rooms: 2 at once.
    assert_eq!(
        ask(&mut c, json!({"type": "join", "room": "a"}), &["joined"]).await["type"],
        "joined"
    );
    assert_eq!(
        ask(&mut c, json!({"type": "join", "room": "b"}), &["joined"]).await["type"],
        "joined"
    );
    let v = ask(&mut c, json!({"type": "join", "room": "c"}), &["joined"]).await;
    assert!(is_rate_limited(&v), "a third new room: {v}");

    // Leaves and joins of existing rooms: the member budget (4, 2 used).
    let mut other = Client::login(&server, "other").await;
    other.join("a").await; // exists: no creation
    ask(&mut c, json!({"type": "leave", "room": "b"}), &["left"]).await;
    let v = ask(&mut c, json!({"type": "leave", "room": "a"}), &["left"]).await;
    assert!(is_rate_limited(&v), "the fifth membership change: {v}");

    for i in 0..4 {
        let v = ask(
            &mut c,
            json!({"type": "history", "room": "a"}),
            &["history"],
        )
        .await;
        assert_eq!(is_rate_limited(&v), i == 3, "history {i}: {v}");
    }
    for i in 0..4 {
        let v = ask(&mut c, json!({"type": "ping"}), &["pong"]).await;
        assert_eq!(is_rate_limited(&v), i == 3, "ping {i}: {v}");
    }
    server.shutdown().await.unwrap();
}

/// Bytes in have a budget too: frames beyond it are dropped with `rate_limited`.
#[tokio::test]
async fn bytes_have_a_budget() {
    let mut cfg = with_budget(config(), Kind::Bytes, 10, 2_000);
    cfg.max_frame = 1_000;
    let server = start(cfg).await;
    let mut c = Client::login(&server, "big").await;
    c.join("lobby").await;
    let text = "z".repeat(900);
    let first = ask(
        &mut c,
        json!({"type": "post", "room": "lobby", "text": text, "id": "1"}),
        &["ack"],
    )
    .await;
    assert_eq!(first["type"], "ack");
    let second = ask(
        &mut c,
        json!({"type": "post", "room": "lobby", "text": text, "id": "2"}),
        &["ack"],
    )
    .await;
    assert_eq!(second["type"], "ack");
    let third = ask(
        &mut c,
        json!({"type": "post", "room": "lobby", "text": text, "id": "3"}),
        &["ack"],
    )
    .await;
    assert!(is_rate_limited(&third), "the burst is 2 000 bytes: {third}");
    server.shutdown().await.unwrap();
}

/// A client that keeps going over budget is closed with 1008 and counted.
#[tokio::test]
async fn sustained_abuse_is_closed_1008() {
    let server = start(with_budget(config(), Kind::Ping, 1, 1)).await;
    let mut c = Client::login(&server, "flood").await;
    for _ in 0..200 {
        c.send(json!({"type": "ping"})).await;
    }
    let (texts, close) = c.closed().await;
    assert!(texts.iter().any(is_rate_limited));
    assert_eq!(close, Some((1008, "rate limit abuse".into())));
    assert_eq!(server.app.metrics.abuse_closes.get(), 1);
    // Others are unaffected.
    let mut fine = Client::login(&server, "fine").await;
    assert_eq!(
        ask(&mut fine, json!({"type": "ping"}), &["pong"]).await["type"],
        "pong"
    );
    server.shutdown().await.unwrap();
}

/// A WebSocket ping flood (even before `hello`) is charged to the control budget and
/// closed for abuse.
#[tokio::test]
async fn a_control_frame_flood_is_closed_for_abuse() {
    let server = start(config()).await;
    let mut c = Client::connect(&server).await;
    for _ in 0..500 {
        if c.ws.send(Message::Ping(vec![1u8; 8].into())).await.is_err() {
            break;
        }
    }
    let (_, close) = tokio::time::timeout(Duration::from_secs(5), c.closed())
        .await
        .unwrap();
    assert!(matches!(close, None | Some((1008, _))), "{close:?}");
    assert_eq!(server.app.metrics.abuse_closes.get(), 1);
    server.shutdown().await.unwrap();
}

/// A post's cost grows with the room: big posts into a big room run out of the fan-out
/// budget long before the post budget.
#[tokio::test]
async fn big_posts_into_a_big_room_are_bounded_by_the_fanout_budget() {
    // 10 members; a 6 000-byte post costs (6 000 + 64) / 64 = 95 units x 10 = 950.
    let server = start(with_budget(config(), Kind::Fanout, 100, 2_000)).await;
    let mut members = Vec::new();
    for n in 0..9 {
        let mut m = Client::login(&server, &format!("m{n}")).await;
        m.join("big").await;
        members.push(m);
    }
    let mut poster = Client::login(&server, "poster").await;
    poster.join("big").await;
    let text = "b".repeat(6_000);
    let mut acked = 0;
    for i in 0..3 {
        let v = ask(
            &mut poster,
            json!({"type": "post", "room": "big", "text": text, "id": format!("{i}")}),
            &["ack"],
        )
        .await;
        if v["type"] == "ack" {
            acked += 1;
        } else {
            assert!(is_rate_limited(&v), "{v}");
        }
    }
    assert_eq!(acked, 2, "a burst of 2 000 units takes two such posts");
    // Small posts into the same room still go through (their cost is small).
    let v = ask(
        &mut poster,
        json!({"type": "post", "room": "big", "text": "hi", "id": "small"}),
        &["ack"],
    )
    .await;
    assert!(is_rate_limited(&v) || v["type"] == "ack");
    server.shutdown().await.unwrap();
}

/// New connections per address have a budget: past it the upgrade gets 429 with
/// `Retry-After`, so a client closed for abuse cannot reconnect at once, over and over.
#[tokio::test]
async fn reconnecting_too_often_from_one_address_gets_429() {
    let mut cfg = with_budget(config(), Kind::Connect, 1, 3);
    cfg.address_budget_factor = 1;
    let server = start(cfg).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(Client::connect(&server).await);
    }
    let url = format!("ws://{}/ws", server.addr);
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 429);
            assert!(resp.headers().contains_key("retry-after"));
        }
        other => panic!("expected 429, got {:?}", other.map(|_| ())),
    }
    server.shutdown().await.unwrap();
}
