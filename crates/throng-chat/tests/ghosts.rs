//! No ghosts and the right close codes: a connection that never says `hello`, stops
//! answering pings, sends no request, or leaves a fragment unfinished is closed within
//! its deadline; half-sent HTTP requests count against the caps and time out; a
//! transport error is closed with its own code (1007, 1002), 1009 only for size.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use support::raw::Raw;
use support::{config, start, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SHORT: Duration = Duration::from_millis(300);
const WAIT: Duration = Duration::from_secs(5);

fn quick() -> throng_chat::Config {
    let mut c = config();
    c.hello_timeout = SHORT;
    c.ping_interval = SHORT;
    c.pong_timeout = SHORT;
    c
}

/// The review's finding: a connection that never says `hello` stayed open indefinitely.
#[tokio::test]
async fn no_hello_in_time_is_closed() {
    let server = start(quick()).await;
    let mut c = Client::connect(&server).await;
    let (texts, close) = c.closed().await;
    assert_eq!(texts[0]["code"], "timeout");
    assert_eq!(close, Some((4000, "hello timeout".into())));
    assert_eq!(server.app.metrics.timeouts.get(), 1);
    server.shutdown().await.unwrap();
}

/// A client that vanished (reads nothing, so answers no ping) loses its name and rooms
/// within ping interval + pong timeout; one that answers pings stays.
#[tokio::test]
async fn a_client_that_answers_no_ping_is_closed_and_its_name_freed() {
    let server = start(quick()).await;
    let mut alive = Client::login(&server, "alive").await;
    alive.join("lobby").await;
    let mut gone = Client::login(&server, "gone").await;
    gone.join("lobby").await;
    // `gone` reads nothing from now on; `alive` keeps reading (and so answers pings).
    let presence = alive.recv_type("presence").await;
    assert_eq!(
        presence,
        json!({"type": "presence", "room": "lobby", "user": "gone", "event": "join"})
    );
    let left = tokio::time::timeout(WAIT, alive.recv_type("presence"))
        .await
        .expect("gone was reaped");
    assert_eq!(left["user"], "gone");
    assert_eq!(left["event"], "leave");
    // The name is free again.
    Client::login(&server, "gone").await;
    let (_, close) = gone.closed().await;
    // Its close frame may be lost behind the pings it never answered (the server then
    // dropped the socket): either way it is gone, and counted.
    assert!(matches!(&close, None | Some((4000, _))), "{close:?}");
    assert!(server.app.metrics.timeouts.get() >= 1);
    server.shutdown().await.unwrap();
}

/// A client that answers pings but sends no request is closed after `--idle-timeout`.
#[tokio::test]
async fn a_client_without_requests_is_closed_after_the_idle_timeout() {
    let mut cfg = quick();
    cfg.ping_interval = Duration::from_millis(100);
    cfg.idle_timeout = Duration::from_millis(800);
    let server = start(cfg).await;
    let mut c = Client::login(&server, "quiet").await;
    let started = std::time::Instant::now();
    let (_, close) = c.closed().await; // reading: pings are answered
    assert_eq!(close, Some((4000, "idle timeout".into())));
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "not before the idle timeout"
    );
    server.shutdown().await.unwrap();
}

/// The review's finding: a connection with an unfinished fragmented message stayed open
/// indefinitely.
#[tokio::test]
async fn an_unfinished_fragment_does_not_keep_a_connection() {
    let server = start(quick()).await;
    let mut raw = Raw::connect(server.addr).await;
    raw.frame(false, 0x1, true, br#"{"type":"hel"#).await; // never continued
    assert!(raw.eof_within(WAIT).await, "closed");
    server.shutdown().await.unwrap();
}

/// The review's finding: invalid UTF-8, an unmasked frame, a bad opcode and a 126-byte
/// ping were all answered `too_large` / 1009.
#[tokio::test]
async fn transport_errors_get_their_own_close_codes() {
    let server = start(config()).await;
    let cases: [(&str, u8, bool, Vec<u8>, u16); 5] = [
        ("invalid UTF-8", 0x1, true, vec![0xff, 0xfe, 0xfd], 1007),
        (
            "unmasked frame",
            0x1,
            false,
            br#"{"type":"ping"}"#.to_vec(),
            1002,
        ),
        ("bad opcode", 0x3, true, b"x".to_vec(), 1002),
        ("126-byte ping", 0x9, true, vec![0u8; 126], 1002),
        (
            "over the hard size cap",
            0x1,
            true,
            vec![b' '; 64 * 1024 * 2 + 1],
            1009,
        ),
    ];
    for (what, opcode, masked, payload, code) in cases {
        let mut raw = Raw::connect(server.addr).await;
        raw.frame(true, opcode, masked, &payload).await;
        assert_eq!(raw.close_code(WAIT).await, Some(code), "{what}");
    }
    assert_eq!(server.app.metrics.protocol_errors.get(), 4);
    server.shutdown().await.unwrap();
}

/// Connects from `local` (a loopback address other than 127.0.0.1 counts as another
/// client address).
async fn connect_from(local: &str, to: SocketAddr) -> tokio::net::TcpStream {
    let s = tokio::net::TcpSocket::new_v4().unwrap();
    s.bind(format!("{local}:0").parse().unwrap()).unwrap();
    s.connect(to).await.unwrap()
}

/// The review's finding: 1 100 half-sent HTTP requests exhausted file descriptors and
/// `/healthz` timed out for everyone. Now connections count against the per-address cap
/// before their request is read (over it they are closed at once), and a request whose
/// headers do not arrive within `--header-timeout` is dropped.
#[tokio::test]
async fn half_sent_requests_count_against_the_caps_and_time_out() {
    let mut cfg = config();
    cfg.max_connections_per_ip = 20;
    cfg.header_timeout = Duration::from_millis(500);
    let server = start(cfg).await;
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut s = connect_from("127.0.0.3", server.addr).await;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap(); // never ends
        slow.push(s);
    }
    // The 21st from that address gets a 503 before it sends anything.
    let mut extra = connect_from("127.0.0.3", server.addr).await;
    let mut reply = String::new();
    tokio::time::timeout(WAIT, extra.read_to_string(&mut reply))
        .await
        .expect("closed at once")
        .unwrap();
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    let mut buf = [0u8; 64];
    // Another address is served meanwhile.
    let mut other = connect_from("127.0.0.4", server.addr).await;
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = String::new();
    tokio::time::timeout(WAIT, other.read_to_string(&mut reply))
        .await
        .unwrap()
        .unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    // The half-sent ones are dropped after the header timeout.
    for s in &mut slow {
        let n = tokio::time::timeout(WAIT, s.read(&mut buf))
            .await
            .expect("timed out by the server");
        // hyper may answer 408 before closing; either way the connection ends.
        if let Ok(n) = n {
            if n > 0 {
                assert!(
                    buf.starts_with(b"HTTP/1.1 408"),
                    "{:?}",
                    String::from_utf8_lossy(&buf[..n])
                );
            }
        }
    }
    // Their places are free again.
    let mut again = connect_from("127.0.0.3", server.addr).await;
    again
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = String::new();
    tokio::time::timeout(WAIT, again.read_to_string(&mut reply))
        .await
        .unwrap()
        .unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    server.shutdown().await.unwrap();
}
