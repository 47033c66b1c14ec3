//! `RequireSessionLayer` in plain tower over real sockets: a per-route check of the session the
//! router-wide layer resolved, with the resolver run once per request.

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use support::get;
use tower::{service_fn, ServiceBuilder};
use tower_bearer::{
    resolver_fn, BearerLayer, BearerToken, InsufficientScope, Mode, RequireSessionLayer,
};

#[derive(Clone)]
struct User {
    admin: bool,
}

fn admin_only(user: &User) -> Result<(), InsufficientScope> {
    if user.admin {
        Ok(())
    } else {
        Err(InsufficientScope::new("admin").description("admins only"))
    }
}

async fn inner(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"admin area"))))
}

/// `root` is an admin, `guest` is not; counts the resolver's calls.
async fn server(mode: Mode) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    // No annotation on the closure's parameter: `resolver_fn` infers it.
    let resolver = resolver_fn(move |token| {
        counter.fetch_add(1, Ordering::SeqCst);
        let user = if token.matches("root") {
            Some(User { admin: true })
        } else if token.matches("guest") {
            Some(User { admin: false })
        } else {
            None
        };
        async move { Ok::<_, Infallible>(user) }
    });
    let svc = ServiceBuilder::new()
        .layer(BearerLayer::new(resolver).realm("api").mode(mode))
        .layer(RequireSessionLayer::new(admin_only))
        .service(service_fn(inner));
    (support::serve(svc).await, calls)
}

#[tokio::test]
async fn a_session_that_meets_the_requirement_passes_and_one_that_does_not_is_403() {
    let (addr, calls) = server(Mode::Required).await;
    let res = get(addr, "/admin", &[b"authorization: Bearer root"]).await;
    assert_eq!((res.status, res.body_str()), (200, "admin area"));
    let res = get(addr, "/admin", &[b"authorization: Bearer guest"]).await;
    assert_eq!(res.status, 403);
    assert_eq!(
        res.header("www-authenticate"),
        Some(
            r#"Bearer realm="api", error="insufficient_scope", error_description="admins only", scope="admin""#
        )
    );
    assert!(res.body.is_empty());
    // gRPC: PERMISSION_DENIED.
    let res = get(
        addr,
        "/admin",
        &[
            b"authorization: Bearer guest",
            b"content-type: application/grpc",
        ],
    )
    .await;
    assert_eq!(res.header("grpc-status"), Some("7"));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "one resolution per request"
    );
}

#[tokio::test]
async fn anonymous_requests_get_the_outer_layers_401() {
    let (addr, calls) = server(Mode::Optional).await;
    let res = get(addr, "/admin", &[]).await;
    assert_eq!(res.status, 401);
    assert_eq!(
        res.header("www-authenticate"),
        Some(r#"Bearer realm="api""#)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // In required mode the outer layer answers before the requirement is reached.
    let (addr, _) = server(Mode::Required).await;
    assert_eq!(get(addr, "/admin", &[]).await.status, 401);
}

#[tokio::test]
async fn without_an_outer_layer_it_is_a_500() {
    let svc = ServiceBuilder::new()
        .layer(RequireSessionLayer::new(admin_only))
        .service(service_fn(inner));
    let addr = support::serve(svc).await;
    let res = get(addr, "/admin", &[b"authorization: Bearer root"]).await;
    assert_eq!(res.status, 500);
    let expected = match cfg!(debug_assertions) {
        true => "no `require::User` session in the request",
        false => "Internal Server Error",
    };
    assert!(res.body_str().starts_with(expected), "{}", res.body_str());
    // A gRPC client cannot read an HTTP 500: it gets INTERNAL, trailers-only.
    let grpc: &[&[u8]] = &[
        b"authorization: Bearer root",
        b"content-type: application/grpc",
    ];
    let res = get(addr, "/admin", grpc).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("grpc-status"), Some("13"));
    assert_eq!(res.header("content-type"), Some("application/grpc"));
}

/// The requirement's 403 has the outer layer's `on_rejection` shape, as the layer's own
/// `authorize` 403 does.
#[tokio::test]
async fn the_requirements_403_has_the_outer_layers_shape() {
    let resolver = resolver_fn(|token: BearerToken<'_>| {
        let user = token.matches("guest").then_some(User { admin: false });
        async move { Ok::<_, Infallible>(user) }
    });
    let svc = ServiceBuilder::new()
        .layer(
            BearerLayer::new(resolver)
                .realm("api")
                .on_rejection(|rejection| {
                    let body = format!(
                        r#"{{"error":"{}"}}"#,
                        rejection.kind().error_code().unwrap_or("none")
                    );
                    Response::builder()
                        .status(rejection.status())
                        .header("content-type", "application/json")
                        .body(Bytes::from(body))
                        .unwrap()
                }),
        )
        .layer(RequireSessionLayer::new(admin_only))
        .service(service_fn(inner));
    let addr = support::serve(svc).await;
    let res = get(addr, "/admin", &[b"authorization: Bearer guest"]).await;
    assert_eq!(res.status, 403);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.body_str(), r#"{"error":"insufficient_scope"}"#);
    assert_eq!(
        res.header("www-authenticate"),
        Some(
            r#"Bearer realm="api", error="insufficient_scope", error_description="admins only", scope="admin""#
        )
    );
}
