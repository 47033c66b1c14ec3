//! Session stores: the [`SessionStore`] trait, and [`MemoryStore`], the embedded default.
//!
//! A store issues, resolves and revokes sessions with better-auth's semantics. Every store is
//! also a [`SessionResolver`], so `BearerLayer::new(store.clone())` is all a server needs.
//! The trait is async and fallible and assumes nothing about memory: a Redis or SQL store
//! implements it the same way.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use uuid::Uuid;

use crate::{BearerToken, BoxError, SessionResolver};

mod clock;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod conformance;
#[cfg(any(feature = "memory-store", feature = "redis"))]
mod lifetimes;
#[cfg(feature = "memory-store")]
mod memory;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
mod session;

pub use clock::{Clock, ManualClock, SystemClock};
#[cfg(feature = "memory-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "memory-store")))]
pub use memory::{MemoryStore, MemoryStoreBuilder};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::{CachedStore, CachedStoreBuilder, Durability, RedisStore, RedisStoreBuilder};
pub use session::{CreateOptions, Issued, Session, SessionToken, Timestamp};

/// A failing store backend. Its message never contains a token. It says its cause (`session
/// store failed: <cause>`), so [`source`](std::error::Error::source) is the cause's own
/// source: a chain walked link by link says each cause once.
pub struct StoreError(BoxError);

impl StoreError {
    /// Wraps a backend error.
    pub fn new(error: impl Into<BoxError>) -> Self {
        StoreError(error.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session store failed: {}", self.0)
    }
}

impl fmt::Debug for StoreError {
    /// The whole chain, as `main` returning the error prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::chain::text(self))
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Issues, lists and revokes sessions; resolving comes from [`SessionResolver`].
///
/// Each method names its better-auth equivalent. Revocations take effect when the call returns.
#[allow(clippy::len_without_is_empty)] // an async `len` answers both questions
pub trait SessionStore<D>: SessionResolver<Session = Arc<Session<D>>, Error = StoreError> {
    /// Issues a session for `user_id` [sign-in].
    fn create(
        &self,
        user_id: &str,
        data: D,
        options: CreateOptions,
    ) -> impl Future<Output = Result<Issued<D>, StoreError>> + Send;

    /// The user's live sessions [list-sessions].
    fn list(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<Arc<Session<D>>>, StoreError>> + Send;

    /// Revokes the user's session with this id; `true` if it was live [revoke-session].
    fn revoke(
        &self,
        user_id: &str,
        id: Uuid,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Revokes the session this token names; `true` if it was live [revoke-session, sign-out].
    fn revoke_token(
        &self,
        token: BearerToken<'_>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Revokes the session this token names if it belongs to `user_id`; `true` if it was live
    /// [revoke-session, which takes a token but only the caller's own].
    fn revoke_token_of(
        &self,
        user_id: &str,
        token: BearerToken<'_>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Revokes all of the user's sessions; how many there were [revoke-sessions].
    fn revoke_all(&self, user_id: &str) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Revokes all of the user's sessions but `keep`; how many [revoke-other-sessions].
    fn revoke_others(
        &self,
        user_id: &str,
        keep: Uuid,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// How many sessions the store holds. A store may count sessions that expired but have
    /// not been swept yet.
    fn len(&self) -> impl Future<Output = Result<usize, StoreError>> + Send;
}
