//! A connection's writer: drains the bounded outbound queue in batches.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::stream::SplitSink;
use futures::SinkExt;
use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::outbox::{Outbox, Outgoing};
use crate::protocol::{ServerMsg, CLOSE_NORMAL, CLOSE_SHUTDOWN, CLOSE_SLOW_CODE};

/// Frames the writer sends per flush.
const WRITE_BATCH: usize = 64;

/// Sends queued frames in batches until the connection closes, then the close frame, and
/// a ping every `ping_every` (the reader closes a connection that answers nothing). On a
/// shutdown or error close the queue is flushed first (within `grace`); a slow consumer is
/// closed at once, without its backlog.
///
/// No write waits forever on a client that stopped reading: a slow-consumer close abandons
/// the write in progress at once, any other close after `grace`, and the close frame
/// itself gets `grace`; then the connection is dropped. The outbox's byte count covers a
/// batch until it has been written.
pub async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Outgoing>,
    out: Outbox,
    grace: Duration,
    ping_every: Duration,
    metrics: Arc<Metrics>,
) {
    let mut buf = Vec::with_capacity(WRITE_BATCH);
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
    loop {
        tokio::select! {
            biased;
            n = rx.recv_many(&mut buf, WRITE_BATCH) => {
                if n == 0 {
                    break;
                }
                let bytes: usize = buf.iter().map(|f| f.frame.len()).sum();
                let oldest = buf.first().map(|f| f.queued);
                let write = async {
                    for out in buf.drain(..) {
                        sink.feed(Message::Text(out.frame)).await?;
                    }
                    sink.flush().await
                };
                let written = tokio::select! {
                    biased;
                    r = write => r,
                    () = &mut give_up => {
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
            _ = out.closed() => break,
            _ = ping.tick() => {
                // A liveness check: the reader closes a connection that answers nothing.
                let sent = tokio::select! {
                    biased;
                    r = sink.send(Message::Ping(Default::default())) => r,
                    () = &mut give_up => {
                        abandoned = true;
                        break;
                    }
                };
                if sent.is_err() {
                    return;
                }
            }
        }
    }
    let reason = out.close_reason().unwrap_or(CLOSE_NORMAL);
    let finish = async {
        if reason.code != CLOSE_SLOW_CODE && !abandoned {
            // Flush what is queued (the error or the last messages), then say bye.
            while let Ok(Outgoing { frame, .. }) = rx.try_recv() {
                let len = frame.len();
                if sink.feed(Message::Text(frame)).await.is_err() {
                    return;
                }
                out.written(len);
            }
            if reason == CLOSE_SHUTDOWN {
                let bye = ServerMsg::Bye { reason: "shutdown" }.frame();
                if sink.feed(Message::Text(bye)).await.is_err() {
                    return;
                }
            }
        }
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: reason.code,
                reason: reason.reason.into(),
            })))
            .await;
        let _ = sink.close().await;
    };
    let _ = tokio::time::timeout(grace, finish).await;
}
