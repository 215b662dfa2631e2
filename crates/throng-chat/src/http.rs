//! Public HTTP routes: the web client, the WebSocket endpoint, health and readiness, and
//! the room directory when `--room-directory` is on.
//! Metrics and the JSON APIs are on the admin listener ([`crate::admin`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::app::App;
use crate::{conn, web, ws};

/// Every route.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .merge(web::routes())
        .route("/ws", get(ws))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/rooms", get(room_directory))
        .with_state(app)
}

/// Whether a browser page at the request's `Origin` may open a WebSocket here: no
/// `Origin` (not a browser), one of `--allowed-origin`, or the server's own origin: its
/// authority is the `Host` the browser sent **and** that host names this server (an IP
/// literal, `localhost`, a `--public-host`, or the host of an `--allowed-origin`; see
/// [`crate::addr::host_is_own`]). Refusing the rest stops any web page a user happens to
/// visit from driving connections from their browser (cross-site WebSocket hijacking),
/// and the host rule stops a page whose DNS name an attacker rebinds to this server's
/// address (DNS rebinding), whose `Origin` and `Host` would otherwise agree.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String], public_hosts: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let Some((_, authority)) = origin.split_once("://") else {
        return false; // "null" (sandboxed pages, file://) and anything malformed
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    if !host.eq_ignore_ascii_case(authority) {
        return false;
    }
    let allowed_hosts = allowed.iter().filter_map(|a| crate::addr::origin_host(a));
    let names: Vec<String> = public_hosts
        .iter()
        .cloned()
        .chain(allowed_hosts.map(str::to_owned))
        .collect();
    crate::addr::host_is_own(host, &names)
}

/// `GET /ws`: the WebSocket handshake (checked and answered here, see [`ws::handshake`]),
/// then the connection ([`conn::run`]) on the upgraded socket.
async fn ws(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
) -> Response {
    let accept = match ws::handshake::check(req.headers()) {
        Ok(accept) => accept,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return ws::handshake::Refusal::NotUpgradable.into_response();
    };
    let headers = req.headers();
    if !origin_allowed(headers, &app.cfg.allowed_origins, &app.cfg.net.public_hosts) {
        app.metrics.refused("origin");
        tracing::info!(peer = %peer.ip(), reason = "origin", "connection refused");
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    // The client's address: the peer, or what a trusted proxy says it forwarded.
    let client = app.cfg.net.client_addr(peer.ip(), headers);
    // New connections per address have a budget too: a client closed for abuse cannot
    // come straight back, and reconnect churn (each a join and a leave seen by a room)
    // stays bounded.
    // (Direct connections were charged at accept; see serve.rs.)
    let proxied = app.cfg.net.is_trusted_proxy(peer.ip());
    let charged = if proxied {
        app.budgets
            .charge_address(crate::budget::Kind::Connect, &app.cfg.net.key(client.ip))
    } else {
        Ok(())
    };
    if let Err(over) = charged {
        app.metrics.refused("connect_rate");
        let secs = over.retry_after.as_secs().max(1).to_string();
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, secs)],
            "connecting too often from your address",
        )
            .into_response();
    }
    let slot = match app.admit(client.ip) {
        Ok(slot) => slot,
        Err(why) => {
            app.metrics.refused(why.label());
            tracing::info!(peer = %client.ip, reason = why.label(), "connection refused");
            return (StatusCode::SERVICE_UNAVAILABLE, why.message()).into_response();
        }
    };
    // hyper hands over the socket once this 101 has been written.
    let tasks = app.tasks.clone();
    tasks.spawn(async move {
        match on_upgrade.await {
            Ok(socket) => conn::run(app, socket, slot, client.ip).await,
            Err(e) => tracing::debug!(peer = %client.ip, error = %e, "upgrade failed"),
        }
    });
    ws::handshake::switching(accept)
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    match app.not_ready() {
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, why).into_response(),
        None => "ready".into_response(),
    }
}

/// `GET /rooms`: `{"rooms":[{"room":"lobby","members":2}]}`, sorted by name, for rooms
/// with members; 404 unless `--room-directory`.
async fn room_directory(State(app): State<Arc<App>>) -> Response {
    if !app.cfg.room_directory {
        return StatusCode::NOT_FOUND.into_response();
    }
    match app.sequencer.rooms().await {
        Ok(mut rooms) => {
            rooms.sort_by(|a, b| a.room.cmp(&b.room));
            let rooms: Vec<serde_json::Value> = rooms
                .into_iter()
                .map(|r| serde_json::json!({"room": r.room, "members": r.members}))
                .collect();
            (
                [(header::CACHE_CONTROL, "no-store")],
                axum::Json(serde_json::json!({ "rooms": rooms })),
            )
                .into_response()
        }
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}
