//! [`Conn`]: the one connection a Redis store or resolver holds, to a server or a Cluster;
//! both connect lazily, so a Redis that is down at start-up gives `503`s until it is up.

use std::sync::Arc;

use redis::aio::ConnectionManager;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{FromRedisValue, RedisResult, ScriptInvocation, Value};

/// A connection to one Redis server, or to a Cluster.
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(Arc<LazyCluster>),
}

/// A Cluster connection made on first use, and made again on the next use if that failed.
/// Once made, redis-rs follows `MOVED` and `ASK` and reconnects to nodes by itself.
pub(crate) struct LazyCluster {
    client: ClusterClient,
    conn: tokio::sync::OnceCell<ClusterConnection>,
}

impl LazyCluster {
    pub(crate) fn new(client: ClusterClient) -> Arc<Self> {
        Arc::new(LazyCluster {
            client,
            conn: tokio::sync::OnceCell::new(),
        })
    }

    async fn get(&self) -> RedisResult<ClusterConnection> {
        let conn = self
            .conn
            .get_or_try_init(|| self.client.get_async_connection())
            .await?;
        Ok(conn.clone())
    }
}

impl Conn {
    /// Runs one command.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> RedisResult<T> {
        match self {
            Conn::Single(conn) => cmd.query_async(&mut conn.clone()).await,
            Conn::Cluster(lazy) => cmd.query_async(&mut lazy.get().await?).await,
        }
    }

    /// Runs one script.
    pub(crate) async fn invoke<T: FromRedisValue>(
        &self,
        invocation: ScriptInvocation<'_>,
    ) -> RedisResult<T> {
        match self {
            Conn::Single(conn) => invocation.invoke_async(&mut conn.clone()).await,
            Conn::Cluster(lazy) => invocation.invoke_async(&mut lazy.get().await?).await,
        }
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(_))
    }

    /// How many keys match `pattern`, counted with `SCAN` (a page of 1,000 keys at a time, so
    /// Redis is never blocked for long, unlike `KEYS`) on the server, or on every primary of a
    /// Cluster. Keys that come or go during the count may be counted or not, as `SCAN` says.
    pub(crate) async fn count(&self, pattern: &str) -> RedisResult<usize> {
        match self {
            Conn::Single(conn) => {
                scan_count(pattern, |cmd| {
                    let mut conn = conn.clone();
                    async move { cmd.query_async::<Value>(&mut conn).await }
                })
                .await
            }
            Conn::Cluster(lazy) => {
                let conn = lazy.get().await?;
                let nodes: String = FromRedisValue::from_redis_value(
                    conn.clone()
                        .route_command(
                            redis::cmd("CLUSTER").arg("NODES").clone(),
                            RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
                        )
                        .await?,
                )?;
                let mut total = 0;
                for (host, port) in primaries(&nodes) {
                    total += scan_count(pattern, |cmd| {
                        let mut conn = conn.clone();
                        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port,
                        });
                        async move { conn.route_command(cmd, routing).await }
                    })
                    .await?;
                }
                Ok(total)
            }
        }
    }
}

/// `SCAN` to the end, counting the keys, sending each page's command through `send`.
async fn scan_count<F, Fut>(pattern: &str, mut send: F) -> RedisResult<usize>
where
    F: FnMut(redis::Cmd) -> Fut,
    Fut: std::future::Future<Output = RedisResult<Value>>,
{
    let mut cursor = 0u64;
    let mut total = 0;
    loop {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1_000);
        let (next, keys): (u64, Vec<Value>) = FromRedisValue::from_redis_value(send(cmd).await?)?;
        total += keys.len();
        if next == 0 {
            return Ok(total);
        }
        cursor = next;
    }
}

/// The primaries that `CLUSTER NODES` lists as healthy: `(host, port)`.
fn primaries(nodes: &str) -> Vec<(String, u16)> {
    nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let flags = fields.get(2)?;
            let is_primary = flags.split(',').any(|f| f == "master")
                && !flags.split(',').any(|f| f == "fail" || f == "noaddr");
            let address = fields.get(1)?.split(['@', ',']).next()?;
            let (host, port) = address.rsplit_once(':')?;
            is_primary.then(|| Some((host.to_string(), port.parse().ok()?)))?
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primaries_are_read_from_cluster_nodes() {
        let nodes = "\
07c3 127.0.0.1:30004@40004 slave e7d1 0 1 4 connected
67ed 127.0.0.1:30002@40002 master - 0 1 2 connected 5461-10922
292f 127.0.0.1:30003@40003,host3 master,fail - 0 1 3 connected
e7d1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460
";
        assert_eq!(
            primaries(nodes),
            vec![
                ("127.0.0.1".to_string(), 30002),
                ("127.0.0.1".to_string(), 30001)
            ]
        );
    }
}
