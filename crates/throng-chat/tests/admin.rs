//! The admin surface: the review found `/api/users`, `/api/rooms` and `/metrics` open to
//! anyone on the public port. Now they are on `--admin-listen` only, behind a bearer
//! token when one is set, with the operators' actions: a system message, disconnecting a
//! user, closing and reopening a room.

mod support;

use serde_json::{json, Value};
use support::{config, request, start, Client};

#[tokio::test]
async fn internals_are_only_on_the_admin_listener() {
    let server = start(config()).await;
    for path in ["/metrics", "/api/users", "/api/rooms"] {
        assert_eq!(
            request(server.addr, "GET", path, None, "").await.0,
            404,
            "public {path}"
        );
        assert_eq!(
            request(server.admin_addr, "GET", path, None, "").await.0,
            200,
            "admin {path}"
        );
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_admin_token_is_required_when_set() {
    let dir = std::env::temp_dir().join(format!("throng-admin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, "s3cret-s3cret-s3cret\n").unwrap();
    let mut cfg = config();
    cfg.admin_token_file = Some(file.clone());
    let server = start(cfg).await;
    let a = server.admin_addr;
    assert_eq!(request(a, "GET", "/metrics", None, "").await.0, 401);
    assert_eq!(
        request(a, "GET", "/metrics", Some("wrong-wrong-wrong-wrong"), "")
            .await
            .0,
        401
    );
    assert_eq!(
        request(a, "GET", "/metrics", Some("s3cret-s3cret-s3cret"), "")
            .await
            .0,
        200
    );
    server.shutdown().await.unwrap();

    // A short token, and a public admin listener without one, stop the start.
    std::fs::write(&file, "short").unwrap();
    let mut cfg = config();
    cfg.admin_token_file = Some(file);
    assert!(throng_chat::Server::start(cfg)
        .await
        .unwrap_err()
        .to_string()
        .contains("at least 16 bytes"));
    let mut cfg = config();
    cfg.admin_listen = "0.0.0.0:0".parse().unwrap();
    assert!(throng_chat::Server::start(cfg)
        .await
        .unwrap_err()
        .to_string()
        .contains("--admin-token-file"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn operators_post_system_messages_disconnect_users_and_close_rooms() {
    let server = start(config()).await;
    let a = server.admin_addr;
    let mut alice = Client::login(&server, "alice").await;
    alice.join("lobby").await;
    let mut bob = Client::login(&server, "bob").await;
    bob.join("lobby").await;

    // A system message: in the room's order, from "[server]", which no user can be.
    let (status, body) = request(
        a,
        "POST",
        "/api/rooms/lobby/messages",
        None,
        r#"{"text":"maintenance at 5"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let seq = serde_json::from_str::<Value>(&body).unwrap()["seq"].clone();
    let m = alice.recv_type("message").await;
    assert_eq!(
        (m["from"].clone(), m["text"].clone(), m["seq"].clone()),
        (json!("[server]"), json!("maintenance at 5"), seq)
    );
    assert_eq!(
        request(
            a,
            "POST",
            "/api/rooms/nobody-here/messages",
            None,
            r#"{"text":"x"}"#
        )
        .await
        .0,
        404
    );
    assert_eq!(
        request(
            a,
            "POST",
            "/api/rooms/lobby/messages",
            None,
            r#"{"txt":"x"}"#
        )
        .await
        .0,
        400
    );

    // Disconnect a user: closed with 4003, the others see it leave.
    let (status, _) = request(a, "POST", "/api/users/BOB/disconnect", None, "").await;
    assert_eq!(status, 200);
    let (_, close) = bob.closed().await;
    assert_eq!(close, Some((4003, "disconnected by an operator".into())));
    let p = alice.recv_type("presence").await;
    assert_eq!(
        (p["user"].clone(), p["event"].clone()),
        (json!("bob"), json!("leave"))
    );
    assert_eq!(
        request(a, "POST", "/api/users/nobody/disconnect", None, "")
            .await
            .0,
        404
    );

    // Close the room: alice gets `left`; joins are forbidden until it is reopened.
    let (status, body) = request(a, "POST", "/api/rooms/lobby/close", None, "").await;
    assert_eq!((status, body.as_str()), (200, r#"{"removed":1}"#));
    assert_eq!(alice.recv_type("left").await["room"], "lobby");
    alice.send(json!({"type": "join", "room": "lobby"})).await;
    let e = alice.recv_type("error").await;
    assert_eq!(e["code"], "forbidden");
    assert_eq!(
        request(a, "POST", "/api/rooms/lobby/open", None, "")
            .await
            .0,
        200
    );
    let joined = alice.join("lobby").await;
    assert_eq!(joined["members"], json!(["alice"]));
    server.shutdown().await.unwrap();
}
