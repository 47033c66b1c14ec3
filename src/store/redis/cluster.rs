//! [`LazyCluster`]: a Redis Cluster connection made on first use, and made again when the
//! Cluster stops answering it, so that a failover is followed even when the old primary is
//! paused rather than gone.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::RedisResult;
use tokio::sync::watch;

/// A connection is made again for a timeout at most this often: a Cluster that is down for
/// everyone is not hammered with new connections.
const REFRESH_EVERY: Duration = Duration::from_millis(250);

/// A Cluster connection made on first use, and again on the next use if that failed. Once
/// made, redis-rs follows `MOVED` and `ASK` and reconnects to nodes by itself; when a
/// primary's connection breaks, it reads the slot map again.
///
/// A primary that is stopped (`SIGSTOP`, a stalled host, a partition) breaks nothing: its
/// connection stays open and every command to it times out, and redis-rs never looks for the
/// replica that took its slots over. So a timeout makes a new connection in the background,
/// which reads the slot map afresh from the nodes that answer, and replaces the old one when it
/// is made; meanwhile commands go on over the old one, so the other primaries' keys are
/// served throughout.
pub(crate) struct LazyCluster {
    client: ClusterClient,
    /// The longest a command may take, connecting included.
    timeout: Duration,
    current: RwLock<Option<ClusterConnection>>,
    /// Whether a connection is being made, in a task of its own: the requests that wait for
    /// it time out by themselves without cancelling it (against a Cluster with a node that
    /// accepts and never answers, making one can take longer than a request may wait).
    connecting: AtomicBool,
    /// Each finished attempt: its number, and its error if it failed.
    attempts: watch::Sender<(u64, Option<String>)>,
    /// When the last attempt for a timeout started.
    refreshed: std::sync::Mutex<Option<Instant>>,
}

impl LazyCluster {
    /// A connection to the Cluster of the given nodes: each command answers within `timeout`,
    /// connecting and retries included; a `TRYAGAIN` or `CLUSTERDOWN` is retried after 20 to 250 ms (redis-rs waits
    /// over a second by default, longer than a request may take), a `MOVED` at once.
    pub(crate) fn new(urls: &[&str], timeout: Duration) -> RedisResult<Arc<Self>> {
        let client = redis::cluster::ClusterClientBuilder::new(urls.iter().copied())
            .response_timeout(timeout)
            .connection_timeout(timeout)
            .min_retry_wait(20)
            .max_retry_wait(250)
            .build()?;
        Ok(Arc::new(LazyCluster {
            client,
            timeout,
            current: RwLock::new(None),
            connecting: AtomicBool::new(false),
            attempts: watch::Sender::new((0, None)),
            refreshed: std::sync::Mutex::new(None),
        }))
    }

    fn current(&self) -> Option<ClusterConnection> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current.clone()
    }

    /// The connection, made within the timeout, or an error.
    pub(crate) async fn get(self: &Arc<Self>) -> RedisResult<ClusterConnection> {
        match tokio::time::timeout(self.timeout, self.get_or_connect()).await {
            Ok(made) => made,
            Err(elapsed) => Err(timed_out(elapsed)),
        }
    }

    async fn get_or_connect(self: &Arc<Self>) -> RedisResult<ClusterConnection> {
        let mut attempts = self.attempts.subscribe();
        if let Some(found) = self.current() {
            return Ok(found);
        }
        let seen = attempts.borrow().0;
        self.start_connecting();
        let attempt = attempts
            .wait_for(|(number, _)| *number > seen)
            .await
            .map_err(|_| closed())?;
        let failed = attempt.1.clone();
        drop(attempt);
        match (self.current(), failed) {
            (Some(found), _) => Ok(found),
            (None, Some(error)) => Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "cannot connect to the Redis Cluster",
                error,
            ))),
            (None, None) => Err(closed()),
        }
    }

    /// Starts making a connection in a task of its own, unless one is being made.
    fn start_connecting(self: &Arc<Self>) {
        if !self.connecting.swap(true, Ordering::AcqRel) {
            let this = self.clone();
            tokio::spawn(async move { this.connect().await });
        }
    }

    async fn connect(&self) {
        // Bounded, so that a hung attempt cannot keep every later one from starting: a node
        // per initial address, then the slot map, each within the timeout.
        let made = tokio::time::timeout(self.timeout * 4, self.client.get_async_connection());
        let error = match made.await.unwrap_or_else(|elapsed| Err(timed_out(elapsed))) {
            Ok(conn) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(conn);
                None
            }
            Err(e) => Some(e.to_string()),
        };
        self.connecting.store(false, Ordering::Release);
        self.attempts
            .send_modify(|(number, failed)| (*number, *failed) = (*number + 1, error));
    }

    /// Runs `op` on the connection, connecting first if need be, all within the timeout; if it
    /// times out, a new connection is made in the background (see the type's docs), at most
    /// every [`REFRESH_EVERY`].
    pub(crate) async fn with<T, F, Fut>(self: &Arc<Self>, op: F) -> RedisResult<T>
    where
        F: FnOnce(ClusterConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let attempt = async {
            let conn = self.get_or_connect().await?;
            op(conn).await
        };
        let result = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => result,
            Err(elapsed) => Err(timed_out(elapsed)),
        };
        if result.as_ref().is_err_and(|e| e.is_timeout()) {
            self.refresh();
        }
        result
    }

    fn refresh(self: &Arc<Self>) {
        {
            let mut last = self.refreshed.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|at| at.elapsed() < REFRESH_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        self.start_connecting();
    }
}

fn closed() -> redis::RedisError {
    std::io::Error::from(std::io::ErrorKind::BrokenPipe).into()
}

fn timed_out(elapsed: tokio::time::error::Elapsed) -> redis::RedisError {
    std::io::Error::new(std::io::ErrorKind::TimedOut, elapsed).into()
}
