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
//!
//! # Memory
//!
//! An idle connection's outbox allocates nothing beyond its one `Arc`: the queue and the
//! operator commands are `VecDeque`s behind one mutex (uncontended: the pushers and the
//! one writer hold it for a push or a swap), which allocate when something is queued, and
//! the writer takes a whole queue of up to [`WRITE_BATCH`] frames by swapping it for an
//! empty one, so a queue's buffer leaves with its batch. (A tokio `mpsc` channel allocates
//! a block of 32 slots up front; two per connection were ~3 KiB of every idle
//! connection.) The writer is woken only when the queue goes from empty to not empty or a
//! pong is wanted: a push to a queue the writer has not drained yet wakes nobody.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::protocol::{CloseReason, CLOSE_NORMAL, CLOSE_SLOW};
use crate::ws::Frame;

/// Most frames the writer takes from the queue for one write.
pub const WRITE_BATCH: usize = 64;

/// The sending side of a connection's queue; cheap to clone into rooms.
#[derive(Debug, Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

/// The writer's side of the queue (one per outbox); dropping it refuses further frames.
#[derive(Debug)]
pub struct Receiver {
    inner: Arc<Inner>,
}

/// The reader's side of [`Outbox::command`] (one per outbox).
#[derive(Debug)]
pub struct Commands {
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

#[derive(Debug, Default)]
struct State {
    frames: VecDeque<Outgoing>,
    /// The writer is gone: nothing more is queued.
    writer_gone: bool,
    /// The pong to send, if a ping is unanswered.
    pong: Option<Frame>,
    commands: VecDeque<Command>,
    commands_taken: bool,
    reason: Option<CloseReason>,
    /// The client's close, if it closed first: its code, to echo.
    peer_close: Option<Option<u16>>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    max_frames: usize,
    /// Wakes the writer: frames after an empty queue, or a pong.
    writer: Notify,
    /// Wakes the reader: a command.
    command_ready: Notify,
    bytes: AtomicUsize,
    max_bytes: usize,
    kill: CancellationToken,
    slow: AtomicBool,
    metrics: Arc<Metrics>,
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Outbox {
    /// A queue of `frames` frames and `max_bytes` bytes; the receiver goes to the
    /// connection's writer, which calls [`written`](Self::written) as frames leave.
    pub fn new(frames: usize, max_bytes: usize, metrics: Arc<Metrics>) -> (Self, Receiver) {
        let inner = Arc::new(Inner {
            state: Mutex::default(),
            max_frames: frames.max(1),
            writer: Notify::new(),
            command_ready: Notify::new(),
            bytes: AtomicUsize::new(0),
            max_bytes,
            kill: CancellationToken::new(),
            slow: AtomicBool::new(false),
            metrics,
        });
        (
            Self {
                inner: inner.clone(),
            },
            Receiver { inner },
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
        let mut st = self.inner.lock();
        if st.writer_gone || st.frames.len() >= self.inner.max_frames {
            let full = !st.writer_gone;
            drop(st);
            self.inner.bytes.fetch_sub(len, Ordering::AcqRel);
            if full {
                self.overflow();
            }
            return false;
        }
        let wake = st.frames.is_empty();
        st.frames.push_back(Outgoing { frame, queued });
        drop(st);
        if wake {
            self.inner.writer.notify_one();
        }
        self.inner.metrics.frames_out.inc();
        self.inner.metrics.bytes_out.inc_by(len as u64);
        true
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
        self.inner.lock().pong = Some(frame);
        self.inner.writer.notify_one();
    }

    /// The pong waiting, if any.
    pub fn take_pong(&self) -> Option<Frame> {
        self.inner.lock().pong.take()
    }

    /// The client sent a close frame (with `code`, if it gave one): the connection closes
    /// (1000 for the logs and metrics) and the writer echoes the client's code instead of
    /// sending its own, skipping anything still queued (RFC 6455 §5.5.1).
    pub fn peer_closed(&self, code: Option<u16>) {
        self.inner.lock().peer_close.get_or_insert(code);
        self.close(CLOSE_NORMAL);
    }

    /// `Some(code)` if the client closed first (see [`peer_closed`](Self::peer_closed)).
    pub fn peer_close(&self) -> Option<Option<u16>> {
        self.inner.lock().peer_close
    }

    /// Asks the connection to carry out `c`; `false` if it is gone or has too many
    /// waiting.
    pub fn command(&self, c: Command) -> bool {
        let mut st = self.inner.lock();
        if st.writer_gone || st.commands.len() >= COMMANDS {
            return false;
        }
        st.commands.push_back(c);
        drop(st);
        self.inner.command_ready.notify_one();
        true
    }

    /// The receiving side of [`command`](Self::command), for the connection's reader
    /// (once).
    pub fn take_commands(&self) -> Option<Commands> {
        let mut st = self.inner.lock();
        if std::mem::replace(&mut st.commands_taken, true) {
            return None;
        }
        Some(Commands {
            inner: self.inner.clone(),
        })
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
        self.inner.lock().reason.get_or_insert(reason);
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
        self.inner.lock().reason
    }

    /// Frames waiting now (not counting a batch the writer holds).
    pub fn len(&self) -> usize {
        self.inner.lock().frames.len()
    }

    /// `true` if no frame is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Receiver {
    /// The oldest frames waiting, up to `limit`, and the pong, if one is wanted; both
    /// empty if nothing is waiting (then [`wanted`](Self::wanted) says when something
    /// is). A queue of at most `limit` frames is taken whole, its buffer with it.
    pub fn take(&self, limit: usize) -> (VecDeque<Outgoing>, Option<Frame>) {
        let mut st = self.inner.lock();
        let pong = st.pong.take();
        let frames = if st.frames.len() <= limit {
            std::mem::take(&mut st.frames)
        } else {
            st.frames.drain(..limit).collect()
        };
        (frames, pong)
    }

    /// Every frame waiting (for the last flush before the close frame).
    pub fn take_all(&self) -> VecDeque<Outgoing> {
        std::mem::take(&mut self.inner.lock().frames)
    }

    /// Resolves when frames were queued to an empty queue, or a pong is wanted, since
    /// the last [`take`](Self::take) found nothing (it may also resolve spuriously).
    ///
    /// # Cancel safety
    /// Cancel safe: a wake-up that arrives meanwhile is kept for the next call.
    pub async fn wanted(&self) {
        self.inner.writer.notified().await;
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut st = self.inner.lock();
        st.writer_gone = true;
        // Free what nobody will send, now (the outbox may live on in rooms a while).
        let frames = std::mem::take(&mut st.frames);
        drop(st);
        let bytes: usize = frames.iter().map(|f| f.frame.len()).sum();
        self.inner.bytes.fetch_sub(bytes, Ordering::AcqRel);
    }
}

impl Commands {
    /// The next command.
    ///
    /// # Cancel safety
    /// Cancel safe: a command is taken only when this resolves.
    pub async fn recv(&mut self) -> Option<Command> {
        loop {
            if let Some(c) = self.inner.lock().commands.pop_front() {
                return Some(c);
            }
            self.inner.command_ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_byte_bound_the_connection_is_closed_slow() {
        let (out, rx) = Outbox::new(100, 1000, Arc::new(Metrics::default()));
        assert!(out.push(Frame::text(&"x".repeat(600))));
        assert!(!out.push(Frame::text(&"y".repeat(600))));
        assert_eq!(out.close_reason(), Some(CLOSE_SLOW));
        assert_eq!(out.bytes(), 604, "600 bytes and a 4-byte header");
        let (frames, _) = rx.take(WRITE_BATCH);
        out.written(frames[0].frame.len());
        assert_eq!(out.bytes(), 0);
    }

    #[test]
    fn over_the_frame_bound_the_connection_is_closed_slow() {
        let (out, rx) = Outbox::new(3, 1_000_000, Arc::new(Metrics::default()));
        for _ in 0..3 {
            assert!(out.push(Frame::text("x")));
        }
        // Frames the writer has taken no longer count against the bound.
        let (batch, _) = rx.take(2);
        assert_eq!((batch.len(), out.len()), (2, 1));
        assert!(out.push(Frame::text("y")));
        assert!(out.push(Frame::text("z")));
        assert!(!out.push(Frame::text("too many")));
        assert_eq!(out.close_reason(), Some(CLOSE_SLOW));
    }

    #[tokio::test]
    async fn the_writer_is_woken_when_the_queue_stops_being_empty() {
        let (out, rx) = Outbox::new(10, 1000, Arc::new(Metrics::default()));
        out.push(Frame::text("a"));
        out.push(Frame::text("b"));
        rx.wanted().await;
        let (batch, pong) = rx.take(WRITE_BATCH);
        assert_eq!((batch.len(), pong), (2, None));
        // Nothing waiting, no permit left: the next wake-up is the next push.
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(10), rx.wanted())
                .await
                .is_err()
        );
        out.push(Frame::text("c"));
        rx.wanted().await;
        assert_eq!(rx.take(WRITE_BATCH).0.len(), 1);
    }

    #[test]
    fn without_a_writer_nothing_is_queued_or_kept() {
        let (out, rx) = Outbox::new(10, 1000, Arc::new(Metrics::default()));
        assert!(out.push(Frame::text("a")));
        drop(rx);
        assert_eq!((out.len(), out.bytes()), (0, 0));
        assert!(!out.push(Frame::text("b")));
        assert_eq!(out.close_reason(), None, "not a slow consumer");
        assert!(!out.command(Command::LeaveRoom("r".into())));
    }

    #[tokio::test]
    async fn commands_arrive_in_order() {
        let (out, _rx) = Outbox::new(10, 1000, Arc::new(Metrics::default()));
        let mut cmds = out.take_commands().unwrap();
        assert!(out.take_commands().is_none(), "once");
        assert!(out.command(Command::LeaveRoom("a".into())));
        assert!(out.command(Command::LeaveRoom("b".into())));
        assert_eq!(cmds.recv().await, Some(Command::LeaveRoom("a".into())));
        assert_eq!(cmds.recv().await, Some(Command::LeaveRoom("b".into())));
    }

    #[tokio::test]
    async fn a_newer_pong_replaces_the_one_waiting() {
        let (out, _rx) = Outbox::new(10, 1000, Arc::new(Metrics::default()));
        out.pong(Frame::pong(b"1"));
        out.pong(Frame::pong(b"2"));
        _rx.wanted().await;
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
