//! One WebSocket connection: a reader that parses and handles requests, and a writer
//! that drains the bounded outbound queue in batches.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::stream::{SplitSink, StreamExt};
use futures::SinkExt;
use throng::ratelimit::KeyedCheckError;
use tokio::sync::mpsc;

use crate::app::{App, Slot, CLOSE_SHUTDOWN};
use crate::outbox::{CloseReason, Outbox, CLOSE_SLOW};
use crate::protocol::{self, error_json, valid_name, ClientMsg, ErrorCode, ServerMsg};
use crate::rooms::{Member, RoomError};

/// Close code for a frame over the size limit.
const CLOSE_TOO_LARGE: CloseReason = CloseReason {
    code: 1009,
    reason: "frame too large",
};
/// Normal close after the client went away or closed.
const CLOSE_NORMAL: CloseReason = CloseReason {
    code: 1000,
    reason: "bye",
};
/// Most history messages one request may ask for.
const MAX_HISTORY_LIMIT: usize = 500;
/// Frames the writer sends per flush.
const WRITE_BATCH: usize = 64;

struct Session {
    id: u64,
    name: Option<Arc<str>>,
    rooms: BTreeSet<String>,
}

/// Runs a connection until either side closes it or the server shuts down.
pub async fn run(app: Arc<App>, socket: WebSocket, slot: Slot) {
    let _slot = slot;
    let (out, rx) = Outbox::new(app.cfg.outbound_queue as usize, app.metrics.clone());
    let id = app.register(&out);
    if app.shutdown.is_cancelled() {
        out.close(CLOSE_SHUTDOWN); // raced with the start of shutdown
    }
    let (sink, mut stream) = socket.split();
    let writer = tokio::spawn(write_loop(sink, rx, out.clone(), app.cfg.shutdown_grace));
    let mut session = Session {
        id,
        name: None,
        rooms: BTreeSet::new(),
    };
    loop {
        let frame = tokio::select! {
            biased;
            _ = out.closed() => break,
            frame = stream.next() => frame,
        };
        match frame {
            Some(Ok(Message::Text(text))) => {
                app.metrics.frames_in.inc();
                app.metrics.bytes_in.inc_by(text.len() as u64);
                if let Some(name) = &session.name {
                    app.counters.inc(&**name);
                }
                if text.len() as u64 > app.cfg.max_frame {
                    reply_error(
                        &app,
                        &out,
                        ErrorCode::TooLarge,
                        "frame over the size limit",
                        None,
                    );
                    out.close(CLOSE_TOO_LARGE);
                    break;
                }
                handle(&app, &out, &mut session, text.as_str());
            }
            Some(Ok(Message::Binary(bytes))) => {
                app.metrics.frames_in.inc();
                app.metrics.bytes_in.inc_by(bytes.len() as u64);
                if let Some(name) = &session.name {
                    app.counters.inc(&**name);
                }
                if bytes.len() as u64 > app.cfg.max_frame {
                    reply_error(
                        &app,
                        &out,
                        ErrorCode::TooLarge,
                        "frame over the size limit",
                        None,
                    );
                    out.close(CLOSE_TOO_LARGE);
                    break;
                }
                reply_error(
                    &app,
                    &out,
                    ErrorCode::BadRequest,
                    "binary frames are not supported; send JSON text",
                    None,
                );
            }
            Some(Ok(Message::Close(_))) | None => {
                out.close(CLOSE_NORMAL);
                break;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {} // axum answers pings itself
            Some(Err(_)) => {
                // The transport failed or the frame passed the hard size cap (twice the
                // limit): nothing more can be read.
                reply_error(
                    &app,
                    &out,
                    ErrorCode::TooLarge,
                    "frame over the size limit or unreadable",
                    None,
                );
                out.close(CLOSE_TOO_LARGE);
                break;
            }
        }
    }
    if out.close_reason().map(|r| r.code) == Some(CLOSE_SLOW) {
        tracing::warn!(
            user = session.name.as_deref().unwrap_or("-"),
            queue = app.cfg.outbound_queue,
            "closing a slow consumer (4008): its outbound queue overflowed"
        );
    }
    // Leave every room (the others see presence `leave`), free the name.
    for room in std::mem::take(&mut session.rooms) {
        let _ = app.rooms.leave(&room, id, true);
    }
    if let Some(name) = &session.name {
        app.release_name(name, id);
    }
    app.unregister(id);
    if !out.is_closing() {
        out.close(CLOSE_NORMAL);
    }
    drop(out);
    let _ = writer.await;
}

fn reply_error(app: &App, out: &Outbox, code: ErrorCode, message: &str, reference: Option<&str>) {
    app.metrics.errors.inc();
    out.push_text(error_json(code, message, reference));
}

fn handle(app: &App, out: &Outbox, s: &mut Session, text: &str) {
    let msg = match protocol::parse(text) {
        Ok(m) => m,
        Err(e) => {
            reply_error(app, out, e.code, &e.message, e.reference.as_deref());
            return;
        }
    };
    let name = match (&s.name, &msg) {
        (None, ClientMsg::Hello { name }) => {
            if !valid_name(name) {
                reply_error(
                    app,
                    out,
                    ErrorCode::InvalidName,
                    "names are 1 to 32 of A-Z a-z 0-9 _ - .",
                    None,
                );
                out.close(CloseReason {
                    code: 1008,
                    reason: "invalid name",
                });
                return;
            }
            if !app.claim_name(name, s.id) {
                reply_error(app, out, ErrorCode::NameTaken, "that name is in use", None);
                out.close(CloseReason {
                    code: 1008,
                    reason: "name taken",
                });
                return;
            }
            s.name = Some(Arc::from(name.as_str()));
            app.counters.inc(name.as_str()); // the hello itself is this user's first request
            out.push_text(ServerMsg::Welcome { name }.to_json());
            return;
        }
        (None, _) => {
            reply_error(
                app,
                out,
                ErrorCode::NotAuthenticated,
                "send hello first",
                None,
            );
            return;
        }
        (Some(_), ClientMsg::Hello { .. }) => {
            reply_error(app, out, ErrorCode::BadRequest, "already said hello", None);
            return;
        }
        (Some(name), _) => name.clone(),
    };
    match msg {
        ClientMsg::Hello { .. } => unreachable!("handled above"),
        ClientMsg::Ping => {
            out.push_text(ServerMsg::Pong.to_json());
        }
        ClientMsg::Join { room } => {
            if !valid_name(&room) {
                reply_error(
                    app,
                    out,
                    ErrorCode::InvalidName,
                    "room names are 1 to 32 of A-Z a-z 0-9 _ - .",
                    None,
                );
                return;
            }
            if !s.rooms.contains(&room) && s.rooms.len() as u64 >= app.cfg.max_rooms_per_user {
                reply_error(
                    app,
                    out,
                    ErrorCode::BadRequest,
                    "in too many rooms; leave one first",
                    None,
                );
                return;
            }
            let member = Member {
                conn: s.id,
                name,
                out: out.clone(),
            };
            match app.rooms.join(&room, &member) {
                Ok(()) => {
                    s.rooms.insert(room);
                }
                Err(_) => reply_error(
                    app,
                    out,
                    ErrorCode::BadRequest,
                    "the server holds its maximum number of rooms",
                    None,
                ),
            }
        }
        ClientMsg::Leave { room } => {
            if s.rooms.remove(&room) {
                let _ = app.rooms.leave(&room, s.id, false);
            } else {
                reply_error(app, out, ErrorCode::NotInRoom, "not in that room", None);
            }
        }
        ClientMsg::Post { room, text, id } => {
            if !s.rooms.contains(&room) {
                reply_error(
                    app,
                    out,
                    ErrorCode::NotInRoom,
                    "join the room before posting",
                    id.as_deref(),
                );
                return;
            }
            if let Err(e) = app.post_limit.check(&*name) {
                let retry_after = match e {
                    KeyedCheckError::NotUntil(n) => n.wait_time(),
                    // The limiter tracks its maximum of active users; keys leave once idle.
                    _ => Duration::from_secs(1),
                };
                app.metrics.rate_limited.inc();
                app.metrics.errors.inc();
                out.push_text(
                    ServerMsg::Error {
                        code: ErrorCode::RateLimited,
                        message: "posting too fast; the post was not delivered",
                        reference: id.as_deref(),
                        retry_after_ms: Some(retry_after.as_millis().max(1) as u64),
                    }
                    .to_json(),
                );
                return;
            }
            match app.rooms.post(&room, s.id, &text, id.as_deref()) {
                Ok(_) => {}
                Err(RoomError::NotInRoom | RoomError::TooManyRooms) => {
                    reply_error(
                        app,
                        out,
                        ErrorCode::NotInRoom,
                        "join the room before posting",
                        id.as_deref(),
                    );
                }
            }
        }
        ClientMsg::History {
            room,
            before,
            limit,
        } => {
            let limit = limit.map_or(50, |l| l as usize).clamp(1, MAX_HISTORY_LIMIT);
            out.push_text(app.rooms.history(&room, before, limit));
        }
    }
}

/// Sends queued frames in batches until the connection closes, then the close frame. On a
/// shutdown or error close the queue is flushed first (within `grace`); a slow consumer is
/// closed at once, without its backlog.
///
/// No write waits forever on a client that stopped reading: a slow-consumer close abandons
/// the write in progress at once, any other close after `grace`, and the close frame
/// itself gets `grace`; then the connection is dropped.
async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Utf8Bytes>,
    out: Outbox,
    grace: Duration,
) {
    let mut buf = Vec::with_capacity(WRITE_BATCH);
    // Resolves when a write in progress must be given up.
    let give_up = async {
        out.closed().await;
        if out.close_reason().map(|r| r.code) != Some(CLOSE_SLOW) {
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
                let write = async {
                    for frame in buf.drain(..) {
                        sink.feed(Message::Text(frame)).await?;
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
                if written.is_err() {
                    return;
                }
            }
            _ = out.closed() => break,
        }
    }
    let reason = out.close_reason().unwrap_or(CLOSE_NORMAL);
    let finish = async {
        if reason.code != CLOSE_SLOW && !abandoned {
            // Flush what is queued (the error or the last messages), then say bye.
            while let Ok(frame) = rx.try_recv() {
                if sink.feed(Message::Text(frame)).await.is_err() {
                    return;
                }
            }
            if reason == CLOSE_SHUTDOWN {
                let bye = ServerMsg::Bye { reason: "shutdown" }.to_json();
                if sink.feed(Message::Text(bye.into())).await.is_err() {
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
