//! [`RedisStore`]: sessions in Redis, standalone or Cluster, shared by every instance of a
//! service.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{AggregateOp, MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo};
use redis::{FromRedisValue, Script, ScriptInvocation};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::token::generate_token;
use super::{
    Clock, CreateOptions, Issued, Session, SessionStore, SessionToken, StoreError, SystemClock,
};
use crate::{BearerToken, SessionResolver};

mod scripts;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

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
///
/// Keys, under the prefix (default `tower-bearer:`, without `{` or `}`):
/// `<prefix>{<tag>}s:<sha256 hex>` (a hash: `exp`, `id`, `user`, `json`) and
/// `<prefix>{<tag>}u:<user id>` (a sorted set of digests by creation time).
///
/// ```no_run
/// use tower_bearer::store::{CreateOptions, RedisStore, SessionStore};
/// use tower_bearer::BearerLayer;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
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

struct Inner {
    conn: Conn,
    prefix: String,
    clock: Arc<dyn Clock>,
    expires_in: Duration,
    expires_in_short: Duration,
    update_age: Duration,
    max_per_user: Option<usize>,
    scripts: Scripts,
}

struct Scripts {
    create: Script,
    refresh: Script,
    list: Script,
    revoke_token: Script,
    revoke_user: Script,
    count: Script,
}

#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Configures a [`RedisStore`].
pub struct RedisStoreBuilder {
    prefix: String,
    clock: Arc<dyn Clock>,
    expires_in: Duration,
    expires_in_short: Duration,
    update_age: Duration,
    max_per_user: Option<usize>,
    response_timeout: Duration,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("prefix", &self.prefix)
            .field("expires_in", &self.expires_in)
            .field("update_age", &self.update_age)
            .field("max_per_user", &self.max_per_user)
            .field("response_timeout", &self.response_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStoreBuilder {
    /// The key prefix. Default: `tower-bearer:`. Braces are dropped: they would change the
    /// keys' Cluster hash tag.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().replace(['{', '}'], "");
        self
    }

    /// Session lifetime with remember-me. Default: 7 days.
    pub fn expires_in(mut self, d: Duration) -> Self {
        self.expires_in = d;
        self
    }

    /// Session lifetime without remember-me. Default: 1 day.
    pub fn expires_in_short(mut self, d: Duration) -> Self {
        self.expires_in_short = d;
        self
    }

    /// How long after the last refresh a resolve moves the expiry on again. Default: 1 day.
    pub fn update_age(mut self, d: Duration) -> Self {
        self.update_age = d;
        self
    }

    /// At most this many live sessions per user; issuing one more revokes the oldest.
    pub fn max_sessions_per_user(mut self, max: usize) -> Self {
        self.max_per_user = Some(max.max(1));
        self
    }

    /// How long a command may wait for Redis' answer before it fails. Default: 1 s.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// The clock the store reads (a [`ManualClock`](super::ManualClock) in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// A store on one Redis server. It connects lazily and reconnects by itself, so a Redis
    /// that is down at start-up gives `503`s until it is up, not a failed start.
    pub async fn connect<D>(self, url: &str) -> Result<RedisStore<D>, StoreError> {
        let client = redis::Client::open(url).map_err(StoreError::new)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(self.response_timeout))
            .set_connection_timeout(Some(self.response_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(200));
        let conn =
            ConnectionManager::new_lazy_with_config(client, config).map_err(StoreError::new)?;
        Ok(self.build(Conn::Single(conn)))
    }

    /// A store on a Redis Cluster, given some of its nodes.
    pub async fn connect_cluster<D>(self, urls: &[&str]) -> Result<RedisStore<D>, StoreError> {
        let client = redis::cluster::ClusterClientBuilder::new(urls.iter().copied())
            .response_timeout(self.response_timeout)
            .connection_timeout(self.response_timeout)
            .build()
            .map_err(StoreError::new)?;
        let conn = client
            .get_async_connection()
            .await
            .map_err(StoreError::new)?;
        Ok(self.build(Conn::Cluster(conn)))
    }

    fn build<D>(self, conn: Conn) -> RedisStore<D> {
        RedisStore {
            inner: Arc::new(Inner {
                conn,
                prefix: self.prefix,
                clock: self.clock,
                expires_in: self.expires_in,
                expires_in_short: self.expires_in_short,
                update_age: self.update_age,
                max_per_user: self.max_per_user,
                scripts: Scripts {
                    create: scripts::create(),
                    refresh: scripts::refresh(),
                    list: scripts::list(),
                    revoke_token: scripts::revoke_token(),
                    revoke_user: scripts::revoke_user(),
                    count: scripts::count(),
                },
            }),
            _data: PhantomData,
        }
    }
}

impl RedisStore<()> {
    /// A builder with better-auth's defaults, the system clock and the prefix `tower-bearer:`.
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder {
            prefix: "tower-bearer:".into(),
            clock: Arc::new(SystemClock),
            expires_in: 7 * DAY,
            expires_in_short: DAY,
            update_age: DAY,
            max_per_user: None,
            response_timeout: Duration::from_secs(1),
        }
    }
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
            .field("cluster", &matches!(self.inner.conn, Conn::Cluster(_)))
            .finish_non_exhaustive()
    }
}

/// The 4-hex-digit hash tag of a user: where all of that user's keys live on Cluster.
fn user_tag(user_id: &str) -> String {
    let digest = Sha256::digest(user_id.as_bytes());
    format!("{:02x}{:02x}", digest[0], digest[1])
}

/// The tag a token of this store starts with, if it has one.
fn token_tag(token: &[u8]) -> Option<&str> {
    let (tag, rest) = token.split_first_chunk::<5>()?;
    let valid = tag[4] == b'.'
        && tag[..4]
            .iter()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    (valid && !rest.is_empty()).then(|| std::str::from_utf8(&tag[..4]).expect("ASCII"))
}

fn digest_hex(token: &[u8]) -> String {
    Sha256::digest(token)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl<D> RedisStore<D>
where
    D: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    fn session_base(&self, tag: &str) -> String {
        format!("{}{{{tag}}}s:", self.inner.prefix)
    }

    fn index_base(&self, tag: &str) -> String {
        format!("{}{{{tag}}}u:", self.inner.prefix)
    }

    fn lifetime(&self, remember_me: bool) -> Duration {
        if remember_me {
            self.inner.expires_in
        } else {
            self.inner.expires_in_short
        }
    }

    async fn invoke<T: FromRedisValue>(
        &self,
        invocation: ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let result = match &self.inner.conn {
            Conn::Single(conn) => invocation.invoke_async(&mut conn.clone()).await,
            Conn::Cluster(conn) => invocation.invoke_async(&mut conn.clone()).await,
        };
        result.map_err(StoreError::new)
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
            return Ok(None);
        };
        let key = format!("{}{}", self.session_base(tag), digest_hex(&token));
        let json: Option<String> = match &self.inner.conn {
            Conn::Single(conn) => {
                redis::cmd("HGET")
                    .arg(&key)
                    .arg("json")
                    .query_async(&mut conn.clone())
                    .await
            }
            Conn::Cluster(conn) => {
                redis::cmd("HGET")
                    .arg(&key)
                    .arg("json")
                    .query_async(&mut conn.clone())
                    .await
            }
        }
        .map_err(StoreError::new)?;
        let Some(json) = json else {
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
                .arg("");
            self.invoke::<i64>(revoke).await?;
            return Ok(None);
        }
        let lifetime = self.lifetime(session.remember_me);
        // better-auth's sliding refresh: due once `update_age` has passed since the last one.
        if session.expires_at() - lifetime + self.inner.update_age <= now {
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
                return Ok(None);
            }
        }
        Ok(Some(Arc::new(session)))
    }

    async fn create_session(
        &self,
        user_id: &str,
        data: D,
        options: CreateOptions,
    ) -> Result<Issued<D>, StoreError> {
        let tag = user_tag(user_id);
        let random = generate_token()?;
        let token = SessionToken::new(format!("{tag}.{}", random.as_str()));
        let now = self.inner.clock.now();
        let lifetime = self.lifetime(options.remember_me);
        let session = Session::new(user_id.into(), now, now + lifetime, options, data);
        let digest = digest_hex(token.as_str().as_bytes());
        let base = self.session_base(&tag);
        let mut create = self
            .inner
            .scripts
            .create
            .key(format!("{}{user_id}", self.index_base(&tag)));
        create
            .key(format!("{base}{digest}"))
            .arg(Self::encode(&session)?)
            .arg(millis(lifetime))
            .arg(now.as_millis())
            .arg(&digest)
            .arg(self.inner.max_per_user.unwrap_or(0))
            .arg(&base)
            .arg(session.expires_at().as_millis())
            .arg(session.id.to_string())
            .arg(user_id);
        self.invoke::<i64>(create).await?;
        Ok(Issued {
            session: Arc::new(session),
            token,
        })
    }

    async fn list_sessions(&self, user_id: &str) -> Result<Vec<Arc<Session<D>>>, StoreError> {
        let tag = user_tag(user_id);
        let mut list = self
            .inner
            .scripts
            .list
            .key(format!("{}{user_id}", self.index_base(&tag)));
        list.arg(self.session_base(&tag));
        let records: Vec<String> = self.invoke(list).await?;
        let now = self.inner.clock.now();
        let mut live = Vec::with_capacity(records.len());
        for json in records {
            let session = Self::decode(&json)?;
            if &*session.user_id == user_id && !session.is_expired(now) {
                live.push(Arc::new(session));
            }
        }
        live.sort_by_key(|s| s.created_at);
        Ok(live)
    }

    async fn revoke_by_token(&self, owner: &str, token: &[u8]) -> Result<bool, StoreError> {
        let Some(tag) = token_tag(token) else {
            return Ok(false);
        };
        let digest = digest_hex(token);
        let mut revoke = self
            .inner
            .scripts
            .revoke_token
            .key(format!("{}{digest}", self.session_base(tag)));
        revoke
            .arg(&digest)
            .arg(self.index_base(tag))
            .arg(self.inner.clock.now().as_millis())
            .arg(owner);
        Ok(self.invoke::<i64>(revoke).await? == 1)
    }

    async fn revoke_user(&self, user_id: &str, mode: &str, id: Uuid) -> Result<usize, StoreError> {
        let tag = user_tag(user_id);
        let mut revoke = self
            .inner
            .scripts
            .revoke_user
            .key(format!("{}{user_id}", self.index_base(&tag)));
        revoke
            .arg(self.session_base(&tag))
            .arg(self.inner.clock.now().as_millis())
            .arg(mode)
            .arg(id.to_string());
        let live: i64 = self.invoke(revoke).await?;
        Ok(usize::try_from(live).unwrap_or(0))
    }

    async fn count(&self) -> Result<usize, StoreError> {
        let pattern = format!("{}{{*}}s:*", self.inner.prefix);
        let count: i64 = match &self.inner.conn {
            Conn::Single(conn) => {
                let mut count = self.inner.scripts.count.prepare_invoke();
                count.arg(&pattern);
                count.invoke_async(&mut conn.clone()).await
            }
            Conn::Cluster(conn) => {
                let mut cmd = redis::cmd("EVAL");
                cmd.arg(scripts::COUNT).arg(0).arg(&pattern);
                let routing = RoutingInfo::MultiNode((
                    MultipleNodeRoutingInfo::AllMasters,
                    Some(ResponsePolicy::Aggregate(AggregateOp::Sum)),
                ));
                let value = conn.clone().route_command(cmd, routing).await;
                value.and_then(|v| Ok(i64::from_redis_value(v)?))
            }
        }
        .map_err(StoreError::new)?;
        Ok(usize::try_from(count).unwrap_or(0))
    }
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
        self.create_session(user_id, data, options).await
    }

    async fn list(&self, user_id: &str) -> Result<Vec<Arc<Session<D>>>, StoreError> {
        self.list_sessions(user_id).await
    }

    async fn revoke(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        Ok(self.revoke_user(user_id, "only", id).await? > 0)
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
        self.revoke_user(user_id, "all", Uuid::nil()).await
    }

    async fn revoke_others(&self, user_id: &str, keep: Uuid) -> Result<usize, StoreError> {
        self.revoke_user(user_id, "except", keep).await
    }

    async fn len(&self) -> Result<usize, StoreError> {
        self.count().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_their_users_tag() {
        assert_eq!(user_tag("alice").len(), 4);
        assert_eq!(user_tag("alice"), user_tag("alice"));
        assert_ne!(user_tag("alice"), user_tag("bob"));
        assert_eq!(token_tag(b"a1b2.rest"), Some("a1b2"));
        for bad in [&b"a1b2"[..], b"a1b2.", b"A1B2.x", b"a1b2-x", b"zzzz.x", b""] {
            assert_eq!(token_tag(bad), None, "{bad:?}");
        }
        assert_eq!(
            digest_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
