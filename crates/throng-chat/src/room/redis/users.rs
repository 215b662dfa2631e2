//! [`RedisUsers`]: per-user request counts readable from any node.
//!
//! Each node counts its own users' requests ([`throng::keyed::KeyedCounters`]) and, at
//! every dump, writes that interval's counts to `throng:node:<node>:users` (replacing
//! the previous ones), expiring one dump interval and one lease after the write, so a
//! node that stops writing (idle, or gone) drops out by itself. Reading sums the hashes
//! of every registered node: the cluster's counts for each node's last full interval.
//! A user has one connection in the cluster at a time (names are unique cluster-wide),
//! so the sum is that user's count, not a double count.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use redis::Value;

use super::{int, items, text, Core};
use crate::room::sequencer::SeqError;

/// The hash field that holds a dump's overflow (not a valid user name).
const OVERFLOW: &str = "[overflow]";
/// Fields written per `HSET`.
const CHUNK: usize = 512;
/// Nodes read at most.
const MAX_NODES: isize = 1024;

/// The cluster's per-user counts: the last full interval of each node, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterUsers {
    /// Nodes whose counts are included.
    pub nodes: usize,
    /// Requests per user.
    pub users: BTreeMap<String, u64>,
    /// Requests of users the nodes could not track (their counters were full).
    pub overflow: u64,
}

/// Per-user counts in Redis; see the module docs.
#[derive(Debug, Clone)]
pub struct RedisUsers {
    core: Arc<Core>,
}

impl RedisUsers {
    pub(super) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Replaces this node's counts with `counts` and `overflow`, kept for `ttl`.
    ///
    /// # Errors
    ///
    /// Redis cannot be reached (through the same breaker and timeout as every call).
    pub async fn publish(
        &self,
        counts: &[(String, u64)],
        overflow: u64,
        ttl: Duration,
    ) -> Result<(), SeqError> {
        let core = &self.core;
        core.check_open()?;
        let key = core.keys.node_users(core.cfg.node);
        let mut pipe = redis::pipe();
        pipe.atomic().del(&key).ignore();
        for chunk in counts.chunks(CHUNK) {
            pipe.hset_multiple(&key, chunk).ignore();
        }
        if overflow > 0 {
            pipe.hset(&key, OVERFLOW, overflow).ignore();
        }
        pipe.pexpire(&key, ttl.as_millis().max(1) as i64).ignore();
        core.call(|mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await
    }

    /// The cluster's counts.
    ///
    /// # Errors
    ///
    /// Redis cannot be reached.
    pub async fn read(&self) -> Result<ClusterUsers, SeqError> {
        let core = &self.core;
        core.check_open()?;
        let nodes_key = core.keys.nodes();
        let nodes: Vec<u64> = core
            .call(|mut c| async move {
                redis::cmd("ZRANGE")
                    .arg(nodes_key)
                    .arg(0)
                    .arg(MAX_NODES - 1)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let mut pipe = redis::pipe();
        for n in &nodes {
            pipe.hgetall(core.keys.node_users(*n));
        }
        let hashes: Vec<Value> = core
            .call(|mut c| async move { pipe.query_async(&mut c).await })
            .await?;
        let mut out = ClusterUsers::default();
        for h in hashes {
            let fields = items(h);
            if fields.is_empty() {
                continue;
            }
            out.nodes += 1;
            let mut kv = fields.iter();
            while let (Some(k), Some(v)) = (kv.next(), kv.next()) {
                let (Some(k), Some(v)) = (text(k), int(v)) else {
                    continue;
                };
                if k == OVERFLOW {
                    out.overflow = out.overflow.saturating_add(v);
                } else {
                    let n = out.users.entry(k).or_insert(0);
                    *n = n.saturating_add(v);
                }
            }
        }
        Ok(out)
    }
}
