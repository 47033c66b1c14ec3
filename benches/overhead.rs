//! Per-request overhead of tower-bearer next to what a user would write instead, in one run.
//!
//! Every variant wraps the same inner service and is driven the same way: the request is built
//! identically in every variant inside the timed loop (one header insert, which the bare
//! variant pays too, so it cancels out of the overheads), then `poll_ready` and `call`, and the
//! future is polled once (every variant here answers at once).
//!
//! The variants are measured in interleaved rounds (`OVERHEAD_ROUNDS`, default 5), each round
//! in a rotated order, one criterion group per round (`overhead_r0`, `overhead_r1`, ...): on a
//! shared machine the speed drifts by ±20% over tens of seconds, so one pass of the variants in
//! a row compares them at different speeds. `python3 benches/report.py` takes the median of the
//! rounds, prints the ratios with their spread, and draws docs/overhead.png.
//!
//! Run: `cargo bench --bench overhead && python3 benches/report.py`.
//!
//! 1. `bare`: the inner service alone, the floor;
//! 2. `tower_http_bearer_hit` / `tower_http_bearer_reject`: tower-http's
//!    `ValidateRequestHeaderLayer::bearer`, one static string comparison;
//!    `tower_http_bearer_reject_challenge`: the same comparison through
//!    `ValidateRequestHeaderLayer::custom`, answering the way RFC 6750 §3 asks, with
//!    `WWW-Authenticate: Bearer` on the 401 (context for (7), not one of the variants);
//! 3. `tower_http_async_dashmap`: tower-http's `AsyncRequireAuthorizationLayer` with a
//!    hand-written DashMap lookup that puts the user into extensions;
//! 4. `hand_tuned_floor`: the same essential work written by hand: parse the header, one hash
//!    lookup, an `Arc` clone, one insert into extensions;
//!    `hand_tuned_memorystore`: the same, with `MemoryStore::resolve_now` doing the lookup (tag,
//!    DashMap read, expiry), which splits the gap between (4) and (5) into the store's share
//!    and the layer's (context, not one of the variants);
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
use http::{HeaderValue, Request, Response, StatusCode};
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

impl Service<Request<()>> for Inner {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Body>, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: Request<()>) -> Self::Future {
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

impl<L, T> Service<Request<()>> for HandTuned<L>
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
    fn call(&mut self, mut req: Request<()>) -> Self::Future {
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

fn drive<S, B>(service: &mut S, req: Request<()>) -> StatusCode
where
    S: Service<Request<()>, Response = Response<B>>,
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

/// A variant ready to measure: its name, and a closure that benchmarks it in a given group.
type Variant = (
    &'static str,
    Box<dyn FnMut(&mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>)>,
);

fn variant<S, B>(
    name: &'static str,
    mut service: S,
    header: Option<HeaderValue>,
    expect: StatusCode,
) -> Variant
where
    S: Service<Request<()>, Response = Response<B>> + 'static,
    S::Error: std::fmt::Debug,
{
    let make = move || {
        let mut req = Request::new(());
        if let Some(h) = &header {
            req.headers_mut().insert(AUTHORIZATION, h.clone());
        }
        req
    };
    assert_eq!(drive(&mut service, make()), expect, "{name}");
    let run = move |group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>| {
        group.bench_function(name, |b| b.iter(|| black_box(drive(&mut service, make()))));
    };
    (name, Box::new(run))
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
) -> ValidateRequestHeaderLayer<impl FnMut(&mut Request<()>) -> Result<(), Response<Body>> + Clone>
{
    let expected = HeaderValue::try_from(format!("Bearer {token}")).unwrap();
    ValidateRequestHeaderLayer::custom(move |req: &mut Request<()>| {
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
    let unknown = HeaderValue::try_from(format!("Bearer {}", "Z".repeat(43))).unwrap();
    let malformed = HeaderValue::from_static("Bearer not a token");

    let dash: Arc<DashMap<String, Arc<User>>> = Arc::new(DashMap::new());
    let mut plain = HashMap::new();
    for (i, t) in tokens.iter().enumerate() {
        let user = Arc::new(User(format!("user-{i}").into()));
        dash.insert(t.as_str().to_owned(), user.clone());
        plain.insert(Box::from(t.as_str()), user);
    }

    let users = dash.clone();
    let async_auth = AsyncRequireAuthorizationLayer::new(move |mut req: Request<()>| {
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
        variant("1_bare", Inner, Some(bearer.clone()), StatusCode::OK),
        variant(
            "2_tower_http_bearer_hit",
            tower_http_bearer(&token).layer(Inner),
            Some(bearer.clone()),
            StatusCode::OK,
        ),
        variant(
            "2_tower_http_bearer_reject",
            tower_http_bearer(&token).layer(Inner),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        variant(
            "2_tower_http_bearer_reject_challenge",
            tower_http_bearer_with_challenge(&token).layer(Inner),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        variant(
            "3_tower_http_async_dashmap",
            async_auth.layer(Inner),
            Some(bearer.clone()),
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
            Some(bearer.clone()),
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
            Some(bearer.clone()),
            StatusCode::OK,
        ),
        variant(
            "5_tower_bearer_hit",
            layer.layer(Inner),
            Some(bearer),
            StatusCode::OK,
        ),
        variant(
            "6_tower_bearer_unknown",
            layer.layer(Inner),
            Some(unknown),
            StatusCode::UNAUTHORIZED,
        ),
        variant(
            "7_tower_bearer_missing",
            layer.layer(Inner),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        variant(
            "8_tower_bearer_malformed",
            layer.layer(Inner),
            Some(malformed),
            StatusCode::BAD_REQUEST,
        ),
    ];
    let rounds = std::env::var("OVERHEAD_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5usize);
    let n = variants.len();
    for round in 0..rounds {
        let mut group = c.benchmark_group(format!("overhead_r{round}"));
        for k in 0..n {
            let (_, run) = &mut variants[(k + round * 2) % n];
            run(&mut group);
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = overhead
}
criterion_main!(benches);
