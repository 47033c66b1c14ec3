//! Per-request overhead of tower-bearer next to what a user would write instead, in one run.
//!
//! Every variant wraps the same inner service and is driven the same way: the request is built
//! identically in every variant inside the timed loop, as users send it (`POST` with a path and
//! query, a small JSON body, and the `Authorization` header; the bare variant pays for that
//! too, so it cancels out of the overheads), then `poll_ready` and `call`, and the future is
//! polled once (every variant here answers at once). Hits rotate over 64 live tokens of the
//! 10,000 issued, and unknown tokens over 64 others, rather than one hot token.
//!
//! The variants are measured in interleaved rounds (`OVERHEAD_ROUNDS`, default 5), each round
//! in a rotated order, one criterion group per round (`overhead_r0`, `overhead_r1`, ...): on a
//! shared machine the speed drifts by ±20% over tens of seconds, so one pass of the variants in
//! a row compares them at different speeds. `python3 benches/report.py` takes the median of the
//! rounds, prints the ratios with their spread, and draws docs/overhead.png.
//!
//! Run: `cargo bench -p tower-bearer-peers --bench overhead && python3 benches/report.py`.
//!
//! Instructions per request, which callgrind counts the same on every run (the difference of
//! two iteration counts cancels the setup):
//! `OVERHEAD_ONLY=5_tower_bearer_hit OVERHEAD_ITERS=20000 valgrind --tool=callgrind
//! target/release/deps/overhead-* --bench`, against `OVERHEAD_ITERS=10000`.
//!
//! 1. `bare`: the inner service alone, the floor;
//! 2. `tower_http_bearer_hit` / `tower_http_bearer_reject`: tower-http's
//!    `ValidateRequestHeaderLayer::bearer`, one static string comparison;
//!    `tower_http_bearer_reject_challenge`: the same comparison through
//!    `ValidateRequestHeaderLayer::custom`, answering the way RFC 6750 §3 asks, with
//!    `WWW-Authenticate: Bearer` on the 401 (context for (7), not one of the issue's variants);
//! 3. `tower_http_async_dashmap`: tower-http's `AsyncRequireAuthorizationLayer` with a
//!    hand-written DashMap lookup that puts the user into extensions;
//! 4. `hand_tuned_floor`: the same essential work written by hand: parse the header, one hash
//!    lookup, an `Arc` clone, one insert into extensions;
//!    `hand_tuned_memorystore`: the same, with `MemoryStore::resolve_now` doing the lookup (tag,
//!    DashMap read, expiry), which splits the gap between (4) and (5) into the store's share
//!    and the layer's (context, not one of the issue's variants);
//! 5. `tower_bearer_hit`: tower-bearer with MemoryStore, a live session;
//! 6. `tower_bearer_unknown`: an unknown token (401);
//! 7. `tower_bearer_missing`: no header (401);
//! 8. `tower_bearer_malformed`: a malformed header (400).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use dashmap::DashMap;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::Empty;
use tower::{Layer, Service};
use tower_bearer::store::{CreateOptions, MemoryStore};
use tower_bearer::BearerLayer;
use tower_http::auth::AsyncRequireAuthorizationLayer;
use tower_http::validate_request::ValidateRequestHeaderLayer;

type Body = Empty<Bytes>;

/// The inner service every variant wraps.
#[derive(Clone, Copy)]
struct Inner;

impl Service<Request<Bytes>> for Inner {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Body>, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: Request<Bytes>) -> Self::Future {
        ready(Ok(Response::new(Empty::new())))
    }
}

#[derive(Clone)]
#[allow(dead_code)]
struct User(Arc<str>);

/// (4) and (4s): parse, one lookup, one insert, then the inner call, written by hand.
///
/// (4) looks the token up in an immutable `HashMap` and clones the user's `Arc`; (4s) calls
/// `MemoryStore::resolve_now` (tag, DashMap read, expiry) instead.
#[derive(Clone)]
struct HandTuned<L> {
    lookup: L,
}

impl<L, T> Service<Request<Bytes>> for HandTuned<L>
where
    L: Fn(&str) -> Option<T>,
    T: Clone + Send + Sync + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Body>, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, mut req: Request<Bytes>) -> Self::Future {
        let found = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|t| (self.lookup)(t));
        match found {
            Some(found) => {
                req.extensions_mut().insert(found);
                Inner.call(req)
            }
            None => {
                let mut res = Response::new(Empty::new());
                *res.status_mut() = StatusCode::UNAUTHORIZED;
                ready(Ok(res))
            }
        }
    }
}

fn drive<S, B>(service: &mut S, req: Request<Bytes>) -> StatusCode
where
    S: Service<Request<Bytes>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    assert!(service.poll_ready(&mut cx).is_ready());
    let mut fut = pin!(service.call(req));
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(res) => res.unwrap().status(),
        Poll::Pending => unreachable!("every variant answers at once"),
    }
}

/// One request through a variant: built, called, answered.
type Once = Box<dyn FnMut() -> StatusCode>;

/// A variant ready to measure: its name, and one request through it.
type Variant = (&'static str, Once);

/// The tokens a variant sends, one after another: one header value each, or none.
fn rotate(headers: &[HeaderValue]) -> Vec<Option<HeaderValue>> {
    headers.iter().cloned().map(Some).collect()
}

fn variant<S, B>(
    name: &'static str,
    mut service: S,
    headers: Vec<Option<HeaderValue>>,
    expect: StatusCode,
) -> Variant
where
    S: Service<Request<Bytes>, Response = Response<B>> + 'static,
    S::Error: std::fmt::Debug,
{
    let uri = Uri::from_static("/api/orders/42?expand=items");
    let mut next = 0;
    let mut once = move || {
        let mut req = Request::new(Bytes::from_static(br#"{"quantity":1}"#));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = uri.clone();
        if let Some(h) = &headers[next] {
            req.headers_mut().insert(AUTHORIZATION, h.clone());
        }
        next = (next + 1) % headers.len();
        drive(&mut service, req)
    };
    for _ in 0..64 {
        assert_eq!(once(), expect, "{name}");
    }
    (name, Box::new(once))
}

/// (2). tower-http 0.7 deprecates it as "too basic to be useful in real applications", which is
/// what makes it the least any check can cost.
#[allow(deprecated)]
fn tower_http_bearer(
    token: &str,
) -> ValidateRequestHeaderLayer<tower_http::auth::require_authorization::Bearer<Body>> {
    ValidateRequestHeaderLayer::bearer(token)
}

/// (2) with the challenge RFC 6750 §3 requires on a 401: the same static comparison, and one
/// header on the rejection.
fn tower_http_bearer_with_challenge(
    token: &str,
) -> ValidateRequestHeaderLayer<impl FnMut(&mut Request<Bytes>) -> Result<(), Response<Body>> + Clone>
{
    let expected = HeaderValue::try_from(format!("Bearer {token}")).unwrap();
    ValidateRequestHeaderLayer::custom(move |req: &mut Request<Bytes>| {
        match req.headers().get(AUTHORIZATION) {
            Some(actual) if *actual == expected => Ok(()),
            _ => {
                let mut res = Response::new(Body::new());
                *res.status_mut() = StatusCode::UNAUTHORIZED;
                res.headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                Err(res)
            }
        }
    })
}

fn overhead(c: &mut Criterion) {
    // With the `metrics` feature: `OVERHEAD_PROMETHEUS=1` installs the Prometheus recorder
    // first, so the layer's counters and histograms record as in a real app.
    #[cfg(feature = "metrics")]
    if std::env::var_os("OVERHEAD_PROMETHEUS").is_some() {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .expect("the bench's only recorder");
    }
    const USERS: usize = 10_000;
    let store = MemoryStore::new();
    let mut tokens = Vec::new();
    for i in 0..USERS {
        tokens.push(
            store
                .create_now(&format!("user-{i}"), (), CreateOptions::default())
                .unwrap()
                .token,
        );
    }
    let token = tokens[USERS / 2].as_str().to_owned();
    let bearer = HeaderValue::try_from(format!("Bearer {token}")).unwrap();
    // 64 live tokens spread over the store, and 64 unknown ones.
    let live: Vec<HeaderValue> = (0..64)
        .map(|i| HeaderValue::try_from(format!("Bearer {}", tokens[i * 151].as_str())).unwrap())
        .collect();
    let unknown: Vec<HeaderValue> = (0..64)
        .map(|i| HeaderValue::try_from(format!("Bearer {i:0>2}{}", "Z".repeat(41))).unwrap())
        .collect();
    let malformed = HeaderValue::from_static("Bearer not a token");

    let dash: Arc<DashMap<String, Arc<User>>> = Arc::new(DashMap::new());
    let mut plain = HashMap::new();
    for (i, t) in tokens.iter().enumerate() {
        let user = Arc::new(User(format!("user-{i}").into()));
        dash.insert(t.as_str().to_owned(), user.clone());
        plain.insert(Box::from(t.as_str()), user);
    }

    let users = dash.clone();
    let async_auth = AsyncRequireAuthorizationLayer::new(move |mut req: Request<Bytes>| {
        let users = users.clone();
        async move {
            let user = req
                .headers()
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .and_then(|t| users.get(t).map(|u| u.value().clone()));
            match user {
                Some(user) => {
                    req.extensions_mut().insert(user);
                    Ok(req)
                }
                None => {
                    let mut res = Response::new(Empty::<Bytes>::new());
                    *res.status_mut() = StatusCode::UNAUTHORIZED;
                    Err(res)
                }
            }
        }
    });
    let layer = BearerLayer::new(store.clone());
    let mut variants = vec![
        variant("1_bare", Inner, rotate(&live), StatusCode::OK),
        // tower-http's static check knows one token only.
        variant(
            "2_tower_http_bearer_hit",
            tower_http_bearer(&token).layer(Inner),
            vec![Some(bearer)],
            StatusCode::OK,
        ),
        variant(
            "2_tower_http_bearer_reject",
            tower_http_bearer(&token).layer(Inner),
            vec![None],
            StatusCode::UNAUTHORIZED,
        ),
        variant(
            "2_tower_http_bearer_reject_challenge",
            tower_http_bearer_with_challenge(&token).layer(Inner),
            vec![None],
            StatusCode::UNAUTHORIZED,
        ),
        variant(
            "3_tower_http_async_dashmap",
            async_auth.layer(Inner),
            rotate(&live),
            StatusCode::OK,
        ),
        variant(
            "4_hand_tuned_floor",
            HandTuned {
                lookup: {
                    // Shared, as a service cloned per connection would share it.
                    let users = Arc::new(plain);
                    move |t: &str| users.get(t).cloned()
                },
            },
            rotate(&live),
            StatusCode::OK,
        ),
        variant(
            "4s_hand_tuned_memorystore",
            HandTuned {
                lookup: {
                    let store = store.clone();
                    move |t: &str| store.resolve_now(t)
                },
            },
            rotate(&live),
            StatusCode::OK,
        ),
        variant(
            "5_tower_bearer_hit",
            layer.layer(Inner),
            rotate(&live),
            StatusCode::OK,
        ),
        variant(
            "6_tower_bearer_unknown",
            layer.layer(Inner),
            rotate(&unknown),
            StatusCode::UNAUTHORIZED,
        ),
        variant(
            "7_tower_bearer_missing",
            layer.layer(Inner),
            vec![None],
            StatusCode::UNAUTHORIZED,
        ),
        variant(
            "8_tower_bearer_malformed",
            layer.layer(Inner),
            vec![Some(malformed)],
            StatusCode::BAD_REQUEST,
        ),
    ];
    // For callgrind, which counts instructions the same on every run: `OVERHEAD_ONLY=5_tower_
    // bearer_hit OVERHEAD_ITERS=100000` runs that variant alone, outside criterion.
    if let Ok(only) = std::env::var("OVERHEAD_ONLY") {
        let iters: usize = std::env::var("OVERHEAD_ITERS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(100_000);
        let (_, once) = variants
            .iter_mut()
            .find(|(name, _)| *name == only)
            .expect("OVERHEAD_ONLY names a variant");
        for _ in 0..iters {
            black_box(once());
        }
        return;
    }
    let rounds = std::env::var("OVERHEAD_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5usize);
    let n = variants.len();
    for round in 0..rounds {
        let mut group = c.benchmark_group(format!("overhead_r{round}"));
        for k in 0..n {
            let (name, once) = &mut variants[(k + round * 2) % n];
            group.bench_function(*name, |b| b.iter(|| black_box(once())));
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1))
        // The rounds' medians are what is reported, not criterion's bootstrap intervals:
        // fewer resamples keep a round of eleven variants well under a minute.
        .nresamples(2_000);
    targets = overhead
}
criterion_main!(benches);
