//! The async waits shared by the direct and keyed limiters: sleep until the earliest time,
//! re-check, give up at once if the deadline cannot be met.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::error::{KeyedCheckError, UntilReadyError};
use crate::clock::{nanos, Clock};

/// Retries `attempt` until it passes, sleeping (on tokio's timer) for the wait each refusal
/// names. With `max_wait`, fails fast when a refusal's earliest time is past `now + max_wait`
/// measured from the start. With `cancel`, stops when it fires.
pub(crate) async fn wait_until<C: Clock>(
    clock: &C,
    max_wait: Option<Duration>,
    cancel: Option<&CancellationToken>,
    mut attempt: impl FnMut() -> Result<(), KeyedCheckError>,
) -> Result<(), UntilReadyError> {
    let deadline = max_wait.map(|w| clock.now_nanos().saturating_add(nanos(w)));
    loop {
        if cancel.is_some_and(CancellationToken::is_cancelled) {
            return Err(UntilReadyError::Cancelled);
        }
        let not_until = match attempt() {
            Ok(()) => return Ok(()),
            Err(KeyedCheckError::InsufficientCapacity(e)) => return Err(e.into()),
            Err(KeyedCheckError::TooManyKeys { max_keys }) => {
                return Err(UntilReadyError::TooManyKeys { max_keys })
            }
            Err(KeyedCheckError::NotUntil(e)) => e,
        };
        if let Some(deadline) = deadline {
            if not_until.earliest > deadline {
                return Err(UntilReadyError::WouldPassDeadline {
                    wait: not_until.wait_time(),
                    left: Duration::from_nanos(deadline.saturating_sub(not_until.now)),
                });
            }
        }
        let sleep = tokio::time::sleep(not_until.wait_time());
        match cancel {
            None => sleep.await,
            Some(token) => {
                tokio::select! {
                    biased;
                    () = token.cancelled() => return Err(UntilReadyError::Cancelled),
                    () = sleep => {}
                }
            }
        }
    }
}
