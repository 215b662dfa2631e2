//! One WebSocket connection: the reader ([`run`]) takes frames one at a time and awaits
//! each request's handler ([`crate::handlers`]) before reading the next, so a client's
//! requests are answered in the order it sent them; the writer ([`writer`]) drains the
//! bounded outbound queue.
//!
//! Each handler awaits the sequencer, which never blocks a runtime thread: commits run on
//! the sequencer's own thread, history reads on the blocking pool.

pub mod writer;

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use futures::stream::StreamExt;

use crate::app::{App, Slot};
use crate::handlers;
use crate::outbox::Outbox;
use crate::protocol::{
    error_frame, ErrorCode, CLOSE_NORMAL, CLOSE_SHUTDOWN, CLOSE_SLOW_CODE, CLOSE_TOO_LARGE,
};
use crate::room::{ConnId, MemberRequest};

/// What the server knows about one connection.
#[derive(Debug)]
pub struct Session {
    pub id: ConnId,
    /// The name, once `hello` succeeded.
    pub name: Option<Arc<str>>,
    /// Rooms joined (a room is added before its join is sequenced, so a disconnect
    /// mid-join still leaves it).
    pub rooms: BTreeSet<Arc<str>>,
    /// `--auth token`: the rooms the token allows (`None`: any).
    pub allowed_rooms: Option<Arc<BTreeSet<String>>>,
}

/// Runs a connection until either side closes it or the server shuts down.
pub async fn run(app: Arc<App>, socket: WebSocket, slot: Slot) {
    let _slot = slot;
    let (out, rx) = Outbox::new(
        app.cfg.outbound_queue as usize,
        app.cfg.outbound_bytes as usize,
        app.metrics.clone(),
    );
    let id = ConnId {
        node: 0,
        conn: app.next_conn_id(),
    };
    app.hub.attach(id.conn, out.clone());
    if app.shutdown.is_cancelled() {
        out.close(CLOSE_SHUTDOWN); // raced with the start of shutdown
    }
    let (sink, mut stream) = socket.split();
    let writer = tokio::spawn(writer::write_loop(
        sink,
        rx,
        out.clone(),
        app.cfg.shutdown_grace,
    ));
    let mut session = Session {
        id,
        name: None,
        rooms: BTreeSet::new(),
        allowed_rooms: None,
    };
    loop {
        let frame = tokio::select! {
            biased;
            _ = out.closed() => break,
            frame = stream.next() => frame,
        };
        let (len, text) = match frame {
            Some(Ok(Message::Text(text))) => (text.len(), Some(text)),
            Some(Ok(Message::Binary(bytes))) => (bytes.len(), None),
            Some(Ok(Message::Ping(p) | Message::Pong(p))) => {
                // tungstenite answers pings itself, into a write buffer bounded by
                // `max_write_buffer_size`; here they are counted like any request.
                app.metrics.control_frames.inc();
                app.metrics.bytes_in.inc_by(p.len() as u64);
                if let Some(name) = &session.name {
                    app.counters.inc(&**name);
                }
                continue;
            }
            Some(Ok(Message::Close(_))) | None => {
                out.close(CLOSE_NORMAL);
                break;
            }
            Some(Err(_)) => {
                // The transport failed or the frame passed the hard size cap (twice the
                // limit): nothing more can be read.
                reject(&app, &out, "frame over the size limit or unreadable");
                break;
            }
        };
        app.metrics.frames_in.inc();
        app.metrics.bytes_in.inc_by(len as u64);
        if let Some(name) = &session.name {
            app.counters.inc(&**name);
        }
        if len as u64 > app.cfg.max_frame {
            reject(&app, &out, "frame over the size limit");
            break;
        }
        match text {
            Some(text) => handlers::handle(&app, &out, &mut session, text.as_str()).await,
            None => handlers::reply_error(
                &app,
                &out,
                ErrorCode::BadRequest,
                "binary frames are not supported; send JSON text",
                None,
            ),
        }
    }
    if out.close_reason().map(|r| r.code) == Some(CLOSE_SLOW_CODE) {
        tracing::warn!(
            user = session.name.as_deref().unwrap_or("-"),
            queue = app.cfg.outbound_queue,
            bytes = app.cfg.outbound_bytes,
            "closing a slow consumer (4008): its outbound queue overflowed"
        );
    }
    // Leave every room (the others see presence `leave`), free the name.
    if let Some(name) = session.name.clone() {
        for room in std::mem::take(&mut session.rooms) {
            let req = MemberRequest {
                room,
                conn: id,
                user: name.clone(),
            };
            let _ = handlers::bounded(app.sequencer.leave(req, true)).await;
        }
        app.names.release(&name, id).await;
    }
    app.hub.detach(id.conn);
    if !out.is_closing() {
        out.close(CLOSE_NORMAL);
    }
    drop(out);
    let _ = writer.await;
}

fn reject(app: &App, out: &Outbox, why: &str) {
    app.metrics.errors.inc();
    out.push(error_frame(ErrorCode::TooLarge, why, None));
    out.close(CLOSE_TOO_LARGE);
}
