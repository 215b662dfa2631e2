//! `join`: through the sequencer, which puts it in the room's order; the hub queues
//! `joined` (members and recent history) to the joiner and presence to the others. A
//! repeated join of a room the connection is in answers `joined` with the members and no
//! history (the client has it), so it cannot be used to make the server resend history.

use std::sync::Arc;

use super::{bounded, reply_error, reply_seq_error};
use crate::app::App;
use crate::conn::Session;
use crate::outbox::Outbox;
use crate::protocol::{joined_frame, valid_name, ErrorCode};
use crate::room::MemberRequest;

/// Handles the request.
pub async fn handle(app: &App, out: &Outbox, s: &mut Session, name: Arc<str>, room: String) {
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
    if s.allowed_rooms.as_ref().is_some_and(|r| !r.contains(&room)) {
        reply_error(
            app,
            out,
            ErrorCode::Forbidden,
            "your token does not allow this room",
            None,
        );
        return;
    }
    if app.is_closed_room(&room) {
        reply_error(
            app,
            out,
            ErrorCode::Forbidden,
            "this room was closed by an operator",
            None,
        );
        return;
    }
    let room: Arc<str> = Arc::from(room);
    if s.rooms.contains(&room) {
        let members = app.hub.member_names(&room).unwrap_or_default();
        out.push(joined_frame(&room, &members, &[]));
        return;
    }
    if s.rooms.len() as u64 >= app.cfg.max_rooms_per_user {
        reply_error(
            app,
            out,
            ErrorCode::BadRequest,
            "in too many rooms; leave one first",
            None,
        );
        return;
    }
    s.rooms.insert(room.clone());
    let req = MemberRequest {
        room: room.clone(),
        conn: s.id,
        user: name,
    };
    if let Err(e) = bounded(app.sequencer.join(req)).await {
        s.rooms.remove(&room);
        reply_seq_error(app, out, &e, None);
    }
}
