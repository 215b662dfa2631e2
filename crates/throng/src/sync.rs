//! Synchronization primitives used by the lock-free and lock-based cores of this crate.
//!
//! Under `--cfg loom` these are loom's model-checked versions, so the cores can be
//! explored by `tests/loom_*.rs` without any code change (the shim tokio uses).
#![allow(unused_imports, dead_code)]

#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard, RwLock};

#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard, RwLock};

/// tokio's `Notify`, or under loom a model of it built on loom's `Mutex`.
///
/// tokio is not built with loom here, so its `Notify` would run as one opaque step and
/// loom could not preempt a thread between its state check and its `notified()`: the
/// very interleavings that lose wake-ups. The model has the tokio semantics the pool and
/// the broadcaster rely on, and every call is a loom step.
#[cfg(all(not(loom), any(feature = "pool", feature = "broadcast")))]
pub(crate) use tokio::sync::Notify;

#[cfg(all(loom, any(feature = "pool", feature = "broadcast")))]
pub(crate) use loom_notify::Notify;

#[cfg(all(loom, any(feature = "pool", feature = "broadcast")))]
mod loom_notify {
    //! tokio's `Notify` semantics, as documented:
    //! - `notify_one` wakes the oldest registered waiter, or stores one permit (at most
    //!   one) that the next `notified()` to be polled or enabled consumes;
    //! - `notify_waiters` wakes every waiter registered now and every `Notified` created
    //!   before the call (even if not yet polled), and stores no permit;
    //! - `enable` registers a `Notified` without polling it (and consumes a permit);
    //! - a `Notified` woken by `notify_one` and dropped before it completes passes the
    //!   notification on (to the next waiter, or as the permit).
    use std::collections::VecDeque;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use loom::sync::Mutex;

    #[derive(Debug, Default)]
    pub(crate) struct Notify {
        state: Mutex<State>,
    }

    #[derive(Debug, Default)]
    struct State {
        permit: bool,
        /// `notify_waiters` calls so far.
        generation: u64,
        next_id: u64,
        /// Registered and not yet notified, oldest first, with the waker if polled.
        waiting: VecDeque<(u64, Option<Waker>)>,
        /// Notified and not yet observed: `(id, by notify_one)`.
        notified: Vec<(u64, bool)>,
    }

    impl State {
        fn notify_one(&mut self) -> Option<Waker> {
            match self.waiting.pop_front() {
                Some((id, waker)) => {
                    self.notified.push((id, true));
                    waker
                }
                None => {
                    self.permit = true;
                    None
                }
            }
        }
    }

    impl Notify {
        pub(crate) fn new() -> Self {
            Self::default()
        }

        pub(crate) fn notified(&self) -> Notified<'_> {
            let generation = self.state.lock().unwrap().generation;
            Notified {
                notify: self,
                generation,
                id: None,
                done: false,
            }
        }

        pub(crate) fn notify_one(&self) {
            let waker = self.state.lock().unwrap().notify_one();
            if let Some(w) = waker {
                w.wake();
            }
        }

        pub(crate) fn notify_waiters(&self) {
            let mut st = self.state.lock().unwrap();
            st.generation += 1;
            let woken: Vec<_> = st.waiting.drain(..).collect();
            st.notified.extend(woken.iter().map(|(id, _)| (*id, false)));
            drop(st);
            for (_, w) in woken {
                if let Some(w) = w {
                    w.wake();
                }
            }
        }
    }

    #[derive(Debug)]
    pub(crate) struct Notified<'a> {
        notify: &'a Notify,
        generation: u64,
        id: Option<u64>,
        done: bool,
    }

    impl Notified<'_> {
        pub(crate) fn enable(self: Pin<&mut Self>) -> bool {
            self.get_mut().poll_with(None).is_ready()
        }

        fn poll_with(&mut self, waker: Option<&Waker>) -> Poll<()> {
            if self.done {
                return Poll::Ready(());
            }
            let mut st = self.notify.state.lock().unwrap();
            match self.id {
                Some(id) => {
                    if let Some(i) = st.notified.iter().position(|(n, _)| *n == id) {
                        st.notified.swap_remove(i);
                        self.done = true;
                        return Poll::Ready(());
                    }
                    if let Some(w) = waker {
                        if let Some(entry) = st.waiting.iter_mut().find(|(n, _)| *n == id) {
                            entry.1 = Some(w.clone());
                        }
                    }
                    Poll::Pending
                }
                None => {
                    if st.generation != self.generation || std::mem::take(&mut st.permit) {
                        self.done = true;
                        return Poll::Ready(());
                    }
                    let id = st.next_id;
                    st.next_id += 1;
                    st.waiting.push_back((id, waker.cloned()));
                    self.id = Some(id);
                    Poll::Pending
                }
            }
        }
    }

    impl Future for Notified<'_> {
        type Output = ();

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.get_mut().poll_with(Some(cx.waker()))
        }
    }

    impl Drop for Notified<'_> {
        fn drop(&mut self) {
            let (Some(id), false) = (self.id, self.done) else {
                return;
            };
            let mut st = self.notify.state.lock().unwrap();
            st.waiting.retain(|(n, _)| *n != id);
            let mut waker = None;
            if let Some(i) = st.notified.iter().position(|(n, _)| *n == id) {
                let (_, by_one) = st.notified.swap_remove(i);
                if by_one {
                    waker = st.notify_one();
                }
            }
            drop(st);
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

pub(crate) mod atomic {
    #[cfg(not(loom))]
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

    #[cfg(loom)]
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
}

/// Index of the current thread's shard among `n` (a power of two).
///
/// Each thread draws a stable pseudo-random index once; under loom it is derived from
/// loom's thread id so models stay deterministic.
#[inline]
pub(crate) fn thread_shard(n: usize) -> usize {
    debug_assert!(n.is_power_of_two());
    #[cfg(not(loom))]
    {
        use std::cell::Cell;
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
        }
        SLOT.with(|s| {
            let mut v = s.get();
            if v == usize::MAX {
                // Round-robin assignment: consecutive threads land on distinct shards.
                v = NEXT.fetch_add(1, Ordering::Relaxed);
                s.set(v);
            }
            v & (n - 1)
        })
    }
    #[cfg(loom)]
    {
        let id = format!("{:?}", loom::thread::current().id());
        let digits: usize = id
            .chars()
            .filter(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse()
            .unwrap_or(0);
        digits & (n - 1)
    }
}
