//! IntrospectionResolver against a local RFC 7662 endpoint on 127.0.0.1 that checks the
//! client's credentials and counts its calls.
#![cfg(feature = "introspection")]

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{json, Value};
use tower::{service_fn, ServiceBuilder};
use tower_bearer::oauth::{Claims, IntrospectionResolver};
use tower_bearer::{BearerLayer, BearerToken, SessionResolver};

/// `Basic base64("rs:s3cret")`.
const CLIENT: &str = "Basic cnM6czNjcmV0";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Answer,
    Fail,
    Hang,
    Slow,
}

struct Endpoint {
    addr: std::net::SocketAddr,
    calls: Arc<AtomicUsize>,
    mode: Arc<Mutex<Mode>>,
}

/// Tokens: `live` (scopes read write, exp in an hour), `noscope` (no scope), `short` (exp 2 s
/// after the endpoint started), `expired` (active but exp in the past, which a resolver must
/// not believe), anything else inactive.
async fn endpoint() -> Endpoint {
    let (calls, mode) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(Mutex::new(Mode::Answer)),
    );
    let (c, m) = (calls.clone(), mode.clone());
    let short_exp = now() + 2;
    let svc = service_fn(move |req: Request<Incoming>| {
        let (c, m) = (c.clone(), m.clone());
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            let mode = *m.lock().unwrap();
            let reply = |status: StatusCode, body: Value| {
                let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
                *r.status_mut() = status;
                Ok::<_, Infallible>(r)
            };
            match mode {
                Mode::Fail => return reply(StatusCode::INTERNAL_SERVER_ERROR, json!({})),
                Mode::Hang => tokio::time::sleep(Duration::from_secs(30)).await,
                Mode::Slow => tokio::time::sleep(Duration::from_millis(100)).await,
                Mode::Answer => {}
            }
            let authorized = req
                .headers()
                .get("authorization")
                .is_some_and(|v| v == CLIENT || v == "Bearer rs-own-token");
            let form = req.headers()["content-type"] == "application/x-www-form-urlencoded";
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let body = String::from_utf8(body.to_vec()).unwrap();
            if !authorized || !form {
                return reply(StatusCode::UNAUTHORIZED, json!({"error": "invalid_client"}));
            }
            let token = body
                .split('&')
                .find_map(|p| p.strip_prefix("token="))
                .unwrap_or_default();
            let answer = match token {
                "live" => {
                    json!({"active": true, "sub": "u1", "client_id": "app", "scope": "read write", "exp": now() + 3600, "email": "ada@example.com"})
                }
                "short" => json!({"active": true, "sub": "u2", "exp": short_exp}),
                "expired" => json!({"active": true, "sub": "u3", "exp": now() - 10}),
                "noscope" => json!({"active": true, "sub": "u4", "exp": now() + 3600}),
                _ => json!({"active": false}),
            };
            reply(StatusCode::OK, answer)
        }
    });
    Endpoint {
        addr: support::serve(svc).await,
        calls,
        mode,
    }
}

impl Endpoint {
    fn resolver(&self) -> IntrospectionResolver {
        IntrospectionResolver::builder(format!("http://{}/introspect", self.addr))
            .client_basic("rs", "s3cret")
            .timeout(Duration::from_millis(300))
            .any_audience()
            .build()
            .unwrap()
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }
}

async fn resolve(
    r: &IntrospectionResolver,
    token: &str,
) -> Result<Option<Arc<Claims>>, tower_bearer::BoxError> {
    r.resolve(BearerToken::new(token)).await
}

#[tokio::test]
async fn active_inactive_expired_and_scopes() {
    let ep = endpoint().await;
    let r = ep.resolver();
    let claims = resolve(&r, "live").await.unwrap().unwrap();
    assert_eq!(claims.sub.as_deref(), Some("u1"));
    assert_eq!(claims.client_id.as_deref(), Some("app"));
    assert_eq!(claims.scopes, ["read", "write"]);
    assert_eq!(claims.extra["email"], "ada@example.com");
    assert!(
        resolve(&r, "unknown").await.unwrap().is_none(),
        "active: false"
    );
    assert!(
        resolve(&r, "expired").await.unwrap().is_none(),
        "exp in the past"
    );
    // Wrong client credentials: the endpoint's 401 is a failure of ours, 503, never a 401.
    let wrong = IntrospectionResolver::<serde_json::Map<String, Value>>::builder(format!(
        "http://{}/introspect",
        ep.addr
    ))
    .client_basic("rs", "wrong")
    .any_audience()
    .build()
    .unwrap();
    assert!(resolve(&wrong, "live").await.is_err());
    // A resource server that authenticates with a bearer token of its own.
    let bearer = IntrospectionResolver::<serde_json::Map<String, Value>>::builder(format!(
        "http://{}/introspect",
        ep.addr
    ))
    .client_bearer("rs-own-token")
    .any_audience()
    .build()
    .unwrap();
    assert!(resolve(&bearer, "live").await.unwrap().is_some());

    // Through the layer: 200, 401 invalid_token, 403 for a missing scope.
    let svc = ServiceBuilder::new()
        .layer(BearerLayer::new(r.clone()).authorize(|c: &Arc<Claims>| c.require_scopes(&["read"])))
        .service(service_fn(|_: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }));
    let addr = support::serve(svc).await;
    let status = |t: &'static str| async move {
        let auth = format!("authorization: Bearer {t}");
        support::get(addr, "/", &[auth.as_bytes()]).await
    };
    assert_eq!(status("live").await.status, 200);
    let res = status("unknown").await;
    assert_eq!(res.status, 401);
    assert!(res
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));
    assert_eq!(
        status("noscope").await.status,
        403,
        "active, but without the read scope"
    );
}

#[tokio::test]
async fn answers_are_cached_never_past_exp() {
    let ep = endpoint().await;
    let r = IntrospectionResolver::<serde_json::Map<String, Value>>::builder(format!(
        "http://{}/introspect",
        ep.addr
    ))
    .client_basic("rs", "s3cret")
    .cache_ttl(Duration::from_secs(60))
    .any_audience()
    .build()
    .unwrap();
    for _ in 0..5 {
        assert!(resolve(&r, "live").await.unwrap().is_some());
        assert!(resolve(&r, "unknown").await.unwrap().is_none());
    }
    assert_eq!(ep.calls(), 2, "one call per token, then the cache");
    assert!(r
        .resolve_ready(BearerToken::new("live"))
        .unwrap()
        .unwrap()
        .is_some());
    // `short` expires in 2 s: cached until then, not for the 60 s TTL.
    let started = Instant::now();
    assert!(resolve(&r, "short").await.unwrap().is_some());
    while resolve(&r, "short").await.unwrap().is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "served past its exp"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn failures_and_timeouts_are_503_and_concurrent_requests_share_one_call() {
    let ep = endpoint().await;
    let r = ep.resolver();
    ep.set(Mode::Fail);
    assert!(resolve(&r, "live").await.is_err());
    ep.set(Mode::Hang);
    let started = Instant::now();
    assert!(resolve(&r, "live").await.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the timeout held"
    );

    ep.set(Mode::Slow);
    let before = ep.calls();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let r = r.clone();
            tokio::spawn(async move { resolve(&r, "live").await.unwrap().is_some() })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap());
    }
    assert_eq!(ep.calls() - before, 1, "twenty requests, one call");
}
