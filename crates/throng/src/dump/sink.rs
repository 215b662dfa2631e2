//! Where dumps go: the [`Sink`] trait and the three sinks shipped with throng.

use std::fmt::{Display, Write as _};
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use super::Dump;

/// Receives each dump, sorted by key.
///
/// A sink is owned by one dumper task, so it takes `&mut self` and needs no locking. An
/// error is reported in the dumper's [`DumpReport`](super::DumpReport) and the dumper keeps
/// going: the counts of a dump whose write failed are *not* put back (they were taken), so
/// a sink that can fail transiently should retry inside `write`.
pub trait Sink<K>: Send + 'static {
    /// Writes one dump.
    ///
    /// # Cancel safety
    ///
    /// The dumper drops this future midway only at the final-flush deadline
    /// ([`Dumper::final_flush_deadline`](super::Dumper::final_flush_deadline)) or when its
    /// own future is dropped; the dump then counts as failed and its total as lost, so an
    /// implementation need not be cancel safe, but one that writes partially should leave
    /// its output readable (whole lines).
    fn write(&mut self, dump: &Dump<K>) -> impl Future<Output = io::Result<()>> + Send;
}

/// Formats a dump as plain text, one line per key: `dump=<n> ts_ms=<ms> key=<key> count=<n>`,
/// then an `overflow=<n>` line when keys past the cap were counted together, and an
/// `evicted=<n>` line when idle keys were removed.
pub fn format_text<K: Display>(dump: &Dump<K>) -> String {
    let mut out = String::new();
    for (key, count) in &dump.counts {
        let _ = writeln!(
            out,
            "dump={} ts_ms={} key={} count={}",
            dump.seq, dump.ts_ms, key, count
        );
    }
    if dump.overflow > 0 {
        let _ = writeln!(
            out,
            "dump={} ts_ms={} overflow={}",
            dump.seq, dump.ts_ms, dump.overflow
        );
    }
    if dump.evicted > 0 {
        let _ = writeln!(
            out,
            "dump={} ts_ms={} evicted={}",
            dump.seq, dump.ts_ms, dump.evicted
        );
    }
    out
}

/// Writes [`format_text`] lines to any [`std::io::Write`] (stdout, a buffer in tests).
///
/// The writer is called from the dumper task; use it for stdout or in-memory buffers,
/// where a write cannot block for long. For files use [`JsonLinesFileSink`].
#[derive(Debug)]
pub struct TextSink<W> {
    out: W,
}

impl<W: io::Write + Send + 'static> TextSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> Self {
        Self { out }
    }

    /// Returns the writer, e.g. to inspect a `Vec<u8>` in a test.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// The writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }
}

impl<K: Display + Sync, W: io::Write + Send + 'static> Sink<K> for TextSink<W> {
    fn write(&mut self, dump: &Dump<K>) -> impl Future<Output = io::Result<()>> + Send {
        let text = format_text(dump);
        let res = self
            .out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.flush());
        std::future::ready(res)
    }
}

/// Formats a dump as JSON lines, one object per key:
/// `{"dump":3,"ts_ms":1700000000000,"key":"alice","count":12}`, then
/// `{"dump":3,"ts_ms":…,"overflow":5}` and `{"dump":3,"ts_ms":…,"evicted":2}` when non-zero.
/// Keys are written as JSON strings of their `Display` form.
pub fn format_json_lines<K: Display>(dump: &Dump<K>) -> String {
    use serde_json::json;
    let mut out = String::new();
    for (key, count) in &dump.counts {
        let line =
            json!({"dump": dump.seq, "ts_ms": dump.ts_ms, "key": key.to_string(), "count": count});
        let _ = writeln!(out, "{line}");
    }
    if dump.overflow > 0 {
        let line = json!({"dump": dump.seq, "ts_ms": dump.ts_ms, "overflow": dump.overflow});
        let _ = writeln!(out, "{line}");
    }
    if dump.evicted > 0 {
        let line = json!({"dump": dump.seq, "ts_ms": dump.ts_ms, "evicted": dump.evicted});
        let _ = writeln!(out, "{line}");
    }
    out
}

/// Appends [`format_json_lines`] to a file, creating it (and its parent folders) on the
/// first write. Each dump is written with one `write_all` and flushed, so a reader never
/// sees half a dump unless the process dies mid-write.
#[derive(Debug)]
pub struct JsonLinesFileSink {
    path: PathBuf,
    file: Option<tokio::fs::File>,
}

impl JsonLinesFileSink {
    /// A sink appending to `path`. Nothing is opened until the first dump.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            file: None,
        }
    }

    /// The file this sink appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl<K: Display + Sync> Sink<K> for JsonLinesFileSink {
    async fn write(&mut self, dump: &Dump<K>) -> io::Result<()> {
        let text = format_json_lines(dump);
        if text.is_empty() {
            return Ok(());
        }
        if self.file.is_none() {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(dir).await?;
            }
            let file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .await?;
            self.file = Some(file);
        }
        let file = self.file.as_mut().expect("opened above");
        let res = async {
            file.write_all(text.as_bytes()).await?;
            file.flush().await
        }
        .await;
        if res.is_err() {
            // Reopen on the next dump rather than writing to a broken handle forever.
            self.file = None;
        }
        res
    }
}

/// Emits one `tracing` event per key at INFO level, target `throng::dump`, with fields
/// `dump`, `key` and `count`; plus a WARN event when the overflow bucket is non-zero.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingSink;

impl<K: Display + Sync> Sink<K> for TracingSink {
    fn write(&mut self, dump: &Dump<K>) -> impl Future<Output = io::Result<()>> + Send {
        for (key, count) in &dump.counts {
            tracing::info!(target: "throng::dump", dump = dump.seq, key = %key, count = *count, "counter");
        }
        if dump.overflow > 0 {
            tracing::warn!(
                target: "throng::dump",
                dump = dump.seq,
                overflow = dump.overflow,
                "counts of keys past the cardinality cap"
            );
        }
        if dump.evicted > 0 {
            tracing::debug!(target: "throng::dump", dump = dump.seq, evicted = dump.evicted, "idle keys evicted");
        }
        std::future::ready(Ok(()))
    }
}
