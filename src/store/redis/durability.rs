//! [`Durability`]: how many replicas must hold a write before the store reports it done, so
//! that a failover cannot undo it.

use std::fmt;
use std::time::Duration;

use redis::{FromRedisValue, Value};

use crate::store::StoreError;

/// How sure a write must be to survive the loss of the primary that took it, before the store
/// answers success. Set for revocations with
/// [`durable_revocations`](super::RedisStoreBuilder::durable_revocations) and for creations
/// with [`durable_creations`](super::RedisStoreBuilder::durable_creations).
///
/// Redis replicates asynchronously: a write the primary acknowledged can be missing on the
/// replica that replaces it after a failover. For a revocation that means a signed-out
/// session comes back to life. A durable write is sent in one pipeline with `WAIT` (or
/// `WAITAOF`) on the same connection, so the wait covers that very write; if too few replicas
/// confirm within the timeout, the operation is an error (a `503` to the caller, who
/// retries), never a silent success. The write may still have happened: a revocation is safe
/// to retry.
///
/// A wait blocks the connection it is sent on, so durable writes do not use the store's own
/// connection, which carries every resolve: each takes one of 8 connections of the durable
/// writes' own for its write and wait, one write at a time on each (a store that asks for any
/// durability opens them in the background when it is made; on a Cluster each is a Cluster
/// connection, to every node). More than 8 durable writes at once wait their turn, within the
/// response timeout. A replica that lags makes the durable writes wait, up to their timeout,
/// and nothing else: resolves of the same primary's sessions, and the other durable writes, go
/// on meanwhile. A durable write sends its script in full (`EVAL`), so that a server without
/// it in its cache does not make the write wait twice.
///
/// | Setting | Answers success once | Survives |
/// |---|---|---|
/// | [`Durability::PRIMARY`] (default) | the primary has it in memory | nothing: a failover or a restart without persistence can undo it |
/// | [`Durability::replicas(n)`](Self::replicas) | `n` replicas have it in memory (`WAIT n`) | the primary's loss, when a replica that has it is promoted: always with `n` equal to the replicas per primary; with fewer, the Cluster prefers the most up-to-date replica but does not promise it |
/// | [`Durability::replicas_on_disk(n)`](Self::replicas_on_disk) | `n` replicas wrote it to their append-only file (`WAITAOF 0 n`, Redis 7.2 or later, or Valkey; the replicas need `appendonly yes`) | the above, and those replicas restarting too |
///
/// Standalone Redis without replicas can never confirm: with anything but `PRIMARY` every
/// durable write there is an error, which is what it should be.
///
/// ```
/// use std::time::Duration;
/// use tower_bearer::store::{Durability, RedisStore};
///
/// let builder = RedisStore::builder()
///     .durable_revocations(Durability::replicas(1).timeout(Duration::from_millis(300)));
/// # let _ = builder;
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Durability {
    replicas: u16,
    on_disk: bool,
    timeout: Duration,
}

impl Durability {
    /// The primary's acknowledgement alone: Redis' default, and the store's.
    pub const PRIMARY: Durability = Durability {
        replicas: 0,
        on_disk: false,
        timeout: Duration::from_millis(500),
    };

    /// Success once `replicas` replicas hold the write in memory (`WAIT`). Times out after
    /// 500 ms unless [`timeout`](Self::timeout) says otherwise.
    pub const fn replicas(replicas: u16) -> Durability {
        Durability {
            replicas,
            ..Durability::PRIMARY
        }
    }

    /// Success once `replicas` replicas wrote the write to their append-only file
    /// (`WAITAOF 0 <replicas>`). Needs Redis 7.2 or later (or Valkey) and `appendonly yes` on
    /// the replicas; an older server answers every durable write with an error.
    pub const fn replicas_on_disk(replicas: u16) -> Durability {
        Durability {
            replicas,
            on_disk: true,
            ..Durability::PRIMARY
        }
    }

    /// How long to wait for the replicas before the operation fails. It must be shorter than
    /// the store's response timeout, or the connection gives up first;
    /// [`connect`](super::RedisStoreBuilder::connect) checks.
    pub const fn timeout(mut self, timeout: Duration) -> Durability {
        self.timeout = timeout;
        self
    }

    /// How long the wait lasts at most, if there is one.
    pub(super) fn wait_time(&self) -> Option<Duration> {
        self.wait().then_some(self.timeout)
    }

    /// Whether a write waits for replicas.
    pub(super) fn wait(&self) -> bool {
        self.replicas > 0
    }

    /// The command that waits, sent right after the write on the same connection.
    pub(super) fn command(&self) -> redis::Cmd {
        let millis = u64::try_from(self.timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut cmd;
        if self.on_disk {
            cmd = redis::cmd("WAITAOF");
            cmd.arg(0).arg(self.replicas).arg(millis);
        } else {
            cmd = redis::cmd("WAIT");
            cmd.arg(self.replicas).arg(millis);
        }
        cmd
    }

    /// Reads the wait's reply: `Ok` if enough replicas confirmed.
    pub(super) fn confirmed(&self, reply: Value) -> Result<(), StoreError> {
        let reply = reply.extract_error().map_err(StoreError::new)?;
        let acks = if self.on_disk {
            // [local fsyncs, replica fsyncs]
            <(i64, i64)>::from_redis_value(reply).map(|(_, replicas)| replicas)
        } else {
            i64::from_redis_value(reply)
        }
        .map_err(StoreError::new)?;
        if acks >= i64::from(self.replicas) {
            return Ok(());
        }
        Err(StoreError::new(format!(
            "the write is not confirmed durable: {acks} of {} replicas {} within {:?}; it may \
             not survive a failover, retry",
            self.replicas,
            if self.on_disk {
                "wrote it to disk"
            } else {
                "acknowledged it"
            },
            self.timeout,
        )))
    }
}

impl Default for Durability {
    fn default() -> Self {
        Durability::PRIMARY
    }
}

impl fmt::Debug for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.replicas, self.on_disk) {
            (0, _) => f.write_str("Durability::PRIMARY"),
            (n, false) => write!(f, "Durability::replicas({n}).timeout({:?})", self.timeout),
            (n, true) => write!(
                f,
                "Durability::replicas_on_disk({n}).timeout({:?})",
                self.timeout
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_few_acknowledgements_are_an_error_that_says_so() {
        let d = Durability::replicas(2).timeout(Duration::from_millis(300));
        assert!(d.confirmed(Value::Int(2)).is_ok());
        assert!(d.confirmed(Value::Int(3)).is_ok());
        let err = d.confirmed(Value::Int(1)).unwrap_err().to_string();
        assert!(
            err.contains("1 of 2 replicas acknowledged it within 300ms"),
            "{err}"
        );
        let aof = Durability::replicas_on_disk(1);
        let reply = |l, r| Value::Array(vec![Value::Int(l), Value::Int(r)]);
        assert!(aof.confirmed(reply(0, 1)).is_ok());
        assert!(
            aof.confirmed(reply(1, 0)).is_err(),
            "the local fsync does not count"
        );
        assert!(!Durability::PRIMARY.wait());
        assert_eq!(
            format!("{:?}", Durability::replicas(1)),
            "Durability::replicas(1).timeout(500ms)"
        );
    }

    #[test]
    fn the_wait_command_carries_the_count_and_the_timeout() {
        let packed = |d: Durability| String::from_utf8(d.command().get_packed_command()).unwrap();
        let wait = packed(Durability::replicas(1).timeout(Duration::from_millis(250)));
        assert_eq!(wait, "*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$3\r\n250\r\n");
        let aof = packed(Durability::replicas_on_disk(2));
        assert_eq!(
            aof,
            "*4\r\n$7\r\nWAITAOF\r\n$1\r\n0\r\n$1\r\n2\r\n$3\r\n500\r\n"
        );
        // A zero timeout would mean "forever" to Redis.
        let zero = packed(Durability::replicas(1).timeout(Duration::ZERO));
        assert!(zero.ends_with("$1\r\n1\r\n"), "{zero}");
    }
}
