//! A budget for every kind of request, so no client, alone or with many others from one
//! address, can flood the server or exhaust a shared limit for everyone.
//!
//! Each [`Kind`] has a rate and a burst (GCRA, throng's [`KeyedRateLimiter`]) charged
//! twice (`connect`: to the address only): to the **client** (its identity with `--auth token`, where every connection of
//! one identity shares the budget; otherwise its connection) and to its **address** (the
//! `--ipv4-prefix` / `--ipv6-prefix` key), whose budget is `--address-budget-factor` (5)
//! times the client's, so fifty names from one address share five clients' worth. A
//! request over either budget is not executed and is answered `rate_limited` with
//! `retry_after_ms`; WebSocket control frames and bytes over budget are dropped
//! silently. Every refusal is a **strike** (a control frame's weighs five);
//! [`STRIKES`] strikes within [`STRIKE_WINDOW`] close the connection with 1008 "rate
//! limit abuse", counted. `connect` is charged when a connection is accepted, before
//! any HTTP is read (over it: a 429 written without reading, then close), or, for a
//! trusted proxy's connections, at the upgrade on the forwarded address.
//!
//! | kind | what it charges | default rate/s, burst |
//! |---|---|---|
//! | `post` | a post | `--post-rate` 20, `--post-burst` 40 |
//! | `member` | a join or a leave | 10, 20 |
//! | `create` | a join of a room nobody is in (it creates the room) | 1, 5 |
//! | `history` | a history request | 5, 10 |
//! | `ping` | an application `ping` | 2, 10 |
//! | `control` | a WebSocket ping or pong frame | 5, 20 |
//! | `bytes` | bytes of every frame received | 131 072, 1 048 576 |
//! | `fanout` | a post's size in 64-byte units times the room's members (what delivering it costs) | 32 768, 262 144 (2 MiB/s, 16 MiB) |
//! | `connect` | a new WebSocket (per address only: the factor times this) | 2, 10 |
//!
//! Override with `--budget KIND=RATE/BURST` (repeatable), e.g. `--budget history=2/4`.
//! The key space of each limiter is bounded (connections and addresses are capped);
//! a key beyond it is refused (fail-closed), never let through.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use throng::ratelimit::{KeyedCheckError, KeyedRateLimiter, Quota};

use crate::addr::AddrKey;

/// What a request is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Post,
    Member,
    Create,
    History,
    Ping,
    Control,
    Bytes,
    Fanout,
    Connect,
}

impl Kind {
    /// Every kind, in table order.
    pub const ALL: [Kind; 9] = [
        Kind::Post,
        Kind::Member,
        Kind::Create,
        Kind::History,
        Kind::Ping,
        Kind::Control,
        Kind::Bytes,
        Kind::Fanout,
        Kind::Connect,
    ];

    /// Its name in `--budget` and in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Post => "post",
            Kind::Member => "member",
            Kind::Create => "create",
            Kind::History => "history",
            Kind::Ping => "ping",
            Kind::Control => "control",
            Kind::Bytes => "bytes",
            Kind::Fanout => "fanout",
            Kind::Connect => "connect",
        }
    }

    /// The default (rate per second, burst); `post` comes from `--post-rate`/`--post-burst`.
    pub fn default_budget(self) -> (u32, u32) {
        match self {
            Kind::Post => (20, 40),
            Kind::Member => (10, 20),
            Kind::Create => (1, 5),
            Kind::History => (5, 10),
            Kind::Ping => (2, 10),
            Kind::Control => (5, 20),
            Kind::Bytes => (128 * 1024, 1024 * 1024),
            Kind::Fanout => (32_768, 262_144),
            Kind::Connect => (2, 10),
        }
    }
}

/// One `--budget KIND=RATE/BURST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetArg {
    pub kind: Kind,
    pub rate: u32,
    pub burst: u32,
}

/// Parses `KIND=RATE/BURST` (both positive; the burst at least 1).
pub fn parse_budget(s: &str) -> Result<BudgetArg, String> {
    let (kind, rest) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected KIND=RATE/BURST, e.g. history=5/10"))?;
    let kind = Kind::ALL
        .into_iter()
        .find(|k| k.name() == kind.trim())
        .ok_or_else(|| {
            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            format!(
                "`{kind}` is not a budget kind (one of {})",
                names.join(", ")
            )
        })?;
    let (rate, burst) = rest
        .split_once('/')
        .ok_or_else(|| format!("`{s}`: expected KIND=RATE/BURST"))?;
    let num = |v: &str| -> Result<u32, String> {
        match v.trim().parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("`{v}` in `{s}` must be a positive whole number")),
        }
    };
    Ok(BudgetArg {
        kind,
        rate: num(rate)?,
        burst: num(burst)?,
    })
}

/// The fastest rate a budget can express (one cell per nanosecond).
const MAX_RATE: u32 = 1_000_000_000;

/// Who a charge goes to besides the address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Client {
    /// A proven identity (`--auth token`), case-folded: all its connections share.
    Identity(String),
    /// One connection (no proven identity).
    Conn(u64),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Client(Client),
    Addr(AddrKey),
}

/// A refused charge: when to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    pub kind: Kind,
    pub retry_after: Duration,
}

/// Every budget; see the module docs.
#[derive(Debug)]
pub struct Budgets {
    limiters: Vec<KeyedRateLimiter<Key>>,
    /// Each kind's burst per client: no single charge costs more (see [`Budgets::charge`]).
    bursts: Vec<u32>,
}

impl Budgets {
    /// Budgets from per-client `(rate, burst)` for each kind (in [`Kind::ALL`] order),
    /// the address factor, and the most keys each limiter tracks.
    ///
    /// # Errors
    ///
    /// A rate or burst the limiter cannot represent.
    pub fn new(
        per_client: &[(u32, u32); 9],
        address_factor: u32,
        max_keys: NonZeroUsize,
    ) -> Result<Self, String> {
        let mut limiters = Vec::new();
        let bursts = per_client.iter().map(|&(_, b)| b).collect();
        for (kind, (rate, burst)) in Kind::ALL.into_iter().zip(per_client) {
            let quota = |factor: u32| {
                // The limiter counts at most one cell per nanosecond: beyond that a budget
                // is as good as unlimited, so it is clamped rather than refused.
                Quota::per_second(rate.saturating_mul(factor).min(MAX_RATE))
                    .burst(burst.saturating_mul(factor))
                    .build()
                    .map_err(|e| format!("budget {}: {e}", kind.name()))
            };
            // One limiter per kind holds both the client and the address keys; the
            // address quota is the client's times the factor, so the limiter keeps the
            // larger one and charges the client key `factor` cells per request.
            let _ = quota(1)?;
            limiters.push(KeyedRateLimiter::new(quota(address_factor)?, max_keys));
        }
        Ok(Self { limiters, bursts })
    }

    /// Charges `n` units of `kind` to `client` and to `addr`. The client is charged
    /// `factor` cells of the address-sized quota, so its own budget is the base one. A
    /// charge above the client's burst costs the whole burst (a big post into a big room
    /// is possible, rarely), never "impossible".
    pub fn charge(
        &self,
        kind: Kind,
        client: &Client,
        addr: &AddrKey,
        n: u32,
        factor: u32,
    ) -> Result<(), OverBudget> {
        let limiter = &self.limiters[kind as usize];
        let n = n.min(self.bursts[kind as usize]);
        let refused = |e: KeyedCheckError| OverBudget {
            kind,
            retry_after: match e {
                KeyedCheckError::NotUntil(w) => w.wait_time().max(Duration::from_millis(1)),
                _ => Duration::from_secs(1),
            },
        };
        limiter
            .check_n(&Key::Client(client.clone()), n.saturating_mul(factor))
            .map_err(refused)?;
        limiter.check_n(&Key::Addr(*addr), n).map_err(refused)
    }

    /// Charges one unit of `kind` to the address alone (new connections).
    pub fn charge_address(&self, kind: Kind, addr: &AddrKey) -> Result<(), OverBudget> {
        self.limiters[kind as usize]
            .check(&Key::Addr(*addr))
            .map_err(|e| OverBudget {
                kind,
                retry_after: match e {
                    KeyedCheckError::NotUntil(w) => w.wait_time().max(Duration::from_millis(1)),
                    _ => Duration::from_secs(1),
                },
            })
    }

    /// Forgets a connection's own keys (its budget goes with it).
    pub fn forget(&self, client: &Client) {
        if let Client::Conn(_) = client {
            for l in &self.limiters {
                l.remove(&Key::Client(client.clone()));
            }
        }
    }
}

/// Refusals in a window after which a connection is closed for abuse.
pub const STRIKES: u32 = 50;
/// The window for [`STRIKES`].
pub const STRIKE_WINDOW: Duration = Duration::from_secs(10);

/// A connection's recent refusals.
#[derive(Debug)]
pub struct Strikes {
    since: Instant,
    count: u32,
}

impl Default for Strikes {
    fn default() -> Self {
        Self {
            since: Instant::now(),
            count: 0,
        }
    }
}

impl Strikes {
    /// Counts one refusal of `kind`; `true` when the connection has had too many.
    /// Refused control frames weigh five: they cost the server to read and answer
    /// nothing, so a flood of them is closed after ten.
    pub fn strike(&mut self, kind: Kind) -> bool {
        let now = Instant::now();
        if now.duration_since(self.since) > STRIKE_WINDOW {
            self.since = now;
            self.count = 0;
        }
        self.count += if kind == Kind::Control { 5 } else { 1 };
        self.count >= STRIKES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_flags_parse_and_refuse_nonsense() {
        assert_eq!(
            parse_budget("history=2/4"),
            Ok(BudgetArg {
                kind: Kind::History,
                rate: 2,
                burst: 4
            })
        );
        assert!(parse_budget("history=0/4").is_err());
        assert!(parse_budget("history=2").is_err());
        assert!(parse_budget("shouting=2/4")
            .unwrap_err()
            .contains("one of post"));
        assert!(parse_budget("post=-1/3").is_err());
    }

    fn addr(last: u8) -> AddrKey {
        AddrKey::new(std::net::IpAddr::from([10, 0, 0, last]), 32, 64)
    }

    #[test]
    fn a_client_gets_its_budget_and_an_address_factor_times_it() {
        let mut per = [(1000, 1000); 9];
        per[Kind::Post as usize] = (1, 3);
        let b = Budgets::new(&per, 2, NonZeroUsize::new(100).unwrap()).unwrap();
        let a = addr(1);
        // One connection: its burst of 3.
        for _ in 0..3 {
            b.charge(Kind::Post, &Client::Conn(1), &a, 1, 2).unwrap();
        }
        let e = b
            .charge(Kind::Post, &Client::Conn(1), &a, 1, 2)
            .unwrap_err();
        assert_eq!(e.kind, Kind::Post);
        assert!(e.retry_after > Duration::ZERO);
        // Other connections from the address share 2 x 3 = 6 in all.
        for c in 2..5 {
            b.charge(Kind::Post, &Client::Conn(c), &a, 1, 2).unwrap();
        }
        assert!(b.charge(Kind::Post, &Client::Conn(9), &a, 1, 2).is_err());
        // Another address is untouched; other kinds too.
        b.charge(Kind::Post, &Client::Conn(10), &addr(2), 1, 2)
            .unwrap();
        b.charge(Kind::History, &Client::Conn(1), &a, 1, 2).unwrap();
    }

    #[test]
    fn strikes_add_up_within_the_window() {
        let mut s = Strikes::default();
        for _ in 0..STRIKES - 1 {
            assert!(!s.strike(Kind::Post));
        }
        assert!(s.strike(Kind::Post));
        let mut s = Strikes::default();
        for _ in 0..STRIKES / 5 - 1 {
            assert!(!s.strike(Kind::Control));
        }
        assert!(s.strike(Kind::Control), "control frames weigh five");
    }
}
