//! The run's result: the numbers, a human-readable block, and one JSON line for scripts.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// What one run measured. Counts marked "window" cover posts scheduled after the warmup
/// and before the end of `duration`, drained to the last delivery.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// `idle` or `post`.
    pub mode: &'static str,
    pub conns: usize,
    pub rooms: usize,
    /// Threads owning the sockets, and 1 in how many members timed deliveries.
    pub threads: usize,
    pub sample: usize,
    /// Connections joined when posting started (idle: when all had connected).
    pub held: usize,
    /// Connections still joined at the end.
    pub held_at_end: usize,
    pub connect_failures: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_connect_error: Option<String>,
    /// Seconds the connections took to open (hello and join included).
    pub connect_secs: f64,
    /// Offered post rate (posts/s) and how many connections share it.
    pub rate: f64,
    pub posters: usize,
    /// The measurement window, in seconds.
    pub duration_secs: f64,
    /// Posts sent in the window, and per second.
    pub sent: u64,
    pub sent_per_sec: f64,
    /// Deliveries due for the window's posts (each post × its room's members).
    pub expected: u64,
    /// `message` frames received for the window's posts, and per second.
    pub delivered: u64,
    pub delivered_per_sec: f64,
    /// Acks received over the whole run.
    pub acks: u64,
    /// Messages a member missed inside its stream (a `seq` jumped), and messages
    /// received twice or out of order (a `seq` not above the last), over the whole run.
    pub seq_gaps: u64,
    pub seq_dups: u64,
    /// End-to-end latency (scheduled send to receipt), microseconds.
    pub samples: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    /// Post -> ack latency (scheduled send to the poster's receipt of the `ack`, which the
    /// server sends once the post has its `seq`), microseconds, for the window's posts.
    pub ack_samples: u64,
    pub ack_p50_us: u64,
    pub ack_p99_us: u64,
    pub ack_p999_us: u64,
    pub ack_max_us: u64,
    /// `error` frames by code, over the whole run.
    pub errors: BTreeMap<String, u64>,
    pub rate_limited: u64,
    /// Closes with 4008 "slow consumer".
    pub slow_closes: u64,
    /// Other closes before the end, by code (0: dropped without a close frame).
    pub other_closes: BTreeMap<u16, u64>,
    /// CPU used during the window, in % of one core: the generator's own, and the
    /// server's with `--server-pid`. Near 100 on a pinned core means that side is the
    /// bottleneck.
    pub generator_cpu_pct: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_pct: Option<f64>,
    /// WebSocket frames the generator received during the window (wall clock), and its
    /// CPU time per frame in microseconds (`getrusage`, whole process).
    pub frames: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generator_cpu_us_per_frame: Option<f64>,
    /// The open-file limit the generator got.
    pub nofile: u64,
    /// Server memory (`--server-pid`): RSS before connecting and with every connection
    /// held, in KiB, and the growth per held connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_rss_before_kib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_rss_held_kib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_kib_per_conn: Option<f64>,
}

impl Summary {
    /// Errors of every code.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Unrequested closes of every code but 4008.
    pub fn other_close_count(&self) -> u64 {
        self.other_closes.values().sum()
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a summary always serializes")
    }
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1_000.0)
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "connections  {} held of {} ({} at the end) over {} room(s), {} failed, opened in {:.1} s",
            self.held, self.conns, self.held_at_end, self.rooms, self.connect_failures, self.connect_secs
        )?;
        if let Some(why) = &self.first_connect_error {
            writeln!(f, "  first connect failure: {why}")?;
        }
        if self.mode == "post" {
            writeln!(
                f,
                "posts        {} sent in {:.1} s = {:.0}/s (offered {:.0}/s by {} posters), {} acks",
                self.sent, self.duration_secs, self.sent_per_sec, self.rate, self.posters, self.acks
            )?;
            writeln!(
                f,
                "delivered    {} of {} due = {:.0} messages/s; seq gaps {}, duplicates {}",
                self.delivered, self.expected, self.delivered_per_sec, self.seq_gaps, self.seq_dups
            )?;
            writeln!(
                f,
                "latency      p50 {}  p99 {}  p999 {}  max {}  ({} samples, 1 member in {})",
                ms(self.p50_us),
                ms(self.p99_us),
                ms(self.p999_us),
                ms(self.max_us),
                self.samples,
                self.sample
            )?;
            writeln!(
                f,
                "ack latency  p50 {}  p99 {}  p999 {}  max {}  ({} samples)",
                ms(self.ack_p50_us),
                ms(self.ack_p99_us),
                ms(self.ack_p999_us),
                ms(self.ack_max_us),
                self.ack_samples
            )?;
            write!(f, "cpu          generator {:.0}%", self.generator_cpu_pct)?;
            if let Some(s) = self.server_cpu_pct {
                write!(f, ", server {s:.0}%")?;
            }
            write!(f, " of one core during the window")?;
            match self.generator_cpu_us_per_frame {
                Some(us) => writeln!(
                    f,
                    "; generator {us:.2} µs per frame received ({} frames, {} threads)",
                    self.frames, self.threads
                )?,
                None => writeln!(f)?,
            }
        }
        writeln!(
            f,
            "errors       {} {:?} (rate_limited {})",
            self.error_count(),
            self.errors,
            self.rate_limited
        )?;
        writeln!(
            f,
            "closes       {} slow consumer (4008), {} other {:?}",
            self.slow_closes,
            self.other_close_count(),
            self.other_closes
        )?;
        if let (Some(before), Some(held)) = (self.server_rss_before_kib, self.server_rss_held_kib) {
            writeln!(
                f,
                "server RSS   {before} KiB before, {held} KiB with {} held = {:.1} KiB/conn",
                self.held,
                self.server_kib_per_conn.unwrap_or(0.0)
            )?;
        }
        write!(f, "open files   limit {}", self.nofile)
    }
}
