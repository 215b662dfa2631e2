//! The real binary as a child process: start it, find its address, read its memory.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `throng-chat` process, killed (SIGKILL) when dropped.
pub struct Proc {
    pub child: Child,
    /// `host:port` it listens on.
    pub addr: String,
    /// `host:port` of its admin listener (metrics, APIs).
    pub admin: String,
}

impl Proc {
    /// Starts the binary with `args` (plus `--listen listen`) and waits for its address.
    pub fn start(listen: &str, args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_throng-chat"))
            .args(["--listen", listen, "--admin-listen", "127.0.0.1:0"])
            .args(args)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn,throng_chat=info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let out = child.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        let after = |line: &str, scheme: &str| {
            let i = line.find(scheme)? + scheme.len();
            let rest = &line[i..];
            Some(rest[..rest.find('/')?].to_string())
        };
        let mut admin = None;
        let addr = loop {
            let line = lines.next().expect("server output").unwrap();
            if line.contains("admin") {
                admin = after(&line, "http://");
            } else if let Some(a) = after(&line, "ws://") {
                break a;
            }
        };
        let admin = admin.expect("the admin address is logged before the public one");
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Proc { child, addr, admin }
    }

    /// As [`start`](Self::start) with a data directory.
    pub fn durable(listen: &str, dir: &Path, args: &[&str]) -> Proc {
        let mut all = vec!["--data-dir", dir.to_str().unwrap()];
        all.extend_from_slice(args);
        Proc::start(listen, &all)
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Resident memory in bytes (Linux: `VmRSS` of /proc/<pid>/status).
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc is readable");
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .expect("VmRSS");
        let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kb * 1024
    }

    /// The value of a Prometheus metric from `/metrics` (0 when absent).
    pub async fn metric(&self, name: &str) -> f64 {
        let body = http_get(&self.admin, "/metrics").await.1;
        metric_value(&body, name)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The value of `name` in a Prometheus text exposition (0 when absent).
pub fn metric_value(body: &str, name: &str) -> f64 {
    body.lines()
        .find(|l| l.split([' ', '{']).next() == Some(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// A plain HTTP/1.1 GET: (status, body).
pub async fn http_get(addr: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(super::WAIT, s.read_to_end(&mut buf))
        .await
        .expect("a reply in time")
        .unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text[9..12].parse().unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
    (status, body)
}
