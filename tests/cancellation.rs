//! Shared work survives the requests that wait on it. For each resolver whose backend work
//! several requests share (the JWKS fetch, introspection calls, better-auth's get-session),
//! resolve futures are dropped at every poll point, and the layer's `timeout` is set shorter
//! than the backend; then nothing may be left behind (no entry in flight, checked through the
//! resolvers' `Debug`), fetches stay within the cooldown, calls within the budget, and the work
//! that was started lands (keys load, answers are cached) for the next request.
#![cfg(all(feature = "jwt", feature = "introspection"))]

mod support;

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{json, Value};
use tower::{service_fn, ServiceBuilder};
use tower_bearer::oauth::{IntrospectionResolver, JwksSettings, JwtResolver};
use tower_bearer::{BearerLayer, BearerToken, SessionResolver};

/// A backend on 127.0.0.1 that answers every request after `delay` with `answer(body)`, and
/// counts the requests it received.
struct Backend {
    addr: std::net::SocketAddr,
    calls: Arc<AtomicUsize>,
    delay: Arc<Mutex<Duration>>,
}

impl Backend {
    async fn start(answer: impl Fn(&str) -> Value + Clone + Send + Sync + 'static) -> Backend {
        let calls = Arc::new(AtomicUsize::new(0));
        let delay = Arc::new(Mutex::new(Duration::ZERO));
        let (c, d) = (calls.clone(), delay.clone());
        let svc = service_fn(move |req: Request<Incoming>| {
            let (c, d, answer) = (c.clone(), d.clone(), answer.clone());
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                let body = req.into_body().collect().await.unwrap().to_bytes();
                let delay = *d.lock().unwrap();
                tokio::time::sleep(delay).await;
                let body = answer(std::str::from_utf8(&body).unwrap()).to_string();
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
            }
        });
        Backend {
            addr: support::serve(svc).await,
            calls,
            delay,
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn slow(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }
}

/// Starts `make()`'s future and drops it after one poll, then after two, and so on, giving the
/// I/O time to move between polls, until a future completes within its polls: every point at
/// which a resolve can be cancelled has been tried. How many were dropped.
async fn drop_at_every_poll_point<F: Future>(make: impl Fn() -> F) -> usize {
    for polls in 1..200 {
        let mut future = Box::pin(make());
        for _ in 0..polls {
            let ready = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx).is_ready()));
            if ready.await {
                return polls - 1;
            }
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    }
    panic!("the future never completed");
}

/// The `in_flight: N` a resolver's `Debug` shows.
fn in_flight(resolver: &impl std::fmt::Debug) -> usize {
    let debug = format!("{resolver:?}");
    let at = debug.find("in_flight: ").expect("Debug shows in_flight") + "in_flight: ".len();
    debug[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// An introspection endpoint: `live` is active, everything else inactive.
async fn introspection() -> Backend {
    Backend::start(|form| match form.contains("token=live&") {
        true => json!({"active": true, "sub": "u1", "scope": "read"}),
        false => json!({"active": false}),
    })
    .await
}

fn introspection_resolver(backend: &Backend) -> tower_bearer::oauth::IntrospectionResolverBuilder {
    IntrospectionResolver::builder(format!("http://{}/introspect", backend.addr))
        .any_audience()
        .timeout(Duration::from_millis(500))
        .call_budget(10_000, Duration::from_secs(1))
}

#[tokio::test]
async fn an_introspection_call_outlives_the_requests_dropped_while_it_runs() {
    let backend = introspection().await;
    backend.slow(Duration::from_millis(200));
    let resolver: IntrospectionResolver = introspection_resolver(&backend).build().unwrap();
    let dropped = drop_at_every_poll_point(|| resolver.resolve(BearerToken::new("live"))).await;
    assert!(
        dropped >= 3,
        "{dropped} requests dropped at their poll points"
    );
    assert_eq!(backend.calls(), 1, "{dropped} dropped requests, one call");
    assert_eq!(in_flight(&resolver), 0);
    assert!(resolver
        .resolve(BearerToken::new("live"))
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        backend.calls(),
        1,
        "the call's answer was cached for the next request"
    );
}

#[tokio::test]
async fn introspection_calls_whose_requests_were_all_dropped_leave_nothing_behind() {
    let backend = introspection().await;
    // An endpoint that answers after the resolver has given up on it.
    backend.slow(Duration::from_secs(30));
    let resolver: IntrospectionResolver = introspection_resolver(&backend).build().unwrap();
    for i in 0..300 {
        let token = format!("made-up-{i}");
        let mut resolve = resolver.resolve(BearerToken::new(&token));
        let pending =
            std::future::poll_fn(|cx| Poll::Ready(resolve.as_mut().poll(cx).is_pending()));
        assert!(pending.await);
    }
    assert_eq!(
        in_flight(&resolver),
        300,
        "every call runs on after its request"
    );
    let started = Instant::now();
    while in_flight(&resolver) > 0 {
        assert!(started.elapsed() < Duration::from_secs(5), "{resolver:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "300 abandoned calls ended {:?} after their requests",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_call_budget_bounds_a_flood_of_made_up_tokens_and_cached_users_keep_working() {
    let backend = introspection().await;
    let resolver: IntrospectionResolver =
        IntrospectionResolver::builder(format!("http://{}/introspect", backend.addr))
            .call_budget(20, Duration::from_secs(60))
            .cache_ttl(Duration::from_secs(60))
            .any_audience()
            .build()
            .unwrap();
    let svc = ServiceBuilder::new()
        .layer(BearerLayer::new(resolver.clone()))
        .service(service_fn(|_: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }));
    let addr = support::serve(svc).await;
    let get = |token: String| async move {
        let auth = format!("authorization: Bearer {token}");
        support::get(addr, "/", &[auth.as_bytes()]).await.status
    };
    assert_eq!(get("live".into()).await, 200, "a real user, cached");
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..500 {
        *statuses
            .entry(get(format!("garbage-{i}")).await)
            .or_insert(0) += 1;
    }
    eprintln!(
        "500 made-up tokens: {statuses:?}, {} calls",
        backend.calls()
    );
    assert_eq!(
        backend.calls(),
        20,
        "the budget: 1 real call and 19 made-up ones"
    );
    assert_eq!(statuses.get(&401), Some(&19));
    assert_eq!(
        statuses.get(&503),
        Some(&481),
        "past the budget: 503 without a call"
    );
    assert_eq!(
        get("live".into()).await,
        200,
        "the cached user is unaffected"
    );

    // Where the issuer's format is known, a made-up token costs neither a call nor budget.
    let shaped: IntrospectionResolver = introspection_resolver(&backend)
        .token_shape(|t| t.len() == 4 && t.bytes().all(|b| b.is_ascii_lowercase()))
        .build()
        .unwrap();
    let before = backend.calls();
    for i in 0..100 {
        let token = format!("garbage-{i}");
        assert!(shaped
            .resolve(BearerToken::new(&token))
            .await
            .unwrap()
            .is_none());
    }
    assert_eq!(
        backend.calls(),
        before,
        "no call for a token of the wrong shape"
    );
    assert!(shaped
        .resolve(BearerToken::new("live"))
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn an_introspection_endpoint_slower_than_the_layer_timeout_still_lands_its_answer() {
    let backend = introspection().await;
    backend.slow(Duration::from_millis(200));
    let resolver: IntrospectionResolver = introspection_resolver(&backend).build().unwrap();
    let status = serve_with_timeout(resolver.clone(), Duration::from_millis(50)).await;
    assert_eq!(
        status("live").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "timed out"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        status("live").await,
        StatusCode::OK,
        "the call landed in the cache"
    );
    assert_eq!(backend.calls(), 1);
    assert_eq!(in_flight(&resolver), 0);
}

/// A 200-or-refusal service behind `BearerLayer::new(resolver).timeout(timeout)`: the status
/// for a token.
async fn serve_with_timeout<R>(
    resolver: R,
    timeout: Duration,
) -> impl Fn(&str) -> std::pin::Pin<Box<dyn Future<Output = StatusCode> + Send>>
where
    R: SessionResolver + Clone + Send + Sync + 'static,
    R::Session: Clone + Send + Sync + 'static,
    R::Error: std::fmt::Display + Send + Sync + 'static,
    R::Future: Send + 'static,
{
    let svc = ServiceBuilder::new()
        .layer(BearerLayer::new(resolver).timeout(timeout))
        .service(service_fn(|_: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }));
    let addr = support::serve(svc).await;
    move |token: &str| {
        let auth = format!("authorization: Bearer {token}");
        Box::pin(async move {
            let status = support::get(addr, "/", &[auth.as_bytes()]).await.status;
            StatusCode::from_u16(status).unwrap()
        })
    }
}

/// ES256 keys and tokens from panva's `jose` (tests/interop/jose-tokens.mjs): the JWKS, and a
/// valid token under it.
fn jose_keys() -> (Value, String) {
    support::node::ensure_packages();
    let output = std::process::Command::new("node")
        .arg(support::node::interop_dir().join("jose-tokens.mjs"))
        .arg("ES256")
        .env("KID_PREFIX", "c-")
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let token = doc["cases"][0]["token"].as_str().unwrap().to_owned();
    (doc["jwks"].clone(), token)
}

/// A token that names `kid` and has a garbage signature: enough to make the cache look.
fn with_kid(kid: &str) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let header =
        Base64UrlUnpadded::encode_string(format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#).as_bytes());
    format!("{header}.e30.c2ln")
}

async fn jwks_backend(jwks: Value, delay: Duration) -> (Backend, JwtResolver) {
    let backend = Backend::start(move |_| jwks.clone()).await;
    backend.slow(delay);
    let resolver = JwtResolver::builder()
        .any_audience()
        .jwks_settings(JwksSettings::default().cooldown(Duration::from_secs(1)))
        .jwks_url(&format!("http://{}/jwks", backend.addr))
        .unwrap();
    (backend, resolver)
}

#[tokio::test]
async fn requests_dropped_while_they_wait_cannot_get_around_the_jwks_cooldown() {
    let (jwks, token) = jose_keys();
    let (backend, resolver) = jwks_backend(jwks, Duration::from_millis(300)).await;
    assert!(resolver
        .resolve(BearerToken::new(&token))
        .await
        .unwrap()
        .is_some());
    assert_eq!(backend.calls(), 1);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // Unknown kids, each request dropped after 30 ms, well before the 300 ms fetch ends.
    let started = Instant::now();
    for i in 0..60 {
        let t = with_kid(&format!("made-up-{i}"));
        let waited = tokio::time::timeout(
            Duration::from_millis(30),
            resolver.resolve(BearerToken::new(&t)),
        )
        .await;
        if let Ok(answer) = waited {
            assert!(answer.unwrap().is_none(), "an unknown kid is refused");
        }
    }
    let elapsed = started.elapsed();
    let fetches = backend.calls() - 1;
    eprintln!("60 dropped unknown-kid requests over {elapsed:?}: {fetches} fetches");
    // One per cooldown (1 s), counted from each fetch's start.
    let allowed = elapsed.as_millis().div_ceil(1_000) as usize;
    assert!(
        (1..=allowed).contains(&fetches),
        "{fetches} fetches, {allowed} allowed"
    );
}

#[tokio::test]
async fn keys_load_when_the_jwks_is_slower_than_the_layer_timeout() {
    let (jwks, token) = jose_keys();
    let (backend, resolver) = jwks_backend(jwks, Duration::from_millis(300)).await;
    let status = serve_with_timeout(resolver.clone(), Duration::from_millis(100)).await;
    assert_eq!(status(&token).await, StatusCode::SERVICE_UNAVAILABLE);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        status(&token).await,
        StatusCode::OK,
        "the fetch finished on its own"
    );
    assert_eq!(backend.calls(), 1);
}

#[tokio::test]
async fn a_jwks_fetch_outlives_the_requests_dropped_at_every_poll_point() {
    let (jwks, token) = jose_keys();
    let (backend, resolver) = jwks_backend(jwks, Duration::from_millis(150)).await;
    let dropped = drop_at_every_poll_point(|| resolver.resolve(BearerToken::new(&token))).await;
    assert!(
        dropped >= 3,
        "{dropped} requests dropped at their poll points"
    );
    assert_eq!(backend.calls(), 1, "{dropped} dropped requests, one fetch");
    let ready = resolver.resolve_ready(BearerToken::new(&token));
    assert!(
        ready.is_some_and(|r| r.unwrap().is_some()),
        "the keys are at hand"
    );
}

/// better-auth's get-session through a proxy that holds every request back for `delay`: a
/// real better-auth on a slow network.
#[cfg(all(
    feature = "better-auth-http",
    feature = "better-auth-postgres",
    feature = "better-auth-sqlite"
))]
mod better_auth_http {
    use super::*;
    use support::better_auth::BetterAuth;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tower_bearer::better_auth::HttpResolver;

    /// Forwards each connection to `to` after `delay`, and counts the get-session requests
    /// that pass.
    async fn slow_proxy(to: std::net::SocketAddr, delay: Duration) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let counted = counted.clone();
                tokio::spawn(async move {
                    let mut server = tokio::net::TcpStream::connect(to).await.unwrap();
                    let (mut from_client, mut to_client) = client.split();
                    let (mut from_server, mut to_server) = server.split();
                    let upstream = async {
                        let mut buf = vec![0; 16 * 1024];
                        loop {
                            let n = from_client.read(&mut buf).await.unwrap_or(0);
                            if n == 0 {
                                let _ = to_server.shutdown().await;
                                return;
                            }
                            let seen = String::from_utf8_lossy(&buf[..n]);
                            let requests = seen.matches("GET /api/auth/get-session").count();
                            counted.fetch_add(requests, Ordering::SeqCst);
                            tokio::time::sleep(delay).await;
                            if to_server.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    };
                    let downstream = async {
                        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                        let _ = to_client.shutdown().await;
                    };
                    let _ = tokio::join!(upstream, downstream);
                });
            }
        });
        (format!("http://{addr}"), calls)
    }

    fn sqlite_url() -> String {
        let dir = std::env::temp_dir().join(format!("tb-cancel-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        format!("sqlite://{}/auth.db", dir.display())
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_get_session_call_outlives_the_requests_dropped_while_it_runs() {
        let node = BetterAuth::start(&sqlite_url(), &[]);
        let ada = node.sign_up("ada@example.com").await;
        let (url, calls) = slow_proxy(node.addr, Duration::from_millis(200)).await;
        let resolver = HttpResolver::builder(url).build().unwrap();
        let dropped =
            drop_at_every_poll_point(|| resolver.resolve(BearerToken::new(&ada.signed))).await;
        assert!(
            dropped >= 3,
            "{dropped} requests dropped at their poll points"
        );
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "{dropped} dropped requests, one call"
        );
        assert_eq!(in_flight(&resolver), 0);
        let found = resolver
            .resolve(BearerToken::new(&ada.signed))
            .await
            .unwrap();
        assert_eq!(
            found.unwrap().user.id,
            ada.user_id,
            "the call's answer, cached"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // The layer's timeout shorter than the network: the first request gets 503, and the
        // call lands in the cache for the second.
        let bob = node.sign_up("bob@example.com").await;
        let status = serve_with_timeout(resolver.clone(), Duration::from_millis(50)).await;
        assert_eq!(status(&bob.signed).await, StatusCode::SERVICE_UNAVAILABLE);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(status(&bob.signed).await, StatusCode::OK);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
