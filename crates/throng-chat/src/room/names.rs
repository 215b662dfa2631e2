//! Who holds which user name: the [`Names`] seam, and [`LocalNames`] for one process.
//!
//! Names are unique case-insensitively (`Alice` and `alice` are one name), so nobody can
//! pass for someone else by changing case; the holder keeps the spelling it chose.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::future::BoxFuture;
use futures::FutureExt;

use super::event::ConnId;

/// Why a name could not be claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// Another connection holds it.
    Taken,
    /// The registry cannot answer now.
    Unavailable(String),
}

/// The name registry every node shares.
pub trait Names: Send + Sync + 'static {
    /// Claims `name` for `conn`; claiming a name the connection already holds succeeds.
    fn claim(&self, name: &str, conn: ConnId) -> BoxFuture<'_, Result<(), NameError>>;
    /// Claims `name` for `conn` even if another connection holds it (a proven identity
    /// signing in again): returns the connection it was taken from. The caller closes it
    /// if it is on its own node; a registry shared by several nodes also has the old
    /// connection's node close it (4001), wherever it is. The default refuses with [`NameError::Taken`] as [`claim`](Self::claim)
    /// does, for registries that cannot take a name over.
    fn claim_replacing(
        &self,
        name: &str,
        conn: ConnId,
    ) -> BoxFuture<'_, Result<Option<ConnId>, NameError>> {
        let claim = self.claim(name, conn);
        async move { claim.await.map(|()| None) }.boxed()
    }
    /// Frees `name` if `conn` holds it.
    fn release(&self, name: &str, conn: ConnId) -> BoxFuture<'_, ()>;
    /// The connection holding `name`, if any (case-insensitively).
    fn holder(&self, name: &str) -> BoxFuture<'_, Result<Option<ConnId>, NameError>>;
}

impl std::fmt::Debug for dyn Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Names")
    }
}

/// The key a name is unique under.
pub fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Names held in this process.
#[derive(Debug, Default)]
pub struct LocalNames {
    held: Mutex<HashMap<String, ConnId>>,
}

impl Names for LocalNames {
    fn claim(&self, name: &str, conn: ConnId) -> BoxFuture<'_, Result<(), NameError>> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let r = match held.get(&fold(name)) {
            Some(holder) if *holder != conn => Err(NameError::Taken),
            Some(_) => Ok(()),
            None => {
                held.insert(fold(name), conn);
                Ok(())
            }
        };
        futures::future::ready(r).boxed()
    }

    fn claim_replacing(
        &self,
        name: &str,
        conn: ConnId,
    ) -> BoxFuture<'_, Result<Option<ConnId>, NameError>> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let old = held.insert(fold(name), conn).filter(|old| *old != conn);
        futures::future::ready(Ok(old)).boxed()
    }

    fn holder(&self, name: &str) -> BoxFuture<'_, Result<Option<ConnId>, NameError>> {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        futures::future::ready(Ok(held.get(&fold(name)).copied())).boxed()
    }

    fn release(&self, name: &str, conn: ConnId) -> BoxFuture<'_, ()> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let key = fold(name);
        if held.get(&key) == Some(&conn) {
            held.remove(&key);
        }
        futures::future::ready(()).boxed()
    }
}
