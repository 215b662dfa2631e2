//! Where the per-user request counts go: the log, or a JSON-lines file; each write is
//! counted in the metrics. With `--redis` each dump is also shared with the other nodes
//! ([`RedisUsers`]), so `/api/users` on any node shows the cluster's counts; a failure to
//! share is logged and counted (`dump_share_failures_total`), and the dump itself still
//! goes to the log or file.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use throng::dump::{Dump, JsonLinesFileSink, Sink, TracingSink};

use crate::metrics::Metrics;
use crate::room::RedisUsers;

/// The dumper's sink.
#[derive(Debug)]
pub struct ChatSink {
    file: Option<JsonLinesFileSink>,
    metrics: Arc<Metrics>,
    summary: bool,
    share: Option<(RedisUsers, Duration)>,
}

impl ChatSink {
    /// To `file` when given, else to the log (`tracing`, target `throng::dump`): a line
    /// per user, or with `summary` one line per interval (users, requests, the busiest
    /// five).
    pub fn new(file: Option<JsonLinesFileSink>, metrics: Arc<Metrics>, summary: bool) -> Self {
        Self {
            file,
            metrics,
            summary,
            share: None,
        }
    }

    /// Also shares each dump through `users`, kept for `ttl` (see the module docs).
    pub fn share(mut self, users: Option<RedisUsers>, ttl: Duration) -> Self {
        self.share = users.map(|u| (u, ttl));
        self
    }
}

/// The one-line form of a dump: `users`, `requests` and the busiest five.
pub fn summary_line(dump: &Dump<String>) -> String {
    let mut top: Vec<&(String, u64)> = dump.counts.iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let busiest: Vec<String> = top
        .iter()
        .take(5)
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    format!(
        "users={} requests={} overflow={} busiest=[{}]",
        dump.counts.len(),
        dump.total(),
        dump.overflow,
        busiest.join(" ")
    )
}

impl Sink<String> for ChatSink {
    fn write(&mut self, dump: &Dump<String>) -> impl Future<Output = io::Result<()>> + Send {
        self.metrics.dump_runs.inc();
        let file = self.file.as_mut();
        let summary = (self.summary && file.is_none()).then(|| summary_line(dump));
        let share = self.share.clone();
        let metrics = self.metrics.clone();
        async move {
            if let Some((users, ttl)) = share {
                if let Err(e) = users.publish(&dump.counts, dump.overflow, ttl).await {
                    metrics.dump_share_failures.inc();
                    tracing::warn!(error = %e, "could not share the per-user counts");
                }
            }
            match (file, summary) {
                (Some(f), _) => f.write(dump).await,
                (None, Some(line)) => {
                    tracing::info!(target: "throng::dump", dump = dump.seq, final_dump = dump.is_final, "{line}");
                    Ok(())
                }
                (None, None) => TracingSink.write(dump).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_the_busiest_five() {
        let dump = Dump {
            seq: 1,
            ts_ms: 0,
            is_final: false,
            counts: (1..=7).map(|i| (format!("u{i}"), i)).collect(),
            overflow: 2,
            evicted: 0,
            keys: 7,
        };
        assert_eq!(
            summary_line(&dump),
            "users=7 requests=30 overflow=2 busiest=[u7=7 u6=6 u5=5 u4=4 u3=3]"
        );
    }
}
