//! The [`Sequencer`] contract: the rules on `room/sequencer.rs`, as checks that run
//! against any implementation. An implementation's test file provides a [`Backend`] (how
//! to start it, and start it again on the same durable state) and instantiates
//! [`sequencer_contract!`] (include this file as `#[path = "support/contract.rs"] mod contract;`).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use throng_chat::room::{
    ConnId, Deliver, Event, HistoryQuery, MemberRequest, PostRequest, SeqError, Sequenced,
    Sequencer,
};

/// How the suite starts the implementation under test.
pub trait Backend {
    /// Starts a sequencer delivering to `deliver`, on the state the previous one (if any,
    /// already shut down) left behind.
    fn start(&self, deliver: Arc<dyn Deliver>) -> Arc<dyn Sequencer>;
    /// Whether messages outlive a restart (`seq` continues, history stays).
    fn durable(&self) -> bool;
}

/// A [`Deliver`] target that records every event, in the order it saw them.
#[derive(Debug, Default)]
pub struct Recorder {
    pub events: Mutex<Vec<Sequenced>>,
}

impl Deliver for Recorder {
    fn deliver(&self, event: &Sequenced) {
        self.events.lock().unwrap().push(event.clone());
    }
}

impl Recorder {
    pub fn all(&self) -> Vec<Sequenced> {
        self.events.lock().unwrap().clone()
    }

    /// `(seq, text)` of every delivered message of `room`, in delivery order.
    pub fn messages(&self, room: &str) -> Vec<(u64, String)> {
        self.all()
            .into_iter()
            .filter(|e| &*e.room == room)
            .filter_map(|e| match e.event {
                Event::Message(m) => Some((m.seq, m.text.to_string())),
                _ => None,
            })
            .collect()
    }
}

pub fn conn(n: u64) -> ConnId {
    ConnId { node: 0, conn: n }
}

pub fn member(room: &str, c: u64, user: &str) -> MemberRequest {
    MemberRequest {
        room: Arc::from(room),
        conn: conn(c),
        user: Arc::from(user),
    }
}

pub fn post(room: &str, c: u64, user: &str, text: &str, id: Option<&str>) -> PostRequest {
    PostRequest {
        room: Arc::from(room),
        conn: conn(c),
        from: Arc::from(user),
        text: Arc::from(text),
        client_id: id.map(Arc::from),
    }
}

pub fn history(room: &str, before: Option<u64>, limit: usize) -> HistoryQuery {
    HistoryQuery {
        room: Arc::from(room),
        before,
        limit,
        max_bytes: usize::MAX,
    }
}

/// Bounds every call: a hung sequencer fails the test instead of hanging it (rule 9).
pub async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("a sequencer call finished within 10 s")
}

fn start(b: &dyn Backend) -> (Arc<dyn Sequencer>, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let seq = b.start(rec.clone());
    (seq, rec)
}

/// Rules 1, 2, 4 and 6 under concurrency: posters, joiners and leavers at once in two
/// rooms; every event once, `pos` rising by one per room, `seq` gap-free, every ack after
/// its delivery, and each message from a member of that moment.
pub async fn one_order_and_gap_free_seq_under_concurrency(b: &dyn Backend) {
    let (s, rec) = start(b);
    const POSTERS: u64 = 4;
    const POSTS: usize = 150;
    for room in ["r1", "r2"] {
        for p in 0..POSTERS {
            within(s.join(member(room, p, &format!("u{p}"))))
                .await
                .unwrap();
        }
    }
    let mut tasks = Vec::new();
    for p in 0..POSTERS {
        let (s, rec) = (s.clone(), rec.clone());
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..POSTS {
                let room = if i % 2 == 0 { "r1" } else { "r2" };
                let text = format!("p{p}-{i}");
                let r = within(s.post(post(room, p, &format!("u{p}"), &text, None)))
                    .await
                    .expect("post succeeds");
                assert!(!r.duplicate);
                // Rule 4: delivered before acknowledged.
                assert!(
                    rec.messages(room).contains(&(r.seq, text.clone())),
                    "{text} (seq {}) was delivered before its ack",
                    r.seq
                );
                seqs.push((room, r.seq));
            }
            seqs
        }));
    }
    // Churn: bystanders join and leave meanwhile.
    let churn = {
        let s = s.clone();
        tokio::spawn(async move {
            for i in 0..100u64 {
                let c = 1000 + i;
                within(s.join(member("r1", c, &format!("b{i}"))))
                    .await
                    .unwrap();
                within(s.leave(member("r1", c, &format!("b{i}")), false))
                    .await
                    .unwrap();
            }
        })
    };
    let mut acked: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for t in tasks {
        for (room, seq) in t.await.unwrap() {
            acked.entry(room).or_default().push(seq);
        }
    }
    churn.await.unwrap();
    let total = POSTERS as usize * POSTS / 2;
    for (room, mut seqs) in acked {
        seqs.sort_unstable();
        assert_eq!(
            seqs,
            (1..=total as u64).collect::<Vec<_>>(),
            "{room}: seq 1..n, each once"
        );
        let delivered: Vec<u64> = rec.messages(room).iter().map(|m| m.0).collect();
        assert_eq!(delivered, seqs, "{room}: delivered once each, in seq order");
    }
    // Rule 1 and 6, replayed from what was delivered.
    let mut pos: BTreeMap<Arc<str>, u64> = BTreeMap::new();
    let mut members: BTreeMap<Arc<str>, BTreeSet<ConnId>> = BTreeMap::new();
    for e in rec.all() {
        let p = pos.entry(e.room.clone()).or_insert(e.pos - 1);
        assert_eq!(e.pos, *p + 1, "{}: pos rises by one", e.room);
        *p = e.pos;
        let m = members.entry(e.room.clone()).or_default();
        match &e.event {
            Event::Join { conn, .. } => assert!(m.insert(*conn), "joined once"),
            Event::Leave { conn, .. } => assert!(m.remove(conn), "left after joining"),
            Event::Message(msg) => {
                let poster: u64 = msg.from[1..].parse().unwrap();
                assert!(
                    m.contains(&conn(poster)),
                    "posted by a member of that moment"
                );
            }
        }
    }
    within(s.shutdown()).await;
}

/// Rule 2 across a restart, and rule 8 across it: `seq` continues from what was
/// committed, and a retry after the restart gets the original `seq`.
pub async fn seq_and_retries_survive_a_restart(b: &dyn Backend) {
    if !b.durable() {
        return;
    }
    let (s, _) = start(b);
    within(s.join(member("lobby", 1, "alice"))).await.unwrap();
    for i in 0..5 {
        let id = format!("c{i}");
        let r = within(s.post(post("lobby", 1, "alice", "x", Some(&id))))
            .await
            .unwrap();
        assert_eq!(r.seq, i + 1);
    }
    within(s.shutdown()).await;
    drop(s);

    let (s, rec) = start(b);
    within(s.join(member("lobby", 7, "alice"))).await.unwrap();
    let Event::Join { snapshot, .. } = &rec.all()[0].event else {
        panic!("the join was delivered")
    };
    let seqs: Vec<u64> = snapshot
        .as_ref()
        .unwrap()
        .history
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(
        seqs,
        vec![1, 2, 3, 4, 5],
        "the joiner sees history from before the restart"
    );
    let again = within(s.post(post("lobby", 7, "alice", "x", Some("c3"))))
        .await
        .unwrap();
    assert_eq!(
        (again.seq, again.duplicate),
        (4, true),
        "a retry after the restart"
    );
    let next = within(s.post(post("lobby", 7, "alice", "y", None)))
        .await
        .unwrap();
    assert_eq!(next.seq, 6, "seq continues, never reused");
    let h = within(s.history(history("lobby", None, 100)))
        .await
        .unwrap();
    assert_eq!(
        h.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
    within(s.shutdown()).await;
}

/// Rule 3: when `post` resolves, `history` (which reads only what is durable) has it.
pub async fn an_acked_post_is_in_history(b: &dyn Backend) {
    let (s, _) = start(b);
    within(s.join(member("lobby", 1, "alice"))).await.unwrap();
    for i in 1..=20u64 {
        let r = within(s.post(post("lobby", 1, "alice", &format!("m{i}"), None)))
            .await
            .unwrap();
        let h = within(s.history(history("lobby", None, 1))).await.unwrap();
        assert_eq!(
            h.last().map(|m| m.seq),
            Some(r.seq),
            "acked seq {} is readable",
            r.seq
        );
    }
    let page = within(s.history(history("lobby", Some(11), 5)))
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![6, 7, 8, 9, 10]
    );
    let capped = within(s.history(HistoryQuery {
        max_bytes: 1,
        ..history("lobby", None, 10)
    }))
    .await
    .unwrap();
    assert_eq!(capped.len(), 1, "a byte cap still returns one message");
    within(s.shutdown()).await;
}

/// Rule 7: the joiner's snapshot holds the members after the join and the messages
/// before it; joining again is a no-op; leaving twice is `NotInRoom`.
pub async fn joins_see_a_consistent_past(b: &dyn Backend) {
    let (s, rec) = start(b);
    within(s.join(member("lobby", 1, "alice"))).await.unwrap();
    for i in 0..3 {
        within(s.post(post("lobby", 1, "alice", &format!("m{i}"), None)))
            .await
            .unwrap();
    }
    within(s.join(member("lobby", 2, "bob"))).await.unwrap();
    let joins: Vec<_> = rec
        .all()
        .into_iter()
        .filter_map(|e| match e.event {
            Event::Join { user, snapshot, .. } => Some((user, snapshot)),
            _ => None,
        })
        .collect();
    let (user, snap) = &joins[1];
    assert_eq!(&**user, "bob");
    let snap = snap.as_ref().expect("a local joiner gets a snapshot");
    let names: Vec<&str> = snap.members.iter().map(|n| &**n).collect();
    assert_eq!(names, vec!["alice", "bob"]);
    let seqs: Vec<u64> = snap.history.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3]);

    let before = rec.all().len();
    within(s.join(member("lobby", 2, "bob"))).await.unwrap();
    assert_eq!(rec.all().len(), before, "a repeated join delivers nothing");
    within(s.leave(member("lobby", 2, "bob"), false))
        .await
        .unwrap();
    assert_eq!(
        within(s.leave(member("lobby", 2, "bob"), false)).await,
        Err(SeqError::NotInRoom)
    );
    assert_eq!(
        within(s.post(post("lobby", 2, "bob", "gone", None))).await,
        Err(SeqError::NotInRoom),
        "rule 6: a non-member cannot post"
    );
    within(s.shutdown()).await;
}

/// Rule 8: a retry with the same id by the same user in the same room returns the
/// original `seq` and delivers nothing; another user's equal id is a new post.
pub async fn retries_are_safe(b: &dyn Backend) {
    let (s, rec) = start(b);
    within(s.join(member("lobby", 1, "alice"))).await.unwrap();
    within(s.join(member("lobby", 2, "bob"))).await.unwrap();
    let first = within(s.post(post("lobby", 1, "alice", "hi", Some("k"))))
        .await
        .unwrap();
    // A retry from a new connection of the same user (reconnect and resend).
    within(s.join(member("lobby", 3, "alice"))).await.unwrap();
    let retry = within(s.post(post("lobby", 3, "alice", "hi", Some("k"))))
        .await
        .unwrap();
    assert_eq!((retry.seq, retry.duplicate), (first.seq, true));
    let bob = within(s.post(post("lobby", 2, "bob", "hi", Some("k"))))
        .await
        .unwrap();
    assert_eq!((bob.seq, bob.duplicate), (first.seq + 1, false));
    // Many copies at once (one batch): one message.
    let copies: Vec<_> = (0..20)
        .map(|_| s.post(post("lobby", 1, "alice", "burst", Some("b"))))
        .collect();
    let got = futures::future::join_all(copies).await;
    let seqs: BTreeSet<u64> = got.iter().map(|r| r.as_ref().unwrap().seq).collect();
    assert_eq!(seqs.len(), 1, "one seq for every copy");
    assert_eq!(
        got.iter()
            .filter(|r| !r.as_ref().unwrap().duplicate)
            .count(),
        1
    );
    let texts: Vec<String> = rec.messages("lobby").into_iter().map(|m| m.1).collect();
    assert_eq!(texts, vec!["hi", "hi", "burst"], "each post delivered once");
    within(s.shutdown()).await;
}

/// Rooms leave the sequencer when their last member does, so join/leave churn never
/// uses up the room cap; `rooms` lists only rooms with members.
pub async fn empty_rooms_are_freed(b: &dyn Backend) {
    let (s, _) = start(b);
    for i in 0..2_000u64 {
        let room = format!("room-{i}");
        within(s.join(member(&room, 1, "alice"))).await.unwrap();
        if i % 10 == 0 {
            within(s.post(post(&room, 1, "alice", "x", None)))
                .await
                .unwrap();
        }
        within(s.leave(member(&room, 1, "alice"), true))
            .await
            .unwrap();
    }
    within(s.join(member("kept", 2, "bob"))).await.unwrap();
    let rooms = within(s.rooms()).await.unwrap();
    assert_eq!(rooms.len(), 1);
    assert_eq!((rooms[0].room.as_str(), rooms[0].members), ("kept", 1));
    if b.durable() {
        // The freed room's seq comes back from storage.
        within(s.join(member("room-0", 1, "alice"))).await.unwrap();
        let r = within(s.post(post("room-0", 1, "alice", "y", None)))
            .await
            .unwrap();
        assert_eq!(r.seq, 2);
    }
    within(s.shutdown()).await;
}

/// After `shutdown`, calls answer `Closed` and nothing hangs.
pub async fn calls_after_shutdown_are_closed(b: &dyn Backend) {
    let (s, _) = start(b);
    within(s.join(member("lobby", 1, "alice"))).await.unwrap();
    within(s.shutdown()).await;
    assert_eq!(
        within(s.post(post("lobby", 1, "alice", "late", None))).await,
        Err(SeqError::Closed)
    );
    assert_eq!(
        within(s.join(member("lobby", 2, "bob"))).await,
        Err(SeqError::Closed)
    );
}

/// One `#[tokio::test]` per rule check, in a module named `$name`, each on a fresh
/// backend from `$make` (an expression of a type implementing [`Backend`]).
#[macro_export]
macro_rules! sequencer_contract {
    ($name:ident, $make:expr) => {
        mod $name {
            use super::*;
            use $crate::contract as c;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn one_order_and_gap_free_seq_under_concurrency() {
                c::one_order_and_gap_free_seq_under_concurrency(&$make).await;
            }
            #[tokio::test]
            async fn seq_and_retries_survive_a_restart() {
                c::seq_and_retries_survive_a_restart(&$make).await;
            }
            #[tokio::test]
            async fn an_acked_post_is_in_history() {
                c::an_acked_post_is_in_history(&$make).await;
            }
            #[tokio::test]
            async fn joins_see_a_consistent_past() {
                c::joins_see_a_consistent_past(&$make).await;
            }
            #[tokio::test]
            async fn retries_are_safe() {
                c::retries_are_safe(&$make).await;
            }
            #[tokio::test]
            async fn empty_rooms_are_freed() {
                c::empty_rooms_are_freed(&$make).await;
            }
            #[tokio::test]
            async fn calls_after_shutdown_are_closed() {
                c::calls_after_shutdown_are_closed(&$make).await;
            }
        }
    };
}
