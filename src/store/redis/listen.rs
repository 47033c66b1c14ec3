//! The [`CachedStore`](super::CachedStore)'s listener: the invalidation channel, its pings,
//! and on a Cluster, the view of the node it listens on.

use std::sync::Weak;
use std::time::Duration;

use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::shared::Shared;
use super::RedisStore;

/// Subscribes, pings, applies invalidations; on any failure clears the cache and starts over,
/// on the next of `clients` (the nodes it may listen on).
///
/// Each ping also checks a marker key of this instance's (set with a TTL at each subscription):
/// a `FLUSHALL` or `FLUSHDB` deletes sessions without publishing anything, and the marker's
/// absence says that it happened.
///
/// On a Cluster, each ping also reads `CLUSTER NODES` from the node it listens on. A message
/// published on one node reaches the others over the cluster bus, so a node that cannot hear
/// another may miss its invalidations, and a failover can undo writes. So hits are served only
/// while that node sees every node connected and none failing, and the cache forgets
/// everything whenever that view changes (a node fails or comes back, a replica takes over).
/// A node failed for good, its slots taken over, does not stop the hits.
pub(super) async fn listen<D>(
    clients: Vec<redis::Client>,
    store: RedisStore<D>,
    channel: String,
    marker: String,
    cache: Weak<Shared<D>>,
) where
    D: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    let mut backoff = Duration::from_millis(20);
    let mut subscribed_before = false;
    let cluster = store.inner.conn.is_cluster();
    for client in clients.iter().cycle() {
        let Some(max_stale) = cache.upgrade().map(|c| c.max_stale) else {
            return;
        };
        let connected = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            let mut viewer = match cluster {
                true => Some(client.get_multiplexed_async_connection().await?),
                false => None,
            };
            let view = match &mut viewer {
                Some(conn) => Some(View::read(conn).await?),
                None => None,
            };
            redis::RedisResult::Ok((pubsub, viewer, view))
        };
        let (pubsub, mut viewer, mut view) = match tokio::time::timeout(max_stale, connected).await
        {
            Ok(Ok(connected)) => connected,
            _ => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(20);
        let (mut sink, mut messages) = pubsub.split();
        if store.set_marker(&marker).await.is_err() {
            continue;
        }
        // A fresh subscription: whatever was published while there was none is unknown.
        if std::mem::replace(&mut subscribed_before, true) {
            crate::metrics::redis_reconnect();
        }
        match cache.upgrade() {
            Some(shared) => {
                shared.cache.clear();
                if view.as_ref().is_none_or(View::healthy) {
                    shared.cache.alive_for(max_stale);
                }
            }
            None => return,
        }
        let mut ping = tokio::time::interval(max_stale / 4);
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else { break };
                    let Some(cache) = cache.upgrade() else { return };
                    match std::str::from_utf8(message.get_payload_bytes()) {
                        Ok(digest) => cache.invalidate(digest),
                        Err(_) => cache.cache.clear(),
                    }
                    crate::metrics::redis_invalidation();
                }
                _ = ping.tick() => {
                    let checks = async {
                        // In subscribed mode the reply is an array ([pong, ""]), not a string.
                        sink.ping::<redis::Value>().await?;
                        let marked = store.has_marker(&marker).await?;
                        let seen = match &mut viewer {
                            Some(conn) => Some(View::read(conn).await?),
                            None => None,
                        };
                        redis::RedisResult::Ok((marked, seen))
                    };
                    let answered = tokio::time::timeout(max_stale, checks).await;
                    let Some(cache) = cache.upgrade() else { return };
                    match answered {
                        Ok(Ok((true, seen))) => {
                            if seen != view {
                                // A failover, a node lost or back: what was published
                                // meanwhile may not have reached this node.
                                cache.cache.dead();
                                crate::metrics::redis_cluster_change();
                                view = seen;
                            }
                            if view.as_ref().is_none_or(View::healthy) {
                                cache.cache.alive_for(max_stale);
                            }
                        }
                        // Flushed: forget everything, mark again.
                        Ok(Ok((false, _))) => {
                            cache.cache.clear();
                            if store.set_marker(&marker).await.is_err() {
                                break;
                            }
                        }
                        _ => break,
                    }
                }
            }
        }
        // The channel is lost: stop serving, forget everything, reconnect.
        if let Some(shared) = cache.upgrade() {
            shared.cache.dead();
        }
    }
}

/// A Cluster as one node sees it: each node's id, flags, primary, config epoch, link and
/// whether it serves slots, sorted; no timestamps, so it changes only when the Cluster does.
#[derive(Debug, PartialEq, Eq)]
struct View {
    nodes: Vec<String>,
}

impl View {
    async fn read(conn: &mut redis::aio::MultiplexedConnection) -> redis::RedisResult<View> {
        let text: String = redis::cmd("CLUSTER").arg("NODES").query_async(conn).await?;
        Ok(View::parse(&text))
    }

    fn parse(text: &str) -> View {
        let mut nodes: Vec<String> = text
            .lines()
            .filter_map(|line| {
                // id address flags primary ping-sent pong-received epoch link slots…
                let f: Vec<&str> = line.split(' ').collect();
                let flags: Vec<&str> = f.get(2)?.split(',').filter(|f| *f != "myself").collect();
                let slots = if f.len() > 8 { "slots" } else { "-" };
                Some(format!(
                    "{} {} {} {} {} {slots}",
                    f[0],
                    flags.join(","),
                    f.get(3)?,
                    f.get(6)?,
                    f.get(7)?
                ))
            })
            .collect();
        nodes.sort();
        View { nodes }
    }

    /// Every node this one can hear, or failed for good and out of the way: a node whose
    /// failure the Cluster agreed on (`fail`) and that serves no slots (a replica took them
    /// over) publishes nothing. One that this node merely cannot reach (`fail?`), or that
    /// failed but still serves slots, may publish what this node does not hear.
    fn healthy(&self) -> bool {
        self.nodes.iter().all(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let flags: Vec<&str> = fields[1].split(',').collect();
            let (link, slots) = (fields[4], fields[5]);
            if flags.contains(&"fail") && slots == "-" {
                return true;
            }
            link == "connected"
                && !flags
                    .iter()
                    .any(|f| matches!(*f, "fail" | "fail?" | "handshake" | "noaddr"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::View;

    const NODES: &str = "\
07c3 127.0.0.1:30004@40004 slave e7d1 0 1700000000000 4 connected
67ed 127.0.0.1:30002@40002 master - 0 1700000000001 2 connected 5461-10922
e7d1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460
";

    #[test]
    fn a_view_ignores_timestamps_and_sees_failures_and_failovers() {
        let view = View::parse(NODES);
        assert!(view.healthy());
        let later = NODES.replace("1700000000001", "1700000009999");
        assert_eq!(View::parse(&later), view, "pings are not changes");
        let failing = NODES.replace("master - 0 1700000000001", "master,fail? - 0 1700000000001");
        assert!(!View::parse(&failing).healthy());
        assert_ne!(View::parse(&failing), view);
        let promoted = NODES
            .replace("slave e7d1 0 1700000000000 4", "master - 0 1700000000000 5")
            .replace("myself,master - 0 0 1", "myself,slave 07c3 0 0 5");
        assert_ne!(View::parse(&promoted), view, "a failover is a change");
        let unlinked = NODES.replace("2 connected", "2 disconnected");
        assert!(!View::parse(&unlinked).healthy());
        // A failed primary whose slots a replica took over is out of the way.
        let replaced = NODES
            .replace("slave e7d1 0 1700000000000 4", "master - 0 1700000000000 5")
            .replace(
                "master - 0 1700000000001 2 connected 5461-10922",
                "master,fail - 0 1700000000001 2 disconnected",
            );
        assert!(View::parse(&replaced).healthy());
        let failed_with_slots = NODES.replace(
            "master - 0 1700000000001 2 connected",
            "master,fail - 0 1700000000001 2 disconnected",
        );
        assert!(!View::parse(&failed_with_slots).healthy());
    }
}
