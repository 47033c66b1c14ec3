//! [`DurableConns`]: the connections durable writes go on, apart from the store's own.
//!
//! `WAIT` and `WAITAOF` block the connection they are sent on until enough replicas confirm or
//! the wait times out, and count only the writes made on that connection. The store's own
//! connection is multiplexed (on a Cluster, one per node, shared by every command for it): a
//! wait sent there would hold up every resolve of that primary's sessions, and every other
//! durable write's wait would queue behind it. So a durable write and its wait are sent on a
//! connection of their own, taken from a small pool for that one write and given back after:
//! a connection carries one wait at a time, and reads never meet one.
//!
//! The pool's connections are made when the store is, in the background: a Cluster connection
//! is made to every node, and a node that is stopped (a paused replica, say) holds up a new
//! one until the connection timeout, the moment a durable write needs it most.

use std::sync::Mutex;
use std::time::Duration;

use redis::{RedisResult, Value};
use tokio::sync::Semaphore;

use super::conn::Conn;
use super::scripts::Call;

/// The pool's connections: durable writes in flight at once, at most; more wait for one of them
/// to finish. On a Cluster, each is a Cluster connection (one connection per node).
pub(super) const DURABLE_CONNS: usize = 8;

/// Makes a new connection, lazily (it connects on first use).
type Make = Box<dyn Fn() -> RedisResult<Conn> + Send + Sync>;

/// A pool of connections that each carry one durable write at a time.
pub(crate) struct DurableConns {
    make: Make,
    idle: Mutex<Vec<Conn>>,
    permits: Semaphore,
    /// The longest a durable write may take, waiting for a connection included.
    timeout: Duration,
}

impl DurableConns {
    /// The pool, its connections made in the background if there is a tokio runtime (else on
    /// first use).
    pub(crate) fn new(timeout: Duration, make: Make) -> DurableConns {
        let idle: Vec<Conn> = (0..DURABLE_CONNS).filter_map(|_| make().ok()).collect();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            for conn in &idle {
                let conn = conn.clone();
                runtime.spawn(async move { conn.warm().await });
            }
        }
        DurableConns {
            make,
            idle: Mutex::new(idle),
            permits: Semaphore::new(DURABLE_CONNS),
            timeout,
        }
    }

    /// Runs one script by `EVAL` and its `waits` after it (see [`Conn::run`]), on a connection
    /// nothing else uses meanwhile.
    pub(crate) async fn run(
        &self,
        call: &Call<'_>,
        waits: &[redis::Cmd],
    ) -> RedisResult<(Value, Vec<Value>)> {
        let write = async {
            let _permit = self.permits.acquire().await.map_err(|_| closed())?;
            let conn = match self.take() {
                Some(conn) => conn,
                None => (self.make)()?,
            };
            let result = conn.run_eval(call, waits).await;
            // A connection given up on may still be blocked by its wait on the server: it is
            // dropped (closed), not given to the next write. A Cluster connection makes itself
            // anew after a timeout (see `LazyCluster`), so it is kept. One whose write was
            // cancelled (the timeout below, a caller gone) is dropped with the future.
            let blocked = matches!(conn, Conn::Single(_))
                && result.as_ref().is_err_and(redis::RedisError::is_timeout);
            if !blocked {
                self.idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(conn);
            }
            result
        };
        match tokio::time::timeout(self.timeout, write).await {
            Ok(result) => result,
            Err(elapsed) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, elapsed).into()),
        }
    }

    fn take(&self) -> Option<Conn> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }
}

fn closed() -> redis::RedisError {
    std::io::Error::from(std::io::ErrorKind::BrokenPipe).into()
}
