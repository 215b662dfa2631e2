//! `hello`: claim a name (unique case-insensitively).
//!
//! - `--auth off`: the client picks `name`; a name in use is refused (`name_taken`,
//!   close 1008), so nobody can push someone out by claiming their name.
//! - `--auth token`: the name is the verified token's `sub` (`name` is ignored); a bad,
//!   expired or missing token is `unauthorized`, close 1008. The identity is proven, so a
//!   second connection with it takes over: the older connection is closed with 4001
//!   `replaced` (after what was queued for it), and the newer one is welcomed.

use std::sync::Arc;

use super::reply_error;
use crate::app::App;
use crate::auth::{Identity, VerifyError};
use crate::conn::Session;
use crate::outbox::Outbox;
use crate::protocol::{
    valid_name, ErrorCode, ServerMsg, CLOSE_INVALID_NAME, CLOSE_NAME_TAKEN, CLOSE_REPLACED,
    CLOSE_UNAUTHORIZED,
};
use crate::room::NameError;

/// Handles the request.
pub async fn handle(
    app: &App,
    out: &Outbox,
    s: &mut Session,
    name: Option<String>,
    token: Option<String>,
) {
    let (name, allowed_rooms, replace) = match &app.verifier {
        Some(verifier) => {
            let verified = token
                .as_deref()
                .ok_or(VerifyError::Missing)
                .and_then(|t| verifier.verify(t));
            match verified {
                Ok(Identity { name, rooms }) => (name, rooms, true),
                Err(e) => {
                    reply_error(app, out, ErrorCode::Unauthorized, &e.to_string(), None);
                    out.close(CLOSE_UNAUTHORIZED);
                    return;
                }
            }
        }
        None => {
            let Some(name) = name else {
                reply_error(app, out, ErrorCode::BadRequest, "hello needs a name", None);
                return;
            };
            if !valid_name(&name) {
                reply_error(
                    app,
                    out,
                    ErrorCode::InvalidName,
                    "names are 1 to 32 of A-Z a-z 0-9 _ - .",
                    None,
                );
                out.close(CLOSE_INVALID_NAME);
                return;
            }
            (name, None, false)
        }
    };
    let claimed = if replace {
        app.names.claim_replacing(&name, s.id).await
    } else {
        app.names.claim(&name, s.id).await.map(|()| None)
    };
    match claimed {
        Ok(None) => {}
        Ok(Some(old)) => {
            // The older connection of this identity goes; it leaves its rooms as it
            // closes, and its release of the name is a no-op (this one holds it now).
            // On another node the registry told that node (see `Names::claim_replacing`).
            if old.node == app.hub.node() {
                if let Some(old_out) = app.hub.outbox(old.conn) {
                    old_out.close(CLOSE_REPLACED);
                }
            }
        }
        Err(NameError::Taken) => {
            reply_error(app, out, ErrorCode::NameTaken, "that name is in use", None);
            out.close(CLOSE_NAME_TAKEN);
            return;
        }
        Err(NameError::Unavailable(_)) => {
            app.metrics.unavailable.inc();
            out.push(crate::protocol::retry_frame(
                ErrorCode::Unavailable,
                "names cannot be checked right now",
                None,
                std::time::Duration::from_secs(1),
            ));
            return;
        }
    }
    s.name = Some(Arc::from(name.as_str()));
    tracing::Span::current().record("user", name.as_str());
    s.allowed_rooms = allowed_rooms;
    if app.verifier.is_some() {
        // A proven identity: budgets follow it across its connections from now on.
        app.budgets.forget(&s.client);
        s.client = crate::budget::Client::Identity(crate::room::names::fold(&name));
    }
    app.counters.inc(name.as_str()); // the hello itself is this user's first request
    out.push(ServerMsg::Welcome { name: &name }.frame());
}
