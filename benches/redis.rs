//! The Redis store beside MemoryStore, side by side in one run, through the layer as users run
//! it: requests with a path and a body, 64 live tokens in rotation.
//!
//! - `memory_store_hit`: MemoryStore;
//! - `cached_store_hit`: CachedStore over RedisStore, every token cached (answered from memory);
//! - `redis_store_resolve`: RedisStore alone, one round trip to a local redis-server per request.
//!
//! And the stores alone, as a library author calls them (group `store_hit`): the trait's
//! `resolve` polled once, and `resolve_ready`, for MemoryStore and for a CachedStore hit.
//! `STORE_COUNT=<variant> STORE_ITERS=<n>` runs one of those `n` times and exits, for callgrind
//! (`memory_resolve`, `cached_resolve`, `memory_ready`, `cached_ready`).
//!
//! Starts its own `redis-server`s on free ports, each in a temporary folder. Run:
//! `cargo bench -p tower-bearer-peers --bench redis --features redis`.

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use std::sync::Arc;
use tower::{Layer, Service};

use tower_bearer::store::{
    CachedStore, CreateOptions, Durability, MemoryStore, RedisStore, Session, SessionStore,
};
use tower_bearer::{BearerLayer, BearerToken, SessionResolver};

#[derive(Clone, Copy)]
struct Inner;

impl Service<Request<Bytes>> for Inner {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<Response<()>, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: Request<Bytes>) -> Self::Future {
        ready(Ok(Response::new(())))
    }
}

fn request(header: &HeaderValue) -> Request<Bytes> {
    let mut req = Request::new(Bytes::from_static(br#"{"quantity":1}"#));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = Uri::from_static("/api/orders/42?expand=items");
    req.headers_mut().insert(AUTHORIZATION, header.clone());
    req
}

/// One request through a service whose answer is at hand: polled once.
fn once<S, B>(service: &mut S, req: Request<Bytes>) -> StatusCode
where
    S: Service<Request<Bytes>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    assert!(service.poll_ready(&mut cx).is_ready());
    let mut fut = pin!(service.call(req));
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(res) => res.unwrap().status(),
        Poll::Pending => panic!("answered from memory, at once"),
    }
}

/// A resolver's future polled once: a hit must be answered at once.
fn poll_once<F, S, E>(future: F) -> Option<S>
where
    F: Future<Output = Result<Option<S>, E>>,
    E: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(found) => found.unwrap(),
        Poll::Pending => panic!("a hit is answered from memory, at once"),
    }
}

/// The tests' own `redis-server`s (tests/support/redis.rs): a free port, a temporary `--dir`
/// for whatever a server writes (a replica's full sync writes `dump.rdb` even with
/// `--save ""`), never the source tree, and no server outlives the run.
#[path = "../tests/support/redis.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

use redis_server::RedisServer;

fn redis(c: &mut Criterion) {
    let server = RedisServer::start();
    let url = server.url();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let memory = MemoryStore::new();
    let redis: RedisStore = rt.block_on(RedisStore::builder().connect(&url)).unwrap();
    let cached = rt.block_on(CachedStore::new(redis.clone(), &url)).unwrap();
    while !cached.is_live() {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut memory_tokens = Vec::new();
    let mut redis_tokens = Vec::new();
    for i in 0..64 {
        let user = format!("user-{i}");
        let issued = memory
            .create_now(&user, (), CreateOptions::default())
            .unwrap();
        memory_tokens
            .push(HeaderValue::try_from(format!("Bearer {}", issued.token.as_str())).unwrap());
        let issued = rt
            .block_on(cached.create(&user, (), CreateOptions::default()))
            .unwrap();
        // Warm the cache.
        rt.block_on(cached.resolve(issued.token.as_bearer()))
            .unwrap()
            .unwrap();
        assert!(cached.resolve_ready(issued.token.as_bearer()).is_some());
        redis_tokens.push(issued);
    }
    let cached_headers: Vec<HeaderValue> = redis_tokens
        .iter()
        .map(|i| HeaderValue::try_from(format!("Bearer {}", i.token.as_str())).unwrap())
        .collect();

    let memory_bearer: Vec<String> = memory_tokens
        .iter()
        .map(|h| h.to_str().unwrap()["Bearer ".len()..].to_owned())
        .collect();
    let cached_bearer: Vec<String> = redis_tokens
        .iter()
        .map(|i| i.token.as_str().to_owned())
        .collect();
    let store_hit = |variant: &str, i: usize| -> bool {
        let (m, c) = (&memory_bearer[i % 64], &cached_bearer[i % 64]);
        let found = match variant {
            "memory_resolve" => poll_once(memory.resolve(BearerToken::new(m))),
            "cached_resolve" => poll_once(cached.resolve(BearerToken::new(c))),
            "memory_ready" => memory.resolve_ready(BearerToken::new(m)).unwrap().unwrap(),
            "cached_ready" => cached.resolve_ready(BearerToken::new(c)).unwrap().unwrap(),
            other => panic!("unknown variant {other}"),
        };
        found.is_some()
    };
    if let Ok(variant) = std::env::var("STORE_COUNT") {
        let iters: usize = std::env::var("STORE_ITERS").map_or(1000, |n| n.parse().unwrap());
        for i in 0..iters {
            assert!(black_box(store_hit(&variant, i)));
        }
        drop(server);
        std::process::exit(0);
    }
    let mut next = 0;
    let mut group = c.benchmark_group("store_hit");
    for variant in [
        "memory_resolve",
        "cached_resolve",
        "memory_ready",
        "cached_ready",
    ] {
        group.bench_function(variant, |b| {
            b.iter(|| {
                next = (next + 1) % 64;
                black_box(store_hit(variant, next))
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("redis");
    let mut memory_service = BearerLayer::new(memory).layer(Inner);
    group.bench_function("memory_store_hit", |b| {
        b.iter(|| {
            next = (next + 1) % 64;
            black_box(once(&mut memory_service, request(&memory_tokens[next])))
        })
    });
    let mut cached_service = BearerLayer::new(cached.clone()).layer(Inner);
    group.bench_function("cached_store_hit", |b| {
        b.iter(|| {
            next = (next + 1) % 64;
            black_box(once(&mut cached_service, request(&cached_headers[next])))
        })
    });
    group.bench_function("redis_store_resolve", |b| {
        b.iter(|| {
            next = (next + 1) % 64;
            let token = redis_tokens[next].token.as_bearer();
            black_box(rt.block_on(redis.resolve(token)).unwrap())
        })
    });
    group.finish();

    // The cache's map beside moka's, for the same work: 10,000 cached sessions keyed by a
    // 128-bit tag, 64 of them read in rotation, an `Arc` clone each.
    let mut group = c.benchmark_group("cache_map");
    let session = redis_tokens[0].session.clone();
    let dash: dashmap::DashMap<u128, Arc<Session>> = dashmap::DashMap::new();
    let moka = moka::sync::Cache::<u128, Arc<Session>>::new(100_000);
    let keys: Vec<u128> = (0..10_000u128)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835))
        .collect();
    for &k in &keys {
        dash.insert(k, session.clone());
        moka.insert(k, session.clone());
    }
    moka.run_pending_tasks();
    group.bench_function("dashmap_get", |b| {
        b.iter(|| {
            next = (next + 1) % 64;
            black_box(dash.get(&keys[next * 151]).map(|e| e.value().clone()))
        })
    });
    group.bench_function("moka_get", |b| {
        b.iter(|| {
            next = (next + 1) % 64;
            black_box(moka.get(&keys[next * 151]))
        })
    });
    group.finish();
    drop(server);
    durable(c, &rt);
}

/// Issue 27: a revocation that waits for one replica (`WAIT 1`) against today's, on a primary
/// with one replica on loopback; and the hot path, which must not change.
fn durable(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let primary_server = RedisServer::start();
    let _replica = primary_server.start_replica(&[]);
    let url = primary_server.url();
    let primary: RedisStore = rt.block_on(RedisStore::builder().connect(&url)).unwrap();
    let wait = Durability::replicas(1);
    let durable: RedisStore = rt
        .block_on(
            RedisStore::builder()
                .durable_revocations(wait)
                .durable_creations(wait)
                .connect(&url),
        )
        .unwrap();
    let mut group = c.benchmark_group("durable");
    for (name, store) in [("primary", &primary), ("wait_1_replica", &durable)] {
        group.bench_function(format!("revoke_{name}"), |b| {
            b.iter_batched(
                || {
                    let user = uuid::Uuid::new_v4().to_string();
                    let issued = rt.block_on(primary.create(&user, (), CreateOptions::default()));
                    issued.unwrap().token
                },
                |token| black_box(rt.block_on(store.revoke_token(token.as_bearer())).unwrap()),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("create_{name}"), |b| {
            // A user of its own each time, as sign-ins come: a user's index is scanned on
            // each of its sign-ins.
            b.iter_batched(
                || uuid::Uuid::new_v4().to_string(),
                |user| {
                    let issued = rt.block_on(store.create(&user, (), CreateOptions::default()));
                    black_box(issued.unwrap())
                },
                BatchSize::SmallInput,
            )
        });
    }
    let tokens: Vec<_> = (0..64)
        .map(|i| {
            let user = format!("reader-{i}");
            let issued = primary.create(&user, (), CreateOptions::default());
            rt.block_on(issued).unwrap().token
        })
        .collect();
    let mut next = 0;
    for (name, store) in [("primary", &primary), ("wait_1_replica", &durable)] {
        group.bench_function(format!("resolve_{name}"), |b| {
            b.iter(|| {
                next = (next + 1) % 64;
                black_box(
                    rt.block_on(store.resolve(tokens[next].as_bearer()))
                        .unwrap(),
                )
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .nresamples(2_000);
    targets = redis
}
criterion_main!(benches);
