//! tonic over real sockets, with tonic-health's pre-generated client and server.
#![cfg(feature = "tonic")]

#[path = "../../tests/support/mod.rs"]
mod support;

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::net::SocketAddr;
use std::pin::Pin;

use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tower::{Layer, ServiceExt};
use tower_bearer::{BearerLayer, BearerToken, InsufficientScope, SessionResolver};

#[derive(Clone, Debug, PartialEq)]
struct User {
    name: &'static str,
    admin: bool,
}

/// `alice` is an admin, `bob` is not, `broken` fails, anything else is unknown.
struct Users;

impl SessionResolver for Users {
    type Session = User;
    type Error = std::io::Error;
    type Future = Ready<Result<Option<User>, std::io::Error>>;
    fn resolve(&self, token: BearerToken<'_>) -> Self::Future {
        ready(match token.as_str() {
            "alice" => Ok(Some(User {
                name: "alice",
                admin: true,
            })),
            "bob" => Ok(Some(User {
                name: "bob",
                admin: false,
            })),
            "broken" => Err(std::io::Error::other("backend down")),
            _ => Ok(None),
        })
    }
}

fn layer() -> BearerLayer<Users> {
    BearerLayer::new(Users).authorize(|u: &User| {
        if u.admin {
            Ok(())
        } else {
            Err(InsufficientScope::new("admin"))
        }
    })
}

async fn listen() -> (SocketAddr, TcpListenerStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    (
        listener.local_addr().unwrap(),
        TcpListenerStream::new(listener),
    )
}

async fn client(addr: SocketAddr) -> HealthClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    HealthClient::new(channel)
}

async fn check(client: &mut HealthClient<Channel>, token: Option<&str>) -> Result<i32, Status> {
    let mut request = Request::new(HealthCheckRequest {
        service: String::new(),
    });
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    client.check(request).await.map(|r| r.into_inner().status)
}

/// Server-wide layer in front of tonic-health's reporter.
async fn server_wide(layer: BearerLayer<Users>) -> SocketAddr {
    let (addr, incoming) = listen().await;
    let (_, health) = tonic_health::server::health_reporter();
    tokio::spawn(
        Server::builder()
            .layer(layer)
            .add_service(health)
            .serve_with_incoming(incoming),
    );
    addr
}

#[tokio::test]
async fn server_wide_layer_statuses() {
    let addr = server_wide(layer()).await;
    let mut client = client(addr).await;

    let err = check(&mut client, None).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(err.message(), "missing bearer token");

    let err = check(&mut client, Some("mallory")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(
        err.message(),
        "the bearer token is invalid, expired or revoked"
    );

    let err = check(&mut client, Some("broken")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);

    let err = check(&mut client, Some("bob")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(err.message(), "insufficient scope");

    let status = check(&mut client, Some("alice")).await.unwrap();
    assert_eq!(status, ServingStatus::Serving as i32);
}

#[tokio::test]
async fn exempted_health_service_needs_no_token() {
    let addr = server_wide(layer().exempt_path_prefix("/grpc.health.v1.Health/")).await;
    let mut client = client(addr).await;
    assert_eq!(
        check(&mut client, None).await.unwrap(),
        ServingStatus::Serving as i32
    );
}

#[tokio::test]
async fn per_service_layer_forwards_the_service_name() {
    let (addr, incoming) = listen().await;
    let (_, health) = tonic_health::server::health_reporter();
    let (_, second) = tonic_health::server::health_reporter();
    // Without `tower::Layer`: `BearerLayer::build`, and `Bearer::new` for the defaults.
    let _default = tower_bearer::Bearer::new(second, Users);
    tokio::spawn(
        Server::builder()
            .add_service(layer().build(health))
            .serve_with_incoming(incoming),
    );
    let mut client = client(addr).await;
    assert_eq!(
        check(&mut client, None).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert_eq!(
        check(&mut client, Some("alice")).await.unwrap(),
        ServingStatus::Serving as i32
    );
}

/// A Health service of our own that answers with the caller's name in its status: SERVING
/// only for the session it finds in `tonic::Request::extensions()`.
struct WhoAmI;

#[tonic::async_trait]
impl Health for WhoAmI {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        match request.extensions().get::<User>() {
            Some(user) if user.name == "alice" => Ok(Response::new(HealthCheckResponse {
                status: ServingStatus::Serving as i32,
            })),
            Some(user) => Err(Status::not_found(user.name)),
            None => Err(Status::internal("no session in extensions")),
        }
    }

    type WatchStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

    async fn watch(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("watch"))
    }
}

#[tokio::test]
async fn a_custom_service_sees_the_session() {
    let (addr, incoming) = listen().await;
    let layer = BearerLayer::new(Users);
    tokio::spawn(
        Server::builder()
            .add_service(layer.layer(HealthServer::new(WhoAmI)))
            .serve_with_incoming(incoming),
    );
    let mut client = client(addr).await;
    assert_eq!(
        check(&mut client, Some("alice")).await.unwrap(),
        ServingStatus::Serving as i32
    );
    let err = check(&mut client, Some("bob")).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::NotFound, "bob"));
}

#[tokio::test]
async fn rejection_headers_equal_tonics_own() {
    let svc = layer().layer(tower::service_fn(|_: http::Request<()>| async {
        Ok::<_, Infallible>(http::Response::new(tonic::body::Body::empty()))
    }));
    let cases = [
        (None, Status::unauthenticated("missing bearer token")),
        (
            Some("Bearer mallory"),
            Status::unauthenticated("the bearer token is invalid, expired or revoked"),
        ),
        (
            Some("Bearer bob"),
            Status::permission_denied("insufficient scope"),
        ),
        (
            Some("Bearer broken"),
            Status::unavailable("the session backend is unavailable"),
        ),
    ];
    for (auth, status) in cases {
        let mut req = http::Request::builder()
            .uri("/grpc.health.v1.Health/Check")
            .header("content-type", "application/grpc");
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let ours = svc.clone().oneshot(req.body(()).unwrap()).await.unwrap();
        let theirs = status.into_http::<()>();
        assert_eq!(ours.status(), theirs.status());
        assert_eq!(ours.headers(), theirs.headers(), "{auth:?}");
        assert!(
            http_body::Body::is_end_stream(ours.body()),
            "trailers-only: the body ends at once"
        );
    }
}

/// `grpc.health.v1.Health/Check` sent as `OPTIONS`, with the headers of a CORS preflight, over
/// HTTP/2 to the tonic example's two shapes (server-wide and per service). It once passed the
/// layer as a "preflight" and got `SERVING` from the health service, with no token.
#[tokio::test]
async fn a_grpc_call_sent_as_options_gets_no_answer_from_the_service() {
    use http_body_util::Full;

    let (per_service, incoming) = listen().await;
    let (_, health) = tonic_health::server::health_reporter();
    tokio::spawn(
        Server::builder()
            .add_service(layer().layer(health))
            .serve_with_incoming(incoming),
    );
    let server_wide_default = server_wide(layer()).await;
    // Even where the layer answers preflights, a gRPC content type is no preflight.
    let server_wide_allowing = server_wide(layer().answer_preflight(|_| {
        let mut response = http::Response::new(bytes::Bytes::new());
        *response.status_mut() = http::StatusCode::NO_CONTENT;
        response
    }))
    .await;

    for addr in [per_service, server_wide_default, server_wide_allowing] {
        for method in [http::Method::OPTIONS, http::Method::POST] {
            let req = http::Request::builder()
                .method(method.clone())
                .uri(format!("http://{addr}/grpc.health.v1.Health/Check"))
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .header("origin", "http://evil.test")
                .header("access-control-request-method", "POST")
                // An empty HealthCheckRequest, length-prefixed.
                .body(Full::new(bytes::Bytes::from_static(&[0, 0, 0, 0, 0])))
                .unwrap();
            let (head, body, trailers) = support::h2_request(addr, req).await;
            assert_eq!(head.headers["grpc-status"], "16", "{addr} {method}");
            assert!(body.is_empty(), "{addr} {method}: {body:?}");
            assert!(trailers.is_none(), "{addr} {method}: {trailers:?}");
        }
    }
}

/// No configuration lets an unauthenticated request run an RPC: with preflights answered by
/// the layer, `OPTIONS` requests shaped as preflights (no content type, empty or with a
/// message in the body, unary or streaming paths) to a real tonic server never reach a
/// service, which counts every call it gets.
#[tokio::test]
async fn preflights_answered_by_the_layer_never_run_a_tonic_handler() {
    use http_body_util::Full;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let counting = tower::layer::layer_fn(move |inner| {
        let counted = counted.clone();
        tower::util::MapRequest::new(inner, move |req: http::Request<tonic::body::Body>| {
            counted.fetch_add(1, Ordering::SeqCst);
            req
        })
    });
    let (addr, incoming) = listen().await;
    let (_, health) = tonic_health::server::health_reporter();
    let answering = layer().answer_preflight(|_| {
        let mut response = http::Response::new(bytes::Bytes::new());
        *response.status_mut() = http::StatusCode::NO_CONTENT;
        response
            .headers_mut()
            .insert("x-preflight", "answered".parse().unwrap());
        response
    });
    tokio::spawn(
        Server::builder()
            .layer(answering)
            .layer(counting)
            .add_service(health)
            .serve_with_incoming(incoming),
    );
    for path in [
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
    ] {
        for body in [&b""[..], &[0, 0, 0, 0, 0]] {
            let req = http::Request::builder()
                .method(http::Method::OPTIONS)
                .uri(format!("http://{addr}{path}"))
                .header("origin", "http://evil.test")
                .header("access-control-request-method", "POST")
                .body(Full::new(bytes::Bytes::copy_from_slice(body)))
                .unwrap();
            let (head, body, _) = support::h2_request(addr, req).await;
            assert_eq!(head.status, 204, "{path}");
            assert_eq!(head.headers["x-preflight"], "answered");
            assert!(body.is_empty());
        }
    }
    // The same server does serve an authenticated call: the counter counts.
    let mut client = client(addr).await;
    check(&mut client, Some("alice")).await.unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "only the authenticated call ran"
    );
}
