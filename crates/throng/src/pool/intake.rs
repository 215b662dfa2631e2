#![cfg_attr(loom, allow(missing_docs))]
//! The intake/close core: one lock over the queue and the pool's lifecycle flags.
//!
//! Checking "open?" and enqueueing happen under the same lock, so a submit that races a
//! shutdown either lands in the queue (and is later run or handed back) or gets its job
//! back as `Closed`; it never observes a half-closed queue (the seed's S15-1 panic). The
//! core only says *who to wake*; the async layer does the waking with `Notify`, after the
//! lock is released. `tests/loom_pool.rs` explores this core.

use std::collections::VecDeque;

use crate::sync::Mutex;

/// Result of [`Intake::push`].
#[derive(Debug)]
pub enum Push<T> {
    /// Queued. `wake_worker`: an idle worker was claimed and must be notified.
    Accepted { wake_worker: bool },
    /// The queue is at capacity; the item is handed back.
    Full(T),
    /// Intake is closed; the item is handed back.
    Closed(T),
}

/// Result of [`Intake::reserve`].
#[cfg(feature = "tower")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserve {
    /// One slot is held for a later [`Intake::push_reserved`] (or [`Intake::release`]).
    Reserved,
    /// Queue and reservations are at capacity.
    Full,
    /// Intake is closed.
    Closed,
}

/// Result of [`Intake::pop`].
#[derive(Debug)]
pub enum Pop<T> {
    /// An item to run. `wake_submitter`: a waiting submitter was claimed and must be
    /// notified that there is room.
    Item { item: T, wake_submitter: bool },
    /// Nothing queued; with `register`, the caller was counted as idle and will be woken
    /// by the next push.
    Empty,
    /// Closed and drained, or halted: the worker should exit.
    Finished,
}

#[derive(Debug)]
struct State<T> {
    queue: VecDeque<T>,
    capacity: usize,
    /// Slots promised to reservations (a tower `poll_ready`): counted against capacity.
    reserved: usize,
    /// No more pushes; workers drain what is queued.
    closed: bool,
    /// No more pops either; the queue was handed back.
    halted: bool,
    idle_workers: usize,
    waiting_submitters: usize,
    accepted: u64,
}

impl<T> State<T> {
    /// `true` if every slot is queued or reserved; with `register`, the caller is then
    /// counted as a waiting submitter.
    fn no_room(&mut self, register: bool) -> bool {
        let full = self.queue.len() + self.reserved >= self.capacity;
        if full && register {
            self.waiting_submitters += 1;
        }
        full
    }

    /// Queues `item`, claiming an idle worker to wake if there is one.
    fn enqueue(&mut self, item: T) -> Push<T> {
        self.queue.push_back(item);
        self.accepted += 1;
        let wake_worker = self.idle_workers > 0;
        if wake_worker {
            self.idle_workers -= 1;
        }
        Push::Accepted { wake_worker }
    }
}

/// The bounded queue plus the closed/halted flags, under one lock.
#[derive(Debug)]
pub struct Intake<T> {
    state: Mutex<State<T>>,
}

impl<T> Intake<T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(capacity.min(4096)),
                capacity,
                reserved: 0,
                closed: false,
                halted: false,
                idle_workers: 0,
                waiting_submitters: 0,
                accepted: 0,
            }),
        }
    }

    fn lock(&self) -> crate::sync::MutexGuard<'_, State<T>> {
        // The lock is never held across user code, so poisoning cannot leave the state
        // half-updated; recover rather than panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Enqueues `item` if intake is open and there is room. With `register` and a full
    /// queue, the caller is counted as a waiting submitter (to be woken by a pop).
    pub fn push(&self, item: T, register: bool) -> Push<T> {
        let mut s = self.lock();
        if s.closed {
            return Push::Closed(item);
        }
        if s.no_room(register) {
            return Push::Full(item);
        }
        s.enqueue(item)
    }

    #[cfg(feature = "tower")]
    /// Holds one slot of capacity for a later [`push_reserved`](Self::push_reserved).
    /// With `register` and no room, the caller is counted as a waiting submitter.
    pub fn reserve(&self, register: bool) -> Reserve {
        let mut s = self.lock();
        if s.closed {
            return Reserve::Closed;
        }
        if s.no_room(register) {
            return Reserve::Full;
        }
        s.reserved += 1;
        Reserve::Reserved
    }

    #[cfg(feature = "tower")]
    /// Enqueues `item` into a slot held by [`reserve`](Self::reserve) (never `Full`);
    /// `Closed` if intake closed since, which also gives the slot up.
    pub fn push_reserved(&self, item: T) -> Push<T> {
        let mut s = self.lock();
        s.reserved = s.reserved.saturating_sub(1);
        if s.closed {
            return Push::Closed(item);
        }
        s.enqueue(item)
    }

    #[cfg(feature = "tower")]
    /// Gives up a slot held by [`reserve`](Self::reserve). Returns `true` if a waiting
    /// submitter was claimed and must be notified that there is room.
    pub fn release(&self) -> bool {
        let mut s = self.lock();
        s.reserved = s.reserved.saturating_sub(1);
        let wake_submitter = s.waiting_submitters > 0 && !s.closed;
        if wake_submitter {
            s.waiting_submitters -= 1;
        }
        wake_submitter
    }

    /// Takes the oldest item. With `register` and an empty open queue, the caller is
    /// counted as idle (to be woken by a push).
    pub fn pop(&self, register: bool) -> Pop<T> {
        let mut s = self.lock();
        if s.halted {
            return Pop::Finished;
        }
        match s.queue.pop_front() {
            Some(item) => {
                let wake_submitter = s.waiting_submitters > 0 && !s.closed;
                if wake_submitter {
                    s.waiting_submitters -= 1;
                }
                Pop::Item {
                    item,
                    wake_submitter,
                }
            }
            None if s.closed => Pop::Finished,
            None => {
                if register {
                    s.idle_workers += 1;
                }
                Pop::Empty
            }
        }
    }

    /// Stops intake. Returns `true` for the call that closed it.
    pub fn close(&self) -> bool {
        let mut s = self.lock();
        let first = !s.closed;
        s.closed = true;
        first
    }

    /// Stops intake and pops, and hands back everything still queued, oldest first.
    pub fn halt(&self) -> Vec<T> {
        let mut s = self.lock();
        s.closed = true;
        s.halted = true;
        s.queue.drain(..).collect()
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// `(queued, accepted so far)`.
    pub fn counts(&self) -> (usize, u64) {
        let s = self.lock();
        (s.queue.len(), s.accepted)
    }
}
