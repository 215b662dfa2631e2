//! The per-subscriber queue: a bounded `VecDeque` under a cheap lock, with one waker
//! slot for the subscriber and one for a publisher waiting for room.
//!
//! This is the part loom checks (`tests/loom_broadcast.rs`): push / pop / close /
//! disconnect / unsubscribe and waker registration. Lock order everywhere: the
//! broadcaster's sequencer lock, then a queue lock; never the other way round.

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

use super::policy::{Overflow, Status, SubscriberStats};
use super::subscriber::Delivery;
use super::RecvError;
use crate::sync::Mutex;

/// What [`Queue::push`] did with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued.
    Delivered,
    /// Queued after evicting the oldest message (`DropOldest`).
    Evicted,
    /// Refused and counted (`DropNewest`).
    Dropped,
    /// Refused, counted, and the queue is now disconnected (`Disconnect`).
    Disconnected,
    /// Full and the policy is `Block`: nothing happened, the caller decides.
    Full,
    /// The queue is no longer open (closed, disconnected, unsubscribed).
    Gone,
}

pub(crate) struct Queue<T> {
    pub(crate) id: u64,
    pub(crate) capacity: usize,
    pub(crate) overflow: Overflow,
    inner: Mutex<Inner<T>>,
}

struct Inner<T> {
    buf: VecDeque<Delivery<T>>,
    /// Evicted and not yet reported to the subscriber (`DropOldest`).
    lagged: u64,
    status: Status,
    rx_waker: Option<Waker>,
    space_waker: Option<Waker>,
    stats: SubscriberStats,
}

impl<T> Inner<T> {
    /// Takes the subscriber's waker, to be woken after the lock is released.
    fn take_rx(&mut self) -> Option<Waker> {
        self.rx_waker.take()
    }
}

fn wake(w: Option<Waker>) {
    if let Some(w) = w {
        w.wake();
    }
}

fn register(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

impl<T> Queue<T> {
    pub(crate) fn new(id: u64, capacity: usize, overflow: Overflow) -> Self {
        Self {
            id,
            capacity,
            overflow,
            inner: Mutex::new(Inner {
                buf: VecDeque::new(),
                lagged: 0,
                status: Status::Open,
                rx_waker: None,
                space_waker: None,
                stats: SubscriberStats::default(),
            }),
        }
    }

    fn lock(&self) -> crate::sync::MutexGuard<'_, Inner<T>> {
        // A poisoned queue lock can only come from a panic in a waker or allocator while
        // held; the queue state itself is always consistent, so keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Offers message `seq` to this queue, cloning `msg` only if it is queued.
    pub(crate) fn push(&self, seq: u64, msg: &T) -> Pushed
    where
        T: Clone,
    {
        let mut g = self.lock();
        if g.status != Status::Open {
            return Pushed::Gone;
        }
        let mut evicted = None;
        let out = if g.buf.len() < self.capacity {
            Pushed::Delivered
        } else {
            match self.overflow {
                Overflow::DropNewest => {
                    g.stats.dropped += 1;
                    return Pushed::Dropped;
                }
                Overflow::DropOldest => {
                    evicted = g.buf.pop_front();
                    g.lagged += 1;
                    g.stats.dropped += 1;
                    g.stats.dropped_oldest += 1;
                    Pushed::Evicted
                }
                Overflow::Disconnect => {
                    let w = Self::disconnect_locked(&mut g);
                    drop(g);
                    wake(w);
                    return Pushed::Disconnected;
                }
                Overflow::Block { .. } => return Pushed::Full,
            }
        };
        g.buf.push_back(Delivery {
            seq,
            msg: msg.clone(),
        });
        g.stats.enqueued += 1;
        let w = g.take_rx();
        drop(g);
        drop(evicted);
        wake(w);
        out
    }

    /// Whether a `Block` push would find the queue full right now.
    pub(crate) fn is_full(&self) -> bool {
        let g = self.lock();
        g.status == Status::Open && g.buf.len() >= self.capacity
    }

    /// Ready(true) when there is room, Ready(false) when the queue is no longer open.
    pub(crate) fn poll_space(&self, cx: &Context<'_>) -> Poll<bool> {
        let mut g = self.lock();
        if g.status != Status::Open {
            Poll::Ready(false)
        } else if g.buf.len() < self.capacity {
            Poll::Ready(true)
        } else {
            register(&mut g.space_waker, cx);
            Poll::Pending
        }
    }

    fn disconnect_locked(g: &mut Inner<T>) -> Option<Waker> {
        g.stats.dropped += 1;
        g.status = Status::Disconnected;
        g.space_waker = None;
        g.take_rx()
    }

    /// Marks the queue disconnected, counting one dropped message. Returns false if
    /// it was not open.
    pub(crate) fn disconnect(&self) -> bool {
        let mut g = self.lock();
        if g.status != Status::Open {
            return false;
        }
        let w = Self::disconnect_locked(&mut g);
        drop(g);
        wake(w);
        true
    }

    /// Ends the queue with `status` (Closed or Unsubscribed) if it is still open; queued
    /// messages stay receivable. Wakes the subscriber and any waiting publisher.
    pub(crate) fn end(&self, status: Status) -> bool {
        let mut g = self.lock();
        if g.status != Status::Open {
            return false;
        }
        g.status = status;
        let rx = g.take_rx();
        let sp = g.space_waker.take();
        drop(g);
        wake(rx);
        wake(sp);
        true
    }

    /// Refills the subscriber's empty local batch with everything queued, in one lock
    /// (an O(1) buffer swap), or returns the pending `Lagged` notice or the terminal
    /// error; registers `cx` (if any) when nothing is queued and the queue is open.
    ///
    /// `local` must be empty; after `Ready(Ok(()))` it is not.
    pub(crate) fn poll_refill(
        &self,
        cx: Option<&Context<'_>>,
        local: &mut VecDeque<Delivery<T>>,
    ) -> Poll<Result<(), RecvError>> {
        debug_assert!(local.is_empty());
        let mut g = self.lock();
        if g.lagged > 0 {
            let n = std::mem::take(&mut g.lagged);
            return Poll::Ready(Err(RecvError::Lagged(n)));
        }
        if !g.buf.is_empty() {
            std::mem::swap(&mut g.buf, local);
            g.stats.received += local.len() as u64;
            let sp = g.space_waker.take();
            drop(g);
            wake(sp);
            return Poll::Ready(Ok(()));
        }
        match g.status {
            Status::Open => {
                if let Some(cx) = cx {
                    register(&mut g.rx_waker, cx);
                }
                Poll::Pending
            }
            Status::Disconnected => Poll::Ready(Err(RecvError::Disconnected)),
            _ => Poll::Ready(Err(RecvError::Closed)),
        }
    }

    /// Counters; `local` is the subscriber's batch, counted as queued, not received.
    pub(crate) fn stats(&self, local: usize) -> SubscriberStats {
        let g = self.lock();
        let mut s = g.stats;
        s.queued = g.buf.len() + local;
        s.received -= local as u64;
        s
    }

    pub(crate) fn status(&self) -> Status {
        self.lock().status
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().buf.len()
    }
}
