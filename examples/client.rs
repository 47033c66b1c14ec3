//! The client side: hyper-util's client behind `BearerClientLayer`, which learns the token from
//! `set-auth-token` at sign-in, sends it on every request, and forgets it at sign-out.
//!
//! ```text
//! cargo run --example client
//! ```
//! It starts a small server of its own on 127.0.0.1 and talks to it.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{header::AUTHORIZATION, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_bearer::client::{BearerClientLayer, SharedToken, SET_AUTH_TOKEN};
use tower_bearer::store::{CreateOptions, MemoryStore, Session};
use tower_bearer::BearerLayer;

/// `POST /sign-in` issues a session (token in `set-auth-token`); `GET /me` needs it.
async fn demo_server(store: MemoryStore) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("bound");
    let me =
        axum::Router::new()
            .route(
                "/me",
                axum::routing::get(
                    |axum::Extension(s): axum::Extension<Arc<Session>>| async move {
                        s.user_id.to_string()
                    },
                ),
            )
            .route_layer(BearerLayer::new(store.clone()));
    let app = me.route(
        "/sign-in",
        axum::routing::post(move || {
            let store = store.clone();
            async move {
                let issued = store
                    .create_now("client-user", (), CreateOptions::default())
                    .expect("rng");
                let mut token = HeaderValue::from_str(issued.token.as_str()).expect("b64token");
                token.set_sensitive(true);
                ([(SET_AUTH_TOKEN, token)], "signed in")
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.expect("server") });
    addr
}

async fn send<S>(client: &mut S, method: Method, uri: String) -> (StatusCode, String)
where
    S: Service<Request<Empty<Bytes>>, Response = Response<hyper::body::Incoming>>,
    S::Error: std::fmt::Debug,
{
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Empty::new())
        .expect("request");
    let res = client
        .ready()
        .await
        .expect("ready")
        .call(req)
        .await
        .expect("response");
    let status = res.status();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::main]
async fn main() {
    let addr = demo_server(MemoryStore::new()).await;
    let token = SharedToken::new();
    let mut client = ServiceBuilder::new()
        .layer(BearerClientLayer::new(token.clone()).learn_from_response(true))
        .service(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());

    let (status, _) = send(&mut client, Method::GET, format!("http://{addr}/me")).await;
    println!("before sign-in: GET /me -> {status}");
    let (status, _) = send(&mut client, Method::POST, format!("http://{addr}/sign-in")).await;
    println!("sign-in -> {status}; token learned: {}", token.is_set());
    let (status, body) = send(&mut client, Method::GET, format!("http://{addr}/me")).await;
    println!("after sign-in: GET /me -> {status} {body}");

    // One request with a token of its own: the layer leaves it alone.
    let plain = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut own = ServiceBuilder::new()
        .layer(BearerClientLayer::new(token.clone()))
        .service(plain);
    let req = Request::get(format!("http://{addr}/me"))
        .header(AUTHORIZATION, "Bearer someone-elses-token")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let status = own
        .ready()
        .await
        .expect("ready")
        .call(req)
        .await
        .expect("response")
        .status();
    println!("with an explicit Authorization: GET /me -> {status}");

    token.clear();
    let (status, _) = send(&mut client, Method::GET, format!("http://{addr}/me")).await;
    println!("after sign-out: GET /me -> {status}");
}
