//! Client frames: a [`Decoder`] that turns bytes into messages (RFC 6455, server side),
//! and a [`Reader`] that feeds it from the socket.
//!
//! What the decoder refuses, and how the connection closes for it:
//!
//! | input | error | close |
//! |---|---|---|
//! | an unmasked frame, reserved bits, a reserved opcode, a control frame over 125 bytes or fragmented, a continuation with no message to continue, a new message inside a fragmented one, a 64-bit length with its top bit set, a close frame of 1 byte or with a code no endpoint may send | [`ReadError::Protocol`] | 1002 |
//! | a text message that is not UTF-8 (checked as fragments arrive, so a bad sequence split across fragments is caught too), a close reason that is not UTF-8 | [`ReadError::InvalidUtf8`] | 1007 |
//! | a message (one frame or its fragments together) over the size limit, refused as soon as a header says so, before its payload is read | [`ReadError::TooLarge`] | 1009 |
//!
//! # Memory
//!
//! Nothing grows without bound: the read buffer holds at most one frame (≤ the size limit
//! plus its header) and one read beyond it, a fragmented message at most the size limit.
//! An idle connection holds no buffer at all: the socket is read into a 4 KiB buffer on
//! the stack during the poll, and the decoder's buffer is given back whenever it is
//! empty and larger than [`KEEP`] bytes.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use super::frame::{
    MAX_CONTROL_PAYLOAD, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT,
};

/// Bytes read from the socket per poll, into a buffer on the stack.
const READ_CHUNK: usize = 4096;

/// A read buffer this size or smaller is kept when it empties; a larger one is freed.
pub const KEEP: usize = 256;

/// A complete message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A text message (UTF-8 checked).
    Text(String),
    /// A binary message of this many bytes (the server has no use for its content).
    Binary(usize),
    /// A ping and its payload (to echo in the pong).
    Ping(Vec<u8>),
    /// A pong of this many bytes.
    Pong(usize),
    /// The client closes, with its close code if it gave one.
    Close(Option<u16>),
}

/// Why the client's bytes are not a WebSocket stream; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// A protocol violation (close 1002); what it was.
    Protocol(&'static str),
    /// Text that is not UTF-8 (close 1007).
    InvalidUtf8,
    /// A message over the size limit (close 1009).
    TooLarge,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Protocol(what) => write!(f, "protocol error: {what}"),
            ReadError::InvalidUtf8 => f.write_str("invalid utf-8"),
            ReadError::TooLarge => f.write_str("message over the size limit"),
        }
    }
}

impl std::error::Error for ReadError {}

/// A fragmented message being put together.
#[derive(Debug)]
struct Partial {
    text: bool,
    /// The payload so far (text only: a binary message's content is not kept).
    data: Vec<u8>,
    /// Its length so far (binary included).
    len: usize,
    /// How much of `data` is known to be valid UTF-8.
    checked: usize,
}

/// Client frames in, messages out, for byte chunks of any size; see the module docs.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Where the unparsed bytes of `buf` start.
    start: usize,
    max_message: usize,
    partial: Option<Partial>,
}

/// A frame's header, once enough of it has arrived.
struct Header {
    fin: bool,
    opcode: u8,
    /// Header bytes, the masking key included.
    len: usize,
    payload: usize,
}

/// Checks `data[*checked..]` is UTF-8, allowing an unfinished character at the end unless
/// `fin`; moves `checked` past what is valid.
fn check_utf8(data: &[u8], checked: &mut usize, fin: bool) -> Result<(), ReadError> {
    match std::str::from_utf8(&data[*checked..]) {
        Ok(_) => {
            *checked = data.len();
            Ok(())
        }
        Err(e) if e.error_len().is_none() && !fin => {
            *checked += e.valid_up_to();
            Ok(())
        }
        Err(_) => Err(ReadError::InvalidUtf8),
    }
}

/// Whether a client may send close code `code` (RFC 6455 §7.4).
fn close_code_allowed(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

fn unmask(payload: &[u8], key: [u8; 4], into: &mut Vec<u8>) {
    into.reserve(payload.len());
    into.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
}

impl Decoder {
    /// A decoder refusing messages over `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            max_message,
            partial: None,
        }
    }

    /// Appends bytes read from the socket.
    pub fn extend(&mut self, data: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(data);
    }

    /// Drops the parsed bytes from the front of the buffer.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// Bytes buffered and not yet parsed.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The buffer's capacity (for tests of its bounds).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Bytes still missing from the frame being received, when its header has arrived
    /// (`0` otherwise).
    fn missing(&self) -> usize {
        match self.header() {
            Ok(Some(h)) => (h.len + h.payload).saturating_sub(self.buffered()),
            _ => 0,
        }
    }

    /// The header at the front of the buffer, checked as far as it has arrived;
    /// `Ok(None)` if more bytes are needed to check or read it.
    fn header(&self) -> Result<Option<Header>, ReadError> {
        let b = &self.buf[self.start..];
        if b.len() < 2 {
            return Ok(None);
        }
        let fin = b[0] & 0x80 != 0;
        if b[0] & 0x70 != 0 {
            return Err(ReadError::Protocol("reserved bits set"));
        }
        let opcode = b[0] & 0x0f;
        if !matches!(
            opcode,
            OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG
        ) {
            return Err(ReadError::Protocol("reserved opcode"));
        }
        if b[1] & 0x80 == 0 {
            return Err(ReadError::Protocol("unmasked client frame"));
        }
        let len7 = b[1] & 0x7f;
        let control = opcode >= OP_CLOSE;
        if control && !fin {
            return Err(ReadError::Protocol("fragmented control frame"));
        }
        if control && usize::from(len7) > MAX_CONTROL_PAYLOAD {
            return Err(ReadError::Protocol("control frame over 125 bytes"));
        }
        let (ext, payload) = match len7 {
            126 => {
                let Some(l) = b.get(2..4) else {
                    return Ok(None);
                };
                (2, u64::from(u16::from_be_bytes([l[0], l[1]])))
            }
            127 => {
                let Some(l) = b.get(2..10) else {
                    return Ok(None);
                };
                let mut n = [0u8; 8];
                n.copy_from_slice(l);
                let n = u64::from_be_bytes(n);
                if n >> 63 != 0 {
                    return Err(ReadError::Protocol("64-bit length with its top bit set"));
                }
                (8, n)
            }
            n => (0, u64::from(n)),
        };
        let so_far = match (opcode, &self.partial) {
            (OP_CONTINUATION, None) => {
                return Err(ReadError::Protocol("continuation with nothing to continue"))
            }
            (OP_CONTINUATION, Some(p)) => p.len,
            (OP_TEXT | OP_BINARY, Some(_)) => {
                return Err(ReadError::Protocol("new message inside a fragmented one"))
            }
            _ => 0,
        };
        if !control && payload.saturating_add(so_far as u64) > self.max_message as u64 {
            return Err(ReadError::TooLarge);
        }
        Ok(Some(Header {
            fin,
            opcode,
            len: 2 + ext + 4,
            payload: payload as usize, // ≤ max_message or ≤ 125: fits
        }))
    }

    /// The next complete message, if the buffer holds one; `Ok(None)` if more bytes are
    /// needed. After an error the stream is unusable (the connection closes).
    ///
    /// # Errors
    /// See [`ReadError`] and the module docs.
    pub fn decode(&mut self) -> Result<Option<Incoming>, ReadError> {
        loop {
            let Some(h) = self.header()? else {
                self.release();
                return Ok(None);
            };
            let total = h.len + h.payload;
            if self.buffered() < total {
                return Ok(None);
            }
            let frame = &self.buf[self.start..self.start + total];
            let mut key = [0u8; 4];
            key.copy_from_slice(&frame[h.len - 4..h.len]);
            let payload = &frame[h.len..];
            let msg = match h.opcode {
                OP_PING => {
                    let mut p = Vec::new();
                    unmask(payload, key, &mut p);
                    Some(Incoming::Ping(p))
                }
                OP_PONG => Some(Incoming::Pong(payload.len())),
                OP_CLOSE => Some(close(payload, key)?),
                OP_TEXT | OP_BINARY if h.fin => {
                    if h.opcode == OP_TEXT {
                        let mut p = Vec::new();
                        unmask(payload, key, &mut p);
                        let text = String::from_utf8(p).map_err(|_| ReadError::InvalidUtf8)?;
                        Some(Incoming::Text(text))
                    } else {
                        Some(Incoming::Binary(payload.len()))
                    }
                }
                OP_TEXT | OP_BINARY => {
                    let text = h.opcode == OP_TEXT;
                    let mut p = Partial {
                        text,
                        data: Vec::new(),
                        len: payload.len(),
                        checked: 0,
                    };
                    if text {
                        unmask(payload, key, &mut p.data);
                        check_utf8(&p.data, &mut p.checked, false)?;
                    }
                    self.partial = Some(p);
                    None
                }
                _ => {
                    // OP_CONTINUATION: `header` checked there is a partial message.
                    let Some(p) = self.partial.as_mut() else {
                        return Err(ReadError::Protocol("continuation with nothing to continue"));
                    };
                    p.len += payload.len();
                    if p.text {
                        unmask(payload, key, &mut p.data);
                        check_utf8(&p.data, &mut p.checked, h.fin)?;
                    }
                    match self.partial.take_if(|_| h.fin) {
                        Some(p) if p.text => {
                            let text =
                                String::from_utf8(p.data).map_err(|_| ReadError::InvalidUtf8)?;
                            Some(Incoming::Text(text))
                        }
                        Some(p) => Some(Incoming::Binary(p.len)),
                        None => None,
                    }
                }
            };
            self.start += total;
            if let Some(msg) = msg {
                self.release();
                return Ok(Some(msg));
            }
        }
    }

    /// Frees a large buffer once everything in it is parsed (idle connections hold none).
    fn release(&mut self) {
        if self.start == self.buf.len() {
            self.start = 0;
            if self.buf.capacity() > KEEP {
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
        }
    }
}

/// A close frame's payload: no code, or a code a client may send and a UTF-8 reason.
fn close(payload: &[u8], key: [u8; 4]) -> Result<Incoming, ReadError> {
    let mut p = Vec::new();
    unmask(payload, key, &mut p);
    match p.len() {
        0 => Ok(Incoming::Close(None)),
        1 => Err(ReadError::Protocol("close frame of one byte")),
        _ => {
            let code = u16::from_be_bytes([p[0], p[1]]);
            if !close_code_allowed(code) {
                return Err(ReadError::Protocol("close code not allowed"));
            }
            std::str::from_utf8(&p[2..]).map_err(|_| ReadError::InvalidUtf8)?;
            Ok(Incoming::Close(Some(code)))
        }
    }
}

/// Why [`Reader::next`] failed.
#[derive(Debug)]
pub enum ReadFailure {
    /// The client's bytes are not a WebSocket stream.
    Frame(ReadError),
    /// The socket failed.
    Io(io::Error),
}

/// Reads messages from a socket; see the module docs.
#[derive(Debug)]
pub struct Reader<R> {
    io: R,
    dec: Decoder,
    eof: bool,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// Reads `io`, starting with `already` (bytes that arrived with the handshake).
    pub fn new(io: R, already: &[u8], max_message: usize) -> Self {
        let mut dec = Decoder::new(max_message);
        dec.extend(already);
        Self {
            io,
            dec,
            eof: false,
        }
    }

    /// The next message; `Ok(None)` when the client closed the TCP connection.
    ///
    /// # Errors
    /// [`ReadFailure::Frame`] for a stream that breaks the protocol, [`ReadFailure::Io`]
    /// for a socket error.
    ///
    /// # Cancel safety
    /// Cancel safe: bytes read are in the decoder before the future can be dropped.
    pub async fn next(&mut self) -> Result<Option<Incoming>, ReadFailure> {
        loop {
            if let Some(m) = self.dec.decode().map_err(ReadFailure::Frame)? {
                return Ok(Some(m));
            }
            if self.eof {
                return Ok(None);
            }
            let missing = self.dec.missing();
            let n = if missing > READ_CHUNK {
                // A large frame: read straight into the decoder's buffer.
                // (`read_buf` fills the spare capacity: at least the frame's rest.)
                self.dec.compact();
                self.dec.buf.reserve(missing);
                self.io.read_buf(&mut self.dec.buf).await
            } else {
                poll_fn(|cx| self.poll_chunk(cx)).await
            }
            .map_err(ReadFailure::Io)?;
            if n == 0 {
                self.eof = true;
            }
        }
    }

    /// Reads what the socket has (up to [`READ_CHUNK`]) through a buffer on the stack, so
    /// a connection waiting for bytes holds none.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut chunk = [0u8; READ_CHUNK];
        let mut rb = ReadBuf::new(&mut chunk);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut rb))?;
        let n = rb.filled().len();
        self.dec.extend(rb.filled());
        Poll::Ready(Ok(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1000;

    /// A client frame: `fin`, `opcode`, masked or not, `payload`.
    fn frame(fin: bool, opcode: u8, masked: bool, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![(u8::from(fin) << 7) | opcode];
        let m = if masked { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => f.push(m | n as u8),
            n if n < 65_536 => {
                f.push(m | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(m | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        if masked {
            let key = [0x12, 0x34, 0x56, 0x78];
            f.extend_from_slice(&key);
            unmask(payload, key, &mut f);
        } else {
            f.extend_from_slice(payload);
        }
        f
    }

    fn decode_all(bytes: &[u8]) -> Result<Vec<Incoming>, ReadError> {
        let mut d = Decoder::new(MAX);
        d.extend(bytes);
        let mut out = Vec::new();
        while let Some(m) = d.decode()? {
            out.push(m);
        }
        Ok(out)
    }

    #[test]
    fn masked_frames_decode() {
        let mut b = frame(true, OP_TEXT, true, b"hello");
        b.extend(frame(true, OP_BINARY, true, &[1, 2, 3]));
        b.extend(frame(true, OP_PING, true, b"p"));
        b.extend(frame(true, OP_PONG, true, b"pp"));
        b.extend(frame(true, OP_CLOSE, true, &[0x03, 0xe8, b'o', b'k']));
        assert_eq!(
            decode_all(&b).unwrap(),
            vec![
                Incoming::Text("hello".into()),
                Incoming::Binary(3),
                Incoming::Ping(b"p".to_vec()),
                Incoming::Pong(2),
                Incoming::Close(Some(1000)),
            ]
        );
        assert_eq!(
            decode_all(&frame(true, OP_CLOSE, true, b"")).unwrap(),
            vec![Incoming::Close(None)]
        );
    }

    #[test]
    fn unmasked_frames_are_protocol_errors() {
        assert!(matches!(
            decode_all(&frame(true, OP_TEXT, false, b"hi")),
            Err(ReadError::Protocol(_))
        ));
        // Refused from the first two bytes, before the payload.
        let mut d = Decoder::new(MAX);
        d.extend(&[0x81, 0x05]);
        assert!(matches!(d.decode(), Err(ReadError::Protocol(_))));
    }

    #[test]
    fn reserved_bits_opcodes_and_bad_control_frames_are_protocol_errors() {
        let mut rsv = frame(true, OP_TEXT, true, b"x");
        rsv[0] |= 0x40;
        for bad in [
            rsv,
            frame(true, 0x3, true, b"x"),
            frame(true, 0xB, true, b"x"),
            frame(true, OP_PING, true, &[0; 126]),
            frame(false, OP_PING, true, b"x"),
            frame(true, OP_CONTINUATION, true, b"x"),
            frame(true, OP_CLOSE, true, &[3]),
            frame(true, OP_CLOSE, true, &1005u16.to_be_bytes()),
            frame(true, OP_CLOSE, true, &999u16.to_be_bytes()),
            frame(true, OP_CLOSE, true, &5000u16.to_be_bytes()),
        ] {
            assert!(
                matches!(decode_all(&bad), Err(ReadError::Protocol(_))),
                "{bad:?}"
            );
        }
        let mut new_inside = frame(false, OP_TEXT, true, b"a");
        new_inside.extend(frame(true, OP_TEXT, true, b"b"));
        assert!(matches!(
            decode_all(&new_inside),
            Err(ReadError::Protocol(_))
        ));
        let mut top_bit = vec![0x81, 0x80 | 127];
        top_bit.extend_from_slice(&(1u64 << 63).to_be_bytes());
        assert!(matches!(decode_all(&top_bit), Err(ReadError::Protocol(_))));
    }

    #[test]
    fn fragments_are_reassembled_with_control_frames_between() {
        let mut b = frame(false, OP_TEXT, true, b"hel");
        b.extend(frame(true, OP_PING, true, b"mid"));
        b.extend(frame(false, OP_CONTINUATION, true, b""));
        b.extend(frame(true, OP_CONTINUATION, true, b"lo"));
        b.extend(frame(false, OP_BINARY, true, &[1; 10]));
        b.extend(frame(true, OP_CONTINUATION, true, &[2; 5]));
        assert_eq!(
            decode_all(&b).unwrap(),
            vec![
                Incoming::Ping(b"mid".to_vec()),
                Incoming::Text("hello".into()),
                Incoming::Binary(15),
            ]
        );
    }

    #[test]
    fn utf8_is_checked_across_fragments() {
        // "é" split between two fragments is fine.
        let e = "é".as_bytes();
        let mut ok = frame(false, OP_TEXT, true, &[b'a', e[0]]);
        ok.extend(frame(true, OP_CONTINUATION, true, &[e[1], b'b']));
        assert_eq!(decode_all(&ok).unwrap(), vec![Incoming::Text("aéb".into())]);
        // A bad byte in the first fragment is refused before the message ends.
        let mut d = Decoder::new(MAX);
        d.extend(&frame(false, OP_TEXT, true, &[b'a', 0xff]));
        assert_eq!(d.decode(), Err(ReadError::InvalidUtf8));
        // An unfinished character at the end of the message.
        let mut cut = frame(false, OP_TEXT, true, b"a");
        cut.extend(frame(true, OP_CONTINUATION, true, &[e[0]]));
        assert_eq!(decode_all(&cut), Err(ReadError::InvalidUtf8));
        // Whole frames, and close reasons.
        assert_eq!(
            decode_all(&frame(true, OP_TEXT, true, &[0xff, 0xfe])),
            Err(ReadError::InvalidUtf8)
        );
        assert_eq!(
            decode_all(&frame(true, OP_CLOSE, true, &[0x03, 0xe8, 0xff])),
            Err(ReadError::InvalidUtf8)
        );
        // Binary is not text.
        assert_eq!(
            decode_all(&frame(true, OP_BINARY, true, &[0xff])).unwrap(),
            vec![Incoming::Binary(1)]
        );
    }

    #[test]
    fn oversize_messages_are_refused_from_the_header() {
        assert_eq!(
            decode_all(&frame(true, OP_TEXT, true, &[b'x'; MAX])).unwrap(),
            vec![Incoming::Text("x".repeat(MAX))]
        );
        // One frame over: refused with only its header read.
        let big = frame(true, OP_TEXT, true, &[b'x'; MAX + 1]);
        let mut d = Decoder::new(MAX);
        d.extend(&big[..4]);
        assert_eq!(d.decode(), Err(ReadError::TooLarge));
        // Fragments that add up to more.
        let mut frags = frame(false, OP_BINARY, true, &[0; 600]);
        frags.extend(frame(true, OP_CONTINUATION, true, &[0; 401]));
        assert_eq!(decode_all(&frags), Err(ReadError::TooLarge));
        // A 64-bit length.
        let mut huge = vec![0x82, 0x80 | 127];
        huge.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
        assert_eq!(decode_all(&huge), Err(ReadError::TooLarge));
    }

    #[test]
    fn the_buffer_is_given_back_when_empty() {
        let mut d = Decoder::new(100_000);
        d.extend(&frame(true, OP_TEXT, true, &[b'x'; 50_000]));
        assert!(d.capacity() >= 50_000);
        assert!(matches!(d.decode(), Ok(Some(Incoming::Text(_)))));
        assert_eq!(d.capacity(), 0);
        assert_eq!(d.decode(), Ok(None));
    }

    #[tokio::test]
    async fn the_reader_reads_small_and_large_frames_and_what_came_with_the_handshake() {
        let first = frame(true, OP_TEXT, true, b"early");
        let mut wire = frame(true, OP_TEXT, true, &[b'y'; 20_000]);
        wire.extend(frame(true, OP_PING, true, b""));
        let (mut client, server) = tokio::io::duplex(1024);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            client.write_all(&wire).await.unwrap();
        });
        let mut r = Reader::new(server, &first, 50_000);
        assert_eq!(
            r.next().await.unwrap(),
            Some(Incoming::Text("early".into()))
        );
        assert_eq!(
            r.next().await.unwrap(),
            Some(Incoming::Text("y".repeat(20_000)))
        );
        assert_eq!(r.next().await.unwrap(), Some(Incoming::Ping(vec![])));
        writer.await.unwrap();
        assert!(r.next().await.unwrap().is_none(), "end of stream");
    }

    mod splits {
        use super::*;
        use proptest::prelude::*;

        fn any_frame() -> impl Strategy<Value = Vec<u8>> {
            (
                any::<bool>(),
                prop::sample::select(vec![0x0u8, 0x1, 0x2, 0x8, 0x9, 0xA, 0x3]),
                prop::bool::weighted(0.95),
                prop_oneof![
                    prop::collection::vec(any::<u8>(), 0..40),
                    "\\PC{0,30}".prop_map(String::into_bytes),
                    (0usize..1200).prop_map(|n| vec![b'z'; n]),
                ],
            )
                .prop_map(|(fin, op, masked, p)| frame(fin, op, masked, &p))
        }

        /// Everything the decoder says about `bytes`, fed in pieces cut at `cuts`.
        fn decode_split(bytes: &[u8], cuts: &[usize]) -> (Vec<Incoming>, Option<ReadError>) {
            let mut d = Decoder::new(MAX);
            let mut out = Vec::new();
            let mut pos = 0;
            let mut ends: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            ends.push(bytes.len());
            ends.sort_unstable();
            for end in ends {
                d.extend(&bytes[pos..end.max(pos)]);
                pos = end.max(pos);
                loop {
                    match d.decode() {
                        Ok(Some(m)) => out.push(m),
                        Ok(None) => break,
                        Err(e) => return (out, Some(e)),
                    }
                }
            }
            (out, None)
        }

        proptest! {
            #[test]
            fn random_splits_decode_identically(
                frames in prop::collection::vec(any_frame(), 0..12),
                cuts in prop::collection::vec(any::<usize>(), 0..30),
            ) {
                let bytes: Vec<u8> = frames.concat();
                let whole = decode_split(&bytes, &[]);
                let split = decode_split(&bytes, &cuts);
                prop_assert_eq!(&whole, &split);
                // One byte at a time, too.
                let every: Vec<usize> = (0..bytes.len()).collect();
                prop_assert_eq!(&whole, &decode_split(&bytes, &every));
            }
        }
    }
}
