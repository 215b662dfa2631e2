//! A load generator for throng-chat's protocol (and the baseline server that speaks the
//! same subset): N connections over R rooms, posts at a target rate, end-to-end latency
//! and post -> ack latency in HDR histograms.
//!
//! - [`client`]: one simulated user's start (connect, upgrade, hello, join).
//! - [`reactor`]: the threads that then own the sockets: read, post on schedule.
//! - [`receiver`]: one connection's frames: count, check `seq`, time, answer pings.
//! - [`wire`]: WebSocket framing and the chat fields, by hand.
//! - [`stats`]: per-connection counters, the sharded latency histograms, rare events.
//! - [`summary`]: the result, printed for people and as one JSON line.
//! - [`os`]: the open-file limit, a process's RSS and CPU time.
//!
//! Run: `cargo run --release -p throng-benches --bin chat_load -- --help`.
//!
//! How the load is shaped:
//! - Connection `i` is user `u{i:05}` in room `r{i % rooms:03}`, so rooms are even.
//! - Posts come from the first `posters` connections (round-robin over the rooms), each on
//!   its own schedule of `posters / rate` seconds, staggered so the aggregate is smooth.
//!   By default there are enough posters that none exceeds 10 posts/s, half the server's
//!   default per-user limit (20/s, burst 40): the servers run with their default limits
//!   and a `rate_limited` error means the generator or the server misbehaved.
//! - Each post's text starts `t=<ns>`: its *scheduled* send time, in nanoseconds since
//!   the run's shared `Instant`, in exactly 16 digits, so a receiver finds it right after
//!   the frame's `room` and `from` without decoding the JSON. Receivers (same process,
//!   same clock) take the difference at receipt; with `--sample N` only one member in N
//!   does (the others count and check `seq`, which is cheaper still). Using the scheduled time (open loop, `MissedTickBehavior::Burst`) avoids
//!   coordinated omission: if a writer is held back, the posts it owes still go out and
//!   their wait counts as latency.
//! - Each post's `id` is `t<ns>-<counter>`, the same stamp, so the poster times the
//!   server's `ack` (sent once the post has its `seq`) the same way: post -> ack latency,
//!   in its own histogram.
//! - Only posts scheduled inside the window (after `warmup`, before the end of
//!   `duration`) are counted and timed; after the window posting stops and the run waits
//!   for the last deliveries and acks, so `delivered == expected` and
//!   `ack_samples == sent` when nothing was lost.
//! - Every member checks each room `seq` it receives is one more than the last: a jump
//!   counts the messages skipped (`seq_gaps`), a repeat or a step back a duplicate
//!   (`seq_dups`). With `delivered == expected` that says nothing was lost, doubled or
//!   reordered.
//! - The generator measures its own CPU time (`getrusage`) over the window and divides it
//!   by the frames it received meanwhile (`generator_cpu_us_per_frame`): the figure that
//!   says whether one core of generator can keep up with one core of server.

pub mod client;
pub mod os;
pub mod reactor;
pub mod receiver;
pub mod stats;
pub mod summary;
pub mod wire;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::sync::watch;
use tokio::task::JoinSet;

use client::{Conn, Phase, Shared, Spec};
use reactor::{Member, Poster, Reactors};
use receiver::Receiver;
pub use summary::Summary;

/// Most posts per second one poster makes when `--posters` is left to the generator.
pub const AUTO_POSTER_RATE: f64 = 10.0;
/// throng-chat's default per-user post rate (`--post-rate`).
pub const SERVER_POST_RATE: f64 = 20.0;

/// Parses `10s`, `500ms`, `2m` or a plain number of seconds (zero allowed).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (try 10s, 500ms, 2m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit `{unit}` in `{s}` (use ms, s or m)")),
    };
    if !(0.0..1e9).contains(&secs) {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// chat_load: drives a throng-chat protocol server with many WebSocket clients.
#[derive(Debug, Clone, Parser)]
#[command(name = "chat_load", about, long_about = None)]
pub struct Args {
    /// The server's WebSocket URL; several, comma-separated (nodes of one cluster), and
    /// connections are spread over them round-robin.
    #[arg(long, env = "CHAT_LOAD_URL", default_value = "ws://127.0.0.1:8080/ws")]
    pub url: String,

    /// Connections to open.
    #[arg(long, default_value_t = 100)]
    pub conns: usize,

    /// Rooms; connections are spread evenly, each joins one.
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,

    /// Total posts per second offered (ignored with --idle).
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,

    /// Connections that post (0: enough that none posts more than 10/s).
    #[arg(long, default_value_t = 0)]
    pub posters: usize,

    /// Measurement window after the warmup (idle: how long to hold).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,

    /// Posting before the window opens (not counted).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,

    /// New connections per second while connecting.
    #[arg(long, default_value_t = 2_000.0)]
    pub ramp: f64,

    /// Connect, hello and join, then hold without posting and report.
    #[arg(long)]
    pub idle: bool,

    /// Print the summary as one JSON line on stdout (after the human-readable one).
    #[arg(long)]
    pub json: bool,

    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,

    /// Bytes of padding in each post's text after the stamp.
    #[arg(long, default_value_t = 48)]
    pub pad: usize,

    /// Local addresses to connect from, round-robin (e.g. 127.0.0.2,127.0.0.3), when
    /// one address would run out of ephemeral ports.
    #[arg(long, value_delimiter = ',')]
    pub source_ips: Vec<IpAddr>,

    /// The server's pid: report its RSS before connecting and with every connection held.
    #[arg(long)]
    pub server_pid: Option<u32>,

    /// Time deliveries on one member in N (those whose index is a multiple of N); the
    /// others only count them and check their `seq`. 1: every member.
    #[arg(long, default_value_t = 1)]
    pub sample: usize,

    /// Members that do not time deliveries (with --sample above 1) read their sockets
    /// every this many ms, several frames at a time, instead of at once (0: at once).
    #[arg(long, default_value_t = 5)]
    pub unsampled_read_ms: u64,

    /// Threads that own the sockets (0: one per CPU this process may run on, so one
    /// under `taskset -c 1`).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

impl Args {
    /// Defaults (as the command line has them) for `url`.
    pub fn for_url(url: impl Into<String>) -> Self {
        let mut a = Args::parse_from(["chat_load"]);
        a.url = url.into();
        a
    }

    /// How many connections post.
    pub fn poster_count(&self) -> usize {
        if self.idle {
            0
        } else if self.posters > 0 {
            self.posters.min(self.conns)
        } else {
            ((self.rate / AUTO_POSTER_RATE).ceil() as usize).clamp(1, self.conns)
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.conns == 0 || self.rooms == 0 || self.rooms > self.conns {
            return Err("need 1 <= --rooms <= --conns".into());
        }
        if self.conns > 99_999 || self.rooms > 999 {
            return Err("at most 99,999 connections and 999 rooms (names are u00000, r000)".into());
        }
        let rate_ok = self.rate > 0.0 && self.rate.is_finite();
        if !self.idle && !rate_ok {
            return Err("--rate must be positive".into());
        }
        if !(self.ramp > 0.0 && self.ramp.is_finite()) {
            return Err("--ramp must be positive".into());
        }
        if self.sample == 0 {
            return Err("--sample must be at least 1".into());
        }
        Ok(())
    }
}

/// Resolves the URL's host and port.
fn address(url: &str) -> Result<SocketAddr, String> {
    let uri: tokio_tungstenite::tungstenite::http::Uri =
        url.parse().map_err(|e| format!("bad --url {url}: {e}"))?;
    let host = uri.host().ok_or_else(|| format!("no host in {url}"))?;
    let port = uri.port_u16().unwrap_or(80);
    std::net::ToSocketAddrs::to_socket_addrs(&(host.trim_matches(['[', ']']), port))
        .map_err(|e| format!("resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))
}

/// Runs the load described by `args` and returns what it measured. Progress lines go to
/// stderr each second unless `args.quiet`.
///
/// # Errors
///
/// Bad arguments or an unresolvable URL; connection failures are counted, not errors.
pub async fn run(args: &Args) -> Result<Summary, String> {
    args.check()?;
    // Several nodes: connections are spread over them round-robin.
    let mut nodes: Vec<(SocketAddr, Arc<str>)> = Vec::new();
    for url in args.url.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        nodes.push((address(url)?, url.into()));
    }
    if nodes.is_empty() {
        return Err("--url is empty".into());
    }
    let posters = args.poster_count();
    let shared = Arc::new(Shared::new());
    let (phase_tx, phase_rx) = watch::channel(Phase::Connecting);
    let rss_before = args.server_pid.and_then(os::rss_kib);

    let conns: Arc<Vec<Arc<Conn>>> = Arc::new((0..args.conns).map(|_| Arc::default()).collect());
    let threads = match args.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let reactors = Arc::new(
        Reactors::start(
            threads,
            shared.clone(),
            phase_rx.clone(),
            (args.sample > 1 && args.unsampled_read_ms > 0)
                .then(|| Duration::from_millis(args.unsampled_read_ms)),
        )
        .map_err(|e| format!("reactor threads: {e}"))?,
    );
    let progress = (!args.quiet).then(|| tokio::spawn(progress(shared.clone(), conns.clone())));
    let mut tasks = JoinSet::new();
    let started = Instant::now();
    let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / args.ramp));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for (i, conn) in conns.iter().enumerate() {
        pace.tick().await;
        let post = (i < posters).then(|| {
            let period = Duration::from_secs_f64(posters as f64 / args.rate);
            (period, Duration::from_secs_f64(i as f64 / args.rate))
        });
        let spec = Spec {
            index: i,
            sample: i % args.sample == 0,
            name: format!("u{i:05}"),
            room: format!("r{:03}", i % args.rooms),
            post,
            pad: args.pad,
            source: (!args.source_ips.is_empty())
                .then(|| args.source_ips[i % args.source_ips.len()]),
        };
        let (addr, url) = &nodes[i % nodes.len()];
        tasks.spawn(connect(
            spec,
            *addr,
            url.clone(),
            shared.clone(),
            conn.clone(),
            reactors.clone(),
        ));
    }
    // Wait until every connection has joined or failed.
    loop {
        let held = held(&conns);
        let failed = shared.events.snapshot().connect_failures as usize;
        if held + failed >= args.conns || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_secs = started.elapsed().as_secs_f64();
    let held_start = held(&conns);
    if held_start == 0 {
        let _ = phase_tx.send(Phase::Done);
        join_reactors(reactors).await;
        let ev = shared.events.snapshot();
        return Err(format!(
            "no connection was established ({} failed{}); is the server at {} running?",
            ev.connect_failures,
            ev.first_connect_error
                .map(|w| format!(", first: {w}"))
                .unwrap_or_default(),
            args.url
        ));
    }

    let mut out = Summary {
        mode: if args.idle { "idle" } else { "post" },
        conns: args.conns,
        threads,
        sample: args.sample,
        rooms: args.rooms,
        held: held_start,
        connect_secs,
        rate: if args.idle { 0.0 } else { args.rate },
        posters,
        duration_secs: args.duration.as_secs_f64(),
        ..Summary::default()
    };
    if args.idle {
        // Let the server settle (tasks parked, buffers shrunk) before reading its RSS.
        tokio::time::sleep(Duration::from_secs(1).min(args.duration)).await;
        if let (Some(pid), Some(before)) = (args.server_pid, rss_before) {
            let held_rss = os::rss_kib(pid);
            out.server_rss_before_kib = Some(before);
            out.server_rss_held_kib = held_rss;
            out.server_kib_per_conn =
                held_rss.map(|h| (h as f64 - before as f64) / held_start.max(1) as f64);
        }
        tokio::time::sleep(args.duration.saturating_sub(Duration::from_secs(1))).await;
    } else {
        let start = Instant::now() + Duration::from_millis(50);
        let _ = phase_tx.send(Phase::Posting { start });
        let window_start = start + args.warmup;
        shared
            .window_start
            .store(shared_ns(&shared, window_start), Relaxed);
        tokio::time::sleep_until(window_start.into()).await;
        let cpu_start = (
            os::self_cpu_secs(),
            args.server_pid.and_then(|p| os::cpu_secs(Some(p))),
        );
        let frames_start = stats::totals(conns.iter().map(|c| &c.stats)).frames;
        tokio::time::sleep_until((window_start + args.duration).into()).await;
        let cpu_end = os::self_cpu_secs();
        let frames = stats::totals(conns.iter().map(|c| &c.stats)).frames - frames_start;
        let pct = |start: Option<f64>, end: Option<f64>| {
            Some((end? - start?) * 100.0 / args.duration.as_secs_f64().max(1e-9))
        };
        out.generator_cpu_pct = pct(cpu_start.0, cpu_end).unwrap_or(0.0);
        out.frames = frames;
        out.generator_cpu_us_per_frame = match (cpu_start.0, cpu_end) {
            (Some(a), Some(b)) if frames > 0 => Some((b - a) * 1e6 / frames as f64),
            _ => None,
        };
        out.server_cpu_pct = pct(
            cpu_start.1,
            args.server_pid.and_then(|p| os::cpu_secs(Some(p))),
        );
        shared.window_end.store(shared.now_ns(), Relaxed);
        let _ = phase_tx.send(Phase::Draining);
        drain(&conns, args).await;
        let t = stats::totals(conns.iter().map(|c| &c.stats));
        out.sent = t.sent_window;
        out.sent_per_sec = t.sent_window as f64 / out.duration_secs;
        out.delivered = t.delivered_window;
        out.delivered_per_sec = t.delivered_window as f64 / out.duration_secs;
        out.acks = t.acks;
        out.seq_gaps = t.seq_gaps;
        out.seq_dups = t.seq_dups;
        out.expected = expected(&conns, args.rooms);
        let h = shared.latency.merged();
        out.samples = h.len();
        out.p50_us = h.value_at_quantile(0.50);
        out.p99_us = h.value_at_quantile(0.99);
        out.p999_us = h.value_at_quantile(0.999);
        out.max_us = h.max();
        let a = shared.ack_latency.merged();
        out.ack_samples = a.len();
        out.ack_p50_us = a.value_at_quantile(0.50);
        out.ack_p99_us = a.value_at_quantile(0.99);
        out.ack_p999_us = a.value_at_quantile(0.999);
        out.ack_max_us = a.max();
    }
    out.held_at_end = held(&conns);
    let ev = shared.events.snapshot();
    out.rate_limited = ev.errors.get("rate_limited").copied().unwrap_or(0);
    out.errors = ev.errors;
    out.slow_closes = ev.slow_closes;
    out.other_closes = ev.other_closes;
    out.connect_failures = ev.connect_failures;
    out.first_connect_error = ev.first_connect_error;

    let _ = phase_tx.send(Phase::Done);
    tasks.abort_all();
    join_reactors(reactors).await;
    if let Some(p) = progress {
        p.abort();
    }
    Ok(out)
}

/// Opens connection `spec.index` and hands it to its reactor thread.
async fn connect(
    spec: Spec,
    addr: SocketAddr,
    url: Arc<str>,
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    reactors: Arc<Reactors>,
) {
    match client::open(&spec, addr, &url).await {
        Ok(opened) => {
            conn.held.store(true, Relaxed);
            let poster = spec
                .post
                .map(|(period, offset)| Poster::new(period, offset, spec.room.clone(), spec.pad));
            reactors.add(
                spec.index,
                Member {
                    stream: opened.stream,
                    conn,
                    receiver: Receiver::new(spec.index, spec.sample, opened.leftover),
                    poster,
                },
            );
        }
        Err(why) => shared.events.connect_failed(why),
    }
}

/// Waits (off the runtime) for the reactor threads to close their sockets and stop.
async fn join_reactors(reactors: Arc<Reactors>) {
    let _ = tokio::task::spawn_blocking(move || reactors.join()).await;
}

fn shared_ns(shared: &Shared, t: Instant) -> u64 {
    t.saturating_duration_since(shared.base).as_nanos() as u64
}

fn held(conns: &[Arc<Conn>]) -> usize {
    conns.iter().filter(|c| c.held.load(Relaxed)).count()
}

/// Deliveries due: each window post times the members of its room still held.
fn expected(conns: &[Arc<Conn>], rooms: usize) -> u64 {
    let mut members = vec![0u64; rooms];
    for (i, c) in conns.iter().enumerate() {
        if c.held.load(Relaxed) {
            members[i % rooms] += 1;
        }
    }
    conns
        .iter()
        .enumerate()
        .map(|(i, c)| c.stats.sent_window.load(Relaxed) * members[i % rooms])
        .sum()
}

/// Waits for the window's last deliveries and acks: until all are in, or nothing arrived
/// for a second, or 10 s.
async fn drain(conns: &[Arc<Conn>], args: &Args) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = (u64::MAX, Instant::now());
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t = stats::totals(conns.iter().map(|c| &c.stats));
        if t.delivered_window >= expected(conns, args.rooms) && t.acks_window >= t.sent_window {
            return;
        }
        let got = t.delivered_window + t.acks_window;
        if got != last.0 {
            last = (got, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(1) {
            return;
        }
    }
}

/// Prints one line a second: held, sent/s, delivered/s, window p99 so far, trouble.
async fn progress(shared: Arc<Shared>, conns: Arc<Vec<Arc<Conn>>>) {
    let mut iv = tokio::time::interval(Duration::from_secs(1));
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    iv.tick().await;
    let mut prev = stats::totals(conns.iter().map(|c| &c.stats));
    let mut prev_at = Instant::now();
    let t0 = Instant::now();
    loop {
        iv.tick().await;
        let now = stats::totals(conns.iter().map(|c| &c.stats));
        let dt = prev_at.elapsed().as_secs_f64();
        prev_at = Instant::now();
        let h = shared.latency.merged();
        let p99 = if h.is_empty() {
            "-".to_string()
        } else {
            format!("{:.1}ms", h.value_at_quantile(0.99) as f64 / 1000.0)
        };
        let ev = shared.events.snapshot();
        eprintln!(
            "[{:>4.0}s] held {:>5}  sent {:>6.0}/s  delivered {:>8.0}/s  p99 {p99}  errors {}  slow {}  closed {}  failed {}",
            t0.elapsed().as_secs_f64(),
            held(&conns),
            (now.sent - prev.sent) as f64 / dt,
            (now.delivered - prev.delivered) as f64 / dt,
            ev.errors.values().sum::<u64>(),
            ev.slow_closes,
            ev.other_closes.values().sum::<u64>(),
            ev.connect_failures,
        );
        prev = now;
    }
}
