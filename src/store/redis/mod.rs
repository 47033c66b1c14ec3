//! [`RedisStore`]: sessions in Redis, standalone or Cluster, shared by every instance of a
//! service.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use redis::FromRedisValue;
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use super::lifetimes::Lifetimes;
use super::{Clock, CreateOptions, Issued, Session, SessionStore, StoreError};
use crate::trace::refused;
use crate::{BearerToken, SessionResolver};

/// The store's name in its `DEBUG` lines.
const RESOLVER: &str = "RedisStore";

mod builder;
mod cache;
mod cluster;
mod conn;
mod durability;
mod durable_conns;
mod keys;
mod listen;
mod scripts;
mod shared;
mod writes;

pub use builder::RedisStoreBuilder;
pub use cache::{CachedStore, CachedStoreBuilder};
pub(crate) use conn::{Conn, LazyCluster};
pub use durability::Durability;
use durable_conns::DurableConns;
use keys::{digest_hex, millis, token_tag};
use scripts::Call;
pub(crate) use scripts::Lua;

/// Sessions in Redis, with [`MemoryStore`](super::MemoryStore)'s semantics: better-auth's
/// expiry and sliding refresh, list, revoke, revoke-all, revoke-others and the per-user cap.
///
/// - **No raw token at rest.** A session is stored under the SHA-256 of its token; the record
///   holds neither.
/// - **Atomic.** Every operation that touches several keys (create with the cap, revoke-all,
///   revoke-others, revoke by token) is one Lua script. A token starts with a 4-hex-digit tag
///   derived from its user's id (`a1b2.…`), and every key of one user carries that tag as its
///   Redis Cluster hash tag, so one user's keys share a slot and the scripts stay atomic on
///   Cluster too: a revoke-all that returns has removed every session of the user.
/// - **Expiry.** A session's key expires with the session, so Redis drops what has expired;
///   the store also checks expiry against its [`Clock`] on every resolve.
/// - **Sliding refresh** writes at most once per session per `update_age`, never on every
///   request, and never brings back a session revoked meanwhile.
/// - **Failures.** A Redis error or a response timeout (default 1 s: a stopped Redis accepts
///   connections and never answers) is the resolver's `Err`, which the layer answers with
///   `503`; only a real miss is `Ok(None)`. The connection reconnects by itself.
/// - **Failover.** On a Cluster with replicas, a failover is followed without a restart (also
///   when the old primary is paused rather than gone); requests that meet it get `503`s.
///   Redis replicates asynchronously, so by default a revocation acknowledged just before a
///   failover can come undone: [`durable_revocations`](RedisStoreBuilder::durable_revocations)
///   and [`durable_creations`](RedisStoreBuilder::durable_creations) make a write wait for
///   replicas first; [`Durability`] says what each setting guarantees. A durable write and
///   its wait go on connections of their own, never the one resolves use, so a lagging
///   replica slows the durable writes alone.
///
/// Keys, under the prefix (default `tower-bearer:`, without `{` or `}`):
/// `<prefix>{<tag>}s:<sha256 hex>` (a hash: `exp`, `id`, `user`, `json`) and
/// `<prefix>{<tag>}u:<user id>` (a sorted set of digests by creation time).
///
/// ```no_run
/// use tower_bearer::store::{CreateOptions, RedisStore, SessionStore};
/// use tower_bearer::BearerLayer;
///
/// # async fn run() -> Result<(), tower_bearer::BoxError> {
/// let store: RedisStore = RedisStore::builder().connect("redis://127.0.0.1:6379").await?;
/// let issued = store.create("user-1", (), CreateOptions::default()).await?;
/// let layer = BearerLayer::new(store.clone());
/// # let _ = (issued, layer);
/// # Ok(())
/// # }
/// ```
pub struct RedisStore<D = ()> {
    inner: Arc<Inner>,
    _data: PhantomData<fn() -> D>,
}

pub(super) struct Inner {
    conn: Conn,
    /// The connections durable writes and their waits go on, if any write waits: never the
    /// one above, so that a wait holds up no read.
    durable: Option<DurableConns>,
    prefix: String,
    clock: Arc<dyn Clock>,
    lifetimes: Lifetimes,
    scripts: Scripts,
    /// What revocations, and the cap's evictions, wait for.
    revocations: Durability,
    /// What creations wait for.
    creations: Durability,
    /// Where Redis is, for errors: the URL without credentials.
    at: String,
}

pub(super) struct Scripts {
    create: Lua,
    refresh: Lua,
    list: Lua,
    revoke_token: Lua,
    revoke_user: Lua,
}

impl<D> Clone for RedisStore<D> {
    fn clone(&self) -> Self {
        RedisStore {
            inner: self.inner.clone(),
            _data: PhantomData,
        }
    }
}

impl<D> fmt::Debug for RedisStore<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .field("cluster", &self.inner.conn.is_cluster())
            .finish_non_exhaustive()
    }
}

impl<D> RedisStore<D>
where
    D: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// The channel every removal of a session is published on: its digest.
    pub fn invalidation_channel(&self) -> String {
        self.channel()
    }

    fn channel(&self) -> String {
        format!("{}invalidate", self.inner.prefix)
    }

    fn session_base(&self, tag: &str) -> String {
        format!("{}{{{tag}}}s:", self.inner.prefix)
    }

    fn index_base(&self, tag: &str) -> String {
        format!("{}{{{tag}}}u:", self.inner.prefix)
    }

    /// Runs a script that only reads, or writes what a failover may lose (a refresh).
    async fn invoke<T: FromRedisValue>(&self, call: Call<'_>) -> Result<T, StoreError> {
        self.write(call, Durability::PRIMARY).await
    }

    /// Runs a script that writes, then waits for its `durability`: the script's reply, or an
    /// error if too few replicas confirmed the write in time.
    async fn write<T: FromRedisValue>(
        &self,
        call: Call<'_>,
        durability: Durability,
    ) -> Result<T, StoreError> {
        let waits: Vec<redis::Cmd> = durability
            .wait()
            .then(|| durability.command())
            .into_iter()
            .collect();
        let (reply, waited) = self.run(&call, &waits).await?;
        if let Some(waited) = waited.into_iter().next() {
            durability.confirmed(waited)?;
        }
        T::from_redis_value(reply).map_err(StoreError::new)
    }

    /// Runs a script and its `waits`: on the store's connection if there are none, else on a
    /// connection of the durable writes' own.
    async fn run(
        &self,
        call: &Call<'_>,
        waits: &[redis::Cmd],
    ) -> Result<(redis::Value, Vec<redis::Value>), StoreError> {
        match &self.inner.durable {
            Some(durable) if !waits.is_empty() => durable.run(call, waits).await,
            _ => self.inner.conn.run(call, waits).await,
        }
        .map_err(|e| self.failed(e))
    }

    /// A Redis error, named: Redis, its address, and the cause once.
    fn failed(&self, cause: redis::RedisError) -> StoreError {
        redis_failed(&self.inner.at, &cause)
    }

    fn encode(session: &Session<D>) -> Result<String, StoreError> {
        serde_json::to_string(session).map_err(StoreError::new)
    }

    fn decode(json: &str) -> Result<Session<D>, StoreError> {
        serde_json::from_str(json).map_err(StoreError::new)
    }

    /// Resolves a token: the live session, refreshed if due.
    async fn resolve_token(self, token: Vec<u8>) -> Result<Option<Arc<Session<D>>>, StoreError> {
        let Some(tag) = token_tag(&token) else {
            refused(RESOLVER, "not a token this store issues (no tag)");
            return Ok(None);
        };
        let key = format!("{}{}", self.session_base(tag), digest_hex(&token));
        let json: Option<String> = self
            .inner
            .conn
            .query(redis::cmd("HGET").arg(&key).arg("json"))
            .await
            .map_err(|e| self.failed(e))?;
        let Some(json) = json else {
            refused(
                RESOLVER,
                "no session in Redis has the token (signed out, revoked, expired, or never issued)",
            );
            return Ok(None);
        };
        let session = Self::decode(&json)?;
        let now = self.inner.clock.now();
        if session.is_expired(now) {
            // Redis' own TTL drops it too; this is for a clock ahead of Redis' (tests).
            let revoke = self.inner.scripts.revoke_token.key(&key);
            let mut revoke = revoke;
            revoke
                .arg(digest_hex(&token))
                .arg(self.index_base(tag))
                .arg(now.as_millis())
                .arg("")
                .arg(self.channel());
            self.invoke::<i64>(revoke).await?;
            refused(RESOLVER, "the session expired");
            return Ok(None);
        }
        let lifetime = self.inner.lifetimes.lifetime(session.remember_me);
        if self
            .inner
            .lifetimes
            .refresh_due(session.expires_at(), lifetime, now)
        {
            let expires = now + lifetime;
            session.refresh(now, expires);
            let index = format!("{}{}", self.index_base(tag), session.user_id);
            let mut refresh = self.inner.scripts.refresh.key(&key);
            refresh
                .key(index)
                .arg(Self::encode(&session)?)
                .arg(expires.as_millis())
                .arg(millis(lifetime));
            if self.invoke::<i64>(refresh).await? == 0 {
                // Revoked between the read and the refresh.
                refused(RESOLVER, "the session was revoked during its refresh");
                return Ok(None);
            }
        }
        Ok(Some(Arc::new(session)))
    }

    async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        self.inner.conn.query(cmd).await
    }

    /// Sets a cache's marker key, which lives a minute unless set again.
    async fn set_marker(&self, marker: &str) -> redis::RedisResult<()> {
        self.query(redis::cmd("SET").arg(marker).arg(1).arg("EX").arg(60))
            .await
    }

    /// Whether the marker is still there (no flush since it was set); refreshes its TTL.
    async fn has_marker(&self, marker: &str) -> redis::RedisResult<bool> {
        self.query(redis::cmd("EXPIRE").arg(marker).arg(60)).await
    }

    async fn count(&self) -> Result<usize, StoreError> {
        let pattern = format!("{}{{*}}s:*", self.inner.prefix);
        self.inner
            .conn
            .count(&pattern)
            .await
            .map_err(|e| self.failed(e))
    }
}

/// A Redis error as a [`StoreError`]: `Redis at <url>: <cause>`, the URL without credentials.
pub(crate) fn redis_failed(at: &str, cause: &redis::RedisError) -> StoreError {
    StoreError::new(crate::chain::Flat::new(&format!("Redis at {at}"), cause))
}

impl<D> SessionResolver for RedisStore<D>
where
    D: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    type Session = Arc<Session<D>>;
    type Error = StoreError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Option<Arc<Session<D>>>, StoreError>> + Send>,
    >;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        Box::pin(self.clone().resolve_token(token.as_bytes().to_vec()))
    }

    /// Its tokens are its own, issued as `b64token`s.
    fn knows_only_b64tokens(&self) -> bool {
        true
    }
}

impl<D> SessionStore<D> for RedisStore<D>
where
    D: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    async fn create(
        &self,
        user_id: &str,
        data: D,
        options: CreateOptions,
    ) -> Result<Issued<D>, StoreError> {
        Ok(self.create_session(user_id, data, options).await?.0)
    }

    async fn list(&self, user_id: &str) -> Result<Vec<Arc<Session<D>>>, StoreError> {
        self.list_sessions(user_id).await
    }

    async fn revoke(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        Ok(self.revoke_user(user_id, "only", id).await?.0 > 0)
    }

    async fn revoke_token(&self, token: BearerToken<'_>) -> Result<bool, StoreError> {
        self.revoke_by_token("", token.as_bytes()).await
    }

    async fn revoke_token_of(
        &self,
        user_id: &str,
        token: BearerToken<'_>,
    ) -> Result<bool, StoreError> {
        if user_id.is_empty() {
            return Ok(false);
        }
        self.revoke_by_token(user_id, token.as_bytes()).await
    }

    async fn revoke_all(&self, user_id: &str) -> Result<usize, StoreError> {
        Ok(self.revoke_user(user_id, "all", Uuid::nil()).await?.0)
    }

    async fn revoke_others(&self, user_id: &str, keep: Uuid) -> Result<usize, StoreError> {
        Ok(self.revoke_user(user_id, "except", keep).await?.0)
    }

    async fn len(&self) -> Result<usize, StoreError> {
        self.count().await
    }
}
