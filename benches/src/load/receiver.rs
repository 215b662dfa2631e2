//! What one connection does with the bytes it reads: split them into frames
//! ([`wire::parse_frame`]), and for each `message` count it, check its `seq` follows the
//! last one (gap-free, nothing twice), and time it against the send stamp at the front of
//! its text, on sampled members only; for each `ack` time the post; answer pings; report
//! a close. No JSON is decoded on that path: only rare frames (errors, anything not from
//! this generator) go through serde_json.

use std::sync::atomic::Ordering::Relaxed;

use super::client::Shared;
use super::stats::ConnStats;
use super::wire::{self, opcode, Frame, FrameError};

/// Where a connection stands after some bytes were fed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Still open.
    Open,
    /// The server sent a close frame with this code (`0`: without one).
    Closed(u16),
    /// The server sent something no server may send; the connection is unusable.
    Broken(String),
}

/// One connection's reading state: the bytes of a frame not yet complete, a message
/// arriving in fragments, and the last `seq` seen.
#[derive(Debug)]
pub struct Receiver {
    /// Index of the connection (picks the histogram shard).
    index: usize,
    /// Times deliveries (`--sample`); the others only count and check `seq`.
    sample: bool,
    /// Bytes of a frame not complete yet.
    pending: Vec<u8>,
    /// A fragmented message so far: whether it is text, and its bytes.
    fragments: Option<(bool, Vec<u8>)>,
    /// The last `seq` seen (0: none yet).
    last_seq: u64,
}

impl Receiver {
    /// A receiver for connection `index`, starting with `leftover` (bytes read with the
    /// handshake that belong to the frames after it).
    pub fn new(index: usize, sample: bool, leftover: Vec<u8>) -> Self {
        Self {
            index,
            sample,
            pending: leftover,
            fragments: None,
            last_seq: 0,
        }
    }

    /// Whether this member times its deliveries.
    pub fn sampled(&self) -> bool {
        self.sample
    }

    /// Handles `data`, just read, after whatever was pending; pongs to pings go to
    /// `replies`, masked and ready to write.
    pub fn feed(
        &mut self,
        data: &[u8],
        shared: &Shared,
        stats: &ConnStats,
        replies: &mut Vec<u8>,
    ) -> Outcome {
        if self.pending.is_empty() {
            let (used, outcome) = self.frames(data, shared, stats, replies);
            if outcome == Outcome::Open {
                self.pending.extend_from_slice(&data[used..]);
            }
            outcome
        } else {
            let mut buf = std::mem::take(&mut self.pending);
            buf.extend_from_slice(data);
            let (used, outcome) = self.frames(&buf, shared, stats, replies);
            buf.drain(..used);
            self.pending = buf;
            outcome
        }
    }

    /// Handles every complete frame at the start of `buf`; returns the bytes used.
    fn frames(
        &mut self,
        buf: &[u8],
        shared: &Shared,
        stats: &ConnStats,
        replies: &mut Vec<u8>,
    ) -> (usize, Outcome) {
        let mut at = 0;
        loop {
            match wire::parse_frame(&buf[at..]) {
                Ok(Some((frame, used))) => {
                    at += used;
                    stats.frames.fetch_add(1, Relaxed);
                    let outcome = self.frame(frame, shared, stats, replies);
                    if outcome != Outcome::Open {
                        return (at, outcome);
                    }
                }
                Ok(None) => return (at, Outcome::Open),
                Err(e) => return (at, broken(e)),
            }
        }
    }

    fn frame(
        &mut self,
        f: Frame<'_>,
        shared: &Shared,
        stats: &ConnStats,
        replies: &mut Vec<u8>,
    ) -> Outcome {
        match f.opcode {
            opcode::TEXT | opcode::BINARY if self.fragments.is_some() => {
                Outcome::Broken("new message inside a fragmented one".into())
            }
            opcode::TEXT if f.fin => {
                self.text(f.payload, shared, stats);
                Outcome::Open
            }
            opcode::TEXT | opcode::BINARY if !f.fin => {
                self.fragments = Some((f.opcode == opcode::TEXT, f.payload.to_vec()));
                Outcome::Open
            }
            opcode::CONTINUATION => {
                let Some((is_text, mut bytes)) = self.fragments.take() else {
                    return Outcome::Broken("continuation without a message".into());
                };
                bytes.extend_from_slice(f.payload);
                if !f.fin {
                    self.fragments = Some((is_text, bytes));
                } else if is_text {
                    self.text(&bytes, shared, stats);
                }
                Outcome::Open
            }
            opcode::PING => {
                wire::push_frame(replies, opcode::PONG, f.payload);
                Outcome::Open
            }
            opcode::CLOSE => Outcome::Closed(wire::close_code(f.payload)),
            _ => Outcome::Open, // a whole binary frame, a pong: nothing to count
        }
    }

    /// One text message. `message` and `ack` take the fast path (fields found in place);
    /// the rest is parsed properly.
    fn text(&mut self, json: &[u8], shared: &Shared, stats: &ConnStats) {
        if json.starts_with(wire::MESSAGE_PREFIX) {
            if let Some(d) = wire::delivery(json) {
                stats.delivered.fetch_add(1, Relaxed);
                self.seq(d.seq, stats);
                if let Some(stamp) = d.stamp.filter(|s| shared.in_window(*s)) {
                    stats.delivered_window.fetch_add(1, Relaxed);
                    if self.sample {
                        let micros = shared.now_ns().saturating_sub(stamp) / 1_000;
                        shared.latency.record(self.index, micros);
                    }
                }
                return;
            }
        }
        if json.starts_with(wire::ACK_PREFIX) {
            if let Some(id) = wire::ack_id(json) {
                return self.ack(id, shared, stats);
            }
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(json) else {
            return shared.events.error("unparsable_frame");
        };
        match v["type"].as_str() {
            Some("ack") => {
                let id = v["id"].as_str().unwrap_or_default();
                self.ack(id.as_bytes(), shared, stats);
            }
            Some("error") => shared
                .events
                .error(v["code"].as_str().unwrap_or("error_without_code")),
            Some("message") => {
                // Written differently from what the fast path expects: counted, not timed.
                stats.delivered.fetch_add(1, Relaxed);
                match v["seq"].as_u64() {
                    Some(seq) => self.seq(seq, stats),
                    None => shared.events.error("message_without_seq"),
                }
            }
            _ => {} // presence, pong, bye: nothing to count
        }
    }

    /// Checks that `seq` is the one after the last: a jump counts the messages skipped as
    /// gaps, a repeat (or a step back) as a duplicate.
    fn seq(&mut self, seq: u64, stats: &ConnStats) {
        let last = self.last_seq;
        if last == 0 {
            stats.first_seq.store(seq, Relaxed);
        } else if seq > last + 1 {
            stats.seq_gaps.fetch_add(seq - last - 1, Relaxed);
        } else if seq <= last {
            stats.seq_dups.fetch_add(1, Relaxed);
            return;
        }
        self.last_seq = seq;
        stats.last_seq.store(seq, Relaxed);
    }

    /// Counts an ack and, when its id is one of this generator's and inside the window,
    /// times it against the stamp in the id.
    fn ack(&self, id: &[u8], shared: &Shared, stats: &ConnStats) {
        stats.acks.fetch_add(1, Relaxed);
        if let Some(stamp) = wire::id_stamp(id).filter(|s| shared.in_window(*s)) {
            stats.acks_window.fetch_add(1, Relaxed);
            let micros = shared.now_ns().saturating_sub(stamp) / 1_000;
            shared.ack_latency.record(self.index, micros);
        }
    }
}

fn broken(e: FrameError) -> Outcome {
    Outcome::Broken(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(op: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![if fin { 0x80 } else { 0 } | op];
        match payload.len() {
            n @ 0..=125 => f.push(n as u8),
            n => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    fn message(seq: u64, stamp: u64) -> Vec<u8> {
        let mut text = Vec::new();
        wire::push_stamp(&mut text, stamp);
        let json = format!(
            r#"{{"type":"message","room":"r000","from":"u00000","text":"{} xxxx","seq":{seq},"ts":1795871659982}}"#,
            String::from_utf8(text).unwrap()
        );
        frame(opcode::TEXT, true, json.as_bytes())
    }

    fn window_from_zero(shared: &Shared) {
        shared.window_start.store(0, Relaxed);
    }

    #[test]
    fn a_canned_stream_is_counted_timed_and_seq_checked_in_any_split() {
        // seq 1, 2, 4 (3 lost), 4 again (a duplicate), 5 in two fragments, a ping, an ack,
        // an error, then a close 4008.
        let mut stream = Vec::new();
        for seq in [1, 2, 4, 4] {
            stream.extend(message(seq, 1_000));
        }
        let five = message(5, 1_000);
        let json = &five[2..];
        stream.extend(frame(opcode::TEXT, false, &json[..20]));
        stream.extend(frame(opcode::PING, true, b"hb"));
        stream.extend(frame(opcode::CONTINUATION, true, &json[20..]));
        stream.extend(frame(
            opcode::TEXT,
            true,
            br#"{"type":"ack","id":"t1000-1","seq":5}"#,
        ));
        stream.extend(frame(
            opcode::TEXT,
            true,
            br#"{"type":"error","code":"rate_limited","message":"slow down"}"#,
        ));
        stream.extend(frame(
            opcode::CLOSE,
            true,
            &wire::close_payload(4008, "slow"),
        ));
        stream.extend(message(6, 1_000)); // after the close: never read
        for chunk in [1, 2, 7, 64, stream.len()] {
            let shared = Shared::new();
            window_from_zero(&shared);
            let stats = ConnStats::default();
            let mut r = Receiver::new(3, true, Vec::new());
            let mut replies = Vec::new();
            let mut outcome = Outcome::Open;
            for part in stream.chunks(chunk) {
                outcome = r.feed(part, &shared, &stats, &mut replies);
                if outcome != Outcome::Open {
                    break;
                }
            }
            assert_eq!(outcome, Outcome::Closed(4008), "chunk {chunk}");
            let n = |a: &std::sync::atomic::AtomicU64| a.load(Relaxed);
            assert_eq!(n(&stats.delivered), 5, "chunk {chunk}");
            assert_eq!(n(&stats.delivered_window), 5);
            assert_eq!((n(&stats.first_seq), n(&stats.last_seq)), (1, 5));
            assert_eq!((n(&stats.seq_gaps), n(&stats.seq_dups)), (1, 1));
            assert_eq!((n(&stats.acks), n(&stats.acks_window)), (1, 1));
            assert_eq!(n(&stats.frames), 10, "every frame up to the close");
            assert_eq!(
                shared.latency.merged().len(),
                5,
                "a sampled member times each"
            );
            assert_eq!(shared.ack_latency.merged().len(), 1);
            assert_eq!(shared.events.snapshot().errors["rate_limited"], 1);
            // The pong: masked, same payload.
            let (len, key) = (replies[1] & 0x7F, &replies[2..6]);
            assert_eq!((replies[0], len), (0x80 | opcode::PONG, 2));
            let body: Vec<u8> = replies[6..]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i & 3])
                .collect();
            assert_eq!(body, b"hb");
        }
    }

    #[test]
    fn members_not_sampled_count_without_timing() {
        let shared = Shared::new();
        window_from_zero(&shared);
        let stats = ConnStats::default();
        let mut r = Receiver::new(0, false, message(1, 5));
        let out = r.feed(&message(2, 5), &shared, &stats, &mut Vec::new());
        assert_eq!(out, Outcome::Open);
        assert_eq!(stats.delivered_window.load(Relaxed), 2, "the leftover too");
        assert!(shared.latency.merged().is_empty());
    }

    #[test]
    fn posts_outside_the_window_are_counted_not_timed() {
        let shared = Shared::new();
        shared.window_start.store(2_000, Relaxed);
        shared.window_end.store(3_000, Relaxed);
        let stats = ConnStats::default();
        let mut r = Receiver::new(0, true, Vec::new());
        let mut bytes = message(1, 1_999);
        bytes.extend(message(2, 2_000));
        bytes.extend(message(3, 3_000));
        r.feed(&bytes, &shared, &stats, &mut Vec::new());
        assert_eq!(stats.delivered.load(Relaxed), 3);
        assert_eq!(stats.delivered_window.load(Relaxed), 1);
        assert_eq!(shared.latency.merged().len(), 1);
    }

    #[test]
    fn a_masked_server_frame_breaks_the_connection() {
        let shared = Shared::new();
        let stats = ConnStats::default();
        let mut r = Receiver::new(0, true, Vec::new());
        let out = r.feed(
            &[0x81, 0x81, 1, 2, 3, 4, 5],
            &shared,
            &stats,
            &mut Vec::new(),
        );
        assert!(matches!(out, Outcome::Broken(_)), "{out:?}");
    }
}
