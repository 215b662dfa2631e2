//! `leave`: through the sequencer; the hub queues `left` to the leaver and presence to
//! the others.

use std::sync::Arc;

use super::{bounded, reply_error, reply_seq_error};
use crate::app::App;
use crate::conn::Session;
use crate::outbox::Outbox;
use crate::protocol::ErrorCode;
use crate::room::MemberRequest;

/// Handles the request.
pub async fn handle(app: &App, out: &Outbox, s: &mut Session, name: Arc<str>, room: String) {
    let room: Arc<str> = Arc::from(room);
    if !s.rooms.remove(&room) {
        reply_error(app, out, ErrorCode::NotInRoom, "not in that room", None);
        return;
    }
    let req = MemberRequest {
        room: room.clone(),
        conn: s.id,
        user: name,
    };
    if let Err(e) = bounded(app.sequencer.leave(req, false)).await {
        reply_seq_error(app, out, &e, None);
    }
}
