//! The wire protocol: one JSON object per text frame, with a `type` field. See
//! `PROTOCOL.md` for the reference; this module is its single source of truth in code.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::room::Message;
use crate::ws::Frame;

/// Why the server closes a connection: the WebSocket close code and reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReason {
    pub code: u16,
    pub reason: &'static str,
}

/// The client closed, or went away.
pub const CLOSE_NORMAL: CloseReason = CloseReason {
    code: 1000,
    reason: "bye",
};
/// The server is stopping (after `bye`).
pub const CLOSE_SHUTDOWN: CloseReason = CloseReason {
    code: 1001,
    reason: "shutdown",
};
/// A bad name at `hello`.
pub const CLOSE_INVALID_NAME: CloseReason = CloseReason {
    code: 1008,
    reason: "invalid name",
};
/// The name is held by another connection.
pub const CLOSE_NAME_TAKEN: CloseReason = CloseReason {
    code: 1008,
    reason: "name taken",
};
/// `--auth token`: `hello` had no token, or a bad or expired one.
pub const CLOSE_UNAUTHORIZED: CloseReason = CloseReason {
    code: 1008,
    reason: "unauthorized",
};
/// WebSocket close code for a connection whose user signed in again elsewhere.
pub const CLOSE_REPLACED_CODE: u16 = 4001;
/// `--auth token`: a newer connection proved the same identity and took over.
pub const CLOSE_REPLACED: CloseReason = CloseReason {
    code: CLOSE_REPLACED_CODE,
    reason: "replaced",
};
/// A frame over `--max-frame`, or one the transport could not read.
pub const CLOSE_TOO_LARGE: CloseReason = CloseReason {
    code: 1009,
    reason: "frame too large",
};
/// A WebSocket protocol error (unmasked frame, bad opcode, oversized control frame, …).
pub const CLOSE_PROTOCOL: CloseReason = CloseReason {
    code: 1002,
    reason: "protocol error",
};
/// A text frame that is not valid UTF-8.
pub const CLOSE_INVALID_UTF8: CloseReason = CloseReason {
    code: 1007,
    reason: "invalid utf-8",
};
/// This node cannot serve any more (it lost its lease on the shared store): reconnect,
/// to another node, and catch up from history.
pub const CLOSE_TRY_AGAIN: CloseReason = CloseReason {
    code: 1013,
    reason: "try again later",
};
/// An operator disconnected the user (admin API).
pub const CLOSE_KICKED: CloseReason = CloseReason {
    code: 4003,
    reason: "disconnected by an operator",
};
/// Requests over budget, again and again (see [`crate::budget`]).
pub const CLOSE_ABUSE: CloseReason = CloseReason {
    code: 1008,
    reason: "rate limit abuse",
};
/// No successful `hello` within `--hello-timeout`.
pub const CLOSE_HELLO_TIMEOUT: CloseReason = CloseReason {
    code: 4000,
    reason: "hello timeout",
};
/// Nothing at all (not even a pong) within `--ping-interval` + `--pong-timeout`.
pub const CLOSE_DEAD: CloseReason = CloseReason {
    code: 4000,
    reason: "no answer to ping",
};
/// No request within `--idle-timeout`.
pub const CLOSE_IDLE: CloseReason = CloseReason {
    code: 4000,
    reason: "idle timeout",
};
/// WebSocket close code for a client that does not read fast enough.
pub const CLOSE_SLOW_CODE: u16 = 4008;
/// The outbound queue overflowed (frames or bytes).
pub const CLOSE_SLOW: CloseReason = CloseReason {
    code: CLOSE_SLOW_CODE,
    reason: "slow consumer",
};

/// Longest user or room name, in characters.
pub const MAX_NAME: usize = 32;

/// `true` if `s` is a valid user or room name: 1 to 32 of `A-Z a-z 0-9 _ - .`.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// A request from a client.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    /// First frame: pick a name (`--auth off`) or prove one with a JWT (`--auth token`,
    /// where `name` is not needed and the token's `sub` is the name).
    Hello {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        token: Option<String>,
    },
    /// Join a room.
    Join { room: String },
    /// Leave a room.
    Leave { room: String },
    /// Post to a room; `id` asks for an `ack`.
    Post {
        room: String,
        text: String,
        #[serde(default)]
        id: Option<String>,
    },
    /// Older messages of a room.
    History {
        room: String,
        #[serde(default)]
        before: Option<u64>,
        #[serde(default)]
        limit: Option<u32>,
    },
    /// Liveness check. A struct variant, not a unit one: serde ignores
    /// `deny_unknown_fields` for unit variants of an internally tagged enum, so `Ping`
    /// accepted `{"type":"ping","anything":1}` while every other type refused unknown
    /// fields (found by `tests/fuzz_protocol.rs`).
    Ping {},
}

/// The `type` values a client may send.
pub const CLIENT_TYPES: [&str; 6] = ["hello", "join", "leave", "post", "history", "ping"];

/// Error codes, as sent in `error.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    UnknownType,
    NotInRoom,
    TooLarge,
    RateLimited,
    InvalidName,
    NameTaken,
    NotAuthenticated,
    /// `--auth token`: no token, or a bad or expired one (then close 1008).
    Unauthorized,
    /// The token's `rooms` claim does not list the room (the connection stays open).
    Forbidden,
    TooManyRooms,
    /// The server cannot make the request durable now; retry after `retry_after_ms`.
    Unavailable,
    /// The connection is closed for a timeout (no `hello`, idle).
    Timeout,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::BadRequest,
        ErrorCode::UnknownType,
        ErrorCode::NotInRoom,
        ErrorCode::TooLarge,
        ErrorCode::RateLimited,
        ErrorCode::InvalidName,
        ErrorCode::NameTaken,
        ErrorCode::NotAuthenticated,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::TooManyRooms,
        ErrorCode::Unavailable,
        ErrorCode::Timeout,
    ];

    /// The code as sent in `error.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::NotInRoom => "not_in_room",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::NameTaken => "name_taken",
            ErrorCode::NotAuthenticated => "not_authenticated",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::TooManyRooms => "too_many_rooms",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Timeout => "timeout",
        }
    }
}

/// Why a frame could not be understood.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError {
    pub code: ErrorCode,
    pub message: String,
    /// The request's `id`, when it had one, for the error's `ref`.
    pub reference: Option<String>,
}

/// Parses one text frame. Malformed JSON, a missing or non-string `type`, and missing or
/// wrongly typed fields are `bad_request`; a `type` nobody knows is `unknown_type`.
pub fn parse(text: &str) -> Result<ClientMsg, ParseError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ParseError {
        code: ErrorCode::BadRequest,
        message: format!("malformed JSON: {e}"),
        reference: None,
    })?;
    let reference = value.get("id").and_then(|v| v.as_str()).map(str::to_owned);
    let bad = |code, message: String| ParseError {
        code,
        message,
        reference: reference.clone(),
    };
    let Some(obj) = value.as_object() else {
        return Err(bad(ErrorCode::BadRequest, "expected a JSON object".into()));
    };
    let kind = match obj.get("type") {
        Some(serde_json::Value::String(t)) => t.as_str(),
        Some(_) => return Err(bad(ErrorCode::BadRequest, "`type` must be a string".into())),
        None => return Err(bad(ErrorCode::BadRequest, "missing `type`".into())),
    };
    if !CLIENT_TYPES.contains(&kind) {
        return Err(bad(
            ErrorCode::UnknownType,
            format!("unknown type `{kind}`"),
        ));
    }
    serde_json::from_value(value.clone()).map_err(|e| bad(ErrorCode::BadRequest, e.to_string()))
}

/// A message as sent to members and in history: `{"type":"message",...}`.
#[derive(Debug, Serialize)]
pub struct WireMessage<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub room: &'a str,
    pub from: &'a str,
    pub text: &'a str,
    pub seq: u64,
    pub ts: u64,
}

impl<'a> From<&'a Message> for WireMessage<'a> {
    fn from(m: &'a Message) -> Self {
        WireMessage {
            kind: "message",
            room: &m.room,
            from: &m.from,
            text: &m.text,
            seq: m.seq,
            ts: m.ts,
        }
    }
}

fn wire(ms: &[Arc<Message>]) -> Vec<WireMessage<'_>> {
    ms.iter().map(|m| WireMessage::from(&**m)).collect()
}

/// Replies and events from the server.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg<'a> {
    Welcome {
        name: &'a str,
    },
    Joined {
        room: &'a str,
        members: Vec<&'a str>,
        history: Vec<WireMessage<'a>>,
    },
    Left {
        room: &'a str,
    },
    Presence {
        room: &'a str,
        user: &'a str,
        event: &'static str,
    },
    Ack {
        id: &'a str,
        seq: u64,
    },
    History {
        room: &'a str,
        messages: Vec<WireMessage<'a>>,
    },
    Pong,
    Error {
        code: ErrorCode,
        message: &'a str,
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    Bye {
        reason: &'a str,
    },
}

impl ServerMsg<'_> {
    /// The frame's JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialize")
    }

    /// The frame, ready to queue: a WebSocket text frame, header included.
    pub fn frame(&self) -> Frame {
        Frame::json(self).expect("server messages always serialize")
    }
}

/// A message's frame (encoded once, header and payload, shared by every member).
pub fn message_frame(m: &Message) -> Frame {
    Frame::json(&WireMessage::from(m)).expect("messages serialize")
}

/// `joined`: the members and the history before the join.
pub fn joined_frame(room: &str, members: &[Arc<str>], history: &[Arc<Message>]) -> Frame {
    ServerMsg::Joined {
        room,
        members: members.iter().map(|m| &**m).collect(),
        history: wire(history),
    }
    .frame()
}

/// `presence` `join` or `leave`.
pub fn presence_frame(room: &str, user: &str, event: &'static str) -> Frame {
    ServerMsg::Presence { room, user, event }.frame()
}

/// `left`.
pub fn left_frame(room: &str) -> Frame {
    ServerMsg::Left { room }.frame()
}

/// A `history` reply.
pub fn history_frame(room: &str, messages: &[Arc<Message>]) -> Frame {
    ServerMsg::History {
        room,
        messages: wire(messages),
    }
    .frame()
}

/// An `error` with a retry hint.
pub fn retry_frame(
    code: ErrorCode,
    message: &str,
    reference: Option<&str>,
    retry_after: std::time::Duration,
) -> Frame {
    ServerMsg::Error {
        code,
        message,
        reference,
        retry_after_ms: Some(retry_after.as_millis().max(1) as u64),
    }
    .frame()
}

/// An `error` frame.
pub fn error_frame(code: ErrorCode, message: &str, reference: Option<&str>) -> Frame {
    ServerMsg::Error {
        code,
        message,
        reference,
        retry_after_ms: None,
    }
    .frame()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_code_names_match_the_wire() {
        for c in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }

    #[test]
    fn names_follow_the_rule() {
        assert!(valid_name("alice"));
        assert!(valid_name("a.b-c_D9"));
        assert!(valid_name(&"x".repeat(32)));
        assert!(!valid_name(""));
        assert!(!valid_name(&"x".repeat(33)));
        assert!(!valid_name("al ice"));
        assert!(!valid_name("émile"));
        assert!(!valid_name("a/b"));
    }

    #[test]
    fn parse_sorts_bad_input_into_codes() {
        assert_eq!(parse(r#"{"type":"ping"}"#), Ok(ClientMsg::Ping {}));
        assert_eq!(parse("{nope").unwrap_err().code, ErrorCode::BadRequest);
        assert_eq!(parse("[1]").unwrap_err().code, ErrorCode::BadRequest);
        assert_eq!(
            parse(r#"{"room":"x"}"#).unwrap_err().code,
            ErrorCode::BadRequest
        );
        assert_eq!(
            parse(r#"{"type":5}"#).unwrap_err().code,
            ErrorCode::BadRequest
        );
        assert_eq!(
            parse(r#"{"type":"dance"}"#).unwrap_err().code,
            ErrorCode::UnknownType
        );
        // Unknown fields are refused for every type, `ping` included.
        for unknown in [
            r#"{"type":"ping","extra":1}"#,
            r#"{"type":"ping","id":null}"#,
            r#"{"type":"join","room":"x","id":"j1"}"#,
        ] {
            assert_eq!(parse(unknown).unwrap_err().code, ErrorCode::BadRequest);
        }
        let e = parse(r#"{"type":"post","room":"x","text":7,"id":"c1"}"#).unwrap_err();
        assert_eq!(
            (e.code, e.reference.as_deref()),
            (ErrorCode::BadRequest, Some("c1"))
        );
        assert_eq!(
            parse(r#"{"type":"post","room":"lobby","text":"hi","id":"c1"}"#),
            Ok(ClientMsg::Post {
                room: "lobby".into(),
                text: "hi".into(),
                id: Some("c1".into())
            })
        );
    }
}
