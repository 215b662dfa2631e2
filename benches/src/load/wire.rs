//! The bytes on the wire, without a WebSocket library: the client's upgrade request and
//! the check of the server's answer, server frame headers (unmasked, RFC 6455 §5.2),
//! masked client frames, and the few fields of a chat frame the generator needs, found
//! where they are instead of decoding the JSON.
//!
//! Why by hand: a generator built on tokio-tungstenite spent about 8 µs of CPU per frame
//! it received (a task wake-up, the library's frame and UTF-8 handling, a `Message` per
//! frame), more than the server spends sending it, so on a 2-core machine the generator
//! saturated first. A `message` frame's header is two bytes and the generator only needs
//! its `seq` and the send stamp that it wrote into the text itself.

use std::fmt;

/// The beginning of a `message` frame as throng-chat and the baseline write it (`type`
/// first, then `room`, `from`, `text`, `seq`, `ts`: PROTOCOL.md and `WireMessage`).
pub const MESSAGE_PREFIX: &[u8] = br#"{"type":"message""#;
/// The beginning of an `ack` frame (`type` first, then `id`, `seq`).
pub const ACK_PREFIX: &[u8] = br#"{"type":"ack""#;
/// Where the text of a `message` frame starts. Names cannot hold a quote, so the first
/// match after the prefix is the field, not something inside `room` or `from`.
const TEXT_MARK: &[u8] = br#""text":""#;
/// The `seq` field: the last one in the frame is the field itself, since inside a JSON
/// string every `"` is escaped and so `"seq":` cannot occur there.
const SEQ_MARK: &[u8] = br#""seq":"#;
/// Where a post's id starts inside an `ack` frame.
const ID_MARK: &[u8] = br#""id":""#;

/// Digits of the send stamp: nanoseconds since the run's start, zero-padded, so every
/// post's text starts with `t=` and exactly this many digits (16 digits: 115 days).
pub const STAMP_DIGITS: usize = 16;

/// WebSocket opcodes (RFC 6455 §5.2).
pub mod opcode {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

/// One frame from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The last fragment of its message.
    pub fin: bool,
    pub opcode: u8,
    pub payload: &'a [u8],
}

/// A frame no server may send; the connection is unusable after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Server frames are never masked (RFC 6455 §5.1).
    Masked,
    /// A reserved bit set (no extension was negotiated).
    Reserved,
    /// An opcode RFC 6455 does not define.
    UnknownOpcode(u8),
    /// A control frame over 125 bytes or fragmented.
    BadControl,
    /// A payload over [`MAX_PAYLOAD`].
    TooLarge(u64),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Masked => write!(f, "masked server frame"),
            FrameError::Reserved => write!(f, "reserved bits set"),
            FrameError::UnknownOpcode(op) => write!(f, "unknown opcode {op:#x}"),
            FrameError::BadControl => write!(f, "bad control frame"),
            FrameError::TooLarge(n) => write!(f, "frame of {n} bytes"),
        }
    }
}

/// Largest payload accepted (throng-chat's frames are at most a few hundred KiB: a
/// `history` reply is capped at 256 KiB by default).
pub const MAX_PAYLOAD: u64 = 16 << 20;

/// Parses the frame at the start of `buf`: `Ok(Some((frame, bytes used)))`, `Ok(None)`
/// when `buf` holds only part of it.
///
/// # Errors
///
/// A frame a server must not send ([`FrameError`]).
pub fn parse_frame(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, FrameError> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    if b1 & 0x80 != 0 {
        return Err(FrameError::Masked);
    }
    if b0 & 0x70 != 0 {
        return Err(FrameError::Reserved);
    }
    let fin = b0 & 0x80 != 0;
    let op = b0 & 0x0F;
    let (len, header) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => (u64::from_be_bytes(b.try_into().expect("8 bytes")), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    match op {
        opcode::CONTINUATION | opcode::TEXT | opcode::BINARY => {}
        opcode::CLOSE | opcode::PING | opcode::PONG => {
            if len > 125 || !fin {
                return Err(FrameError::BadControl);
            }
        }
        other => return Err(FrameError::UnknownOpcode(other)),
    }
    if len > MAX_PAYLOAD {
        return Err(FrameError::TooLarge(len));
    }
    let end = header + len as usize;
    match buf.get(header..end) {
        Some(payload) => Ok(Some((
            Frame {
                fin,
                opcode: op,
                payload,
            },
            end,
        ))),
        None => Ok(None),
    }
}

/// Appends a complete, masked client frame (`opcode`, `payload`) to `out`. The mask key
/// comes from `fastrand`: clients must mask, and servers reject unmasked frames.
pub fn push_frame(out: &mut Vec<u8>, op: u8, payload: &[u8]) {
    out.push(0x80 | op);
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let key = fastrand::u32(..).to_ne_bytes();
    out.extend_from_slice(&key);
    let start = out.len();
    out.extend_from_slice(payload);
    for (i, b) in out[start..].iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// A close frame's payload: the code, then the reason.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

/// The code in a close frame's payload (`0`: none given, as the old generator counted a
/// close without a code).
pub fn close_code(payload: &[u8]) -> u16 {
    match payload {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

/// The client's upgrade request for `path` on `host` (`host:port`), with `key` (16
/// random bytes in base64).
pub fn upgrade_request(host: &str, path: &str, key: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
    )
}

/// Where the response head in `buf` ends (after its blank line), once it is all there.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    find(buf, b"\r\n\r\n").map(|i| i + 4)
}

/// Checks a response head: `101` and the `Sec-WebSocket-Accept` that `accept` (derived
/// from the request's key) says it must carry.
///
/// # Errors
///
/// The status line of anything else, or the header that is wrong.
pub fn check_upgrade(head: &[u8], accept: &str) -> Result<(), String> {
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if status.split(' ').nth(1) != Some("101") {
        return Err(format!("upgrade refused: {status}"));
    }
    let got = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("sec-websocket-accept")
            .then(|| value.trim())
    });
    match got {
        Some(v) if v == accept => Ok(()),
        Some(v) => Err(format!("wrong Sec-WebSocket-Accept {v}")),
        None => Err("no Sec-WebSocket-Accept".into()),
    }
}

/// The first position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// The decimal number at the start of `s`, and how many bytes it took (none: `None`;
/// more than 19 digits do not fit and are `None` too).
pub fn leading_number(s: &[u8]) -> Option<(u64, usize)> {
    let len = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 || len > 19 {
        return None;
    }
    let n = s[..len]
        .iter()
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    Some((n, len))
}

/// What a receiver reads from a `message` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The room's sequence number.
    pub seq: u64,
    /// The send stamp the generator wrote at the start of the text (ns since the run's
    /// start), if the text starts with one.
    pub stamp: Option<u64>,
}

/// `seq` and the send stamp of a `message` frame's JSON (which must start with
/// [`MESSAGE_PREFIX`]); `None` without a readable `seq`. Reads about 60 bytes from the
/// front (the stamp, right after `room` and `from`) and 40 from the back (`seq`, `ts`).
pub fn delivery(json: &[u8]) -> Option<Delivery> {
    // `seq` is followed only by `,"ts":<ms>}`: look for it in the tail.
    let tail_from = json.len().saturating_sub(64);
    let at = tail_from + rfind(&json[tail_from..], SEQ_MARK)? + SEQ_MARK.len();
    let (seq, _) = leading_number(&json[at..])?;
    let stamp = find(&json[MESSAGE_PREFIX.len()..], TEXT_MARK).and_then(|i| {
        let text = &json[MESSAGE_PREFIX.len() + i + TEXT_MARK.len()..];
        stamp_of_text(text)
    });
    Some(Delivery { seq, stamp })
}

/// The stamp at the start of a text: `t=` and [`STAMP_DIGITS`] digits.
pub fn stamp_of_text(text: &[u8]) -> Option<u64> {
    let digits = text.strip_prefix(b"t=")?.get(..STAMP_DIGITS)?;
    match leading_number(digits) {
        Some((n, STAMP_DIGITS)) => Some(n),
        _ => None,
    }
}

/// Writes the start of a post's text: `t=` and the stamp in [`STAMP_DIGITS`] digits.
pub fn push_stamp(out: &mut Vec<u8>, stamp: u64) {
    use std::io::Write;
    let _ = write!(out, "t={stamp:0width$}", width = STAMP_DIGITS);
}

/// The id in an `ack` frame (up to the next quote: the generator's ids have no escapes).
pub fn ack_id(json: &[u8]) -> Option<&[u8]> {
    let at = find(json, ID_MARK)? + ID_MARK.len();
    let rest = &json[at..];
    find(rest, b"\"").map(|end| &rest[..end])
}

/// The stamp in a generator post id, `t<ns>-<counter>`.
pub fn id_stamp(id: &[u8]) -> Option<u64> {
    let rest = id.strip_prefix(b"t")?;
    match leading_number(rest)? {
        (n, len) if rest.get(len) == Some(&b'-') => Some(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server frame as a server writes it: unmasked.
    fn server_frame(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![if fin { 0x80 } else { 0 } | op];
        match payload.len() {
            n @ 0..=125 => f.push(n as u8),
            n @ 126..=0xFFFF => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn frames_of_each_length_encoding_parse() {
        for len in [0, 1, 125, 126, 127, 65_535, 65_536, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let bytes = server_frame(true, opcode::TEXT, &payload);
            let (f, used) = parse_frame(&bytes).unwrap().unwrap();
            assert_eq!(
                (f.fin, f.opcode, f.payload, used),
                (true, 1, &payload[..], bytes.len())
            );
            // Every strict prefix is incomplete, not an error.
            for cut in [0, 1, 2, 3, 9, bytes.len() - 1] {
                if cut < bytes.len() {
                    assert_eq!(parse_frame(&bytes[..cut]), Ok(None), "len {len} cut {cut}");
                }
            }
        }
    }

    #[test]
    fn a_stream_of_frames_parses_one_after_another() {
        let mut stream = server_frame(true, opcode::TEXT, b"one");
        stream.extend(server_frame(true, opcode::PING, b"p"));
        stream.extend(server_frame(false, opcode::TEXT, b"fr"));
        stream.extend(server_frame(true, opcode::CONTINUATION, b"ag"));
        stream.extend(server_frame(
            true,
            opcode::CLOSE,
            &close_payload(4008, "slow"),
        ));
        let mut at = 0;
        let mut got = Vec::new();
        while let Some((f, used)) = parse_frame(&stream[at..]).unwrap() {
            got.push((f.fin, f.opcode, f.payload.to_vec()));
            at += used;
        }
        assert_eq!(at, stream.len());
        assert_eq!(got[0], (true, opcode::TEXT, b"one".to_vec()));
        assert_eq!(got[1], (true, opcode::PING, b"p".to_vec()));
        assert_eq!(got[2], (false, opcode::TEXT, b"fr".to_vec()));
        assert_eq!(got[3], (true, opcode::CONTINUATION, b"ag".to_vec()));
        assert_eq!(close_code(&got[4].2), 4008);
        assert_eq!(close_code(&[]), 0);
    }

    #[test]
    fn frames_no_server_may_send_are_errors() {
        let mut masked = server_frame(true, opcode::TEXT, b"x");
        masked[1] |= 0x80;
        assert_eq!(parse_frame(&masked), Err(FrameError::Masked));
        let mut rsv = server_frame(true, opcode::TEXT, b"x");
        rsv[0] |= 0x40;
        assert_eq!(parse_frame(&rsv), Err(FrameError::Reserved));
        assert_eq!(
            parse_frame(&server_frame(true, 0x3, b"")),
            Err(FrameError::UnknownOpcode(3))
        );
        assert_eq!(
            parse_frame(&server_frame(false, opcode::PING, b"")),
            Err(FrameError::BadControl)
        );
        assert_eq!(
            parse_frame(&server_frame(true, opcode::PING, &[0; 126])),
            Err(FrameError::BadControl)
        );
        let huge = [0x81, 127, 0, 0, 0, 0, 0x10, 0, 0, 0];
        assert!(matches!(parse_frame(&huge), Err(FrameError::TooLarge(_))));
    }

    #[test]
    fn client_frames_are_masked_and_unmask_to_the_payload() {
        for len in [0, 5, 125, 126, 300, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut out = Vec::new();
            push_frame(&mut out, opcode::TEXT, &payload);
            assert_eq!(out[0], 0x81);
            assert!(out[1] & 0x80 != 0, "masked");
            let (len7, header) = (out[1] & 0x7F, out.len() - payload.len() - 4);
            let expect_header = match len {
                0..=125 => 2,
                126..=65_535 => 4,
                _ => 10,
            };
            assert_eq!(header, expect_header, "len7 {len7}");
            let key = &out[header..header + 4];
            let unmasked: Vec<u8> = out[header + 4..]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i & 3])
                .collect();
            assert_eq!(unmasked, payload);
        }
    }

    #[test]
    fn the_upgrade_answer_is_checked() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        let req = upgrade_request("127.0.0.1:8080", "/ws", key);
        assert!(req.starts_with("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
        assert!(req.ends_with("\r\n\r\n"));
        let mut ok = format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nsec-websocket-accept: {accept}\r\n\r\n"
        )
        .into_bytes();
        ok.extend_from_slice(b"\x81\x02hi");
        let end = head_end(&ok).unwrap();
        assert_eq!(&ok[end..], b"\x81\x02hi", "what follows is frames");
        assert_eq!(check_upgrade(&ok[..end], accept), Ok(()));
        assert!(check_upgrade(&ok[..end], "other").is_err());
        let refused = b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\n\r\n";
        assert_eq!(
            check_upgrade(refused, accept),
            Err("upgrade refused: HTTP/1.1 429 Too Many Requests".into())
        );
        assert_eq!(head_end(b"HTTP/1.1 101 Switching\r\n"), None);
    }

    #[test]
    fn stamps_and_seq_are_found_in_message_frames() {
        let mut text = Vec::new();
        push_stamp(&mut text, 123_456);
        assert_eq!(text, b"t=0000000000123456");
        let f = br#"{"type":"message","room":"r000","from":"u00001","text":"t=0000000000123456 xx","seq":17,"ts":1795871659982}"#;
        assert!(f.starts_with(MESSAGE_PREFIX));
        assert_eq!(
            delivery(f),
            Some(Delivery {
                seq: 17,
                stamp: Some(123_456)
            })
        );
        // Someone else's text (the soak's attackers post into the same rooms): counted
        // and seq-checked, not timed, even when it quotes a frame.
        let other = br#"{"type":"message","room":"r","from":"x","text":"\"seq\":1,\"text\":\"t=0000000000000001","seq":9,"ts":5}"#;
        assert_eq!(
            delivery(other),
            Some(Delivery {
                seq: 9,
                stamp: None
            })
        );
        // A stamp that is too short is no stamp.
        let short = br#"{"type":"message","room":"r","from":"x","text":"t=123 xx","seq":2,"ts":5}"#;
        assert_eq!(delivery(short).unwrap().stamp, None);
        assert_eq!(delivery(br#"{"type":"message","text":"t="}"#), None);
    }

    #[test]
    fn stamps_are_found_in_ack_ids() {
        let f = br#"{"type":"ack","id":"t123456-7","seq":3}"#;
        assert!(f.starts_with(ACK_PREFIX));
        assert_eq!(ack_id(f), Some(&b"t123456-7"[..]));
        assert_eq!(ack_id(f).and_then(id_stamp), Some(123_456));
        assert_eq!(id_stamp(b"7"), None);
        assert_eq!(id_stamp(b"t-7"), None);
        assert_eq!(id_stamp(b"t123"), None);
        assert_eq!(id_stamp(b"x123-1"), None);
        assert_eq!(ack_id(br#"{"type":"ack","seq":3}"#), None);
        assert_eq!(leading_number(b"12345678901234567890"), None, "past u64");
    }
}
