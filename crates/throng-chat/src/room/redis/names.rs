//! [`RedisNames`]: the name registry in Redis, unique across every node.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use redis::Value;

use super::{parse_conn, scripts, text, Core};
use crate::room::event::ConnId;
use crate::room::names::{fold, NameError, Names};
use crate::room::sequencer::SeqError;

/// Names held cluster-wide: `throng:name:<folded>` holds `<node>:<conn>`; each node's
/// claimed names are listed for the reaper (see the module docs of
/// [`redis`](super)).
#[derive(Debug, Clone)]
pub struct RedisNames {
    core: Arc<Core>,
}

impl RedisNames {
    pub(super) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }
}

fn name_error(e: SeqError) -> NameError {
    NameError::Unavailable(e.to_string())
}

fn holder(c: ConnId) -> String {
    format!("{}:{}", c.node, c.conn)
}

impl Names for RedisNames {
    fn claim(&self, name: &str, conn: ConnId) -> BoxFuture<'_, Result<(), NameError>> {
        let folded = fold(name);
        async move {
            let core = &self.core;
            core.check_open().map_err(name_error)?;
            let mut inv = scripts::CLAIM.prepare_invoke();
            inv.key(core.keys.name(&folded))
                .key(core.keys.node_names(conn.node))
                .arg(holder(conn))
                .arg(&folded);
            match core.script(inv).await.map_err(name_error)? {
                Value::Int(1) => Ok(()),
                _ => Err(NameError::Taken),
            }
        }
        .boxed()
    }

    fn claim_replacing(
        &self,
        name: &str,
        conn: ConnId,
    ) -> BoxFuture<'_, Result<Option<ConnId>, NameError>> {
        let folded = fold(name);
        async move {
            let core = &self.core;
            core.check_open().map_err(name_error)?;
            let mut inv = scripts::CLAIM_REPLACING.prepare_invoke();
            inv.key(core.keys.name(&folded))
                .key(core.keys.node_names(conn.node))
                .key(core.keys.events())
                .arg(holder(conn))
                .arg(&folded)
                .arg(core.cfg.events_len);
            let old = core.script(inv).await.map_err(name_error)?;
            Ok(text(&old)
                .and_then(|s| parse_conn(&s))
                .filter(|old| *old != conn))
        }
        .boxed()
    }

    fn release(&self, name: &str, conn: ConnId) -> BoxFuture<'_, ()> {
        let folded = fold(name);
        async move {
            let core = &self.core;
            let mut inv = scripts::RELEASE.prepare_invoke();
            inv.key(core.keys.name(&folded))
                .key(core.keys.node_names(conn.node))
                .arg(holder(conn))
                .arg(&folded);
            // A release that fails is finished by the reaper when the node goes, or
            // by the next claim of the same connection id (never reused on a node).
            if let Err(e) = core.script(inv).await {
                tracing::warn!(error = %e, "could not release a name in redis");
            }
        }
        .boxed()
    }

    fn holder(&self, name: &str) -> BoxFuture<'_, Result<Option<ConnId>, NameError>> {
        let key = self.core.keys.name(&fold(name));
        async move {
            let core = &self.core;
            core.check_open().map_err(name_error)?;
            let v: Option<String> = core
                .call(|mut c| async move { redis::cmd("GET").arg(key).query_async(&mut c).await })
                .await
                .map_err(name_error)?;
            Ok(v.and_then(|s| parse_conn(&s)))
        }
        .boxed()
    }
}
