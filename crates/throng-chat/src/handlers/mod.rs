//! One handler per request type. [`handle`] parses a frame, checks `hello` came first,
//! and awaits the request's handler; the reader calls it for one frame at a time.
//!
//! - [`hello`]: claim a name.
//! - [`join`], [`leave`]: membership, through the sequencer.
//! - [`post`]: rate limit, then sequence (durable before delivered and acknowledged).
//! - [`history`]: members only, capped in bytes.
//! - `ping`: `pong`.

pub mod hello;
pub mod history;
pub mod join;
pub mod leave;
pub mod post;

use std::future::Future;
use std::time::Duration;

use crate::app::App;
use crate::budget::{Kind, OverBudget};
use crate::conn::Session;
use crate::outbox::Outbox;
use crate::protocol::{self, error_frame, retry_frame, ClientMsg, ErrorCode, ServerMsg};
use crate::room::SeqError;

/// Longest a request waits for the sequencer before it is answered `unavailable`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Awaits a sequencer call for at most [`REQUEST_TIMEOUT`].
pub async fn bounded<T>(f: impl Future<Output = Result<T, SeqError>>) -> Result<T, SeqError> {
    tokio::time::timeout(REQUEST_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| {
            Err(SeqError::Unavailable {
                retry_after: Duration::from_secs(1),
                reason: "the sequencer did not answer in time".into(),
            })
        })
}

/// Queues an `error` frame and counts it.
pub fn reply_error(app: &App, out: &Outbox, code: ErrorCode, message: &str, id: Option<&str>) {
    app.metrics.error(code.as_str());
    out.push(error_frame(code, message, id));
}

/// Answers a sequencer error.
fn reply_seq_error(app: &App, out: &Outbox, e: &SeqError, id: Option<&str>) {
    match e {
        SeqError::NotInRoom => reply_error(app, out, ErrorCode::NotInRoom, "not in that room", id),
        SeqError::TooManyRooms => reply_error(
            app,
            out,
            ErrorCode::BadRequest,
            "the server holds its maximum number of rooms",
            id,
        ),
        SeqError::Unavailable { retry_after, .. } => {
            app.metrics.error(ErrorCode::Unavailable.as_str());
            app.metrics.unavailable.inc();
            out.push(retry_frame(
                ErrorCode::Unavailable,
                "the server cannot store messages right now; nothing was delivered",
                id,
                *retry_after,
            ));
        }
        SeqError::Closed => {
            app.metrics.error(ErrorCode::Unavailable.as_str());
            app.metrics.unavailable.inc();
            out.push(retry_frame(
                ErrorCode::Unavailable,
                "the server is shutting down",
                id,
                Duration::from_secs(1),
            ));
        }
    }
}

/// Answers a request over its budget: `rate_limited` with `retry_after_ms`; the request
/// was not executed.
pub fn reply_over_budget(app: &App, out: &Outbox, e: OverBudget, id: Option<&str>) {
    app.metrics.error(ErrorCode::RateLimited.as_str());
    if e.kind == Kind::Post {
        app.metrics.rate_limited.inc();
    }
    let what = match e.kind {
        Kind::Post => "posting too fast; the post was not delivered",
        Kind::Member => "joining and leaving too fast",
        Kind::Create => "creating rooms too fast",
        Kind::History => "asking for history too fast",
        Kind::Ping | Kind::Control => "too many requests",
        Kind::Bytes => "sending too many bytes; the frame was dropped",
        Kind::Fanout => "posting too much into big rooms; the post was not delivered",
        Kind::Connect => "connecting too often",
    };
    out.push(retry_frame(ErrorCode::RateLimited, what, id, e.retry_after));
}

/// The budget kinds a request is charged to (a join of a room nobody here is in also
/// creates it).
fn kinds(app: &App, msg: &ClientMsg) -> &'static [Kind] {
    match msg {
        // A hello succeeds once per connection (a failed one closes it): bytes only.
        ClientMsg::Hello { .. } => &[],
        ClientMsg::Ping {} => &[Kind::Ping],
        ClientMsg::Join { room } if app.hub.member_names(room).is_none() => {
            &[Kind::Member, Kind::Create]
        }
        ClientMsg::Join { .. } | ClientMsg::Leave { .. } => &[Kind::Member],
        ClientMsg::Post { .. } => &[Kind::Post],
        ClientMsg::History { .. } => &[Kind::History],
    }
}

/// The request's `id`, for an error's `ref`.
fn request_id(msg: &ClientMsg) -> Option<&str> {
    match msg {
        ClientMsg::Post { id, .. } => id.as_deref(),
        _ => None,
    }
}

/// Parses and handles one text frame: charges its budgets, then runs its handler.
pub async fn handle(app: &App, out: &Outbox, s: &mut Session, text: &str) {
    let msg = match protocol::parse(text) {
        Ok(m) => m,
        Err(e) => {
            // A frame that is no request still costs as much as a ping.
            if let Err(over) = s.charge(app, out, Kind::Ping, 1) {
                return reply_over_budget(app, out, over, e.reference.as_deref());
            }
            reply_error(app, out, e.code, &e.message, e.reference.as_deref());
            return;
        }
    };
    for &kind in kinds(app, &msg) {
        if let Err(over) = s.charge(app, out, kind, 1) {
            return reply_over_budget(app, out, over, request_id(&msg));
        }
    }
    if let ClientMsg::Post { room, text, .. } = &msg {
        // What delivering it costs: its size in 64-byte units (frame overhead included)
        // times the members it goes to.
        let members = app.hub.member_names(room).map_or(1, |m| m.len().max(1));
        let cost = (text.len() + 64).div_ceil(64).saturating_mul(members);
        let cost = u32::try_from(cost).unwrap_or(u32::MAX);
        if let Err(over) = s.charge(app, out, Kind::Fanout, cost) {
            return reply_over_budget(app, out, over, request_id(&msg));
        }
    }
    let (name, msg) = match (&s.name, msg) {
        (None, ClientMsg::Hello { name, token }) => {
            return hello::handle(app, out, s, name, token).await
        }
        (None, _) => {
            return reply_error(
                app,
                out,
                ErrorCode::NotAuthenticated,
                "send hello first",
                None,
            )
        }
        (Some(_), ClientMsg::Hello { .. }) => {
            return reply_error(app, out, ErrorCode::BadRequest, "already said hello", None)
        }
        (Some(name), msg) => (name.clone(), msg),
    };
    match msg {
        ClientMsg::Hello { .. } => unreachable!("handled above"),
        ClientMsg::Ping {} => {
            out.push(ServerMsg::Pong.frame());
        }
        ClientMsg::Join { room } => join::handle(app, out, s, name, room).await,
        ClientMsg::Leave { room } => leave::handle(app, out, s, name, room).await,
        ClientMsg::Post { room, text, id } => {
            post::handle(app, out, s, name, room, text, id).await;
        }
        ClientMsg::History {
            room,
            before,
            limit,
        } => history::handle(app, out, s, room, before, limit).await,
    }
}
