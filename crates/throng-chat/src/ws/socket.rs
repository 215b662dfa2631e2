//! An upgraded connection, split into the reader's and the writer's halves.
//!
//! hyper hands over the connection as an `Upgraded` (its IO behind a box, with any
//! bytes the client sent after its request). When that IO is the listener's own TCP
//! stream (always, with [`crate::serve`]), it is taken back out and split without a
//! lock (`TcpStream::into_split`), so the writer's vectored writes are `writev` on the
//! socket itself; any other IO is split with `tokio::io::split`.

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::read::Reader;

/// The reading half of a connection.
pub type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
/// The writing half of a connection.
pub type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// Splits `upgraded` into a reader of client messages (at most `max_message` bytes
/// each) and the socket's writing half.
pub fn split(upgraded: Upgraded, max_message: usize) -> (Reader<ReadHalf>, WriteHalf) {
    match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => {
            let (r, w) = parts.io.into_inner().into_split();
            (
                Reader::new(Box::new(r), &parts.read_buf, max_message),
                Box::new(w),
            )
        }
        Err(upgraded) => {
            let (r, w) = tokio::io::split(TokioIo::new(upgraded));
            (Reader::new(Box::new(r), &[], max_message), Box::new(w))
        }
    }
}
