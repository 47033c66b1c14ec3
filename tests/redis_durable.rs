//! Durable writes: the store conformance suite on a replicated Cluster with every write durable,
//! and what a durable write answers when no replica can confirm it (an error, never a silent
//! success), with `WAIT` on Redis and `WAITAOF` on Valkey.
#![cfg(all(feature = "redis", feature = "test-util"))]

mod support;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::cluster::Cluster;
use support::redis::RedisServer;
use tower_bearer::store::{CreateOptions, Durability, ManualClock, RedisStore, SessionStore};
use tower_bearer::SessionResolver;

/// One replicated Cluster for the conformance cases; each case's store has a prefix of its own.
fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| Cluster::start(3, 1))
}

const WAIT: Duration = Duration::from_millis(300);

tower_bearer::store_conformance!(|clock: ManualClock| async move {
    let urls = cluster().urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    RedisStore::builder()
        .clock(clock)
        .prefix(format!("test-{}:", uuid::Uuid::new_v4().simple()))
        .durable_revocations(Durability::replicas(1).timeout(WAIT))
        .durable_creations(Durability::replicas(1).timeout(WAIT))
        .connect_cluster::<()>(&urls)
        .await
        .unwrap()
});

/// A primary and its replica, on ports of their own.
fn primary_and_replica(program: &'static str, replica_args: &[&str]) -> (RedisServer, RedisServer) {
    let primary = RedisServer::start_program(program, &[]);
    let port = primary.port.to_string();
    let mut args = vec!["--replicaof", "127.0.0.1", &port];
    args.extend_from_slice(replica_args);
    let replica = RedisServer::start_program(program, &args);
    let started = Instant::now();
    while !replica
        .cli(&["INFO", "replication"])
        .contains("master_link_status:up")
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "replica not in sync"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (primary, replica)
}

async fn store_on(url: &str, durability: Durability) -> RedisStore {
    RedisStore::builder()
        .response_timeout(Duration::from_secs(3))
        .durable_revocations(durability)
        .durable_creations(durability)
        .connect(url)
        .await
        .unwrap()
}

/// With the replica stopped, a durable revocation is an error after the wait, not a success;
/// the session is revoked on the primary all the same, stays revoked, and a retry once the
/// replica is back succeeds. Durable creations fail the same way; a store that does not ask
/// for durability goes on as before.
#[tokio::test]
async fn an_unconfirmed_durable_write_is_an_error_never_a_silent_success() {
    let (primary, replica) = primary_and_replica("redis-server", &[]);
    let durable = store_on(&primary.url(), Durability::replicas(1).timeout(WAIT)).await;
    let plain = store_on(&primary.url(), Durability::PRIMARY).await;
    let issued = durable
        .create("alice", (), CreateOptions::default())
        .await
        .unwrap();
    let other = durable
        .create("alice", (), CreateOptions::default())
        .await
        .unwrap();

    replica.pause();
    let started = Instant::now();
    let err = durable
        .revoke_token(issued.token.as_bearer())
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() >= WAIT, "it waited for the replica");
    assert!(err.contains("0 of 1 replicas acknowledged it"), "{err}");
    assert!(
        durable
            .resolve(issued.token.as_bearer())
            .await
            .unwrap()
            .is_none(),
        "the primary applied it: revoked"
    );
    let err = durable.revoke_all("alice").await.unwrap_err().to_string();
    assert!(err.contains("not confirmed durable"), "{err}");
    assert!(durable
        .create("bob", (), CreateOptions::default())
        .await
        .is_err());
    let bob = plain
        .create("bob", (), CreateOptions::default())
        .await
        .expect("PRIMARY does not wait");
    assert!(plain.revoke_token(bob.token.as_bearer()).await.unwrap());

    replica.resume();
    assert!(!durable
        .revoke_token(issued.token.as_bearer())
        .await
        .unwrap());
    assert!(durable
        .resolve(issued.token.as_bearer())
        .await
        .unwrap()
        .is_none());
    assert!(durable
        .resolve(other.token.as_bearer())
        .await
        .unwrap()
        .is_none());
    let carol = durable
        .create("carol", (), CreateOptions::default())
        .await
        .unwrap();
    assert!(durable.revoke_token(carol.token.as_bearer()).await.unwrap());
}

/// Standalone Redis without replicas can never confirm: durable writes are errors there, and
/// the default (PRIMARY) is today's behaviour.
#[tokio::test]
async fn standalone_without_replicas_confirms_nothing() {
    let redis = RedisServer::start();
    let durable = store_on(&redis.url(), Durability::replicas(1).timeout(WAIT)).await;
    assert!(durable
        .create("alice", (), CreateOptions::default())
        .await
        .is_err());
    let plain = store_on(&redis.url(), Durability::PRIMARY).await;
    let issued = plain
        .create("alice", (), CreateOptions::default())
        .await
        .unwrap();
    assert!(plain.revoke_token(issued.token.as_bearer()).await.unwrap());
}

/// The cap's eviction is a revocation: with durable revocations and no replica to confirm, a
/// sign-in that evicts fails, and one that evicts nothing does not.
#[tokio::test]
async fn an_eviction_by_the_cap_waits_as_a_revocation_does() {
    let redis = RedisServer::start();
    let store: RedisStore = RedisStore::builder()
        .max_sessions_per_user(1)
        .durable_revocations(Durability::replicas(1).timeout(WAIT))
        .connect(&redis.url())
        .await
        .unwrap();
    let first = store
        .create("alice", (), CreateOptions::default())
        .await
        .expect("nothing evicted: nothing to confirm");
    let err = store
        .create("alice", (), CreateOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not confirmed durable"), "{err}");
    assert!(store
        .resolve(first.token.as_bearer())
        .await
        .unwrap()
        .is_none());
}

/// A wait as long as the response timeout would always fail: refused when connecting.
#[tokio::test]
async fn a_wait_longer_than_the_response_timeout_is_refused() {
    let err = RedisStore::builder()
        .response_timeout(Duration::from_millis(500))
        .durable_revocations(Durability::replicas(1).timeout(Duration::from_millis(500)))
        .connect::<()>("redis://127.0.0.1:1")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("must be shorter than"), "{err}");
}

/// `WAITAOF`: on Valkey (Redis 7.2's fork) with an append-only replica, a durable write
/// succeeds once the replica wrote it to disk, and fails when the replica does not write one;
/// Redis 7.0, which has no `WAITAOF`, answers every such write with an error.
#[tokio::test]
async fn on_disk_durability_uses_waitaof_where_the_server_has_it() {
    // A replica reports what it wrote to disk when asked or once a second: give it that.
    let on_disk = Durability::replicas_on_disk(1).timeout(Duration::from_millis(1_500));
    let (primary, _replica) = primary_and_replica(
        "valkey-server",
        &["--appendonly", "yes", "--appendfsync", "always"],
    );
    let store = store_on(&primary.url(), on_disk).await;
    // The replica's append-only file is written once its first rewrite after the sync is
    // done: until then, the wait times out.
    let started = Instant::now();
    let issued = loop {
        match store.create("alice", (), CreateOptions::default()).await {
            Ok(issued) => break issued,
            Err(e) => assert!(started.elapsed() < Duration::from_secs(20), "{e}"),
        }
    };
    for _ in 0..2 {
        let issued = store
            .create("alice", (), CreateOptions::default())
            .await
            .unwrap();
        assert!(store.revoke_token(issued.token.as_bearer()).await.unwrap());
    }
    assert!(store.revoke_token(issued.token.as_bearer()).await.unwrap());

    // A replica without an append-only file never confirms a write to disk.
    let (primary, _replica) = primary_and_replica("valkey-server", &[]);
    let store = store_on(&primary.url(), on_disk).await;
    let err = store
        .create("alice", (), CreateOptions::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("0 of 1 replicas wrote it to disk"),
        "{err}"
    );

    let redis = RedisServer::start();
    let old = store_on(&redis.url(), on_disk).await;
    let err = old
        .create("alice", (), CreateOptions::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("unknown command"),
        "{err}"
    );
}
