//! [`RedisStorageResolver`]: sessions read from better-auth's Redis secondary storage
//! (`@better-auth/redis-storage`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use redis::ProtocolVersion;

mod track;

use super::cache::{Cache, CacheSettings};
use super::date::to_millis;
use super::failed::Failed;
use super::model::expired;
use super::{BetterAuthSession, ResolveFuture, Signatures};
use crate::redact::redact;
use crate::store::redis::{Conn, LazyCluster};
use crate::trace::refused;
use crate::{BearerToken, BoxError, SessionResolver};

#[cfg(any(
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite",
    feature = "better-auth-mysql"
))]
use super::SqlResolver;

/// Resolves better-auth's bearer tokens against its Redis secondary storage, as better-auth's
/// `findSession` and get-session do:
///
/// - `<prefix><token>` holds `{"session": …, "user": …}`; a missing key is no session, or,
///   with better-auth's `storeSessionInDatabase`, a lookup in the database
///   ([`fallback`](RedisStorageResolverBuilder::fallback));
/// - a session created before `<prefix>revoked-sessions-before-<userId>` (better-auth's
///   revoke-sessions, in epoch milliseconds) is revoked;
/// - a session whose `expiresAt` has passed is refused.
///
/// With [`cache`](RedisStorageResolverBuilder::cache), answers are kept in memory and Redis
/// tells this instance about every change under the prefix (`CLIENT TRACKING … BCAST PREFIX`,
/// which needs no server configuration): a sign-out or revoke-sessions in Node drops the
/// entries within milliseconds. The cache serves hits only while its tracking connection
/// answers pings; it clears itself when the connection is lost.
///
/// **On a Cluster with replicas**, the resolver only reads, so a failover costs it nothing
/// but time: while the replica takes over (the `cluster-node-timeout` and a second or two:
/// 2.3–3.8 s with a 1 s timeout in the tests) lookups of the failed primary's keys are errors
/// (`503`), never "no session"; then it follows the new primary by itself. What a failover
/// can lose is better-auth's own writes, which it makes without waiting for a replica: a
/// sign-in just before it (the user signs in again) and a sign-out or revoke-sessions just
/// before it, which comes undone. tower-bearer reads what the new primary has and cannot do
/// better; [`RedisStore`](crate::store::RedisStore) with
/// [`durable_revocations`](crate::store::RedisStoreBuilder::durable_revocations) is the store
/// for which no acknowledged revocation is ever undone.
///
/// ```no_run
/// use tower_bearer::better_auth::{RedisStorageResolver, Signatures};
///
/// # async fn run() -> Result<(), tower_bearer::BoxError> {
/// let resolver = RedisStorageResolver::builder(Signatures::new(["secret"]))
///     .prefix("better-auth:")
///     .cache(Default::default())
///     .connect("redis://127.0.0.1:6379")
///     .await?;
/// # let _ = resolver;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStorageResolver {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Conn,
    prefix: String,
    signatures: Signatures,
    #[cfg(any(
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql"
    ))]
    fallback: Option<SqlResolver>,
    cache: Option<Arc<Cache>>,
    /// Where Redis is, for errors: the URL (or the Cluster's first node) without credentials.
    at: String,
}

/// Settings for a [`RedisStorageResolver`].
#[derive(Debug)]
pub struct RedisStorageResolverBuilder {
    signatures: Signatures,
    prefix: String,
    #[cfg(any(
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql"
    ))]
    fallback: Option<SqlResolver>,
    cache: Option<CacheSettings>,
    response_timeout: Duration,
}

impl RedisStorageResolver {
    /// Settings: better-auth's default prefix `better-auth:`, no fallback, no cache, a 1 s
    /// response timeout.
    pub fn builder(signatures: Signatures) -> RedisStorageResolverBuilder {
        RedisStorageResolverBuilder {
            signatures,
            prefix: "better-auth:".into(),
            #[cfg(any(
                feature = "better-auth-postgres",
                feature = "better-auth-sqlite",
                feature = "better-auth-mysql"
            ))]
            fallback: None,
            cache: None,
            response_timeout: Duration::from_secs(1),
        }
    }

    /// Sends Redis a `PING`: `Ok` when it answers, otherwise the error, with Redis's URL (no
    /// password) and the cause. The resolver connects lazily, so a wrong URL only shows as
    /// `503`s; call this at start-up to find it at once.
    pub async fn ping(&self) -> Result<(), BoxError> {
        let inner = &self.inner;
        let answer: Result<String, _> = inner.conn.query(&redis::cmd("PING")).await;
        answer.map(drop).map_err(|e| inner.failed(e))
    }

    /// How many answers the cache holds now (0 without a cache).
    pub fn cached(&self) -> usize {
        self.inner.cache.as_ref().map_or(0, |c| c.len())
    }

    /// Whether hits are served from memory now: there is a cache and its tracking connection
    /// answered recently. Until then (and without a cache) every lookup goes to Redis.
    pub fn is_live(&self) -> bool {
        self.inner.cache.as_ref().is_some_and(|c| c.is_live())
    }
}

impl RedisStorageResolverBuilder {
    /// The storage's `keyPrefix`. Default: `better-auth:`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// better-auth's `storeSessionInDatabase`: a token missing from Redis is looked up in the
    /// database.
    #[cfg(any(
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql"
    ))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(
            feature = "better-auth-postgres",
            feature = "better-auth-sqlite",
            feature = "better-auth-mysql"
        )))
    )]
    pub fn fallback(mut self, database: SqlResolver) -> Self {
        self.fallback = Some(database);
        self
    }

    /// Keeps answers in memory, invalidated by Redis (see the type's docs). One server only:
    /// on a Cluster, tracking would need a connection per node.
    pub fn cache(mut self, settings: CacheSettings) -> Self {
        self.cache = Some(settings);
        self
    }

    /// How long a command may take before it fails (a `503`). Default: 1 s.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// A resolver on one Redis server. It connects lazily and reconnects by itself.
    pub async fn connect(self, url: &str) -> Result<RedisStorageResolver, BoxError> {
        let not_a_url = |e: redis::RedisError| {
            let cause = crate::chain::text(&e);
            crate::chain::said(format!(
                "connect: {:?} is not a Redis URL: {cause}",
                redact(url)
            ))
        };
        let client = redis::Client::open(url).map_err(not_a_url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(self.response_timeout))
            .set_connection_timeout(Some(self.response_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = redis::aio::ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| Failed::boxed("better-auth's Redis storage", &redact(url), e))?;
        let cache = self
            .cache
            .map(|settings| Arc::new(Cache::fed("better_auth_redis", settings)));
        if let Some(cache) = &cache {
            let info = redis::IntoConnectionInfo::into_connection_info(url).map_err(not_a_url)?;
            let resp3 = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3);
            let tracking = redis::Client::open(info.set_redis_settings(resp3))?;
            let allowance = self.response_timeout.max(Duration::from_millis(250));
            tokio::spawn(track::track(
                tracking,
                self.prefix.clone(),
                Arc::downgrade(cache),
                allowance,
            ));
        }
        Ok(self.build(Conn::Single(conn), cache, redact(url)))
    }

    /// A resolver on a Redis Cluster, given some of its nodes (without a cache); it follows a
    /// failover by itself (see the type's docs). It connects
    /// lazily: a Cluster that is down at start-up gives `503`s until it is up.
    pub async fn connect_cluster(self, urls: &[&str]) -> Result<RedisStorageResolver, BoxError> {
        let at = format!("{} (Cluster)", redact(urls.first().unwrap_or(&"")));
        let cluster = LazyCluster::new(urls, self.response_timeout).map_err(|e| {
            let cause = crate::chain::text(&e);
            crate::chain::said(format!(
                "connect_cluster: {at:?} is not a Redis URL: {cause}"
            ))
        })?;
        Ok(self.build(Conn::Cluster(cluster), None, at))
    }

    fn build(self, conn: Conn, cache: Option<Arc<Cache>>, at: String) -> RedisStorageResolver {
        RedisStorageResolver {
            inner: Arc::new(Inner {
                conn,
                prefix: self.prefix,
                signatures: self.signatures,
                #[cfg(any(
                    feature = "better-auth-postgres",
                    feature = "better-auth-sqlite",
                    feature = "better-auth-mysql"
                ))]
                fallback: self.fallback,
                cache,
                at,
            }),
        }
    }
}

impl Inner {
    async fn find(&self, token: &str) -> Result<Option<BetterAuthSession>, BoxError> {
        if let Some(hit) = self.cache.as_ref().and_then(|c| c.get(token)) {
            if hit.is_none() {
                refused(RESOLVER, "no session (the cache's answer)");
            }
            return Ok(hit);
        }
        let started = self.cache.as_ref().map(|c| c.start());
        let (found, from_redis) = self.lookup(token).await?;
        // Only what Redis answered is cached: nothing tracks the database's rows.
        if let (Some(cache), Some(started), true) = (&self.cache, started, from_redis) {
            cache.put(token, found.clone(), started);
        }
        Ok(found)
    }

    /// The answer, and whether Redis gave it (rather than the database).
    async fn lookup(&self, token: &str) -> Result<(Option<BetterAuthSession>, bool), BoxError> {
        let stored = self.get(format!("{}{token}", self.prefix)).await?;
        let Some(stored) = stored else {
            #[cfg(any(
                feature = "better-auth-postgres",
                feature = "better-auth-sqlite",
                feature = "better-auth-mysql"
            ))]
            if let Some(database) = &self.fallback {
                return Ok((database.find(token).await?, false));
            }
            refused(
                RESOLVER,
                "no session in Redis has the token (signed out, revoked, expired, or never issued)",
            );
            return Ok((None, true));
        };
        Ok((self.check(&stored).await?, true))
    }

    /// `GET key`, its error naming Redis.
    async fn get(&self, key: String) -> Result<Option<String>, BoxError> {
        let answer = self.conn.query(redis::cmd("GET").arg(key)).await;
        answer.map_err(|e| self.failed(e))
    }

    fn failed(&self, cause: redis::RedisError) -> BoxError {
        Failed::boxed("better-auth's Redis storage", &self.at, cause)
    }

    /// A stored `{ session, user }`, unless revoked by the watermark or expired.
    async fn check(&self, stored: &str) -> Result<Option<BetterAuthSession>, BoxError> {
        // better-auth's safeJSONParse: what does not parse is no session.
        let Ok(found) = serde_json::from_str::<BetterAuthSession>(stored) else {
            refused(
                RESOLVER,
                "the stored value is not better-auth's { session, user }",
            );
            return Ok(None);
        };
        let watermark = self
            .get(format!(
                "{}revoked-sessions-before-{}",
                self.prefix, found.session.user_id
            ))
            .await?;
        // `createdAt < Number(value)`: a value that is not a number revokes nothing.
        let revoked_before = watermark.and_then(|v| v.trim().parse::<f64>().ok());
        if revoked_before
            .is_some_and(|before| (to_millis(found.session.created_at) as f64) < before)
        {
            refused(
                RESOLVER,
                "the session is older than the user's revoked-sessions-before mark",
            );
            return Ok(None);
        }
        if expired(&found.session, SystemTime::now()) {
            super::model::refused_expired(RESOLVER, found.session.expires_at);
            return Ok(None);
        }
        Ok(Some(found))
    }
}

/// The resolver's name in its `DEBUG` lines.
const RESOLVER: &str = "better_auth::RedisStorageResolver";

impl SessionResolver for RedisStorageResolver {
    type Session = BetterAuthSession;
    type Error = BoxError;
    type Future = ResolveFuture;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        let token = match self.inner.signatures.check(token.as_str()) {
            Ok(token) => token,
            Err(why) => {
                refused(RESOLVER, why);
                return Box::pin(std::future::ready(Ok(None)));
            }
        };
        let (inner, token) = (self.inner.clone(), token.into_owned());
        Box::pin(async move { inner.find(&token).await })
    }
}

impl fmt::Debug for RedisStorageResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStorageResolver")
            .field("prefix", &self.inner.prefix)
            .field("signatures", &self.inner.signatures)
            .field("at", &self.inner.at)
            .field("cluster", &self.inner.conn.is_cluster())
            .field("cached", &self.inner.cache.as_ref().map(|c| c.len()))
            .finish()
    }
}
