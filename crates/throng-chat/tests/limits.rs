//! Connection limits (HTTP 503 before the upgrade), the Origin check (403), readiness
//! while draining, and the slow-consumer rule: a client that never reads is closed with
//! 4008 while the others keep receiving on time, and dropped if it never reads again.

mod support;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use support::{config, start, Client};
use tower::ServiceExt;

async fn upgrade_status(server: &throng_chat::Server) -> Option<u16> {
    upgrade_with_origin(server, None).await
}

#[tokio::test]
async fn over_the_connection_limits_the_upgrade_gets_503() {
    let mut cfg = config();
    cfg.max_connections_per_ip = 2;
    let server = start(cfg).await;
    let a = Client::connect(&server).await;
    let _b = Client::connect(&server).await;
    assert_eq!(
        upgrade_status(&server).await,
        Some(503),
        "third from one IP"
    );
    drop(a);
    // The slot frees once the server notices the disconnect.
    let deadline = Instant::now() + Duration::from_secs(5);
    while upgrade_status(&server).await.is_some() {
        assert!(Instant::now() < deadline, "slot never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.shutdown().await.unwrap();

    let mut cfg = config();
    cfg.max_connections = 1;
    let server = start(cfg).await;
    let _a = Client::connect(&server).await;
    assert_eq!(
        upgrade_status(&server).await,
        Some(503),
        "over the global cap"
    );
    assert!(server
        .app
        .metrics
        .render()
        .contains(r#"throng_chat_connections_refused_total{reason="too_many_connections"} 1"#));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn readyz_turns_503_and_upgrades_are_refused_while_draining() {
    let app = throng_chat::App::new(config());
    let router = throng_chat::http::router(app.clone());
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    let resp = router.clone().oneshot(get("/readyz")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = router.clone().oneshot(get("/healthz")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    app.begin_shutdown();
    let resp = router.clone().oneshot(get("/readyz")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(app.admit("127.0.0.1".parse().unwrap()).is_err());
}

/// A small outbound queue, no practical post limit, and `grace` for closes.
fn slow_consumer_config(grace: Duration) -> throng_chat::Config {
    let mut cfg = support::unlimited(config());
    cfg.outbound_queue = 16;
    cfg.post_rate = 100_000;
    cfg.post_burst = 100_000;
    cfg.shutdown_grace = grace;
    cfg
}

#[tokio::test]
async fn a_client_that_never_reads_is_closed_4008_and_others_keep_up() {
    // The close frame waits up to the grace for the stalled client to read; it reads late.
    let cfg = slow_consumer_config(Duration::from_secs(60));
    let server = start(cfg).await;
    let mut stalled = Client::login(&server, "stalled").await;
    stalled.join("room").await;
    let mut reader = Client::login(&server, "reader").await;
    reader.join("room").await;
    let mut poster = Client::login(&server, "poster").await;
    poster.join("room").await;
    let _ = stalled.recv_type("presence").await; // reader joined
    let _ = stalled.recv_type("presence").await; // poster joined
    let _ = reader.recv_type("presence").await;

    // ~12 MB of messages: more than the socket buffers of the stalled client can absorb.
    let text = "z".repeat(30_000);
    let posts = 400;
    let reading = tokio::spawn(async move {
        let start = Instant::now();
        let mut got = 0;
        while got < posts {
            let v = reader.recv().await;
            if v["type"] == "message" {
                got += 1;
            }
        }
        start.elapsed()
    });
    for _ in 0..posts {
        poster
            .send(json!({"type": "post", "room": "room", "text": text}))
            .await;
        poster.recv_type("message").await; // the poster reads its own copy, so it keeps up
    }
    let took = tokio::time::timeout(Duration::from_secs(20), reading)
        .await
        .expect("the reading client is not held up by the stalled one")
        .unwrap();
    assert!(took < Duration::from_secs(15), "{took:?}");

    // Now read the stalled client: whatever the buffers held, then close 4008.
    let mut close = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while close.is_none() && Instant::now() < deadline {
        match tokio::time::timeout(
            Duration::from_secs(5),
            futures::StreamExt::next(&mut stalled.ws),
        )
        .await
        {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(f)))) => {
                close = Some(f.map(|f| (u16::from(f.code), f.reason.to_string())));
            }
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    assert_eq!(close.flatten(), Some((4008, "slow consumer".to_string())));
    assert!(server
        .app
        .metrics
        .render()
        .contains("throng_chat_slow_consumer_closes_total 1"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_client_that_never_reads_again_is_dropped_after_the_grace() {
    // The stalled client's socket buffers fill, so the server's write to it blocks. The
    // slow-consumer close must abandon that write, give the close frame the grace, and
    // then drop the connection: no task or socket is held for a client that is gone.
    let cfg = slow_consumer_config(Duration::from_millis(500));
    let server = start(cfg).await;
    let connections = |server: &throng_chat::Server| server.app.metrics.connections.get();
    let mut stalled = Client::login(&server, "stalled").await;
    stalled.join("room").await;
    let mut poster = Client::login(&server, "poster").await;
    poster.join("room").await;
    let _ = stalled.recv_type("presence").await;
    assert_eq!(connections(&server), 2);

    let text = "z".repeat(30_000);
    let mut posts = 0;
    while !server
        .app
        .metrics
        .render()
        .contains("throng_chat_slow_consumer_closes_total 1")
    {
        assert!(posts < 2_000, "the stalled client was never closed");
        poster
            .send(json!({"type": "post", "room": "room", "text": text}))
            .await;
        poster.recv_type("message").await;
        posts += 1;
    }
    // The stalled client still holds its socket open and never reads: the server drops it
    // within the grace (plus scheduling slack), not never.
    let deadline = Instant::now() + Duration::from_secs(10);
    while connections(&server) != 1 {
        assert!(
            Instant::now() < deadline,
            "the stalled connection is still held after {posts} posts"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(stalled);
    server.shutdown().await.unwrap();
}

async fn upgrade_with_origin(server: &throng_chat::Server, origin: Option<&str>) -> Option<u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}/ws", server.addr)
        .into_client_request()
        .unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok(_) => None,
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Some(resp.status().as_u16()),
        Err(e) => panic!("unexpected {e}"),
    }
}

#[tokio::test]
async fn a_browser_page_from_another_origin_gets_403() {
    let mut cfg = config();
    cfg.allowed_origins = vec!["https://chat.example.com".into()];
    let server = start(cfg).await;
    let own = format!("http://{}", server.addr);
    // Not a browser (no Origin), the server's own page, and an allowed origin: upgraded.
    assert_eq!(upgrade_with_origin(&server, None).await, None);
    assert_eq!(upgrade_with_origin(&server, Some(&own)).await, None);
    assert_eq!(
        upgrade_with_origin(&server, Some("https://chat.example.com")).await,
        None
    );
    // Any other page, a sandboxed one ("null"), or the right host on another port: 403.
    for origin in [
        "https://evil.example",
        "null",
        &format!("http://{}:1", server.addr.ip()),
    ] {
        assert_eq!(
            upgrade_with_origin(&server, Some(origin)).await,
            Some(403),
            "{origin}"
        );
    }
    assert!(server
        .app
        .metrics
        .render()
        .contains(r#"throng_chat_connections_refused_total{reason="origin"} 3"#));
    server.shutdown().await.unwrap();
}
