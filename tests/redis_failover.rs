//! RedisStore on a Redis Cluster in production shape (3 primaries, 3 replicas, a 1 s node
//! timeout), started here: durable revocations and creations, and a primary killed, then
//! paused, under steady load. Every answer is counted; none may undo an acknowledged
//! revocation or lose an acknowledged creation.
#![cfg(all(feature = "redis", feature = "test-util"))]

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use support::cluster::Cluster;
use support::failover::{status, AnyStore, Ledger, Load, Token};
use tower::{service_fn, ServiceBuilder};
use tower_bearer::store::{CachedStore, CreateOptions, Durability, RedisStore, SessionStore};
use tower_bearer::{BearerLayer, SessionResolver};

/// One scenario at a time: each runs a six-node Cluster under load, and the timings it checks
/// (every answer within the response timeout) assume the machine's two cores are its own.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn durable() -> tower_bearer::store::RedisStoreBuilder {
    RedisStore::builder()
        .prefix(format!("test-{}:", uuid::Uuid::new_v4().simple()))
        .response_timeout(Duration::from_millis(800))
        .durable_revocations(Durability::replicas(1).timeout(Duration::from_millis(400)))
        .durable_creations(Durability::replicas(1).timeout(Duration::from_millis(400)))
}

async fn serve<R>(resolver: R) -> SocketAddr
where
    R: SessionResolver + Clone + Send + Sync + 'static,
    R::Future: Send,
    R::Session: Clone + Send + Sync + 'static,
    R::Error: std::fmt::Display + Send + Sync,
{
    let svc = ServiceBuilder::new()
        .layer(BearerLayer::new(resolver))
        .service(service_fn(|_: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }));
    support::serve(svc).await
}

/// The users of the run, and whether their keys live on `victim`.
fn users(cluster: &Cluster, store_prefix: &str, victim: usize) -> Vec<(String, bool)> {
    (0..24)
        .map(|i| {
            let user = format!("user-{i}");
            let tag = user_tag(&user);
            let key = format!("{store_prefix}{{{tag}}}u:{user}");
            let on = cluster.primary_for(&key, (victim + 1) % cluster.nodes.len()) == Some(victim);
            (user, on)
        })
        .collect()
}

/// The store's tag for a user: the first two bytes of SHA-256, in hex (as the store makes it).
fn user_tag(user: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(user.as_bytes());
    format!("{:02x}{:02x}", d[0], d[1])
}

/// Until `ok`, or ten seconds.
async fn eventually(what: &str, mut ok: impl AsyncFnMut() -> bool) {
    let started = std::time::Instant::now();
    while !ok().await {
        assert!(started.elapsed() < Duration::from_secs(10), "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

enum Fault {
    Kill,
    Pause,
}

/// The whole scenario: load, the fault on the primary of `user-0`, the replica's takeover, the
/// old primary back as a replica, then every acknowledged answer checked again.
async fn failover_under_load(fault: Fault) {
    let _alone = ONE_AT_A_TIME.lock().await;
    let mut cluster = Cluster::start(3, 1);
    let urls = cluster.urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    let store_a: RedisStore = durable()
        .prefix(prefix.clone())
        .connect_cluster(&urls)
        .await
        .unwrap();
    let store_b: RedisStore = durable()
        .prefix(prefix.clone())
        .connect_cluster(&urls)
        .await
        .unwrap();
    let index_key = format!("{prefix}{{{}}}u:user-0", user_tag("user-0"));
    let victim = cluster.primary_for(&index_key, 0).unwrap();
    let replica = cluster.replicas_of(victim)[0];
    // The cache listens on the victim when it is killed (its channel breaks), and on another
    // primary when the victim is paused (only the failover tells it).
    let listen_on = match fault {
        Fault::Kill => victim,
        Fault::Pause => (0..cluster.nodes.len())
            .find(|&i| i != victim && i != replica)
            .unwrap(),
    };
    // It may move to the other nodes when its own is lost.
    let listen_urls: Vec<String> = std::iter::once(listen_on)
        .chain((0..cluster.nodes.len()).filter(|&i| i != listen_on))
        .map(|i| cluster.nodes[i].url())
        .collect();
    let listen_urls: Vec<&str> = listen_urls.iter().map(String::as_str).collect();
    let cached = CachedStore::builder(store_a.clone())
        .connect_cluster(&listen_urls)
        .await
        .unwrap();
    let servers = vec![serve(cached.clone()).await, serve(store_b.clone()).await];
    let users = users(&cluster, &prefix, victim);
    assert!(users.iter().any(|u| u.1) && users.iter().any(|u| !u.1));

    // Before the fault: sessions created and revoked, every one acknowledged.
    let mut ledger = Ledger::default();
    for (user, on_victim) in &users {
        for (i, store) in [&store_a, &store_b].into_iter().enumerate() {
            let issued = store
                .create(user, (), CreateOptions::default())
                .await
                .unwrap();
            let token = Token {
                value: issued.token.as_str().to_owned(),
                on_victim: *on_victim,
            };
            if i == 0 {
                ledger.live.push(token);
                // And one to revoke under load.
                let spare = store
                    .create(user, (), CreateOptions::default())
                    .await
                    .unwrap();
                ledger.revocable.push(Token {
                    value: spare.token.as_str().to_owned(),
                    on_victim: *on_victim,
                });
            } else {
                assert!(store.revoke_token(issued.token.as_bearer()).await.unwrap());
                ledger.revoked.push(token);
            }
        }
    }
    let load = Load::start(
        servers.clone(),
        vec![
            AnyStore::Cached(cached.clone()),
            AnyStore::Plain(store_b.clone()),
        ],
        users,
        ledger,
    );
    tokio::time::sleep(Duration::from_millis(800)).await;

    load.fault();
    match fault {
        Fault::Kill => cluster.nodes[victim].stop(),
        Fault::Pause => cluster.nodes[victim].pause(),
    }
    let promoted = tokio::task::block_in_place(|| cluster.wait_promoted(replica, victim));
    eprintln!("replica promoted {promoted:?} after the fault");
    // Service is back for the victim's users on both servers.
    let recovered = support::failover::until_served(&load, &servers).await;
    eprintln!("both servers answer the victim's users {recovered} ms after the fault");
    // The window is the Cluster's: a node timeout to suspect, another to agree and elect.
    assert!(recovered < 8_000, "a {recovered} ms failover window");
    // The cache serves hits again, listening on another node if its own is gone.
    eventually("the cache is live again", async || cached.is_live()).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    eprintln!(
        "the old primary returns {} ms after the fault",
        load.since_fault()
    );
    match fault {
        Fault::Kill => cluster.nodes[victim].restart(),
        Fault::Pause => cluster.nodes[victim].resume(),
    }
    tokio::task::block_in_place(|| cluster.wait_replica_of(victim, replica));
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (ledger, tally) = load.stop().await;

    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    // Requests sent after recovery; one sent before may time out after it.
    let after = tally.failures.iter().filter(|f| f.sent > recovered).count();
    let window = tally.failures.iter().map(|f| f.answered).max().unwrap_or(0);
    eprintln!(
        "answers (set, status): {:?}\n503s: {} (the last answered {} ms after the fault, {} \
         sent after recovery), slowest answer {} ms\nledger: {} live, {} revoked, {} revocations and {} \
         sign-ins refused",
        tally.answers,
        tally.failures.len(),
        window,
        after,
        tally.slowest,
        ledger.live.len(),
        ledger.revoked.len(),
        ledger.uncertain,
        ledger.failed_creations,
    );
    eprintln!("5xx: {:?}", tally.failures);
    assert!(tally.violations.is_empty(), "{:?}", tally.violations);
    assert_eq!(after, 0, "no 5xx for a request sent after recovery");
    // The response timeout (800 ms) bounds every answer, the failover's included.
    assert!(tally.slowest < 1_600, "an answer took {} ms", tally.slowest);
    assert!(!tally.failures.is_empty(), "the fault was seen");

    // Every acknowledged creation and revocation, on both servers and on a store that was
    // never part of the run.
    let fresh: RedisStore = durable()
        .prefix(prefix.clone())
        .connect_cluster(&urls)
        .await
        .unwrap();
    let fresh = serve(fresh).await;
    for addr in servers.iter().chain([&fresh]) {
        for token in &ledger.live {
            assert_eq!(
                status(*addr, &token.value).await,
                200,
                "a live session was lost"
            );
        }
        for token in &ledger.revoked {
            assert_eq!(
                status(*addr, &token.value).await,
                401,
                "a revocation was undone"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_loses_no_acknowledged_write() {
    failover_under_load(Fault::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_primary_resurrects_nothing_when_it_wakes() {
    failover_under_load(Fault::Pause).await;
}

/// A graceful failover (`CLUSTER FAILOVER` on a replica) of the very node the cache listens
/// on: nothing is published, the channel's connection stays open, and yet the cache forgets
/// what it held, because the Cluster changed under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_forgets_everything_when_its_node_fails_over() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let cluster = Cluster::start(3, 1);
    let urls = cluster.urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let store: RedisStore = durable().connect_cluster(&urls).await.unwrap();
    let listen_on = (0..cluster.nodes.len())
        .find(|&i| !cluster.replicas_of(i).is_empty())
        .unwrap();
    let replica = cluster.replicas_of(listen_on)[0];
    let cached = CachedStore::new(store.clone(), &cluster.nodes[listen_on].url())
        .await
        .unwrap();
    eventually("the cache is live", async || cached.is_live()).await;
    let issued = store
        .create("alice", (), CreateOptions::default())
        .await
        .unwrap();
    let token = issued.token.as_bearer();
    eventually("cached", async || {
        cached.resolve(token).await.unwrap().is_some() && cached.resolve_ready(token).is_some()
    })
    .await;

    let out = cluster.nodes[replica].cli(&["CLUSTER", "FAILOVER"]);
    assert_eq!(out.trim(), "OK");
    tokio::task::block_in_place(|| cluster.wait_promoted(replica, usize::MAX));
    eventually("the cache forgot the session", async || {
        cached.resolve_ready(token).is_none()
    })
    .await;
    assert!(
        store.resolve(token).await.unwrap().is_some(),
        "the session itself is live: nothing was revoked or published"
    );
    // And it serves hits again once the Cluster is settled.
    eventually("cached again", async || {
        cached.resolve(token).await.unwrap().is_some() && cached.resolve_ready(token).is_some()
    })
    .await;
}
