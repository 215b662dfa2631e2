//! Leases: this node's heartbeat, fencing, and reaping nodes whose lease ran out.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use redis::Value;
use tokio::time::{Instant, MissedTickBehavior};

use super::{items, parse_conn, scripts, text, Core};
use crate::room::sequencer::SeqError;

/// Nodes reaped per round, at most.
const REAP_BATCH: usize = 16;

/// Renews the lease every third of it, fences the node when the lease is lost, and
/// reaps expired nodes; until the core's stop token is cancelled.
pub(super) async fn run(core: Arc<Core>) {
    let every = (core.cfg.lease / 3).max(Duration::from_millis(50));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut registered = false;
    let mut renewed = Instant::now();
    loop {
        tokio::select! {
            () = core.stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if core.heartbeat_stopped.load(Ordering::Acquire)
            || core.fenced.load(Ordering::Acquire)
            || core.closed.load(Ordering::Acquire)
        {
            continue;
        }
        match heartbeat(&core, !registered).await {
            Ok(true) => {
                registered = true;
                renewed = Instant::now();
            }
            Ok(false) => fence(&core, "another node reaped this node's lease"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot renew this node's redis lease");
                if registered && renewed.elapsed() > core.cfg.lease {
                    fence(&core, "this node could not renew its lease in time");
                }
            }
        }
        if registered && !core.fenced.load(Ordering::Acquire) {
            if let Err(e) = reap_expired(&core).await {
                tracing::debug!(error = %e, "reaping expired nodes failed");
            }
        }
    }
}

/// Stops renewing the lease (see [`RedisSequencer::stop_heartbeat`](super::RedisSequencer::stop_heartbeat)).
pub(super) fn stop_heartbeat(core: &Core) {
    core.heartbeat_stopped.store(true, Ordering::Release);
}

fn fence(core: &Core, why: &str) {
    if !core.fenced.swap(true, Ordering::AcqRel) {
        tracing::error!(
            node = core.cfg.node,
            "{why}: fencing (every call is refused until restart)"
        );
        core.update_health_metric();
    }
}

/// `Ok(false)`: the lease was taken away.
async fn heartbeat(core: &Core, first: bool) -> Result<bool, SeqError> {
    let mut inv = scripts::HEARTBEAT.prepare_invoke();
    inv.key(core.keys.nodes())
        .arg(core.cfg.node)
        .arg(core.cfg.lease.as_millis() as u64)
        .arg(if first { "1" } else { "0" });
    let reply = items(core.script(inv).await?);
    Ok(reply.first().and_then(text).as_deref() == Some("ok"))
}

async fn reap_expired(core: &Core) -> Result<(), SeqError> {
    let mut inv = scripts::EXPIRED.prepare_invoke();
    inv.key(core.keys.nodes()).arg(REAP_BATCH);
    let dead: Vec<u64> = items(core.script(inv).await?)
        .iter()
        .filter_map(|v| text(v)?.parse().ok())
        .filter(|n| *n != core.cfg.node)
        .collect();
    for node in dead {
        tracing::warn!(node, "reaping a node whose lease ran out");
        reap(core, node).await?;
    }
    Ok(())
}

/// Removes every trace of `node`: its members leave their rooms (silently, with
/// presence for everyone), its names are freed, its lease and bookkeeping deleted.
/// Idempotent, so several reapers at once are fine.
pub(super) async fn reap(core: &Core, node: u64) -> Result<(), SeqError> {
    let k = &core.keys;
    let key = k.node_rooms(node);
    let rooms: Vec<String> = core
        .call(|mut c| async move { redis::cmd("HKEYS").arg(key).query_async(&mut c).await })
        .await?;
    let prefix = format!("{node}:");
    for room in rooms {
        let key = k.room(&room, "members");
        let fields: Vec<String> = core
            .call(|mut c| async move { redis::cmd("HKEYS").arg(key).query_async(&mut c).await })
            .await?;
        for conn in fields
            .iter()
            .filter(|f| f.starts_with(&prefix))
            .filter_map(|f| parse_conn(f))
        {
            // No deadline: the reaper is not answering anyone.
            core.leave(&room, conn, true, u64::MAX / 2).await?;
        }
    }
    let key = k.node_names(node);
    let names: Vec<String> = core
        .call(|mut c| async move { redis::cmd("SMEMBERS").arg(key).query_async(&mut c).await })
        .await?;
    for name in names {
        let mut inv = scripts::FREE_NAME.prepare_invoke();
        inv.key(k.name(&name)).arg(&prefix);
        core.script(inv).await?;
    }
    let (rooms_key, names_key, nodes_key) = (k.node_rooms(node), k.node_names(node), k.nodes());
    let _: Value = core
        .call(|mut c| async move {
            redis::pipe()
                .cmd("DEL")
                .arg(rooms_key)
                .arg(names_key)
                .cmd("ZREM")
                .arg(nodes_key)
                .arg(node)
                .query_async(&mut c)
                .await
        })
        .await?;
    Ok(())
}
