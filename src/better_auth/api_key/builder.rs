//! [`ApiKeyResolverBuilder`]: where better-auth keeps its keys, and the plugin's options that
//! change verification.

use std::sync::Arc;
use std::time::Duration;

use super::{ApiKeyResolver, Backend, Inner, Policy};
use crate::redact::redact;
use crate::BoxError;

/// Settings for an [`ApiKeyResolver`].
#[derive(Debug)]
pub struct ApiKeyResolverBuilder {
    pub(super) hashing: bool,
    pub(super) rate_limit: bool,
    pub(super) config_id: Option<String>,
    pub(super) table: String,
    pub(super) prefix: String,
    #[cfg_attr(
        not(any(
            feature = "better-auth-postgres",
            feature = "better-auth-sqlite",
            feature = "better-auth-mysql"
        )),
        allow(dead_code)
    )]
    pub(super) max_connections: u32,
    #[cfg_attr(
        not(any(
            feature = "better-auth-postgres",
            feature = "better-auth-sqlite",
            feature = "better-auth-mysql"
        )),
        allow(dead_code)
    )]
    pub(super) acquire_timeout: Duration,
    pub(super) timeout: Duration,
}

impl ApiKeyResolverBuilder {
    /// better-auth's `disableKeyHashing`: with `false`, keys are stored (and looked up) as
    /// they are. Default `true`: stored as base64url (unpadded) of their SHA-256.
    pub fn hashing(mut self, hashing: bool) -> Self {
        self.hashing = hashing;
        self
    }

    /// The plugin's `rateLimit.enabled`. Default `true`; with `false`, no key is rate limited
    /// (its `lastRequest` still moves, as better-auth moves it).
    pub fn rate_limit(mut self, enabled: bool) -> Self {
        self.rate_limit = enabled;
        self
    }

    /// Accepts only keys of this `configId` (better-auth's per-configuration keys); others are
    /// unknown. Default: any.
    pub fn config_id(mut self, config_id: impl Into<String>) -> Self {
        self.config_id = Some(config_id.into());
        self
    }

    /// The table's name, when better-auth's `schema.apikey.modelName` renames it. Default
    /// `apikey`.
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// The Redis storage's `keyPrefix`. Default `better-auth:`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The database pool's size. Default 10.
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = max;
        self
    }

    /// How long one verification (every query or command it makes) may take; past it the
    /// verification is an error, which the layer answers `503`. Default 5 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Keys in better-auth's database (its storage `"database"`, the default): `postgres://…`,
    /// `mysql://…` or `sqlite://PATH`, each with its feature. Connects lazily.
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
    pub async fn connect_database(self, url: &str) -> Result<ApiKeyResolver, BoxError> {
        let database = self.database("connect_database", url)?;
        Ok(self.build(Backend::Database(database), redact(url)))
    }

    /// A database pool; errors name `setting` and the URL.
    #[cfg(any(
        feature = "better-auth-postgres",
        feature = "better-auth-sqlite",
        feature = "better-auth-mysql"
    ))]
    fn database(&self, setting: &str, url: &str) -> Result<super::database::Database, BoxError> {
        use super::super::sql::{connect_pool, PoolSettings};
        let settings = PoolSettings {
            max_connections: self.max_connections,
            acquire_timeout: self.acquire_timeout,
        };
        let (pool, dialect) = connect_pool(setting, url, settings)?;
        Ok(super::database::Database::new(pool, dialect, &self.table))
    }

    /// Keys in better-auth's Redis secondary storage (its storage `"secondary-storage"`), on
    /// one server. Connects lazily.
    #[cfg(feature = "better-auth-redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "better-auth-redis")))]
    pub async fn connect_storage(self, url: &str) -> Result<ApiKeyResolver, BoxError> {
        let storage = self.storage("connect_storage", url)?;
        Ok(self.build(Backend::Storage(storage), redact(url)))
    }

    /// better-auth's storage `"secondary-storage"` with `fallbackToDatabase`: keys verified in
    /// its database (`database_url`, the source of truth, as better-auth claims each use
    /// there), and the key's copies in its Redis storage (`storage_url`) dropped after each
    /// change, so that better-auth reads the row again rather than a copy this resolver made
    /// stale. Connects lazily to both.
    #[cfg(all(
        feature = "better-auth-redis",
        any(
            feature = "better-auth-postgres",
            feature = "better-auth-sqlite",
            feature = "better-auth-mysql"
        )
    ))]
    #[cfg_attr(
        docsrs,
        doc(cfg(all(
            feature = "better-auth-redis",
            any(
                feature = "better-auth-postgres",
                feature = "better-auth-sqlite",
                feature = "better-auth-mysql"
            )
        )))
    )]
    pub async fn connect_database_and_storage(
        self,
        database_url: &str,
        storage_url: &str,
    ) -> Result<ApiKeyResolver, BoxError> {
        let database = self.database("connect_database_and_storage", database_url)?;
        let storage = self.storage("connect_database_and_storage", storage_url)?;
        let at = format!("{} and {}", redact(database_url), redact(storage_url));
        Ok(self.build(Backend::Fallback(database, storage), at))
    }

    /// A Redis storage on one server; errors name `setting` and the URL.
    #[cfg(feature = "better-auth-redis")]
    fn storage(&self, setting: &str, url: &str) -> Result<super::storage::Storage, BoxError> {
        let at = redact(url);
        let client = redis::Client::open(url).map_err(|e| {
            let cause = crate::chain::text(&e);
            crate::chain::said(format!("{setting}: {at:?} is not a Redis URL: {cause}"))
        })?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(self.timeout))
            .set_connection_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn =
            redis::aio::ConnectionManager::new_lazy_with_config(client, config).map_err(|e| {
                super::super::failed::Failed::boxed("better-auth's Redis storage", &at, e)
            })?;
        Ok(super::storage::Storage {
            conn: crate::store::redis::Conn::Single(conn),
            prefix: self.prefix.clone(),
        })
    }

    /// Keys in better-auth's Redis secondary storage on a Redis Cluster, given some of its
    /// nodes. Connects lazily.
    #[cfg(feature = "better-auth-redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "better-auth-redis")))]
    pub async fn connect_storage_cluster(self, urls: &[&str]) -> Result<ApiKeyResolver, BoxError> {
        let at = format!("{} (Cluster)", redact(urls.first().unwrap_or(&"")));
        let cluster = crate::store::redis::LazyCluster::new(urls, self.timeout).map_err(|e| {
            let cause = crate::chain::text(&e);
            crate::chain::said(format!(
                "connect_storage_cluster: {at:?} is not a Redis URL: {cause}"
            ))
        })?;
        let storage = super::storage::Storage {
            conn: crate::store::redis::Conn::Cluster(cluster),
            prefix: self.prefix.clone(),
        };
        Ok(self.build(Backend::Storage(storage), at))
    }

    #[allow(dead_code)]
    fn build(self, backend: Backend, at: String) -> ApiKeyResolver {
        ApiKeyResolver {
            inner: Arc::new(Inner {
                backend,
                hashing: self.hashing,
                policy: Policy {
                    rate_limit: self.rate_limit,
                    config_id: self.config_id,
                },
                timeout: self.timeout,
                at,
            }),
        }
    }
}
