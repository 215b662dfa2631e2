//! The generator's hot path: a few threads, each owning its share of the connections in
//! one `epoll` set (level-triggered) and a `timerfd` for the posters' schedule. For each
//! readable socket: one `read` into a shared 64 KiB buffer, then the frames
//! ([`Receiver`]). When a poster is due: its post, written at once. No task, no waker,
//! no lock, no allocation per frame.
//!
//! Why not tokio: with one task per connection each received frame cost a wake-up, a
//! poll and a second `read` that says `WouldBlock` (tokio clears readiness only then);
//! a level-triggered `epoll` loop reads each ready socket once per wake and moves on.
//! Linux only, as the rest of this generator (it reads `/proc`).
//!
//! Members that do not time their deliveries (`--sample`) sit in a second, *lazy* epoll
//! set that is looked at only every `--unsampled-read-ms` (5 ms by default): by then a
//! busy socket holds several frames, read with one `recv`, and the kernel sends one ACK
//! for them instead of one per frame. That is where the time goes: in a `perf` profile
//! at 400 posts/s into 1 000 members three quarters of the generator's CPU is the
//! kernel's, `recv` (with the ACK it sends) over half, `epoll_wait` a fifth. Sampled
//! members and posters are read at once, so the latency measured is not delayed.
//!
//! Timing: a post's stamp is its *scheduled* time, as before. The `timerfd` wakes the
//! thread at that time (tokio's timer has 1 ms resolution; the old generator's posts
//! were late by up to 1 ms, and that counted as latency); posts that fell due while the
//! thread was busy go out at once, in order, each with its own scheduled stamp (open
//! loop, no coordinated omission).

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::client::{Conn, Phase, Shared};
use super::receiver::{Outcome, Receiver};
use super::wire::{self, opcode};

/// Bytes read per `read` call (one buffer per thread, shared by its connections).
const READ_BUF: usize = 64 * 1024;
/// Events taken per `epoll_wait`.
const MAX_EVENTS: usize = 512;
/// Longest a thread sleeps before looking at its inbox and the phase.
const TICK_MS: i32 = 10;
/// The timerfd's token (connections use their slot index).
const TIMER: u64 = u64::MAX;

/// A poster's schedule and what it posts.
#[derive(Debug)]
pub struct Poster {
    /// Time between its posts.
    pub period: Duration,
    /// Its first post's offset from the posting start.
    pub offset: Duration,
    /// The room it posts in.
    pub room: String,
    /// Padding after the stamp in each post's text.
    pub pad: usize,
    next: Option<Instant>,
    next_id: u64,
}

impl Poster {
    pub fn new(period: Duration, offset: Duration, room: String, pad: usize) -> Self {
        Self {
            period,
            offset,
            room,
            pad,
            next: None,
            next_id: 0,
        }
    }
}

/// A joined connection handed to a reactor.
#[derive(Debug)]
pub struct Member {
    pub stream: std::net::TcpStream,
    pub conn: Arc<Conn>,
    pub receiver: Receiver,
    pub poster: Option<Poster>,
}

/// A member inside a reactor: plus the bytes it has not managed to write yet.
#[derive(Debug)]
struct Slot {
    m: Member,
    fd: RawFd,
    /// The epoll set it is in (the prompt one or the lazy one).
    ep: RawFd,
    out: Vec<u8>,
    /// `EPOLLOUT` is in its interest set (some `out` is waiting).
    writing: bool,
}

/// The reactor threads of one run.
#[derive(Debug)]
pub struct Reactors {
    inboxes: Vec<Arc<Mutex<Vec<Member>>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Reactors {
    /// Starts `n` threads (at least one), which follow `phase` and stop at `Done`.
    /// `lazy`: how often members that neither time deliveries nor post are read (`None`:
    /// at once, as the others).
    ///
    /// # Errors
    ///
    /// `epoll_create1`, `timerfd_create` or the thread spawn failed.
    pub fn start(
        n: usize,
        shared: Arc<Shared>,
        phase: watch::Receiver<Phase>,
        lazy: Option<Duration>,
    ) -> io::Result<Self> {
        let mut inboxes = Vec::new();
        let mut threads = Vec::new();
        for i in 0..n.max(1) {
            let inbox = Arc::new(Mutex::new(Vec::new()));
            let mut reactor = Reactor::new(shared.clone(), phase.clone(), inbox.clone(), lazy)?;
            let t = std::thread::Builder::new()
                .name(format!("chat_load-{i}"))
                .spawn(move || reactor.run())?;
            inboxes.push(inbox);
            threads.push(t);
        }
        Ok(Reactors {
            inboxes,
            threads: Mutex::new(threads),
        })
    }

    /// Hands connection `index`'s member to its thread (`index` modulo the threads).
    pub fn add(&self, index: usize, m: Member) {
        let inbox = &self.inboxes[index % self.inboxes.len()];
        inbox.lock().unwrap_or_else(|e| e.into_inner()).push(m);
    }

    /// Waits for the threads to close their connections and stop (after `Done`).
    pub fn join(&self) {
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

/// One thread's state.
struct Reactor {
    shared: Arc<Shared>,
    phase_rx: watch::Receiver<Phase>,
    phase: Phase,
    inbox: Arc<Mutex<Vec<Member>>>,
    epoll: Fd,
    /// Members read only every `lazy_every`.
    lazy: Fd,
    lazy_every: Option<Duration>,
    lazy_next: Instant,
    lazy_count: usize,
    timer: Fd,
    /// When the timer is set to fire.
    armed: Option<Instant>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    /// Slots of posters.
    posters: Vec<usize>,
    buf: Vec<u8>,
    replies: Vec<u8>,
    post: Vec<u8>,
}

/// An owned file descriptor from libc.
struct Fd(RawFd);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed once.
        unsafe { libc::close(self.0) };
    }
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn ctl(ep: RawFd, op: libc::c_int, fd: RawFd, token: u64, events: libc::c_int) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: events as u32,
        u64: token,
    };
    // SAFETY: `ev` is a valid epoll_event for the call; `ep` and `fd` are open.
    check(unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) }).map(|_| ())
}

/// `epoll_wait` on `ep` for up to `timeout_ms`; the number of events (0 on an error such
/// as `EINTR`).
fn wait(ep: RawFd, events: &mut [libc::epoll_event], timeout_ms: i32) -> usize {
    // SAFETY: `events` has room for `events.len()` entries.
    let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, timeout_ms) };
    n.max(0) as usize
}

impl Reactor {
    fn new(
        shared: Arc<Shared>,
        phase_rx: watch::Receiver<Phase>,
        inbox: Arc<Mutex<Vec<Member>>>,
        lazy_every: Option<Duration>,
    ) -> io::Result<Self> {
        // SAFETY: plain syscalls with valid flags; the results are checked.
        let epoll = Fd(check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?);
        // SAFETY: as above.
        let lazy = Fd(check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?);
        // SAFETY: as above.
        let timer = Fd(check(unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        })?);
        let r = Reactor {
            shared,
            phase_rx,
            phase: Phase::Connecting,
            inbox,
            epoll,
            lazy,
            lazy_every,
            lazy_next: Instant::now(),
            lazy_count: 0,
            timer,
            armed: None,
            slots: Vec::new(),
            free: Vec::new(),
            posters: Vec::new(),
            buf: vec![0; READ_BUF],
            replies: Vec::new(),
            post: Vec::new(),
        };
        ctl(
            r.epoll.0,
            libc::EPOLL_CTL_ADD,
            r.timer.0,
            TIMER,
            libc::EPOLLIN,
        )?;
        Ok(r)
    }

    fn run(&mut self) {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
        loop {
            self.take_inbox();
            if self.phase_rx.has_changed().unwrap_or(true) {
                let p = *self.phase_rx.borrow_and_update();
                if self.phase_rx.has_changed().is_err() {
                    self.set_phase(Phase::Done);
                } else {
                    self.set_phase(p);
                }
                if self.phase == Phase::Done {
                    return self.close_all();
                }
            }
            self.post_due();
            let mut timeout = TICK_MS;
            if self.lazy_every.is_some() {
                let until = self.lazy_next.saturating_duration_since(Instant::now());
                timeout = timeout.min(until.as_micros().div_ceil(1000) as i32);
            }
            let n = wait(self.epoll.0, &mut events, timeout);
            self.dispatch(&events[..n]);
            if let Some(every) = self.lazy_every {
                let now = Instant::now();
                if now >= self.lazy_next {
                    self.lazy_next = now + every;
                    // Level-triggered: each ready member once per round, however much
                    // it holds; a member with more than a buffer's worth comes back.
                    for _ in 0..=self.lazy_count / MAX_EVENTS {
                        let n = wait(self.lazy.0, &mut events, 0);
                        self.dispatch(&events[..n]);
                        if n < MAX_EVENTS {
                            break;
                        }
                    }
                }
            }
        }
    }

    /// Handles what `epoll_wait` reported.
    fn dispatch(&mut self, events: &[libc::epoll_event]) {
        for ev in events {
            let (token, flags) = (ev.u64, ev.events as libc::c_int);
            if token == TIMER {
                let mut expirations = [0u8; 8];
                // SAFETY: reads at most 8 bytes into the array.
                unsafe { libc::read(self.timer.0, expirations.as_mut_ptr().cast(), 8) };
                self.armed = None;
                continue;
            }
            let slot = token as usize;
            if flags & libc::EPOLLOUT != 0 {
                self.flush(slot);
            }
            if flags & (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLRDHUP) != 0 {
                self.read(slot);
            }
        }
    }

    fn take_inbox(&mut self) {
        let new = std::mem::take(&mut *self.inbox.lock().unwrap_or_else(|e| e.into_inner()));
        for m in new {
            let fd = m.stream.as_raw_fd();
            let poster = m.poster.is_some();
            let lazy = self.lazy_every.is_some() && !poster && !m.receiver.sampled();
            let ep = if lazy { self.lazy.0 } else { self.epoll.0 };
            let slot = Slot {
                m,
                fd,
                ep,
                out: Vec::new(),
                writing: false,
            };
            let i = match self.free.pop() {
                Some(i) => {
                    self.slots[i] = Some(slot);
                    i
                }
                None => {
                    self.slots.push(Some(slot));
                    self.slots.len() - 1
                }
            };
            if ctl(
                ep,
                libc::EPOLL_CTL_ADD,
                fd,
                i as u64,
                libc::EPOLLIN | libc::EPOLLRDHUP,
            )
            .is_err()
            {
                self.drop_slot(i, Some(0));
                continue;
            }
            if lazy {
                self.lazy_count += 1;
            }
            if poster {
                self.posters.push(i);
                if let Phase::Posting { start } = self.phase {
                    self.schedule(i, start);
                }
            }
            // Frames that came with the handshake.
            self.handle(i, 0);
        }
    }

    fn set_phase(&mut self, p: Phase) {
        self.phase = p;
        match p {
            Phase::Posting { start } => {
                for i in self.posters.clone() {
                    self.schedule(i, start);
                }
            }
            Phase::Draining | Phase::Done => {
                for &i in &self.posters {
                    if let Some(Some(s)) = self.slots.get_mut(i) {
                        if let Some(p) = s.m.poster.as_mut() {
                            p.next = None;
                        }
                    }
                }
            }
            Phase::Connecting => {}
        }
    }

    fn schedule(&mut self, i: usize, start: Instant) {
        if let Some(Some(s)) = self.slots.get_mut(i) {
            if let Some(p) = s.m.poster.as_mut() {
                p.next.get_or_insert(start + p.offset);
            }
        }
    }

    /// Sends every post due by now (several if the thread was late: each keeps its
    /// scheduled stamp) and sets the timer for the next one.
    fn post_due(&mut self) {
        let now = Instant::now();
        let mut earliest: Option<Instant> = None;
        let mut k = 0;
        while k < self.posters.len() {
            let i = self.posters[k];
            k += 1;
            let Some(Some(s)) = self.slots.get_mut(i) else {
                continue;
            };
            let Some(p) = s.m.poster.as_mut() else {
                continue;
            };
            let mut wrote = false;
            while let Some(due) = p.next.filter(|d| *d <= now) {
                let stamp = self.shared.ns(due);
                p.next_id += 1;
                self.post.clear();
                self.post.extend_from_slice(br#"{"type":"post","room":""#);
                self.post.extend_from_slice(p.room.as_bytes());
                self.post.extend_from_slice(br#"","text":""#);
                wire::push_stamp(&mut self.post, stamp);
                self.post.push(b' ');
                self.post.resize(self.post.len() + p.pad, b'x');
                // The id carries the stamp too, so the ack is timed without a table of
                // posts in flight; the counter keeps ids unique.
                let _ = write!(self.post, r#"","id":"t{stamp}-{}"}}"#, p.next_id);
                wire::push_frame(&mut s.out, opcode::TEXT, &self.post);
                s.m.conn.stats.sent.fetch_add(1, Relaxed);
                if self.shared.in_window(stamp) {
                    s.m.conn.stats.sent_window.fetch_add(1, Relaxed);
                }
                p.next = Some(due + p.period);
                wrote = true;
            }
            if let Some(next) = p.next {
                earliest = Some(earliest.map_or(next, |e| e.min(next)));
            }
            if wrote {
                self.flush(i);
            }
        }
        self.posters
            .retain(|&i| matches!(self.slots.get(i), Some(Some(_))));
        if let Some(at) = earliest {
            if self.armed != Some(at) {
                self.arm(at);
            }
        }
    }

    /// Sets the timer to fire at `at` (at once if that has passed).
    fn arm(&mut self, at: Instant) {
        let d = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: d.as_secs() as libc::time_t,
                tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
            },
        };
        // SAFETY: `spec` is valid; the old value is not asked for.
        unsafe { libc::timerfd_settime(self.timer.0, 0, &spec, std::ptr::null_mut()) };
        self.armed = Some(at);
    }

    /// Reads once from slot `i` and handles what came.
    fn read(&mut self, i: usize) {
        let Some(Some(s)) = self.slots.get_mut(i) else {
            return;
        };
        match (&s.m.stream).read(&mut self.buf) {
            Ok(0) => self.drop_slot(i, Some(0)),
            Ok(n) => self.handle(i, n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => self.drop_slot(i, Some(0)),
        }
    }

    /// Feeds the first `n` bytes of the read buffer to slot `i`'s receiver.
    fn handle(&mut self, i: usize, n: usize) {
        let Some(Some(s)) = self.slots.get_mut(i) else {
            return;
        };
        let stats = &s.m.conn.stats;
        let outcome =
            s.m.receiver
                .feed(&self.buf[..n], &self.shared, stats, &mut self.replies);
        if !self.replies.is_empty() {
            s.out.append(&mut self.replies);
            self.flush(i);
        }
        match outcome {
            Outcome::Open => {}
            Outcome::Closed(code) => {
                if let Some(Some(s)) = self.slots.get_mut(i) {
                    // Answer the close, after whatever is waiting to go out (a frame cut
                    // in two would garble the stream); best effort, as the socket is
                    // dropped right after.
                    let payload = if code == 0 {
                        Vec::new()
                    } else {
                        code.to_be_bytes().to_vec()
                    };
                    wire::push_frame(&mut s.out, opcode::CLOSE, &payload);
                    let _ = (&s.m.stream).write(&s.out);
                }
                self.drop_slot(i, Some(code));
            }
            Outcome::Broken(why) => {
                self.shared.events.error(&format!("bad_frame: {why}"));
                self.drop_slot(i, Some(0));
            }
        }
    }

    /// Writes what slot `i` has waiting; whatever the socket does not take now waits
    /// for `EPOLLOUT`.
    fn flush(&mut self, i: usize) {
        let Some(Some(s)) = self.slots.get_mut(i) else {
            return;
        };
        let mut gone = false;
        while !s.out.is_empty() {
            match (&s.m.stream).write(&s.out) {
                Ok(n) => {
                    s.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    gone = true;
                    break;
                }
            }
        }
        if gone {
            return self.drop_slot(i, Some(0));
        }
        let want = !s.out.is_empty();
        if want != s.writing {
            s.writing = want;
            let interest = libc::EPOLLIN | libc::EPOLLRDHUP | if want { libc::EPOLLOUT } else { 0 };
            let _ = ctl(s.ep, libc::EPOLL_CTL_MOD, s.fd, i as u64, interest);
        }
    }

    /// Forgets slot `i` (closing its socket); `Some(code)` counts it as a close the run
    /// did not ask for, unless the run is done.
    fn drop_slot(&mut self, i: usize, lost: Option<u16>) {
        let Some(s) = self.slots.get_mut(i).and_then(Option::take) else {
            return;
        };
        let _ = ctl(s.ep, libc::EPOLL_CTL_DEL, s.fd, 0, 0);
        if s.ep == self.lazy.0 {
            self.lazy_count -= 1;
        }
        s.m.conn.held.store(false, Relaxed);
        if let Some(code) = lost {
            if self.phase != Phase::Done {
                self.shared.events.closed(code);
            }
        }
        self.free.push(i);
    }

    /// The run is over: a close frame to every connection, then the sockets are closed.
    fn close_all(&mut self) {
        let mut f = Vec::new();
        wire::push_frame(&mut f, opcode::CLOSE, &wire::close_payload(1000, "done"));
        for i in 0..self.slots.len() {
            if let Some(Some(s)) = self.slots.get_mut(i) {
                s.out.extend_from_slice(&f);
                let _ = (&s.m.stream).write(&s.out);
                let _ = s.m.stream.shutdown(std::net::Shutdown::Write);
            }
            self.drop_slot(i, None);
        }
    }
}
