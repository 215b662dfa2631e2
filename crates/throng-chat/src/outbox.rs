//! A connection's bounded outbound queue of pre-encoded frames ([`Frame`]: WebSocket
//! header and payload, the same bytes for every receiver), and the slow-consumer rule:
//! when it overflows, the connection is closed with 4008 "slow consumer", never silently
//! lagged, and nobody else waits for it.
//!
//! The queue is bounded twice: in frames (`--outbound-queue`) and in bytes
//! (`--outbound-bytes`, counting frames as they go on the wire, headers included). The
//! byte count covers every frame from the moment it is queued until the writer has handed
//! it to the socket, including the batch the writer holds, so a client that stops reading
//! can pin at most `--outbound-bytes` of the server's memory (plus one pong, below, and
//! the kernel's socket buffer). A frame shared by a room's members counts in full for
//! each of them, though its bytes exist once.
//!
//! Pongs do not queue: the answer to the client's latest ping waits in a slot of its own
//! (a newer ping's pong replaces it, as RFC 6455 §5.5.3 allows), so a client that floods
//! pings and never reads holds one pong, not a queue of them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::protocol::{CloseReason, CLOSE_NORMAL, CLOSE_SLOW};
use crate::ws::Frame;

/// The sending side of a connection's queue; cheap to clone into rooms.
#[derive(Debug, Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

/// A queued frame and when it was queued (for the outbound-wait histogram).
#[derive(Debug)]
pub struct Outgoing {
    pub frame: Frame,
    pub queued: Instant,
}

/// What the server asks a connection to do besides sending frames (an operator's
/// action); the connection's reader carries it out between requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Leave this room (it is being closed): the client gets `left` as for its own leave.
    LeaveRoom(Arc<str>),
}

/// Commands waiting per connection, at most (operators' actions are rare).
const COMMANDS: usize = 64;

#[derive(Debug)]
struct Inner {
    tx: mpsc::Sender<Outgoing>,
    commands: mpsc::Sender<Command>,
    command_rx: Mutex<Option<mpsc::Receiver<Command>>>,
    bytes: AtomicUsize,
    max_bytes: usize,
    kill: CancellationToken,
    reason: Mutex<Option<CloseReason>>,
    slow: AtomicBool,
    /// The pong to send, if a ping is unanswered.
    pong: Mutex<Option<Frame>>,
    pong_ready: Notify,
    /// The client's close, if it closed first: its code, to echo.
    peer_close: Mutex<Option<Option<u16>>>,
    metrics: Arc<Metrics>,
}

impl Outbox {
    /// A queue of `frames` frames and `max_bytes` bytes; the receiver goes to the
    /// connection's writer, which calls [`written`](Self::written) as frames leave.
    pub fn new(
        frames: usize,
        max_bytes: usize,
        metrics: Arc<Metrics>,
    ) -> (Self, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(frames.max(1));
        let (commands, command_rx) = mpsc::channel(COMMANDS);
        (
            Self {
                inner: Arc::new(Inner {
                    tx,
                    commands,
                    command_rx: Mutex::new(Some(command_rx)),
                    bytes: AtomicUsize::new(0),
                    max_bytes,
                    kill: CancellationToken::new(),
                    reason: Mutex::new(None),
                    slow: AtomicBool::new(false),
                    pong: Mutex::new(None),
                    pong_ready: Notify::new(),
                    peer_close: Mutex::new(None),
                    metrics,
                }),
            },
            rx,
        )
    }

    /// Queues `frame` without waiting. If the queue is full (in frames or bytes) the
    /// connection is marked slow and closed with 4008; the frame is not queued. Returns
    /// whether it was.
    pub fn push(&self, frame: Frame) -> bool {
        self.push_at(frame, Instant::now())
    }

    /// As [`push`](Self::push), stamped `queued` (one clock read for a frame pushed to
    /// many outboxes).
    pub fn push_at(&self, frame: Frame, queued: Instant) -> bool {
        let len = frame.len();
        let before = self.inner.bytes.fetch_add(len, Ordering::AcqRel);
        if before + len > self.inner.max_bytes {
            self.inner.bytes.fetch_sub(len, Ordering::AcqRel);
            self.overflow();
            return false;
        }
        match self.inner.tx.try_send(Outgoing { frame, queued }) {
            Ok(()) => {
                self.inner.metrics.frames_out.inc();
                self.inner.metrics.bytes_out.inc_by(len as u64);
                true
            }
            Err(e) => {
                self.inner.bytes.fetch_sub(len, Ordering::AcqRel);
                if matches!(e, mpsc::error::TrySendError::Full(_)) {
                    self.overflow();
                }
                false
            }
        }
    }

    fn overflow(&self) {
        if !self.inner.slow.swap(true, Ordering::AcqRel) {
            self.inner.metrics.slow_closes.inc();
            self.close(CLOSE_SLOW);
        }
    }

    /// Answers a ping: `frame` (the pong) replaces any pong not yet sent, and the writer
    /// sends it next.
    pub fn pong(&self, frame: Frame) {
        *lock(&self.inner.pong) = Some(frame);
        self.inner.pong_ready.notify_one();
    }

    /// Resolves when a pong is waiting (see [`take_pong`](Self::take_pong)).
    ///
    /// # Cancel safety
    /// Cancel safe: a pong set meanwhile is still reported by the next call.
    pub async fn pong_wanted(&self) {
        self.inner.pong_ready.notified().await;
    }

    /// The pong waiting, if any.
    pub fn take_pong(&self) -> Option<Frame> {
        lock(&self.inner.pong).take()
    }

    /// The client sent a close frame (with `code`, if it gave one): the connection closes
    /// (1000 for the logs and metrics) and the writer echoes the client's code instead of
    /// sending its own, skipping anything still queued (RFC 6455 §5.5.1).
    pub fn peer_closed(&self, code: Option<u16>) {
        lock(&self.inner.peer_close).get_or_insert(code);
        self.close(CLOSE_NORMAL);
    }

    /// `Some(code)` if the client closed first (see [`peer_closed`](Self::peer_closed)).
    pub fn peer_close(&self) -> Option<Option<u16>> {
        *lock(&self.inner.peer_close)
    }

    /// Asks the connection to carry out `c`; `false` if it is gone or has too many
    /// waiting.
    pub fn command(&self, c: Command) -> bool {
        self.inner.commands.try_send(c).is_ok()
    }

    /// The receiving side of [`command`](Self::command), for the connection's reader
    /// (once).
    pub fn take_commands(&self) -> Option<mpsc::Receiver<Command>> {
        self.inner
            .command_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// The writer handed `bytes` of queued frames to the socket.
    pub fn written(&self, bytes: usize) {
        self.inner.bytes.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Bytes queued or held by the writer now.
    pub fn bytes(&self) -> usize {
        self.inner.bytes.load(Ordering::Acquire)
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_byte_bound_the_connection_is_closed_slow() {
        let (out, mut rx) = Outbox::new(100, 1000, Arc::new(Metrics::default()));
        assert!(out.push(Frame::text(&"x".repeat(600))));
        assert!(!out.push(Frame::text(&"y".repeat(600))));
        assert_eq!(out.close_reason(), Some(CLOSE_SLOW));
        assert_eq!(out.bytes(), 604, "600 bytes and a 4-byte header");
        let f = rx.try_recv().unwrap();
        out.written(f.frame.len());
        assert_eq!(out.bytes(), 0);
    }

    #[tokio::test]
    async fn a_newer_pong_replaces_the_one_waiting() {
        let (out, _rx) = Outbox::new(10, 1000, Arc::new(Metrics::default()));
        out.pong(Frame::pong(b"1"));
        out.pong(Frame::pong(b"2"));
        out.pong_wanted().await;
        assert_eq!(out.take_pong(), Some(Frame::pong(b"2")));
        assert_eq!(out.take_pong(), None);
        assert_eq!(out.bytes(), 0, "pongs are not queued");
    }

    #[test]
    fn the_first_peer_close_is_kept() {
        let (out, _rx) = Outbox::new(10, 1000, Arc::new(Metrics::default()));
        assert_eq!(out.peer_close(), None);
        out.peer_closed(Some(4000));
        out.peer_closed(None);
        assert_eq!(out.peer_close(), Some(Some(4000)));
        assert_eq!(out.close_reason(), Some(CLOSE_NORMAL));
    }
}
