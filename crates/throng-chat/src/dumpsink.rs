//! Where the per-user request counts go: the log, or a JSON-lines file; each write is
//! counted in the metrics.

use std::future::Future;
use std::io;
use std::sync::Arc;

use throng::dump::{Dump, JsonLinesFileSink, Sink, TracingSink};

use crate::metrics::Metrics;

/// The dumper's sink.
#[derive(Debug)]
pub struct ChatSink {
    file: Option<JsonLinesFileSink>,
    metrics: Arc<Metrics>,
}

impl ChatSink {
    /// To `file` when given, else to the log (`tracing`, target `throng::dump`).
    pub fn new(file: Option<JsonLinesFileSink>, metrics: Arc<Metrics>) -> Self {
        Self { file, metrics }
    }
}

impl Sink<String> for ChatSink {
    fn write(&mut self, dump: &Dump<String>) -> impl Future<Output = io::Result<()>> + Send {
        self.metrics.dump_runs.inc();
        let file = self.file.as_mut();
        async move {
            match file {
                Some(f) => f.write(dump).await,
                None => TracingSink.write(dump).await,
            }
        }
    }
}
