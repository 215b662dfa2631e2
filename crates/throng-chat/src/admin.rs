//! The admin surface: metrics, the JSON APIs and operators' actions, on their own
//! listener (`--admin-listen`, loopback by default), never on the public one. With
//! `--admin-token-file` every request also needs `Authorization: Bearer <token>`; an admin
//! listener on a non-loopback address requires it.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /metrics` | Prometheus text |
//! | `GET /api/users` | requests per user in the current dump interval; with `--redis` also `cluster`: every node's last interval, summed |
//! | `GET /api/rooms` | rooms with members |
//! | `POST /api/rooms/{room}/messages` `{"text":"…"}` | a system message (`from` `[server]`) to a room with members; `{"seq":n}` |
//! | `POST /api/rooms/{room}/close` | every member leaves (gets `left`), joins get `forbidden` until reopened; `{"removed":n}`, the members taken out on this node |
//! | `POST /api/rooms/{room}/open` | joins allowed again |
//! | `POST /api/users/{name}/disconnect` | closes the user's connection (4003) |
//!
//! With `--redis` every action holds on every node: closing a room, reopening it and
//! disconnecting a user go to all nodes through the delivery stream
//! ([`Sequencer::control`](crate::room::Sequencer::control)), and a node that starts
//! later learns which rooms are closed. `/api/users` adds the cluster's counts.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::app::App;
use crate::handlers::bounded;
use crate::protocol::valid_name;
use crate::room::{ConnId, Control, DisconnectReason, PostRequest, SeqError, SYSTEM_SENDER};

/// Longest system message, in bytes.
pub const MAX_SYSTEM_TEXT: usize = 4096;

/// The admin routes, behind the bearer check when a token is set.
pub fn router(app: Arc<App>, token: Option<Arc<str>>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/api/users", get(users))
        .route("/api/rooms", get(rooms))
        .route("/api/rooms/{room}/messages", post(system_message))
        .route("/api/rooms/{room}/close", post(close_room))
        .route("/api/rooms/{room}/open", post(open_room))
        .route("/api/users/{name}/disconnect", post(disconnect))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let token = token.clone();
            async move {
                if let Some(t) = token {
                    if !bearer_matches(&req, &t) {
                        return (
                            StatusCode::UNAUTHORIZED,
                            [(header::WWW_AUTHENTICATE, "Bearer")],
                            "admin token required",
                        )
                            .into_response();
                    }
                }
                next.run(req).await
            }
        }))
        .with_state(app)
}

/// `Authorization: Bearer <token>`, compared in time independent of where it differs.
fn bearer_matches(req: &Request, token: &str) -> bool {
    let Some(given) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (given.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    app.metrics.outbound_queued.set(app.queued_frames() as i64);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

/// Requests per user in this node's current dump interval (reset at every dump), and
/// with `--redis` the cluster's: every node's last full interval, summed (`cluster`;
/// `null` while Redis cannot be read).
async fn users(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    let snap = app.counters.snapshot().sorted();
    let users: serde_json::Map<String, serde_json::Value> = snap
        .counts
        .into_iter()
        .map(|(user, n)| (user, json!(n)))
        .collect();
    let mut body = json!({
        "interval_secs": app.cfg.dump_interval.as_secs_f64(),
        "users": users,
        "overflow": snap.overflow,
    });
    if let Some(shared) = &app.cluster_users {
        body["cluster"] = match bounded(shared.read()).await {
            Ok(c) => json!({
                "nodes": c.nodes,
                "users": c.users,
                "overflow": c.overflow,
            }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the cluster's per-user counts");
                serde_json::Value::Null
            }
        };
    }
    Json(body)
}

async fn rooms(State(app): State<Arc<App>>) -> Response {
    match app.sequencer.rooms().await {
        Ok(rooms) => {
            let rooms: Vec<serde_json::Value> = rooms
                .into_iter()
                .map(|r| json!({"room": r.room, "members": r.members}))
                .collect();
            Json(json!({ "rooms": rooms })).into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SystemMessage {
    text: String,
}

async fn system_message(
    State(app): State<Arc<App>>,
    Path(room): Path<String>,
    body: Result<Json<SystemMessage>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(body)) = body else {
        return error(StatusCode::BAD_REQUEST, "expected {\"text\":\"...\"}");
    };
    if !valid_name(&room) {
        return error(StatusCode::BAD_REQUEST, "not a room name");
    }
    if body.text.is_empty() || body.text.len() > MAX_SYSTEM_TEXT {
        return error(StatusCode::BAD_REQUEST, "text must be 1 to 4096 bytes");
    }
    let req = PostRequest {
        room: Arc::from(room),
        conn: ConnId::SYSTEM,
        from: Arc::from(SYSTEM_SENDER),
        text: Arc::from(body.text),
        client_id: None,
    };
    match bounded(app.sequencer.post(req)).await {
        Ok(r) => Json(json!({ "seq": r.seq })).into_response(),
        Err(SeqError::NotInRoom) => {
            error(StatusCode::NOT_FOUND, "no room with members by that name")
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn close_room(State(app): State<Arc<App>>, Path(room): Path<String>) -> Response {
    if !valid_name(&room) {
        return error(StatusCode::BAD_REQUEST, "not a room name");
    }
    let room: Arc<str> = Arc::from(room);
    // Counted before: the hub hands each of them a leave when the control arrives.
    let removed = app.hub.local_members(&room).len();
    let c = Control::RoomClosed {
        room: room.clone(),
        closed: true,
    };
    if let Err(e) = bounded(app.sequencer.control(c)).await {
        return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    }
    tracing::info!(room = %room, removed, "room closed by an operator");
    Json(json!({ "removed": removed })).into_response()
}

async fn open_room(State(app): State<Arc<App>>, Path(room): Path<String>) -> Response {
    if !valid_name(&room) {
        return error(StatusCode::BAD_REQUEST, "not a room name");
    }
    let c = Control::RoomClosed {
        room: Arc::from(room.as_str()),
        closed: false,
    };
    if let Err(e) = bounded(app.sequencer.control(c)).await {
        return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    }
    Json(json!({ "open": room })).into_response()
}

/// Disconnects the user's connection on whichever node holds it (4003).
async fn disconnect(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    let conn = match app.names.holder(&name).await {
        Ok(Some(conn)) => conn,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such user connected"),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, format!("{e:?}")),
    };
    let c = Control::Disconnect {
        conn,
        reason: DisconnectReason::Kicked,
    };
    match bounded(app.sequencer.control(c)).await {
        Ok(()) => {
            tracing::info!(user = %name, node = conn.node, "disconnected by an operator");
            Json(json!({ "disconnected": name })).into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}
