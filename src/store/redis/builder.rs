//! [`RedisStoreBuilder`]: lifetimes, the per-user cap, the key prefix, the response timeout,
//! and the connection (one server, or a Cluster).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;

use super::redis_failed;
use super::{scripts, Conn, Durability, DurableConns, Inner, LazyCluster, RedisStore, Scripts};
use crate::redact::redact;
use crate::store::lifetimes::{lifetime_setters, Lifetimes};
use crate::store::{Clock, StoreError, SystemClock};

/// A URL the `redis` crate refuses, named with the setting (and without credentials).
pub(crate) fn not_a_url(setting: &str, at: &str, cause: &redis::RedisError) -> StoreError {
    let cause = crate::chain::text(cause);
    StoreError::new(crate::chain::said(format!(
        "{setting}: {at:?} is not a Redis URL: {cause}"
    )))
}

/// Configures a [`RedisStore`].
pub struct RedisStoreBuilder {
    prefix: String,
    clock: Arc<dyn Clock>,
    lifetimes: Lifetimes,
    response_timeout: Duration,
    revocations: Durability,
    creations: Durability,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("prefix", &self.prefix)
            .field("lifetimes", &self.lifetimes)
            .field("response_timeout", &self.response_timeout)
            .field("revocations", &self.revocations)
            .field("creations", &self.creations)
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

    /// What a revocation (revoke, revoke-all, revoke-others, revoke by token, and a session
    /// the per-user cap evicts) waits for before it answers success. Default:
    /// [`Durability::PRIMARY`], Redis' own. With [`Durability::replicas(1)`](Durability::replicas)
    /// on a Cluster with one replica per primary, no failover can bring back a session whose
    /// revocation returned `Ok`; see [`Durability`] for what each setting guarantees.
    pub fn durable_revocations(mut self, durability: Durability) -> Self {
        self.revocations = durability;
        self
    }

    /// What a creation (a sign-in) waits for before it returns the token. Default:
    /// [`Durability::PRIMARY`]: a session created just before a failover may be lost, and its
    /// user signs in again.
    pub fn durable_creations(mut self, durability: Durability) -> Self {
        self.creations = durability;
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
        self.check_waits()?;
        let at = redact(url);
        let client = redis::Client::open(url).map_err(|e| not_a_url("connect", &at, &e))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(self.response_timeout))
            .set_connection_timeout(Some(self.response_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
            .map_err(|e| redis_failed(&at, &e))?;
        let durable = self.durable_conns(move || {
            ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
                .map(Conn::Single)
        });
        Ok(self.build(Conn::Single(conn), durable, at))
    }

    /// A store on a Redis Cluster, given some of its nodes. It connects lazily, as
    /// [`connect`](Self::connect) does: a Cluster that is down at start-up gives `503`s until
    /// it is up. Only a malformed URL is an error here.
    ///
    /// It follows `MOVED` and `ASK`, and after a failover finds the new primary by itself: a
    /// request that meets the failover fails (a `503`) until the replica has taken over,
    /// the `cluster-node-timeout` and a second or two (2.3–3.8 s with a 1 s node timeout in
    /// tests/redis_failover.rs). Requests for the other primaries' users can fail too, in
    /// the moment the Cluster refuses every query (`CLUSTERDOWN`, with Redis' default
    /// `cluster-require-full-coverage yes`) between marking the primary failed and its
    /// replica's takeover.
    pub async fn connect_cluster<D>(self, urls: &[&str]) -> Result<RedisStore<D>, StoreError> {
        self.check_waits()?;
        let at = format!("{} (Cluster)", redact(urls.first().unwrap_or(&"")));
        let cluster = LazyCluster::new(urls, self.response_timeout)
            .map_err(|e| not_a_url("connect_cluster", &at, &e))?;
        let urls: Vec<String> = urls.iter().map(|url| url.to_string()).collect();
        let timeout = self.response_timeout;
        let durable = self.durable_conns(move || {
            let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
            LazyCluster::new(&urls, timeout).map(Conn::Cluster)
        });
        Ok(self.build(Conn::Cluster(cluster), durable, at))
    }

    /// A wait as long as the response timeout would always fail: the connection gives up on
    /// the reply first.
    fn check_waits(&self) -> Result<(), StoreError> {
        for (what, durability) in [
            ("durable_revocations", self.revocations),
            ("durable_creations", self.creations),
        ] {
            match durability.wait_time() {
                Some(wait) if wait >= self.response_timeout => {
                    return Err(StoreError::new(format!(
                        "{what}: the wait for replicas ({wait:?}) must be shorter than the \
                         response timeout ({:?})",
                        self.response_timeout
                    )))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The durable writes' own connections, made by `make`, if any write waits for replicas.
    fn durable_conns(
        &self,
        make: impl Fn() -> redis::RedisResult<Conn> + Send + Sync + 'static,
    ) -> Option<DurableConns> {
        (self.revocations.wait() || self.creations.wait())
            .then(|| DurableConns::new(self.response_timeout, Box::new(make)))
    }

    fn build<D>(self, conn: Conn, durable: Option<DurableConns>, at: String) -> RedisStore<D> {
        RedisStore {
            inner: Arc::new(Inner {
                conn,
                durable,
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
                revocations: self.revocations,
                creations: self.creations,
                at,
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
            revocations: Durability::PRIMARY,
            creations: Durability::PRIMARY,
        }
    }
}
