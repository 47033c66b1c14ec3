//! The client layer against the server layer, over a real socket on 127.0.0.1; and
//! examples/client run as its binary.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{header::AUTHORIZATION, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_bearer::client::{BearerClientLayer, SharedToken, SET_AUTH_TOKEN};
use tower_bearer::store::{CreateOptions, MemoryStore, Session};
use tower_bearer::BearerLayer;

/// `POST /sign-in` issues a session (its token in `set-auth-token`); `GET /me` needs one.
async fn demo_server(store: MemoryStore) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let me = axum::routing::get(
        |axum::Extension(s): axum::Extension<Arc<Session>>| async move { s.user_id.to_string() },
    );
    let issuer = store.clone();
    let sign_in = axum::routing::post(move || {
        let store = issuer.clone();
        async move {
            let issued = store
                .create_now("client-user", (), CreateOptions::default())
                .unwrap();
            let mut token = http::HeaderValue::from_str(issued.token.as_str()).unwrap();
            token.set_sensitive(true);
            ([(SET_AUTH_TOKEN, token)], "signed in")
        }
    });
    let app = axum::Router::new()
        .route("/me", me)
        .route_layer(BearerLayer::new(store))
        .route("/sign-in", sign_in);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The example as a user runs it: it prints each step's status, and never the token.
#[test]
fn the_client_example_learns_sends_and_forgets_the_token() {
    let binary = support::example::binary("client", &[]);
    let output = std::process::Command::new(binary).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    for line in [
        "before sign-in: GET /me -> 401 Unauthorized",
        "sign-in -> 200 OK; token learned: true",
        "after sign-in: GET /me -> 200 OK client-user",
        "with an explicit Authorization: GET /me -> 401 Unauthorized",
        "after sign-out: GET /me -> 401 Unauthorized",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

#[tokio::test]
async fn round_trip_learn_send_override_clear() {
    let store = MemoryStore::new();
    let addr = demo_server(store.clone()).await;
    let token = SharedToken::new();
    let client = ServiceBuilder::new()
        .layer(BearerClientLayer::new(token.clone()).learn_from_response(true))
        .service(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
    let send = |req: Request<Empty<Bytes>>| {
        let mut client = client.clone();
        async move { client.ready().await.unwrap().call(req).await.unwrap() }
    };
    let get_me = || {
        Request::get(format!("http://{addr}/me"))
            .body(Empty::new())
            .unwrap()
    };

    assert_eq!(send(get_me()).await.status(), StatusCode::UNAUTHORIZED);
    assert!(!token.is_set());

    let res = send(
        Request::post(format!("http://{addr}/sign-in"))
            .body(Empty::new())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(token.is_set(), "the token was learned from set-auth-token");

    let res = send(get_me()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.into_body().collect().await.unwrap().to_bytes(),
        "client-user"
    );

    // A request that carries its own token keeps it.
    let other = store
        .create_now("someone-else", (), CreateOptions::default())
        .unwrap();
    let req = Request::get(format!("http://{addr}/me"))
        .header(AUTHORIZATION, format!("Bearer {}", other.token.as_str()))
        .body(Empty::new())
        .unwrap();
    let res = send(req).await;
    assert_eq!(
        res.into_body().collect().await.unwrap().to_bytes(),
        "someone-else"
    );

    token.clear();
    assert_eq!(send(get_me()).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_header_is_sensitive_and_set_once_per_request() {
    let token = SharedToken::new();
    token.set("abc").unwrap();
    let svc = ServiceBuilder::new()
        .layer(BearerClientLayer::new(token))
        .service(tower::service_fn(|req: Request<()>| async move {
            let values: Vec<_> = req
                .headers()
                .get_all(AUTHORIZATION)
                .iter()
                .cloned()
                .collect();
            Ok::<_, std::convert::Infallible>(http::Response::new(values))
        }));
    let values = svc.oneshot(Request::new(())).await.unwrap().into_body();
    assert_eq!(values.len(), 1);
    assert_eq!(values[0], "Bearer abc");
    assert!(values[0].is_sensitive());
}
