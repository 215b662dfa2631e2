//! Smoke tests for the chat load generator: a second of load against throng-chat and
//! against the baseline, both in-process, checking that every member got every post and
//! every post was acked, both timed; the binary itself once, with `--json`; and a fake
//! server that loses one message and sends another twice, which the `seq` checks catch
//! although the count of deliveries comes out right.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use throng_benches::load::{self, Args, Summary};
use tokio_tungstenite::tungstenite::Message;

/// Six connections over two rooms (three members each), four posters at 10 posts/s.
fn short(url: String) -> Args {
    let mut a = Args::for_url(url);
    a.conns = 6;
    a.rooms = 2;
    a.rate = 40.0;
    a.warmup = Duration::from_millis(200);
    a.duration = Duration::from_secs(1);
    a.quiet = true;
    a
}

fn check(s: &Summary) {
    assert_eq!(
        (s.held, s.held_at_end, s.connect_failures),
        (6, 6, 0),
        "{s}"
    );
    assert_eq!(s.posters, 4);
    assert!((30..=50).contains(&s.sent), "about 40 posts in 1 s: {s}");
    assert_eq!(
        s.expected,
        s.sent * 3,
        "each post is due to its room's 3 members"
    );
    assert_eq!(s.delivered, s.expected, "every member got every post: {s}");
    assert_eq!(s.samples, s.delivered, "every delivery was timed");
    assert!(
        s.p50_us > 0 && s.p50_us <= s.p99_us && s.p99_us <= s.max_us,
        "{s}"
    );
    assert!(s.acks >= s.sent, "each post is acked: {s}");
    assert_eq!(
        s.ack_samples, s.sent,
        "every window post's ack was timed: {s}"
    );
    assert!(
        s.ack_p50_us > 0 && s.ack_p50_us <= s.ack_p99_us && s.ack_p99_us <= s.ack_max_us,
        "{s}"
    );
    assert_eq!((s.seq_gaps, s.seq_dups), (0, 0), "{s}");
    assert!(s.frames >= s.delivered, "{s}");
    assert!(s.generator_cpu_us_per_frame.is_some(), "{s}");
    assert_eq!(s.error_count(), 0, "{s}");
    assert_eq!((s.slow_closes, s.other_close_count()), (0, 0), "{s}");
}

async fn throng_chat() -> throng_chat::Server {
    let mut cfg = throng_chat::Config::with_listen("127.0.0.1:0".parse().unwrap());
    cfg.dump_interval = Duration::from_secs(3600);
    cfg.shutdown_grace = Duration::from_secs(1);
    // Every generator connection comes from 127.0.0.1 but stands for a user of its own.
    cfg.address_budget_factor = 1000;
    throng_chat::Server::start(cfg)
        .await
        .expect("server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throng_chat_delivers_every_post_to_every_member() {
    let server = throng_chat().await;
    let s = load::run(&short(format!("ws://{}/ws", server.addr)))
        .await
        .expect("load runs");
    check(&s);
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampled_latency_times_only_one_member_in_n_but_checks_all() {
    let server = throng_chat().await;
    let mut a = short(format!("ws://{}/ws", server.addr));
    a.sample = 3; // members 0 and 3: one in each room
    a.threads = 2;
    let s = load::run(&a).await.expect("load runs");
    assert_eq!(s.delivered, s.expected, "{s}");
    assert_eq!(s.samples * 3, s.delivered, "one member of three timed: {s}");
    assert_eq!((s.seq_gaps, s.seq_dups, s.error_count()), (0, 0, 0), "{s}");
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reports_json_with_its_cpu_per_frame() {
    let server = throng_chat().await;
    let url = format!("ws://{}/ws", server.addr);
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_chat_load"))
        .args([
            "--url", &url, "--conns", "20", "--rate", "20", "--quiet", "--json",
        ])
        .args(["--warmup", "200ms", "--duration", "1s", "--sample", "4"])
        .output()
        .await
        .expect("chat_load runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap()).expect("a JSON line last");
    assert_eq!(json["held"], 20, "{json}");
    assert_eq!(json["delivered"], json["expected"], "{json}");
    assert_eq!(
        (json["seq_gaps"].as_u64(), json["seq_dups"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(
        json["generator_cpu_us_per_frame"].as_f64().unwrap() > 0.0,
        "{json}"
    );
    assert_eq!(json["sample"], 4);
    server.shutdown().await.expect("clean shutdown");
}

/// A fake server for one client: welcomes, joins, and answers each post with its
/// `message` and `ack`, except that post 3's message is never sent and post 5's is sent
/// twice (seq = the post's number).
async fn lossy_server(listener: tokio::net::TcpListener) {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
    let mut posts = 0u64;
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(t) = msg else { continue };
        let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
        let mut out = Vec::new();
        match v["type"].as_str().unwrap() {
            "hello" => out.push(serde_json::json!({"type":"welcome","name":v["name"]})),
            "join" => out.push(
                serde_json::json!({"type":"joined","room":v["room"],"members":["u00000"],"history":[]}),
            ),
            "post" => {
                posts += 1;
                // Field order as the servers write it: type, room, from, text, seq, ts.
                let m = format!(
                    r#"{{"type":"message","room":{},"from":"u00000","text":{},"seq":{posts},"ts":1}}"#,
                    v["room"], v["text"]
                );
                let copies = match posts {
                    3 => 0,
                    5 => 2,
                    _ => 1,
                };
                for _ in 0..copies {
                    ws.send(Message::text(m.clone())).await.unwrap();
                }
                out.push(serde_json::json!({"type":"ack","id":v["id"],"seq":posts}));
            }
            _ => {}
        }
        for o in out {
            if ws.send(Message::text(o.to_string())).await.is_err() {
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_message_and_a_duplicate_are_caught_by_seq() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let server = tokio::spawn(lossy_server(listener));
    let mut a = Args::for_url(url);
    a.conns = 1;
    a.rate = 10.0;
    a.warmup = Duration::from_millis(100);
    a.duration = Duration::from_millis(800);
    a.quiet = true;
    let s = load::run(&a).await.expect("load runs");
    assert!(s.sent >= 5, "{s}");
    assert_eq!((s.seq_gaps, s.seq_dups), (1, 1), "{s}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_delivers_every_post_to_every_member() {
    let (addr, state, task) = throng_benches::baseline::start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("baseline starts");
    let s = load::run(&short(format!("ws://{addr}/ws")))
        .await
        .expect("load runs");
    check(&s);
    assert_eq!(state.lagged.load(std::sync::atomic::Ordering::Relaxed), 0);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_mode_holds_connections_without_posting() {
    let (addr, _state, task) = throng_benches::baseline::start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("baseline starts");
    let mut a = short(format!("ws://{addr}/ws"));
    a.idle = true;
    a.duration = Duration::from_millis(300);
    a.server_pid = Some(std::process::id());
    let s = load::run(&a).await.expect("load runs");
    assert_eq!(
        (s.mode, s.held, s.posters, s.sent),
        ("idle", 6, 0, 0),
        "{s}"
    );
    assert!(s.server_rss_held_kib.is_some() && s.server_kib_per_conn.is_some());
    task.abort();
}

#[tokio::test]
async fn bad_arguments_are_refused() {
    let mut a = Args::for_url("ws://127.0.0.1:1/ws");
    a.rooms = 0;
    assert!(load::run(&a).await.is_err());
    let mut a = Args::for_url("not a url");
    a.conns = 1;
    assert!(load::run(&a).await.is_err());
}

#[tokio::test]
async fn no_server_is_an_error_at_once_not_a_wait_for_the_duration() {
    // Bind and drop a listener: nothing listens on that port now.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut args = short(format!("ws://{addr}/ws"));
    args.duration = Duration::from_secs(3600);
    let err = tokio::time::timeout(Duration::from_secs(30), load::run(&args))
        .await
        .expect("it gives up instead of waiting out the duration")
        .expect_err("no server, no summary");
    assert!(
        err.contains("no connection was established (6 failed"),
        "{err}"
    );
}
