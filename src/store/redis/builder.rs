//! [`RedisStoreBuilder`]: lifetimes, the per-user cap, the key prefix, the response timeout,
//! and the connection (one server, or a Cluster).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;

use super::{scripts, Conn, Inner, LazyCluster, RedisStore, Scripts};
use crate::store::lifetimes::{lifetime_setters, Lifetimes};
use crate::store::{Clock, StoreError, SystemClock};

/// Configures a [`RedisStore`].
pub struct RedisStoreBuilder {
    prefix: String,
    clock: Arc<dyn Clock>,
    lifetimes: Lifetimes,
    response_timeout: Duration,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("prefix", &self.prefix)
            .field("lifetimes", &self.lifetimes)
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

    lifetime_setters!();

    /// How long a command may wait for Redis' answer before it fails. Default: 1 s.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// The clock the store reads (a [`ManualClock`](crate::store::ManualClock) in tests).
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

    /// A store on a Redis Cluster, given some of its nodes. It connects lazily, as
    /// [`connect`](Self::connect) does: a Cluster that is down at start-up gives `503`s until
    /// it is up. Only a malformed URL is an error here.
    pub async fn connect_cluster<D>(self, urls: &[&str]) -> Result<RedisStore<D>, StoreError> {
        let client = redis::cluster::ClusterClientBuilder::new(urls.iter().copied())
            .response_timeout(self.response_timeout)
            .connection_timeout(self.response_timeout)
            .build()
            .map_err(StoreError::new)?;
        Ok(self.build(Conn::Cluster(LazyCluster::new(client))))
    }

    fn build<D>(self, conn: Conn) -> RedisStore<D> {
        RedisStore {
            inner: Arc::new(Inner {
                conn,
                prefix: self.prefix,
                clock: self.clock,
                lifetimes: self.lifetimes,
                scripts: Scripts {
                    create: scripts::create(),
                    refresh: scripts::refresh(),
                    list: scripts::list(),
                    revoke_token: scripts::revoke_token(),
                    revoke_user: scripts::revoke_user(),
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
            lifetimes: Lifetimes::default(),
            response_timeout: Duration::from_secs(1),
        }
    }
}
