//! A durable write's wait holds up nothing else. With the replica stopped, durable revocations
//! sent together each fail after their own wait for the replica (not one after another, not at
//! the response timeout), and resolves of other sessions on the same primary go on meanwhile,
//! unslowed and without an error: on standalone Redis with a replica, and on a Cluster.
//!
//! `WAIT` blocks the connection it is sent on; before the durable writes had connections of
//! their own, every resolve for that primary queued behind it, and each revocation's wait
//! behind the one before.
#![cfg(all(feature = "redis", feature = "test-util"))]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::cluster::Cluster;
use support::redis::RedisServer;
use tower_bearer::store::{CreateOptions, Durability, RedisStore, RedisStoreBuilder, SessionStore};
use tower_bearer::{BearerToken, SessionResolver};

/// The wait for the replica, and the response timeout: far apart, so that a revocation that
/// waited behind another's wait is told from one that did not, even on a loaded machine.
const WAIT: Duration = Duration::from_millis(600);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Revocations sent at once (as many as the store's connections for durable writes), and the
/// tasks resolving other sessions meanwhile.
const REVOCATIONS: usize = 8;
const READERS: usize = 4;

fn durable() -> RedisStoreBuilder {
    RedisStore::builder()
        .prefix(format!("test-{}:", uuid::Uuid::new_v4().simple()))
        .response_timeout(RESPONSE_TIMEOUT)
        .durable_revocations(Durability::replicas(1).timeout(WAIT))
}

/// What a run measured.
#[derive(Debug)]
struct Figures {
    /// Each revocation: how long it took, and its error (`None` for a success).
    revocations: Vec<(Duration, Option<String>)>,
    reads: usize,
    /// Resolves that failed, or did not find their live session.
    read_failures: usize,
    slowest_read: Duration,
}

/// Revokes `revoke` all at once while `READERS` tasks resolve `read` over and over, until the
/// last revocation returns.
async fn revoke_while_reading(
    store: &RedisStore,
    revoke: Vec<String>,
    read: Vec<String>,
) -> Figures {
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(Mutex::new((0usize, 0usize, Duration::ZERO)));
    let read = Arc::new(read);
    let readers: Vec<_> = (0..READERS)
        .map(|i| {
            let (store, done, reads, read) =
                (store.clone(), done.clone(), reads.clone(), read.clone());
            tokio::spawn(async move {
                let mut n = i;
                while !done.load(Ordering::Relaxed) {
                    n += 1;
                    let token = &read[n % read.len()];
                    let started = Instant::now();
                    let found = store.resolve(BearerToken::new(token)).await;
                    let took = started.elapsed();
                    let mut reads = reads.lock().unwrap();
                    reads.0 += 1;
                    if !matches!(found, Ok(Some(_))) {
                        reads.1 += 1;
                    }
                    reads.2 = reads.2.max(took);
                }
            })
        })
        .collect();
    // The readers are going before the first revocation is sent.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let revocations: Vec<_> = revoke
        .into_iter()
        .map(|token| {
            let store = store.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let revoked = store.revoke_token(BearerToken::new(&token)).await;
                (started.elapsed(), revoked.err().map(|e| e.to_string()))
            })
        })
        .collect();
    let mut figures = Vec::new();
    for revocation in revocations {
        figures.push(revocation.await.unwrap());
    }
    done.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
    let (reads, read_failures, slowest_read) = *reads.lock().unwrap();
    Figures {
        revocations: figures,
        reads,
        read_failures,
        slowest_read,
    }
}

/// Every revocation failed as unconfirmed, after its own wait and well before the response
/// timeout; every read was answered, well within the wait.
fn check(figures: &Figures) {
    let mut took: Vec<u128> = figures
        .revocations
        .iter()
        .map(|(t, _)| t.as_millis())
        .collect();
    took.sort_unstable();
    eprintln!(
        "revocations (ms, sorted): {took:?}\nreads: {}, failed: {}, slowest {} ms",
        figures.reads,
        figures.read_failures,
        figures.slowest_read.as_millis()
    );
    for (took, error) in &figures.revocations {
        let error = error.as_deref().unwrap_or("none: it succeeded");
        assert!(
            error.contains("not confirmed durable"),
            "a revocation without a replica to confirm it failed as unconfirmed, after {took:?}: \
             {error}"
        );
        assert!(*took >= WAIT - Duration::from_millis(20), "{took:?}");
        assert!(
            *took < WAIT + Duration::from_millis(900),
            "a revocation took {took:?}: it waited behind another's wait (the wait is {WAIT:?})"
        );
    }
    assert!(figures.reads > 0);
    assert_eq!(figures.read_failures, 0, "every read is answered");
    assert!(
        figures.slowest_read < WAIT / 2,
        "a read took {:?}: it waited behind a durable write's wait ({WAIT:?})",
        figures.slowest_read
    );
}

/// `REVOCATIONS` durable revocations at once, with the replica up: each confirmed.
async fn revocations_succeed(store: &RedisStore, users: &[String]) {
    let tokens = sessions(store, &users[..REVOCATIONS]).await;
    let revocations: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let store = store.clone();
            tokio::spawn(async move { store.revoke_token(BearerToken::new(&token)).await })
        })
        .collect();
    for revocation in revocations {
        assert!(
            revocation.await.unwrap().unwrap(),
            "confirmed by the replica"
        );
    }
}

async fn sessions(store: &RedisStore, users: &[String]) -> Vec<String> {
    let mut tokens = Vec::new();
    for user in users {
        let issued = store
            .create(user, (), CreateOptions::default())
            .await
            .unwrap();
        tokens.push(issued.token.as_str().to_owned());
    }
    tokens
}

/// The revocations were applied on the primary all the same.
async fn assert_revoked(store: &RedisStore, tokens: &[String]) {
    for token in tokens {
        let found = store.resolve(BearerToken::new(token)).await.unwrap();
        assert!(found.is_none(), "the primary applied every revocation");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_a_durable_revocation_holds_up_no_read() {
    let primary = RedisServer::start();
    let replica = primary.start_replica(&[]);
    let store: RedisStore = durable().connect(&primary.url()).await.unwrap();
    let users: Vec<String> = (0..REVOCATIONS + READERS)
        .map(|i| format!("user-{i}"))
        .collect();
    revocations_succeed(&store, &users).await;
    let mut revoke = sessions(&store, &users).await;
    let read = revoke.split_off(REVOCATIONS);

    replica.pause();
    let figures = revoke_while_reading(&store, revoke.clone(), read).await;
    replica.resume();
    check(&figures);
    assert_revoked(&store, &revoke).await;
}

/// The store's tag for a user: the first two bytes of SHA-256, in hex (as the store makes it).
fn user_tag(user: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(user.as_bytes());
    format!("{:02x}{:02x}", d[0], d[1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_a_durable_revocation_holds_up_no_read_of_its_primary() {
    let cluster = Cluster::start(3, 1);
    let urls = cluster.urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    let store: RedisStore = durable()
        .prefix(prefix.clone())
        .connect_cluster(&urls)
        .await
        .unwrap();
    let key = |user: &str| format!("{prefix}{{{}}}u:{user}", user_tag(user));
    let primary = cluster.primary_for(&key("user-0"), 0).unwrap();
    let replica = cluster.replicas_of(primary)[0];
    // Users whose keys are all on that primary, read and revoked alike.
    let users: Vec<String> = (0..)
        .map(|i| format!("user-{i}"))
        .filter(|user| cluster.primary_for(&key(user), 0) == Some(primary))
        .take(REVOCATIONS + READERS)
        .collect();
    revocations_succeed(&store, &users).await;
    let mut revoke = sessions(&store, &users).await;
    let read = revoke.split_off(REVOCATIONS);
    // Every connection is made before the stall.
    for token in &read {
        assert!(store
            .resolve(BearerToken::new(token))
            .await
            .unwrap()
            .is_some());
    }

    cluster.nodes[replica].pause();
    let figures = revoke_while_reading(&store, revoke.clone(), read).await;
    cluster.nodes[replica].resume();
    check(&figures);
    assert_revoked(&store, &revoke).await;
}
