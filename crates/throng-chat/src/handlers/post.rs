//! `post`: members only (the budget was charged before), then sequenced. The message is
//! delivered (to every member, the poster included) only once it is durable, and the
//! `ack` follows it. A retry with the same `id` gets the original `seq` in its `ack`.

use std::sync::Arc;

use super::{bounded, reply_error, reply_seq_error};
use crate::app::App;
use crate::conn::Session;
use crate::outbox::Outbox;
use crate::protocol::{ErrorCode, ServerMsg};
use crate::room::PostRequest;

/// Longest client `id`, in bytes.
pub const MAX_ID: usize = 64;

/// Handles the request.
pub async fn handle(
    app: &App,
    out: &Outbox,
    s: &mut Session,
    name: Arc<str>,
    room: String,
    text: String,
    id: Option<String>,
) {
    let started = std::time::Instant::now();
    let room: Arc<str> = Arc::from(room);
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
    if id.as_ref().is_some_and(|i| i.len() > MAX_ID) {
        reply_error(
            app,
            out,
            ErrorCode::BadRequest,
            "`id` is at most 64 bytes",
            None,
        );
        return;
    }
    let req = PostRequest {
        room,
        conn: s.id,
        from: name,
        text: Arc::from(text),
        client_id: id.as_deref().map(Arc::from),
    };
    match bounded(app.sequencer.post(req)).await {
        Ok(receipt) => {
            if let Some(id) = &id {
                app.metrics
                    .post_ack
                    .observe(started.elapsed().as_secs_f64());
                out.push(
                    ServerMsg::Ack {
                        id,
                        seq: receipt.seq,
                    }
                    .frame(),
                );
            }
        }
        Err(e) => reply_seq_error(app, out, &e, id.as_deref()),
    }
}
