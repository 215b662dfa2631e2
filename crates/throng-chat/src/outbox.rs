//! A connection's bounded outbound queue of pre-serialized frames, and the slow-consumer
//! rule: when it overflows, the connection is closed with 4008 "slow consumer", never
//! silently lagged, and nobody else waits for it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// WebSocket close code for a client that does not read fast enough.
pub const CLOSE_SLOW: u16 = 4008;

/// Why the server closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReason {
    pub code: u16,
    pub reason: &'static str,
}

/// The sending side of a connection's queue; cheap to clone into rooms.
#[derive(Debug, Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tx: mpsc::Sender<Utf8Bytes>,
    kill: CancellationToken,
    reason: Mutex<Option<CloseReason>>,
    slow: AtomicBool,
    metrics: Arc<Metrics>,
}

impl Outbox {
    /// A queue of `capacity` frames; the receiver goes to the connection's writer.
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> (Self, mpsc::Receiver<Utf8Bytes>) {
        let (tx, rx) = mpsc::channel(capacity);
        (
            Self {
                inner: Arc::new(Inner {
                    tx,
                    kill: CancellationToken::new(),
                    reason: Mutex::new(None),
                    slow: AtomicBool::new(false),
                    metrics,
                }),
            },
            rx,
        )
    }

    /// Queues `frame` without waiting. If the queue is full the connection is marked slow
    /// and closed with [`CLOSE_SLOW`]; the frame is not queued. Returns whether it was.
    pub fn push(&self, frame: Utf8Bytes) -> bool {
        let len = frame.len() as u64;
        match self.inner.tx.try_send(frame) {
            Ok(()) => {
                self.inner.metrics.frames_out.inc();
                self.inner.metrics.bytes_out.inc_by(len);
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !self.inner.slow.swap(true, Ordering::AcqRel) {
                    self.inner.metrics.slow_closes.inc();
                    self.close(CloseReason {
                        code: CLOSE_SLOW,
                        reason: "slow consumer",
                    });
                }
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Queues a text frame.
    pub fn push_text(&self, text: String) -> bool {
        self.push(Utf8Bytes::from(text))
    }

    /// Asks the connection to close with `reason` (the first reason wins).
    pub fn close(&self, reason: CloseReason) {
        let mut r = self.inner.reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_none() {
            *r = Some(reason);
        }
        drop(r);
        self.inner.kill.cancel();
    }

    /// Resolves when [`close`](Self::close) was called.
    pub fn closed(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.inner.kill.cancelled()
    }

    /// `true` once a close was requested.
    pub fn is_closing(&self) -> bool {
        self.inner.kill.is_cancelled()
    }

    /// The close reason, if a close was requested.
    pub fn close_reason(&self) -> Option<CloseReason> {
        *self.inner.reason.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Frames waiting now.
    pub fn len(&self) -> usize {
        self.inner.tx.max_capacity() - self.inner.tx.capacity()
    }

    /// `true` if no frame is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
