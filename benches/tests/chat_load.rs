//! Smoke tests for the chat load generator: a second of load against throng-chat and
//! against the baseline, both in-process, checking that every member got every post and
//! every post was acked, both timed.

use std::time::Duration;

use throng_benches::load::{self, Args, Summary};

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
    assert_eq!(s.error_count(), 0, "{s}");
    assert_eq!((s.slow_closes, s.other_close_count()), (0, 0), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throng_chat_delivers_every_post_to_every_member() {
    let mut cfg = throng_chat::Config::with_listen("127.0.0.1:0".parse().unwrap());
    cfg.dump_interval = Duration::from_secs(3600);
    cfg.shutdown_grace = Duration::from_secs(1);
    // Every generator connection comes from 127.0.0.1 but stands for a user of its own.
    cfg.address_budget_factor = 1000;
    let server = throng_chat::Server::start(cfg)
        .await
        .expect("server starts");
    let s = load::run(&short(format!("ws://{}/ws", server.addr)))
        .await
        .expect("load runs");
    check(&s);
    server.shutdown().await.expect("clean shutdown");
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
