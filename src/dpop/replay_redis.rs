//! [`RedisReplayStore`]: the proofs already seen, in Redis (standalone or Cluster), shared by
//! every instance behind a load balancer.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use redis::Value;

use super::replay::{ReplayKey, ReplayStore};
use crate::redact::redact;
use crate::store::redis::{Conn, LazyCluster};
use crate::BoxError;

/// How long a command may wait for Redis before it fails (and the layer answers `503`).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Proofs seen by any instance, in Redis: one `SET <prefix>dpop:jti:<key> 1 NX PX <ttl>` a
/// proof, answered `OK` the first time and nil for a replay, atomically, so two instances
/// racing on one proof never both accept it. Redis drops each key when its `ttl` ends.
///
/// It connects lazily and reconnects by itself: a Redis that is down gives `Err` (the
/// layer's `503`), never an accepted proof.
///
/// ```no_run
/// # async fn run() -> Result<(), tower_bearer::BoxError> {
/// use tower_bearer::dpop::RedisReplayStore;
///
/// let store = RedisReplayStore::connect("redis://127.0.0.1:6379").await?.prefix("api:");
/// # let _ = store;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisReplayStore {
    conn: Conn,
    prefix: String,
    /// The server's address, redacted, for errors.
    at: String,
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("at", &self.at)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisReplayStore {
    /// A store on one Redis server. Only a malformed URL is an error here: the connection is
    /// made on first use, so a Redis that is down at start-up gives `503`s until it is up.
    pub async fn connect(url: &str) -> Result<Self, BoxError> {
        let at = redact(url);
        let error = |e: redis::RedisError| format!("Redis at {at}: {e}");
        let client = redis::Client::open(url).map_err(error)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn =
            redis::aio::ConnectionManager::new_lazy_with_config(client, config).map_err(error)?;
        Ok(Self::build(Conn::Single(conn), at))
    }

    /// A store on a Redis Cluster, given some of its nodes; lazy as [`connect`](Self::connect)
    /// is. Each proof's key lands on its own slot.
    pub async fn connect_cluster(urls: &[&str]) -> Result<Self, BoxError> {
        let at = format!("{} (Cluster)", redact(urls.first().unwrap_or(&"")));
        let cluster =
            LazyCluster::new(urls, RESPONSE_TIMEOUT).map_err(|e| format!("Redis at {at}: {e}"))?;
        Ok(Self::build(Conn::Cluster(cluster), at))
    }

    fn build(conn: Conn, at: String) -> Self {
        RedisReplayStore {
            conn,
            prefix: "tower-bearer:".into(),
            at,
        }
    }

    /// The key prefix. Default: `tower-bearer:`. Braces are dropped: they would put every
    /// proof in one Cluster slot.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().replace(['{', '}'], "");
        self
    }

    /// The Redis key of a proof: `<prefix>dpop:jti:<64 hex digits>`.
    pub(super) fn key(&self, key: &ReplayKey) -> String {
        format!("{}dpop:jti:{}", self.prefix, key.to_hex())
    }

    async fn record(&self, key: &ReplayKey, ttl: Duration) -> Result<bool, BoxError> {
        // PX takes at least 1 ms; a ttl over i64 milliseconds is as good as forever.
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis);
        let reply: Value = self
            .conn
            .query(&cmd)
            .await
            .map_err(|e| format!("the DPoP replay store's Redis at {}: {e}", self.at))?;
        match reply {
            Value::Okay => Ok(true),
            Value::SimpleString(s) if s == "OK" => Ok(true),
            Value::Nil => Ok(false),
            other => Err(format!(
                "the DPoP replay store's Redis at {}: SET NX answered {other:?}",
                self.at
            )
            .into()),
        }
    }
}

impl ReplayStore for RedisReplayStore {
    fn first_use<'a>(
        &'a self,
        key: &'a ReplayKey,
        ttl: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<bool, BoxError>> + Send + 'a>> {
        Box::pin(self.record(key, ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unique_prefix(test: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("tb-test:{test}:{}:{nanos}:", std::process::id())
    }

    fn key(n: u8) -> ReplayKey {
        ReplayKey::from_bytes([n; 32])
    }

    const LONG: Duration = Duration::from_secs(60);

    /// Two instances on one Redis: a proof first seen by one is a replay for the other.
    #[tokio::test]
    async fn a_proof_seen_by_one_instance_is_a_replay_for_another() {
        let prefix = unique_prefix("cross");
        let a = RedisReplayStore::connect("redis://127.0.0.1:6379")
            .await
            .unwrap()
            .prefix(&prefix);
        let b = RedisReplayStore::connect("redis://127.0.0.1:6379")
            .await
            .unwrap()
            .prefix(&prefix);
        assert!(a.first_use(&key(1), LONG).await.unwrap());
        assert!(!b.first_use(&key(1), LONG).await.unwrap(), "replayed on B");
        assert!(!a.first_use(&key(1), LONG).await.unwrap(), "replayed on A");
        assert!(b.first_use(&key(2), LONG).await.unwrap());
        assert!(!a.first_use(&key(2), LONG).await.unwrap());
        let other = RedisReplayStore::connect("redis://127.0.0.1:6379")
            .await
            .unwrap()
            .prefix(unique_prefix("other"));
        assert!(
            other.first_use(&key(1), LONG).await.unwrap(),
            "another prefix"
        );
    }

    #[tokio::test]
    async fn the_key_expires_with_its_ttl() {
        let store = RedisReplayStore::connect("redis://127.0.0.1:6379")
            .await
            .unwrap()
            .prefix(unique_prefix("ttl"));
        let ttl = Duration::from_millis(50);
        assert!(store.first_use(&key(3), ttl).await.unwrap());
        assert!(!store.first_use(&key(3), ttl).await.unwrap());
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(
            store.first_use(&key(3), ttl).await.unwrap(),
            "after its ttl"
        );
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_an_error_naming_it_never_a_first_use() {
        let store = RedisReplayStore::connect("redis://user:s3cret@127.0.0.1:1")
            .await
            .unwrap();
        let error = store
            .first_use(&key(4), LONG)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("Redis at redis://127.0.0.1:1"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn keys_and_prefixes() {
        let store = RedisReplayStore {
            conn: Conn::Cluster(LazyCluster::new(&["redis://127.0.0.1:1"], LONG).unwrap()),
            prefix: String::new(),
            at: String::new(),
        }
        .prefix("{app}:");
        assert_eq!(
            store.key(&key(0xab)),
            format!("app:dpop:jti:{}", "ab".repeat(32))
        );
    }
}
