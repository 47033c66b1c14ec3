//! CachedStore: two instances, each with its own connections to one real redis-server, the way
//! two servers of one service share a Redis. A revocation on one is seen by the other within
//! milliseconds, and no fault makes a revoked session servable for longer than the bound.
#![cfg(feature = "redis")]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::redis::RedisServer;
use tower_bearer::store::{CachedStore, CreateOptions, Issued, RedisStore, Session, SessionStore};
use tower_bearer::SessionResolver;

const MAX_STALE: Duration = Duration::from_millis(250);

async fn instance(redis: &RedisServer) -> CachedStore {
    let store = RedisStore::builder()
        .response_timeout(Duration::from_millis(300))
        .connect(&redis.url())
        .await
        .unwrap();
    let cached = CachedStore::new(store, &redis.url()).await.unwrap();
    let started = Instant::now();
    while !cached.is_live() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the channel never came up"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cached
}

/// What a request would get from this instance: from memory when cached, else from Redis.
async fn resolve(store: &CachedStore, issued: &Issued) -> Option<Arc<Session>> {
    let token = issued.token.as_bearer();
    match store.resolve_ready(token) {
        Some(answer) => answer.unwrap(),
        None => store.resolve(token).await.unwrap(),
    }
}

/// Resolves until the session is in this instance's memory.
async fn warm(store: &CachedStore, issued: &Issued) {
    for _ in 0..100 {
        assert!(resolve(store, issued).await.is_some());
        if store.resolve_ready(issued.token.as_bearer()).is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("never cached");
}

/// How long until `store` stops answering with the session, polling every 100 µs.
async fn until_gone(store: &CachedStore, issued: &Issued, started: Instant) -> Duration {
    loop {
        if resolve(store, issued).await.is_none() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still served after 5 s"
        );
        tokio::time::sleep(Duration::from_micros(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_instance_reaches_the_other_within_milliseconds() {
    let redis = RedisServer::start();
    let (a, b) = (instance(&redis).await, instance(&redis).await);
    let mut lags = Vec::new();
    for i in 0..1000 {
        let issued = a
            .create(&format!("user-{}", i % 50), (), CreateOptions::default())
            .await
            .unwrap();
        warm(&b, &issued).await;
        let started = Instant::now();
        assert!(a.revoke_token(issued.token.as_bearer()).await.unwrap());
        lags.push(until_gone(&b, &issued, started).await);
        assert!(
            resolve(&a, &issued).await.is_none(),
            "the revoking instance drops it at once"
        );
    }
    lags.sort();
    let p50 = lags[lags.len() / 2];
    let p99 = lags[lags.len() * 99 / 100];
    let max = *lags.last().unwrap();
    eprintln!("revocation propagation over 1000 trials: p50 {p50:?}, p99 {p99:?}, max {max:?}");
    assert!(p99 < Duration::from_millis(10), "p99 {p99:?}");
    assert!(max < MAX_STALE, "max {max:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_all_and_the_cap_invalidate_every_instance() {
    let redis = RedisServer::start();
    let (a, b) = (instance(&redis).await, instance(&redis).await);
    let sessions: Vec<Issued> = {
        let mut all = Vec::new();
        for _ in 0..3 {
            all.push(
                a.create("carol", (), CreateOptions::default())
                    .await
                    .unwrap(),
            );
        }
        all
    };
    for issued in &sessions {
        warm(&b, issued).await;
    }
    let started = Instant::now();
    assert_eq!(a.revoke_all("carol").await.unwrap(), 3);
    for issued in &sessions {
        assert!(resolve(&a, issued).await.is_none());
        until_gone(&b, issued, started).await;
    }
}

/// FLUSHALL deletes sessions without publishing; a killed invalidation connection loses
/// messages; a revocation made while it is down is never published to it. None of them leaves a
/// revoked session servable beyond the bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushall_and_a_lost_channel_serve_nothing_stale() {
    let redis = RedisServer::start();
    let (a, b) = (instance(&redis).await, instance(&redis).await);

    let issued = a
        .create("dave", (), CreateOptions::default())
        .await
        .unwrap();
    warm(&b, &issued).await;
    let started = Instant::now();
    redis.cli(&["FLUSHALL"]);
    let lag = until_gone(&b, &issued, started).await;
    eprintln!("after FLUSHALL: gone in {lag:?}");
    assert!(lag < MAX_STALE, "{lag:?}");

    // Kill every pub/sub connection, and revoke before the instances can subscribe again.
    let issued = a
        .create("dave", (), CreateOptions::default())
        .await
        .unwrap();
    let (b, issued) = loop {
        // The flush above reset b; wait until it serves from memory again.
        if b.is_live() {
            warm(&b, &issued).await;
            break (b, issued);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    redis.cli(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    let started = Instant::now();
    assert!(a.revoke_token(issued.token.as_bearer()).await.unwrap());
    let lag = until_gone(&b, &issued, started).await;
    eprintln!("revoked while the channel was down: gone in {lag:?}");
    assert!(lag < MAX_STALE, "{lag:?}");

    // The instances recover by themselves and cache again.
    let started = Instant::now();
    while !b.is_live() {
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let issued = a
        .create("dave", (), CreateOptions::default())
        .await
        .unwrap();
    warm(&b, &issued).await;
}

/// A paused Redis: the channel's pings go unanswered, so within `max_stale` hits stop being
/// served from memory and go to Redis, which fails: 503, never a possibly revoked session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_channel_stops_the_cache_within_max_stale() {
    let redis = RedisServer::start();
    let b = instance(&redis).await;
    let issued = b
        .create("erin", (), CreateOptions::default())
        .await
        .unwrap();
    warm(&b, &issued).await;
    redis.pause();
    let started = Instant::now();
    while b.resolve_ready(issued.token.as_bearer()).is_some() {
        assert!(
            started.elapsed() < MAX_STALE * 2,
            "served from memory for {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    eprintln!(
        "memory hits stopped {:?} after the pause",
        started.elapsed()
    );
    assert!(
        b.resolve(issued.token.as_bearer()).await.is_err(),
        "Redis is paused: an error"
    );
    redis.resume();
    let started = Instant::now();
    while !b.is_live() {
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    warm(&b, &issued).await;
}

/// A healthy channel keeps the cache serving: an entry stays in memory across many pings. (A
/// ping whose reply was misread once made every ping look like a lost channel, and the cache
/// cleared itself four times a second.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_channel_keeps_entries_cached() {
    let redis = RedisServer::start();
    let b = instance(&redis).await;
    let issued = b
        .create("frank", (), CreateOptions::default())
        .await
        .unwrap();
    assert!(b.resolve(issued.token.as_bearer()).await.unwrap().is_some());
    let started = Instant::now();
    while started.elapsed() < MAX_STALE * 4 {
        assert!(
            b.is_live(),
            "the channel looked lost after {:?}",
            started.elapsed()
        );
        assert!(
            b.resolve_ready(issued.token.as_bearer()).is_some(),
            "the entry was dropped after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(b.cached(), 1);
}

/// A library author who calls the trait's `resolve` (not `resolve_ready`), as `resolver_fn`
/// wrappers and `BoxResolver` users do, gets the cached answer too: the future is ready at its
/// first poll, with no round trip to Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_answers_a_cached_hit_without_a_round_trip() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    let redis = RedisServer::start();
    let b = instance(&redis).await;
    let issued = b
        .create("grace", (), CreateOptions::default())
        .await
        .unwrap();
    warm(&b, &issued).await;
    let mut cx = Context::from_waker(Waker::noop());
    let mut lookup = std::pin::pin!(b.resolve(issued.token.as_bearer()));
    match lookup.as_mut().poll(&mut cx) {
        Poll::Ready(found) => assert_eq!(&*found.unwrap().unwrap().user_id, "grace"),
        Poll::Pending => panic!("a cached hit went to Redis"),
    }
    // A miss still goes to Redis and answers there.
    let other = b
        .store()
        .create("heidi", (), CreateOptions::default())
        .await
        .unwrap();
    assert_eq!(
        &*b.resolve(other.token.as_bearer())
            .await
            .unwrap()
            .unwrap()
            .user_id,
        "heidi"
    );
}

/// `max_entries` bounds the cache: with ten times as many live sessions in rotation, it never
/// holds more, keeps caching the newest, and every session still resolves (from Redis when not
/// cached); and a revocation still reaches an entry cached after evictions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cache_evicts_and_keeps_serving() {
    let redis = RedisServer::start();
    let store = RedisStore::builder().connect(&redis.url()).await.unwrap();
    let cached = CachedStore::builder(store)
        .max_entries(10)
        .connect(&redis.url())
        .await
        .unwrap();
    while !cached.is_live() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut sessions = Vec::new();
    for i in 0..100 {
        let user = format!("full-cache-{i}");
        sessions.push(
            cached
                .create(&user, (), CreateOptions::default())
                .await
                .unwrap(),
        );
    }
    for round in 0..3 {
        for issued in &sessions {
            assert!(resolve(&cached, issued).await.is_some(), "round {round}");
            assert!(cached.cached() <= 10, "{} cached", cached.cached());
        }
    }
    let last = sessions.last().unwrap();
    warm(&cached, last).await;
    assert!(cached.revoke_token(last.token.as_bearer()).await.unwrap());
    assert!(resolve(&cached, last).await.is_none());
}

/// The Redis counters: every invalidation message applied (each instance hears every
/// revocation, its own too), and every subscription made again after the channel is lost.
#[cfg(feature = "metrics")]
#[tokio::test]
async fn invalidations_and_reconnects_are_counted() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // A current-thread runtime: the subscribers run on this thread, under this recorder.
    let _recording = metrics::set_default_local_recorder(&recorder);
    let mut seen = std::collections::HashMap::<String, u64>::new();
    let mut counted = move |name: &str| {
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            if let DebugValue::Counter(n) = value {
                *seen.entry(key.key().name().to_owned()).or_default() += n;
            }
        }
        seen.get(name).copied().unwrap_or(0)
    };

    let redis = RedisServer::start();
    let (a, b) = (instance(&redis).await, instance(&redis).await);
    let issued = a
        .create("erin", (), CreateOptions::default())
        .await
        .unwrap();
    warm(&b, &issued).await;
    assert!(a.revoke_token(issued.token.as_bearer()).await.unwrap());
    until_gone(&b, &issued, Instant::now()).await;
    let started = Instant::now();
    while counted("tower_bearer.redis.invalidations") < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not both instances heard it"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        counted("tower_bearer.redis.invalidations"),
        2,
        "one message, two subscribers"
    );
    assert_eq!(counted("tower_bearer.redis.reconnects"), 0);

    redis.cli(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    let started = Instant::now();
    while counted("tower_bearer.redis.reconnects") < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not both resubscribed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(counted("tower_bearer.redis.reconnects"), 2, "one each");
}
