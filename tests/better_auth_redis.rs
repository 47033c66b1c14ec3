//! `RedisStorageResolver` against a real better-auth 1.7.25 server whose sessions live in Redis
//! (`@better-auth/redis-storage` over ioredis), on a redis-server of the test's own.
#![cfg(all(
    feature = "better-auth-redis",
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite"
))]

mod support;

use std::time::{Duration, Instant, SystemTime};

use support::better_auth::{agree_with_better_auth, resolve, BetterAuth, SECRET};
use support::redis::RedisServer;
use tower_bearer::better_auth::{CacheSettings, RedisStorageResolver, Signatures, SqlResolver};

fn sqlite_url() -> String {
    let dir = std::env::temp_dir().join(format!("tb-bar-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite://{}/auth.db", dir.display())
}

async fn resolver(redis: &RedisServer, prefix: &str, cache: bool) -> RedisStorageResolver {
    let mut builder = RedisStorageResolver::builder(Signatures::new([SECRET])).prefix(prefix);
    if cache {
        builder = builder.cache(CacheSettings::default().positive(Duration::from_secs(60)));
    }
    builder.connect(&redis.url()).await.unwrap()
}

/// Waits until `check` holds, for up to `limit`; whether it did.
async fn eventually<F: std::future::Future<Output = bool>>(
    limit: Duration,
    mut check: impl FnMut() -> F,
) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_storage_matches_better_auth() {
    let mut redis = RedisServer::start();
    let prefix = "app-auth:";
    let node = BetterAuth::start(
        &sqlite_url(),
        &[("BA_REDIS", &redis.url()), ("BA_REDIS_PREFIX", prefix)],
    );
    let plain = resolver(&redis, prefix, false).await;
    let cached = resolver(&redis, prefix, true).await;
    let ada = node.sign_up("ada@example.com").await;
    assert!(
        !redis
            .cli(&["GET", &format!("{prefix}{}", ada.token)])
            .is_empty(),
        "better-auth keeps the session in Redis"
    );
    agree_with_better_auth(&node, &plain, &ada).await;
    agree_with_better_auth(&node, &cached, &ada).await;
    assert!(cached.cached() > 0, "the cache holds answers");
    // And serves them from memory: with Redis frozen, a hit still answers at once.
    redis.pause();
    let hit = resolve(&cached, &ada.signed).await;
    redis.resume();
    assert!(
        hit.unwrap().is_some(),
        "a cached session is served without Redis"
    );

    // Node's sign-out: refused at once without the cache, within milliseconds with it.
    let second = node.sign_in("ada@example.com").await;
    assert!(resolve(&cached, &second.signed).await.unwrap().is_some());
    node.sign_out(&second.signed).await;
    assert!(resolve(&plain, &second.signed).await.unwrap().is_none());
    assert!(
        eventually(Duration::from_millis(500), || async {
            resolve(&cached, &second.signed).await.unwrap().is_none()
        })
        .await,
        "the cache drops a signed-out session"
    );

    // revoke-sessions sets the watermark: even a copy of the session's key left behind (or
    // written back) is revoked, for better-auth and for us.
    let third = node.sign_in("ada@example.com").await;
    let key = format!("{prefix}{}", third.token);
    let copy = redis.cli(&["GET", &key]).trim().to_string();
    assert!(resolve(&cached, &third.signed).await.unwrap().is_some());
    // Sessions made in the same millisecond as the watermark are not before it.
    tokio::time::sleep(Duration::from_millis(5)).await;
    node.revoke_sessions(&third.signed).await;
    let watermark = redis.cli(&[
        "GET",
        &format!("{prefix}revoked-sessions-before-{}", third.user_id),
    ]);
    assert!(
        watermark.trim().parse::<u64>().is_ok(),
        "watermark: {watermark:?}"
    );
    redis.cli(&["SET", &key, &copy, "EX", "600"]);
    assert_eq!(node.get_session(&third.signed, false).await, None);
    assert!(resolve(&plain, &third.signed).await.unwrap().is_none());
    assert!(
        eventually(Duration::from_millis(500), || async {
            resolve(&cached, &third.signed).await.unwrap().is_none()
        })
        .await
    );
    // A session made after the watermark lives.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let fourth = node.sign_in("ada@example.com").await;
    assert!(resolve(&plain, &fourth.signed).await.unwrap().is_some());
    assert!(resolve(&cached, &fourth.signed).await.unwrap().is_some());

    // An expired session (its stored expiresAt in the past) is refused by both.
    let key = format!("{prefix}{}", fourth.token);
    let mut json: serde_json::Value = serde_json::from_str(&redis.cli(&["GET", &key])).unwrap();
    let past = humantime::format_rfc3339_millis(SystemTime::now() - Duration::from_secs(1));
    json["session"]["expiresAt"] = past.to_string().into();
    redis.cli(&["SET", &key, &json.to_string(), "EX", "600"]);
    assert!(resolve(&plain, &fourth.signed).await.unwrap().is_none());
    assert!(
        eventually(Duration::from_millis(500), || async {
            resolve(&cached, &fourth.signed).await.unwrap().is_none()
        })
        .await
    );
    assert_eq!(node.get_session(&fourth.signed, false).await, None);

    // Redis stops: an error (503), never a refusal; the cache stops serving too.
    let fifth = node.sign_in("ada@example.com").await;
    assert!(resolve(&cached, &fifth.signed).await.unwrap().is_some());
    redis.stop();
    assert!(resolve(&plain, &fifth.signed).await.is_err());
    assert!(
        eventually(Duration::from_secs(3), || async {
            resolve(&cached, &fifth.signed).await.is_err()
        })
        .await,
        "a cache without its invalidation feed stops answering"
    );
    // A bad signature needs no Redis.
    assert!(resolve(&plain, &fifth.refused()[0].1)
        .await
        .unwrap()
        .is_none());
}

/// better-auth's `storeSessionInDatabase`: a token missing from Redis is found in the database.
#[tokio::test(flavor = "multi_thread")]
async fn falls_back_to_the_database_as_better_auth_does() {
    let redis = RedisServer::start();
    let db = sqlite_url();
    let node = BetterAuth::start(
        &db,
        &[
            ("BA_REDIS", &redis.url()),
            ("BA_STORE_SESSION_IN_DATABASE", "1"),
        ],
    );
    let ada = node.sign_up("ada@example.com").await;
    redis.cli(&["DEL", &format!("better-auth:{}", ada.token)]);
    assert!(node.get_session(&ada.signed, false).await.is_some());
    let without = resolver(&redis, "better-auth:", false).await;
    assert!(resolve(&without, &ada.signed).await.unwrap().is_none());
    let database = SqlResolver::builder(Signatures::new([SECRET]))
        .connect(&db)
        .await
        .unwrap();
    let with = RedisStorageResolver::builder(Signatures::new([SECRET]))
        .fallback(database)
        .connect(&redis.url())
        .await
        .unwrap();
    agree_with_better_auth(&node, &with, &ada).await;

    // With the cache too: what came from the database is not cached (nothing tracks its rows),
    // so a sign-out there is seen at once.
    let database = SqlResolver::builder(Signatures::new([SECRET]))
        .connect(&db)
        .await
        .unwrap();
    let cached = RedisStorageResolver::builder(Signatures::new([SECRET]))
        .fallback(database)
        .cache(CacheSettings::default())
        .connect(&redis.url())
        .await
        .unwrap();
    // The cache is live (tracking answered), so a Redis answer would be kept.
    assert!(eventually(Duration::from_secs(5), || async { cached.is_live() }).await);
    assert!(resolve(&cached, &ada.signed).await.unwrap().is_some());
    node.sign_out(&ada.signed).await;
    assert!(resolve(&cached, &ada.signed).await.unwrap().is_none());
}

/// better-auth on a Redis Cluster (ioredis' Cluster client): a token's key and its user's
/// watermark live in different slots, on different nodes.
#[tokio::test(flavor = "multi_thread")]
async fn on_a_redis_cluster() {
    let nodes = RedisServer::start_cluster(3);
    let cluster: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let node = BetterAuth::start(&sqlite_url(), &[("BA_REDIS_CLUSTER", &cluster.join(","))]);
    let urls: Vec<String> = nodes.iter().map(RedisServer::url).collect();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let resolver = RedisStorageResolver::builder(Signatures::new([SECRET]))
        .connect_cluster(&urls)
        .await
        .unwrap();
    let mut accounts = Vec::new();
    for i in 0..6 {
        let account = node.sign_up(&format!("user{i}@example.com")).await;
        agree_with_better_auth(&node, &resolver, &account).await;
        accounts.push(account);
    }
    let holding = nodes
        .iter()
        .filter(|n| n.cli(&["DBSIZE"]).trim() != "0")
        .count();
    assert!(holding > 1, "keys spread over the nodes");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let first = &accounts[0];
    let copy = node.sign_in("user0@example.com").await;
    node.revoke_sessions(&copy.signed).await;
    assert!(resolve(&resolver, &first.signed).await.unwrap().is_none());
    assert!(resolve(&resolver, &copy.signed).await.unwrap().is_none());
    assert!(resolve(&resolver, &accounts[1].signed)
        .await
        .unwrap()
        .is_some());
}

/// better-auth on a Cluster with replicas, and the primary holding a session's key killed:
/// while the replica takes over, the resolver answers errors (a 503), never "no session" for a
/// live one; then it follows the failover by itself, with no restart: every session better-auth
/// wrote (and the replica had) resolves, and a sign-out made in Node after the failover holds.
#[tokio::test(flavor = "multi_thread")]
async fn follows_a_cluster_failover_without_a_restart() {
    use support::cluster::Cluster;

    let mut cluster = Cluster::start(3, 1);
    let addrs: Vec<String> = cluster
        .nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let node = BetterAuth::start(&sqlite_url(), &[("BA_REDIS_CLUSTER", &addrs.join(","))]);
    let urls = cluster.urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let resolver = RedisStorageResolver::builder(Signatures::new([SECRET]))
        .response_timeout(Duration::from_millis(500))
        .connect_cluster(&urls)
        .await
        .unwrap();
    let mut accounts = Vec::new();
    for i in 0..6 {
        accounts.push(node.sign_up(&format!("user{i}@example.com")).await);
    }
    let victim = cluster
        .primary_for(&format!("better-auth:{}", accounts[0].token), 0)
        .unwrap();
    let replica = cluster.replicas_of(victim)[0];
    // What better-auth wrote has reached the replica (better-auth does not wait for it).
    let offset = |i: usize, field: &str| -> String {
        let info = cluster.nodes[i].cli(&["INFO", "replication"]);
        let line = info.lines().find(|l| l.starts_with(field)).unwrap_or("");
        line.split(':').nth(1).unwrap_or("").trim().to_string()
    };
    assert!(
        eventually(Duration::from_secs(5), || async {
            offset(victim, "master_repl_offset") == offset(replica, "slave_repl_offset")
        })
        .await
    );

    cluster.nodes[victim].stop();
    let mut errors = 0;
    let started = Instant::now();
    loop {
        match resolve(&resolver, &accounts[0].signed).await {
            Ok(Some(_)) => break,
            Ok(None) => panic!("a live session answered as unknown during the failover"),
            Err(_) => errors += 1,
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never recovered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "503s for {errors} lookups, {} ms, until the replica served",
        started.elapsed().as_millis()
    );
    assert!(errors > 0, "the failover was seen");
    for account in &accounts {
        assert!(resolve(&resolver, &account.signed).await.unwrap().is_some());
    }
    node.sign_out(&accounts[0].signed).await;
    assert!(resolve(&resolver, &accounts[0].signed)
        .await
        .unwrap()
        .is_none());
    assert!(resolve(&resolver, &accounts[1].signed)
        .await
        .unwrap()
        .is_some());
}
