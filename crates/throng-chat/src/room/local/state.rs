//! The local sequencer's rooms, owned by its thread (no locks): members, the committed
//! `seq`, recent client ids for retries, and the history cache under one byte budget.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use crate::room::event::{ConnId, Message};

use super::storage::{PostedId, RoomLoad};

/// One room in memory: only while it has members.
#[derive(Debug)]
pub struct RoomState {
    pub name: Arc<str>,
    /// The last committed `seq`.
    pub last_seq: u64,
    /// The position of the last event delivered.
    pub pos: u64,
    pub members: BTreeMap<ConnId, Arc<str>>,
    /// A contiguous run of the latest messages, ending at `last_seq`, oldest first.
    pub cache: VecDeque<Arc<Message>>,
    pub cache_bytes: usize,
    /// Client ids of recent posts: (user, id) -> (seq, ts), oldest first in `id_order`.
    ids: HashMap<(Arc<str>, Arc<str>), u64>,
    id_order: VecDeque<(Arc<str>, Arc<str>, u64)>,
    /// When the room was last used, in ticks of [`Rooms`].
    pub used: u64,
}

impl RoomState {
    /// The original `seq` of a post by `user` with client id `id`, if it is remembered
    /// and not older than `since_ms`.
    pub fn posted(&self, user: &Arc<str>, id: &Arc<str>) -> Option<u64> {
        self.ids.get(&(user.clone(), id.clone())).copied()
    }

    /// Remembers a post's client id, forgetting the oldest beyond `keep` or older than
    /// `since_ms`.
    pub fn remember(&mut self, p: PostedId, keep: usize, since_ms: u64) {
        self.ids.insert((p.user.clone(), p.id.clone()), p.seq);
        self.id_order.push_back((p.user, p.id, p.ts));
        while let Some((u, i, ts)) = self.id_order.front() {
            if self.id_order.len() <= keep && *ts >= since_ms {
                break;
            }
            self.ids.remove(&(u.clone(), i.clone()));
            self.id_order.pop_front();
        }
    }

    /// Member names, sorted, each once.
    pub fn member_names(&self) -> Vec<Arc<str>> {
        let mut names: Vec<Arc<str>> = self.members.values().cloned().collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// Every room in memory, and the cache's byte budget across all of them.
#[derive(Debug)]
pub struct Rooms {
    pub map: HashMap<Arc<str>, RoomState>,
    /// Messages kept per room (`--history`).
    per_room: usize,
    /// Bytes of cached messages across all rooms (`--history-cache-bytes`).
    budget: usize,
    total: usize,
    tick: u64,
}

impl Rooms {
    pub fn new(per_room: usize, budget: usize) -> Self {
        Self {
            map: HashMap::new(),
            per_room,
            budget,
            total: 0,
            tick: 0,
        }
    }

    /// Bytes of messages cached now.
    pub fn cached_bytes(&self) -> usize {
        self.total
    }

    /// Adds a room from what the storage loaded.
    pub fn insert(&mut self, name: Arc<str>, load: RoomLoad, keep_ids: usize, since_ms: u64) {
        self.tick += 1;
        let mut room = RoomState {
            name: name.clone(),
            last_seq: load.last_seq,
            pos: 0,
            members: BTreeMap::new(),
            cache: VecDeque::new(),
            cache_bytes: 0,
            ids: HashMap::new(),
            id_order: VecDeque::new(),
            used: self.tick,
        };
        for p in load.ids {
            room.remember(p, keep_ids, since_ms);
        }
        self.map.insert(name.clone(), room);
        for m in load.recent {
            self.push(&name, m);
        }
    }

    /// Drops a room and its cache.
    pub fn remove(&mut self, name: &str) {
        if let Some(r) = self.map.remove(name) {
            self.total -= r.cache_bytes;
        }
    }

    /// Marks the room used now.
    pub fn touch(&mut self, name: &str) -> Option<&mut RoomState> {
        self.tick += 1;
        let tick = self.tick;
        let r = self.map.get_mut(name)?;
        r.used = tick;
        Some(r)
    }

    /// Appends a committed message to its room's cache, then keeps the budgets: at most
    /// `per_room` messages in the room, at most `budget` bytes overall (the rooms used
    /// longest ago give up their oldest messages first).
    pub fn push(&mut self, name: &str, m: Arc<Message>) {
        let Some(r) = self.map.get_mut(name) else {
            return;
        };
        if self.per_room == 0 {
            return;
        }
        let w = m.weight();
        r.cache.push_back(m);
        r.cache_bytes += w;
        self.total += w;
        while r.cache.len() > self.per_room {
            let old = r.cache.pop_front().expect("non-empty");
            r.cache_bytes -= old.weight();
            self.total -= old.weight();
        }
        if self.total > self.budget {
            self.shrink();
        }
    }

    /// Evicts down to 7/8 of the budget, coldest rooms first, oldest messages first.
    fn shrink(&mut self) {
        let target = self.budget / 8 * 7;
        let mut order: Vec<(u64, Arc<str>)> = self
            .map
            .values()
            .filter(|r| r.cache_bytes > 0)
            .map(|r| (r.used, r.name.clone()))
            .collect();
        order.sort_unstable();
        for (_, name) in order {
            if self.total <= target {
                break;
            }
            let r = self.map.get_mut(&name).expect("listed");
            while self.total > target {
                let Some(old) = r.cache.pop_front() else {
                    break;
                };
                r.cache_bytes -= old.weight();
                self.total -= old.weight();
            }
        }
    }
}

/// The last `n` messages of `cache` (at most `max_bytes`, at least one), oldest first.
pub fn tail(cache: &VecDeque<Arc<Message>>, n: usize, max_bytes: usize) -> Vec<Arc<Message>> {
    let mut out = Vec::new();
    let mut bytes = 0;
    for m in cache.iter().rev().take(n) {
        bytes += m.weight();
        if bytes > max_bytes && !out.is_empty() {
            break;
        }
        out.push(m.clone());
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(room: &str, seq: u64, text: &str) -> Arc<Message> {
        Arc::new(Message {
            room: Arc::from(room),
            seq,
            from: Arc::from("u"),
            text: Arc::from(text),
            ts: 0,
        })
    }

    #[test]
    fn the_cache_stays_within_one_byte_budget_and_cold_rooms_go_first() {
        let one = msg("a", 1, &"x".repeat(1000)).weight();
        let mut rooms = Rooms::new(1000, one * 10);
        rooms.insert(Arc::from("cold"), RoomLoad::default(), 0, 0);
        rooms.insert(Arc::from("hot"), RoomLoad::default(), 0, 0);
        for s in 1..=5 {
            rooms.push("cold", msg("cold", s, &"x".repeat(1000)));
        }
        for s in 1..=20 {
            rooms.touch("hot");
            rooms.push("hot", msg("hot", s, &"x".repeat(1000)));
            assert!(rooms.cached_bytes() <= one * 10);
        }
        assert!(
            rooms.map["cold"].cache.is_empty(),
            "the cold room went first"
        );
        let hot = &rooms.map["hot"].cache;
        assert_eq!(hot.back().unwrap().seq, 20, "the newest stays");
        assert!(hot
            .iter()
            .zip(hot.iter().skip(1))
            .all(|(a, b)| b.seq == a.seq + 1));
    }

    #[test]
    fn remembered_ids_are_bounded_in_count_and_age() {
        let mut rooms = Rooms::new(10, 1 << 20);
        rooms.insert(Arc::from("r"), RoomLoad::default(), 0, 0);
        let r = rooms.map.get_mut("r").unwrap();
        let u: Arc<str> = Arc::from("u");
        for i in 0..10u64 {
            let id: Arc<str> = Arc::from(format!("c{i}"));
            r.remember(
                PostedId {
                    user: u.clone(),
                    id,
                    seq: i + 1,
                    ts: 100 + i,
                },
                4,
                0,
            );
        }
        assert_eq!(r.posted(&u, &Arc::from("c9")), Some(10));
        assert_eq!(r.posted(&u, &Arc::from("c5")), None, "only the last 4");
        r.remember(
            PostedId {
                user: u.clone(),
                id: Arc::from("new"),
                seq: 11,
                ts: 200,
            },
            4,
            150,
        );
        assert_eq!(r.posted(&u, &Arc::from("c9")), None, "too old");
        assert_eq!(r.posted(&u, &Arc::from("new")), Some(11));
    }
}
