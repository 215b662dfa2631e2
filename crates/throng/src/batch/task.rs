//! The batcher task: fill a batch, decide when to flush, run at most K flushes, hand each
//! item its result.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::mem;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;

use super::batcher::{Msg, Shared};
use super::error::BatchError;
use super::metrics::Reason;
use crate::panic::panic_message;

/// Weighs an item for the `max_bytes` limit.
pub(crate) type Weigher<T> = Arc<dyn Fn(&T) -> usize + Send + Sync>;

pub(crate) struct Limits<T> {
    pub(crate) max_items: usize,
    pub(crate) max_bytes: usize,
    pub(crate) max_delay: Duration,
    pub(crate) max_in_flight: usize,
    pub(crate) weigher: Option<Weigher<T>>,
}

type Reply<R, E> = oneshot::Sender<Result<R, BatchError<E>>>;

struct Filling<T, R, E> {
    items: Vec<T>,
    replies: Vec<Reply<R, E>>,
    bytes: usize,
    /// When the first item arrived plus `max_delay`.
    due: Option<Instant>,
    /// Why it must flush as soon as a slot is free, if it must.
    ready: Option<Reason>,
}

impl<T, R, E> Filling<T, R, E> {
    fn new(cap: usize) -> Self {
        Self {
            items: Vec::with_capacity(cap),
            replies: Vec::with_capacity(cap),
            bytes: 0,
            due: None,
            ready: None,
        }
    }
}

pub(crate) async fn run<T, R, E, F, Fut>(
    mut rx: mpsc::Receiver<Msg<T, R, E>>,
    limits: Limits<T>,
    flush: Arc<F>,
    shared: Arc<Shared>,
) where
    T: Send + 'static,
    R: Send + 'static,
    E: Send + Sync + 'static,
    F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<R>, E>> + Send + 'static,
{
    let counters = &shared.counters;
    let mut batch: Filling<T, R, E> = Filling::new(limits.max_items);
    // Items received but not yet in a batch: the one that would push the batch past
    // `max_bytes` (it opens the next batch) and any received after it.
    let mut carry: VecDeque<Msg<T, R, E>> = VecDeque::new();
    let mut buf: Vec<Msg<T, R, E>> = Vec::with_capacity(limits.max_items.min(1024));
    let mut flights: JoinSet<Result<Vec<R>, E>> = JoinSet::new();
    let mut waiting: HashMap<Id, Vec<Reply<R, E>>> = HashMap::new();
    let mut closing = false;
    let mut timer = std::pin::pin!(tokio::time::sleep(Duration::from_secs(86_400)));
    let mut armed: Option<Instant> = None;
    let mut drained = false;
    loop {
        if shared.abort.is_cancelled() {
            // Shutdown deadline: drop running flushes and everything pending.
            flights.abort_all();
            while let Some(done) = flights.join_next_with_id().await {
                let id = match &done {
                    Ok((id, _)) => *id,
                    Err(e) => e.id(),
                };
                let replies = waiting.remove(&id).unwrap_or_default();
                settle(replies, done.map(|(_, r)| r), counters);
            }
            rx.close();
            let mut dropped = (batch.replies.len() + carry.len()) as u64;
            let mut drained_now = 0;
            while let Ok(_msg) = rx.try_recv() {
                drained_now += 1;
            }
            counters.accepted.fetch_add(drained_now, Relaxed);
            dropped += drained_now;
            counters.cancelled.fetch_add(dropped, Relaxed);
            counters.pending.store(0, Relaxed);
            return; // dropping the replies resolves their handles to Cancelled
        }
        if !closing && shared.stop.is_cancelled() {
            // Seen here too, not only in the select below: while submitters keep the
            // queue non-empty the biased select never reaches the token's branch.
            closing = true;
            rx.close(); // buffered items are still received, then `None`
        }
        // Start a flush if one is due and a slot is free.
        if !batch.items.is_empty() && flights.len() < limits.max_in_flight {
            let reason = batch.ready.or(drained.then_some(Reason::Close));
            if let Some(reason) = reason {
                let full = mem::replace(&mut batch, Filling::new(limits.max_items));
                counters.flushed(reason, full.items.len());
                counters.pending.store(0, Relaxed);
                let fut = flush(full.items);
                let handle = flights.spawn(fut);
                waiting.insert(handle.id(), full.replies);
                continue;
            }
        }
        // Carried items go first, into a batch that has room.
        if batch.ready.is_none() && !carry.is_empty() {
            while batch.ready.is_none() {
                let Some((item, reply)) = carry.pop_front() else {
                    break;
                };
                if let Some(back) = add(&mut batch, &limits, item, reply) {
                    carry.push_front(back);
                }
            }
            continue;
        }
        if drained && batch.items.is_empty() && carry.is_empty() && flights.is_empty() {
            return;
        }
        // Accept items unless the batch is waiting for a slot, or items are carried.
        let can_take = !drained && batch.ready.is_none() && carry.is_empty();
        let room = limits.max_items - batch.items.len();
        let due = batch.due.filter(|_| batch.ready.is_none());
        if let Some(due) = due {
            // One timer for the task's life, re-armed per batch (not a new `Sleep` per
            // wake-up, which would register with the timer wheel every time).
            if armed != Some(due) {
                timer.as_mut().reset(due);
                armed = Some(due);
            }
        }
        // Work first; the tokens are polled (and their waiter lists touched) only when
        // everything else is pending.
        tokio::select! {
            biased;
            Some(done) = flights.join_next_with_id(), if !flights.is_empty() => {
                let id = match &done { Ok((id, _)) => *id, Err(e) => e.id() };
                let replies = waiting.remove(&id).unwrap_or_default();
                settle(replies, done.map(|(_, r)| r), counters);
            }
            () = &mut timer, if due.is_some() => {
                batch.ready = Some(Reason::Delay);
            }
            // Many items per wake-up: the select above is paid once per burst, not per item.
            n = rx.recv_many(&mut buf, room), if can_take => {
                if n == 0 {
                    drained = true;
                }
                counters.accepted.fetch_add(n as u64, Relaxed);
                for (item, reply) in buf.drain(..) {
                    if batch.ready.is_none() && carry.is_empty() {
                        if let Some(back) = add(&mut batch, &limits, item, reply) {
                            carry.push_back(back);
                        }
                    } else {
                        carry.push_back((item, reply));
                    }
                }
                counters.pending.store(batch.items.len() as u64, Relaxed);
            }
            _ = shared.stop.cancelled(), if !closing => {
                closing = true;
                rx.close(); // buffered items are still received, then `None`
            }
            _ = shared.abort.cancelled() => {}
        }
    }
}

fn add<T, R, E>(
    batch: &mut Filling<T, R, E>,
    limits: &Limits<T>,
    item: T,
    reply: Reply<R, E>,
) -> Option<Msg<T, R, E>> {
    let weight = limits.weigher.as_ref().map_or(0, |w| w(&item));
    if !batch.items.is_empty() && batch.bytes.saturating_add(weight) > limits.max_bytes {
        // Would overflow: flush what we have, this item opens the next batch.
        batch.ready = Some(Reason::Bytes);
        return Some((item, reply));
    }
    if batch.items.is_empty() {
        batch.due = Some(Instant::now() + limits.max_delay);
    }
    batch.items.push(item);
    batch.replies.push(reply);
    batch.bytes = batch.bytes.saturating_add(weight);
    if batch.items.len() >= limits.max_items {
        batch.ready = Some(Reason::Items);
    } else if batch.bytes >= limits.max_bytes {
        batch.ready = Some(Reason::Bytes);
    }
    None
}

/// Hands every item of a finished flush its result.
fn settle<R, E>(
    replies: Vec<Reply<R, E>>,
    done: Result<Result<Vec<R>, E>, tokio::task::JoinError>,
    counters: &super::metrics::Counters,
) {
    counters.in_flight.fetch_sub(1, Relaxed);
    let n = replies.len() as u64;
    let error = match done {
        Ok(Ok(results)) if results.len() == replies.len() => {
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(Ok(result));
            }
            counters.succeeded.fetch_add(n, Relaxed);
            return;
        }
        Ok(Ok(results)) => BatchError::LengthMismatch {
            items: replies.len(),
            results: results.len(),
        },
        Ok(Err(e)) => BatchError::Flush(Arc::new(e)),
        Err(e) if e.is_panic() => BatchError::Panicked(panic_message(&*e.into_panic())),
        Err(_) => {
            counters.cancelled.fetch_add(n, Relaxed);
            for reply in replies {
                let _ = reply.send(Err(BatchError::Cancelled));
            }
            return;
        }
    };
    counters.failed.fetch_add(n, Relaxed);
    counters.failed_batches.fetch_add(1, Relaxed);
    for reply in replies {
        let _ = reply.send(Err(error.clone()));
    }
}
