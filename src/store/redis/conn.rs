//! [`Conn`]: the connection a Redis store or resolver holds, to a server or a Cluster (and
//! each of a store's connections for durable writes, see `durable_conns`); both connect
//! lazily, so a Redis that is down at start-up gives `503`s until it is up.

use std::sync::Arc;

use redis::aio::ConnectionManager;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{ErrorKind, FromRedisValue, RedisError, RedisResult, ServerErrorKind, Value};

pub(crate) use super::cluster::LazyCluster;
use super::scripts::Call;

/// A connection to one Redis server, or to a Cluster.
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(Arc<LazyCluster>),
}

impl Conn {
    /// Runs one command.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> RedisResult<T> {
        match self {
            Conn::Single(conn) => cmd.query_async(&mut conn.clone()).await,
            Conn::Cluster(lazy) => {
                lazy.with(|mut c| async move { cmd.query_async(&mut c).await })
                    .await
            }
        }
    }

    /// Runs one script; its reply, and the replies of the `waits` sent right after it.
    ///
    /// The script and its waits go in one pipeline: on one connection, to the node that holds
    /// the script's keys (on a Cluster, the pipeline is routed by them, and a `MOVED` resends
    /// both), so each wait covers this write and no other node's. A server that does not have
    /// the script yet (`NOSCRIPT`: restarted, or a replica just promoted) gets it by `EVAL`.
    pub(crate) async fn run(
        &self,
        call: &Call<'_>,
        waits: &[redis::Cmd],
    ) -> RedisResult<(Value, Vec<Value>)> {
        match self.run_once(call, false, waits).await {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.run_once(call, true, waits).await
            }
            other => other,
        }
    }

    /// Runs one script by `EVAL` (never `NOSCRIPT`, so never twice), and the `waits` after it,
    /// as [`run`](Self::run) does: for durable writes, whose wait would otherwise be waited
    /// out twice when the server does not have the script yet.
    pub(crate) async fn run_eval(
        &self,
        call: &Call<'_>,
        waits: &[redis::Cmd],
    ) -> RedisResult<(Value, Vec<Value>)> {
        self.run_once(call, true, waits).await
    }

    /// Connects now rather than on first use; errors are left for that use to meet.
    pub(crate) async fn warm(&self) {
        let _ = match self {
            Conn::Single(conn) => redis::cmd("PING")
                .query_async::<Value>(&mut conn.clone())
                .await
                .map(drop),
            Conn::Cluster(lazy) => lazy.get().await.map(drop),
        };
    }

    async fn run_once(
        &self,
        call: &Call<'_>,
        eval: bool,
        waits: &[redis::Cmd],
    ) -> RedisResult<(Value, Vec<Value>)> {
        let script = call.cmd(eval);
        if waits.is_empty() {
            let reply: Value = self.query(&script).await?;
            return Ok((reply.extract_error()?, Vec::new()));
        }
        let mut pipe = redis::pipe();
        pipe.ignore_errors().add_command(script);
        for wait in waits {
            pipe.add_command(wait.clone());
        }
        let mut replies: Vec<Value> = match self {
            Conn::Single(conn) => pipe.query_async(&mut conn.clone()).await?,
            Conn::Cluster(lazy) => {
                let pipe = &pipe;
                lazy.with(|mut c| async move { pipe.query_async(&mut c).await })
                    .await?
            }
        };
        if replies.len() != 1 + waits.len() {
            return Err(RedisError::from((
                ErrorKind::UnexpectedReturnType,
                "a reply for the script and one for each wait",
            )));
        }
        let waited = replies.split_off(1);
        let reply = replies.pop().expect("one reply");
        Ok((reply.extract_error()?, waited))
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
