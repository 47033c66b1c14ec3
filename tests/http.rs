//! Every row of the RFC 6750 table, over a real hyper server on 127.0.0.1.

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use support::{get, request, serve};
use tower::{service_fn, ServiceBuilder};
use tower_bearer::{BearerLayer, BearerToken, InsufficientScope, Mode, SessionResolver};

#[derive(Clone, Debug)]
struct User {
    name: &'static str,
    admin: bool,
}

/// Resolves `alice` (admin) and `bob`; fails on `broken`; never answers for `slow`.
///
/// With `at_once`, it also answers through `resolve_ready` (all but `slow`), which takes the
/// layer's synchronous path; `calls` counts only the futures built.
struct TestResolver {
    calls: Arc<AtomicUsize>,
    at_once: bool,
}

/// The answer for every token but `slow`.
fn answer(token: &str) -> Option<Result<Option<User>, std::io::Error>> {
    Some(match token {
        "alice" => Ok(Some(User {
            name: "alice",
            admin: true,
        })),
        "bob" => Ok(Some(User {
            name: "bob",
            admin: false,
        })),
        "broken" => Err(std::io::Error::other(
            "db at 10.0.0.1 refused: secret detail",
        )),
        "slow" => return None,
        _ => Ok(None),
    })
}

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl SessionResolver for TestResolver {
    type Session = User;
    type Error = std::io::Error;
    type Future = BoxFuture<Result<Option<User>, std::io::Error>>;

    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let token = token.as_str().to_owned();
        Box::pin(async move {
            match answer(&token) {
                Some(answer) => answer,
                None => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(None)
                }
            }
        })
    }

    fn resolve_ready(
        &self,
        token: BearerToken<'_>,
    ) -> Option<Result<Option<User>, std::io::Error>> {
        if self.at_once {
            answer(token.as_str())
        } else {
            None
        }
    }
}

/// Says who called, and whether the `Authorization` header reached it marked sensitive.
async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let who = req
        .extensions()
        .get::<User>()
        .map_or("anonymous".to_string(), |u| format!("hello {}", u.name));
    let sensitive = req
        .headers()
        .get_all(http::header::AUTHORIZATION)
        .iter()
        .map(|v| if v.is_sensitive() { "yes" } else { "no" })
        .collect::<Vec<_>>()
        .join(",");
    Ok(Response::builder()
        .header("x-inner", "1")
        .header("x-sensitive", sensitive)
        .body(Full::new(Bytes::from(who)))
        .unwrap())
}

async fn server(
    configure: impl FnOnce(BearerLayer<TestResolver>) -> BearerLayer<TestResolver>,
) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    server_with(false, configure).await
}

async fn server_with(
    at_once: bool,
    configure: impl FnOnce(BearerLayer<TestResolver>) -> BearerLayer<TestResolver>,
) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let base = BearerLayer::new(TestResolver {
        calls: calls.clone(),
        at_once,
    })
    .realm("test")
    .timeout(Duration::from_millis(200));
    let layer = configure(base);
    let svc = ServiceBuilder::new().layer(layer).service(service_fn(echo));
    (serve(svc).await, calls)
}

async fn default_server() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    server(|l| {
        l.authorize(|u: &User| {
            if u.admin {
                Ok(())
            } else {
                Err(InsufficientScope::new("admin"))
            }
        })
    })
    .await
}

const INVALID_TOKEN: &str = r#"Bearer realm="test", error="invalid_token", error_description="the bearer token is invalid, expired or revoked""#;

#[tokio::test]
async fn resolved_session_reaches_the_inner_service() {
    let (addr, _) = default_server().await;
    let res = get(addr, "/", &[b"authorization: Bearer alice"]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body_str(), "hello alice");
    assert_eq!(res.header("x-inner"), Some("1"));
    assert_eq!(res.header("www-authenticate"), None);
    // The scheme is case-insensitive, and several spaces may follow it.
    let res = get(addr, "/", &[b"Authorization: bEaReR    alice"]).await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn missing_credentials_get_a_bare_challenge() {
    let (addr, calls) = default_server().await;
    for lines in [
        &[][..],
        &[&b"authorization: Basic dXNlcjpwYXNz"[..]],
        &[&b"authorization: BearerX alice"[..]],
    ] {
        let res = get(addr, "/", lines).await;
        assert_eq!(res.status, 401, "{lines:?}");
        assert_eq!(
            res.header("www-authenticate"),
            Some(r#"Bearer realm="test""#)
        );
        assert_eq!(res.header("x-inner"), None);
        assert!(res.body.is_empty());
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn malformed_credentials_are_invalid_request() {
    let (addr, calls) = default_server().await;
    let cases: &[(&[&[u8]], &str)] = &[
        (&[b"authorization: Bearer"], "the bearer token is empty"),
        (
            &[b"authorization: Bearer\talice"],
            "the bearer token is not a valid b64token",
        ),
        (
            &[b"authorization: Bearer ali ce"],
            "the bearer token is not a valid b64token",
        ),
        (
            &[b"authorization: Bearer \"alice\""],
            "the bearer token is not a valid b64token",
        ),
        (
            &[b"authorization: Bearer a,b"],
            "the bearer token is not a valid b64token",
        ),
        (
            &[b"authorization: Bearer a=b"],
            "the bearer token is not a valid b64token",
        ),
        (
            &[b"authorization: Bearer al\xffice"],
            "the bearer token is not a valid b64token",
        ),
        (
            &[b"authorization: Bearer caf\xc3\xa9"],
            "the bearer token is not a valid b64token",
        ),
        (
            &[
                b"authorization: Bearer alice",
                b"authorization: Bearer alice",
            ],
            "more than one Authorization header",
        ),
    ];
    for (lines, description) in cases {
        let res = get(addr, "/", lines).await;
        assert_eq!(res.status, 400, "{lines:?}");
        assert_eq!(
            res.header("www-authenticate").unwrap(),
            format!(
                r#"Bearer realm="test", error="invalid_request", error_description="{description}""#
            )
        );
        assert!(res.body.is_empty());
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the resolver never sees malformed tokens"
    );
}

#[tokio::test]
async fn overlong_token_is_invalid_token_without_resolving() {
    let (addr, calls) = default_server().await;
    let line = format!("authorization: Bearer {}", "a".repeat(4097));
    let res = get(addr, "/", &[line.as_bytes()]).await;
    assert_eq!(res.status, 401);
    assert_eq!(
        res.header("www-authenticate").unwrap(),
        r#"Bearer realm="test", error="invalid_token", error_description="the bearer token is longer than allowed""#
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // Exactly at the limit it is resolved (and unknown).
    let line = format!("authorization: Bearer {}", "a".repeat(4096));
    let res = get(addr, "/", &[line.as_bytes()]).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.header("www-authenticate"), Some(INVALID_TOKEN));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unknown_token_is_invalid_token() {
    let (addr, calls) = default_server().await;
    let res = get(addr, "/", &[b"authorization: Bearer mallory"]).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.header("www-authenticate"), Some(INVALID_TOKEN));
    assert!(res.body.is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn failing_resolver_is_503_without_a_trace() {
    let (addr, _) = default_server().await;
    let res = get(addr, "/", &[b"authorization: Bearer broken"]).await;
    assert_eq!(res.status, 503);
    assert_eq!(res.header("www-authenticate"), None);
    assert!(res.body.is_empty());
    let all = format!("{:?}", res.headers);
    assert!(!all.contains("10.0.0.1") && !all.contains("secret"));
}

#[tokio::test]
async fn slow_resolver_times_out_to_503() {
    let (addr, _) = default_server().await;
    let started = std::time::Instant::now();
    let res = get(addr, "/", &[b"authorization: Bearer slow"]).await;
    assert_eq!(res.status, 503);
    assert_eq!(res.header("www-authenticate"), None);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn refused_authorization_is_403_insufficient_scope() {
    let (addr, _) = default_server().await;
    let res = get(addr, "/", &[b"authorization: Bearer bob"]).await;
    assert_eq!(res.status, 403);
    assert_eq!(
        res.header("www-authenticate").unwrap(),
        r#"Bearer realm="test", error="insufficient_scope", error_description="insufficient scope", scope="admin""#
    );
    assert_eq!(res.header("x-inner"), None);
}

#[tokio::test]
async fn grpc_calls_get_grpc_statuses() {
    let (addr, _) = default_server().await;
    let cases: &[(&[u8], &str, &str)] = &[
        (b"x-none: 1", "16", "missing bearer token"),
        (
            b"authorization: Bearer a b",
            "16",
            "the bearer token is not a valid b64token",
        ),
        (
            b"authorization: Bearer mallory",
            "16",
            "the bearer token is invalid, expired or revoked",
        ),
        (b"authorization: Bearer bob", "7", "insufficient scope"),
        (
            b"authorization: Bearer broken",
            "14",
            "the session backend is unavailable",
        ),
    ];
    for (line, code, message) in cases {
        let res = request(
            addr,
            "POST",
            "/pkg.Svc/Method",
            &[b"content-type: application/grpc+proto", line],
            b"",
        )
        .await;
        assert_eq!(res.status, 200, "{line:?}");
        assert_eq!(res.header("content-type"), Some("application/grpc"));
        assert_eq!(res.header("grpc-status"), Some(*code), "{line:?}");
        // Percent-encoded as tonic encodes it.
        assert_eq!(
            res.header("grpc-message"),
            Some(message.replace(' ', "%20").as_str())
        );
        assert_eq!(res.header("www-authenticate"), None);
        assert!(res.body.is_empty());
    }
}

#[tokio::test]
async fn cors_preflights_are_authenticated_or_answered_by_the_layer() {
    let preflight: &[&[u8]] = &[
        b"origin: http://app.test",
        b"access-control-request-method: GET",
    ];
    // Off by default: a preflight is a request like any other.
    let (addr, _) = default_server().await;
    let res = request(addr, "OPTIONS", "/", preflight, b"").await;
    assert_eq!(res.status, 401);
    assert_eq!(res.header("x-inner"), None);

    // Answered in the layer: only a real preflight, and it never reaches the inner service.
    let (addr, _) = server(|l| {
        l.answer_preflight(|head| {
            let mut response = Response::new(Bytes::new());
            *response.status_mut() = http::StatusCode::NO_CONTENT;
            let origin = head.headers()["origin"].clone();
            response
                .headers_mut()
                .insert("access-control-allow-origin", origin);
            response
        })
    })
    .await;
    let res = request(addr, "OPTIONS", "/", preflight, b"").await;
    assert_eq!(res.status, 204);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("http://app.test")
    );
    assert_eq!(
        res.header("x-inner"),
        None,
        "the inner service never sees it"
    );
    // A preflight with a body (a unary RPC's message, say) is answered the same way.
    let res = request(addr, "OPTIONS", "/", preflight, b"\0\0\0\0\0").await;
    assert_eq!((res.status, res.header("x-inner")), (204, None));
    let not_preflights: [&[&[u8]]; 4] = [
        &[],
        &[b"access-control-request-method: GET"],
        &[b"origin: http://app.test"],
        &[
            b"origin: http://app.test",
            b"access-control-request-method: POST",
            b"content-type: application/grpc",
        ],
    ];
    for lines in not_preflights {
        let res = request(addr, "OPTIONS", "/", lines, b"").await;
        assert_ne!(res.status, 204, "{lines:?}");
        assert_eq!(res.header("x-inner"), None, "{lines:?}");
    }
    // The same headers on a GET are no preflight either.
    assert_eq!(get(addr, "/", preflight).await.status, 401);
}

/// The hyper example's shape: an inner service that answers whatever reaches it, behind the
/// layer with a `exempt` for its login route. `OPTIONS` with `Access-Control-Request-Method`
/// got `200 hello` from it before preflights were authenticated by default.
#[tokio::test]
async fn hyper_example_shape_gives_unauthenticated_options_no_answer() {
    let layer = BearerLayer::new(TestResolver {
        calls: Arc::default(),
        at_once: true,
    })
    .exempt(|head| head.method() == http::Method::POST && head.uri().path() == "/login");
    let svc = ServiceBuilder::new().layer(layer).service(service_fn(echo));
    let addr = serve(svc).await;
    for lines in [
        &[b"access-control-request-method: GET" as &[u8]] as &[&[u8]],
        &[
            b"origin: http://evil.test",
            b"access-control-request-method: GET",
        ],
    ] {
        let res = request(addr, "OPTIONS", "/", lines, b"").await;
        assert_eq!(res.status, 401);
        assert_eq!(res.header("x-inner"), None);
        assert!(res.body.is_empty());
    }
    assert_eq!(request(addr, "POST", "/login", &[], b"").await.status, 200);
}

#[tokio::test]
async fn the_authorization_header_reaches_the_inner_service_marked_sensitive() {
    let (addr, _) = server(|l| l.mode(Mode::Lenient)).await;
    // HTTP/1.1: a hit, and a repeated header let through as anonymous.
    let res = get(addr, "/", &[b"authorization: Bearer alice"]).await;
    assert_eq!(res.body_str(), "hello alice");
    assert_eq!(res.header("x-sensitive"), Some("yes"));
    let res = get(
        addr,
        "/",
        &[b"authorization: Bearer alice", b"authorization: Bearer bob"],
    )
    .await;
    assert_eq!(res.body_str(), "anonymous");
    assert_eq!(res.header("x-sensitive"), Some("yes,yes"));
    let res = get(addr, "/", &[b"authorization: Basic dXNlcjpwYXNz"]).await;
    assert_eq!(res.header("x-sensitive"), Some("yes"));

    // HTTP/2.
    for token in ["alice", "mallory", "a b"] {
        let req = Request::builder()
            .uri(format!("http://{addr}/"))
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let (head, _, _) = support::h2_request(addr, req).await;
        assert_eq!(head.version, http::Version::HTTP_2);
        assert_eq!(head.headers["x-sensitive"], "yes", "{token}");
    }
}

#[tokio::test]
async fn grpc_is_recognised_by_media_type_not_prefix() {
    let (addr, _) = default_server().await;
    // Not gRPC: an HTTP rejection.
    for ct in ["application/grpcfoo", "application/grpc-webfoo"] {
        let line = format!("content-type: {ct}");
        let res = get(addr, "/", &[line.as_bytes()]).await;
        assert_eq!(res.status, 401, "{ct}");
        assert_eq!(
            res.header("www-authenticate"),
            Some(r#"Bearer realm="test""#)
        );
        assert_eq!(res.header("grpc-status"), None, "{ct}");
    }
    // gRPC and gRPC-Web: trailers-only, as tonic and tonic-web answer a failed call.
    for (ct, answer_ct) in [
        ("application/grpc", "application/grpc"),
        ("application/grpc+proto", "application/grpc"),
        ("application/grpc;charset=utf-8", "application/grpc"),
        ("application/grpc-web", "application/grpc-web+proto"),
        ("application/grpc-web+proto", "application/grpc-web+proto"),
        (
            "application/grpc-web-text",
            "application/grpc-web-text+proto",
        ),
        (
            "application/grpc-web-text+proto",
            "application/grpc-web-text+proto",
        ),
    ] {
        let line = format!("content-type: {ct}");
        let res = request(addr, "POST", "/", &[line.as_bytes()], b"").await;
        assert_eq!(res.status, 200, "{ct}");
        assert_eq!(res.header("grpc-status"), Some("16"), "{ct}");
        assert_eq!(res.header("content-type"), Some(answer_ct), "{ct}");
        assert_eq!(res.header("www-authenticate"), None, "{ct}");
        assert!(res.body.is_empty());
    }
}

#[tokio::test]
async fn optional_mode_lets_anonymous_requests_through() {
    let (addr, _) = server(|l| l.mode(Mode::Optional)).await;
    let res = get(addr, "/", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body_str(), "anonymous");
    let res = get(addr, "/", &[b"authorization: Bearer alice"]).await;
    assert_eq!(res.body_str(), "hello alice");
    // Invalid credentials are still refused...
    assert_eq!(
        get(addr, "/", &[b"authorization: Bearer mallory"])
            .await
            .status,
        401
    );
    assert_eq!(
        get(addr, "/", &[b"authorization: Bearer a b"]).await.status,
        400
    );

    // ...unless the layer passes them through too.
    let (addr, _) = server(|l| l.mode(Mode::Lenient)).await;
    for line in [
        &b"authorization: Bearer mallory"[..],
        b"authorization: Bearer a b",
    ] {
        let res = get(addr, "/", &[line]).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.body_str(), "anonymous");
    }
    // A failing backend is still a failure.
    assert_eq!(
        get(addr, "/", &[b"authorization: Bearer broken"])
            .await
            .status,
        503
    );
}

#[tokio::test]
async fn custom_rejection_bodies_keep_the_challenge() {
    let (addr, _) = server(|l| {
        l.on_rejection(|r| {
            let body = format!(
                r#"{{"error":"{}","status":{}}}"#,
                r.kind().error_code().unwrap_or("unauthorized"),
                r.status().as_u16()
            );
            Response::builder()
                .status(r.status())
                .header("content-type", "application/json")
                .body(Bytes::from(body))
                .unwrap()
        })
    })
    .await;
    let res = get(addr, "/", &[b"authorization: Bearer mallory"]).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.body_str(), r#"{"error":"invalid_token","status":401}"#);
    assert_eq!(res.header("www-authenticate"), Some(INVALID_TOKEN));

    // gRPC clients still get a gRPC status.
    let res = request(
        addr,
        "POST",
        "/x",
        &[b"content-type: application/grpc"],
        b"",
    )
    .await;
    assert_eq!(res.header("grpc-status"), Some("16"));
    assert!(res.body.is_empty());

    // A handler that sets its own challenge replaces the layer's.
    let (addr, _) = server(|l| {
        l.on_rejection(|r| {
            Response::builder()
                .status(r.status())
                .header("www-authenticate", "Bearer custom")
                .body(Bytes::new())
                .unwrap()
        })
    })
    .await;
    let res = get(addr, "/", &[]).await;
    assert_eq!(res.header("www-authenticate"), Some("Bearer custom"));
}

#[tokio::test]
async fn skipped_paths_need_no_token() {
    let (addr, calls) = server(|l| l.exempt_path_prefix("/health")).await;
    let res = get(addr, "/health/live", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body_str(), "anonymous");
    assert_eq!(get(addr, "/api", &[]).await.status, 401);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// A resolver that answers at once (`resolve_ready`) is settled inside `call`, on a path of its
/// own: every answer, under every configuration, must be the same as a waiting resolver's.
#[tokio::test]
async fn answers_at_once_and_after_waiting_are_the_same() {
    type Configure = fn(BearerLayer<TestResolver>) -> BearerLayer<TestResolver>;
    let configs: [(&str, Configure); 4] = [
        ("authorize", |l| {
            l.authorize(|u: &User| {
                if u.admin {
                    Ok(())
                } else {
                    Err(InsufficientScope::new("admin"))
                }
            })
        }),
        ("optional", |l| l.mode(Mode::Optional)),
        ("optional, invalid passes", |l| l.mode(Mode::Lenient)),
        ("custom body", |l| {
            l.on_rejection(|r| {
                Response::builder()
                    .status(r.status())
                    .header("content-type", "application/json")
                    .body(Bytes::from(format!(r#"{{"message":"{}"}}"#, r.message())))
                    .unwrap()
            })
        }),
    ];
    let cases: &[(&str, &[&[u8]])] = &[
        ("GET", &[b"authorization: Bearer alice"]),
        ("GET", &[b"authorization: Bearer bob"]),
        ("GET", &[b"authorization: Bearer mallory"]),
        ("GET", &[b"authorization: Bearer broken"]),
        ("GET", &[]),
        ("GET", &[b"authorization: Bearer a b"]),
        ("GET", &[b"authorization: Bearer"]),
        (
            "GET",
            &[
                b"authorization: Bearer alice",
                b"authorization: Bearer alice",
            ],
        ),
        (
            "POST",
            &[
                b"content-type: application/grpc",
                b"authorization: Bearer mallory",
            ],
        ),
        (
            "POST",
            &[
                b"content-type: application/grpc",
                b"authorization: Bearer bob",
            ],
        ),
        (
            "POST",
            &[
                b"content-type: application/grpc",
                b"authorization: Bearer broken",
            ],
        ),
    ];
    for (name, configure) in configs {
        let (waiting, waiting_calls) = server_with(false, configure).await;
        let (at_once, at_once_calls) = server_with(true, configure).await;
        for (method, lines) in cases {
            let a = request(waiting, method, "/", lines, b"").await;
            let b = request(at_once, method, "/", lines, b"").await;
            let case = format!("{name}: {method} {lines:?}");
            assert_eq!(a.status, b.status, "{case}");
            let headers = |r: &support::RawResponse| {
                let mut h: Vec<_> = r
                    .headers
                    .iter()
                    .filter(|(n, _)| n != "date")
                    .cloned()
                    .collect();
                h.sort();
                h
            };
            assert_eq!(headers(&a), headers(&b), "{case}");
            assert_eq!(a.body, b.body, "{case}");
        }
        assert!(waiting_calls.load(Ordering::SeqCst) > 0, "{name}");
        assert_eq!(
            at_once_calls.load(Ordering::SeqCst),
            0,
            "{name}: a future was built"
        );
    }
}

/// An `exempt` predicate sees the `Authorization` header already marked sensitive, so one that
/// logs the head prints no token; and `exempt_path_prefix` ends at a segment boundary.
#[tokio::test]
async fn exempt_predicates_see_credentials_marked_sensitive_and_prefixes_are_segments() {
    use std::sync::atomic::AtomicBool;
    use tower::ServiceExt;

    let sensitive = Arc::new(AtomicBool::new(false));
    let seen = sensitive.clone();
    let layer = BearerLayer::new(TestResolver {
        calls: Arc::default(),
        at_once: true,
    })
    .exempt(move |head| {
        let value = &head.headers()["authorization"];
        seen.store(value.is_sensitive(), Ordering::SeqCst);
        assert!(!format!("{:?}", head.headers()).contains("s3cr3t"));
        false
    })
    .exempt_path_prefix("/metrics");
    let svc = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(()))
        }));
    let req = |path: &str| {
        Request::builder()
            .uri(path)
            .header("authorization", "Bearer s3cr3t")
            .body(())
            .unwrap()
    };
    let res = svc.clone().oneshot(req("/")).await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        sensitive.load(Ordering::SeqCst),
        "marked before the predicate ran"
    );
    for (path, status) in [
        ("/metrics", 200),
        ("/metrics/cpu", 200),
        ("/metricsadmin", 401),
        ("/metrics-private", 401),
    ] {
        let res = svc.clone().oneshot(req(path)).await.unwrap();
        assert_eq!(res.status(), status, "{path}");
    }
}
