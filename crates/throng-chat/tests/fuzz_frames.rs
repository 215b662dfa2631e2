//! WebSocket framing under property tests: after the handshake (and, half the time, a
//! `hello` and a `join`), a raw client sends random frames (any opcode, reserved bits,
//! mask or none, fragments, close frames with any code, JSON or random payloads, up to
//! past `--max-frame`) and, in half the cases, raw bytes and frame headers whose length
//! is a lie.
//!
//! Checked: the server either keeps serving (a request sent after well-formed frames
//! is answered) or closes; either way it closes the connection once the client
//! stops writing; no server thread panics; another client in the same room still gets its
//! post round trip, and `delivery_gaps` is 0.
//!
//! Size: `THRONG_FUZZ_SEQUENCES` cases (default 300).

mod support;

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, FileFailurePersistence};
use serde_json::json;
use support::fuzz::{any_request, env_cases, server_panics, server_runtime};
use support::raw::Raw;
use support::{config, start, Client, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CI_CASES: u32 = 300;

#[derive(Debug, Clone)]
enum Payload {
    Json(String),
    Bytes(Vec<u8>),
    /// A close frame's code and reason.
    Close(u16, String),
    /// `n` bytes of `x` (past `--max-frame`, 64 KiB, for some).
    Long(usize),
}

#[derive(Debug, Clone)]
enum Chunk {
    Frame {
        fin: bool,
        rsv: u8,
        opcode: u8,
        masked: bool,
        payload: Payload,
    },
    /// Raw bytes on the wire.
    Bytes(Vec<u8>),
    /// A header that announces `declared` bytes, then `sent` bytes.
    Lie {
        opcode: u8,
        declared: u64,
        sent: Vec<u8>,
    },
}

impl Payload {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Payload::Json(s) => s.as_bytes().to_vec(),
            Payload::Bytes(b) => b.clone(),
            Payload::Close(code, reason) => {
                let mut b = code.to_be_bytes().to_vec();
                b.extend_from_slice(reason.as_bytes());
                b
            }
            Payload::Long(n) => vec![b'x'; *n],
        }
    }
}

/// The bytes of one frame; `declared` overrides the length field.
fn encode(fin: bool, rsv: u8, opcode: u8, masked: bool, payload: &[u8], declared: u64) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | ((rsv & 7) << 4) | (opcode & 0x0f)];
    let mask_bit = if masked { 0x80 } else { 0 };
    match declared {
        n if n < 126 => f.push(mask_bit | n as u8),
        n if n < 65536 => {
            f.push(mask_bit | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(mask_bit | 127);
            f.extend_from_slice(&n.to_be_bytes());
        }
    }
    if masked {
        let key = [0x37u8, 0xfa, 0x21, 0x3d];
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

impl Chunk {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Chunk::Frame {
                fin,
                rsv,
                opcode,
                masked,
                payload,
            } => {
                let p = payload.bytes();
                encode(*fin, *rsv, *opcode, *masked, &p, p.len() as u64)
            }
            Chunk::Bytes(b) => b.clone(),
            Chunk::Lie {
                opcode,
                declared,
                sent,
            } => encode(true, 0, *opcode, true, sent, *declared),
        }
    }
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        4 => any_request().prop_map(|r| Payload::Json(r.text())),
        2 => Just(Payload::Json(r#"{"type":"ping"}"#.into())),
        3 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Payload::Bytes),
        1 => (any::<u16>(), "\\PC{0,10}").prop_map(|(c, r)| Payload::Close(c, r)),
        1 => prop_oneof![0usize..200, 60_000usize..70_000].prop_map(Payload::Long),
    ]
}

fn frame(legal_bias: bool) -> impl Strategy<Value = Chunk> {
    let opcode = prop_oneof![
        6 => prop::sample::select(vec![0x1u8, 0x1, 0x2, 0x0, 0x8, 0x9, 0xA]),
        1 => 0u8..16,
    ];
    let rsv = if legal_bias {
        prop_oneof![9 => Just(0u8), 1 => 0u8..8].boxed()
    } else {
        (0u8..8).boxed()
    };
    (
        prop::bool::weighted(0.85),
        rsv,
        opcode,
        prop::bool::weighted(0.9),
        payload(),
    )
        .prop_map(|(fin, rsv, opcode, masked, payload)| Chunk::Frame {
            fin,
            rsv,
            opcode,
            masked,
            payload,
        })
}

fn chunk() -> impl Strategy<Value = Chunk> {
    prop_oneof![
        6 => frame(false),
        2 => prop::collection::vec(any::<u8>(), 1..64).prop_map(Chunk::Bytes),
        1 => (
            prop::sample::select(vec![0x1u8, 0x2, 0x9]),
            prop_oneof![0u64..300, any::<u64>()],
            prop::collection::vec(any::<u8>(), 0..100),
        )
            .prop_map(|(opcode, declared, sent)| Chunk::Lie { opcode, declared, sent }),
    ]
}

/// A request whose answer (an `unknown_type` error naming it) shows the connection is
/// still served, before `hello` or after.
const MARKER: &str = r#"{"type":"fuzz-marker"}"#;

/// Reads until the answer to [`MARKER`], a close frame or the end of the stream: `true`
/// for the answer. A hang fails.
async fn answer_or_close(raw: &mut Raw) -> bool {
    tokio::time::timeout(WAIT, async {
        loop {
            let mut h = [0u8; 2];
            if raw.tcp.read_exact(&mut h).await.is_err() {
                return false;
            }
            let opcode = h[0] & 0x0f;
            let mut len = u64::from(h[1] & 0x7f);
            if len == 126 {
                let mut b = [0u8; 2];
                if raw.tcp.read_exact(&mut b).await.is_err() {
                    return false;
                }
                len = u64::from(u16::from_be_bytes(b));
            } else if len == 127 {
                let mut b = [0u8; 8];
                if raw.tcp.read_exact(&mut b).await.is_err() {
                    return false;
                }
                len = u64::from_be_bytes(b);
            }
            assert!(len <= 1 << 20, "a server frame of {len} bytes");
            let mut p = vec![0u8; len as usize];
            if raw.tcp.read_exact(&mut p).await.is_err() {
                return false;
            }
            match opcode {
                0x8 => return false,
                0x1 => {
                    let v: serde_json::Value =
                        serde_json::from_slice(&p).expect("text frames are JSON");
                    assert!(v["type"].is_string(), "{v}");
                    let message = v["message"].as_str().unwrap_or_default();
                    if v["type"] == "error" && message.contains("`fuzz-marker`") {
                        return true;
                    }
                }
                0x9 | 0xA => {}
                other => panic!("the server sent opcode {other}"),
            }
        }
    })
    .await
    .expect("the server answers or closes in time (no hang)")
}

async fn run(login: bool, well_formed: bool, chunks: Vec<Chunk>) -> Result<(), TestCaseError> {
    let (panics_before, _) = server_panics();
    let server = start(support::unlimited(config())).await;
    let mut alice = Client::login(&server, "alice").await;
    alice.join("lobby").await;

    let mut raw = Raw::connect(server.addr).await;
    if login {
        raw.text(&json!({"type": "hello", "name": "mallory"}).to_string())
            .await;
        raw.text(&json!({"type": "join", "room": "lobby"}).to_string())
            .await;
    }
    for c in &chunks {
        // The server may have closed already: what it did shows in what is read.
        if raw.tcp.write_all(&c.bytes()).await.is_err() {
            break;
        }
    }
    if well_formed {
        raw.text(MARKER).await;
        let _served = answer_or_close(&mut raw).await;
    }
    // Stop writing: the server must close the connection now, whatever state it was in.
    let _ = raw.tcp.shutdown().await;
    prop_assert!(
        raw.eof_within(WAIT).await,
        "the server closes the connection"
    );
    drop(raw);

    // Alice is unaffected.
    alice
        .send(json!({"type": "post", "room": "lobby", "text": "still here", "id": "a1"}))
        .await;
    let (mut got_message, mut got_ack) = (false, false);
    while !(got_message && got_ack) {
        let v = alice.recv().await;
        got_message |= v["type"] == "message" && v["from"] == "alice" && v["text"] == "still here";
        got_ack |= v["type"] == "ack" && v["id"] == "a1";
        prop_assert!(v["type"] != "error", "{}", v);
    }
    drop(alice);
    prop_assert_eq!(server.app.metrics.delivery_gaps.get(), 0);
    let (panics, notes) = server_panics();
    prop_assert_eq!(
        panics,
        panics_before,
        "server threads panicked: {:?}",
        notes
    );
    tokio::time::timeout(Duration::from_secs(30), server.shutdown())
        .await
        .expect("the server shuts down in time")
        .expect("a clean shutdown");
    Ok(())
}

fn chunks() -> impl Strategy<Value = (bool, Vec<Chunk>)> {
    prop_oneof![
        prop::collection::vec(frame(true), 0..12).prop_map(|c| (true, c)),
        prop::collection::vec(chunk(), 1..12).prop_map(|c| (false, c)),
    ]
}

proptest! {
    #![proptest_config(PropConfig {
        cases: env_cases("THRONG_FUZZ_SEQUENCES", CI_CASES),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        max_shrink_iters: 200,
        ..PropConfig::default()
    })]
    #[test]
    fn random_frames_after_the_handshake_never_hurt_the_server_or_other_clients(
        login in any::<bool>(),
        (well_formed, chunks) in chunks(),
    ) {
        server_runtime().block_on(run(login, well_formed, chunks))?;
    }
}
