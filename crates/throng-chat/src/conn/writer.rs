//! A connection's writer: drains the bounded outbound queue in batches, each batch one
//! vectored write of frames encoded once ([`Frame`]), so a room's message costs every
//! member a reference count and its share of a `writev`, not an encoding.

use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::metrics::Metrics;
use crate::outbox::{Outbox, Outgoing, Receiver, WRITE_BATCH};
use crate::protocol::{ServerMsg, CLOSE_NORMAL, CLOSE_SHUTDOWN, CLOSE_SLOW_CODE};
use crate::ws::Frame;

/// Writes `frames` in full: vectored writes (one `writev` when the socket takes them
/// all), continuing after a partial one, then a flush. `done` counts the bytes written,
/// also when the future is dropped half way, so a frame cut short can be finished
/// ([`torn`]) before the close frame: the client must see whole frames.
async fn write_frames<W: AsyncWrite + Unpin>(
    io: &mut W,
    frames: &[&Frame],
    done: &mut usize,
) -> io::Result<()> {
    let total: usize = frames.iter().map(|f| f.len()).sum();
    while *done < total {
        let mut skip = *done;
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(frames.len());
        for f in frames {
            let b = f.as_bytes();
            if skip >= b.len() {
                skip -= b.len();
                continue;
            }
            slices.push(IoSlice::new(&b[skip..]));
            skip = 0;
        }
        let n = io.write_vectored(&slices).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        *done += n;
    }
    io.flush().await
}

/// The unwritten rest of the frame a write of `frames` stopped in after `done` bytes, if
/// it stopped inside one.
fn torn(frames: &[&Frame], done: usize) -> Option<Frame> {
    let mut start = 0;
    for f in frames {
        let end = start + f.len();
        if start < done && done < end {
            return Some(f.tail(done - start));
        }
        start = end;
    }
    None
}

/// Sends queued frames in batches until the connection closes, then the close frame, and
/// a ping every `ping_every` (the reader closes a connection that answers nothing); a pong
/// for the client's latest ping as soon as it is wanted, in the same write as any frames
/// waiting. On a shutdown or error close the queue is flushed first (within `grace`); a
/// slow consumer is closed at once, without its backlog; a client that closed first gets
/// its close code echoed, and nothing queued.
///
/// No write waits forever on a client that stopped reading: a slow-consumer close abandons
/// the write in progress at once, any other close after `grace`, and the close frame
/// itself gets `grace`; then the connection is dropped. The outbox's byte count covers a
/// batch until it has been written.
///
/// A batch is the queue's own buffer, taken whole (see [`crate::outbox`]), and its
/// `IoSlice`s are allocated per write: an idle connection's writer holds no buffer.
pub async fn write_loop<W: AsyncWrite + Unpin>(
    mut io: W,
    rx: Receiver,
    out: Outbox,
    grace: Duration,
    ping_every: Duration,
    metrics: Arc<Metrics>,
) {
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Resolves when a write in progress must be given up.
    let give_up = async {
        out.closed().await;
        if out.close_reason().map(|r| r.code) != Some(CLOSE_SLOW_CODE) {
            tokio::time::sleep(grace).await;
        }
    };
    tokio::pin!(give_up);
    let mut abandoned = false;
    // The rest of a frame whose write was abandoned half way.
    let mut rest: Option<Frame> = None;
    loop {
        let (batch, mut pong) = rx.take(WRITE_BATCH);
        if batch.is_empty() && pong.is_none() {
            tokio::select! {
                biased;
                () = rx.wanted() => continue,
                _ = out.closed() => break,
                // A liveness check: the reader closes a connection that answers nothing.
                _ = ping.tick() => pong = Some(Frame::ping()),
            }
        } else if pong.is_none() && ping.tick().now_or_never().is_some() {
            // A ping due while the queue never empties goes with the frames, so a client
            // that only reads still gets its pings (and its pongs keep it alive).
            pong = Some(Frame::ping());
        }
        let bytes: usize = batch.iter().map(|f| f.frame.len()).sum();
        let oldest = batch.front().map(|f| f.queued);
        let frames: Vec<&Frame> = batch.iter().map(|f| &f.frame).chain(&pong).collect();
        let mut done = 0;
        let written = tokio::select! {
            biased;
            r = write_frames(&mut io, &frames, &mut done) => r,
            () = &mut give_up => {
                rest = torn(&frames, done);
                abandoned = true;
                break;
            }
        };
        out.written(bytes);
        if written.is_err() {
            return;
        }
        if let Some(t) = oldest {
            metrics.outbound_wait.observe(t.elapsed().as_secs_f64());
        }
    }
    let reason = out.close_reason().unwrap_or(CLOSE_NORMAL);
    let peer_close = out.peer_close();
    let finish = async {
        // A frame cut short is finished first.
        let mut last: Vec<Frame> = rest.into_iter().collect();
        let mut queued = 0;
        if reason.code != CLOSE_SLOW_CODE && !abandoned && peer_close.is_none() {
            // Flush what is queued (the error or the last messages), then say bye.
            for Outgoing { frame, .. } in rx.take_all() {
                queued += frame.len();
                last.push(frame);
            }
            if reason == CLOSE_SHUTDOWN {
                last.push(ServerMsg::Bye { reason: "shutdown" }.frame());
            }
        }
        last.push(match peer_close {
            // Echo the client's close (RFC 6455 §5.5.1).
            Some(code) => Frame::close(code, ""),
            None => Frame::close(Some(reason.code), reason.reason),
        });
        let frames: Vec<&Frame> = last.iter().collect();
        if write_frames(&mut io, &frames, &mut 0).await.is_ok() {
            out.written(queued);
            let _ = io.shutdown().await;
        }
    };
    let _ = tokio::time::timeout(grace, finish).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_cut_inside_a_frame_leaves_its_rest() {
        let (a, b) = (Frame::text("abc"), Frame::text("defgh"));
        let frames = [&a, &b];
        assert_eq!(torn(&frames, 0), None);
        assert_eq!(torn(&frames, 5), None, "between frames");
        assert_eq!(torn(&frames, 12), None, "all written");
        assert_eq!(torn(&frames, 3).unwrap().as_bytes(), b"bc");
        assert_eq!(torn(&frames, 6).unwrap().as_bytes(), &b.as_bytes()[1..]);
    }

    #[tokio::test]
    async fn partial_writes_are_continued() {
        let frames: Vec<Frame> = (0..10).map(|i| Frame::text(&"x".repeat(i * 100))).collect();
        let refs: Vec<&Frame> = frames.iter().collect();
        let expected: Vec<u8> = frames.iter().flat_map(|f| f.as_bytes().to_vec()).collect();
        // A pipe of 7 bytes: every write is partial.
        let (mut w, mut r) = tokio::io::duplex(7);
        let reading = tokio::spawn(async move {
            let mut got = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut r, &mut got)
                .await
                .unwrap();
            got
        });
        let mut done = 0;
        write_frames(&mut w, &refs, &mut done).await.unwrap();
        assert_eq!(done, expected.len());
        drop(w);
        assert_eq!(reading.await.unwrap(), expected);
    }
}
