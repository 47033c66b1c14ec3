//! A Redis Cluster in production shape, started by the tests: primaries, each with replicas,
//! and a short `cluster-node-timeout`, so that a failover takes seconds. Nodes can be killed,
//! paused and brought back; the helpers say who is primary for a key and wait for the cluster
//! to settle.

use std::time::{Duration, Instant};

use super::redis::RedisServer;

/// The node timeout of the tests' clusters: a primary unreachable this long is failed over.
pub const NODE_TIMEOUT: Duration = Duration::from_millis(1_000);

pub struct Cluster {
    pub nodes: Vec<RedisServer>,
}

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone)]
pub struct NodeLine {
    pub id: String,
    pub port: u16,
    pub flags: Vec<String>,
    pub primary_id: Option<String>,
    pub slots: Vec<(u16, u16)>,
}

impl NodeLine {
    pub fn is_primary(&self) -> bool {
        self.flags.iter().any(|f| f == "master")
    }

    pub fn failed(&self) -> bool {
        self.flags.iter().any(|f| f == "fail" || f == "fail?")
    }

    fn serves(&self, slot: u16) -> bool {
        self.slots.iter().any(|&(a, b)| (a..=b).contains(&slot))
    }
}

fn parse_nodes(text: &str) -> Vec<NodeLine> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let address = fields.get(1)?.split(['@', ',']).next()?;
            let port = address.rsplit_once(':')?.1.parse().ok()?;
            let slots = fields
                .iter()
                .skip(8)
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => s.parse().ok().map(|n| (n, n)),
                })
                .collect();
            Some(NodeLine {
                id: fields[0].to_string(),
                port,
                flags: fields.get(2)?.split(',').map(str::to_string).collect(),
                primary_id: fields.get(3).filter(|p| **p != "-").map(|p| p.to_string()),
                slots,
            })
        })
        .collect()
}

fn wait(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Cluster {
    /// `primaries` primaries with `replicas` replicas each, every slot covered, every replica
    /// in sync.
    pub fn start(primaries: usize, replicas: usize) -> Cluster {
        let timeout = NODE_TIMEOUT.as_millis().to_string();
        let nodes: Vec<RedisServer> = (0..primaries * (1 + replicas))
            .map(|_| {
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-node-timeout",
                    &timeout,
                    // A replica whose link was down long takes over anyway: the tests kill
                    // and pause primaries for several node timeouts.
                    "--cluster-replica-validity-factor",
                    "0",
                ])
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let replicas_arg = replicas.to_string();
        let mut create = vec!["--cluster", "create"];
        create.extend(addrs.iter().map(String::as_str));
        create.extend(["--cluster-replicas", &replicas_arg, "--cluster-yes"]);
        let out = nodes[0].cli(&create);
        assert!(out.contains("[OK] All 16384 slots covered"), "{out}");
        let cluster = Cluster { nodes };
        cluster.wait_healthy(primaries * (1 + replicas));
        cluster
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// `CLUSTER NODES` as seen by the node at `by`.
    pub fn view(&self, by: usize) -> Vec<NodeLine> {
        parse_nodes(&self.nodes[by].cli(&["CLUSTER", "NODES"]))
    }

    fn index_of(&self, port: u16) -> usize {
        self.nodes.iter().position(|n| n.port == port).unwrap()
    }

    /// The index of the primary serving `key`'s slot, as the node at `by` sees it.
    pub fn primary_for(&self, key: &str, by: usize) -> Option<usize> {
        let slot: u16 = self.nodes[by]
            .cli(&["CLUSTER", "KEYSLOT", key])
            .trim()
            .parse()
            .unwrap();
        let view = self.view(by);
        let line = view
            .iter()
            .find(|n| n.is_primary() && !n.failed() && n.serves(slot))?;
        Some(self.index_of(line.port))
    }

    /// The indexes of `primary`'s replicas.
    pub fn replicas_of(&self, primary: usize) -> Vec<usize> {
        let view = self.view(primary);
        let id = view
            .iter()
            .find(|n| n.port == self.nodes[primary].port)
            .unwrap()
            .id
            .clone();
        view.iter()
            .filter(|n| n.primary_id.as_deref() == Some(id.as_str()))
            .map(|n| self.index_of(n.port))
            .collect()
    }

    /// Waits until `expected` nodes answer, every one of them says the cluster is ok and sees
    /// no failed node, and every replica's link to its primary is up.
    pub fn wait_healthy(&self, expected: usize) {
        wait("the cluster is healthy", Duration::from_secs(30), || {
            self.nodes.iter().enumerate().all(|(i, node)| {
                let info = node.cli(&["CLUSTER", "INFO"]);
                let view = self.view(i);
                let replication = node.cli(&["INFO", "replication"]);
                info.contains("cluster_state:ok")
                    && view.len() == expected
                    && view.iter().all(|n| !n.failed())
                    && (replication.contains("role:master")
                        || replication.contains("master_link_status:up"))
            })
        });
    }

    /// Waits until the node at `node` is a primary, as every node but `except` sees it.
    pub fn wait_promoted(&self, node: usize, except: usize) -> Duration {
        let started = Instant::now();
        let port = self.nodes[node].port;
        wait("the replica took over", Duration::from_secs(20), || {
            (0..self.nodes.len()).filter(|&i| i != except).all(|i| {
                self.view(i)
                    .iter()
                    .any(|n| n.port == port && n.is_primary() && !n.slots.is_empty())
                    && self.nodes[i]
                        .cli(&["CLUSTER", "INFO"])
                        .contains("cluster_state:ok")
            })
        });
        started.elapsed()
    }

    /// Waits until the node at `node` is a replica of `primary`, in sync.
    pub fn wait_replica_of(&self, node: usize, primary: usize) {
        wait(
            "the old primary came back as a replica",
            Duration::from_secs(30),
            || {
                let replication = self.nodes[node].cli(&["INFO", "replication"]);
                replication.contains("role:slave")
                    && replication.contains(&format!("master_port:{}", self.nodes[primary].port))
                    && replication.contains("master_link_status:up")
            },
        );
    }
}
