//! A WebSocket client at the byte level, to send what well-behaved libraries never send:
//! invalid UTF-8, unmasked frames, unknown opcodes, oversized control frames, unfinished
//! fragments.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Raw {
    pub tcp: TcpStream,
}

impl Raw {
    /// Connects and completes the upgrade handshake.
    pub async fn connect(addr: SocketAddr) -> Raw {
        let mut tcp = TcpStream::connect(addr).await.expect("connects");
        let req = format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            let n = tcp.read(&mut b).await.unwrap();
            assert_eq!(n, 1, "handshake reply");
            head.push(b[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        Raw { tcp }
    }

    /// Writes one frame: `fin`, `opcode`, masked or not, with `payload`.
    pub async fn frame(&mut self, fin: bool, opcode: u8, masked: bool, payload: &[u8]) {
        let mut f = vec![(u8::from(fin) << 7) | opcode];
        let mask_bit = if masked { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => f.push(mask_bit | n as u8),
            n if n < 65536 => {
                f.push(mask_bit | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(mask_bit | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        if masked {
            let key = [1u8, 2, 3, 4];
            f.extend_from_slice(&key);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            f.extend_from_slice(payload);
        }
        // The server may already have closed: a failed write is for the caller to see
        // in what it reads.
        let _ = self.tcp.write_all(&f).await;
    }

    /// A masked text frame.
    pub async fn text(&mut self, s: &str) {
        self.frame(true, 0x1, true, s.as_bytes()).await;
    }

    /// Reads frames until a close frame, returning its code; `None` if the connection
    /// ended without one. Waits at most `wait`.
    pub async fn close_code(&mut self, wait: Duration) -> Option<u16> {
        tokio::time::timeout(wait, async {
            loop {
                let mut h = [0u8; 2];
                self.tcp.read_exact(&mut h).await.ok()?;
                let opcode = h[0] & 0x0f;
                let mut len = u64::from(h[1] & 0x7f);
                if len == 126 {
                    let mut b = [0u8; 2];
                    self.tcp.read_exact(&mut b).await.ok()?;
                    len = u64::from(u16::from_be_bytes(b));
                } else if len == 127 {
                    let mut b = [0u8; 8];
                    self.tcp.read_exact(&mut b).await.ok()?;
                    len = u64::from_be_bytes(b);
                }
                let mut payload = vec![0u8; len as usize];
                self.tcp.read_exact(&mut payload).await.ok()?;
                if opcode == 0x8 {
                    return (payload.len() >= 2)
                        .then(|| u16::from_be_bytes([payload[0], payload[1]]));
                }
            }
        })
        .await
        .expect("the server closed in time")
    }

    /// Whether the server has closed the TCP connection (reads to EOF, discarding
    /// frames), within `wait`.
    pub async fn eof_within(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, async {
            let mut buf = [0u8; 4096];
            loop {
                match self.tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await
        .is_ok()
    }
}
