//! [`CachedStore`]: a [`RedisStore`] with resolved sessions kept in local memory, dropped on
//! every instance when a session is revoked anywhere.

use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use dashmap::DashMap;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use siphasher::sip128::SipHasher13;
use uuid::Uuid;

use super::{digest_hex, RedisStore};
use crate::store::{Clock, CreateOptions, Issued, Session, SessionStore, StoreError, SystemClock};
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
///   last answer is younger than `max_stale` (default 250 ms); past that, requests go to Redis;
/// - when the channel's connection is lost or re-established, it clears itself;
/// - a lookup whose answer races an invalidation is not cached;
/// - an entry lives at most `max_age` (default 30 s), so the sliding refresh still happens in
///   Redis, and never past its session's expiry;
/// - it holds at most `max_entries` sessions (default 100,000).
///
/// ```no_run
/// use tower_bearer::store::{CachedStore, RedisStore};
/// use tower_bearer::BearerLayer;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store: RedisStore = RedisStore::builder().connect("redis://127.0.0.1:6379").await?;
/// let cached = CachedStore::new(store, "redis://127.0.0.1:6379")?;
/// let layer = BearerLayer::new(cached.clone());
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
pub struct CachedStore<D = ()> {
    store: RedisStore<D>,
    cache: Arc<Cache<D>>,
}

struct Cache<D> {
    entries: DashMap<u128, Entry<D>, BuildHasherDefault<TagHasher>>,
    /// Token digest (as Redis publishes it) to the entry's tag.
    digests: DashMap<String, u128>,
    tagger: SipHasher13,
    /// Bumped by every invalidation and every reset: a lookup that started before is not cached.
    generation: AtomicU64,
    /// Until when (wall clock, ms) the channel is known alive.
    alive_until: AtomicU64,
    max_stale: Duration,
    max_age: Duration,
    max_entries: usize,
}

struct Entry<D> {
    session: Arc<Session<D>>,
    /// When (wall clock, ms) the entry stops being served.
    stale_at: u64,
}

/// Tags are pseudo-random already: hashing them again would be waste.
#[derive(Default)]
struct TagHasher(u64);

impl Hasher for TagHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 ^= n as u64;
    }
}

impl<D> Cache<D> {
    /// The wall clock in ms: the coarse one on Linux (about 10 ns a read; `Instant::elapsed`
    /// costs about 25), read once per hit.
    fn now_ms(&self) -> u64 {
        u64::try_from(SystemClock.now().as_millis()).unwrap_or(0)
    }

    fn tag(&self, token: &[u8]) -> u128 {
        self.tagger.hash(token).as_u128()
    }

    fn alive(&self) -> bool {
        self.alive_at(self.now_ms())
    }

    fn alive_at(&self, now_ms: u64) -> bool {
        now_ms < self.alive_until.load(Ordering::Acquire)
    }

    fn invalidate(&self, digest: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some((_, tag)) = self.digests.remove(digest) {
            self.entries.remove(&tag);
        }
    }

    fn invalidate_all(&self, digests: &[String]) {
        digests.iter().for_each(|digest| self.invalidate(digest));
    }

    fn reset(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
        self.digests.clear();
    }
}

impl<D: Send + Sync + 'static> CachedStore<D>
where
    D: Serialize + DeserializeOwned + Clone,
{
    /// A cache in front of `store`, listening for invalidations on the Redis at `pubsub_url`
    /// (the store's server, or any node of its Cluster). Spawns the listener on the current
    /// tokio runtime; it ends when the last clone of the store is dropped.
    pub fn new(store: RedisStore<D>, pubsub_url: &str) -> Result<Self, StoreError> {
        Self::with_limits(
            store,
            pubsub_url,
            Duration::from_millis(250),
            Duration::from_secs(30),
            100_000,
        )
    }

    /// [`new`](Self::new) with its bounds: `max_stale` (how long hits go on without a sign of
    /// life from the channel), `max_age` (an entry's longest life) and `max_entries`.
    pub fn with_limits(
        store: RedisStore<D>,
        pubsub_url: &str,
        max_stale: Duration,
        max_age: Duration,
        max_entries: usize,
    ) -> Result<Self, StoreError> {
        let client = redis::Client::open(pubsub_url).map_err(StoreError::new)?;
        let mut key = [0u8; 16];
        getrandom::fill(&mut key).map_err(|e| StoreError::new(e.to_string()))?;
        let key = u128::from_le_bytes(key);
        let cache = Arc::new(Cache {
            entries: DashMap::default(),
            digests: DashMap::new(),
            tagger: SipHasher13::new_with_keys(key as u64, (key >> 64) as u64),
            generation: AtomicU64::new(0),
            alive_until: AtomicU64::new(0),
            max_stale,
            max_age,
            max_entries,
        });
        let marker = format!("{}cache:{}", store.inner.prefix, Uuid::new_v4().simple());
        tokio::spawn(listen(
            client,
            store.clone(),
            store.channel(),
            marker,
            Arc::downgrade(&cache),
        ));
        Ok(CachedStore { store, cache })
    }

    /// Whether hits are served from memory now: the channel answered within `max_stale`.
    pub fn is_live(&self) -> bool {
        self.cache.alive()
    }

    /// How many sessions are cached.
    pub fn cached(&self) -> usize {
        self.cache.entries.len()
    }

    /// The store behind the cache.
    pub fn store(&self) -> &RedisStore<D> {
        &self.store
    }
}

/// Subscribes, pings, applies invalidations; on any failure clears the cache and starts over.
///
/// Each ping also checks a marker key of this instance's (set with a TTL at each subscription):
/// a `FLUSHALL` or `FLUSHDB` deletes sessions without publishing anything, and the marker's
/// absence says that it happened.
async fn listen<D>(
    client: redis::Client,
    store: RedisStore<D>,
    channel: String,
    marker: String,
    cache: Weak<Cache<D>>,
) where
    D: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    let mut backoff = Duration::from_millis(20);
    loop {
        let Some(max_stale) = cache.upgrade().map(|c| c.max_stale) else {
            return;
        };
        let connected = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            redis::RedisResult::Ok(pubsub)
        };
        let pubsub = match tokio::time::timeout(max_stale, connected).await {
            Ok(Ok(pubsub)) => pubsub,
            _ => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(20);
        let (mut sink, mut messages) = pubsub.split();
        if store.set_marker(&marker).await.is_err() {
            continue;
        }
        // A fresh subscription: whatever was published while there was none is unknown.
        match cache.upgrade() {
            Some(cache) => {
                cache.reset();
                let until = cache.now_ms() + millis(max_stale);
                cache.alive_until.store(until, Ordering::Release);
            }
            None => return,
        }
        let mut ping = tokio::time::interval(max_stale / 4);
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else { break };
                    let Some(cache) = cache.upgrade() else { return };
                    match std::str::from_utf8(message.get_payload_bytes()) {
                        Ok(digest) => cache.invalidate(digest),
                        Err(_) => cache.reset(),
                    }
                }
                _ = ping.tick() => {
                    let checks = async {
                        // In subscribed mode the reply is an array ([pong, ""]), not a string.
                        sink.ping::<redis::Value>().await?;
                        store.has_marker(&marker).await
                    };
                    let answered = tokio::time::timeout(max_stale, checks).await;
                    let Some(cache) = cache.upgrade() else { return };
                    match answered {
                        Ok(Ok(true)) => {
                            let until = cache.now_ms() + millis(max_stale);
                            cache.alive_until.store(until, Ordering::Release);
                        }
                        // Flushed: forget everything, mark again.
                        Ok(Ok(false)) => {
                            cache.reset();
                            if store.set_marker(&marker).await.is_err() {
                                break;
                            }
                        }
                        _ => break,
                    }
                }
            }
        }
        // The channel is lost: stop serving, forget everything, reconnect.
        if let Some(cache) = cache.upgrade() {
            cache.alive_until.store(0, Ordering::Release);
            cache.reset();
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
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
            .field("cached", &self.cache.entries.len())
            .finish_non_exhaustive()
    }
}

impl<D> SessionResolver for CachedStore<D>
where
    D: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    type Session = Arc<Session<D>>;
    type Error = StoreError;
    type Future = <RedisStore<D> as SessionResolver>::Future;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        let cache = self.cache.clone();
        let generation = cache.generation.load(Ordering::Acquire);
        let tag = cache.tag(token.as_bytes());
        let digest = digest_hex(token.as_bytes());
        let lookup = self.store.resolve(token);
        Box::pin(async move {
            let found = lookup.await?;
            if let Some(session) = &found {
                let unchanged = cache.generation.load(Ordering::Acquire) == generation;
                if unchanged && cache.alive() && cache.entries.len() < cache.max_entries {
                    let stale_at = cache.now_ms() + millis(cache.max_age);
                    cache.digests.insert(digest, tag);
                    let entry = Entry {
                        session: session.clone(),
                        stale_at,
                    };
                    cache.entries.insert(tag, entry);
                    // An invalidation that arrived meanwhile wins.
                    if cache.generation.load(Ordering::Acquire) != generation {
                        cache.entries.remove(&tag);
                    }
                }
            }
            Ok(found)
        })
    }

    fn resolve_ready(
        &self,
        token: BearerToken<'_>,
    ) -> Option<Result<Option<Self::Session>, Self::Error>> {
        let cache = &self.cache;
        let now = cache.now_ms();
        if !cache.alive_at(now) {
            return None;
        }
        let entry = cache.entries.get(&cache.tag(token.as_bytes()))?;
        let fresh = now < entry.stale_at && !entry.session.is_expired(self.store.inner.clock.now());
        fresh.then(|| Ok(Some(entry.session.clone())))
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
    async fn revoke_token(&self, token: BearerToken<'_>) -> Result<bool, StoreError> {
        let revoked = self.store.revoke_token(token).await?;
        self.cache.invalidate(&digest_hex(token.as_bytes()));
        Ok(revoked)
    }

    async fn revoke_token_of(
        &self,
        user_id: &str,
        token: BearerToken<'_>,
    ) -> Result<bool, StoreError> {
        let revoked = self.store.revoke_token_of(user_id, token).await?;
        self.cache.invalidate(&digest_hex(token.as_bytes()));
        Ok(revoked)
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
