//! WebSocket, server side (RFC 6455, no extensions): the handshake, the frames the server sends (encoded once, shared by every receiver), and the reader of client frames.

pub mod frame;
pub mod handshake;
pub mod read;
pub mod socket;

pub use frame::Frame;
pub use read::{Incoming, ReadError, ReadFailure, Reader};
pub use socket::{split, ReadHalf, WriteHalf};
