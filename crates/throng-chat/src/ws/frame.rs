//! Server frames, encoded once: header and payload in one [`Bytes`].
//!
//! A server's frames are never masked (RFC 6455 §5.1), so a frame's bytes on the wire are
//! the same for every connection that receives it. The hub encodes each room event's
//! frame once and queues clones of it (a reference count, no copy) to every member; each
//! connection's writer hands the bytes of its waiting frames to the socket in one
//! vectored write.

use bytes::Bytes;

/// Longest header a server frame has: 2 bytes, plus 8 for a 64-bit length.
const MAX_HEADER: usize = 10;

/// Opcodes (RFC 6455 §5.2).
pub(crate) const OP_CONTINUATION: u8 = 0x0;
pub(crate) const OP_TEXT: u8 = 0x1;
pub(crate) const OP_BINARY: u8 = 0x2;
pub(crate) const OP_CLOSE: u8 = 0x8;
pub(crate) const OP_PING: u8 = 0x9;
pub(crate) const OP_PONG: u8 = 0xA;

/// Largest payload of a control frame (ping, pong, close).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// One complete, unfragmented server frame as it goes on the wire. Cloning it is a
/// reference count.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame(Bytes);

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("opcode", &self.opcode())
            .field("len", &self.0.len())
            .finish()
    }
}

/// Writes the header of a final, unmasked frame into the end of `head` and returns where
/// it starts.
fn header(head: &mut [u8; MAX_HEADER], opcode: u8, len: usize) -> usize {
    let start = match len {
        0..=125 => {
            head[9] = len as u8;
            8
        }
        126..=0xffff => {
            head[7] = 126;
            head[8..10].copy_from_slice(&(len as u16).to_be_bytes());
            6
        }
        _ => {
            head[1] = 127;
            head[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            0
        }
    };
    head[start] = 0x80 | opcode;
    start
}

impl Frame {
    /// A text frame whose payload is `text`.
    pub fn text(text: &str) -> Frame {
        Frame::with_payload(OP_TEXT, text.as_bytes())
    }

    /// A text frame with the JSON of `value`, serialized straight after room for the
    /// header (so the payload is not copied again).
    ///
    /// # Errors
    /// As `serde_json::to_writer`: only for values that cannot be JSON.
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<Frame> {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&[0; MAX_HEADER]);
        serde_json::to_writer(&mut buf, value)?;
        let len = buf.len() - MAX_HEADER;
        let mut head = [0u8; MAX_HEADER];
        let start = header(&mut head, OP_TEXT, len);
        buf[start..MAX_HEADER].copy_from_slice(&head[start..]);
        let mut bytes = Bytes::from(buf);
        bytes = bytes.slice(start..);
        Ok(Frame(bytes))
    }

    /// The keep-alive ping the writer sends every `--ping-interval` (no payload).
    pub fn ping() -> Frame {
        Frame(Bytes::from_static(&[0x80 | OP_PING, 0]))
    }

    /// The pong answering a ping with `payload` (at most 125 bytes, which the reader
    /// guarantees; longer is cut).
    pub fn pong(payload: &[u8]) -> Frame {
        let payload = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
        Frame::with_payload(OP_PONG, payload)
    }

    /// A close frame with `code` and `reason` (cut to fit 125 bytes at a character
    /// boundary), or with no payload at all when `code` is `None`.
    pub fn close(code: Option<u16>, reason: &str) -> Frame {
        let Some(code) = code else {
            return Frame(Bytes::from_static(&[0x80 | OP_CLOSE, 0]));
        };
        let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let mut payload = Vec::with_capacity(2 + end);
        payload.extend_from_slice(&code.to_be_bytes());
        payload.extend_from_slice(&reason.as_bytes()[..end]);
        Frame::with_payload(OP_CLOSE, &payload)
    }

    fn with_payload(opcode: u8, payload: &[u8]) -> Frame {
        let mut head = [0u8; MAX_HEADER];
        let start = header(&mut head, opcode, payload.len());
        let mut buf = Vec::with_capacity(MAX_HEADER - start + payload.len());
        buf.extend_from_slice(&head[start..]);
        buf.extend_from_slice(payload);
        Frame(Bytes::from(buf))
    }

    /// The frame's bytes from `at` on: the rest of a frame whose first `at` bytes were
    /// written (to be written as they are, not a frame of its own).
    pub fn tail(&self, at: usize) -> Frame {
        Frame(self.0.slice(at.min(self.0.len())..))
    }

    /// The frame's bytes on the wire, header included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Bytes on the wire, header included.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never: a frame has at least its two header bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The opcode (`0x1` text, `0x8` close, `0x9` ping, `0xA` pong).
    pub fn opcode(&self) -> u8 {
        self.0.first().map_or(0, |b| b & 0x0f)
    }

    /// The payload (the frame without its header).
    pub fn payload(&self) -> &[u8] {
        let start = match self.0.get(1).map(|b| b & 0x7f) {
            Some(126) => 4,
            Some(127) => 10,
            _ => 2,
        };
        self.0.get(start..).unwrap_or_default()
    }

    /// The payload as text, for a text frame (lossy for anything else).
    pub fn payload_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.payload())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_take_the_three_header_sizes() {
        for (len, head) in [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10)] {
            let text = "x".repeat(len);
            let f = Frame::text(&text);
            assert_eq!(f.len(), head + len, "{len}");
            assert_eq!(f.as_bytes()[0], 0x81);
            assert_eq!(f.as_bytes()[1] & 0x80, 0, "unmasked");
            assert_eq!(f.payload(), text.as_bytes());
            let j = Frame::json(&text).unwrap();
            assert_eq!(j.payload(), format!("\"{text}\"").as_bytes());
        }
    }

    #[test]
    fn control_frames() {
        assert_eq!(Frame::ping().as_bytes(), &[0x89, 0]);
        assert_eq!(Frame::pong(b"hi").as_bytes(), &[0x8A, 2, b'h', b'i']);
        assert_eq!(Frame::pong(&[7; 200]).len(), 127);
        assert_eq!(
            Frame::close(Some(4008), "slow").as_bytes(),
            &[0x88, 6, 0x0f, 0xa8, b's', b'l', b'o', b'w']
        );
        assert_eq!(Frame::close(None, "ignored").as_bytes(), &[0x88, 0]);
        // A long reason is cut at a character boundary, within 125 bytes.
        let f = Frame::close(Some(1000), &"é".repeat(100));
        assert!(f.payload().len() <= 125);
        assert!(std::str::from_utf8(&f.payload()[2..]).is_ok());
    }
}
