//! The delivery task: reads the delivery stream with `XREAD BLOCK` from the last id it
//! applied, on its own connection, and hands each event to the node's [`Deliver`] target
//! in order. Reconnects with throng's retry backoff and resumes where it stopped.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Value};
use throng::retry::{retry, Backoff};

use super::{entry, field, items, lock, text, Core, Entry, EventId};
use crate::room::event::{ConnId, Control, DisconnectReason, Event, Message, Sequenced};
use crate::room::sequencer::Deliver;

/// How long one `XREAD` blocks.
const BLOCK: Duration = Duration::from_secs(1);
/// Entries read at once.
const BATCH: usize = 512;

/// Runs until the core's stop token is cancelled.
pub(super) async fn run(core: Arc<Core>, deliver: Arc<dyn Deliver>) {
    let policy = Backoff::builder()
        .initial_delay(Duration::from_millis(50))
        .max_delay(Duration::from_secs(2))
        .max_attempts(u32::MAX)
        .build()
        .expect("a valid backoff");
    let mut last: Option<EventId> = None;
    loop {
        let connected = retry(&policy, &core.stop, |_| {
            let core = core.clone();
            async move { connect(&core, last).await }
        })
        .await;
        let (
            mut conn,
            Start {
                from,
                closed,
                missed,
            },
        ) = match connected {
            Ok(c) => c,
            Err(e) if e.is_cancelled() => return,
            Err(e) => {
                tracing::error!(error = %e.inner(), "redis delivery cannot reconnect");
                continue;
            }
        };
        if last.is_none() {
            // Where this node starts: the rooms closed before it, then every event.
            for room in closed {
                deliver.control(&Control::RoomClosed {
                    room: Arc::from(room),
                    closed: true,
                });
            }
            last = Some(from);
            core.applied.send_replace(from);
            core.started.send_replace(true);
        }
        if missed {
            // What is still in the stream is applied as usual; the clients start over.
            deliver.missed();
        }
        core.set_delivery_error(None);
        let mut at = last.unwrap_or(from);
        loop {
            let read = tokio::select! {
                () = core.stop.cancelled() => return,
                r = xread(&core, &mut conn, at) => r,
            };
            match read {
                Ok(entries) => {
                    for e in entries {
                        let Some(id) = EventId::parse(&e.0) else {
                            continue;
                        };
                        apply(&core, &*deliver, e).await;
                        at = id;
                        last = Some(id);
                        core.applied.send_replace(id);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "redis delivery disconnected; resuming from {at}");
                    core.set_delivery_error(Some(e.to_string()));
                    break;
                }
            }
        }
    }
}

/// Where a (re)connected delivery task starts.
struct Start {
    /// The id to read after.
    from: EventId,
    /// On the first connect, the rooms closed then.
    closed: Vec<String>,
    /// On a reconnect, whether events were trimmed before this node read them.
    missed: bool,
}

/// A dedicated connection (a blocking read must not hold up other commands), and where
/// to read from: `last`, or the stream's end on the first connect, with the rooms closed
/// then (read after the end, so a later change is among the events that follow).
async fn connect(
    core: &Core,
    last: Option<EventId>,
) -> Result<(MultiplexedConnection, Start), redis::RedisError> {
    let cfg = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(core.cfg.timeout))
        .set_response_timeout(Some(BLOCK + core.cfg.timeout));
    let mut conn = core
        .client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await
        .inspect_err(|e| core.set_delivery_error(Some(e.to_string())))?;
    let events = core.keys.events();
    match last {
        None => {
            let v: Value = redis::cmd("XREVRANGE")
                .arg(&events)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut conn)
                .await?;
            let tail = items(v)
                .into_iter()
                .next()
                .and_then(entry)
                .and_then(|e| EventId::parse(&e.0))
                .unwrap_or_default();
            let closed: Vec<String> = redis::cmd("SMEMBERS")
                .arg(core.keys.closed_rooms())
                .query_async(&mut conn)
                .await?;
            Ok((
                conn,
                Start {
                    from: tail,
                    closed,
                    missed: false,
                },
            ))
        }
        Some(last) => {
            let missed = check_loss(core, &mut conn, &events, last).await;
            Ok((
                conn,
                Start {
                    from: last,
                    closed: Vec::new(),
                    missed,
                },
            ))
        }
    }
}

/// Counts (and logs) events trimmed from the stream before this node read them; `true`
/// if there were any.
async fn check_loss(
    core: &Core,
    conn: &mut MultiplexedConnection,
    events: &str,
    last: EventId,
) -> bool {
    let info: Result<Value, _> = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(events)
        .query_async(conn)
        .await;
    let Ok(info) = info else {
        return false; // no stream yet: nothing was trimmed
    };
    let mut kv = items(info).into_iter();
    while let (Some(k), Some(v)) = (kv.next(), kv.next()) {
        if text(&k).as_deref() == Some("max-deleted-entry-id") {
            if let Some(deleted) = text(&v).and_then(|s| EventId::parse(&s)) {
                if deleted > last {
                    core.metrics.delivery_gaps.inc();
                    tracing::error!(%last, %deleted, "events were trimmed from the delivery stream before this node read them");
                    return true;
                }
            }
        }
    }
    false
}

async fn xread(
    core: &Core,
    conn: &mut MultiplexedConnection,
    at: EventId,
) -> Result<Vec<Entry>, redis::RedisError> {
    let v: Value = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(BATCH)
        .arg("BLOCK")
        .arg(BLOCK.as_millis() as u64)
        .arg("STREAMS")
        .arg(core.keys.events())
        .arg(at.to_string())
        .query_async(conn)
        .await?;
    // [[stream, [entry, …]]] (or nil on timeout)
    Ok(items(v)
        .into_iter()
        .flat_map(|s| items(s).into_iter().nth(1).map(items).unwrap_or_default())
        .filter_map(entry)
        .collect())
}

/// Turns one entry into an event and delivers it; a join of this instance waits
/// (bounded) for the snapshot its joiner is about to hand over.
async fn apply(core: &Core, deliver: &dyn Deliver, e: Entry) {
    let (id, f) = e;
    if let Some("x" | "z") = field(&f, "k") {
        match control(&f) {
            Some(c) => deliver.control(&c),
            None => tracing::warn!(%id, "skipping a malformed control entry"),
        }
        return;
    }
    let parsed = (|| {
        let room: Arc<str> = Arc::from(field(&f, "r")?);
        let pos: u64 = field(&f, "p")?.parse().ok()?;
        let conn = || -> Option<ConnId> {
            Some(ConnId {
                node: field(&f, "n")?.parse().ok()?,
                conn: field(&f, "c")?.parse().ok()?,
            })
        };
        let event = match field(&f, "k")? {
            "m" => Event::Message(Arc::new(Message {
                room: room.clone(),
                seq: field(&f, "s")?.parse().ok()?,
                from: Arc::from(field(&f, "f")?),
                text: Arc::from(field(&f, "t")?),
                ts: field(&f, "ts")?.parse().ok()?,
            })),
            "j" => Event::Join {
                user: Arc::from(field(&f, "u")?),
                conn: conn()?,
                snapshot: None,
            },
            "l" => Event::Leave {
                user: Arc::from(field(&f, "u")?),
                conn: conn()?,
                silent: field(&f, "q") == Some("1"),
            },
            _ => return None,
        };
        Some((room, pos, event, field(&f, "o").map(str::to_owned)))
    })();
    let Some((room, pos, mut event, origin)) = parsed else {
        tracing::warn!(%id, "skipping a malformed delivery-stream entry");
        return;
    };
    if let (Event::Join { snapshot, .. }, Some(origin)) = (&mut event, origin) {
        let token = origin
            .split_once(':')
            .filter(|(inst, _)| inst.parse::<u64>().ok() == Some(core.instance))
            .and_then(|(_, t)| t.parse::<u64>().ok());
        if let Some(token) = token {
            let rx = lock(&core.snapshots).remove(&token);
            if let Some(rx) = rx {
                if let Ok(Ok(snap)) = tokio::time::timeout(core.cfg.timeout, rx).await {
                    *snapshot = Some(snap);
                }
            }
        }
    }
    deliver.deliver(&Sequenced { room, pos, event });
}

/// A control entry (`k` `x`: disconnect `n`:`c` for reason `w`; `k` `z`: room `r`
/// closed when `v` is `1`).
fn control(f: &[(String, String)]) -> Option<Control> {
    match field(f, "k")? {
        "x" => Some(Control::Disconnect {
            conn: ConnId {
                node: field(f, "n")?.parse().ok()?,
                conn: field(f, "c")?.parse().ok()?,
            },
            reason: DisconnectReason::parse(field(f, "w")?)?,
        }),
        "z" => Some(Control::RoomClosed {
            room: Arc::from(field(f, "r")?),
            closed: field(f, "v")? == "1",
        }),
        _ => None,
    }
}
