//! [`CachedStore`]: a [`RedisStore`] with resolved sessions kept in local memory, dropped on
//! every instance when a session is revoked anywhere.

use std::fmt;
use std::future::{ready, Ready};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::Either;
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use super::listen::listen;
use super::shared::Shared;
use super::{digest_hex, RedisStore};
use crate::cache::Cache;
use crate::digest::{Tag, TokenDigest};
use crate::redact::redact;
use crate::store::{CreateOptions, Issued, Session, SessionStore, StoreError};
use crate::{BearerToken, SessionResolver};

/// A [`RedisStore`] with a local cache in front: a hit is answered from memory, with no
/// round trip and no allocation (through
/// [`resolve_ready`](crate::SessionResolver::resolve_ready)).
///
/// Every removal of a session in Redis (revoke, revoke-all, revoke-others, the per-user cap),
/// made by any instance, is published on the store's invalidation channel, and every
/// `CachedStore` drops the entry when the message arrives, within milliseconds. The cache never
/// serves an entry for long after it could have been invalidated:
///
/// - it pings the channel's connection every `max_stale / 4`, and serves hits only while the
///   last answer is younger than `max_stale` (default 250 ms, on a monotonic clock); past
///   that, requests go to Redis;
/// - when the channel's connection is lost or re-established, it clears itself;
/// - on a Cluster, it serves hits only while the node it listens on sees every node up, and
///   clears itself when a failover or a lost node changes that view
///   ([`connect_cluster`](CachedStoreBuilder::connect_cluster) also moves to another node
///   when that one is lost);
/// - a lookup whose answer races an invalidation is not cached;
/// - an entry lives at most `max_age` (default 30 s), so the sliding refresh still happens in
///   Redis, and never past its session's expiry;
/// - it holds at most `max_entries` sessions (default 100,000): a full cache drops expired
///   entries first, then a tenth of the rest.
///
/// The listener is a tokio task, spawned by [`connect`](CachedStoreBuilder::connect) on the
/// current runtime (so call it inside one); it ends when the last clone of the store is
/// dropped.
///
/// ```no_run
/// use std::time::Duration;
/// use tower_bearer::store::{CachedStore, RedisStore};
/// use tower_bearer::BearerLayer;
///
/// # async fn run() -> Result<(), tower_bearer::BoxError> {
/// let store: RedisStore = RedisStore::builder().connect("redis://127.0.0.1:6379").await?;
/// let cached = CachedStore::builder(store)
///     .max_age(Duration::from_secs(10))
///     .connect("redis://127.0.0.1:6379")
///     .await?;
/// let layer = BearerLayer::new(cached.clone());
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
pub struct CachedStore<D = ()> {
    store: RedisStore<D>,
    cache: Arc<Shared<D>>,
}

/// Builds a [`CachedStore`]: `CachedStore::builder(store)`, its bounds, then
/// [`connect`](Self::connect).
#[derive(Debug)]
pub struct CachedStoreBuilder<D = ()> {
    store: RedisStore<D>,
    max_stale: Duration,
    max_age: Duration,
    max_entries: usize,
}

impl<D> CachedStoreBuilder<D>
where
    D: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// How long hits go on without a sign of life from the invalidation channel: the longest
    /// a revocation made elsewhere can go unseen while the channel is silently lost. Default
    /// 250 ms.
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// An entry's longest life. Default 30 s.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The most sessions held. Default 100,000.
    pub fn max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries;
        self
    }

    /// The cache, listening for invalidations on the Redis at `pubsub_url` (the store's
    /// server, or any node of its Cluster). Spawns the listener on the current tokio runtime.
    /// Connects lazily: until the channel answers, requests go to Redis.
    pub async fn connect(self, pubsub_url: &str) -> Result<CachedStore<D>, StoreError> {
        self.connect_cluster(&[pubsub_url]).await
    }

    /// The cache, listening for invalidations on one of a Cluster's nodes at a time: when
    /// that node is lost, the listener moves to the next (the cache forgets everything each
    /// time, and serves no hits until it listens again). On a Cluster the cache also serves
    /// hits only while its node sees every node up, and forgets everything when a failover or
    /// a lost node changes that view: a revocation published while the cluster bus was cut
    /// may not have reached it.
    pub async fn connect_cluster(self, urls: &[&str]) -> Result<CachedStore<D>, StoreError> {
        let clients = urls
            .iter()
            .map(|url| {
                redis::Client::open(*url)
                    .map_err(|e| super::builder::not_a_url("CachedStore", &redact(url), &e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if clients.is_empty() {
            return Err(StoreError::new("no URL to listen on for invalidations"));
        }
        let digest = TokenDigest::new().map_err(|e| StoreError::new(e.to_string()))?;
        let cache = Arc::new(Shared {
            cache: Cache::fed("cached_store", self.max_entries),
            digest,
            max_stale: self.max_stale,
            max_age: self.max_age,
        });
        let store = self.store;
        let marker = format!("{}cache:{}", store.inner.prefix, Uuid::new_v4().simple());
        tokio::spawn(listen(
            clients,
            store.clone(),
            store.channel(),
            marker,
            Arc::downgrade(&cache),
        ));
        Ok(CachedStore { store, cache })
    }
}

impl<D: Send + Sync + 'static> CachedStore<D>
where
    D: Serialize + DeserializeOwned + Clone,
{
    /// A cache in front of `store` with the default bounds, listening for invalidations on the
    /// Redis at `pubsub_url`: `CachedStore::builder(store).connect(pubsub_url)`.
    pub async fn new(store: RedisStore<D>, pubsub_url: &str) -> Result<Self, StoreError> {
        Self::builder(store).connect(pubsub_url).await
    }

    /// A builder, to set the cache's bounds.
    pub fn builder(store: RedisStore<D>) -> CachedStoreBuilder<D> {
        CachedStoreBuilder {
            store,
            max_stale: Duration::from_millis(250),
            max_age: Duration::from_secs(30),
            max_entries: 100_000,
        }
    }

    /// Whether hits are served from memory now: the channel answered within `max_stale`.
    pub fn is_live(&self) -> bool {
        self.cache.cache.is_live()
    }

    /// How many sessions are cached.
    pub fn cached(&self) -> usize {
        self.cache.cache.len()
    }

    /// The live session cached under `tag`, if any.
    #[inline]
    fn cached_session(&self, tag: Tag) -> Option<Arc<Session<D>>> {
        let session = self.cache.cache.get(tag)?;
        let fresh = !session.is_expired(self.store.inner.clock.now());
        fresh.then_some(session)
    }

    /// The store behind the cache.
    pub fn store(&self) -> &RedisStore<D> {
        &self.store
    }
}

impl<D> Clone for CachedStore<D> {
    fn clone(&self) -> Self {
        CachedStore {
            store: self.store.clone(),
            cache: self.cache.clone(),
        }
    }
}

impl<D> fmt::Debug for CachedStore<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedStore")
            .field("store", &self.store)
            .field("cached", &self.cache.cache.len())
            .finish_non_exhaustive()
    }
}

impl<D> SessionResolver for CachedStore<D>
where
    D: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    type Session = Arc<Session<D>>;
    type Error = StoreError;
    /// A hit is a ready future (no allocation, no round trip); a miss goes to Redis.
    type Future = Either<
        Ready<Result<Option<Arc<Session<D>>>, StoreError>>,
        <RedisStore<D> as SessionResolver>::Future,
    >;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        let tag = self.cache.digest.tag(token.as_bytes());
        if let Some(session) = self.cached_session(tag) {
            return Either::Left(ready(Ok(Some(session))));
        }
        let shared = self.cache.clone();
        let started = shared.cache.start();
        let alias = shared.digest.tag(digest_hex(token.as_bytes()).as_bytes());
        let clock = self.store.inner.clock.clone();
        let lookup = self.store.resolve(token);
        Either::Right(Box::pin(async move {
            let found = lookup.await?;
            if let Some(session) = &found {
                // Never past the session's own expiry.
                let left = session.expires_at().as_millis() - clock.now().as_millis();
                let ttl = shared
                    .max_age
                    .min(Duration::from_millis(u64::try_from(left).unwrap_or(0)));
                shared
                    .cache
                    .put(tag, Some(alias), session.clone(), ttl, started);
            }
            Ok(found)
        }))
    }

    fn resolve_ready(
        &self,
        token: BearerToken<'_>,
    ) -> Option<Result<Option<Self::Session>, Self::Error>> {
        let session = self.cached_session(self.cache.digest.tag(token.as_bytes()))?;
        Some(Ok(Some(session)))
    }

    /// Its tokens are its own, issued as `b64token`s.
    fn knows_only_b64tokens(&self) -> bool {
        true
    }
}

impl<D> SessionStore<D> for CachedStore<D>
where
    D: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    async fn create(
        &self,
        user_id: &str,
        data: D,
        options: CreateOptions,
    ) -> Result<Issued<D>, StoreError> {
        let (issued, evicted) = self.store.create_session(user_id, data, options).await?;
        self.cache.invalidate_all(&evicted);
        Ok(issued)
    }

    async fn list(&self, user_id: &str) -> Result<Vec<Arc<Session<D>>>, StoreError> {
        self.store.list(user_id).await
    }

    async fn revoke(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        let (live, removed) = self.store.revoke_user(user_id, "only", id).await?;
        self.cache.invalidate_all(&removed);
        Ok(live > 0)
    }

    // Each revocation drops the entries here before it returns; the published invalidation
    // reaches the other instances.
    // A revocation that failed may still have happened (a durable one that too few replicas
    // confirmed did): the entry goes either way.
    async fn revoke_token(&self, token: BearerToken<'_>) -> Result<bool, StoreError> {
        let revoked = self.store.revoke_token(token).await;
        self.cache.invalidate(&digest_hex(token.as_bytes()));
        revoked
    }

    async fn revoke_token_of(
        &self,
        user_id: &str,
        token: BearerToken<'_>,
    ) -> Result<bool, StoreError> {
        let revoked = self.store.revoke_token_of(user_id, token).await;
        self.cache.invalidate(&digest_hex(token.as_bytes()));
        revoked
    }

    async fn revoke_all(&self, user_id: &str) -> Result<usize, StoreError> {
        let (live, removed) = self.store.revoke_user(user_id, "all", Uuid::nil()).await?;
        self.cache.invalidate_all(&removed);
        Ok(live)
    }

    async fn revoke_others(&self, user_id: &str, keep: Uuid) -> Result<usize, StoreError> {
        let (live, removed) = self.store.revoke_user(user_id, "except", keep).await?;
        self.cache.invalidate_all(&removed);
        Ok(live)
    }

    async fn len(&self) -> Result<usize, StoreError> {
        self.store.len().await
    }
}
