//! [`SqlResolver`]: sessions read from better-auth's SQL database: PostgreSQL, MySQL or SQLite.

mod check;
mod row;
pub(super) mod schema;
mod write;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use row::Additional;
pub(super) use schema::Dialect;
pub use schema::{FieldType, Schema};

use super::cache::{Cache, CacheSettings};
use super::date::truncate_millis;
use super::failed::Failed;
use super::model::expired;
use super::{BetterAuthSession, Expiry, ResolveFuture, Session, SessionToken, Signatures, User};
use crate::redact::redact;
use crate::trace::refused;
use crate::{BearerToken, BoxError, SessionResolver};

/// The resolver's name in its `DEBUG` lines.
const RESOLVER: &str = "better_auth::SqlResolver";

/// Resolves better-auth's bearer tokens against its SQL database, as its get-session does:
/// the signature is checked, the session is looked up by token with its user, and a session
/// whose `expiresAt` has passed is refused. Renamed tables and columns are set with a
/// [`Schema`].
///
/// Reads only, unless [`refresh`](SqlResolverBuilder::refresh) is set: then a session due for
/// a refresh gets its `expiresAt` moved as better-auth moves it, so traffic to Rust services
/// keeps sessions alive. An expired row is refused but left for better-auth to delete.
///
/// ```no_run
/// use tower_bearer::better_auth::{Signatures, SqlResolver};
/// use tower_bearer::{BearerLayer, TokenChars};
///
/// # async fn run() -> Result<(), tower_bearer::BoxError> {
/// let signatures = Signatures::new([std::env::var("BETTER_AUTH_SECRET")?]);
/// let resolver = SqlResolver::builder(signatures)
///     .connect("postgres://app@127.0.0.1/app")
///     .await?;
/// let layer = BearerLayer::new(resolver).token_chars(TokenChars::Visible);
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqlResolver {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    signatures: Signatures,
    select: String,
    update: String,
    additional: Additional,
    refresh: Option<Expiry>,
    cache: Option<Cache>,
    timeout: Duration,
    /// Where the database is, for errors: the URL without credentials.
    at: String,
    /// What the session query reads, for the schema check.
    needed: check::Needed,
    dialect: Dialect,
}

pub(super) enum Pool {
    #[cfg(feature = "better-auth-postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "better-auth-sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "better-auth-mysql")]
    Mysql(sqlx::MySqlPool),
}

/// Settings for a [`SqlResolver`].
#[derive(Debug)]
pub struct SqlResolverBuilder {
    signatures: Signatures,
    schema: Schema,
    refresh: Option<Expiry>,
    cache: Option<CacheSettings>,
    max_connections: u32,
    acquire_timeout: Duration,
    timeout: Duration,
    at: Option<String>,
}

impl SqlResolver {
    /// Settings, starting from better-auth's defaults: its table names, no refresh, a pool of
    /// 10 connections, 3 s to get one, 5 s for a whole lookup.
    pub fn builder(signatures: Signatures) -> SqlResolverBuilder {
        SqlResolverBuilder {
            signatures,
            schema: Schema::default(),
            refresh: None,
            cache: None,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(5),
            at: None,
        }
    }

    /// Looks up a session by its (unsigned) token, as better-auth's get-session does.
    pub async fn find(&self, token: &str) -> Result<Option<BetterAuthSession>, BoxError> {
        self.inner.timed(self.inner.find(token)).await
    }

    /// Checks that the database has the tables and columns the [`Schema`] names, then runs
    /// the session query once, for a token no session has: `Ok` when the database is
    /// reachable and has them, otherwise the error, with the database's URL (no credentials)
    /// and the cause: a missing column is named with the plugin that adds it (`Schema::admin()`
    /// over a database without the admin plugin says so). The resolver connects lazily,
    /// so a mistyped path or host only shows as `503`s; call this at start-up to find it at
    /// once.
    ///
    /// ```no_run
    /// # #[cfg(feature = "better-auth-sqlite")]
    /// # async fn run() -> Result<(), tower_bearer::BoxError> {
    /// use tower_bearer::better_auth::{Signatures, SqlResolver};
    ///
    /// let resolver = SqlResolver::builder(Signatures::new([std::env::var("BETTER_AUTH_SECRET")?]))
    ///     .connect("sqlite:///srv/auth/auth.db")
    ///     .await?;
    /// // "better-auth's database at sqlite:///srv/auth/auth.db failed: … unable to open
    /// // database file" before serving, rather than 503s after.
    /// resolver.ping().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn ping(&self) -> Result<(), BoxError> {
        self.inner.timed(self.inner.ping()).await
    }
}

impl SqlResolverBuilder {
    /// Table and column names, when better-auth's options rename them.
    pub fn schema(mut self, schema: Schema) -> Self {
        self.schema = schema;
        self
    }

    /// Moves a session's expiry as better-auth's get-session does, with better-auth's
    /// `expiresIn` and `updateAge`: a session whose `expiresAt − expiresIn + updateAge ≤ now`
    /// gets `expiresAt = now + expiresIn`. Off by default (the resolver only reads).
    pub fn refresh(mut self, expiry: Expiry) -> Self {
        self.refresh = Some(expiry);
        self
    }

    /// Keeps answers in memory for a short while, positive and negative. Nothing tells this
    /// cache about a sign-out: a revoked session is still accepted until its entry expires
    /// (`positive`), which is the price of skipping the query. Off by default.
    pub fn cache(mut self, settings: CacheSettings) -> Self {
        self.cache = Some(settings);
        self
    }

    /// The pool's size. Default: 10.
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = max;
        self
    }

    /// How long a lookup waits for a connection before it fails (a `503`). Default: 3 s.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// How long one lookup (getting a connection, the query, a refresh's write) may take;
    /// past it the lookup is an error, which the layer answers `503`. Default 5 s, so that a
    /// database that hangs (a lock, a stalled network) cannot hold requests forever, whether
    /// or not the layer has a [`timeout`](crate::BearerLayer::timeout) of its own.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects to `postgres://…` (or `postgresql://…`), `mysql://…` or
    /// `sqlite://PATH`, each with its feature. It connects lazily and reconnects by itself, so
    /// a database that is down at start-up gives `503`s until it is up, not a failed start; a
    /// malformed URL is an error here. MySQL dates are read with `UNIX_TIMESTAMP`, which is
    /// right for better-auth's `timestamp(3)` columns whatever the session's time zone.
    pub async fn connect(mut self, url: &str) -> Result<SqlResolver, BoxError> {
        let options = PoolSettings {
            max_connections: self.max_connections,
            acquire_timeout: self.acquire_timeout,
        };
        let (pool, dialect) = connect_pool("connect", url, options)?;
        self.at = Some(redact(url));
        Ok(self.build(pool, dialect))
    }

    /// A resolver over a PostgreSQL pool of your own.
    #[cfg(feature = "better-auth-postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "better-auth-postgres")))]
    pub fn postgres(self, pool: sqlx::PgPool) -> SqlResolver {
        self.build(Pool::Postgres(pool), Dialect::Postgres)
    }

    /// A resolver over a SQLite pool of your own.
    #[cfg(feature = "better-auth-sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "better-auth-sqlite")))]
    pub fn sqlite(self, pool: sqlx::SqlitePool) -> SqlResolver {
        self.build(Pool::Sqlite(pool), Dialect::Sqlite)
    }

    /// A resolver over a MySQL or MariaDB pool of your own.
    #[cfg(feature = "better-auth-mysql")]
    #[cfg_attr(docsrs, doc(cfg(feature = "better-auth-mysql")))]
    pub fn mysql(self, pool: sqlx::MySqlPool) -> SqlResolver {
        self.build(Pool::Mysql(pool), Dialect::Mysql)
    }

    #[allow(dead_code)]
    fn build(self, pool: Pool, dialect: Dialect) -> SqlResolver {
        let at = self
            .at
            .unwrap_or_else(|| format!("{} (the app's pool)", dialect.name()));
        SqlResolver {
            inner: Arc::new(Inner {
                pool,
                signatures: self.signatures,
                select: self.schema.select(dialect),
                needed: self.schema.needed(),
                dialect,
                additional: Additional::of(&self.schema),
                update: self.schema.update(dialect),
                refresh: self.refresh,
                cache: self
                    .cache
                    .map(|settings| Cache::new("better_auth_sql", settings)),
                timeout: self.timeout,
                at,
            }),
        }
    }
}

/// A pool's size and patience.
#[derive(Clone, Copy, Debug)]
pub(super) struct PoolSettings {
    pub(super) max_connections: u32,
    pub(super) acquire_timeout: Duration,
}

impl PoolSettings {
    #[allow(dead_code)]
    fn options<DB: sqlx::Database>(self) -> sqlx::pool::PoolOptions<DB> {
        sqlx::pool::PoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
    }
}

/// A pool on `postgres://…` (or `postgresql://…`), `mysql://…` or `sqlite://PATH`, each with its
/// feature, connected lazily; a malformed URL or a scheme without its feature is an error that
/// names `setting` and the URL (without credentials).
pub(super) fn connect_pool(
    setting: &str,
    url: &str,
    settings: PoolSettings,
) -> Result<(Pool, Dialect), BoxError> {
    let at = redact(url);
    #[allow(unused_variables)]
    let not_a_url = |e: sqlx::Error| {
        let cause = crate::chain::text(&e);
        crate::chain::said(format!(
            "{setting}: {at:?} is not a database URL sqlx takes: {cause}"
        ))
    };
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        #[cfg(feature = "better-auth-postgres")]
        "postgres" | "postgresql" => {
            let pool = settings.options().connect_lazy(url).map_err(not_a_url)?;
            Ok((Pool::Postgres(pool), Dialect::Postgres))
        }
        #[cfg(feature = "better-auth-sqlite")]
        "sqlite" => {
            let pool = settings.options().connect_lazy(url).map_err(not_a_url)?;
            Ok((Pool::Sqlite(pool), Dialect::Sqlite))
        }
        #[cfg(feature = "better-auth-mysql")]
        "mysql" => {
            let pool = settings.options().connect_lazy(url).map_err(not_a_url)?;
            Ok((Pool::Mysql(pool), Dialect::Mysql))
        }
        _ => Err(crate::chain::said(format!(
            "{setting}: {at:?}: unsupported database URL scheme {scheme:?}: postgres:// needs the \
             better-auth-postgres feature, sqlite:// the better-auth-sqlite feature, \
             mysql:// the better-auth-mysql feature"
        ))),
    }
}

impl Inner {
    /// `lookup`, within the timeout, its error naming the database.
    async fn timed<T>(
        &self,
        lookup: impl std::future::Future<Output = Result<T, BoxError>>,
    ) -> Result<T, BoxError> {
        let answer = match tokio::time::timeout(self.timeout, lookup).await {
            Ok(answer) => answer,
            Err(_) => Err(format!("no answer within {:?}", self.timeout).into()),
        };
        answer.map_err(|cause| Failed::boxed("better-auth's database", &self.at, cause))
    }

    async fn find(&self, token: &str) -> Result<Option<BetterAuthSession>, BoxError> {
        let Some(cache) = &self.cache else {
            return self.find_uncached(token).await;
        };
        if let Some(hit) = cache.get(token) {
            if hit.is_none() {
                refused(RESOLVER, "no session (the cache's answer)");
            }
            return Ok(hit);
        }
        let started = cache.start();
        let found = self.find_uncached(token).await?;
        cache.put(token, found.clone(), started);
        Ok(found)
    }

    async fn find_uncached(&self, token: &str) -> Result<Option<BetterAuthSession>, BoxError> {
        let Some(mut found) = self.fetch(token).await? else {
            refused(
                RESOLVER,
                "no session row has the token (signed out, revoked, or never issued)",
            );
            return Ok(None);
        };
        let now = SystemTime::now();
        if expired(&found.session, now) {
            super::model::refused_expired(RESOLVER, found.session.expires_at);
            return Ok(None);
        }
        if let Some(expiry) = self.refresh {
            if expiry.due(found.session.expires_at, now) {
                let expires_at = now + expiry.expires_in;
                // better-auth answers 401 when the row is gone by the time it writes.
                if !self.write(token, expires_at, now).await? {
                    refused(RESOLVER, "the session row was deleted before its refresh");
                    return Ok(None);
                }
                found.session.expires_at = truncate_millis(expires_at);
                found.session.updated_at = truncate_millis(now);
            }
        }
        Ok(Some(found))
    }

    async fn fetch(&self, token: &str) -> Result<Option<BetterAuthSession>, BoxError> {
        // The arms differ only in the pool's type and how dates come back.
        macro_rules! fetch {
            ($pool:expr, $date:expr) => {
                match sqlx::query(&self.select)
                    .bind(token)
                    .fetch_optional($pool)
                    .await
                {
                    Ok(row) => row
                        .map(|row| row::decode(&row, $date, &self.additional))
                        .transpose(),
                    Err(error) => Err(self.explained(error).await),
                }
            };
        }
        match &self.pool {
            #[cfg(feature = "better-auth-postgres")]
            Pool::Postgres(pool) => fetch!(pool, row::millis_date),
            #[cfg(feature = "better-auth-sqlite")]
            Pool::Sqlite(pool) => fetch!(pool, row::sqlite_date),
            #[cfg(feature = "better-auth-mysql")]
            Pool::Mysql(pool) => fetch!(pool, row::millis_date),
        }
    }
}

impl SessionResolver for SqlResolver {
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
        Box::pin(async move { inner.timed(inner.find(&token)).await })
    }
}

impl fmt::Debug for SqlResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match &self.inner.pool {
            #[cfg(feature = "better-auth-postgres")]
            Pool::Postgres(_) => "postgres",
            #[cfg(feature = "better-auth-sqlite")]
            Pool::Sqlite(_) => "sqlite",
            #[cfg(feature = "better-auth-mysql")]
            Pool::Mysql(_) => "mysql",
        };
        f.debug_struct("SqlResolver")
            .field("backend", &backend)
            .field("at", &self.inner.at)
            .field("signatures", &self.inner.signatures)
            .field("refresh", &self.inner.refresh)
            .finish()
    }
}
