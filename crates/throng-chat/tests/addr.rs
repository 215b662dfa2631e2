//! Client addresses on a real server, with raw HTTP upgrade requests: the per-address cap
//! counts IPv6 clients by their /64; `Forwarded` / `X-Forwarded-For` are believed only
//! from a `--trusted-proxy`; and a page whose `Host` is a DNS name the server does not
//! know (DNS rebinding) gets 403.

mod support;

use std::net::SocketAddr;

use support::{config, start};
use throng_chat::addr::parse_cidr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends a WebSocket upgrade request to `addr` with `Host: host` and `headers`, and
/// returns the response's status and the open stream (which holds the connection's slot
/// while it lives).
async fn upgrade(addr: SocketAddr, host: &str, headers: &[(&str, &str)]) -> (u16, TcpStream) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "GET /ws HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") {
        let n = tokio::time::timeout(support::WAIT, s.read(&mut byte))
            .await
            .expect("a response in time")
            .unwrap();
        assert_eq!(n, 1, "connection closed before the status line");
        head.push(byte[0]);
    }
    let line = String::from_utf8(head).unwrap();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    (status, s)
}

async fn via(addr: SocketAddr, header: &str, value: &str) -> (u16, TcpStream) {
    upgrade(addr, &addr.to_string(), &[(header, value)]).await
}

#[tokio::test]
async fn a_trusted_proxy_is_believed_and_ipv6_clients_count_by_their_slash_64() {
    let mut cfg = config();
    cfg.max_connections_per_ip = 2;
    cfg.net.trusted_proxies = vec![parse_cidr("127.0.0.1").unwrap()];
    let server = start(cfg).await;
    let a = server.addr;
    // Two addresses of one /64: one key, so the third from that /64 is refused...
    let (s1, _c1) = via(a, "x-forwarded-for", "2001:db8:0:1::1").await;
    let (s2, _c2) = via(a, "x-forwarded-for", "2001:db8:0:1::ffff").await;
    let (s3, _c3) = via(a, "forwarded", r#"for="[2001:db8:0:1:abcd::9]:4711""#).await;
    assert_eq!((s1, s2, s3), (101, 101, 503));
    // ...while the next /64 and IPv4 addresses are counted on their own.
    let (s4, _c4) = via(a, "x-forwarded-for", "2001:db8:0:2::1").await;
    let (s5, _c5) = via(a, "forwarded", "for=198.51.100.1").await;
    let (s6, _c6) = via(a, "forwarded", "for=198.51.100.1").await;
    let (s7, _c7) = via(a, "x-forwarded-for", "198.51.100.1").await;
    let (s8, _c8) = via(a, "x-forwarded-for", "198.51.100.2").await;
    assert_eq!((s4, s5, s6, s7, s8), (101, 101, 101, 503, 101));
    // A forged left-most entry (198.51.100.2 has room) does not help: the right-most
    // address that is not a trusted proxy counts (198.51.100.1, full).
    let (s9, _c9) = via(a, "x-forwarded-for", "198.51.100.2, 198.51.100.1").await;
    assert_eq!(s9, 503);
    // Without any header the proxy itself is the client.
    let (s10, _c10) = upgrade(a, &a.to_string(), &[]).await;
    assert_eq!(s10, 101);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let mut cfg = config();
    cfg.max_connections_per_ip = 1;
    cfg.net.trusted_proxies = vec![parse_cidr("10.0.0.0/8").unwrap()];
    let server = start(cfg).await;
    let a = server.addr;
    let (s1, _c1) = via(a, "x-forwarded-for", "198.51.100.1").await;
    // Another claimed address, from the same untrusted peer (127.0.0.1): one client.
    let (s2, _c2) = via(a, "x-forwarded-for", "198.51.100.2").await;
    let (s3, _c3) = via(a, "forwarded", "for=198.51.100.3").await;
    assert_eq!((s1, s2, s3), (101, 503, 503));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn ipv6_loopback_clients_are_served_and_capped() {
    let mut cfg = config();
    cfg.listen = "[::1]:0".parse().unwrap();
    cfg.max_connections_per_ip = 1;
    let server = start(cfg).await;
    let a = server.addr;
    let (s1, _c1) = upgrade(a, &a.to_string(), &[]).await;
    let (s2, _c2) = upgrade(a, &a.to_string(), &[]).await;
    assert_eq!((s1, s2), (101, 503));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rebound_host_name_is_not_the_servers_own_origin() {
    let mut cfg = config();
    cfg.net.public_hosts = vec!["chat.example.com".into()];
    cfg.allowed_origins = vec!["https://app.example.net".into()];
    let server = start(cfg).await;
    let a = server.addr;
    let port = a.port();
    let page = |host: String| async move {
        let origin = format!("http://{host}");
        upgrade(a, &host, &[("origin", origin.as_str())]).await.0
    };
    // An attacker's name resolved to this server: Origin and Host agree, yet 403.
    assert_eq!(page(format!("evil.example:{port}")).await, 403);
    assert_eq!(page(format!("127.0.0.1.nip.io:{port}")).await, 403);
    // IP literals, localhost and configured names are the server's own.
    assert_eq!(page(format!("127.0.0.1:{port}")).await, 101);
    assert_eq!(page(format!("localhost:{port}")).await, 101);
    assert_eq!(page(format!("chat.example.com:{port}")).await, 101);
    assert_eq!(page(format!("app.example.net:{port}")).await, 101);
    // Origin and Host must still agree.
    let (s, _) = upgrade(
        a,
        &format!("chat.example.com:{port}"),
        &[("origin", "http://evil.example")],
    )
    .await;
    assert_eq!(s, 403);
    server.shutdown().await.unwrap();
}
