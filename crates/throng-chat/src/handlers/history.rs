//! `history`: members only (a client cannot read a room it is not in, unseen by its
//! members), at most `limit` messages and `--max-reply-bytes` of them; clients page back
//! with `before`.

use std::sync::Arc;

use super::{bounded, reply_error, reply_seq_error};
use crate::app::App;
use crate::conn::Session;
use crate::outbox::Outbox;
use crate::protocol::{history_frame, ErrorCode};
use crate::room::HistoryQuery;

/// Most history messages one request may ask for.
pub const MAX_LIMIT: usize = 500;

/// Handles the request.
pub async fn handle(
    app: &App,
    out: &Outbox,
    s: &mut Session,
    room: String,
    before: Option<u64>,
    limit: Option<u32>,
) {
    let room: Arc<str> = Arc::from(room);
    if !s.rooms.contains(&room) {
        reply_error(
            app,
            out,
            ErrorCode::NotInRoom,
            "join the room to read its history",
            None,
        );
        return;
    }
    let q = HistoryQuery {
        room: room.clone(),
        before,
        limit: limit.map_or(50, |l| l as usize).clamp(1, MAX_LIMIT),
        max_bytes: app.cfg.max_reply_bytes as usize,
    };
    match bounded(app.sequencer.history(q)).await {
        Ok(messages) => {
            out.push(history_frame(&room, &messages));
        }
        Err(e) => reply_seq_error(app, out, &e, None),
    }
}
