//! [`Shared`]: what a [`CachedStore`](super::CachedStore)'s clones and its listener share,
//! below both: the cache reads it and the listener keeps it up to date, and neither module
//! needs the other's.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::Cache;
use crate::digest::TokenDigest;
use crate::store::Session;

pub(super) struct Shared<D> {
    /// Sessions by their token's tag; the alias is the tag of the token's SHA-256, which is
    /// what Redis publishes when the session is removed.
    pub(super) cache: Cache<Arc<Session<D>>>,
    pub(super) digest: TokenDigest,
    pub(super) max_stale: Duration,
    pub(super) max_age: Duration,
}

impl<D> Shared<D> {
    /// Drops the session whose token's SHA-256 is `sha256_hex`, as Redis publishes it.
    pub(super) fn invalidate(&self, sha256_hex: &str) {
        self.cache
            .invalidate_alias(self.digest.tag(sha256_hex.as_bytes()));
    }

    pub(super) fn invalidate_all(&self, digests: &[String]) {
        digests.iter().for_each(|digest| self.invalidate(digest));
    }
}
