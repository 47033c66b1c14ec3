//! RedisStore against a real redis-server of the test's own: the shared conformance suite, a
//! stopped, paused and restarted Redis through the layer, and a three-node Cluster.
#![cfg(all(feature = "redis", feature = "test-util"))]

mod support;

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use support::redis::RedisServer;
use tower::{service_fn, ServiceBuilder};
use tower_bearer::store::{CreateOptions, ManualClock, RedisStore, Session, SessionStore};
use tower_bearer::{BearerLayer, SessionResolver};

/// One server for the conformance cases; each case's store has a prefix of its own.
fn shared() -> &'static RedisServer {
    static SERVER: OnceLock<RedisServer> = OnceLock::new();
    SERVER.get_or_init(RedisServer::start)
}

fn prefix() -> String {
    format!("test-{}:", uuid::Uuid::new_v4().simple())
}

tower_bearer::store_conformance!(|clock: ManualClock| async move {
    RedisStore::builder()
        .clock(clock)
        .prefix(prefix())
        .connect::<()>(&shared().url())
        .await
        .unwrap()
});

#[tokio::test]
async fn nothing_at_rest_holds_the_token() {
    let prefix = prefix();
    let store: RedisStore = RedisStore::builder()
        .prefix(&prefix)
        .connect(&shared().url())
        .await
        .unwrap();
    let issued = store
        .create("alice", (), CreateOptions::default())
        .await
        .unwrap();
    let token = issued.token.as_str();
    // This test's keys only: other tests share the server and make sessions of other lifetimes.
    let keys = shared().cli(&["--scan", "--pattern", &format!("{prefix}*")]);
    let mut dump = keys.clone();
    for key in keys.lines() {
        dump.push_str(&shared().cli(&["HGETALL", key]));
        dump.push_str(&shared().cli(&["ZRANGE", key, "0", "-1"]));
    }
    assert!(!dump.contains(token), "a token is stored raw");
    assert!(
        !dump.contains(&token[5..20]),
        "part of a token is stored raw"
    );
    // The session key expires with the session.
    let key = keys.lines().find(|k| k.contains("}s:")).unwrap();
    let ttl: i64 = shared().cli(&["PTTL", key]).trim().parse().unwrap();
    assert!(ttl > 6 * 86_400_000 && ttl <= 7 * 86_400_000, "{ttl}");
}

#[tokio::test]
async fn the_per_user_cap_revokes_the_oldest() {
    let store: RedisStore = RedisStore::builder()
        .prefix(prefix())
        .max_sessions_per_user(2)
        .connect(&shared().url())
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(
            store
                .create("alice", (), CreateOptions::default())
                .await
                .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    assert_eq!(store.list("alice").await.unwrap().len(), 2);
    assert!(store.resolve_now(&tokens[0]).await.is_none());
    assert!(store.resolve_now(&tokens[2]).await.is_some());
}

trait ResolveNow {
    async fn resolve_now(&self, issued: &tower_bearer::store::Issued) -> Option<Arc<Session>>;
}

impl ResolveNow for RedisStore {
    async fn resolve_now(&self, issued: &tower_bearer::store::Issued) -> Option<Arc<Session>> {
        use tower_bearer::SessionResolver;
        self.resolve(issued.token.as_bearer()).await.unwrap()
    }
}

/// The layer over a RedisStore on a server of its own: the status of `GET /` with the token.
async fn guarded(store: RedisStore) -> std::net::SocketAddr {
    let svc = ServiceBuilder::new()
        .layer(BearerLayer::new(store))
        .service(service_fn(|req: Request<Incoming>| async move {
            let user = req
                .extensions()
                .get::<Arc<Session>>()
                .unwrap()
                .user_id
                .to_string();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(user))))
        }));
    support::serve(svc).await
}

async fn status(addr: std::net::SocketAddr, token: &str) -> u16 {
    let auth = format!("authorization: Bearer {token}");
    support::get(addr, "/", &[auth.as_bytes()]).await.status
}

/// Until `ok` or ten seconds.
async fn eventually(what: &str, mut ok: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !ok().await {
        assert!(started.elapsed() < Duration::from_secs(10), "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A paused Redis (accepts connections, never answers), a stopped one and a restarted one:
/// every answer is 200 or 503, never 401 for a live session, and service comes back by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_give_503_never_401_and_service_recovers() {
    let mut redis = RedisServer::start();
    let store: RedisStore = RedisStore::builder()
        .response_timeout(Duration::from_millis(300))
        .connect(&redis.url())
        .await
        .unwrap();
    let issued = store
        .create("alice", (), CreateOptions::default())
        .await
        .unwrap();
    let token = issued.token.as_str().to_owned();
    let addr = guarded(store.clone()).await;
    assert_eq!(status(addr, &token).await, 200);

    let mut counts = std::collections::BTreeMap::new();
    let mut tally = |status: u16| *counts.entry(status).or_insert(0) += 1;

    redis.pause();
    for _ in 0..5 {
        let s = status(addr, &token).await;
        tally(s);
        assert_eq!(s, 503, "a paused Redis is a failing backend");
    }
    redis.resume();
    eventually("200 after CONT", async || status(addr, &token).await == 200).await;

    redis.cli(&["CLIENT", "PAUSE", "1000"]);
    let s = status(addr, &token).await;
    tally(s);
    assert!(s == 503 || s == 200, "{s}");
    eventually("200 after CLIENT PAUSE", async || {
        status(addr, &token).await == 200
    })
    .await;

    redis.stop();
    for _ in 0..5 {
        let s = status(addr, &token).await;
        tally(s);
        assert_eq!(s, 503, "a stopped Redis is a failing backend");
    }
    // Back, but empty (it keeps nothing on disk): the session is gone, a real miss.
    redis.restart();
    let fresh = store.create("alice", (), CreateOptions::default()).await;
    let fresh = match fresh {
        Ok(fresh) => fresh,
        Err(_) => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            store
                .create("alice", (), CreateOptions::default())
                .await
                .unwrap()
        }
    };
    let fresh = fresh.token.as_str().to_owned();
    eventually("200 after restart", async || {
        status(addr, &fresh).await == 200
    })
    .await;
    assert_eq!(status(addr, &token).await, 401);
    eprintln!("fault statuses: {counts:?}");
}

/// Three nodes of a Redis Cluster started here: users whose keys live in different slots, and
/// revoke-all, which must leave none of that user's sessions resolving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_smoke() {
    let nodes = RedisServer::start_cluster(3);
    let urls: Vec<String> = nodes.iter().map(RedisServer::url).collect();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let store: RedisStore = RedisStore::builder().connect_cluster(&urls).await.unwrap();

    use tower_bearer::SessionResolver;
    let mut alice = Vec::new();
    for _ in 0..5 {
        alice.push(
            store
                .create("alice", (), CreateOptions::default())
                .await
                .unwrap(),
        );
    }
    // Enough users that their keys spread over all three nodes.
    let mut others = Vec::new();
    for i in 0..30 {
        others.push(
            store
                .create(&format!("user-{i}"), (), CreateOptions::default())
                .await
                .unwrap(),
        );
    }
    let holding = nodes
        .iter()
        .filter(|n| n.cli(&["DBSIZE"]).trim() != "0")
        .count();
    assert_eq!(holding, 3, "keys on every node");
    for issued in alice.iter().chain(&others) {
        assert!(store
            .resolve(issued.token.as_bearer())
            .await
            .unwrap()
            .is_some());
    }
    assert_eq!(store.list("alice").await.unwrap().len(), 5);
    assert_eq!(store.len().await.unwrap(), 35);
    assert_eq!(store.revoke_all("alice").await.unwrap(), 5);
    for issued in &alice {
        assert!(store
            .resolve(issued.token.as_bearer())
            .await
            .unwrap()
            .is_none());
    }
    for issued in &others {
        assert!(store
            .resolve(issued.token.as_bearer())
            .await
            .unwrap()
            .is_some());
    }
}

/// Faults under load: eight clients loop requests through the layer over a CachedStore (a live
/// token and a revoked one) while Redis is paused, client-paused, stopped and restarted (it keeps
/// its data on disk). Every answer is 200 or 503 for the live session, never 401; 401 or 503
/// for the revoked one, never 200; and service comes back by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_under_load_never_mix_up_live_and_revoked() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tower_bearer::store::CachedStore;

    let mut redis = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let store: RedisStore = RedisStore::builder()
        .response_timeout(Duration::from_millis(300))
        .connect(&redis.url())
        .await
        .unwrap();
    let cached = CachedStore::new(store.clone(), &redis.url()).await.unwrap();
    let live = store
        .create("alice", (), CreateOptions::default())
        .await
        .unwrap();
    let revoked = store
        .create("alice", (), CreateOptions::default())
        .await
        .unwrap();
    // Both sessions in the cache's memory first, so that a stale entry of the revoked one
    // would be served from there under the faults if invalidation failed.
    eventually("the cache is live", async || cached.is_live()).await;
    for issued in [&live, &revoked] {
        eventually("cached", async || {
            let token = issued.token.as_bearer();
            cached.resolve(token).await.unwrap().is_some() && cached.resolve_ready(token).is_some()
        })
        .await;
    }
    // Revoked through the other instance: only the published invalidation reaches the cache.
    assert!(store.revoke_token(revoked.token.as_bearer()).await.unwrap());
    eventually("the invalidation reached the cache", async || {
        cached.resolve_ready(revoked.token.as_bearer()).is_none()
    })
    .await;
    let svc = ServiceBuilder::new()
        .layer(BearerLayer::new(cached))
        .service(service_fn(|_: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }));
    let addr = support::serve(svc).await;
    let (live, revoked) = (
        live.token.as_str().to_owned(),
        revoked.token.as_str().to_owned(),
    );

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let (stop, token, is_live) = (
                stop.clone(),
                if i % 2 == 0 {
                    live.clone()
                } else {
                    revoked.clone()
                },
                i % 2 == 0,
            );
            tokio::spawn(async move {
                let mut counts = std::collections::BTreeMap::<u16, u32>::new();
                for _ in 0..20_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let s = status(addr, &token).await;
                    if is_live {
                        assert!(s == 200 || s == 503, "a live session got {s}");
                    } else {
                        assert!(s == 401 || s == 503, "a revoked session got {s}");
                    }
                    *counts.entry(s).or_default() += 1;
                }
                (is_live, counts)
            })
        })
        .collect();

    let pause = Duration::from_millis(400);
    tokio::time::sleep(pause).await;
    redis.pause();
    tokio::time::sleep(pause).await;
    redis.resume();
    tokio::time::sleep(pause).await;
    redis.cli(&["CLIENT", "PAUSE", "300"]);
    tokio::time::sleep(pause).await;
    redis.stop();
    // Long enough for the cache to stop answering and the clients to meet the failure.
    tokio::time::sleep(pause * 2).await;
    redis.restart();
    eventually("200 after the restart", async || {
        status(addr, &live).await == 200
    })
    .await;
    stop.store(true, Ordering::Relaxed);

    let mut totals = std::collections::BTreeMap::<(bool, u16), u32>::new();
    for client in clients {
        let (is_live, counts) = client.await.unwrap();
        for (s, n) in counts {
            *totals.entry((is_live, s)).or_default() += n;
        }
    }
    eprintln!("statuses under faults (live?, status): {totals:?}");
    let failed = totals.get(&(true, 503)).unwrap_or(&0) + totals.get(&(false, 503)).unwrap_or(&0);
    assert!(failed > 0, "the faults were seen");
    assert!(totals.contains_key(&(true, 200)) && totals.contains_key(&(false, 401)));
    assert_eq!(
        status(addr, &revoked).await,
        401,
        "a revoked session stays revoked"
    );
}

/// `len` counts with `SCAN`, never `KEYS` (which blocks a production Redis): it works on a
/// server where `KEYS` is disabled, across several pages of keys.
#[tokio::test]
async fn len_scans_and_never_runs_keys() {
    let redis = RedisServer::start_with(&["--rename-command", "KEYS", ""]);
    let store: RedisStore = RedisStore::builder().connect(&redis.url()).await.unwrap();
    for i in 0..2_500 {
        store
            .create(&format!("user-{}", i % 700), (), CreateOptions::default())
            .await
            .unwrap();
    }
    assert_eq!(store.len().await.unwrap(), 2_500);
}

/// A Cluster that is not there at start-up: the store is made (lazily), and each request is
/// an error (a 503 through the layer), never a panic nor "no such session".
#[tokio::test]
async fn a_cluster_down_at_start_up_is_an_error_per_request_not_a_failed_start() {
    let port = support::redis::free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let store: RedisStore = RedisStore::builder()
        .response_timeout(Duration::from_millis(200))
        .connect_cluster(&[url.as_str()])
        .await
        .expect("connects lazily");
    let token = tower_bearer::BearerToken::new("0a1b.not-a-live-token");
    assert!(store.resolve(token).await.is_err());
    assert!(store.len().await.is_err());
}

/// The shared server lives in a `static`, which is never dropped: it must still stop when the
/// test process exits. The test runs itself as a child process that starts the server and
/// exits, then checks that the port is closed and the folder gone.
#[test]
fn a_server_in_a_static_stops_when_the_process_exits() {
    const NAME: &str = "a_server_in_a_static_stops_when_the_process_exits";
    if std::env::var_os("TB_STATIC_REDIS_CHILD").is_some() {
        println!("port={}", shared().port);
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env("TB_STATIC_REDIS_CHILD", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The harness prints the test's name on the same line.
    let port: u16 = stdout
        .split("port=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{stdout}"))
        .parse()
        .unwrap();
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "redis-server on {port} outlived its test process"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The folder goes right after the server: allow the shell a moment.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let leftovers = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("tower-bearer-redis-{port}-"))
        })
        .count();
    assert_eq!(
        leftovers, 0,
        "the server's folder outlived its test process"
    );
}

/// A redis-server that cannot start says why: its own error output is in the panic, not
/// thrown away.
#[test]
fn a_server_that_does_not_start_shows_its_output() {
    let panic = std::panic::catch_unwind(|| {
        RedisServer::start_with(&["--no-such-directive-for-tower-bearer", "x"])
    })
    .err()
    .expect("the server does not start");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("did not start"), "{message}");
    assert!(
        message.contains("no-such-directive-for-tower-bearer"),
        "redis-server's own complaint is shown: {message}"
    );
}
