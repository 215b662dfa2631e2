//! The baseline's frames: what clients send, what it sends back (field order as in
//! throng-chat's protocol, `type` first).

use serde::{Deserialize, Serialize};

/// A request the baseline understands.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    Hello {
        name: String,
    },
    Join {
        room: String,
    },
    Post {
        room: String,
        text: String,
        #[serde(default)]
        id: Option<String>,
    },
}

/// A frame the baseline sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg<'a> {
    Welcome {
        name: &'a str,
    },
    Joined {
        room: &'a str,
        members: Vec<&'a str>,
        history: [(); 0],
    },
    Message {
        room: &'a str,
        from: &'a str,
        text: &'a str,
        seq: u64,
        ts: u64,
    },
    Ack {
        id: &'a str,
        seq: u64,
    },
    Error {
        code: &'a str,
        message: &'a str,
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<&'a str>,
    },
}

impl ServerMsg<'_> {
    /// The frame's JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialize")
    }
}

/// `true` for 1 to 32 of `A-Z a-z 0-9 _ - .` (throng-chat's rule for names).
pub fn valid_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}
