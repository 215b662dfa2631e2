//! The accept loop: every TCP connection from accept to close, before any HTTP is read.
//!
//! What axum's `serve` does not do, and a public server needs:
//!
//! - **Caps before HTTP.** A connection counts against `--max-connections` and
//!   `--max-connections-per-ip` from the moment it is accepted, not only once it is a
//!   WebSocket: over either cap it gets a 503 at once, its request unread, and is closed
//!   and counted as refused. So half-sent requests (slowloris) cannot use up file
//!   descriptors for everyone.
//! - **Header-read timeout.** A request whose headers have not arrived within
//!   `--header-timeout` (10 s) is dropped (hyper's `header_read_timeout`).
//! - **TCP keepalive** on every socket (idle 60 s, then 3 probes 10 s apart), so the
//!   kernel notices a peer that vanished without a FIN; `TCP_NODELAY` too.
//! - **Accept errors back off** (10 ms doubling to 1 s) instead of spinning: running out
//!   of file descriptors (`EMFILE`) is an error on `accept`, and retrying at once would
//!   burn a core while nothing can succeed.
//! - **Graceful stop.** When `stop` fires, listening ends and every HTTP connection
//!   finishes its request in flight (within `--shutdown-grace`); upgraded WebSockets are
//!   not HTTP connections any more and are drained by the server's own shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::App;
use crate::budget::Kind;

/// First pause after an accept error; doubles up to [`ACCEPT_BACKOFF_MAX`].
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` until `stop` is cancelled, then waits for HTTP requests
/// in flight.
pub async fn serve(listener: TcpListener, router: Router, app: Arc<App>, stop: CancellationToken) {
    let conns = TaskTracker::new();
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let accepted = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            a = listener.accept() => a,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => {
                backoff = ACCEPT_BACKOFF_MIN;
                a
            }
            Err(e) => {
                app.metrics.accept_errors.inc();
                tracing::warn!(error = %e, pause_ms = backoff.as_millis() as u64, "accept failed; backing off");
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        let pending = match app.accept_tcp(peer.ip()) {
            Ok(p) => p,
            Err(why) => {
                // Over a cap: a 503 without reading the request, if the socket takes it
                // at once, then close.
                app.metrics.refused(why.label());
                tracing::debug!(peer = %peer.ip(), reason = why.label(), "connection refused before its request");
                let body = why.message();
                let reply = format!(
                    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.try_write(reply.as_bytes());
                continue;
            }
        };
        // New connections per address: checked before any HTTP is read, so a client
        // reconnecting in a loop costs an accept and a close, not a request. A trusted
        // proxy's connections are charged at the upgrade, on the forwarded address.
        if !app.cfg.net.is_trusted_proxy(peer.ip()) {
            let key = app.cfg.net.key(peer.ip());
            if app.budgets.charge_address(Kind::Connect, &key).is_err() {
                app.metrics.refused("connect_rate");
                let _ = tcp.try_write(
                    b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            }
        }
        tune(&tcp);
        let svc = router.clone().layer(Extension(ConnectInfo(peer)));
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(app.cfg.header_timeout)
            .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(svc))
            .with_upgrades();
        let stop = stop.clone();
        conns.spawn(async move {
            let _pending = pending; // the HTTP part of the connection counts until here
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                () = stop.cancelled() => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    drop(listener);
    conns.close();
    // Requests in flight finish; one stuck on a client that does not read is given up
    // after the grace.
    let _ = tokio::time::timeout(app.cfg.shutdown_grace, conns.wait()).await;
}

/// `TCP_NODELAY` (a small frame is not held back waiting for the previous one's ack: up
/// to 40 ms with delayed acks) and keepalive.
fn tune(tcp: &TcpStream) {
    let _ = tcp.set_nodelay(true);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(60))
        .with_interval(Duration::from_secs(10))
        .with_retries(3);
    let _ = socket2::SockRef::from(tcp).set_tcp_keepalive(&keepalive);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_sockets_get_keepalive_and_nodelay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (server_side, _) = listener.accept().await.unwrap();
        tune(&server_side);
        let sock = socket2::SockRef::from(&server_side);
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(60));
        assert!(server_side.nodelay().unwrap());
    }
}
