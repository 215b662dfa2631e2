//! `hello`: claim a name (unique case-insensitively).

use std::sync::Arc;

use super::reply_error;
use crate::app::App;
use crate::conn::Session;
use crate::outbox::Outbox;
use crate::protocol::{valid_name, ErrorCode, ServerMsg, CLOSE_INVALID_NAME, CLOSE_NAME_TAKEN};
use crate::room::NameError;

/// Handles the request.
pub async fn handle(app: &App, out: &Outbox, s: &mut Session, name: String) {
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
    match app.names.claim(&name, s.id).await {
        Ok(()) => {}
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
    app.counters.inc(name.as_str()); // the hello itself is this user's first request
    out.push(ServerMsg::Welcome { name: &name }.frame());
}
